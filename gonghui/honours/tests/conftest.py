from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


@pytest.fixture
def people(world):
    from gonghui.people.services import person_create

    return [person_create(name=name, work_region=world.suburb_town) for name in ("张三丰", "李四", "王小五")]


def grant(person, union, **overrides):
    """A grant of the 郊区 workers' award (title) to `person` by `union`; keyword overrides any field."""
    from gonghui.honours.services import HonourGrant

    values = {
        "person": person,
        "kind": "title",
        "title": "郊区技术能手",
        "level": "county",
        "conferred_by": union,
        "source_type": "tests.round",
        "source_id": "1",
        "source_label": "郊区职工技能比武 第1名",
        "conferred_on": dt.date(2026, 5, 1),
        "policy_file": "contest_suburb_2026.yaml",
        "policy_document": "郊区职工技能比武方案",
        "policy_effective": dt.date(2026, 3, 1),
    }
    values.update(overrides)
    return HonourGrant(**values)


CASH = {"kind": "cash", "title": "现金奖励（税前）", "amount": Decimal("10000")}
