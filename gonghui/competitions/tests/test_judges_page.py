"""The staff page of a trade's judges: assign a staff account of the organising union's tree, remove
a judge who has not scored, refuse everyone outside the contest's scope.

The contest is organised by 郊区总工会: its staff (`district_user`) and the city's (`city_user`, above)
manage it; 前进区's (`sibling_user`) must get 404 and cannot be made a judge; the staff of 长发镇总工会,
below 郊区, can.
"""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gonghui.accounts.models import Role, RoleKind, User
from gonghui.audit.models import AuditEvent
from gonghui.competitions.models import JudgeScore, TradeJudge
from gonghui.competitions.services import ContestError, contest_setup_from_policy
from gonghui.competitions.sheets import JudgeHasScores, judge_assign, judge_unassign, sheet_record

from .test_sheets_documents import FULL, _finalists

PAGE = "/contests/jilin-2021/staff/welder/judges/"


@pytest.fixture
def welder(world):
    contest = contest_setup_from_policy(
        policy_file="contest_jilin_2021.yaml", organiser=world.suburb_fed, actor=world.district_user
    )
    return contest.trades.get(code="welder")


def _staff(username, org, role=RoleKind.STAFF):
    user = User.objects.create_user(username=username, password="pass-word-123")
    Role.objects.create(user=user, org=org, role=role)
    return user


@pytest.fixture
def town_user(world):
    """Staff of 长发镇总工会, a union below the organiser: may be made a judge."""
    return _staff("town", world.suburb_town_union)


def _remove_url(assignment):
    return f"{PAGE}{assignment.pk}/remove/"


def test_it_assigns_a_judge_from_the_page_and_the_judge_then_sees_the_trade(client, world, welder, town_user):
    viewer = _staff("viewer", world.suburb_fed, RoleKind.VIEWER)  # not staff: not offered
    client.force_login(world.district_user)
    page = client.get(PAGE)
    assert page.status_code == 200
    offered = {u.username for u in page.context["candidates"]}
    assert offered == {"suburb", "town"}  # the organiser's tree: not the city above, 前进区 or a viewer
    assert viewer.username not in offered
    done = client.post(PAGE, {"user": town_user.pk, "name": "评委甲"})
    assert done.status_code == 302 and done.url == PAGE
    assignment = TradeJudge.objects.get()
    assert (assignment.trade, assignment.user, assignment.name) == (welder, town_user, "评委甲")
    event = AuditEvent.objects.get(action="contest.judge_assign")
    assert event.actor == world.district_user
    assert event.target_id == str(welder.pk)
    assert event.detail == {"user_id": town_user.pk, "name": "评委甲"}
    listed = client.get(PAGE)
    html = listed.content.decode()
    assert "评委甲" in html and "town" in html
    assert "town" not in {u.username for u in listed.context["candidates"]}  # already judging
    # The staff above the organiser manage the page too.
    client.force_login(world.city_user)
    assert client.get(PAGE).status_code == 200
    # The new judge finds the trade on the judging pages.
    client.force_login(town_user)
    judging = client.get("/contests/judging/").content.decode()
    assert welder.name in judging and f"/contests/judging/{welder.pk}/" in judging
    assert client.get(f"/contests/judging/{welder.pk}/").status_code == 200


def test_the_trades_staff_pages_and_the_progress_page_link_the_judges_page(client, world, welder):
    client.force_login(world.district_user)
    assert PAGE in client.get("/contests/jilin-2021/staff/welder/blueprint/").content.decode()
    assert PAGE in client.get("/contests/jilin-2021/progress/").content.decode()


def test_staff_of_another_union_get_404_and_write_nothing(client, world, welder, town_user):
    assignment = judge_assign(trade=welder, user=town_user, name="评委甲", actor=world.district_user)
    client.force_login(world.sibling_user)
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, {"user": world.sibling_user.pk, "name": "评委乙"}).status_code == 404
    assert client.post(_remove_url(assignment)).status_code == 404
    assert list(TradeJudge.objects.values_list("name", flat=True)) == ["评委甲"]
    assert not AuditEvent.objects.filter(action="contest.judge_unassign").exists()


def test_an_anonymous_visitor_is_sent_to_login(client, world, welder, town_user):
    assignment = judge_assign(trade=welder, user=town_user, name="评委甲")
    for response in (
        client.get(PAGE),
        client.post(PAGE, {"user": town_user.pk}),
        client.post(_remove_url(assignment)),
    ):
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert TradeJudge.objects.count() == 1


def test_an_account_outside_the_organisers_tree_is_refused_naming_the_field(client, world, welder):
    client.force_login(world.district_user)
    for outsider in (world.sibling_user, world.city_user):  # a sibling union, and the union above
        refused = client.post(PAGE, {"user": outsider.pk, "name": "评委乙"})
        assert refused.status_code == 400
        html = refused.content.decode()
        assert "评委账号" in html and outsider.username in html and "不能担任评委" in html
    for bad in ("999999", "abc", ""):
        refused = client.post(PAGE, {"user": bad})
        assert refused.status_code == 400 and "评委账号" in refused.content.decode()
    assert not TradeJudge.objects.exists()
    assert not AuditEvent.objects.filter(action="contest.judge_assign").exists()


def test_a_second_assignment_is_refused_on_the_page(client, world, welder, town_user):
    client.force_login(world.district_user)
    client.post(PAGE, {"user": town_user.pk, "name": "评委甲"})
    again = client.post(PAGE, {"user": world.district_user.pk, "name": "评委甲"})
    assert again.status_code == 400 and "评委姓名" in again.content.decode()
    assert TradeJudge.objects.count() == 1


def test_removing_a_judge_with_scores_is_refused(client, world, welder, town_user):
    regs = _finalists(welder)
    judge = judge_assign(trade=welder, user=town_user, name="评委甲", actor=world.district_user)
    sheet_record(registration=regs[0], judge="评委甲", judge_user=town_user, criteria=FULL)
    client.force_login(world.district_user)
    page = client.get(PAGE)
    (row,) = page.context["judges"]
    assert row.sheets == 1 and not row.removable
    assert _remove_url(judge) not in page.content.decode()
    refused = client.post(_remove_url(judge))
    assert refused.status_code == 302
    assert any("已评分 1 份" in str(m) for m in get_messages(refused.wsgi_request))
    assert TradeJudge.objects.filter(pk=judge.pk).exists()
    with pytest.raises(JudgeHasScores, match="评委：评委甲 已评分 1 份，不能撤销"):
        judge_unassign(assignment=judge, actor=world.district_user)
    assert not AuditEvent.objects.filter(action="contest.judge_unassign").exists()


def test_a_sheet_recorded_under_the_judges_name_from_the_command_line_counts_too(world, welder, town_user):
    regs = _finalists(welder)
    judge = judge_assign(trade=welder, user=town_user, name="评委甲")
    sheet_record(registration=regs[1], judge="评委甲", criteria=FULL)  # no account on the sheet
    with pytest.raises(JudgeHasScores):
        judge_unassign(assignment=judge, actor=world.district_user)


def test_removing_a_judge_without_scores_works_and_is_audited(client, world, welder, town_user):
    judge = judge_assign(trade=welder, user=town_user, name="评委甲", actor=world.district_user)
    client.force_login(world.district_user)
    done = client.post(_remove_url(judge))
    assert done.status_code == 302 and done.url == PAGE
    assert not TradeJudge.objects.exists()
    event = AuditEvent.objects.get(action="contest.judge_unassign")
    assert event.actor == world.district_user
    assert event.target_id == str(welder.pk)
    assert event.detail == {"user_id": town_user.pk, "name": "评委甲"}
    # the judge no longer sees the trade
    client.force_login(town_user)
    assert client.get(f"/contests/judging/{welder.pk}/").status_code == 404
    # removing it again answers 404
    client.force_login(world.district_user)
    assert client.post(_remove_url(judge)).status_code == 404


def test_the_page_reads_the_same_number_of_queries_for_one_judge_or_many(client, world, welder):
    client.force_login(world.district_user)

    def queries() -> int:
        client.get(PAGE)  # the first request after logging in also saves the session
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    judge_assign(trade=welder, user=_staff("judge0", world.suburb_town_union), name="评委0")
    one = queries()
    for i in range(1, 4):
        judge_assign(trade=welder, user=_staff(f"judge{i}", world.suburb_fed), name=f"评委{i}")
    _staff("spare", world.suburb_town_union)
    assert queries() == one


def test_a_sheet_from_the_judging_page_of_a_removed_judge_is_refused(world, welder, town_user):
    # The judging page passes the judge's assignment: its row is locked before the sheet is written,
    # so a removal that got there first (here: before) leaves the sheet refused, not recorded.
    regs = _finalists(welder)
    judge = judge_assign(trade=welder, user=town_user, name="评委甲", actor=world.district_user)
    judge_unassign(assignment=judge, actor=world.district_user)
    with pytest.raises(ContestError, match="评委：评委甲 已不是焊工的评委"):
        sheet_record(
            registration=regs[0], judge="评委甲", judge_user=town_user, criteria=FULL, assignment=judge
        )
    assert not JudgeScore.objects.exists()


def test_a_sheet_and_a_removal_lock_the_judges_row_alone(world, welder, town_user):
    # The model's ordering (trade, then the trade's: contest) would join the trade and the contest
    # into the locking SELECT, and FOR UPDATE would hold their rows too: every other judge's sheet in
    # the contest, and any row written against the trade or contest, would wait for the sheet.
    regs = _finalists(welder)
    judge = judge_assign(trade=welder, user=town_user, name="评委甲", actor=world.district_user)
    other = judge_assign(trade=welder, user=_staff("judge2", world.suburb_fed), name="评委乙")
    with CaptureQueriesContext(connection) as ctx:
        sheet_record(
            registration=regs[0], judge="评委甲", judge_user=town_user, criteria=FULL, assignment=judge
        )
        judge_unassign(assignment=other, actor=world.district_user)
    locks = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "competitions_tradejudge"."id"')
        and 'WHERE "competitions_tradejudge"."id" = ' in q["sql"]
    ]
    assert len(locks) == 2, locks
    for sql in locks:
        assert "JOIN" not in sql, sql
        if connection.vendor == "postgresql":
            assert sql.endswith("FOR UPDATE"), sql
