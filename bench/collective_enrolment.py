"""Collective enrolment (集中入会) of a 100,000-person roster on PostgreSQL, against a 60 s budget.

    flock /tmp/gonghui-bench.lock .venv/bin/python bench/collective_enrolment.py
    .venv/bin/python bench/collective_enrolment.py --people 10000 --pg-url postgres://postgres@127.0.0.1:5432/postgres

The script
1. writes (or reuses, cached by size and seed under the temp dir) one platform roster CSV of
   `--people` distinct workers (姓名, 身份证号 valid GB 11643 numbers, 手机号, 工作单位, 职业);
2. drops and creates its own PostgreSQL database (`gonghui_bench_members`), migrates, seeds the demo
   city (`gonghui demo seed`: 239 unions, 27,000 people already there) — none of this timed;
3. times, as a user runs them (child processes, Python start-up and Django set-up included):
   `gonghui members import-roster FILE --union T230811100` (the census import of the roster, then
   the enrolment: one INSERT ... SELECT of applications, their events, the consent records), with
   the census part and the enrolment part as the command reports them; then
   `gonghui members approve --union T230811100 --all-pending` (numbers assigned set-based);
4. checks the result (one active membership and one issued number per roster person, as many
   events) and runs the import again to show it enrols nobody twice.
It prints one line per step and a Markdown table row.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GONGHUI = str(ROOT / ".venv" / "bin" / "gonghui")
DB_NAME = "gonghui_bench_members"
UNION = "T230811100"  # 长发镇总工会 in the demo city (郊区)
SEED = 20211201
CACHE = Path(tempfile.gettempdir()) / "gonghui_bench_members"
BUDGET_SECONDS = 60.0

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰飞鹏辉鑫波宇浩然子涵雨欣梓萱一诺佳怡晨阳思远俊杰"
PLACES = ("371002", "410105", "130102", "220102", "150102", "510104", "610113", "320106")
EMPLOYERS = ("美团", "饿了么", "顺丰速运", "京东物流", "滴滴出行", "货拉拉")
JOBS = ("外卖骑手", "快递员", "网约车司机", "货车司机", "网约配送员")


def roster_csv(people: int, seed: int = SEED) -> Path:
    """One roster of `people` distinct, valid rows (cached by size and seed)."""
    from gonghui.lib.idcard import make_id_number

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"roster_{people}_{seed}.csv"
    if path.exists():
        return path
    rng = random.Random(seed)
    seen: set[str] = set()
    lines = ["序号,姓名,身份证号,手机号,工作单位,职业"]
    start = date(1970, 1, 1)
    while len(seen) < people:
        born = start + timedelta(days=rng.randrange(12_700))
        idn = make_id_number(rng.choice(PLACES), born, rng.randrange(1000))
        if idn in seen:
            continue
        seen.add(idn)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        lines.append(f"{len(seen)},{name},{idn},{phone},{rng.choice(EMPLOYERS)},{rng.choice(JOBS)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.rename(path)
    return path


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


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(cmd[1:3])} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return seconds, done.stdout, done.stderr


def check(db_url: str, people: int) -> dict[str, int]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "active": one("SELECT count(*) FROM membership_membership WHERE status = 'active'"),
            "pending": one("SELECT count(*) FROM membership_membership WHERE status = 'pending'"),
            "numbers": one("SELECT count(*) FROM membership_membernumber"),
            "events": one("SELECT count(*) FROM membership_membershipevent"),
            "consents": one("SELECT count(*) FROM people_consentrecord WHERE channel = 'roster'"),
            "people_twice": one(
                "SELECT count(*) FROM (SELECT person_id FROM membership_membership "
                "GROUP BY person_id HAVING count(*) > 1) t"
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()

    path = roster_csv(args.people, args.seed)
    print(f"roster: {path} ({args.people:,} people)", flush=True)
    db_url = fresh_database(args.pg_url)
    env = {**os.environ, "DATABASE_URL": db_url}
    try:
        for cmd in ([GONGHUI, "migrate", "-v0"], [GONGHUI, "demo", "seed"]):
            subprocess.run(
                cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        print("database migrated and demo city seeded (not timed)", flush=True)

        enrol_wall, out, err = timed([GONGHUI, "members", "import-roster", str(path), "--union", UNION], env)
        parts = re.search(r"census import ([\d.]+)s, enrolment ([\d.]+)s", err)
        census_s, enrol_s = (float(parts.group(1)), float(parts.group(2))) if parts else (float("nan"),) * 2
        print(f"import-roster: {enrol_wall:.1f} s wall (census {census_s:.1f} s, enrolment {enrol_s:.1f} s)")
        print("  " + out.strip().replace("\n", "\n  "), flush=True)

        approve_wall, out, _err = timed(
            [GONGHUI, "members", "approve", "--union", UNION, "--all-pending"], env
        )
        print(f"approve --all-pending: {approve_wall:.1f} s wall", flush=True)
        print("  " + out.strip().replace("\n", "\n  "), flush=True)

        counts = check(db_url, args.people)
        print(f"check: {counts}", flush=True)
        ok = counts["active"] == args.people == counts["numbers"] and counts["people_twice"] == 0

        again_wall, out, _err = timed([GONGHUI, "members", "import-roster", str(path), "--union", UNION], env)
        print(f"import-roster again: {again_wall:.1f} s — {out.strip().splitlines()[-1]}", flush=True)
        ok = ok and check(db_url, args.people) == counts  # nobody enrolled twice, nothing changed

        total = enrol_wall + approve_wall
        membership_part = total - census_s
        print()
        print(
            "| people | import-roster (s) | of which census (s) | of which enrolment (s) | approve (s) | total (s) | membership part (s) | within 60 s | checks |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---|---|")
        print(
            f"| {args.people:,} | {enrol_wall:.1f} | {census_s:.1f} | {enrol_s:.1f} | {approve_wall:.1f} | "
            f"{total:.1f} | {membership_part:.1f} | {'yes' if total <= BUDGET_SECONDS else 'no'} | "
            f"{'ok' if ok else 'FAILED'} |"
        )
        if not ok:
            raise SystemExit(1)
    finally:
        if not args.keep:
            drop_database(args.pg_url)


if __name__ == "__main__":
    main()
