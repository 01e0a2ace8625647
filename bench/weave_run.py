"""A weave run over 1,000,000 people and 10,000 unions on PostgreSQL (target: at most 60 s).

    flock /tmp/gonghui-bench.lock .venv/bin/python bench/weave_run.py
    flock /tmp/gonghui-bench.lock .venv/bin/python bench/weave_run.py --reuse   # the city a --keep run left
    .venv/bin/python bench/weave_run.py --people 100000 --orgs 2000 --keep \
        --pg-url postgres://postgres@127.0.0.1:5432/postgres

The script
1. drops and creates its own PostgreSQL database (`gonghui_bench_weave`), runs `gonghui migrate`
   and `gonghui regions load` (the Jiamusi table), then builds a city set-based in SQL
   (generate_series; not timed): about 14 more townships per county and 12 more villages per
   township (demo regions), 10,000 employers, the unions (city and county federations, a
   township union per township, a village union per village, an industry federation per county
   and group and one per group for the city, a joint union per township and one rider/courier
   joint union per county, and enterprise unions up to --orgs in all, 2% of them dissolved),
   the people (a pseudo-random village as work region for 95%, a home region only for 4%, neither
   for 1%; an employer for 35%; one of the ten groups) and active memberships for 10% of them;
2. times `gonghui weave run` as a user runs it (a child process: Python start-up and Django set-up
   included) twice: the first run (no previous answer), and a second after 1% of the people moved
   to another village (everyone compared with the previous answer, only what differs rewritten);
   with the time of each stage from the progress lines on stderr and the load average;
3. times `gonghui weave export` of the answer (streamed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GONGHUI = str(ROOT / ".venv" / "bin" / "gonghui")
DB_NAME = "gonghui_bench_weave"


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


def _filler(model, given: dict[str, str]) -> tuple[str, str, list]:
    """Columns and SQL values for an INSERT … SELECT into `model`: `given` plus the model's defaults for NOT NULL columns."""
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
    return ", ".join(q(c) for c in cols), ", ".join(exprs), params


def insert_select(cur, model, given: dict[str, str], tail: str, params=()) -> int:
    """INSERT INTO model (...) SELECT <given and defaults> <tail>; the SQL in `given` and `tail` may use %s."""
    cols, exprs, fill = _filler(model, given)
    # `given` expressions take no parameters (use mod(), not %): the defaults' come first, then the tail's.
    cur.execute(f"INSERT INTO {model._meta.db_table} ({cols}) SELECT {exprs} {tail}", [*fill, *params])
    return cur.rowcount


def build_city(people: int, orgs: int) -> dict[str, int]:
    from django.db import connection, transaction

    from gonghui.membership.models import Membership
    from gonghui.orgs.models import Employer, Org
    from gonghui.people.models import Person
    from gonghui.regions.models import Region

    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cur:
        # More townships and villages (demo regions), so a city of a million has about 2,500 villages.
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

        insert_select(
            cur,
            Employer,
            {"credit_code": "'BENCH' || LPAD(i::text, 13, '0')", "name": "'单位' || i"},
            "FROM generate_series(1, 10000) i",
        )

        def orgs_insert(given: dict[str, str], tail: str) -> None:
            base = {"path": "''", "depth": "1", "status": "'active'"}
            insert_select(cur, Org, {**base, **given}, tail)

        orgs_insert(
            {
                "code": "'F' || r.code",
                "name": "r.name || '总工会'",
                "kind": "'federation'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level IN (2, 3)",
        )
        orgs_insert(
            {
                "code": "'T' || r.code",
                "name": "r.name || '总工会'",
                "kind": "'township'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level = 4",
        )
        orgs_insert(
            {"code": "'V' || r.code", "name": "r.name || '工会'", "kind": "'village'", "region_id": "r.id"},
            "FROM regions_region r WHERE r.level = 5",
        )
        orgs_insert(
            {
                "code": "'I' || g.code || r.code",
                "name": "r.name || g.name || '行业工会联合会'",
                "kind": "'industry'",
                "region_id": "r.id",
            },
            "FROM regions_region r CROSS JOIN orgs_occupationgroup g WHERE r.level IN (2, 3)",
        )
        orgs_insert(
            {"code": "'J' || r.code", "name": "r.name || '联合工会'", "kind": "'joint'", "region_id": "r.id"},
            "FROM regions_region r WHERE r.level = 4",
        )
        orgs_insert(
            {
                "code": "'JR' || r.code",
                "name": "r.name || '骑手快递员联合工会'",
                "kind": "'joint'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level = 3",
        )
        cur.execute("SELECT COUNT(*) FROM orgs_org")
        enterprises = max(0, orgs - cur.fetchone()[0])
        orgs_insert(
            {
                "code": "'E' || e.id",
                "name": "e.name || '工会'",
                "kind": "'enterprise'",
                "status": "CASE WHEN mod(e.id, 50) = 0 THEN 'dissolved' ELSE 'active' END",
            },
            f"FROM orgs_employer e ORDER BY e.id LIMIT {int(enterprises)}",
        )
        cur.execute(
            "UPDATE orgs_org o SET parent_id = c.id, path = '/' || c.id || '/' || o.id || '/' "
            "FROM orgs_org c WHERE c.code = 'F230800000000' AND o.id <> c.id"
        )
        cur.execute("UPDATE orgs_org SET path = '/' || id || '/', depth = 0 WHERE code = 'F230800000000'")
        # What the unions declare: industry federations their region and group, the county joint
        # unions riders and couriers, enterprise unions their employer.
        cur.execute(
            "INSERT INTO orgs_org_covers_regions (org_id, region_id) SELECT id, region_id FROM orgs_org "
            "WHERE kind = 'industry'"
        )
        cur.execute(
            "INSERT INTO orgs_org_covers_groups (org_id, occupationgroup_id) SELECT o.id, g.id FROM orgs_org o "
            "JOIN orgs_occupationgroup g ON o.code = 'I' || g.code || SUBSTR(o.code, LENGTH(g.code) + 2) "
            "WHERE o.kind = 'industry'"
        )
        cur.execute(
            "INSERT INTO orgs_org_covers_groups (org_id, occupationgroup_id) SELECT o.id, g.id FROM orgs_org o "
            "JOIN orgs_occupationgroup g ON g.code IN ('rider', 'courier') WHERE o.code LIKE 'JR%%'"
        )
        cur.execute(
            "INSERT INTO orgs_org_covers_employers (org_id, employer_id) SELECT o.id, e.id FROM orgs_org o "
            "JOIN orgs_employer e ON o.code = 'E' || e.id"
        )
        cur.execute("SELECT kind, COUNT(*) FROM orgs_org GROUP BY kind ORDER BY kind")
        counts.update({f"orgs_{kind}": n for kind, n in cur.fetchall()})

        # People: a pseudo-random village (95%), only a home region (4%), neither (1%).
        cur.execute(
            "CREATE TEMP TABLE villages AS SELECT id, ROW_NUMBER() OVER (ORDER BY code) - 1 AS n "
            "FROM regions_region WHERE level = 5"
        )
        cur.execute(
            "CREATE TEMP TABLE groups AS SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM orgs_occupationgroup"
        )
        cur.execute("SELECT COUNT(*) FROM villages")
        n_villages = cur.fetchone()[0]
        insert_select(
            cur,
            Person,
            {
                "name": "'P' || i",
                "group_id": "g.id",
                "work_region_id": "CASE WHEN mod(i, 100) < 95 THEN v.id END",
                "home_region_id": "CASE WHEN mod(i, 100) BETWEEN 95 AND 98 THEN v.id END",
                "employer_id": "CASE WHEN mod(i, 20) < 7 THEN 1 + mod(i::bigint * 7919, 10000) END",
            },
            f"FROM generate_series(1, {int(people)}) i "
            f"JOIN villages v ON v.n = mod(i::bigint * 2654435761, {int(n_villages)}) "
            "JOIN groups g ON g.n = mod(i * 31, 10)",
        )
        counts["people"] = cur.rowcount
        insert_select(
            cur,
            Membership,
            {
                "person_id": "p.id",
                "org_id": "o.id",
                "status": "'active'",
                "member_no": "'B' || p.id",
                "joined_on": "DATE '2024-01-01' + mod(p.id, 600)::int",
            },
            "FROM people_person p JOIN orgs_org o ON o.region_id = p.work_region_id AND o.kind = 'village' "
            "WHERE mod(p.id, 10) = 0",
        )
        counts["members"] = cur.rowcount
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return counts


def move_some_people(percent: int) -> int:
    """Move `percent`% of the people to the next village (for the second run)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE people_person p SET work_region_id = (SELECT r.id FROM regions_region r WHERE r.level = 5 "
            "AND r.id > p.work_region_id ORDER BY r.id LIMIT 1) WHERE p.id %% 100 < %s AND p.work_region_id IS NOT NULL",
            [percent],
        )
        return cur.rowcount


def run_timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str, list[tuple[float, str]]]:
    """Run `cmd`; (wall seconds, exit code, stdout, [(seconds since start, stderr line)])."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [(time.perf_counter() - started, line.rstrip("\n")) for line in proc.stderr]
    out = proc.stdout.read()
    code = proc.wait()
    return time.perf_counter() - started, code, out, lines


def stages(lines: list[tuple[float, str]], wall: float) -> str:
    """'note 1.2s, …' from the progress lines ('  5% people'), each stage until the next line."""
    parts = []
    marks = [(t, line.split("% ", 1)[-1].strip()) for t, line in lines if "%" in line]
    for i, (t, note) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else wall
        parts.append(f"{note} {end - t:.1f}s")
    start = f"start-up {marks[0][0]:.1f}s, " if marks else ""
    return start + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the runs on the city a --keep run left (its answer emptied first)",
    )
    args = parser.parse_args()

    db_url = f"{args.pg_url.rsplit('/', 1)[0]}/{DB_NAME}" if args.reuse else fresh_database(args.pg_url)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "gonghui.settings"}
    os.environ.update(env)
    commands = [[GONGHUI, "migrate", "-v0"]] + ([] if args.reuse else [[GONGHUI, "regions", "load"]])
    for cmd in commands:
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    import django

    django.setup()
    if args.reuse:
        from django.db import connection

        with connection.cursor() as cur:
            for table in (
                "weave_coveragechange",
                "weave_coveringorg",
                "weave_coverage",
                "weave_coveragecell",
            ):
                cur.execute(f"TRUNCATE {table}")
            cur.execute("DELETE FROM weave_weaverun")
            cur.execute("SELECT COUNT(*) FROM people_person")
            print(f"reusing {DB_NAME}: {cur.fetchone()[0]} people, previous answer emptied", flush=True)
    else:
        started = time.perf_counter()
        counts = build_city(args.people, args.orgs)
        print(f"built in {time.perf_counter() - started:.0f} s (not timed): {counts}", flush=True)

    results = []
    for label in ("first run (no previous answer)", "second run (1% moved)"):
        if label.startswith("second"):
            print(f"moved {move_some_people(1)} people to another village", flush=True)
        load = os.getloadavg()[0]
        wall, code, out, lines = run_timed([GONGHUI, "weave", "run"], env)
        if code != 0:
            print("\n".join(line for _t, line in lines[-20:]))
            raise SystemExit(f"gonghui weave run exited {code}")
        results.append((label, wall, load))
        print(f"{label}: {wall:.1f} s (load average {load:.1f} at the start)", flush=True)
        print(f"  {out.strip()}\n  {stages(lines, wall)}", flush=True)
    out_csv = Path("/tmp") / "gonghui_bench_weave_export.csv"
    wall, code, out, _lines = run_timed([GONGHUI, "weave", "export", str(out_csv)], env)
    print(
        f"export: {wall:.1f} s, exit {code}, {out.strip()}, {out_csv.stat().st_size / 1e6:.0f} MB", flush=True
    )
    out_csv.unlink(missing_ok=True)

    print("\n| run | seconds | load average at start |\n|---|---|---|")
    for label, wall, load in results:
        print(f"| {label} | {wall:.1f} | {load:.1f} |")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database(args.pg_url)


if __name__ == "__main__":
    main()
