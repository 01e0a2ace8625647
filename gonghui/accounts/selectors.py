"""What a viewer may see: the subtrees of the orgs they hold roles in.

Every selector that lists or fetches something for a user starts from `viewer_scope(viewer)`.
Orgs are in scope when their tree path starts with the path of an org the viewer holds a role
in. Places (regions, and people by where they work) are in scope when their division code starts
with the prefix of the region of such an org. A superuser sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q

from gonghui.orgs.models import Org


@dataclass(frozen=True)
class ViewerScope:
    is_global: bool
    org_paths: tuple[str, ...]
    region_prefixes: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.is_global and not self.org_paths

    def orgs_q(self, field: str = "") -> Q:
        """A filter for orgs in scope; `field` is the lookup path to the Org (e.g. "org__")."""
        if self.is_global:
            return Q()
        if not self.org_paths:
            return Q(pk__in=[])
        return reduce(or_, (Q(**{f"{field}path__startswith": p}) for p in self.org_paths))

    def regions_q(self, field: str = "") -> Q:
        """A filter for rows whose region (at `field`, e.g. "work_region__") lies in scope."""
        if self.is_global:
            return Q()
        if not self.region_prefixes:
            return Q(pk__in=[])
        return reduce(or_, (Q(**{f"{field}code__startswith": p}) for p in self.region_prefixes))


def viewer_scope(viewer) -> ViewerScope:
    """The scope of a signed-in user; an anonymous or role-less user sees nothing."""
    cached = getattr(viewer, "_gonghui_scope", None)
    if cached is not None:
        return cached
    if viewer is None or not getattr(viewer, "is_authenticated", False) or not viewer.is_active:
        return ViewerScope(False, (), ())
    if viewer.is_superuser:
        scope = ViewerScope(True, (), ())
    else:
        orgs = list(Org.objects.filter(roles__user=viewer).select_related("region"))
        paths = _outermost(sorted({o.path for o in orgs}))
        prefixes = _outermost(sorted({o.region.prefix for o in orgs if o.region is not None}))
        scope = ViewerScope(False, tuple(paths), tuple(prefixes))
    viewer._gonghui_scope = scope
    return scope


def _outermost(prefixes: list[str]) -> list[str]:
    """Drop prefixes already covered by a shorter one (sorted input)."""
    kept: list[str] = []
    for p in prefixes:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return kept
