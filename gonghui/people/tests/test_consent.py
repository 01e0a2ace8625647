"""Consent (PIPL): versioned texts as data, consent recorded with its version, items and time, append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gonghui.audit.models import AuditEvent
from gonghui.people.consent import (
    ConsentPolicyError,
    consent_text,
    consent_text_version,
    consent_versions,
)
from gonghui.people.models import ConsentChannel, ConsentRecord
from gonghui.people.services import ConsentError, consent_record, consent_record_bulk

from .factories import PersonFactory

pytestmark = pytest.mark.django_db

VERSION = "2026.1"
ALL_ITEMS = ["notice", "id_number", "phone"]


# the texts


def test_it_reads_the_membership_text_in_force_with_notice_and_separate_sensitive_items():
    text = consent_text("membership", on=dt.date(2026, 6, 1))
    assert text.version == VERSION
    assert text.item_codes == ("notice", "id_number", "phone")
    assert "个人信息保护法" in text.notices["zh"]
    assert text.notices["en"].startswith("The Jiamusi")
    assert text.issuer == "佳木斯市总工会"
    assert consent_text_version("membership", VERSION) == text


def test_it_has_no_text_before_the_first_version_took_effect():
    with pytest.raises(ConsentPolicyError):
        consent_text("membership", on=dt.date(2025, 12, 31))
    with pytest.raises(ConsentPolicyError):
        consent_text_version("membership", "1999.1")


def test_it_picks_the_later_version_from_its_date_and_refuses_a_text_without_the_notice(tmp_path):
    (tmp_path / "x.yaml").write_text(
        """
issuer: 某工会
document: 告知书
versions:
  - version: "1"
    effective: 2025-01-01
    title: 旧
    notice: 旧告知
    items: [{code: notice, label: 同意}]
  - version: "2"
    effective: 2026-03-01
    title: 新
    notice: {zh: 新告知, en: new notice}
    items: [{code: notice, label: 同意}, {code: phone, label: 手机号}]
""",
        encoding="utf-8",
    )
    assert consent_text("x", on=dt.date(2026, 2, 28), directory=tmp_path).version == "1"
    assert consent_text("x", on=dt.date(2026, 3, 1), directory=tmp_path).version == "2"
    (tmp_path / "bad.yaml").write_text(
        "issuer: a\ndocument: b\nversions:\n  - {version: '1', effective: 2025-01-01, title: t, notice: n,"
        " items: [{code: phone, label: p}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConsentPolicyError, match="notice"):
        consent_versions("bad", tmp_path)


# recording one consent


def test_it_records_a_consent_with_its_version_items_channel_and_time_and_audits_it():
    person = PersonFactory()
    before = dt.datetime.now(dt.UTC)
    record = consent_record(
        person=person,
        purpose="membership",
        version=VERSION,
        items=["phone", "notice", "id_number", "phone"],
        channel=ConsentChannel.ONLINE,
    )
    record.refresh_from_db()
    assert record.person == person
    assert (record.purpose, record.version, record.channel) == ("membership", VERSION, "online")
    assert record.items == ALL_ITEMS  # in the text's order, once each
    assert record.given_at >= before - dt.timedelta(seconds=1)
    event = AuditEvent.objects.get(action="consent.record")
    assert event.target_id == str(person.pk)
    assert event.detail == {
        "purpose": "membership",
        "version": VERSION,
        "items": ALL_ITEMS,
        "channel": "online",
    }


@pytest.mark.parametrize(
    ("version", "items", "channel", "message"),
    [
        ("1999.1", ALL_ITEMS, "online", "没有版本 1999.1"),
        (VERSION, ["notice", "bank_card"], "online", "bank_card"),
        (VERSION, ["id_number", "phone"], "online", "notice"),
        (VERSION, ALL_ITEMS, "carrier-pigeon", "carrier-pigeon"),
    ],
)
def test_it_refuses_an_unknown_version_item_or_channel_and_writes_nothing(version, items, channel, message):
    person = PersonFactory()
    with pytest.raises(ConsentError, match=message):
        consent_record(person=person, purpose="membership", version=version, items=items, channel=channel)
    assert not ConsentRecord.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="consent").exists()


def test_a_consent_record_is_never_rewritten():
    record = consent_record(
        person=PersonFactory(), purpose="membership", version=VERSION, items=ALL_ITEMS, channel="online"
    )
    record.channel = "api"
    with pytest.raises(ValueError, match="append-only"):
        record.save()
    assert ConsentRecord.objects.get().channel == "online"


# recording a roster's consents at once


def test_it_records_a_rosters_consents_in_a_few_statements(django_user_model):
    people = PersonFactory.create_batch(5)
    staff = django_user_model.objects.create_user(username="enrol", password="x")
    ids = [p.pk for p in people] + [people[0].pk]  # one id given twice
    with CaptureQueriesContext(connection) as queries:
        written = consent_record_bulk(
            person_ids=ids,
            purpose="membership",
            version=VERSION,
            items=["notice", "id_number"],
            channel=ConsentChannel.ROSTER,
            by=staff,
            reference="census batch 7",
        )
    assert written == 5
    assert len(queries) <= 6  # savepoint, insert, audit row: not one insert per person
    rows = list(ConsentRecord.objects.order_by("person_id"))
    assert [r.person_id for r in rows] == sorted(p.pk for p in people)
    assert {(r.version, r.channel, r.reference, r.by_id) for r in rows} == {
        (VERSION, "roster", "census batch 7", staff.pk)
    }
    assert all(r.items == ["notice", "id_number"] for r in rows)
    assert len({r.given_at for r in rows}) == 1
    event = AuditEvent.objects.get(action="consent.record_bulk")
    assert event.actor == staff
    assert event.detail["count"] == 5


def test_a_bulk_consent_for_many_people_crosses_the_sqlite_chunk():
    people = PersonFactory.create_batch(3)
    # Ids past the chunk size that are not people: the whole call is refused, nothing written.
    with pytest.raises(ConsentError, match="不存在"):
        consent_record_bulk(
            person_ids=[p.pk for p in people] + list(range(10**9, 10**9 + 1000)),
            purpose="membership",
            version=VERSION,
            items=ALL_ITEMS,
            channel="roster",
        )
    assert not ConsentRecord.objects.exists()
    assert (
        consent_record_bulk(
            person_ids=[], purpose="membership", version=VERSION, items=ALL_ITEMS, channel="roster"
        )
        == 0
    )


def test_a_bulk_consent_checks_the_text_like_a_single_one():
    person = PersonFactory()
    with pytest.raises(ConsentError):
        consent_record_bulk(
            person_ids=[person.pk], purpose="membership", version="0", items=ALL_ITEMS, channel="roster"
        )
    assert not ConsentRecord.objects.exists()
