"""Tenancy in the merchant admin (settings, stores, staff) and in the operations site."""

from __future__ import annotations

import base64
import binascii
import json

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import services
from .admin_base import MerchantScopedAdmin
from .models import (
    ComponentEvent,
    Membership,
    Merchant,
    Provider,
    ProviderEvent,
    ProviderStaff,
    Store,
    WeChatEvent,
)
from .roles import Capability
from .sites import portal_site

User = get_user_model()


class SecretInput(forms.PasswordInput):
    """Never renders the stored value: it only says whether one is set."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})})


def validate_encoding_aes_key(value: str) -> None:
    """SPEC §10: 43 characters of base64 that decode (with '=') to a 32-byte key."""
    if not value:
        return
    try:
        ok = (
            len(value) == 43 and len(base64.b64decode(value + "=", validate=True)) == 32
        )
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise ValidationError(
            _("The EncodingAESKey is 43 letters and digits (base64).")
        )


class MerchantSettingsForm(forms.ModelForm):
    appsecret = forms.CharField(
        label=_("AppSecret"), required=False, widget=SecretInput(), max_length=64
    )
    event_token = forms.CharField(
        label=_("Event token"), required=False, widget=SecretInput(), max_length=32
    )
    encoding_aes_key = forms.CharField(
        label=_("EncodingAESKey"),
        required=False,
        widget=SecretInput(),
        validators=[validate_encoding_aes_key],
    )

    class Meta:
        model = Merchant
        fields = ["name", "event_mode"]

    def clean(self):
        data = super().clean()
        data["event_mode"] = data.get("event_mode") or self.instance.event_mode
        has_key = data.get("encoding_aes_key") or self.instance.encoding_aes_key
        if data.get("event_mode") == Merchant.EventMode.SAFE and not has_key:
            self.add_error(
                "encoding_aes_key",
                _("Safe mode needs the EncodingAESKey from WeChat's back office."),
            )
        return data

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_mode"].required = False  # absent: unchanged
        for name in ("appsecret", "event_token", "encoding_aes_key"):
            is_set = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].help_text = (
                gettext("Set. Leave blank to keep it; type a new value to replace it.")
                if is_set
                else gettext("Not set.")
            )


@admin.register(Merchant, site=portal_site)
class MerchantSettingsAdmin(MerchantScopedAdmin):
    """The current merchant's own record: name and WeChat secrets (write-only)."""

    form = MerchantSettingsForm
    change_capability = Capability.SETTINGS
    list_display = ["name", "appid", "provider"]
    readonly_fields = ["appid", "provider"]
    fields = [
        "name",
        "appid",
        "provider",
        "event_mode",
        "appsecret",
        "event_token",
        "encoding_aes_key",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # merchants are onboarded by the platform or a provider

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        services.merchant_update_settings(
            merchant=obj,
            name=form.cleaned_data["name"],
            appsecret=form.cleaned_data["appsecret"],
            event_token=form.cleaned_data["event_token"],
            encoding_aes_key=form.cleaned_data["encoding_aes_key"],
            event_mode=form.cleaned_data["event_mode"],
        )


@admin.register(Store, site=portal_site)
class StoreAdmin(MerchantScopedAdmin):
    change_capability = Capability.STORES
    list_display = ["name", "poi_id", "address"]
    search_fields = ["name", "poi_id", "address"]
    fields = ["poi_id", "name", "address"]

    def save_model(self, request, obj, form, change):
        services.store_save(
            merchant=request.merchant,
            store=obj,
            poi_id=obj.poi_id,
            name=obj.name,
            address=obj.address,
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        merchant = request.merchant

        class StoreForm(form):
            def clean_poi_id(self):
                poi_id = self.cleaned_data["poi_id"].strip()
                clash = Store.objects.filter(merchant=merchant, poi_id=poi_id)
                if self.instance.pk:
                    clash = clash.exclude(pk=self.instance.pk)
                if clash.exists():
                    raise ValidationError(
                        _("Another store of this merchant already has this POI id.")
                    )
                return poi_id

        return StoreForm


class StaffAddForm(forms.ModelForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    password1 = forms.CharField(label=_("Password"), widget=SecretInput())
    password2 = forms.CharField(label=_("Password again"), widget=SecretInput())

    class Meta:
        model = Membership
        fields = ["role", "stores"]

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("This username is already taken."))
        return username

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            try:
                password_validation.validate_password(p1)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class StaffChangeForm(forms.ModelForm):
    is_active = forms.BooleanField(label=_("May sign in"), required=False)
    new_password = forms.CharField(
        label=_("New password"),
        required=False,
        widget=SecretInput(),
        help_text=_("Leave blank to keep the current password."),
    )

    class Meta:
        model = Membership
        fields = ["role", "stores"]

    actor = None  # set by StaffAdmin.get_form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["is_active"].initial = self.instance.user.is_active

    def clean(self):
        data = super().clean()
        if "role" in data:
            original = Membership.objects.get(pk=self.instance.pk)
            services.staff_member_update_check(
                membership=original,
                actor=self.actor,
                role=data["role"],
                is_active=data.get("is_active", False),
            )
        return data

    def clean_new_password(self):
        value = self.cleaned_data.get("new_password")
        if value:
            password_validation.validate_password(value, self.instance.user)
        return value


@admin.register(Membership, site=portal_site)
class StaffAdmin(MerchantScopedAdmin):
    """Owners manage their staff: new accounts, roles, stores, access, passwords."""

    view_capability = Capability.STAFF
    change_capability = Capability.STAFF
    list_display = ["user", "role", "is_active", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username"]
    filter_horizontal = ["stores"]
    actions = None

    @admin.display(boolean=True, description=_("May sign in"))
    def is_active(self, obj):
        return obj.user.is_active

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = StaffChangeForm if obj else StaffAddForm
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user
        return form

    def has_delete_permission(self, request, obj=None) -> bool:
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or services.staff_member_removable(
            membership=obj, actor=request.user
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["username", "password1", "password2", "role", "stores"]
        return ["role", "stores", "is_active", "new_password"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.staff_member_update(
                membership=obj,
                actor=request.user,
                role=data["role"],
                stores=data["stores"],
                is_active=data["is_active"],
                password=data.get("new_password", ""),
            )
        else:
            membership = services.staff_member_create(
                merchant=request.merchant,
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                stores=data["stores"],
            )
            obj.pk, obj.user, obj.merchant = (
                membership.pk,
                membership.user,
                membership.merchant,
            )

    def save_related(self, request, form, formsets, change):
        pass  # the service saved the stores

    def delete_model(self, request, obj):
        services.staff_member_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


# --- Operations site (superusers): onboarding providers and merchants. ---------
class OpsMerchantForm(MerchantSettingsForm):
    class Meta:
        model = Merchant
        fields = ["name", "appid", "provider"]


@admin.register(Merchant)
class OpsMerchantAdmin(admin.ModelAdmin):
    form = OpsMerchantForm
    list_display = [
        "name",
        "appid",
        "provider",
        "access",
        "authorization",
        "created_at",
    ]
    list_filter = ["provider", "access", "authorization"]
    search_fields = ["name", "appid"]

    def save_model(self, request, obj, form, change):
        obj.save()
        services.merchant_update_settings(
            merchant=obj,
            name=form.cleaned_data["name"],
            appsecret=form.cleaned_data["appsecret"],
            event_token=form.cleaned_data["event_token"],
            encoding_aes_key=form.cleaned_data["encoding_aes_key"],
            event_mode=form.cleaned_data["event_mode"],
        )


class ProviderStaffInline(admin.TabularInline):
    model = ProviderStaff
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role"]


class OpsProviderForm(forms.ModelForm):
    """A provider's open platform settings (SPEC §8): the secrets are write-only."""

    component_appsecret = forms.CharField(
        label=_("Component AppSecret"),
        required=False,
        widget=SecretInput(),
        max_length=64,
    )
    component_token = forms.CharField(
        label=_("Message token"), required=False, widget=SecretInput(), max_length=32
    )
    component_encoding_aes_key = forms.CharField(
        label=_("Message EncodingAESKey"),
        required=False,
        widget=SecretInput(),
        validators=[validate_encoding_aes_key],
    )

    class Meta:
        model = Provider
        fields = ["name", "component_appid"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in (
            "component_appsecret",
            "component_token",
            "component_encoding_aes_key",
        ):
            is_set = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name].help_text = (
                gettext("Set. Leave blank to keep it; type a new value to replace it.")
                if is_set
                else gettext("Not set.")
            )


@admin.register(Provider)
class OpsProviderAdmin(admin.ModelAdmin):
    form = OpsProviderForm
    list_display = ["name", "component_appid", "ticket_received_at", "created_at"]
    fields = [
        "name",
        "component_appid",
        "component_appsecret",
        "component_token",
        "component_encoding_aes_key",
        "ticket_received_at",
        "problem_errcode",
    ]
    readonly_fields = ["ticket_received_at", "problem_errcode"]
    inlines = [ProviderStaffInline]

    def save_model(self, request, obj, form, change):
        from .providers import services as provider_services

        if not change:
            obj.save()
        else:
            Provider.objects.filter(pk=obj.pk).update(name=obj.name)
        provider_services.provider_update_settings(
            provider=obj,
            actor=request.user,
            component_appid=form.cleaned_data["component_appid"],
            component_appsecret=form.cleaned_data["component_appsecret"],
            component_token=form.cleaned_data["component_token"],
            component_encoding_aes_key=form.cleaned_data["component_encoding_aes_key"],
        )


@admin.register(Membership)
class OpsMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role"]
    list_filter = ["role", "merchant"]
    raw_id_fields = ["user"]
    filter_horizontal = ["stores"]


@admin.register(Store)
class OpsStoreAdmin(admin.ModelAdmin):
    list_display = ["name", "merchant", "poi_id"]
    list_filter = ["merchant"]


@admin.register(WeChatEvent, site=portal_site)
class WeChatEventAdmin(MerchantScopedAdmin):
    """Every event WeChat pushed to this merchant, raw and parsed (read-only)."""

    change_capability = Capability.SETTINGS
    list_display = [
        "received_at",
        "event",
        "msg_type",
        "from_user",
        "status",
        "encrypted",
    ]
    list_filter = ["status", "event", "encrypted"]
    search_fields = ["event", "from_user", "dedupe_key"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "event", "msg_type", "from_user", "create_time", "encrypted", "status",
        "error", "received_at", "handled_at", "pretty_payload", "raw",
    ]  # fmt: skip
    fields = readonly_fields
    actions = None

    @admin.display(description=_("parsed"))
    def pretty_payload(self, obj):
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2)
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _ReadOnlyOpsAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ComponentEvent)
class OpsComponentEventAdmin(_ReadOnlyOpsAdmin):
    """Providers' authorization pushes (SPEC §8): what came, not what it carried."""

    list_display = [
        "received_at",
        "provider",
        "info_type",
        "authorizer_appid",
        "status",
    ]
    list_filter = ["info_type", "status", "provider"]
    fields = [
        "provider",
        "info_type",
        "authorizer_appid",
        "create_time",
        "status",
        "error",
        "received_at",
        "handled_at",
    ]
    readonly_fields = fields


@admin.register(ProviderEvent)
class OpsProviderEventAdmin(_ReadOnlyOpsAdmin):
    list_display = ["at", "provider", "merchant", "kind", "actor"]
    list_filter = ["kind", "provider"]
    fields = ["at", "provider", "merchant", "kind", "actor", "message", "wechat_answer"]
    readonly_fields = fields
