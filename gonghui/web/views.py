"""Server-rendered pages for union staff: thin views over the apps' selectors and services.

Every page reads through a selector that takes the viewer, so a page cannot show what lies outside
the viewer's subtree; a detail page outside it answers 404 (the selector's `access_*` raises it).
Personal data appears only masked; the one way to the full values is the audited unmask POST.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_POST

from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number
from gonghui.lib.phone import InvalidPhone, normalize_mobile
from gonghui.orgs.models import OccupationGroup, OrgKind
from gonghui.orgs.selectors import access_org, org_list, org_summary
from gonghui.people.selectors import access_person, people_summary, person_list
from gonghui.people.services import UNMASK_PERMISSION, person_unmask
from gonghui.regions.models import RegionLevel
from gonghui.regions.selectors import access_region, region_list

PEOPLE_PER_PAGE = 50
ORGS_PER_PAGE = 50


def _page(request, queryset, per_page: int):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


@login_required
def desk(request):
    """The staff desk: what the viewer's subtree holds, in tables and one chart per breakdown."""
    orgs = org_summary(viewer=request.user)
    people = people_summary(viewer=request.user)
    chart_data = {
        "by_region": {
            "labels": [row["name"] for row in people["by_region"]],
            "values": [row["count"] for row in people["by_region"]],
        },
        "by_group": {
            "labels": [row["name"] for row in people["by_group"]],
            "values": [row["count"] for row in people["by_group"]],
        },
    }
    return render(request, "web/desk.html", {"orgs": orgs, "people": people, "chart_data": chart_data})


@login_required
def orgs_list(request):
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    if kind not in OrgKind.values:
        kind = ""
    page = _page(request, org_list(viewer=request.user, kind=kind, q=q), ORGS_PER_PAGE)
    return render(
        request, "web/orgs/list.html", {"page": page, "kind": kind, "q": q, "kinds": OrgKind.choices}
    )


@login_required
def orgs_detail(request, org_id: int):
    org = access_org(request.user, org_id)
    children = org_list(viewer=request.user).filter(parent=org)
    # The parent is named even above the viewer's subtree, but linked only when they may open it.
    parent_visible = (
        org.parent_id is not None and org_list(viewer=request.user).filter(pk=org.parent_id).exists()
    )
    return render(
        request,
        "web/orgs/detail.html",
        {
            "org": org,
            "children": children,
            "parent_visible": parent_visible,
            "covers_regions": org.covers_regions.all(),
            "covers_groups": org.covers_groups.all(),
            "covers_employers": org.covers_employers.all(),
        },
    )


def _is_protected_query(q: str) -> bool:
    """Whether a search is a full ID number or mobile, which the page must not echo back."""
    for normalize, invalid in ((normalize_id_number, InvalidIdNumber), (normalize_mobile, InvalidPhone)):
        try:
            normalize(q)
        except invalid:
            continue
        return True
    return False


@login_required
def people_list(request):
    q = request.GET.get("q", "").strip()
    protected_query = bool(q) and _is_protected_query(q)
    region_code = request.GET.get("region", "").strip()
    group_code = request.GET.get("group", "").strip()
    people = person_list(viewer=request.user, q=q, region_code=region_code, group_code=group_code)
    page = _page(request, people, PEOPLE_PER_PAGE)
    counties = region_list(viewer=request.user).filter(level__lte=RegionLevel.COUNTY)
    return render(
        request,
        "web/people/list.html",
        {
            "page": page,
            # A searched ID number or mobile is not written back into the page (nor its links).
            "q": "" if protected_query else q,
            "protected_query": protected_query,
            "region_code": region_code,
            "group_code": group_code,
            "regions": counties,
            "groups": OccupationGroup.objects.all(),
        },
    )


@login_required
def people_detail(request, person_id: int):
    person = access_person(request.user, person_id)
    return render(
        request,
        "web/people/detail.html",
        {"person": person, "can_unmask": request.user.has_perm(UNMASK_PERMISSION)},
    )


@login_required
@require_POST
def people_unmask(request, person_id: int):
    """The full ID number and phone as an htmx fragment; refused (and audited) -> 403."""
    person = access_person(request.user, person_id)
    values = person_unmask(viewer=request.user, person=person, ip=request.META.get("REMOTE_ADDR"))
    return render(request, "web/people/_unmasked.html", {"person": person, "values": values})


@login_required
def regions_list(request):
    # County level and above: a city's page lists the city and its districts; open one for the rest.
    regions = region_list(viewer=request.user).filter(level__lte=RegionLevel.COUNTY)
    return render(request, "web/regions/list.html", {"regions": regions})


@login_required
def regions_detail(request, code: str):
    region = access_region(request.user, code)
    return render(
        request,
        "web/regions/detail.html",
        {"region": region, "children": region_list(viewer=request.user, parent_code=region.code)},
    )
