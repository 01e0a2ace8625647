"""Staff pages under /members/: the queue (scoped, overdue highlighted), decisions, bulk approval, transfers, counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.membership.models import Membership, Transfer
from gonghui.membership.services import membership_apply, membership_approve, transfer_request
from gonghui.people.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def login(client, world, user):
    client.force_login(user)
    return client


def pending(org, *, days_ago: int = 0):
    m = membership_apply(person=PersonFactory(), org=org, channel="online")
    if days_ago:
        Membership.objects.filter(pk=m.pk).update(submitted_at=timezone.now() - dt.timedelta(days=days_ago))
    return m


def test_the_queue_shows_only_the_viewers_unions(client, world, unions):
    mine = pending(unions.town)
    theirs = pending(unions.street)
    html = login(client, world, world.district_user).get(reverse("members_queue")).content.decode()
    assert f'data-id="{mine.pk}"' in html and f'data-id="{theirs.pk}"' not in html
    assert mine.person.id_number_masked in html
    html = login(client, world, world.sibling_user).get(reverse("members_queue")).content.decode()
    assert f'data-id="{theirs.pk}"' in html and f'data-id="{mine.pk}"' not in html


def test_an_application_over_three_working_days_is_overdue(client, world, unions):
    old = pending(unions.town, days_ago=15)  # at least ten working days, whatever the holidays
    fresh = pending(unions.town)
    html = login(client, world, world.district_user).get(reverse("members_queue")).content.decode()
    assert f'class="overdue" data-id="{old.pk}"' in html
    assert f'<tr data-id="{fresh.pk}"' in html
    html = client.get(reverse("members_queue") + "?overdue=1").content.decode()
    assert f'data-id="{old.pk}"' in html and f'data-id="{fresh.pk}"' not in html


def test_the_queue_costs_the_same_queries_for_many_rows(client, world, unions, django_assert_max_num_queries):
    for _ in range(3):
        pending(unions.town)
    login(client, world, world.district_user)
    client.get(reverse("members_queue"))  # warm the session
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("members_queue"))
    for _ in range(10):
        pending(unions.village)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("members_queue"))


def test_staff_approve_and_reject_with_a_reason(client, world, unions):
    a, b = pending(unions.town), pending(unions.town)
    login(client, world, world.district_user)
    response = client.post(reverse("members_approve", args=[a.pk]))
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.status == "active" and a.member_no
    html = client.get(reverse("members_detail", args=[a.pk])).content.decode()
    assert a.member_no in html and 'id="history"' in html
    client.post(reverse("members_reject", args=[b.pk]), {"reason": ""})
    assert Membership.objects.get(pk=b.pk).status == "pending"  # a reason is required
    client.post(reverse("members_reject", args=[b.pk]), {"reason": "不在本会覆盖范围"})
    b.refresh_from_db()
    assert b.status == "rejected" and b.reject_reason == "不在本会覆盖范围"


def test_the_sibling_district_gets_404_for_everything_of_the_other(client, world, unions):
    m = pending(unions.town)
    login(client, world, world.sibling_user)
    assert client.get(reverse("members_detail", args=[m.pk])).status_code == 404
    for name in (
        "members_approve",
        "members_reject",
        "members_lapse",
        "members_withdraw",
        "members_transfer_request",
    ):
        assert (
            client.post(reverse(name, args=[m.pk]), {"reason": "x", "to_union": "T230804002"}).status_code
            == 404
        )
    # The bulk action ignores ids outside the viewer's scope.
    client.post(reverse("members_approve_selected"), {"ids": [m.pk]})
    assert Membership.objects.get(pk=m.pk).status == "pending"


def test_bulk_approve_the_ticked_ones(client, world, unions):
    a, b, c = pending(unions.town), pending(unions.village), pending(unions.town)
    login(client, world, world.district_user)
    client.post(reverse("members_approve_selected"), {"ids": [a.pk, b.pk]})
    statuses = dict(Membership.objects.values_list("pk", "status"))
    assert statuses == {a.pk: "active", b.pk: "active", c.pk: "pending"}


def test_a_transfer_is_requested_and_confirmed_by_the_receiving_union(client, world, unions):
    m = membership_approve(membership=pending(unions.town), by=world.city_user)
    login(client, world, world.district_user)
    client.post(
        reverse("members_transfer_request", args=[m.pk]), {"to_union": unions.street.code, "reason": "换单位"}
    )
    t = Transfer.objects.get()
    assert t.status == "requested" and t.requested_by_kind == "from_union"
    # The leaving side cannot confirm; it sees the request among transfers out.
    client.post(reverse("members_transfer_confirm", args=[t.pk]))
    assert Transfer.objects.get().status == "requested"
    html = client.get(reverse("members_transfers") + "?direction=out").content.decode()
    assert f'data-id="{t.pk}"' in html
    login(client, world, world.sibling_user)
    html = client.get(reverse("members_transfers")).content.decode()
    assert f'data-id="{t.pk}"' in html
    client.post(reverse("members_transfer_confirm", args=[t.pk]))
    t.refresh_from_db()
    assert t.status == "confirmed" and t.new_membership.org == unions.street


def test_a_transfer_of_another_district_is_404(client, world, unions, django_user_model):
    m = membership_approve(membership=pending(unions.town), by=world.city_user)
    t = transfer_request(membership=m, to_org=unions.village, requested_by_kind="worker")
    login(client, world, world.sibling_user)
    assert client.post(reverse("members_transfer_confirm", args=[t.pk])).status_code == 404
    assert f'data-id="{t.pk}"' not in client.get(reverse("members_transfers")).content.decode()


def test_the_counts_page_shows_joins_by_week(client, world, unions):
    membership_approve(membership=pending(unions.town), by=world.city_user)
    html = login(client, world, world.district_user).get(reverse("members_stats")).content.decode()
    assert "长发镇总工会" in html and 'id="weekly"' in html
    html = login(client, world, world.sibling_user).get(reverse("members_stats")).content.decode()
    assert "长发镇总工会" not in html
