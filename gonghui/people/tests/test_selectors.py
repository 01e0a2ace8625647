"""Reads of people, scoped by where they work: the district sees its own, the sibling district nothing of it."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from django.http import Http404

from gonghui.accounts.selectors import viewer_scope
from gonghui.lib.idcard import make_id_number
from gonghui.people.selectors import access_person, people_summary, person_list, region_prefix

from .factories import EmployerFactory, OccupationGroupFactory, PersonFactory

SUBURB_ID = make_id_number("230811", date(1988, 8, 8), 11)


@pytest.fixture
def crowd(world):
    couriers = OccupationGroupFactory(code="courier", name="快递员", sort=1)
    riders = OccupationGroupFactory(code="rider", name="外卖送餐员", sort=2)
    employer = EmployerFactory()
    suburb = [
        PersonFactory(
            name="郊区快递甲",
            id_number=SUBURB_ID,
            group=couriers,
            employer=employer,
            work_region=world.suburb,
        ),
        PersonFactory(name="郊区快递乙", group=couriers, employer=employer, work_region=world.suburb_town),
        PersonFactory(name="郊区骑手丙", group=riders, work_region=world.suburb_town, phone="13600000001"),
    ]
    qianjin = [
        PersonFactory(name="前进骑手丁", group=riders, employer=employer, work_region=world.qianjin_street),
    ]
    nowhere = PersonFactory(name="无工作地戊", work_region=None)
    return SimpleNamespace(couriers=couriers, riders=riders, suburb=suburb, qianjin=qianjin, nowhere=nowhere)


def names(queryset):
    return sorted(p.name for p in queryset)


def test_it_shows_the_district_only_its_own_people(world, crowd):
    assert names(person_list(viewer=world.district_user)) == sorted(p.name for p in crowd.suburb)


def test_it_shows_the_sibling_district_only_its_own_people(world, crowd):
    assert names(person_list(viewer=world.sibling_user)) == ["前进骑手丁"]


def test_it_shows_the_city_both_districts(world, crowd):
    assert names(person_list(viewer=world.city_user)) == sorted(p.name for p in crowd.suburb + crowd.qianjin)


def test_it_shows_nothing_to_someone_without_a_role(world, crowd, django_user_model):
    stranger = django_user_model.objects.create_user(username="stranger", password="x")
    assert list(person_list(viewer=stranger)) == []


def test_it_lets_the_district_open_its_person_and_refuses_the_sibling(world, crowd):
    target = crowd.suburb[1]
    assert access_person(world.district_user, target.pk) == target
    assert access_person(world.city_user, str(target.pk)) == target
    with pytest.raises(Http404):
        access_person(world.sibling_user, target.pk)
    with pytest.raises(Http404):
        access_person(world.district_user, crowd.qianjin[0].pk)


@pytest.mark.parametrize("bad_id", [None, "", "abc", "1; DROP TABLE", 10**9])
def test_it_answers_not_found_for_ids_that_are_no_person(world, crowd, bad_id):
    with pytest.raises(Http404):
        access_person(world.city_user, bad_id)


def test_it_searches_names(world, crowd):
    assert names(person_list(viewer=world.city_user, q="骑手")) == ["前进骑手丁", "郊区骑手丙"]
    assert names(person_list(viewer=world.district_user, q=" 骑手 ")) == ["郊区骑手丙"]


def test_it_finds_by_id_number_through_the_keyed_hash_in_any_typing(world, crowd):
    target = crowd.suburb[0]
    id18 = SUBURB_ID
    for typed in [id18, id18[:6] + id18[8:17], f"'{id18.lower()}"]:
        assert list(person_list(viewer=world.district_user, q=typed)) == [target]
    assert list(person_list(viewer=world.sibling_user, q=id18)) == []


def test_it_finds_by_phone_through_the_keyed_hash(world, crowd):
    target = crowd.suburb[2]
    assert list(person_list(viewer=world.district_user, q="+86 136-0000-0001")) == [target]
    assert list(person_list(viewer=world.sibling_user, q="13600000001")) == []


def test_it_narrows_by_region_subtree_and_group(world, crowd):
    town = world.suburb_town
    assert names(person_list(viewer=world.city_user, region_code=town.code)) == ["郊区快递乙", "郊区骑手丙"]
    assert names(person_list(viewer=world.city_user, region_code="230811")) == sorted(
        p.name for p in crowd.suburb
    )
    assert names(person_list(viewer=world.city_user, group_code="rider")) == ["前进骑手丁", "郊区骑手丙"]
    assert names(person_list(viewer=world.district_user, group_code="rider")) == ["郊区骑手丙"]
    # Asking for the other district's region does not widen the scope.
    assert names(person_list(viewer=world.sibling_user, region_code=world.suburb.code)) == []


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("230811000000", "230811"),
        ("230811", "230811"),
        ("230800000000", "2308"),
        ("230811100000", "230811100"),
        ("230811100201", "230811100201"),
        ("110100", "1101"),
        ("000000", ""),
    ],
)
def test_it_turns_a_division_code_into_its_subtree_prefix(code, prefix):
    assert region_prefix(code) == prefix


def test_it_lists_people_in_a_constant_number_of_queries(world, crowd, django_assert_num_queries):
    viewer = world.city_user
    viewer_scope(viewer)  # the scope is looked up once per request and cached on the user

    def read_page():
        return [
            (
                p.name,
                p.employer.name if p.employer else "",
                p.group.name if p.group else "",
                p.work_region.name,
            )
            for p in person_list(viewer=viewer)
        ]

    with django_assert_num_queries(1):
        few = read_page()
    for _ in range(6):
        PersonFactory(group=crowd.couriers, employer=EmployerFactory(), work_region=world.qianjin_street)
    with django_assert_num_queries(1):
        many = read_page()
    assert len(many) == len(few) + 6


def test_it_summarises_the_viewers_people_by_county_and_group(world, crowd):
    city = people_summary(viewer=world.city_user)
    assert city["total"] == 4
    assert {(r["code"], r["name"], r["count"]) for r in city["by_region"]} == {
        ("230811", "郊区", 3),
        ("230804", "前进区", 1),
    }
    assert {(g["code"], g["count"]) for g in city["by_group"]} == {("courier", 2), ("rider", 2)}

    district = people_summary(viewer=world.district_user)
    assert district["total"] == 3
    assert [(r["code"], r["count"]) for r in district["by_region"]] == [("230811", 3)]
    assert {(g["code"], g["count"]) for g in district["by_group"]} == {("courier", 2), ("rider", 1)}

    sibling = people_summary(viewer=world.sibling_user)
    assert sibling["total"] == 1
    assert [r["code"] for r in sibling["by_region"]] == ["230804"]


def test_it_summarises_in_a_constant_number_of_queries(world, crowd, django_assert_num_queries):
    viewer = world.city_user
    viewer_scope(viewer)
    with django_assert_num_queries(4):
        people_summary(viewer=viewer)
    for _ in range(5):
        PersonFactory(group=OccupationGroupFactory(), work_region=world.qianjin)
    with django_assert_num_queries(4):
        people_summary(viewer=viewer)
