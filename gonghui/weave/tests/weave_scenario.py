"""A small woven city on top of the `world` personas: every rule, holes, overlaps, an inactive union.

Regions: 郊区 (230811) > 长发镇 (230811100) > 长发村 (230811100201); 前进区 (230804) > 永安街道.
Unions (besides the world's federations and 长发镇总工会, a township union):
- ENT   enterprise union of 顺达快递 (employer A)
- INDC  industry federation, couriers, the whole city
- INDS  industry federation, couriers, 郊区 (nearer than INDC for people in 郊区)
- INDX  industry federation, couriers, 长发镇 — dissolved, must be ignored
- J1    joint union of 长发镇 (its own region, no groups: everyone there)
- J2    joint union covering 郊区 for riders only
- V1    village union of 长发村
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def weave_city(world):
    from gonghui.orgs.models import Employer, OccupationGroup, OrgStatus
    from gonghui.orgs.services import org_create, org_set_coverage
    from gonghui.people.models import Person
    from gonghui.regions.models import Region, RegionLevel

    village = Region.objects.create(
        code="230811100201", name="长发村", level=RegionLevel.VILLAGE, parent=world.suburb_town
    )
    groups = {g.code: g for g in OccupationGroup.objects.all()}
    courier, rider, carer = groups["courier"], groups["rider"], groups["carer"]
    employer = Employer.objects.create(credit_code="91230800MA1B2C3D4E", name="顺达快递", region=world.suburb)
    other_employer = Employer.objects.create(credit_code="91230800MA1B2C3D5F", name="无工会公司")

    def org(
        code, name, kind, *, parent=None, region=None, regions=(), groups=(), employers=(), status="active"
    ):
        o = org_create(
            code=code, name=name, kind=kind, parent=parent or world.suburb_fed, region=region, status=status
        )
        org_set_coverage(org=o, regions=regions, groups=groups, employers=employers)
        return o

    ent = org("ENT", "顺达快递工会", "enterprise", region=world.suburb, employers=[employer])
    indc = org(
        "INDC",
        "佳木斯市快递行业工会联合会",
        "industry",
        parent=world.city_fed,
        regions=[world.city],
        groups=[courier],
    )
    inds = org(
        "INDS",
        "郊区快递行业工会联合会",
        "industry",
        region=world.suburb,
        regions=[world.suburb],
        groups=[courier],
    )
    indx = org(
        "INDX",
        "长发镇快递行业工会（已撤销）",
        "industry",
        regions=[world.suburb_town],
        groups=[courier],
        status=OrgStatus.DISSOLVED,
    )
    j1 = org("J1", "长发镇联合工会", "joint", parent=world.suburb_town_union, region=world.suburb_town)
    j2 = org("J2", "郊区外卖骑手联合工会", "joint", regions=[world.suburb], groups=[rider])
    v1 = org("V1", "长发村工会", "village", parent=world.suburb_town_union, region=village)

    def person(name, **kw):
        return Person.objects.create(name=name, **kw)

    people = SimpleNamespace(
        # employer with its own union, courier, in the village: every rule finds someone
        ent=person("企业员工", employer=employer, group=courier, work_region=village),
        courier=person("快递员", group=courier, work_region=village),
        rider=person("骑手", group=rider, work_region=world.suburb_town),
        carer=person("护工", group=carer, work_region=world.suburb_town),
        qianjin=person("前进快递员", group=courier, work_region=world.qianjin_street),
        qianjin_carer=person("前进护工", group=carer, work_region=world.qianjin_street),
        hole=person("无处可归", group=carer, employer=other_employer),
        home=person("住在村里", group=carer, home_region=village),
        both=person("村里住前进干", group=carer, work_region=world.qianjin_street, home_region=village),
        emp_only=person("只有企业", employer=employer),
    )
    return SimpleNamespace(
        world=world,
        village=village,
        courier=courier,
        rider=rider,
        carer=carer,
        employer=employer,
        ent=ent,
        indc=indc,
        inds=inds,
        indx=indx,
        j1=j1,
        j2=j2,
        v1=v1,
        township=world.suburb_town_union,
        people=people,
    )


def write_policy(directory, *, order=None, basis=None, safety_net=None, effective="2020-01-01"):
    """A coverage policy file in `directory` (same shape as policies/weave_coverage.yaml)."""
    order = order or ["enterprise", "industry", "joint", "township", "village"]
    basis = basis or ["work", "home"]
    safety_net = ["township", "village"] if safety_net is None else safety_net
    reasons = "\n".join(
        f"      {rule}: {'所在企业已单独建会' if rule == 'enterprise' else '由{org}覆盖'}" for rule in order
    )
    (directory / "weave_coverage.yaml").write_text(
        "policy: weave_coverage\nissuer: 测试总工会\ndocument: 测试规则\nversions:\n"
        f"  - effective: {effective}\n    version: 7\n"
        f"    order: [{', '.join(order)}]\n    safety_net: [{', '.join(safety_net)}]\n"
        f"    region_basis: [{', '.join(basis)}]\n    reasons:\n{reasons}\n      hole: 无工会覆盖\n",
        encoding="utf-8",
    )
    return directory
