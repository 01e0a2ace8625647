"""Membership services: applying, deciding, numbering, transfers, and who may do them."""

from __future__ import annotations

import pytest

from gonghui.audit.models import AuditEvent
from gonghui.membership.models import MemberNumber, Membership, MembershipEvent, Transfer
from gonghui.membership.services import (
    AlreadyMember,
    ApplicationPending,
    MembershipError,
    NotAuthorised,
    NotGrassroots,
    TransferError,
    TransitionNotAllowed,
    membership_apply,
    membership_approve,
    membership_lapse,
    membership_reject,
    membership_status_for,
    membership_transfer,
    membership_withdraw,
    transfer_cancel,
    transfer_confirm,
    transfer_refuse,
    transfer_request,
)
from gonghui.people.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_it_applies_and_records_the_event_and_audit(unions, person, world):
    m = membership_apply(person=person, org=unions.town, channel="online", by=None, reason="手机入会")
    assert m.status == "pending" and m.channel == "online" and m.submitted_at is not None
    assert membership_status_for(person=person) == m
    event = MembershipEvent.objects.get(membership=m)
    assert (event.from_status, event.to_status, event.reason) == ("", "pending", "手机入会")
    assert AuditEvent.objects.filter(action="membership.apply", target_id=str(m.pk)).exists()


def test_it_refuses_a_second_application_naming_the_union(unions, person):
    membership_apply(person=person, org=unions.town, channel="online")
    with pytest.raises(ApplicationPending, match="长发镇总工会"):
        membership_apply(person=person, org=unions.street, channel="online")


def test_it_refuses_an_active_member_naming_the_union(unions, person, world):
    m = membership_apply(person=person, org=unions.town, channel="onsite")
    membership_approve(membership=m, by=world.district_user)
    with pytest.raises(AlreadyMember, match="长发镇总工会"):
        membership_apply(person=person, org=unions.street, channel="online")


def test_it_refuses_a_federation_and_an_unknown_channel(world, person, unions):
    with pytest.raises(NotGrassroots, match="郊区总工会"):
        membership_apply(person=person, org=world.suburb_fed, channel="online")
    with pytest.raises(MembershipError, match="渠道"):
        membership_apply(person=person, org=unions.town, channel="fax")
    assert not Membership.objects.exists()


def test_it_approves_with_a_number_from_the_policy(unions, person, world):
    m = membership_apply(person=person, org=unions.village, channel="online")
    membership_approve(membership=m, by=world.district_user)
    m.refresh_from_db()
    assert m.status == "active" and m.joined_on is not None and m.decided_by == world.district_user
    # The test tree has no rule of its own: the default rule, issued by the root (city federation).
    assert m.member_no.startswith(f"C230800-{m.joined_on.year}-") and len(m.member_no.rsplit("-", 1)[1]) == 7
    assert MemberNumber.objects.get(number=m.member_no).person == person


def test_numbers_are_consecutive_and_never_reused(unions, world):
    numbers = []
    for _ in range(3):
        m = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
        membership_approve(membership=m, by=world.city_user)
        numbers.append(Membership.objects.get(pk=m.pk).member_no)
    assert len(set(numbers)) == 3
    assert [int(n[-7:]) for n in numbers] == [1, 2, 3]
    # A lapsed member's number stays theirs: the next approval takes a new one.
    membership_lapse(membership=Membership.objects.get(member_no=numbers[0]), by=world.city_user)
    m = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    membership_approve(membership=m, by=world.city_user)
    assert int(Membership.objects.get(pk=m.pk).member_no[-7:]) == 4


def test_it_rejects_only_with_a_reason(unions, person, world):
    m = membership_apply(person=person, org=unions.town, channel="online")
    with pytest.raises(MembershipError, match="理由"):
        membership_reject(membership=m, reason=" ", by=world.district_user)
    membership_reject(membership=m, reason="不在本会覆盖范围", by=world.district_user)
    m.refresh_from_db()
    assert m.status == "rejected" and m.reject_reason == "不在本会覆盖范围"
    assert membership_status_for(person=person) is None
    # A refused applicant may apply again elsewhere.
    membership_apply(person=person, org=unions.street, channel="online")


def test_a_move_not_in_the_table_is_refused(unions, person, world):
    m = membership_apply(person=person, org=unions.town, channel="online")
    with pytest.raises(TransitionNotAllowed, match="待审核"):
        membership_lapse(membership=m, by=world.city_user)
    membership_reject(membership=m, reason="资料不全", by=world.city_user)
    with pytest.raises(TransitionNotAllowed):
        membership_approve(membership=m, by=world.city_user)


def test_staff_of_another_district_may_not_decide(unions, person, world):
    m = membership_apply(person=person, org=unions.town, channel="online")
    with pytest.raises(NotAuthorised, match="长发镇总工会"):
        membership_approve(membership=m, by=world.sibling_user)
    with pytest.raises(NotAuthorised):
        membership_reject(membership=m, reason="x", by=world.sibling_user)
    m.refresh_from_db()
    assert m.status == "pending"


def test_withdraw_a_pending_application_and_an_active_membership(unions, world):
    a = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    membership_withdraw(membership=a, reason="不想加入了")
    assert Membership.objects.get(pk=a.pk).status == "withdrawn"
    b = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    membership_approve(membership=b, by=world.city_user)
    membership_withdraw(membership=b, by=world.city_user, reason="本人退会")
    b.refresh_from_db()
    assert b.status == "withdrawn" and b.ended_on is not None


def _active(person, org, by):
    m = membership_apply(person=person, org=org, channel="online")
    return membership_approve(membership=m, by=by)


def test_a_transfer_moves_the_member_and_keeps_the_history(unions, person, world):
    old = _active(person, unions.town, world.city_user)
    t = transfer_request(membership=old, to_org=unions.street, requested_by_kind="worker", reason="换了工作")
    with pytest.raises(NotAuthorised):
        transfer_confirm(transfer=t, by=world.district_user)  # only the receiving union confirms
    new = transfer_confirm(transfer=t, by=world.sibling_user)
    old.refresh_from_db()
    t.refresh_from_db()
    assert old.status == "transferred_out" and old.ended_on is not None
    assert new.status == "active" and new.org == unions.street and new.transferred_from == old
    assert t.status == "confirmed" and t.new_membership == new
    # Same issuing union (the city federation): the number is kept by the default rule.
    assert new.member_no == old.member_no
    assert list(old.events.values_list("to_status", flat=True)) == ["pending", "active", "transferred_out"]
    assert list(new.events.values_list("from_status", "to_status")) == [("", "active")]
    assert membership_status_for(person=person) == new


def test_a_transfer_is_refused_or_cancelled(unions, person, world):
    old = _active(person, unions.town, world.city_user)
    t = transfer_request(
        membership=old, to_org=unions.street, requested_by_kind="from_union", by=world.district_user
    )
    with pytest.raises(TransferError, match="待确认"):
        transfer_request(membership=old, to_org=unions.village, requested_by_kind="worker")
    with pytest.raises(TransferError, match="理由"):
        transfer_refuse(transfer=t, reason="", by=world.sibling_user)
    transfer_refuse(transfer=t, reason="不在本会范围", by=world.sibling_user)
    with pytest.raises(TransferError, match="已拒绝|已是"):
        transfer_confirm(transfer=t, by=world.sibling_user)
    t2 = transfer_request(membership=old, to_org=unions.village, requested_by_kind="worker")
    transfer_cancel(transfer=t2, by=world.district_user)
    assert Transfer.objects.get(pk=t2.pk).status == "cancelled"
    old.refresh_from_db()
    assert old.status == "active"


def test_a_union_may_only_request_for_its_own_side(unions, person, world):
    old = _active(person, unions.town, world.city_user)
    with pytest.raises(NotAuthorised):
        transfer_request(
            membership=old, to_org=unions.street, requested_by_kind="from_union", by=world.sibling_user
        )


def test_only_active_members_transfer(unions, person, world):
    m = membership_apply(person=person, org=unions.town, channel="online")
    with pytest.raises(TransferError, match="在册会员"):
        membership_transfer(membership=m, to_org=unions.street, by=world.sibling_user)


def test_a_transfer_to_another_issuer_gets_a_new_number(
    unions, person, world, settings, tmp_path, monkeypatch
):
    from gonghui.membership import numbering

    (tmp_path / "member_numbers.yaml").write_text(
        """
document: 测试
rules:
  - issuing_union: "*"
    versions:
      - {effective_from: 2020-01-01, prefix: "{issuer}-", digits: 6, on_transfer: keep_within_issuer}
  - issuing_union: C230804
    versions:
      - {effective_from: 2020-01-01, prefix: "QJ{year}", digits: 5, on_transfer: keep_within_issuer}
""",
        encoding="utf-8",
    )
    monkeypatch.setattr(numbering, "rules", lambda: numbering._load_rules(str(tmp_path)))
    old = _active(person, unions.town, world.city_user)
    assert old.member_no == "C230800-000001"
    new = membership_transfer(membership=old, to_org=unions.street, by=world.sibling_user)
    assert new.member_no.startswith("QJ") and new.member_no != old.member_no
    assert set(MemberNumber.objects.filter(person=person).values_list("number", flat=True)) == {
        old.member_no,
        new.member_no,
    }


# --- selectors: counts by week, working days ----------------------------------------------------


def test_counts_by_union_and_week(unions, world):
    import datetime as dt

    from django.utils import timezone

    from gonghui.membership.selectors import membership_counts_by_week

    a = _active(PersonFactory(), unions.town, world.city_user)
    _active(PersonFactory(), unions.town, world.city_user)
    membership_lapse(membership=a, by=world.city_user)
    moved = _active(PersonFactory(), unions.village, world.city_user)
    membership_transfer(membership=moved, to_org=unions.street, by=world.city_user)
    rows = membership_counts_by_week(viewer=world.city_user)
    week = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    by_code = {r["org_code"]: r for r in rows}
    assert all(r["week"] == week for r in rows)
    assert by_code[unions.town.code]["joined"] == 2 and by_code[unions.town.code]["lapsed"] == 1
    assert by_code[unions.village.code]["transferred_out"] == 1
    assert by_code[unions.street.code]["transferred_in"] == 1 and by_code[unions.street.code]["joined"] == 0
    # Scoped: 前进区 staff see only their own union's row.
    assert {r["org_code"] for r in membership_counts_by_week(viewer=world.sibling_user)} == {
        unions.street.code
    }


def test_working_days_leave_out_weekends_and_holidays():
    import datetime as dt

    from gonghui.lib.workdays import calendar

    cal = calendar()
    friday = dt.date(2026, 3, 6)
    assert cal.working_days_between(friday, dt.date(2026, 3, 9)) == 1  # Saturday, Sunday, Monday
    assert cal.working_days_between(friday, dt.date(2026, 3, 11)) == 3
    # 2026 National Day: 1-7 October off, Saturday 10 October a working day.
    assert cal.working_days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 9)) == 2
    assert cal.is_working_day(dt.date(2026, 10, 10))
    # Four working days after Thursday 5 March up to Wednesday 11 March: 6, 9, 10, 11.
    assert cal.subtract_working_days(dt.date(2026, 3, 11), 4) == dt.date(2026, 3, 5)


def test_the_queue_counts_overdue_after_three_working_days(unions, world):
    import datetime as dt

    from gonghui.membership import selectors

    m = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    today = dt.date(2026, 3, 11)  # a Wednesday
    for submitted, waited in ((dt.date(2026, 3, 6), 3), (dt.date(2026, 3, 5), 4)):
        when = dt.datetime.combine(submitted, dt.time(10), tzinfo=dt.UTC)
        Membership.objects.filter(pk=m.pk).update(submitted_at=when)
        item = selectors.queue_items(selectors.approval_queue(viewer=world.district_user), today)[0]
        assert item.waited == waited and item.overdue == (waited > 3)
        overdue = selectors.approval_queue(viewer=world.district_user, overdue_only=True, today=today)
        assert overdue.exists() == (waited > 3)
    assert not selectors.approval_queue(viewer=world.sibling_user).exists()


def test_membership_changes_refresh_the_weaves_counts_on_commit(
    unions, world, monkeypatch, django_capture_on_commit_callbacks
):
    from gonghui.weave import matrix

    refreshed: list[list[int]] = []
    monkeypatch.setattr(
        matrix, "cells_refresh_members", lambda *, person_ids=None: refreshed.append(list(person_ids))
    )
    person = PersonFactory()
    with django_capture_on_commit_callbacks(execute=True):
        m = membership_apply(person=person, org=unions.town, channel="online")
    assert refreshed == []  # a pending application changes no count
    with django_capture_on_commit_callbacks(execute=True):
        membership_approve(membership=m, by=world.city_user)
    with django_capture_on_commit_callbacks(execute=True):
        membership_transfer(membership=m, to_org=unions.street, by=world.city_user)
    assert refreshed == [[person.pk], [person.pk], [person.pk]]


def test_the_real_refresh_runs_after_an_approval_without_a_weave_run(
    unions, world, django_capture_on_commit_callbacks
):
    m = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        membership_approve(membership=m, by=world.city_user)
    assert len(callbacks) == 1
    callbacks[0]()  # not robust here: an error would fail the test
