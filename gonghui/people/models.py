from django.db import models
from django.utils.translation import gettext_lazy as _

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

    name = models.CharField(_("name"), max_length=100, db_index=True)
    id_number_cipher = models.TextField(_("ID number (encrypted)"), blank=True, editable=False)
    id_number_hash = models.CharField(
        _("ID number (keyed hash)"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birthplace_code = models.CharField(_("birthplace code"), max_length=6, blank=True)
    phone_cipher = models.TextField(_("phone (encrypted)"), blank=True, editable=False)
    phone_hash = models.CharField(_("phone (keyed hash)"), max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=11, blank=True, editable=False)
    employer = models.ForeignKey(
        Employer, verbose_name=_("employer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
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
        Region, verbose_name=_("work region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    home_region = models.ForeignKey(
        Region, verbose_name=_("home region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        permissions = [("view_unmasked", _("Can view unmasked ID numbers and phones (logged)"))]

    def __str__(self) -> str:
        return f"{self.name} {self.id_number_masked}"
