from django.contrib import admin

from gonghui.web.adminscope import ScopedModelAdmin

from .models import Region


@admin.register(Region)
class RegionAdmin(ScopedModelAdmin):
    list_display = ("code", "name", "level", "parent", "is_demo")
    list_filter = ("level", "is_demo")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    ordering = ("code",)
    list_per_page = 100
