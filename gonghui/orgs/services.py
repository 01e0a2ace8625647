"""Writes for union organisations, employers and occupation groups.

The tree is kept in `Org.path` ("/1/7/42/", the ids from the root down) and `Org.depth`, so a
subtree is one prefix query. Every write here keeps both right for the whole subtree it touches.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import transaction
from django.utils import timezone

from gonghui.lib.creditcode import normalize_credit_code
from gonghui.regions.models import Region

from .models import Employer, OccupationGroup, Org, OrgKind, OrgStatus
from .tree import rebase_subtree


class OrgError(ValueError):
    """An org write that cannot be done (bad parent, cycle, unknown kind...)."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()  # "leave this field as it is" in org_update


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
    if status not in OrgStatus.values:
        raise OrgError(f"未知的组织状态 status={status!r}")
    org = Org.objects.create(
        code=code, name=name, kind=kind, parent=parent, region=region, founded_on=founded_on, status=status
    )
    org.path, org.depth = _path_for(org)
    Org.objects.filter(pk=org.pk).update(path=org.path, depth=org.depth)
    return org


@transaction.atomic
def org_update(
    *,
    org: Org,
    name: str | _Unset = UNSET,
    kind: str | _Unset = UNSET,
    parent: Org | None | _Unset = UNSET,
    region: Region | None | _Unset = UNSET,
    founded_on: date | None | _Unset = UNSET,
    status: str | _Unset = UNSET,
) -> Org:
    """Change the given fields of `org` (others stay as they are).

    A new parent moves the whole subtree (see `org_move`); a move under the org's own subtree is
    refused with OrgError and nothing is written.
    """
    if kind is not UNSET and kind not in OrgKind.values:
        raise OrgError(f"未知的组织类型 kind={kind!r}")
    if status is not UNSET and status not in OrgStatus.values:
        raise OrgError(f"未知的组织状态 status={status!r}")
    if isinstance(name, str) and not name.strip():
        raise OrgError("组织名称不能为空")
    if parent is not UNSET and parent != org.parent:
        org_move(org=org, parent=parent)
    fields = {"name": name, "kind": kind, "region": region, "founded_on": founded_on, "status": status}
    changed = [f for f, v in fields.items() if v is not UNSET and getattr(org, f) != v]
    for f in changed:
        setattr(org, f, fields[f])
    if changed:
        org.save(update_fields=[*changed, "updated_at"])
    if {"kind", "region", "status"} & set(changed):
        _weave_again(org, "org changed")
    return org


@transaction.atomic
def org_move(*, org: Org, parent: Org | None) -> Org:
    """Put `org` under `parent` (None: a root); paths and depths of its whole subtree follow in one UPDATE.

    Refuses (OrgError) to move an org under itself or one of its descendants.
    """
    org.refresh_from_db(fields=["path", "depth", "parent"])
    if parent is not None:
        parent.refresh_from_db(fields=["path", "depth"])
        if parent.path.startswith(org.path):
            raise OrgError(
                f"不能把 {org.name}（{org.code}）移到它自己或其下级 {parent.name}（{parent.code}）之下"
            )
    new_path = f"{parent.path}{org.pk}/" if parent is not None else f"/{org.pk}/"
    new_depth = parent.depth + 1 if parent is not None else 0
    Org.objects.filter(pk=org.pk).update(parent=parent, updated_at=timezone.now())
    rebase_subtree(org.path, new_path, new_depth - org.depth)
    org.parent, org.path, org.depth = parent, new_path, new_depth
    return org


@transaction.atomic
def employer_upsert(
    *,
    credit_code: str,
    name: str,
    is_platform: bool = False,
    is_head_enterprise: bool = False,
    region: Region | None = None,
) -> Employer:
    """The employer with this unified social credit code, created or brought in line with the arguments.

    The code is checked (GB 32100 check character) and stored in its canonical form; a bad code
    raises InvalidCreditCode (a ValueError) and nothing is written.
    """
    code = normalize_credit_code(credit_code)
    name = (name or "").strip()
    if not name:
        raise OrgError(f"统一社会信用代码 {code} 的单位缺少名称")
    wanted = {
        "name": name,
        "is_platform": is_platform,
        "is_head_enterprise": is_head_enterprise,
        "region": region,
    }
    employer, created = Employer.objects.select_for_update().get_or_create(credit_code=code, defaults=wanted)
    if not created:
        changed = [f for f, v in wanted.items() if getattr(employer, f) != v]
        for f in changed:
            setattr(employer, f, wanted[f])
        if changed:
            employer.save(update_fields=changed)
    return employer


@transaction.atomic
def org_set_coverage(
    *,
    org: Org,
    regions: Iterable[Region],
    groups: Iterable[OccupationGroup],
    employers: Iterable[Employer],
) -> Org:
    """Make what `org` declares to cover exactly these regions (with their subtrees), groups and employers."""
    org.covers_regions.set(list(regions))
    org.covers_groups.set(list(groups))
    org.covers_employers.set(list(employers))
    _weave_again(org, "org coverage set")
    return org


def _weave_again(org: Org, why: str) -> None:
    """Who a union covers may have changed: queue a weave run (started from the runs page or `gonghui weave run`)."""
    from gonghui.weave.services import weave_run_queue

    weave_run_queue(trigger=f"{why}: {org.code}", launch=False)


# The CSV import lives in its own module; re-exported here so callers find every org write in one place.
from .importer import OrgImportReport, OrgRowError, orgs_import_csv  # noqa: E402

__all__ = [
    "UNSET",
    "OrgError",
    "OrgImportReport",
    "OrgRowError",
    "employer_upsert",
    "org_create",
    "org_move",
    "org_set_coverage",
    "org_update",
    "orgs_import_csv",
]
