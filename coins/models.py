"""Coins (券点) and stock (SPEC §5): the account, quotes turned into stock, WeChat Pay
recharges, the local copy of WeChat's ledger, and an event row for every movement."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.models import FriendCard
from portal.models import Merchant
from wechat.errors import MESSAGES as WECHAT_MESSAGES

COINS = {"max_digits": 14, "decimal_places": 2, "default": 0}


class Problem(models.TextChoices):
    """Why a stock order or a recharge did not go through: stored as a code and put
    into words when a page shows it, in the reader's language (never WeChat's errmsg)."""

    QUOTE_EXPIRED = (
        "quote_expired",
        _("The quote expired (quotes last 60 seconds). Get a new quote."),
    )
    WECHAT_SAYS_EXPIRED = (
        "wechat_expired",
        _(
            "WeChat says the quote has expired (quotes last 60 seconds). Get a new quote."
        ),
    )
    NOT_ENOUGH_COINS = (
        "not_enough_coins",
        _("There are not enough coins for this stock: recharge first."),
    )
    NOT_APPLIED = (
        "not_applied",
        _("WeChat did not add the stock. Get a new quote to try again."),
    )
    NOT_SENT = "not_sent", _("WeChat could not be reached. Please try again.")
    NOT_CREATED = (
        "not_created",
        _("WeChat did not create the payment order. Start a new recharge."),
    )
    QR_LOST = (
        "qr_lost",
        _(
            "WeChat created this payment order but its answer, with the QR code, was "
            "lost. It will be settled if it is paid; start a new recharge to pay now."
        ),
    )
    REFUSED = "refused", _("WeChat refused the request.")


def problem_text(problem: str, errcode: int | None) -> str:
    """The words for a stored problem code (WeChat's errcode in our words for a refusal)."""
    if not problem:
        return ""
    if problem == Problem.REFUSED and errcode in WECHAT_MESSAGES:
        return str(WECHAT_MESSAGES[errcode])
    try:
        return str(Problem(problem).label)
    except ValueError:
        return str(Problem.REFUSED.label)


class CoinAccount(models.Model):
    """The merchant's coin account, with the balance WeChat last reported."""

    TENANT_FIELD = "merchant"

    merchant = models.OneToOneField(
        Merchant,
        on_delete=models.CASCADE,
        related_name="coin_account",
        verbose_name=_("merchant"),
    )
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    free_coin = models.DecimalField(_("free coins"), **COINS)
    pay_coin = models.DecimalField(_("paid coins"), **COINS)
    total_coin = models.DecimalField(_("total coins"), **COINS)
    balance_at = models.DateTimeField(_("balance read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("coin account")
        verbose_name_plural = _("coin accounts")

    def __str__(self) -> str:
        return f"{self.merchant}: {self.total_coin}"


class StockOrder(models.Model):
    """N units of stock for a card: WeChat's 60-second quote, then one confirm."""

    TENANT_FIELD = "merchant"

    class Status(models.TextChoices):
        QUOTED = "quoted", _("Quoted")
        CONFIRMING = "confirming", _("Confirming")
        CONFIRMED = "confirmed", _("Stock added")
        EXPIRED = "expired", _("Quote expired")
        FAILED = "failed", _("Refused")
        UNKNOWN = "unknown", _("Checking with WeChat")

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="stock_orders",
        verbose_name=_("merchant"),
    )
    card = models.ForeignKey(
        FriendCard,
        on_delete=models.PROTECT,
        related_name="stock_orders",
        verbose_name=_("card"),
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    quote_id = models.CharField(_("WeChat order id"), max_length=255, unique=True)
    price = models.DecimalField(_("price (coins)"), **COINS)
    free_coin = models.DecimalField(_("free coins"), **COINS)
    pay_coin = models.DecimalField(_("paid coins"), **COINS)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUOTED
    )
    quoted_at = models.DateTimeField(_("quoted at"))
    # SPEC §5: the quote works once, within 60 s. The deadline lives here.
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    confirm_requested_at = models.DateTimeField(null=True, blank=True)
    # When the confirm was handed to WeChat (recorded before sending, SPEC §5).
    sent_at = models.DateTimeField(null=True, blank=True)
    # An unknown outcome is read again at this time, with back-off.
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    check_count = models.PositiveIntegerField(default=0)
    problem = models.CharField(
        _("problem"), max_length=24, choices=Problem.choices, blank=True
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("stock order")
        verbose_name_plural = _("stock orders")
        ordering = ["-quoted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="stock_order_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0), name="stock_order_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "quoted",
                        "confirming",
                        "confirmed",
                        "expired",
                        "failed",
                        "unknown",
                    ]
                ),
                name="stock_order_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card} × {self.quantity}"

    @property
    def problem_message(self) -> str:
        return problem_text(self.problem, self.errcode)


class Recharge(models.Model):
    """A WeChat Pay order for coins; polled until paid, failed or abandoned."""

    TENANT_FIELD = "merchant"

    class Status(models.TextChoices):
        SENDING = "sending", _("Being created at WeChat")
        UNKNOWN = "unknown", _("Checking with WeChat")
        WAITING = "waiting", _("Waiting for payment")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        ABANDONED = "abandoned", _("Not paid in time")

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="recharges",
        verbose_name=_("merchant"),
    )
    # Null until WeChat's answer (or its ledger) tells it (SPEC §5 unknown outcomes).
    order_id = models.CharField(
        _("WeChat order id"), max_length=64, unique=True, null=True, blank=True
    )
    coin_count = models.PositiveIntegerField(_("coins"))
    qrcode_url = models.CharField(_("payment QR code URL"), max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(
        _("problem"), max_length=24, choices=Problem.choices, blank=True
    )
    errcode = models.IntegerField(null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.WAITING
    )
    wechat_status = models.CharField(_("WeChat status"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(_("times asked"), default=0)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    settled_by = models.CharField(_("settled by"), max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("recharge")
        verbose_name_plural = _("recharges")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(coin_count__gt=0), name="recharge_positive"
            ),
            # Settled exactly once: a settled recharge has its time and its source.
            models.CheckConstraint(
                condition=Q(
                    status__in=["sending", "unknown", "waiting"],
                    settled_at__isnull=True,
                )
                | (
                    ~Q(status__in=["sending", "unknown", "waiting"])
                    & Q(settled_at__isnull=False)
                ),
                name="recharge_settled_once",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_poll_at"])]

    def __str__(self) -> str:
        return f"{self.coin_count} coins ({self.get_status_display()})"

    @property
    def problem_message(self) -> str:
        return problem_text(self.problem, self.errcode)


class LedgerEntry(models.Model):
    """One WeChat coin order (getorderlist), kept locally: every type, refunds too."""

    TENANT_FIELD = "merchant"

    class OrderType(models.TextChoices):
        SYS_ADD = "ORDER_TYPE_SYS_ADD", _("Platform gift")
        WXPAY = "ORDER_TYPE_WXPAY", _("Recharge")
        REFUND = "ORDER_TYPE_REFUND", _("Stock refunded as coins")
        REDUCE = "ORDER_TYPE_REDUCE", _("Coins for stock")
        SYS_REDUCE = "ORDER_TYPE_SYS_REDUCE", _("Platform deduction")

    class OrderStatus(models.TextChoices):
        WAITING = "ORDER_STATUS_WAITING", _("Waiting for payment")
        SUCC = "ORDER_STATUS_SUCC", _("Paid")
        FINANCE_SUCC = "ORDER_STATUS_FINANCE_SUCC", _("Coins added")
        QUANTITY_SUCC = "ORDER_STATUS_QUANTITY_SUCC", _("Stock added")
        HAS_REFUND = "ORDER_STATUS_HAS_REFUND", _("Refunded")
        REFUND_WAITING = "ORDER_STATUS_REFUND_WAITING", _("Refund pending")
        ROLLBACK = "ORDER_STATUS_ROLLBACK", _("Rolled back")
        HAS_RECEIPT = "ORDER_STATUS_HAS_RECEIPT", _("Invoiced")

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="ledger",
        verbose_name=_("merchant"),
    )
    order_id = models.CharField(_("WeChat order id"), max_length=255)
    order_type = models.CharField(_("type"), max_length=32, choices=OrderType.choices)
    status = models.CharField(_("status"), max_length=40, choices=OrderStatus.choices)
    create_time = models.DateTimeField(_("time"))
    pay_finish_time = models.DateTimeField(_("paid at"), null=True, blank=True)
    desc = models.CharField(_("description"), max_length=200, blank=True)
    free_coin_count = models.DecimalField(_("free coins"), **COINS)
    pay_coin_count = models.DecimalField(_("paid coins"), **COINS)
    refund_free_coin_count = models.DecimalField(_("free coins refunded"), **COINS)
    refund_pay_coin_count = models.DecimalField(_("paid coins refunded"), **COINS)
    openid = models.CharField(max_length=64, blank=True)
    # The whole ledger's balance after this order (oldest first), kept by the ledger
    # sync (coins.services.ledger): a page reads it instead of adding up the past.
    balance_after = models.DecimalField(
        _("balance after"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "order_id"], name="ledger_one_row_per_order"
            )
        ]
        # Keyset pages: (merchant, [type,] time, id) in either direction.
        indexes = [
            models.Index(fields=["merchant", "create_time", "id"], name="ledger_time"),
            models.Index(
                fields=["merchant", "order_type", "create_time", "id"],
                name="ledger_type_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.order_type}"


class CoinEvent(models.Model):
    """Every coin movement and attempt: who, what, when, and WeChat's answer."""

    TENANT_FIELD = "merchant"

    class Kind(models.TextChoices):
        ACTIVATED = "activated", _("Coin account opened")
        QUOTED = "quoted", _("Price quoted")
        CONFIRM_REQUESTED = "confirm_requested", _("Confirm requested")
        CONFIRMED = "confirmed", _("Stock added")
        CONFIRM_REFUSED = "confirm_refused", _("Confirm refused")
        CONFIRM_UNKNOWN = "confirm_unknown", _("Confirm answer lost")
        CONFIRM_LATE = "confirm_late", _("Stock added after all")
        EXPIRED = "expired", _("Quote expired")
        RECHARGE_CREATED = "recharge_created", _("Recharge started")
        RECHARGE_UNKNOWN = "recharge_unknown", _("Recharge answer lost")
        RECHARGE_FOUND = "recharge_found", _("Recharge found at WeChat")
        RECHARGE_NOT_CREATED = "recharge_not_created", _("Recharge not created")
        RECHARGE_PAID = "recharge_paid", _("Recharge paid")
        RECHARGE_FAILED = "recharge_failed", _("Recharge failed")
        RECHARGE_ABANDONED = "recharge_abandoned", _("Recharge abandoned")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="coin_events"
    )
    kind = models.CharField(_("what"), max_length=24, choices=Kind.choices)
    stock_order = models.ForeignKey(
        StockOrder,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    recharge = models.ForeignKey(
        Recharge, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    source = models.CharField(_("source"), max_length=16, default="portal")
    message = models.TextField(_("details"), blank=True)
    wechat_answer = models.JSONField(_("WeChat's answer"), null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("coin event")
        verbose_name_plural = _("coin events")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M:%S}"
