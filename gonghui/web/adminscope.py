"""Django admin, scoped to the viewer's subtree like every other page.

A non-superuser staff user sees and changes only what lies in the subtree of the orgs they hold
roles in (`accounts.selectors.viewer_scope`): changelists are filtered, choices in forms are
limited to what they may pick, and the change / delete / history pages of anything outside answer
404 (Django's admin would otherwise redirect with "doesn't exist", which is not the answer the
rest of the site gives). A superuser sees everything.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from gonghui.accounts.selectors import viewer_scope


def scoped_queryset(model: type[Model], user, queryset: QuerySet | None = None) -> QuerySet:
    """`queryset` (default: all rows of `model`) narrowed to what `user` may see in the admin."""
    from gonghui.accounts.models import ApiToken, Role, User
    from gonghui.audit.models import AuditEvent
    from gonghui.census.models import BatchRow, ImportBatch, LinkDecision, ReviewItem
    from gonghui.orgs.models import Employer, OccupationGroup, Org
    from gonghui.people.models import Person
    from gonghui.regions.models import Region

    qs = queryset if queryset is not None else model._default_manager.all()
    scope = viewer_scope(user)
    if scope.is_global:
        return qs
    if model is OccupationGroup:
        return qs  # national reference data: everyone reads it, only superusers change it
    if model is Region:
        return qs.filter(scope.regions_q())
    if model is Org:
        return qs.filter(scope.orgs_q())
    if model is Person:
        return qs.filter(scope.regions_q("work_region__"))
    if model is Employer:
        in_scope = Employer.objects.filter(
            scope.regions_q("region__")
            | Q(pk__in=Org.objects.filter(scope.orgs_q()).values("covers_employers"))
        )
        return qs.filter(pk__in=in_scope.values("pk"))
    if model is Role:
        return qs.filter(scope.orgs_q("org__"))
    if model is User:
        users = Role.objects.filter(scope.orgs_q("org__")).values("user")
        return qs.filter(Q(pk__in=users) | Q(pk=user.pk))
    if model is ApiToken:
        return qs.filter(user__in=scoped_queryset(User, user))
    if model is ImportBatch:
        return qs.filter(scope.orgs_q("org__"))  # a batch belongs to the union that imported it
    if model is BatchRow:
        return qs.filter(scope.orgs_q("batch__org__"))
    if model is ReviewItem:
        return qs.filter(scope.orgs_q("row__batch__org__"))
    if model is LinkDecision:
        return qs.filter(scope.regions_q("person__work_region__"))
    if model is AuditEvent:
        # Events by people in the viewer's subtree; events of the unscoped machinery stay with superusers.
        return qs.filter(actor__in=scoped_queryset(User, user))
    return qs.none()


class ScopedAdminMixin:
    """Scope a ModelAdmin's rows, its form choices and its object pages to the viewer's subtree."""

    def get_queryset(self, request):
        return scoped_queryset(self.model, request.user, super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_queryset(db_field.related_model, request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_queryset(db_field.related_model, request.user))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


class ScopedTabularInline(admin.TabularInline):
    def get_queryset(self, request):
        return scoped_queryset(self.model, request.user, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_queryset(db_field.related_model, request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """Rows written only by services (audit events, people): the admin shows them, never writes."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
