import io
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command

from gonghui.competitions.models import Paper, PracticeSession, Question
from gonghui.competitions.papers import (
    draw_many,
    load_plan,
    paper_generate,
    paper_regenerate,
    papers_generate,
)
from gonghui.competitions.services import ContestError, RowSpec, blueprint_set

from .conftest import add_questions, register

ROWS = [
    RowSpec("single", "安全", 1, 4, Decimal(1)),
    RowSpec("single", "识图", 2, 3, Decimal("1.5")),
    RowSpec("multiple", "识图", 3, 2, Decimal(2)),
    RowSpec("true_false", "安全", 1, 3, Decimal("0.5")),
    RowSpec("fill_blank", "装配", 2, 1, Decimal(3)),
]


@pytest.fixture
def bank(fitter):
    add_questions(fitter, "single", "安全", 1, 12)
    add_questions(fitter, "single", "识图", 2, 8, options=5)
    add_questions(fitter, "multiple", "识图", 3, 6, options=6)
    add_questions(fitter, "true_false", "安全", 1, 9)
    add_questions(fitter, "fill_blank", "装配", 2, 3)
    add_questions(fitter, "single", "安全", 2, 5)  # a cell no row asks for
    blueprint_set(trade=fitter, rows=ROWS, time_limit_minutes=60)
    return fitter


def _cells(paper):
    questions = {q.pk: q for q in Question.objects.filter(pk__in=paper.questions)}
    points = load_plan(paper.trade).points
    cells = Counter(
        (questions[qid].qtype, questions[qid].knowledge_area, questions[qid].difficulty, points[i])
        for i, qid in enumerate(paper.questions)
    )
    return cells, questions


def test_every_paper_meets_the_blueprint_exactly_and_papers_differ(bank):
    register(bank, 12)
    assert papers_generate(trade=bank) == 12
    expected = Counter({(r.qtype, r.knowledge_area, r.difficulty, r.points): r.count for r in ROWS})
    papers = list(Paper.objects.filter(trade=bank))
    assert len(papers) == 12
    for paper in papers:
        cells, questions = _cells(paper)
        assert cells == expected
        assert len(set(paper.questions)) == len(paper.orders) == 13  # no question twice
        assert paper.total_points == Decimal("4") + Decimal("4.5") + Decimal("4") + Decimal("1.5") + Decimal(
            "3"
        )
        for qid, order in zip(paper.questions, paper.orders, strict=True):
            q = questions[qid]
            if q.qtype in ("single", "multiple"):
                assert sorted(order) == list("ABCDEF"[: len(q.options)])
            else:
                assert order == ""
    assert len({tuple(p.questions) for p in papers}) == 12
    assert len({p.seed for p in papers}) == 12
    orders = {o for p in papers for o in p.orders if len(o) == 4}
    assert len(orders) > 5  # options are shuffled


def test_a_paper_regenerated_from_its_seed_is_identical_even_after_the_bank_grows(bank):
    register(bank, 3)
    papers_generate(trade=bank)
    add_questions(bank, "single", "安全", 1, 20)  # a later import must not change an audit
    for paper in Paper.objects.filter(trade=bank):
        assert paper_regenerate(paper) == (paper.questions, paper.orders)
    one = register(bank, 1, start=50)[0]
    fixed = paper_generate(registration=one, seed=12345)
    again = Paper(trade=bank, seed=12345, bank_through=fixed.bank_through, avoided=[])
    assert paper_regenerate(again) == (fixed.questions, fixed.orders)
    # the one-paper draw and the bulk draw are the same arithmetic
    plan = load_plan(bank, through=fixed.bank_through)
    ids, orders = draw_many(plan, [1, 12345, 99])
    assert (ids[1].tolist(), orders[1].tolist()) == (fixed.questions, fixed.orders)


def test_generation_refuses_a_blueprint_the_bank_no_longer_fills_naming_the_row(fitter):
    add_questions(fitter, "single", "安全", 1, 2)
    add_questions(fitter, "true_false", "安全", 1, 2)
    blueprint_set(
        trade=fitter,
        rows=[RowSpec("single", "安全", 1, 2, Decimal(1)), RowSpec("true_false", "安全", 1, 2, Decimal(1))],
    )
    Question.objects.filter(trade=fitter, qtype="true_false").first().delete()
    register(fitter, 2)
    with pytest.raises(ContestError, match="组卷方案第 2 行（判断题/安全/易）：需要 2 题，题库只有 1 题"):
        papers_generate(trade=fitter)
    assert not Paper.objects.exists()


def test_the_blueprint_cannot_change_once_papers_are_drawn(bank):
    register(bank, 1)
    papers_generate(trade=bank)
    with pytest.raises(ContestError, match="已按组卷方案生成 1 份试卷"):
        blueprint_set(trade=bank, rows=ROWS[:1])


@pytest.mark.parametrize("avoid", [True, False])
def test_practised_questions_are_preferred_out_only_when_the_setting_says_so(bank, avoid):
    bank.blueprint.avoid_practised = avoid
    bank.blueprint.save()
    registration = register(bank, 1)[0]
    safety_easy = list(
        Question.objects.filter(trade=bank, qtype="single", knowledge_area="安全", difficulty=1).order_by(
            "id"
        )
    )
    seen = [q.pk for q in safety_easy[:8]]  # 4 unseen remain: exactly the row's count
    PracticeSession.objects.create(trade=bank, registration=registration, shown=seen)
    papers_generate(trade=bank)
    paper = Paper.objects.get(registration=registration)
    drawn = paper.questions[:4]
    if avoid:
        assert sorted(drawn) == sorted(q.pk for q in safety_easy[8:]) and paper.avoided == sorted(seen)
        assert paper_regenerate(paper) == (paper.questions, paper.orders)
    else:
        assert paper.avoided == []


def test_cli_generates_all_papers_once(bank):
    register(bank, 5)
    out = io.StringIO()
    call_command("contest", "papers", "--trade", "fitter", stdout=out)
    assert "生成 5 份试卷" in out.getvalue()
    call_command("contest", "papers", "--trade", "fitter", stdout=out)
    assert "生成 0 份试卷" in out.getvalue() and Paper.objects.count() == 5
