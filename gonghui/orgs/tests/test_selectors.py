import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from gonghui.orgs.selectors import access_org, org_ancestors, org_list, org_summary
from gonghui.orgs.services import org_create


def codes(qs):
    return {o.code for o in qs}


def test_it_lists_each_personas_subtree(world):
    assert codes(org_list(viewer=world.city_user)) == {"C230800", "C230811", "C230804", "T230811100"}
    assert codes(org_list(viewer=world.district_user)) == {"C230811", "T230811100"}
    assert codes(org_list(viewer=world.sibling_user)) == {"C230804"}
    assert codes(org_list(viewer=AnonymousUser())) == set()


def test_it_keeps_the_sibling_districts_orgs_out_of_the_district_list(world):
    org_create(
        code="E1", name="前进区某企业工会", kind="enterprise", parent=world.qianjin_fed, region=world.qianjin
    )
    listed = codes(org_list(viewer=world.district_user))
    assert "E1" not in listed and "C230804" not in listed
    assert "E1" in codes(org_list(viewer=world.sibling_user))


def test_it_filters_by_kind_and_text(world):
    assert codes(org_list(viewer=world.city_user, kind="township")) == {"T230811100"}
    assert codes(org_list(viewer=world.city_user, q="长发")) == {"T230811100"}
    assert codes(org_list(viewer=world.city_user, q="C23081")) == {"C230811"}
    assert codes(org_list(viewer=world.sibling_user, q="长发")) == set()


def test_it_gives_an_org_to_a_viewer_in_scope(world):
    assert access_org(world.city_user, world.suburb_fed.pk) == world.suburb_fed
    assert access_org(world.district_user, str(world.suburb_town_union.pk)) == world.suburb_town_union


def test_it_refuses_the_sibling_district_the_suburb_federation(world):
    with pytest.raises(Http404):
        access_org(world.sibling_user, world.suburb_fed.pk)
    with pytest.raises(Http404):
        access_org(world.sibling_user, world.suburb_town_union.pk)
    with pytest.raises(Http404):
        access_org(world.district_user, world.city_fed.pk)
    with pytest.raises(Http404):
        access_org(world.district_user, "not-an-id")


def test_it_summarises_orgs_by_kind_for_the_viewer(world, django_assert_num_queries):
    summary = org_summary(viewer=world.city_user)
    assert summary["total"] == 4
    assert [(r["kind"], r["count"]) for r in summary["by_kind"]] == [("federation", 3), ("township", 1)]
    assert org_summary(viewer=world.sibling_user) == {
        "total": 1,
        "by_kind": [{"kind": "federation", "label": summary["by_kind"][0]["label"], "count": 1}],
    }
    org_summary(viewer=world.district_user)  # the viewer's scope is read once, then kept on the user
    with django_assert_num_queries(1):
        org_summary(viewer=world.district_user)


def test_it_lists_ancestors_root_first(world):
    assert list(org_ancestors(world.suburb_town_union)) == [world.city_fed, world.suburb_fed]
    assert list(org_ancestors(world.city_fed)) == []
