"""Preliminary papers: one per candidate, drawn at random to the trade's blueprint, reproducible from a seed.

The draw is counter-based: every random number a paper uses is `mix(seed, stream, counter)` (the
SplitMix64 finaliser), so one paper or a hundred thousand are drawn by the same arithmetic, the bulk
run vectorised with numpy, and a paper follows from its seed alone. Per blueprint row (in order), the
row's pool is the bank's questions of that type, knowledge area and difficulty with ids up to the
paper's `bank_through`, ascending; each question gets a random key and the `count` smallest keys are
drawn, in key order (questions the candidate saw in practice get keys above all others when the
blueprint avoids them). Each choice question's option order is one of all orders of its options,
picked by another key. `paper_regenerate` draws a stored paper again and gives the identical paper;
a blueprint that papers were drawn to cannot change (`services.blueprint_set`).
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Max

from gonghui.audit.services import audit_record
from gonghui.lib.bulk import RowWriter

from .models import (
    DIFFICULTY_ZH,
    OPTION_LETTERS,
    QTYPE_ZH,
    Blueprint,
    Paper,
    PracticeSession,
    Question,
    QuestionType,
    Registration,
    Trade,
)
from .services import ContestError

_CHOICE = (QuestionType.SINGLE, QuestionType.MULTIPLE)
CHUNK = 5000  # papers drawn and written per round in the bulk generation

# Every order of n options (n = 0..6), as the original letters in the order shown ("CADB"); one flat table.
_ORDERS_BY_N = {n: ["".join(p) for p in itertools.permutations(OPTION_LETTERS[:n])] if n >= 2 else [""]
                for n in range(len(OPTION_LETTERS) + 1)}  # fmt: skip
_ORDER_COUNT = np.array([len(_ORDERS_BY_N[n]) for n in range(len(OPTION_LETTERS) + 1)], dtype=np.uint64)
_ORDER_OFFSET = np.concatenate([[0], np.cumsum(_ORDER_COUNT)[:-1]]).astype(np.int64)
_ORDER_TABLE = np.array([o for n in range(len(OPTION_LETTERS) + 1) for o in _ORDERS_BY_N[n]], dtype=object)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_OPTIONS_STREAM = 1 << 20  # streams 0.. are blueprint rows; this one picks option orders


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _keys(seeds: np.ndarray, stream: int, width: int) -> np.ndarray:
    """A (papers x width) matrix of random uint64 keys for one stream of each paper's seed."""
    base = _mix(seeds ^ np.uint64(((stream + 1) * int(_GOLDEN)) & 0xFFFFFFFFFFFFFFFF))
    counters = (np.arange(1, width + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    return _mix(base[:, None] + counters)


@dataclass(frozen=True)
class PlanRow:
    pool: np.ndarray  # question ids, ascending (int64)
    count: int
    points: Decimal


@dataclass(frozen=True)
class Plan:
    rows: tuple[PlanRow, ...]
    option_counts: dict[int, int]  # question id -> number of options (choice questions only)
    bank_through: int

    @property
    def total_points(self) -> Decimal:
        return sum((r.points * r.count for r in self.rows), Decimal(0))

    @property
    def points(self) -> list[Decimal]:
        """The points of each position on a paper."""
        return [r.points for r in self.rows for _ in range(r.count)]


def load_plan(trade: Trade, *, through: int | None = None) -> Plan:
    """The blueprint of `trade` with each row's pool; refuses (naming the row) a blueprint the bank can't fill."""
    blueprint = Blueprint.objects.filter(trade=trade).first()
    rows = list(blueprint.rows.all()) if blueprint else []
    if not rows:
        raise ContestError(f"{trade.name}还没有组卷方案")
    questions = Question.objects.filter(trade=trade)
    if through is None:
        through = questions.aggregate(m=Max("id"))["m"] or 0
    pools: dict[tuple[str, str, int], list[int]] = {}
    option_counts: dict[int, int] = {}
    for qid, qtype, area, difficulty, options in (
        questions.filter(id__lte=through)
        .order_by("id")
        .values_list("id", "qtype", "knowledge_area", "difficulty", "options")
        .iterator(chunk_size=10000)
    ):
        pools.setdefault((qtype, area, difficulty), []).append(qid)
        if qtype in _CHOICE:
            option_counts[qid] = len(options)
    plan_rows = []
    for number, row in enumerate(rows, start=1):
        pool = pools.get((row.qtype, row.knowledge_area, row.difficulty), [])
        if len(pool) < row.count:
            raise ContestError(
                f"组卷方案第 {number} 行（{QTYPE_ZH[row.qtype]}/{row.knowledge_area}/"
                f"{DIFFICULTY_ZH[row.difficulty]}）：需要 {row.count} 题，题库只有 {len(pool)} 题"
            )
        plan_rows.append(PlanRow(pool=np.array(pool, dtype=np.int64), count=row.count, points=row.points))
    return Plan(rows=tuple(plan_rows), option_counts=option_counts, bank_through=through)


def draw_many(
    plan: Plan, seeds: list[int], avoided: list[frozenset[int]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Papers for many seeds at once: (question ids, option orders), each a (papers x positions) array."""
    seed_array = np.array(seeds, dtype=np.uint64)
    columns = []
    for stream, row in enumerate(plan.rows):
        keys = _keys(seed_array, stream, len(row.pool)) >> np.uint64(1)
        if avoided:
            pool_index = {int(q): i for i, q in enumerate(row.pool)}
            for paper, seen in enumerate(avoided):
                hits = [pool_index[q] for q in seen if q in pool_index]
                if hits:
                    keys[paper, hits] |= np.uint64(1 << 63)
        chosen = np.argsort(keys, axis=1, kind="stable")[:, : row.count]
        columns.append(row.pool[chosen])
    ids = np.concatenate(columns, axis=1) if columns else np.zeros((len(seeds), 0), dtype=np.int64)
    # n[paper, position]: the number of options of the question there (0 for true/false and blanks)
    options_of = np.zeros(plan.bank_through + 1, dtype=np.int64)
    if plan.option_counts:
        options_of[np.fromiter(plan.option_counts.keys(), dtype=np.int64)] = np.fromiter(
            plan.option_counts.values(), dtype=np.int64
        )
    n = options_of[ids]
    order_keys = _keys(seed_array, _OPTIONS_STREAM, ids.shape[1])
    picked = (order_keys % _ORDER_COUNT[n]).astype(np.int64)
    orders = _ORDER_TABLE[_ORDER_OFFSET[n] + picked]
    return ids, orders


def paper_draw(plan: Plan, seed: int, avoided: frozenset[int] = frozenset()) -> tuple[list[int], list[str]]:
    """The paper for `seed`: question ids and option orders by position. Pure: same input, same paper."""
    ids, orders = draw_many(plan, [seed], [avoided] if avoided else None)
    return ids[0].tolist(), orders[0].tolist()


def _practised(trade: Trade, registration_ids: list[int] | None = None) -> dict[int, set[int]]:
    sessions = PracticeSession.objects.filter(trade=trade, registration__isnull=False)
    if registration_ids is not None:
        sessions = sessions.filter(registration_id__in=registration_ids)
    seen: dict[int, set[int]] = {}
    for registration_id, shown in sessions.values_list("registration_id", "shown").iterator(chunk_size=5000):
        seen.setdefault(registration_id, set()).update(shown)
    return seen


def _new_seed() -> int:
    return secrets.randbits(62)


def paper_generate(*, registration: Registration, seed: int | None = None, actor: Any | None = None) -> Paper:
    """The registration's paper, drawn now if it has none (an existing paper is returned unchanged, also in a race)."""
    existing = Paper.objects.filter(registration=registration).first()
    if existing is not None:  # the usual case when a candidate starts: papers are drawn beforehand
        return existing
    return _paper_draw(registration=registration, seed=seed, actor=actor)


@transaction.atomic
def _paper_draw(*, registration: Registration, seed: int | None, actor: Any | None) -> Paper:
    trade = registration.trade
    plan = load_plan(trade)
    avoided: set[int] = set()
    if trade.blueprint.avoid_practised:
        avoided = _practised(trade, [registration.pk]).get(registration.pk, set())
    seed = _new_seed() if seed is None else seed
    questions, orders = paper_draw(plan, seed, frozenset(avoided))
    try:
        with transaction.atomic():
            paper = Paper.objects.create(
                registration=registration,
                trade=trade,
                seed=seed,
                bank_through=plan.bank_through,
                avoided=sorted(avoided),
                questions=questions,
                orders=orders,
                total_points=plan.total_points,
            )
    except IntegrityError:  # a concurrent request drew this registration's paper first: that one stands
        return Paper.objects.get(registration=registration)
    audit_record(actor=actor, action="contest.paper_generate", target=paper, detail={"seed": seed})
    return paper


@transaction.atomic
def papers_generate(*, trade: Trade, actor: Any | None = None) -> int:
    """Draw a paper for every registration of `trade` that has none; returns how many. Set-based, all or nothing.

    Rows are written in chunks with `lib.bulk.RowWriter` (COPY on PostgreSQL); a concurrent run that
    drew the same registration first makes this one fail on the unique registration and write nothing.
    """
    plan = load_plan(trade)
    registration_ids = list(
        Registration.objects.filter(trade=trade, paper__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    avoid = trade.blueprint.avoid_practised
    practised = _practised(trade) if avoid else {}
    writer = RowWriter(Paper)
    total_points = str(plan.total_points)
    for start in range(0, len(registration_ids), CHUNK):
        chunk = registration_ids[start : start + CHUNK]
        seeds = [_new_seed() for _ in chunk]
        avoided = [frozenset(practised.get(r, ())) for r in chunk] if avoid else None
        ids, orders = draw_many(plan, seeds, avoided)
        rows = []
        for i, registration_id in enumerate(chunk):
            rows.append(
                writer.row(
                    registration_id=registration_id,
                    trade_id=trade.pk,
                    seed=seeds[i],
                    bank_through=plan.bank_through,
                    avoided=json.dumps(sorted(avoided[i])) if avoided else "[]",
                    questions="[" + ",".join(map(str, ids[i].tolist())) + "]",
                    # option orders are letters A-F only: no JSON escaping needed
                    orders='["' + '","'.join(orders[i].tolist()) + '"]',
                    total_points=total_points,
                )
            )
        writer.insert(rows)
    audit_record(
        actor=actor,
        action="contest.papers_generate",
        target=trade,
        detail={"papers": len(registration_ids), "bank_through": plan.bank_through},
    )
    return len(registration_ids)


def paper_regenerate(paper: Paper) -> tuple[list[int], list[str]]:
    """The paper drawn again from its stored seed, bank cut-off and practised questions (for an audit)."""
    plan = load_plan(paper.trade, through=paper.bank_through)
    return paper_draw(plan, paper.seed, frozenset(paper.avoided))
