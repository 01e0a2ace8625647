"""`gonghui demo drive`: the seeded city gets a weave run, members over many weeks, a pending queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.utils import translation

from gonghui.membership.models import MemberNumber, Membership, MembershipEvent, MembershipStatus
from gonghui.membership.selectors import approval_queue, overdue_cutoff
from gonghui.orgs.models import Org
from gonghui.people.models import Person
from gonghui.regions.models import Region, RegionLevel
from gonghui.weave.matrix import coverage_matrix, member_trend
from gonghui.weave.models import CoverageCell, WeaveRun

S = MembershipStatus


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(username: str):
    return get_user_model().objects.get(username=username)


def test_it_drives_the_seeded_city_and_skips_the_second_time(db, capsys):
    call_command("demo", "seed", "--people", "600")
    capsys.readouterr()

    call_command("demo", "drive", "--if-empty")
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and "人入会" in out and "郊区待审批申请" in out

    assert WeaveRun.objects.filter(status="done").count() == 1
    people = Person.objects.count()
    active = Membership.objects.filter(status=S.ACTIVE)
    members = active.count()
    assert 0.4 * people < members < 0.7 * people
    # Each member in a grassroots union with a registered number and the events of both moves.
    assert MemberNumber.objects.count() == members
    assert MembershipEvent.objects.filter(to_status=S.ACTIVE).count() == members
    # Join dates spread over many weeks, more of them recently (the pace rises).
    dates = sorted(active.values_list("joined_on", flat=True))
    weeks = {d - dt.timedelta(days=d.weekday()) for d in dates}
    assert len(weeks) > 20
    middle = dates[0] + (dates[-1] - dates[0]) / 2
    assert sum(d > middle for d in dates) > sum(d <= middle for d in dates)

    # A few dozen pending applications, all to 郊区's unions, some waiting past three working days.
    pending = Membership.objects.filter(status=S.PENDING)
    assert 10 <= pending.count() <= 40
    assert not pending.exclude(org__path__startswith=Org.objects.get(code="F230811").path).exists()
    assert pending.filter(submitted_at__date__lte=overdue_cutoff()).exists()
    assert approval_queue(viewer=_user("suburb")).count() == pending.count()
    assert not approval_queue(viewer=_user("qianjin")).exists()  # the sibling district sees none of them

    # The weave's matrix counts the members and the trend projects a date.
    assert CoverageCell.objects.aggregate(n=Sum("members"))["n"] == members
    city = _user("city")
    region = Region.objects.get(level=RegionLevel.CITY, code__startswith="2308")
    matrix = coverage_matrix(viewer=city, region=region)
    trend = member_trend(viewer=city, matrix=matrix)
    assert matrix.should_join_members == members
    assert trend.pace > 0 and trend.eta is not None and max(trend.members) == members

    # Again with --if-empty: nothing changes; without it: refused.
    before = (Membership.objects.count(), MemberNumber.objects.count(), WeaveRun.objects.count())
    with translation.override("en"):
        call_command("demo", "drive", "--if-empty")
    assert "demo drive skipped" in capsys.readouterr().out
    with pytest.raises(CommandError) as caught:
        call_command("demo", "drive")
    assert caught.value.returncode == 2 and "拒绝重复" in str(caught.value)
    assert (Membership.objects.count(), MemberNumber.objects.count(), WeaveRun.objects.count()) == before
    twice = Membership.objects.values("person_id").annotate(n=Count("pk")).filter(n__gt=1)
    assert not twice.exists()


def test_it_refuses_an_unseeded_database(db):
    with pytest.raises(CommandError) as caught:
        call_command("demo", "drive")
    assert caught.value.returncode == 2
    assert not Membership.objects.exists()
