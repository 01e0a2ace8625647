"""Linkage accuracy of the whole census pipeline, as the held-out judge measures it.

Generates the messy census (gonghui.census.messy), imports every file with the command line
into a scratch SQLite database, exports the links and scores them against truth.csv: pairwise
precision / recall / F1 over rows, and the share of real people whose group is right.

    .venv/bin/python bench/census_accuracy.py --people 3000 --seed 1
    .venv/bin/python bench/census_accuracy.py --people 17500 --seed 2 --misses 20

--misses N prints N missed pairs (rows of one real person given to two person records) with
what each row had, to see what the linkage lacked.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from math import comb
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GONGHUI = str(Path(sys.executable).parent / "gonghui")  # the CLI of the interpreter running this


def run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([GONGHUI, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"gonghui {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default="", help="SQLite file (default: a fresh temporary one)")
    parser.add_argument("--misses", type=int, default=0, help="print this many missed pairs")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="census_acc_"))
    db = Path(options.db or work / "acc.sqlite3")
    if db.exists():
        db.unlink()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from gonghui.census.messy import generate_census

    run("migrate", "--noinput", "-v", "0", env=env)
    run("regions", "load", env=env)
    truth = generate_census(people=options.people, seed=options.seed, out_dir=work / "census")
    started = time.monotonic()
    for file_name, kind in truth.files.items():
        run("census", "import", str(work / "census" / file_name), "--source", kind, env=env)
    imported = time.monotonic() - started
    links_path = work / "links.csv"
    run("census", "export-links", str(links_path), env=env)
    with links_path.open(encoding="utf-8", newline="") as handle:
        links = list(csv.DictReader(handle))

    true_person = {(r.source_file, str(r.source_row)): r.true_person for r in truth.rows}
    values_of = {(r.source_file, str(r.source_row)): r.values for r in truth.rows}
    true_group = {r.true_person: r.true_group for r in truth.rows}
    assert len(links) == len(true_person), (len(links), len(true_person))

    cell: Counter = Counter()
    predicted: Counter = Counter()
    true_sizes: Counter = Counter()
    for index, link in enumerate(links):
        who = true_person[(link["source_file"], link["source_row"])]
        person = link["person_id"] or f"alone-{index}"
        cell[(person, who)] += 1
        predicted[person] += 1
        true_sizes[who] += 1
    together = sum(comb(n, 2) for n in cell.values())
    predicted_pairs = sum(comb(n, 2) for n in predicted.values())
    true_pairs = sum(comb(n, 2) for n in true_sizes.values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall)

    from gonghui.people.models import Person

    group_of = dict(Person.objects.values_list("id", "group__code"))
    rows_of: dict[str, Counter] = defaultdict(Counter)
    for link in links:
        if link["person_id"]:
            rows_of[true_person[(link["source_file"], link["source_row"])]][int(link["person_id"])] += 1
    right = sum(
        1
        for who, group in true_group.items()
        if rows_of[who] and group_of.get(rows_of[who].most_common(1)[0][0]) == group
    )
    statuses = Counter(link["status"] for link in links)
    print(
        f"people {options.people} seed {options.seed}: {len(links)} rows, import {imported:.0f}s, "
        f"statuses {dict(statuses)}"
    )
    print(
        f"pairwise precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}; "
        f"group right for {right / len(true_group):.2%} of {len(true_group)} people"
    )

    if options.misses:
        by_person: dict[str, list[dict[str, str]]] = defaultdict(list)
        for link in links:
            by_person[true_person[(link["source_file"], link["source_row"])]].append(link)
        split = [rows for rows in by_person.values() if len({r["person_id"] or id(r) for r in rows}) > 1]
        print(f"{len(split)} real people split over several person records; a sample:")
        for rows in random.Random(0).sample(split, min(options.misses, len(split))):
            print("--")
            for link in rows:
                values = values_of[(link["source_file"], link["source_row"])]
                shown = {k: v for k, v in values.items() if v and k in _SHOWN}
                print(
                    f"  person {link['person_id'] or '-':>6} {link['status']:<8} {link['source_file']:<24} {shown}"
                )


_SHOWN = {"name", "id_number", "id_last4", "phone", "birth_date", "sex", "county", "region"}

if __name__ == "__main__":
    main()
