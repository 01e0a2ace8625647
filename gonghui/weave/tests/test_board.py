"""The 揭榜 board: posting after a weave run, claiming, creating the federation, closing, pages, scoping."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from gonghui.audit.models import AuditEvent
from gonghui.orgs.models import OccupationGroup, Org
from gonghui.people.models import Person
from gonghui.weave.board import board_after_run, board_policy
from gonghui.weave.models import BoardTask, Coverage, RunStatus, TaskStatus, WeaveRun

THRESHOLD = board_policy().threshold


def add_people(region, group, n, *, org=None, name="工人"):
    """`n` people counted in `region` × `group`, with `org` as their primary union (None: holes)."""
    run = WeaveRun.objects.filter(status=RunStatus.DONE).first() or WeaveRun.objects.create(
        status=RunStatus.DONE
    )
    start = Person.objects.count()
    Person.objects.bulk_create(
        [Person(name=f"{name}{start + i}", work_region=region, group=group) for i in range(n)]
    )
    people = list(Person.objects.order_by("-id")[:n])
    Coverage.objects.bulk_create(
        [Coverage(person=p, run=run, primary_org=org, region=region, group=group) for p in people]
    )
    return people


def new_run():
    return WeaveRun.objects.create(status=RunStatus.DONE)


@pytest.fixture
def board(world):
    courier, _ = OccupationGroup.objects.get_or_create(code="courier", defaults={"name": "快递员"})
    rider, _ = OccupationGroup.objects.get_or_create(code="rider", defaults={"name": "外卖送餐员"})
    return SimpleNamespace(w=world, courier=courier, rider=rider)


# --- board_after_run --------------------------------------------------------------------------------


def test_it_posts_a_cell_at_the_threshold_and_not_below(board):
    w = board.w
    add_people(w.suburb_town, board.courier, THRESHOLD)  # township rows sum up to the county cell
    add_people(w.qianjin_street, board.courier, THRESHOLD - 1)
    add_people(w.qianjin_street, board.rider, THRESHOLD, org=w.qianjin_fed)  # covered: no hole

    result = board_after_run(run=new_run())

    task = BoardTask.objects.get()
    assert (task.region, task.group, task.status) == (w.suburb, board.courier, TaskStatus.OPEN)
    assert task.posted_by_org == w.city_fed
    assert task.uncovered_at_posting == task.uncovered_now == THRESHOLD
    assert result.posted == 1
    assert AuditEvent.objects.filter(action="weave.board_after_run").count() == 1


def test_it_posts_a_cell_once_and_updates_uncovered_now(board):
    w = board.w
    add_people(w.suburb_town, board.courier, THRESHOLD)
    board_after_run(run=new_run())
    add_people(w.suburb, board.courier, 5)

    board_after_run(run=new_run())

    task = BoardTask.objects.get()
    assert (task.uncovered_at_posting, task.uncovered_now) == (THRESHOLD, THRESHOLD + 5)


def test_an_open_task_whose_cell_is_covered_is_withdrawn(board):
    w = board.w
    people = add_people(w.suburb_town, board.courier, THRESHOLD)
    board_after_run(run=new_run())
    Coverage.objects.filter(person__in=people).update(primary_org=w.suburb_town_union)

    board_after_run(run=new_run())

    assert BoardTask.objects.get().status == TaskStatus.WITHDRAWN


def test_it_skips_a_cell_with_no_posting_federation(board):
    w = board.w
    Org.objects.filter(pk=w.city_fed.pk).update(status="dissolved")
    add_people(w.suburb_town, board.courier, THRESHOLD)

    board_after_run(run=new_run())

    assert not BoardTask.objects.exists()


def test_a_claimed_task_without_its_federation_stays_claimed(board):
    w = board.w
    people = add_people(w.suburb_town, board.courier, THRESHOLD)
    board_after_run(run=new_run())
    BoardTask.objects.update(
        status=TaskStatus.CLAIMED, claimed_by_org=w.suburb_fed, promised_on=timezone.localdate()
    )
    Coverage.objects.filter(person__in=people).update(primary_org=w.suburb_town_union)

    board_after_run(run=new_run())

    task = BoardTask.objects.get()
    assert task.status == TaskStatus.CLAIMED and task.uncovered_now == 0


def test_the_policy_is_dated():
    old = board_policy(dt.date(2000, 1, 1))  # before any version: the earliest one
    assert old.issuer == "佳木斯市总工会"
    assert old.threshold >= 1 and old.promise_days > 0
