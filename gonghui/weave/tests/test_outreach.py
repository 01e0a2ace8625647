"""Outreach: the people a union should enrol, assignments, contacts, campaigns, pages and scoping."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.models import Role, RoleKind, User
from gonghui.audit.models import AuditEvent
from gonghui.membership.models import Membership, MembershipStatus
from gonghui.orgs.models import OccupationGroup
from gonghui.orgs.services import org_create
from gonghui.people.models import Person
from gonghui.people.services import protected_fields
from gonghui.weave.models import (
    Campaign,
    ContactKind,
    Coverage,
    OutreachAssignment,
    OutreachContact,
    OutreachStatus,
    RunStatus,
    WeaveRun,
)
from gonghui.weave.outreach import (
    UNASSIGNED,
    OutreachError,
    campaign_create,
    campaign_progress,
    my_assignments,
    outreach_assign,
    outreach_assign_matching,
    outreach_contact,
    to_enrol,
)


def person(name, region, group, org, seq):
    """A person counted in `region` × `group` whose primary union is `org` (None: a hole)."""
    run = WeaveRun.objects.first() or WeaveRun.objects.create(status=RunStatus.DONE)
    p = Person.objects.create(
        name=name,
        work_region=region,
        group=group,
        **protected_fields(id_number=None, phone=f"139{seq:08d}"),
    )
    Coverage.objects.create(person=p, run=run, primary_org=org, region=region, group=group)
    return p


def member(p, org, joined_on, status=MembershipStatus.ACTIVE):
    number = f"T{p.pk:08d}" if status == MembershipStatus.ACTIVE else None  # an active member has a number
    return Membership.objects.create(person=p, org=org, status=status, joined_on=joined_on, member_no=number)


@pytest.fixture
def o(world):
    w = world
    courier, _ = OccupationGroup.objects.get_or_create(code="courier", defaults={"name": "快递员"})
    rider, _ = OccupationGroup.objects.get_or_create(code="rider", defaults={"name": "外卖送餐员"})
    colleague = User.objects.create_user(username="suburb2", password=w.password, first_name="同事甲")
    Role.objects.create(user=colleague, org=w.suburb_fed, role=RoleKind.STAFF)
    town_staff = User.objects.create_user(username="town", password=w.password)
    Role.objects.create(user=town_staff, org=w.suburb_town_union, role=RoleKind.STAFF)
    qianjin_street_union = org_create(
        code="T230804002",
        name="永安街道总工会",
        kind="township",
        parent=w.qianjin_fed,
        region=w.qianjin_street,
    )
    zhang = person("张三", w.suburb_town, courier, w.suburb_town_union, 1)
    li = person("李四", w.suburb_town, rider, w.suburb_town_union, 2)
    wang = person("王五", w.suburb, courier, w.suburb_fed, 3)
    joined = person("赵六", w.suburb_town, courier, w.suburb_town_union, 4)
    member(joined, w.suburb_town_union, timezone.localdate())
    lapsed = person("钱七", w.suburb_town, courier, w.suburb_town_union, 5)
    member(lapsed, w.suburb_town_union, dt.date(2020, 1, 1), status=MembershipStatus.LAPSED)
    hole = person("孙八", w.suburb_town, courier, None, 6)
    sibling_person = person("周九", w.qianjin_street, courier, qianjin_street_union, 7)
    return SimpleNamespace(
        w=w,
        courier=courier,
        rider=rider,
        colleague=colleague,
        town_staff=town_staff,
        qianjin_street_union=qianjin_street_union,
        zhang=zhang,
        li=li,
        wang=wang,
        joined=joined,
        lapsed=lapsed,
        hole=hole,
        sibling_person=sibling_person,
    )


# --- the list ---------------------------------------------------------------------------------------


def test_the_list_is_the_unions_primary_people_without_an_active_membership(o):
    w = o.w
    town = set(to_enrol(viewer=o.town_staff, org=w.suburb_town_union))
    assert town == {o.zhang, o.li, o.lapsed}  # not the member, not the hole, not the county's own
    district = set(to_enrol(viewer=w.district_user, org=w.suburb_fed))
    assert district == {o.zhang, o.li, o.lapsed, o.wang}  # with the subtree
    assert set(to_enrol(viewer=w.district_user, org=w.suburb_fed, group_code="rider")) == {o.li}
    assert set(to_enrol(viewer=w.district_user, org=w.suburb_fed, region_code=w.suburb_town.code)) == {
        o.zhang,
        o.li,
        o.lapsed,
    }


def test_the_outsider_cannot_list_another_districts_union(o):
    from django.http import Http404

    with pytest.raises(Http404):
        to_enrol(viewer=o.w.sibling_user, org=o.w.suburb_fed)
    with pytest.raises(Http404):  # a township's staff do not work the district's list
        to_enrol(viewer=o.town_staff, org=o.w.suburb_fed)


# --- assign and contact -------------------------------------------------------------------------------


def test_it_assigns_many_at_once_to_a_colleague_and_reassigns(o):
    w = o.w
    n = outreach_assign(
        viewer=w.district_user, org=w.suburb_fed, person_ids=[o.zhang.pk, o.li.pk], assignee=o.colleague
    )
    assert n == 2
    assert set(my_assignments(viewer=o.colleague).values_list("person", flat=True)) == {o.zhang.pk, o.li.pk}
    assert set(to_enrol(viewer=w.district_user, org=w.suburb_fed, assignment=UNASSIGNED)) == {
        o.lapsed,
        o.wang,
    }
    assert set(to_enrol(viewer=w.district_user, org=w.suburb_fed, assignee_id=o.colleague.pk)) == {
        o.zhang,
        o.li,
    }

    outreach_assign(
        viewer=w.district_user, org=w.suburb_fed, person_ids=[o.li.pk, o.wang.pk], assignee=w.district_user
    )
    assert OutreachAssignment.objects.filter(org=w.suburb_fed).count() == 3
    assert set(my_assignments(viewer=o.colleague).values_list("person", flat=True)) == {o.zhang.pk}
    assert AuditEvent.objects.filter(action="weave.outreach_assign").count() == 2


def test_it_assigns_everyone_matching_a_filter_at_once(o):
    w = o.w
    outreach_assign(
        viewer=w.district_user, org=w.suburb_fed, person_ids=[o.zhang.pk], assignee=w.district_user
    )

    n = outreach_assign_matching(
        viewer=w.district_user, org=w.suburb_fed, assignee=o.colleague, group_code="courier"
    )

    assert n == 3  # 张三 (moved), 王五 and 钱七 (new); not 李四 (rider), not the member, the hole or 前进区
    assert set(my_assignments(viewer=o.colleague).values_list("person", flat=True)) == {
        o.zhang.pk,
        o.wang.pk,
        o.lapsed.pk,
    }
    assert OutreachAssignment.objects.count() == 3
    # Only those not yet assigned: nobody is moved.
    assert (
        outreach_assign_matching(
            viewer=w.district_user, org=w.suburb_fed, assignee=w.district_user, assignment=UNASSIGNED
        )
        == 1
    )
    assert OutreachAssignment.objects.get(person=o.li).assignee == w.district_user
    with pytest.raises(OutreachError):
        outreach_assign_matching(viewer=w.sibling_user, org=w.suburb_fed, assignee=w.sibling_user)


def test_it_refuses_people_off_the_list_and_strangers_as_assignees(o):
    w = o.w
    for ids in ([o.joined.pk], [o.hole.pk], [o.sibling_person.pk], [o.zhang.pk, o.sibling_person.pk], []):
        with pytest.raises(OutreachError):
            outreach_assign(viewer=w.district_user, org=w.suburb_fed, person_ids=ids, assignee=o.colleague)
    # Staff of the township are not colleagues of the district federation.
    with pytest.raises(OutreachError, match="没有岗位"):
        outreach_assign(
            viewer=w.district_user, org=w.suburb_fed, person_ids=[o.zhang.pk], assignee=o.town_staff
        )
    with pytest.raises(OutreachError):
        outreach_assign(
            viewer=w.sibling_user, org=w.suburb_fed, person_ids=[o.zhang.pk], assignee=w.sibling_user
        )
    assert not OutreachAssignment.objects.exists()


def test_contacts_move_the_status_and_a_refusal_needs_a_reason(o):
    w = o.w
    outreach_assign(viewer=w.district_user, org=w.suburb_fed, person_ids=[o.zhang.pk], assignee=o.colleague)
    a = OutreachAssignment.objects.get()
    outreach_contact(viewer=o.colleague, assignment=a, kind=ContactKind.PHONED)
    assert OutreachAssignment.objects.get().status == OutreachStatus.CONTACTED
    with pytest.raises(OutreachError, match="原因"):
        outreach_contact(viewer=o.colleague, assignment=a, kind=ContactKind.DECLINED, note="  ")
    outreach_contact(viewer=o.colleague, assignment=a, kind=ContactKind.DECLINED, note="已在原单位入会")
    assert OutreachAssignment.objects.get().status == OutreachStatus.DECLINED
    outreach_contact(viewer=w.district_user, assignment=a, kind=ContactKind.VISITED)  # staff of the union
    outreach_contact(viewer=o.colleague, assignment=a, kind=ContactKind.JOINED)
    assert OutreachAssignment.objects.get().status == OutreachStatus.JOINED
    contacts = list(OutreachContact.objects.order_by("pk").values_list("kind", "by__username"))
    assert contacts == [
        ("phoned", "suburb2"),
        ("declined", "suburb2"),
        ("visited", "suburb"),
        ("joined", "suburb2"),
    ]
    with pytest.raises(OutreachError):  # neither the assignee nor staff of the union
        outreach_contact(viewer=o.town_staff, assignment=a, kind=ContactKind.VISITED)


# --- campaigns ----------------------------------------------------------------------------------------


def test_campaign_progress_counts_new_members_and_contacts_per_day_and_per_union_below(o):
    w = o.w
    today = timezone.localdate()
    start = today - dt.timedelta(days=3)
    campaign = campaign_create(
        viewer=w.district_user,
        org=w.suburb_fed,
        name="百日入会行动",
        starts_on=start,
        ends_on=today + dt.timedelta(days=6),
        target=10,
    )
    campaign_create(
        viewer=o.town_staff, org=w.suburb_town_union, name="镇入会", starts_on=start, ends_on=today, target=4
    )
    member(o.zhang, w.suburb_town_union, start)
    member(o.li, w.suburb_town_union, today)
    member(o.wang, w.suburb_fed, start - dt.timedelta(days=1))  # before the campaign
    member(o.sibling_person, o.qianjin_street_union, today)  # another district
    village = org_create(
        code="V1", name="某村工会", kind="village", parent=w.suburb_town_union, region=w.suburb_town
    )
    deep = person("吴十", w.suburb_town, o.courier, village, 8)
    member(deep, village, today)  # two levels down: counted under 长发镇总工会
    outreach_assign(viewer=w.district_user, org=w.suburb_fed, person_ids=[o.lapsed.pk], assignee=o.colleague)
    outreach_contact(viewer=o.colleague, assignment=OutreachAssignment.objects.get(), kind=ContactKind.PHONED)

    progress = campaign_progress(campaign=campaign, today=today)

    # joined: 赵六 (fixture, today), 张三 (start), 李四 (today), 吴十 (today, in the village)
    assert progress.members == 4 and progress.contacts == 1
    assert [d.day for d in progress.days] == [start + dt.timedelta(days=i) for i in range(4)]
    assert [d.members for d in progress.days] == [1, 0, 0, 3]
    assert [d.members_to_date for d in progress.days] == [1, 1, 1, 4]
    assert progress.days[-1].contacts == 1
    # The contact was made by the district itself: it belongs to no union below.
    assert [(u.org, u.members, u.contacts, u.target) for u in progress.units] == [
        (w.suburb_town_union, 4, 0, 4)
    ]
    assert progress.share == pytest.approx(0.4)


def test_campaign_dates_and_target_are_checked(o):
    w = o.w
    today = timezone.localdate()
    with pytest.raises(OutreachError, match="结束日期"):
        campaign_create(
            viewer=w.district_user,
            org=w.suburb_fed,
            name="x",
            starts_on=today,
            ends_on=today - dt.timedelta(days=1),
            target=3,
        )
    with pytest.raises(OutreachError, match="target"):
        campaign_create(
            viewer=w.district_user, org=w.suburb_fed, name="x", starts_on=today, ends_on=today, target=0
        )
    with pytest.raises(OutreachError):
        campaign_create(
            viewer=w.sibling_user, org=w.suburb_fed, name="x", starts_on=today, ends_on=today, target=3
        )
    assert not Campaign.objects.exists()


# --- pages --------------------------------------------------------------------------------------------


def test_the_list_page_is_masked_filtered_and_counted(o, client, django_assert_max_num_queries):
    w = o.w
    for i in range(20):  # more rows must not mean more queries
        person(f"工人{i}", w.suburb_town, o.courier, w.suburb_town_union, 100 + i)
    client.force_login(w.district_user)
    url = reverse("weave_outreach_union", args=[w.suburb_fed.pk])
    with django_assert_max_num_queries(15):
        response = client.get(url + "?group=courier")
    assert response.status_code == 200
    text = response.content.decode()
    assert "张三" in text and "李四" not in text and "王五" in text
    assert "13900000001" not in text and "139****0001" in text
    assert len(response.context["rows"]) == 23 and not response.context["has_next"]


def test_the_list_pages_without_counting(o, client, monkeypatch):
    from gonghui.weave import views_outreach

    w = o.w
    for i in range(20):
        person(f"工人{i}", w.suburb_town, o.courier, w.suburb_town_union, 100 + i)
    monkeypatch.setattr(views_outreach, "PEOPLE_PER_PAGE", 10)
    client.force_login(w.district_user)
    url = reverse("weave_outreach_union", args=[w.suburb_fed.pk])
    seen = []
    for number, more in [(1, True), (2, True), (3, False)]:
        response = client.get(f"{url}?group=courier&page={number}")
        assert response.context["has_next"] is more
        seen += [p.pk for p in response.context["rows"]]
    assert len(seen) == len(set(seen)) == 23
    assert "page=2" in client.get(f"{url}?group=courier&page=3").content.decode()  # the previous link


def test_assign_and_record_through_the_pages(o, client, django_assert_max_num_queries):
    w = o.w
    client.force_login(w.district_user)
    response = client.post(
        reverse("weave_outreach_assign", args=[w.suburb_fed.pk]),
        {"person": [o.zhang.pk, o.li.pk], "assignee": o.colleague.pk, "next": "?group=courier"},
    )
    assert response.status_code == 302 and response["Location"].endswith("?group=courier")
    assert OutreachAssignment.objects.filter(assignee=o.colleague).count() == 2
    # Everyone matching the list's filter (here: not yet assigned) in one go.
    response = client.post(
        reverse("weave_outreach_assign", args=[w.suburb_fed.pk]),
        {"all_matching": "1", "assignment": "unassigned", "assignee": w.district_user.pk},
    )
    assert response.status_code == 302
    assert OutreachAssignment.objects.filter(assignee=w.district_user).count() == 2  # 王五, 钱七

    client.force_login(o.colleague)
    with django_assert_max_num_queries(10):
        mine = client.get(reverse("weave_outreach_mine"))
    assert mine.status_code == 200 and "张三" in mine.content.decode()
    a = OutreachAssignment.objects.get(person=o.zhang)
    refused = client.post(reverse("weave_outreach_contact", args=[a.pk]), {"kind": "declined", "note": ""})
    assert refused.status_code == 400 and "原因" in refused.content.decode()
    done = client.post(reverse("weave_outreach_contact", args=[a.pk]), {"kind": "visited"})
    assert done.status_code == 302
    assert OutreachAssignment.objects.get(pk=a.pk).status == OutreachStatus.CONTACTED
    assert "visited" in client.get(reverse("weave_outreach_assignment", args=[a.pk])).content.decode()


def test_the_outsider_is_refused_every_outreach_page_and_action(o, client):
    w = o.w
    outreach_assign(viewer=w.district_user, org=w.suburb_fed, person_ids=[o.zhang.pk], assignee=o.colleague)
    a = OutreachAssignment.objects.get()
    today = timezone.localdate()
    campaign = campaign_create(
        viewer=w.district_user, org=w.suburb_fed, name="行动", starts_on=today, ends_on=today, target=5
    )
    client.force_login(w.sibling_user)
    for name, args in [
        ("weave_outreach_union", [w.suburb_fed.pk]),
        ("weave_campaigns", [w.suburb_fed.pk]),
        ("weave_outreach_assignment", [a.pk]),
        ("weave_campaign", [campaign.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404, name
    for name, args, data in [
        ("weave_outreach_assign", [w.suburb_fed.pk], {"person": [o.zhang.pk], "assignee": w.sibling_user.pk}),
        ("weave_outreach_contact", [a.pk], {"kind": "joined"}),
        (
            "weave_campaigns",
            [w.suburb_fed.pk],
            {"name": "x", "starts_on": today, "ends_on": today, "target": 1},
        ),
    ]:
        assert client.post(reverse(name, args=args), data).status_code == 404, name
    assert not OutreachContact.objects.exists() and Campaign.objects.count() == 1
    assert OutreachAssignment.objects.get().assignee == o.colleague
    # The sibling's own pages hold nothing of 郊区.
    assert "张三" not in client.get(reverse("weave_outreach_mine")).content.decode()
    index = client.get(reverse("weave_outreach")).content.decode()
    assert "郊区总工会" not in index and "前进区总工会" in index


def test_the_index_lists_the_unions_the_viewer_acts_for(o, client, django_assert_max_num_queries):
    w = o.w
    client.force_login(w.city_user)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("weave_outreach"))
    names = [org.name for org in page.context["page"]]
    assert names[0] == "佳木斯市总工会" and "永安街道总工会" in names
    found = client.get(reverse("weave_outreach") + "?q=郊区")
    assert [org.name for org in found.context["page"]] == ["郊区总工会"]
    client.force_login(o.town_staff)
    assert [org.name for org in client.get(reverse("weave_outreach")).context["page"]] == ["长发镇总工会"]


def test_campaign_pages(o, client, django_assert_max_num_queries):
    w = o.w
    client.force_login(w.district_user)
    today = timezone.localdate()
    form = client.get(reverse("weave_campaigns", args=[w.suburb_fed.pk])).content.decode()
    assert f'type="date" name="starts_on" value="{today.isoformat()}"' in form
    response = client.post(
        reverse("weave_campaigns", args=[w.suburb_fed.pk]),
        {
            "name": "集中入会月",
            "starts_on": today - dt.timedelta(days=2),
            "ends_on": today + dt.timedelta(days=27),
            "target": 30,
        },
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    with django_assert_max_num_queries(14):
        page = client.get(reverse("weave_campaign", args=[campaign.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "集中入会月" in text and "campaign-chart-data" in text
    assert "echarts.min.js" in text and "cdn" not in text.lower()
    assert page.context["progress"].members == 1  # 赵六 joined today
    bad = client.post(
        reverse("weave_campaigns", args=[w.suburb_fed.pk]),
        {"name": "倒序", "starts_on": today, "ends_on": today - dt.timedelta(days=1), "target": 3},
    )
    assert bad.status_code == 400 and Campaign.objects.count() == 1


# --- in a real browser, phone-sized -------------------------------------------------------------------


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized page in the shared Chromium (gonghui/conftest.py) that notes what goes wrong."""
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"error: {error}"))
    page.on("requestfailed", lambda request: page.problems.append(f"failed: {request.url}"))
    page.on(
        "request",
        lambda request: (
            request.url.startswith(live_server.url)
            or request.url.startswith("data:")
            or page.problems.append(f"outside: {request.url}")
        ),
    )
    return page


@pytest.fixture
def phone_campaign(o):
    today = timezone.localdate()
    o.campaign = campaign_create(
        viewer=o.w.district_user,
        org=o.w.suburb_fed,
        name="集中入会月",
        starts_on=today - dt.timedelta(days=5),
        ends_on=today + dt.timedelta(days=20),
        target=30,
    )
    return o


@pytest.mark.browser
# Serialized rollback puts back the rows the migrations wrote (occupation groups...) for later tests.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_campaign_and_board_pages_work_on_a_phone(phone_campaign, phone, live_server):
    # Written before the browser starts: ORM calls under Playwright's loop would open a second
    # connection that outlives the test.
    w, campaign = phone_campaign.w, phone_campaign.campaign
    page = phone
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", w.district_user.username)
    page.fill("#id_password", w.password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/")
    for url in [
        reverse("weave_campaign", args=[campaign.pk]),
        reverse("weave_outreach_union", args=[w.suburb_fed.pk]),
        reverse("weave_board"),
    ]:
        page.goto(f"{live_server.url}{url}")
        # Wide tables scroll inside their box; the page itself does not scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, url
    page.goto(f"{live_server.url}{reverse('weave_campaign', args=[campaign.pk])}")
    page.wait_for_selector(".campaign-chart svg")  # drawn by the vendored ECharts
    assert "集中入会月" in page.locator("h1").inner_text()
    assert page.problems == []
