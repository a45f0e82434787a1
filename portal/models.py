"""Tenancy: providers, merchants, stores, memberships (SPEC §2).

Every tenant-owned model elsewhere points at ``Merchant`` and declares the lookup path
to it in ``TENANT_FIELD`` so that the one admin base class and the selectors can scope
any queryset and any foreign-key choice to the current merchant.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedTextField
from .labels import event_label
from .roles import Role

# The zones a merchant may choose (SPEC §2: one merchant, one local time). Asia/Shanghai
# is the default (settings.TIME_ZONE); the rest cover WeChat merchants abroad.
TIME_ZONES = [
    ("Asia/Shanghai", _("China (Beijing time)")),
    ("Asia/Hong_Kong", _("Hong Kong")),
    ("Asia/Macau", _("Macau")),
    ("Asia/Taipei", _("Taipei")),
    ("Asia/Singapore", _("Singapore")),
    ("Asia/Kuala_Lumpur", _("Kuala Lumpur")),
    ("Asia/Bangkok", _("Bangkok")),
    ("Asia/Tokyo", _("Tokyo")),
    ("Asia/Seoul", _("Seoul")),
    ("Asia/Dubai", _("Dubai")),
    ("Europe/London", _("London")),
    ("Europe/Paris", _("Paris")),
    ("Europe/Berlin", _("Berlin")),
    ("America/New_York", _("New York")),
    ("America/Los_Angeles", _("Los Angeles")),
    ("Australia/Sydney", _("Sydney")),
    ("UTC", _("UTC")),
]


def default_time_zone() -> str:
    """settings.TIME_ZONE, read when a merchant is created (not at import time)."""
    return settings.TIME_ZONE


class Provider(models.Model):
    """A third-party service provider (第三方平台) running the portal for sub-merchants.

    Its WeChat open platform settings (SPEC §8): the component appid and appsecret,
    and the message token and EncodingAESKey WeChat encrypts its pushes with — all
    secrets encrypted at rest, write-only in forms. WeChat's latest
    component_verify_ticket is kept here too (latest wins, valid 12 h).
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    component_appid = models.CharField(_("component appid"), max_length=32, blank=True)
    component_appsecret = EncryptedTextField(_("component appsecret"), blank=True)
    component_token = EncryptedTextField(_("message token"), blank=True)
    component_encoding_aes_key = EncryptedTextField(_("EncodingAESKey"), blank=True)
    verify_ticket = EncryptedTextField(_("component_verify_ticket"), blank=True)
    # WeChat's CreateTime of the kept ticket: an older push never replaces it.
    ticket_create_time = models.BigIntegerField(default=0)
    ticket_received_at = models.DateTimeField(
        _("ticket received at"), null=True, blank=True
    )
    # The last provider-level refusal (61004/61005/61006/61011/40125), until a
    # component token is had again.
    problem_errcode = models.IntegerField(_("WeChat problem"), null=True, blank=True)
    problem_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service provider")
        verbose_name_plural = _("service providers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["component_appid"],
                condition=~models.Q(component_appid=""),
                name="provider_component_appid_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_configured(self) -> bool:
        return bool(
            self.component_appid
            and self.component_appsecret
            and self.component_token
            and self.component_encoding_aes_key
        )


class Merchant(models.Model):
    """A merchant: one WeChat official account (appid)."""

    TENANT_FIELD = "pk"

    class EventMode(models.TextChoices):
        """WeChat's message encryption mode (消息加解密方式), as set in its back office."""

        SAFE = "safe", _("Safe mode (encrypted)")
        PLAIN = "plain", _("Plain text")

    class Access(models.TextChoices):
        """Where the merchant's access token comes from (SPEC §4, §8)."""

        APPSECRET = "appsecret", _("Its own AppSecret")
        COMPONENT = "component", _("Authorized to its service provider")

    class Authorization(models.TextChoices):
        """Whether a provider may act for the merchant at WeChat (SPEC §8)."""

        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")
        REAUTHORIZE = "reauthorize", _("Needs re-authorization")
        INSUFFICIENT = "insufficient", _("Insufficient permissions")

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("service provider"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merchants",
    )
    name = models.CharField(_("name"), max_length=100)
    appid = models.CharField(_("AppID"), max_length=32, unique=True)
    appsecret = EncryptedTextField(_("AppSecret"), blank=True)
    event_token = EncryptedTextField(_("event token"), blank=True)
    encoding_aes_key = EncryptedTextField(_("EncodingAESKey"), blank=True)
    # SPEC §10: in safe mode only encrypted pushes verified by msg_signature are
    # accepted; plain ones only where the merchant chose plain mode.
    event_mode = models.CharField(
        _("message encryption"),
        max_length=8,
        choices=EventMode.choices,
        default=EventMode.SAFE,
    )
    # Every page, history and export shows times in this zone (the middleware
    # activates it per request).
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        choices=TIME_ZONES,
        default=default_time_zone,
    )
    access = models.CharField(
        _("WeChat access"),
        max_length=16,
        choices=Access.choices,
        default=Access.APPSECRET,
    )
    authorization = models.CharField(
        _("authorization"),
        max_length=16,
        choices=Authorization.choices,
        default=Authorization.ACTIVE,
    )
    # SPEC §8: handed over only by api_query_auth; persisted, encrypted, and
    # replaced whenever WeChat returns a new one.
    authorizer_refresh_token = EncryptedTextField(
        _("authorizer refresh token"), blank=True
    )
    func_ids = models.JSONField(_("granted permissions"), default=list, blank=True)
    # api_get_authorizer_info: nick_name, user_name (gh_…), principal_name, …
    authorizer_info = models.JSONField(default=dict, blank=True, editable=False)
    authorized_at = models.DateTimeField(_("authorized at"), null=True, blank=True)
    authorization_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["provider", "name"], name="merchant_provider_name"),
            models.Index(
                fields=["provider", "authorization"], name="merchant_provider_state"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    authorization__in=[
                        "active",
                        "revoked",
                        "reauthorize",
                        "insufficient",
                    ]
                ),
                name="merchant_authorization_valid",
            ),
            # Served through a component only with a provider to serve it.
            models.CheckConstraint(
                condition=~models.Q(access="component")
                | models.Q(provider__isnull=False),
                name="merchant_component_has_provider",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def via_component(self) -> bool:
        return self.access == self.Access.COMPONENT

    @property
    def is_read_only(self) -> bool:
        """True when nothing may be done for the merchant at WeChat (SPEC §8): its
        data stays readable, and the portal changes nothing of it."""
        return self.authorization != self.Authorization.ACTIVE


class Store(models.Model):
    """A shop (门店) known to WeChat by its POI id; cards list the stores they work in."""

    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="stores",
    )
    poi_id = models.CharField(_("POI id"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "poi_id"], name="store_poi_unique_per_merchant"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user working for a merchant in one role; a cashier may be tied to stores."""

    TENANT_FIELD = "merchant"
    ROLE_CHOICES = [(r.value, r.label) for r in (Role.OWNER, Role.STAFF, Role.CASHIER)]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("role"), max_length=16, choices=ROLE_CHOICES)
    stores = models.ManyToManyField(
        Store,
        verbose_name=_("stores"),
        blank=True,
        help_text=_("For cashiers: the stores they redeem for. Empty means all."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["merchant", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "merchant"], name="membership_unique_user_merchant"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "staff", "cashier"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.get_role_display()})"


class ProviderStaff(models.Model):
    """A user of a provider, acting for each of the provider's sub-merchants.
    The provider's owners also keep its WeChat open platform settings."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="provider_roles",
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("service provider"),
        on_delete=models.CASCADE,
        related_name="staff",
    )
    role = models.CharField(
        _("role"), max_length=8, choices=Role.choices, default=Role.STAFF
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("provider staff member")
        verbose_name_plural = _("provider staff")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "provider"], name="provider_staff_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.provider}"


class WeChatEvent(models.Model):
    """An event WeChat pushed to a merchant (SPEC §10): stored raw and parsed, once."""

    TENANT_FIELD = "merchant"

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        HANDLED = "handled", _("Handled")
        IGNORED = "ignored", _("No handler")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="wechat_events",
    )
    event = models.CharField(_("event"), max_length=64, db_index=True)
    msg_type = models.CharField(_("message type"), max_length=32)
    from_user = models.CharField(_("from user"), max_length=64, blank=True)
    create_time = models.BigIntegerField(_("WeChat time"), default=0)
    dedupe_key = models.CharField(max_length=255)
    encrypted = models.BooleanField(_("encrypted"), default=False)
    raw = models.TextField(_("raw XML"))
    payload = models.JSONField(_("parsed"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    error = models.TextField(_("error"), blank=True)
    received_at = models.DateTimeField(
        _("received at"), auto_now_add=True, db_index=True
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeChat event")
        verbose_name_plural = _("WeChat events")
        ordering = ["-received_at"]
        constraints = [
            # WeChat retries a push three times: each event is stored once.
            models.UniqueConstraint(
                fields=["merchant", "dedupe_key"], name="wechat_event_once"
            )
        ]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            # The provider console: last event and redemptions per merchant.
            models.Index(
                fields=["merchant", "event", "received_at"],
                name="wechat_event_merchant_kind",
            ),
            models.Index(
                fields=["merchant", "-received_at"], name="wechat_event_merchant_at"
            ),
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.received_at) if self.received_at else None
        label = event_label(self.event or self.msg_type)
        return f"{label} · {when:%Y-%m-%d %H:%M:%S}" if when else label


# Third-party providers' pushes and history (SPEC §8) live in their own module.
from .providers.models import ComponentEvent, ProviderEvent  # noqa: E402, F401
