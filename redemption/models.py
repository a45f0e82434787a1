"""Redemption (核销, SPEC §7): the codes the merchant's cards issued, every attempt to
consume one, and the keys machines at the till use.

A code is consumed **at most once**. The database holds that promise with two partial
unique constraints on the attempts: at most one attempt of a code is with WeChat at a
time (``in flight``), and at most one attempt of a code ever consumed it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.models import FriendCard
from portal.models import Merchant, Store


class CodeStatus(models.TextChoices):
    """WeChat's user_card_status (SPEC §7), as last learned."""

    NORMAL = "NORMAL", _("Ready to use")
    CONSUMED = "CONSUMED", _("Redeemed")
    EXPIRE = "EXPIRE", _("Expired")
    GIFTING = "GIFTING", _("Being given to a friend")
    GIFT_TIMEOUT = "GIFT_TIMEOUT", _("Gift not accepted in time")
    DELETE = "DELETE", _("Deleted by the customer")
    UNAVAILABLE = "UNAVAILABLE", _("Made unavailable")


class ConsumeSource(models.TextChoices):
    FROM_API = "FROM_API", _("This portal (or another API client)")
    FROM_MP = "FROM_MP", _("WeChat's back office")
    FROM_MOBILE_HELPER = "FROM_MOBILE_HELPER", _("WeChat's redemption helper app")


class Code(models.Model):
    """One code a card of the merchant issued, kept from WeChat's events
    (user_get_card, user_consume_card, user_del_card) and code/get answers."""

    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="codes",
        verbose_name=_("merchant"),
    )
    card = models.ForeignKey(
        FriendCard,
        on_delete=models.CASCADE,
        related_name="codes",
        verbose_name=_("card"),
    )
    code = models.CharField(_("code"), max_length=32)
    openid = models.CharField(_("received by"), max_length=64, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=CodeStatus.choices,
        default=CodeStatus.NORMAL,
    )
    outer_id = models.BigIntegerField(_("channel"), null=True, blank=True)
    outer_str = models.CharField(_("channel text"), max_length=128, blank=True)
    given_by_friend = models.BooleanField(_("received from a friend"), default=False)
    friend_openid = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    consumed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    consume_source = models.CharField(
        _("redeemed through"), max_length=24, choices=ConsumeSource.choices, blank=True
    )
    consumed_location_id = models.CharField(max_length=32, blank=True)
    consumed_by_openid = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("code")
        verbose_name_plural = _("codes")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="code_once"),
            models.CheckConstraint(
                condition=Q(status__in=CodeStatus.values), name="code_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["card", "status"]),
            models.Index(fields=["merchant", "outer_id"]),
        ]

    def __str__(self) -> str:
        return self.code


class Reason(models.TextChoices):
    """Why an attempt did not consume (stable codes: the API's error codes too); the
    words are shown in the reader's language when a page shows them."""

    ALREADY_CONSUMED = "already_consumed", _("This coupon has already been redeemed.")
    IN_PROGRESS = (
        "in_progress",
        _("Another till is redeeming this coupon right now. Wait a moment."),
    )
    EXPIRED = "expired", _("This coupon is outside its validity dates.")
    NOT_VALID_HERE = "not_valid_here", _("This coupon is not valid at this store.")
    MARKED_BY_OTHER = (
        "marked_by_other",
        _("Someone else is using this coupon in WeChat right now."),
    )
    NOT_MARKED = (
        "not_marked",
        _("This coupon was not reserved for this WeChat user: open it again."),
    )
    DELETED = "deleted", _("The customer deleted this coupon, or is giving it away.")
    UNAVAILABLE = "unavailable", _("This coupon has been made unavailable.")
    INVALID_CODE = (
        "invalid_code",
        _("No coupon of this merchant has this code. Check the digits."),
    )
    WECHAT_BUSY = "wechat_busy", _("WeChat is busy. Try again in a moment.")
    NOT_CONFIRMED = (
        "not_confirmed",
        _(
            "WeChat did not confirm the redemption and the coupon is still unused. "
            "Try again."
        ),
    )
    CHECKING = (
        "checking",
        _("WeChat's answer was lost. We are checking whether the coupon was redeemed."),
    )
    REVOKED = "revoked", _("This merchant's WeChat account cannot be used now.")


class Channel(models.TextChoices):
    TILL = "till", _("Till page")
    API = "api", _("Machine (API key)")
    ONLINE = "online", _("Customer's phone (online)")


class RedemptionAttempt(models.Model):
    """One attempt to redeem a code: written before WeChat is called, finished after,
    never deleted — the history a manager audits."""

    TENANT_FIELD = "merchant"

    class Outcome(models.TextChoices):
        PENDING = "pending", _("With WeChat")
        UNKNOWN = "unknown", _("Checking with WeChat")
        CONSUMED = "consumed", _("Redeemed")
        REFUSED = "refused", _("Refused")

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="redemptions",
        verbose_name=_("merchant"),
    )
    code = models.CharField(_("code"), max_length=64)  # as typed (normalised)
    code_ref = models.ForeignKey(
        Code, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts"
    )
    card = models.ForeignKey(
        FriendCard,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="redemptions",
        verbose_name=_("card"),
    )
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="redemptions",
        verbose_name=_("store"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("cashier"),
    )
    api_key = models.ForeignKey(
        "TillKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attempts",
        verbose_name=_("device"),
    )
    openid = models.CharField(_("WeChat user"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=Outcome.choices, default=Outcome.PENDING
    )
    reason = models.CharField(
        _("reason"), max_length=24, choices=Reason.choices, blank=True
    )
    errcode = models.IntegerField(null=True, blank=True)
    wechat_answer = models.JSONField(null=True, blank=True)
    # Late: WeChat's state showed it consumed after the attempt was closed otherwise.
    late = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One attempt of a code with WeChat at a time: the claim.
            models.UniqueConstraint(
                fields=["merchant", "code"],
                condition=Q(outcome__in=["pending", "unknown"], sent_at__isnull=False),
                name="redemption_one_in_flight_per_code",
            ),
            # A code is consumed at most once, whoever asked.
            models.UniqueConstraint(
                fields=["merchant", "code"],
                condition=Q(outcome="consumed"),
                name="redemption_consumed_once",
            ),
            # The same Idempotency-Key gets the same answer (one attempt per key).
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="redemption_idempotency_key_once",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["pending", "unknown", "consumed", "refused"]),
                name="redemption_outcome_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "store", "-created_at"]),
            models.Index(fields=["merchant", "outcome", "next_check_at"]),
            # The history's keyset: newest first, ties broken by id.
            models.Index(
                fields=["merchant", "-created_at", "-id"], name="redemption_history"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.get_outcome_display()})"

    @property
    def reason_message(self) -> str:
        if not self.reason:
            return ""
        try:
            return str(Reason(self.reason).label)
        except ValueError:
            return self.reason


class TillKey(models.Model):
    """An API key of one store's device (a POS, a scanner): shown once, kept hashed,
    named, revocable; it redeems only at its own store."""

    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="till_keys",
        verbose_name=_("merchant"),
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.CASCADE,
        related_name="till_keys",
        verbose_name=_("store"),
    )
    name = models.CharField(_("device name"), max_length=80)
    prefix = models.CharField(_("key starts with"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(
        _("last used"), null=True, blank=True, editable=False
    )
    revoked_at = models.DateTimeField(
        _("revoked at"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("till API key")
        verbose_name_plural = _("till API keys")
        ordering = ["store", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class CodeEvent(models.Model):
    """A change of a code the portal did not make itself (a receive, a consume in
    WeChat's back office, a deletion, a late success), with WeChat's answer."""

    TENANT_FIELD = "code__merchant"

    class Kind(models.TextChoices):
        RECEIVED = "received", _("Received by a customer")
        CONSUMED_ELSEWHERE = "consumed_elsewhere", _("Redeemed outside this portal")
        CONSUMED_LATE = "consumed_late", _("Redeemed after all (WeChat confirmed late)")
        STATUS = "status", _("Status read from WeChat")

    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=24, blank=True)
    message = models.TextField(_("details"), blank=True)
    wechat_answer = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.code} {self.kind}"
