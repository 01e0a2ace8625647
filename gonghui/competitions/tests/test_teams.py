"""Teams (Shandong's new-energy-vehicle contest), registration checked against membership, team ranking."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from gonghui.competitions.models import Attempt, AttemptStatus, Paper, Registration, Team
from gonghui.competitions.selectors import contest_statistics
from gonghui.competitions.services import ContestError, contest_setup_from_policy, registration_create
from gonghui.competitions.teams import MemberSpec, team_final_results, team_preliminary_results, team_register

from .conftest import id_number

SHANDONG = "contest_shandong_nev_2023.yaml"
D = Decimal


@pytest.fixture
def nev(world):
    contest = contest_setup_from_policy(policy_file=SHANDONG, organiser=world.city_fed, actor=world.city_user)
    return contest.trades.get(code="nev-repair")


def make_member(world, n: int, *, approve: bool = True):
    """A person with an active (or, approve=False, pending) membership of 长发镇总工会."""
    from gonghui.membership.services import membership_apply, membership_approve
    from gonghui.people.services import person_create

    person = person_create(name=f"会员{n}", id_number=id_number(n))
    membership = membership_apply(person=person, org=world.suburb_town_union, channel="online")
    if approve:
        membership_approve(membership=membership, by=world.city_user)
    return person


def members(*numbers):
    return [MemberSpec(name=f"会员{n}", id_number=id_number(n)) for n in numbers]


def test_a_team_of_members_from_one_unit_is_registered_with_its_leader(world, nev):
    for n in (1, 2, 3):
        make_member(world, n)
    team = team_register(
        trade=nev, name="比亚迪一队", enterprise_name="比亚迪济南基地", members=members(1, 2, 3)
    )
    regs = list(team.members.order_by("-team_leader", "id"))
    assert [r.team_leader for r in regs] == [True, False, False]
    assert regs[0].person.name == "会员1"
    assert {r.enterprise_name for r in regs} == {"比亚迪济南基地"}
    assert all(r.was_member and r.member_union == world.suburb_town_union for r in regs)
    assert all(r.trade == nev for r in regs)


@pytest.mark.parametrize("numbers", [(1,), (1, 2, 3, 4)])
def test_a_team_outside_the_policys_size_is_refused(world, nev, numbers):
    for n in numbers:
        make_member(world, n)
    with pytest.raises(ContestError, match=f"每队 2 至 3 人（含队长），现填写 {len(numbers)} 人"):
        team_register(trade=nev, name="一队", enterprise_name="比亚迪", members=members(*numbers))
    assert not Team.objects.exists() and not Registration.objects.exists()


def test_a_member_is_in_one_team_per_trade(world, nev):
    for n in (1, 2, 3, 4):
        make_member(world, n)
    team_register(trade=nev, name="一队", enterprise_name="比亚迪", members=members(1, 2))
    with pytest.raises(ContestError, match="第 2 名队员（队员）：.*已报名新能源汽车维修"):
        team_register(trade=nev, name="二队", enterprise_name="比亚迪", members=members(3, 2))
    # nothing of the refused team was written
    assert list(Team.objects.values_list("name", flat=True)) == ["一队"]
    assert Registration.objects.count() == 2
    # and the database holds it too: a second registration of the person in the trade
    first = Registration.objects.get(person__name="会员2")
    second_team = Team.objects.create(trade=nev, name="三队", enterprise_name="比亚迪")
    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.create(
            trade=nev, person=first.person, enterprise_name="比亚迪", ticket="1", team=second_team
        )


def test_a_team_has_one_leader_in_the_database(world, nev):
    for n in (1, 2):
        make_member(world, n)
    team = team_register(trade=nev, name="一队", enterprise_name="比亚迪", members=members(1, 2))
    member = team.members.get(team_leader=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.filter(pk=member.pk).update(team_leader=True)


def test_members_only_contest_refuses_a_non_member_and_a_pending_applicant(world, nev):
    make_member(world, 1)
    make_member(world, 2, approve=False)  # applied, not yet approved
    with pytest.raises(ContestError, match="仅限工会会员报名.*未查到有效的工会会员身份"):
        team_register(trade=nev, name="一队", enterprise_name="比亚迪", members=members(1, 2))
    with pytest.raises(ContestError, match=r"第 2 名队员（队员）：.*仅限工会会员报名：身份证号 220102\*+"):
        team_register(
            trade=nev, name="一队", enterprise_name="比亚迪", members=members(1, 9)
        )  # nobody on record
    from gonghui.people.models import Person

    assert not Person.objects.filter(name="会员9").exists()  # refused before a person was created
    assert not Registration.objects.exists()


def test_an_open_contest_records_whether_the_worker_was_a_member(world, fitter):
    make_member(world, 1)
    member = registration_create(trade=fitter, name="会员1", id_number=id_number(1), enterprise_name="一汽")
    outsider = registration_create(trade=fitter, name="路人", id_number=id_number(2), enterprise_name="一汽")
    assert (member.was_member, member.member_union) == (True, world.suburb_town_union)
    assert (outsider.was_member, outsider.member_union) == (False, None)


def test_team_members_come_from_the_teams_unit(world, nev):
    from gonghui.orgs.models import Employer

    byd = Employer.objects.create(
        name="比亚迪济南基地", credit_code="91370100MA3C0000X1", region=world.suburb
    )
    other = Employer.objects.create(name="中国重汽", credit_code="91370000163000000X", region=world.suburb)
    for n in (1, 2):
        make_member(world, n)
    from gonghui.people.models import Person

    Person.objects.filter(name="会员2").update(employer=other)
    with pytest.raises(ContestError, match="第 2 名队员.*应来自同一单位"):
        team_register(trade=nev, name="一队", enterprise_name="", employer=byd, members=members(1, 2))


def test_an_individual_contest_refuses_a_team_and_a_team_contest_an_individual(world, nev, fitter):
    with pytest.raises(ContestError, match="个人赛"):
        team_register(trade=fitter, name="一队", enterprise_name="一汽", members=members(1, 2))
    from gonghui.competitions.services import registration_apply

    with pytest.raises(ContestError, match="团体赛，请以团队报名"):
        registration_apply(
            trade=nev, name="甲", id_number=id_number(1), enterprise_name="比亚迪", region=world.suburb,
            consent_version="1", consent_items=["notice", "id_number"],
        )  # fmt: skip


def _finish(registration, percent, now):
    """A finished attempt worth `percent` of a 50-point paper (written directly: the paper's content does not matter)."""
    paper = Paper.objects.create(
        registration=registration, trade=registration.trade, seed=1, bank_through=0,
        questions=[], orders=[], total_points=D(50),
    )  # fmt: skip
    Attempt.objects.create(
        registration=registration, paper=paper, status=AttemptStatus.SUBMITTED, started_at=now,
        deadline=now + dt.timedelta(hours=1), submitted_at=now + dt.timedelta(minutes=30),
        score=D(percent) / 2, correct=0,
    )  # fmt: skip


def _three_teams(world, nev):
    for n in range(1, 7):
        make_member(world, n)
    teams = [
        team_register(trade=nev, name=name, enterprise_name=unit, members=members(*numbers))
        for name, unit, numbers in (
            ("一队", "比亚迪", (1, 2)),
            ("二队", "重汽", (3, 4)),
            ("三队", "潍柴", (5, 6)),
        )
    ]
    now = nev.contest.preliminary_opens
    regs = {r.person.name: r for r in Registration.objects.select_related("person")}
    for who, percent in (("会员1", 90), ("会员2", 70), ("会员3", 100), ("会员4", 0), ("会员5", 60)):
        _finish(regs[who], percent, now)  # 会员6 never sat: counts 0
    return teams


def test_teams_rank_on_their_members_mean_and_advance_by_quota(world, nev):
    one, two, three = _three_teams(world, nev)
    nev.finalist_quota = 2
    nev.save()
    results = {r.team_id: r for r in team_preliminary_results(nev, ("total_desc",))}
    assert [(results[t.pk].theory, results[t.pk].rank) for t in (one, two, three)] == [
        (D(80), 1),
        (D(50), 2),
        (D(30), 3),
    ]
    assert [results[t.pk].advances for t in (one, two, three)] == [True, True, False]


def test_finals_rank_teams_on_sheets_and_weights_and_the_results_have_a_team_sheet(world, nev, tmp_path):
    from gonghui.competitions.policy import contest_policy
    from gonghui.competitions.sheets import sheet_record

    one, two, three = _three_teams(world, nev)
    nev.finalist_quota = 2
    nev.save()
    full = {"safety": 10, "isolation": 20, "diagnosis": 40, "repair": 20, "conduct": 10}
    half = {k: v / 2 for k, v in full.items()}
    sheet_record(team=one, judge="评委甲", criteria=half)  # 50
    sheet_record(team=two, judge="评委甲", criteria=full)  # 100
    with pytest.raises(ContestError, match="队伍“三队”未进入决赛"):
        sheet_record(team=three, judge="评委甲", criteria=full)
    results = {r.team_id: r for r in team_final_results(nev, contest_policy(SHANDONG))}
    # total = theory x 0.2 + practical x 0.8
    assert (results[one.pk].total, results[one.pk].rank) == (D("56.00"), 2)
    assert (results[two.pk].total, results[two.pk].rank) == (D("90.00"), 1)
    assert [a.name for a in results[two.pk].awards][0] == "山东省五一劳动奖状"
    assert three.pk not in results
    out = tmp_path / "r.xlsx"
    call_command("contest", "results", str(out), "--contest", "shandong-nev-2023", stdout=io.StringIO())
    book = load_workbook(out)
    finals = [[c.value for c in row] for row in book["新能源汽车维修决赛"].iter_rows(min_row=2)]
    assert [(r[0], r[1], r[5]) for r in finals] == [(1, "二队", 90), (2, "一队", 56)]


def test_a_team_contests_awards_go_to_the_ranked_teams_in_the_register(world, nev):
    from gonghui.competitions.awards import contest_grant_honours
    from gonghui.competitions.sheets import sheet_record
    from gonghui.honours.models import Honour

    one, two, three = _three_teams(world, nev)
    nev.finalist_quota = 2
    nev.save()
    full = {"safety": 10, "isolation": 20, "diagnosis": 40, "repair": 20, "conduct": 10}
    sheet_record(team=one, judge="评委甲", criteria={k: v / 2 for k, v in full.items()})  # rank 2
    sheet_record(team=two, judge="评委甲", criteria=full)  # rank 1
    contest = nev.contest
    report = contest_grant_honours(contest=contest, conferred_on=contest.finals_end + dt.timedelta(days=1))
    honours = Honour.objects.filter(source_id=str(nev.pk))
    assert len(report.created) == honours.count() > 0
    # The team holds each award of its rank; no member holds one in person; the third team holds nothing.
    assert not honours.filter(person__isnull=False).exists()
    first = {h.title for h in honours.filter(team_name="二队")}
    assert "山东省五一劳动奖状" in first and "山东省技术能手" in first
    assert honours.filter(team_name="一队").exists() and not honours.filter(team_name="三队").exists()
    cash = honours.get(team_name="二队", kind="cash")
    assert cash.amount == D(30000)
    tickets = set(Registration.objects.filter(team=two).values_list("ticket", flat=True))
    assert set(cash.detail["tickets"]) == tickets
    # Granting again creates nothing.
    again = contest_grant_honours(contest=contest, conferred_on=contest.finals_end + dt.timedelta(days=1))
    assert again.created == [] and Honour.objects.filter(source_id=str(nev.pk)).count() == honours.count()


def test_statistics_count_teams_enterprises_and_unions(world, nev):
    _three_teams(world, nev)
    stats = contest_statistics(nev.contest)
    assert (stats.teams, stats.registrations, stats.enterprises, stats.unions) == (3, 6, 3, 1)


def test_a_judge_scores_finalist_teams_on_the_phone_page_in_few_queries(
    client, world, nev, django_assert_max_num_queries
):
    from gonghui.competitions.models import JudgeScore
    from gonghui.competitions.sheets import judge_assign

    one, two, three = _three_teams(world, nev)
    nev.finalist_quota = 2
    nev.save()
    judge_assign(trade=nev, user=world.district_user, name="评委甲")
    client.force_login(world.district_user)
    with django_assert_max_num_queries(12):
        page = client.get(f"/contests/judging/{nev.pk}/")
    html = page.content.decode()
    assert "一队" in html and "二队" in html and "三队" not in html
    assert client.get(f"/contests/judging/{nev.pk}/{three.pk}/").status_code == 404  # did not advance
    form = {"c_safety": "10", "c_isolation": "20", "c_diagnosis": "30", "c_repair": "20", "c_conduct": "10"}
    assert client.post(f"/contests/judging/{nev.pk}/{one.pk}/", form).status_code == 302
    sheet = JudgeScore.objects.get()
    assert (sheet.team, sheet.registration, sheet.score) == (one, None, D(90))
    client.force_login(world.sibling_user)
    assert client.post(f"/contests/judging/{nev.pk}/{two.pk}/", form).status_code == 404
    assert JudgeScore.objects.count() == 1
