import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gonghui.audit.models import AuditEvent
from gonghui.competitions.awards import contest_grant_honours
from gonghui.competitions.exam import attempt_start
from gonghui.competitions.models import Contest
from gonghui.competitions.services import ContestError, judge_score_record
from gonghui.honours.models import Honour

from .conftest import register
from .test_exam import build
from .test_ranking import _finish

D = Decimal


@pytest.fixture
def finals(fitter):
    """Four candidates of 钳工 (12-point papers): 12, 9, 6, 3; quota 3; the first two judged, the third not yet."""
    regs = build(fitter) + register(fitter, 2, start=10)
    now = fitter.contest.preliminary_opens + dt.timedelta(hours=1)
    for reg, score in zip(regs, (12, 9, 6, 3), strict=True):
        attempt_start(registration=reg, now=now)
        _finish(reg, score, now)
    fitter.finalist_quota = 3
    fitter.save()
    judge_score_record(registration=regs[0], judge="评委甲", score=D(80))
    judge_score_record(registration=regs[1], judge="评委甲", score=D(90))
    return regs


def test_the_policys_awards_go_into_the_register_once(world, fitter, finals):
    report = contest_grant_honours(
        contest=fitter.contest, actor=world.city_user, conferred_on=dt.date(2021, 9, 30)
    )
    assert len(report.created) == 7 and report.existing == []
    first = {h.kind: h for h in Honour.objects.filter(person=finals[0].person)}
    assert set(first) == {"medal", "title", "cash", "promotion"}
    medal = first["medal"]
    assert (medal.title, medal.level, medal.conferred_by, medal.amount) == (
        "吉林省五一劳动奖章", "province", world.city_fed, None,
    )  # fmt: skip
    assert medal.conferred_with == "吉林省总工会、吉林省人力资源和社会保障厅"
    assert medal.source_label == "吉林省第一届职工职业技能大赛 钳工 第1名"
    assert (medal.source_type, medal.source_id) == ("competitions.trade", str(fitter.pk))
    assert medal.detail["rank"] == 1 and medal.detail["ticket"] == finals[0].ticket
    assert (medal.policy_file, medal.policy_effective) == ("contest_jilin_2021.yaml", dt.date(2021, 6, 1))
    assert medal.conferred_on == dt.date(2021, 9, 30) and medal.granted_by == world.city_user
    assert first["cash"].amount == D(10000)
    second = {h.kind: h for h in Honour.objects.filter(person=finals[1].person)}
    assert set(second) == {"title", "cash", "promotion"} and second["cash"].amount == D(8000)
    # the unranked finalist (no practical score yet) and the one who did not advance get nothing
    assert not Honour.objects.filter(person__in=[finals[2].person, finals[3].person]).exists()

    again = contest_grant_honours(contest=fitter.contest, actor=world.city_user)
    assert again.created == [] and len(again.existing) == 7 and Honour.objects.count() == 7
    # scored later: the third finalist is ranked 3rd and granted on the next call, nothing else changes
    judge_score_record(registration=finals[2], judge="评委甲", score=D(10))
    third = contest_grant_honours(contest=fitter.contest, actor=world.city_user)
    assert sorted(h.title for h in third.created) == [
        "吉林省技术能手",
        "晋升相应职业资格或职业技能等级",
        "现金奖励（税前）",
    ]
    assert (
        AuditEvent.objects.filter(action="contest.grant_honours", target_id=str(fitter.contest.pk)).count()
        == 3
    )


def test_awards_are_refused_before_the_finals_end_and_without_ranked_finalists(world, fitter):
    Contest.objects.filter(pk=fitter.contest.pk).update(
        finals_start=dt.date(2999, 1, 1), finals_end=dt.date(2999, 1, 2)
    )
    fitter.contest.refresh_from_db()
    with pytest.raises(ContestError, match="结束，之后才能授予荣誉"):
        contest_grant_honours(contest=fitter.contest, actor=world.city_user)
    Contest.objects.filter(pk=fitter.contest.pk).update(
        finals_start=dt.date(2021, 9, 10), finals_end=dt.date(2021, 9, 20)
    )
    fitter.contest.refresh_from_db()
    with pytest.raises(ContestError, match="还没有排定名次"):
        contest_grant_honours(contest=fitter.contest, actor=world.city_user)
    assert Honour.objects.count() == 0


def test_the_cli_grants_honours_and_says_how_many(world, fitter, finals):
    out = io.StringIO()
    call_command("contest", "grant-honours", "--contest", "jilin-2021", "--date", "2021-09-30", stdout=out)
    assert out.getvalue().strip() == "jilin-2021：新登记 7 项荣誉，已登记 0 项"
    out = io.StringIO()
    call_command("contest", "grant-honours", "--contest", "jilin-2021", stdout=out)
    assert "新登记 0 项荣誉，已登记 7 项" in out.getvalue()
    with pytest.raises(CommandError, match="没有代码为 nope 的竞赛"):
        call_command("contest", "grant-honours", "--contest", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="应为 YYYY-MM-DD"):
        call_command(
            "contest", "grant-honours", "--contest", "jilin-2021", "--date", "30/9", stdout=io.StringIO()
        )
