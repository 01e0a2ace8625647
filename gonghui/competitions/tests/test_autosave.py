"""The autosave request, the hot path of a preliminary (2,000 candidates every 30 s): few queries, merged in SQL."""

import pytest
from django.urls import reverse

from gonghui.competitions.models import Attempt

from .test_exam import right_answers
from .test_views import live, sign_in  # noqa: F401 - the `live` fixture


@pytest.fixture
def started(client, live):  # noqa: F811
    _, (reg, other) = live
    sign_in(client, reg, 0)
    client.post(reverse("contest_exam_start", args=[reg.pk]))
    attempt = Attempt.objects.get(registration=reg)
    return reg, other, attempt, right_answers(attempt)


def save(client, reg, form):
    return client.post(reverse("contest_exam_save", args=[reg.pk]), form, headers={"HX-Request": "true"})


def test_a_save_takes_a_fixed_handful_of_queries_whatever_the_paper_holds(
    client, started, django_assert_max_num_queries
):
    reg, _, attempt, answers = started
    whole_form = {"positions": [str(p) for p in answers], **{f"q{p}": v for p, v in answers.items()}}
    # session, the attempt with its paper, the questions' shapes, one UPDATE, the session's expiry
    # (and the savepoints around the session's save in a test's transaction)
    with django_assert_max_num_queries(7):
        response = save(client, reg, whole_form)
    assert response.status_code == 200 and "save-ok" in response.content.decode()
    stored = Attempt.objects.get(pk=attempt.pk)
    assert stored.saves == 1 and stored.answers == {str(p): "".join(v).strip() for p, v in answers.items()}


def test_the_whole_form_merges_into_what_is_stored_and_an_unticked_question_is_cleared(client, started):
    reg, _, attempt, answers = started
    assert save(client, reg, {"positions": ["0"], "q0": answers[0]}).status_code == 200
    assert save(client, reg, {"positions": ["2"], "q2": answers[2]}).status_code == 200
    assert Attempt.objects.get(pk=attempt.pk).answers == {"0": "".join(answers[0]), "2": "".join(answers[2])}
    # the page posts every position it shows: position 0 now without a tick is cleared, 2 kept, 3 added
    assert save(client, reg, {"positions": ["0", "3"], "q3": answers[3]}).status_code == 200
    stored = Attempt.objects.get(pk=attempt.pk)
    assert stored.answers == {"2": "".join(answers[2]), "3": "".join(answers[3])} and stored.saves == 3


def test_another_candidates_session_cannot_save_into_this_attempt(client, started, django_user_model):
    from django.test import Client

    reg, other, attempt, answers = started
    outsider = Client()
    sign_in(outsider, other, 1)
    refused = save(outsider, reg, {"positions": ["0"], "q0": answers[0]})
    assert refused.status_code == 404
    assert Attempt.objects.get(pk=attempt.pk).answers == {} and Attempt.objects.get(pk=attempt.pk).saves == 0
