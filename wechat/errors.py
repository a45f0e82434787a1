"""WeChat errcodes as typed exceptions, each explained in words (SPEC §11).

``WeChatError.message`` is the translated explanation shown to users; ``errmsg`` is
WeChat's own text, kept for logs and support. ``field`` names the form field a
card or coin error belongs to, when it belongs to one.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

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
    40073: _("WeChat does not know this card."),
    40202: _("There are not enough coins for this stock: recharge first."),
    45021: _("Too many gift rules."),
    47001: _("WeChat could not read the request (bad JSON structure)."),
    61500: _("Dates must be written as YYYY-MM-DD."),
    61501: _("The date range may be at most 62 days."),
}


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
    def message(self) -> str:
        """What the user reads, in their language: from the errcode, never from
        WeChat's ``errmsg`` (which is in WeChat's language, not the reader's)."""
        known = MESSAGES.get(self.errcode)
        if known is not None:
            return str(known)
        return str(_("WeChat refused the request (error %(code)s).")) % {
            "code": self.errcode
        }


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


class UnknownOutcome(TransportError):
    """A call that must not be repeated blindly (consume, confirm, recharge) lost its
    answer: whether WeChat did it is unknown until it is read back (SPEC §5, §7)."""

    @property
    def message(self) -> str:
        return str(
            _("WeChat's answer was lost. We are checking whether it went through.")
        )


TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


def error_for(errcode: int, errmsg: str, *, path: str = "") -> WeChatError:
    """The typed exception for an errcode."""
    if errcode == -1:
        return SystemBusy(errcode, errmsg, path=path)
    if errcode in TOKEN_ERRCODES:
        return InvalidCredential(errcode, errmsg, path=path)
    return WeChatError(errcode, errmsg, path=path)
