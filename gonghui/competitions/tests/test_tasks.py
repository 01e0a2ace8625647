"""The worker's periodic jobs: overdue attempts are closed by its tick, not only by `contest close-overdue`."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from gonghui.competitions.exam import attempt_save, attempt_start
from gonghui.competitions.models import Attempt, AttemptStatus
from gonghui.lib.periodic import Job, Scheduler
from gonghui.weave.models import RunStatus, WeaveRun
from gonghui.web.management.commands import worker

from .test_exam import build, right_answers


@pytest.fixture
def started(fitter):
    """Two attempts: one started at the window's opening (due first), one started 20 minutes later."""
    early, late = build(fitter)
    opens = fitter.contest.preliminary_opens
    first = attempt_start(registration=early, now=opens)
    answers = right_answers(first)
    attempt_save(attempt=first, answers={0: answers[0]}, now=opens + dt.timedelta(minutes=29))
    second = attempt_start(registration=late, now=opens + dt.timedelta(minutes=20))
    return first, second, answers


def test_the_workers_tick_closes_an_overdue_attempt_with_its_last_saved_answers(started):
    first, second, answers = started
    scheduler = Scheduler(worker.jobs())
    outcomes = scheduler.tick(first.deadline + dt.timedelta(seconds=1))
    assert [(o.job, o.result, o.error) for o in outcomes][0] == ("contest close-overdue", 1, "")
    closed = Attempt.objects.get(pk=first.pk)
    assert closed.status == AttemptStatus.CLOSED and closed.submitted_at == first.deadline
    assert closed.answers == {"0": "".join(answers[0])} and closed.score == 2 and closed.correct == 1
    # the attempt still within its time is left alone, and takes answers
    assert Attempt.objects.get(pk=second.pk).status == AttemptStatus.IN_PROGRESS
    attempt_save(attempt=second, answers={0: answers[0]}, now=first.deadline + dt.timedelta(seconds=2))


def test_the_loop_runs_close_overdue_once_a_minute_and_closes_the_second_when_it_falls_due(started):
    first, second, _ = started
    scheduler = Scheduler([j for j in worker.jobs() if j.name == "contest close-overdue"])
    t = first.deadline + dt.timedelta(seconds=1)
    assert [o.result for o in scheduler.tick(t)] == [1]
    assert scheduler.tick(t + dt.timedelta(seconds=59)) == []  # not due yet: nothing runs
    assert scheduler.seconds_to_next(t + dt.timedelta(seconds=59)) == 1
    assert [o.result for o in scheduler.tick(t + dt.timedelta(minutes=1))] == [0]
    assert Attempt.objects.get(pk=second.pk).status == AttemptStatus.IN_PROGRESS
    later = second.deadline + dt.timedelta(seconds=30)
    assert [o.result for o in scheduler.tick(later)] == [1]
    assert set(Attempt.objects.values_list("status", flat=True)) == {AttemptStatus.CLOSED}


def test_a_failing_job_is_reported_and_the_others_still_run():
    ran = []

    def broken(now):
        raise RuntimeError("boom")

    scheduler = Scheduler(
        [Job("broken", dt.timedelta(minutes=1), broken), Job("fine", dt.timedelta(minutes=1), ran.append)]
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    outcomes = scheduler.tick(now)
    assert outcomes[0].error == "RuntimeError: boom" and outcomes[1].error == "" and ran == [now]


def test_worker_once_closes_what_is_overdue_now(started):
    first, second, _ = started  # the policy's 2021 window: both deadlines long past
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    assert "contest close-overdue: 2" in out.getvalue()
    assert set(Attempt.objects.values_list("status", flat=True)) == {AttemptStatus.CLOSED}


@pytest.mark.django_db
def test_a_weave_run_left_queued_is_launched_again_once_nothing_runs(monkeypatch):
    launched = []
    monkeypatch.setattr("gonghui.weave.tasks.start", launched.append)
    fresh = WeaveRun.objects.create(trigger="just asked")
    stuck = WeaveRun.objects.create(trigger="asked before a restart")
    now = stuck.created_at + dt.timedelta(minutes=11)
    WeaveRun.objects.filter(pk=fresh.pk).update(created_at=now - dt.timedelta(minutes=1))
    running = WeaveRun.objects.create(trigger="other", status=RunStatus.RUNNING)
    assert worker.weave_relaunch_stale(now) == 0 and launched == []  # one run at a time
    WeaveRun.objects.filter(pk=running.pk).update(status=RunStatus.DONE)
    assert worker.weave_relaunch_stale(now) == 1 and launched == [stuck.pk]
