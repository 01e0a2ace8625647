"""Outreach (走访) and campaign (集中行动) pages: thin views over `weave.outreach`."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gonghui.orgs.models import OccupationGroup
from gonghui.regions.models import Region, RegionLevel

from . import outreach
from .models import ContactKind, OutreachStatus

PEOPLE_PER_PAGE = 50


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Contact"), choices=ContactKind.choices)
    note = forms.CharField(
        label=gettext_lazy("Note / reason (required when declined)"), max_length=300, required=False
    )


class CampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    starts_on = forms.DateField(
        label=gettext_lazy("Starts on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Ends on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    target = forms.IntegerField(label=gettext_lazy("Target (new members)"), min_value=1)


@login_required
def outreach_index(request):
    """The unions the viewer works outreach for, their own list, and the campaigns."""
    q = request.GET.get("q", "").strip()
    unions = outreach.outreach_unions(viewer=request.user).select_related("region")
    if q:
        unions = unions.filter(Q(name__icontains=q) | Q(code__icontains=q))
    # A city acts for thousands of unions: paged, its own first (tree order puts it first).
    page = Paginator(unions, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "weave/outreach.html", {"page": page, "q": q})


def _filters(data, *, assignee_key: str = "assignee") -> dict:
    """The list's filters from its query string (the assign form carries them as hidden fields)."""
    try:
        assignee_id = int(data.get(assignee_key) or 0) or None
    except ValueError:
        assignee_id = None
    return {
        "group_code": data.get("group", "").strip(),
        "region_code": data.get("region", "").strip(),
        "assignment": data.get("assignment", "").strip(),
        "assignee_id": assignee_id,
    }


@login_required
def outreach_union(request, org_id: int):
    org = outreach.access_outreach_union(request.user, org_id)
    filters = _filters(request.GET)
    people = outreach.to_enrol(viewer=request.user, org=org, **filters)
    # No COUNT(*) over a city's people: one row more than a page says whether there is a next one.
    try:
        number = max(1, int(request.GET.get("page") or 1))
    except ValueError:
        number = 1
    start = (number - 1) * PEOPLE_PER_PAGE
    rows = list(people[start : start + PEOPLE_PER_PAGE + 1])
    has_next = len(rows) > PEOPLE_PER_PAGE
    regions = []
    if org.region is not None:
        regions = Region.objects.filter(
            code__startswith=org.region.prefix, level__lte=RegionLevel.TOWNSHIP
        ).order_by("code")
    return render(
        request,
        "weave/outreach_union.html",
        {
            "org": org,
            "rows": rows[:PEOPLE_PER_PAGE],
            "number": number,
            "has_next": has_next,
            "previous_number": number - 1,
            "next_number": number + 1,
            **filters,
            "groups": OccupationGroup.objects.all(),
            "regions": regions,
            "statuses": [(outreach.UNASSIGNED, _("not assigned")), *OutreachStatus.choices],
            "colleagues": list(outreach.colleagues(org=org)),
        },
    )


@login_required
@require_POST
def outreach_assign(request, org_id: int):
    org = outreach.access_outreach_union(request.user, org_id)
    assignee = outreach.colleagues(org=org).filter(pk=request.POST.get("assignee") or 0).first()
    try:
        ids = [int(i) for i in request.POST.getlist("person")]
    except ValueError:
        ids = []
    try:
        if request.POST.get("all_matching"):
            n = outreach.outreach_assign_matching(
                viewer=request.user,
                org=org,
                assignee=assignee,
                ip=_ip(request),
                **_filters(request.POST, assignee_key="assignee_filter"),
            )
        else:
            n = outreach.outreach_assign(
                viewer=request.user, org=org, person_ids=ids, assignee=assignee, ip=_ip(request)
            )
    except outreach.OutreachError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(n)d people assigned to %(who)s.")
            % {"n": n, "who": assignee.get_full_name() or assignee.get_username()},
        )
    # Back to the list as it was filtered (a query string only, never another address).
    back = request.POST.get("next", "")
    return redirect(reverse("weave_outreach_union", args=[org.pk]) + (back if back.startswith("?") else ""))


@login_required
def outreach_mine(request):
    status = request.GET.get("status", "").strip()
    page = Paginator(outreach.my_assignments(viewer=request.user, status=status), PEOPLE_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "weave/outreach_mine.html",
        {"page": page, "status": status, "statuses": OutreachStatus.choices},
    )


def _assignment_page(request, assignment, form, status=200):
    return render(
        request,
        "weave/outreach_assignment.html",
        {
            "assignment": assignment,
            "contacts": outreach.assignment_contacts(assignment=assignment),
            "form": form,
        },
        status=status,
    )


@login_required
def outreach_assignment(request, assignment_id: int):
    assignment = outreach.access_assignment(request.user, assignment_id)
    return _assignment_page(request, assignment, ContactForm())


@login_required
@require_POST
def outreach_contact(request, assignment_id: int):
    assignment = outreach.access_assignment(request.user, assignment_id)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            outreach.outreach_contact(
                viewer=request.user,
                assignment=assignment,
                kind=form.cleaned_data["kind"],
                note=form.cleaned_data["note"],
                ip=_ip(request),
            )
        except outreach.OutreachError as exc:
            form.add_error("note" if form.cleaned_data["kind"] == ContactKind.DECLINED else None, str(exc))
        else:
            messages.success(request, _("Contact recorded."))
            return redirect("weave_outreach_assignment", assignment_id=assignment.pk)
    return _assignment_page(request, assignment, form, status=400)


@login_required
def campaign_list(request, org_id: int):
    org = outreach.access_outreach_union(request.user, org_id)
    form = CampaignForm(
        request.POST or None,
        initial={"starts_on": timezone.localdate(), "ends_on": timezone.localdate() + dt.timedelta(days=30)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = outreach.campaign_create(
                viewer=request.user, org=org, ip=_ip(request), **form.cleaned_data
            )
        except outreach.OutreachError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Campaign created."))
            return redirect("weave_campaign", campaign_id=campaign.pk)
    return render(
        request,
        "weave/campaign_list.html",
        {"org": org, "campaigns": outreach.campaigns_of(viewer=request.user, org=org), "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def campaign_detail(request, campaign_id: int):
    campaign = outreach.access_campaign(request.user, campaign_id)
    progress = outreach.campaign_progress(campaign=campaign)
    target = campaign.target
    n_days = (campaign.ends_on - campaign.starts_on).days + 1
    chart = {
        "days": [d.day.isoformat() for d in progress.days],
        "members": [d.members for d in progress.days],
        "contacts": [d.contacts for d in progress.days],
        "to_date": [d.members_to_date for d in progress.days],
        # The straight line from 0 to the target over the whole period, as far as the days shown.
        "pace": [round(target * (i + 1) / n_days, 1) for i in range(len(progress.days))],
        "labels": {
            "members": _("new members"),
            "contacts": _("contacts"),
            "to_date": _("members to date"),
            "pace": _("pace to target"),
        },
    }
    return render(
        request,
        "weave/campaign.html",
        {"campaign": campaign, "progress": progress, "chart": chart, "percent": round(progress.share * 100)},
    )
