"""The census in the Django admin: batches and rows read-only (rows masked), the review queue
decided through `review_decide`, remembered decisions read-only. Scoped like every admin page."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gonghui.web.adminscope import ReadOnlyAdminMixin, ScopedModelAdmin

from .models import BatchRow, ImportBatch, LinkDecision, ReviewItem, ReviewStatus
from .services import CensusError, review_decide


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    list_display = ("name", "source_kind", "file_name", "org", "status", "rows_total", "rows_rejected", "created_at")
    list_filter = ("source_kind", "status")
    list_select_related = ("org",)
    search_fields = ("name", "file_name", "sha256")
    fields = (
        "name",
        "source_kind",
        "file_name",
        "sha256",
        "sheet",
        "header_row",
        "mapping",
        "org",
        "imported_by",
        "supersedes",
        "status",
        "error",
        "progress_done",
        "progress_total",
        "rows_total",
        "rows_valid",
        "rows_rejected",
        "people_new",
        "people_linked",
        "rows_review",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
    list_per_page = 50


@admin.register(BatchRow)
class BatchRowAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """Rows as cleaned, masked only: the encrypted row as read and the keyed hashes are not shown."""

    list_display = ("batch", "row_number", "status", "name", "id_number_masked", "phone_masked", "group", "person")
    list_filter = ("status", "group")
    list_select_related = ("batch", "group", "person")
    search_fields = ("name",)
    fields = (
        "batch",
        "row_number",
        "status",
        "name",
        "id_number_masked",
        "id_last4",
        "phone_masked",
        "birth_date",
        "sex",
        "employer_name",
        "occupation",
        "address",
        "region",
        "group",
        "person",
        "match_probability",
        "issues",
    )
    readonly_fields = fields
    show_full_result_count = False
    list_per_page = 50


@admin.register(ReviewItem)
class ReviewItemAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """The review queue; decisions go through review_decide (the same as the web page's buttons)."""

    list_display = ("row", "candidate", "match_probability", "status", "decided_by", "decided_at")
    list_filter = ("status",)
    list_select_related = ("row", "row__batch", "candidate", "decided_by")
    fields = ("row", "candidate", "match_probability", "status", "decided_by", "decided_at", "created_at")
    readonly_fields = fields
    actions = ("confirm_same_person", "reject_different_people")

    def _decide(self, request, queryset, same_person: bool) -> None:
        decided = 0
        for item in queryset.filter(status=ReviewStatus.OPEN):
            try:
                review_decide(viewer=request.user, item=item, same_person=same_person)
            except CensusError as refused:
                self.message_user(request, str(refused), messages.WARNING)
                continue
            decided += 1
        self.message_user(request, ngettext("%(count)d item decided.", "%(count)d items decided.", decided) % {"count": decided})

    @admin.action(description=_("Same person (confirm)"), permissions=["view"])
    def confirm_same_person(self, request, queryset):
        self._decide(request, queryset, True)

    @admin.action(description=_("Different people (reject)"), permissions=["view"])
    def reject_different_people(self, request, queryset):
        self._decide(request, queryset, False)


@admin.register(LinkDecision)
class LinkDecisionAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    list_display = ("fingerprint_short", "person", "same_person", "decided_by", "decided_at")
    list_filter = ("same_person",)
    list_select_related = ("person", "decided_by")
    fields = ("fingerprint", "person", "same_person", "decided_by", "decided_at")
    readonly_fields = fields

    @admin.display(description=_("row fingerprint"))
    def fingerprint_short(self, obj):
        return obj.fingerprint[:12]
