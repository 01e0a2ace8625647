"""Staff pages for membership under /members/: the approval queue, one application or membership, transfers, counts.

Thin views over `membership.selectors` (scoped to the viewer: anything outside their subtree is
404) and `membership.services` / `membership.bulk` (every decision a state-machine move, audited).
Domain errors come back to the page as a message naming what was refused.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.orgs.selectors import org_list

from . import bulk, selectors, services
from .models import MembershipStatus, TransferRequester, TransferStatus

PER_PAGE = 50
MAX_BULK = 500


def _page(request, queryset, per_page: int = PER_PAGE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _refused(request, exc: ValueError) -> None:
    messages.error(request, str(exc))


@login_required
def queue(request):
    """Pending applications to the viewer's unions, longest wait first; overdue ones highlighted."""
    overdue_only = request.GET.get("overdue") == "1"
    found = selectors.approval_queue(viewer=request.user, overdue_only=overdue_only)
    page = _page(request, found)
    items = selectors.queue_items(page.object_list)
    counts = selectors.membership_status_counts(viewer=request.user)
    overdue_count = selectors.approval_queue(viewer=request.user, overdue_only=True).count()
    return render(
        request,
        "membership/staff/queue.html",
        {
            "page": page,
            "items": items,
            "counts": counts,
            "overdue_only": overdue_only,
            "overdue_count": overdue_count,
            "overdue_after": selectors.OVERDUE_AFTER_WORKING_DAYS,
            "tab": "queue",
        },
    )


@login_required
def membership_list(request):
    status = request.GET.get("status", "")
    if status and status not in MembershipStatus.values:
        status = ""
    q = request.GET.get("q", "")[:100]
    found = selectors.membership_list(viewer=request.user, status=status, q=q)
    return render(
        request,
        "membership/staff/list.html",
        {
            "page": _page(request, found),
            "status": status,
            "q": q,
            "statuses": MembershipStatus.choices,
            "tab": "list",
        },
    )


@login_required
def detail(request, membership_id: int):
    membership = selectors.access_membership(request.user, membership_id)
    waited = (
        selectors.working_days_waited(membership.submitted_at)
        if membership.status == MembershipStatus.PENDING
        else None
    )
    return render(
        request,
        "membership/staff/detail.html",
        {
            "m": membership,
            "events": selectors.membership_history(membership),
            "others": selectors.person_memberships(
                viewer=request.user, person_id=membership.person_id
            ).exclude(pk=membership.pk),
            "open_transfer": selectors.open_transfer_for(membership),
            "waited": waited,
            "overdue": waited is not None and waited > selectors.OVERDUE_AFTER_WORKING_DAYS,
            "tab": "list",
        },
    )


def _act(request, membership_id: int, action, success: str):
    membership = selectors.access_membership(request.user, membership_id)
    try:
        action(membership)
    except ValueError as exc:
        _refused(request, exc)
    else:
        messages.success(request, success)
    return redirect("members_detail", membership_id=membership.pk)


@login_required
@require_POST
def approve(request, membership_id: int):
    return _act(
        request,
        membership_id,
        lambda m: services.membership_approve(
            membership=m, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Application approved; member number issued."),
    )


@login_required
@require_POST
def reject(request, membership_id: int):
    return _act(
        request,
        membership_id,
        lambda m: services.membership_reject(
            membership=m, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Application rejected."),
    )


@login_required
@require_POST
def lapse(request, membership_id: int):
    return _act(
        request,
        membership_id,
        lambda m: services.membership_lapse(
            membership=m, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Membership marked as lapsed."),
    )


@login_required
@require_POST
def withdraw(request, membership_id: int):
    return _act(
        request,
        membership_id,
        lambda m: services.membership_withdraw(
            membership=m, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Withdrawal recorded."),
    )


@login_required
@require_POST
def approve_selected(request):
    """The queue's bulk action: approve the ticked applications (those outside the viewer's scope are ignored)."""
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()][:MAX_BULK]
    if not ids:
        messages.error(request, _("Tick the applications to approve first."))
        return redirect("members_queue")
    try:
        result = bulk.membership_approve_many(ids=[int(i) for i in ids], by=request.user)
    except ValueError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("%(n)s applications approved.") % {"n": result.approved})
        if result.skipped_active_elsewhere:
            messages.warning(
                request,
                _("%(n)s left pending: already an active member elsewhere.")
                % {"n": result.skipped_active_elsewhere},
            )
    return redirect("members_queue")


@login_required
@require_POST
def transfer_request(request, membership_id: int):
    """Staff of the member's union (or of the receiving one) ask to move the member to another union."""
    membership = selectors.access_membership(request.user, membership_id)
    code = request.POST.get("to_union", "").strip()
    # Any grassroots union may receive (the receiving union confirms); found by its exact code.
    from gonghui.orgs.models import Org

    to_org = Org.objects.filter(code=code).first() if code else None
    if to_org is None:
        messages.error(request, _("No union with the code %(code)s.") % {"code": code or "—"})
        return redirect("members_detail", membership_id=membership.pk)
    try:
        services.transfer_request(
            membership=membership,
            to_org=to_org,
            # The page is reached only through the member's union (access_membership): that side asks.
            requested_by_kind=TransferRequester.FROM_UNION,
            by=request.user,
            reason=request.POST.get("reason", ""),
        )
    except ValueError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Transfer requested; the receiving union confirms it."))
    return redirect("members_detail", membership_id=membership.pk)


@login_required
def transfers(request):
    direction = "out" if request.GET.get("direction") == "out" else "in"
    status = request.GET.get("status", TransferStatus.REQUESTED)
    if status not in TransferStatus.values:
        status = ""
    found = selectors.transfer_list(viewer=request.user, direction=direction, status=status)
    return render(
        request,
        "membership/staff/transfers.html",
        {
            "page": _page(request, found),
            "direction": direction,
            "status": status,
            "statuses": TransferStatus.choices,
            "tab": "transfers",
        },
    )


def _transfer_act(request, transfer_id: int, action, success: str):
    transfer = selectors.access_transfer(request.user, transfer_id)
    try:
        action(transfer)
    except ValueError as exc:
        _refused(request, exc)
    else:
        messages.success(request, success)
    return redirect("members_transfers")


@login_required
@require_POST
def transfer_confirm(request, transfer_id: int):
    return _transfer_act(
        request,
        transfer_id,
        lambda t: services.transfer_confirm(
            transfer=t, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Transfer confirmed: the member now belongs to your union."),
    )


@login_required
@require_POST
def transfer_refuse(request, transfer_id: int):
    return _transfer_act(
        request,
        transfer_id,
        lambda t: services.transfer_refuse(
            transfer=t, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Transfer refused."),
    )


@login_required
@require_POST
def transfer_cancel(request, transfer_id: int):
    return _transfer_act(
        request,
        transfer_id,
        lambda t: services.transfer_cancel(
            transfer=t, by=request.user, reason=request.POST.get("reason", "")
        ),
        _("Transfer request withdrawn."),
    )


@login_required
def stats(request):
    """Joined, transferred, lapsed and withdrawn per union and week (the last twelve weeks)."""
    try:
        weeks = max(1, min(52, int(request.GET.get("weeks", 12))))
    except ValueError:
        raise Http404("bad weeks") from None
    since = timezone.localdate() - dt.timedelta(weeks=weeks)
    rows = selectors.membership_counts_by_week(viewer=request.user, since=since)
    names = dict(
        org_list(viewer=request.user).filter(pk__in={r["org_id"] for r in rows}).values_list("pk", "name")
    )
    for row in rows:
        row["org_name"] = names.get(row["org_id"], row["org_code"])
    totals = {
        key: sum(r[key] for r in rows)
        for key in ("joined", "transferred_in", "transferred_out", "lapsed", "withdrawn")
    }
    return render(
        request,
        "membership/staff/stats.html",
        {"rows": rows, "totals": totals, "weeks": weeks, "since": since, "tab": "stats"},
    )
