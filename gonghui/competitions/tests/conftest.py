from __future__ import annotations

import pytest

from gonghui.competitions.services import contest_setup_from_policy

JILIN = "contest_jilin_2021.yaml"


@pytest.fixture
def contest(world):
    return contest_setup_from_policy(policy_file=JILIN, organiser=world.city_fed, actor=world.city_user)


@pytest.fixture
def fitter(contest):
    return contest.trades.get(code="fitter")


def add_questions(trade, qtype, area, difficulty, n, *, options=4):
    """n questions of one blueprint cell, numbered after the bank's last; choice answers "A" / "AB"."""
    from gonghui.competitions.models import Question

    start = Question.objects.filter(trade=trade).count() + 1
    choice = qtype in ("single", "multiple")
    Question.objects.bulk_create(
        Question(
            trade=trade,
            number=start + i,
            qtype=qtype,
            stem=f"{area}-{qtype}-{difficulty}-{start + i}",
            options=[f"选项{j}-{start + i}" for j in range(options)] if choice else [],
            answer={"single": "A", "multiple": "AB", "true_false": "T"}.get(qtype, ""),
            accepted=[["扭矩", "转矩"]] if qtype == "fill_blank" else [],
            knowledge_area=area,
            difficulty=difficulty,
            explanation=f"解析-{start + i}",
            fingerprint=f"{area}-{qtype}-{difficulty}-{start + i}",
        )
        for i in range(n)
    )


def id_number(n: int) -> str:
    from gonghui.lib.idcard import id_check_char

    first17 = f"22010219850101{n:03d}"
    return first17 + id_check_char(first17)


def register(trade, count, *, start=0):
    from gonghui.competitions.services import registration_create

    return [
        registration_create(trade=trade, name=f"选手{i}", id_number=id_number(i), enterprise_name="一汽集团")
        for i in range(start, start + count)
    ]
