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
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from gonghui.membership.models import Membership, MembershipStatus
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.people.models import Person
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .models import ChangeKind, Coverage, CoverageCell, CoverageChange, CoverageRule, CoveringOrg
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


_STAGING = ("w_person", "w_anc", "w_orgreg", "w_cand", "w_org", "w_rank", "w_cov", "w_keep", "w_keep_co")


def weave_everyone(
    *, run_id: int, policy: CoveragePolicy, diff: bool, progress: Progress | None = None
) -> WeaveCounts:
    """Recompute coverage for everyone under `policy` and replace the current answer; the caller holds the transaction.

    Writes: Coverage and CoveringOrg (replaced), CoverageChange rows for run `run_id` when `diff`
    (gained: no union before, one now; lost: the reverse; switched: another primary union), and
    CoverageCell (replaced). Returns the counts. Runs only SQL statements whose number does not
    depend on the number of people.
    """
    report = progress or (lambda percent, note: None)
    with connection.cursor() as cur:
        _Weave(cur, run_id=run_id, policy=policy, report=report).run(diff=diff)
        counts = _counts(cur, run_id=run_id, policy=policy, diff=diff)
        for table in _STAGING:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
    return counts


class _Weave:
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
            # Sorts and hash aggregates over millions of candidate rows stay in memory instead of
            # spilling to disk (for this transaction only).
            self.sql(f"SET LOCAL work_mem = '{int(WORK_MEM_MB)}MB'")
        self.report(5, "people")
        self.people()
        self.report(15, "regions")
        self.regions()
        self.candidates()
        self.report(55, "ranking")
        self.rank()
        if diff:
            self.report(70, "changes")
            self.changes()
        self.report(75, "writing coverage")
        self.write()
        self.report(92, "matrix cells")
        self.cells()

    def people(self) -> None:
        basis = {"work": "work_region_id", "home": "home_region_id"}
        region = ", ".join(basis[b] for b in self.policy.region_basis)
        region_expr = f"COALESCE({region}, NULL)"
        self.temp(
            "w_person", "person_id bigint PRIMARY KEY, employer_id bigint, group_id bigint, region_id bigint"
        )
        self.sql(
            f"INSERT INTO w_person (person_id, employer_id, group_id, region_id) "
            f"SELECT id, employer_id, group_id, {region_expr} FROM {_t(Person)}"
        )
        self.sql("CREATE INDEX w_person_region ON w_person (region_id)")
        self.analyze("w_person")

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
        """w_cand: one row per (person, org, region matched through) per rule, by one INSERT … SELECT each."""
        self.temp(
            "w_cand",
            "person_id bigint NOT NULL, org_id bigint NOT NULL, pos integer NOT NULL, depth integer NOT NULL",
        )
        o = _t(Org)
        ce, ce_org, ce_employer = _m2m("covers_employers")
        cg, cg_org, cg_group = _m2m("covers_groups")
        steps = len(self.policy.order)
        for pos, rule in enumerate(self.policy.order):
            self.report(20 + 35 * pos // steps, f"rule {rule}")
            kind = RULE_KIND[rule]
            if rule == ENTERPRISE:
                self.sql(
                    f"INSERT INTO w_cand (person_id, org_id, pos, depth) "
                    f"SELECT p.person_id, o.id, %s, 0 FROM w_person p "
                    f"JOIN {ce} e ON e.{ce_employer} = p.employer_id "
                    f"JOIN {o} o ON o.id = e.{ce_org} AND o.kind = %s AND o.status = %s",
                    [pos, kind, OrgStatus.ACTIVE],
                )
                continue
            group_join, group_where = "", ""
            if rule == INDUSTRY:
                group_join = f"JOIN {cg} g ON g.{cg_org} = r.org_id AND g.{cg_group} = p.group_id "
            elif rule == JOINT:
                group_join = f"LEFT JOIN {cg} g ON g.{cg_org} = r.org_id AND g.{cg_group} = p.group_id "
                group_where = f"AND (r.has_groups = 0 OR g.{cg_org} IS NOT NULL) "
            self.sql(
                f"INSERT INTO w_cand (person_id, org_id, pos, depth) "
                f"SELECT p.person_id, r.org_id, %s, a.depth FROM w_person p "
                f"JOIN w_anc a ON a.region_id = p.region_id "
                f"JOIN w_orgreg r ON r.region_id = a.anc_id AND r.kind = %s "
                f"{group_join}WHERE p.region_id IS NOT NULL {group_where}",
                [pos, kind],
            )
        self.analyze("w_cand")

    def nested_coverage(self) -> bool:
        """Whether some union's regions include a region and one below it (its people are found twice).

        Enterprise unions are found once per person: the through table keeps (org, employer) unique.
        """
        self.cur.execute(
            "SELECT 1 FROM w_orgreg r JOIN w_anc a ON a.region_id = r.region_id "
            "JOIN w_orgreg r2 ON r2.org_id = r.org_id AND r2.region_id = a.anc_id AND r2.region_id <> r.region_id "
            "LIMIT 1"
        )
        return self.cur.fetchone() is not None

    def rank(self) -> None:
        """w_rank: each (person, org) once, ranked by rule, then deepest region, then org code."""
        net = [pos for pos, rule in enumerate(self.policy.order) if rule in self.policy.safety_net] or [-1]
        net_marks = ", ".join(["%s"] * len(net))
        # Ties within a rule go by org code, compared as code points (as Python and SQLite compare
        # text), through an integer rank so the big sort below compares integers only.
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
            "person_id bigint NOT NULL, org_id bigint NOT NULL, pos integer NOT NULL, rule varchar(20) NOT NULL, "
            "rnk integer NOT NULL, n integer NOT NULL, n_other integer NOT NULL",
        )
        if self.nested_coverage():
            # Some union covers a region and one inside it: a person there is found twice; keep the nearest.
            candidates = (
                "SELECT c.person_id, c.org_id, MIN(c.pos) AS pos, MAX(c.depth) AS depth, MIN(o.code_rank) AS code_rank "
                "FROM w_cand c JOIN w_org o ON o.org_id = c.org_id GROUP BY c.person_id, c.org_id"
            )
        else:  # each (person, union) was found once: no aggregate over millions of rows
            candidates = "SELECT c.person_id, c.org_id, c.pos, c.depth, o.code_rank FROM w_cand c JOIN w_org o ON o.org_id = c.org_id"
        self.sql(
            f"INSERT INTO w_rank (person_id, org_id, pos, rule, rnk, n, n_other) "
            f"SELECT person_id, org_id, pos, CASE pos {rule_case} END, "
            f"ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY pos, depth DESC, code_rank), "
            f"COUNT(*) OVER (PARTITION BY person_id), "
            f"SUM(CASE WHEN pos IN ({net_marks}) THEN 0 ELSE 1 END) OVER (PARTITION BY person_id) "
            f"FROM ({candidates}) t",
            [*self.policy.order, *net],
        )
        self.sql("DROP TABLE w_cand")
        if not self.pg:  # PostgreSQL hash-joins w_rank; SQLite looks each person's first row up
            self.sql("CREATE INDEX w_rank_first ON w_rank (person_id, rnk)")
        self.analyze("w_rank")
        rule_case = " ".join(f"WHEN {pos} THEN %s" for pos in range(len(self.policy.order)))
        reason_case = " ".join(
            f"WHEN {pos} THEN REPLACE(%s, '{{org}}', o.name)" for pos in range(len(self.policy.order))
        )
        self.temp(
            "w_cov",
            "person_id bigint PRIMARY KEY, primary_org_id bigint, primary_rule varchar(20), region_id bigint, "
            "group_id bigint, n_covering integer NOT NULL, net_only integer NOT NULL, reason varchar(300)",
        )
        self.sql(
            f"INSERT INTO w_cov (person_id, primary_org_id, primary_rule, region_id, group_id, n_covering, "
            f"net_only, reason) "
            f"SELECT p.person_id, r.org_id, COALESCE(CASE r.pos {rule_case} END, ''), p.region_id, p.group_id, "
            f"COALESCE(r.n, 0), CASE WHEN r.n_other = 0 THEN 1 ELSE 0 END, "
            f"SUBSTR(COALESCE(CASE r.pos {reason_case} END, %s), 1, 300) "
            f"FROM w_person p LEFT JOIN w_rank r ON r.person_id = p.person_id AND r.rnk = 1 "
            f"LEFT JOIN {_t(Org)} o ON o.id = r.org_id",
            [
                *self.policy.order,
                *(self.policy.reasons[rule] for rule in self.policy.order),
                self.policy.reason(""),
            ],
        )
        self.analyze("w_cov")

    def changes(self) -> None:
        """CoverageChange rows for this run: the new primary union against the one in Coverage now."""
        self.sql(
            f"INSERT INTO {_t(CoverageChange)} (run_id, person_id, kind, before_org_id, after_org_id) "
            f"SELECT %s, n.person_id, "
            f"CASE WHEN b.primary_org_id IS NULL THEN %s WHEN n.primary_org_id IS NULL THEN %s ELSE %s END, "
            f"b.primary_org_id, n.primary_org_id "
            f"FROM w_cov n LEFT JOIN {_t(Coverage)} b ON b.person_id = n.person_id "
            f"WHERE (b.primary_org_id IS NULL AND n.primary_org_id IS NOT NULL) "
            f"OR (b.primary_org_id IS NOT NULL AND n.primary_org_id IS NULL) "
            f"OR b.primary_org_id <> n.primary_org_id",
            [self.run_id, ChangeKind.GAINED, ChangeKind.LOST, ChangeKind.SWITCHED],
        )

    def write(self) -> None:
        """Bring Coverage and CoveringOrg in line with the staging tables, touching only the rows that differ.

        A rerun mostly finds the same answer, so it deletes and inserts only what changed (a
        row's `run` is the run that last changed it); a first run inserts everything. The rows
        to keep are listed first (w_keep, w_keep_co), so no statement reads the table it fills:
        a plan made while the table was empty would otherwise scan it once per row inserted.
        """
        cov, covering = _t(Coverage), _t(CoveringOrg)
        same = "IS NOT DISTINCT FROM" if self.pg else "IS"
        unchanged = " AND ".join(
            f"n.{col} {same} c.{col}"
            for col in ("primary_org_id", "primary_rule", "region_id", "group_id", "n_covering", "reason")
        )
        self.temp("w_keep", "person_id bigint PRIMARY KEY")
        self.sql(
            f"INSERT INTO w_keep (person_id) SELECT n.person_id FROM w_cov n "
            f"JOIN {cov} c ON c.person_id = n.person_id WHERE {unchanged}"
        )
        self.analyze("w_keep")
        self.sql(
            f"DELETE FROM {cov} WHERE NOT EXISTS (SELECT 1 FROM w_keep k WHERE k.person_id = {cov}.person_id)"
        )
        self.sql(
            f"INSERT INTO {cov} (person_id, run_id, primary_org_id, primary_rule, region_id, group_id, "
            f"n_covering, reason) "
            f"SELECT person_id, %s, primary_org_id, primary_rule, region_id, group_id, n_covering, reason FROM w_cov n "
            f"WHERE NOT EXISTS (SELECT 1 FROM w_keep k WHERE k.person_id = n.person_id)",
            [self.run_id],
        )
        self.report(82, "writing covering unions")
        rank = connection.ops.quote_name("rank")
        self.temp(
            "w_keep_co", "person_id bigint NOT NULL, org_id bigint NOT NULL, PRIMARY KEY (person_id, org_id)"
        )
        self.sql(
            f"INSERT INTO w_keep_co (person_id, org_id) SELECT r.person_id, r.org_id FROM w_rank r "
            f"JOIN {covering} c ON c.person_id = r.person_id AND c.org_id = r.org_id "
            f"WHERE c.{rank} = r.rnk AND c.rule = r.rule"
        )
        self.analyze("w_keep_co")
        self.sql(
            f"DELETE FROM {covering} WHERE NOT EXISTS (SELECT 1 FROM w_keep_co k "
            f"WHERE k.person_id = {covering}.person_id AND k.org_id = {covering}.org_id)"
        )
        self.sql(
            f"INSERT INTO {covering} ({_columns('person_id org_id rule rank')}) "
            f"SELECT person_id, org_id, rule, rnk FROM w_rank r "
            f"WHERE NOT EXISTS (SELECT 1 FROM w_keep_co k WHERE k.person_id = r.person_id AND k.org_id = r.org_id)"
        )

    def cells(self) -> None:
        """CoverageCell: one row per (region the person is placed in, group), one INSERT … SELECT … GROUP BY."""
        cell = _t(CoverageCell)
        self.sql(f"DELETE FROM {cell}")
        self.sql(
            f"INSERT INTO {cell} ({_columns('region_id region_code group_id people members covered holes overlaps refreshed_at')}) "
            f"SELECT c.region_id, COALESCE(rg.code, ''), c.group_id, COUNT(*), COUNT(m.person_id), "
            f"SUM(CASE WHEN c.primary_org_id IS NULL THEN 0 ELSE 1 END), "
            f"SUM(CASE WHEN c.primary_org_id IS NULL THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN c.n_covering > 1 THEN 1 ELSE 0 END), %s "
            f"FROM w_cov c LEFT JOIN {_t(Region)} rg ON rg.id = c.region_id "
            f"LEFT JOIN {_t(Membership)} m ON m.person_id = c.person_id AND m.status = %s "
            f"GROUP BY c.region_id, rg.code, c.group_id",
            [timezone.now(), MembershipStatus.ACTIVE],
        )


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
