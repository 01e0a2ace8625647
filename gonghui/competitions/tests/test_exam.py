import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections

from gonghui.audit.models import AuditEvent
from gonghui.competitions.exam import (
    ExamClosed,
    ExamError,
    attempt_save,
    attempt_start,
    attempt_submit,
    attempts_close_overdue,
    candidate_find,
)
from gonghui.competitions.models import Attempt, AttemptStatus, Question
from gonghui.competitions.services import RowSpec, blueprint_set

from .conftest import add_questions, id_number, register

ROWS = [
    RowSpec("single", "安全", 1, 2, Decimal(2)),
    RowSpec("multiple", "识图", 2, 1, Decimal(3)),
    RowSpec("true_false", "安全", 1, 1, Decimal(1)),
    RowSpec("fill_blank", "装配", 2, 1, Decimal(4)),
]


def build(trade):
    add_questions(trade, "single", "安全", 1, 4)
    add_questions(trade, "multiple", "识图", 2, 2, options=5)
    add_questions(trade, "true_false", "安全", 1, 2)
    add_questions(trade, "fill_blank", "装配", 2, 1)
    blueprint_set(trade=trade, rows=ROWS, time_limit_minutes=30)
    return register(trade, 2)


@pytest.fixture
def exam(fitter):
    registrations = build(fitter)
    opens = fitter.contest.preliminary_opens
    return fitter, registrations, opens + dt.timedelta(hours=1)


def displayed(order: str, original: str) -> str:
    """The letters a candidate sees for the original letters `original`."""
    return "".join(sorted("ABCDEF"[order.index(letter)] for letter in original))


def right_answers(attempt):
    """position -> the right values as a candidate would post them."""
    keys = {q.pk: q for q in Question.objects.filter(pk__in=attempt.paper.questions)}
    out = {}
    for position, (qid, order) in enumerate(zip(attempt.paper.questions, attempt.paper.orders, strict=True)):
        q = keys[qid]
        if q.qtype in ("single", "multiple"):
            out[position] = list(displayed(order, q.answer))
        elif q.qtype == "true_false":
            out[position] = [q.answer]
        else:
            out[position] = [" 转矩 "]  # an accepted alternative, with spaces
    return out


def test_a_start_twice_gives_the_same_attempt_and_deadline(exam):
    trade, (reg, _), now = exam
    first = attempt_start(registration=reg, now=now)
    assert first.deadline == now + dt.timedelta(minutes=30)
    again = attempt_start(registration=reg, now=now + dt.timedelta(minutes=5))
    assert again.pk == first.pk and again.deadline == first.deadline
    assert Attempt.objects.count() == 1
    assert AuditEvent.objects.filter(action="contest.attempt_start").count() == 1


def test_it_refuses_a_start_outside_the_window_and_cuts_the_deadline_at_the_close(exam):
    trade, (reg, other), _ = exam
    contest = trade.contest
    with pytest.raises(ExamError, match="预赛尚未开始"):
        attempt_start(registration=reg, now=contest.preliminary_opens - dt.timedelta(seconds=1))
    with pytest.raises(ExamError, match="预赛已经结束"):
        attempt_start(registration=reg, now=contest.preliminary_closes)
    late = attempt_start(registration=other, now=contest.preliminary_closes - dt.timedelta(minutes=10))
    assert late.deadline == contest.preliminary_closes
    assert not Attempt.objects.filter(registration=reg).exists()


def test_answers_survive_a_reload_and_a_save_after_the_deadline_is_refused(exam):
    _, (reg, _), now = exam
    attempt = attempt_start(registration=reg, now=now)
    answers = right_answers(attempt)
    attempt_save(attempt=attempt, answers={0: answers[0]}, now=now + dt.timedelta(minutes=1))
    attempt_save(attempt=attempt, answers={4: ["扭矩"]}, now=now + dt.timedelta(minutes=2))
    reloaded = Attempt.objects.get(pk=attempt.pk)
    assert reloaded.answers == {"0": "".join(answers[0]), "4": "扭矩"} and reloaded.saves == 2
    with pytest.raises(ExamClosed, match="考试时间已到"):
        attempt_save(attempt=reloaded, answers={1: answers[1]}, now=reloaded.deadline)
    assert Attempt.objects.get(pk=attempt.pk).answers == reloaded.answers
    attempt_save(attempt=reloaded, answers={0: []}, now=now + dt.timedelta(minutes=3))  # cleared
    assert Attempt.objects.get(pk=attempt.pk).answers == {"4": "扭矩"}


def test_it_refuses_what_cannot_be_an_answer(exam):
    _, (reg, _), now = exam
    attempt = attempt_start(registration=reg, now=now)
    with pytest.raises(ExamError, match="单选题只能选一个答案"):
        attempt_save(attempt=attempt, answers={0: ["A", "B"]}, now=now)
    with pytest.raises(ExamError, match="不是本题的选项"):
        attempt_save(attempt=attempt, answers={0: ["F"]}, now=now)
    with pytest.raises(ExamError, match="第 9 题不在试卷上"):
        attempt_save(attempt=attempt, answers={8: ["A"]}, now=now)
    assert Attempt.objects.get(pk=attempt.pk).answers == {}


def test_submission_scores_through_the_shuffled_options_and_happens_once(exam):
    _, (reg, _), now = exam
    attempt = attempt_start(registration=reg, now=now)
    answers = right_answers(attempt)
    wrong_single = [letter for letter in "ABCD" if [letter] != answers[1]][0]
    answers[1] = [wrong_single]  # 2 points lost
    attempt_save(attempt=attempt, answers=answers, now=now + dt.timedelta(minutes=10))
    done = attempt_submit(attempt=attempt, now=now + dt.timedelta(minutes=11))
    assert done.status == AttemptStatus.SUBMITTED
    assert (done.score, done.correct) == (Decimal(2 + 3 + 1 + 4), 4)
    again = attempt_submit(attempt=done, now=now + dt.timedelta(minutes=12))
    assert again.score == done.score and again.submitted_at == done.submitted_at
    with pytest.raises(ExamClosed, match="已经交卷"):
        attempt_save(attempt=done, answers={1: answers[0]}, now=now + dt.timedelta(minutes=13))


def test_overdue_attempts_close_with_their_last_saved_answers(exam):
    trade, (reg, other), now = exam
    late = attempt_start(registration=reg, now=now)
    answers = right_answers(late)
    attempt_save(attempt=late, answers={0: answers[0], 2: answers[2]}, now=now + dt.timedelta(minutes=29))
    on_time = attempt_start(registration=other, now=now + dt.timedelta(minutes=20))
    assert attempts_close_overdue(now=now + dt.timedelta(minutes=30)) == 1
    late.refresh_from_db()
    on_time.refresh_from_db()
    assert late.status == AttemptStatus.CLOSED and late.submitted_at == late.deadline
    assert late.score == Decimal(2 + 3) and late.correct == 2
    assert on_time.status == AttemptStatus.IN_PROGRESS
    assert attempts_close_overdue(now=now + dt.timedelta(minutes=31)) == 0
    # a submission after the deadline closes the attempt the same way, ignoring nothing saved late
    closed = attempt_submit(attempt=on_time, now=on_time.deadline + dt.timedelta(seconds=1))
    assert closed.status == AttemptStatus.CLOSED and closed.score == 0


def test_cli_closes_overdue_attempts(exam):
    _, (reg, _), now = exam
    attempt = attempt_start(registration=reg, now=now)
    Attempt.objects.filter(pk=attempt.pk).update(deadline=attempt.started_at)  # long past
    out = io.StringIO()
    call_command("contest", "close-overdue", stdout=out)
    assert "关闭超时试卷 1 份" in out.getvalue()
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.CLOSED


def test_a_candidate_is_found_by_ticket_and_id_number_only(exam):
    _, (reg, other), _ = exam
    assert candidate_find(ticket=reg.ticket, id_number=id_number(0)) == reg
    assert candidate_find(ticket=reg.ticket, id_number=id_number(1)) is None
    assert candidate_find(ticket=other.ticket, id_number="not a number") is None
    assert candidate_find(ticket="' OR 1=1", id_number=id_number(0)) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent starts are tested on PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_starts_give_one_attempt(world):
    from gonghui.competitions.services import contest_setup_from_policy

    contest = contest_setup_from_policy(policy_file="contest_jilin_2021.yaml", organiser=world.city_fed)
    trade = contest.trades.get(code="fitter")
    reg, _ = build(trade)
    now = contest.preliminary_opens + dt.timedelta(hours=1)
    barrier = threading.Barrier(6)
    started: list[int] = []
    errors: list[BaseException] = []

    def start(offset):
        try:
            barrier.wait()
            started.append(attempt_start(registration=reg, now=now + dt.timedelta(microseconds=offset)).pk)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(started) == 6 and len(set(started)) == 1
    assert Attempt.objects.filter(registration=reg).count() == 1
    assert AuditEvent.objects.filter(action="contest.attempt_start").count() == 1

    # and two saves of different questions at the same moment both keep their answer
    attempt = Attempt.objects.get(registration=reg)
    answers = right_answers(attempt)
    barrier = threading.Barrier(2)

    def save(position):
        try:
            barrier.wait()
            attempt_save(
                attempt=Attempt.objects.get(pk=attempt.pk), answers={position: answers[position]}, now=now
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(p,)) for p in (0, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(Attempt.objects.get(pk=attempt.pk).answers) == {"0", "3"}


def test_a_start_in_the_window_opens_its_transaction_with_the_insert(exam):
    # On SQLite (WAL) a transaction that reads and then writes fails at once with "database is locked"
    # when another connection committed a write in between (no busy wait), as every other candidate's
    # start, save and session does in the first minute: the start's transaction writes first.
    from django.test.utils import CaptureQueriesContext

    from gonghui.competitions.papers import paper_generate

    trade, (reg, other), now = exam
    paper_generate(registration=reg)  # the usual case: papers are drawn beforehand
    for registration in (reg, other):  # and without a paper: drawn in its own transaction first
        with CaptureQueriesContext(connection) as ctx:
            attempt_start(registration=registration, now=now)
        sqls = [q["sql"] for q in ctx.captured_queries]
        insert = next(
            i
            for i, sql in enumerate(sqls)
            if sql.startswith("INSERT") and 'INTO "competitions_attempt"' in sql
        )
        assert sqls[insert - 1].startswith("SAVEPOINT"), sqls[: insert + 1]
    assert Attempt.objects.count() == 2
