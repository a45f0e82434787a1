"""The API's one error shape: ``{"code", "message", "field"}`` (README "API").

``code`` is a stable snake_case name from ``ErrorCode`` (clients switch on it);
``message`` is for people, in the request's language; ``field`` names the input
the error belongs to, or is null. Every error the API can answer has this shape
and is documented on every operation (``ERROR_RESPONSES``).
"""

from __future__ import annotations

from enum import StrEnum

from ninja import Schema


class ErrorCode(StrEnum):
    NOT_AUTHENTICATED = "not_authenticated"  # 401: sign in first
    FORBIDDEN = "forbidden"  # 403: the role may not do this here
    CSRF_FAILED = "csrf_failed"  # 403: a write without the CSRF token
    NOT_FOUND = "not_found"  # 404: no such object for this merchant
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    INVALID = "invalid"  # 400/422: an input is not valid
    NOT_A_NUMBER = "not_a_number"  # 400: only ASCII digits are numbers
    OUT_OF_RANGE = "out_of_range"  # 400
    IMAGE_TOO_LARGE = "image_too_large"  # 400
    IMAGE_TYPE = "image_type"  # 400: JPG or PNG only
    CONFLICT = "conflict"  # 409: the same request is already being handled
    TOO_MANY_REQUESTS = "too_many_requests"  # 429
    WECHAT_REFUSED = "wechat_refused"  # 502: WeChat answered with an errcode
    WECHAT_UNAVAILABLE = "wechat_unavailable"  # 502: WeChat did not answer
    WECHAT_UNKNOWN_OUTCOME = "wechat_unknown_outcome"  # 502: the answer was lost
    SERVER_ERROR = "server_error"  # 500
    # Redemption (redemption.models.Reason: the same stable codes; README "Redemption")
    INVALID_API_KEY = "invalid_api_key"  # 401: an unknown or revoked till key
    ALREADY_CONSUMED = "already_consumed"  # 409
    IN_PROGRESS = "in_progress"  # 409: another attempt on the code is with WeChat
    MARKED_BY_OTHER = "marked_by_other"  # 409: a WeChat user holds the code
    NOT_MARKED = "not_marked"  # 409
    EXPIRED = "expired"  # 422: outside its validity dates
    NOT_VALID_HERE = "not_valid_here"  # 422: the card is not valid at this store
    DELETED = "deleted"  # 422: deleted by the customer, or being given away
    UNAVAILABLE = "unavailable"  # 422
    INVALID_CODE = "invalid_code"  # 400: not a code of this merchant
    REVOKED = "revoked"  # 403: the merchant's WeChat account cannot be used
    WECHAT_BUSY = "wechat_busy"  # 503: nothing happened, try again
    NOT_CONFIRMED = "not_confirmed"  # 503: WeChat did not confirm; still unused
    CHECKING = "checking"  # (202's status, never an error)

    @classmethod
    def of(cls, value: str | None, default: ErrorCode) -> ErrorCode:
        """The member named ``value`` (a ValidationError's code), else ``default``."""
        try:
            return cls(value) if value else default
        except ValueError:
            return default


class Error(Schema):
    """Every error the API answers."""

    code: ErrorCode
    message: str
    field: str | None = None


# Documented on every operation (portal.api.PortalRouter adds them).
ERROR_STATUSES = (400, 401, 403, 404, 409, 422, 502)
ERROR_RESPONSES = {status: Error for status in ERROR_STATUSES}
