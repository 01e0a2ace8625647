"""The public registration pages' choice of where the worker works, the join page's region widget."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gonghui.membership.forms_public import RegionChoiceField, work_region_choices
from gonghui.regions.models import Region, RegionLevel

from .models import Contest
from .services import work_area_regions
from .stats import region_level


class WorkAreaForm(forms.Form):
    """One <select> of `services.work_area_regions`, grouped by the level the statistics count by (a
    provincial contest: per city, the city then its counties). Whether it may be left empty is the
    service's rule (`services.work_area_check`); a value not in the list is refused here, named."""

    work_region = RegionChoiceField(
        label=_("Where you work"),
        queryset=Region.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("Where you work: choose a place from the list.")},
    )

    def __init__(self, *args, contest: Contest, **kwargs):
        super().__init__(*args, **kwargs)
        regions = work_area_regions(contest)
        level = region_level(contest)
        field = self.fields["work_region"]
        field.queryset = regions
        field.choices = work_region_choices(
            regions, group_level=level, indent_level=min(level + 1, RegionLevel.VILLAGE)
        )
        field.widget.attrs["required"] = True

    def region(self) -> Region | None:
        """The chosen region (None: none chosen); call after `is_valid()`."""
        return self.cleaned_data.get("work_region")

    def error(self) -> str:
        return next(iter(self.errors.get("work_region", [])), "")
