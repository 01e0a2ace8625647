"""Time `gonghui contest papers --trade T`: a preliminary paper for each of N candidates (default 100,000).

    flock /tmp/gonghui-bench.lock .venv/bin/python bench/contest_papers.py
    .venv/bin/python bench/contest_papers.py --candidates 10000 --only sqlite     # a short smoke run

For each database: create it empty (PostgreSQL: its own database `gonghui_bench_contest`, dropped and
created afresh; SQLite: a temporary file), migrate, set up the Jilin 2021 contest from its policy, fill
the fitter trade's bank (700 questions in 35 cells of type x knowledge area x difficulty), set a
100-question blueprint (60 single choice, 20 multiple choice, 20 true/false) and enter N candidates
(people and registrations written set-based) — none of which is timed. Then run `gonghui contest
papers --trade fitter` as a user would and time the whole process (wall clock, its CPU time and the load average when it starts), and
check the result: N papers, each with 100 questions. Prints one Markdown table row per run.
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
sys.path.insert(0, str(ROOT))

AREAS = ["安全文明生产", "识图与测量", "钳工基本操作", "装配与调试", "设备维护"]


def fresh_postgres(pg_url: str, name: str) -> str:
    import psycopg

    if not name.replace("_", "").isalnum():
        raise SystemExit(f"bench: bad database name {name!r}")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gonghui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gonghui", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


PREPARE = r"""
import sys
from decimal import Decimal
import django
django.setup()
from gonghui.competitions.models import Question, Registration
from gonghui.competitions.services import RowSpec, blueprint_set, contest_setup_from_policy
from gonghui.lib.bulk import RowWriter
from gonghui.orgs.services import org_create
from gonghui.people.models import Person

candidates = int(sys.argv[1])
areas = sys.argv[2].split(",")
org = org_create(code="JL220000", name="吉林省总工会", kind="federation")
contest = contest_setup_from_policy(policy_file="contest_jilin_2021.yaml", organiser=org)
trade = contest.trades.get(code="fitter")
cells = [("single", d, 4) for d in (1, 2, 3)] + [("multiple", d, 2) for d in (2, 3)] + [("true_false", d, 2) for d in (1, 2)]
questions, rows, number = [], [], 0
for qtype, difficulty, count in cells:
    for area in areas:
        for i in range(20):
            number += 1
            choice = qtype != "true_false"
            questions.append(Question(
                trade=trade, number=number, qtype=qtype, stem=f"{area}第{number}题", knowledge_area=area,
                options=[f"选项{j}" for j in range(4 if qtype == "single" else 5)] if choice else [],
                answer={"single": "A", "multiple": "AC", "true_false": "T"}[qtype],
                difficulty=difficulty, fingerprint=f"bench-{number}",
            ))
        rows.append(RowSpec(qtype, area, difficulty, count, Decimal(1)))
Question.objects.bulk_create(questions)
blueprint_set(trade=trade, rows=rows, time_limit_minutes=90)
people = RowWriter(Person)
people.insert([people.row(name=f"选手{i}") for i in range(candidates)])
first = Person.objects.order_by("id").values_list("id", flat=True).first()
registrations = RowWriter(Registration)
registrations.insert([
    registrations.row(trade_id=trade.pk, person_id=first + i, enterprise_name="一汽集团", ticket=f"{i:012d}")
    for i in range(candidates)
])
print(len(questions), sum(r.count for r in rows), Registration.objects.count())
"""

CHECK = r"""
import django
django.setup()
from django.db.models import Count
from gonghui.competitions.models import Paper
lengths = {len(q) for q in Paper.objects.values_list("questions", flat=True).iterator(chunk_size=5000)}
print(Paper.objects.count(), sorted(lengths))
"""


def run_once(engine: str, database_url: str, candidates: int, workdir: Path) -> dict:
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GONGHUI_VAR_DIR": str(workdir),
        "GONGHUI_DATA_KEY": Fernet.generate_key().decode(),
        "GONGHUI_SECRET_KEY": "bench-only",
        "DJANGO_SETTINGS_MODULE": "gonghui.settings",
    }
    migrated = gonghui(env, "migrate", "--no-input")
    if migrated.returncode:
        raise SystemExit(f"bench: migrate failed on {engine}: {migrated.stderr[-2000:]}")
    prepared = subprocess.run(
        [sys.executable, "-c", PREPARE, str(candidates), ",".join(AREAS)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if prepared.returncode:
        raise SystemExit(f"bench: preparing failed on {engine}: {prepared.stderr[-3000:]}")
    bank, per_paper, registered = (int(x) for x in prepared.stdout.split())
    load = os.getloadavg()[0]
    cpu_before, started = child_cpu(), time.perf_counter()
    result = gonghui(env, "contest", "papers", "--trade", "fitter")
    wall, cpu = time.perf_counter() - started, child_cpu() - cpu_before
    if result.returncode:
        raise SystemExit(f"bench: contest papers failed on {engine}: {result.stderr[-3000:]}")
    check = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=1)
    papers, lengths = int(check[0]), check[1].strip()
    if papers != registered or lengths != f"[{per_paper}]":
        raise SystemExit(
            f"bench: expected {registered} papers of {per_paper} questions, got {papers} {lengths}"
        )
    return {"engine": engine, "candidates": registered, "bank": bank, "per_paper": per_paper,
            "wall": wall, "cpu": cpu, "load": load, "out": result.stdout.strip()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-db", default="gonghui_bench_contest")
    args = parser.parse_args()
    print(f"# {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    print(
        "| database | candidates | bank | questions per paper | wall s | CPU s | papers/s | load average at start |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    engines = [args.only] if args.only else ["postgres", "sqlite"]
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="gonghui-bench-contest-") as tmp:
            workdir = Path(tmp)
            if engine == "postgres":
                url = fresh_postgres(args.pg_url, args.pg_db)
            else:
                url = f"sqlite:///{workdir / 'bench.sqlite3'}"
            row = run_once(engine, url, args.candidates, workdir)
            print(
                f"| {engine} | {row['candidates']:,} | {row['bank']} | {row['per_paper']} | {row['wall']:.1f} | "
                f"{row['cpu']:.1f} | {row['candidates'] / row['wall']:,.0f} | {row['load']:.1f} |"
            )
            print(f"<!-- {row['out']} -->")
            if engine == "postgres":
                import psycopg

                with psycopg.connect(args.pg_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
