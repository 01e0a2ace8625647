"""A weave run over 1,000,000 people and 10,000 unions on PostgreSQL (target: at most 60 s).

    flock /tmp/gonghui-bench.lock .venv/bin/python bench/weave_run.py
    flock /tmp/gonghui-bench.lock .venv/bin/python bench/weave_run.py --reuse   # the city a --keep run left
    .venv/bin/python bench/weave_run.py --build-only                            # build the city, time nothing
    .venv/bin/python bench/weave_run.py --people 100000 --orgs 2000 --keep \
        --pg-url postgres://postgres@127.0.0.1:5432/postgres

The script
1. drops and creates its own PostgreSQL database (`gonghui_bench_weave`), runs `gonghui migrate`
   and `gonghui regions load` (the Jiamusi table), then builds a city set-based in SQL
   (bench/city.py, generate_series; not timed): about 14 more townships per county and 12 more villages per
   township (demo regions), 10,000 employers, the unions (city and county federations, a
   township union per township, a village union per village, an industry federation per county
   and group and one per group for the city, a joint union per township and one rider/courier
   joint union per county, and enterprise unions up to --orgs in all, 2% of them dissolved),
   the people (a pseudo-random village as work region for 95%, a home region only for 4%, neither
   for 1%; an employer for 35%; one of the ten groups, independent of the village) and active memberships for 10% of them;
2. times `gonghui weave run` as a user runs it (a child process: Python start-up and Django set-up
   included) twice: the first run (no previous answer), and a second after 1% of the people moved
   to another village (everyone compared with the previous answer, only what differs rewritten);
   with the time of each stage from the progress lines on stderr and the load average;
3. times `gonghui weave export` of the answer (one COPY on PostgreSQL).
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

from bench import city  # noqa: E402

DB_NAME = "gonghui_bench_weave"


def build_city(people: int, orgs: int) -> dict[str, int]:
    from django.db import connection, transaction

    from gonghui.membership.models import Membership

    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cur:
        counts.update(city.add_regions(cur))
        city.add_employers(cur, 10_000)
        counts.update(city.add_unions(cur, weave_kinds=True, orgs=orgs))
        counts["people"] = city.add_people(cur, people, spread=True, employers=True)
        counts["members"] = city.insert_select(
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
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return counts


def empty_answer() -> None:
    """Empty the answer a previous run left (every table a weave run writes), for --reuse."""
    from django.db import connection

    from gonghui.weave import models

    derived = ("CoverageChange", "CoveringOrg", "CoverageProfile", "ProfileOrg", "Coverage", "CoverageCell")
    tables = [m._meta.db_table for m in (getattr(models, name, None) for name in derived) if m is not None]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)}")
        cur.execute(f"DELETE FROM {models.WeaveRun._meta.db_table}")
        cur.execute("SELECT COUNT(*) FROM people_person")
        print(
            f"reusing {connection.settings_dict['NAME']}: {cur.fetchone()[0]} people, answer emptied",
            flush=True,
        )


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
    parser.add_argument("--pg-url", default=city.DEFAULT_PG_URL)
    parser.add_argument(
        "--db-name", default=DB_NAME, help=f"the benchmark's own database (default {DB_NAME})"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the runs on the city a --keep run left (its answer emptied first)",
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build the city and stop (implies --keep; nothing timed)"
    )
    args = parser.parse_args()

    if args.reuse:
        db_url = city.database_url(args.pg_url, args.db_name)
    else:
        db_url = city.fresh_database(args.pg_url, args.db_name)
    env = city.django_on(db_url, load_regions=not args.reuse)
    if args.reuse:
        empty_answer()
    else:
        started = time.perf_counter()
        counts = build_city(args.people, args.orgs)
        print(f"built in {time.perf_counter() - started:.0f} s (not timed): {counts}", flush=True)
        if args.build_only:
            return

    results = []
    for label in ("first run (no previous answer)", "second run (1% moved)"):
        if label.startswith("second"):
            print(f"moved {move_some_people(1)} people to another village", flush=True)
        load = os.getloadavg()[0]
        wall, code, out, lines = run_timed([city.GONGHUI, "weave", "run"], env)
        if code != 0:
            print("\n".join(line for _t, line in lines[-20:]))
            raise SystemExit(f"gonghui weave run exited {code}")
        results.append((label, wall, load))
        print(f"{label}: {wall:.1f} s (load average {load:.1f} at the start)", flush=True)
        print(f"  {out.strip()}\n  {stages(lines, wall)}", flush=True)
    out_csv = Path("/tmp") / "gonghui_bench_weave_export.csv"
    wall, code, out, _lines = run_timed([city.GONGHUI, "weave", "export", str(out_csv)], env)
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
        city.drop_database(args.pg_url, args.db_name)


if __name__ == "__main__":
    main()
