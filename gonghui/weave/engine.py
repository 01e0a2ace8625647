"""The coverage rules: which active unions can take a person, in the order the policy sets.

Two ways in, one set of rules:

- `suggest_unions(...)` answers for one person (the joining page), with a few ORM queries;
- `weave_everyone(...)` answers for everyone at once in SQL (PostgreSQL and SQLite): one
  INSERT … SELECT per rule into a staging table of candidates, then window functions rank them;
  the current answer (Coverage, CoveringOrg), the diff against the previous answer
  (CoverageChange) and the matrix cells (CoverageCell) are rewritten from the staging tables.
  It never loops over people in Python. `weave.services.weave_run` wraps it in one transaction.

The rules (RULE_KIND: each rule takes unions of the org kind of the same name), over ACTIVE orgs:

- enterprise: an enterprise union whose covers_employers holds the person's employer;
- industry: an industry federation whose covers_groups holds the person's group and whose regions
  hold the person's region or a region above it;
- joint: a regional joint union whose regions hold the person's region or one above it, and, if it
  declares groups, whose groups hold the person's group;
- township / village: a township (street) / village (community) union whose regions hold the
  person's region or one above it.

An org's regions are its covers_regions, or its own `region` when it declares none; a township or
village union always counts its own region too. A region holds another when the other's 12-digit
code starts with its prefix (regions.models.PREFIX_LENGTH). The person's region is the first known
of the policy's region basis (work region, then home region, by default). Within one rule the
union matched through the deepest region comes first (the nearest up the tree), then by org code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from gonghui.membership.models import Membership, MembershipStatus
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.people.models import Person
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .matrix import member_weeks_rebuild
from .models import ChangeKind, Coverage, CoverageCell, CoverageChange, CoverageRule, CoveringUnion
from .policy import RULE_KIND, CoveragePolicy, coverage_policy

Progress = Callable[[int, str], None]
ENTERPRISE = CoverageRule.ENTERPRISE.value
INDUSTRY = CoverageRule.INDUSTRY.value
JOINT = CoverageRule.JOINT.value
# Kinds that always cover their own region, besides any covers_regions they declare.
OWN_REGION_KINDS = (OrgKind.TOWNSHIP.value, OrgKind.VILLAGE.value)


@dataclass(frozen=True)
class Suggestion:
    """A union that can take the person: by which rule, why (in words), and through which region level."""

    org: Org
    rule: str
    reason: str
    depth: int  # level of the region it was matched through (0: the employer, no region)
    safety_net: bool


def ancestor_codes(code: str, level: int) -> dict[int, str]:
    """The 12-digit codes of a region and every region above it, by level (1 = province)."""
    return {lvl: code[: PREFIX_LENGTH[RegionLevel(lvl)]].ljust(12, "0") for lvl in range(1, level + 1)}


def _basis_region_id(policy: CoveragePolicy, *, work_region_id, home_region_id) -> int | None:
    regions = {"work": work_region_id, "home": home_region_id}
    return next((regions[b] for b in policy.region_basis if regions[b]), None)


def _ancestors(region_id: int | None) -> dict[int, int]:
    """region id -> level, for the region and every region above it (by code prefix)."""
    if not region_id:
        return {}
    region = Region.objects.filter(pk=region_id).values("code", "level").first()
    if region is None:
        return {}
    codes = ancestor_codes(region["code"], region["level"])
    return {
        rid: lvl
        for rid, code, lvl in Region.objects.filter(code__in=codes.values()).values_list(
            "id", "code", "level"
        )
        if codes.get(lvl) == code
    }


def suggest_unions(
    *,
    employer_id: int | None = None,
    group_id: int | None = None,
    work_region_id: int | None = None,
    home_region_id: int | None = None,
    on: dt.date | None = None,
    policy: CoveragePolicy | None = None,
) -> list[Suggestion]:
    """Every active union that can take a person with these facts, primary first, as the policy orders them.

    The same rules as the set-based run (`weave_everyone`): the first suggestion is the union a
    weave run would make the person's primary union, the rest are the overlap in rank order.
    """
    policy = policy or coverage_policy(on)
    anc = _ancestors(_basis_region_id(policy, work_region_id=work_region_id, home_region_id=home_region_id))
    found: list[Suggestion] = []
    for rule in policy.order:
        depth_of = _matches(rule, employer_id=employer_id, group_id=group_id, anc=anc)
        if not depth_of:
            continue
        orgs = Org.objects.filter(pk__in=depth_of).order_by("code")
        for org in sorted(orgs, key=lambda o: (-depth_of[o.pk], o.code)):
            found.append(
                Suggestion(
                    org=org,
                    rule=rule,
                    reason=policy.reason(rule, org.name),
                    depth=depth_of[org.pk],
                    safety_net=rule in policy.safety_net,
                )
            )
    return found


def _matches(rule: str, *, employer_id, group_id, anc: dict[int, int]) -> dict[int, int]:
    """org id -> depth of the region it matched through, for one rule and one person."""
    active = Org.objects.filter(kind=RULE_KIND[rule], status=OrgStatus.ACTIVE)
    if rule == ENTERPRISE:
        if not employer_id:
            return {}
        return dict.fromkeys(active.filter(covers_employers=employer_id).values_list("pk", flat=True), 0)
    if not anc:
        return {}
    through = Org.covers_regions.through
    declared = set(through.objects.filter(org__in=active).values_list("org_id", flat=True).distinct())
    depth_of: dict[int, int] = {}
    pairs = list(through.objects.filter(org__in=active, region_id__in=anc).values_list("org_id", "region_id"))
    for org_id, region_id in active.filter(region_id__in=anc).values_list("pk", "region_id"):
        if org_id not in declared or RULE_KIND[rule] in OWN_REGION_KINDS:
            pairs.append((org_id, region_id))
    for org_id, region_id in pairs:
        depth_of[org_id] = max(depth_of.get(org_id, 0), anc[region_id])
    if rule in (INDUSTRY, JOINT) and depth_of:
        groups = Org.covers_groups.through
        declares = set(groups.objects.filter(org_id__in=depth_of).values_list("org_id", flat=True).distinct())
        has_group = set(
            groups.objects.filter(org_id__in=depth_of, occupationgroup_id=group_id).values_list(
                "org_id", flat=True
            )
            if group_id
            else ()
        )
        # An industry federation must cover the group; a joint union only if it declares groups.
        depth_of = {
            o: d for o, d in depth_of.items() if o in has_group or (rule == JOINT and o not in declares)
        }
    return depth_of


# ---------------------------------------------------------------------------------------------
# everyone at once


@dataclass
class WeaveCounts:
    people: int = 0
    covered: int = 0
    holes: int = 0
    overlaps: int = 0
    safety_net_only: int = 0
    gained: int = 0
    lost: int = 0
    switched: int = 0


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _m2m(field: str) -> tuple[str, str, str]:
    f = Org._meta.get_field(field)
    through = f.remote_field.through
    q = connection.ops.quote_name
    return q(through._meta.db_table), q(f.m2m_column_name()), q(f.m2m_reverse_name())


# PostgreSQL memory for each sort or hash of a run (the default 4 MB spills a million people to disk).
WORK_MEM_MB = 512


def _columns(names: str) -> str:
    # Quoted: some column names are SQL words (OVERLAPS is an operator in PostgreSQL).
    return ", ".join(connection.ops.quote_name(n) for n in names.split())


_STAGING = (
    "w_person",
    "w_anc",
    "w_orgreg",
    "w_place",
    "w_employer",
    "w_cand",
    "w_org",
    "w_rank",
    "w_first_place",
    "w_first_employer",
    "w_cov",
    "w_changed",
    "w_covering",
    "w_covering_add",
)


def weave_everyone(
    *, run_id: int, policy: CoveragePolicy, diff: bool, progress: Progress | None = None
) -> WeaveCounts:
    """Recompute coverage for everyone under `policy` and replace the current answer; the caller holds the transaction.

    Writes: CoveringUnion (replaced), Coverage (only the rows that differ), CoverageChange rows
    for run `run_id` when `diff` (gained: no union before, one now; lost: the reverse; switched:
    another primary union), and CoverageCell (replaced). Returns the counts. Runs only SQL
    statements whose number does not depend on the number of people.
    """
    report = progress or (lambda percent, note: None)
    with connection.cursor() as cur:
        _Weave(cur, run_id=run_id, policy=policy, report=report).run(diff=diff)
        counts = _counts(cur, run_id=run_id, policy=policy, diff=diff)
        for table in _STAGING:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
    return counts


class _Weave:
    """One run. People share their coverage keys (an employer; a place: region and group), so the
    rules are applied and ranked once per key (w_place, w_employer: tens of thousands of rows for
    a million people), and each person's answer is two look-ups of their keys' first union (w_cov)."""

    def __init__(self, cur, *, run_id: int, policy: CoveragePolicy, report: Progress):
        self.cur, self.run_id, self.policy, self.report = cur, run_id, policy, report
        self.pg = connection.vendor == "postgresql"

    def sql(self, statement: str, params=()) -> None:
        self.cur.execute(statement, params)

    def temp(self, name: str, columns: str) -> None:
        self.sql(f"DROP TABLE IF EXISTS {name}")
        self.sql(f"CREATE TEMP TABLE {name} ({columns})")

    def analyze(self, name: str) -> None:
        # Temporary tables are never analysed by autovacuum; the planner needs their sizes.
        if self.pg:
            self.sql(f"ANALYZE {name}")

    def run(self, *, diff: bool) -> None:
        if self.pg:
            # Sorts and hash aggregates over a million people stay in memory instead of spilling
            # to disk (for this transaction only).
            self.sql(f"SET LOCAL work_mem = '{int(WORK_MEM_MB)}MB'")
        self.report(5, "people")
        self.people()
        self.report(15, "regions")
        self.regions()
        self.candidates()
        self.report(45, "ranking")
        self.rank()
        self.report(50, "covering unions")
        self.write_covering()
        self.report(55, "answer per person")
        self.answer()
        self.report(70, "writing coverage")
        self.write(diff=diff)
        self.report(92, "matrix cells")
        self.cells()
        self.report(96, "members by week")
        self.member_weeks()

    def people(self) -> None:
        """w_person: the facts the rules read, a snapshot of everyone; w_place and w_employer: their distinct keys."""
        basis = {"work": "work_region_id", "home": "home_region_id"}
        region = ", ".join(basis[b] for b in self.policy.region_basis)
        # CREATE … AS, no index: a million rows written once, read whole by hash joins.
        self.sql("DROP TABLE IF EXISTS w_person")
        self.sql(
            f"CREATE TEMP TABLE w_person AS SELECT id AS person_id, employer_id, group_id, "
            f"COALESCE({region}, NULL) AS region_id FROM {_t(Person)}"
        )
        self.analyze("w_person")
        # A place's group_key is its group or 0: people join their place on it with a plain
        # (hashable) equality, where the group itself may be NULL.
        self.temp(
            "w_place",
            "place_id bigint PRIMARY KEY, region_id bigint NOT NULL, group_id bigint, group_key bigint NOT NULL",
        )
        self.sql(
            "INSERT INTO w_place (place_id, region_id, group_id, group_key) "
            "SELECT ROW_NUMBER() OVER (ORDER BY region_id, group_key), region_id, group_id, group_key "
            "FROM (SELECT DISTINCT region_id, group_id, COALESCE(group_id, 0) AS group_key "
            "FROM w_person WHERE region_id IS NOT NULL) t"
        )
        self.analyze("w_place")
        self.temp("w_employer", "employer_id bigint PRIMARY KEY")
        ce, _ce_org, ce_employer = _m2m("covers_employers")
        # Only employers some union declares can have an enterprise union.
        self.sql(
            f"INSERT INTO w_employer (employer_id) SELECT DISTINCT p.employer_id FROM w_person p "
            f"WHERE p.employer_id IN (SELECT e.{ce_employer} FROM {ce} e)"
        )
        self.analyze("w_employer")

    def regions(self) -> None:
        """w_anc: every region with each region above it (and itself); w_orgreg: the regions each active org covers."""
        r = _t(Region)
        self.temp("w_anc", "region_id bigint NOT NULL, anc_id bigint NOT NULL, depth integer NOT NULL")
        for level, length in PREFIX_LENGTH.items():
            self.sql(
                f"INSERT INTO w_anc (region_id, anc_id, depth) SELECT r.id, a.id, a.level "
                f"FROM {r} r JOIN {r} a ON a.level = %s AND a.code = SUBSTR(r.code, 1, {int(length)}) || %s "
                f"WHERE r.level >= %s",
                [int(level), "0" * (12 - length), int(level)],
            )
        self.sql("CREATE INDEX w_anc_region ON w_anc (region_id)")
        self.analyze("w_anc")

        o = _t(Org)
        cr, cr_org, cr_region = _m2m("covers_regions")
        cg, cg_org, _cg_group = _m2m("covers_groups")
        kinds = [RULE_KIND[rule] for rule in self.policy.order if rule != ENTERPRISE]
        self.temp(
            "w_orgreg",
            "org_id bigint NOT NULL, region_id bigint NOT NULL, kind varchar(20), has_groups integer",
        )
        if not kinds:
            return
        marks = ", ".join(["%s"] * len(kinds))
        has_groups = f"CASE WHEN EXISTS (SELECT 1 FROM {cg} g WHERE g.{cg_org} = o.id) THEN 1 ELSE 0 END"
        self.sql(
            f"INSERT INTO w_orgreg (org_id, region_id, kind, has_groups) "
            f"SELECT o.id, c.{cr_region}, o.kind, {has_groups} FROM {o} o JOIN {cr} c ON c.{cr_org} = o.id "
            f"WHERE o.status = %s AND o.kind IN ({marks})",
            [OrgStatus.ACTIVE, *kinds],
        )
        # The next INSERT checks the pairs already there: index and size them first.
        self.sql("CREATE INDEX w_orgreg_pair ON w_orgreg (org_id, region_id)")
        self.analyze("w_orgreg")
        own = ", ".join(["%s"] * len(OWN_REGION_KINDS))
        self.sql(
            f"INSERT INTO w_orgreg (org_id, region_id, kind, has_groups) "
            f"SELECT o.id, o.region_id, o.kind, {has_groups} FROM {o} o "
            f"WHERE o.status = %s AND o.kind IN ({marks}) AND o.region_id IS NOT NULL "
            f"AND (o.kind IN ({own}) OR NOT EXISTS (SELECT 1 FROM {cr} c WHERE c.{cr_org} = o.id)) "
            f"AND NOT EXISTS (SELECT 1 FROM w_orgreg d WHERE d.org_id = o.id AND d.region_id = o.region_id)",
            [OrgStatus.ACTIVE, *kinds, *OWN_REGION_KINDS],
        )
        self.sql("CREATE INDEX w_orgreg_region ON w_orgreg (region_id)")
        self.analyze("w_orgreg")

    def candidates(self) -> None:
        """w_cand: one row per (key, org, region matched through) per rule, by one INSERT … SELECT each.

        A key is an employer (employer_id set, for the enterprise rule) or a place (place_id set).
        """
        self.temp(
            "w_cand",
            "employer_id bigint, place_id bigint, org_id bigint NOT NULL, pos integer NOT NULL, depth integer NOT NULL",
        )
        o = _t(Org)
        ce, ce_org, ce_employer = _m2m("covers_employers")
        cg, cg_org, cg_group = _m2m("covers_groups")
        steps = len(self.policy.order)
        for pos, rule in enumerate(self.policy.order):
            self.report(20 + 25 * pos // steps, f"rule {rule}")
            kind = RULE_KIND[rule]
            if rule == ENTERPRISE:
                self.sql(
                    f"INSERT INTO w_cand (employer_id, place_id, org_id, pos, depth) "
                    f"SELECT w.employer_id, NULL, o.id, %s, 0 FROM w_employer w "
                    f"JOIN {ce} e ON e.{ce_employer} = w.employer_id "
                    f"JOIN {o} o ON o.id = e.{ce_org} AND o.kind = %s AND o.status = %s",
                    [pos, kind, OrgStatus.ACTIVE],
                )
                continue
            group_join, group_where = "", ""
            if rule == INDUSTRY:
                group_join = f"JOIN {cg} g ON g.{cg_org} = r.org_id AND g.{cg_group} = p.group_id "
            elif rule == JOINT:
                group_join = f"LEFT JOIN {cg} g ON g.{cg_org} = r.org_id AND g.{cg_group} = p.group_id "
                group_where = f"WHERE (r.has_groups = 0 OR g.{cg_org} IS NOT NULL) "
            self.sql(
                f"INSERT INTO w_cand (employer_id, place_id, org_id, pos, depth) "
                f"SELECT NULL, p.place_id, r.org_id, %s, a.depth FROM w_place p "
                f"JOIN w_anc a ON a.region_id = p.region_id "
                f"JOIN w_orgreg r ON r.region_id = a.anc_id AND r.kind = %s "
                f"{group_join}{group_where}",
                [pos, kind],
            )
        self.analyze("w_cand")

    def rank(self) -> None:
        """w_rank: each (key, org) once, ranked by rule, then deepest region, then org code; each key's first in w_first_*."""
        net = [pos for pos, rule in enumerate(self.policy.order) if rule in self.policy.safety_net] or [-1]
        net_marks = ", ".join(["%s"] * len(net))
        # Ties within a rule go by org code, compared as code points (as Python and SQLite compare
        # text), through an integer rank.
        collate = ' COLLATE "C"' if self.pg else ""
        self.temp("w_org", "org_id bigint PRIMARY KEY, code_rank integer NOT NULL")
        self.sql(
            f"INSERT INTO w_org (org_id, code_rank) SELECT id, ROW_NUMBER() OVER (ORDER BY code{collate}) "
            f"FROM {_t(Org)} WHERE status = %s",
            [OrgStatus.ACTIVE],
        )
        self.analyze("w_org")
        rule_case = " ".join(f"WHEN {pos} THEN %s" for pos in range(len(self.policy.order)))
        self.temp(
            "w_rank",
            "employer_id bigint, place_id bigint, org_id bigint NOT NULL, pos integer NOT NULL, "
            "rule varchar(20) NOT NULL, rnk integer NOT NULL, n integer NOT NULL, n_other integer NOT NULL",
        )
        # A union whose regions include a region and one inside it finds a place twice: keep the
        # nearest (the deepest region). Enterprise unions are found once per employer.
        self.sql(
            f"INSERT INTO w_rank (employer_id, place_id, org_id, pos, rule, rnk, n, n_other) "
            f"SELECT employer_id, place_id, org_id, pos, CASE pos {rule_case} END, "
            f"ROW_NUMBER() OVER (PARTITION BY employer_id, place_id ORDER BY pos, depth DESC, code_rank), "
            f"COUNT(*) OVER (PARTITION BY employer_id, place_id), "
            f"SUM(CASE WHEN pos IN ({net_marks}) THEN 0 ELSE 1 END) OVER (PARTITION BY employer_id, place_id) "
            f"FROM (SELECT c.employer_id, c.place_id, c.org_id, MIN(c.pos) AS pos, MAX(c.depth) AS depth, "
            f"MIN(o.code_rank) AS code_rank FROM w_cand c JOIN w_org o ON o.org_id = c.org_id "
            f"GROUP BY c.employer_id, c.place_id, c.org_id) t",
            [*self.policy.order, *net],
        )
        self.analyze("w_rank")
        reason_case = " ".join(
            f"WHEN {pos} THEN REPLACE(%s, '{{org}}', o.name)" for pos in range(len(self.policy.order))
        )
        reasons = [self.policy.reasons[rule] for rule in self.policy.order]
        # Each key's first union, with its rule and reason in words: a few tens of thousands of rows.
        first = (
            f"r.org_id, r.pos, r.rule, SUBSTR(CASE r.pos {reason_case} END, 1, 300) AS reason, r.n, r.n_other "
            f"FROM w_rank r JOIN {_t(Org)} o ON o.id = r.org_id"
        )
        self.sql("DROP TABLE IF EXISTS w_first_place")
        self.sql(
            f"CREATE TEMP TABLE w_first_place AS SELECT p.region_id, p.group_key, {first} "
            f"JOIN w_place p ON p.place_id = r.place_id WHERE r.rnk = 1",
            reasons,
        )
        self.sql("DROP TABLE IF EXISTS w_first_employer")
        self.sql(
            f"CREATE TEMP TABLE w_first_employer AS SELECT r.employer_id, {first} "
            f"WHERE r.rnk = 1 AND r.employer_id IS NOT NULL",
            reasons,
        )
        if not self.pg:  # PostgreSQL hash-joins these small tables; SQLite looks each person's keys up
            self.sql("CREATE INDEX w_first_place_key ON w_first_place (region_id, group_key)")
            self.sql("CREATE INDEX w_first_employer_key ON w_first_employer (employer_id)")
        self.analyze("w_first_place")
        self.analyze("w_first_employer")

    def write_covering(self) -> None:
        """CoveringUnion: the ranked unions of every key; a rerun deletes and inserts only the rows that differ.

        Rows are matched on every column (NULL keys as 0, so both anti-joins hash).
        """
        table = _t(CoveringUnion)
        self.sql("DROP TABLE IF EXISTS w_covering")
        self.sql(
            "CREATE TEMP TABLE w_covering AS SELECT r.employer_id, p.region_id, p.group_id, r.org_id, r.rule, "
            "r.pos, r.rnk FROM w_rank r LEFT JOIN w_place p ON p.place_id = r.place_id"
        )
        self.analyze("w_covering")
        pos, rank = connection.ops.quote_name("pos"), connection.ops.quote_name("rank")
        same = (
            "COALESCE(n.employer_id, 0) = COALESCE(c.employer_id, 0) AND COALESCE(n.region_id, 0) = "
            "COALESCE(c.region_id, 0) AND COALESCE(n.group_id, 0) = COALESCE(c.group_id, 0) AND "
            f"n.org_id = c.org_id AND n.rule = c.rule AND n.pos = c.{pos} AND n.rnk = c.{rank}"
        )
        # The rows to add are listed before anything is written: an INSERT that probed the table
        # it fills would be planned on the empty table and scan it once per row.
        self.sql("DROP TABLE IF EXISTS w_covering_add")
        self.sql(
            f"CREATE TEMP TABLE w_covering_add AS SELECT n.* FROM w_covering n "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} c WHERE {same})"
        )
        old = same.replace("c.", f"{table}.")
        self.sql(f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM w_covering n WHERE {old})")
        self.sql(
            f"INSERT INTO {table} ({_columns('employer_id region_id group_id org_id rule pos rank')}) "
            f"SELECT employer_id, region_id, group_id, org_id, rule, pos, rnk FROM w_covering_add"
        )

    def answer(self) -> None:
        """w_cov: each person's answer, from the first union of their employer and of their place.

        The rules never take one union by both keys (an enterprise union is found only by its
        employer), so the primary union is the better of the two firsts (the earlier rule) and the
        count of covering unions is the sum of the two counts.
        """
        emp_first = "e.org_id IS NOT NULL AND (pl.org_id IS NULL OR e.pos < pl.pos)"
        self.sql("DROP TABLE IF EXISTS w_cov")
        self.sql(
            f"CREATE TEMP TABLE w_cov AS "
            f"SELECT p.person_id, p.employer_id, "
            f"CASE WHEN {emp_first} THEN e.org_id ELSE pl.org_id END AS primary_org_id, "
            f"COALESCE(CASE WHEN {emp_first} THEN e.rule ELSE pl.rule END, '') AS primary_rule, "
            f"p.region_id, p.group_id, COALESCE(e.n, 0) + COALESCE(pl.n, 0) AS n_covering, "
            f"CASE WHEN COALESCE(e.n_other, 0) + COALESCE(pl.n_other, 0) = 0 THEN 1 ELSE 0 END AS net_only, "
            f"COALESCE(CASE WHEN {emp_first} THEN e.reason ELSE pl.reason END, %s) AS reason "
            f"FROM w_person p LEFT JOIN w_first_employer e ON e.employer_id = p.employer_id "
            f"LEFT JOIN w_first_place pl ON pl.region_id = p.region_id AND pl.group_key = COALESCE(p.group_id, 0)",
            [self.policy.reason("")[:300]],
        )
        if not self.pg:  # SQLite looks people up by id where PostgreSQL hash-joins
            self.sql("CREATE UNIQUE INDEX w_cov_person ON w_cov (person_id)")
        self.analyze("w_cov")

    def write(self, *, diff: bool) -> None:
        """Bring Coverage in line with w_cov, writing only the rows that differ (a row's `run` is the run that last changed it).

        A first run (Coverage empty) inserts everyone. A rerun lists the people whose answer
        differs (w_changed: one hash join of the old answer with the new, and one anti-join for
        the people gone), records the changes of the primary union (CoverageChange, when `diff`),
        then deletes and re-inserts only those rows.
        """
        cov = _t(Coverage)
        columns = (
            "person_id run_id employer_id primary_org_id primary_rule region_id group_id n_covering reason"
        )
        new_columns = "person_id, %s, employer_id, primary_org_id, primary_rule, region_id, group_id, n_covering, reason"
        self.cur.execute(f"SELECT 1 FROM {cov} LIMIT 1")
        if self.cur.fetchone() is None:
            if diff:
                self.changes(
                    "SELECT person_id, primary_org_id, CAST(NULL AS bigint) AS before_org_id FROM w_cov"
                )
            with self.indexes_rebuilt_after(Coverage):
                self.sql(
                    f"INSERT INTO {cov} ({_columns(columns)}) SELECT {new_columns} FROM w_cov ORDER BY person_id",
                    [self.run_id],
                )
            return
        same = "IS NOT DISTINCT FROM" if self.pg else "IS"
        unchanged = " AND ".join(
            f"n.{col} {same} c.{col}"
            for col in (
                "employer_id",
                "primary_org_id",
                "primary_rule",
                "region_id",
                "group_id",
                "n_covering",
                "reason",
            )
        )
        self.temp(
            "w_changed", "person_id bigint PRIMARY KEY, before_org_id bigint, was_there integer NOT NULL"
        )
        self.sql(
            f"INSERT INTO w_changed (person_id, before_org_id, was_there) "
            f"SELECT n.person_id, c.primary_org_id, CASE WHEN c.person_id IS NULL THEN 0 ELSE 1 END "
            f"FROM w_cov n LEFT JOIN {cov} c ON c.person_id = n.person_id "
            f"WHERE c.person_id IS NULL OR NOT ({unchanged})"
        )
        self.analyze("w_changed")
        if diff:
            self.changes(
                "SELECT n.person_id, n.primary_org_id, d.before_org_id FROM w_changed d "
                "JOIN w_cov n ON n.person_id = d.person_id"
            )
        # The people gone since (deleted without the ORM's cascade): only when the old answer has
        # more rows than the people found in it (a count instead of an anti-join over everyone).
        self.cur.execute(
            f"SELECT (SELECT COUNT(*) FROM {cov}), (SELECT COUNT(*) FROM w_cov) - "
            f"(SELECT COUNT(*) FROM w_changed WHERE was_there = 0)"
        )
        before, kept = self.cur.fetchone()
        if before != kept:
            self.sql(
                f"DELETE FROM {cov} WHERE NOT EXISTS (SELECT 1 FROM w_cov n WHERE n.person_id = {cov}.person_id)"
            )
        self.sql(
            f"DELETE FROM {cov} WHERE person_id IN (SELECT person_id FROM w_changed WHERE was_there = 1)"
        )
        self.sql(
            f"INSERT INTO {cov} ({_columns(columns)}) SELECT {new_columns.replace('person_id,', 'n.person_id,', 1)} "
            f"FROM w_cov n JOIN w_changed d ON d.person_id = n.person_id",
            [self.run_id],
        )

    @contextmanager
    def indexes_rebuilt_after(self, model):
        """On PostgreSQL, drop the table's indexes other than its constraints' and build them again afterwards.

        For filling an empty table with a million rows: building an index over all the rows at
        the end is several times cheaper than adding each row to it. The drop locks the table
        until the run commits; it is used only while the table is empty (a first run), so a
        reader waits for the first answer instead of seeing none.
        """
        if not self.pg:
            yield
            return
        table = model._meta.db_table
        self.cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, connection.ops.quote_name(table)],
        )
        indexes = self.cur.fetchall()
        for name, _definition in indexes:
            self.sql(f"DROP INDEX {connection.ops.quote_name(name)}")
        yield
        self.sql(f"SET LOCAL maintenance_work_mem = '{int(WORK_MEM_MB)}MB'")
        for _name, definition in indexes:
            self.sql(definition)

    def changes(self, rows: str) -> None:
        """CoverageChange rows for this run from `rows` (person_id, primary_org_id, before_org_id): where the primary union differs."""
        self.sql(
            f"INSERT INTO {_t(CoverageChange)} (run_id, person_id, kind, before_org_id, after_org_id) "
            f"SELECT %s, t.person_id, "
            f"CASE WHEN t.before_org_id IS NULL THEN %s WHEN t.primary_org_id IS NULL THEN %s ELSE %s END, "
            f"t.before_org_id, t.primary_org_id FROM ({rows}) t "
            f"WHERE (t.before_org_id IS NULL AND t.primary_org_id IS NOT NULL) "
            f"OR (t.before_org_id IS NOT NULL AND t.primary_org_id IS NULL) "
            f"OR t.before_org_id <> t.primary_org_id",
            [self.run_id, ChangeKind.GAINED, ChangeKind.LOST, ChangeKind.SWITCHED],
        )

    def cells(self) -> None:
        """CoverageCell: one row per (region the person is placed in, group), one INSERT … SELECT … GROUP BY.

        Grouped by ids first, the region's code joined to the few thousand groups afterwards.
        """
        cell = _t(CoverageCell)
        self.sql(f"DELETE FROM {cell}")
        self.sql(
            f"INSERT INTO {cell} ({_columns('region_id region_code group_id people members covered holes overlaps refreshed_at')}) "
            f"SELECT s.region_id, COALESCE(rg.code, ''), s.group_id, s.people, s.members, s.covered, "
            f"s.people - s.covered, s.overlaps, %s FROM ("
            f"SELECT c.region_id, c.group_id, COUNT(*) AS people, COUNT(m.person_id) AS members, "
            f"COUNT(c.primary_org_id) AS covered, SUM(CASE WHEN c.n_covering > 1 THEN 1 ELSE 0 END) AS overlaps "
            f"FROM w_cov c LEFT JOIN {_t(Membership)} m ON m.person_id = c.person_id AND m.status = %s "
            f"GROUP BY c.region_id, c.group_id) s LEFT JOIN {_t(Region)} rg ON rg.id = s.region_id",
            [timezone.now(), MembershipStatus.ACTIVE],
        )

    def member_weeks(self) -> None:
        """MemberWeek, rebuilt from the memberships and the region each person is now counted in (w_cov: the new Coverage)."""
        member_weeks_rebuild(self.cur, None, coverage_table="w_cov")


def _counts(cur, *, run_id: int, policy: CoveragePolicy, diff: bool) -> WeaveCounts:
    cur.execute(
        "SELECT COUNT(*), COUNT(primary_org_id), "
        "COALESCE(SUM(CASE WHEN n_covering > 1 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN primary_org_id IS NOT NULL AND net_only = 1 THEN 1 ELSE 0 END), 0) FROM w_cov"
    )
    people, covered, overlaps, net_only = cur.fetchone()
    counts = WeaveCounts(
        people=people, covered=covered, holes=people - covered, overlaps=overlaps, safety_net_only=net_only
    )
    if diff:
        cur.execute(
            f"SELECT kind, COUNT(*) FROM {_t(CoverageChange)} WHERE run_id = %s GROUP BY kind", [run_id]
        )
        for kind, n in cur.fetchall():
            setattr(counts, kind, n)
    return counts
