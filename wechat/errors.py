"""WeChat errcodes as typed exceptions, each explained in words (SPEC §11).

``WeChatError.message`` is the translated explanation shown to users; ``errmsg`` is
WeChat's own text, kept for logs and support. ``field`` names the form field a
card or coin error belongs to, when it belongs to one.
"""

from __future__ import annotations

from enum import IntEnum

from django.utils.translation import gettext_lazy as _


class Errcode(IntEnum):
    """WeChat's errcodes by name (SPEC §11): services compare names, not numbers.

    Some numbers mean different things on different paths (40099 is "already
    consumed" for a code and "quote already used" for card/pay/confirm; 40071 is
    WeChat's "format error", also its answer for an unknown coin order id); the
    name says what the number is, the caller says what it means there.
    """

    SYSTEM_BUSY = -1
    INVALID_CREDENTIAL = 40001
    CODE_NOT_MARKED = 40003
    IMAGE_TYPE = 40005
    IMAGE_TOO_LARGE = 40009
    INVALID_APPID = 40013
    INVALID_ACCESS_TOKEN = 40014
    INVALID_JSON = 40053
    INVALID_CODE = 40056
    FORMAT_ERROR = 40071
    INVALID_CARD_ID = 40073
    INVALID_ENCRYPT_CODE = 40075
    CODE_DELETED_OR_GIFTING = 40078
    INVALID_TIME = 40079
    ALREADY_USED = 40099
    INVALID_COMPONENT_SECRET = 40125
    CODE_UNAVAILABLE = 40127
    IMAGE_NOT_UPLOADED = 40141
    MARKED_BY_OTHER = 40146
    IP_NOT_WHITELISTED = 40164
    NOT_ENOUGH_COINS = 40202
    UNMARK_BY_OTHER = 40416
    ACCESS_TOKEN_MISSING = 41001
    NO_STORE = 41025
    ACCESS_TOKEN_EXPIRED = 42001
    NO_PAYMENT_PERMISSION = 43008
    API_UNAUTHORIZED = 48001
    API_QUOTA = 45009
    NO_STOCK = 45031
    TOO_MANY_GIFT_RULES = 45021
    INVALID_JSON_STRUCTURE = 47001
    COMPONENT_NOT_AUTHORIZED = 61003
    COMPONENT_IP_NOT_WHITELISTED = 61004
    COMPONENT_TICKET_EXPIRED = 61005
    COMPONENT_TICKET_INVALID = 61006
    AUTHORIZATION_CODE_INVALID = 61009
    AUTHORIZATION_CODE_EXPIRED = 61010
    COMPONENT_APPID_INVALID = 61011
    REFRESH_TOKEN_INVALID = 61023
    DATE_FORMAT = 61500
    DATE_RANGE = 61501


E = Errcode

# SPEC §11: every errcode a user can meet, in words.
MESSAGES = {
    -1: _("WeChat is busy. Please try again in a moment."),
    40001: _("The WeChat access token was invalid; it has been renewed."),
    40003: _("This code has not been marked by this WeChat user."),
    40005: _("The image type is not accepted. Upload a JPG or PNG."),
    40009: _("The image is too large: at most 1 MB."),
    40013: _("The AppID is not valid."),
    40014: _("The WeChat access token was invalid; it has been renewed."),
    40053: _("WeChat could not read the request (bad JSON)."),
    40056: _("This code does not exist: check the digits."),
    40071: _("A field has the wrong format."),
    40075: _("The encrypted code is not valid."),
    40078: _("This code was deleted or is being given to a friend."),
    40079: _(
        "The code is outside its validity, or the validity is longer than 90 days."
    ),
    40099: _("This code has already been redeemed."),
    40125: _("The AppSecret is not valid."),
    40127: _("This code was deleted, is unavailable, or was given away."),
    40141: _("The image was not uploaded to WeChat: upload it again."),
    40146: _("This code is locked by another WeChat user."),
    40164: _("This server's IP address is not on the account's API whitelist."),
    40416: _("Only the user who marked this code may unmark it."),
    41001: _("The access token is missing."),
    41025: _("Choose at least one store."),
    42001: _("The WeChat access token had expired; it has been renewed."),
    43008: _("This account has no payment permission."),
    45009: _("The daily API quota is used up."),
    48001: _(
        "The merchant has not granted the service provider the permission this "
        "needs (cards and coupons, or stores)."
    ),
    40073: _("WeChat does not know this card."),
    40202: _("There are not enough coins for this stock: recharge first."),
    45021: _("Too many gift rules."),
    45031: _("This coupon has no stock left."),
    47001: _("WeChat could not read the request (bad JSON structure)."),
    61003: _("This official account has not authorized the service provider."),
    61004: _("This server's IP address is not on the service provider's whitelist."),
    61005: _(
        "The service provider's WeChat ticket has expired; WeChat sends a new one "
        "every 10 minutes."
    ),
    61006: _(
        "The service provider has no valid WeChat ticket yet; WeChat sends one every "
        "10 minutes."
    ),
    61009: _("The authorization code is not valid: add the merchant again."),
    61010: _("The authorization code has expired: add the merchant again."),
    61011: _("The service provider's component AppID is not valid."),
    61023: _(
        "The merchant's authorization has lapsed: the merchant must authorize the "
        "service provider again."
    ),
    61500: _("Dates must be written as YYYY-MM-DD."),
    61501: _("The date range may be at most 62 days."),
}
# Every named errcode has its words (checked by a test).


class WeChatError(Exception):
    """An answer from WeChat with a non-zero errcode, or no usable answer at all."""

    errcode: int | None = None

    def __init__(
        self,
        errcode: int | None = None,
        errmsg: str = "",
        *,
        path: str = "",
        field: str | None = None,
    ):
        if errcode is not None:
            self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        self.field = field
        super().__init__(f"{self.errcode} {errmsg} ({path})")

    @property
    def code(self) -> Errcode | None:
        """The errcode by name, when it is one of SPEC §11's."""
        try:
            return Errcode(self.errcode) if self.errcode is not None else None
        except ValueError:
            return None

    def is_(self, *codes: Errcode) -> bool:
        """True when this is one of ``codes``."""
        return self.code in codes

    @property
    def message(self) -> str:
        """What the user reads, in their language (never WeChat's errmsg)."""
        known = MESSAGES.get(self.errcode)
        if known is not None:
            return str(known)
        return str(_("WeChat refused the request (error %(code)s).")) % {
            "code": self.errcode,
        }

    @property
    def api_code(self) -> str:
        """A stable snake_case code for the portal's API (``{code, message}``)."""
        return f"wechat_{self.errcode}"


class SystemBusy(WeChatError):
    errcode = -1


class InvalidCredential(WeChatError):
    """40001 / 40014 / 42001: the access token is bad or expired (SPEC §4)."""


class TransportError(WeChatError):
    """No answer from WeChat: connection refused, timeout, HTTP 5xx, bad body."""

    errcode = None

    @property
    def message(self) -> str:
        return str(_("WeChat did not answer. Please try again in a moment."))

    @property
    def api_code(self) -> str:
        return "wechat_unavailable"


class UnknownOutcome(TransportError):
    """A call that must not be repeated blindly (consume, confirm, recharge) lost its
    answer: whether WeChat did it is unknown until it is read back (SPEC §5, §7)."""

    @property
    def message(self) -> str:
        return str(
            _("WeChat's answer was lost. We are checking whether it went through.")
        )


class NotCallable(WeChatError):
    """Nothing may be sent for this account now (SPEC §8): raised before any call,
    so WeChat saw nothing. ``message`` says why and what to do."""

    errcode = None
    reason = "not_callable"

    @property
    def api_code(self) -> str:
        return self.reason


class AuthorizationRevoked(NotCallable):
    """The merchant cancelled its authorization of the provider (``unauthorized``)."""

    reason = "merchant_revoked"

    @property
    def message(self) -> str:
        return str(
            _(
                "This merchant has revoked the service provider's authorization: "
                "nothing can be done at WeChat for it until it authorizes again. "
                "Its data stays readable."
            )
        )


class ReauthorizationNeeded(NotCallable):
    """WeChat refused the merchant's refresh token (61023): authorize again."""

    errcode = 61023
    reason = "merchant_needs_reauthorization"


class PermissionsMissing(NotCallable):
    """The merchant did not grant the provider what the portal needs (8 and 13)."""

    reason = "merchant_permissions_missing"

    @property
    def message(self) -> str:
        return str(
            _(
                "The merchant has not granted the service provider the permissions "
                "this portal needs: cards and coupons (卡券, id 8) and stores (门店, "
                "id 13). Ask the merchant to authorize again with both ticked."
            )
        )


class ComponentTicketMissing(NotCallable):
    """The provider has no component_verify_ticket from WeChat yet (SPEC §8)."""

    reason = "provider_waiting_for_ticket"

    @property
    def message(self) -> str:
        return str(
            _(
                "The service provider is waiting for WeChat's ticket "
                "(component_verify_ticket): WeChat sends one every 10 minutes to "
                "the provider's authorization event URL."
            )
        )


class ComponentNotConfigured(NotCallable):
    """The provider's component appid, appsecret, token or key is not set."""

    reason = "provider_not_configured"

    @property
    def message(self) -> str:
        return str(
            _(
                "The service provider's WeChat open platform settings are incomplete: "
                "its owner sets the component AppID, AppSecret, message token and "
                "EncodingAESKey under Provider settings."
            )
        )


# Errcodes that are the provider's problem, not one merchant's (SPEC §8).
PROVIDER_ERRCODES = frozenset(
    {
        E.INVALID_COMPONENT_SECRET,
        E.COMPONENT_IP_NOT_WHITELISTED,
        E.COMPONENT_TICKET_EXPIRED,
        E.COMPONENT_TICKET_INVALID,
        E.COMPONENT_APPID_INVALID,
    }
)

TOKEN_ERRCODES = frozenset(
    {E.INVALID_CREDENTIAL, E.INVALID_ACCESS_TOKEN, E.ACCESS_TOKEN_EXPIRED}
)


def error_for(errcode: int, errmsg: str, *, path: str = "") -> WeChatError:
    """The typed exception for an errcode."""
    if errcode == E.SYSTEM_BUSY:
        return SystemBusy(errcode, errmsg, path=path)
    if errcode in TOKEN_ERRCODES:
        return InvalidCredential(errcode, errmsg, path=path)
    return WeChatError(errcode, errmsg, path=path)
