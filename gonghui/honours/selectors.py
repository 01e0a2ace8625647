"""Reads of the register a staff user sees, scoped to the viewer: an honour belongs to its conferring union.

A viewer sees the honours conferred by unions in their subtree (a superuser sees all); anything else
answers 404, the same as an honour that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import ExtractYear
from django.http import Http404

from gonghui.accounts.selectors import viewer_scope
from gonghui.orgs.models import Org
from gonghui.people.models import Person

from .models import Honour


def honour_list(
    *,
    viewer: Any,
    kind: str = "",
    year: int | None = None,
    union: Org | None = None,
    include_revoked: bool = True,
) -> QuerySet[Honour]:
    """The register in the viewer's subtree, newest first; `union` narrows to that union's subtree."""
    scope = viewer_scope(viewer)
    if scope.is_empty:
        return Honour.objects.none()
    rows = Honour.objects.filter(scope.orgs_q("conferred_by__")).select_related("conferred_by")
    if kind:
        rows = rows.filter(kind=kind)
    if year:
        rows = rows.filter(conferred_on__year=year)
    if union is not None:
        rows = rows.filter(conferred_by__path__startswith=union.path)
    if not include_revoked:
        rows = rows.filter(revoked=False)
    return rows.order_by("-conferred_on", "certificate_no")


def honour_years(*, viewer: Any) -> list[int]:
    """The years with honours in the viewer's subtree, newest first (for the filter)."""
    return list(
        honour_list(viewer=viewer)
        .annotate(y=ExtractYear("conferred_on"))
        .order_by("-y")
        .values_list("y", flat=True)
        .distinct()
    )


def access_honour(viewer: Any, honour_id: int) -> Honour:
    honour = honour_list(viewer=viewer).filter(pk=honour_id).first()
    if honour is None:
        raise Http404
    return honour


def honours_of_person(*, person: Person) -> QuerySet[Honour]:
    """A person's own honours (for their self-service page, where they proved who they are), revoked ones too."""
    return Honour.objects.filter(person=person).select_related("conferred_by").order_by("-conferred_on")


def honours_of_source(*, source_type: str, source_id: str) -> QuerySet[Honour]:
    """What one source (a contest's trade, an award round) has registered; not scoped: callers check access."""
    return Honour.objects.filter(source_type=source_type, source_id=str(source_id))


def can_grant(*, viewer: Any, org: Org) -> bool:
    """Whether the viewer may confer honours in `org`'s name: admin or staff of it or of a union above it."""
    from gonghui.accounts.models import Role, RoleKind

    if not getattr(viewer, "is_authenticated", False) or not viewer.is_active:
        return False
    if viewer.is_superuser:
        return True
    paths = Role.objects.filter(user=viewer, role__in=[RoleKind.ADMIN, RoleKind.STAFF]).values_list(
        "org__path", flat=True
    )
    return any(org.path.startswith(path) for path in paths)
