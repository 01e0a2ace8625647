"""The shapes that pass between the census stages: read -> clean -> resolve -> write.

reader (gonghui/lib/tabular.py)   -> Table (header mapping + raw rows with spreadsheet row numbers)
cleaning (census/cleaning.py)      -> CleanRow per raw row (plaintext ID/phone live only in memory)
linkage (census/linkage.py)        -> Resolution per LinkRow, against PersonRecord of people known
pipeline (census/services.py)      -> ImportBatch, BatchRow, Person, ReviewItem rows in one transaction
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# The fields a census column can map to (`--map 表头=field`).
FIELDS = (
    "name",
    "id_number",
    "id_last4",
    "phone",
    "employer",
    "employer_credit_code",
    "occupation",
    "birth_date",
    "sex",
    "address",
    "region",
)


@dataclass(frozen=True)
class Issue:
    """A rejected or doubtful value: which column (the header as in the file), why, how bad."""

    column: str
    reason: str  # Chinese, e.g. "身份证号校验位错误"
    severity: str = "error"  # "error": the value was dropped; "warning": kept but doubtful; "reject": row rejected


@dataclass
class CleanRow:
    row_number: int  # as a spreadsheet shows it (header row counted)
    name: str = ""
    id_number: str = ""  # canonical 18 characters, or "" when missing or invalid (then an Issue says why)
    id_last4: str = ""  # from the ID number, or from a 身份证后四位 column
    phone: str = ""  # 11-digit mobile or ""
    birth_date: date | None = None  # from the ID number, or a 出生日期 column
    sex: str = ""  # "M" / "F" / ""
    employer: str = ""
    employer_credit_code: str = ""
    occupation: str = ""
    address: str = ""
    region_code: str = ""  # 12-digit division code, resolved from region/address text, or ""
    group_code: str = ""  # occupation group code (courier, rider, ...) or ""
    issues: list[Issue] = field(default_factory=list)
    rejected: bool = False  # no usable identity (e.g. no name): kept as a rejected row


@dataclass(frozen=True)
class LinkRow:
    """What the linkage sees of a cleaned row: no plaintext ID or phone, only keyed hashes."""

    key: int  # the row's index in the batch (unique within one call)
    name: str
    id_hash: str  # "" when no valid ID
    id_last4: str
    phone_hash: str
    birth_date: date | None
    sex: str
    region_code: str
    fingerprint: str  # keyed hash of the cleaned identity, for remembered decisions


@dataclass(frozen=True)
class PersonRecord:
    """What the linkage sees of a person already known."""

    person_id: int
    name: str
    id_hash: str
    id_last4: str
    phone_hash: str
    birth_date: date | None
    sex: str
    region_code: str


@dataclass(frozen=True)
class Resolution:
    """Where one LinkRow goes.

    - status "linked": `person_id` is an existing person (exact ID, confident score, or a remembered decision);
    - status "new": no existing person; rows with the same `new_cluster` are one new person;
    - status "review": uncertain; `person_id` is the best candidate when more likely than not the same
      (provisional link), else None with `new_cluster` set; `candidates` are the (person_id,
      probability) pairs staff must decide, existing people only.
    """

    key: int
    status: str
    person_id: int | None = None
    new_cluster: int | None = None
    probability: float | None = None
    candidates: tuple[tuple[int, float], ...] = ()
    # Uncertain pairs with other rows of the same call that became new people: (new_cluster, probability).
    cluster_candidates: tuple[tuple[int, float], ...] = ()
