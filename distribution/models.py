"""Distribution (投放, SPEC §6): the merchant's channels, the QR codes made for them,
the H5 campaign pages, the test whitelist, and the history of each.

What customers received is not kept here: redemption's ``Code`` rows (filled from
``user_get_card``, with OuterId / OuterStr) are the receives, and the figures per
channel are read from them (``selectors.channel_figures``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.models import CardImage, FriendCard
from portal.models import Merchant

from . import rules


class ChannelSequence(models.Model):
    """The last outer_id given out for one merchant: ids are taken by an UPDATE of
    this row (which holds the row until the transaction ends), so two channels made
    at once never get the same id, and an id is never given twice."""

    TENANT_FIELD = "merchant"

    merchant = models.OneToOneField(
        Merchant, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    last_outer_id = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(last_outer_id__lte=rules.MAX_OUTER_ID),
                name="channel_sequence_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.last_outer_id}"


class Channel(models.Model):
    """Where a customer found the coupon: "Window poster", "Table 12". Its outer_id
    and outer_str travel with each receive (SPEC §6) and never change."""

    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="channels",
        verbose_name=_("merchant"),
    )
    name = models.CharField(_("name"), max_length=rules.CHANNEL_NAME_MAX)
    outer_id = models.PositiveIntegerField(_("channel number (outer_id)"))
    outer_str = models.CharField(_("channel text (outer_str)"), max_length=128)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["outer_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "outer_id"], name="channel_outer_id_once"
            ),
            models.UniqueConstraint(
                fields=["merchant", "outer_str"], name="channel_outer_str_once"
            ),
            models.UniqueConstraint(
                fields=["merchant", "name"], name="channel_name_once"
            ),
            # 0 is WeChat's "no channel"; the top is SPEC §6's 2³¹−1.
            models.CheckConstraint(
                condition=Q(outer_id__gte=1, outer_id__lte=rules.MAX_OUTER_ID),
                name="channel_outer_id_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QRCode(models.Model):
    """One ``card/qrcode/create``: recorded before it is sent, finished with WeChat's
    answer. ``url`` is what the printed QR code encodes."""

    TENANT_FIELD = "merchant"

    class Status(models.TextChoices):
        SENDING = "sending", _("Asking WeChat")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Not made")

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="qrcodes",
        verbose_name=_("merchant"),
    )
    card = models.ForeignKey(
        FriendCard,
        on_delete=models.CASCADE,
        related_name="qrcodes",
        verbose_name=_("coupon"),
    )
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        related_name="qrcodes",
        verbose_name=_("channel"),
    )
    expire_seconds = models.PositiveIntegerField(
        _("valid for (seconds)"), null=True, blank=True
    )
    is_unique_code = models.BooleanField(_("one code, one scan"), default=False)
    # Made for a card not approved yet: only whitelisted test users can receive by it.
    for_testing = models.BooleanField(_("for test users only"), default=False)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.SENDING
    )
    ticket = models.CharField(max_length=256, blank=True)
    url = models.CharField(_("QR code link"), max_length=500, blank=True)
    show_qrcode_url = models.CharField(max_length=500, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    # The answer was lost: WeChat may have made a QR code, but nobody has its link.
    answer_lost = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("QR code")
        verbose_name_plural = _("QR codes")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["sending", "ready", "failed"]),
                name="qrcode_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(url=""),
                name="qrcode_ready_has_url",
            ),
            models.CheckConstraint(
                condition=Q(expire_seconds__isnull=True)
                | Q(
                    expire_seconds__gte=rules.MIN_EXPIRE_SECONDS,
                    expire_seconds__lte=rules.MAX_EXPIRE_SECONDS,
                ),
                name="qrcode_expire_seconds_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "card", "-created_at"]),
            models.Index(fields=["status", "sent_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.card} · {self.channel}"


class Campaign(models.Model):
    """A public H5 page (``/c/<slug>/``) handing out one or more friend coupons with
    the JS-SDK's ``addCard``; its receives carry its channel's outer_str."""

    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="campaigns",
        verbose_name=_("merchant"),
    )
    slug = models.SlugField(_("page address"), max_length=24, unique=True)
    title = models.CharField(_("title"), max_length=rules.CAMPAIGN_TITLE_MAX)
    banner = models.ForeignKey(
        CardImage,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("banner image"),
    )
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("channel"),
    )
    cards = models.ManyToManyField(
        FriendCard, related_name="campaigns", verbose_name=_("coupons")
    )
    active = models.BooleanField(_("page is open"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign page")
        verbose_name_plural = _("campaign pages")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class Whitelist(models.Model):
    """The account's test whitelist (``card/testwhitelist/set``) as WeChat last
    confirmed it. WeChat replaces the whole list on every call."""

    TENANT_FIELD = "merchant"

    merchant = models.OneToOneField(
        Merchant,
        on_delete=models.CASCADE,
        related_name="test_whitelist",
        verbose_name=_("merchant"),
    )
    openids = models.JSONField(_("openids"), default=list, blank=True)
    usernames = models.JSONField(_("WeChat IDs"), default=list, blank=True)
    # A replacement whose answer was lost: WeChat holds this list or the one sent.
    in_doubt = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("test whitelist")
        verbose_name_plural = _("test whitelist")

    def __str__(self) -> str:
        return str(_("Test whitelist"))

    @property
    def size(self) -> int:
        return len(self.openids or []) + len(self.usernames or [])


class DistributionEvent(models.Model):
    """Every change distribution makes: who, what, when, and WeChat's answer."""

    TENANT_FIELD = "merchant"

    class Kind(models.TextChoices):
        CHANNEL_CREATED = "channel_created", _("Channel created")
        CHANNEL_RENAMED = "channel_renamed", _("Channel renamed")
        QRCODE_SENT = "qrcode_sent", _("QR code asked of WeChat")
        QRCODE_READY = "qrcode_ready", _("QR code made")
        QRCODE_REFUSED = "qrcode_refused", _("QR code refused by WeChat")
        QRCODE_LOST = "qrcode_lost", _("QR code answer lost")
        WHITELIST_SET = "whitelist_set", _("Test whitelist replaced")
        WHITELIST_REFUSED = "whitelist_refused", _("Test whitelist refused by WeChat")
        WHITELIST_LOST = "whitelist_lost", _("Test whitelist answer lost")
        CAMPAIGN_SAVED = "campaign_saved", _("Campaign page saved")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="distribution_events"
    )
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    qrcode = models.ForeignKey(
        QRCode, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    wechat_answer = models.JSONField(_("WeChat's answer"), null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("distribution event")
        verbose_name_plural = _("distribution history")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"
