"""Races on PostgreSQL, with two threads (two connections) released together by a barrier:
two staff approving one application give one membership and one number; two transfers of one
member give one move; two confirmations of one transfer give one; a bulk approval racing a single
one numbers every membership once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from gonghui.membership import bulk, numbering, services
from gonghui.membership.models import MemberNumber, MemberNumberCounter, Membership, Transfer
from gonghui.people.tests.factories import PersonFactory

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL (SQLite serialises every write)")


def race(*calls):
    """Run the calls at the same moment in their own threads; returns each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.fixture
def slow_numbers(monkeypatch):
    """Widen the window: each number reservation takes a moment, inside the transaction."""
    real = numbering.reserve

    def reserve(*args, **kwargs):
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(numbering, "reserve", reserve)


def test_two_staff_approving_one_application_give_one_membership(world, unions, slow_numbers):
    m = services.membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    outcomes = race(
        lambda: services.membership_approve(membership=m, by=world.city_user),
        lambda: services.membership_approve(membership=m, by=world.district_user),
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], services.TransitionNotAllowed), outcomes
    assert Membership.objects.filter(status="active").count() == 1
    assert MemberNumber.objects.count() == 1
    assert MemberNumberCounter.objects.get().next_value == 2  # the loser's reservation rolled back
    assert m.events.filter(to_status="active").count() == 1


def test_two_transfers_of_one_member_give_one(world, unions, slow_numbers):
    m = services.membership_approve(
        membership=services.membership_apply(person=PersonFactory(), org=unions.town, channel="online"),
        by=world.city_user,
    )
    outcomes = race(
        lambda: services.membership_transfer(membership=m, to_org=unions.street, by=world.city_user),
        lambda: services.membership_transfer(membership=m, to_org=unions.village, by=world.city_user),
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], services.MembershipError), outcomes
    assert Membership.objects.filter(person=m.person, status="active").count() == 1
    assert Membership.objects.filter(person=m.person, status="transferred_out").count() == 1
    assert Transfer.objects.filter(status="confirmed").count() == 1


def test_two_confirmations_of_one_transfer_give_one_move(world, unions):
    m = services.membership_approve(
        membership=services.membership_apply(person=PersonFactory(), org=unions.town, channel="online"),
        by=world.city_user,
    )
    t = services.transfer_request(membership=m, to_org=unions.street, requested_by_kind="worker")
    outcomes = race(
        lambda: services.transfer_confirm(transfer=t, by=world.sibling_user),
        lambda: services.transfer_confirm(transfer=t, by=world.city_user),
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], services.MembershipError), outcomes
    assert Membership.objects.filter(person=m.person).count() == 2
    assert Membership.objects.filter(person=m.person, status="active", org=unions.street).count() == 1


def test_a_bulk_approval_racing_single_ones_numbers_each_once(world, unions):
    apps = [
        services.membership_apply(person=PersonFactory(), org=unions.town, channel="online")
        for _ in range(20)
    ]
    outcomes = race(
        lambda: bulk.membership_approve_bulk(union=unions.town, by=world.city_user),
        lambda: [services.membership_approve(membership=a, by=world.district_user) for a in apps[:5]],
    )
    assert Membership.objects.filter(status="active").count() == 20, outcomes
    numbers = list(Membership.objects.values_list("member_no", flat=True))
    assert len(set(numbers)) == 20 and None not in numbers
    assert MemberNumber.objects.count() == 20
    assert sorted(MemberNumber.objects.values_list("number", flat=True)) == sorted(numbers)
