"""Writes for friend coupons: drafts, images, submission, updates, reviews, deletion.

Every WeChat call goes through the merchant's client; every state change leaves a
CardEvent. A card is claimed for submission by a conditional update, so a double
click or a second worker never creates it twice.
"""

from __future__ import annotations

import copy
import logging
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

import wechat
from portal.jobs import enqueue
from portal.models import Merchant, Store
from wechat import errors as wx

from . import rules
from .models import CardEvent, CardImage, CardStatus, CardType, FriendCard

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 1024 * 1024
_IMAGE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}

# WeChat's errcodes on the card path, and the field each belongs to (SPEC §3.5, §11).
ERRCODE_FIELDS = {
    wx.E.INVALID_TIME: "base_info.date_info",
    wx.E.NO_STORE: "base_info.location_id_list",
    wx.E.IMAGE_NOT_UPLOADED: "base_info.logo_url",
    wx.E.TOO_MANY_GIFT_RULES: "advanced_info.consume_share_card_list",
    wx.E.INVALID_JSON: "",
    wx.E.INVALID_JSON_STRUCTURE: "",
    wx.E.FORMAT_ERROR: "",
}


class CardRefused(Exception):
    """The card cannot go to WeChat as it is: errors per field (JSON paths)."""

    def __init__(self, errors: list[rules.FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


# --- context the rules need about the merchant ----------------------------------
def uploaded_checker(merchant: Merchant):
    """``is_uploaded(url)``: True for this merchant's uploadimg URLs (SPEC §3.5)."""
    urls = None

    def is_uploaded(url: str) -> bool:
        nonlocal urls
        if urls is None:
            urls = set(
                CardImage.objects.filter(merchant=merchant).values_list(
                    "wechat_url", flat=True
                )
            )
        return url in urls

    return is_uploaded


def store_ids(merchant: Merchant) -> set[int]:
    return {
        int(p)
        for p in Store.objects.filter(merchant=merchant).values_list(
            "poi_id", flat=True
        )
        if p.isdigit()
    }


def validate_for_merchant(
    card: dict, *, merchant: Merchant, now: datetime | None = None
) -> list[rules.FieldError]:
    """rules.validate_create with this merchant's images and stores."""
    return rules.validate_create(
        card,
        now=now or timezone.now(),
        is_uploaded=uploaded_checker(merchant),
        known_location_ids=store_ids(merchant),
    )


# --- images ------------------------------------------------------------------------
def card_image_upload(
    *, merchant: Merchant, content: bytes, filename: str, actor=None
) -> CardImage:
    """Upload an image to WeChat (cgi-bin/media/uploadimg) and remember its URL.

    Refuses what WeChat refuses, with its words: over 1 MB (40009), not a JPG or
    PNG (40005) — checked here first, from the bytes, not the file name.
    """
    if len(content) > MAX_IMAGE_BYTES:
        raise ValidationError(str(wx.MESSAGES[40009]), code="image_too_large")
    content_type = next(
        (t for magic, t in _IMAGE_TYPES.items() if content.startswith(magic)), None
    )
    if content_type is None:
        raise ValidationError(str(wx.MESSAGES[40005]), code="image_type")
    client = wechat.for_merchant(merchant)
    uploaded = client.media.upload_image(
        content, filename=filename, content_type=content_type
    )
    image = CardImage(
        merchant=merchant,
        wechat_url=uploaded.url,
        content_type=content_type,
        size=len(content),
        uploaded_by=actor,
    )
    image.file.save(filename[-80:] or "image", ContentFile(content), save=False)
    image.save()
    return image


# --- drafts ------------------------------------------------------------------------
def _derive(card: FriendCard) -> None:
    """Copy the rule-derived and listed values out of the definition."""
    definition = card.definition
    card.card_type = (
        definition.get("card_type")
        if definition.get("card_type") in CardType.values
        else CardType.CASH
    )
    card.title = rules.title(definition)[:120]
    card.summary = rules.summary(definition)[:300]
    card.unit_price = rules.unit_price(definition)
    base = (
        card.type_block.get("base_info", {})
        if isinstance(card.type_block, dict)
        else {}
    )
    base = base if isinstance(base, dict) else {}
    card.brand_name = str(base.get("brand_name", ""))[:40]
    dates = base.get("date_info") if isinstance(base.get("date_info"), dict) else {}
    card.begin_at = _ts(dates.get("begin_timestamp"))
    card.end_at = _ts(dates.get("end_timestamp"))


def _ts(value) -> datetime | None:
    try:
        seconds = int(value)
        return (
            datetime.fromtimestamp(seconds, tz=UTC)
            if 0 < seconds <= rules.LATEST_END
            else None
        )
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _sync_stores(card: FriendCard) -> None:
    ids = card.type_block.get("base_info", {}).get("location_id_list") or []
    pois = [str(i) for i in ids if isinstance(i, int | str)]
    card.stores.set(Store.objects.filter(merchant=card.merchant, poi_id__in=pois))


@transaction.atomic
def card_draft_save(
    *, merchant: Merchant, definition: dict, actor=None, card: FriendCard | None = None
) -> FriendCard:
    """Create or change a draft (not yet at WeChat). Rule errors do not block a draft:
    the editor shows them; submission refuses them."""
    if card is not None and card.merchant_id != merchant.pk:
        raise ValidationError(_("This card belongs to another merchant."))
    if card is not None and card.status not in (CardStatus.DRAFT,):
        raise ValidationError(_("Only a draft can be edited this way."))
    created = card is None
    card = card or FriendCard(merchant=merchant, created_by=actor)
    card.definition = definition
    card.last_error = None
    if not created:
        card.version = F("version") + 1
    _derive(card)
    card.save()
    card.refresh_from_db(fields=["version"])
    _sync_stores(card)
    _event(card, CardEvent.Kind.CREATED if created else CardEvent.Kind.EDITED, actor)
    return card


def _event(
    card, kind, actor=None, *, message="", answer=None, source="portal"
) -> CardEvent:
    return CardEvent.objects.create(
        card=card,
        kind=kind,
        actor=actor,
        message=message,
        wechat_answer=answer,
        source=source,
    )


def _error_payload(field: str, message: str, errcode: int | None) -> dict:
    return {"field": field, "message": message, "errcode": errcode}


# --- submission ----------------------------------------------------------------------
MARKER_PREFIX = "fcp-"
IN_FLIGHT_STUCK = timedelta(
    seconds=30
)  # a card/create still "sending": its sender died
CHECK_SCHEDULE = (2, 3, 5, 10, 15, 30, 60)


def _margin() -> timedelta:
    return timedelta(seconds=getattr(settings, "UNKNOWN_OUTCOME_MARGIN_SECONDS", 30))


def create_payload(card: FriendCard) -> dict:
    """The card/create body's card: the definition, marked with the card's marker in
    ``base_info.source`` (WeChat's 来源 field; card/get gives it back)."""
    payload = copy.deepcopy(card.definition)
    block = payload.get(card.card_type.lower())
    if isinstance(block, dict) and isinstance(block.get("base_info"), dict):
        block["base_info"].setdefault("source", card.create_marker)
    return payload


def card_submit(*, card: FriendCard, actor=None) -> FriendCard:
    """Send a draft to WeChat (card/create). Returns the card in review.

    Raises CardRefused (our rules or WeChat's errcode, on its field),
    wechat.errors.TransportError (WeChat was not reached: still a draft) or
    wechat.errors.UnknownOutcome (the answer was lost: the card is *checking with
    WeChat* until WeChat's card list shows whether it was created — it is never
    created a second time to find out, SPEC §5).
    """
    errors = validate_for_merchant(card.definition, merchant=card.merchant)
    if errors:
        card.last_error = _error_payload(
            errors[0].field, errors[0].message, errors[0].errcode
        )
        card.save(update_fields=["last_error", "updated_at"])
        raise CardRefused(errors)
    now = timezone.now()
    marker = MARKER_PREFIX + secrets.token_hex(12)
    claimed = FriendCard.objects.filter(pk=card.pk, status=CardStatus.DRAFT).update(
        status=CardStatus.SUBMITTING,
        create_marker=marker,
        submit_sent_at=now,
        check_count=0,
        updated_at=now,
    )
    if not claimed:
        card.refresh_from_db()
        return card  # already submitted (a second click, a second worker)
    card.refresh_from_db()
    client = wechat.for_merchant(card.merchant)
    try:
        card_id = client.card.create(create_payload(card))
    except wx.UnknownOutcome as exc:
        _became_unknown(card, actor)
        raise exc
    except wx.TransportError as exc:
        _release(card, exc.message)
        raise
    except wx.WeChatError as exc:
        _release(card, exc.message)
        raise _refused_by_wechat(
            card, exc, CardEvent.Kind.SUBMIT_FAILED, actor
        ) from exc
    _submitted(card, card_id=card_id, actor=actor)
    card.refresh_from_db()
    return card


def _submitted(
    card: FriendCard,
    *,
    card_id: str,
    actor=None,
    status: str = CardStatus.IN_REVIEW,
    source: str = "portal",
) -> bool:
    now = timezone.now()
    with transaction.atomic():
        moved = FriendCard.objects.filter(
            pk=card.pk,
            status__in=[CardStatus.SUBMITTING, CardStatus.SUBMIT_UNKNOWN],
        ).update(
            status=status,
            card_id=card_id,
            synced_definition=card.definition,
            submitted_at=card.submit_sent_at or now,
            next_check_at=None,
            last_error=None,
            updated_at=now,
        )
        if moved:
            _event(
                card,
                CardEvent.Kind.SUBMITTED,
                actor,
                answer={"card_id": card_id},
                source=source,
            )
    return bool(moved)


def _became_unknown(
    card: FriendCard, actor=None, *, first_check: int | None = None
) -> None:
    first_check = CHECK_SCHEDULE[0] if first_check is None else first_check
    if FriendCard.objects.filter(pk=card.pk, status=CardStatus.SUBMITTING).update(
        status=CardStatus.SUBMIT_UNKNOWN,
        next_check_at=timezone.now() + timedelta(seconds=first_check),
        updated_at=timezone.now(),
    ):
        _event(
            card,
            CardEvent.Kind.SUBMIT_UNKNOWN,
            actor,
            message=str(wx.UnknownOutcome().message),
        )
        enqueue("cards.settle_submission", card.pk, countdown=first_check)
    card.refresh_from_db()


_REVIEW_STATES = {
    "CARD_STATUS_NOT_VERIFY": CardStatus.IN_REVIEW,
    "CARD_STATUS_VERIFY_OK": CardStatus.APPROVED,
    "CARD_STATUS_DISPATCH": CardStatus.APPROVED,
    "CARD_STATUS_VERIFY_FAIL": CardStatus.REJECTED,
}


def card_settle_submission(*, card_pk: int) -> str:
    """A card/create whose answer was lost: look for the card at WeChat
    (card/batchget, then card/get of the cards this portal does not know, matched on
    the marker sent in base_info.source). Found → linked; absent once the request
    can no longer land → back to draft, to be submitted again. Never creates."""
    card = FriendCard.objects.select_related("merchant").get(pk=card_pk)
    if card.status != CardStatus.SUBMIT_UNKNOWN:
        return card.status
    client = wechat.for_merchant(card.merchant)
    try:
        found = _find_by_marker(client, card)
    except wx.WeChatError as exc:
        log.warning("looking for card %s at WeChat failed: %s", card.pk, exc)
        return _check_later(card)
    if found is not None:
        card_id, wechat_status = found
        _submitted(
            card,
            card_id=card_id,
            status=_REVIEW_STATES.get(wechat_status, CardStatus.IN_REVIEW),
            source="settled",
        )
        return FriendCard.objects.get(pk=card.pk).status
    if timezone.now() < (card.submit_sent_at or card.updated_at) + _margin():
        return _check_later(card)
    message = _("WeChat did not create this card. Submit it again.")
    if FriendCard.objects.filter(pk=card.pk, status=CardStatus.SUBMIT_UNKNOWN).update(
        status=CardStatus.DRAFT,
        next_check_at=None,
        last_error=_error_payload("", message, None),
        updated_at=timezone.now(),
    ):
        _event(card, CardEvent.Kind.SUBMIT_FAILED, message=message, source="settled")
    return CardStatus.DRAFT


def _find_by_marker(client, card: FriendCard) -> tuple[str, str] | None:
    known = set(
        FriendCard.objects.filter(
            merchant=card.merchant, card_id__isnull=False
        ).values_list("card_id", flat=True)
    )
    offset = 0
    while True:
        page = client.card.batchget(offset=offset, count=50)
        for card_id in page.card_ids:
            if card_id in known:
                continue
            info = client.card.get(card_id)
            block = info.definition.get(str(info.card_type).lower(), {}) or {}
            if (block.get("base_info") or {}).get("source") == card.create_marker:
                return card_id, info.status
        offset += len(page.card_ids)
        if not page.card_ids or offset >= page.total:
            return None


def _check_later(card: FriendCard) -> str:
    step = CHECK_SCHEDULE[min(card.check_count + 1, len(CHECK_SCHEDULE) - 1)]
    FriendCard.objects.filter(pk=card.pk, status=CardStatus.SUBMIT_UNKNOWN).update(
        check_count=F("check_count") + 1,
        next_check_at=timezone.now() + timedelta(seconds=step),
    )
    return card.status


def cards_settle_unknown_submissions(*, limit: int = 100) -> int:
    """Beat: submissions left in flight (their sender died) become unknown; unknown
    ones whose next look is due are looked for at WeChat."""
    now = timezone.now()
    for card in FriendCard.objects.filter(
        status=CardStatus.SUBMITTING, submit_sent_at__lt=now - IN_FLIGHT_STUCK
    )[:limit]:
        _became_unknown(card, first_check=0)
    now = timezone.now()
    settled = 0
    due = FriendCard.objects.filter(status=CardStatus.SUBMIT_UNKNOWN).filter(
        Q(next_check_at__lte=now) | Q(next_check_at__isnull=True)
    )
    for pk in due.values_list("pk", flat=True)[:limit]:
        if card_settle_submission(card_pk=pk) != CardStatus.SUBMIT_UNKNOWN:
            settled += 1
    return settled


def _refused_by_wechat(
    card: FriendCard, exc: wx.WeChatError, kind, actor
) -> CardRefused:
    """WeChat's refusal, kept on its field (SPEC §11) and in the card's history."""
    field = ERRCODE_FIELDS.get(exc.errcode, "")
    card.last_error = _error_payload(field, exc.message, exc.errcode)
    card.save(update_fields=["last_error", "updated_at"])
    _event(
        card,
        kind,
        actor,
        message=exc.message,
        answer={"errcode": exc.errcode, "errmsg": exc.errmsg},
    )
    return CardRefused([rules.FieldError(field, "wechat", exc.message, exc.errcode)])


def _release(card: FriendCard, message: str, *, field: str = "", errcode=None) -> None:
    FriendCard.objects.filter(pk=card.pk, status=CardStatus.SUBMITTING).update(
        status=CardStatus.DRAFT,
        last_error=_error_payload(field, message, errcode),
        updated_at=timezone.now(),
    )
    card.refresh_from_db()


# --- updates of a submitted card ------------------------------------------------------
def update_changes(old: dict, new: dict) -> dict:
    """The card/update body's type block: base_info / advanced_info fields whose value
    changed (SPEC §3.5: only the fields that may change are sent)."""
    type_key = str(new.get("card_type", "CASH")).lower()
    old_block, new_block = old.get(type_key, {}), new.get(type_key, {})
    changes: dict = {}
    for section in ("base_info", "advanced_info"):
        before, after = (
            old_block.get(section, {}) or {},
            new_block.get(section, {}) or {},
        )
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes.setdefault(section, {})[key] = after.get(key)
    for key in sorted(
        (set(old_block) | set(new_block)) - {"base_info", "advanced_info"}
    ):
        if old_block.get(key) != new_block.get(key):
            changes[key] = new_block.get(key)
    if old.get("card_type") != new.get("card_type"):
        changes["card_type"] = new.get("card_type")
    return changes


def card_update(
    *,
    card: FriendCard,
    definition: dict,
    actor=None,
    expected_version: int | None = None,
) -> FriendCard:
    """Send the changed fields of a submitted card to WeChat (card/update).

    One update of a card at a time (claimed on the row); ``expected_version`` is the
    card's ``version`` the editor was opened with: a card changed since is refused
    rather than overwritten.

    Thresholds, type, value and brand are frozen once submitted; validity may only
    widen (SPEC §3.5). ``send_check`` true puts the card back in review.
    """
    if not card.card_id or card.status == CardStatus.DELETED:
        raise ValidationError(_("Only a card at WeChat can be updated."))
    if not _claim_update(card):
        raise ValidationError(
            _(
                "Another change of this card is being sent to WeChat. Try again in a moment."
            ),
            code="update_in_progress",
        )
    try:
        return _card_update_claimed(
            card=card,
            definition=definition,
            actor=actor,
            expected_version=expected_version,
        )
    finally:
        FriendCard.objects.filter(pk=card.pk).update(update_claimed_at=None)


UPDATE_CLAIM = timedelta(seconds=60)  # longer than any card/update call


def _claim_update(card: FriendCard) -> bool:
    now = timezone.now()
    return bool(
        FriendCard.objects.filter(pk=card.pk)
        .filter(
            Q(update_claimed_at__isnull=True)
            | Q(update_claimed_at__lt=now - UPDATE_CLAIM)
        )
        .update(update_claimed_at=now)
    )


def _card_update_claimed(
    *, card: FriendCard, definition: dict, actor, expected_version: int | None
) -> FriendCard:
    # Read again under the claim: what WeChat holds now is what the change is from.
    card = FriendCard.objects.select_related("merchant").get(pk=card.pk)
    if expected_version is not None and expected_version != card.version:
        raise ValidationError(
            _(
                "Someone else changed this card after you opened it. Reload the page "
                "to see their change, then make yours again."
            ),
            code="stale",
        )
    current = card.synced_definition or card.definition
    changes = update_changes(current, definition)
    if not changes:
        return card
    errors = rules.validate_update(
        current,
        changes,
        now=timezone.now(),
        is_uploaded=uploaded_checker(card.merchant),
        known_location_ids=store_ids(card.merchant),
    )
    if errors:
        card.last_error = _error_payload(
            errors[0].field, errors[0].message, errors[0].errcode
        )
        card.save(update_fields=["last_error", "updated_at"])
        raise CardRefused(errors)
    client = wechat.for_merchant(card.merchant)
    try:
        send_check = client.card.update(card.card_id, card.card_type, changes)
    except wx.TransportError:
        raise
    except wx.WeChatError as exc:
        raise _refused_by_wechat(
            card, exc, CardEvent.Kind.UPDATE_FAILED, actor
        ) from exc
    with transaction.atomic():
        card = FriendCard.objects.select_for_update().get(pk=card.pk)
        card.definition = rules.apply_update(current, changes)
        card.synced_definition = card.definition
        card.version = F("version") + 1
        card.last_error = None
        _derive(card)
        if send_check:
            card.status = CardStatus.IN_REVIEW
            card.refuse_reason = ""
        card.save()
        card.refresh_from_db(fields=["version"])
        _sync_stores(card)
        _event(
            card,
            CardEvent.Kind.UPDATED,
            actor,
            answer={"send_check": send_check, "changes": changes},
        )
        if send_check:
            _event(card, CardEvent.Kind.BACK_TO_REVIEW, actor)
    return card


# --- review --------------------------------------------------------------------------
def card_apply_review(
    *,
    merchant: Merchant,
    card_id: str,
    approved: bool,
    reason: str = "",
    source: str = "event",
) -> FriendCard | None:
    """Record WeChat's review result, once: only a card in review moves."""
    status = CardStatus.APPROVED if approved else CardStatus.REJECTED
    with transaction.atomic():
        moved = FriendCard.objects.filter(
            merchant=merchant, card_id=card_id, status=CardStatus.IN_REVIEW
        ).update(
            status=status,
            refuse_reason="" if approved else reason[:300],
            reviewed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        card = FriendCard.objects.filter(merchant=merchant, card_id=card_id).first()
        if moved and card is not None:
            _event(
                card,
                CardEvent.Kind.APPROVED if approved else CardEvent.Kind.REJECTED,
                message=reason,
                source=source,
            )
    return card


_WECHAT_STATUS = {
    "CARD_STATUS_VERIFY_OK": True,
    "CARD_STATUS_DISPATCH": True,
    "CARD_STATUS_VERIFY_FAIL": False,
}


def card_sync(*, card: FriendCard) -> FriendCard:
    """Ask WeChat (card/get) about a card: review status and stock."""
    info = wechat.for_merchant(card.merchant).card.get(card.card_id)
    if card.status == CardStatus.IN_REVIEW and info.status in _WECHAT_STATUS:
        card_apply_review(
            merchant=card.merchant,
            card_id=card.card_id,
            approved=_WECHAT_STATUS[info.status],
            reason=str(_reason_of(info.definition)),
            source="poll",
        )
    FriendCard.objects.filter(pk=card.pk).update(
        quantity=info.quantity, total_quantity=info.total_quantity
    )
    card.refresh_from_db()
    return card


def _reason_of(definition: dict) -> str:
    block = definition.get(str(definition.get("card_type", "")).lower(), {})
    return (block.get("base_info") or {}).get("refuse_reason", "")


def cards_poll_reviews(*, older_than_seconds: int = 20, limit: int = 200) -> int:
    """Beat: ask WeChat about cards still in review (the event may be lost)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    polled = 0
    for card in FriendCard.objects.select_related("merchant").filter(
        status=CardStatus.IN_REVIEW, submitted_at__lt=cutoff
    )[:limit]:
        try:
            card_sync(card=card)
            polled += 1
        except wx.WeChatError as exc:
            log.warning("card/get for %s failed: %s", card.card_id, exc)
    return polled


# --- deletion ------------------------------------------------------------------------
def card_delete(*, card: FriendCard, actor=None) -> None:
    """Delete a card: a draft disappears; a card at WeChat is deleted there (card/delete)
    and kept here, marked deleted, with its history."""
    if not card.card_id:
        if card.status != CardStatus.DRAFT:
            raise ValidationError(
                _("The card is being submitted; try again in a moment.")
            )
        card.delete()
        return
    if card.status == CardStatus.DELETED:
        return
    wechat.for_merchant(card.merchant).card.delete(card.card_id)
    FriendCard.objects.filter(pk=card.pk).update(
        status=CardStatus.DELETED, updated_at=timezone.now()
    )
    card.refresh_from_db()
    _event(card, CardEvent.Kind.DELETED, actor)


# --- cards made elsewhere ----------------------------------------------------------------
def card_for_wechat_id(*, merchant: Merchant, card_id: str) -> FriendCard:
    """The merchant's card with this WeChat card_id; a card the portal did not create
    (made in WeChat's back office, or before the portal) is fetched (card/get) and
    imported, so that its codes are redeemed like any other's.

    Raises wechat.errors.WeChatError when WeChat does not know it for this merchant.
    """
    card = FriendCard.objects.filter(merchant=merchant, card_id=card_id).first()
    if card is not None:
        return card
    info = wechat.for_merchant(merchant).card.get(card_id)
    definition = info.definition if isinstance(info.definition, dict) else {}
    if definition.get("card_type") not in CardType.values:
        raise ValidationError(
            _("This is not a friend coupon (cash or gift) of this merchant."),
            code="not_a_friend_coupon",
        )
    status = _REVIEW_STATES.get(info.status, CardStatus.IN_REVIEW)
    if info.status == "CARD_STATUS_DELETE":
        status = CardStatus.DELETED
    card = FriendCard(
        merchant=merchant,
        card_id=card_id,
        status=status,
        definition=definition,
        synced_definition=definition,
        quantity=max(0, info.quantity),
        total_quantity=max(0, info.total_quantity),
        submitted_at=timezone.now(),
    )
    _derive(card)
    try:
        with transaction.atomic():
            card.save()
    except IntegrityError:  # imported by a concurrent lookup meanwhile
        return FriendCard.objects.get(merchant=merchant, card_id=card_id)
    _sync_stores(card)
    _event(
        card, CardEvent.Kind.SYNCED, message=_("Imported from WeChat"), source="import"
    )
    return card


def card_location_ids(card: FriendCard) -> set[str]:
    """The store (POI) ids a card may be used at (SPEC §7: the till's check)."""
    ids = (card.type_block.get("base_info") or {}).get("location_id_list") or []
    return {str(i) for i in ids if isinstance(i, int | str)}
