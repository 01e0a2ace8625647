from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.IntegerChoices):
    PROVINCE = 1, _("province")
    CITY = 2, _("city")
    COUNTY = 3, _("county")
    TOWNSHIP = 4, _("township / street")
    VILLAGE = 5, _("village / community")


# How many leading digits of the 12-digit statistical code identify a unit at each level:
# the subtree of a region is every code that starts with its prefix.
PREFIX_LENGTH = {
    RegionLevel.PROVINCE: 2,
    RegionLevel.CITY: 4,
    RegionLevel.COUNTY: 6,
    RegionLevel.TOWNSHIP: 9,
    RegionLevel.VILLAGE: 12,
}


class Region(models.Model):
    """An administrative division, keyed by its 12-digit statistical division code."""

    code = models.CharField(_("division code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    is_demo = models.BooleanField(_("demo data"), default=False, help_text=_("Invented for the demo city."))

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def prefix(self) -> str:
        return self.code[: PREFIX_LENGTH[RegionLevel(self.level)]]

    @property
    def short_code(self) -> str:
        """The GB/T 2260 six-digit code for county level and above; the full code below."""
        return self.code[:6] if self.level <= RegionLevel.COUNTY else self.code
