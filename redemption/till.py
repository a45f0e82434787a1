"""The till's helpers, shared by its page (views.py) and its API (api.py): which
stores a user may redeem for, the store the till chose, and the answers in words."""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards import rules
from portal.middleware import _zone
from portal.models import Membership, Store

from .models import CodeStatus, Reason, RedemptionAttempt

A = RedemptionAttempt.Outcome
SESSION_STORE = "redemption_store_id"

zone = _zone


def allowed_stores(request):
    """The merchant's stores this user may redeem for: a cashier's membership may
    bind them to some (none bound = all of them)."""
    merchant = getattr(request, "merchant", None)
    if merchant is None:
        return Store.objects.none()
    stores = Store.objects.filter(merchant=merchant).order_by("name")
    membership = (
        Membership.objects.filter(user=request.user, merchant=merchant)
        .prefetch_related("stores")
        .first()
    )
    if membership is not None:
        bound = [s.pk for s in membership.stores.all()]
        if bound:
            stores = stores.filter(pk__in=bound)
    return stores


def current_store(request) -> Store | None:
    """The store this till chose (kept in the session) if it is still allowed; the
    only allowed one when there is one."""
    stores = list(allowed_stores(request))
    chosen = request.session.get(SESSION_STORE)
    for store in stores:
        if store.pk == chosen:
            return store
    return stores[0] if len(stores) == 1 else None


def choose_store(request, store_id) -> Store | None:
    store = allowed_stores(request).filter(pk=store_id).first()
    if store is not None:
        request.session[SESSION_STORE] = store.pk
    return store


_DAYS = {
    "MONDAY": gettext_lazy("Mon"),
    "TUESDAY": gettext_lazy("Tue"),
    "WEDNESDAY": gettext_lazy("Wed"),
    "THURSDAY": gettext_lazy("Thu"),
    "FRIDAY": gettext_lazy("Fri"),
    "SATURDAY": gettext_lazy("Sat"),
    "SUNDAY": gettext_lazy("Sun"),
    "HOLIDAY": gettext_lazy("Holidays"),
}


def time_limit_words(card) -> str:
    """time_limit (SPEC §7) in words: "Mon, Tue 11:00–14:00"; "" when any time."""
    limits = (card.type_block.get("advanced_info") or {}).get("time_limit") or []
    days, hours = [], ""
    for limit in limits:
        if not isinstance(limit, dict):
            continue
        day = str(limit.get("type", ""))
        days.append(str(_DAYS.get(day, day)))
        if "begin_hour" in limit and not hours:
            try:
                begin = (
                    int(limit.get("begin_hour", 0)),
                    int(limit.get("begin_minute", 0)),
                )
                end = (int(limit.get("end_hour", 23)), int(limit.get("end_minute", 59)))
                hours = f"{begin[0]:02d}:{begin[1]:02d}–{end[0]:02d}:{end[1]:02d}"
            except (TypeError, ValueError):
                hours = ""
    if not days:
        return ""
    return ", ".join(days) + (f" {hours}" if hours else "")


def value_words(card) -> str:
    return rules.summary(card.definition or {}) if card is not None else ""


def _where(poi_id: str, merchant_id: int) -> str:
    if not poi_id:
        return ""
    store = Store.objects.filter(merchant_id=merchant_id, poi_id=poi_id).first()
    return store.name if store else poi_id


def lookup_answer(found, store) -> dict:
    card, record = found.card, found.record
    consumed_at, where = None, ""
    if record is not None and record.status == CodeStatus.CONSUMED:
        consumed_at = record.consumed_at
        where = _where(record.consumed_location_id, record.merchant_id)
    try:
        label = str(CodeStatus(found.status).label) if found.status else ""
    except ValueError:
        label = found.status
    message = found.message
    if found.reason == Reason.ALREADY_CONSUMED and consumed_at:
        message = _consumed_words(consumed_at, where)
    return {
        "code": found.code,
        "card_id": card.card_id if card else None,
        "title": card.title if card else "",
        "value": value_words(card),
        "status": found.status,
        "status_label": label,
        "can_consume": found.can_consume,
        "valid_from": found.valid_from,
        "valid_to": found.valid_to,
        "valid_here": found.valid_here,
        "store": store.poi_id if store else None,
        "time_limit": time_limit_words(card) if card else "",
        "outside_time_limit": found.outside_time_limit,
        "reason": found.reason or None,
        "message": message,
        "consumed_at": consumed_at,
        "consumed_where": where,
    }


def _consumed_words(at, where: str) -> str:
    when = date_format(timezone.localtime(at), "Y-m-d H:i")
    if where:
        return _("This coupon has already been redeemed, at %(when)s in %(where)s.") % {
            "when": when,
            "where": where,
        }
    return _("This coupon has already been redeemed, at %(when)s.") % {"when": when}


def already_consumed_words(attempt: RedemptionAttempt) -> str:
    """Already consumed — when and where, when the portal knows."""
    record = attempt.code_ref
    if record is None:
        from .models import Code

        record = Code.objects.filter(
            merchant_id=attempt.merchant_id, code=attempt.code
        ).first()
    if record is None or not record.consumed_at:
        return str(Reason.ALREADY_CONSUMED.label)
    return _consumed_words(
        record.consumed_at, _where(record.consumed_location_id, attempt.merchant_id)
    )


def attempts_for(caller):
    """The attempts a caller may read: the merchant's; a key's own only."""
    items = RedemptionAttempt.objects.filter(merchant=caller.merchant).select_related(
        "card", "store", "user", "api_key", "code_ref"
    )
    if caller.api_key is not None:
        items = items.filter(api_key=caller.api_key)
    return items


def attempt_answer(attempt: RedemptionAttempt) -> dict:
    status = {A.CONSUMED: "consumed", A.REFUSED: "refused"}.get(
        attempt.outcome, "checking"
    )
    card = attempt.card
    if status == "consumed":
        message = _("Redeemed.")
    elif attempt.reason == Reason.ALREADY_CONSUMED:
        message = already_consumed_words(attempt)
    else:
        message = attempt.reason_message
    return {
        "status": status,
        "code": attempt.code,
        "card_id": card.card_id if card else None,
        "title": card.title if card else "",
        "value": value_words(card),
        "openid": attempt.code_ref.openid if attempt.code_ref else attempt.openid,
        "consumed_at": attempt.finished_at if status == "consumed" else None,
        "attempt_id": attempt.pk,
        "message": message,
        "reason": attempt.reason or None,
        "store": attempt.store.name if attempt.store else None,
        "channel": attempt.channel,
        "cashier": (
            attempt.user.get_username()
            if attempt.user
            else (attempt.api_key.name if attempt.api_key else "")
        ),
        "created_at": attempt.created_at,
        "when": date_format(timezone.localtime(attempt.created_at), "m-d H:i:s"),
    }
