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
