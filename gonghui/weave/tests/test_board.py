"""The 揭榜 board: posting after a weave run, claiming, creating the federation, closing, pages, scoping."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connections
from django.urls import reverse
from django.utils import timezone

from gonghui.audit.models import AuditEvent
from gonghui.orgs.models import OccupationGroup, Org
from gonghui.people.models import Person
from gonghui.weave.board import (
    COUNT_HOLES_AND_SAFETY_NET,
    BoardError,
    BoardPolicyError,
    board_after_run,
    board_policy,
    claimer_orgs,
    task_claim,
    task_create_federation,
    task_withdraw,
)
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


def test_a_policy_counting_the_safety_net_posts_cells_only_a_township_union_covers(board):
    w = board.w
    people = add_people(w.suburb_town, board.courier, THRESHOLD, org=w.suburb_town_union)
    Coverage.objects.filter(person__in=people).update(primary_rule="township")
    board_after_run(run=new_run())
    assert not BoardTask.objects.exists()  # the default policy counts holes only

    policy = dataclasses.replace(board_policy(), counts=COUNT_HOLES_AND_SAFETY_NET)
    board_after_run(run=new_run(), policy=policy)

    task = BoardTask.objects.get()
    assert (task.region, task.group, task.uncovered_now) == (w.suburb, board.courier, THRESHOLD)
    # An industry federation becoming their primary union empties the cell under this counting too.
    Coverage.objects.filter(person__in=people).update(primary_rule="industry")
    board_after_run(run=new_run(), policy=policy)
    assert BoardTask.objects.get().status == TaskStatus.WITHDRAWN


def test_a_bad_policy_is_refused_at_load(tmp_path):
    bad = tmp_path / "weave_board.yaml"
    bad.write_text(
        "issued_by: 某市总工会\nversions:\n  - effective_from: 2022-01-01\n    post_level: county\n"
        "    threshold: 30\n    counts: everyone\n",
        encoding="utf-8",
    )
    with pytest.raises(BoardPolicyError, match="counts"):
        board_policy(path=bad)
    bad.write_text(
        "issued_by: 某市总工会\nversions:\n  - effective_from: 2022-01-01\n    post_level: street\n    threshold: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(BoardPolicyError, match="versions"):
        board_policy(path=bad)


def test_the_policy_is_dated():
    old = board_policy(dt.date(2000, 1, 1))  # before any version: the earliest one
    assert old.issuer == "佳木斯市总工会"
    assert old.threshold >= 1 and old.promise_days > 0


# --- claim, federation, close -----------------------------------------------------------------------


@pytest.fixture
def posted(board):
    """An open task for 郊区 × 快递员 posted by the city federation (THRESHOLD holes in 长发镇)."""
    board.people = add_people(board.w.suburb_town, board.courier, THRESHOLD)
    board_after_run(run=new_run())
    board.task = BoardTask.objects.get()
    return board


def in_days(n):
    return timezone.localdate() + dt.timedelta(days=n)


def test_the_district_claims_its_cell_once(posted):
    w, task = posted.w, posted.task
    assert list(claimer_orgs(viewer=w.district_user, task=task)) == [w.suburb_fed]

    task_claim(viewer=w.district_user, task=task, org=w.suburb_fed, promised_on=in_days(30))

    task.refresh_from_db()
    assert (task.status, task.claimed_by_org, task.claimed_by) == (
        TaskStatus.CLAIMED,
        w.suburb_fed,
        w.district_user,
    )
    assert AuditEvent.objects.filter(action="weave.board_claim", target_id=str(task.pk)).count() == 1
    with pytest.raises(BoardError):
        task_claim(
            viewer=w.city_user, task=BoardTask.objects.get(), org=w.suburb_fed, promised_on=in_days(30)
        )


def test_a_stale_claim_loses_to_the_first(posted):
    """Two people read the task open; the second claim finds it taken (the conditional UPDATE)."""
    w = posted.w
    first, second = BoardTask.objects.get(), BoardTask.objects.get()
    task_claim(viewer=w.district_user, task=first, org=w.suburb_fed, promised_on=in_days(30))
    with pytest.raises(BoardError, match="已被"):
        task_claim(viewer=w.city_user, task=second, org=w.suburb_fed, promised_on=in_days(60))
    assert BoardTask.objects.get().promised_on == in_days(30)


def test_who_may_not_claim(posted):
    w, task = posted.w, posted.task
    # The sibling district is not in the task's region; the poster does not claim its own task;
    # a township union sits below the task's region (a county cell is a county's to claim).
    assert not claimer_orgs(viewer=w.sibling_user, task=task).exists()
    assert w.city_fed not in claimer_orgs(viewer=w.city_user, task=task)
    assert w.suburb_town_union not in claimer_orgs(viewer=w.city_user, task=task)
    for viewer, org in [
        (w.sibling_user, w.qianjin_fed),
        (w.sibling_user, w.suburb_fed),
        (w.city_user, w.city_fed),
    ]:
        with pytest.raises(BoardError):
            task_claim(viewer=viewer, task=task, org=org, promised_on=in_days(30))
    with pytest.raises(BoardError, match="承诺完成日期"):
        task_claim(viewer=w.district_user, task=task, org=w.suburb_fed, promised_on=timezone.localdate())
    assert BoardTask.objects.get().status == TaskStatus.OPEN


def test_the_created_federation_closes_the_task_at_the_next_run(posted):
    w, task = posted.w, posted.task
    task = task_claim(viewer=w.district_user, task=task, org=w.suburb_fed, promised_on=in_days(30))

    fed = task_create_federation(
        viewer=w.district_user, task=task, code="I230811-KD", name="郊区快递行业工会联合会"
    )

    assert (fed.kind, fed.parent, fed.region) == ("industry", w.suburb_fed, w.suburb)
    assert list(fed.covers_groups.all()) == [posted.courier] and list(fed.covers_regions.all()) == [w.suburb]
    task.refresh_from_db()
    assert task.created_org == fed and task.status == TaskStatus.CLAIMED
    # The run that still finds holes does not close it; the run that covers the cell does.
    board_after_run(run=new_run())
    assert BoardTask.objects.get().status == TaskStatus.CLAIMED
    Coverage.objects.filter(person__in=posted.people).update(primary_org=fed)
    closing = new_run()
    board_after_run(run=closing)
    task.refresh_from_db()
    assert (task.status, task.done_by_run, task.uncovered_now) == (TaskStatus.DONE, closing, 0)
    assert task.done_at is not None
    # A cell that fills up again later is posted anew (the done task no longer blocks it).
    add_people(w.suburb_town, posted.courier, THRESHOLD)
    board_after_run(run=new_run())
    assert BoardTask.objects.filter(status=TaskStatus.OPEN, region=w.suburb).count() == 1


def test_only_the_claimer_creates_the_federation(posted):
    w, task = posted.w, posted.task
    with pytest.raises(BoardError):  # not claimed yet
        task_create_federation(viewer=w.district_user, task=task, code="X1", name="某联合会")
    task = task_claim(viewer=w.district_user, task=task, org=w.suburb_fed, promised_on=in_days(30))
    with pytest.raises(BoardError):
        task_create_federation(viewer=w.sibling_user, task=task, code="X1", name="某联合会")
    with pytest.raises(BoardError, match="code"):
        task_create_federation(viewer=w.district_user, task=task, code="C230804", name="重名代码")
    assert not Org.objects.filter(code="X1").exists()
    task_create_federation(viewer=w.district_user, task=task, code="X1", name="某联合会")
    with pytest.raises(BoardError):  # one federation per task
        task_create_federation(viewer=w.district_user, task=BoardTask.objects.get(), code="X2", name="第二个")


def test_the_poster_withdraws_with_a_reason(posted):
    w, task = posted.w, posted.task
    with pytest.raises(BoardError):
        task_withdraw(viewer=w.district_user, task=task, reason="不需要")
    with pytest.raises(BoardError, match="原因"):
        task_withdraw(viewer=w.city_user, task=task, reason=" ")
    task_withdraw(viewer=w.city_user, task=task, reason="该行业已由市级联合会覆盖")
    assert BoardTask.objects.get().status == TaskStatus.WITHDRAWN
    with pytest.raises(BoardError):
        task_claim(
            viewer=w.district_user, task=BoardTask.objects.get(), org=w.suburb_fed, promised_on=in_days(9)
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_claims_have_one_winner(world):
    courier, _ = OccupationGroup.objects.get_or_create(code="courier", defaults={"name": "快递员"})
    add_people(world.suburb_town, courier, THRESHOLD)
    board_after_run(run=new_run())
    task_id = BoardTask.objects.get().pk
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(viewer, days):
        try:
            task = BoardTask.objects.select_related("region", "group", "posted_by_org").get(pk=task_id)
            barrier.wait()
            for _attempt in range(200):
                try:
                    task_claim(viewer=viewer, task=task, org=world.suburb_fed, promised_on=in_days(days))
                    outcomes.append("won")
                    return
                except BoardError:
                    outcomes.append("lost")
                    return
                except OperationalError as exc:  # SQLite in tests answers "locked" instead of waiting
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.01)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=claim, args=(world.district_user, 30)),
        threading.Thread(target=claim, args=(world.city_user, 60)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "won"]
    assert BoardTask.objects.get().status == TaskStatus.CLAIMED
    assert AuditEvent.objects.filter(action="weave.board_claim").count() == 1


# --- pages -----------------------------------------------------------------------------------------


def login(client, user):
    client.force_login(user)
    return client


def test_the_board_page_shows_tabs_counts_and_overdue(posted, client, django_assert_max_num_queries):
    w = posted.w
    other = add_people(w.qianjin_street, posted.rider, THRESHOLD)  # 前进区 × 外卖送餐员
    assert other
    board_after_run(run=new_run())
    task_claim(viewer=w.district_user, task=posted.task, org=w.suburb_fed, promised_on=in_days(5))
    BoardTask.objects.filter(pk=posted.task.pk).update(promised_on=in_days(-3))  # promised date passed

    login(client, w.city_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("weave_board") + "?tab=overdue")
    text = response.content.decode()
    assert response.status_code == 200
    assert "郊区" in text and 'class="overdue"' in text and "郊区总工会" in text
    assert response.context["counts"] == {"open": 1, "claimed": 1, "overdue": 1, "done": 0}
    response = client.get(reverse("weave_board") + "?tab=open")
    assert [t.region for t in response.context["page"]] == [w.qianjin]

    # The district sees its own cell only; the sibling sees neither the task nor its counts.
    login(client, w.district_user)
    assert client.get(reverse("weave_board")).context["counts"]["open"] == 0
    login(client, w.sibling_user)
    response = client.get(reverse("weave_board") + "?tab=claimed")
    assert response.context["counts"] == {"open": 1, "claimed": 0, "overdue": 0, "done": 0}
    assert "郊区" not in response.content.decode()


def test_the_query_count_does_not_grow_with_tasks(board, client, django_assert_max_num_queries):
    w = board.w
    for town in [w.suburb_town, w.qianjin_street]:
        for group in [board.courier, board.rider]:
            add_people(town, group, THRESHOLD)
    board_after_run(run=new_run())
    assert BoardTask.objects.count() == 4
    login(client, w.city_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("weave_board"))
    assert len(response.context["page"]) == 4


def test_the_sibling_is_refused_the_task_and_its_actions(posted, client):
    w, task = posted.w, posted.task
    login(client, w.sibling_user)
    for name in ["weave_board_task"]:
        assert client.get(reverse(name, args=[task.pk])).status_code == 404
    for name, data in [
        ("weave_board_claim", {"org": w.qianjin_fed.pk, "promised_on": in_days(30).isoformat()}),
        ("weave_board_federation", {"code": "Z9", "name": "不该建"}),
        ("weave_board_withdraw", {"reason": "x"}),
    ]:
        assert client.post(reverse(name, args=[task.pk]), data).status_code == 404
    assert BoardTask.objects.get().status == TaskStatus.OPEN
    assert not Org.objects.filter(code="Z9").exists()


def test_claim_and_create_through_the_pages(posted, client):
    w, task = posted.w, posted.task
    login(client, w.district_user)
    page = client.get(reverse("weave_board_task", args=[task.pk]))
    assert page.status_code == 200 and page.context["can_claim"] and not page.context["can_withdraw"]
    # The date field proposes the policy's promise period, in the form a date input reads.
    proposed = in_days(board_policy().promise_days).isoformat()
    assert f'type="date" name="promised_on" value="{proposed}"' in page.content.decode()
    # A union the viewer may not claim for is not a choice of the form.
    refused = client.post(
        reverse("weave_board_claim", args=[task.pk]),
        {"org": w.suburb_town_union.pk, "promised_on": in_days(30).isoformat()},
    )
    assert refused.status_code == 400
    response = client.post(
        reverse("weave_board_claim", args=[task.pk]),
        {"org": w.suburb_fed.pk, "promised_on": in_days(30).isoformat()},
    )
    assert response.status_code == 302
    page = client.get(reverse("weave_board_task", args=[task.pk]))
    assert page.context["can_create"] and not page.context["can_claim"]
    response = client.post(
        reverse("weave_board_federation", args=[task.pk]),
        {"code": "I230811-KD", "name": "郊区快递行业工会联合会"},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.created_org.name == "郊区快递行业工会联合会"
    text = client.get(reverse("weave_board_task", args=[task.pk])).content.decode()
    assert "郊区快递行业工会联合会" in text


# --- through the weave engine ------------------------------------------------------------------------


def test_end_to_end_a_run_posts_the_claimed_federation_closes_it(board, django_capture_on_commit_callbacks):
    """The engine's run posts the cell; the federation created from the board queues a run that closes it."""
    from gonghui.weave.services import weave_run

    w = board.w
    # 前进区 has no township or village union: its couriers are holes.
    Person.objects.bulk_create(
        [
            Person(name=f"快递员{i}", work_region=w.qianjin_street, group=board.courier)
            for i in range(THRESHOLD)
        ]
    )
    first = weave_run()
    task = BoardTask.objects.get()
    assert (task.region, task.group, task.uncovered_now) == (w.qianjin, board.courier, THRESHOLD)

    task = task_claim(viewer=w.sibling_user, task=task, org=w.qianjin_fed, promised_on=in_days(60))
    with django_capture_on_commit_callbacks() as launches:
        task_create_federation(
            viewer=w.sibling_user, task=task, code="I230804-KD", name="前进区快递行业工会联合会"
        )
    # One queued run (the org's coverage change and the board share it), launched once committed;
    # here it is run by hand.
    queued = WeaveRun.objects.get(status=RunStatus.QUEUED)
    assert launches

    closing = weave_run()

    task.refresh_from_db()
    assert closing == queued and closing != first
    assert (task.status, task.done_by_run, task.uncovered_now) == (TaskStatus.DONE, closing, 0)
    assert set(Coverage.objects.values_list("primary_org__code", flat=True)) == {"I230804-KD"}
