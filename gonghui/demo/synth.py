"""Synthetic people for the demo city: names, ID numbers, phones. Pure Python, no database.

Everything is drawn from one `random.Random`, so a seed gives the same people every time. The
word lists live in `data/` beside this file; the weights are plausible, not statistics.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from gonghui.lib.idcard import make_id_number

DATA_DIR = Path(__file__).resolve().parent / "data"

# The demo city is Jiamusi as the Workers' Daily page saw it, November 2021: ages count from then,
# so the same seed gives the same people whatever today's date is.
AS_OF = date(2021, 11, 1)
MIN_AGE, MAX_AGE = 18, 60

# Mobile number blocks (China Mobile, Unicom, Telecom, Broadcast) a worker's number starts with.
PHONE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 "
    "166 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 192 198 199"
).split()

# Share of given names with one character (张伟) rather than two (张伟东).
SINGLE_CHAR_GIVEN = 0.3
COMMON_NAME_SHARE = 0.02  # workers who carry one of the commonest full names
MINORITY_NAME_SHARE = 0.006  # Uyghur, Kazakh and Mongolian names from data/minority_names.txt

# Surnames of the minority peoples whose townships the demo table holds (朝鲜族乡, 赫哲族乡).
KOREAN_SURNAMES = ("金", "朴", "崔", "李", "郑", "姜")
HEZHE_SURNAMES = ("尤", "毕", "吴", "付", "董", "葛", "卢")


def _lines(filename: str) -> list[list[str]]:
    """The non-comment lines of a data file, split on whitespace."""
    rows = []
    for line in (DATA_DIR / filename).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split())
    return rows


def _chars(filename: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(itertools.chain.from_iterable(_lines(filename))))


class Weighted:
    """Draw from `items` with `weights` (cumulative table built once, so a draw is one bisect)."""

    def __init__(self, items: Sequence, weights: Sequence[float]):
        if not items or len(items) != len(weights):
            raise ValueError("Weighted needs as many weights as items, and at least one")
        self.items = tuple(items)
        self.cumulative = list(itertools.accumulate(float(w) for w in weights))
        self.total = self.cumulative[-1]

    def draw(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass(frozen=True)
class NameLists:
    surnames: Weighted
    male_chars: tuple[str, ...]
    female_chars: tuple[str, ...]
    common: dict[str, tuple[str, ...]]  # sex -> names
    minority: tuple[tuple[str, str, str], ...]  # (sex, birthplace code, name)
    birthplaces: Weighted


@cache
def name_lists() -> NameLists:
    surnames = _lines("surnames.txt")
    common: dict[str, list[str]] = {"M": [], "F": []}
    for sex, name in _lines("common_names.txt"):
        common[sex].append(name)
    births = _lines("birthplaces.txt")
    return NameLists(
        surnames=Weighted([s for s, _w in surnames], [float(w) for _s, w in surnames]),
        male_chars=_chars("given_male.txt"),
        female_chars=_chars("given_female.txt"),
        common={sex: tuple(names) for sex, names in common.items()},
        minority=tuple((sex, code, name) for sex, code, name in _lines("minority_names.txt")),
        birthplaces=Weighted([row[0] for row in births], [float(row[1]) for row in births]),
    )


@dataclass(frozen=True)
class Identity:
    name: str
    sex: str  # "M" / "F"
    id_number: str  # canonical: 18 characters, valid check character
    phone: str  # canonical: 11 digits
    birth_date: date
    birthplace_code: str


class IdentityMaker:
    """Makes people with unique ID numbers and unique mobile numbers, deterministically from `rng`."""

    def __init__(self, rng: random.Random, *, as_of: date = AS_OF):
        self.rng = rng
        self.lists = name_lists()
        self.as_of = as_of
        self._id_numbers: set[str] = set()
        self._phones: set[str] = set()
        # Birth dates between MAX_AGE and MIN_AGE years before `as_of`.
        self._earliest = as_of.replace(year=as_of.year - MAX_AGE - 1) + timedelta(days=1)
        self._span = (as_of.replace(year=as_of.year - MIN_AGE) - self._earliest).days

    def make(self, *, sex: str, ethnic_hint: str = "") -> Identity:
        """One person of `sex`; `ethnic_hint` ("korean", "hezhe") shapes the surname of a local."""
        rng = self.rng
        birthplace = self.lists.birthplaces.draw(rng)
        roll = rng.random()
        if roll < MINORITY_NAME_SHARE:
            sex, birthplace, name = rng.choice(self.lists.minority)
        elif roll < MINORITY_NAME_SHARE + COMMON_NAME_SHARE:
            name = rng.choice(self.lists.common[sex])
        else:
            name = self._han_name(sex, ethnic_hint)
        id_number, born = self._id_number(birthplace, sex)
        return Identity(
            name=name,
            sex=sex,
            id_number=id_number,
            phone=self._phone(),
            birth_date=born,
            birthplace_code=birthplace,
        )

    def _han_name(self, sex: str, ethnic_hint: str) -> str:
        rng = self.rng
        if ethnic_hint == "korean" and rng.random() < 0.7:
            surname = rng.choice(KOREAN_SURNAMES)
        elif ethnic_hint == "hezhe" and rng.random() < 0.5:
            surname = rng.choice(HEZHE_SURNAMES)
        else:
            surname = self.lists.surnames.draw(rng)
        chars = self.lists.male_chars if sex == "M" else self.lists.female_chars
        if rng.random() < SINGLE_CHAR_GIVEN:
            return surname + rng.choice(chars)
        return surname + rng.choice(chars) + rng.choice(chars)

    def _id_number(self, birthplace: str, sex: str) -> tuple[str, date]:
        rng = self.rng
        while True:
            born = self._earliest + timedelta(days=rng.randrange(self._span + 1))
            # The sequence's last digit is odd for men, even for women (GB 11643).
            sequence = rng.randrange(500) * 2 + (1 if sex == "M" else 0)
            number = make_id_number(birthplace, born, sequence)
            if number not in self._id_numbers:
                self._id_numbers.add(number)
                return number, born

    def _phone(self) -> str:
        rng = self.rng
        while True:
            phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone


# --- employers ---------------------------------------------------------------------------------

CITY_CODE = "230800"


@dataclass(frozen=True)
class EmployerSpec:
    """An employer of the demo city: a platform's local branch, a head enterprise or a local firm."""

    key: str  # stable handle: "meituan", "zto-230882", "firm-230811-3"
    name: str
    groups: tuple[str, ...]  # occupation group codes of the workers it employs
    county_code: str  # 6-digit code of its county-level unit, or CITY_CODE when it works city-wide
    is_platform: bool
    is_head: bool
    weight: float  # its share of its groups' workers, against the other employers of those groups
    credit_code: str


def _csv_rows(filename: str) -> list[dict[str, str]]:
    import csv

    text = (DATA_DIR / filename).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))


def _credit_code(name: str, county_code: str, taken: set[str]) -> str:
    """A valid credit code registered in `county_code`, stable for `name` (not for its position)."""
    import hashlib

    from gonghui.lib.creditcode import make_credit_code

    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    while True:
        code = make_credit_code(seed, county_code)
        if code not in taken:
            taken.add(code)
            return code
        seed += 1


def place_name(county_name: str) -> str:
    """How a branch names its place: districts with the city (佳木斯市郊区), counties alone (富锦市)."""
    return f"佳木斯市{county_name}" if county_name.endswith("区") else county_name


def employer_specs(counties: Sequence[tuple[str, str]]) -> list[EmployerSpec]:
    """The demo city's ~200 employers, the same every time, for `counties` [(code6, name), ...]."""
    rng = random.Random("gonghui-demo-employers")
    taken: set[str] = set()
    specs: list[EmployerSpec] = []

    def add(key, name, groups, county_code, is_platform, is_head, weight):
        specs.append(
            EmployerSpec(
                key=key,
                name=name,
                groups=tuple(groups.split(";")),
                county_code=county_code,
                is_platform=is_platform,
                is_head=is_head,
                weight=float(weight),
                credit_code=_credit_code(name, county_code, taken),
            )
        )

    for row in _csv_rows("employers.csv"):
        flags = row["is_platform"] == "1", row["is_head"] == "1"
        if row["scope"] == "each":
            for code, county_name in counties:
                name = row["name"].format(place=place_name(county_name))
                add(f"{row['key']}-{code}", name, row["groups"], code, *flags, row["weight"])
        else:
            scope = CITY_CODE if row["scope"] == "city" else row["scope"]
            add(row["key"], row["name"], row["groups"], scope, *flags, row["weight"])

    words = tuple(itertools.chain.from_iterable(_lines("firm_words.txt")))
    names = {s.name for s in specs}
    for code, county_name in counties:
        prefix = "佳木斯" if county_name.endswith("区") else county_name
        number = 0
        for row in _csv_rows("firms.csv"):
            extra = dict(item.split(":") for item in row["extra"].split(";") if item)
            for _ in range(int(row["each"]) + int(extra.get(code, 0))):
                while True:
                    name = f"{prefix}{rng.choice(words)}{row['suffix']}"
                    if name not in names:
                        names.add(name)
                        break
                number += 1
                add(f"firm-{code}-{number}", name, row["groups"], code, False, False, row["weight"])
    return specs
