"""One exception class per WeChat errcode the sandbox answers with (moto-style).

``errmsg`` texts are WeChat's own, so that SDKs and logs read the same as in real life.
"""

from __future__ import annotations


class SandboxAPIError(Exception):
    errcode: int = -1
    errmsg: str = "system error"

    def __init__(self, errmsg: str | None = None):
        if errmsg:
            self.errmsg = errmsg
        super().__init__(f"{self.errcode} {self.errmsg}")

    def as_json(self) -> dict:
        return {"errcode": self.errcode, "errmsg": self.errmsg}


def _error(code: int, message: str, name: str) -> type[SandboxAPIError]:
    return type(name, (SandboxAPIError,), {"errcode": code, "errmsg": message})


SystemBusy = _error(-1, "system error", "SystemBusy")
InvalidCredential = _error(
    40001,
    "invalid credential, access_token is invalid or not latest",
    "InvalidCredential",
)
InvalidGrantType = _error(40002, "invalid grant_type", "InvalidGrantType")
InvalidOpenid = _error(40003, "invalid openid", "InvalidOpenid")
InvalidFileType = _error(40005, "invalid file type", "InvalidFileType")
InvalidImageSize = _error(40009, "invalid image size", "InvalidImageSize")
InvalidAppid = _error(40013, "invalid appid", "InvalidAppid")
InvalidAccessToken = _error(40014, "invalid access_token", "InvalidAccessToken")
InvalidTicketType = _error(40097, "invalid args", "InvalidArgs")
InvalidArgs = _error(40097, "invalid args", "InvalidArgs")
InvalidAppsecret = _error(40125, "invalid appsecret", "InvalidAppsecret")
AccessTokenMissing = _error(41001, "access_token missing", "AccessTokenMissing")
AccessTokenExpired = _error(42001, "access_token expired", "AccessTokenExpired")
MediaDataMissing = _error(41005, "media data missing", "MediaDataMissing")
RequirePost = _error(43002, "require POST method", "RequirePost")
DataFormatError = _error(47001, "data format error", "DataFormatError")
InvalidJson = _error(40053, "invalid json", "InvalidJson")

# --- coins (SPEC §5) ---------------------------------------------------------------
CoinAccountNotActivated = _error(
    43008, "no permission to use coin account", "CoinAccountNotActivated"
)
InvalidOrderId = _error(40071, "invalid order_id", "InvalidOrderId")
CoinOrderExpired = _error(40079, "order expired", "CoinOrderExpired")
CoinOrderUsed = _error(40099, "order has been used", "CoinOrderUsed")
CoinNotEnough = _error(40202, "coin not enough", "CoinNotEnough")

# --- users, codes and distribution (SPEC §6, §7) -------------------------------------
# errmsg texts follow WeChat's; the sandbox adds a hint saying why.
InvalidSerialCode = _error(40056, "invalid serial code", "InvalidSerialCode")
InvalidEncryptCode = _error(40075, "invalid encrypt code", "InvalidEncryptCode")
# 40078 is WeChat's "invalid card status": a code being given away (consume, mark),
# or a card that may not be handed out (receive, qrcode/create).
InvalidCardStatus = _error(40078, "invalid card status", "InvalidCardStatus")
CodeOutsideValidity = _error(40079, "invalid time", "CodeOutsideValidity")
CodeConsumed = _error(40099, "invalid code, this code has consumed.", "CodeConsumed")
CodeUsedQRCode = _error(40116, "invalid code", "CodeUsedQRCode")
CodeAbnormal = _error(
    40127,
    "invalid user-card status! Hint: the card was given to user, but may be "
    "deleted or set unavailable !",
    "CodeAbnormal",
)
CodeMarkedByOther = _error(
    40146, "invalid openid, the code has been marked by other user", "CodeMarkedByOther"
)
UnmarkByOther = _error(
    40416, "invalid openid, the code is marked by other user", "UnmarkByOther"
)
InvalidActionInfo = _error(40053, "invalid actioninfo", "InvalidActionInfo")
InvalidCardType = _error(40071, "invalid card type", "InvalidCardType")
MissingCardId = _error(41012, "missing card_id", "MissingCardId")
StockEmpty = _error(45031, "stock is empty", "StockEmpty")
GetLimitExceeded = _error(
    45033, "user get card num exceeds get_limit", "GetLimitExceeded"
)


# --- the open platform (SPEC §8) ------------------------------------------------------
class ApiUnauthorized(SandboxAPIError):
    errcode, errmsg = 48001, "api unauthorized"


class ComponentNotAuthorized(SandboxAPIError):
    errcode, errmsg = 61003, "component is not authorized by this account"


class ComponentTicketExpired(SandboxAPIError):
    errcode, errmsg = 61005, "component ticket is expired"


class ComponentTicketInvalid(SandboxAPIError):
    errcode, errmsg = 61006, "component ticket is invalid"


class AuthCodeInvalid(SandboxAPIError):
    errcode, errmsg = 61009, "code is invalid"


class AuthCodeExpired(SandboxAPIError):
    errcode, errmsg = 61010, "code is expired"


class ComponentAppidInvalid(SandboxAPIError):
    errcode, errmsg = 61011, "invalid component"


class RefreshTokenInvalid(SandboxAPIError):
    errcode, errmsg = 61023, "refresh_token is invalid"


class ComponentSecretInvalid(SandboxAPIError):
    errcode, errmsg = 40125, "invalid appsecret"


class ComponentTokenMissing(SandboxAPIError):
    errcode, errmsg = 41001, "component_access_token missing"


class ComponentTokenInvalid(SandboxAPIError):
    errcode, errmsg = 40001, "invalid credential, access_token is invalid or not latest"


class ComponentTokenExpired(SandboxAPIError):
    errcode, errmsg = 42001, "component_access_token expired"
