"""Entity resolution rules: exact ID, the different-ID hard rule, twins, common names, decisions."""

from __future__ import annotations

from datetime import date

import pytest

from gonghui.census.linkage import Thresholds, load_thresholds, name_pinyin, resolve
from gonghui.census.types import LinkRow, PersonRecord

TH = Thresholds(auto_link=0.95, review=0.3, provisional=0.5)


def row(key, name, *, id_hash="", last4="", phone="", born=None, sex="", region="", fp=None):
    return LinkRow(
        key=key,
        name=name,
        id_hash=id_hash,
        id_last4=last4,
        phone_hash=phone,
        birth_date=born,
        sex=sex,
        region_code=region,
        fingerprint=fp or f"fp{key}",
    )


def person(pid, name, *, id_hash="", last4="", phone="", born=None, sex="", region=""):
    return PersonRecord(
        person_id=pid,
        name=name,
        id_hash=id_hash,
        id_last4=last4,
        phone_hash=phone,
        birth_date=born,
        sex=sex,
        region_code=region,
    )


def by_key(resolutions):
    return {r.key: r for r in resolutions}


def test_it_reads_the_dated_policy():
    th = load_thresholds(date(2022, 1, 1))
    assert 0 < th.review <= th.provisional <= th.auto_link <= 1
    assert th.effective_from == date(2021, 11, 1)


def test_it_gives_homophones_and_traditional_forms_the_same_pinyin():
    assert name_pinyin("李伟")[0] == name_pinyin("李玮")[0] == "liwei"
    assert name_pinyin("張偉")[0] == name_pinyin("张伟")[0]
    assert name_pinyin("阿依古丽·买买提")[0] == name_pinyin("阿依古丽•买买提")[0]


def test_it_links_an_exact_id_hash_and_groups_rows_sharing_one():
    out = by_key(
        resolve(
            [row(0, "王建国", id_hash="A"), row(1, "王建國", id_hash="B"), row(2, "王 建国", id_hash="B")],
            [person(7, "王建国", id_hash="A")],
            thresholds=TH,
        )
    )
    assert (out[0].status, out[0].person_id, out[0].probability) == ("linked", 7, 1.0)
    assert out[1].status == out[2].status == "new"
    assert out[1].new_cluster == out[2].new_cluster


def test_it_never_joins_two_different_id_hashes_even_with_everything_else_equal():
    born = date(1990, 5, 1)
    same = dict(last4="1234", phone="P", born=born, sex="M", region="230803001001")
    out = by_key(
        resolve(
            [row(0, "张伟", id_hash="A", **same), row(1, "张伟", id_hash="B", **same)],
            [person(9, "张伟", id_hash="C", **same)],
            thresholds=TH,
        )
    )
    assert out[0].status == out[1].status == "new"
    assert out[0].new_cluster != out[1].new_cluster
    assert out[0].person_id is None and out[1].person_id is None


def test_it_keeps_twins_apart_when_one_list_has_no_id():
    born = date(1995, 3, 3)
    village = "230803001001"
    out = by_key(
        resolve(
            # the twin on a platform roster: no ID, own phone and last four
            [row(0, "刘海峰", last4="5511", phone="P2", region=village)],
            [
                person(
                    1, "刘海洋", id_hash="T1", last4="4412", phone="P1", born=born, sex="M", region=village
                ),
                person(
                    2, "刘海峰", id_hash="T2", last4="5511", phone="P2", born=born, sex="M", region=village
                ),
            ],
            thresholds=TH,
        )
    )
    assert (out[0].status, out[0].person_id) == ("linked", 2)
    twin_rows = [
        row(0, "刘海洋", id_hash="T1", born=born, sex="M", region=village),
        row(1, "刘海峰", last4="5511", phone="P2", born=born, sex="M", region=village),
    ]
    out = by_key(resolve(twin_rows, [], thresholds=TH))
    assert out[0].new_cluster != out[1].new_cluster


def test_it_does_not_merge_the_many_zhang_weis():
    rows = [
        row(
            i,
            "张伟",
            last4=f"{1000 + i}",
            phone=f"P{i}",
            born=date(1970 + i, 1, 1),
            sex="M",
            region="230803001001",
        )
        for i in range(12)
    ]
    people = [person(100 + i, "张伟", id_hash=f"H{i}", sex="M", region="230803001001") for i in range(5)]
    out = resolve(rows, people, thresholds=TH)
    assert all(r.status in ("new", "review") for r in out)
    assert all(r.person_id is None for r in out)
    assert len({r.new_cluster for r in out}) == 12


def test_it_leaves_a_name_without_corroboration_below_the_review_band():
    out = resolve(
        [row(0, "王芳", sex="F", region="230803001001")],
        [person(5, "王芳", sex="F", region="230803001001", phone="X", last4="1111")],
        thresholds=TH,
    )
    assert out[0].status == "new" and out[0].person_id is None


def test_it_links_a_homophone_typo_with_the_same_phone():
    out = resolve(
        [row(0, "李玮", phone="P", last4="2231")],
        [person(3, "李伟", id_hash="H", phone="P", last4="2231", born=date(1988, 8, 8), sex="M")],
        thresholds=TH,
    )
    assert (out[0].status, out[0].person_id) == ("linked", 3)


def test_it_links_a_traditional_form_with_the_same_last_four_and_birth_date():
    out = resolve(
        [row(0, "陳國華", last4="0427", born=date(1979, 2, 14), phone="Q")],
        [person(4, "陈国华", id_hash="H", last4="0427", born=date(1979, 2, 14), sex="M")],
        thresholds=TH,
    )
    assert (out[0].status, out[0].person_id) == ("linked", 4)


def test_it_respects_remembered_decisions():
    rows = [row(0, "李玮", phone="P", last4="2231", fp="F0")]
    people = [
        person(3, "李伟", id_hash="H", phone="P", last4="2231", sex="M"),
        person(8, "赵强", id_hash="K", phone="Z", last4="9999", sex="M"),
    ]
    # False: the link the model would make is forbidden
    out = resolve(rows, people, decisions={("F0", 3): False}, thresholds=TH)
    assert out[0].person_id != 3 and out[0].status == "new"
    # True: staff said so, whatever the score
    out = resolve(rows, people, decisions={("F0", 8): True}, thresholds=TH)
    assert (out[0].status, out[0].person_id, out[0].probability) == ("linked", 8, 1.0)
    # a decided person not among the records passed is linked all the same
    out = resolve(rows, [], decisions={("F0", 42): True}, thresholds=TH)
    assert (out[0].status, out[0].person_id) == ("linked", 42)


def test_it_sends_an_uncertain_pair_to_review_with_a_provisional_link():
    # same name and phone, but the birth date disagrees: likely, not certain
    out = resolve(
        [row(0, "周晓梅", phone="P", born=date(1990, 1, 2), sex="F")],
        [person(6, "周晓梅", id_hash="H", phone="P", born=date(1991, 6, 9), sex="F", last4="3333")],
        thresholds=TH,
    )
    assert out[0].status == "review"
    assert out[0].candidates and out[0].candidates[0][0] == 6
    if out[0].candidates[0][1] >= TH.provisional:
        assert out[0].person_id == 6
    else:
        assert out[0].person_id is None and out[0].new_cluster is not None


def test_it_accepts_several_records_of_one_person():
    out = resolve(
        [row(0, "孙丽", phone="P2", last4="7777")],
        [person(5, "孙丽", id_hash="H", phone="P1", last4="7777"), person(5, "孙丽", phone="P2")],
        thresholds=TH,
    )
    assert (out[0].status, out[0].person_id) == ("linked", 5)


def test_it_refuses_duplicate_keys():
    with pytest.raises(ValueError):
        resolve([row(0, "甲乙"), row(0, "丙丁")], [], thresholds=TH)


def test_it_takes_people_as_a_polars_frame():
    from gonghui.census.linkage import people_frame

    frame = people_frame(
        [person(5, "孙丽", id_hash="H", phone="P1", last4="7777"), person(6, "赵敏", phone="P9")]
    )
    out = by_key(resolve([row(0, "孙丽", phone="P1"), row(1, "孙丽", id_hash="H")], frame, thresholds=TH))
    assert (out[0].person_id, out[1].person_id) == (5, 5)
    assert out[1].status == "linked" and out[1].probability == 1.0
