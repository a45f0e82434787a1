"""Friend coupons (SPEC §3): the card, its images, and the history of its states.

The card's definition is kept as WeChat's own create JSON (the ``card`` object), so
that the editor, the preview, the API, the services and the sandbox all speak one
shape and run the same rules (cards/rules.py). A few columns are copied out of it for
lists and filters.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import Merchant, Store


class CardType(models.TextChoices):
    CASH = "CASH", _("Cash coupon")
    GIFT = "GIFT", _("Gift coupon")


class CardStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Draft")
    SUBMITTING = "SUBMITTING", _("Being submitted")
    # card/create's answer was lost: WeChat's card list will tell (SPEC §5).
    SUBMIT_UNKNOWN = "SUBMIT_UNKNOWN", _("Checking with WeChat")
    IN_REVIEW = "CARD_STATUS_NOT_VERIFY", _("In review")
    APPROVED = "CARD_STATUS_VERIFY_OK", _("Approved")
    REJECTED = "CARD_STATUS_VERIFY_FAIL", _("Rejected")
    DELETED = "CARD_STATUS_DELETE", _("Deleted")


class FriendCard(models.Model):
    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="cards",
    )
    card_type = models.CharField(_("type"), max_length=8, choices=CardType.choices)
    status = models.CharField(
        _("status"), max_length=32, choices=CardStatus.choices, default=CardStatus.DRAFT
    )
    # WeChat's create JSON "card" object as the merchant last saved it …
    definition = models.JSONField(_("definition"), default=dict)
    # … and as WeChat holds it (after create / update): updates send the difference.
    synced_definition = models.JSONField(null=True, blank=True, editable=False)
    card_id = models.CharField(
        _("WeChat card id"), max_length=64, null=True, blank=True, unique=True
    )
    # Derived by rules.py from the definition, for lists and search (SPEC §3.2–3.4).
    title = models.CharField(_("title"), max_length=120, blank=True)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    unit_price = models.DecimalField(
        _("coins per unit"), max_digits=4, decimal_places=1, default=0
    )
    brand_name = models.CharField(_("brand name"), max_length=40, blank=True)
    begin_at = models.DateTimeField(_("valid from"), null=True, blank=True)
    end_at = models.DateTimeField(_("valid until"), null=True, blank=True)
    stores = models.ManyToManyField(Store, verbose_name=_("stores"), blank=True)
    refuse_reason = models.CharField(_("refuse reason"), max_length=300, blank=True)
    quantity = models.PositiveIntegerField(_("stock"), default=0)
    total_quantity = models.PositiveIntegerField(_("stock bought"), default=0)
    # The last refusal (ours or WeChat's) to show on its field: {field, message, errcode}.
    last_error = models.JSONField(null=True, blank=True, editable=False)
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
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    # card/create is recorded before it is sent: the marker travels in the card
    # (base_info.source) so that a lost answer's card can be found at WeChat.
    create_marker = models.CharField(max_length=36, blank=True, editable=False)
    submit_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    check_count = models.PositiveIntegerField(default=0, editable=False)
    # Bumped by every change of the definition: an editor opened on an older
    # version cannot overwrite a newer one.
    version = models.PositiveIntegerField(default=0, editable=False)
    # One card/update at a time per card (a second one waits its turn).
    update_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("friend coupon")
        verbose_name_plural = _("friend coupons")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(card_type__in=CardType.values), name="card_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CardStatus.values), name="card_status_valid"
            ),
            # Past the draft, a card exists at WeChat.
            models.CheckConstraint(
                condition=Q(status__in=["DRAFT", "SUBMITTING", "SUBMIT_UNKNOWN"])
                | Q(card_id__isnull=False),
                name="card_submitted_has_card_id",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status", "-created_at"]),
            # The provider console's alerts (SPEC §8): per merchant, whether an
            # approved card is low on stock or ends soon, each one index seek.
            models.Index(
                fields=["merchant", "status", "quantity"], name="card_stock_alert"
            ),
            models.Index(
                fields=["merchant", "status", "end_at"], name="card_end_alert"
            ),
        ]

    def __str__(self) -> str:
        return self.title or str(_("Untitled coupon"))

    @property
    def is_submitted(self) -> bool:
        return bool(self.card_id)

    @property
    def type_block(self) -> dict:
        """The definition's ``cash`` / ``gift`` object."""
        return (
            self.definition.get(self.card_type.lower(), {}) if self.definition else {}
        )


class CardImage(models.Model):
    """An image uploaded to WeChat (cgi-bin/media/uploadimg) for a merchant's cards.

    Only URLs recorded here may appear in a card (SPEC §3.5, else 40141).
    """

    TENANT_FIELD = "merchant"

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="card_images"
    )
    file = models.FileField(upload_to="cards/%Y/%m/")
    wechat_url = models.URLField(max_length=500)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("card image")
        verbose_name_plural = _("card images")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "wechat_url"], name="card_image_url_once"
            )
        ]

    def __str__(self) -> str:
        return self.wechat_url


class CardEvent(models.Model):
    """Every state change of a card: who, what, when, and WeChat's answer."""

    TENANT_FIELD = "card__merchant"

    class Kind(models.TextChoices):
        CREATED = "created", _("Draft created")
        EDITED = "edited", _("Draft edited")
        SUBMITTED = "submitted", _("Submitted to WeChat")
        SUBMIT_FAILED = "submit_failed", _("Refused by WeChat")
        SUBMIT_UNKNOWN = "submit_unknown", _("Submission answer lost")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        UPDATED = "updated", _("Updated at WeChat")
        UPDATE_FAILED = "update_failed", _("Update refused")
        BACK_TO_REVIEW = "back_to_review", _("Sent back to review")
        DELETED = "deleted", _("Deleted")
        SYNCED = "synced", _("Status read from WeChat")
        STOCK_ADDED = "stock_added", _("Stock added")

    card = models.ForeignKey(
        FriendCard, on_delete=models.CASCADE, related_name="events"
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
    source = models.CharField(_("source"), max_length=20, default="portal")
    message = models.TextField(_("details"), blank=True)
    wechat_answer = models.JSONField(_("WeChat's answer"), null=True, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("card event")
        verbose_name_plural = _("card history")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.at:%Y-%m-%d %H:%M}"


class CardFigures(models.Model):
    """A merchant's cards in figures, for the provider console (SPEC §8). Written
    by database triggers on the cards table only (cards/figures.py): never by
    the portal's code. No row for a merchant without a card."""

    merchant = models.OneToOneField(
        Merchant,
        primary_key=True,
        on_delete=models.DO_NOTHING,  # the trigger removes the row with the last card
        db_constraint=False,
        related_name="+",
    )
    in_review = models.PositiveIntegerField(default=0)
    approved = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    stock = models.PositiveBigIntegerField(default=0)  # of the approved cards
    # The approved cards' least stock, and their first and last end.
    min_stock = models.PositiveIntegerField(null=True)
    first_end_at = models.DateTimeField(null=True)
    last_end_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("card figures")
        verbose_name_plural = _("card figures")

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.approved} approved, {self.stock} left"
