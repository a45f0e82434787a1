"""One base class scopes the whole merchant admin to the current merchant (SPEC §2).

Every model registered on ``portal_site`` uses ``MerchantScopedAdmin``: querysets,
foreign-key and many-to-many choices, list filters, object lookups (a foreign row is
a 404, never a redirect that reveals it exists), actions and permissions all follow
``request.merchant`` and ``request.role``. Nothing is remembered endpoint by endpoint.

Secrets (``EncryptedTextField``: AppSecret, event token, EncodingAESKey) are
write-only on every admin site, the portal's and the operator's: ``SecretsWriteOnly``
shows a form input that never renders the value to whoever may replace it, and
"Set" / "Not set" to anyone else (a view-only page renders every field's value). A
system check (``portal.E001``–``E003``) refuses any admin that would list, search,
filter, sort or display a secret.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.sites import all_sites
from django.contrib.admin.utils import flatten
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.http import Http404
from django.utils.translation import gettext

from .fields import EncryptedTextField
from .roles import Capability, can

SECRET_STATE_SUFFIX = "_state"  # noqa: S105  (a name suffix, not a password)


def secret_fields(model) -> tuple[str, ...]:
    """The names of ``model``'s secret (encrypted) fields."""
    return tuple(
        f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)
    )


def is_write_only(form_field) -> bool:
    """True for a form field whose widget never renders a value back."""
    widget = getattr(form_field, "widget", None)
    return isinstance(widget, forms.PasswordInput) and not widget.render_value


def _state_display(name: str, label):
    @admin.display(description=label)
    def state(obj) -> str:
        return (
            gettext("Set")
            if obj is not None and getattr(obj, name)
            else gettext("Not set")
        )

    state.__name__ = name + SECRET_STATE_SUFFIX
    return state


class SecretsWriteOnly:
    """Mixin for every ModelAdmin of a model with secrets, on any admin site.

    A secret named in ``fields`` stays a form input only while the user may change
    the object and the form declares it with a non-rendering widget; otherwise it
    becomes ``<name>_state``, a read-only "Set" / "Not set".
    """

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.secret_names = secret_fields(model)
        for name in self.secret_names:
            label = model._meta.get_field(name).verbose_name
            setattr(self, name + SECRET_STATE_SUFFIX, _state_display(name, label))

    def _may_write_secret(self, request, obj, name: str) -> bool:
        allowed = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        return allowed and is_write_only(self.form.base_fields.get(name))

    def _shown(self, request, obj, names):
        return [
            name + SECRET_STATE_SUFFIX
            if name in self.secret_names
            and not self._may_write_secret(request, obj, name)
            else name
            for name in names
        ]

    def get_fields(self, request, obj=None):
        return self._shown(request, obj, super().get_fields(request, obj))

    def get_fieldsets(self, request, obj=None):
        return [
            (title, {**options, "fields": self._shown(request, obj, options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [
            name
            for name in super().get_readonly_fields(request, obj)
            if name not in self.secret_names
        ]
        return [*readonly, *(n + SECRET_STATE_SUFFIX for n in self.secret_names)]

    def _without_secrets(self, names):
        return [n for n in names if _field_of(n) not in self.secret_names]

    def get_list_display(self, request):
        return self._without_secrets(super().get_list_display(request))

    def get_search_fields(self, request):
        return self._without_secrets(super().get_search_fields(request))

    def get_sortable_by(self, request):
        return self._without_secrets(super().get_sortable_by(request))


def _field_of(item) -> str | None:
    """The model field an admin option names: ``"^appsecret"``, ``"x__icontains"``,
    ``("appsecret", Filter)``, ``"-appsecret"`` → its first path segment."""
    if isinstance(item, (tuple, list)):
        item = item[0] if item else None
    if not isinstance(item, str):
        return getattr(item, "__name__", None)
    return item.lstrip("^=@-").split("__", 1)[0]


_LISTED_OPTIONS = (
    "list_display",
    "list_display_links",
    "list_filter",
    "list_editable",
    "search_fields",
    "sortable_by",
    "ordering",
    "readonly_fields",
    "raw_id_fields",
    "autocomplete_fields",
    "radio_fields",
    "prepopulated_fields",
    "date_hierarchy",
)


def _names(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(v for vs in value.values() for v in vs)]
    return list(value)


def _declared_fields(model_admin) -> list[str]:
    if model_admin.fieldsets:
        return [
            n
            for _title, options in model_admin.fieldsets
            for n in flatten(options.get("fields", ()))
        ]
    if model_admin.fields:
        return list(flatten(model_admin.fields))
    # No fields given: the form decides; its Meta.fields may name a model field.
    meta_fields = getattr(getattr(model_admin.form, "_meta", None), "fields", None)
    exclude = set(_names(model_admin.exclude))
    if meta_fields in (None, "__all__"):
        return [
            f.name
            for f in model_admin.model._meta.get_fields()
            if f.name not in exclude and getattr(f, "editable", False)
        ]
    return list(meta_fields) + list(model_admin.form.declared_fields)


@checks.register(checks.Tags.admin, checks.Tags.security)
def check_secrets_are_write_only(app_configs=None, **kwargs):
    """No admin on any site lists, searches, filters, sorts or shows a secret."""
    errors = []
    for site in all_sites:
        for model_admin in site._registry.values():
            errors += secret_problems(model_admin)
    return errors


def secret_problems(model_admin) -> list[checks.CheckMessage]:
    """What makes ``model_admin`` able to show one of its model's secrets."""
    model = model_admin.model
    secrets = set(secret_fields(model))
    if not secrets:
        return []
    where = f"{type(model_admin).__module__}.{type(model_admin).__qualname__}"
    errors = []
    if not isinstance(model_admin, SecretsWriteOnly):
        errors.append(
            checks.Error(
                f"{where} shows {model.__name__}, which has secrets, without "
                "SecretsWriteOnly.",
                obj=model_admin,
                id="portal.E001",
            )
        )
    for option in _LISTED_OPTIONS:
        named = {_field_of(n) for n in _names(getattr(model_admin, option, None))}
        for name in sorted(named & secrets):
            errors.append(
                checks.Error(
                    f"{where}.{option} names the secret {name!r}.",
                    obj=model_admin,
                    id="portal.E002",
                )
            )
    for name in _declared_fields(model_admin):
        if name in secrets and not is_write_only(
            model_admin.form.base_fields.get(name)
        ):
            errors.append(
                checks.Error(
                    f"{where} has the secret {name!r} in its form without a "
                    "write-only widget (forms.PasswordInput, render_value=False).",
                    obj=model_admin,
                    id="portal.E003",
                )
            )
    return errors


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


class MerchantScopedAdmin(SecretsWriteOnly, admin.ModelAdmin):
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
