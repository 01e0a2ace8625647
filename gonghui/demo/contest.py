"""The demo city's skills contests: one finished end to end, one open for anyone to try.

`gonghui demo contests` (after `demo seed` and `demo drive`) sets up two contests from their demo
policies (`policies/contest_demo_jiamusi_*.yaml`) and plays the finished one through the same
services staff and workers use: banks imported from the demo's question files
(`demo/data/contest/*.csv`), blueprints derived from them, demo workers registered (members and
non-members, each with the work area the registration page asks for, so the statistics count them
by district), practice sessions, the online preliminary taken with autosave and submitted on the
days of its window, finalists scored by five judges on the trade's sheet, and the policy's awards
granted into the honours register. The open contest (windows to the end of 2027) gets its banks,
blueprints and a few registrations; `demo logins` prints one candidate's ticket so a visitor can sit
its preliminary on a phone.

Who enters, their skill and the judges' marks follow the seed; papers and admission tickets are
drawn as in production. It runs a few hundred service calls, not a bulk load: the point is that
the demo's contest data went through every guarantee a real one does.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from gonghui.competitions.awards import contest_grant_honours
from gonghui.competitions.bank import bank_import
from gonghui.competitions.exam import attempt_save, attempt_start, attempt_submit
from gonghui.competitions.models import OPTION_LETTERS, Contest, Question, QuestionType, Registration, Trade
from gonghui.competitions.papers import papers_generate
from gonghui.competitions.practice import practice_start
from gonghui.competitions.ranking import preliminary_results
from gonghui.competitions.services import (
    RowSpec,
    blueprint_set,
    contest_setup_from_policy,
    policy_of,
    work_area_regions,
)
from gonghui.competitions.sheets import sheet_record, trade_criteria
from gonghui.competitions.stats import region_level
from gonghui.lib.crypto import decrypt
from gonghui.orgs.models import Org
from gonghui.people.models import Person
from gonghui.regions.models import PREFIX_LENGTH, Region

from .drive import CITY_UNION
from .services import DemoError

DATA = Path(__file__).resolve().parent / "data" / "contest"
FINISHED_POLICY = "contest_demo_jiamusi_2026.yaml"
OPEN_POLICY = "contest_demo_jiamusi_safety.yaml"
# Which demo workers enter which trade: by their occupation group (None: anyone).
TRADE_GROUP = {"courier": "courier", "rider": "rider", "electrician": None}
JUDGES = ("王建国", "李秀梅", "张立新", "赵志刚", "刘海燕")
DEFAULT_PER_TRADE = 40
OPEN_PER_TRADE = 8


class DemoContestsExist(DemoError):
    """The demo contests are already there; nothing was written."""


@dataclass
class ContestReport:
    seconds: float
    finished: str
    open: str
    registrations: int
    submitted: int
    finalists: int
    honours: int
    practice_sessions: int
    try_ticket: str
    try_id_number: str


def demo_contests_exist() -> bool:
    return Contest.objects.filter(policy_file__in=[FINISHED_POLICY, OPEN_POLICY]).exists()


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _blueprint_rows(trade: Trade) -> list[RowSpec]:
    """One row per (type, knowledge area, difficulty) cell of the bank: most of a cell's questions,
    so that papers differ between candidates; choice questions weigh more than true/false."""
    points = {
        QuestionType.SINGLE: Decimal(5),
        QuestionType.MULTIPLE: Decimal(8),
        QuestionType.TRUE_FALSE: Decimal(4),
        QuestionType.FILL_BLANK: Decimal(6),
    }
    cells: dict[tuple[str, str, int], int] = {}
    for qtype, area, difficulty in Question.objects.filter(trade=trade).values_list(
        "qtype", "knowledge_area", "difficulty"
    ):
        cells[(qtype, area, difficulty)] = cells.get((qtype, area, difficulty), 0) + 1
    return [
        RowSpec(qtype=q, knowledge_area=a, difficulty=d, count=n if n < 3 else n - 1, points=points[q])
        for (q, a, d), n in sorted(cells.items())
    ]


def _set_up(policy_file: str, organiser: Org) -> Contest:
    contest = contest_setup_from_policy(policy_file=policy_file, organiser=organiser)
    for trade in contest.trades.all():
        report = bank_import(
            trade=trade, source=(DATA / f"{trade.code}.csv").read_bytes(), file_name=f"{trade.code}.csv"
        )
        if report.errors:  # the demo's own files: a refusal is a bug in them
            raise DemoError(f"演示题库 {trade.code}.csv 有错误：{report.errors[0]}")
        blueprint_set(trade=trade, rows=_blueprint_rows(trade))
    return contest


def _entrants(rng: random.Random, trade: Trade, count: int, taken: set[int]) -> list[Person]:
    group = TRADE_GROUP.get(trade.code)
    people = Person.objects.exclude(id_number_cipher="").exclude(pk__in=taken).select_related("employer")
    if group:
        people = people.filter(group__code=group)
    ids = list(people.order_by("pk").values_list("pk", flat=True)[:5000])
    chosen = rng.sample(ids, min(count, len(ids)))
    taken.update(chosen)
    return list(Person.objects.filter(pk__in=chosen).select_related("employer", "work_region").order_by("pk"))


def _work_areas(contest: Contest) -> dict[str, Region]:
    """The work areas the registration page offers at the level the statistics count, by code prefix."""
    level = region_level(contest)
    width = PREFIX_LENGTH[level]
    return {r.code[:width]: r for r in work_area_regions(contest) if r.level == level}


def _register(trade: Trade, people: list[Person]) -> list[Registration]:
    """Each worker entered with the work area they would pick on the registration page: the one their
    work region lies in (a platform is registered at the city, so its riders are placed by this)."""
    from gonghui.competitions.services import registration_create

    areas = _work_areas(trade.contest)
    width = len(next(iter(areas), ""))
    registrations = []
    for person in people:
        enterprise = person.employer.name if person.employer else "个体（平台接单）"
        registrations.append(
            registration_create(
                trade=trade,
                name=person.name,
                id_number=decrypt(person.id_number_cipher),
                enterprise_name=enterprise,
                employer=person.employer,
                region=areas.get(person.work_region.code[:width]) if person.work_region and width else None,
            )
        )
    return registrations


def _answer(rng: random.Random, question: Question, order: str, skill: float) -> list[str]:
    """What a candidate of this skill (chance of knowing a question) puts at one position."""
    knows = rng.random() < skill
    if question.qtype == QuestionType.TRUE_FALSE:
        right = question.answer
        return [right if knows else ("F" if right == "T" else "T")]
    if question.qtype == QuestionType.FILL_BLANK:
        return [accepted[0] if knows else "不清楚" for accepted in question.accepted]
    shown = OPTION_LETTERS[: len(order)]
    right = [shown[i] for i, original in enumerate(order) if original in question.answer]
    if knows:
        return right
    wrong = [letter for letter in shown if letter not in right]
    return [rng.choice(wrong or right)]


def _sit_preliminary(rng: random.Random, contest: Contest, registrations: list[Registration]) -> int:
    """Most candidates start on one of the window's days, autosave twice and hand in; a few never come."""
    opens = timezone.localtime(contest.preliminary_opens).date()
    days = max((timezone.localtime(contest.preliminary_closes).date() - opens).days, 1)
    submitted = 0
    for registration in registrations:
        if rng.random() < 0.08:
            continue  # registered, never sat the preliminary
        start = _at(opens + dt.timedelta(days=rng.randrange(days)), rng.randrange(9, 19), rng.randrange(60))
        attempt = attempt_start(registration=registration, now=start)
        paper = attempt.paper
        questions = Question.objects.in_bulk(paper.questions)
        skill = min(max(rng.gauss(0.72, 0.15), 0.2), 0.99)
        answers = {
            position: _answer(rng, questions[qid], paper.orders[position], skill)
            for position, qid in enumerate(paper.questions)
        }
        half = len(answers) // 2
        first = dict(list(answers.items())[:half])
        attempt_save(attempt=attempt, answers=first, now=start + dt.timedelta(minutes=4))
        attempt_save(
            attempt=attempt, answers=dict(list(answers.items())[half:]), now=start + dt.timedelta(minutes=9)
        )
        attempt_submit(attempt=attempt, now=start + dt.timedelta(minutes=rng.randrange(11, 19)))
        submitted += 1
    return submitted


def _judge_finals(rng: random.Random, trade: Trade) -> int:
    policy = policy_of(trade.contest)
    tie_rule = policy.tie_rule if policy else ("total_desc",)
    finalists = [r for r in preliminary_results(trade, tie_rule) if r.advances]
    criteria = trade_criteria(trade)
    registrations = Registration.objects.in_bulk([f.registration_id for f in finalists])
    for finalist in finalists:
        ability = min(max(rng.gauss(0.78, 0.1), 0.4), 0.99)
        for judge in JUDGES:
            points = {
                c.code: (c.max_points * Decimal(str(min(max(rng.gauss(ability, 0.06), 0.3), 1.0)))).quantize(
                    Decimal("0.5")
                )
                for c in criteria
            }
            sheet_record(registration=registrations[finalist.registration_id], judge=judge, criteria=points)
    return len(finalists)


def _practise(rng: random.Random, registrations: list[Registration], when: dt.datetime) -> int:
    sessions = 0
    for registration in registrations:
        for _ in range(rng.randrange(0, 5)):
            practice_start(registration=registration, size=5, now=when)
            sessions += 1
    return sessions


@transaction.atomic
def demo_contests(*, random_seed: int = 2026, per_trade: int = DEFAULT_PER_TRADE) -> ContestReport:
    """Set up and play the demo contests; refuses (DemoContestsExist, nothing written) when they exist."""
    started = time.perf_counter()
    if demo_contests_exist():
        raise DemoContestsExist(
            "演示竞赛已经存在，拒绝重复生成 / the demo contests already exist (use --if-empty)"
        )
    city = Org.objects.filter(code=CITY_UNION).first()
    if city is None or not Person.objects.exists():
        raise DemoError("演示城市尚未生成，请先运行 gonghui demo seed / the demo city is not seeded yet")
    rng = random.Random(random_seed)
    taken: set[int] = set()

    finished = _set_up(FINISHED_POLICY, city)
    registrations = submitted = finalists = sessions = 0
    for trade in finished.trades.order_by("sort"):
        entered = _register(trade, _entrants(rng, trade, per_trade, taken))
        registrations += len(entered)
        sessions += _practise(rng, entered, finished.training_opens + dt.timedelta(days=20))
        papers_generate(trade=trade)
        submitted += _sit_preliminary(rng, finished, entered)
        finalists += _judge_finals(rng, trade)
    honours = contest_grant_honours(
        contest=finished, conferred_on=finished.finals_end + dt.timedelta(days=10)
    )

    open_contest = _set_up(OPEN_POLICY, city)
    try_registration = None
    for trade in open_contest.trades.order_by("sort"):
        entered = _register(trade, _entrants(rng, trade, OPEN_PER_TRADE, taken))
        registrations += len(entered)
        sessions += _practise(rng, entered, max(open_contest.training_opens, timezone.now()))
        try_registration = try_registration or entered[0]
    return ContestReport(
        seconds=time.perf_counter() - started,
        finished=finished.name,
        open=open_contest.name,
        registrations=registrations,
        submitted=submitted,
        finalists=finalists,
        honours=len(honours.created),
        practice_sessions=sessions,
        try_ticket=try_registration.ticket if try_registration else "",
        try_id_number=decrypt(try_registration.person.id_number_cipher) if try_registration else "",
    )


def demo_try_candidate() -> tuple[Any, str] | None:
    """The open demo contest's first candidate without an attempt: (registration, ID number), for `demo logins`."""
    registration = (
        Registration.objects.filter(trade__contest__policy_file=OPEN_POLICY, attempt__isnull=True)
        .select_related("person", "trade")
        .order_by("pk")
        .first()
    )
    if registration is None:
        return None
    return registration, decrypt(registration.person.id_number_cipher)
