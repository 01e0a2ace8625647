import pytest

from gonghui.lib.creditcode import InvalidCreditCode, make_credit_code
from gonghui.orgs.models import Employer, OccupationGroup, Org
from gonghui.orgs.services import (
    OrgError,
    employer_upsert,
    org_create,
    org_move,
    org_set_coverage,
    org_update,
)


def paths():
    return dict(Org.objects.values_list("code", "path"))


@pytest.mark.django_db
def test_it_ships_the_ten_occupation_groups_in_order():
    groups = list(OccupationGroup.objects.values_list("code", "name", "is_eight_groups"))
    assert groups == [
        ("truck_driver", "货车司机", True),
        ("courier", "快递员", True),
        ("rider", "外卖送餐员", True),
        ("carer", "护工护理员", True),
        ("housekeeper", "家政服务员", True),
        ("mall_staff", "商场信息员", True),
        ("estate_agent", "房产中介员", True),
        ("security_guard", "保安员", True),
        ("ride_hailing", "网约车司机", False),
        ("platform_other", "其他平台从业人员", False),
    ]
    assert all(OccupationGroup.objects.values_list("name_en", flat=True))


def test_it_moves_a_subtree_and_recomputes_every_path(world):
    village = org_create(
        code="V1", name="新发村工会", kind="village", parent=world.suburb_town_union, region=world.suburb_town
    )
    org_move(org=world.suburb_town_union, parent=world.qianjin_fed)
    town_path = f"{world.qianjin_fed.path}{world.suburb_town_union.pk}/"
    assert paths()["T230811100"] == town_path
    assert paths()["V1"] == f"{town_path}{village.pk}/"
    assert Org.objects.get(code="V1").depth == 3
    # Back to the top of the tree: depth drops for the whole subtree.
    org_move(org=world.suburb_town_union, parent=None)
    assert Org.objects.get(code="T230811100").depth == 0
    assert Org.objects.get(code="V1").path == f"/{world.suburb_town_union.pk}/{village.pk}/"
    assert Org.objects.get(code="V1").depth == 1


def test_it_refuses_to_move_an_org_under_its_own_subtree(world):
    before = paths()
    with pytest.raises(OrgError, match="移到它自己或其下级"):
        org_move(org=world.suburb_fed, parent=world.suburb_town_union)
    with pytest.raises(OrgError):
        org_update(org=world.suburb_fed, parent=world.suburb_fed)
    assert paths() == before


def test_it_updates_only_the_given_fields(world):
    org_update(org=world.suburb_town_union, name="长发镇工会联合会", parent=world.city_fed)
    org = Org.objects.get(code="T230811100")
    assert org.name == "长发镇工会联合会"
    assert org.parent == world.city_fed
    assert org.region == world.suburb_town
    assert org.path == f"{world.city_fed.path}{org.pk}/"
    with pytest.raises(OrgError, match="未知的组织类型"):
        org_update(org=org, kind="club")


@pytest.mark.django_db
def test_it_upserts_an_employer_by_its_checked_credit_code():
    code = make_credit_code(7)
    first = employer_upsert(credit_code=code.lower(), name="佳木斯顺达快递有限公司", is_platform=True)
    assert first.credit_code == code and first.is_platform
    again = employer_upsert(credit_code=f" {code} ", name="佳木斯顺达快递有限公司", is_head_enterprise=True)
    assert again.pk == first.pk
    assert (again.is_platform, again.is_head_enterprise) == (False, True)
    with pytest.raises(InvalidCreditCode, match="校验位不符"):
        employer_upsert(credit_code=code[:-1] + ("0" if code[-1] != "0" else "1"), name="x")
    assert Employer.objects.count() == 1


def test_it_sets_what_an_org_covers(world):
    couriers = OccupationGroup.objects.get(code="courier")
    employer = employer_upsert(credit_code=make_credit_code(1), name="某快递公司")
    org_set_coverage(org=world.suburb_fed, regions=[world.suburb], groups=[couriers], employers=[employer])
    assert list(world.suburb_fed.covers_regions.all()) == [world.suburb]
    org_set_coverage(org=world.suburb_fed, regions=[], groups=[couriers], employers=[])
    assert not world.suburb_fed.covers_regions.exists()
    assert list(world.suburb_fed.covers_groups.all()) == [couriers]
