import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.competitions.models import Attempt, AttemptStatus, Contest, Question

from .conftest import id_number
from .test_exam import build, right_answers


@pytest.fixture
def live(fitter):
    """The fitter trade with a bank, a blueprint, two candidates, and the preliminary open now."""
    now = timezone.now()
    Contest.objects.filter(pk=fitter.contest_id).update(
        preliminary_opens=now - dt.timedelta(hours=1), preliminary_closes=now + dt.timedelta(hours=5)
    )
    registrations = build(fitter)
    return fitter, registrations


def sign_in(client, registration, number):
    return client.post(
        reverse("contest_candidate_login"), {"ticket": registration.ticket, "id_number": id_number(number)}
    )


def test_the_contest_list_is_public(client, contest):
    response = client.get(reverse("contests_index"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "吉林省第一届职工职业技能大赛" in text and "无人机操作" in text


def test_a_candidate_signs_in_with_ticket_and_id_number_only(client, live):
    _, (reg, other) = live
    refused = client.post(
        reverse("contest_candidate_login"), {"ticket": reg.ticket, "id_number": id_number(1)}
    )
    assert refused.status_code == 400
    assert client.get(reverse("contest_candidate_home")).status_code == 302
    assert sign_in(client, reg, 0).status_code == 302
    home = client.get(reverse("contest_candidate_home"))
    assert home.status_code == 200 and reg.ticket in home.content.decode()
    assert id_number(0) not in home.content.decode()  # masked only
    # the other candidate's exam pages are not this session's: 404, as if they did not exist
    assert client.post(reverse("contest_exam_start", args=[other.pk])).status_code == 404
    assert client.get(reverse("contest_exam_paper", args=[other.pk])).status_code == 404
    assert client.get(reverse("contest_exam_state", args=[other.pk])).status_code == 404
    assert not Attempt.objects.exists()


def test_sign_in_is_limited_per_ticket(client, live):
    _, (reg, _) = live
    for _attempt in range(10):
        client.post(reverse("contest_candidate_login"), {"ticket": reg.ticket, "id_number": id_number(5)})
    assert sign_in(client, reg, 0).status_code == 400


_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')
# The seconds left tick between two requests; nothing else may differ.
_CLOCK = re.compile(r'(data-remaining="|<strong id="exam-clock">)\d+')


def _page(client, reg):
    html = client.get(reverse("contest_exam_paper", args=[reg.pk])).content.decode()
    state = client.get(reverse("contest_exam_state", args=[reg.pk])).content.decode()
    return _CLOCK.sub(r"\1-", _CSRF.sub(r"\1-", html)), state


def test_the_answer_key_never_reaches_the_browser_before_submission(client, live):
    trade, (reg, _) = live
    sign_in(client, reg, 0)
    client.post(reverse("contest_exam_start", args=[reg.pk]))
    attempt = Attempt.objects.get(registration=reg)
    answers = right_answers(attempt)
    client.post(
        reverse("contest_exam_save", args=[reg.pk]),
        {"positions": ["0"], "q0": answers[0]},
        headers={"HX-Request": "true"},
    )
    before = _page(client, reg)
    assert "解析-" not in before[0] and "扭矩" not in before[0] and "转矩" not in before[0]
    state = json.loads(before[1])
    assert set(state) == {"status", "deadline", "remaining_seconds", "answers", "saves", "last_saved_at"}
    assert state["answers"] == {"0": "".join(answers[0])}
    # Change every key and explanation in the bank: the pages must not change at all.
    for q in Question.objects.filter(trade=trade):
        q.answer = {"single": "D", "multiple": "CD", "true_false": "F"}.get(q.qtype, "")
        q.accepted = [["别的答案"]] if q.qtype == "fill_blank" else []
        q.explanation = "另一种解析"
        q.save()
    after = _page(client, reg)
    assert after[0] == before[0]
    assert json.loads(after[1])["answers"] == state["answers"]


def test_a_candidate_takes_the_preliminary_with_autosave_and_sees_the_score(
    client, live, django_assert_max_num_queries
):
    _, (reg, _) = live
    sign_in(client, reg, 0)
    assert client.post(reverse("contest_exam_start", args=[reg.pk])).status_code == 302
    attempt = Attempt.objects.get(registration=reg)
    answers = right_answers(attempt)
    with django_assert_max_num_queries(
        8
    ):  # session, registration, attempt + paper, questions: not per question
        page = client.get(reverse("contest_exam_paper", args=[reg.pk]))
    assert page.status_code == 200 and 'hx-post="' in page.content.decode()
    for position, values in answers.items():  # one htmx autosave per question, as the page sends them
        saved = client.post(
            reverse("contest_exam_save", args=[reg.pk]),
            {"positions": [str(position)], f"q{position}": values},
            headers={"HX-Request": "true"},
        )
        assert saved.status_code == 200 and "save-ok" in saved.content.decode()
    reloaded = client.get(reverse("contest_exam_paper", args=[reg.pk])).content.decode()
    first_choice = answers[0][0]
    assert f'name="q0" value="{first_choice}" checked' in reloaded  # the saved answer is back after a reload
    assert 'value=" 转矩 "' not in reloaded and 'value="转矩"' in reloaded
    done = client.post(reverse("contest_exam_submit", args=[reg.pk]), {"positions": []})
    assert done.status_code == 302 and done["Location"] == reverse("contest_exam_result", args=[reg.pk])
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.score == attempt.paper.total_points
    result = client.get(done["Location"])
    assert (
        result.status_code == 200 and 'stat-value">12</span> / 12' in result.content.decode()
    )  # 2+2+3+1+4 points
    # after submission the paper page sends the candidate to the result, and saves are refused
    assert client.get(reverse("contest_exam_paper", args=[reg.pk])).status_code == 302
    refused = client.post(reverse("contest_exam_save", args=[reg.pk]), {"positions": ["0"], "q0": ["A"]})
    assert refused.status_code == 409 and "已经交卷" in refused.content.decode()


def test_a_save_after_the_deadline_is_refused_and_the_paper_closes(client, live):
    _, (reg, _) = live
    sign_in(client, reg, 0)
    client.post(reverse("contest_exam_start", args=[reg.pk]))
    attempt = Attempt.objects.get(registration=reg)
    answers = right_answers(attempt)
    client.post(reverse("contest_exam_save", args=[reg.pk]), {"positions": ["0"], "q0": answers[0]})
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    refused = client.post(
        reverse("contest_exam_save", args=[reg.pk]),
        {"positions": ["1"], "q1": answers[1]},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 409 and "考试时间已到" in refused.content.decode()
    assert refused["HX-Redirect"] == reverse("contest_exam_paper", args=[reg.pk])
    assert client.get(reverse("contest_exam_paper", args=[reg.pk])).status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.CLOSED and attempt.answers == {"0": "".join(answers[0])}
    assert attempt.score == 2


def test_pages_switch_to_english(client, live):
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("contest_candidate_login"))
    assert 'lang="en"' in page.content.decode() and "Admission ticket number" in page.content.decode()


def test_a_public_contests_bank_is_browsed_without_login_and_a_private_one_is_not(
    client, fitter, django_assert_max_num_queries
):
    from .conftest import add_questions

    add_questions(fitter, "single", "安全", 1, 25)
    add_questions(fitter, "fill_blank", "装配", 2, 1)
    url = reverse("contest_bank", args=[fitter.contest.code, fitter.code])
    with django_assert_max_num_queries(8):
        page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200 and "安全-single-1-1" in text and "解析-1" in text
    assert "安全-single-1-21" not in text  # 20 a page
    second = client.get(url, {"page": 2, "area": "装配"}).content.decode()
    assert "扭矩 / 转矩" in second and "安全-single" not in second
    Contest.objects.filter(pk=fitter.contest_id).update(bank_public=False)
    assert client.get(url).status_code == 404
    assert client.get(reverse("contest_bank", args=[fitter.contest.code, "nope"])).status_code == 404
