"""Reads of union organisations for a viewer: the subtrees of the orgs they hold roles in."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from gonghui.accounts.selectors import viewer_scope

from .models import Org, OrgKind


def org_list(*, viewer, kind: str = "", q: str = "") -> QuerySet[Org]:
    """Orgs in the viewer's scope, in tree order; `kind` filters by OrgKind, `q` matches name or code."""
    qs = Org.objects.filter(viewer_scope(viewer).orgs_q()).select_related("region", "parent")
    if kind:
        qs = qs.filter(kind=kind)
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q))
    return qs.order_by("path")


def access_org(viewer, org_id) -> Org:
    """The org with this id if the viewer may see it; Http404 otherwise (also for a malformed id)."""
    try:
        pk = int(org_id)
    except (TypeError, ValueError):
        raise Http404("no such organisation") from None
    org = org_list(viewer=viewer).filter(pk=pk).first()
    if org is None:
        raise Http404("no such organisation")
    return org


def org_summary(*, viewer) -> dict:
    """Counts for the desk: {"total": n, "by_kind": [{"kind", "label", "count"}, ...]} in OrgKind order.

    Kinds the viewer has none of are left out. One aggregate query.
    """
    counts = dict(
        Org.objects.filter(viewer_scope(viewer).orgs_q())
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    by_kind = [
        {"kind": kind.value, "label": kind.label, "count": counts[kind.value]}
        for kind in OrgKind
        if counts.get(kind.value)
    ]
    return {"total": sum(counts.values()), "by_kind": by_kind}


def org_ancestors(org: Org) -> QuerySet[Org]:
    """The orgs above `org`, root first (not scoped: callers show only names they may link to)."""
    ids = [int(i) for i in org.path.strip("/").split("/") if i and int(i) != org.pk]
    return Org.objects.filter(pk__in=ids).order_by("depth")
