from django.contrib import admin

from gonghui.web.adminscope import ReadOnlyAdminMixin, ScopedModelAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """The audit log, read-only: rows are written by audit.services.audit_record and nothing else."""

    list_display = ("at", "actor", "action", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("action", "target_id", "actor__username")
    list_select_related = ("actor",)
    date_hierarchy = "at"
    fields = ("at", "actor", "action", "target_type", "target_id", "detail", "ip")
    readonly_fields = fields
    list_per_page = 100
