"""Membership fixtures: grassroots unions on both sides of the 郊区 / 前进区 line, and applicants."""

from __future__ import annotations

import pytest

from gonghui.orgs.services import org_create
from gonghui.people.tests.factories import PersonFactory


@pytest.fixture
def unions(world):
    """Two grassroots unions in 郊区 (the town union and a village union under it) and one in 前进区."""
    from types import SimpleNamespace

    village = org_create(
        code="V230811100001",
        name="长发镇民主村工会",
        kind="village",
        parent=world.suburb_town_union,
        region=world.suburb_town,
    )
    street = org_create(
        code="T230804002",
        name="永安街道总工会",
        kind="township",
        parent=world.qianjin_fed,
        region=world.qianjin_street,
    )
    return SimpleNamespace(town=world.suburb_town_union, village=village, street=street)


@pytest.fixture
def person(db):
    return PersonFactory()
