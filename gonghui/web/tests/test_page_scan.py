"""Every rendered page, scanned for an unmasked ID number or mobile.

The people have known ID numbers and phones; the city user (who sees everyone, and here may even
unmask) opens every page and admin page, and none of them may carry an 18-character ID number
(`\\d{17}[\\dX]`) or an 11-digit mobile. Only the unmask fragment shows them (test_pages proves
that it does, and that it is audited).
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from .conftest import plaintext_found

pytestmark = pytest.mark.django_db

OUR_APPS = ("regions", "orgs", "people", "accounts", "audit", "census")


def _pages(w):
    people = [w.suburb_person, w.suburb_person2, w.qianjin_person]
    orgs = [w.city_fed, w.suburb_fed, w.qianjin_fed, w.suburb_town_union]
    regions = [w.city, w.suburb, w.qianjin, w.suburb_town, w.qianjin_street]
    urls = [
        reverse("desk"),
        reverse("orgs_list"),
        reverse("orgs_list") + "?kind=federation",
        reverse("people_list"),
        reverse("people_list") + "?group=courier",
        reverse("people_list") + f"?region={w.suburb.code}",
        reverse("people_list") + "?q=王",
        reverse("regions_list"),
    ]
    urls += [reverse("people_detail", args=[p.pk]) for p in people]
    urls += [reverse("orgs_detail", args=[o.pk]) for o in orgs]
    urls += [reverse("regions_detail", args=[r.code]) for r in regions]
    return urls


def _admin_pages(user):
    from gonghui.web.adminscope import scoped_queryset

    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        for obj in scoped_queryset(model, user)[:5]:
            urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
    return urls


def test_it_shows_no_unmasked_id_number_or_phone_on_any_page(client, people_world):
    from gonghui.people.services import person_unmask

    w = people_world
    city = w.city_user
    city.is_staff = True
    city.save(update_fields=["is_staff"])
    city.user_permissions.set(Permission.objects.filter(content_type__app_label__in=OUR_APPS))
    # An unmask and a person update leave audit rows: the audit pages are scanned too.
    person_unmask(viewer=city, person=w.suburb_person)

    anonymous = client.get(reverse("login"))
    assert anonymous.status_code == 200
    assert plaintext_found(anonymous.content.decode()) == []

    client.force_login(city, backend="django.contrib.auth.backends.ModelBackend")
    scanned = 0
    # Searches by full ID number and mobile post, then land on the list behind an opaque token.
    found = [
        client.post(reverse("people_search"), {"q": number}).url
        for number in (w.suburb_plain.id_number, w.suburb_plain.phone)
    ]
    for url in _pages(w) + found + _admin_pages(city):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert plaintext_found(text) == [], url
        for value in w.plaintexts.ids + w.plaintexts.phones:
            assert value not in text, url
        scanned += 1
    # The scan really covered the admin: every registered model of ours, with change pages.
    assert scanned > 40
    # And it would have caught a leak: the detail page shows the masked form of the same person.
    detail = client.get(reverse("people_detail", args=[w.suburb_person.pk])).content.decode()
    assert w.suburb_person.id_number_masked in detail
