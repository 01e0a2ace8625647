"""Cleaning one census row: names, ID numbers, phones, dates, region and occupation group.

Every value that is dropped or doubtful leaves an `Issue` naming the column as the file wrote
it and the reason in Chinese; the row itself is kept (only a row without a name is rejected).
Reasons never repeat the value: they end up in reports that more people read than the file.

Speed: a million rows must clean in well under a minute, so the conversions that repeat
(names, occupation/employer pairs, region texts) are cached, regexes are compiled once, and
nothing here touches the database per row (`RegionLookup` is built once per import).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from gonghui.census.policies import fold, group_policy
from gonghui.census.types import CleanRow, Issue
from gonghui.lib.creditcode import InvalidCreditCode, normalize_credit_code
from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number
from gonghui.lib.phone import InvalidPhone, normalize_mobile

__all__ = ["RegionLookup", "classify_occupation", "clean_date", "clean_name", "clean_names", "clean_row"]

# --- names -------------------------------------------------------------------------------------

# The dots people type between the parts of a minority name (阿依古丽·买买提): after NFKC these
# remain (U+FF0E becomes ".", U+FF65 becomes U+30FB, U+318D becomes U+119E).
_NAME_DOTS = re.compile("[.\u00b7\u2022\u2027\u2219\u22c5\u30fb\u318d\u119e\uff0e\uff65\u0387]+")
_NAME_SPACES = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


_name_cache: dict[str, str] = {}
_NAME_CACHE_LIMIT = 1 << 20


def _finish_name(text: str) -> str:
    return _NAME_DOTS.sub("·", text).strip("·")


def clean_name(raw: str) -> str:
    """A name in one canonical form: NFKC, no spaces, simplified characters, one kind of middle dot."""
    raw = raw or ""
    found = _name_cache.get(raw)
    if found is None:
        text = _NAME_SPACES.sub("", unicodedata.normalize("NFKC", raw))
        if text and not text.isascii():
            text = _t2s().convert(text)
        found = _finish_name(text) if text else ""
        if len(_name_cache) >= _NAME_CACHE_LIMIT:
            _name_cache.clear()
        _name_cache[raw] = found
    return found


def clean_names(raws: Iterable[str]) -> None:
    """Clean many names ahead of `clean_name` (which then finds them cleaned): the traditional to
    simplified conversion runs once over all of them, one name a line, instead of once a name
    (OpenCC's per-call cost is most of a name's). No dictionary entry spans a line break, so each
    line converts as the name alone would."""
    todo: dict[str, str] = {}
    for raw in set(raws):
        if raw and raw not in _name_cache:
            todo[raw] = _NAME_SPACES.sub("", unicodedata.normalize("NFKC", raw))
    wide = sorted({text for text in todo.values() if text and not text.isascii()})
    converted = _t2s().convert("\n".join(wide)).split("\n") if wide else []
    if len(converted) != len(wide):  # never expected; the one-by-one path is always right
        return
    simplified = dict(zip(wide, converted, strict=True))
    if len(_name_cache) + len(todo) >= _NAME_CACHE_LIMIT:
        _name_cache.clear()
    for raw, text in todo.items():
        text = simplified.get(text, text)
        _name_cache[raw] = _finish_name(text) if text else ""


# --- dates -------------------------------------------------------------------------------------

_DATE_PARTS = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_SERIAL = re.compile(r"^(\d{1,5})(?:\.\d+)?$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_FORMS = "应为 2021-03-04、2021/3/4、2021.3.4、2021年3月4日、20210304 或 Excel 日期序号"


def clean_date(raw) -> dt.date:
    """The date in `raw` (text in the usual forms, an Excel serial number, or a date), or ValueError."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        raise ValueError("日期为空")
    match = _DATE_PARTS.match(text) or _DATE_COMPACT.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError("日期不存在（月或日超出范围）") from None
    match = _EXCEL_SERIAL.match(text)
    if match:
        return _excel_serial_date(int(match.group(1)))
    raise ValueError(f"无法识别的日期（{_DATE_FORMS}）")


def _excel_serial_date(serial: int) -> dt.date:
    # Excel's 1900 date system counts a 29 February 1900 that never was (serial 60), copying
    # Lotus 1-2-3: serials after it are one day ahead of a plain count from 1899-12-31.
    if serial < 1:
        raise ValueError("Excel 日期序号应大于0")
    if serial == 60:
        raise ValueError("Excel 日期序号60是不存在的1900年2月29日")
    if serial < 60:
        return dt.date(1899, 12, 31) + dt.timedelta(days=serial)
    return _EXCEL_EPOCH + dt.timedelta(days=serial)


# --- occupation groups ---------------------------------------------------------------------------


def _first_group(rules, text: str) -> str:
    if text:
        for rule in rules:
            for keyword in rule.keywords:
                if keyword in text:
                    return rule.group
    return ""


@lru_cache(maxsize=1 << 16)
def classify_occupation(
    *, occupation: str, employer: str = "", source_kind: str = "", source_name: str = ""
) -> str:
    """The occupation group code the texts point to, or "" (rules and order: policies/occupation_groups.yaml)."""
    policy = group_policy()
    occ = fold(occupation)
    group = _first_group(policy.occupation, occ)
    if group:
        return group
    employer_hint = _first_group(policy.employers, fold(employer))
    source_hint = _first_group(policy.sources, fold(source_name))
    if occ:
        for entry in policy.ambiguous:
            if any(word in occ for word in entry.words):
                for hint in (employer_hint, source_hint):
                    hinted = entry.employer_groups.get(hint, hint)
                    if hinted in entry.groups:
                        return hinted
                return entry.default
    return employer_hint or source_hint or policy.source_kind_default.get(source_kind, "")


# --- regions -----------------------------------------------------------------------------------

_REGION_SUFFIXES = ("街道办事处", "街道", "社区", "区", "县", "市", "镇", "乡", "村")
_PREFIX_BY_LEVEL = {3: 6, 4: 9, 5: 12}


def _level(code: str) -> int:
    if code[6:] == "000000":
        return 3
    if code[9:] == "000":
        return 4
    return 5


def _ancestor(codes: Iterable[str]) -> str:
    """The deepest common county/township/village unit of `codes` (12 digits), or ""."""
    codes = list(codes)
    for level in (5, 4, 3):
        length = _PREFIX_BY_LEVEL[level]
        prefixes = {c[:length] for c in codes}
        if len(prefixes) == 1:
            return prefixes.pop().ljust(12, "0")
    return ""


class RegionLookup:
    """Finds the division code of a region or address text among the units of a city.

    Built once from full unit names (county, township/street, village/community) with their
    12-digit codes; names are also known without their suffix (区/县/市/镇/乡/街道/社区/村) when
    that leaves at least two characters. A name several units share (光明社区 in two streets) is
    resolved by the other units the text names, else to their deepest common unit.
    """

    def __init__(self, names: dict[str, str]) -> None:
        self._init_units(names.items())

    @classmethod
    def from_units(cls, units: Iterable[tuple[str, str]]) -> RegionLookup:
        lookup = cls.__new__(cls)
        lookup._init_units(units)
        return lookup

    @classmethod
    def from_db(cls, *, within: str = "") -> RegionLookup:
        """Every county-level and lower unit in the Region table (under the code prefix `within`)."""
        from gonghui.regions.models import Region, RegionLevel

        rows = Region.objects.filter(level__gte=RegionLevel.COUNTY)
        if within:
            rows = rows.filter(code__startswith=within)
        return cls.from_units(rows.values_list("name", "code"))

    def _init_units(self, units: Iterable[tuple[str, str]]) -> None:
        full: dict[str, set[str]] = {}
        short: dict[str, set[str]] = {}
        for name, code in units:
            name = fold(name)
            code = str(code).ljust(12, "0")
            if not name:
                continue
            full.setdefault(name, set()).add(code)
            for suffix in _REGION_SUFFIXES:
                if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                    short.setdefault(name[: -len(suffix)], set()).add(code)
                    break
        # Exact names for a region column; only full names are searched inside longer text
        # (a bare "新华" would match "新华路").
        self._exact: dict[str, frozenset[str]] = {n: frozenset(c) for n, c in short.items()}
        self._exact.update({n: frozenset(c) for n, c in full.items()})
        self._full = {n: frozenset(c) for n, c in full.items()}
        self._by_first: dict[str, list[str]] = {}
        for name in sorted(self._full, key=len, reverse=True):
            self._by_first.setdefault(name[0], []).append(name)
        # Cached apart: a file has few region texts but nearly as many addresses as rows, and the
        # address is only read when the region text names nothing.
        self._region_cached = lru_cache(maxsize=1 << 16)(self._find_region)
        self._address_cached = lru_cache(maxsize=1 << 16)(self._find_address)

    def find(self, region_text: str = "", address_text: str = "") -> str:
        """The 12-digit code of the deepest unit the region text (else the address) names, or ""."""
        found = self._region_cached(region_text) if region_text else ""
        if not found and address_text:
            found = self._address_cached(address_text)
        return found

    def _find_region(self, region_text: str) -> str:
        region = fold(region_text)
        if not region:
            return ""
        codes = self._exact.get(region)
        if codes:
            return self._resolve([codes])
        return self._resolve(self._contained(region))

    def _find_address(self, address_text: str) -> str:
        address = fold(address_text)
        return self._resolve(self._contained(address)) if address else ""

    def _contained(self, text: str) -> list[frozenset[str]]:
        matches = []
        position = 0
        while position < len(text):
            for name in self._by_first.get(text[position], ()):
                if text.startswith(name, position):
                    matches.append(self._full[name])
                    position += len(name) - 1
                    break
            position += 1
        return matches

    @staticmethod
    def _resolve(matches: list[frozenset[str]]) -> str:
        if not matches:
            return ""
        anchors = [next(iter(c)) for c in matches if len(c) == 1]
        chosen: list[str] = list(anchors)
        for codes in matches:
            if len(codes) == 1:
                continue
            consistent = [
                c
                for c in codes
                if all(
                    c.startswith(a[: _PREFIX_BY_LEVEL[_level(a)]])
                    or a.startswith(c[: _PREFIX_BY_LEVEL[_level(c)]])
                    for a in anchors
                )
            ]
            if len(consistent) == 1:
                chosen.append(consistent[0])
            else:
                common = _ancestor(consistent or codes)
                if common:
                    chosen.append(common)
        if not chosen:
            return ""
        return max(chosen, key=_level)


# --- rows --------------------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+?\d+$", re.IGNORECASE)
_LAST4 = re.compile(r"^\d{3}[\dX]$")
_ID_SHAPE_18 = re.compile(r"^\d{17}[\dX]$")
_PLAIN_MOBILE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_PHONE_SPLIT = re.compile(r"[,，;；/、|]+")
_LANDLINE = re.compile(r"^(?:\+?86)?0\d{9,11}$|^\d{7,8}$")
_PHONE_NOISE = re.compile(r"[\s\-\u2010-\u2015\u2212.()（）]+")
_SEX = {
    "男": "M", "男性": "M", "m": "M", "male": "M", "1": "M",
    "女": "F", "女性": "F", "f": "F", "female": "F", "2": "F",
}  # fmt: skip
_QUOTES = "'\u2018\u2019`"


def _text(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value or "").split())


# Employers and occupations repeat across a file: clean each distinct text once.
_repeated_text = lru_cache(maxsize=1 << 16)(_text)


@lru_cache(maxsize=1 << 16)
def _birth_of_id(yyyymmdd: str) -> dt.date:
    return dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))


def _column(headers_by_field: dict[str, str], field: str) -> str:
    return headers_by_field.get(field, field)


def clean_row(
    record: dict[str, str],
    *,
    row_number: int,
    headers_by_field: dict[str, str],
    source_kind: str,
    source_name: str,
    region_lookup: RegionLookup | None,
) -> CleanRow:
    """One row of a census file, cleaned; `record` maps fields to the cell text as read.

    Guarantees: a value that fails its check is dropped and leaves an Issue naming its column;
    the row is rejected (kept, `rejected=True`) only when no name remains.
    """
    row = CleanRow(row_number=row_number)
    issues = row.issues
    col = headers_by_field.get

    row.name = clean_name(record.get("name") or "")
    if not row.name or not _LETTER.search(row.name):
        row.name = ""
        row.rejected = True
        issues.append(Issue(column=col("name", "name"), reason="姓名为空", severity="reject"))

    _clean_id(row, record, headers_by_field)
    _clean_id_last4(row, record, headers_by_field)
    _clean_birth_and_sex(row, record, headers_by_field)

    raw_phone = record.get("phone") or ""
    if raw_phone.strip():
        phone, reason = _mobile(raw_phone)
        row.phone = phone
        if reason:
            issues.append(Issue(column=_column(headers_by_field, "phone"), reason=reason))

    row.employer = _repeated_text(record.get("employer") or "")
    raw_code = record.get("employer_credit_code") or ""
    if raw_code.strip():
        try:
            row.employer_credit_code = normalize_credit_code(raw_code)
        except InvalidCreditCode as exc:
            issues.append(Issue(column=_column(headers_by_field, "employer_credit_code"), reason=str(exc)))
    row.occupation = _repeated_text(record.get("occupation") or "")
    row.address = _text(record.get("address") or "")
    if region_lookup is not None:
        row.region_code = region_lookup.find(record.get("region") or "", row.address)
    row.group_code = classify_occupation(
        occupation=row.occupation, employer=row.employer, source_kind=source_kind, source_name=source_name
    )
    return row


def _clean_id(row: CleanRow, record: dict[str, str], headers_by_field: dict[str, str]) -> None:
    raw = (record.get("id_number") or "").strip()
    if raw:
        id_number, id_last4, birth_date, sex, issues = _parsed_id(raw, _column(headers_by_field, "id_number"))
        row.id_number, row.id_last4, row.birth_date, row.sex = id_number, id_last4, birth_date, sex
        row.issues.extend(issues)


@lru_cache(maxsize=1 << 18)
def _parsed_id(raw: str, column: str) -> tuple[str, str, dt.date | None, str, tuple[Issue, ...]]:
    """What an ID number cell gives a fresh row: (ID number, last four, birth date, sex, issues).

    Cached: the same person's number recurs across a census's lists, and checking it is the
    dearest step of cleaning a row."""
    row = CleanRow(row_number=0)
    if _SCIENTIFIC.match(raw):
        row.issues.append(
            Issue(column=column, reason="身份证号被存成了数字，后几位已丢失（请把该列设为文本后重新导出）")
        )
    else:
        try:
            row.id_number = normalize_id_number(raw)
        except InvalidIdNumber as exc:
            row.issues.append(Issue(column=column, reason=str(exc)))
            if exc.reason in ("check_char", "birth_date"):
                _keep_doubtful_id_parts(row, raw, column)
    if row.id_number:
        canonical = row.id_number
        row.id_last4 = canonical[-4:]
        row.birth_date = _birth_of_id(canonical[6:14])
        row.sex = "M" if int(canonical[16]) % 2 else "F"  # as id_info_of_canonical, without a date per row
    return row.id_number, row.id_last4, row.birth_date, row.sex, tuple(row.issues)


def _clean_id_last4(row: CleanRow, record: dict[str, str], headers_by_field: dict[str, str]) -> None:
    raw4 = record.get("id_last4") or ""
    if raw4.strip():
        column = _column(headers_by_field, "id_last4")
        last4 = "".join(unicodedata.normalize("NFKC", raw4).split()).lstrip(_QUOTES).upper()
        if last4.isdigit() and len(last4) < 4:
            # A spreadsheet drops the leading zeros of "0123" kept as a number.
            last4 = last4.zfill(4)
            row.issues.append(
                Issue(column=column, reason="身份证后四位不足4位，已在前面补0", severity="warning")
            )
        if not _LAST4.match(last4):
            row.issues.append(Issue(column=column, reason="身份证后四位应为4位数字（末位可为X）"))
        elif row.id_number and row.id_number[-4:] != last4:
            row.issues.append(
                Issue(column=column, reason="身份证后四位与身份证号不符，以身份证号为准", severity="warning")
            )
        elif not row.id_number:
            row.id_last4 = last4


def _keep_doubtful_id_parts(row: CleanRow, raw: str, column: str) -> None:
    """What an 18-character ID number that fails a check still says, as doubtful values.

    Most numbers whose check character fails, or whose birth date is no date, have one mistyped
    digit: the rest is still right, and dropping it all leaves a row with a name alone. The
    number itself stays dropped (never an exact-match key). Its last four and sex are kept, and
    its birth date when that is a real date (the check character then failed); they are evidence
    for linking, not facts (the mistyped digit may be among them), and a 出生日期, 性别 or 身份证后四位
    column of the row, read after this, takes precedence.
    """
    text = "".join(unicodedata.normalize("NFKC", raw).split()).lstrip(_QUOTES).upper()
    if not _ID_SHAPE_18.match(text):
        return  # an old 15-digit number has no check character: a wrong digit there is not findable
    try:
        row.birth_date = _birth_of_id(text[6:14])
    except ValueError:
        kept = "性别与后四位"
    else:
        if not dt.date(1900, 1, 1) <= row.birth_date <= dt.date.today():
            row.birth_date = None
            kept = "性别与后四位"
        else:
            kept = "出生日期、性别与后四位"
    row.id_last4 = text[-4:]
    row.sex = "M" if int(text[16]) % 2 else "F"
    row.issues.append(Issue(column=column, reason=f"身份证号有误，{kept}仅供比对", severity="warning"))


def _clean_birth_and_sex(row: CleanRow, record: dict[str, str], headers_by_field: dict[str, str]) -> None:
    raw_birth = record.get("birth_date") or ""
    if raw_birth.strip():
        column = _column(headers_by_field, "birth_date")
        try:
            born = clean_date(raw_birth)
        except ValueError as exc:
            row.issues.append(Issue(column=column, reason=f"出生日期：{exc}"))
        else:
            if row.id_number:
                if born != row.birth_date:
                    row.issues.append(
                        Issue(
                            column=column, reason="出生日期与身份证号不符，以身份证号为准", severity="warning"
                        )
                    )
            elif not dt.date(1900, 1, 1) <= born <= dt.date.today():
                row.issues.append(Issue(column=column, reason="出生日期不在1900年至今天之间"))
            else:
                row.birth_date = born

    raw_sex = record.get("sex") or ""
    if raw_sex.strip():
        column = _column(headers_by_field, "sex")
        sex = _SEX.get(fold(raw_sex), "")
        if not sex:
            row.issues.append(Issue(column=column, reason="性别应为男或女"))
        elif row.id_number:
            if sex != row.sex:
                row.issues.append(
                    Issue(column=column, reason="性别与身份证号不符，以身份证号为准", severity="warning")
                )
        else:
            row.sex = sex


def _mobile(raw: str) -> tuple[str, str]:
    """(mobile, "") for the first mobile number in the cell, else ("", reason)."""
    if _PLAIN_MOBILE.fullmatch(raw):  # most cells: already what normalize_mobile would return
        return raw, ""
    parts = [p for p in _PHONE_SPLIT.split(raw) if p.strip()]
    first_reason = ""
    for part in parts:
        try:
            return normalize_mobile(part), ""
        except InvalidPhone as exc:
            if not first_reason:
                bare = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", part)).lstrip(_QUOTES)
                if _LANDLINE.match(bare):
                    first_reason = "不是手机号（像是固定电话），已忽略"
                else:
                    first_reason = str(exc)
    return "", first_reason
