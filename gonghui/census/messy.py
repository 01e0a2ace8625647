"""Messy census files with ground truth: what departments and platforms really send, made up.

`generate_census(people=..., out_dir=...)` draws people (names, ID numbers, phones, birth dates,
villages, occupations), puts each into one to four of seven source lists, and writes every list
in its own shape: .xlsx with a merged title line and a date line above the header, CSV in
UTF-8 (with a BOM for one) and in GBK (GB18030), each with its own header wording. The values
carry the noise the issue lists: traditional characters, homophone typos (李伟 ↔ 李玮), spaces
and full-width spaces in names, other middle dots in minority names, 15-digit IDs, full-width
digits, a leading apostrophe, lower-case x, a wrong ID digit, rosters with only a phone and the
last four ID digits, +86 and separators in phones, the same person twice in one file, twins,
and many different people with the commonest names.

`truth.csv` says who each row is: `source_file,source_row,true_person,true_group`, the row as a
spreadsheet shows it (title and header rows counted). The same seed gives the same files.
Pure Python apart from openpyxl; no database.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from gonghui.demo.synth import Identity, IdentityMaker, name_lists
from gonghui.lib.idcard import make_id_number

__all__ = ["SOURCE_KINDS", "GroundTruth", "MessyPerson", "SourceRow", "generate_census", "region_table"]

SOURCE_KINDS = (
    "market_regulation",
    "tax",
    "urban_construction",
    "civil_affairs",
    "hrss",
    "platform",
    "association",
)

REGIONS_CSV = Path(__file__).resolve().parent.parent / "regions" / "data" / "jiamusi.csv"

COMMONEST = ("张伟", "王伟", "王芳", "李伟", "李娜", "张敏", "李静", "王静", "刘伟", "刘洋", "张丽", "王磊")
COMMONEST_SEX = {"王芳": "F", "李娜": "F", "张敏": "F", "李静": "F", "王静": "F", "张丽": "F"}
COMMONEST_SHARE = 0.04  # on top of the demo maker's own 2% of common names
TWIN_SHARE = 0.012  # people who get a twin (who is then a person of their own)

# Occupation group -> wordings that different lists use for it.
OCCUPATIONS = {
    "courier": ("快递员", "快递派送员", "快递小哥", "揽投员"),
    "rider": ("外卖骑手", "外卖送餐员", "骑手", "外卖配送员"),
    "truck_driver": ("货车司机", "货运司机", "重型货车驾驶员"),
    "carer": ("护工", "养老护理员", "医疗护理员"),
    "housekeeper": ("家政服务员", "保洁员", "育婴员", "月嫂"),
    "mall_staff": ("商场信息员", "商场导购", "商场营业员"),
    "estate_agent": ("房产经纪人", "房地产经纪人", "置业顾问"),
    "security_guard": ("保安员", "保安", "门卫"),
    "ride_hailing": ("网约车司机", "网约车驾驶员", "专车司机"),
    "platform_other": ("网络主播", "平台派单员", "跑腿员"),
}
GROUP_WEIGHTS = {
    "courier": 14,
    "rider": 16,
    "truck_driver": 12,
    "carer": 8,
    "housekeeper": 10,
    "mall_staff": 8,
    "estate_agent": 8,
    "security_guard": 10,
    "ride_hailing": 9,
    "platform_other": 5,
}
EMPLOYERS = {
    "courier": ("顺丰速运佳木斯分公司", "中通快递向阳网点", "京东物流佳木斯站", "中国邮政佳木斯分公司"),
    "rider": ("美团外卖佳木斯站", "饿了么前进区站点", "美团外卖郊区站"),
    "truck_driver": ("佳木斯龙运物流有限公司", "满帮货运佳木斯站", "三江货运公司"),
    "carer": ("佳木斯市中心医院", "康乐养老院", "夕阳红护理院"),
    "housekeeper": ("佳家家政服务公司", "好月嫂家政", "三江家政"),
    "mall_staff": ("佳木斯百货大楼", "万达广场佳木斯店", "比优特商场"),
    "estate_agent": ("链家佳木斯店", "我爱我家房产", "三江房产经纪公司"),
    "security_guard": ("佳木斯保安服务公司", "平安保安公司", "金盾保安服务公司"),
    "ride_hailing": ("滴滴出行佳木斯", "曹操出行佳木斯", "T3出行佳木斯"),
    "platform_other": ("抖音直播基地", "闪送佳木斯", "达达快送佳木斯"),
}
# Which lists a worker of each group is likely to be on (weights per source kind).
SOURCE_AFFINITY = {
    "market_regulation": {
        "housekeeper": 3,
        "estate_agent": 3,
        "truck_driver": 2,
        "platform_other": 2,
        "*": 1,
    },
    "tax": {"*": 2},
    "urban_construction": {"security_guard": 3, "estate_agent": 3, "truck_driver": 2, "*": 1},
    "civil_affairs": {"carer": 3, "housekeeper": 3, "*": 1},
    "hrss": {"*": 3},
    "platform": {"rider": 8, "courier": 5, "ride_hailing": 8, "platform_other": 5, "*": 0},
    "association": {"courier": 3, "housekeeper": 3, "carer": 3, "estate_agent": 3, "truck_driver": 3, "*": 1},
}


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    file_name: str
    fmt: str  # "xlsx", "csv-utf8", "csv-utf8-bom", "csv-gbk"
    title: str
    columns: tuple[tuple[str, str], ...]  # (header as written, field)
    without_id: float = 0.0  # share of rows that have no ID number (but phone and last four)


SOURCES = {
    "market_regulation": SourceSpec(
        "market_regulation",
        "市场监管_个体工商户经营者.xlsx",
        "xlsx",
        "佳木斯市个体工商户经营者摸底登记表",
        (
            ("序号", "seq"),
            ("经营者姓名", "name"),
            ("公民身份号码", "id_number"),
            ("联系电话", "phone"),
            ("行业类别", "occupation"),
            ("经营场所", "address"),
        ),
    ),
    "tax": SourceSpec(
        "tax",
        "税务_个人所得税申报人员.csv",
        "csv-gbk",
        "",
        (
            ("纳税人名称", "name"),
            ("证件号码", "id_number"),
            ("联系方式", "phone"),
            ("扣缴义务人", "employer"),
            ("从事职业", "occupation"),
        ),
    ),
    "urban_construction": SourceSpec(
        "urban_construction",
        "住建_物业及建筑从业人员.xlsx",
        "xlsx",
        "住建系统新就业形态劳动者摸底登记表",
        (
            ("人员姓名", "name"),
            ("身份证号码", "id_number"),
            ("手机号码", "phone"),
            ("所在企业", "employer"),
            ("工种", "occupation"),
            ("现住址", "address"),
        ),
    ),
    "civil_affairs": SourceSpec(
        "civil_affairs",
        "民政_社区登记人员.csv",
        "csv-utf8-bom",
        "",
        (
            ("姓名", "name"),
            ("身份证号", "id_number"),
            ("性别", "sex"),
            ("出生日期", "birth_date"),
            ("现住址", "address"),
            ("所属社区", "region"),
            ("职业", "occupation"),
        ),
    ),
    "hrss": SourceSpec(
        "hrss",
        "人社_灵活就业参保人员.xlsx",
        "xlsx",
        "灵活就业人员参保情况摸底表",
        (
            ("姓名", "name"),
            ("公民身份号码", "id_number"),
            ("手机号", "phone"),
            ("参保单位", "employer"),
            ("岗位", "occupation"),
            ("参保地", "region"),
        ),
    ),
    "platform": SourceSpec(
        "platform",
        "平台_骑手及司机名册.csv",
        "csv-utf8",
        "",
        (
            ("骑手姓名", "name"),
            ("手机号", "phone"),
            ("身份证后四位", "id_last4"),
            ("站点", "employer"),
            ("岗位", "occupation"),
            ("区县", "county"),
        ),
        without_id=1.0,
    ),
    "association": SourceSpec(
        "association",
        "协会_行业协会会员名单.csv",
        "csv-gbk",
        "",
        (
            ("姓名", "name"),
            ("证件号", "id_number"),
            ("身份证后四位", "id_last4"),
            ("性别", "sex"),
            ("联系电话", "phone"),
            ("工作单位", "employer"),
            ("从事职业", "occupation"),
        ),
        without_id=0.4,
    ),
}


@dataclass
class MessyPerson:
    """One real person behind the rows (the truth)."""

    index: int
    identity: Identity
    region_code: str
    address: str
    group: str
    other_phone: str = ""  # a second mobile some lists have instead


@dataclass(frozen=True)
class SourceRow:
    source_file: str
    source_row: int
    true_person: int
    true_group: str
    values: dict[str, str]  # field -> the text written in the file


@dataclass
class GroundTruth:
    out_dir: Path
    people: list[MessyPerson]
    rows: list[SourceRow] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file name -> source kind
    header_rows: dict[str, int] = field(default_factory=dict)  # file name -> header row number

    @property
    def truth_path(self) -> Path:
        return self.out_dir / "truth.csv"


@cache
def region_table() -> dict[str, tuple[str, str, str]]:
    """Village code -> (county name, township name, village name), from the regions table."""
    names: dict[str, str] = {}
    villages: list[str] = []
    with REGIONS_CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            names[row["code"]] = row["name"]
            if row["level"] == "village":
                villages.append(row["code"])
    return {code: (names.get(code[:6], ""), names.get(code[:9], ""), names[code]) for code in villages}


@cache
def _homophones() -> dict[str, tuple[str, ...]]:
    """Given-name characters -> other given-name characters read the same (toneless pinyin)."""
    from pypinyin import lazy_pinyin

    lists = name_lists()
    by_sound: dict[str, list[str]] = defaultdict(list)
    for char in dict.fromkeys(lists.male_chars + lists.female_chars + tuple("伟玮炜苇芳方娜纳静敬洋阳杨")):
        by_sound[lazy_pinyin(char)[0]].append(char)
    return {
        c: tuple(o for o in group if o != c) for group in by_sound.values() for c in group if len(group) > 1
    }


@cache
def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t")


# --- noise --------------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
_OTHER_DOTS = ("•", "．", "・", ".", "‧")


def _noisy_name(name: str, rng: random.Random) -> str:
    roll = rng.random()
    if "·" in name and roll < 0.5:
        return name.replace("·", rng.choice(_OTHER_DOTS))
    if roll < 0.08:
        traditional = _to_traditional().convert(name)
        if traditional != name:
            return traditional
    elif roll < 0.14:
        homophones = _homophones()
        spots = [i for i in range(1, len(name)) if name[i] in homophones]
        if spots:
            i = rng.choice(spots)
            return name[:i] + rng.choice(homophones[name[i]]) + name[i + 1 :]
    elif roll < 0.19 and len(name) >= 2:
        space = rng.choice((" ", "\u3000", "  "))
        return name[0] + space + name[1:] if rng.random() < 0.7 else f" {name} "
    return name


def _wrong_digit(id_number: str, rng: random.Random) -> str:
    i = rng.randrange(6, 17)  # keep the province; a digit of the birth date or sequence mistyped
    digit = str((int(id_number[i]) + rng.randrange(1, 10)) % 10)
    wrong = id_number[:i] + digit + id_number[i + 1 :]
    from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number

    try:
        normalize_id_number(wrong, today=date(2021, 11, 1))
    except InvalidIdNumber:
        return wrong
    return wrong[:17] + ("0" if wrong[17] != "0" else "1")  # still valid by chance: break the check char


def _noisy_id(id_number: str, rng: random.Random) -> tuple[str, bool]:
    """(text, still valid)."""
    roll = rng.random()
    if roll < 0.015:
        return _wrong_digit(id_number, rng), False
    if roll < 0.08 and id_number[6:8] == "19":
        return id_number[:6] + id_number[8:17], True  # the old 15-digit number
    if roll < 0.12:
        return id_number.translate(_FULLWIDTH), True
    if roll < 0.16:
        return "'" + id_number, True
    if roll < 0.19:
        return id_number[:6] + " " + id_number[6:14] + " " + id_number[14:], True
    if id_number.endswith("X") and rng.random() < 0.5:
        return id_number[:17] + "x", True
    return id_number, True


def _noisy_phone(phone: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.06:
        return "+86 " + phone
    if roll < 0.1:
        return "86-" + phone
    if roll < 0.15:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    if roll < 0.19:
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    if roll < 0.21:
        return phone.translate(_FULLWIDTH)
    return phone


def _date_text(born: date, rng: random.Random) -> str:
    return rng.choice(
        (
            born.isoformat(),
            f"{born.year}/{born.month}/{born.day}",
            f"{born.year}年{born.month}月{born.day}日",
            f"{born:%Y%m%d}",
        )
    )


# --- people -------------------------------------------------------------------------------------


def _twin_of(person: Identity, rng: random.Random, maker: IdentityMaker) -> Identity:
    lists = name_lists()
    sex = rng.choice(("M", "F"))
    chars = lists.male_chars if sex == "M" else lists.female_chars
    surname = person.name[0]
    given_len = max(1, len(person.name) - 1)
    while True:
        name = surname + "".join(rng.choice(chars) for _ in range(given_len))
        if name != person.name:
            break
    while True:
        number = make_id_number(
            person.id_number[:6], person.birth_date, rng.randrange(500) * 2 + (sex == "M")
        )
        if number not in maker._id_numbers:
            maker._id_numbers.add(number)
            break
    return Identity(
        name=name,
        sex=sex,
        id_number=number,
        phone=maker._phone(),
        birth_date=person.birth_date,
        birthplace_code=person.birthplace_code,
    )


def _draw_people(count: int, rng: random.Random, region_codes: Sequence[str]) -> list[MessyPerson]:
    maker = IdentityMaker(rng)
    table = region_table()
    groups = list(GROUP_WEIGHTS)
    weights = list(GROUP_WEIGHTS.values())
    people: list[MessyPerson] = []

    def place(code: str) -> str:
        county, township, village = table.get(code, ("", "", ""))
        return f"佳木斯市{county}{township}{village}{rng.randrange(1, 40)}号楼{rng.randrange(1, 7)}单元"

    while len(people) < count:
        roll = rng.random()
        if roll < COMMONEST_SHARE:
            name = rng.choice(COMMONEST)
            identity = maker.make(sex=COMMONEST_SEX.get(name, "M"))
            identity = Identity(**{**identity.__dict__, "name": name})
        else:
            identity = maker.make(sex=rng.choice(("M", "F")))
        code = rng.choice(region_codes)
        group = rng.choices(groups, weights)[0]
        person = MessyPerson(len(people), identity, code, place(code), group, maker._phone())
        people.append(person)
        if rng.random() < TWIN_SHARE and len(people) < count:
            twin = _twin_of(identity, rng, maker)
            people.append(
                MessyPerson(
                    len(people), twin, code, person.address, rng.choices(groups, weights)[0], maker._phone()
                )
            )
    return people


def _sources_of(person: MessyPerson, kinds: Sequence[str], rng: random.Random) -> list[str]:
    how_many = rng.choices((1, 2, 3, 4), (30, 35, 23, 12))[0]
    chosen: list[str] = []
    pool = [k for k in kinds]
    while pool and len(chosen) < how_many:
        weights = [SOURCE_AFFINITY[k].get(person.group, SOURCE_AFFINITY[k].get("*", 1)) for k in pool]
        if not any(weights):
            break
        kind = rng.choices(pool, weights)[0]
        chosen.append(kind)
        pool.remove(kind)
    return chosen or [rng.choice(list(kinds))]


def _row_values(person: MessyPerson, spec: SourceSpec, rng: random.Random) -> dict[str, str]:
    ident = person.identity
    values: dict[str, str] = {}
    without_id = rng.random() < spec.without_id
    phone = person.other_phone if rng.random() < 0.03 else ident.phone
    table = region_table()
    county, township, village = table.get(person.region_code, ("", "", ""))
    for _header, fld in spec.columns:
        if fld == "name":
            values[fld] = _noisy_name(ident.name, rng)
        elif fld == "id_number":
            values[fld] = "" if without_id else _noisy_id(ident.id_number, rng)[0]
        elif fld == "id_last4":
            values[fld] = ident.id_number[-4:] if (without_id or rng.random() < 0.5) else ""
            if values[fld].endswith("X") and rng.random() < 0.4:
                values[fld] = values[fld][:3] + "x"
        elif fld == "phone":
            values[fld] = _noisy_phone(phone, rng) if (without_id or rng.random() < 0.93) else ""
        elif fld == "sex":
            values[fld] = "男" if ident.sex == "M" else "女"
        elif fld == "birth_date":
            values[fld] = _date_text(ident.birth_date, rng)
        elif fld == "address":
            values[fld] = person.address
        elif fld == "region":
            values[fld] = f"{county}{village}" if rng.random() < 0.7 else f"{county}{township}{village}"
        elif fld == "county":
            values[fld] = county
        elif fld == "employer":
            values[fld] = rng.choice(EMPLOYERS[person.group])
        elif fld == "occupation":
            values[fld] = rng.choice(OCCUPATIONS[person.group])
    return values


# --- writing ------------------------------------------------------------------------------------


def _write(spec: SourceSpec, rows: list[dict[str, str]], path: Path, as_of: date) -> int:
    """Write the rows; return the header row number (1 for CSV, 3 under a title block)."""
    headers = [h for h, _f in spec.columns]
    table = [
        [str(n) if f == "seq" else row.get(f, "") for _h, f in spec.columns]
        for n, row in enumerate(rows, start=1)
    ]
    if spec.fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        book = Workbook()
        sheet = book.active
        sheet.title = "摸底登记表"
        sheet.append([spec.title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        sheet.cell(1, 1).font = Font(bold=True, size=14)
        sheet.cell(1, 1).alignment = Alignment(horizontal="center")
        sheet.append([f"填报单位：（盖章）    填报日期：{as_of.year}年{as_of.month}月{as_of.day}日"])
        sheet.append(headers)
        for values in table:
            sheet.append(values)
        book.save(path)
        return 3
    encoding = {"csv-utf8": "utf-8", "csv-utf8-bom": "utf-8-sig", "csv-gbk": "gb18030"}[spec.fmt]
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(table)
    return 1


def generate_census(
    *,
    people: int,
    sources: list[str] | None = None,
    seed: int = 0,
    out_dir: Path,
    region_codes: list[str] | None = None,
) -> GroundTruth:
    """Write one messy file per source kind into `out_dir`, plus `truth.csv`; return the truth.

    Deterministic for a seed. About 2.3 rows per person (each person is on one to four lists,
    a few twice on the same list). `region_codes` are the 12-digit village codes people live in
    (default: the demo city's villages, whose names the files then spell out).
    """
    kinds = list(sources or SOURCE_KINDS)
    unknown = [k for k in kinds if k not in SOURCES]
    if unknown:
        raise ValueError(f"未知的来源类型：{'、'.join(unknown)}")
    if people < 1:
        raise ValueError("people must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    codes = list(region_codes or sorted(region_table()))
    crowd = _draw_people(people, rng, codes)

    per_source: dict[str, list[tuple[MessyPerson, dict[str, str]]]] = {k: [] for k in kinds}
    for person in crowd:
        for kind in _sources_of(person, kinds, rng):
            spec = SOURCES[kind]
            per_source[kind].append((person, _row_values(person, spec, rng)))
            if rng.random() < 0.02:  # the same person twice on one list, typed again
                per_source[kind].append((person, _row_values(person, spec, rng)))

    truth = GroundTruth(out_dir=out_dir, people=crowd)
    as_of = date(2021, 10, 15)
    for kind in kinds:
        entries = per_source[kind]
        rng.shuffle(entries)
        spec = SOURCES[kind]
        path = out_dir / spec.file_name
        header_row = _write(spec, [values for _p, values in entries], path, as_of + timedelta(days=len(kind)))
        truth.files[spec.file_name] = kind
        truth.header_rows[spec.file_name] = header_row
        for offset, (person, values) in enumerate(entries, start=1):
            truth.rows.append(
                SourceRow(spec.file_name, header_row + offset, person.index, person.group, values)
            )

    with truth.truth_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_file", "source_row", "true_person", "true_group"])
        for row in truth.rows:
            writer.writerow([row.source_file, row.source_row, row.true_person, row.true_group])
    return truth


# --- link rows straight from the generator (tests, model estimation) ------------------------------


@cache
def _region_lookup():
    """The cleaning stage's region lookup over the demo city's units (county and below)."""
    from gonghui.census.cleaning import RegionLookup

    units = []
    with REGIONS_CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["level"] in ("county", "township", "village"):
                units.append((row["name"], row["code"]))
    return RegionLookup.from_units(units)


def clean_for_linkage(values: dict[str, str], *, key: int, source_kind: str = "", hasher=None):
    """A LinkRow from one generated row's values, cleaned by `gonghui.census.cleaning.clean_row`
    as an import would, with `hasher` (default SHA-256) standing in for the keyed hash. For tests
    and model estimation (no database, no keys needed)."""
    import hashlib

    from gonghui.census.cleaning import clean_row
    from gonghui.census.types import LinkRow

    hasher = hasher or (lambda purpose, value: hashlib.sha256(f"{purpose}:{value}".encode()).hexdigest())
    record = dict(values)
    if "county" in record:
        record["region"] = record.pop("county")
    clean = clean_row(
        record,
        row_number=key,
        headers_by_field={},
        source_kind=source_kind,
        source_name="",
        region_lookup=_region_lookup(),
    )
    id_hash = hasher("id_number", clean.id_number) if clean.id_number else ""
    phone_hash = hasher("phone", clean.phone) if clean.phone else ""
    fingerprint = hashlib.sha256(
        f"{clean.name}|{id_hash}|{phone_hash}|{clean.id_last4}|{clean.birth_date}".encode()
    ).hexdigest()
    return LinkRow(
        key=key,
        name=clean.name,
        id_hash=id_hash,
        id_last4=clean.id_last4,
        phone_hash=phone_hash,
        birth_date=clean.birth_date,
        sex=clean.sex,
        region_code=clean.region_code,
        fingerprint=fingerprint,
    )


def link_rows(truth: GroundTruth, *, hasher=None) -> list:
    """One LinkRow per generated row (key = position in `truth.rows`)."""
    return [
        clean_for_linkage(row.values, key=i, source_kind=truth.files[row.source_file], hasher=hasher)
        for i, row in enumerate(truth.rows)
    ]
