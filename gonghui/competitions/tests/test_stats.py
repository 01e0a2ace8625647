"""Contest statistics: totals, by trade and by region, page views, charts and the xlsx export."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.analytics.models import DailyCounter
from gonghui.competitions.exam import attempt_save, attempt_start, attempt_submit
from gonghui.competitions.models import PracticeSession, Registration
from gonghui.competitions.stats import contest_figures
from gonghui.lib.creditcode import make_credit_code

from .conftest import register
from .test_exam import build, right_answers

BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


@pytest.fixture
def season(world, fitter):
    """Fitter: A (enterprise in 郊区) scores full marks, B (union 前进区) scores 0; welder: C, no region."""
    from gonghui.orgs.models import Employer

    a, b = build(fitter)
    welder = fitter.contest.trades.get(code="welder")
    (c,) = register(welder, 1, start=10)
    works = Employer.objects.create(
        credit_code=make_credit_code(7), name="长发机械厂", region=world.suburb_town
    )
    Registration.objects.filter(pk=a.pk).update(employer=works, enterprise_name="长发机械厂")
    Registration.objects.filter(pk=b.pk).update(union=world.qianjin_fed, enterprise_name="前进公司")
    PracticeSession.objects.create(trade=fitter, registration=a, shown=[])
    PracticeSession.objects.create(trade=fitter, registration=a, shown=[])
    PracticeSession.objects.create(trade=welder, registration=None, shown=[])
    now = fitter.contest.preliminary_opens + dt.timedelta(hours=1)
    for registration, right in ((a, True), (b, False)):
        attempt = attempt_start(registration=registration, now=now)
        if right:
            attempt_save(attempt=attempt, answers=right_answers(attempt), now=now)
        attempt_submit(attempt=attempt, now=now + dt.timedelta(minutes=10))
    return fitter, welder


def test_it_counts_by_trade_and_by_region_in_a_few_queries(season, django_assert_max_num_queries):
    fitter, _welder = season
    # One query per breakdown (registrations, practice, finalists; totals, by trade, by region), the
    # region names and level, the page views, and the ranking of the one trade with candidates (3).
    with django_assert_max_num_queries(16):
        figures = contest_figures(fitter.contest)
    totals = figures.totals
    assert (totals.registrations, totals.enterprises, totals.unions) == (3, 3, 1)
    assert (totals.practice_sessions, totals.candidates, totals.finalists) == (3, 2, 2)  # quota 40
    assert totals.average == Decimal("6.00")  # (12 + 0) / 2
    trades = {f.key: f for f in figures.by_trade}
    assert (
        len(trades) == 13 and trades["fitter"].registrations == 2 and trades["fitter"].practice_sessions == 2
    )
    assert (trades["welder"].registrations, trades["welder"].candidates, trades["welder"].average) == (
        1,
        0,
        None,
    )
    assert trades["welder"].practice_sessions == 1
    regions = {f.key: f for f in figures.by_region}  # by county code (the contest is the city's)
    assert set(regions) == {"230811", "230804", ""}
    assert (regions["230811"].label, regions["230804"].label) == ("郊区", "前进区")
    assert regions["230811"].registrations == 1 and regions["230811"].average == Decimal("12.00")
    assert regions["230811"].practice_sessions == 2 and regions["230811"].finalists == 1
    assert regions["230804"].unions == 1 and regions["230804"].average == Decimal("0.00")
    assert regions[""].registrations == 1 and regions[""].practice_sessions == 1  # no region known
    assert figures.by_region[-1].key == ""  # the unknown region last


def test_the_public_page_counts_views_shows_aggregates_and_names_no_one(client, season):
    fitter, _ = season
    url = reverse("contest_page", args=[fitter.contest.code])
    page = client.get(url, HTTP_USER_AGENT=BROWSER)
    client.get(url, HTTP_USER_AGENT="Baiduspider+(+http://www.baidu.com/search/spider.htm)")
    client.get(reverse("contest_bank", args=[fitter.contest.code, fitter.code]), HTTP_USER_AGENT=BROWSER)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="contest-chart-data"' in text and "echarts.min.js" in text
    assert "郊区" in text and "6.00" in text
    assert "选手0" not in text and "长发机械厂" not in text  # no names, no enterprises
    counted = dict(DailyCounter.objects.values_list("key", "count"))
    assert counted == {f"contest:{fitter.contest.code}:page": 1, f"contest:{fitter.contest.code}:bank": 1}
    assert client.get(reverse("contest_page", args=["no-such-contest"])).status_code == 404


def test_staff_export_the_statistics_as_xlsx_audited(client, world, season):
    from gonghui.audit.models import AuditEvent

    fitter, _ = season
    client.get(reverse("contest_page", args=[fitter.contest.code]), HTTP_USER_AGENT=BROWSER)
    client.force_login(world.city_user)
    page = client.get(reverse("contest_statistics", args=[fitter.contest.code]))
    assert page.status_code == 200 and "views_by_day" in page.content.decode()
    response = client.get(reverse("contest_statistics_xlsx", args=[fitter.contest.code]))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    totals, by_trade, by_region, views = book.worksheets
    assert totals["B2"].value == 1  # page views
    assert [c.value for c in by_trade[3]][:6] == ["钳工", 2, 2, 1, 2, 2]
    assert {row[0].value for row in by_region.iter_rows(min_row=2)} >= {"郊区", "前进区"}
    assert views.max_row == 2
    assert AuditEvent.objects.filter(action="contest.statistics_export", actor=world.city_user).exists()


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_district_and_its_sibling_do_not_see_the_city_contests_staff_statistics(client, world, season):
    fitter, _ = season
    for user in (world.district_user, world.sibling_user):
        client.force_login(user)
        assert client.get(reverse("contest_statistics", args=[fitter.contest.code])).status_code == 404
        assert client.get(reverse("contest_statistics_xlsx", args=[fitter.contest.code])).status_code == 404


def test_the_work_area_given_at_registration_places_it_before_the_persons_own_and_a_coarser_one(
    client, world, fitter
):
    """Enterprise, union, the work area given when registering, the person's work region: the first
    at the counted level (county) or below; the city itself only when nothing finer is known."""
    from gonghui.orgs.models import Employer
    from gonghui.people.services import person_update

    platform = Employer.objects.create(credit_code=make_credit_code(8), name="某配送平台", region=world.city)
    said, elsewhere, plain, coarse_only = register(fitter, 4, start=20)
    Registration.objects.filter(pk=said.pk).update(employer=platform, region=world.qianjin_street)
    Registration.objects.filter(pk=elsewhere.pk).update(region=world.qianjin)
    person_update(person=elsewhere.person, work_region=world.suburb_town)  # the registration's answer wins
    person_update(person=plain.person, work_region=world.suburb_town)
    Registration.objects.filter(pk=coarse_only.pk).update(employer=platform)
    PracticeSession.objects.create(trade=fitter, registration=said, shown=[])
    regions = {f.key: f for f in contest_figures(fitter.contest).by_region}
    assert set(regions) == {"230804", "230811", "230800"}
    assert regions["230804"].registrations == 2 and regions["230804"].practice_sessions == 1
    assert regions["230811"].registrations == 1 and regions["230800"].label == "佳木斯市"
    page = client.get(reverse("contest_page", args=[fitter.contest.code])).content.decode()
    assert "前进区" in page and "郊区" in page and "地区不详" not in page
