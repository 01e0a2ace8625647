"""The register of honours (荣誉登记): one row per holder per title per source, and certificate counters.

Any part of the platform that confers something (contest awards today; innovation awards and model
workers later) writes here through `honours.services`. A row names its holder (a person, or a team
by name), what was conferred (kind, title, level, amount for cash), who conferred it (the union,
and any co-conferring bodies by name), where it came from (a generic source type + id and a
readable label), the policy it rests on, and a certificate number issued once and never reused.
Rows are never deleted: a mistaken or withdrawn honour is revoked, with the reason.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gonghui.orgs.models import Org
from gonghui.people.models import Person


class HonourKind(models.TextChoices):
    MEDAL = "medal", _("medal")
    TITLE = "title", _("honorary title")
    CASH = "cash", _("cash award")
    PROMOTION = "promotion", _("skill level promotion")
    OTHER = "other", _("other honour")


class HonourLevel(models.TextChoices):
    NATIONAL = "national", _("national")
    PROVINCE = "province", _("provincial")
    CITY = "city", _("city")
    COUNTY = "county", _("county")
    INDUSTRY = "industry", _("industry")
    ENTERPRISE = "enterprise", _("enterprise")


class Honour(models.Model):
    """One honour conferred on one holder. `holder_key` ("person:<id>" or "team:<name>") makes a grant
    from the same source to the same holder with the same title a database-level duplicate."""

    person = models.ForeignKey(
        Person,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="honours",
    )
    team_name = models.CharField(_("holding team"), max_length=200, blank=True)
    holder_name = models.CharField(_("holder"), max_length=200)
    holder_key = models.CharField(_("holder key"), max_length=220)
    kind = models.CharField(_("kind"), max_length=12, choices=HonourKind.choices)
    title = models.CharField(pgettext_lazy("honour", "title"), max_length=200)
    level = models.CharField(_("level"), max_length=12, choices=HonourLevel.choices)
    conferred_by = models.ForeignKey(
        Org, verbose_name=_("conferring union"), on_delete=models.PROTECT, related_name="honours_conferred"
    )
    # Bodies that confer it jointly and are not unions here (a provincial human-resources department).
    conferred_with = models.CharField(_("conferred jointly with"), max_length=300, blank=True)
    source_type = models.CharField(_("source type"), max_length=60)
    source_id = models.CharField(_("source id"), max_length=40)
    source_label = models.CharField(_("source"), max_length=300)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    conferred_on = models.DateField(_("date conferred"))
    policy_file = models.CharField(_("policy file"), max_length=100, blank=True)
    policy_document = models.CharField(_("policy document"), max_length=200, blank=True)
    policy_effective = models.DateField(_("policy effective from"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount (yuan, before tax)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    certificate_no = models.CharField(_("certificate number"), max_length=60, unique=True)
    revoked = models.BooleanField(_("revoked"), default=False)
    revoked_reason = models.CharField(_("reason for revocation"), max_length=300, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-conferred_on", "certificate_no"]
        verbose_name = _("honour")
        verbose_name_plural = _("honours")
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id", "holder_key", "title"], name="honour_once_per_source"
            ),
            models.CheckConstraint(
                condition=models.Q(person__isnull=False) | ~models.Q(team_name=""), name="honour_has_holder"
            ),
            models.CheckConstraint(
                # amount > 0 alone lets NULL through (a CHECK passes on unknown), hence isnull=False.
                condition=models.Q(kind="cash", amount__isnull=False, amount__gt=0)
                | (~models.Q(kind="cash") & models.Q(amount__isnull=True)),
                name="honour_amount_only_for_cash",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked=False) | ~models.Q(revoked_reason=""),
                name="honour_revoked_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["conferred_by", "conferred_on"], name="honour_union_date"),
            models.Index(fields=["kind", "conferred_on"], name="honour_kind_date"),
        ]

    def __str__(self) -> str:
        return f"{self.certificate_no} {self.title}"


class CertificateCounter(models.Model):
    """The next sequence number for one certificate-number prefix; only ever grows (numbers are never reused)."""

    prefix = models.CharField(_("number prefix"), max_length=50, unique=True)
    next_value = models.PositiveBigIntegerField(_("next value"), default=1)

    class Meta:
        verbose_name = _("certificate number counter")
        verbose_name_plural = _("certificate number counters")

    def __str__(self) -> str:
        return f"{self.prefix}: {self.next_value}"
