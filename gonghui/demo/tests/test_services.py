"""The demo city as `demo_seed` builds it: the union tree, employers, people, logins and their scope.

One small city (500 workers) is seeded for the whole module and rolled back at its end; each test
runs inside it in its own savepoint.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404
from django.test import override_settings

from gonghui.conftest import TEST_DATA_KEY
from gonghui.demo.services import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DemoAlreadySeeded,
    _protected_columns,
    demo_seed,
)
from gonghui.demo.synth import AS_OF, MAX_AGE, MIN_AGE, IdentityMaker, employer_specs
from gonghui.lib.creditcode import is_valid_credit_code
from gonghui.lib.crypto import decrypt
from gonghui.lib.idcard import normalize_id_number, parse_id_number
from gonghui.lib.phone import normalize_mobile
from gonghui.orgs.models import Employer, Org, OrgKind
from gonghui.people.models import Person
from gonghui.people.selectors import access_person, person_list
from gonghui.people.services import id_number_hash, phone_hash, protected_fields
from gonghui.regions.models import Region, RegionLevel

PEOPLE = 500
COUNTY_CODES = (
    "230803",
    "230804",
    "230805",
    "230811",
    "230822",
    "230826",
    "230828",
    "230881",
    "230882",
    "230883",
)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """A demo city of 500 workers, seeded once for the module and rolled back after it."""
    with django_db_blocker.unblock(), override_settings(GONGHUI_DATA_KEY=TEST_DATA_KEY):
        with transaction.atomic():
            report = demo_seed(people=PEOPLE, random_seed=2021)
            yield report
            transaction.set_rollback(True)


@pytest.fixture
def city(seeded, db):
    return seeded


def org(code: str) -> Org:
    return Org.objects.select_related("parent", "region").get(code=code)


def user(username: str):
    return get_user_model().objects.get(username=username)


def test_it_builds_the_city_and_county_federations(city):
    top = org("F230800")
    assert top.name == "佳木斯市总工会" and top.kind == OrgKind.FEDERATION and top.parent is None
    assert top.region.code == "230800000000"
    counties = Org.objects.filter(parent=top, kind=OrgKind.FEDERATION).select_related("region")
    assert sorted(o.region.code[:6] for o in counties) == sorted(COUNTY_CODES)
    assert {o.name for o in counties} >= {"郊区总工会", "前进区总工会", "向阳区总工会", "富锦市总工会"}
    for federation in counties:
        assert list(federation.covers_regions.all()) == [federation.region]


def test_it_gives_every_township_and_village_unit_its_union_as_the_safety_net(city):
    townships = Region.objects.filter(level=RegionLevel.TOWNSHIP, code__startswith="2308")
    villages = Region.objects.filter(level=RegionLevel.VILLAGE, code__startswith="2308")
    assert townships.count() > 40 and villages.count() > 100
    township_unions = Org.objects.filter(kind=OrgKind.TOWNSHIP).select_related("parent__region", "region")
    assert sorted(u.region.code for u in township_unions) == sorted(r.code for r in townships)
    for union in township_unions:
        assert union.parent.kind == OrgKind.FEDERATION
        assert union.parent.region.code[:6] == union.region.code[:6]
        assert list(union.covers_regions.all()) == [union.region]
    village_unions = Org.objects.filter(kind=OrgKind.VILLAGE).select_related("parent__region", "region")
    assert sorted(u.region.code for u in village_unions) == sorted(r.code for r in villages)
    for union in village_unions:
        assert union.parent.kind == OrgKind.TOWNSHIP
        assert union.parent.region.code[:9] == union.region.code[:9]
    assert org("T230811100").name == "长发镇总工会"


def test_it_gives_eight_head_enterprises_their_own_unions(city):
    unions = Org.objects.filter(kind=OrgKind.ENTERPRISE).prefetch_related("covers_employers")
    assert unions.count() == 8
    covered = [list(u.covers_employers.all()) for u in unions]
    assert all(len(employers) == 1 and employers[0].is_head_enterprise for employers in covered)
    names = {employers[0].name for employers in covered}
    assert {"大商集团佳木斯分公司", "佳木斯万达广场商业管理有限公司", "顺丰速运佳木斯分公司"} <= names
    for union, (employer,) in zip(unions, covered, strict=True):
        assert union.code == f"E{employer.credit_code}"
    assert Employer.objects.filter(is_head_enterprise=True).count() == 8


def test_it_builds_the_industry_federations_the_districts_claimed(city):
    expected = {
        "佳木斯市快递行业工会联合会": ("F230800", {"courier"}, "230800"),
        "佳木斯市家政服务业工会联合会": ("F230800", {"housekeeper"}, "230800"),
        "佳木斯市护工护理员行业工会联合会": ("F230800", {"carer"}, "230800"),
        "佳木斯市房产中介行业工会联合会": ("F230800", {"estate_agent"}, "230800"),
        "郊区电商行业工会联合会": ("F230811", {"platform_other"}, "230811"),
        "郊区物流行业工会联合会": ("F230811", {"truck_driver", "courier"}, "230811"),
        "富锦市货运物流行业工会联合会": ("F230882", {"truck_driver"}, "230882"),
    }
    federations = Org.objects.filter(kind=OrgKind.INDUSTRY).select_related("parent")
    assert {f.name for f in federations} == set(expected)
    for federation in federations:
        parent_code, groups, region6 = expected[federation.name]
        assert federation.parent.code == parent_code
        assert set(federation.covers_groups.values_list("code", flat=True)) == groups
        assert [r.code[:6] for r in federation.covers_regions.all()] == [region6]
    # The district federations take in the local firms of their trade.
    logistics = org("I-230811-logistics")
    assert logistics.covers_employers.exists()
    assert all(e.credit_code[2:8] == "230811" for e in logistics.covers_employers.all())
    joint = Org.objects.get(kind=OrgKind.JOINT)
    assert joint.parent.kind == OrgKind.TOWNSHIP and joint.region.name.endswith("街道")


def test_it_keeps_every_org_path_and_depth_consistent_with_its_parent(city):
    orgs = {o.pk: o for o in Org.objects.all()}
    assert len(orgs) > 200
    for o in orgs.values():
        if o.parent_id is None:
            assert (o.path, o.depth) == (f"/{o.pk}/", 0)
        else:
            parent = orgs[o.parent_id]
            assert (o.path, o.depth) == (f"{parent.path}{o.pk}/", parent.depth + 1)
    # Subtree queries work: 郊区's subtree holds its own unions and nothing of 前进区.
    suburb = org("F230811")
    subtree = Org.objects.filter(path__startswith=suburb.path)
    assert subtree.filter(code="T230811100").exists()
    assert not subtree.filter(region__code__startswith="230804").exists()


def test_it_gives_about_two_hundred_employers_valid_credit_codes_and_flags(city):
    employers = list(Employer.objects.all())
    assert 180 <= len(employers) <= 220
    assert all(is_valid_credit_code(e.credit_code) for e in employers)
    platforms = {e.name for e in employers if e.is_platform}
    assert {
        "美团外卖佳木斯配送站",
        "饿了么佳木斯配送站",
        "滴滴出行佳木斯分公司",
        "货拉拉佳木斯分公司",
    } <= platforms
    assert not Employer.objects.get(name="大商集团佳木斯分公司").is_platform


def test_it_stores_people_with_valid_unique_id_numbers_and_phones(city):
    people = list(Person.objects.all())
    assert len(people) == PEOPLE
    assert len({p.id_number_hash for p in people}) == PEOPLE
    assert len({p.phone_hash for p in people}) == PEOPLE
    for person in random.Random(1).sample(people, 60):
        id_number = decrypt(person.id_number_cipher)
        assert normalize_id_number(id_number) == id_number  # 18 characters, check character right
        info = parse_id_number(id_number)
        assert (info.birth_date, info.sex, info.birthplace_code) == (
            person.birth_date,
            person.sex,
            person.birthplace_code,
        )
        age = (
            AS_OF.year
            - info.birth_date.year
            - ((AS_OF.month, AS_OF.day) < (info.birth_date.month, info.birth_date.day))
        )
        assert MIN_AGE <= age <= MAX_AGE
        assert person.id_number_hash == id_number_hash(id_number)
        assert person.id_number_masked == id_number[:6] + "*" * 8 + id_number[-4:]
        phone = decrypt(person.phone_cipher)
        assert normalize_mobile(phone) == phone
        assert person.phone_hash == phone_hash(phone)
        assert person.phone_masked == phone[:3] + "****" + phone[-4:]


def test_it_writes_the_columns_protected_fields_would(city):
    maker = IdentityMaker(random.Random(5))
    for sex in "MFMF":
        who = maker.make(sex=sex)
        fast = _protected_columns(who)
        slow = protected_fields(id_number=who.id_number, phone=who.phone)
        assert fast.keys() == slow.keys()
        for key in slow:
            if key.endswith("_cipher"):
                assert decrypt(fast[key]) == decrypt(slow[key])
            else:
                assert fast[key] == slow[key], key


def test_it_gives_names_like_a_north_eastern_city_with_some_minority_and_common_names(city):
    names = list(Person.objects.values_list("name", flat=True))
    assert all(2 <= len(n) <= 20 for n in names)
    assert sum(n[0] in "王李张刘" for n in names) > PEOPLE * 0.2
    # A bigger draw shows the rarer shapes: names with the middle dot, and the commonest names repeated.
    maker = IdentityMaker(random.Random(3))
    many = [maker.make(sex=s).name for s in "MF" * 3000]
    assert any("·" in n for n in many)
    assert many.count("张伟") + many.count("王伟") > 1 and many.count("王芳") > 1


def test_it_gives_workers_employers_of_their_trade_and_work_places_in_the_city(city):
    by_code = {s.credit_code: s for s in _specs()}
    people = Person.objects.select_related("employer", "group", "work_region", "home_region")
    groups_seen = set()
    for person in people:
        groups_seen.add(person.group.code)
        assert person.work_region.level in (RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)
        assert person.work_region.code.startswith("2308") and person.home_region.code.startswith("2308")
        assert person.occupation
        if person.employer is not None:
            spec = by_code[person.employer.credit_code]
            assert person.group.code in spec.groups
            assert spec.county_code in ("230800", person.work_region.code[:6])
    assert len(groups_seen) == 10
    riders = people.filter(group__code="rider").exclude(employer=None)
    assert {"美团外卖佳木斯配送站", "饿了么佳木斯配送站"} <= set(
        riders.values_list("employer__name", flat=True)
    )
    urban = people.filter(work_region__code__regex=r"^2308(03|04|05|11)").count()
    assert urban > PEOPLE * 0.45


def _specs():
    counties = Region.objects.filter(level=RegionLevel.COUNTY, code__startswith="2308").order_by("code")
    return employer_specs([(c.code[:6], c.name) for c in counties])


@pytest.mark.parametrize("login", DEMO_LOGINS, ids=lambda login: login.username)
def test_it_creates_demo_logins_that_sign_in(city, client, login):
    response = client.post("/accounts/login/", {"username": login.username, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    account = user(login.username)
    assert list(account.roles.values_list("org__code", "role")) == [(login.org_code, login.role)]
    assert account.has_perm("people.view_unmasked") is login.can_unmask
    assert account.is_staff is login.is_staff and not account.is_superuser
    admin = client.get("/admin/orgs/org/")
    if login.is_staff:
        assert admin.status_code == 200 and "佳木斯市总工会" in admin.content.decode()
    else:
        assert admin.status_code == 302  # to the admin's login: not staff


def test_it_scopes_the_district_login_to_its_district_and_refuses_the_sibling(city):
    suburb, qianjin, city_user = user("suburb"), user("qianjin"), user("city")
    in_suburb = Person.objects.filter(work_region__code__startswith="230811")
    assert in_suburb.exists()
    seen = person_list(viewer=suburb)
    assert set(seen.values_list("pk", flat=True)) == set(in_suburb.values_list("pk", flat=True))
    assert person_list(viewer=city_user).count() == PEOPLE
    assert not person_list(viewer=qianjin).filter(work_region__code__startswith="230811").exists()
    assert person_list(viewer=qianjin).exists()
    someone = in_suburb.first()
    assert access_person(suburb, someone.pk) == someone
    with pytest.raises(Http404):
        access_person(qianjin, someone.pk)


def test_it_audits_the_seed_with_its_counts(city):
    from gonghui.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="demo.seed")
    assert event.detail["people"] == PEOPLE and event.detail["random_seed"] == 2021
    assert event.detail["logins"] == [login.username for login in DEMO_LOGINS]
    assert AuditEvent.objects.filter(action="accounts.user_create").count() == len(DEMO_LOGINS)


def test_it_refuses_to_seed_again_and_writes_nothing(city):
    before = (Person.objects.count(), Org.objects.count(), Employer.objects.count(), Region.objects.count())
    with pytest.raises(DemoAlreadySeeded, match="refusing"):
        demo_seed(people=10)
    assert (
        Person.objects.count(),
        Org.objects.count(),
        Employer.objects.count(),
        Region.objects.count(),
    ) == before


def test_it_dates_industry_federations_in_the_year_of_the_drive(city):
    dates = Org.objects.filter(kind=OrgKind.INDUSTRY).values_list("founded_on", flat=True)
    assert all(d is not None and d.year == 2021 and d <= date(2021, 11, 1) for d in dates)
