"""The JSON API: tokens, scoping by persona, masking, paging, errors, the schema."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gonghui.accounts.models import ApiToken
from gonghui.audit.models import AuditEvent

from .conftest import make_person

# An unmasked 18-character ID number or an 11-digit mobile, not part of a longer run of digits.
UNMASKED_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
UNMASKED_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def get(client, url, auth):
    return client.get(url, HTTP_AUTHORIZATION=auth)


def ids(response):
    return {item["id"] for item in response.json()["items"]}


# ---- tokens -----------------------------------------------------------------------------------


def test_it_issues_a_token_for_good_credentials_and_stores_only_its_hash(client, world, settings):
    settings.GONGHUI_API_TOKEN_TTL_HOURS = 12
    response = client.post(
        "/api/v1/auth/token",
        {"username": "suburb", "password": world.password},
        content_type="application/json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert len(token) >= 40
    stored = ApiToken.objects.get(user=world.district_user)
    assert stored.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.key_hash
    assert abs(stored.expires_at - (timezone.now() + timedelta(hours=12))) < timedelta(minutes=1)
    assert AuditEvent.objects.filter(action="accounts.token_issue", actor=world.district_user).exists()
    assert get(client, "/api/v1/me", f"Bearer {token}").json()["username"] == "suburb"


def test_it_refuses_a_bad_password_with_401_in_chinese_and_english(client, world):
    response = client.post(
        "/api/v1/auth/token",
        {"username": "suburb", "password": "wrong-password"},
        content_type="application/json",
    )
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert "用户名或密码错误" in detail and "invalid username or password" in detail
    assert "用户名或密码错误" in response.content.decode()  # UTF-8, not \u escapes
    assert not ApiToken.objects.exists()
    failed = AuditEvent.objects.get(action="accounts.login_failed")
    assert failed.detail["username"] == "suburb" and failed.ip == "127.0.0.1"


def test_it_refuses_an_unknown_user_the_same_way_as_a_bad_password(client, world):
    response = client.post(
        "/api/v1/auth/token",
        {"username": "nobody", "password": world.password},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.json()["detail"]


def test_it_locks_the_token_endpoint_after_five_failures_even_for_the_right_password(client, world):
    def attempt(password):
        return client.post(
            "/api/v1/auth/token",
            {"username": "suburb", "password": password},
            content_type="application/json",
        )

    statuses = [attempt("wrong-password").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure is the one that locks
    sixth = attempt(world.password)
    assert sixth.status_code == 429
    assert sixth["Content-Type"].startswith("application/json")
    assert "锁定" in sixth.content.decode()
    assert not ApiToken.objects.exists()
    # Another persona is not affected: the lock is per account, not per address.
    other = client.post(
        "/api/v1/auth/token",
        {"username": "city", "password": world.password},
        content_type="application/json",
    )
    assert other.status_code == 200


def test_it_locks_the_api_after_five_failed_web_logins(client, world):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "suburb", "password": "wrong-password"})
    response = client.post(
        "/api/v1/auth/token",
        {"username": "suburb", "password": world.password},
        content_type="application/json",
    )
    assert response.status_code == 429


def test_it_answers_401_without_a_valid_token(client, world, people, bearer):
    urls = ["/api/v1/people", f"/api/v1/people/{people.suburb_a.pk}", "/api/v1/orgs", "/api/v1/me"]
    for url in urls:
        for auth in (None, "Bearer not-a-token", "Basic c3VidXJiOnBhc3M=", "Bearer "):
            response = client.get(url, **({"HTTP_AUTHORIZATION": auth} if auth else {}))
            assert response.status_code == 401, (url, auth)
            assert "token" in response.json()["detail"]


def test_it_answers_401_for_an_expired_token(client, world, bearer):
    auth = bearer(world.district_user)
    assert get(client, "/api/v1/me", auth).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert get(client, "/api/v1/me", auth).status_code == 401


def test_it_answers_401_once_the_user_is_deactivated(client, world, bearer):
    auth = bearer(world.district_user)
    world.district_user.is_active = False
    world.district_user.save()
    assert get(client, "/api/v1/me", auth).status_code == 401


# ---- people, by persona -----------------------------------------------------------------------


def test_it_shows_the_city_persona_both_districts(client, world, people, bearer):
    response = get(client, "/api/v1/people", bearer(world.city_user))
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert ids(response) == {people.suburb_a.pk, people.suburb_b.pk, people.qianjin_a.pk}


def test_it_shows_the_district_persona_only_its_district(client, world, people, bearer):
    auth = bearer(world.district_user)
    response = get(client, "/api/v1/people", auth)
    assert response.json()["count"] == 2
    assert ids(response) == {people.suburb_a.pk, people.suburb_b.pk}
    assert get(client, f"/api/v1/people/{people.qianjin_a.pk}", auth).status_code == 404


def test_it_refuses_the_sibling_persona_the_other_district(client, world, people, bearer):
    auth = bearer(world.sibling_user)
    listed = get(client, "/api/v1/people", auth)
    assert ids(listed) == {people.qianjin_a.pk}
    assert listed.json()["count"] == 1
    assert get(client, "/api/v1/people?region_code=230811", auth).json() == {"count": 0, "items": []}
    assert get(client, "/api/v1/people?q=张三", auth).json()["count"] == 0

    refused = get(client, f"/api/v1/people/{people.suburb_a.pk}", auth)
    missing = get(client, "/api/v1/people/999999", auth)
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()


def test_it_answers_a_person_with_masked_fields_and_details(client, world, people, bearer):
    response = get(client, f"/api/v1/people/{people.suburb_a.pk}", bearer(world.district_user))
    assert response.status_code == 200
    assert response.json() == {
        "id": people.suburb_a.pk,
        "name": "张三",
        "id_number_masked": people.suburb_a.id_number_masked,
        "phone_masked": "139****0001",
        "region_code": "230811100000",
        "employer": "佳木斯快递有限公司",
        "group": "courier",
        "birth_date": "1990-01-02",
        "sex": "M",
        "home_region_code": "230804002000",
    }
    assert re.fullmatch(r"230811\*{8}\d{3}[\dX]", response.json()["id_number_masked"])


def test_it_lists_items_with_the_documented_fields(client, world, people, bearer):
    response = get(client, "/api/v1/people?page_size=1", bearer(world.district_user))
    body = response.json()
    assert body["count"] == 2
    assert body["items"] == [
        {
            "id": people.suburb_a.pk,
            "name": "张三",
            "id_number_masked": people.suburb_a.id_number_masked,
            "phone_masked": "139****0001",
            "region_code": "230811100000",
            "employer": "佳木斯快递有限公司",
            "group": "courier",
        }
    ]


def test_it_filters_people_by_region_group_and_query(client, world, people, bearer):
    auth = bearer(world.city_user)
    assert ids(get(client, "/api/v1/people?region_code=230811", auth)) == {
        people.suburb_a.pk,
        people.suburb_b.pk,
    }
    assert ids(get(client, "/api/v1/people?region_code=230811100000", auth)) == {people.suburb_a.pk}
    assert ids(get(client, "/api/v1/people?group=courier", auth)) == {people.suburb_a.pk, people.qianjin_a.pk}
    assert ids(get(client, "/api/v1/people?q=李", auth)) == {people.suburb_b.pk}
    # A full phone number finds its person through the keyed hash, sent in the body.
    found = client.post(
        "/api/v1/people/search",
        {"q": "13900000003"},
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert ids(found) == {people.qianjin_a.pk}


def test_it_refuses_an_id_number_or_phone_in_the_url_and_finds_it_in_the_body(client, world, people, bearer):
    auth = bearer(world.district_user)
    refused = get(client, "/api/v1/people?q=13900000001", auth)
    assert refused.status_code == 400
    assert "POST /api/v1/people/search" in refused.json()["detail"]
    assert "13900000001" not in refused.content.decode()

    def search(q, **extra):
        return client.post(
            "/api/v1/people/search",
            {"q": q, **extra},
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )

    assert ids(search("13900000001")) == {people.suburb_a.pk}
    assert ids(search("李")) == {people.suburb_b.pk}
    # The sibling district's person stays out of scope in the body search too.
    assert ids(search("13900000003")) == set()
    assert search("x", page_size=501).status_code == 422


def test_it_never_answers_an_unmasked_id_number_or_phone(client, world, people, bearer):
    assert people.suburb_a.id_number_masked  # the people exist and carry protected data
    for user in (world.city_user, world.district_user, world.sibling_user):
        auth = bearer(user)
        urls = [
            "/api/v1/people",
            "/api/v1/people?page_size=500",
            "/api/v1/people?q=13900000001",
            "/api/v1/me",
            "/api/v1/orgs",
            *(f"/api/v1/people/{p.pk}" for p in (people.suburb_a, people.suburb_b, people.qianjin_a)),
        ]
        for url in urls:
            text = get(client, url, auth).content.decode()
            assert not UNMASKED_ID.search(text), url
            assert not UNMASKED_PHONE.search(text), url


# ---- paging -----------------------------------------------------------------------------------


def test_it_pages_people_with_a_total_count(client, world, bearer):
    made = [make_person(f"工人{i:02d}", world.suburb_town, 100 + i) for i in range(7)]
    auth = bearer(world.district_user)
    first = get(client, "/api/v1/people?page=1&page_size=3", auth).json()
    third = get(client, "/api/v1/people?page=3&page_size=3", auth).json()
    beyond = get(client, "/api/v1/people?page=4&page_size=3", auth).json()
    assert first["count"] == third["count"] == beyond["count"] == 7
    assert [i["id"] for i in first["items"]] == [p.pk for p in made[:3]]
    assert [i["id"] for i in third["items"]] == [made[6].pk]
    assert beyond["items"] == []
    default = get(client, "/api/v1/people", auth).json()
    assert len(default["items"]) == 7


def test_it_defaults_to_50_per_page_and_refuses_more_than_500(client, world, bearer):
    from gonghui.people.models import Person

    template = make_person("样本", world.suburb_town, 500)
    Person.objects.bulk_create(
        [
            Person(name=f"批量{i}", work_region=world.suburb_town, id_number_masked=template.id_number_masked)
            for i in range(55)
        ]
    )
    auth = bearer(world.district_user)
    body = get(client, "/api/v1/people", auth).json()
    assert body["count"] == 56 and len(body["items"]) == 50
    for bad in ("page_size=501", "page_size=0", "page=0", "page=x"):
        response = get(client, f"/api/v1/people?{bad}", auth)
        assert response.status_code == 422, bad
        assert isinstance(response.json()["detail"], str)


def test_it_lists_people_in_a_constant_number_of_queries(
    client, world, bearer, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    auth = bearer(world.city_user)

    def queries_for_listing():
        with CaptureQueriesContext(connection) as captured:
            assert get(client, "/api/v1/people?page_size=500", auth).status_code == 200
        return len(captured)

    make_person("甲", world.suburb_town, 200)
    queries_for_listing()  # the first call also records the token's last use
    few = queries_for_listing()
    for i in range(20):
        make_person(f"乙{i}", world.qianjin_street if i % 2 else world.suburb, 201 + i)
    many = queries_for_listing()
    assert many == few
    # token look-up, viewer scope, count, page
    with django_assert_max_num_queries(4):
        get(client, "/api/v1/people?page_size=500", auth)


# ---- orgs and me ------------------------------------------------------------------------------


def test_it_scopes_orgs_to_the_viewer_subtree(client, world, bearer):
    def codes(user):
        return {o["code"] for o in get(client, "/api/v1/orgs", bearer(user)).json()["items"]}

    assert codes(world.city_user) == {"C230800", "C230811", "C230804", "T230811100"}
    assert codes(world.district_user) == {"C230811", "T230811100"}
    assert codes(world.sibling_user) == {"C230804"}


def test_it_answers_an_org_in_scope_and_404_outside(client, world, bearer):
    world.suburb_town_union.covers_regions.add(world.suburb_town)
    auth = bearer(world.sibling_user)
    assert get(client, f"/api/v1/orgs/{world.suburb_fed.pk}", auth).status_code == 404
    assert get(client, f"/api/v1/orgs/{world.suburb_town_union.pk}", auth).status_code == 404
    assert get(client, f"/api/v1/orgs/{world.qianjin_fed.pk}", auth).status_code == 200
    response = get(client, f"/api/v1/orgs/{world.suburb_town_union.pk}", bearer(world.district_user))
    body = response.json()
    assert body["code"] == "T230811100"
    assert body["parent_id"] == world.suburb_fed.pk
    assert body["region_code"] == "230811100000"
    assert body["covers_regions"] == ["230811100000"]


def test_it_tells_the_viewer_who_they_are(client, world, bearer):
    body = get(client, "/api/v1/me", bearer(world.district_user)).json()
    assert body["username"] == "suburb"
    assert body["can_unmask"] is False
    assert body["roles"] == [
        {"org_id": world.suburb_fed.pk, "org_code": "C230811", "org_name": "郊区总工会", "role": "staff"}
    ]


def test_it_touches_a_token_at_most_once_a_minute(client, world, bearer):
    auth = bearer(world.district_user)
    get(client, "/api/v1/me", auth)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    get(client, "/api/v1/me", auth)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    get(client, "/api/v1/me", auth)
    assert ApiToken.objects.get().last_used_at > first - timedelta(minutes=2)


# ---- schema and docs --------------------------------------------------------------------------


def test_it_serves_the_openapi_schema_listing_people(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/people", "/api/v1/people/{person_id}", "/api/v1/auth/token", "/api/v1/orgs"} <= set(
        paths
    )
    assert "security" in paths["/api/v1/people"]["get"]
    assert "security" not in paths["/api/v1/auth/token"]["post"]


@pytest.mark.parametrize("url", ["/api/v1/docs"])
def test_it_serves_the_docs_page_from_the_site_only(client, db, url):
    from django.contrib.staticfiles import finders

    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, "the docs page references its scripts and styles"
    for asset in assets:
        assert asset.startswith("/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "https://" not in html and "http://" not in html
    assert '"validatorUrl": null' in html
