"""Time `gonghui demo seed` on a fresh SQLite file and a fresh PostgreSQL database.

    .venv/bin/python bench/seed_demo.py                      # 27,000 people, SQLite then PostgreSQL
    .venv/bin/python bench/seed_demo.py --only sqlite --runs 3
    .venv/bin/python bench/seed_demo.py --pg-url postgres://postgres@127.0.0.1:5432/postgres --pg-db gonghui_bench

For each database: create it empty, `gonghui migrate` (not timed), then run `gonghui demo seed
--people N` as a user would and time the whole process (wall clock, and the CPU time it used, which
says how much of the wall clock was waiting for a busy machine). PostgreSQL uses its own database
(`gonghui_bench` by default), dropped and created afresh, so it never touches anyone else's.
Prints one Markdown table row per run for docs/BENCHMARKS.md, and the seed's own summary lines.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gonghui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gonghui", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh_postgres(pg_url: str, name: str) -> str:
    """Drop and create database `name` on the server of `pg_url`; return the URL of the new database."""
    import psycopg

    if not name.replace("_", "").isalnum():
        raise SystemExit(f"bench: bad database name {name!r}")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name


def run_once(engine: str, database_url: str, people: int, workdir: Path) -> dict:
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GONGHUI_VAR_DIR": str(workdir),
        "GONGHUI_DATA_KEY": Fernet.generate_key().decode(),
        "GONGHUI_SECRET_KEY": "bench-only-secret",
    }
    migrated = gonghui(env, "migrate", "--noinput", "-v", "0")
    if migrated.returncode:
        raise SystemExit(f"bench: migrate failed on {engine}:\n{migrated.stderr}")
    load = os.getloadavg()[0]
    cpu_before, started = child_cpu(), time.perf_counter()
    seeded = gonghui(env, "demo", "seed", "--people", str(people))
    wall, cpu = time.perf_counter() - started, child_cpu() - cpu_before
    if seeded.returncode:
        raise SystemExit(f"bench: seed failed on {engine}:\n{seeded.stderr}")
    summary = [line for line in seeded.stdout.splitlines() if line.strip() and "/" not in line.split()[-1]]
    return {"engine": engine, "wall": wall, "cpu": cpu, "load": load, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=27_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-db", default="gonghui_bench")
    args = parser.parse_args()

    engines = [args.only] if args.only else ["sqlite", "postgres"]
    results = []
    for _run in range(args.runs):
        for engine in engines:
            with tempfile.TemporaryDirectory(prefix="gonghui-bench-") as tmp:
                workdir = Path(tmp)
                if engine == "sqlite":
                    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
                else:
                    url = fresh_postgres(args.pg_url, args.pg_db)
                result = run_once(engine, url, args.people, workdir)
            results.append(result)
            print(
                f"{engine}: {result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU, load {result['load']:.1f}"
            )
            for line in result["summary"]:
                print(f"    {line}")

    cores = os.cpu_count()
    print()
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}")
    print("| database | people | seed wall clock (s) | CPU (s) | load average at start |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['engine']} | {args.people} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']:.1f} |")


if __name__ == "__main__":
    main()
