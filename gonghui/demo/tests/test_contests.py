"""`gonghui demo contests`: a finished contest played through the services, and one open to try."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from gonghui.competitions.models import (
    Attempt,
    AttemptStatus,
    Contest,
    JudgeScore,
    PracticeSession,
    Registration,
)
from gonghui.competitions.stats import contest_figures
from gonghui.demo.contest import FINISHED_POLICY, OPEN_POLICY, DemoContestsExist, demo_contests
from gonghui.honours.models import Honour


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def city(db, capsys):
    call_command("demo", "seed", "--people", "900")
    call_command("demo", "drive")
    capsys.readouterr()


def test_it_plays_the_finished_contest_through_to_honours_and_leaves_one_open(city, client, capsys):
    call_command("demo", "contests", "--per-trade", "14")
    out = capsys.readouterr().out
    assert "演示" in out or "Demo" in out

    finished = Contest.objects.get(policy_file=FINISHED_POLICY)
    open_contest = Contest.objects.get(policy_file=OPEN_POLICY)
    for trade in finished.trades.all():
        entered = Registration.objects.filter(trade=trade)
        assert 10 <= entered.count() <= 14
        # Couriers and riders come from their occupation group.
        if trade.code in ("courier", "rider"):
            assert set(entered.values_list("person__group__code", flat=True)) == {trade.code}
        # Everyone who sat the preliminary handed in inside the window, scored, and scores differ.
        attempts = Attempt.objects.filter(registration__trade=trade)
        assert attempts.exists()
        assert not attempts.exclude(status=AttemptStatus.SUBMITTED).exists()
        for attempt in attempts:
            assert finished.preliminary_opens <= attempt.started_at < finished.preliminary_closes
            assert attempt.saves == 2
        assert len(set(attempts.values_list("score", flat=True))) > 2
        # Finalists (quota 10) each have five judges' sheets by criterion.
        sheets = JudgeScore.objects.filter(registration__trade=trade)
        finalists = set(sheets.values_list("registration_id", flat=True))
        assert len(finalists) == min(10, attempts.count())
        assert sheets.count() == 5 * len(finalists)
        assert all(s.criteria for s in sheets)
    # The award table, per trade: one medal, three titles, three cash awards, ten promotions.
    honours = Honour.objects.filter(policy_file=FINISHED_POLICY)
    trades = finished.trades.count()
    assert honours.filter(kind="medal").count() == trades
    assert honours.filter(kind="title").count() == 3 * trades
    assert honours.filter(kind="cash").count() == 3 * trades
    assert honours.filter(kind="promotion").count() == 10 * trades
    assert PracticeSession.objects.filter(trade__contest=finished).exists()
    # Every entrant gave the work area the registration page asks for: counted by district, none
    # unknown and none left at the city itself (where the platforms are registered).
    regions = {f.key: f.registrations for f in contest_figures(finished).by_region}
    assert len(regions) > 3 and all(len(key) == 6 and key != "230800" for key in regions)
    assert not Registration.objects.filter(trade__contest=finished, region__isnull=True).exists()

    # The open contest: banks, blueprints, a few entrants who have not sat the preliminary yet.
    assert Registration.objects.filter(trade__contest=open_contest).count() == 16
    assert not Attempt.objects.filter(registration__trade__contest=open_contest).exists()
    for trade in open_contest.trades.all():
        assert trade.questions.count() == 15
        assert trade.blueprint.rows.exists()

    # `demo logins` names a candidate who can sit it, and that ticket + ID number lets them in.
    call_command("demo", "logins")
    logins = capsys.readouterr().out
    line = next(x for x in logins.splitlines() if open_contest.name in x)
    ticket = next(
        r.ticket for r in Registration.objects.filter(trade__contest=open_contest) if r.ticket in line
    )
    assert ticket

    # Both contests are on the public contest list.
    page = client.get("/contests/")
    assert finished.name in page.content.decode() and open_contest.name in page.content.decode()

    # Again: refused by the service (nothing written), skipped by --if-empty.
    before = Registration.objects.count()
    with pytest.raises(DemoContestsExist):
        demo_contests()
    call_command("demo", "contests", "--if-empty")
    assert "skipped" in capsys.readouterr().out or Registration.objects.count() == before
    assert Registration.objects.count() == before
