"""Cleaning rules: each kind of mess in a departmental list, and what remains of it."""

from __future__ import annotations

import datetime as dt

import pytest

from gonghui.census.cleaning import RegionLookup, classify_occupation, clean_date, clean_name, clean_row
from gonghui.census.policies import GROUP_CODES, group_policy, header_policy
from gonghui.lib.idcard import make_id_number

ID = make_id_number("230803", dt.date(1990, 3, 4), 123)  # a man born 1990-03-04
ID_F = make_id_number("230804", dt.date(1985, 12, 1), 246)
HEADERS = {
    "name": "姓名",
    "id_number": "身份证号",
    "id_last4": "身份证后四位",
    "phone": "联系电话",
    "birth_date": "出生日期",
    "sex": "性别",
    "employer": "工作单位",
    "employer_credit_code": "统一社会信用代码",
    "occupation": "职业",
    "address": "现住址",
    "region": "所属社区",
}
LOOKUP = RegionLookup.from_units(
    [
        ("向阳区", "230803"),
        ("前进区", "230804"),
        ("郊区", "230811"),
        ("西林街道", "230803001"),
        ("光明社区", "230803001001"),
        ("建设街道", "230803002"),
        ("光明社区", "230803002003"),  # the same name in another street
        ("长发镇", "230811100"),
        ("前进村", "230811100201"),
    ]
)


def row(**record):
    return clean_row(
        record,
        row_number=7,
        headers_by_field=HEADERS,
        source_kind="hrss",
        source_name="灵活就业人员",
        region_lookup=LOOKUP,
    )


# --- names ---


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("张伟", "张伟"),
        (" 张 伟 ", "张伟"),
        ("张\u3000伟", "张伟"),  # ideographic space
        ("张\u00a0伟", "张伟"),  # no-break space
        ("ＺＨＡＮＧ", "ZHANG"),  # full-width letters
        ("張偉", "张伟"),  # traditional
        ("歐陽娟", "欧阳娟"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # U+2022 bullet
        ("阿依古丽．买买提", "阿依古丽·买买提"),  # U+FF0E full-width full stop
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # U+30FB katakana middle dot
        ("阿依古丽.买买提", "阿依古丽·买买提"),
        ("阿依古丽\u2027买买提", "阿依古丽·买买提"),  # hyphenation point
        ("阿依古丽\uff65买买提", "阿依古丽·买买提"),  # half-width katakana middle dot
        ("阿依古丽\u318d买买提", "阿依古丽·买买提"),  # Hangul araea, a look-alike
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("阿依古丽··买买提", "阿依古丽·买买提"),
        ("", ""),
    ],
)
def test_it_cleans_names(raw, clean):
    assert clean_name(raw) == clean


# --- dates ---


@pytest.mark.parametrize(
    "raw",
    [
        "2021-03-04",
        "2021/3/4",
        "2021.3.4",
        "2021-3-4",
        "2021年3月4日",
        "20210304",
        "44259",
        "2021-03-04 00:00:00",
        "２０２１年３月４日",
    ],
)
def test_it_reads_every_date_form(raw):
    assert clean_date(raw) == dt.date(2021, 3, 4)


def test_it_reads_excel_serials_across_the_phantom_leap_day():
    assert clean_date("1") == dt.date(1900, 1, 1)
    assert clean_date("59") == dt.date(1900, 2, 28)
    assert clean_date("61") == dt.date(1900, 3, 1)
    assert clean_date("32874") == dt.date(1990, 1, 1)
    with pytest.raises(ValueError, match="1900年2月29日"):
        clean_date("60")


@pytest.mark.parametrize(
    ("raw", "reason"), [("2021-02-30", "日期不存在"), ("去年三月", "无法识别的日期"), ("", "日期为空")]
)
def test_it_refuses_what_is_not_a_date(raw, reason):
    with pytest.raises(ValueError, match=reason):
        clean_date(raw)


# --- occupation groups ---


@pytest.mark.parametrize(
    ("occupation", "group"),
    [
        ("货车司机", "truck_driver"),
        ("重型货车驾驶员", "truck_driver"),
        ("快递员", "courier"),
        ("揽投员", "courier"),
        ("分拣员", "courier"),
        ("外卖骑手", "rider"),
        ("送餐员", "rider"),
        ("网约车司机", "ride_hailing"),
        ("专车司机", "ride_hailing"),
        ("养老护理员", "carer"),
        ("护工", "carer"),
        ("家政服务员", "housekeeper"),
        ("保洁员", "housekeeper"),
        ("月嫂", "housekeeper"),
        ("育儿嫂", "housekeeper"),
        ("商场信息员", "mall_staff"),
        ("导购", "mall_staff"),
        ("置业顾问", "estate_agent"),
        ("房产经纪人", "estate_agent"),
        ("保安员", "security_guard"),
        ("门卫", "security_guard"),
        ("网络主播", "platform_other"),
        ("跑腿员", "platform_other"),
        ("会计", ""),
        ("", ""),
    ],
)
def test_it_classifies_occupation_text(occupation, group):
    assert classify_occupation(occupation=occupation) == group


@pytest.mark.parametrize(
    ("employer", "group"),
    [
        ("美团外卖佳木斯站", "rider"),
        ("饿了么前进区站点", "rider"),
        ("顺丰速运佳木斯分公司", "courier"),
        ("中通快递向阳网点", "courier"),
        ("京东物流佳木斯站", "courier"),
        ("滴滴出行佳木斯", "ride_hailing"),
        ("T3出行佳木斯", "ride_hailing"),
        ("货拉拉佳木斯分公司", "truck_driver"),
        ("58到家佳木斯服务站", "housekeeper"),
        ("链家佳木斯店", "estate_agent"),
        ("佳木斯市保安服务有限公司", "security_guard"),
        ("夕阳红护理院", "carer"),
        ("万达广场佳木斯店", "mall_staff"),
        ("美团优选佳木斯网格站", "platform_other"),
    ],
)
def test_it_classifies_by_employer_when_the_occupation_says_nothing(employer, group):
    assert classify_occupation(occupation="", employer=employer) == group
    assert classify_occupation(occupation="普工", employer=employer) == group


def test_it_lets_the_employer_decide_an_ambiguous_word():
    assert classify_occupation(occupation="司机", employer="滴滴出行佳木斯") == "ride_hailing"
    assert classify_occupation(occupation="司机", employer="货拉拉佳木斯分公司") == "truck_driver"
    assert classify_occupation(occupation="司机", employer="顺丰速运佳木斯分公司") == "truck_driver"
    assert classify_occupation(occupation="司机") == "truck_driver"  # the policy's default
    assert classify_occupation(occupation="配送员", employer="美团外卖佳木斯站") == "rider"
    assert classify_occupation(occupation="配送员", employer="京东物流佳木斯站") == "courier"


def test_it_uses_the_source_when_the_row_says_nothing():
    assert classify_occupation(occupation="", source_kind="platform", source_name="美团骑手名册") == "rider"
    assert (
        classify_occupation(occupation="配送员", source_kind="platform", source_name="快递员名单")
        == "courier"
    )
    assert (
        classify_occupation(occupation="", source_kind="platform", source_name="某平台名册")
        == "platform_other"
    )
    assert classify_occupation(occupation="", source_kind="tax", source_name="个税申报") == ""
    # The row's own occupation comes before the source's hint.
    assert (
        classify_occupation(occupation="网约车司机", source_kind="platform", source_name="骑手名册")
        == "ride_hailing"
    )


def test_it_keeps_the_policies_as_dated_data_from_the_issuing_union():
    groups, headers = group_policy(), header_policy()
    for info in (groups.info, headers.info):
        assert info.issuer == "佳木斯市总工会" and info.document and info.effective.year == 2021
    assert {rule.group for rule in groups.occupation} == GROUP_CODES


# --- rows ---


def test_it_cleans_a_whole_row():
    cleaned = row(
        name=" 張 偉 ",
        id_number=f"'{ID[:-1]}{ID[-1].lower()}",
        phone="+86 138-1234-5678",
        employer="美团外卖佳木斯站",
        occupation="配送员",
        address="向阳区西林街道光明社区3号楼",
    )
    assert cleaned.row_number == 7
    assert (cleaned.name, cleaned.id_number, cleaned.id_last4) == ("张伟", ID, ID[-4:])
    assert (cleaned.birth_date, cleaned.sex) == (dt.date(1990, 3, 4), "M")
    assert cleaned.phone == "13812345678"
    assert cleaned.group_code == "rider"
    assert cleaned.region_code == "230803001001"
    assert cleaned.issues == [] and not cleaned.rejected


@pytest.mark.parametrize(
    "typed",
    [
        ID,
        ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),  # full-width
        f"{ID[:6]} {ID[6:14]} {ID[14:]}",
        f"'{ID}",
        ID.lower(),
    ],
)
def test_it_normalises_id_numbers(typed):
    assert row(name="张三", id_number=typed).id_number == ID


def test_it_converts_a_15_digit_id_number():
    old = ID[:6] + ID[8:17]
    cleaned = row(name="张三", id_number=old)
    assert cleaned.id_number == ID and cleaned.birth_date == dt.date(1990, 3, 4)


def test_it_drops_an_invalid_id_number_and_keeps_the_row():
    wrong = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    cleaned = row(name="张三", id_number=wrong, phone="13812345678", id_last4="1234")
    assert cleaned.id_number == "" and not cleaned.rejected
    assert cleaned.issues[0].column == "身份证号" and cleaned.issues[0].reason == "身份证号校验位错误"
    assert cleaned.issues[0].severity == "error"
    assert wrong not in cleaned.issues[0].reason
    assert cleaned.phone == "13812345678"
    assert cleaned.id_last4 == "1234"  # from its own column, still good for linking


def test_it_keeps_birth_date_sex_and_last_four_of_an_id_number_with_a_wrong_check_character():
    wrong = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    cleaned = row(name="张三", id_number=f"'{wrong}")
    assert cleaned.id_number == "" and not cleaned.rejected
    assert (cleaned.birth_date, cleaned.sex, cleaned.id_last4) == (dt.date(1990, 3, 4), "M", wrong[-4:])
    assert [(i.column, i.reason, i.severity) for i in cleaned.issues] == [
        ("身份证号", "身份证号校验位错误", "error"),
        ("身份证号", "身份证号有误，出生日期、性别与后四位仅供比对", "warning"),
    ]
    # One mistyped digit of the sequence: the check fails, the birth date is still right.
    typo = ID[:15] + str((int(ID[15]) + 1) % 10) + ID[16:]
    assert row(name="张三", id_number=typo).birth_date == dt.date(1990, 3, 4)
    # Columns of the row itself are not doubtful: they take precedence.
    columns = row(name="张三", id_number=wrong, id_last4=ID[-4:], birth_date="1990-03-05", sex="女")
    assert (columns.birth_date, columns.sex, columns.id_last4) == (dt.date(1990, 3, 5), "F", ID[-4:])


def test_it_keeps_last_four_and_sex_of_an_id_number_whose_birth_date_is_no_date():
    bad_date = ID[:10] + "13" + ID[12:]  # a mistyped month
    cleaned = row(name="张三", id_number=bad_date, birth_date="1990-03-04")
    assert cleaned.id_number == ""
    assert (cleaned.birth_date, cleaned.sex, cleaned.id_last4) == (dt.date(1990, 3, 4), "M", ID[-4:])
    assert [(i.reason, i.severity) for i in cleaned.issues] == [
        ("身份证号中的出生日期不是有效日期", "error"),
        ("身份证号有误，性别与后四位仅供比对", "warning"),
    ]


def test_it_keeps_nothing_of_an_id_number_of_the_wrong_shape():
    old_bad_date = ID[:6] + ID[8:10] + "13" + ID[12:17]  # 15 digits: no check character
    for typed in (old_bad_date, ID[:-1], ID[:6] + "A" + ID[7:], "2.30803199001011E+17"):
        cleaned = row(name="张三", id_number=typed)
        assert (cleaned.id_number, cleaned.birth_date, cleaned.sex, cleaned.id_last4) == ("", None, "", "")
        assert [i.severity for i in cleaned.issues] == ["error"]


def test_it_says_when_an_id_number_lost_digits_in_a_spreadsheet():
    cleaned = row(name="张三", id_number="2.30803199001011E+17")
    assert cleaned.id_number == ""
    assert "后几位已丢失" in cleaned.issues[0].reason


def test_it_reads_last_four_digits():
    assert row(name="张三", id_last4="123x").id_last4 == "123X"
    padded = row(name="张三", id_last4="123")
    assert padded.id_last4 == "0123" and padded.issues[0].severity == "warning"
    bad = row(name="张三", id_last4="12345")
    assert bad.id_last4 == "" and bad.issues[0].column == "身份证后四位"
    conflict = row(name="张三", id_number=ID, id_last4="0000" if ID[-4:] != "0000" else "1111")
    assert conflict.id_last4 == ID[-4:] and conflict.issues[0].severity == "warning"


def test_it_takes_birth_date_and_sex_from_columns_when_there_is_no_id():
    cleaned = row(name="李娜", birth_date="1985年12月1日", sex="女")
    assert (cleaned.birth_date, cleaned.sex) == (dt.date(1985, 12, 1), "F")
    serial = row(name="李娜", birth_date="31382", sex="女性")
    assert serial.birth_date == dt.date(1985, 12, 1)


def test_it_warns_when_columns_contradict_the_id_and_keeps_the_id():
    cleaned = row(name="李娜", id_number=ID_F, birth_date="1985-12-02", sex="男")
    assert (cleaned.birth_date, cleaned.sex) == (dt.date(1985, 12, 1), "F")
    assert [(i.column, i.severity) for i in cleaned.issues] == [("出生日期", "warning"), ("性别", "warning")]


def test_it_drops_unreadable_birth_dates_and_sexes_with_issues():
    cleaned = row(name="李娜", birth_date="八五年", sex="未知")
    assert cleaned.birth_date is None and cleaned.sex == ""
    assert [i.column for i in cleaned.issues] == ["出生日期", "性别"]


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "+8613812345678",
        "86 138 1234 5678",
        "138-1234-5678",
        "(+86)138.1234.5678",
        "13812345678/0454-8888888",
    ],
)
def test_it_normalises_mobiles(typed):
    cleaned = row(name="张三", phone=typed)
    assert cleaned.phone == "13812345678" and cleaned.issues == []


@pytest.mark.parametrize("landline", ["0454-8888888", "04548888888", "8888888", "(0454)88888888"])
def test_it_drops_a_landline_with_an_issue(landline):
    cleaned = row(name="张三", phone=landline)
    assert cleaned.phone == ""
    assert cleaned.issues == [cleaned.issues[0]] and cleaned.issues[0].column == "联系电话"
    assert "固定电话" in cleaned.issues[0].reason


def test_it_drops_a_malformed_mobile_with_an_issue():
    cleaned = row(name="张三", phone="1381234567")
    assert cleaned.phone == "" and cleaned.issues[0].reason == "手机号应为11位，实为10位"


@pytest.mark.parametrize("empty", ["", "  ", "\u3000", "·", "--"])
def test_it_rejects_a_row_without_a_name_and_keeps_it(empty):
    cleaned = row(name=empty, id_number=ID, phone="13812345678")
    assert cleaned.rejected and cleaned.name == ""
    assert cleaned.issues[0].column == "姓名" and cleaned.issues[0].reason == "姓名为空"
    assert cleaned.id_number == ID  # the rest is still cleaned for the report


def test_it_names_the_column_as_the_file_wrote_it():
    cleaned = clean_row(
        {"name": "张三", "phone": "0454-8888888"},
        row_number=2,
        headers_by_field={"name": "骑手姓名", "phone": "骑手手机号"},
        source_kind="platform",
        source_name="美团骑手名册",
        region_lookup=None,
    )
    assert cleaned.issues[0].column == "骑手手机号"
    assert cleaned.group_code == "rider"  # a rider platform's roster is riders


def test_it_checks_employer_credit_codes():
    cleaned = row(name="张三", employer_credit_code="91230800MA1B2C3D4X")
    assert cleaned.employer_credit_code == "" and cleaned.issues[0].column == "统一社会信用代码"


# --- regions ---


@pytest.mark.parametrize(
    ("region", "address", "code"),
    [
        ("向阳区", "", "230803000000"),
        ("向阳", "", "230803000000"),  # without its suffix
        ("西林街道", "", "230803001000"),
        ("西林", "", "230803001000"),
        ("长发镇", "", "230811100000"),
        ("", "佳木斯市郊区长发镇前进村5组", "230811100201"),
        ("", "向阳区西林街道光明社区", "230803001001"),  # the shared name, settled by its street
        ("", "建设街道光明社区12号", "230803002003"),
        ("", "光明社区", "230803000000"),  # both 光明社区 are in 向阳区
        ("前进区", "长发镇前进村", "230804000000"),  # the region column comes first
        ("", "前进路88号", ""),  # a bare "前进" inside an address is not a unit
        ("", "", ""),
        ("某某县", "", ""),
    ],
)
def test_it_finds_the_region(region, address, code):
    assert LOOKUP.find(region, address) == code


def test_it_treats_a_suffixless_name_two_units_share_as_their_common_unit():
    lookup = RegionLookup({"前进区": "230804", "前进村": "230811100201", "长发镇": "230811100"})
    assert lookup.find("前进区") == "230804000000"
    assert lookup.find("前进") == ""  # 前进区 or 前进村: nothing in common below the city


@pytest.mark.django_db
def test_it_builds_the_region_lookup_from_the_region_table():
    from gonghui.regions.models import Region, RegionLevel

    city = Region.objects.create(code="230800000000", name="佳木斯市", level=RegionLevel.CITY)
    county = Region.objects.create(code="230811000000", name="郊区", level=RegionLevel.COUNTY, parent=city)
    Region.objects.create(code="230811100000", name="长发镇", level=RegionLevel.TOWNSHIP, parent=county)
    lookup = RegionLookup.from_db(within="2308")
    assert lookup.find("长发") == "230811100000"
    assert lookup.find("佳木斯市") == ""  # the city itself is no finer than the import
