"""End to end on the messy-census generator: import every file with the command line, export the
links, and score them against the ground truth (pairwise F1 of the linkage, group of each person)."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from math import comb
from pathlib import Path

import pytest
from django.core.management import call_command

from gonghui.census.messy import generate_census
from gonghui.people.models import Person
from gonghui.regions.services import regions_load_csv

REGIONS_CSV = Path(__file__).resolve().parents[2] / "regions" / "data" / "jiamusi.csv"


def pairwise_scores(
    links: list[dict[str, str]], truth: dict[tuple[str, str], str]
) -> tuple[float, float, float]:
    """Precision, recall and F1 over pairs of rows: predicted same person vs truly same person.

    A row without a person (rejected) is a cluster of its own.
    """
    predicted: dict[str, list[str]] = defaultdict(list)
    cell: Counter = Counter()
    true_sizes: Counter = Counter()
    for index, link in enumerate(links):
        key = (link["source_file"], link["source_row"])
        person = link["person_id"] or f"alone-{index}"
        predicted[person].append(truth[key])
        cell[(person, truth[key])] += 1
        true_sizes[truth[key]] += 1
    together = sum(comb(n, 2) for n in cell.values())
    predicted_pairs = sum(comb(len(rows), 2) for rows in predicted.values())
    true_pairs = sum(comb(n, 2) for n in true_sizes.values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def test_pairwise_scores_count_pairs():
    truth = {("f", "2"): "a", ("f", "3"): "a", ("f", "4"): "b", ("f", "5"): "b"}
    perfect = [
        {"source_file": "f", "source_row": r, "person_id": p}
        for r, p in (("2", "1"), ("3", "1"), ("4", "2"), ("5", "2"))
    ]
    assert pairwise_scores(perfect, truth) == (1.0, 1.0, 1.0)
    merged = [{"source_file": "f", "source_row": r, "person_id": "1"} for r in "2345"]
    precision, recall, _f1 = pairwise_scores(merged, truth)
    assert (precision, recall) == (2 / 6, 1.0)
    split = [{"source_file": "f", "source_row": r, "person_id": ""} for r in "2345"]
    assert pairwise_scores(split, truth)[1] == 0.0


@pytest.mark.django_db
def test_it_links_the_messy_census_as_the_truth_says(tmp_path):
    regions_load_csv(source=REGIONS_CSV)
    truth = generate_census(people=600, seed=11, out_dir=tmp_path / "census")
    for file_name, kind in truth.files.items():
        out = io.StringIO()
        call_command(
            "census",
            "import",
            str(tmp_path / "census" / file_name),
            "--source",
            kind,
            stdout=out,
            stderr=io.StringIO(),
        )
        assert out.getvalue().strip()
    links_path = tmp_path / "links.csv"
    call_command("census", "export-links", str(links_path), stdout=io.StringIO())
    with links_path.open(encoding="utf-8", newline="") as handle:
        links = list(csv.DictReader(handle))
    with truth.truth_path.open(encoding="utf-8", newline="") as handle:
        truth_rows = list(csv.DictReader(handle))
    assert len(links) == len(truth_rows)
    true_person = {(r["source_file"], r["source_row"]): r["true_person"] for r in truth_rows}
    assert {(link["source_file"], link["source_row"]) for link in links} == set(true_person)

    precision, recall, f1 = pairwise_scores(links, true_person)
    print(f"pairwise precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f} over {len(links)} rows")
    assert f1 >= 0.995, (precision, recall, f1)

    # The group of each real person: the group of the person record most of their rows link to.
    true_group = {r["true_person"]: r["true_group"] for r in truth_rows}
    rows_of: dict[str, Counter] = defaultdict(Counter)
    for link in links:
        if link["person_id"]:
            rows_of[true_person[(link["source_file"], link["source_row"])]][int(link["person_id"])] += 1
    group_of = dict(Person.objects.values_list("id", "group__code"))
    right = sum(
        1
        for who, group in true_group.items()
        if rows_of[who] and group_of.get(rows_of[who].most_common(1)[0][0]) == group
    )
    accuracy = right / len(true_group)
    print(f"group right for {accuracy:.2%} of {len(true_group)} people")
    assert accuracy >= 0.98
