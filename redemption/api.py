"""/api/redemption/: the till's API (SPEC §7, issue 10 §4) — for the till page and for
machines at the till (a POS, a scanner).

Two ways in, tried in this order:

* ``Authorization: Bearer fct_…`` — a store's API key (services.till_key_*): the key's
  merchant, the key's store only; no CSRF (no cookie is involved). An unknown or
  revoked key is 401; more than ``REDEMPTION_RATE_PER_MINUTE`` calls a minute is 429.
* the signed-in session + CSRF (``MerchantAuth`` with ``Capability.REDEEM``): the
  store is the one the till page chose (kept in the session), which must be one the
  cashier's membership allows.

A consume answers 200 (consumed), 202 (``checking``: WeChat's answer was lost; poll
``GET /attempts/{id}``), or a refusal in the one error shape ``{code, message,
field}`` whose ``code`` is the attempt's Reason (README "Redemption" has the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Header, Schema, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer

from portal.api import MerchantAuth, PortalRouter, api, error
from portal.api_errors import Error, ErrorCode
from portal.roles import Capability

from . import services, till
from .models import Reason, RedemptionAttempt, TillKey

A = RedemptionAttempt.Outcome

# A refusal's HTTP status, by Reason (the error's ``code`` is the Reason's value).
REFUSAL_STATUS = {
    Reason.INVALID_CODE: 400,
    Reason.ALREADY_CONSUMED: 409,
    Reason.IN_PROGRESS: 409,
    Reason.MARKED_BY_OTHER: 409,
    Reason.NOT_MARKED: 409,
    Reason.EXPIRED: 422,
    Reason.NOT_VALID_HERE: 422,
    Reason.DELETED: 422,
    Reason.UNAVAILABLE: 422,
    Reason.REVOKED: 403,
    Reason.WECHAT_BUSY: 503,
    Reason.NOT_CONFIRMED: 503,
}


class InvalidKey(Exception):
    """An Authorization: Bearer header whose key is unknown or revoked."""


@dataclass(frozen=True)
class Till:
    """Who is redeeming (``request.auth``): the merchant, the store, and the user of
    the till page or the device's key."""

    merchant: object
    store: object | None
    user: object | None = None
    api_key: TillKey | None = None
    role: str | None = None

    @property
    def channel(self) -> str:
        return "api" if self.api_key is not None else "till"


class TillKeyAuth(HttpBearer):
    """``Authorization: Bearer <key>``: a store's API key (shown once when an owner
    creates it). The key's store is the till's store."""

    def authenticate(self, request, token):
        key = services.till_key_authenticate(token.strip())
        if key is None:
            raise InvalidKey
        if services.rate_limited(key=key):
            raise HttpError(429, "rate limited")
        zone = till.zone(key.merchant)
        if zone is not None:
            timezone.activate(zone)
        return Till(merchant=key.merchant, store=key.store, api_key=key)


class TillSessionAuth(MerchantAuth):
    """The till page: the signed-in user (CSRF checked), with the store the page
    chose."""

    def __init__(self):
        super().__init__(Capability.REDEEM)

    def authenticate(self, request, key):
        tenant = super().authenticate(request, key)
        if tenant is None:
            return None
        store = till.current_store(request)
        return Till(
            merchant=tenant.merchant, store=store, user=tenant.user, role=tenant.role
        )


@api.exception_handler(InvalidKey)
def on_invalid_key(request, exc):
    return error(
        request,
        401,
        ErrorCode.INVALID_API_KEY,
        _("This API key is not valid, or it was revoked."),
    )


router = PortalRouter(
    tags=["redemption"], auth=[TillKeyAuth(), TillSessionAuth()], capability=None
)

EXAMPLE_CODE = "123456789012"


class CodeIn(Schema):
    code: str = Field(
        ...,
        max_length=200,
        description="The code as typed or scanned: 4–20 ASCII letters or digits "
        "(spaces and dashes are dropped).",
        examples=[EXAMPLE_CODE],
    )


class LookupOut(Schema):
    code: str
    card_id: str | None = Field(None, examples=["pFC0000000000000000000001"])
    title: str = Field("", examples=["全场满500减50"])
    value: str = Field(
        "",
        description="What the coupon is worth, in words",
        examples=["消费满500元可用"],
    )
    status: str = Field(
        "", description="WeChat's user_card_status", examples=["NORMAL"]
    )
    status_label: str = Field("", examples=["Ready to use"])
    can_consume: bool
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    valid_here: bool
    store: str | None = Field(None, description="The till's store (its POI id)")
    time_limit: str = Field(
        "", description="The days and hours it may be used, in words"
    )
    outside_time_limit: bool = Field(
        False, description="Now is outside time_limit: shown, not enforced (SPEC §7)"
    )
    reason: str | None = Field(
        None, description="Why it cannot be consumed: a Reason code", examples=[None]
    )
    message: str
    consumed_at: datetime | None = None
    consumed_where: str = ""


class ConsumeOut(Schema):
    status: str = Field(..., examples=["consumed"])
    code: str = Field(..., examples=[EXAMPLE_CODE])
    card_id: str | None = Field(None, examples=["pFC0000000000000000000001"])
    title: str = ""
    value: str = ""
    openid: str = Field("", description="The WeChat user who received the coupon")
    consumed_at: datetime | None = None
    attempt_id: int
    message: str = ""


class AttemptOut(ConsumeOut):
    reason: str | None = None
    store: str | None = None
    channel: str = ""
    cashier: str = ""
    created_at: datetime | None = None
    when: str = Field("", description="created_at in the merchant's time, in words")


class RecentOut(Schema):
    store: str | None = None
    items: list[AttemptOut]


REFUSALS = {400: Error, 403: Error, 409: Error, 422: Error, 429: Error, 503: Error}

LOOKUP_DOC = {
    "requestBody": {
        "content": {
            "application/json": {
                "examples": {
                    "typed": {
                        "summary": "A code typed",
                        "value": {"code": EXAMPLE_CODE},
                    }
                }
            }
        }
    },
}
CONSUME_DOC = {
    **LOOKUP_DOC,
    "responses": {
        409: {
            "description": "Refused: already consumed, in progress, marked by another user",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"},
                    "examples": {
                        "already_consumed": {
                            "value": {
                                "code": "already_consumed",
                                "message": "This coupon has already been redeemed.",
                                "field": "code",
                            }
                        },
                        "in_progress": {
                            "value": {
                                "code": "in_progress",
                                "message": "Another till is redeeming this coupon "
                                "right now. Wait a moment.",
                                "field": "code",
                            }
                        },
                    },
                }
            },
        },
    },
}


IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=100,
    description="The same key gets the same answer, and never a second consume. "
    "While the first request with this key is still with WeChat, another one "
    "is answered 409 `conflict`.",
    examples=["till-3-20261202-0001"],
)


def _store(request):
    store = request.auth.store
    if store is None:
        raise ValidationError(
            {"store": ValidationError(_("Choose this till's store first."))}
        )
    return store


def _refusal(request, reason: str, message: str | None = None):
    return error(
        request,
        REFUSAL_STATUS.get(reason, 422),
        ErrorCode.of(reason, ErrorCode.INVALID),
        message or str(Reason(reason).label),
        "code",
    )


@router.post(
    "/lookup",
    response={200: LookupOut, **REFUSALS},
    url_name="redemption_lookup",
    openapi_extra=LOOKUP_DOC,
)
def lookup(request, payload: CodeIn):
    """The coupon as the customer sees it, and whether this till may consume it now.

    `Authorization: Bearer <key>` (a store's key) or the signed-in till page (session
    and `X-CSRFToken`). A code that is not this merchant's, or does not exist, is
    400 `invalid_code` (nothing else is said about it). A code WeChat refuses to
    read is answered 200 with its `reason`: the till shows it in words."""
    store = _store(request)
    if services.normalize_code(payload.code) is None:
        return _refusal(request, Reason.INVALID_CODE)
    found = services.code_lookup(
        merchant=request.auth.merchant, code=payload.code, store=store
    )
    if found.card is None:
        return _refusal(request, found.reason or Reason.INVALID_CODE)
    return till.lookup_answer(found, store)


@router.post(
    "/consume",
    response={200: ConsumeOut, 202: ConsumeOut, **REFUSALS},
    url_name="redemption_consume",
    openapi_extra=CONSUME_DOC,
)
def consume(
    request,
    payload: CodeIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
):
    """Consume the code at this till's store, at most once whatever the number of
    tills, clicks or retries.

    200 `{"status": "consumed", …}`; 202 `{"status": "checking", "attempt_id"}` when
    WeChat's answer was lost: poll `GET /api/redemption/attempts/{attempt_id}` until it
    is settled (it is read again at WeChat, never consumed again). Refusals are
    4xx/503 with `code` = the reason: 409 `already_consumed` (also for every till
    that lost the race), `in_progress`, `marked_by_other`; 422 `expired`,
    `not_valid_here`, `deleted`, `unavailable`; 400 `invalid_code`; 503
    `wechat_busy`, `not_confirmed` (nothing happened: try again)."""
    store = _store(request)
    caller = request.auth
    key = (idempotency_key or "").strip() or None
    try:
        attempt = services.code_consume(
            merchant=caller.merchant,
            code=payload.code,
            store=store,
            channel=caller.channel,
            user=caller.user,
            api_key=caller.api_key,
            idempotency_key=key,
        )
    except services.KeyReused:
        return error(
            request,
            422,
            ErrorCode.CONFLICT,
            _(
                "This Idempotency-Key was already used for another code: use a new "
                "key for each code."
            ),
            "Idempotency-Key",
        )
    except services.InProgress:
        return error(
            request,
            409,
            ErrorCode.CONFLICT,
            _("A request with this Idempotency-Key is still being answered."),
            "Idempotency-Key",
        )
    return _attempt_answer(request, attempt)


def _attempt_answer(request, attempt: RedemptionAttempt):
    # One read of what the answer shows (not one per relation).
    attempt = (
        RedemptionAttempt.objects.select_related(
            "card", "store", "user", "api_key", "code_ref"
        ).get(pk=attempt.pk)
        if attempt.outcome != A.REFUSED or attempt.reason == Reason.ALREADY_CONSUMED
        else attempt
    )
    if attempt.outcome == A.CONSUMED:
        return Status(200, till.attempt_answer(attempt))
    if attempt.outcome in (A.UNKNOWN, A.PENDING):
        return Status(202, till.attempt_answer(attempt))
    if attempt.reason == Reason.ALREADY_CONSUMED:
        return _refusal(request, attempt.reason, till.already_consumed_words(attempt))
    return _refusal(request, attempt.reason or Reason.INVALID_CODE)


@router.get(
    "/attempts/{attempt_id}",
    response={200: AttemptOut},
    url_name="redemption_attempt",
)
def attempt(request, attempt_id: int):
    """One attempt of this merchant (of this key, for a key): its outcome, read again
    at WeChat (code/get) when it is `checking` and its next read is due. `status` is
    `consumed`, `refused` (with `reason`), or `checking`."""
    found = till.attempts_for(request.auth).filter(pk=attempt_id).first()
    if found is None:
        return error(request, 404, ErrorCode.NOT_FOUND, _("Not found."))
    if found.outcome == A.UNKNOWN and (
        found.next_check_at is None or found.next_check_at <= timezone.now()
    ):
        found = services.attempt_settle(attempt_id=found.pk)
    return till.attempt_answer(found)


@router.get(
    "/recent",
    response=RecentOut,
    url_name="redemption_recent",
)
def recent(request):
    """This till's last 20 redemption attempts (the store's, or the key's)."""
    caller = request.auth
    items = till.attempts_for(caller)
    if caller.api_key is None and caller.store is not None:
        items = items.filter(store=caller.store)
    return {
        "store": caller.store.poi_id if caller.store else None,
        "items": [till.attempt_answer(a) for a in items[:20]],
    }
