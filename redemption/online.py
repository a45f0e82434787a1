"""Online redemption (SPEC §7, issue 10 §5): the public H5 page a coupon's own link
opens on the customer's phone — ``/u/<appid>/``, the URL the merchant puts in the
card's ``center_url`` (or ``custom_url``). WeChat opens it with ``card_id``,
``encrypt_code`` and ``openid`` appended.

The flow: the page decrypts ``encrypt_code`` (card/code/decrypt) and reads the code
(card/code/get) → shows the coupon → **Use now** marks it for that openid
(card/code/mark, 5 minutes: other friends now see "someone else is using this
coupon") → **Confirm** consumes it with that openid (card/code/consume online,
services.code_consume channel ONLINE, once whatever the taps) → the result page,
where the JS-SDK's ``wx.consumeAndShareCard`` offers the consume-share gift.
**Cancel** releases the mark (unmark).

What the page trusts, and what not:

* The code comes only from WeChat's decrypt of ``encrypt_code``; a code in the query
  or the form is never used. ``encrypt_code`` is taken from the raw query string and
  percent-decoded exactly once (a ``+`` stays a ``+``).
* ``card_id`` must be the decrypted code's card and a card of this merchant (the
  appid in the path); another merchant's card is a 404 that says nothing about it.
* ``openid`` is whom the page acts for. WeChat appends it, but nothing proves it: a
  forged openid can only mark or consume a code whose ``encrypt_code`` the forger
  already holds — a real coupon link, which is a bearer token for that coupon (a
  friend coupon may be used by any of the owner's friends anyway). The forger can
  neither learn other codes nor touch another merchant's coupons; marking in
  someone's name only makes friends wait 5 minutes, which Cancel or the mark's
  expiry ends. Every attempt is recorded with the openid it acted for.
* Requests are rate-limited per IP and per openid (ONLINE_RATE_*).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from datetime import timedelta
from urllib.parse import quote, unquote

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import trans_real
from django.views.decorators.http import require_http_methods, require_safe

import wechat
from cards import services as card_services
from cards.models import FriendCard
from cards.rules import PALETTE
from distribution import jssdk
from portal import fields
from portal.middleware import content_security_policy
from portal.models import Merchant, Store
from wechat import errors as wx
from wechat import signatures

from . import services
from .models import Channel, CodeStatus, Reason, RedemptionAttempt

A = RedemptionAttempt.Outcome
LINK_KEYS = ("card_id", "encrypt_code", "openid")
MAX_QUERY = 4096  # WeChat's links are a few hundred characters
_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_ENCRYPTED = re.compile(r"[A-Za-z0-9+/=_\-]{1,512}")  # base64, standard or URL-safe
_KEY = re.compile(r"[A-Za-z0-9_\-]{16,64}")
_UA_LANGUAGE = re.compile(r"\bLanguage/([A-Za-z_\-]+)")
# Per minute: every page view costs WeChat two calls (decrypt, get).
ONLINE_RATE_IP = 120
ONLINE_RATE_OPENID = 40
# A consume whose answer was lost and that code/get still shows unused is checked
# this long before the page says "not confirmed, try again".
CHECK_WINDOW = timedelta(seconds=60)
# Refusals after which the mark is released at once (nothing left to do with it).
_FINAL = {
    Reason.ALREADY_CONSUMED,
    Reason.EXPIRED,
    Reason.NOT_VALID_HERE,
    Reason.DELETED,
    Reason.UNAVAILABLE,
    Reason.INVALID_CODE,
}


class BadLink(Exception):
    """The link cannot be read: what the page says, in words."""


# --- reading the link ----------------------------------------------------------------
def parse_link(raw_query: str) -> dict[str, str]:
    """``card_id``, ``encrypt_code`` and ``openid`` from the raw query string, each
    percent-decoded exactly once (``unquote``, not ``unquote_plus``: a ``+`` stays a
    ``+``; ``%2B`` becomes ``+``). Raises BadLink."""
    if len(raw_query) > MAX_QUERY:
        raise BadLink(_("This coupon link is far too long to be a real one."))
    found: dict[str, str] = {}
    for part in raw_query.split("&"):
        key, _sep, value = part.partition("=")
        if key not in LINK_KEYS:
            continue
        if key in found:
            raise BadLink(_("This coupon link names the coupon twice."))
        try:
            found[key] = unquote(value, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadLink(_("This coupon link is damaged.")) from None
    return _checked(found)


def _checked(found: dict[str, str]) -> dict[str, str]:
    if any(not found.get(key) for key in LINK_KEYS):
        raise BadLink(
            _(
                "This link is missing the coupon. Open the coupon in WeChat's card "
                "wallet and tap its button again."
            )
        )
    if not _ID.fullmatch(found["card_id"]) or not _ID.fullmatch(found["openid"]):
        raise BadLink(_("This coupon link is damaged."))
    if not _ENCRYPTED.fullmatch(found["encrypt_code"]):
        raise BadLink(_("This coupon link is damaged."))
    return {key: found[key] for key in LINK_KEYS}


def link_query(link: dict[str, str]) -> str:
    """The query WeChat appends (for the page's own "back to the coupon" link)."""
    return "&".join(f"{key}={quote(link[key], safe='')}" for key in LINK_KEYS)


# --- the reader's language, the rate limit -------------------------------------------
def _customer_language(request) -> None:
    """WeChat's own language (its user agent says ``Language/zh_CN``) first, then
    the browser's Accept-Language; Chinese when neither names one the portal
    speaks (the customers are WeChat users: ONLINE_DEFAULT_LANGUAGE)."""
    found = _UA_LANGUAGE.search(request.META.get("HTTP_USER_AGENT", ""))
    language = None
    if found:
        language = "en" if found.group(1).lower().startswith("en") else "zh-hans"
    else:
        header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")[:500]
        for accepted, _q in trans_real.parse_accept_lang_header(header):
            try:
                language = translation.get_supported_language_variant(accepted)
                break
            except LookupError:
                continue
    language = language or getattr(settings, "ONLINE_DEFAULT_LANGUAGE", "zh-hans")
    translation.activate(language)
    request.LANGUAGE_CODE = language


def _limited(request, openid: str | None) -> bool:
    minute = int(time.time() // 60)
    buckets = [
        (
            f"online:ip:{request.META.get('REMOTE_ADDR', '')}:{minute}",
            getattr(settings, "ONLINE_RATE_IP", ONLINE_RATE_IP),
        )
    ]
    if openid:
        buckets.append(
            (
                f"online:openid:{openid}:{minute}",
                getattr(settings, "ONLINE_RATE_OPENID", ONLINE_RATE_OPENID),
            )
        )
    over = False
    for bucket, limit in buckets:
        cache.add(bucket, 0, 120)
        with contextlib.suppress(ValueError):  # the bucket expired meanwhile
            over = cache.incr(bucket) > limit or over
    return over


# --- pages -----------------------------------------------------------------------------
def _page(request, template: str, context: dict, *, status: int = 200, sdk=False):
    response = render(request, template, context, status=status)
    origin = jssdk.jssdk_origin() if sdk else None
    response["Content-Security-Policy"] = content_security_policy(
        settings.WECHAT_API_BASE, script_origins=(origin,) if origin else ()
    )
    response["Cache-Control"] = "no-store"  # a customer's coupon: never cached
    # The link is a bearer token: never sent to another site (a same-origin POST
    # keeps its Origin, which CSRF checks; "no-referrer" would make it "null").
    response["Referrer-Policy"] = "same-origin"
    return response


def _problem(request, message: str, *, status: int, merchant=None, retry_url=""):
    return _page(
        request,
        "redemption/online_problem.html",
        {"message": message, "merchant": merchant, "retry_url": retry_url},
        status=status,
    )


def _not_here(request, merchant=None):
    """Another merchant's card, an unknown shop: 404, and nothing said about it."""
    return _problem(
        request,
        _("This coupon cannot be used on this page."),
        status=404,
        merchant=merchant,
    )


def _merchant(appid: str) -> Merchant | None:
    if not _ID.fullmatch(appid or ""):
        return None
    return Merchant.objects.filter(appid=appid).first()


def _stores(merchant: Merchant, card: FriendCard) -> list[Store]:
    ids = card_services.card_location_ids(card)
    return list(Store.objects.filter(merchant=merchant, poi_id__in=ids).order_by("pk"))


def _value(card: FriendCard) -> str:
    block = card.type_block
    if card.card_type == "CASH":
        reduce = int(block.get("reduce_cost") or 0)
        least = int(
            ((block.get("advanced_info") or {}).get("use_condition") or {}).get(
                "least_cost"
            )
            or block.get("least_cost")
            or 0
        )
        if least:
            return _("¥%(reduce)s off when you spend ¥%(least)s") % {
                "reduce": f"{reduce / 100:g}",
                "least": f"{least / 100:g}",
            }
        return _("¥%(reduce)s off") % {"reduce": f"{reduce / 100:g}"}
    return str(block.get("gift") or "")


def _has_gift(card: FriendCard) -> bool:
    advanced = card.type_block.get("advanced_info") or {}
    try:
        self_num = int(advanced.get("consume_share_self_num") or 0)
    except (TypeError, ValueError):
        self_num = 0
    return self_num >= 1 or bool(advanced.get("consume_share_card_list"))


def _coupon(lookup: services.Lookup) -> dict:
    card = lookup.card
    base = card.type_block.get("base_info", {})
    status = ""
    if lookup.status in CodeStatus.values:
        status = str(CodeStatus(lookup.status).label)
    return {
        "card": card,
        "logo": base.get("logo_url", ""),
        "color": PALETTE.get(base.get("color", ""), ""),
        "value": _value(card),
        "valid_from": lookup.valid_from,
        "valid_to": lookup.valid_to,
        "status": status,
        "outside_time_limit": lookup.outside_time_limit,
    }


def _zone(merchant):
    from distribution import selectors

    return selectors.merchant_zone(merchant)


def _open(request, merchant: Merchant, link: dict[str, str]):
    """(lookup, refusal response): the code decrypted and read at WeChat, or the
    page that says why not."""
    other = (
        FriendCard.objects.filter(card_id=link["card_id"])
        .exclude(merchant=merchant)
        .exists()
    )
    if other:
        return None, _not_here(request, merchant)
    lookup = services.online_open(
        merchant=merchant,
        encrypt_code=link["encrypt_code"],
        card_id=link["card_id"],
        openid=link["openid"],
    )
    if lookup.card is not None:
        return lookup, None
    if lookup.reason == Reason.WECHAT_BUSY:
        return None, _problem(
            request,
            str(Reason.WECHAT_BUSY.label),
            status=503,
            merchant=merchant,
            retry_url=request.path + "?" + link_query(link),
        )
    if not FriendCard.objects.filter(
        merchant=merchant, card_id=link["card_id"]
    ).exists():
        return None, _not_here(request, merchant)
    return None, _problem(
        request,
        _(
            "This coupon link is not valid. Open the coupon in WeChat's card wallet "
            "and tap its button again."
        ),
        status=400,
        merchant=merchant,
    )


@require_http_methods(["GET", "POST"])
def coupon(request, appid: str):
    """The coupon's page: GET shows it; POST ``action`` use (mark), confirm
    (consume) or cancel (unmark), with the link's three values as form fields."""
    _customer_language(request)
    merchant = _merchant(appid)
    try:
        if request.method == "POST":
            link = _checked({key: request.POST.get(key, "") for key in LINK_KEYS})
        else:
            link = parse_link(request.META.get("QUERY_STRING", ""))
    except BadLink as exc:
        if _limited(request, None):
            return _too_many(request)
        if merchant is None:
            return _not_here(request)
        return _problem(request, str(exc), status=400, merchant=merchant)
    if _limited(request, link["openid"]):
        return _too_many(request)
    if merchant is None:
        return _not_here(request)
    if merchant.authorization != Merchant.Authorization.ACTIVE:
        return _problem(
            request, str(Reason.REVOKED.label), status=503, merchant=merchant
        )
    action = request.POST.get("action", "") if request.method == "POST" else ""
    key = request.POST.get("key", "")
    if action == "confirm" and _KEY.fullmatch(key):
        done = RedemptionAttempt.objects.filter(
            merchant=merchant, idempotency_key=f"online:{key}"
        ).first()
        if done is not None and done.openid == link["openid"]:
            # A second tap, or a reload: the same answer.
            return redirect(_result_url(merchant, done, link))
    lookup, refusal = _open(request, merchant, link)
    if refusal is not None:
        return refusal
    stores = _stores(merchant, lookup.card)
    context = {
        "merchant": merchant,
        "link": link,
        "stores": stores,
        "state": "ready",
        "message": lookup.message if lookup.reason else "",
        "reason": lookup.reason,
        "key": secrets.token_urlsafe(18),
    }
    status = 200
    if action:
        store, problem = _chosen_store(request, stores)
        context["store"] = store
        if problem and action != "cancel":
            context.update(message=problem, reason="store")
            status = 400
        elif action == "cancel" and lookup.reason == Reason.MARKED_BY_OTHER:
            status = 409  # another friend's mark: nothing of this phone's to release
        elif action == "cancel":
            services.online_mark(
                merchant=merchant, lookup=lookup, openid=link["openid"], mark=False
            )
            context.update(state="released", message="", reason="")
        elif lookup.reason:
            status = 409
        elif action in ("use", "confirm"):
            # Confirm marks again: the same openid's mark is renewed (5 more
            # minutes); one another friend took after it lapsed is refused.
            reason = services.online_mark(
                merchant=merchant, lookup=lookup, openid=link["openid"]
            )
            if reason:
                context.update(message=str(Reason(reason).label), reason=reason)
                status = 409
            elif action == "use":
                context.update(state="held")
            else:
                return _consume(request, merchant, lookup, link, store, key)
        else:
            status = 400
    if context["state"] == "ready" and context["reason"] in _FINAL:
        context["state"] = "final"  # nothing more to do with it: no buttons
    with timezone.override(_zone(merchant)):
        context["coupon"] = _coupon(lookup)
        return _page(request, "redemption/online_coupon.html", context, status=status)


def _chosen_store(request, stores: list[Store]):
    """(store, problem): the store the customer chose among the card's."""
    if not stores:
        return None, ""
    if len(stores) == 1:
        return stores[0], ""
    wanted = request.POST.get("store", "")
    for store in stores:
        if str(store.pk) == wanted:
            return store, ""
    return None, _("Choose the store where you are.")


def _consume(request, merchant, lookup, link, store, key):
    idempotency_key = f"online:{key}" if _KEY.fullmatch(key or "") else None
    try:
        attempt = services.code_consume(
            merchant=merchant,
            code=lookup.code,
            store=store,
            channel=Channel.ONLINE,
            openid=link["openid"],
            idempotency_key=idempotency_key,
        )
    except services.InProgress as exc:
        attempt = exc.attempt
    except services.KeyReused:  # a form's key that answered another code
        return _problem(
            request,
            _("This page is out of date. Open the coupon again from WeChat."),
            status=400,
            merchant=merchant,
        )
    if attempt.outcome == A.REFUSED and attempt.reason in _FINAL:
        services.online_mark(
            merchant=merchant, lookup=lookup, openid=link["openid"], mark=False
        )
    return redirect(_result_url(merchant, attempt, link))


# --- the result ------------------------------------------------------------------------
def _result_url(merchant, attempt, link) -> str:
    """The result page's URL: its token is encrypted (Fernet: authenticated, and
    the link's encrypt_code — a bearer token of the coupon — is not readable in
    access logs or the browser's history)."""
    data = {"a": attempt.pk, "t": int(time.time()), **link}
    # Without base64's "=" padding: the page's URL must read the same to the
    # browser and to the server (wx.config's signature covers it).
    token = fields.encrypt(json.dumps(data, separators=(",", ":"))).rstrip("=")
    return reverse("online:result", args=[merchant.appid, token])


def token_data(token: str) -> dict | None:
    """What a result token holds (attempt id "a", the link's values), or None when
    it is not one of ours or older than a day."""
    if len(token) > 2000:
        return None
    try:
        data = json.loads(fields.decrypt(token + "=" * (-len(token) % 4)))
    except (ImproperlyConfigured, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int):
        return None
    if not 0 <= time.time() - data["t"] < 86400:
        return None
    return data


def _attempt_of(appid: str, token: str):
    """(merchant, attempt, link) of a result token, or None."""
    data = token_data(token)
    if data is None:
        return None
    try:
        link = _checked({key: str(data.get(key, "")) for key in LINK_KEYS})
    except BadLink:
        return None
    merchant = _merchant(appid)
    if merchant is None or not isinstance(data.get("a"), int):
        return None
    attempt = (
        RedemptionAttempt.objects.select_related("card", "store")
        .filter(
            pk=data["a"],
            merchant=merchant,
            channel=Channel.ONLINE,
            openid=link["openid"],
        )
        .first()
    )
    return (merchant, attempt, link) if attempt is not None else None


def settle(attempt: RedemptionAttempt) -> tuple[RedemptionAttempt, str]:
    """(attempt, state): consumed, checking or refused. A consume whose answer was
    lost is settled by reading the code (code/get), never by consuming again:
    unknown → attempt_settle; "not confirmed" (the read right after the loss still
    said unused; WeChat may apply it late) → code_check for CHECK_WINDOW."""
    if attempt.outcome == A.UNKNOWN:
        attempt = services.attempt_settle(attempt_id=attempt.pk)
    elif (
        attempt.outcome == A.REFUSED
        and attempt.reason == Reason.NOT_CONFIRMED
        and attempt.sent_at
        and timezone.now() - attempt.sent_at < CHECK_WINDOW
    ):
        services.code_check(merchant=attempt.merchant, code=attempt.code)
        attempt.refresh_from_db()
    if attempt.outcome == A.CONSUMED:
        return attempt, "consumed"
    if attempt.outcome in (A.UNKNOWN, A.PENDING) or (
        attempt.reason == Reason.NOT_CONFIRMED
        and attempt.sent_at
        and timezone.now() - attempt.sent_at < CHECK_WINDOW
    ):
        return attempt, "checking"
    return attempt, "refused"


def _labels() -> dict:
    return {
        "checking": str(Reason.CHECKING.label),
        "gift_failed": _(
            "WeChat could not show the gift now. It is in your card wallet if the "
            "shop gives one."
        ),
        "config_failed": _("WeChat refused this page's signature. Reload the page."),
        "no_sdk": _("WeChat's script did not load. Check the connection and reload."),
    }


def _signed_config(merchant, url: str) -> dict | None:
    try:
        ticket = wechat.for_merchant(merchant).ticket.jsapi()
    except wx.WeChatError:
        return None
    config = signatures.jsapi_config(appid=merchant.appid, jsapi_ticket=ticket, url=url)
    config["jsApiList"] = ["consumeAndShareCard"]
    return config


@require_safe
def result(request, appid: str, token: str):
    """What became of the customer's tap: redeemed (then the gift), being checked
    (the page asks again by itself), or refused in words."""
    _customer_language(request)
    found = _attempt_of(appid, token)
    if found is None:
        return _not_here(request)
    merchant, attempt, link = found
    if _limited(request, None):
        return _too_many(request)
    attempt, state = settle(attempt)
    back = reverse("online:coupon", args=[merchant.appid]) + "?" + link_query(link)
    context = {
        "merchant": merchant,
        "attempt": attempt,
        "state": state,
        "back_url": back,
        "message": attempt.reason_message,
        "status_url": reverse("online:status", args=[merchant.appid, token]),
    }
    sdk = False
    data = {"state": state, "labels": _labels(), "status_url": context["status_url"]}
    if state == "consumed" and attempt.card is not None and _has_gift(attempt.card):
        config = _signed_config(merchant, request.build_absolute_uri())
        if config is not None:
            sdk = True
            data["wx"] = {"config": config}
            data["gift"] = {"cardId": attempt.card.card_id, "code": attempt.code}
    context.update(page_data=data, jssdk_url=jssdk.jssdk_url() if sdk else "")
    if attempt.card is not None:
        base = attempt.card.type_block.get("base_info", {})
        context["color"] = PALETTE.get(base.get("color", ""), "")
    with timezone.override(_zone(merchant)):
        return _page(
            request,
            "redemption/online_result.html",
            context,
            status=200 if state != "refused" else 409,
            sdk=sdk,
        )


@require_safe
def status(request, appid: str, token: str):
    """The checking page asks here (JSON) until the answer is known."""
    _customer_language(request)
    found = _attempt_of(appid, token)
    if found is None:
        return JsonResponse({"state": "unknown"}, status=404)
    if _limited(request, None):
        return JsonResponse({"state": "checking"}, status=429)
    attempt, state = settle(found[1])
    response = JsonResponse({"state": state, "message": attempt.reason_message})
    response["Cache-Control"] = "no-store"
    return response


def _too_many(request):
    return _problem(
        request,
        _("Too many tries from this phone. Wait a minute and try again."),
        status=429,
    )


app_name = "online"
urlpatterns = [
    path("<str:appid>/", coupon, name="coupon"),
    path("<str:appid>/r/<str:token>/", result, name="result"),
    path("<str:appid>/r/<str:token>/status", status, name="status"),
]


def online_url(request, merchant: Merchant) -> str:
    """The link the merchant puts in a card's center_url / custom_url."""
    return request.build_absolute_uri(reverse("online:coupon", args=[merchant.appid]))


def link_help(request, merchant: Merchant):
    """The editor's help under "Main button link": this merchant's online
    redemption link, with a copy button (portal.js's data-copy-button)."""
    return format_html(
        '<span class="online-link" data-online-link>{}: '
        '<span class="copy-field"><input type="text" value="{}" readonly '
        'data-copy-source data-online-url aria-label="{}">'
        '<button type="button" class="btn" data-copy-button data-copied-label="{}">'
        "{}</button></span></span>{}",
        _("Online redemption link"),
        online_url(request, merchant),
        _("Online redemption link"),
        _("Copied"),
        _("Copy"),
        _(
            "Put it here (or in “Entry link”): a customer who taps the coupon in "
            "WeChat opens it and redeems the coupon on their phone."
        ),
    )
