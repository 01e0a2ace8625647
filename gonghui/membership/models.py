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
    REJECTED = "rejected", _("rejected")


class Channel(models.TextChoices):
    """How an application (and the consent that goes with it) reached the union."""

    ONLINE = "online", _("online (phone page)")
    ONSITE = "onsite", _("on site (service station)")
    ROSTER = "roster", _("roster (collective enrolment)")
    API = "api", _("API (platform or app)")
    TRANSFER = "transfer", _("transfer from another union")


class Membership(models.Model):
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="memberships"
    )
    # No index of its own: the (org, status) index below serves lookups by union. Bulk enrolment and
    # approval write every index of this table per row, so it carries only those that queries use.
    org = models.ForeignKey(
        Org, verbose_name=_("union"), on_delete=models.PROTECT, related_name="memberships", db_index=False
    )
    status = models.CharField(
        _("status"), max_length=20, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    # Not unique by itself: a transfer that keeps the number shows it on the old (transferred out)
    # row and on the new one. Uniqueness is held by MemberNumber (a number is issued to one person,
    # never again) and by the partial constraint below (no two active memberships share a number).
    # NULL (not "") until approval: "no number yet" must not collide in the partial unique index.
    # Found through MemberNumber (unique) or the partial unique index of active numbers.
    member_no = models.CharField(_("member number"), max_length=40, null=True, blank=True)  # noqa: DJ001
    joined_on = models.DateField(_("joined on"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.ONLINE)
    consent_version = models.CharField(_("consent text version"), max_length=40, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    reject_reason = models.CharField(_("reason for rejection"), max_length=300, blank=True)
    source_batch_id = models.BigIntegerField(_("census batch"), null=True, blank=True)
    transferred_from = models.ForeignKey(
        "self",
        verbose_name=_("transferred from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        permissions = [
            (
                "check_membership",
                _("Can check whether an ID number is an active member (API, each call audited)"),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status="active"),
                name="membership_one_active_per_person",
            ),
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status="pending"),
                name="membership_one_pending_per_person",
            ),
            models.UniqueConstraint(
                fields=["member_no"],
                condition=models.Q(status="active"),
                name="membership_member_no_active_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(member_no__isnull=False),
                name="membership_active_has_number",
            ),
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
        db_index=False,  # written per row by bulk approval, never looked up by user
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("membership event")
        verbose_name_plural = _("membership events")

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.from_status or '-'} → {self.to_status}"


class MemberNumber(models.Model):
    """A member number as issued: to one person, by one union, never issued again (unique)."""

    # Unique through the constraint below, not `unique=True`: on PostgreSQL that would add a second
    # (pattern) index for LIKE searches, which nothing makes, and bulk approval writes every index.
    number = models.CharField(_("member number"), max_length=40)
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="member_numbers"
    )
    issued_by = models.ForeignKey(
        Org, verbose_name=_("issuing union"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    rule = models.CharField(_("numbering rule"), max_length=100, blank=True)
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member number")
        verbose_name_plural = _("member numbers")
        constraints = [models.UniqueConstraint(fields=["number"], name="membership_member_number_unique")]

    def __str__(self) -> str:
        return self.number


class MemberNumberCounter(models.Model):
    """The next sequence number for one number prefix (issuing union + period); only ever grows.

    Taken with a conditional UPDATE (`next_value = old + n WHERE next_value = old`), so two
    approvals can never take the same range.
    """

    prefix = models.CharField(_("number prefix"), max_length=40, unique=True)
    next_value = models.PositiveBigIntegerField(_("next value"), default=1)

    class Meta:
        verbose_name = _("member number counter")
        verbose_name_plural = _("member number counters")

    def __str__(self) -> str:
        return f"{self.prefix}: {self.next_value}"


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", _("requested")
    CONFIRMED = "confirmed", _("confirmed")
    REFUSED = "refused", _("refused")
    CANCELLED = "cancelled", _("cancelled")


class TransferRequester(models.TextChoices):
    WORKER = "worker", _("the worker")
    FROM_UNION = "from_union", _("the union they leave")
    TO_UNION = "to_union", _("the receiving union")


class Transfer(models.Model):
    """A move (转会) of an active member to another grassroots union, confirmed by the receiving union."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("membership"), on_delete=models.PROTECT, related_name="transfers"
    )
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="transfers"
    )
    from_org = models.ForeignKey(
        Org, verbose_name=_("from union"), on_delete=models.PROTECT, related_name="+"
    )
    to_org = models.ForeignKey(Org, verbose_name=_("to union"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.REQUESTED
    )
    requested_by_kind = models.CharField(_("requested by"), max_length=20, choices=TransferRequester.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by (user)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_reason = models.CharField(_("decision reason"), max_length=300, blank=True)
    new_membership = models.OneToOneField(
        Membership,
        verbose_name=_("new membership"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfer_in",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            models.UniqueConstraint(
                fields=["membership"],
                condition=models.Q(status="requested"),
                name="membership_one_open_transfer",
            )
        ]
        indexes = [models.Index(fields=["to_org", "status"], name="membership_transfer_to")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.from_org_id} → {self.to_org_id} ({self.status})"
