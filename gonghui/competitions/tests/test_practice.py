import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.competitions.exam import ExamError
from gonghui.competitions.models import Contest, PracticeSession, Question
from gonghui.competitions.practice import practice_check, practice_start

from .conftest import add_questions, id_number, register


@pytest.fixture
def training(fitter):
    now = timezone.now()
    Contest.objects.filter(pk=fitter.contest_id).update(
        training_opens=now - dt.timedelta(days=1), training_closes=now + dt.timedelta(days=1)
    )
    add_questions(fitter, "single", "安全", 1, 6)
    add_questions(fitter, "true_false", "识图", 1, 4)
    add_questions(fitter, "fill_blank", "装配", 2, 1)
    fitter.refresh_from_db()
    return fitter, register(fitter, 2)


def test_practice_is_open_only_in_the_training_stage(fitter):
    reg = register(fitter, 1)[0]
    add_questions(fitter, "single", "安全", 1, 3)
    with pytest.raises(ExamError, match="培训练习时间为"):
        practice_start(registration=reg, now=fitter.contest.training_closes + dt.timedelta(seconds=1))
    session = practice_start(registration=reg, now=fitter.contest.training_opens)
    assert len(session.shown) == 3


def test_practice_at_random_in_order_and_by_area_is_counted(training):
    trade, (reg, _) = training
    by_number = list(Question.objects.filter(trade=trade).order_by("number").values_list("id", flat=True))
    random_one = practice_start(registration=reg, size=5)
    assert len(set(random_one.shown)) == 5 and set(random_one.shown) <= set(by_number)
    ordered = practice_start(registration=reg, mode="order", start=3, size=4)
    assert ordered.shown == by_number[2:6]
    area = practice_start(registration=reg, area="识图", size=50)
    assert sorted(area.shown) == sorted(
        Question.objects.filter(knowledge_area="识图").values_list("id", flat=True)
    )
    assert PracticeSession.objects.filter(registration=reg).count() == 3
    with pytest.raises(ExamError, match="没有可练习的题目"):
        practice_start(registration=reg, area="不存在")


def test_an_answer_is_checked_at_once_with_the_explanation(training):
    trade, (reg, _) = training
    session = practice_start(registration=reg, mode="order", size=50)
    positions = {Question.objects.get(pk=qid).qtype: i for i, qid in enumerate(session.shown)}
    right = practice_check(session=session, position=positions["single"], values=["A"])
    assert right.right and right.answer == "A" and right.explanation.startswith("解析-")
    assert not practice_check(session=session, position=positions["single"], values=["B"]).right
    blank = practice_check(session=session, position=positions["fill_blank"], values=["转矩"])
    assert blank.right and blank.answer == "扭矩 / 转矩"
    assert practice_check(session=session, position=positions["true_false"], values=["T"]).answer == "对"


def test_a_candidate_practises_on_the_phone_pages(client, training):
    trade, (reg, other) = training
    client.post(reverse("contest_candidate_login"), {"ticket": reg.ticket, "id_number": id_number(0)})
    started = client.post(reverse("contest_practice_begin", args=[reg.pk]), {"mode": "order", "size": "3"})
    session = PracticeSession.objects.get(registration=reg)
    assert started["Location"] == reverse("contest_practice", args=[reg.pk, session.pk])
    page = client.get(started["Location"]).content.decode()
    assert "安全-single-1-1" in page and "解析-" not in page
    checked = client.post(reverse("contest_practice_check", args=[reg.pk, session.pk, 0]), {"answer": "A"})
    assert checked.status_code == 200 and "解析-1" in checked.content.decode()
    # another candidate's practice is not this session's
    other_session = practice_start(registration=other)
    assert client.get(reverse("contest_practice", args=[reg.pk, other_session.pk])).status_code == 404
    assert client.post(reverse("contest_practice_begin", args=[other.pk])).status_code == 404
