"""Reads of people that a user sees: always scoped to the viewer, by where the person works."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import Substr
from django.http import Http404
from django.utils.translation import gettext as _

from gonghui.accounts.selectors import viewer_scope
from gonghui.lib.crypto import keyed_hash
from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number
from gonghui.lib.phone import InvalidPhone, normalize_mobile
from gonghui.regions.models import Region

from .models import Person

# Segment lengths of a 12-digit statistical division code: province, city, county, township, village.
_CODE_SEGMENTS = (2, 2, 2, 3, 3)
COUNTY_PREFIX_LENGTH = 6


def region_prefix(code: str) -> str:
    """The prefix shared by a division and its subtree: `230811000000` or `230811` -> `230811`.

    Trailing all-zero segments mean "the whole unit above", so they are dropped.
    """
    padded = (code or "").strip().ljust(12, "0")
    end = kept = 0
    for length in _CODE_SEGMENTS:
        segment = padded[end : end + length]
        end += length
        if segment.strip("0"):
            kept = end
    return padded[:kept]


def protected_search_hash(q: str) -> tuple[str, str] | None:
    """For a full ID number or mobile: which keyed hash finds it (`id_hash` / `phone_hash`) and its
    value; None for anything else (a name). Pages use it to keep such numbers out of addresses."""
    q = (q or "").strip()
    try:
        return "id_hash", keyed_hash("id_number", normalize_id_number(q))
    except InvalidIdNumber:
        pass
    try:
        return "phone_hash", keyed_hash("phone", normalize_mobile(q))
    except InvalidPhone:
        return None


def _search(queryset: QuerySet[Person], q: str) -> QuerySet[Person]:
    """Name contains `q`; or, when `q` is a valid ID number or mobile, the keyed-hash match."""
    q = q.strip()
    if not q:
        return queryset
    try:
        return queryset.filter(id_number_hash=keyed_hash("id_number", normalize_id_number(q)))
    except InvalidIdNumber:
        pass
    try:
        return queryset.filter(phone_hash=keyed_hash("phone", normalize_mobile(q)))
    except InvalidPhone:
        pass
    return queryset.filter(name__icontains=q)


def person_list(
    *,
    viewer: Any,
    q: str = "",
    region_code: str = "",
    group_code: str = "",
    id_hash: str = "",
    phone_hash: str = "",
) -> QuerySet[Person]:
    """People the viewer may see (their work region lies in the viewer's scope), newest last.

    `region_code` narrows to a division's subtree, `group_code` to an occupation group, `q` searches
    names, or finds by ID number / mobile (through the keyed hash, never by plaintext); `id_hash` /
    `phone_hash` find by a keyed hash computed earlier (a search whose plaintext was not kept).
    """
    queryset = Person.objects.filter(viewer_scope(viewer).regions_q("work_region__")).select_related(
        "employer", "group", "work_region"
    )
    if region_code:
        prefix = region_prefix(region_code)
        queryset = queryset.filter(work_region__code__startswith=prefix) if prefix else queryset.none()
    if group_code:
        queryset = queryset.filter(group__code=group_code)
    if id_hash:
        queryset = queryset.filter(id_number_hash=id_hash)
    if phone_hash:
        queryset = queryset.filter(phone_hash=phone_hash)
    return _search(queryset, q)


def access_person(viewer: Any, person_id: Any) -> Person:
    """One person by id if the viewer may see them; Http404 otherwise (never says which)."""
    try:
        pk = int(person_id)
    except (TypeError, ValueError):
        raise Http404(_("No such person.")) from None
    person = person_list(viewer=viewer).filter(pk=pk).first()
    if person is None:
        raise Http404(_("No such person."))
    return person


def people_summary(*, viewer: Any) -> dict[str, Any]:
    """Counts for the staff desk: total, by county-level work region, by occupation group.

    Three aggregate queries (plus one for region names), whatever the number of people.
    """
    people = Person.objects.filter(viewer_scope(viewer).regions_q("work_region__"))
    total = people.count()

    by_county = list(
        people.annotate(county=Substr("work_region__code", 1, COUNTY_PREFIX_LENGTH))
        .values("county")
        .annotate(count=Count("pk"))
        .order_by("county")
    )
    names = dict(
        Region.objects.filter(
            code__in=[row["county"].ljust(12, "0") for row in by_county if row["county"]]
        ).values_list("code", "name")
    )
    by_region = [
        {
            "code": row["county"] or "",
            "name": names.get((row["county"] or "").ljust(12, "0"), "") or _("not recorded"),
            "count": row["count"],
        }
        for row in by_county
    ]

    by_group = [
        {
            "code": row["group__code"] or "",
            "name": row["group__name"] or _("not recorded"),
            "count": row["count"],
        }
        for row in people.values("group__code", "group__name", "group__sort")
        .annotate(count=Count("pk"))
        .order_by("group__sort", "group__code")
    ]
    return {"total": total, "by_region": by_region, "by_group": by_group}
