import pytest
from django.http import Http404

from gonghui.regions.models import Region
from gonghui.regions.selectors import access_region, region_list, region_subtree_q


def codes(qs):
    return {r.code for r in qs}


def test_it_lists_only_regions_in_the_viewers_scope(world):
    assert codes(region_list(viewer=world.city_user)) >= {"230811000000", "230804000000", "230811100000"}
    suburb_view = codes(region_list(viewer=world.district_user))
    assert suburb_view == {"230811000000", "230811100000"}
    assert codes(region_list(viewer=world.sibling_user)) == {"230804000000", "230804002000"}


def test_it_lists_the_children_of_a_parent(world):
    assert codes(region_list(viewer=world.city_user, parent_code="2308")) == {"230811000000", "230804000000"}
    assert codes(region_list(viewer=world.district_user, parent_code="2308")) == {"230811000000"}
    assert codes(region_list(viewer=world.city_user, parent_code="not-a-code")) == set()


def test_it_gives_a_region_to_a_viewer_who_may_see_it(world):
    assert access_region(world.district_user, "230811100") == world.suburb_town
    assert access_region(world.city_user, "230811") == world.suburb


def test_it_refuses_the_sibling_district_a_suburb_region(world):
    with pytest.raises(Http404):
        access_region(world.sibling_user, "230811")
    with pytest.raises(Http404):
        access_region(world.sibling_user, "230811100")
    with pytest.raises(Http404):
        access_region(world.district_user, "230804")
    with pytest.raises(Http404):
        access_region(world.district_user, "bogus")


@pytest.mark.django_db
def test_it_refuses_an_anonymous_viewer():
    from django.contrib.auth.models import AnonymousUser

    Region.objects.create(code="230000000000", name="黑龙江省", level=1)
    assert not region_list(viewer=AnonymousUser()).exists()
    with pytest.raises(Http404):
        access_region(AnonymousUser(), "23")


def test_it_builds_a_subtree_filter(world):
    assert codes(Region.objects.filter(region_subtree_q(world.suburb))) == {"230811000000", "230811100000"}
    assert codes(Region.objects.filter(region_subtree_q(world.city))) == {
        "230800000000",
        "230811000000",
        "230804000000",
        "230811100000",
        "230804002000",
    }
