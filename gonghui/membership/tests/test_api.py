"""Membership API: submit one or a batch, read the status (scoped, 404 outside), check a member (permission, audited)."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Permission

from gonghui.audit.models import AuditEvent
from gonghui.lib.idcard import make_id_number
from gonghui.membership.models import Membership
from gonghui.membership.services import membership_apply, membership_approve
from gonghui.people.consent import consent_text
from gonghui.people.models import ConsentRecord
from gonghui.people.tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

ID = make_id_number("230811", date(1990, 5, 6), 321)


@pytest.fixture
def bearer(world):
    from gonghui.accounts.services import api_token_issue

    def issue(user):
        return "Bearer " + api_token_issue(username=user.username, password=world.password)

    return issue


def application(union_code, **extra):
    text = consent_text("membership")
    return {
        "union_code": union_code,
        "name": "赵小龙",
        "id_number": ID,
        "phone": "13912345678",
        "occupation": "外卖骑手",
        "consent_version": text.version,
        "consent_items": [item.code for item in text.items],
        **extra,
    }


def post(client, url, body, auth):
    return client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=auth)


def test_it_submits_an_application_with_consent(client, unions, world, bearer):
    response = post(
        client, "/api/v1/members/applications", application(unions.town.code), bearer(world.district_user)
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["union_code"] == unions.town.code and body["channel"] == "api"
    assert body["id_number_masked"].startswith("230811") and ID not in response.content.decode()
    m = Membership.objects.get(pk=body["id"])
    assert ConsentRecord.objects.filter(person=m.person, channel="api", purpose="membership").count() == 1

    again = post(
        client, "/api/v1/members/applications", application(unions.village.code), bearer(world.district_user)
    )
    assert again.status_code == 400 and "长发镇总工会" in again.json()["detail"]


def test_a_union_outside_the_callers_subtree_is_404(client, unions, world, bearer):
    response = post(
        client, "/api/v1/members/applications", application(unions.town.code), bearer(world.sibling_user)
    )
    assert response.status_code == 404
    assert not Membership.objects.exists()


def test_missing_consent_is_refused_and_nothing_written(client, unions, world, bearer):
    body = application(unions.town.code, consent_items=["id_number"])
    response = post(client, "/api/v1/members/applications", body, bearer(world.district_user))
    assert response.status_code == 400
    assert not Membership.objects.exists() and not ConsentRecord.objects.exists()


def test_a_batch_answers_each_application(client, unions, world, bearer):
    other = make_id_number("230811", date(1991, 2, 3), 55)
    body = {
        "applications": [
            application(unions.town.code),
            application(unions.town.code, id_number=other, name="钱二"),
            application(unions.town.code),  # the same worker again: refused
            application(
                unions.street.code, id_number=make_id_number("230804", date(1992, 1, 1), 7), name="孙三"
            ),
            application(unions.town.code, id_number="123", name="坏号"),
        ]
    }
    response = post(client, "/api/v1/members/applications/batch", body, bearer(world.district_user))
    assert response.status_code == 200
    out = response.json()
    assert out["accepted"] == 2 and out["refused"] == 3
    assert [i["ok"] for i in out["items"]] == [True, True, False, False, False]
    assert "重复" in out["items"][2]["detail"]
    assert Membership.objects.count() == 2


def test_status_is_read_in_scope_and_404_outside(client, unions, world, bearer):
    m = membership_apply(person=PersonFactory(), org=unions.town, channel="online")
    url = f"/api/v1/members/applications/{m.pk}"
    assert client.get(url, HTTP_AUTHORIZATION=bearer(world.district_user)).json()["status"] == "pending"
    assert client.get(url, HTTP_AUTHORIZATION=bearer(world.sibling_user)).status_code == 404
    assert (
        client.get(
            "/api/v1/members/applications/999999", HTTP_AUTHORIZATION=bearer(world.city_user)
        ).status_code
        == 404
    )
    membership_approve(membership=m, by=world.city_user)
    body = client.get(url, HTTP_AUTHORIZATION=bearer(world.city_user)).json()
    assert body["status"] == "active" and body["member_no"]
    assert client.get(url).status_code == 401


def test_check_needs_the_permission_and_is_audited(client, unions, world, bearer):
    person = PersonFactory(id_number=ID)
    membership_approve(membership=membership_apply(person=person, org=unions.town, channel="online"))
    url = "/api/v1/members/check"

    refused = post(client, url, {"id_number": ID}, bearer(world.district_user))
    assert refused.status_code == 403
    assert (
        AuditEvent.objects.filter(action="membership.check_refused", actor=world.district_user).count() == 1
    )

    world.sibling_user.user_permissions.add(Permission.objects.get(codename="check_membership"))
    yes = post(client, url, {"id_number": ID.lower()}, bearer(world.sibling_user))
    assert yes.status_code == 200
    assert yes.json() == {"active_member": True, "union_code": unions.town.code, "union_name": "长发镇总工会"}
    no = post(
        client, url, {"id_number": make_id_number("230811", date(1980, 1, 1), 1)}, bearer(world.sibling_user)
    )
    assert no.json()["active_member"] is False and no.json()["union_code"] is None
    rows = AuditEvent.objects.filter(action="membership.check", actor=world.sibling_user)
    assert rows.count() == 2
    assert all(ID not in str(r.detail) for r in rows)
    assert post(client, url, {"id_number": "not-a-number"}, bearer(world.sibling_user)).status_code == 400


def test_the_endpoints_are_in_the_schema_and_the_id_is_never_in_a_url(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/members/applications",
        "/api/v1/members/applications/batch",
        "/api/v1/members/applications/{application_id}",
        "/api/v1/members/check",
    ):
        assert path in paths
    assert "post" in paths["/api/v1/members/check"] and "get" not in paths["/api/v1/members/check"]
