"""Page views counted per (key, day): no visitor, address, cookie or user agent is stored.

A key names what was viewed (`contest:jilin-2021:page`); a counter row holds how many times it was
viewed on one day. Counting is one upsert (`analytics.services.view_count`), so concurrent views
add up without a read-modify-write race.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyCounter(models.Model):
    key = models.CharField(_("key"), max_length=120)
    day = models.DateField(_("day"))
    count = models.PositiveBigIntegerField(_("count"), default=0)

    class Meta:
        ordering = ["key", "day"]
        verbose_name = _("daily counter")
        verbose_name_plural = _("daily counters")
        constraints = [models.UniqueConstraint(fields=["key", "day"], name="daily_counter_once_per_day")]

    def __str__(self) -> str:
        return f"{self.key} {self.day}: {self.count}"
