"""Membership: who is a member of which grassroots union, with every change of status kept.

A `Membership` is one person's membership of one grassroots union (enterprise, joint, industry,
township or village union). Its status moves only through `membership.services` (one state
machine, every move a `MembershipEvent`). The database itself allows at most one active
membership per person.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.orgs.models import Org
from gonghui.people.models import Person


class MembershipStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    ACTIVE = "active", _("active")
    TRANSFERRED_OUT = "transferred_out", _("transferred out")
    LAPSED = "lapsed", _("lapsed")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Membership(models.Model):
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="memberships"
    )
    org = models.ForeignKey(
        Org, verbose_name=_("union"), on_delete=models.PROTECT, related_name="memberships"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    member_no = models.CharField(_("member number"), max_length=40, null=True, blank=True, unique=True)
    joined_on = models.DateField(_("joined on"), null=True, blank=True, db_index=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status="active"),
                name="membership_one_active_per_person",
            )
        ]
        indexes = [models.Index(fields=["org", "status"], name="membership_org_status")]

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.org_id} ({self.status})"


class MembershipEvent(models.Model):
    """One status change of a membership: from which status to which, who, when, why."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("membership"), on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(_("from"), max_length=20, choices=MembershipStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=MembershipStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("membership event")
        verbose_name_plural = _("membership events")

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.from_status or '-'} → {self.to_status}"
