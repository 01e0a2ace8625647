"""Entity resolution: which person each census row is (exact on the ID hash, else Splink).

1. Exact: a row whose ID number's keyed hash equals a person's is that person (p = 1); rows that
   share an ID hash are one person. Two records with different ID hashes are never the same
   person: that hard rule is applied to everything below, which keeps twins and the many
   张伟 with ID numbers apart.
2. Otherwise Splink (DuckDB) scores the pairs that share a blocking key (phone hash; name pinyin
   + birth date; name pinyin + last four ID characters; surname pinyin + birth date + county)
   on name (exact, toneless pinyin so that homophone typos and traditional forms meet, a
   Jaro-Winkler level), phone hash, last four, birth date, sex and region (village / township /
   county). The m/u probabilities are fixed in `data/splink_model.json`, estimated once from
   the messy-census generator's ground truth (`estimate_model`, run by
   `bench/train_linkage_model.py`): no EM training on import.
3. Remembered decisions (`decisions[(fingerprint, person_id)]`) force or forbid a link.
4. Rows and people are joined greedily, most probable pair first, into groups that never hold
   two different ID hashes, two existing people, or a forbidden (row, person) pair. A group with
   an existing person links to it; a group without one is a new person (`new_cluster`).
   Pairs in the review band go to review (a provisional link when p >= 0.5).

Thresholds are policy: `policies/linkage.yaml`, dated.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonghui.census.types import LinkRow, PersonRecord, Resolution

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "MODEL_PATH",
    "POLICY_PATH",
    "PEOPLE_COLUMNS",
    "Thresholds",
    "estimate_model",
    "load_thresholds",
    "name_key",
    "name_pinyin",
    "people_frame",
    "resolve",
    "score_pairs",
]

MODEL_PATH = Path(__file__).resolve().parent / "data" / "splink_model.json"
POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "linkage.yaml"

# A PeopleSource is a Polars frame with these columns (one row per person), e.g. read from the
# database in one query; a list of PersonRecord works as well.
PEOPLE_COLUMNS = (
    "person_id",
    "name",
    "id_hash",
    "id_last4",
    "phone_hash",
    "birth_date",
    "sex",
    "region_code",
)

# The middle dots of minority names and the spaces that lists put inside names.
_NAME_NOISE = dict.fromkeys(map(ord, " \t\u3000\u00a0·•．・.‧"), None)


@dataclass(frozen=True)
class Thresholds:
    auto_link: float  # p >= this: linked (or one new person) without asking
    review: float  # review <= p < auto_link: staff decide
    provisional: float = 0.5  # a review row is provisionally linked to its best candidate from here
    effective_from: date | None = None
    issued_by: str = ""
    document: str = ""


def load_thresholds(on: date | None = None, *, path: Path = POLICY_PATH) -> Thresholds:
    """The thresholds in force on `on` (default today) from the dated linkage policy."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    on = on or date.today()
    versions = sorted(data["versions"], key=lambda v: v["effective_from"])
    in_force = [v for v in versions if v["effective_from"] <= on] or versions[:1]
    version = in_force[-1]
    thresholds = Thresholds(
        auto_link=float(version["auto_link"]),
        review=float(version["review"]),
        provisional=float(version.get("provisional", 0.5)),
        effective_from=version["effective_from"],
        issued_by=data.get("issued_by", ""),
        document=data.get("document", ""),
    )
    if not 0 < thresholds.review <= thresholds.provisional <= thresholds.auto_link <= 1:
        raise ValueError(f"{path.name}: 阈值应满足 0 < review <= provisional <= auto_link <= 1")
    return thresholds


# --- names --------------------------------------------------------------------------------------


def name_key(name: str) -> str:
    """The name as compared: NFKC, no spaces, no middle dots (the cleaning stage did the rest)."""
    return unicodedata.normalize("NFKC", name or "").translate(_NAME_NOISE)


@cache
def _char_pinyin(char: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(char)[0].lower()


def name_pinyin(name: str) -> tuple[str, str]:
    """(toneless pinyin of the whole name, of the surname character) — homophones and traditional
    forms give the same pinyin. Character by character (cached), so both sides read a
    polyphonic character the same way whatever the context."""
    key = name_key(name)
    if not key:
        return "", ""
    syllables = [_char_pinyin(c) for c in key]
    return "".join(syllables), syllables[0]


# --- frames -------------------------------------------------------------------------------------


def _records_frame(records: Sequence[Any], ids: Sequence[int], is_row: bool) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(
        {
            "uid": ids,
            "is_row": [is_row] * len(ids),
            "name": [r.name for r in records],
            "id_hash": [r.id_hash for r in records],
            "id_last4": [r.id_last4 for r in records],
            "phone_hash": [r.phone_hash for r in records],
            "birth_date": [r.birth_date for r in records],
            "sex": [r.sex for r in records],
            "region_code": [r.region_code for r in records],
        },
        schema={
            "uid": pl.Int64,
            "is_row": pl.Boolean,
            "name": pl.String,
            "id_hash": pl.String,
            "id_last4": pl.String,
            "phone_hash": pl.String,
            "birth_date": pl.Date,
            "sex": pl.String,
            "region_code": pl.String,
        },
    )


def people_frame(people: Iterable[PersonRecord]) -> pl.DataFrame:
    """A PeopleSource frame from PersonRecords."""
    import polars as pl

    people = list(people)
    frame = _records_frame(people, [p.person_id for p in people], False)
    return frame.rename({"uid": "person_id"}).drop("is_row").with_columns(pl.col("person_id").cast(pl.Int64))


def _prepare(frame: pl.DataFrame) -> pl.DataFrame:
    """Blank strings to nulls, and the derived columns the blocking rules and comparisons use."""
    import polars as pl

    names = frame.get_column("name").unique()
    pinyin = [name_pinyin(n or "") for n in names]
    lookup = pl.DataFrame(
        {
            "name": names,
            "name_key": [name_key(n or "") for n in names],
            "py": [p for p, _s in pinyin],
            "sur_py": [s for _p, s in pinyin],
        },
        schema={"name": pl.String, "name_key": pl.String, "py": pl.String, "sur_py": pl.String},
    )
    blank = ("name", "id_hash", "id_last4", "phone_hash", "sex", "region_code")
    return (
        frame.join(lookup, on="name", how="left", nulls_equal=True)
        .with_columns(
            [
                pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
                for c in blank
            ]
            + [
                pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
                for c in ("name_key", "py", "sur_py")
            ]
        )
        .with_columns(
            pl.col("id_last4").str.to_uppercase(),
            # A code known only to the county (6 digits) or township (9) compares at that level.
            # (padded with zeros to 12, as cleaning writes it: 230803000000 is the county only).
            pl.when(
                (pl.col("region_code").str.len_chars() >= 12) & ~pl.col("region_code").str.ends_with("000")
            )
            .then(pl.col("region_code"))
            .alias("region12"),
            pl.when(
                (pl.col("region_code").str.len_chars() >= 9)
                & (pl.col("region_code").str.slice(6, 3) != "000")
            )
            .then(pl.col("region_code").str.slice(0, 9))
            .alias("region9"),
            pl.col("region_code").str.slice(0, 6).alias("region6"),
        )
    )


def _candidate_people(rows: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """Only the people that share a blocking key (or the ID hash) with some row: a national
    people table need not go through Splink to link one file."""
    import polars as pl

    if people.height == 0:
        return people
    keep = pl.lit(False)
    for cols in (
        ["id_hash"],
        ["phone_hash"],
        ["py", "birth_date"],
        ["py", "id_last4"],
        ["sur_py", "birth_date", "region6"],
    ):
        keys = rows.select(cols).drop_nulls().unique()
        if keys.height:
            people = people.join(keys.with_columns(pl.lit(True).alias("_hit")), on=cols, how="left")
            keep = keep | pl.col("_hit").fill_null(False)
            people = people.with_columns(keep.alias("_keep")).drop("_hit")
            keep = pl.col("_keep")
    if "_keep" not in people.columns:
        return people.head(0)
    return people.filter(pl.col("_keep")).drop("_keep")


# --- Splink -------------------------------------------------------------------------------------

# Pairs to score: never person with person (they were resolved before), never a cartesian product.
_ANY_ROW = "(l.is_row OR r.is_row)"
BLOCKING_RULES = (
    f"l.phone_hash = r.phone_hash AND {_ANY_ROW}",
    f"l.py = r.py AND l.birth_date = r.birth_date AND {_ANY_ROW}",
    f"l.py = r.py AND l.id_last4 = r.id_last4 AND {_ANY_ROW}",
    f"l.sur_py = r.sur_py AND l.birth_date = r.birth_date AND l.region6 = r.region6 AND {_ANY_ROW}",
)


def _level(sql: str, label: str, *, null: bool = False) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    return level


def _comparisons() -> list[dict[str, Any]]:
    """The comparisons, as Splink comparison dicts (m/u added by `estimate_model`)."""

    def exact(col: str, label: str) -> dict[str, Any]:
        return {
            "output_column_name": col,
            "comparison_levels": [
                _level(f'"{col}_l" IS NULL OR "{col}_r" IS NULL', "null", null=True),
                _level(f'"{col}_l" = "{col}_r"', f"same {label}"),
                _level("ELSE", f"different {label}"),
            ],
        }

    name = {
        "output_column_name": "name",
        "comparison_levels": [
            _level('"name_key_l" IS NULL OR "name_key_r" IS NULL', "null", null=True),
            _level('"name_key_l" = "name_key_r"', "same name"),
            _level('"py_l" = "py_r"', "same pinyin (homophone, traditional form)"),
            _level('jaro_winkler_similarity("py_l", "py_r") >= 0.9', "pinyin Jaro-Winkler >= 0.9"),
            _level("ELSE", "different name"),
        ],
    }
    birth = {
        "output_column_name": "birth_date",
        "comparison_levels": [
            _level('"birth_date_l" IS NULL OR "birth_date_r" IS NULL', "null", null=True),
            _level('"birth_date_l" = "birth_date_r"', "same birth date"),
            _level('year("birth_date_l") = year("birth_date_r")', "same birth year"),
            _level("ELSE", "different birth date"),
        ],
    }
    region = {
        "output_column_name": "region_code",
        "comparison_levels": [
            _level('"region_code_l" IS NULL OR "region_code_r" IS NULL', "null", null=True),
            _level('"region12_l" = "region12_r"', "same village"),
            _level('"region9_l" = "region9_r"', "same township"),
            _level('"region6_l" = "region6_r"', "same county"),
            _level("ELSE", "different county"),
        ],
    }
    return [
        exact("id_hash", "ID number"),
        name,
        exact("phone_hash", "phone"),
        exact("id_last4", "last four ID characters"),
        birth,
        exact("sex", "sex"),
        region,
    ]


def _settings(probability_two_random_records_match: float = 1e-5) -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "uid",
        "comparisons": _comparisons(),
        "blocking_rules_to_generate_predictions": [{"blocking_rule": rule} for rule in BLOCKING_RULES],
        "probability_two_random_records_match": probability_two_random_records_match,
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
    }


@cache
def _model() -> dict[str, Any]:
    return json.loads(MODEL_PATH.read_text(encoding="utf-8"))


_SPLINK_COLUMNS = (
    "uid",
    "is_row",
    "name_key",
    "py",
    "sur_py",
    "id_hash",
    "id_last4",
    "phone_hash",
    "birth_date",
    "sex",
    "region_code",
    "region6",
    "region9",
    "region12",
)


def score_pairs(
    records: pl.DataFrame, *, min_probability: float, model: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Splink's scored pairs (uid_l, uid_r, p) over prepared records, p >= min_probability.

    DuckDB in memory; the input goes in as Arrow, the pairs come out as Arrow.
    """
    import duckdb
    import polars as pl
    from splink import DuckDBAPI, Linker

    empty = pl.DataFrame(schema={"uid_l": pl.Int64, "uid_r": pl.Int64, "p": pl.Float64})
    if records.height < 2:
        return empty
    con = duckdb.connect(":memory:")
    try:
        db_api = DuckDBAPI(connection=con)
        table = records.select(_SPLINK_COLUMNS).to_arrow()
        linker = Linker(db_api.register(table), model or _model(), log_level=None, validate_settings=False)
        predictions = linker.inference.predict(
            threshold_match_probability=min_probability, warning_mode="never"
        )
        pairs = con.sql(f"SELECT uid_l, uid_r, match_probability AS p FROM {predictions.physical_name}").pl()
    finally:
        con.close()
    if pairs.height == 0:
        return empty
    return pairs.with_columns(
        pl.col("uid_l").cast(pl.Int64), pl.col("uid_r").cast(pl.Int64), pl.col("p").cast(pl.Float64)
    )


# --- resolving ----------------------------------------------------------------------------------


class _Groups:
    """Union-find whose groups never hold two ID hashes, two people, or a forbidden pair."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.id_hash: dict[int, str] = {}
        self.person: dict[int, int] = {}  # root -> person_id
        self.forbidden: dict[int, set[int]] = {}  # root -> person_ids the group may not join

    def add(self, uid: int, *, id_hash: str | None, person: int | None, forbidden: set[int]) -> None:
        self.parent[uid] = uid
        if id_hash:
            self.id_hash[uid] = id_hash
        if person is not None:
            self.person[uid] = person
        if forbidden:
            self.forbidden[uid] = set(forbidden)

    def find(self, uid: int) -> int:
        parent = self.parent
        root = uid
        while parent[root] != root:
            root = parent[root]
        while parent[uid] != root:
            parent[uid], uid = root, parent[uid]
        return root

    def union(self, a: int, b: int, *, check: bool = True) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ha, hb = self.id_hash.get(ra), self.id_hash.get(rb)
        pa, pb = self.person.get(ra), self.person.get(rb)
        fa, fb = self.forbidden.get(ra, set()), self.forbidden.get(rb, set())
        if check and ((ha and hb and ha != hb) or (pa is not None and pb is not None and pa != pb)):
            return False
        if (pa is not None and pa in fb) or (pb is not None and pb in fa):
            return False
        if pa is not None and pb is not None and pa != pb:  # a forced link that would join two people
            return False
        self.parent[rb] = ra
        if hb and not ha:
            self.id_hash[ra] = hb
        if pb is not None and pa is None:
            self.person[ra] = pb
        if fb:
            self.forbidden[ra] = fa | fb
        return True


def resolve(
    rows: list[LinkRow],
    people: Sequence[PersonRecord] | pl.DataFrame,
    *,
    decisions: dict[tuple[str, int], bool] | None = None,
    thresholds: Thresholds | None = None,
    model: dict[str, Any] | None = None,
) -> list[Resolution]:
    """One Resolution per row, in the rows' order.

    Guarantees: a row never links to a person, or joins a new person with another row, whose ID
    hash differs from its own; a False decision is never overridden, a True one always wins;
    a linked row's person is an existing person; rows with the same `new_cluster` are one new
    person; `candidates` hold existing people only, most probable first.
    """
    import polars as pl

    thresholds = thresholds or load_thresholds()
    decisions = decisions or {}
    if not rows:
        return []
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys) or min(keys) < 0:
        raise ValueError("LinkRow keys must be unique and non-negative")

    people_df = people if isinstance(people, pl.DataFrame) else people_frame(people)
    people_df = people_df.select(PEOPLE_COLUMNS).with_columns(pl.col("person_id").cast(pl.Int64))
    row_df = _prepare(_records_frame(rows, keys, True))
    # Person records get uids above every row key (a person may come as several records, e.g.
    # one per row linked to them before: each phone and spelling seen is then compared).
    offset = max(keys) + 1
    people_df = _prepare(
        people_df.with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("uid"), pl.lit(False).alias("is_row")
        )
    )
    people_df = _candidate_people(row_df, people_df)
    person_of: dict[int, int] = dict(people_df.select("uid", "person_id").iter_rows())
    records = pl.concat([row_df, people_df.select(row_df.columns)], how="vertical")

    # Remembered decisions, by row fingerprint.
    forced: dict[int, int] = {}  # row key -> person_id
    forbidden: dict[int, set[int]] = {}
    by_fingerprint: dict[str, list[int]] = {}
    for row in rows:
        if row.fingerprint:
            by_fingerprint.setdefault(row.fingerprint, []).append(row.key)
    for (fingerprint, person_id), same in sorted(
        decisions.items(), key=lambda item: (item[0][1], item[0][0])
    ):
        for key in by_fingerprint.get(fingerprint, ()):
            if same:
                forced.setdefault(key, person_id)
            else:
                forbidden.setdefault(key, set()).add(person_id)

    # A decided person not among the records passed still gets a node to link to.
    uid_of_person: dict[int, int] = {}
    for uid, person_id in person_of.items():
        uid_of_person.setdefault(person_id, uid)
    next_uid = max(person_of, default=offset - 1) + 1
    extra: list[tuple[int, int]] = []
    for person_id in sorted(set(forced.values()) - set(uid_of_person)):
        uid_of_person[person_id] = next_uid
        extra.append((next_uid, person_id))
        next_uid += 1

    nodes = records.select("uid", "is_row", "id_hash").join(
        people_df.select("uid", "person_id"), on="uid", how="left"
    )
    if extra:
        nodes = pl.concat(
            [
                nodes,
                pl.DataFrame(
                    {
                        "uid": [u for u, _p in extra],
                        "is_row": [False] * len(extra),
                        "id_hash": [None] * len(extra),
                        "person_id": [p for _u, p in extra],
                    },
                    schema=nodes.schema,
                ),
            ]
        )

    # Accepted edges, in the order they are trusted: decisions, exact IDs, Splink pairs >= auto.
    edge_schema = {"a": pl.Int64, "b": pl.Int64, "p": pl.Float64, "rank": pl.Int8}
    forced_edges = pl.DataFrame(
        {
            "a": [uid_of_person[p] for p in forced.values()],
            "b": list(forced),
            "p": [1.0] * len(forced),
            "rank": [0] * len(forced),
        },
        schema=edge_schema,
    )
    exact = (
        records.filter(pl.col("id_hash").is_not_null())
        .sort(["is_row", "uid"])  # people first
        .with_columns(pl.col("uid").first().over("id_hash").alias("a"))
        .filter(pl.col("uid") != pl.col("a"))
        .select(
            pl.col("a"),
            pl.col("uid").alias("b"),
            pl.lit(1.0).alias("p"),
            pl.lit(1, dtype=pl.Int8).alias("rank"),
        )
    )
    pairs = score_pairs(records, min_probability=thresholds.review, model=model)
    # The hard rule, on Splink's pairs too: different ID hashes are different people.
    ids = records.select("uid", "id_hash")
    pairs = (
        pairs.join(ids.rename({"uid": "uid_l", "id_hash": "h_l"}), on="uid_l", how="left")
        .join(ids.rename({"uid": "uid_r", "id_hash": "h_r"}), on="uid_r", how="left")
        .filter(pl.col("h_l").is_null() | pl.col("h_r").is_null() | (pl.col("h_l") == pl.col("h_r")))
        .select(pl.col("uid_l").alias("a"), pl.col("uid_r").alias("b"), "p")
    )
    accepted = pairs.filter(pl.col("p") >= thresholds.auto_link).with_columns(
        pl.lit(2, dtype=pl.Int8).alias("rank")
    )
    uncertain = pairs.filter(pl.col("p") < thresholds.auto_link)
    edges = pl.concat([forced_edges, exact.cast(edge_schema), accepted.cast(edge_schema)])

    labels = _components(nodes.get_column("uid"), edges)
    labels, dropped = _split_conflicts(nodes, labels, edges, forced, forbidden)
    if dropped.height:
        uncertain = pl.concat([uncertain, dropped.select("a", "b", "p")])
    return _resolutions(rows, nodes, labels, edges, uncertain, forbidden, offset, person_of, thresholds)


def _components(uids: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """Connected components (uid, label = the smallest uid of its component), by min-label
    propagation with pointer jumping in Polars: a few passes, since groups are small."""
    import polars as pl

    labels = pl.DataFrame({"uid": uids, "label": uids})
    if edges.height == 0:
        return labels
    both = pl.concat(
        [
            edges.select(pl.col("a").alias("s"), pl.col("b").alias("t")),
            edges.select(pl.col("b").alias("s"), pl.col("a").alias("t")),
        ]
    )
    touched = both.select(pl.col("s").alias("uid")).unique()
    current = touched.with_columns(pl.col("uid").alias("label"))
    while True:
        lowest = (
            both.join(current, left_on="t", right_on="uid")
            .group_by("s")
            .agg(pl.col("label").min().alias("nb"))
            .rename({"s": "uid"})
        )
        step = current.join(lowest, on="uid", how="left").with_columns(
            pl.min_horizontal("label", "nb").alias("new")
        )
        # pointer jumping: take the label of one's label
        step = step.join(
            step.select(pl.col("uid").alias("new"), pl.col("new").alias("jump")), on="new", how="left"
        ).with_columns(pl.min_horizontal("new", "jump").alias("new"))
        changed = step.filter(pl.col("new") != pl.col("label")).height
        current = step.select("uid", pl.col("new").alias("label"))
        if not changed:
            break
    return labels.join(current.rename({"label": "found"}), on="uid", how="left").select(
        "uid", pl.coalesce("found", "label").alias("label")
    )


def _split_conflicts(
    nodes: pl.DataFrame,
    labels: pl.DataFrame,
    edges: pl.DataFrame,
    forced: dict[int, int],
    forbidden: dict[int, set[int]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Components holding two ID hashes or two people, or touched by a decision, are rebuilt
    greedily (most trusted edge first) so that none of that happens; returns the new labels and
    the accepted edges that had to be dropped."""
    import polars as pl

    with_labels = nodes.join(labels, on="uid")
    stats = with_labels.group_by("label").agg(
        pl.col("id_hash").drop_nulls().n_unique().alias("n_id"),
        pl.col("person_id").drop_nulls().n_unique().alias("n_person"),
    )
    bad = set(stats.filter((pl.col("n_id") > 1) | (pl.col("n_person") > 1)).get_column("label").to_list())
    decided = set(forced) | set(forbidden)
    if decided:
        bad |= set(labels.filter(pl.col("uid").is_in(list(decided))).get_column("label").to_list())
    empty = edges.head(0)
    if not bad:
        return labels, empty
    slow = with_labels.filter(pl.col("label").is_in(list(bad)))
    groups = _Groups()
    for uid, is_row, id_hash, person_id, _label in slow.iter_rows():
        groups.add(
            uid, id_hash=id_hash, person=person_id, forbidden=forbidden.get(uid, set()) if is_row else set()
        )
    slow_uids = slow.get_column("uid")
    slow_edges = edges.filter(pl.col("a").is_in(slow_uids.implode())).sort(
        ["rank", "p", "a", "b"], descending=[False, True, False, False]
    )
    dropped = []
    for a, b, p, rank in slow_edges.iter_rows():
        if not groups.union(a, b, check=rank != 0):
            dropped.append((a, b, p, rank))
    relabel = pl.DataFrame(
        {"uid": slow_uids, "new": [groups.find(u) for u in slow_uids.to_list()]},
        schema={"uid": pl.Int64, "new": pl.Int64},
    )
    labels = labels.join(relabel, on="uid", how="left").select(
        "uid", pl.coalesce("new", "label").alias("label")
    )
    return labels, pl.DataFrame(dropped, schema=edges.schema, orient="row")


def _resolutions(
    rows: list[LinkRow],
    nodes: pl.DataFrame,
    labels: pl.DataFrame,
    edges: pl.DataFrame,
    uncertain: pl.DataFrame,
    forbidden: dict[int, set[int]],
    offset: int,
    person_of: dict[int, int],
    thresholds: Thresholds,
) -> list[Resolution]:
    import polars as pl

    comp = (
        nodes.join(labels, on="uid")
        .group_by("label")
        .agg(
            pl.col("person_id").drop_nulls().first().alias("comp_person"),
            pl.col("id_hash").drop_nulls().first().alias("comp_id"),
        )
    )
    # Each row's best accepted edge inside its final group.
    kept = (
        edges.join(labels.rename({"uid": "a", "label": "la"}), on="a")
        .join(labels.rename({"uid": "b", "label": "lb"}), on="b")
        .filter(pl.col("la") == pl.col("lb"))
    )
    best = (
        pl.concat([kept.select(pl.col("a").alias("uid"), "p"), kept.select(pl.col("b").alias("uid"), "p")])
        .group_by("uid")
        .agg(pl.col("p").max().alias("best_p"))
    )
    table = (
        pl.DataFrame({"uid": [r.key for r in rows]}, schema={"uid": pl.Int64})
        .with_row_index("pos")
        .join(labels, on="uid", how="left")
        .join(comp, on="label", how="left")
        .join(best, on="uid", how="left")
    )
    # New people: number the person-less groups in the order their first row appears.
    clusters = (
        table.filter(pl.col("comp_person").is_null())
        .group_by("label")
        .agg(pl.col("pos").min())
        .sort("pos")
        .with_row_index("cluster")
        .select("label", pl.col("cluster").cast(pl.Int64))
    )
    table = table.join(clusters, on="label", how="left").sort("pos")

    # Uncertain pairs: a row of a new group against an existing person or another new group.
    person_candidates: dict[int, dict[int, float]] = {}  # label -> {person_id: p}
    row_person: dict[int, dict[int, float]] = {}  # row key -> {person_id: p}
    row_cluster: dict[int, dict[int, float]] = {}  # row key -> {cluster: p}
    if uncertain.height:
        info = comp.join(clusters, on="label", how="left")
        side = labels.join(info, on="label", how="left")
        marked = (
            uncertain.join(side.rename({c: f"{c}_a" for c in side.columns}), left_on="a", right_on="uid_a")
            .join(side.rename({c: f"{c}_b" for c in side.columns}), left_on="b", right_on="uid_b")
            .filter(pl.col("label_a") != pl.col("label_b"))
        )
        for a, b, p, la, pa, ida, ca, lb, pb, idb, cb in marked.select(
            "a",
            "b",
            "p",
            "label_a",
            "comp_person_a",
            "comp_id_a",
            "cluster_a",
            "label_b",
            "comp_person_b",
            "comp_id_b",
            "cluster_b",
        ).iter_rows():
            for x, y, lx, px, idx, _ly, py, idy, cy in (
                (a, b, la, pa, ida, lb, pb, idb, cb),
                (b, a, lb, pb, idb, la, pa, ida, ca),
            ):
                if x >= offset or px is not None:
                    continue  # a person record, or a row linked with confidence
                if y >= offset:  # an existing person
                    person_id = person_of[y]
                    if person_id in forbidden.get(x, ()) or (idx and idy and idx != idy):
                        continue
                    own = row_person.setdefault(x, {})
                    own[person_id] = max(p, own.get(person_id, 0.0))
                    cands = person_candidates.setdefault(lx, {})
                    cands[person_id] = max(p, cands.get(person_id, 0.0))
                elif py is None and cy is not None:
                    if idx and idy and idx != idy:
                        continue
                    others = row_cluster.setdefault(x, {})
                    others[cy] = max(p, others.get(cy, 0.0))

    out: list[Resolution] = []
    for key, label, comp_person, best_p, cluster in table.select(
        "uid", "label", "comp_person", "best_p", "cluster"
    ).iter_rows():
        if comp_person is not None:
            out.append(Resolution(key=key, status="linked", person_id=comp_person, probability=best_p))
            continue
        own = row_person.get(key)
        group_cands = person_candidates.get(label)
        cluster_cands = row_cluster.get(key)
        if not (own or group_cands or cluster_cands):
            out.append(Resolution(key=key, status="new", new_cluster=cluster, probability=best_p))
            continue
        group_cands = group_cands or {}
        best = max(group_cands.items(), key=lambda item: (item[1], -item[0]), default=None)
        candidates = tuple(
            (person_id, round(p, 6))
            for person_id, p in sorted((own or group_cands).items(), key=lambda i: (-i[1], i[0]))
        )
        cluster_list = tuple(sorted((cluster_cands or {}).items(), key=lambda i: (-i[1], i[0])))
        if best is not None and best[1] >= thresholds.provisional:
            out.append(
                Resolution(
                    key=key,
                    status="review",
                    person_id=best[0],
                    probability=best[1],
                    candidates=candidates,
                    cluster_candidates=cluster_list,
                )
            )
        elif own or cluster_list:
            top = max([p for _c, p in candidates] + [p for _c, p in cluster_list])
            out.append(
                Resolution(
                    key=key,
                    status="review",
                    new_cluster=cluster,
                    probability=top,
                    candidates=candidates,
                    cluster_candidates=cluster_list,
                )
            )
        else:
            out.append(Resolution(key=key, status="new", new_cluster=cluster, probability=best_p))
    return out


# --- estimating the model -----------------------------------------------------------------------


def estimate_model(
    rows: list[LinkRow], true_person: dict[int, int], *, out_path: Path | None = MODEL_PATH
) -> dict[str, Any]:
    """Estimate m (from the true labels) and u (random pairs) once, on generated data with ground
    truth, and write the Splink model JSON that `resolve` loads. Not run on import."""
    import duckdb
    import polars as pl
    from splink import DuckDBAPI, Linker

    frame = _prepare(_records_frame(rows, [r.key for r in rows], True)).with_columns(
        pl.Series("true_person", [true_person[r.key] for r in rows], dtype=pl.Int64)
    )
    pairs_total = frame.height * (frame.height - 1) / 2
    sizes = frame.group_by("true_person").len()
    true_pairs = float((sizes["len"] * (sizes["len"] - 1) / 2).sum())
    settings = _settings(true_pairs / pairs_total)
    con = duckdb.connect(":memory:")
    try:
        db_api = DuckDBAPI(connection=con)
        linker = Linker(
            db_api.register(frame.select([*_SPLINK_COLUMNS, "true_person"]).to_arrow()),
            {**settings, "additional_columns_to_retain": ["true_person"]},
            log_level=None,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=1)
        linker.training.estimate_m_from_label_column("true_person")
        model = linker.misc.save_model_to_json(None)
    finally:
        con.close()
    model["additional_columns_to_retain"] = []
    model.pop("linker_uid", None)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        _model.cache_clear()
    return model


# What the estimate cannot see in generated data, or must not learn from it (docs/LINKAGE.md):
# floors on m for disagreements the generator never makes (a level with m = 0 would veto a
# pair outright on one mistyped value), and caps on weak evidence so that a name with sex and
# address but nothing else (twins share an address; many 张伟 share a county) stays a new person.
_M_FLOORS = {
    ("name", "pinyin Jaro-Winkler >= 0.9"): 0.02,
    ("name", "different name"): 0.005,
    ("phone_hash", "different phone"): 0.05,
    ("id_last4", "different last four ID characters"): 0.01,
    ("birth_date", "same birth year"): 0.01,
    ("birth_date", "different birth date"): 0.01,
    ("sex", "different sex"): 0.01,
    ("region_code", "same township"): 0.05,
    ("region_code", "different county"): 0.05,
}
_MAX_WEIGHT = {  # match weight (log2 m/u) at most
    ("name", "same name"): 11.0,
    ("name", "same pinyin (homophone, traditional form)"): 10.0,
    ("name", "pinyin Jaro-Winkler >= 0.9"): 1.0,
    ("region_code", "same village"): 3.0,
    ("region_code", "same township"): 2.0,
    ("region_code", "same county"): 1.0,
}
# The prior for a pair: fixed rather than estimated, since the files linked vary in size; small,
# so that one strong agreement (a phone) with a name is needed to link.
PRIOR_MATCH = 1e-5


def cap_model(model: dict[str, Any]) -> dict[str, Any]:
    """The estimated model with the floors, caps, prior and ID levels applied."""
    model = json.loads(json.dumps(model))
    model["probability_two_random_records_match"] = PRIOR_MATCH
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            key = (name, level["label_for_charts"])
            m = level.get("m_probability") or 0.0
            u = max(level.get("u_probability") or 0.0, 1e-6)
            if name == "id_hash":  # exact IDs are resolved outside Splink; here only the hard rule
                m, u = (
                    (1.0 - 1e-9, 1e-9) if level["label_for_charts"].startswith("same") else (1e-9, 1.0 - 1e-9)
                )
            m = max(m, _M_FLOORS.get(key, 0.0), 1e-6)
            if key in _MAX_WEIGHT:
                m = min(m, u * 2 ** _MAX_WEIGHT[key])
            level["m_probability"], level["u_probability"] = m, u
    return model
