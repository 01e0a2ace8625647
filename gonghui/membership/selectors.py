"""Reads of memberships for a viewer: the approval queue, transfers, history, counts by week.

Every list starts from `viewer_scope(viewer)`: staff see the memberships of unions in the subtrees
of the orgs they hold roles in; `access_*` answers Http404 outside it (the same as "no such row").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.http import Http404
from django.utils import timezone

from gonghui.accounts.selectors import viewer_scope
from gonghui.lib.workdays import calendar
from gonghui.orgs.models import Org

from .models import Membership, MembershipEvent, MembershipStatus, Transfer, TransferStatus

S = MembershipStatus
OVERDUE_AFTER_WORKING_DAYS = 3


def _pk(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("no such membership") from None


def membership_list(*, viewer, status: str = "", org: Org | None = None, q: str = "") -> QuerySet[Membership]:
    """Memberships of unions in the viewer's scope, newest first; `q` matches name or member number."""
    qs = Membership.objects.filter(viewer_scope(viewer).orgs_q("org__")).select_related("person", "org")
    if status:
        qs = qs.filter(status=status)
    if org is not None:
        qs = qs.filter(org__path__startswith=org.path)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(person__name__icontains=q) | Q(member_no__icontains=q))
    return qs.order_by("-pk")


def access_membership(viewer, membership_id) -> Membership:
    """The membership if its union is in the viewer's scope; Http404 otherwise."""
    found = membership_list(viewer=viewer).filter(pk=_pk(membership_id)).first()
    if found is None:
        raise Http404("no such membership")
    return found


def overdue_cutoff(today: dt.date | None = None) -> dt.date:
    """Applications submitted on or before this day have waited more than three working days."""
    today = today or timezone.localdate()
    return calendar().subtract_working_days(today, OVERDUE_AFTER_WORKING_DAYS + 1)


def working_days_waited(submitted: dt.datetime | None, today: dt.date | None = None) -> int:
    if submitted is None:
        return 0
    today = today or timezone.localdate()
    return calendar().working_days_between(timezone.localdate(submitted), today)


@dataclass(frozen=True)
class QueueItem:
    membership: Membership
    waited: int  # working days since the application, not counting its own day

    @property
    def overdue(self) -> bool:
        return self.waited > OVERDUE_AFTER_WORKING_DAYS


def approval_queue(
    *, viewer, overdue_only: bool = False, org: Org | None = None, today: dt.date | None = None
) -> QuerySet[Membership]:
    """Pending applications to unions in the viewer's scope, oldest first (the longest wait on top)."""
    qs = membership_list(viewer=viewer, status=S.PENDING, org=org).order_by("submitted_at", "pk")
    if overdue_only:
        cutoff = overdue_cutoff(today)
        qs = qs.filter(submitted_at__date__lte=cutoff)
    return qs


def queue_items(memberships, today: dt.date | None = None) -> list[QueueItem]:
    """One page of the queue with the working days each has waited."""
    today = today or timezone.localdate()
    return [QueueItem(m, working_days_waited(m.submitted_at, today)) for m in memberships]


def membership_history(membership: Membership) -> QuerySet[MembershipEvent]:
    return membership.events.select_related("by").order_by("at", "pk")


def person_memberships(*, viewer, person_id: int) -> QuerySet[Membership]:
    """Every membership of one person that the viewer may see (the history across transfers)."""
    return membership_list(viewer=viewer).filter(person_id=person_id).order_by("pk")


def transfer_list(*, viewer, direction: str = "in", status: str = "") -> QuerySet[Transfer]:
    """Transfers into (direction "in") or out of ("out") unions in the viewer's scope."""
    scope = viewer_scope(viewer)
    qs = Transfer.objects.select_related("person", "from_org", "to_org", "membership")
    qs = qs.filter(scope.orgs_q("to_org__") if direction == "in" else scope.orgs_q("from_org__"))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-requested_at", "-pk")


def access_transfer(viewer, transfer_id) -> Transfer:
    """A transfer the viewer may see (either side in scope); Http404 otherwise."""
    scope = viewer_scope(viewer)
    found = (
        Transfer.objects.filter(scope.orgs_q("to_org__") | scope.orgs_q("from_org__"))
        .select_related("person", "from_org", "to_org", "membership", "new_membership")
        .filter(pk=_pk(transfer_id))
        .first()
    )
    if found is None:
        raise Http404("no such transfer")
    return found


def open_transfer_for(membership: Membership) -> Transfer | None:
    return Transfer.objects.filter(membership=membership, status=TransferStatus.REQUESTED).first()


# --- counts ------------------------------------------------------------------------------------

COUNTED_MOVES = {
    "joined": Q(from_status=S.PENDING, to_status=S.ACTIVE),
    "transferred_in": Q(from_status="", to_status=S.ACTIVE),
    "transferred_out": Q(to_status=S.TRANSFERRED_OUT),
    "lapsed": Q(to_status=S.LAPSED),
    "withdrawn": Q(from_status=S.ACTIVE, to_status=S.WITHDRAWN),
}


def membership_counts_by_week(
    *, viewer=None, since: dt.date | None = None, until: dt.date | None = None, org: Org | None = None
) -> list[dict]:
    """Members joined, transferred in and out, lapsed and withdrawn, per union and ISO week (Monday).

    For the weave's coverage trend and the desk: rows `{"org_id", "org_code", "week", "joined",
    "transferred_in", "transferred_out", "lapsed", "withdrawn"}` sorted by week then union code.
    `viewer=None` counts everything (services, the weave's run); otherwise the viewer's scope. One
    aggregate query.
    """
    events = MembershipEvent.objects.all()
    if viewer is not None:
        events = events.filter(viewer_scope(viewer).orgs_q("membership__org__"))
    if org is not None:
        events = events.filter(membership__org__path__startswith=org.path)
    if since is not None:
        events = events.filter(at__date__gte=since)
    if until is not None:
        events = events.filter(at__date__lte=until)
    rows = (
        events.annotate(week=TruncWeek("at"))
        .values("membership__org_id", "membership__org__code", "week")
        .annotate(**{name: Count("pk", filter=cond) for name, cond in COUNTED_MOVES.items()})
        .order_by("week", "membership__org__code")
    )
    out = []
    for row in rows:
        counts = {name: row[name] for name in COUNTED_MOVES}
        if not any(counts.values()):
            continue
        week = row["week"]
        out.append(
            {
                "org_id": row["membership__org_id"],
                "org_code": row["membership__org__code"],
                "week": week.date() if isinstance(week, dt.datetime) else week,
                **counts,
            }
        )
    return out


def membership_status_counts(*, viewer, org: Org | None = None) -> dict[str, int]:
    """Current memberships by status in the viewer's scope: {"pending": n, "active": n, ...}."""
    qs = Membership.objects.filter(viewer_scope(viewer).orgs_q("org__"))
    if org is not None:
        qs = qs.filter(org__path__startswith=org.path)
    counts = dict(qs.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in S.values}


def membership_export_rows() -> Iterator[tuple]:
    """Every membership for the operator's export (not scoped: the command line runs as the operator)."""
    return (
        Membership.objects.order_by("pk")
        .values_list("person_id", "org__code", "member_no", "status", "joined_on")
        .iterator(chunk_size=5000)
    )
