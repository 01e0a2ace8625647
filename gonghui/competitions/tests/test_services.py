from decimal import Decimal

import pytest

from gonghui.audit.models import AuditEvent
from gonghui.competitions.models import Blueprint, Contest, Question, Registration, Trade
from gonghui.competitions.services import (
    ContestError,
    RowSpec,
    blueprint_set,
    contest_setup_from_policy,
    registration_create,
)
from gonghui.people.models import Person

from .conftest import JILIN

ID_1 = "110101199003077571"
ID_2 = "11010119900307803X"


def test_it_sets_up_a_contest_from_its_policy_once(world, contest):
    assert contest.organiser == world.city_fed
    assert contest.level == "province" and contest.bank_public
    assert contest.co_organiser_names == "吉林省人力资源和社会保障厅"
    assert contest.trades.count() == 13
    fitter = contest.trades.get(code="fitter")
    assert fitter.theory_weight == Decimal("0.3") and fitter.finalist_quota == 40
    assert fitter.blueprint.time_limit_minutes == 90
    contest_setup_from_policy(policy_file=JILIN, organiser=world.city_fed)
    assert Contest.objects.count() == 1 and Trade.objects.count() == 13 and Blueprint.objects.count() == 13
    assert AuditEvent.objects.filter(action="contest.setup").count() == 2


def test_it_registers_a_worker_once_per_trade(world, fitter):
    reg = registration_create(trade=fitter, name="张三", id_number=ID_1, enterprise_name="一汽", actor=None)
    assert len(reg.ticket) == 12 and reg.person.name == "张三"
    with pytest.raises(ContestError, match="已报名钳工"):
        registration_create(trade=fitter, name="张三", id_number=ID_1, enterprise_name="一汽")
    welder = fitter.contest.trades.get(code="welder")
    other = registration_create(trade=welder, name="张三", id_number=ID_1, enterprise_name="一汽")
    assert other.person_id == reg.person_id and Person.objects.count() == 1
    registration_create(trade=fitter, name="李四", id_number=ID_2, enterprise_name="吉化")
    assert Registration.objects.count() == 3


def test_it_refuses_a_registration_without_enterprise(fitter):
    with pytest.raises(ContestError, match="工作单位"):
        registration_create(trade=fitter, name="张三", id_number=ID_1, enterprise_name=" ")
    assert not Person.objects.exists()


def _questions(trade, qtype, area, difficulty, n, start=1):
    Question.objects.bulk_create(
        Question(
            trade=trade,
            number=start + i,
            qtype=qtype,
            stem=f"{area}{qtype}{difficulty}-{i}",
            options=["甲", "乙", "丙", "丁"] if qtype in ("single", "multiple") else [],
            answer="A" if qtype != "true_false" else "T",
            knowledge_area=area,
            difficulty=difficulty,
            fingerprint=f"{area}{qtype}{difficulty}-{i}",
        )
        for i in range(n)
    )


def test_it_refuses_a_blueprint_the_bank_cannot_fill_naming_the_row(fitter):
    _questions(fitter, "single", "安全", 1, 5)
    _questions(fitter, "true_false", "识图", 2, 2, start=10)
    rows = [
        RowSpec("single", "安全", 1, 5, Decimal(1)),
        RowSpec("true_false", "识图", 2, 3, Decimal("0.5")),
    ]
    with pytest.raises(ContestError, match="第 2 行.*需要 3 题，题库只有 2 题"):
        blueprint_set(trade=fitter, rows=rows)
    assert not fitter.blueprint.rows.exists()
    rows[1] = RowSpec("true_false", "识图", 2, 2, Decimal("0.5"))
    blueprint = blueprint_set(trade=fitter, rows=rows, time_limit_minutes=60)
    assert blueprint.time_limit_minutes == 60 and blueprint.rows.count() == 2
    with pytest.raises(ContestError, match="第 2 行.*重复"):
        blueprint_set(trade=fitter, rows=[rows[0], rows[0]])
