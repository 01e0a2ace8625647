from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.regions.models import Region


class OccupationGroup(models.Model):
    """The "eight groups" of new-employment-form workers and the other platform work the census sees."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=60, blank=True)
    is_eight_groups = models.BooleanField(_("one of the eight groups"), default=False)
    sort = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("occupation group")
        verbose_name_plural = _("occupation groups")

    def __str__(self) -> str:
        return self.name


class Employer(models.Model):
    """An enterprise or platform company, known by its unified social credit code (GB 32100)."""

    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=200)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_platform = models.BooleanField(_("platform company"), default=False)
    is_head_enterprise = models.BooleanField(_("head enterprise"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("employer")
        verbose_name_plural = _("employers")

    def __str__(self) -> str:
        return self.name


class OrgKind(models.TextChoices):
    FEDERATION = "federation", _("federation of trade unions")
    TOWNSHIP = "township", _("township / street union")
    VILLAGE = "village", _("village / community union")
    ENTERPRISE = "enterprise", _("enterprise union")
    JOINT = "joint", _("regional joint union")
    INDUSTRY = "industry", _("industry federation")


class OrgStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    PREPARING = "preparing", _("preparing")
    DISSOLVED = "dissolved", _("dissolved")


class Org(models.Model):
    """A union organisation in the tree. `path` ("/1/7/42/") makes a subtree one prefix query."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=OrgKind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    path = models.CharField(_("tree path"), max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(_("depth"), default=0, editable=False)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT, related_name="orgs"
    )
    founded_on = models.DateField(_("founded on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=OrgStatus.choices, default=OrgStatus.ACTIVE)
    covers_regions = models.ManyToManyField(
        Region, verbose_name=_("covers regions"), blank=True, related_name="covering_orgs"
    )
    covers_groups = models.ManyToManyField(
        OccupationGroup, verbose_name=_("covers occupation groups"), blank=True, related_name="covering_orgs"
    )
    covers_employers = models.ManyToManyField(
        Employer, verbose_name=_("covers employers"), blank=True, related_name="unions"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("union organisation")
        verbose_name_plural = _("union organisations")

    def __str__(self) -> str:
        return self.name

    @property
    def federation_level(self) -> str:
        """national / province / city / county, from the region the federation sits in."""
        if self.kind != OrgKind.FEDERATION:
            return ""
        if self.region is None:
            return "national"
        return {1: "province", 2: "city", 3: "county"}.get(self.region.level, "")
