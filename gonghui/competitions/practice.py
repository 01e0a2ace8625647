"""Training: practice sessions over a trade's bank, answers checked at once with the explanation.

A session is a list of questions (at random, or in bank order from a number; optionally one knowledge
area) kept as `PracticeSession.shown`: every session is counted, and the questions a candidate was
shown are what a blueprint with `avoid_practised` prefers out of their preliminary paper. Practice is
open during the contest's training stage.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.utils import timezone

from .exam import ExamError, Key, clean_answer, is_right
from .models import OPTION_LETTERS, PracticeSession, Question, QuestionType, Registration

MODES = ("random", "order")
MAX_SIZE = 50


def practice_start(
    *,
    registration: Registration,
    mode: str = "random",
    area: str = "",
    size: int = 10,
    start: int = 1,
    now: dt.datetime | None = None,
) -> PracticeSession:
    """A new practice session for a candidate; ExamError outside the training stage or with nothing to practise."""
    now = now or timezone.now()
    contest = registration.trade.contest
    if not contest.training_opens <= now <= contest.training_closes:
        raise ExamError(
            f"培训练习时间为 {timezone.localtime(contest.training_opens):%Y-%m-%d} 至 "
            f"{timezone.localtime(contest.training_closes):%Y-%m-%d}"
        )
    if mode not in MODES:
        raise ExamError("练习方式应为随机或顺序")
    size = max(1, min(int(size), MAX_SIZE))
    questions = Question.objects.filter(trade=registration.trade)
    if area:
        questions = questions.filter(knowledge_area=area)
    if mode == "order":
        shown = list(
            questions.filter(number__gte=start).order_by("number").values_list("id", flat=True)[:size]
        )
    else:
        ids = list(questions.values_list("id", flat=True))
        shown = random.sample(ids, min(size, len(ids)))
    if not shown:
        raise ExamError("没有可练习的题目")
    return PracticeSession.objects.create(trade=registration.trade, registration=registration, shown=shown)


@dataclass(frozen=True)
class Checked:
    right: bool
    answer: str  # the right answer as shown in practice (options in bank order)
    explanation: str


def practice_check(*, session: PracticeSession, position: int, values: list[str]) -> Checked:
    """Check one answer of a practice session at once; practice shows the options in bank order."""
    if not 0 <= position < len(session.shown):
        raise ExamError(f"第 {position + 1} 题不在本次练习中")
    q = Question.objects.get(pk=session.shown[position])
    given = clean_answer(q.qtype, len(q.options), len(q.accepted), values)
    key = Key(q.qtype, q.answer, q.accepted)
    right = is_right(key, OPTION_LETTERS[: len(q.options)], given)
    if q.qtype == QuestionType.TRUE_FALSE:
        shown_answer = "对" if q.answer == "T" else "错"
    elif q.qtype == QuestionType.FILL_BLANK:
        shown_answer = "；".join(" / ".join(a) for a in q.accepted)
    else:
        shown_answer = q.answer
    return Checked(right=right, answer=shown_answer, explanation=q.explanation)
