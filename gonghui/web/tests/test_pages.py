"""The web pages, through the three personas: the city sees all, 郊区 sees its district, 前进区 is refused."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _suburb_details(w):
    return [
        reverse("orgs_detail", args=[w.suburb_fed.pk]),
        reverse("orgs_detail", args=[w.suburb_town_union.pk]),
        reverse("people_detail", args=[w.suburb_person.pk]),
        reverse("people_detail", args=[w.suburb_person2.pk]),
        reverse("regions_detail", args=[w.suburb.code]),
        reverse("regions_detail", args=[w.suburb_town.code]),
    ]


def test_it_redirects_anonymous_visitors_to_login(client, people_world):
    w = people_world
    urls = [
        reverse("desk"),
        reverse("orgs_list"),
        reverse("people_list"),
        reverse("regions_list"),
        *_suburb_details(w),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    response = client.post(reverse("people_unmask", args=[w.suburb_person.pk]))
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action__startswith="person.unmask").exists()


def test_it_shows_the_city_user_everything(login, people_world):
    w = people_world
    client = login(w.city_user)
    for url in _suburb_details(w) + [
        reverse("people_detail", args=[w.qianjin_person.pk]),
        reverse("orgs_detail", args=[w.qianjin_fed.pk]),
        reverse("regions_detail", args=[w.qianjin.code]),
    ]:
        assert client.get(url).status_code == 200, url
    people = client.get(reverse("people_list")).content.decode()
    for name in ("王郊区", "李长发", "赵前进"):
        assert name in people
    orgs = client.get(reverse("orgs_list")).content.decode()
    for name in ("佳木斯市总工会", "郊区总工会", "前进区总工会", "长发镇总工会"):
        assert name in orgs


def test_it_shows_the_district_user_only_the_district(login, people_world):
    w = people_world
    client = login(w.district_user)
    for url in _suburb_details(w):
        assert client.get(url).status_code == 200, url
    for url in [
        reverse("people_detail", args=[w.qianjin_person.pk]),
        reverse("orgs_detail", args=[w.qianjin_fed.pk]),
        reverse("orgs_detail", args=[w.city_fed.pk]),
        reverse("regions_detail", args=[w.qianjin.code]),
        reverse("regions_detail", args=[w.city.code]),
    ]:
        assert client.get(url).status_code == 404, url
    people = client.get(reverse("people_list")).content.decode()
    assert "王郊区" in people and "李长发" in people
    assert "赵前进" not in people
    orgs = client.get(reverse("orgs_list")).content.decode()
    assert "长发镇总工会" in orgs
    assert "前进区总工会" not in orgs


def test_it_refuses_the_sibling_every_suburb_detail_page(login, people_world):
    w = people_world
    client = login(w.sibling_user)
    for url in _suburb_details(w):
        response = client.get(url)
        assert response.status_code == 404, url
        # The same answer as for something that does not exist: nothing of the person or org shows.
        assert "王郊区" not in response.content.decode() and "郊区总工会" not in response.content.decode()
    response = client.post(reverse("people_unmask", args=[w.suburb_person.pk]))
    assert response.status_code == 404


def test_it_keeps_suburb_people_off_the_siblings_lists_and_desk(login, people_world):
    w = people_world
    client = login(w.sibling_user)
    pages = [
        client.get(reverse("desk")),
        client.get(reverse("people_list")),
        client.get(reverse("orgs_list")),
        client.get(reverse("regions_list")),
    ]
    for response in pages:
        assert response.status_code == 200
        text = response.content.decode()
        for outside in ("王郊区", "李长发", "郊区总工会", "长发镇", w.suburb_person.id_number_masked):
            assert outside not in text, (response.request["PATH_INFO"], outside)
    assert "赵前进" in pages[1].content.decode()
    assert pages[0].context["people"]["total"] == 1
    assert pages[0].context["orgs"]["total"] == 1
    # Searching or filtering for the suburb's people finds nothing.
    for params in (
        {"region": w.suburb.code},
        {"q": "王郊区"},
        {"q": w.suburb_plain.id_number},
        {"q": w.suburb_plain.phone},
    ):
        response = client.get(reverse("people_list"), params)
        assert response.status_code == 200
        assert response.context["page"].paginator.count == 0, params
    assert client.get(reverse("orgs_list"), {"q": "郊区"}).context["page"].paginator.count == 0


def test_it_summarises_the_viewers_subtree_on_the_desk(login, people_world):
    w = people_world
    response = login(w.city_user).get(reverse("desk"))
    assert response.status_code == 200
    assert response.context["people"]["total"] == 3
    assert response.context["orgs"]["total"] == 4
    text = response.content.decode()
    assert 'id="desk-chart-data"' in text
    assert "web/js/charts.js" in text
    chart = response.context["chart_data"]
    assert sorted(chart["by_region"]["values"]) == [1, 2]
    assert dict(zip(chart["by_group"]["labels"], chart["by_group"]["values"], strict=True)) == {
        "快递员": 2,
        "外卖送餐员": 1,
    }
    district = login(w.district_user).get(reverse("desk"))
    assert district.context["people"]["total"] == 2


def test_it_filters_and_searches_people(login, people_world):
    w = people_world
    client = login(w.city_user)
    by_group = client.get(reverse("people_list"), {"group": "rider"}).content.decode()
    assert "李长发" in by_group and "王郊区" not in by_group
    by_region = client.get(reverse("people_list"), {"region": w.qianjin.code}).content.decode()
    assert "赵前进" in by_region and "王郊区" not in by_region
    by_id = client.post(
        reverse("people_search"), {"q": w.suburb_plain.id_number}, follow=True
    ).content.decode()
    assert "王郊区" in by_id and "李长发" not in by_id
    by_phone = client.post(
        reverse("people_search"), {"q": w.suburb_plain.phone}, follow=True
    ).content.decode()
    assert "王郊区" in by_phone and "赵前进" not in by_phone
    by_name = client.post(reverse("people_search"), {"q": "长发", "group": "rider"})
    assert by_name.url == reverse("people_list") + "?q=%E9%95%BF%E5%8F%91&group=rider"
    assert "李长发" in client.get(by_name.url).content.decode()


def test_it_keeps_a_searched_id_number_or_mobile_out_of_every_address_and_the_session_table(
    login, people_world
):
    from django.contrib.sessions.models import Session

    w = people_world
    client = login(w.city_user)
    for number in (w.suburb_plain.id_number, w.suburb_plain.phone):
        response = client.post(reverse("people_search"), {"q": number, "region": w.suburb.code})
        assert response.status_code == 302
        assert number not in response.url and "found=" in response.url
        page = client.get(response.url)
        assert [p.name for p in page.context["page"]] == ["王郊区"]
        assert number not in page.content.decode()
        # The pager and the language switch keep the opaque token, never the number.
        assert page.context["q"] == ""
    for session in Session.objects.all():
        stored = session.get_decoded()
        assert w.suburb_plain.id_number not in repr(stored) and w.suburb_plain.phone not in repr(stored)
        assert w.suburb_plain.id_number not in session.session_data
    # Another user's token finds nothing: the hash lives in the searcher's session only.
    other = login(w.district_user).get(response.url)
    assert list(other.context["page"]) == [] and other.context["found_expired"]


def test_it_does_not_search_an_id_number_typed_into_the_address(login, people_world):
    w = people_world
    response = login(w.city_user).get(reverse("people_list"), {"q": w.suburb_plain.id_number})
    assert response.status_code == 200
    assert list(response.context["page"]) == [] and response.context["refused_in_address"]
    assert w.suburb_plain.id_number not in response.content.decode()


def test_it_refuses_a_search_by_get(login, people_world):
    response = login(people_world.city_user).get(reverse("people_search"), {"q": "王"})
    assert response.status_code == 405


def test_it_filters_orgs_by_kind(login, people_world):
    w = people_world
    text = login(w.city_user).get(reverse("orgs_list"), {"kind": "township"}).content.decode()
    assert "长发镇总工会" in text
    assert "郊区总工会</a>" not in text


def test_it_shows_an_orgs_facts_coverage_and_children(login, people_world):
    w = people_world
    text = login(w.district_user).get(reverse("orgs_detail", args=[w.suburb_fed.pk])).content.decode()
    for expected in ("C230811", "长发镇总工会", "快递员", "佳木斯顺达快递有限公司", w.employer.credit_code):
        assert expected in text
    # The parent above the district user's sight is named but not linked.
    assert "佳木斯市总工会" in text
    assert reverse("orgs_detail", args=[w.city_fed.pk]) not in text


def test_it_shows_a_person_masked_with_derived_facts(login, people_world):
    w = people_world
    response = login(w.city_user).get(reverse("people_detail", args=[w.suburb_person.pk]))
    text = response.content.decode()
    assert w.suburb_person.id_number_masked in text
    assert w.suburb_person.phone_masked in text
    assert "1990-05-17" in text
    assert w.suburb_plain.id_number not in text and w.suburb_plain.phone not in text
    # No unmask button without the permission.
    assert reverse("people_unmask", args=[w.suburb_person.pk]) not in text


def _grant_unmask(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="people", codename="view_unmasked")
    )


def test_it_unmasks_for_a_permitted_viewer_and_audits_it(login, people_world):
    w = people_world
    _grant_unmask(w.city_user)
    client = login(w.city_user)
    url = reverse("people_unmask", args=[w.suburb_person.pk])
    detail = client.get(reverse("people_detail", args=[w.suburb_person.pk])).content.decode()
    assert f'hx-post="{url}"' in detail

    assert client.get(url).status_code == 405  # POST only: a link or a prefetch never unmasks
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert w.suburb_plain.id_number in text
    assert w.suburb_plain.phone in text
    assert "<html" not in text  # a fragment for htmx to swap in, not a page
    event = AuditEvent.objects.get(action="person.unmask")
    assert event.actor == w.city_user
    assert event.target_id == str(w.suburb_person.pk)
    assert event.ip == "127.0.0.1"


def test_it_refuses_unmask_without_the_permission_and_audits_the_refusal(login, people_world):
    w = people_world
    response = login(w.district_user).post(reverse("people_unmask", args=[w.suburb_person.pk]))
    assert response.status_code == 403
    assert "无权操作" in response.content.decode()
    assert w.suburb_plain.id_number not in response.content.decode()
    assert AuditEvent.objects.filter(action="person.unmask_refused", actor=w.district_user).count() == 1
    assert not AuditEvent.objects.filter(action="person.unmask").exists()


def test_it_refuses_unmask_outside_scope_even_with_the_permission(login, people_world):
    w = people_world
    _grant_unmask(w.sibling_user)
    response = login(w.sibling_user).post(reverse("people_unmask", args=[w.suburb_person.pk]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="person.unmask").exists()


def test_it_requires_csrf_for_unmask(people_world):
    from django.test import Client

    w = people_world
    _grant_unmask(w.city_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(w.city_user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("people_unmask", args=[w.suburb_person.pk]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="person.unmask").exists()


def test_it_browses_regions_within_scope(login, people_world):
    w = people_world
    client = login(w.district_user)
    listing = client.get(reverse("regions_list")).content.decode()
    assert "郊区" in listing and "前进区" not in listing and "佳木斯市" not in listing
    detail = client.get(reverse("regions_detail", args=[w.suburb.code])).content.decode()
    assert "长发镇" in detail
    # A six-digit GB/T 2260 code opens the same region.
    assert client.get(reverse("regions_detail", args=["230811"])).status_code == 200


def _count_queries(client, url):
    # A first request pushes the session's idle expiry if it is due (IdleSessionMiddleware: at most
    # once a minute), so that the counted one does the same work each time.
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["people_list", "orgs_list", "regions_list", "desk"])
def test_it_lists_in_a_constant_number_of_queries(login, people_world, url_name):
    from gonghui.lib.creditcode import make_credit_code
    from gonghui.lib.idcard import make_id_number
    from gonghui.orgs.models import Employer
    from gonghui.orgs.services import org_create
    from gonghui.people.models import Person
    from gonghui.people.services import protected_fields

    w = people_world
    client = login(w.city_user)
    url = reverse(url_name)
    before = _count_queries(client, url)
    for i in range(12):
        employer = Employer.objects.create(
            credit_code=make_credit_code(100 + i), name=f"企业{i}", region=w.suburb
        )
        Person.objects.create(
            name=f"新人{i}",
            work_region=w.suburb_town if i % 2 else w.qianjin_street,
            group=w.couriers if i % 3 else w.riders,
            employer=employer,
            **protected_fields(id_number=make_id_number("230804", date(1985, 1, 1), 100 + i), phone=None),
        )
        org = org_create(
            code=f"E{i}",
            name=f"企业工会{i}",
            kind="enterprise",
            parent=w.suburb_town_union,
            region=w.suburb_town,
        )
        org.covers_employers.add(employer)
    assert _count_queries(client, url) == before


def test_it_logs_in_through_the_form_and_lands_on_the_desk(client, people_world):
    w = people_world
    response = client.post(reverse("login"), {"username": "suburb", "password": w.password}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("desk")
    assert response.context["people"]["total"] == 2


def test_it_shows_the_lockout_page_in_both_languages_after_five_failures(client, people_world):
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "suburb", "password": "wrong-password"})
        assert response.status_code in (200, 429)
    response = client.post(reverse("login"), {"username": "suburb", "password": people_world.password})
    assert response.status_code == 429
    text = response.content.decode()
    assert "该账户已被暂时锁定" in text
    assert "this account is locked" in text
    assert "_auth_user_id" not in client.session
