"""The weave in the Django admin: runs, the current coverage and the changes, read-only.

They are written only by weave runs. `web.adminscope.scoped_queryset` shows them to superusers
(global scope); anyone else sees none of these rows here and uses the weave pages instead.
"""

from django.contrib import admin

from gonghui.web.adminscope import ReadOnlyAdminMixin, ScopedModelAdmin

from .models import Coverage, CoverageChange, WeaveRun


@admin.register(WeaveRun)
class WeaveRunAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    list_display = (
        "id",
        "status",
        "trigger",
        "policy_version",
        "people",
        "covered",
        "holes",
        "overlaps",
        "started_at",
    )
    list_filter = ("status",)
    list_per_page = 50


@admin.register(Coverage)
class CoverageAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    list_display = ("person", "primary_org", "primary_rule", "n_covering", "reason", "run")
    list_filter = ("primary_rule",)
    list_select_related = ("person", "primary_org", "run")
    raw_id_fields = ("person", "primary_org", "region", "group", "run")
    list_per_page = 50


@admin.register(CoverageChange)
class CoverageChangeAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    list_display = ("run", "person", "kind", "before_org", "after_org")
    list_filter = ("kind",)
    list_select_related = ("run", "person", "before_org", "after_org")
    raw_id_fields = ("run", "person", "before_org", "after_org")
    list_per_page = 50
