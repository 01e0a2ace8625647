"""The coverage rules, set-based (weave runs) and for one person (suggest_unions), and the policy that orders them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from gonghui.orgs.models import OrgStatus
from gonghui.weave.engine import suggest_unions
from gonghui.weave.models import (
    ChangeKind,
    Coverage,
    CoverageCell,
    CoverageChange,
    RunStatus,
    WeaveRun,
)
from gonghui.weave.policy import CoveragePolicyError, coverage_policy
from gonghui.weave.selectors import covering_of
from gonghui.weave.services import weave_run

from . import weave_scenario
from .weave_scenario import write_policy

weave_city = weave_scenario.weave_city  # the fixture

pytestmark = pytest.mark.django_db

DEFAULT = {
    "ent": ["ENT", "INDS", "INDC", "J1", "T230811100", "V1"],
    "courier": ["INDS", "INDC", "J1", "T230811100", "V1"],
    "rider": ["J1", "J2", "T230811100"],
    "carer": ["J1", "T230811100"],
    "qianjin": ["INDC"],
    "qianjin_carer": [],
    "hole": [],
    "home": ["J1", "T230811100", "V1"],
    "both": [],
    "emp_only": ["ENT"],
}


def covering(person):
    return covering_of(Coverage.objects.filter(person=person).first())


def covering_codes(person) -> list[str]:
    return [row.org.code for row in covering(person)]


def answer(city) -> dict[str, list[str]]:
    return {name: covering_codes(p) for name, p in vars(city.people).items()}


def policy_with(tmp_path, **kw):
    return coverage_policy(dt.date(2026, 1, 1), directory=write_policy(tmp_path, **kw))


def test_it_follows_the_default_order_through_every_rule(weave_city):
    run = weave_run()
    assert run.status == RunStatus.DONE
    assert answer(weave_city) == DEFAULT
    p = weave_city.people
    ent = Coverage.objects.get(person=p.ent)
    assert (ent.primary_org, ent.primary_rule, ent.reason) == (
        weave_city.ent,
        "enterprise",
        "所在企业已单独建会",
    )
    assert ent.n_covering == 6
    courier = Coverage.objects.get(person=p.courier)
    # The nearest industry federation up the region tree wins: 郊区's, not the city's.
    assert (courier.primary_org, courier.primary_rule) == (weave_city.inds, "industry")
    assert courier.reason == "由郊区快递行业工会联合会覆盖"
    assert Coverage.objects.get(person=p.rider).primary_rule == "joint"
    assert Coverage.objects.get(person=p.qianjin).primary_org == weave_city.indc
    ranks = [(row.rank, row.rule) for row in covering(p.ent)]
    assert ranks == [
        (1, "enterprise"),
        (2, "industry"),
        (3, "industry"),
        (4, "joint"),
        (5, "township"),
        (6, "village"),
    ]


def test_it_counts_holes_and_overlaps(weave_city):
    run = weave_run()
    p = weave_city.people
    hole = Coverage.objects.get(person=p.hole)
    assert (hole.primary_org, hole.primary_rule, hole.reason, hole.n_covering) == (None, "", "无工会覆盖", 0)
    assert Coverage.objects.get(person=p.qianjin_carer).primary_org is None
    assert (run.people, run.covered, run.holes, run.overlaps) == (10, 7, 3, 5)
    assert Coverage.objects.filter(n_covering__gt=1).count() == 5


def test_the_township_and_village_rules_are_each_reached(weave_city, tmp_path):
    p = weave_city.people
    weave_city.j1.status = OrgStatus.DISSOLVED
    weave_city.j1.save()
    run = weave_run()
    carer = Coverage.objects.get(person=p.carer)
    assert (carer.primary_org, carer.primary_rule, carer.reason) == (
        weave_city.township,
        "township",
        "由长发镇总工会覆盖",
    )
    # Only the safety net (township, village) covers the carer and the person living in the village.
    assert run.safety_net_only == 2
    weave_run(policy=policy_with(tmp_path, order=["enterprise", "industry", "joint", "village", "township"]))
    home = Coverage.objects.get(person=p.home)
    assert (home.primary_org, home.primary_rule) == (weave_city.v1, "village")


def test_inactive_unions_are_ignored(weave_city):
    weave_run()
    assert "INDX" not in {code for codes in answer(weave_city).values() for code in codes}
    weave_city.indx.status = OrgStatus.ACTIVE
    weave_city.indx.save()
    weave_run()
    # Active again, the 长发镇 federation is the nearest for the village courier.
    assert covering_codes(weave_city.people.courier)[:3] == ["INDX", "INDS", "INDC"]


def test_a_policy_that_changes_the_order_changes_the_result(weave_city, tmp_path):
    weave_run(policy=policy_with(tmp_path, order=["village", "township", "joint", "industry", "enterprise"]))
    ent = Coverage.objects.get(person=weave_city.people.ent)
    assert (ent.primary_org, ent.primary_rule, ent.reason) == (weave_city.v1, "village", "由长发村工会覆盖")
    assert covering_codes(weave_city.people.ent) == ["V1", "T230811100", "J1", "INDS", "INDC", "ENT"]


def test_a_rule_left_out_of_the_policy_is_not_applied(weave_city, tmp_path):
    weave_run(policy=policy_with(tmp_path, order=["enterprise", "industry", "township", "village"]))
    assert covering_codes(weave_city.people.rider) == ["T230811100"]
    assert covering_codes(weave_city.people.ent) == ["ENT", "INDS", "INDC", "T230811100", "V1"]


def test_the_region_basis_is_work_then_home_unless_the_policy_says_otherwise(weave_city, tmp_path):
    p = weave_city.people
    weave_run()
    # Works in 前进区 (no union for carers there), lives in 长发村: the work region counts.
    assert Coverage.objects.get(person=p.both).primary_org is None
    assert Coverage.objects.get(person=p.home).region == weave_city.village  # home as the fallback
    weave_run(policy=policy_with(tmp_path, basis=["home", "work"]))
    both = Coverage.objects.get(person=p.both)
    assert (both.primary_org, both.region) == (weave_city.j1, weave_city.village)
    (tmp_path / "work_only").mkdir()
    weave_run(policy=policy_with(tmp_path / "work_only", basis=["work"]))
    assert Coverage.objects.get(person=p.home).primary_org is None


def test_suggest_unions_agrees_with_the_set_based_run(weave_city, tmp_path):
    for policy in (
        coverage_policy(),
        policy_with(
            tmp_path, order=["joint", "village", "enterprise", "township", "industry"], basis=["home", "work"]
        ),
    ):
        weave_run(policy=policy)
        for name, person in vars(weave_city.people).items():
            suggestions = suggest_unions(
                employer_id=person.employer_id,
                group_id=person.group_id,
                work_region_id=person.work_region_id,
                home_region_id=person.home_region_id,
                policy=policy,
            )
            rows = [(row.org.code, row.rule) for row in covering(person)]
            assert [(s.org.code, s.rule) for s in suggestions] == rows, name
            coverage = Coverage.objects.get(person=person)
            assert (suggestions[0].reason if suggestions else "无工会覆盖") == coverage.reason, name


def test_suggest_unions_for_facts_without_a_person(weave_city):
    found = suggest_unions(group_id=weave_city.courier.pk, work_region_id=weave_city.village.pk)
    assert [(s.org.code, s.rule, s.safety_net) for s in found] == [
        ("INDS", "industry", False),
        ("INDC", "industry", False),
        ("J1", "joint", False),
        ("T230811100", "township", True),
        ("V1", "village", True),
    ]
    assert found[0].reason == "由郊区快递行业工会联合会覆盖"
    assert suggest_unions() == []


def test_the_diff_of_two_runs_says_who_gained_lost_and_switched(weave_city):
    from gonghui.orgs.services import org_create

    first = weave_run()
    assert (first.gained, first.lost, first.switched) == (0, 0, 0)  # no previous answer to compare with
    assert not CoverageChange.objects.exists()
    p, w = weave_city.people, weave_city.world
    weave_city.inds.status = OrgStatus.DISSOLVED  # the village courier switches to the city federation
    weave_city.inds.save()
    weave_city.ent.status = OrgStatus.DISSOLVED  # emp_only loses their union; ent switches
    weave_city.ent.save()
    org_create(
        code="S230804002",
        name="永安街道总工会",
        kind="township",
        parent=w.qianjin_fed,
        region=w.qianjin_street,
    )
    second = weave_run()
    changes = {
        c.person_id: (c.kind, c.before_org_id, c.after_org_id)
        for c in CoverageChange.objects.filter(run=second)
    }
    street = weave_city.ent.__class__.objects.get(code="S230804002")
    assert changes == {
        p.courier.pk: (ChangeKind.SWITCHED, weave_city.inds.pk, weave_city.indc.pk),
        p.ent.pk: (ChangeKind.SWITCHED, weave_city.ent.pk, weave_city.indc.pk),
        p.emp_only.pk: (ChangeKind.LOST, weave_city.ent.pk, None),
        p.qianjin_carer.pk: (ChangeKind.GAINED, None, street.pk),
        p.both.pk: (ChangeKind.GAINED, None, street.pk),
    }
    assert (second.gained, second.lost, second.switched, second.changed) == (2, 1, 2, 5)
    # Only the rows that changed were rewritten: a row's run is the run that last changed it.
    assert Coverage.objects.get(person=p.carer).run_id == first.pk
    assert Coverage.objects.get(person=p.courier).run_id == second.pk
    assert answer(weave_city)["courier"] == ["INDC", "J1", "T230811100", "V1"]


def test_a_new_person_since_the_last_run_is_gained(weave_city):
    from gonghui.people.models import Person

    weave_run()
    newcomer = Person.objects.create(
        name="新来的", group=weave_city.carer, work_region=weave_city.world.suburb_town
    )
    run = weave_run()
    assert list(CoverageChange.objects.filter(run=run).values_list("person_id", "kind")) == [
        (newcomer.pk, "gained")
    ]


def test_a_failed_run_leaves_the_previous_answer(weave_city, monkeypatch):
    from gonghui.weave import engine

    good = weave_run()
    before = answer(weave_city)
    cells = list(CoverageCell.objects.values_list("region_code", "group_id", "people", "covered"))
    weave_city.ent.status = OrgStatus.DISSOLVED
    weave_city.ent.save()

    def broken(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine._Weave, "cells", broken)  # after Coverage has been rewritten
    with pytest.raises(RuntimeError):
        weave_run()
    failed = WeaveRun.objects.order_by("-id").first()
    assert failed.status == RunStatus.FAILED and "disk full" in failed.error
    assert answer(weave_city) == before
    assert set(Coverage.objects.values_list("run_id", flat=True)) == {good.pk}
    assert list(CoverageCell.objects.values_list("region_code", "group_id", "people", "covered")) == cells
    assert not CoverageChange.objects.filter(run=failed).exists()


def test_cells_count_people_members_holes_and_overlaps_per_region_and_group(weave_city):
    from gonghui.membership.models import Membership, MembershipStatus

    p = weave_city.people
    Membership.objects.create(
        person=p.courier, org=weave_city.inds, status=MembershipStatus.ACTIVE, member_no="M-1"
    )
    Membership.objects.create(person=p.ent, org=weave_city.ent, status=MembershipStatus.PENDING)
    weave_run()
    cell = CoverageCell.objects.get(region=weave_city.village, group=weave_city.courier)
    assert (cell.region_code, cell.people, cell.members, cell.covered, cell.holes, cell.overlaps) == (
        "230811100201",
        2,
        1,
        2,
        0,
        2,
    )
    nowhere = CoverageCell.objects.get(region=None, group=weave_city.carer)
    assert (nowhere.region_code, nowhere.people, nowhere.holes) == ("", 1, 1)
    assert CoverageCell.objects.aggregate(n=Sum("people"))["n"] == 10


def test_only_one_run_at_a_time(weave_city):
    from gonghui.weave.services import WeaveRunError

    running = WeaveRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now())
    if connection.vendor == "postgresql":
        # The advisory lock is ours, so a 'running' row is from a dead process: it is marked failed.
        weave_run()
        running.refresh_from_db()
        assert running.status == RunStatus.FAILED
    else:
        with pytest.raises(WeaveRunError, match="正在进行"):
            weave_run()
        assert not Coverage.objects.exists()
    done = WeaveRun.objects.filter(status=RunStatus.DONE).first()
    if done is not None:
        with pytest.raises(WeaveRunError, match="只能运行排队中"):
            weave_run(run=done)


def test_policy_file_is_validated(tmp_path):
    write_policy(tmp_path, order=["enterprise", "industry", "bogus"])
    with pytest.raises(CoveragePolicyError, match="bogus"):
        coverage_policy(directory=tmp_path)
    write_policy(tmp_path, order=["enterprise", "township"], safety_net=["village"])
    with pytest.raises(CoveragePolicyError, match="safety_net"):
        coverage_policy(directory=tmp_path)
    write_policy(tmp_path, basis=["office"])
    with pytest.raises(CoveragePolicyError, match="region_basis"):
        coverage_policy(directory=tmp_path)
    write_policy(tmp_path, effective="2030-01-01")
    with pytest.raises(CoveragePolicyError, match="还没有生效"):
        coverage_policy(dt.date(2026, 1, 1), directory=tmp_path)
    shipped = coverage_policy()
    assert shipped.issuer == "佳木斯市总工会"
    assert shipped.order == ("enterprise", "industry", "joint", "township", "village")
    assert shipped.safety_net == {"township", "village"}
    assert shipped.region_basis == ("work", "home")


def test_a_union_covering_a_region_and_one_inside_it_is_found_once_through_the_nearer(weave_city):
    from gonghui.orgs.services import org_set_coverage

    w = weave_city.world
    org_set_coverage(
        org=weave_city.indc, regions=[w.city, w.suburb_town], groups=[weave_city.courier], employers=[]
    )
    weave_run()
    # Through 长发镇 (deeper than 郊区), the city federation now comes before 郊区's for the village courier.
    assert covering_codes(weave_city.people.courier) == ["INDC", "INDS", "J1", "T230811100", "V1"]
    assert covering_codes(weave_city.people.qianjin) == ["INDC"]
    found = suggest_unions(group_id=weave_city.courier.pk, work_region_id=weave_city.village.pk)
    assert [s.org.code for s in found] == ["INDC", "INDS", "J1", "T230811100", "V1"]
