"""Server-rendered pages for union staff: thin views over the apps' selectors and services.

Every page reads through a selector that takes the viewer, so a page cannot show what lies outside
the viewer's subtree; a detail page outside it answers 404 (the selector's `access_*` raises it).
Personal data appears only masked; the one way to the full values is the audited unmask POST.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from gonghui.census.selectors import person_sightings
from gonghui.orgs.models import OccupationGroup, OrgKind
from gonghui.orgs.selectors import access_org, org_list, org_summary
from gonghui.people.selectors import access_person, people_summary, person_list, protected_search_hash
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


# Searches by ID number or mobile, kept in the session as keyed hashes behind an opaque token.
FOUND_SESSION_KEY = "people_found"
FOUND_KEPT = 20


def _filters_query(request_data, **extra: str) -> str:
    kept = {key: request_data.get(key, "").strip() for key in ("region", "group")}
    return urlencode({key: value for key, value in {**extra, **kept}.items() if value})


@login_required
@require_POST
def people_search(request):
    """The people search form posts here, so a full ID number or mobile never enters a URL.

    A name goes on as `?q=`; an ID number or mobile is replaced by its keyed hash, kept in the
    session under an opaque token (`?found=`): neither the address, the server's log nor the
    session table ever holds the number itself.
    """
    q = request.POST.get("q", "").strip()
    protected = protected_search_hash(q) if q else None
    if protected is None:
        query = _filters_query(request.POST, q=q)
    else:
        token = secrets.token_urlsafe(12)
        found = dict(request.session.get(FOUND_SESSION_KEY, {}))
        found[token] = list(protected)
        request.session[FOUND_SESSION_KEY] = dict(list(found.items())[-FOUND_KEPT:])
        query = _filters_query(request.POST, found=token)
    url = reverse("people_list")
    return redirect(f"{url}?{query}" if query else url)


@login_required
def people_list(request):
    q = request.GET.get("q", "").strip()
    region_code = request.GET.get("region", "").strip()
    group_code = request.GET.get("group", "").strip()
    found_token = request.GET.get("found", "").strip()
    by_hash: dict[str, str] = {}
    protected_query = found_expired = refused_in_address = False
    if found_token:
        kept = request.session.get(FOUND_SESSION_KEY, {}).get(found_token)
        if kept:
            field, value = kept
            by_hash = {field: value}
            protected_query = True
        else:
            found_expired = True
    elif q and protected_search_hash(q) is not None:
        # A number typed into the address: not searched, not echoed (use the search box, which posts).
        refused_in_address = True
        q = ""
    people = person_list(viewer=request.user, q=q, region_code=region_code, group_code=group_code, **by_hash)
    if found_expired or refused_in_address:
        people = people.none()
    page = _page(request, people, PEOPLE_PER_PAGE)
    counties = region_list(viewer=request.user).filter(level__lte=RegionLevel.COUNTY)
    return render(
        request,
        "web/people/list.html",
        {
            "page": page,
            "q": q,
            "protected_query": protected_query,
            "found_expired": found_expired,
            "refused_in_address": refused_in_address,
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
        {
            "person": person,
            "can_unmask": request.user.has_perm(UNMASK_PERMISSION),
            # Where the census saw them: every list row naming them (batches in the viewer's scope).
            "sightings": person_sightings(viewer=request.user, person=person),
        },
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
