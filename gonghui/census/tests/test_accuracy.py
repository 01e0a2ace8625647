"""Linkage accuracy on a generated messy census with ground truth (~3,000 people, ~7,000 rows)."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict

import pytest

from gonghui.census.linkage import load_thresholds, resolve
from gonghui.census.messy import SOURCES, generate_census, link_rows
from gonghui.census.types import PersonRecord


def _pairs(labels):
    groups = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    return {pair for members in groups.values() for pair in itertools.combinations(members, 2)}


def _import_file_by_file(truth, rows):
    """What the pipeline does: one file at a time against the people made so far (each earlier
    row passed as a record of its person); a review row counts as its provisional person."""
    thresholds = load_thresholds()
    assigned: list[int | None] = [None] * len(rows)
    next_person = 1
    files = defaultdict(list)
    for i, source_row in enumerate(truth.rows):
        files[source_row.source_file].append(i)
    for keys in files.values():
        known = [
            PersonRecord(
                person_id=assigned[i],
                name=r.name,
                id_hash=r.id_hash,
                id_last4=r.id_last4,
                phone_hash=r.phone_hash,
                birth_date=r.birth_date,
                sex=r.sex,
                region_code=r.region_code,
            )
            for i, r in enumerate(rows)
            if assigned[i] is not None
        ]
        new_person: dict[int, int] = {}
        for res in resolve([rows[i] for i in keys], known, thresholds=thresholds):
            if res.person_id is None:
                if res.new_cluster not in new_person:
                    new_person[res.new_cluster] = next_person
                    next_person += 1
                assigned[res.key] = new_person[res.new_cluster]
            else:
                assigned[res.key] = res.person_id
    return assigned


@pytest.fixture(scope="module")
def census(tmp_path_factory):
    out = tmp_path_factory.mktemp("census")
    truth = generate_census(people=3000, seed=20211101, out_dir=out)
    rows = link_rows(truth)
    return truth, rows, _import_file_by_file(truth, rows)


def test_it_reaches_pairwise_f1_of_at_least_0_995(census):
    truth, rows, assigned = census
    assert 6000 <= len(rows) <= 8000
    predicted, true = _pairs(assigned), _pairs([r.true_person for r in truth.rows])
    hits = len(predicted & true)
    precision, recall = hits / len(predicted), hits / len(true)
    f1 = 2 * precision * recall / (precision + recall)
    assert precision >= 0.998, precision
    assert f1 >= 0.995, (precision, recall, f1)


def test_it_keeps_the_generated_twins_and_common_names_apart(census):
    truth, _rows, assigned = census
    person_of_true: dict[int, set[int]] = defaultdict(set)
    for source_row, person in zip(truth.rows, assigned, strict=True):
        person_of_true[person].add(source_row.true_person)
    # twins: same surname, birth date and address, different people
    twins = [
        (a.index, b.index)
        for a, b in itertools.pairwise(truth.people)
        if a.address == b.address and a.identity.birth_date == b.identity.birth_date
    ]
    assert len(twins) >= 10
    merged = {frozenset(p) for p in person_of_true.values() if len(p) > 1}
    assert not any(frozenset(t) <= m for t in twins for m in merged)
    zhang_wei = {p.index for p in truth.people if p.identity.name == "张伟"}
    assert len(zhang_wei) >= 5
    assert all(len(true_people & zhang_wei) <= 1 for true_people in person_of_true.values())


def test_it_writes_files_and_truth_that_agree(tmp_path):
    truth = generate_census(people=200, seed=5, out_dir=tmp_path)
    again = generate_census(people=200, seed=5, out_dir=tmp_path / "again")
    assert [(r.source_file, r.source_row, r.true_person) for r in truth.rows] == [
        (r.source_file, r.source_row, r.true_person) for r in again.rows
    ]
    with truth.truth_path.open(encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == len(truth.rows)
    assert set(lines[0]) == {"source_file", "source_row", "true_person", "true_group"}
    # an xlsx with a title block: the header on row 3, the truth's row numbers as a spreadsheet shows them
    from openpyxl import load_workbook

    spec = SOURCES["hrss"]
    sheet = load_workbook(tmp_path / spec.file_name).active
    assert "摸底" in sheet.cell(1, 1).value and sheet.cell(3, 1).value == spec.columns[0][0]
    first = next(r for r in truth.rows if r.source_file == spec.file_name and r.source_row == 4)
    assert sheet.cell(4, 1).value == first.values["name"]
    # a GBK CSV with its own header words
    tax = SOURCES["tax"]
    with (tmp_path / tax.file_name).open(encoding="gb18030") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "纳税人名称"
    platform_rows = [r for r in truth.rows if r.source_file == SOURCES["platform"].file_name]
    assert platform_rows and all(
        not r.values.get("id_number") and r.values["id_last4"] for r in platform_rows
    )
