"""Tenancy in the merchant admin (settings, stores, staff) and in the operations site."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from wechat import errors as wx

from . import services
from .admin_base import MerchantScopedAdmin, SecretsWriteOnly
from .labels import event_label
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
        fields = ["name", "event_mode", "time_zone"]

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
        if "event_mode" in self.fields:
            self.fields["event_mode"].required = False  # absent: unchanged
        zone = self.fields.get("time_zone")
        if zone is not None:
            zone.required = False  # not posted: the zone stays as it is
            zone.help_text = gettext(
                "Every page, history and export shows times in this zone; coupon "
                "dates are days in it."
            )
            current = self.instance.time_zone if self.instance.pk else ""
            if current and current not in dict(zone.choices):
                zone.choices = [*zone.choices, (current, current)]
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
    change_form_template = "admin/portal/merchant/change_form.html"
    list_display = ["name", "appid", "provider", "time_zone"]
    readonly_fields = ["appid", "provider"]
    fields = [
        "name",
        "appid",
        "provider",
        "event_mode",
        "time_zone",
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
            event_mode=form.cleaned_data.get("event_mode"),
            time_zone=form.cleaned_data.get("time_zone", ""),
        )

    # --- connecting to WeChat -------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="portal_merchant_test_connection",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        merchant = self.get_object(request, object_id)
        callback = reverse("wechat_events", args=[merchant.appid])
        extra = {
            "title": gettext("Merchant and WeChat settings"),
            "callback_url": request.build_absolute_uri(callback),
            "test_url": reverse(
                "admin:portal_merchant_test_connection", args=[merchant.pk]
            ),
            "can_test": self.has_change_permission(request, merchant),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def test_connection_view(self, request, object_id):
        """*Test connection*: the access token and the jsapi ticket, through the
        client; the answer is said in words (POST only: it calls WeChat)."""
        merchant = self.get_object(request, object_id)
        if not self.has_change_permission(request, merchant):
            raise PermissionDenied
        if request.method == "POST":
            check = services.merchant_test_connection(merchant=merchant)
            if check.ok:
                messages.success(
                    request,
                    gettext(
                        "Connected: WeChat gave an access token and a JS-SDK ticket."
                    ),
                )
            else:
                step = (
                    gettext("the JS-SDK ticket")
                    if check.token
                    else gettext("the access token")
                )
                if check.errcode is None:
                    words = wx.TransportError().message
                else:
                    words = wx.WeChatError(check.errcode).message  # our table's words
                messages.error(
                    request,
                    gettext("The connection failed at %(step)s: %(words)s")
                    % {"step": step, "words": words},
                )
        return redirect("admin:portal_merchant_change", merchant.pk)


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
            # Neutral words: the name may be another merchant's user, and whether
            # it exists is not this merchant's business.
            raise ValidationError(
                _("This username cannot be used. Choose another one.")
            )
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
        fields = ["name", "appid", "provider", "event_mode", "time_zone"]


@admin.register(Merchant)
class OpsMerchantAdmin(SecretsWriteOnly, admin.ModelAdmin):
    """The operator onboards merchants and may set their secrets, never read them."""

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
        if change:
            # The form leaves blank the secrets it never shows: keep the stored ones
            # (a blank input means "keep it"; the service replaces what was typed).
            stored = Merchant.objects.get(pk=obj.pk)
            for name in ("appsecret", "event_token", "encoding_aes_key"):
                setattr(obj, name, getattr(stored, name))
        obj.save()
        services.merchant_update_settings(
            merchant=obj,
            name=form.cleaned_data["name"],
            appsecret=form.cleaned_data["appsecret"],
            event_token=form.cleaned_data["event_token"],
            encoding_aes_key=form.cleaned_data["encoding_aes_key"],
            event_mode=form.cleaned_data.get("event_mode"),
            time_zone=form.cleaned_data.get("time_zone", ""),
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
class OpsProviderAdmin(SecretsWriteOnly, admin.ModelAdmin):
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


class EventNameFilter(admin.SimpleListFilter):
    """WeChat's event names, in words (the merchant's own events only)."""

    title = _("event")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        names = (
            model_admin.get_queryset(request)
            .order_by("event")
            .values_list("event", flat=True)
            .distinct()
        )
        return [(name, event_label(name)) for name in names if name]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(event=value) if value else queryset


class OpsPeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's admin without its template's inline script, which the
    CSP refuses (it only hid the crontab's translation and moved its help text)."""

    change_form_template = "admin/change_form.html"


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, OpsPeriodicTaskAdmin)


@admin.register(WeChatEvent, site=portal_site)
class WeChatEventAdmin(MerchantScopedAdmin):
    """Every event WeChat pushed to this merchant, raw and parsed (read-only)."""

    change_capability = Capability.SETTINGS
    list_display = ["received", "what", "from_user", "status", "encrypted"]
    list_filter = ["status", EventNameFilter, "encrypted"]
    search_fields = ["event", "from_user", "dedupe_key"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "what",
        "msg_type",
        "from_user",
        "wechat_time",
        "encrypted",
        "status",
        "error",
        "received_at",
        "handled_at",
        "pretty_payload",
        "raw_xml",
    ]
    fields = readonly_fields
    actions = None

    @admin.display(description=_("received at"), ordering="received_at")
    def received(self, obj):
        return f"{timezone.localtime(obj.received_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description=_("event"), ordering="event")
    def what(self, obj):
        label = event_label(obj.event or obj.msg_type)
        if label == (obj.event or obj.msg_type):
            return label
        return format_html('{} <code class="muted">{}</code>', label, obj.event)

    @admin.display(description=_("WeChat time"))
    def wechat_time(self, obj):
        """WeChat's CreateTime (seconds since 1970) as a local time."""
        if not obj.create_time:
            return "—"
        try:
            moment = datetime.fromtimestamp(obj.create_time, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return str(obj.create_time)
        return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}"

    @admin.display(description=_("parsed"))
    def pretty_payload(self, obj):
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2)
        )

    @admin.display(description=_("raw XML"))
    def raw_xml(self, obj):
        return format_html("<pre>{}</pre>", obj.raw)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        event = self.get_object(request, object_id)
        title = event_label(event.event or event.msg_type)
        when = f"{timezone.localtime(event.received_at):%Y-%m-%d %H:%M:%S}"
        extra = {"title": title, "subtitle": when, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

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
