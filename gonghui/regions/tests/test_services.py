import io
from pathlib import Path

import pytest

from gonghui.regions.models import Region, RegionLevel
from gonghui.regions.services import RegionTableError, regions_load_csv

JIAMUSI = Path(__file__).resolve().parents[1] / "data" / "jiamusi.csv"

HEADER = "code,name,level,parent_code\n"
GOOD = HEADER + (
    "23,黑龙江省,province,\n"
    "2308,佳木斯市,city,23\n"
    "230811,郊区,county,2308\n"
    "230811100,长发镇,township,230811\n"
    "230811100201,新发村,village,230811100\n"
)


def load(text: str):
    return regions_load_csv(source=io.StringIO(text))


@pytest.mark.django_db
def test_it_loads_a_table_and_stores_twelve_digit_codes():
    report = load(GOOD)
    assert (report.created, report.updated, report.unchanged) == (5, 0, 0)
    village = Region.objects.get(code="230811100201")
    assert village.level == RegionLevel.VILLAGE
    assert village.parent.code == "230811100000"
    assert village.parent.parent.parent.code == "230800000000"
    assert Region.objects.get(code="230000000000").parent is None


@pytest.mark.django_db
def test_it_is_idempotent_and_counts_updates():
    load(GOOD)
    again = load(GOOD)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    renamed = load(GOOD.replace("新发村", "新发村民委员会"))
    assert (renamed.created, renamed.updated, renamed.unchanged) == (0, 1, 4)
    assert Region.objects.get(code="230811100201").name == "新发村民委员会"


@pytest.mark.django_db
def test_it_accepts_chinese_and_numeric_levels_a_bom_bytes_and_is_demo():
    text = "\ufeffcode,name,level,parent_code,is_demo\n23,黑龙江省,省,,0\n2308,佳木斯市,2,23,0\n230811,郊区,县,2308,1\n"
    report = regions_load_csv(source=io.BytesIO(text.encode("utf-8")))
    assert report.created == 3
    assert Region.objects.get(code="230811000000").is_demo is True
    assert Region.objects.get(code="230800000000").level == RegionLevel.CITY


@pytest.mark.django_db
def test_it_hangs_rows_under_parents_already_in_the_database(world):
    report = load(HEADER + "230811200,沿江乡,township,230811\n230811200201,沿江村,village,230811200\n")
    assert report.created == 2
    assert Region.objects.get(code="230811200000").parent == world.suburb


@pytest.mark.django_db
def test_it_accepts_parents_later_in_the_file():
    text = HEADER + "230811,郊区,county,2308\n2308,佳木斯市,city,23\n23,黑龙江省,province,\n"
    assert load(text).created == 3


BAD_TABLES = [
    pytest.param(
        GOOD + "230899001,某街道,township,230899\n", 7, "上级代码 230899000000 不存在", id="unknown-parent"
    ),
    pytest.param(GOOD + "2308A1,某区,county,2308\n", 7, "应只含数字", id="non-digit-code"),
    pytest.param(
        GOOD + "23081,某区,county,2308\n", 7, "应为 2、4、6、9 或 12 位数字，实为 5 位", id="wrong-length"
    ),
    pytest.param(
        GOOD + "230911,某区,county,2308\n", 7, "不以上级代码的前缀 2308 开头", id="outside-parent-prefix"
    ),
    pytest.param(
        GOOD + "230811101,某区,county,2308\n", 7, "是乡级代码，与级别 county 不符", id="code-level-mismatch"
    ),
    pytest.param(GOOD + "230811101,某镇,township,2308\n", 7, "级别顺序不对", id="level-skips-county"),
    pytest.param(GOOD + "230812,某区,county,\n", 7, "缺少上级代码", id="missing-parent"),
    pytest.param(
        GOOD + "230811,郊区二,county,2308\n", 7, "代码 230811000000 重复（已见于第 4 行）", id="duplicate"
    ),
    pytest.param(GOOD + "230812,某区,district,2308\n", 7, "级别 'district' 不对", id="bad-level"),
    pytest.param(GOOD + "230812,,county,2308\n", 7, "缺少名称", id="missing-name"),
    pytest.param("code,name,level\n23,黑龙江省,province\n", 1, "表头缺少列 parent_code", id="missing-column"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "row", "reason"), BAD_TABLES)
def test_it_refuses_a_bad_table_naming_the_row_and_writes_nothing(text, row, reason):
    with pytest.raises(RegionTableError) as caught:
        load(text)
    assert caught.value.row == row
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"第 {row} 行：")
    assert Region.objects.count() == 0


@pytest.mark.django_db
def test_it_names_the_first_bad_row_even_when_its_problem_is_found_late():
    # Row 3 has an unknown parent (found only after all rows are read); row 5 has a bad code.
    text = (
        HEADER
        + "23,黑龙江省,province,\n230899001,某街道,township,230899\n2308,佳木斯市,city,23\n2308X,x,city,23\n"
    )
    with pytest.raises(RegionTableError, match=r"^第 3 行：上级代码 230899000000 不存在"):
        load(text)


@pytest.mark.django_db
def test_it_blames_the_bad_parent_row_not_its_children():
    text = (
        HEADER
        + "23,黑龙江省,province,\n230811100201,新发村,village,230811100\n230811100,长发镇,county,230811\n"
    )
    with pytest.raises(RegionTableError, match=r"^第 4 行：.*与级别 county 不符"):
        load(text)


@pytest.mark.django_db
def test_it_leaves_the_database_as_it_was_when_refusing_updates(world):
    before = list(Region.objects.order_by("code").values_list("code", "name", "parent_id"))
    with pytest.raises(RegionTableError):
        load(HEADER + "230811,郊区改名,county,2308\n230811999,某镇,township,230899\n")
    assert list(Region.objects.order_by("code").values_list("code", "name", "parent_id")) == before


@pytest.mark.django_db
def test_it_loads_the_shipped_jiamusi_table():
    report = regions_load_csv(source=JIAMUSI)
    counties = dict(Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", "name"))
    assert counties == {
        "230803000000": "向阳区",
        "230804000000": "前进区",
        "230805000000": "东风区",
        "230811000000": "郊区",
        "230822000000": "桦南县",
        "230826000000": "桦川县",
        "230828000000": "汤原县",
        "230881000000": "同江市",
        "230882000000": "富锦市",
        "230883000000": "抚远市",
    }
    assert not Region.objects.filter(level__lte=RegionLevel.COUNTY, is_demo=True).exists()
    townships = Region.objects.filter(level=RegionLevel.TOWNSHIP)
    assert 40 <= townships.count() <= 60
    assert 120 <= Region.objects.filter(level=RegionLevel.VILLAGE).count() <= 200
    assert report.created == Region.objects.count()
    for county in Region.objects.filter(level=RegionLevel.COUNTY):
        assert 3 <= county.children.count() <= 7
    for town in townships:
        assert 2 <= town.children.count() <= 4
    assert regions_load_csv(source=str(JIAMUSI)).unchanged == report.created


@pytest.mark.django_db
def test_it_loads_the_shipped_table_over_the_test_world_without_renaming_it(world):
    report = regions_load_csv(source=JIAMUSI)
    # Only the demo flag of the world's two townships changes: the file marks their codes unverified.
    assert report.updated == 2
    assert set(Region.objects.filter(is_demo=True, orgs__isnull=False).values_list("code", flat=True)) == {
        "230811100000"
    }
    assert Region.objects.get(code="230811100000").name == "长发镇"
    assert Region.objects.get(code="230804002000").name == "永安街道"
