"""The coverage matrix: sums of cells by region and group, the drive's trend, drill-down, export, CLI, scoping."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db.models import Count, Q, Sum
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.membership.models import Membership, MembershipStatus
from gonghui.orgs.models import OccupationGroup
from gonghui.people.models import Person
from gonghui.regions.models import Region, RegionLevel
from gonghui.weave.matrix import (
    NO_GROUP,
    DrivePolicyError,
    access_matrix_region,
    cells_refresh_members,
    coverage_matrix,
    drive_policy,
    matrix_people,
    member_trend,
    member_weeks_refresh,
)
from gonghui.weave.models import Coverage, CoverageCell, MemberWeek, RunStatus, WeaveRun
from gonghui.weave.tests import weave_scenario

weave_city = weave_scenario.weave_city  # the fixture (a small woven city)

TODAY = dt.date(2026, 11, 25)  # a Wednesday


def add_people(region, group, n, *, org=None, n_covering=None, members=0, joined_on=None, name="工人"):
    """`n` people counted in `region` × `group`; the first `members` of them hold an active membership."""
    run = WeaveRun.objects.filter(status=RunStatus.DONE).first() or WeaveRun.objects.create(
        status=RunStatus.DONE
    )
    start = Person.objects.count()
    Person.objects.bulk_create(
        [
            Person(
                name=f"{name}{start + i}",
                work_region=region,
                group=group,
                id_number_masked="230811********1234",
            )
            for i in range(n)
        ]
    )
    people = list(Person.objects.order_by("-id")[:n])[::-1]
    covering = (1 if org else 0) if n_covering is None else n_covering
    Coverage.objects.bulk_create(
        [
            Coverage(person=p, run=run, primary_org=org, region=region, group=group, n_covering=covering)
            for p in people
        ]
    )
    if members:
        Membership.objects.bulk_create(
            [
                Membership(
                    person=p,
                    org=org,
                    status=MembershipStatus.ACTIVE,
                    joined_on=joined_on or TODAY,
                    member_no=f"T{p.pk}",
                )
                for p in people[:members]
            ]
        )
    return people


def rebuild_cells():
    """The cells as a weave run writes them (the engine's INSERT ... SELECT, here through the ORM)."""
    CoverageCell.objects.all().delete()
    rows = (
        Coverage.objects.values("region_id", "region__code", "group_id")
        .annotate(
            people=Count("pk"),
            covered=Count("pk", filter=Q(primary_org__isnull=False)),
            holes=Count("pk", filter=Q(primary_org__isnull=True)),
            overlaps=Count("pk", filter=Q(n_covering__gt=1)),
        )
        .order_by()
    )
    CoverageCell.objects.bulk_create(
        [
            CoverageCell(
                region_id=r["region_id"],
                region_code=r["region__code"] or "",
                group_id=r["group_id"],
                people=r["people"],
                covered=r["covered"],
                holes=r["holes"],
                overlaps=r["overlaps"],
            )
            for r in rows
        ]
    )
    cells_refresh_members()


@pytest.fixture
def net(world):
    """郊区: 长发镇 couriers (4: 1 overlap, 2 holes, 1 member), its village's riders (3, 2 members), one
    courier placed at county level only (a hole); 前进区: 永安街道 couriers (5: 3 holes, 1 member)."""
    w = world
    courier = OccupationGroup.objects.get(code="courier")
    rider = OccupationGroup.objects.get(code="rider")
    village = Region.objects.create(
        code="230811100201", name="长发村", level=RegionLevel.VILLAGE, parent=w.suburb_town
    )
    town_couriers = add_people(w.suburb_town, courier, 1, org=w.suburb_town_union, n_covering=2, members=1)
    town_couriers += add_people(w.suburb_town, courier, 1, org=w.suburb_town_union)
    town_couriers += add_people(w.suburb_town, courier, 2)
    riders = add_people(village, rider, 3, org=w.suburb_town_union, members=2)
    county_only = add_people(w.suburb, courier, 1)
    qianjin_couriers = add_people(w.qianjin_street, courier, 2, org=w.qianjin_fed, members=1)
    qianjin_couriers += add_people(w.qianjin_street, courier, 3)
    rebuild_cells()
    return SimpleNamespace(
        w=w,
        courier=courier,
        rider=rider,
        village=village,
        town_couriers=town_couriers,
        riders=riders,
        county_only=county_only,
        qianjin_couriers=qianjin_couriers,
    )


def counts(c):
    return (c.people, c.members, c.covered, c.holes, c.overlaps)


# --- sums -------------------------------------------------------------------------------------------


def test_it_sums_cells_by_child_region_and_group(net):
    w = net.w
    m = coverage_matrix(viewer=w.city_user, region=w.city)
    assert [key for key, _label in m.rows] == [w.qianjin.code, w.suburb.code]  # children by code
    assert counts(m.cell(w.suburb.code, "courier")) == (5, 1, 2, 3, 1)
    assert counts(m.cell(w.suburb.code, "rider")) == (3, 2, 3, 0, 0)
    assert counts(m.cell(w.qianjin.code, "courier")) == (5, 1, 2, 3, 0)
    assert counts(m.totals) == (13, 4, 7, 6, 1)
    by_group = {row.key: counts(row.counts) for row in m.by_group}
    assert by_group["courier"] == (10, 2, 4, 6, 1)
    assert by_group["rider"] == (3, 2, 3, 0, 0)
    assert by_group["truck_driver"] == (0, 0, 0, 0, 0)
    assert m.totals.rate == pytest.approx(4 / 13)


def test_a_county_shows_its_townships_and_the_people_placed_at_county_level(net):
    w = net.w
    m = coverage_matrix(viewer=w.district_user, region=w.suburb)
    by_region = {row.key: counts(row.counts) for row in m.by_region}
    assert by_region == {w.suburb_town.code: (7, 3, 5, 2, 1), "": (1, 0, 0, 1, 0)}


def test_a_group_filter_narrows_every_number(net):
    w = net.w
    m = coverage_matrix(viewer=w.city_user, region=w.city, group_key="rider", group=net.rider)
    assert [key for key, _label in m.columns] == ["rider"]
    assert counts(m.totals) == (3, 2, 3, 0, 0)


def test_a_village_has_one_row_of_its_own(net):
    m = coverage_matrix(viewer=net.w.district_user, region=net.village)
    assert [row.key for row in m.by_region] == [net.village.code]
    assert counts(m.totals) == (3, 2, 3, 0, 0)


# --- scope ------------------------------------------------------------------------------------------


def test_a_district_sees_only_its_own_regions(net, client):
    w = net.w
    assert access_matrix_region(w.district_user, "") == w.suburb
    assert access_matrix_region(w.city_user, "") == w.city
    from django.http import Http404

    with pytest.raises(Http404):
        access_matrix_region(w.district_user, w.city.code)
    with pytest.raises(Http404):
        access_matrix_region(w.district_user, w.qianjin.code)
    client.force_login(w.district_user)
    page = client.get(reverse("weave_matrix"))
    assert page.status_code == 200
    assert page.context["matrix"].region == w.suburb
    assert counts(page.context["matrix"].totals) == (8, 3, 5, 3, 1)
    assert "永安街道" not in page.content.decode()


@pytest.mark.parametrize(
    "name",
    ["weave_matrix", "weave_matrix_people", "weave_matrix_export"],
)
def test_qianjin_staff_are_refused_the_suburbs_cells_and_people(net, client, name):
    w = net.w
    client.force_login(w.sibling_user)
    for code in (w.suburb.code, w.suburb_town.code, net.village.code, "230811"):
        assert client.get(reverse(name), {"region": code}).status_code == 404
    assert client.get(reverse(name), {"region": w.qianjin.code}).status_code == 200


def test_the_pages_need_a_login(net, client):
    for name in ("weave_matrix", "weave_matrix_people", "weave_matrix_export"):
        assert client.get(reverse(name)).status_code == 302


def test_an_unknown_group_or_list_is_not_found(net, client):
    client.force_login(net.w.city_user)
    assert client.get(reverse("weave_matrix"), {"group": "astronaut"}).status_code == 404
    assert client.get(reverse("weave_matrix_people"), {"kind": "everyone"}).status_code == 404


# --- the page ---------------------------------------------------------------------------------------


def test_the_page_shows_the_heat_table_with_links_to_the_people(net, client):
    w = net.w
    client.force_login(w.city_user)
    page = client.get(reverse("weave_matrix"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "郊区" in html and "前进区" in html
    assert "heat-r" in html  # shaded by coverage rate
    assert reverse("weave_matrix_people") + "?region=230811000000&amp;kind=all&amp;group=courier" in html
    assert 'id="matrix-chart-data"' in html and "vendor/echarts/echarts.min.js" in html
    holes = client.get(reverse("weave_matrix"), {"shade": "holes"}).content.decode()
    assert "heat-h5" in holes  # the cells with the most holes are the darkest
    for by in ("group", "region"):
        assert client.get(reverse("weave_matrix"), {"by": by}).status_code == 200


@pytest.mark.parametrize("by", ["heat", "group", "region"])
def test_the_page_runs_a_constant_number_of_queries(net, client, django_assert_max_num_queries, by):
    w = net.w
    client.force_login(w.city_user)
    client.get(reverse("weave_matrix"), {"by": by})  # session, sites, and so on warmed
    # The session and user, the viewer's roles (scope, then the header), the region, its children,
    # the groups, one aggregate of the cells, one of the weeks, the breadcrumbs; the session saved.
    with django_assert_max_num_queries(13) as small:
        client.get(reverse("weave_matrix"), {"by": by})
    # Many more regions, groups' cells and people: the same number of queries.
    for i in range(8):
        town = Region.objects.create(
            code=f"230811{200 + i:03d}000", name=f"镇{i}", level=RegionLevel.TOWNSHIP, parent=w.suburb
        )
        add_people(town, net.rider if i % 2 else net.courier, 2, members=1, org=w.suburb_town_union)
    rebuild_cells()
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("weave_matrix"), {"by": by, "region": w.suburb.code})


# --- drill-down -------------------------------------------------------------------------------------


def drill(client, **params):
    page = client.get(reverse("weave_matrix_people"), params)
    assert page.status_code == 200
    return page


def test_drill_down_lists_the_people_behind_each_number(net, client):
    w = net.w
    client.force_login(w.city_user)
    town = w.suburb_town.code
    holes = drill(client, region=town, group="courier", kind="holes")
    assert {p.pk for p in holes.context["people"]} == {p.pk for p in net.town_couriers[2:]}
    overlaps = drill(client, region=town, group="courier", kind="overlaps")
    assert [p.pk for p in overlaps.context["people"]] == [net.town_couriers[0].pk]
    members = drill(client, region=w.suburb.code, kind="members")
    assert {p.pk for p in members.context["people"]} == {
        net.town_couriers[0].pk,
        *[p.pk for p in net.riders[:2]],
    }
    here = drill(client, region=w.suburb.code, kind="all", here="1")
    assert [p.pk for p in here.context["people"]] == [net.county_only[0].pk]
    html = members.content.decode()
    assert f'href="/people/{net.riders[0].pk}/"' in html
    assert "230811********1234" in html  # masked, never the number


def test_drill_down_pages_through_many_people(net, client):
    w = net.w
    many = add_people(net.village, net.courier, 60)
    client.force_login(w.district_user)
    first = drill(client, region=net.village.code, group="courier")
    assert first.context["has_next"] and len(first.context["people"]) == 50
    second = drill(client, region=net.village.code, group="courier", page=2)
    assert not second.context["has_next"]
    shown = [p.pk for p in first.context["people"]] + [p.pk for p in second.context["people"]]
    assert shown == [p.pk for p in many]


def test_drill_down_shows_only_people_the_viewer_may_see(net):
    w = net.w
    # Counted in 郊区 (home) but working in 前进区: a 郊区 viewer may not open them.
    stranger = add_people(w.suburb_town, net.courier, 1, name="外区")[0]
    Person.objects.filter(pk=stranger.pk).update(work_region=w.qianjin_street)
    people = matrix_people(viewer=w.district_user, region=w.suburb, kind="holes")
    assert stranger.pk not in {p.pk for p in people}
    assert stranger.pk in {p.pk for p in matrix_people(viewer=w.city_user, region=w.suburb, kind="holes")}


def test_people_with_no_group_have_a_column_and_a_list(net, client):
    w = net.w
    lost = add_people(w.suburb_town, None, 2)
    rebuild_cells()
    m = coverage_matrix(viewer=w.district_user, region=w.suburb)
    assert (NO_GROUP, "no group") in m.columns or NO_GROUP in dict(m.columns)
    assert m.cell(w.suburb_town.code, NO_GROUP).holes == 2
    client.force_login(w.district_user)
    page = drill(client, region=w.suburb_town.code, group=NO_GROUP)
    assert {p.pk for p in page.context["people"]} == {p.pk for p in lost}


# --- export -----------------------------------------------------------------------------------------


def test_export_writes_the_current_view_with_a_chinese_header(net, client):
    w = net.w
    client.force_login(w.city_user)
    response = client.get(reverse("weave_matrix_export"), {"by": "group"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == ("地区代码", "地区", "群体代码", "群体", "摸底人数", "会员", "覆盖率")
    courier = next(r for r in rows if r[2] == "courier")
    assert courier[4:] == (10, 2, 0.2, 4, 6, 1)
    assert rows[-1][1] == "佳木斯市（合计）" and rows[-1][4] == 13

    heat = client.get(reverse("weave_matrix_export"), {"by": "heat", "region": w.suburb.code})
    rows = list(load_workbook(io.BytesIO(heat.content)).active.iter_rows(values_only=True))
    assert (w.suburb_town.code, "长发镇", "courier", "快递员", 4, 1, 0.25, 2, 2, 1) in rows


# --- keeping members current ------------------------------------------------------------------------


def test_refresh_members_follows_membership_changes(net):
    w = net.w
    newcomer = net.town_couriers[3]
    Membership.objects.create(
        person=newcomer,
        org=w.suburb_town_union,
        status=MembershipStatus.ACTIVE,
        joined_on=TODAY,
        member_no="N1",
    )
    cell = CoverageCell.objects.get(region=w.suburb_town, group=net.courier)
    assert cell.members == 1  # stale until refreshed
    assert cells_refresh_members(person_ids=[newcomer.pk]) >= 1
    cell.refresh_from_db()
    assert cell.members == 2
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    assert (
        sum(MemberWeek.objects.filter(area_code="230811", week=monday).values_list("joined", flat=True)) == 4
    )
    # The others' cells are untouched by a targeted refresh, and right after a full one.
    Membership.objects.filter(person=net.riders[0]).update(status=MembershipStatus.WITHDRAWN, ended_on=TODAY)
    cells_refresh_members(person_ids=[newcomer.pk])
    assert CoverageCell.objects.get(region=net.village).members == 2
    cells_refresh_members()
    assert CoverageCell.objects.get(region=net.village).members == 1
    week = TODAY - dt.timedelta(days=TODAY.weekday())
    rows = MemberWeek.objects.filter(area_code="230811100", week=week)
    assert sum(r.joined for r in rows) == 4 and sum(r.left for r in rows) == 1
    # The county's and the city's rows are the sums of their townships' (前进区 has one member).
    county = MemberWeek.objects.filter(area_code="230811", week=week)
    city = MemberWeek.objects.filter(area_code="2308", week=week)
    assert (sum(r.joined for r in county), sum(r.left for r in county)) == (4, 1)
    assert (sum(r.joined for r in city), sum(r.left for r in city)) == (5, 1)


def test_refresh_members_of_nobody_does_nothing(net):
    assert cells_refresh_members(person_ids=[]) == 0


def test_the_weeks_alone_follow_a_person_counted_elsewhere(net):
    w = net.w
    member = net.riders[0]  # joined this week, counted in 长发村 (长发镇's area)
    Coverage.objects.filter(person=member).update(region=w.qianjin_street)
    member_weeks_refresh(person_ids=[member.pk])  # the new place only: 前进区 gains the member
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    joined = dict(MemberWeek.objects.filter(week=monday).values_list("area_code").annotate(n=Sum("joined")))
    assert joined["230804002"] == 2 and joined["230804"] == 2
    member_weeks_refresh()  # everything: 长发镇 loses them
    joined = dict(MemberWeek.objects.filter(week=monday).values_list("area_code").annotate(n=Sum("joined")))
    assert joined["230811100"] == 2 and joined["230811"] == 2 and joined["2308"] == 4


# --- the drive --------------------------------------------------------------------------------------


def test_the_drive_policy_starts_with_the_year_of_the_article(db):
    policy = drive_policy(TODAY)
    assert policy.drive_start == dt.date(2021, 1, 1)
    assert policy.issuer == "佳木斯市总工会"
    assert policy.should_join("courier") and policy.should_join(None)
    with pytest.raises(DrivePolicyError):
        drive_policy(dt.date(2020, 12, 31))


def test_a_policy_naming_an_unknown_group_is_refused(db, tmp_path):
    path = tmp_path / "weave_drive.yaml"
    path.write_text(
        "issuer: 某市总工会\ndocument: 方案\nversions:\n  - version: 1\n    effective: 2024-01-01\n"
        "    drive_start: 2024-01-01\n    should_join: {groups: [astronaut]}\n",
        encoding="utf-8",
    )
    with pytest.raises(DrivePolicyError, match="astronaut"):
        drive_policy(TODAY, path=path)


def joiners(region, group, org, weeks_ago_counts):
    """People who joined `k` weeks before TODAY's week, `n` of them, for each (k, n)."""
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    for weeks_ago, n in weeks_ago_counts:
        add_people(
            region, group, n, org=org, members=n, joined_on=monday - dt.timedelta(days=7 * weeks_ago - 2)
        )


def test_the_trend_counts_members_by_week_and_projects_the_date(net):
    w = net.w
    # Earlier members (net fixture) joined TODAY; four complete weeks with 2, 2, 4, 0 joins: pace 2 a week.
    joiners(w.suburb_town, net.courier, w.suburb_town_union, [(1, 2), (2, 2), (3, 4), (4, 0)])
    add_people(w.suburb_town, net.courier, 6)  # more who should join
    rebuild_cells()
    m = coverage_matrix(viewer=w.district_user, region=w.suburb)
    trend = member_trend(viewer=w.district_user, matrix=m, today=TODAY)
    assert trend.members_now == 3 + 8
    assert trend.should_join == 8 + 8 + 6
    assert trend.pace == 2
    remaining = trend.should_join - trend.members_now  # 11 -> 6 weeks at 2 a week
    assert trend.eta == TODAY + dt.timedelta(days=7 * 6) and remaining == 11
    assert trend.weeks[0] == dt.date(2020, 12, 28)  # the Monday of the drive's first week
    assert trend.members[-1] == trend.members_now
    assert trend.members[-2] == 8 and trend.members[-5] == 0


def test_at_a_pace_of_zero_the_goal_is_never_reached(net):
    w = net.w
    m = coverage_matrix(viewer=w.city_user, region=w.city)
    trend = member_trend(viewer=w.city_user, matrix=m, today=TODAY + dt.timedelta(days=60))
    assert trend.pace == 0 and trend.eta is None and not trend.reached


def test_a_village_trend_reads_its_memberships(net):
    w = net.w
    m = coverage_matrix(viewer=w.district_user, region=net.village)
    trend = member_trend(viewer=w.district_user, matrix=m, today=TODAY + dt.timedelta(days=7))
    assert trend.members[-1] == 2 and trend.pace == 2 / 4
    assert trend.eta == TODAY + dt.timedelta(days=7 + 7 * 2)  # one left to join at half a week each


def test_the_goal_reached_says_so(net, client):
    w = net.w
    Membership.objects.bulk_create(
        [
            Membership(
                person=p,
                org=w.suburb_town_union,
                status=MembershipStatus.ACTIVE,
                joined_on=TODAY,
                member_no="N2",
            )
            for p in net.riders[2:]
        ]
    )
    cells_refresh_members()
    m = coverage_matrix(viewer=w.district_user, region=net.village)
    assert member_trend(viewer=w.district_user, matrix=m, today=TODAY).reached
    client.force_login(w.district_user)
    page = client.get(reverse("weave_matrix"), {"region": w.qianjin.code})
    assert page.status_code == 404


def test_the_whole_installation_opens_at_the_top_region(net):
    from gonghui.accounts.models import User

    root = User.objects.create_superuser(username="root", password="pass-word-123")
    m = coverage_matrix(viewer=root, region=access_matrix_region(root, ""))
    assert m.region == net.w.province and counts(m.totals) == (13, 4, 7, 6, 1)
    trend = member_trend(viewer=root, matrix=m, today=TODAY)
    assert trend.members[-1] == 4  # the province sums its cities' weeks


# --- command line -----------------------------------------------------------------------------------


def run_cli(*args):
    out = io.StringIO()
    call_command("weave", "coverage", *args, stdout=out)
    return out.getvalue()


def test_cli_prints_the_matrix_as_csv_by_group_and_by_region(net):
    w = net.w
    rows = list(csv.DictReader(io.StringIO(run_cli("--region", "230800", "--format", "csv"))))
    courier = next(r for r in rows if r["code"] == "courier")
    assert courier == {
        "code": "courier",
        "name": "快递员",
        "people": "10",
        "members": "2",
        "coverage_rate": "0.2000",
        "covered": "4",
        "holes": "6",
        "overlaps": "1",
    }
    by_region = list(
        csv.DictReader(io.StringIO(run_cli("--region", w.suburb.code, "--by", "region", "--format", "csv")))
    )
    assert [(r["code"], r["people"]) for r in by_region] == [(w.suburb_town.code, "7"), (w.suburb.code, "1")]


def test_cli_table_aligns_chinese_text(net):
    table = run_cli("--region", "230800", "--by", "region", "--format", "table").splitlines()
    from unicodedata import east_asian_width

    def width(text):
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)

    assert table[0] == "佳木斯市（230800000000）"
    body = [line for line in table[1:] if line.strip()]
    assert len({width(line) for line in body}) == 1  # every line as wide on a terminal
    assert any("郊区" in line for line in body) and any("合计" in line for line in body)


def test_cli_refuses_an_unknown_region(net):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="999999"):
        run_cli("--region", "999999")
    with pytest.raises(CommandError, match="astronaut"):
        run_cli("--group", "astronaut")


def test_cli_refreshes_members_when_asked(net):
    w = net.w
    Membership.objects.create(
        person=net.town_couriers[3],
        org=w.suburb_town_union,
        status=MembershipStatus.ACTIVE,
        joined_on=TODAY,
        member_no="N3",
    )
    stale = list(csv.DictReader(io.StringIO(run_cli("--region", w.suburb_town.code, "--format", "csv"))))
    fresh = list(
        csv.DictReader(
            io.StringIO(run_cli("--region", w.suburb_town.code, "--format", "csv", "--refresh-members"))
        )
    )
    courier = [r["members"] for rows in (stale, fresh) for r in rows if r["code"] == "courier"]
    assert courier == ["1", "2"]


# --- with the weave engine --------------------------------------------------------------------------


def test_the_matrix_sums_the_cells_a_weave_run_writes(weave_city, client):
    from gonghui.weave.services import weave_run

    w = weave_city.world
    weave_run(trigger="test")
    m = coverage_matrix(viewer=w.city_user, region=w.city)
    placed = Coverage.objects.filter(region__code__startswith="2308")
    assert counts(m.totals) == (
        placed.count(),
        Membership.objects.filter(status="active", person__coverage__in=placed).count(),
        placed.filter(primary_org__isnull=False).count(),
        placed.filter(primary_org__isnull=True).count(),
        placed.filter(n_covering__gt=1).count(),
    )
    assert m.totals.people > 0
    # 郊区 staff see 郊区's part of it; 前进区 staff are refused it.
    suburb = coverage_matrix(viewer=w.district_user, region=w.suburb)
    assert suburb.totals.people == placed.filter(region__code__startswith="230811").count()
    client.force_login(w.sibling_user)
    assert client.get(reverse("weave_matrix"), {"region": w.suburb.code}).status_code == 404
