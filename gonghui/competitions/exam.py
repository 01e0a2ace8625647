"""The online preliminary: start (one attempt), autosave, submit with scoring, closing overdue attempts.

The server owns the clock: an attempt's deadline is set when it starts (the blueprint's time limit,
cut at the close of the preliminary window), every save is a conditional UPDATE that matches only
an attempt still in progress and before its deadline (a save after it changes nothing and is
refused), and `attempts_close_overdue` scores what was last saved. One attempt per registration is
a unique constraint; a start is a conditional insert (INSERT ... ON CONFLICT DO NOTHING), so two
starts at once give the same attempt. Answers are stored as the candidate saw them (displayed
letters); scoring maps them through the paper's option orders. The answer key is read only here,
to score.

Scoring: a question scores its points when the answer is exactly right (multiple choice: exactly
the right set of options; fill in the blank: every blank one of its accepted answers, compared
after NFKC, spaces and case folding), else nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.people.services import id_number_hash

from .bank import BLANK_SEPARATOR, fold
from .models import (
    OPTION_LETTERS,
    Attempt,
    AttemptStatus,
    BlueprintRow,
    Paper,
    Question,
    QuestionType,
    Registration,
)
from .papers import paper_generate

MAX_BLANK_CHARS = 200
CLOSE_CHUNK = 2000


class ExamError(ValueError):
    """An exam action that is not allowed now (outside the window, after the deadline, bad answer)."""


class ExamClosed(ExamError):
    """The attempt no longer takes answers: submitted, closed, or past its deadline."""


def candidate_find(*, ticket: str, id_number: str) -> Registration | None:
    """The registration with this admission ticket whose person has this ID number; None otherwise (not told which)."""
    ticket = "".join((ticket or "").split())
    if not ticket.isdigit():
        return None
    try:
        wanted = id_number_hash(id_number)
    except ValueError:
        return None
    registration = (
        Registration.objects.select_related("person", "trade__contest").filter(ticket=ticket).first()
    )
    if registration is None or registration.person.id_number_hash != wanted:
        return None
    return registration


def attempt_start(
    *, registration: Registration, now: dt.datetime | None = None, actor: Any | None = None
) -> Attempt:
    """The registration's attempt, started now if it has none; the same attempt (and deadline) if it has.

    Raises ExamError outside the preliminary window. Concurrent starts give one attempt: the
    insert does nothing on conflict with the unique registration and every caller reads the row.
    """
    now = now or timezone.now()
    contest = registration.trade.contest
    if not contest.preliminary_opens <= now < contest.preliminary_closes:
        existing = Attempt.objects.filter(registration=registration).first()
        if existing is not None:
            return existing
        if now < contest.preliminary_opens:
            raise ExamError(
                f"预赛尚未开始（{timezone.localtime(contest.preliminary_opens):%Y-%m-%d %H:%M} 开始）"
            )
        raise ExamError("预赛已经结束")
    # In the window: one transaction, no read before the insert (2,000 candidates start in the same
    # minute). An existing attempt makes the insert do nothing and is what the read returns. The paper
    # is read (or drawn, committed on its own) before: on SQLite a transaction that reads and then
    # writes fails at once ("database is locked") if another write committed in between.
    limit = dt.timedelta(minutes=registration.trade.blueprint.time_limit_minutes)
    deadline = min(now + limit, contest.preliminary_closes)
    paper = paper_generate(registration=registration, actor=actor)
    with transaction.atomic():
        Attempt.objects.bulk_create(
            [Attempt(registration=registration, paper=paper, started_at=now, deadline=deadline)],
            ignore_conflicts=True,
        )
        attempt = Attempt.objects.get(registration=registration)
        if attempt.started_at == now and attempt.deadline == deadline:
            audit_record(
                actor=actor,
                action="contest.attempt_start",
                target=attempt,
                detail={"registration": registration.pk, "deadline": deadline.isoformat()},
            )
    return attempt


@dataclass(frozen=True)
class Shown:
    """What a paper shows of a question: its type, stem, options (bank order) and number of blanks. No key."""

    qtype: str
    stem: str
    options: tuple[str, ...]
    blanks: int


# Kept per process, by question id: once a paper is drawn over a question, nothing a paper shows of it
# can change (questions.question_update refuses all but the explanation), and only questions on a
# paper come in here. A preliminary's 2,000 papers draw on a bank of hundreds of questions, each
# paper opened once and autosaved every 30 s: without this every save read its paper's 100
# questions (about half of a save's CPU), every paper page too. Bounded; `forget_shown` empties it
# (tests, whose rolled-back databases reuse ids).
_SHOWN: dict[int, Shown] = {}
SHOWN_MAX = 50_000


def shown_questions(question_ids) -> list[Shown]:
    """The questions as shown, in the order of `question_ids` (read from the database only when not yet kept)."""
    missing = [qid for qid in question_ids if qid not in _SHOWN]
    if missing:
        if len(_SHOWN) + len(missing) > SHOWN_MAX:
            _SHOWN.clear()
        for qid, qtype, stem, options, accepted in Question.objects.filter(pk__in=missing).values_list(
            "id", "qtype", "stem", "options", "accepted"
        ):
            _SHOWN[qid] = Shown(qtype, stem, tuple(options), len(accepted))
    return [_SHOWN[qid] for qid in question_ids]


def forget_shown() -> None:
    _SHOWN.clear()


def clean_answer(qtype: str, options: int, blanks: int, values: list[str]) -> str:
    """The stored form of what a candidate chose at one position; ExamError for what cannot be an answer."""
    values = [v for v in values if v is not None]
    if qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        letters = sorted({v.strip().upper() for v in values if v.strip()})
        if any(len(x) != 1 or x not in OPTION_LETTERS[:options] for x in letters):
            raise ExamError("答案不是本题的选项")
        if qtype == QuestionType.SINGLE and len(letters) > 1:
            raise ExamError("单选题只能选一个答案")
        return "".join(letters)
    if qtype == QuestionType.TRUE_FALSE:
        chosen = {v.strip().upper() for v in values if v.strip()}
        if not chosen <= {"T", "F"} or len(chosen) > 1:
            raise ExamError("判断题的答案应为对或错")
        return chosen.pop() if chosen else ""
    texts = [v.strip()[:MAX_BLANK_CHARS] for v in values][:blanks]
    if not any(texts):
        return ""
    texts += [""] * (blanks - len(texts))
    return BLANK_SEPARATOR.join(t.replace(BLANK_SEPARATOR, " ") for t in texts)


def attempt_save(
    *, attempt: Attempt, answers: dict[int, list[str]], now: dt.datetime | None = None
) -> dt.datetime:
    """Save answers (position -> the values chosen or typed; an empty list clears it); returns the save time.

    Guarantees: nothing is saved once the attempt is submitted, closed or past its deadline
    (ExamClosed); the answers are merged into the stored ones by one conditional UPDATE (the row
    lock serialises saves of one attempt, and the merge is computed from the row as it is then), so
    two saves of different questions at once both keep their answer. Autosave is the hot path of an
    exam (2,000 candidates every 30 s): one statement, no read of the stored answers.
    """
    now = now or timezone.now()
    shown = shown_questions(attempt.paper.questions)
    cleaned: dict[str, str] = {}
    for position, values in answers.items():
        if not 0 <= position < len(shown):
            raise ExamError(f"第 {position + 1} 题不在试卷上")
        question = shown[position]
        cleaned[str(position)] = clean_answer(question.qtype, len(question.options), question.blanks, values)
    updated = Attempt.objects.filter(
        pk=attempt.pk, status=AttemptStatus.IN_PROGRESS, deadline__gt=now
    ).update(saves=F("saves") + 1, last_saved_at=now, answers=_merged_answers(cleaned))
    if not updated:
        raise _closed(attempt.pk, now)
    attempt.last_saved_at = now
    attempt.__dict__.pop("answers", None)  # read again from the row when next asked for
    return now


def _merged_answers(cleaned: dict[str, str]) -> RawSQL:
    """The stored answers with `cleaned` merged in (an empty value removes the position), in SQL."""
    kept = {position: value for position, value in cleaned.items() if value}
    removed = [position for position, value in cleaned.items() if not value]
    if connection.vendor == "postgresql":
        return RawSQL('("answers" || %s::jsonb) - %s::text[]', (json.dumps(kept), removed))
    # SQLite: a JSON merge patch, where null removes a key
    return RawSQL('json_patch("answers", %s)', (json.dumps({**kept, **dict.fromkeys(removed)}),))


def _closed(attempt_id: int, now: dt.datetime) -> ExamClosed:
    status = Attempt.objects.filter(pk=attempt_id).values_list("status", flat=True).first()
    if status and status != AttemptStatus.IN_PROGRESS:
        return ExamClosed("试卷已经交卷，不能再修改答案")
    return ExamClosed("考试时间已到，答案未保存（已保存的答案将用于评分）")


@dataclass(frozen=True)
class Key:
    qtype: str
    answer: str
    accepted: list[list[str]]


def _keys(papers: list[Paper]) -> dict[int, Key]:
    ids = {qid for paper in papers for qid in paper.questions}
    return {
        qid: Key(qtype, answer, accepted)
        for qid, qtype, answer, accepted in Question.objects.filter(pk__in=ids).values_list(
            "id", "qtype", "answer", "accepted"
        )
    }


def _points(trade_ids: set[int]) -> dict[int, list[Decimal]]:
    points: dict[int, list[Decimal]] = {t: [] for t in trade_ids}
    for trade_id, count, value in (
        BlueprintRow.objects.filter(blueprint__trade_id__in=trade_ids)
        .order_by("blueprint__trade_id", "position")
        .values_list("blueprint__trade_id", "count", "points")
    ):
        points[trade_id].extend([value] * count)
    return points


def is_right(key: Key, order: str, given: str) -> bool:
    if not given:
        return False
    if key.qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        try:
            original = {order[OPTION_LETTERS.index(letter)] for letter in given}
        except (ValueError, IndexError):
            return False
        return original == set(key.answer)
    if key.qtype == QuestionType.TRUE_FALSE:
        return given == key.answer
    texts = given.split(BLANK_SEPARATOR)
    if len(texts) != len(key.accepted):
        return False
    return all(
        fold(text) in {fold(a) for a in accepted} for text, accepted in zip(texts, key.accepted, strict=True)
    )


def score(
    paper: Paper, answers: dict[str, str], keys: dict[int, Key], points: list[Decimal]
) -> tuple[Decimal, int]:
    """(score, questions right) of `answers` on `paper`."""
    total, right = Decimal(0), 0
    for position, qid in enumerate(paper.questions):
        if is_right(keys[qid], paper.orders[position], answers.get(str(position), "")):
            total += points[position]
            right += 1
    return total, right


def attempt_submit(*, attempt: Attempt, now: dt.datetime | None = None, actor: Any | None = None) -> Attempt:
    """Submit and score. After the deadline the attempt is closed with its last saved answers instead.

    A second submission (or one racing the first) changes nothing: the conditional UPDATE matches
    only an attempt still in progress.
    """
    now = now or timezone.now()
    if now >= attempt.deadline:
        attempts_close_overdue(now=now, only=[attempt.pk])
        attempt.refresh_from_db()
        return attempt
    with transaction.atomic():
        current = Attempt.objects.select_related("paper").get(pk=attempt.pk)
        if current.status != AttemptStatus.IN_PROGRESS:
            return current
        points = _points({current.paper.trade_id})[current.paper.trade_id]
        value, right = score(current.paper, current.answers, _keys([current.paper]), points)
        updated = Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.IN_PROGRESS).update(
            status=AttemptStatus.SUBMITTED, submitted_at=now, score=value, correct=right
        )
        if updated:
            audit_record(
                actor=actor, action="contest.attempt_submit", target=current, detail={"score": str(value)}
            )
    attempt.refresh_from_db()
    return attempt


def attempts_close_overdue(*, now: dt.datetime | None = None, only: list[int] | None = None) -> int:
    """Close every attempt past its deadline and still in progress, scored on its last saved answers.

    Set-based per chunk: the scores go in one UPDATE per chunk that matches only attempts still in
    progress (a submission that won the race keeps its own result). Returns how many were closed.
    """
    now = now or timezone.now()
    overdue = Attempt.objects.filter(status=AttemptStatus.IN_PROGRESS, deadline__lte=now)
    if only is not None:
        overdue = overdue.filter(pk__in=only)
    ids = list(overdue.order_by("id").values_list("id", flat=True))
    closed = 0
    for start in range(0, len(ids), CLOSE_CHUNK):
        with transaction.atomic():
            attempts = list(
                Attempt.objects.filter(
                    pk__in=ids[start : start + CLOSE_CHUNK], status=AttemptStatus.IN_PROGRESS
                )
                .select_related("paper")
                .only("id", "answers", "deadline", "paper__questions", "paper__orders", "paper__trade_id")
            )
            papers = [a.paper for a in attempts]
            keys = _keys(papers)
            points = _points({p.trade_id for p in papers})
            for attempt in attempts:
                attempt.score, attempt.correct = score(
                    attempt.paper, attempt.answers, keys, points[attempt.paper.trade_id]
                )
                attempt.status, attempt.submitted_at = AttemptStatus.CLOSED, attempt.deadline
            closed += Attempt.objects.filter(status=AttemptStatus.IN_PROGRESS).bulk_update(
                attempts, ["score", "correct", "status", "submitted_at"]
            )
    if closed:
        audit_record(actor=None, action="contest.attempts_close_overdue", detail={"closed": closed})
    return closed
