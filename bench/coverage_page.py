"""The coverage matrix page for a city of 1,000,000 people on PostgreSQL (target: p95 at most 300 ms).

    flock /tmp/gonghui-bench.lock .venv/bin/python bench/coverage_page.py
    .venv/bin/python bench/coverage_page.py --people 100000 --repeat 30 --keep \
        --pg-url postgres://postgres@127.0.0.1:5432/postgres

The script
1. drops and creates its own PostgreSQL database (`gonghui_bench_coverage`), runs `gonghui migrate`
   and `gonghui regions load` (the Jiamusi table), then builds the answer of a weave run set-based
   in SQL (generate_series, INSERT ... SELECT; not timed): 14 more townships per county and 12 more
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
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GONGHUI = str(ROOT / ".venv" / "bin" / "gonghui")
DB_NAME = "gonghui_bench_coverage"
TARGET_P95_MS = 300


def fresh_database(pg_url: str) -> str:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{pg_url.rsplit('/', 1)[0]}/{DB_NAME}"


def drop_database(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def insert_select(cur, model, given: dict[str, str], tail: str) -> int:
    """INSERT INTO model (...) SELECT <given, and the model's defaults for other NOT NULL columns> <tail>."""
    from django.db import connection
    from django.db.models import DateTimeField

    cols, exprs, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.column in given:
            cols.append(f.column)
            exprs.append(given[f.column])
        elif f.primary_key or f.null:
            continue
        elif isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add):
            cols.append(f.column)
            exprs.append("now()")
        else:
            cols.append(f.column)
            exprs.append("%s")
            params.append(f.get_db_prep_save(f.get_default(), connection))
    q = connection.ops.quote_name
    cur.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(q(c) for c in cols)}) SELECT {', '.join(exprs)} {tail}",
        params,
    )
    return cur.rowcount


def build_city(people: int) -> dict[str, int]:
    """The regions, unions, people, their coverage, memberships and cells (set-based, one transaction)."""
    from django.db import connection, transaction

    from gonghui.membership.models import Membership
    from gonghui.orgs.models import Org
    from gonghui.people.models import Person
    from gonghui.regions.models import Region
    from gonghui.weave.models import Coverage, CoverageCell, WeaveRun

    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cur:
        insert_select(
            cur,
            Region,
            {
                "code": "SUBSTR(c.code, 1, 6) || LPAD((500 + t)::text, 3, '0') || '000'",
                "name": "c.name || '第' || t || '镇'",
                "level": "4",
                "parent_id": "c.id",
                "is_demo": "true",
            },
            "FROM regions_region c CROSS JOIN generate_series(1, 14) t WHERE c.level = 3",
        )
        insert_select(
            cur,
            Region,
            {
                "code": "SUBSTR(t.code, 1, 9) || LPAD((600 + v)::text, 3, '0')",
                "name": "t.name || '第' || v || '村'",
                "level": "5",
                "parent_id": "t.id",
                "is_demo": "true",
            },
            "FROM regions_region t CROSS JOIN generate_series(1, 12) v WHERE t.level = 4",
        )
        cur.execute("SELECT level, COUNT(*) FROM regions_region GROUP BY level ORDER BY level")
        counts.update({f"regions_l{level}": n for level, n in cur.fetchall()})

        base = {"path": "''", "depth": "1", "status": "'active'"}
        insert_select(
            cur,
            Org,
            {
                **base,
                "code": "'F' || r.code",
                "name": "r.name || '总工会'",
                "kind": "'federation'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level IN (2, 3)",
        )
        insert_select(
            cur,
            Org,
            {
                **base,
                "code": "'V' || r.code",
                "name": "r.name || '工会'",
                "kind": "'village'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level = 5",
        )
        cur.execute(
            "UPDATE orgs_org o SET parent_id = c.id, path = '/' || c.id || '/' || o.id || '/' "
            "FROM orgs_org c WHERE c.code = 'F230800000000' AND o.id <> c.id"
        )
        cur.execute("UPDATE orgs_org SET path = '/' || id || '/', depth = 0 WHERE code = 'F230800000000'")

        cur.execute(
            "CREATE TEMP TABLE villages AS SELECT id, ROW_NUMBER() OVER (ORDER BY code) - 1 AS n "
            "FROM regions_region WHERE level = 5"
        )
        cur.execute(
            "CREATE TEMP TABLE groups AS SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM orgs_occupationgroup"
        )
        cur.execute("SELECT COUNT(*) FROM villages")
        n_villages = cur.fetchone()[0]
        counts["people"] = insert_select(
            cur,
            Person,
            {
                "name": "'P' || i",
                "id_number_masked": "'230811********' || LPAD(mod(i, 10000)::text, 4, '0')",
                "group_id": "CASE WHEN mod(i, 50) <> 0 THEN g.id END",
                "work_region_id": "v.id",
            },
            f"FROM generate_series(1, {int(people)}) i "
            f"JOIN villages v ON v.n = mod(i::bigint * 2654435761, {int(n_villages)}) "
            # The group independent of the village (i / 7, not i): every cell of a village filled.
            "JOIN groups g ON g.n = mod(i / 7, 10)",
        )
        run = WeaveRun.objects.create(status="done", people=people)
        counts["coverage"] = insert_select(
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
        counts["memberships"] = insert_select(
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
        counts["cells"] = insert_select(
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

    city = User.objects.create_user(username="bench-city", password="bench-pass-123")
    Role.objects.create(user=city, org=Org.objects.get(code="F230800000000"), role=RoleKind.STAFF)
    county = User.objects.create_user(username="bench-suburb", password="bench-pass-123")
    Role.objects.create(user=county, org=Org.objects.get(code="F230811000000"), role=RoleKind.STAFF)
    return city, county


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
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    db_url = fresh_database(args.pg_url)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "gonghui.settings"}
    os.environ.update(env)
    for cmd in ([GONGHUI, "migrate", "-v0"], [GONGHUI, "regions", "load"]):
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    import django

    django.setup()
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
    city, county = users()
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
    clients["city"].force_login(city)
    clients["county"].force_login(county)
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
        drop_database(args.pg_url)


if __name__ == "__main__":
    main()
