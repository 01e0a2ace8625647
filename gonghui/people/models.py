from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gonghui.orgs.models import Employer, OccupationGroup
from gonghui.regions.models import Region


class Sex(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")


class Person(models.Model):
    """One row per real person.

    The resident ID number and the phone are sensitive personal information (PIPL): they are
    stored only as ciphertext (`*_cipher`), found by a keyed hash (`*_hash`, HMAC-SHA256; the
    unique constraint on the ID hash makes one row per person), and shown as the masked form
    kept beside them. Nothing here holds a plaintext ID number or phone.
    """

    name = models.CharField(pgettext_lazy("person", "Name"), max_length=100)  # 姓名, not 名称
    id_number_cipher = models.TextField(_("ID number (encrypted)"), blank=True, editable=False)
    # null, not "", for no ID number: the unique constraint (Meta) must let many people lack one.
    id_number_hash = models.CharField(  # noqa: DJ001
        _("ID number (keyed hash)"), max_length=64, null=True, blank=True, editable=False
    )
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birthplace_code = models.CharField(_("birthplace code"), max_length=6, blank=True)
    phone_cipher = models.TextField(_("phone (encrypted)"), blank=True, editable=False)
    phone_hash = models.CharField(_("phone (keyed hash)"), max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=11, blank=True, editable=False)
    employer = models.ForeignKey(
        Employer,
        verbose_name=_("employer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people",
    )
    group = models.ForeignKey(
        OccupationGroup,
        verbose_name=_("occupation group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people",
    )
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    work_region = models.ForeignKey(
        Region,
        verbose_name=_("work region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    home_region = models.ForeignKey(
        Region,
        verbose_name=_("home region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        permissions = [("view_unmasked", _("Can view unmasked ID numbers and phones (logged)"))]
        # Declared here rather than with unique=True / db_index=True on the fields: on PostgreSQL
        # those add a second, `varchar_pattern_ops` index to each of these columns for LIKE 'x%'
        # queries, which nothing makes (names are searched with icontains, hashes for equality),
        # and a census import of a million rows paid for keeping them (three of eleven indexes).
        constraints = [
            models.UniqueConstraint(fields=["id_number_hash"], name="person_id_number_hash_unique")
        ]
        indexes = [
            models.Index(fields=["name"], name="person_name"),
            models.Index(fields=["phone_hash"], name="person_phone_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.id_number_masked}"


class ConsentChannel(models.TextChoices):
    ONLINE = "online", _("online application")
    ROSTER = "roster", _("roster (collective enrolment)")
    API = "api", _("platform API")
    COUNTER = "counter", _("in person at a union")


class ConsentRecord(models.Model):
    """One person's consent to one version of a consent text (PIPL), kept as given: append-only.

    `items` lists the codes consented to (`notice`, and each sensitive item such as `id_number`
    and `phone`, each a separate consent) from `policies/consent/<purpose>.yaml` at `version`.
    Written only through `people.services.consent_record` / `consent_record_bulk`; never changed
    (a withdrawal or a new version is a new row).
    """

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="consents"
    )
    purpose = models.CharField(_("purpose"), max_length=40)
    version = models.CharField(_("text version"), max_length=20)
    items = models.JSONField(_("items consented"), default=list)
    channel = models.CharField(_("channel"), max_length=20, choices=ConsentChannel.choices)
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    given_at = models.DateTimeField(_("given at"), db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["given_at", "id"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [models.Index(fields=["person", "purpose"], name="consent_person_purpose")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.purpose} v{self.version} ({self.channel})"

    def save(self, *args, **kwargs):
        # Append-only: a consent is evidence of what was agreed, when; it is never rewritten.
        if not self._state.adding:
            raise ValueError("consent records are append-only")
        super().save(*args, **kwargs)
