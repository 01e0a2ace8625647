"""The coverage matrix page for a city of 1,000,000 people on PostgreSQL (target: p95 at most 300 ms).

    flock /tmp/gonghui-bench.lock .venv/bin/python bench/coverage_page.py
    .venv/bin/python bench/coverage_page.py --people 100000 --repeat 30 --keep \
        --pg-url postgres://postgres@127.0.0.1:5432/postgres

The script
1. drops and creates its own PostgreSQL database (`gonghui_bench_coverage`), runs `gonghui migrate`
   and `gonghui regions load` (the Jiamusi table), then builds the answer of a weave run set-based
   in SQL (bench/city.py, shared with bench/weave_run.py; generate_series, INSERT ... SELECT; not
   timed): 14 more townships per county and 12 more
   villages per township (demo regions), the city and county federations and a union per village;
   the people (a pseudo-random village, one of the ten groups, 2% without a group); one `Coverage`
   row each (a quarter holes, one in seven covered by two unions or more); memberships for about
   40% of the covered, joined over the last 100 weeks, a tenth of them since left; and the
   `CoverageCell` rows the way a weave run writes them (one INSERT ... SELECT ... GROUP BY);
2. times `weave.matrix.cells_refresh_members()` over everyone (members of every cell and the
   `MemberWeek` trend rows) and for one person (what a membership change costs);
3. signs in city staff (a role in the city federation) and 郊区 staff, and times each page with
   Django's test client in this process (the whole request: middleware, session, scope, queries,
   templates), `--repeat` times after one warm-up request: the matrix (heat table, by group, by
   region) for the city and for a county, and the drill-down (the city's holes, page 1 and page
   50; one village's members). Prints p50 / p95 / max wall clock per page, the median CPU time
   of this process per request (Django's share; PostgreSQL's is not in it) and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import city  # noqa: E402

DB_NAME = "gonghui_bench_coverage"
TARGET_P95_MS = 300


def build_city(people: int) -> dict[str, int]:
    """The regions, unions, people, their coverage, memberships and cells (set-based, one transaction)."""
    from django.db import connection, transaction

    from gonghui.membership.models import Membership
    from gonghui.weave.models import Coverage, CoverageCell, WeaveRun

    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cur:
        counts.update(city.add_regions(cur))
        counts.update(city.add_unions(cur, weave_kinds=False))
        counts["people"] = city.add_people(cur, people, spread=False, employers=False, no_group_every=50)
        run = WeaveRun.objects.create(status="done", people=people)
        counts["coverage"] = city.insert_select(
            cur,
            Coverage,
            {
                "person_id": "p.id",
                "run_id": str(run.pk),
                "primary_org_id": "CASE WHEN mod(p.id, 4) <> 0 THEN o.id END",
                "primary_rule": "CASE WHEN mod(p.id, 4) <> 0 THEN 'village' ELSE '' END",
                "region_id": "p.work_region_id",
                "group_id": "p.group_id",
                "n_covering": "CASE WHEN mod(p.id, 4) = 0 THEN 0 WHEN mod(p.id, 7) = 0 THEN 2 ELSE 1 END",
                "reason": "CASE WHEN mod(p.id, 4) = 0 THEN '无工会覆盖' ELSE '由' || o.name || '覆盖' END",
            },
            "FROM people_person p JOIN orgs_org o ON o.region_id = p.work_region_id AND o.kind = 'village'",
        )
        # About 40% of the covered joined over the last 100 weeks; a tenth of them have since left.
        counts["memberships"] = city.insert_select(
            cur,
            Membership,
            {
                "person_id": "p.id",
                "org_id": "c.primary_org_id",
                "status": "CASE WHEN mod(p.id, 50) < 2 THEN 'lapsed' ELSE 'active' END",
                "member_no": "'B' || p.id",
                "channel": "'roster'",
                "joined_on": "CURRENT_DATE - mod(p.id * 7, 700)::int",
                "ended_on": "CASE WHEN mod(p.id, 50) < 2 THEN CURRENT_DATE - mod(p.id * 3, 20)::int END",
            },
            "FROM people_person p JOIN weave_coverage c ON c.person_id = p.id "
            "WHERE c.primary_org_id IS NOT NULL AND mod(p.id, 5) < 2",
        )
        # The cells as a weave run writes them (members are set by cells_refresh_members, timed below).
        counts["cells"] = city.insert_select(
            cur,
            CoverageCell,
            {
                "region_id": "c.region_id",
                "region_code": "COALESCE(r.code, '')",
                "group_id": "c.group_id",
                "people": "COUNT(*)",
                "members": "0",
                "covered": "COUNT(c.primary_org_id)",
                "holes": "SUM(CASE WHEN c.primary_org_id IS NULL THEN 1 ELSE 0 END)",
                "overlaps": "SUM(CASE WHEN c.n_covering > 1 THEN 1 ELSE 0 END)",
            },
            "FROM weave_coverage c LEFT JOIN regions_region r ON r.id = c.region_id "
            "GROUP BY c.region_id, r.code, c.group_id",
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return counts


def users():
    from gonghui.accounts.models import Role, RoleKind, User
    from gonghui.orgs.models import Org

    city_staff = User.objects.create_user(username="bench-city", password="bench-pass-123")
    Role.objects.create(user=city_staff, org=Org.objects.get(code="F230800000000"), role=RoleKind.STAFF)
    county_staff = User.objects.create_user(username="bench-suburb", password="bench-pass-123")
    Role.objects.create(user=county_staff, org=Org.objects.get(code="F230811000000"), role=RoleKind.STAFF)
    return city_staff, county_staff


def time_page(client, url: str, params: dict, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each request (PostgreSQL's own CPU not included)."""
    response = client.get(url, params)  # warm-up (templates compiled, connection open)
    if response.status_code != 200:
        raise SystemExit(f"{url} {params} answered {response.status_code}")
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, params)
        times.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - started_cpu))
        assert response.status_code == 200
    return times, cpu


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=60, help="timed requests per page (after one warm-up)")
    parser.add_argument("--pg-url", default=city.DEFAULT_PG_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    city.django_on(city.fresh_database(args.pg_url, DB_NAME))
    from django.conf import settings
    from django.test import Client

    from gonghui.weave.matrix import cells_refresh_members
    from gonghui.weave.models import Coverage, MemberWeek

    started = time.perf_counter()
    counts = build_city(args.people)
    print(f"built in {time.perf_counter() - started:.0f} s (not timed): {counts}", flush=True)

    started = time.perf_counter()
    cells = cells_refresh_members()
    full = time.perf_counter() - started
    print(
        f"cells_refresh_members() over everyone: {full:.2f} s ({cells} cells, "
        f"{MemberWeek.objects.count()} MemberWeek rows)",
        flush=True,
    )
    one = Coverage.objects.order_by("person_id").values_list("person_id", flat=True)[args.people // 2]
    singles = []
    for _ in range(5):
        started = time.perf_counter()
        cells_refresh_members(person_ids=[one])
        singles.append(1000 * (time.perf_counter() - started))
    print(f"cells_refresh_members(person_ids=[one]): median {statistics.median(singles):.0f} ms", flush=True)

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host name
    city_staff, county_staff = users()
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT code FROM regions_region WHERE level = 5 AND code LIKE '230811%%' ORDER BY code LIMIT 1"
        )
        village = cur.fetchone()[0]
    pages = [
        ("city", "matrix: city, heat table", "/weave/", {}),
        ("city", "matrix: city, by group", "/weave/", {"by": "group"}),
        ("city", "matrix: city, by region", "/weave/", {"by": "region"}),
        ("city", "matrix: city, heat by holes, one group", "/weave/", {"shade": "holes", "group": "courier"}),
        ("county", "matrix: 郊区 staff, 郊区 heat table", "/weave/", {}),
        ("county", "matrix: 郊区 staff, a village", "/weave/", {"region": village}),
        ("city", "drill-down: city holes, page 1", "/weave/people/", {"kind": "holes"}),
        ("city", "drill-down: city holes, page 50", "/weave/people/", {"kind": "holes", "page": 50}),
        (
            "county",
            "drill-down: a village's members",
            "/weave/people/",
            {"region": village, "kind": "members"},
        ),
        ("city", "export .xlsx: city heat table", "/weave/export.xlsx", {}),
    ]
    clients = {"city": Client(), "county": Client()}
    clients["city"].force_login(city_staff)
    clients["county"].force_login(county_staff)
    rows = []
    for who, label, url, params in pages:
        load = os.getloadavg()[0]
        times, cpu = time_page(clients[who], url, params, args.repeat)
        row = (label, p(times, 0.5), p(times, 0.95), max(times), statistics.median(cpu), load)
        rows.append(row)
        print(
            f"{label}: p50 {row[1]:.0f} ms, p95 {row[2]:.0f} ms, max {row[3]:.0f} ms, "
            f"CPU median {row[4]:.0f} ms, load {load:.1f}",
            flush=True,
        )

    print(
        f"\n| page ({args.people:,} people, {args.repeat} requests each) | p50 ms | p95 ms | max ms "
        "| Django CPU median ms | load average |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, p50, p95, worst, cpu, load in rows:
        print(f"| {label} | {p50:.0f} | {p95:.0f} | {worst:.0f} | {cpu:.0f} | {load:.1f} |")
    matrix_p95 = max(r[2] for r in rows if r[0].startswith("matrix"))
    verdict = "met" if matrix_p95 <= TARGET_P95_MS else "NOT met"
    print(f"\nworst matrix page p95 {matrix_p95:.0f} ms: target {TARGET_P95_MS} ms {verdict}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        city.drop_database(args.pg_url, DB_NAME)


if __name__ == "__main__":
    main()
