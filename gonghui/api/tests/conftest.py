"""People in the `world`: two in 郊区 (the district persona's), one in 前进区 (the sibling's)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from gonghui.lib.creditcode import make_credit_code
from gonghui.lib.idcard import make_id_number


def make_person(name, region, seq, *, employer=None, group=None, home_region=None):
    from gonghui.people.models import Person
    from gonghui.people.services import protected_fields

    return Person.objects.create(
        name=name,
        work_region=region,
        home_region=home_region,
        employer=employer,
        group=group,
        **protected_fields(
            id_number=make_id_number("230811", date(1990, 1, 1 + seq % 28), seq),
            phone=f"139{seq:08d}",
        ),
    )


@pytest.fixture
def people(world):
    from gonghui.orgs.models import Employer, OccupationGroup

    # The groups come with the orgs migrations; get_or_create keeps the fixture independent of that.
    courier, _ = OccupationGroup.objects.get_or_create(code="courier", defaults={"name": "快递员"})
    rider, _ = OccupationGroup.objects.get_or_create(code="rider", defaults={"name": "外卖送餐员"})
    express = Employer.objects.create(credit_code=make_credit_code(1), name="佳木斯快递有限公司")
    return SimpleNamespace(
        courier=courier,
        rider=rider,
        express=express,
        suburb_a=make_person(
            "张三", world.suburb_town, 1, employer=express, group=courier, home_region=world.qianjin_street
        ),
        suburb_b=make_person("李四", world.suburb, 2, group=rider),
        qianjin_a=make_person("王五", world.qianjin_street, 3, group=courier),
    )


@pytest.fixture
def bearer(world):
    """`bearer(user)` -> the Authorization header value of a fresh token for that persona."""
    from gonghui.accounts.services import api_token_issue

    def issue(user):
        return "Bearer " + api_token_issue(username=user.username, password=world.password)

    return issue
