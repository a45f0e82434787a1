"""What WeChat pushed to a provider's component endpoint, and a provider's history
(SPEC §8). Imported by portal.models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ComponentEvent(models.Model):
    """A push to a provider's 授权事件接收URL, stored once (deduplicated like a
    merchant's events). A ticket is never stored here: only that one came."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        HANDLED = "handled", _("Handled")
        IGNORED = "ignored", _("No handler")
        FAILED = "failed", _("Failed")

    provider = models.ForeignKey(
        "portal.Provider",
        verbose_name=_("service provider"),
        on_delete=models.CASCADE,
        related_name="component_events",
    )
    info_type = models.CharField(_("type"), max_length=64, db_index=True)
    authorizer_appid = models.CharField(_("AppID"), max_length=32, blank=True)
    create_time = models.BigIntegerField(_("WeChat time"), default=0)
    dedupe_key = models.CharField(max_length=255)
    # The decrypted XML and its fields, with the ticket blanked out.
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
        verbose_name = _("authorization event")
        verbose_name_plural = _("authorization events")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "dedupe_key"], name="component_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.info_type} @ {self.create_time}"


class ProviderEvent(models.Model):
    """Every change of a provider's state or of a sub-merchant's authorization:
    who, what, when, and WeChat's answer (never a secret)."""

    class Kind(models.TextChoices):
        SETTINGS = "settings", _("Open platform settings changed")
        TICKET_FIRST = "ticket_first", _("First ticket from WeChat")
        PROBLEM = "problem", _("WeChat refused the provider")
        PROBLEM_CLEARED = "problem_cleared", _("WeChat accepts the provider again")
        ONBOARDED = "onboarded", _("Merchant authorized the provider")
        RELINKED = "relinked", _("Merchant authorized the provider again")
        UPDATED = "updated", _("Merchant changed the authorization")
        REVOKED = "revoked", _("Merchant revoked the authorization")
        REAUTHORIZE = "reauthorize", _("Refresh token refused: authorize again")
        INSUFFICIENT = "insufficient", _("Permissions missing")
        REFRESH_TOKEN = "refresh_token", _("Refresh token replaced by WeChat")
        REFUSED = "refused", _("Authorization refused by the portal")

    provider = models.ForeignKey(
        "portal.Provider",
        verbose_name=_("service provider"),
        on_delete=models.CASCADE,
        related_name="history",
    )
    merchant = models.ForeignKey(
        "portal.Merchant",
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="provider_history",
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
    message = models.TextField(_("details"), blank=True)
    wechat_answer = models.JSONField(_("WeChat's answer"), null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider history")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["provider", "-at"], name="provider_event_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"
