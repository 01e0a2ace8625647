"""The import pipeline: counts, people made protected, idempotency, corrections, refusal, atomicity,
review decisions (state machine, scope, remembered on the next import, concurrency)."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import date

import pytest
from django.db import OperationalError, connections
from django.http import Http404

from gonghui.audit.models import AuditEvent
from gonghui.census import services
from gonghui.census.models import (
    BatchRow,
    BatchStatus,
    ImportBatch,
    LinkDecision,
    ReviewItem,
    ReviewStatus,
    RowStatus,
)
from gonghui.census.services import (
    CensusFileRefused,
    ReviewAlreadyDecided,
    census_import,
    census_import_start,
    census_preview,
    review_decide,
)
from gonghui.lib.crypto import decrypt
from gonghui.lib.idcard import make_id_number
from gonghui.people.models import Person
from gonghui.people.services import id_number_hash, phone_hash

HEADERS = ("姓名", "身份证号", "手机号", "职业", "工作单位")


def ident(seq: int, born: date = date(1990, 1, 1), place: str = "230811") -> str:
    return make_id_number(place, born, seq)


def census_csv(rows, headers=HEADERS, title: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in title or []:
        writer.writerow([line])
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


ZHANG = ("张建国", ident(1), "13800000001", "快递员", "")
LI = ("李秀英", ident(2, date(1985, 5, 6)), "13800000002", "外卖骑手", "")
WANG = ("王海峰", ident(3, date(1979, 2, 3)), "13800000003", "保安", "")
NO_NAME = ("", ident(5), "13800000005", "保安", "")


def counts() -> tuple[int, int, int, int]:
    return (
        Person.objects.count(),
        BatchRow.objects.count(),
        ReviewItem.objects.count(),
        ImportBatch.objects.count(),
    )


def do_import(data: bytes, file_name: str = "骑手名册.csv", source_kind: str = "platform", **kw):
    return census_import(source=data, file_name=file_name, source_kind=source_kind, **kw)


@pytest.mark.django_db
def test_it_imports_rows_into_people_with_protected_values_and_counts():
    result = do_import(census_csv([ZHANG, LI, WANG, NO_NAME]))
    batch = result.batch
    assert result.created and not result.unchanged
    assert batch.status == BatchStatus.DONE
    assert (batch.rows_total, batch.rows_valid, batch.rows_rejected) == (4, 3, 1)
    assert (batch.people_new, batch.people_linked, batch.rows_review) == (3, 0, 0)
    assert batch.name == "骑手名册" and batch.file_name == "骑手名册.csv"

    zhang = Person.objects.get(id_number_hash=id_number_hash(ZHANG[1]))
    assert zhang.name == "张建国"
    assert zhang.phone_hash == phone_hash(ZHANG[2])
    assert zhang.id_number_masked.endswith(ZHANG[1][-4:]) and ZHANG[1] not in zhang.id_number_masked
    assert decrypt(zhang.id_number_cipher) == ZHANG[1]
    assert zhang.group.code == "courier"
    assert Person.objects.get(id_number_hash=id_number_hash(LI[1])).group.code == "rider"

    rows = {r.row_number: r for r in BatchRow.objects.filter(batch=batch)}
    assert sorted(rows) == [2, 3, 4, 5]
    assert rows[2].person == zhang and rows[2].status == RowStatus.NEW
    assert rows[5].status == RowStatus.REJECTED and rows[5].person is None
    assert any(issue["column"] == "姓名" for issue in rows[5].issues)
    # The row as read is kept, encrypted: the plaintext ID is nowhere in the row's columns.
    assert ZHANG[1] in decrypt(rows[2].raw_cipher)
    assert ZHANG[1] not in rows[2].raw_cipher and ZHANG[1] not in str(
        rows[2].__dict__.get("id_number_masked")
    )
    assert AuditEvent.objects.filter(action="census.import", target_id=str(batch.pk)).count() == 1


@pytest.mark.django_db
def test_it_changes_nothing_when_the_same_file_comes_again():
    data = census_csv([ZHANG, LI, WANG, NO_NAME])
    first = do_import(data)
    before = counts()
    audits = AuditEvent.objects.count()
    second = do_import(data, file_name="renamed.csv")
    assert second.unchanged and not second.created
    assert second.batch.pk == first.batch.pk
    assert counts() == before
    assert AuditEvent.objects.count() == audits


@pytest.mark.django_db
def test_it_links_a_later_source_to_the_same_people_by_id_number():
    do_import(census_csv([ZHANG, LI]))
    people = Person.objects.count()
    second = do_import(census_csv([ZHANG, LI]), file_name="税务.csv", source_kind="tax")
    assert Person.objects.count() == people
    assert second.batch.people_linked == 2 and second.batch.people_new == 0
    assert set(BatchRow.objects.filter(batch=second.batch).values_list("status", flat=True)) == {
        RowStatus.LINKED
    }


@pytest.mark.django_db
def test_it_updates_people_from_a_corrected_version_and_supersedes_the_old_batch():
    first = do_import(census_csv([ZHANG, LI]))
    corrected_zhang = (ZHANG[0], ZHANG[1], "13900000009", ZHANG[3], ZHANG[4])
    second = do_import(census_csv([corrected_zhang, LI, WANG]))
    assert second.created and second.batch.supersedes_id == first.batch.pk
    zhang = Person.objects.get(id_number_hash=id_number_hash(ZHANG[1]))
    assert zhang.phone_hash == phone_hash("13900000009")
    assert zhang.phone_masked == "139****0009"
    assert Person.objects.filter(id_number_hash=id_number_hash(WANG[1])).exists()
    assert Person.objects.count() == 3
    assert (second.batch.people_new, second.batch.people_linked) == (1, 2)
    # A different source name is a different list, not a correction.
    third = do_import(census_csv([ZHANG]), file_name="另一份名册.csv")
    assert third.batch.supersedes_id is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "file_name", "kind", "reason"),
    [
        (b"\x00\x01\x02garbage\xff\xfe" * 50, "坏文件.xlsx", "platform", ""),
        (census_csv([("a", "b")], headers=("序号", "备注")), "无姓名.csv", "platform", "姓名"),
        (census_csv([ZHANG]), "名册.csv", "no_such_kind", "来源类型"),
    ],
)
def test_it_refuses_a_file_it_cannot_import_and_writes_nothing(data, file_name, kind, reason):
    before = counts()
    with pytest.raises(CensusFileRefused) as refused:
        do_import(data, file_name=file_name, source_kind=kind)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)
    assert counts() == before
    assert not AuditEvent.objects.filter(action="census.import").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("step", ["_create_rows", "_create_reviews", "_update_people"])
def test_it_leaves_nothing_when_the_write_fails_midway(monkeypatch, step):
    do_import(census_csv([LI]))  # someone known, so the update step has work
    before = counts()

    def crash(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services._Writer, step, crash)
    with pytest.raises(RuntimeError):
        do_import(census_csv([ZHANG, LI, WANG]), file_name="第二份.csv")
    assert counts() == before
    monkeypatch.undo()
    result = do_import(census_csv([ZHANG, LI, WANG]), file_name="第二份.csv")
    assert result.created and result.batch.rows_total == 3


@pytest.mark.django_db
def test_it_previews_masked_rows_without_writing():
    data = census_csv([ZHANG, LI, WANG], title=["佳木斯市骑手摸底登记表", "填报日期：2021年10月1日"])
    before = counts()
    preview = census_preview(source=data, file_name="骑手.csv")
    assert counts() == before
    assert preview.header_row == 3
    assert preview.row_count == 3
    assert preview.mapping["姓名"] == "name" and preview.mapping["身份证号"] == "id_number"
    first = preview.rows[0]
    assert first["name"] == "张建国"
    assert first["id_number"] == ZHANG[1][:6] + "********" + ZHANG[1][-4:]
    assert first["phone"] == "138****0001"
    assert ZHANG[2] not in str(preview) and ZHANG[1] not in str(preview)


@pytest.mark.django_db
def test_it_applies_a_hand_mapping():
    data = census_csv([("张建国", "13800000001")], headers=("师傅", "号码"))
    with pytest.raises(CensusFileRefused):
        do_import(data)
    result = do_import(data, manual_map={"师傅": "name", "号码": "phone"})
    assert result.batch.rows_valid == 1
    assert Person.objects.get().phone_hash == phone_hash("13800000001")


# --- background runs ------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_queues_an_upload_and_runs_it_with_progress(
    settings, tmp_path, world, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = True
    data = census_csv([ZHANG, LI])
    with django_capture_on_commit_callbacks(execute=True):
        batch = census_import_start(
            source=data,
            file_name="骑手.csv",
            source_kind="platform",
            org=world.suburb_fed,
            actor=world.district_user,
        )
    assert (tmp_path / "census" / "uploads" / batch.sha256).read_bytes() == data
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert batch.progress_total > 0 and batch.progress_done == batch.progress_total
    assert batch.imported_by == world.district_user and batch.org == world.suburb_fed
    assert batch.rows_total == 2 and Person.objects.count() == 2
    # The same file again: the done batch comes back, nothing queued.
    again = census_import_start(
        source=data, file_name="骑手.csv", source_kind="platform", org=world.suburb_fed
    )
    assert again.pk == batch.pk and ImportBatch.objects.count() == 1


@pytest.mark.django_db
def test_it_marks_a_queued_batch_failed_when_its_file_is_refused(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = True
    with pytest.raises(CensusFileRefused), django_capture_on_commit_callbacks(execute=True):
        census_import_start(source=b"\x00\xff" * 100, file_name="坏.xlsx", source_kind="platform")
    batch = ImportBatch.objects.get()
    assert batch.status == BatchStatus.FAILED and batch.error
    assert BatchRow.objects.count() == 0


def test_it_launches_background_runs_detached(monkeypatch, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seen = {}

    class FakePopen:
        def __init__(self, args, **kwargs):
            seen["args"], seen["kwargs"] = args, kwargs

    monkeypatch.setattr(services.subprocess, "Popen", FakePopen)
    monkeypatch.setenv("DATABASE_URL", "postgres://example/db")
    services._launch(42)
    assert seen["args"][1:] == ["-m", "gonghui", "census", "run-batch", "42"]
    assert seen["kwargs"]["start_new_session"] is True
    assert seen["kwargs"]["env"]["DATABASE_URL"] == "postgres://example/db"


# --- review decisions -----------------------------------------------------------------------


def _review_setup(world, monkeypatch):
    """A known person and a later row the linkage is unsure about (sent to review, provisionally linked)."""
    from gonghui.census.types import Resolution

    do_import(census_csv([ZHANG]), org=world.suburb_fed)
    zhang = Person.objects.get()
    real_resolve = services._resolve

    def unsure(prepared, known):
        return {
            key: Resolution(
                key=key, status="review", person_id=zhang.pk, probability=0.7, candidates=((zhang.pk, 0.7),)
            )
            for key, _item in enumerate(prepared)
        }

    monkeypatch.setattr(services, "_resolve", unsure)
    row = ("张建国", "", "13911112222", "快递员", "")
    batch = do_import(
        census_csv([row]), file_name="协会.csv", source_kind="association", org=world.suburb_fed
    ).batch
    monkeypatch.setattr(services, "_resolve", real_resolve)
    item = ReviewItem.objects.get(row__batch=batch)
    return zhang, batch, item


@pytest.mark.django_db
def test_it_writes_review_items_for_uncertain_rows(world, monkeypatch):
    zhang, batch, item = _review_setup(world, monkeypatch)
    assert batch.rows_review == 1
    assert item.candidate == zhang and item.status == ReviewStatus.OPEN
    assert item.row.status == RowStatus.REVIEW and item.row.person == zhang


@pytest.mark.django_db
def test_it_confirms_a_review_item_once(world, monkeypatch):
    zhang, _batch, item = _review_setup(world, monkeypatch)
    decided = review_decide(viewer=world.district_user, item=item, same_person=True)
    assert decided.status == ReviewStatus.CONFIRMED and decided.decided_by == world.district_user
    row = BatchRow.objects.get(pk=item.row_id)
    assert row.status == RowStatus.LINKED and row.person == zhang
    assert LinkDecision.objects.get(fingerprint=row.fingerprint).same_person is True
    assert AuditEvent.objects.filter(action="census.review_decide").count() == 1
    with pytest.raises(ReviewAlreadyDecided):
        review_decide(viewer=world.district_user, item=item, same_person=False)
    assert BatchRow.objects.get(pk=item.row_id).person == zhang


@pytest.mark.django_db
def test_it_gives_a_rejected_row_its_own_person(world, monkeypatch):
    zhang, _batch, item = _review_setup(world, monkeypatch)
    review_decide(viewer=world.city_user, item=item, same_person=False)
    row = BatchRow.objects.get(pk=item.row_id)
    assert row.person != zhang and row.status == RowStatus.NEW
    assert row.person.name == "张建国"
    assert row.person.phone_hash == phone_hash("13911112222")
    assert decrypt(row.person.phone_cipher) == "13911112222"
    decision = LinkDecision.objects.get(fingerprint=row.fingerprint)
    assert decision.person == zhang and decision.same_person is False


@pytest.mark.django_db
def test_it_refuses_a_review_decision_outside_the_viewers_subtree(world, monkeypatch):
    _zhang, _batch, item = _review_setup(world, monkeypatch)
    with pytest.raises(Http404):
        review_decide(viewer=world.sibling_user, item=item, same_person=True)
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN and not LinkDecision.objects.exists()


@pytest.mark.django_db
def test_it_keeps_review_decisions_on_the_next_import(world, monkeypatch):
    zhang, _batch, item = _review_setup(world, monkeypatch)
    review_decide(viewer=world.district_user, item=item, same_person=True)
    # A new file naming the same row (another source): the decision stands, no new review.
    row = ("张建国", "", "13911112222", "快递员", "")
    later = do_import(
        census_csv([row, WANG]), file_name="人社.csv", source_kind="hrss", org=world.suburb_fed
    ).batch
    again = BatchRow.objects.get(batch=later, row_number=2)
    assert again.status == RowStatus.LINKED and again.person == zhang
    assert not ReviewItem.objects.filter(row__batch=later).exists()


@pytest.mark.django_db
def test_it_keeps_a_rejection_on_the_next_import(world, monkeypatch):
    zhang, _batch, item = _review_setup(world, monkeypatch)
    review_decide(viewer=world.district_user, item=item, same_person=False)
    own = BatchRow.objects.get(pk=item.row_id).person
    row = ("张建国", "", "13911112222", "快递员", "")
    later = do_import(census_csv([row]), file_name="人社.csv", source_kind="hrss", org=world.suburb_fed).batch
    again = BatchRow.objects.get(batch=later)
    assert again.person != zhang
    assert again.person == own


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_only_one_of_two_concurrent_confirmations_win(world, monkeypatch):
    _zhang, _batch, item = _review_setup(world, monkeypatch)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(viewer, same):
        barrier.wait()
        try:
            for _attempt in range(200):
                try:
                    review_decide(viewer=viewer, item=item, same_person=same)
                    outcomes.append("won")
                    return
                except ReviewAlreadyDecided:
                    outcomes.append("already")
                    return
                except OperationalError as exc:
                    # The tests' in-memory SQLite shares one cache between threads and answers
                    # "table is locked" at once instead of waiting like a real database: wait here.
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.01)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=decide, args=(world.city_user, True)),
        threading.Thread(target=decide, args=(world.district_user, False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already", "won"]
    item.refresh_from_db()
    assert item.status in (ReviewStatus.CONFIRMED, ReviewStatus.REJECTED)
    assert LinkDecision.objects.count() == 1
    assert AuditEvent.objects.filter(action="census.review_decide").count() == 1


@pytest.mark.django_db
def test_it_resolves_employer_and_region_and_updates_them_from_a_newer_source(world):
    from gonghui.lib.creditcode import make_credit_code
    from gonghui.orgs.models import Employer

    sf = Employer.objects.create(credit_code=make_credit_code(1), name="顺丰速运佳木斯分公司")
    meituan = Employer.objects.create(credit_code=make_credit_code(2), name="美团骑手站点")
    headers = (*HEADERS, "所属社区")
    do_import(
        census_csv(
            [("张建国", ZHANG[1], ZHANG[2], "快递员", "顺丰速运佳木斯分公司", "郊区长发镇")], headers=headers
        )
    )
    zhang = Person.objects.get()
    assert (zhang.employer, zhang.work_region, zhang.group.code) == (sf, world.suburb_town, "courier")

    newer = [("张建国", ZHANG[1], "", "外卖骑手", "美团骑手站点", "前进区永安街道")]
    result = do_import(census_csv(newer, headers=headers), file_name="美团.csv")
    assert result.people_updated == 1
    zhang.refresh_from_db()
    assert (zhang.employer, zhang.work_region, zhang.group.code) == (meituan, world.qianjin_street, "rider")
    # What the newer source leaves blank (the phone) is kept; the ID number is untouched.
    assert zhang.phone_hash == phone_hash(ZHANG[2])
    assert decrypt(zhang.id_number_cipher) == ZHANG[1]


@pytest.mark.django_db
def test_it_moves_a_rejected_row_to_the_next_open_candidate(world, monkeypatch):
    from gonghui.census.types import Resolution

    do_import(census_csv([ZHANG, LI]), org=world.suburb_fed)
    zhang = Person.objects.get(id_number_hash=id_number_hash(ZHANG[1]))
    li = Person.objects.get(id_number_hash=id_number_hash(LI[1]))

    def unsure(prepared, known):
        return {
            key: Resolution(
                key=key,
                status="review",
                person_id=zhang.pk,
                probability=0.8,
                candidates=((zhang.pk, 0.8), (li.pk, 0.6)),
            )
            for key, _item in enumerate(prepared)
        }

    monkeypatch.setattr(services, "_resolve", unsure)
    batch = do_import(
        census_csv([("张建国", "", "", "快递员", "")]), file_name="b.csv", org=world.suburb_fed
    ).batch
    first, second = ReviewItem.objects.filter(row__batch=batch).order_by("-match_probability")
    assert (first.candidate, second.candidate) == (zhang, li)
    review_decide(viewer=world.district_user, item=first, same_person=False)
    row = BatchRow.objects.get(batch=batch)
    assert row.person == li and row.status == RowStatus.REVIEW
    review_decide(viewer=world.district_user, item=second, same_person=False)
    row.refresh_from_db()
    assert row.person not in (zhang, li) and row.status == RowStatus.NEW
    assert Person.objects.count() == 3


def test_it_hands_a_failure_of_the_write_ahead_helper_to_the_writer():
    def chunks():
        yield [1]
        raise RuntimeError("encryption key missing")

    seen = []
    with pytest.raises(RuntimeError, match="encryption key missing"):
        for chunk in services._ahead(chunks()):
            seen.append(chunk)
    assert seen == [[1]]
    # A writer that stops early stops the helper too (no thread left behind).
    endless = services._ahead(iter(lambda: [0], None))
    next(endless)
    endless.close()
    assert not [t for t in threading.enumerate() if t.name == "census-write-ahead"]


@pytest.mark.django_db
def test_it_marks_a_background_batch_failed_when_the_write_breaks_and_reruns_it(
    settings, tmp_path, monkeypatch
):
    from gonghui.census.tasks import run_batch

    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = False
    batch = census_import_start(source=census_csv([ZHANG, LI]), file_name="q.csv", source_kind="hrss")

    def crash(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services._Writer, "_create_rows", crash)
    with pytest.raises(RuntimeError):
        run_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and "RuntimeError" in batch.error
    assert not Person.objects.exists() and not BatchRow.objects.exists()
    monkeypatch.undo()
    assert run_batch(batch.pk).batch.pk == batch.pk
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and batch.rows_total == 2 and not batch.error


@pytest.mark.django_db
def test_it_drops_the_provisional_new_person_when_the_row_is_confirmed_as_someone_known(world, monkeypatch):
    from gonghui.census.types import Resolution

    do_import(census_csv([ZHANG]), org=world.suburb_fed)
    zhang = Person.objects.get()

    def unsure(prepared, known):
        return {
            key: Resolution(
                key=key, status="review", new_cluster=0, probability=0.3, candidates=((zhang.pk, 0.3),)
            )
            for key, _item in enumerate(prepared)
        }

    monkeypatch.setattr(services, "_resolve", unsure)
    batch = do_import(
        census_csv([("张建国", "", "13911112222", "快递员", "")]), file_name="b.csv", org=world.suburb_fed
    ).batch
    row = BatchRow.objects.get(batch=batch)
    assert row.person != zhang and Person.objects.count() == 2
    assert batch.people_new == 1
    review_decide(viewer=world.district_user, item=ReviewItem.objects.get(row=row), same_person=True)
    row.refresh_from_db()
    assert row.person == zhang and row.status == RowStatus.LINKED
    assert Person.objects.count() == 1


@pytest.mark.django_db
def test_it_keeps_unchanged_rows_of_a_corrected_version_with_their_people():
    name_only = ("赵小兰", "", "", "家政", "")
    first = do_import(census_csv([ZHANG, name_only]))
    zhao = BatchRow.objects.get(batch=first.batch, row_number=3).person
    assert zhao is not None and Person.objects.count() == 2
    corrected = (ZHANG[0], ZHANG[1], "13900000009", ZHANG[3], ZHANG[4])
    second = do_import(census_csv([corrected, name_only, WANG]))
    assert second.batch.supersedes == first.batch
    # A name alone cannot be linked by score, but the same row in the corrected file is the same person.
    assert BatchRow.objects.get(batch=second.batch, row_number=3).person == zhao
    assert Person.objects.count() == 3
    # A different list naming 赵小兰 alone is another matter: too little to say it is her.
    do_import(census_csv([name_only]), file_name="别的名册.csv")
    assert Person.objects.count() == 4


@pytest.mark.parametrize(
    ("id_number", "phone"), [(ident(7), "13800000007"), (ident(8), ""), ("", "13800000009"), ("", "")]
)
def test_it_writes_people_columns_equal_to_protected_fields(id_number, phone):
    from gonghui.census.types import CleanRow
    from gonghui.people.services import protected_fields

    item = services._prepare([CleanRow(row_number=2, name="张三", id_number=id_number, phone=phone)], [{}])[0]
    fast = services._protected_columns(item)
    slow = protected_fields(id_number=id_number or None, phone=phone or None)
    assert fast.keys() == slow.keys()
    for key, value in slow.items():
        assert (decrypt(fast[key]) if key.endswith("_cipher") else fast[key]) == (
            decrypt(value) if key.endswith("_cipher") else value
        )
    services._check_protected_columns(item)


def test_it_raises_the_error_of_work_done_beside_the_linkage():
    def broken():
        raise RuntimeError("no key")

    ran = []
    with pytest.raises(RuntimeError, match="no key"), services._beside(broken):
        ran.append("block")
    assert ran == ["block"]
    done = []
    with services._beside(lambda: done.append("work")):
        pass
    assert done == ["work"]


@pytest.mark.django_db
def test_it_remembers_the_last_four_of_a_person_known_without_an_id_number():
    last4_only = census_csv(
        [("张建国", ident(1)[-4:], "13800000001")], headers=("姓名", "身份证后四位", "手机号")
    )
    first = do_import(last4_only).batch
    person = BatchRow.objects.get(batch=first).person
    assert person.id_number_masked == ""
    # A later list has the full ID number (same last four) and another phone: without the last
    # four the person is a name alone and the row would make a second person.
    later = do_import(
        census_csv([("张建国", ident(1), "13900000009", "", "")]), file_name="税务.csv", source_kind="tax"
    )
    row = BatchRow.objects.get(batch=later.batch)
    assert row.person_id == person.pk and row.status in (RowStatus.LINKED, RowStatus.REVIEW)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_refuses_rows_naming_a_person_that_does_not_exist_and_leaves_nothing(monkeypatch):
    # The rows' foreign keys are checked set-based on PostgreSQL (triggers off during the COPY)
    # and row by row elsewhere: either way a dangling key fails the batch and writes nothing.
    from django.db import IntegrityError, connection

    do_import(census_csv([LI]))
    before = counts()
    monkeypatch.setattr(services._Writer, "_row_person", lambda self, res, cluster_people: 10**12)
    with pytest.raises(IntegrityError):
        do_import(census_csv([ZHANG, WANG]), file_name="悬空.csv")
    assert counts() == before
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'census_batchrow'::regclass AND tgenabled <> 'O'"
            )
            assert cursor.fetchone()[0] == 0  # no trigger left switched off
    monkeypatch.undo()
    assert do_import(census_csv([ZHANG, WANG]), file_name="悬空.csv").batch.rows_total == 2


@pytest.mark.django_db
def test_it_cleans_a_large_file_in_worker_processes_exactly_as_in_one(monkeypatch):
    # Forked workers clean chunks from the end while this process cleans from the start: the
    # rows, hashes, fingerprints and rows as read must be the same, in file order.
    rows = [ZHANG, LI, WANG, NO_NAME] + [
        (f"{'張' if i % 3 else '张'} 三{i}", ident(100 + i), f"138 0000 {i:04d}", "外卖员", "美团")
        for i in range(40)
    ]
    data = census_csv(rows)
    table = services._read(data, "骑手名册.csv", None, None)
    monkeypatch.setattr(services, "PARALLEL_FROM", 10**9)
    alone = services._clean_and_prepare(
        table, source_kind="platform", source_name="x", progress=lambda d: None
    )
    monkeypatch.setattr(services, "PARALLEL_FROM", 1)
    monkeypatch.setattr(services, "CLEAN_CHUNK", 5)
    monkeypatch.setattr(services, "_clean_workers", lambda total: 1)
    done = []
    shared = services._clean_and_prepare(table, source_kind="platform", source_name="x", progress=done.append)
    assert table.rows == [None] * len(rows)  # let go as cleaned
    assert [p.clean for p in shared] == [p.clean for p in alone]
    assert [p.clean.row_number for p in shared] == list(range(2, 2 + len(rows)))
    assert [(p.id_hash, p.phone_hash, p.fingerprint) for p in shared] == [
        (p.id_hash, p.phone_hash, p.fingerprint) for p in alone
    ]
    assert [decrypt(p.raw_cipher) for p in shared] == [decrypt(p.raw_cipher) for p in alone]
    assert done[-1] == len(rows)
    # And the import through that path writes the same people as through one process.
    result = do_import(data)
    assert (result.batch.rows_total, result.batch.rows_rejected) == (len(rows), 1)
    assert Person.objects.count() == len(rows) - 1


def test_it_switches_the_cycle_collector_off_only_while_reading_and_cleaning():
    import gc

    assert gc.isenabled()
    with services._no_cycle_collection() as settle:
        assert not gc.isenabled()
        made_before = [object()]
        settle()
        assert gc.isenabled() and gc.get_freeze_count() > 0  # what exists is no longer walked
        assert made_before
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with services._no_cycle_collection() as settle:
            settle()
            assert not gc.isenabled()
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
