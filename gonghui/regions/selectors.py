"""Reads of administrative divisions for a viewer: scoped to the regions of the orgs they hold roles in."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from gonghui.accounts.selectors import viewer_scope

from .models import Region
from .services import RegionCodeError, normalize_region_code


def region_list(*, viewer, parent_code: str = "") -> QuerySet[Region]:
    """Regions the viewer may see, by code; with `parent_code`, only that region's direct children."""
    qs = Region.objects.filter(viewer_scope(viewer).regions_q()).select_related("parent")
    if parent_code:
        try:
            qs = qs.filter(parent__code=normalize_region_code(parent_code))
        except RegionCodeError:
            return qs.none()
    return qs.order_by("code")


def access_region(viewer, code: str) -> Region:
    """The region with division `code` (2-12 digits) if the viewer may see it; Http404 otherwise."""
    try:
        full = normalize_region_code(str(code))
    except RegionCodeError:
        raise Http404("no such region") from None
    region = (
        Region.objects.filter(viewer_scope(viewer).regions_q(), code=full).select_related("parent").first()
    )
    if region is None:
        raise Http404("no such region")
    return region


def region_subtree_q(region: Region, field: str = "") -> Q:
    """A filter for `region` and everything under it; `field` is the lookup path (e.g. "work_region__")."""
    return Q(**{f"{field}code__startswith": region.prefix})
