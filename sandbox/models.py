"""The sandbox's own tables: WeChat's side of the world (SPEC §12).

Nothing here is read by the portal: the portal only talks to the sandbox over HTTP.
"""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class Clock(models.Model):
    """Sandbox time = real time + offset; the control API moves it forward."""

    offset_seconds = models.FloatField(default=0)

    class Meta:
        verbose_name = _("sandbox clock")

    def __str__(self) -> str:
        return f"sandbox clock +{self.offset_seconds:.0f}s"


class Account(models.Model):
    """An official account as WeChat knows it."""

    appid = models.CharField(max_length=32, unique=True)
    secret = models.CharField(max_length=64)
    token = models.CharField(max_length=32, blank=True)
    encoding_aes_key = models.CharField(max_length=43, blank=True)
    callback_url = models.URLField(max_length=300, blank=True)
    encrypted = models.BooleanField(default=False)
    # SPEC §12: cards are reviewed automatically after this many sandbox seconds
    # (0 = only by hand, from the console or the control API).
    auto_review_seconds = models.PositiveIntegerField(default=30)
    # What api_get_authorizer_info and the authorization page show (SPEC §8).
    nick_name = models.CharField(max_length=100, blank=True)
    principal_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["appid"]

    def __str__(self) -> str:
        return self.appid


class AccessToken(models.Model):
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="tokens"
    )
    token = models.CharField(max_length=128, unique=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # An authorizer access token (SPEC §8): issued to this component for the account.
    component = models.ForeignKey(
        "sandbox.Component",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="authorizer_tokens",
    )

    class Meta:
        indexes = [models.Index(fields=["account", "expires_at"])]

    def __str__(self) -> str:
        return f"token of {self.account_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class Ticket(models.Model):
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="tickets"
    )
    kind = models.CharField(max_length=16)
    ticket = models.CharField(max_length=128, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} ticket of {self.account_id}"


class Image(models.Model):
    """An image uploaded through cgi-bin/media/uploadimg; served back at its URL."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="images"
    )
    key = models.CharField(max_length=40, unique=True)
    content = models.BinaryField()
    content_type = models.CharField(max_length=40)
    url = models.URLField(max_length=300, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class Fault(models.Model):
    """An injected fault: applies to calls of ``appid`` (blank: any) on ``path``
    (blank: any API path), ``remaining`` more times (null: until removed)."""

    class Kind(models.TextChoices):
        LATENCY = "latency", "added latency"
        TIMEOUT = "timeout", "no answer in time"
        HTTP_500 = "http_500", "HTTP 500"
        # WeChat did the work, then its answer was an error page.
        HTTP_500_AFTER = "http_500_after", "HTTP 500 after applying"
        # The connection drops without an answer, before or after the work is done.
        RESET = "reset", "connection dropped"
        RESET_AFTER = "reset_after", "connection dropped after applying"
        BUSY = "errcode_-1", "errcode -1 (system busy)"
        TOKEN_EXPIRED = "token_expired", "access token expired (42001)"

    appid = models.CharField(max_length=32, blank=True)
    path = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    latency_ms = models.PositiveIntegerField(default=0)
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.appid or '*'}/{self.path or '*'}"


class Call(models.Model):
    """Every API call the sandbox answered: what tests and the console count."""

    appid = models.CharField(max_length=32, blank=True, db_index=True)
    path = models.CharField(max_length=100, db_index=True)
    errcode = models.IntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(default=200)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.appid} {self.path} → {self.errcode}"


class Push(models.Model):
    """An event pushed to an account's callback URL, with how delivery went."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="pushes"
    )
    event = models.CharField(max_length=64)
    xml = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default="pending")
    attempts = models.PositiveSmallIntegerField(default=0)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} → {self.account_id} ({self.status})"


class Card(models.Model):
    """A friend coupon as WeChat keeps it (SPEC §3): its definition as created and
    updated, its review status and its stock. Derived fields (id, title, status,
    sku, times) are added when it is read, never stored in ``definition``."""

    class Type(models.TextChoices):
        CASH = "CASH", _("cash coupon")
        GIFT = "GIFT", _("gift coupon")

    class Status(models.TextChoices):
        NOT_VERIFY = "CARD_STATUS_NOT_VERIFY", _("in review")
        VERIFY_OK = "CARD_STATUS_VERIFY_OK", _("approved")
        VERIFY_FAIL = "CARD_STATUS_VERIFY_FAIL", _("rejected")
        DELETE = "CARD_STATUS_DELETE", _("deleted")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cards")
    card_id = models.CharField(max_length=32, unique=True)
    card_type = models.CharField(max_length=8, choices=Type.choices)
    definition = models.JSONField()
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.NOT_VERIFY
    )
    refuse_reason = models.CharField(max_length=200, blank=True)
    quantity = models.IntegerField(default=0)
    total_quantity = models.IntegerField(default=0)
    # Sandbox time at which the ticker approves it by itself (null: by hand only).
    review_due_at = models.DateTimeField(null=True, blank=True)
    # Sandbox time, set by the backend (not auto_now: the clock may run ahead).
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "review_due_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0)
                & models.Q(total_quantity__gte=models.F("quantity")),
                name="sandbox_card_stock_consistent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.card_id} ({self.card_type}, {self.status})"


# --- coins (券点, SPEC §5) ----------------------------------------------------------
COIN_DIGITS = {"max_digits": 14, "decimal_places": 2}


class CoinAccount(models.Model):
    """An account's coin balance, opened by ``card/pay/activate``. Coins are yuan
    with two decimals; balances change only by conditional UPDATEs."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="coin_account"
    )
    activated_at = models.DateTimeField()
    free_coin = models.DecimalField(default=0, **COIN_DIGITS)
    pay_coin = models.DecimalField(default=0, **COIN_DIGITS)

    class Meta:
        verbose_name = _("coin account")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(free_coin__gte=0) & models.Q(pay_coin__gte=0),
                name="sandbox_coin_balance_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"coins of {self.account_id}: {self.free_coin} + {self.pay_coin}"

    @property
    def total_coin(self) -> Decimal:
        return self.free_coin + self.pay_coin


class CoinOrder(models.Model):
    """One line of the coin ledger (``card/pay/getorder``, ``getorderlist``):
    the activation reward, a recharge, stock bought, or stock refunded."""

    class Type(models.TextChoices):
        SYS_ADD = "ORDER_TYPE_SYS_ADD", _("platform reward")
        WXPAY = "ORDER_TYPE_WXPAY", _("recharge")
        REFUND = "ORDER_TYPE_REFUND", _("stock refunded as coins")
        REDUCE = "ORDER_TYPE_REDUCE", _("coins exchanged for stock")
        SYS_REDUCE = "ORDER_TYPE_SYS_REDUCE", _("platform deduction")

    class Status(models.TextChoices):
        WAITING = "ORDER_STATUS_WAITING", _("waiting for payment")
        SUCC = "ORDER_STATUS_SUCC", _("paid")
        FINANCE_SUCC = "ORDER_STATUS_FINANCE_SUCC", _("coins added")
        QUANTITY_SUCC = "ORDER_STATUS_QUANTITY_SUCC", _("stock added")
        HAS_REFUND = "ORDER_STATUS_HAS_REFUND", _("refunded")
        REFUND_WAITING = "ORDER_STATUS_REFUND_WAITING", _("refund waiting")
        ROLLBACK = "ORDER_STATUS_ROLLBACK", _("rolled back")
        HAS_RECEIPT = "ORDER_STATUS_HAS_RECEIPT", _("invoiced")

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="coin_orders"
    )
    # Digits for recharges, rewards and refunds; a stock order keeps its quote's id.
    order_id = models.CharField(max_length=200, unique=True)
    order_type = models.CharField(max_length=32, choices=Type.choices)
    status = models.CharField(max_length=32, choices=Status.choices)
    # Sandbox time (not auto_now_add: the clock may run ahead).
    create_time = models.DateTimeField()
    pay_finish_time = models.DateTimeField(null=True, blank=True)
    desc = models.CharField(max_length=64, blank=True)
    free_coin_count = models.DecimalField(default=0, **COIN_DIGITS)
    pay_coin_count = models.DecimalField(default=0, **COIN_DIGITS)
    refund_free_coin_count = models.DecimalField(default=0, **COIN_DIGITS)
    refund_pay_coin_count = models.DecimalField(default=0, **COIN_DIGITS)
    openid = models.CharField(max_length=64, blank=True)
    card = models.ForeignKey(
        Card,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coin_orders",
    )
    quantity = models.PositiveIntegerField(null=True, blank=True)
    # A recharge's payment link: weixin://wxpay/bizpayurl?pr=<pay_token>.
    pay_token = models.CharField(max_length=32, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-create_time", "-id"]
        indexes = [
            models.Index(fields=["account", "create_time"]),
            models.Index(fields=["order_type", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(free_coin_count__gte=0)
                & models.Q(pay_coin_count__gte=0)
                & models.Q(refund_free_coin_count__gte=0)
                & models.Q(refund_pay_coin_count__gte=0),
                name="sandbox_coin_order_counts_not_negative",
            ),
            # SPEC §3.6: an expired card's stock is refunded once.
            models.UniqueConstraint(
                fields=["card"],
                condition=models.Q(order_type="ORDER_TYPE_REFUND"),
                name="sandbox_coin_refund_once_per_card",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_type} {self.order_id} ({self.status})"


class Quote(models.Model):
    """A ``card/pay/getpayprice`` answer: its order_id confirms once, within 60 s."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="coin_quotes"
    )
    order_id = models.CharField(max_length=200, unique=True)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="quotes")
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(**COIN_DIGITS)
    free_coin = models.DecimalField(**COIN_DIGITS)
    pay_coin = models.DecimalField(**COIN_DIGITS)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()  # sandbox time
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"quote of {self.quantity} × {self.card_id} = {self.price}"


# --- WeChat's users and their codes (SPEC §6, §7) ----------------------------------
class WeChatUser(models.Model):
    """A WeChat user as one account knows them: an openid, and the WeChat ID
    (微信号, ``username``) that ``card/testwhitelist/set`` may name instead.

    Users appear when they first receive a card, are defined from the console or
    the control API, or are named by username in a test whitelist."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="users")
    openid = models.CharField(max_length=64)
    username = models.CharField(max_length=32, blank=True)
    nickname = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "openid"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "openid"], name="sandbox_user_openid_unique"
            ),
            models.UniqueConstraint(
                fields=["account", "username"],
                condition=~models.Q(username=""),
                name="sandbox_user_username_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.openid} @ {self.account_id}"


class WhitelistEntry(models.Model):
    """One line of an account's test whitelist (``card/testwhitelist/set``): an
    openid, or a username with the openid it stands for. Replaced as a whole."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="whitelist"
    )
    openid = models.CharField(max_length=64)
    username = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["account", "id"]
        indexes = [models.Index(fields=["account", "openid"])]

    def __str__(self) -> str:
        return f"whitelist {self.username or self.openid} @ {self.account_id}"


class QRCode(models.Model):
    """A ``card/qrcode/create`` answer (SPEC §6): scanning its ``url`` receives the
    card with the QR's channel (``outer_id`` / ``outer_str``)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="qrcodes"
    )
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="qrcodes")
    ticket = models.CharField(max_length=120, unique=True)
    # The path of ``url`` (WeChat's http://weixin.qq.com/q/<slug>).
    slug = models.CharField(max_length=32, unique=True)
    expire_seconds = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # sandbox time
    is_unique_code = models.BooleanField(default=False)
    outer_id = models.BigIntegerField(default=0)
    outer_str = models.CharField(max_length=128, blank=True)
    openid = models.CharField(max_length=64, blank=True)  # only this user may scan
    # A unique-code QR gives its one code once: claimed by a conditional UPDATE.
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"QR of {self.card_id} (outer_id {self.outer_id})"


class Code(models.Model):
    """A code a user received (SPEC §6, §7): 12 digits, its ``encrypt_code`` (an
    opaque random token, base64 with ``+``, ``/`` and ``=``), its status, and the
    5-minute mark of an online redemption. Status changes only by conditional
    UPDATEs, so a code is consumed at most once."""

    class Status(models.TextChoices):
        NORMAL = "NORMAL", _("normal")
        CONSUMED = "CONSUMED", _("consumed")
        EXPIRE = "EXPIRE", _("expired")
        GIFTING = "GIFTING", _("being given")
        GIFT_TIMEOUT = "GIFT_TIMEOUT", _("gift timed out")
        DELETE = "DELETE", _("deleted")
        UNAVAILABLE = "UNAVAILABLE", _("unavailable")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="codes")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=20, unique=True)
    encrypt_code = models.CharField(max_length=128, unique=True)
    openid = models.CharField(max_length=64, db_index=True)  # who received it
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.NORMAL
    )
    mark_openid = models.CharField(max_length=64, blank=True)
    mark_expires_at = models.DateTimeField(null=True, blank=True)  # sandbox time
    # The receive: channel, scene, friend, and what it came from.
    outer_id = models.BigIntegerField(default=0)
    outer_str = models.CharField(max_length=128, blank=True)
    source_scene = models.CharField(max_length=40, blank=True)
    is_give_by_friend = models.BooleanField(default=False)
    friend_user_name = models.CharField(max_length=64, blank=True)
    qrcode = models.ForeignKey(
        QRCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="codes"
    )
    # The consume-share gift (SPEC §7): the consumed code this one was given for.
    gift_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="gifts"
    )
    # A JS-SDK addCard's cardExt signature is good for one receive.
    card_ext_signature = models.CharField(
        max_length=40, unique=True, null=True, blank=True
    )
    received_at = models.DateTimeField()  # sandbox time
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_by = models.CharField(max_length=64, blank=True)  # FromUserName
    consume_source = models.CharField(max_length=24, blank=True)
    location_id = models.BigIntegerField(null=True, blank=True)
    staff_openid = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["account", "code"]),
            models.Index(fields=["card", "openid"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="CONSUMED")
                | models.Q(consumed_at__isnull=False),
                name="sandbox_code_consumed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.status})"


# The open platform (SPEC §8) lives in its own module.
from .models_component import (  # noqa: E402, F401
    Authorization,
    Component,
    ComponentAccessToken,
    ComponentPush,
    ComponentTicket,
    PreAuthCode,
)
