from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.selectors import viewer_scope
from gonghui.lib.creditcode import InvalidCreditCode, normalize_credit_code
from gonghui.web.adminscope import ScopedModelAdmin

from .models import Employer, OccupationGroup, Org
from .services import employer_upsert, org_create, org_set_coverage, org_update


@admin.register(OccupationGroup)
class OccupationGroupAdmin(ScopedModelAdmin):
    """National reference data: every staff user reads it, only superusers change it."""

    list_display = ("code", "name", "name_en", "is_eight_groups", "sort")
    search_fields = ("code", "name", "name_en")
    ordering = ("sort", "code")

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class EmployerForm(forms.ModelForm):
    class Meta:
        model = Employer
        fields = ("credit_code", "name", "region", "is_platform", "is_head_enterprise")

    def clean_credit_code(self):
        try:
            return normalize_credit_code(self.cleaned_data["credit_code"])
        except InvalidCreditCode as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Employer)
class EmployerAdmin(ScopedModelAdmin):
    form = EmployerForm
    list_display = ("name", "credit_code", "region", "is_platform", "is_head_enterprise")
    list_filter = ("is_platform", "is_head_enterprise")
    search_fields = ("name", "credit_code")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)

    def get_readonly_fields(self, request, obj=None):
        # The credit code is the employer's identity: a different code is a different employer.
        return ("credit_code",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = employer_upsert(
            credit_code=obj.credit_code,
            name=obj.name,
            is_platform=obj.is_platform,
            is_head_enterprise=obj.is_head_enterprise,
            region=obj.region,
        )
        obj.pk = saved.pk
        obj._state.adding = False


class OrgForm(forms.ModelForm):
    class Meta:
        model = Org
        fields = (
            "code",
            "name",
            "kind",
            "parent",
            "region",
            "founded_on",
            "status",
            "covers_regions",
            "covers_groups",
            "covers_employers",
        )

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        org = self.instance
        if parent is not None and org.pk and parent.path.startswith(org.path):
            raise forms.ValidationError(
                _("An organisation cannot be put under itself or one of its own units.")
            )
        return parent


@admin.register(Org)
class OrgAdmin(ScopedModelAdmin):
    form = OrgForm
    list_display = ("name", "code", "kind", "region", "status", "founded_on")
    list_filter = ("kind", "status")
    search_fields = ("name", "code")
    list_select_related = ("region",)
    autocomplete_fields = ("parent", "region", "covers_regions", "covers_employers")
    filter_horizontal = ("covers_groups",)
    readonly_fields = ("path", "depth", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "parent", "region", "founded_on", "status")}),
        (_("What it covers"), {"fields": ("covers_regions", "covers_groups", "covers_employers")}),
        (_("Tree"), {"fields": ("path", "depth", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        readonly = (*self.readonly_fields, "code")
        if not viewer_scope(request.user).is_global:
            # Moving an org re-roots its subtree; a scoped admin could move it out of their own sight.
            readonly += ("parent",)
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and not viewer_scope(request.user).is_global and "parent" in form.base_fields:
            # Below the viewer's own orgs only: an org without a parent would fall outside their sight.
            form.base_fields["parent"].required = True
        return form

    def save_model(self, request, obj, form, change):
        fields = {f: getattr(obj, f) for f in ("name", "kind", "region", "founded_on", "status")}
        if change:
            original = Org.objects.get(pk=obj.pk)
            if "parent" in form.cleaned_data:
                fields["parent"] = form.cleaned_data["parent"]
            saved = org_update(org=original, **fields)
        else:
            saved = org_create(code=obj.code, parent=obj.parent, **fields)
        # The coverage lists are saved onto this instance next (save_related).
        for f in ("pk", "path", "depth", "parent", "created_at", "updated_at"):
            setattr(obj, f, getattr(saved, f))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        org_set_coverage(
            org=form.instance,
            regions=form.cleaned_data.get("covers_regions", []),
            groups=form.cleaned_data.get("covers_groups", []),
            employers=form.cleaned_data.get("covers_employers", []),
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
