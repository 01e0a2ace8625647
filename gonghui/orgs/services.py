"""Writes for union organisations, employers and occupation groups."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from gonghui.regions.models import Region

from .models import Org, OrgKind, OrgStatus


class OrgError(ValueError):
    """An org write that cannot be done (bad parent, cycle, unknown kind...)."""


def _path_for(org: Org) -> tuple[str, int]:
    if org.parent is None:
        return f"/{org.pk}/", 0
    return f"{org.parent.path}{org.pk}/", org.parent.depth + 1


@transaction.atomic
def org_create(
    *,
    code: str,
    name: str,
    kind: str,
    parent: Org | None = None,
    region: Region | None = None,
    founded_on: date | None = None,
    status: str = OrgStatus.ACTIVE,
) -> Org:
    """Create an org under `parent` with its tree path set, so subtree queries see it at once."""
    if kind not in OrgKind.values:
        raise OrgError(f"未知的组织类型 kind={kind!r}")
    org = Org.objects.create(
        code=code, name=name, kind=kind, parent=parent, region=region, founded_on=founded_on, status=status
    )
    org.path, org.depth = _path_for(org)
    Org.objects.filter(pk=org.pk).update(path=org.path, depth=org.depth)
    return org
