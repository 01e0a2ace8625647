"""Speed and peak memory of the linkage step alone (census.linkage.resolve), no database.

    .venv/bin/python bench/linkage_speed.py 10000 100000 [1000000]

Rows come from the messy-census generator (cleaned as an import would); sizes above 200,000
repeat a 200,000-row census with the hashes, birth years and last ID digit shifted per copy, so
the copies are different people who share the names (more same-name candidates than a real
census, not fewer).
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gonghui.census.linkage import resolve  # noqa: E402
from gonghui.census.messy import generate_census, link_rows  # noqa: E402

BASE = 200_000


def rows_for(n: int):
    people = int(min(n, BASE) / 2.25) + 1
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate_census(people=people, seed=3, out_dir=Path(tmp))
    base = link_rows(truth)
    if n <= len(base):
        return base[:n]
    rows = []
    copy = 0
    while len(rows) < n:
        for r in base:
            if len(rows) >= n:
                break
            born = r.birth_date
            if born:
                born = date(
                    born.year - copy % 40, born.month, min(born.day, 28) if born.month == 2 else born.day
                )
            rows.append(
                dataclasses.replace(
                    r,
                    key=len(rows),
                    id_hash=shift(r.id_hash, copy),
                    phone_hash=shift(r.phone_hash, copy),
                    id_last4=r.id_last4[:3] + str((int(r.id_last4[3]) + copy) % 10)
                    if r.id_last4[3:].isdigit()
                    else r.id_last4,
                    birth_date=born,
                    fingerprint=shift(r.fingerprint, copy),
                )
            )
        copy += 1
    return rows


def shift(value: str, copy: int) -> str:
    return f"{value}{copy}" if value else ""


def main() -> None:
    for n in [int(a) for a in sys.argv[1:]] or [10_000, 100_000]:
        rows = rows_for(n)
        start = time.perf_counter()
        out = resolve(rows, [])
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        people = len({r.new_cluster for r in out})
        print(
            f"{n:>9} rows  {elapsed:6.1f} s  {n / elapsed:9.0f} rows/s  {people} people  peak RSS {peak:.0f} MB"
        )


if __name__ == "__main__":
    main()
