"""Django admin is scoped like every page: a staff user sees and changes only their subtree."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from gonghui.audit.models import AuditEvent
from gonghui.audit.services import audit_record

from .conftest import plaintext_found

pytestmark = pytest.mark.django_db

ADMIN_APPS = ("regions", "orgs", "people", "accounts", "audit")


def _make_staff(user):
    """A non-superuser staff user with every model permission of our apps: only scope limits them."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    return user


def _change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _changelist_url(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _suburb_objects(w):
    from gonghui.accounts.models import Role

    event = audit_record(actor=w.district_user, action="test.suburb_event", target=w.suburb_person)
    return [
        w.suburb_fed,
        w.suburb_town_union,
        w.suburb_person,
        w.suburb,
        w.suburb_town,
        w.employer,  # covered by 郊区总工会 only
        w.district_user,
        Role.objects.get(user=w.district_user),
        event,
    ]


def test_it_answers_404_to_the_sibling_on_every_suburb_admin_page(login, people_world):
    w = people_world
    objects = _suburb_objects(w)
    client = login(_make_staff(w.sibling_user))
    for obj in objects:
        url = _change_url(obj)
        assert client.get(url).status_code == 404, url
        delete_url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])
        assert client.get(delete_url).status_code == 404, delete_url
        history_url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])
        assert client.get(history_url).status_code == 404, history_url


def test_it_lets_the_district_user_open_their_own_objects(login, people_world):
    w = people_world
    objects = _suburb_objects(w)
    client = login(_make_staff(w.district_user))
    for obj in objects:
        assert client.get(_change_url(obj)).status_code == 200, obj


def test_it_keeps_suburb_rows_off_the_siblings_changelists(login, people_world):
    from gonghui.accounts.models import Role, User
    from gonghui.lib.creditcode import make_credit_code
    from gonghui.orgs.models import Employer, Org
    from gonghui.people.models import Person
    from gonghui.regions.models import Region

    w = people_world
    _suburb_objects(w)
    Employer.objects.create(
        credit_code=make_credit_code(7, "230804"), name="前进物流有限公司", region=w.qianjin
    )
    audit_record(actor=w.sibling_user, action="test.qianjin_event", target=w.qianjin_person)
    client = login(_make_staff(w.sibling_user))
    for model in (Org, Person, Region, Employer, Role, User, AuditEvent):
        response = client.get(_changelist_url(model))
        assert response.status_code == 200, model
        shown = set(response.context["cl"].result_list)
        assert shown, model  # the sibling sees their own rows
        for obj in shown:
            text = str(obj)
            assert "郊区" not in text and "长发" not in text and "suburb" not in text, (model, text)
    people = client.get(_changelist_url(Person), {"q": w.suburb_plain.id_number})
    assert list(people.context["cl"].result_list) == []


def test_it_shows_the_city_user_every_district_in_the_admin(login, people_world):
    from gonghui.people.models import Person

    w = people_world
    client = login(_make_staff(w.city_user))
    shown = set(client.get(_changelist_url(Person)).context["cl"].result_list)
    assert shown == {w.suburb_person, w.suburb_person2, w.qianjin_person}
    by_name = client.get(_changelist_url(Person), {"q": w.suburb_person.name}).context["cl"].result_list
    assert w.suburb_person in list(by_name)


def test_it_refuses_to_search_the_person_admin_by_id_number_or_mobile(login, people_world):
    """The changelist searches by GET: a full number would sit in the address and the server's log."""
    from gonghui.people.models import Person

    w = people_world
    client = login(_make_staff(w.city_user))
    for number in (w.suburb_plain.phone, w.suburb_plain.id_number):
        response = client.get(_changelist_url(Person), {"q": number})
        assert list(response.context["cl"].result_list) == []
        shown = [str(m) for m in response.context["messages"]]
        assert any(reverse("people_list") in m for m in shown), shown


def test_it_offers_only_in_scope_choices_in_admin_forms(login, people_world):
    from gonghui.orgs.models import Org

    w = people_world
    client = login(_make_staff(w.district_user))
    response = client.get(reverse("admin:orgs_org_add"))
    parent_choices = response.context["adminform"].form.fields["parent"].queryset
    assert set(parent_choices) == set(Org.objects.filter(pk__in=[w.suburb_fed.pk, w.suburb_town_union.pk]))


def test_it_never_shows_or_edits_protected_fields_in_the_person_admin(login, people_world):
    w = people_world
    client = login(_make_staff(w.city_user))
    response = client.get(_change_url(w.suburb_person))
    form = response.context["adminform"].form
    for field in form.fields:
        assert "id_number" not in field and "phone" not in field and "cipher" not in field
    text = response.content.decode()
    assert w.suburb_person.id_number_masked in text
    assert plaintext_found(text) == []
    assert 'name="id_number' not in text and 'name="phone' not in text


def test_it_changes_a_person_in_the_admin_through_the_audited_service(login, people_world):
    w = people_world
    client = login(_make_staff(w.city_user))
    person = w.suburb_person
    response = client.post(
        _change_url(person),
        {
            "name": "王新名",
            "employer": person.employer_id,
            "group": w.riders.pk,
            "occupation": "送餐",
            "work_region": person.work_region_id,
            "home_region": "",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.name == "王新名" and person.group == w.riders
    event = AuditEvent.objects.get(action="person.update", target_id=str(person.pk))
    assert event.actor == w.city_user
    assert set(event.detail["changes"]) == {"name", "group", "occupation"}


def test_it_creates_an_org_in_the_admin_with_its_tree_path(login, people_world):
    from gonghui.orgs.models import Org

    w = people_world
    client = login(_make_staff(w.district_user))
    response = client.post(
        reverse("admin:orgs_org_add"),
        {
            "code": "J230811001",
            "name": "长发镇快递行业联合工会",
            "kind": "joint",
            "parent": w.suburb_town_union.pk,
            "region": w.suburb_town.pk,
            "status": "active",
            "covers_groups": [w.couriers.pk],
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    org = Org.objects.get(code="J230811001")
    assert org.path == f"{w.suburb_town_union.path}{org.pk}/"
    assert list(org.covers_groups.all()) == [w.couriers]
    # and it is in the district user's sight at once
    assert client.get(_change_url(org)).status_code == 200


def test_it_keeps_the_audit_log_read_only(login, people_world):
    w = people_world
    event = audit_record(actor=w.city_user, action="test.event")
    client = login(_make_staff(w.city_user))
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    response = client.get(_change_url(event))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert client.post(_change_url(event), {"action": "tampered"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "test.event"
    delete_url = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_grants_roles_in_the_admin_through_the_audited_service(login, people_world):
    from gonghui.accounts.models import Role

    w = people_world
    client = login(_make_staff(w.district_user))
    role = Role.objects.get(user=w.district_user)
    response = client.post(
        reverse("admin:accounts_role_add"),
        {"user": w.district_user.pk, "org": w.suburb_town_union.pk, "role": "viewer"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Role.objects.filter(user=w.district_user, org=w.suburb_town_union, role="viewer").exists()
    assert AuditEvent.objects.filter(action="accounts.role_grant", actor=w.district_user).exists()
    # A role in an org outside the district is not among the choices.
    response = client.post(
        reverse("admin:accounts_role_add"),
        {"user": w.district_user.pk, "org": w.qianjin_fed.pk, "role": "viewer"},
    )
    assert response.status_code == 200
    assert "org" in response.context["adminform"].form.errors
    assert Role.objects.filter(pk=role.pk).exists()


def test_it_keeps_a_scoped_admin_from_making_superusers(login, people_world):
    w = people_world
    client = login(_make_staff(w.district_user))
    response = client.get(_change_url(w.district_user))
    assert "is_superuser" not in response.context["adminform"].form.fields
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
