"""Outreach (集中行动): the people each union should enrol and has not, who contacts them, and campaigns.

- A union's list: people whose primary union (`Coverage.primary_org`, from the last weave run) is
  the union or a union in its subtree, and who have no active membership. Shown masked.
- Staff of the union (admin or staff of it or of a union above) assign people, many at once, to a
  colleague — a user holding a role in that union. An assignment belongs to the union that made
  it (one per union and person); a higher union's page shows its own assignments.
- Each contact (visited, phoned, declined with a reason, joined) is recorded with who and when;
  the assignment's status follows the last contact (visited/phoned -> contacted). Recording
  "joined" notes what the person said; the membership itself is made through `membership`.
- A campaign sets a target of new members between two dates; progress counts new active
  memberships joined in the period in the union's subtree, and contacts made, per day and per
  union directly below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from gonghui.accounts.models import Role
from gonghui.accounts.selectors import viewer_scope
from gonghui.audit.services import audit_record
from gonghui.membership.models import Membership, MembershipStatus
from gonghui.orgs.models import Org
from gonghui.people.models import Person
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .board import acting_q
from .models import Campaign, ContactKind, OutreachAssignment, OutreachContact, OutreachStatus

UNASSIGNED = "unassigned"

# The status an assignment takes after each kind of contact.
STATUS_AFTER = {
    ContactKind.VISITED: OutreachStatus.CONTACTED,
    ContactKind.PHONED: OutreachStatus.CONTACTED,
    ContactKind.DECLINED: OutreachStatus.DECLINED,
    ContactKind.JOINED: OutreachStatus.JOINED,
}


class OutreachError(ValueError):
    """An outreach action that is not allowed (not your union, not a colleague, missing reason...)."""


# --- selectors --------------------------------------------------------------------------------------


def outreach_unions(*, viewer) -> QuerySet[Org]:
    """The unions the viewer acts for (admin or staff of it or of a union above), in tree order."""
    return Org.objects.filter(acting_q(viewer)).filter(viewer_scope(viewer).orgs_q()).order_by("path")


def access_outreach_union(viewer, org_id) -> Org:
    """A union the viewer works outreach for; Http404 otherwise (also outside their subtree)."""
    try:
        pk = int(org_id)
    except (TypeError, ValueError):
        raise Http404("no such union") from None
    org = outreach_unions(viewer=viewer).select_related("region").filter(pk=pk).first()
    if org is None:
        raise Http404("no such union")
    return org


def colleagues(*, org: Org):
    """Users holding a role in `org` itself: who its people may be assigned to."""
    return (
        get_user_model()
        .objects.filter(is_active=True, roles__org=org)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def to_enrol(
    *,
    viewer,
    org: Org,
    group_code: str = "",
    region_code: str = "",
    assignment: str = "",
    assignee_id: int | None = None,
) -> QuerySet[Person]:
    """People `org` (with its subtree) should enrol and has not, with `org`'s assignment of each.

    Each person carries `a_id`, `a_status` and `a_assignee` (None when `org` has not assigned
    them). Filters: occupation group code, region (division code prefix of where they are
    counted), `assignment` ("unassigned" or an OutreachStatus), assignee. The viewer must act for
    `org` (see `access_outreach_union`); this re-checks it.
    """
    if not outreach_unions(viewer=viewer).filter(pk=org.pk).exists():
        raise Http404("no such union")
    mine = OutreachAssignment.objects.filter(org=org, person=OuterRef("pk"))
    qs = (
        Person.objects.filter(coverage__primary_org__path__startswith=org.path)
        .filter(~Exists(Membership.objects.filter(person=OuterRef("pk"), status=MembershipStatus.ACTIVE)))
        .annotate(
            a_id=Subquery(mine.values("pk")[:1]),
            a_status=Subquery(mine.values("status")[:1]),
            a_assignee=Subquery(mine.values("assignee__username")[:1]),
        )
        .select_related("coverage__group", "coverage__region", "coverage__primary_org")
        .order_by("pk")
    )
    if group_code:
        qs = qs.filter(coverage__group__code=group_code)
    if region_code:
        qs = qs.filter(coverage__region__code__startswith=_prefix(region_code))
    if assignment == UNASSIGNED:
        qs = qs.filter(~Exists(mine))
    elif assignment in OutreachStatus.values:
        qs = qs.filter(Exists(mine.filter(status=assignment)))
    if assignee_id:
        qs = qs.filter(Exists(mine.filter(assignee_id=assignee_id)))
    return qs


def _prefix(code: str) -> str:
    """A division code as typed (6 or 12 digits) to the prefix its subtree shares."""
    region = Region.objects.filter(code=code.ljust(12, "0")).only("code", "level").first()
    if region is None:
        return code
    return region.code[: PREFIX_LENGTH[RegionLevel(region.level)]]


def my_assignments(*, viewer, status: str = "") -> QuerySet[OutreachAssignment]:
    """The assignments given to the viewer, in unions still in their scope, newest first."""
    qs = (
        OutreachAssignment.objects.filter(assignee=viewer)
        .filter(viewer_scope(viewer).orgs_q("org__"))
        .select_related("person", "person__group", "person__work_region", "org")
        .order_by("status", "-assigned_at", "pk")
    )
    if status in OutreachStatus.values:
        qs = qs.filter(status=status)
    return qs


def access_assignment(viewer, assignment_id) -> OutreachAssignment:
    """An assignment the viewer may work on: theirs, or of a union they act for; Http404 otherwise."""
    try:
        pk = int(assignment_id)
    except (TypeError, ValueError):
        raise Http404("no such assignment") from None
    found = (
        OutreachAssignment.objects.filter(pk=pk)
        .filter(viewer_scope(viewer).orgs_q("org__"))
        .filter(Q(assignee=viewer) | Q(org__in=Org.objects.filter(acting_q(viewer))))
        .select_related("person", "person__group", "person__work_region", "org", "assignee")
        .first()
    )
    if found is None or not getattr(viewer, "is_authenticated", False):
        raise Http404("no such assignment")
    return found


def assignment_contacts(*, assignment: OutreachAssignment) -> QuerySet[OutreachContact]:
    return assignment.contacts.select_related("by").order_by("-at", "-pk")


def campaigns_of(*, viewer, org: Org) -> QuerySet[Campaign]:
    return Campaign.objects.filter(org=org).filter(viewer_scope(viewer).orgs_q("org__"))


def access_campaign(viewer, campaign_id) -> Campaign:
    """A campaign of a union in the viewer's scope; Http404 otherwise."""
    try:
        pk = int(campaign_id)
    except (TypeError, ValueError):
        raise Http404("no such campaign") from None
    found = (
        Campaign.objects.filter(pk=pk)
        .filter(viewer_scope(viewer).orgs_q("org__"))
        .select_related("org", "org__region")
        .first()
    )
    if found is None:
        raise Http404("no such campaign")
    return found


@dataclass(frozen=True)
class CampaignDay:
    day: dt.date
    members: int
    contacts: int
    members_to_date: int


@dataclass(frozen=True)
class CampaignUnit:
    org: Org
    members: int
    contacts: int
    target: int | None  # the unit's own campaign target over an overlapping period, if any


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    days: list[CampaignDay]
    members: int
    contacts: int
    share: float  # members / target
    units: list[CampaignUnit]
    through: dt.date  # the last day counted (today, or the end when it is over)


def _by_child(org: Org, rows) -> dict[int, int]:
    """(org path, count) rows summed per child of `org` (the id after org's own in the path)."""
    out: dict[int, int] = {}
    for path, n in rows:
        ids = path.strip("/").split("/")
        if len(ids) > org.depth + 1:
            child = int(ids[org.depth + 1])
            out[child] = out.get(child, 0) + n
    return out


def campaign_progress(*, campaign: Campaign, today: dt.date | None = None) -> CampaignProgress:
    """New active members (joined in the period, in the union's subtree) and contacts per day and per union below.

    A fixed number of queries whatever the length of the period or the number of unions below;
    the unions below are those with new members, contacts or a campaign of their own in the period.
    """
    org = campaign.org
    today = today or timezone.localdate()
    start, end = campaign.starts_on, campaign.ends_on
    members = Membership.objects.filter(
        org__path__startswith=org.path,
        status=MembershipStatus.ACTIVE,
        joined_on__gte=start,
        joined_on__lte=end,
    )
    contacts = OutreachContact.objects.filter(
        assignment__org__path__startswith=org.path,
        at__date__gte=start,
        at__date__lte=end,
    )
    by_day_members = dict(members.order_by().values_list("joined_on").annotate(n=Count("pk")))
    by_day_contacts = dict(
        contacts.annotate(day=TruncDate("at")).order_by().values_list("day").annotate(n=Count("pk"))
    )
    through = min(end, max(today, start))
    days, total = [], 0
    day = start
    while day <= through:
        n = by_day_members.get(day, 0)
        total += n
        days.append(CampaignDay(day, n, by_day_contacts.get(day, 0), total))
        day += dt.timedelta(days=1)

    # Per union directly below: counts grouped by the union they fall in, each folded into the
    # child its tree path passes through (one GROUP BY each, however many unions there are).
    member_by_child = _by_child(org, members.order_by().values_list("org__path").annotate(n=Count("pk")))
    contact_by_child = _by_child(
        org, contacts.order_by().values_list("assignment__org__path").annotate(n=Count("pk"))
    )
    targets: dict[int, int] = {}
    for org_id, target in Campaign.objects.filter(
        org__parent=org, starts_on__lte=end, ends_on__gte=start
    ).values_list("org_id", "target"):
        targets[org_id] = targets.get(org_id, 0) + target
    shown = set(member_by_child) | set(contact_by_child) | set(targets)
    units = [
        CampaignUnit(c, member_by_child.get(c.pk, 0), contact_by_child.get(c.pk, 0), targets.get(c.pk))
        for c in Org.objects.filter(pk__in=shown, parent=org).order_by("path")
    ]
    units.sort(key=lambda u: (-u.members, -u.contacts, u.org.path))
    all_members = sum(by_day_members.values())
    return CampaignProgress(
        campaign=campaign,
        days=days,
        members=all_members,
        contacts=sum(by_day_contacts.values()),
        share=all_members / campaign.target if campaign.target else 0.0,
        units=units,
        through=through,
    )


# --- services ---------------------------------------------------------------------------------------


def _check_acts_for(viewer, org: Org) -> None:
    if not outreach_unions(viewer=viewer).filter(pk=org.pk).exists():
        raise OutreachError(f"您不是 {org.name}（{org.code}）或其上级工会的工作人员，不能为其安排走访")


@transaction.atomic
def outreach_assign(*, viewer, org: Org, person_ids: Iterable[int], assignee, ip: str | None = None) -> int:
    """Give these people of `org`'s list to `assignee`, a colleague holding a role in `org`.

    Set-based: one query checks every person is on the list (else OutreachError naming them and
    nothing written), one UPDATE moves existing assignments, one INSERT adds the rest. The status
    of an existing assignment is kept. Returns how many people were assigned; one audit row.
    """
    _check_acts_for(viewer, org)
    ids = sorted({int(i) for i in person_ids})
    if not ids:
        raise OutreachError("请至少选择一名人员（person_ids）")
    _check_colleague(assignee, org)
    eligible = set(to_enrol(viewer=viewer, org=org).filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in eligible]
    if missing:
        shown = "、".join(f"#{i}" for i in missing[:10]) + ("等" if len(missing) > 10 else "")
        raise OutreachError(f"人员 {shown} 不在 {org.name} 的应入会未入会名单中")
    now = timezone.now()
    existing = set(
        OutreachAssignment.objects.filter(org=org, person_id__in=ids).values_list("person_id", flat=True)
    )
    OutreachAssignment.objects.filter(org=org, person_id__in=existing).update(
        assignee=assignee, assigned_by=viewer, updated_at=now
    )
    OutreachAssignment.objects.bulk_create(
        [
            OutreachAssignment(org=org, person_id=i, assignee=assignee, assigned_by=viewer)
            for i in ids
            if i not in existing
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    audit_record(
        actor=viewer,
        action="weave.outreach_assign",
        target=org,
        detail={"assignee": assignee.pk, "people": ids, "reassigned": len(existing)},
        ip=ip,
    )
    return len(ids)


def _check_colleague(assignee, org: Org) -> None:
    if assignee is None or not Role.objects.filter(user=assignee, org=org).exists():
        raise OutreachError(f"{getattr(assignee, 'username', '—')} 在 {org.name} 没有岗位，不能被安排走访")


@transaction.atomic
def outreach_assign_matching(
    *,
    viewer,
    org: Org,
    assignee,
    group_code: str = "",
    region_code: str = "",
    assignment: str = "",
    assignee_id: int | None = None,
    ip: str | None = None,
) -> int:
    """Give everyone on `org`'s list matching these filters (as `to_enrol` takes them) to `assignee`.

    Set-based for any number of people: one INSERT of the people `org` has not assigned yet (their
    ids read in one query), one UPDATE … WHERE person IN (subquery) for the others. Returns how
    many were assigned; one audit row with the filters and counts.
    """
    _check_acts_for(viewer, org)
    _check_colleague(assignee, org)
    filters = {
        "group_code": group_code,
        "region_code": region_code,
        "assignment": assignment,
        "assignee_id": assignee_id,
    }
    matching = to_enrol(viewer=viewer, org=org, **filters)
    mine = OutreachAssignment.objects.filter(org=org, person=OuterRef("pk"))
    new_ids = list(matching.filter(~Exists(mine)).order_by().values_list("pk", flat=True))
    moved = OutreachAssignment.objects.filter(
        org=org, person__in=matching.filter(Exists(mine)).order_by().values("pk")
    ).update(assignee=assignee, assigned_by=viewer, updated_at=timezone.now())
    OutreachAssignment.objects.bulk_create(
        [OutreachAssignment(org=org, person_id=i, assignee=assignee, assigned_by=viewer) for i in new_ids],
        batch_size=1000,
        ignore_conflicts=True,
    )
    audit_record(
        actor=viewer,
        action="weave.outreach_assign",
        target=org,
        detail={"assignee": assignee.pk, "filters": filters, "new": len(new_ids), "reassigned": moved},
        ip=ip,
    )
    return len(new_ids) + moved


@transaction.atomic
def outreach_contact(
    *, viewer, assignment: OutreachAssignment, kind: str, note: str = "", ip: str | None = None
) -> OutreachContact:
    """Record one contact by the viewer; the assignment's status becomes the one after this kind.

    Only the assignee or staff of the union (or above) may record; a refusal needs its reason
    (OutreachError otherwise, nothing written). Audited (the note stays in the contact row only).
    """
    if kind not in ContactKind.values:
        raise OutreachError(f"未知的走访方式 kind={kind!r}")
    acts = outreach_unions(viewer=viewer).filter(pk=assignment.org_id).exists()
    if assignment.assignee_id != getattr(viewer, "pk", None) and not acts:
        raise OutreachError("只有被安排的同事或本工会工作人员可以记录走访")
    note = (note or "").strip()
    if kind == ContactKind.DECLINED and not note:
        raise OutreachError("记录“拒绝”须填写原因（note）")
    contact = OutreachContact.objects.create(assignment=assignment, kind=kind, note=note[:300], by=viewer)
    before = assignment.status
    after = STATUS_AFTER[ContactKind(kind)]
    OutreachAssignment.objects.filter(pk=assignment.pk).update(status=after, updated_at=timezone.now())
    assignment.status = after
    audit_record(
        actor=viewer,
        action="weave.outreach_contact",
        target=assignment,
        detail={"kind": kind, "from": before, "to": after, "contact": contact.pk},
        ip=ip,
    )
    return contact


@transaction.atomic
def campaign_create(
    *,
    viewer,
    org: Org,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    target: int,
    ip: str | None = None,
) -> Campaign:
    """A concentrated drive of `org`: `target` new members from `starts_on` to `ends_on` (inclusive). Audited."""
    _check_acts_for(viewer, org)
    name = (name or "").strip()
    if not name:
        raise OutreachError("集中行动名称（name）不能为空")
    if starts_on is None or ends_on is None or ends_on < starts_on:
        raise OutreachError("结束日期（ends_on）不能早于开始日期（starts_on）")
    if target is None or int(target) < 1:
        raise OutreachError("目标新增会员数（target）须为正整数")
    campaign = Campaign.objects.create(
        org=org, name=name, starts_on=starts_on, ends_on=ends_on, target=int(target)
    )
    audit_record(
        actor=viewer,
        action="weave.campaign_create",
        target=campaign,
        detail={"org": org.code, "starts_on": str(starts_on), "ends_on": str(ends_on), "target": int(target)},
        ip=ip,
    )
    return campaign
