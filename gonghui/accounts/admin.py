from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from gonghui.accounts.selectors import viewer_scope
from gonghui.web.adminscope import ReadOnlyAdminMixin, ScopedAdminMixin, ScopedModelAdmin, ScopedTabularInline

from .models import ApiToken, Role, User
from .services import role_grant, role_revoke


class RoleInline(ScopedTabularInline):
    model = Role
    extra = 0
    autocomplete_fields = ("org",)


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
    inlines = (RoleInline,)
    list_display = ("username", "first_name", "last_name", "is_active", "is_staff", "last_login")

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser hands out powers beyond the roles (which are scoped to the subtree).
            readonly += ("is_superuser", "groups", "user_permissions")
        return readonly

    def has_add_permission(self, request):
        # A new user holds no role yet, so would fall outside a scoped admin's sight at once.
        return viewer_scope(request.user).is_global and super().has_add_permission(request)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Role:
            return super().save_formset(request, form, formset, change)
        # Roles change through the accounts services, which audit every grant and revocation.
        for role_form in formset.deleted_forms:
            if role_form.instance.pk:
                role_revoke(user=role_form.instance.user, org=role_form.instance.org, actor=request.user)
        for role_form in formset.forms:
            if role_form in formset.deleted_forms or not role_form.has_changed():
                continue
            data = role_form.cleaned_data
            if data.get("org") and data.get("role"):
                previous = role_form.instance.pk and Role.objects.filter(pk=role_form.instance.pk).first()
                if previous and previous.org_id != data["org"].pk:
                    role_revoke(user=form.instance, org=previous.org, actor=request.user)
                role_grant(user=form.instance, org=data["org"], role=data["role"], actor=request.user)


@admin.register(Role)
class RoleAdmin(ScopedModelAdmin):
    list_display = ("user", "org", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "org__name", "org__code")
    list_select_related = ("user", "org")
    autocomplete_fields = ("user", "org")

    def save_model(self, request, obj, form, change):
        if change:
            previous = Role.objects.select_related("org", "user").get(pk=obj.pk)
            if (previous.user_id, previous.org_id) != (obj.user_id, obj.org_id):
                role_revoke(user=previous.user, org=previous.org, actor=request.user)
        saved = role_grant(user=obj.user, org=obj.org, role=obj.role, actor=request.user)
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        role_revoke(user=obj.user, org=obj.org, actor=request.user)

    def delete_queryset(self, request, queryset):
        for role in queryset.select_related("user", "org"):
            role_revoke(user=role.user, org=role.org, actor=request.user)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, ScopedModelAdmin):
    """Tokens are issued by the API (only their hash is kept); the admin lists them."""

    list_display = ("user", "short_hash", "created_at", "last_used_at", "expires_at")
    list_select_related = ("user",)
    fields = ("user", "short_hash", "created_at", "last_used_at", "expires_at")
    readonly_fields = fields

    @admin.display(description="SHA-256")
    def short_hash(self, obj):
        return f"{obj.key_hash[:8]}…"
