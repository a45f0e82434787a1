"""One base class scopes the whole merchant admin to the current merchant (SPEC §2).

Every model registered on ``portal_site`` uses ``MerchantScopedAdmin``: querysets,
foreign-key and many-to-many choices, list filters, object lookups (a foreign row is
a 404, never a redirect that reveals it exists), actions and permissions all follow
``request.merchant`` and ``request.role``. Nothing is remembered endpoint by endpoint.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.http import Http404

from .roles import Capability, can


def tenant_path(model) -> str:
    """The lookup from ``model`` to its Merchant, declared as ``TENANT_FIELD``."""
    path = getattr(model, "TENANT_FIELD", None)
    if path is None:
        raise ImproperlyConfigured(
            f"{model.__name__} has no TENANT_FIELD: it cannot be shown in the "
            "merchant portal"
        )
    return path


def merchant_read_only(request) -> bool:
    """True when the request's merchant may only be looked at (SPEC §8)."""
    merchant = getattr(request, "merchant", None)
    return bool(merchant is not None and merchant.is_read_only)


def scope(queryset: models.QuerySet, merchant) -> models.QuerySet:
    """``queryset`` restricted to ``merchant``'s rows; nothing at all without one."""
    if merchant is None:
        return queryset.none()
    path = tenant_path(queryset.model)
    if path == "pk":
        return queryset.filter(pk=merchant.pk)
    return queryset.filter(**{path: merchant})


class MerchantScopedAdmin(admin.ModelAdmin):
    """Base class of every admin on the merchant portal.

    ``view_capability`` and ``change_capability`` say which role capabilities
    (portal.roles) open the pages and allow add/change/delete.
    """

    view_capability: str = Capability.ADMIN
    change_capability: str = Capability.CARDS
    delete_capability: str | None = None  # defaults to change_capability
    # Related models that are not tenant-owned but may be offered as choices.
    global_choice_models: tuple = ()

    # --- permissions -------------------------------------------------------
    def _can(self, request, capability: str) -> bool:
        return getattr(request, "merchant", None) is not None and can(
            getattr(request, "role", None), capability
        )

    def _writable(self, request) -> bool:
        """False for a merchant nothing may be done for (SPEC §8: revoked, …):
        its data stays visible, read-only."""
        return not merchant_read_only(request)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._can(request, self.view_capability) or self._can(
            request, self.change_capability
        )

    def has_add_permission(self, request) -> bool:
        return self._writable(request) and self._can(request, self.change_capability)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._writable(request) and self._can(request, self.change_capability)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._writable(request) and self._can(
            request, self.delete_capability or self.change_capability
        )

    # --- rows --------------------------------------------------------------
    def get_queryset(self, request):
        return scope(super().get_queryset(request), getattr(request, "merchant", None))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Another merchant's row and a missing row look the same: 404.
            raise Http404
        return obj

    def scoped_object_or_404(self, request, object_id):
        """For custom views: the current merchant's object or 404."""
        return self.get_object(request, object_id)

    def save_model(self, request, obj, form, change):
        if not change and tenant_path(type(obj)) == "merchant":
            obj.merchant = request.merchant
        super().save_model(request, obj, form, change)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if tenant_path(self.model) == "merchant" and "merchant" not in exclude:
            exclude.append("merchant")
        return exclude

    # --- choices -------------------------------------------------------------
    def _scope_choices(self, request, related_model, queryset):
        if related_model in self.global_choice_models:
            return queryset
        if getattr(related_model, "TENANT_FIELD", None) is None:
            # Safe by default: a non-tenant model offers nothing unless allowed.
            return queryset.none()
        return scope(queryset, getattr(request, "merchant", None))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._scope_choices(
                request, db_field.related_model, field.queryset
            )
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._scope_choices(
                request, db_field.related_model, field.queryset
            )
        return field

    def get_list_filter(self, request):
        """Relation filters list only related rows of this merchant's objects."""
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str):
                try:
                    field = self.model._meta.get_field(item)
                except Exception:  # a lookup path; Django validates it
                    field = None
                if field is not None and field.is_relation:
                    item = (item, RelatedOnlyFieldListFilter)
            filters.append(item)
        return filters

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        return scope(queryset, getattr(request, "merchant", None)), may_have_duplicates


class ScopedInline(admin.TabularInline):
    """Inline whose choices are scoped like the parent's."""

    change_capability: str = Capability.CARDS

    def _can(self, request) -> bool:
        return (
            getattr(request, "merchant", None) is not None
            and not merchant_read_only(request)
            and can(getattr(request, "role", None), self.change_capability)
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return self._can(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._can(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return getattr(request, "merchant", None) is not None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            if getattr(db_field.related_model, "TENANT_FIELD", None) is None:
                field.queryset = field.queryset.none()
            else:
                field.queryset = scope(field.queryset, request.merchant)
        return field
