"""Friend coupons as WeChat keeps them: create, get, update, delete, batchget, and
review (SPEC §3, §3.6, §10, §12).

The field rules, titles and prices are WeChat's, written here from SPEC (``rules``),
not taken from the portal; answers carry WeChat's errcodes. Reviews happen by hand
(console, control API) or, when the account says so, by sandbox time through the
ticker.
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime, timedelta

from django.db import transaction

from .. import exceptions as exc
from ..models import Account, Card, Push
from . import clock, core, push, rules, ticker

BATCHGET_MAX = 50
# card/batchget's status_list may also name CARD_STATUS_DISPATCH (handed out);
# the sandbox has no such state yet, so that filter simply matches nothing.
LISTABLE_STATUSES = (*Card.Status.values, "CARD_STATUS_DISPATCH")
# Added when a card is read; never stored, and ignored when a client sends them.
DERIVED_BASE_FIELDS = ("id", "title", "status", "sku", "create_time", "update_time")
TYPE_KEYS = {value: value.lower() for value in Card.Type.values}


# --- errors ----------------------------------------------------------------------
class InvalidCardId(exc.SandboxAPIError):
    errcode = 40073
    errmsg = "invalid card id"


class InvalidParam(exc.SandboxAPIError):
    """40071: WeChat's "format error" (SPEC §11) — lengths, enums, ranges, types."""

    errcode = 40071
    errmsg = "invalid param"


class InvalidTime(exc.SandboxAPIError):
    errcode = 40079
    errmsg = "invalid time"


class InvalidImageUrl(exc.SandboxAPIError):
    errcode = 40141
    errmsg = "invalid image url"


class LocationListMissing(exc.SandboxAPIError):
    errcode = 41025
    errmsg = "location_id_list missing"


class TooManyGiftRules(exc.SandboxAPIError):
    """45021 (SPEC §11): more than one card in consume_share_card_list."""

    errcode = 45021
    errmsg = "field length exceeds limit"  # the errmsg the sandbox always answered


_FIELD_ERRORS: dict[int, type[exc.SandboxAPIError]] = {
    cls.errcode: cls
    for cls in (
        InvalidParam,
        InvalidTime,
        InvalidImageUrl,
        LocationListMissing,
        TooManyGiftRules,
        exc.DataFormatError,
    )
}


class CardNotReviewable(ValueError):
    """A deleted card cannot be reviewed (the control API answers 400)."""


def _refusal(problems: list[rules.Problem]) -> exc.SandboxAPIError:
    """WeChat's answer to a refused card: the errcode of the problem it reports
    (``rules.reported``: the JSON structure before the values), as
    ``<errmsg> hint: [<field>]``."""
    problem = rules.reported(problems)
    cls = _FIELD_ERRORS[problem.errcode]
    return cls(f"{cls.errmsg} hint: [{problem.field}]")


# --- helpers ---------------------------------------------------------------------
def _new_card_id() -> str:
    """WeChat's shape: "p" + 27 URL-safe characters (pbLatjtQrAGz1Iaz08qB_H3NSBrc)."""
    return "p" + secrets.token_urlsafe(20)[:27]


def _review_due(account: Account, now: datetime) -> datetime | None:
    if not account.auto_review_seconds:
        return None
    return now + timedelta(seconds=account.auto_review_seconds)


def _without_derived(card: dict) -> dict:
    """A copy of a card object with the read-only base_info fields dropped."""
    card = copy.deepcopy(card)
    for key, block in card.items():
        if key != "card_type" and isinstance(block, dict):
            base = block.get("base_info")
            if isinstance(base, dict):
                for field in DERIVED_BASE_FIELDS:
                    base.pop(field, None)
    return card


def _is_ours(account: Account):
    return lambda url: isinstance(url, str) and core.image_is_ours(account, url)


def _card_of(account: Account, card_id, *, for_update: bool = False) -> Card:
    """The account's card with this id, or 40073 (unknown, or another account's)."""
    if not isinstance(card_id, str) or not card_id:
        raise InvalidCardId()
    cards = Card.objects.select_for_update() if for_update else Card.objects
    card = cards.filter(account=account, card_id=card_id).first()
    if card is None:
        raise InvalidCardId()
    return card


# --- the API ---------------------------------------------------------------------
@transaction.atomic
def card_create(account: Account, body: dict) -> Card:
    """``card/create``: a new card in review (auto-approved ``auto_review_seconds``
    later, when that is not 0); a refused card answers its first error's errcode."""
    card = body.get("card")
    if not isinstance(card, dict):
        raise exc.DataFormatError("data format error hint: [card]")
    now = clock.now()
    problems = rules.create_problems(
        card, now=now.timestamp(), is_uploaded=_is_ours(account)
    )
    if problems:
        raise _refusal(problems)
    # The rules already refuse these; kept so that a rule change cannot store a
    # card the sandbox cannot show.
    card_type = card.get("card_type")
    if not isinstance(card_type, str) or not isinstance(
        card.get(TYPE_KEYS.get(card_type, "")), dict
    ):
        raise InvalidParam("invalid param hint: [card_type]")
    return Card.objects.create(
        account=account,
        card_id=_new_card_id(),
        card_type=card_type,
        definition=_without_derived(card),
        status=Card.Status.NOT_VERIFY,
        review_due_at=_review_due(account, now),
        created_at=now,
        updated_at=now,
    )


def card_json(card: Card) -> dict:
    """The ``card`` object of ``card/get``: the definition with base_info's derived
    fields (id, title, status, sku, create_time, update_time)."""
    definition = copy.deepcopy(card.definition)
    key = TYPE_KEYS[card.card_type]
    block = definition.get(key) or {}
    block["base_info"] = {
        **(block.get("base_info") or {}),
        "id": card.card_id,
        "title": card_title(card),
        "status": card.status,
        "sku": {"quantity": card.quantity, "total_quantity": card.total_quantity},
        "create_time": int(card.created_at.timestamp()),
        "update_time": int(card.updated_at.timestamp()),
    }
    return {"card_type": card.card_type, key: block}


def card_title(card: Card) -> str:
    """The title WeChat builds for the card from its thresholds (SPEC §3.2)."""
    return rules.title(card.definition)


def card_summary(card: Card) -> str:
    """The summary (详情摘要) WeChat builds for the card (SPEC §3.3)."""
    return rules.summary(card.definition)


def card_get(account: Account, card_id) -> dict:
    """``card/get``: ``{"card": {...}}``; deleted cards are still shown (DELETE)."""
    return {"card": card_json(_card_of(account, card_id))}


@transaction.atomic
def card_update(account: Account, body: dict) -> bool:
    """``card/update``: applies the type block's changes; returns ``send_check``
    (True: the card went back to review)."""
    card = _card_of(account, body.get("card_id"), for_update=True)
    if card.status == Card.Status.DELETE:
        raise InvalidCardId()
    key = TYPE_KEYS[card.card_type]
    other_types = set(TYPE_KEYS.values()) - {key}
    update = body.get(key)
    if not isinstance(update, dict) or other_types & set(body):
        raise exc.DataFormatError(f"data format error hint: [{key}]")
    now = clock.now()
    problems = rules.update_problems(
        card.definition, update, is_uploaded=_is_ours(account)
    )
    if problems:
        raise _refusal(problems)
    send_check = rules.sends_to_review(update)
    card.definition = _without_derived(rules.merged(card.definition, update))
    card.updated_at = now
    fields = ["definition", "updated_at"]
    if send_check:
        card.status = Card.Status.NOT_VERIFY
        card.refuse_reason = ""
        card.review_due_at = _review_due(account, now)
        fields += ["status", "refuse_reason", "review_due_at"]
    card.save(update_fields=fields)
    return send_check


def card_delete(account: Account, card_id) -> None:
    """``card/delete``: the card becomes CARD_STATUS_DELETE (a second delete: 40073)."""
    card = _card_of(account, card_id)
    deleted = (
        Card.objects.filter(pk=card.pk)
        .exclude(status=Card.Status.DELETE)
        .update(status=Card.Status.DELETE, review_due_at=None, updated_at=clock.now())
    )
    if not deleted:
        raise InvalidCardId()


def card_batchget(account: Account, body: dict) -> dict:
    """``card/batchget``: ``{"card_id_list": [...], "total_num": n}`` in creation
    order; ``count`` 1–50, optional ``status_list`` filter."""
    offset, count = body.get("offset", 0), body.get("count")
    if not _is_int(offset) or offset < 0:
        raise InvalidParam("invalid param hint: [offset]")
    if not _is_int(count) or not 1 <= count <= BATCHGET_MAX:
        raise InvalidParam("invalid param hint: [count]")
    cards = Card.objects.filter(account=account)
    status_list = body.get("status_list")
    if status_list is not None:
        if not isinstance(status_list, list) or not all(
            s in LISTABLE_STATUSES for s in status_list
        ):
            raise InvalidParam("invalid param hint: [status_list]")
        cards = cards.filter(status__in=status_list)
    ids = cards.order_by("created_at", "id").values_list("card_id", flat=True)
    return {
        "card_id_list": list(ids[offset : offset + count]),
        "total_num": cards.count(),
    }


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- review ----------------------------------------------------------------------
def _event(card_id: str, *, approve: bool, reason: str) -> tuple[str, dict]:
    name = "card_pass_check" if approve else "card_not_pass_check"
    return name, {"CardId": card_id, "RefuseReason": "" if approve else reason}


def card_review(
    card: Card, *, approve: bool, reason: str = "", wait: bool = True
) -> Push:
    """WeChat's reviewer: VERIFY_OK, or VERIFY_FAIL with ``reason``; pushes
    card_pass_check / card_not_pass_check (``wait``: deliver before returning).

    Any card but a deleted one may be reviewed again (to act out a takedown)."""
    now = clock.now()
    reason = "" if approve else str(reason or "")
    reviewed = (
        Card.objects.filter(pk=card.pk)
        .exclude(status=Card.Status.DELETE)
        .update(
            status=Card.Status.VERIFY_OK if approve else Card.Status.VERIFY_FAIL,
            refuse_reason=reason,
            review_due_at=None,
            updated_at=now,
        )
    )
    if not reviewed:
        raise CardNotReviewable(f"card {card.card_id} is deleted")
    card.refresh_from_db()
    event, fields = _event(card.card_id, approve=approve, reason=reason)
    return push.push_event(card.account, event=event, fields=fields, wait=wait)


@ticker.register
def reviews_due(now: datetime) -> None:
    """Approve the cards whose automatic review is due; each is claimed with a
    conditional UPDATE, so a card reviewed by hand meanwhile is left alone."""
    due = Card.objects.filter(
        status=Card.Status.NOT_VERIFY, review_due_at__lte=now
    ).select_related("account")
    for card in due[:100]:
        claimed = Card.objects.filter(
            pk=card.pk, status=Card.Status.NOT_VERIFY, review_due_at__lte=now
        ).update(
            status=Card.Status.VERIFY_OK,
            refuse_reason="",
            review_due_at=None,
            updated_at=now,
        )
        if claimed:
            event, fields = _event(card.card_id, approve=True, reason="")
            # The tick may run before an API call: WeChat pushes asynchronously.
            push.push_event(card.account, event=event, fields=fields, wait=False)
