from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from gonghui.web.adminscope import ScopedModelAdmin

from .models import Person
from .selectors import person_list, protected_search_hash
from .services import person_update

# What the admin may change: nothing protected (ID number, phone) and nothing derived from them.
EDITABLE_FIELDS = ("name", "employer", "group", "occupation", "work_region", "home_region")


@admin.register(Person)
class PersonAdmin(ScopedModelAdmin):
    """People, shown masked only. No plaintext column is ever read here; edits go through person_update."""

    list_display = ("name", "id_number_masked", "phone_masked", "group", "work_region", "employer")
    list_select_related = ("group", "work_region", "employer")
    list_filter = ("group",)
    search_fields = ("name",)  # names only: an ID number or mobile in ?q= would sit in addresses and logs
    autocomplete_fields = ("employer", "work_region", "home_region")
    fields = (
        "name",
        "id_number_masked",
        "phone_masked",
        "birth_date",
        "sex",
        "birthplace_code",
        "employer",
        "group",
        "occupation",
        "work_region",
        "home_region",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(f for f in fields if f not in EDITABLE_FIELDS)
    show_full_result_count = False  # one count fewer on a changelist of tens of thousands
    list_per_page = 50

    def has_add_permission(self, request):
        return False  # people come from the census import and services, which check ID numbers

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        # Names only. The changelist searches by GET, so a full ID number or mobile typed here would
        # sit in the address, the browser history and the server's log: it is not searched, and the
        # user is sent to the people page, whose search box posts and keeps only the keyed hash.
        if not search_term.strip():
            return queryset, False
        if protected_search_hash(search_term) is not None:
            messages.warning(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    _("ID numbers and mobile numbers are not searched here, so they stay out of addresses."),
                    reverse("people_list"),
                    _("Search on the people page"),
                ),
            )
            return queryset.none(), False
        found = person_list(viewer=request.user, q=search_term).values("pk")
        return queryset.filter(pk__in=found), False

    def save_model(self, request, obj, form, change):
        original = Person.objects.get(pk=obj.pk)
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE_FIELDS}
        person_update(person=original, actor=request.user, **changes)
