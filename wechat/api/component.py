"""WeChat's open platform for third-party providers (第三方平台, SPEC §8).

Bound to a provider's client (``WeChatClient(component_appid,
token_source=ComponentTokenSource(...))``): every call but the first carries
``component_access_token``. Doc: 开放平台 → 第三方平台 → 授权流程技术说明 /
授权方账号管理 (``cgi-bin/component/…``, POST JSON).

All of these are safe to repeat: the token and pre-auth code calls only make new
values, the others read (the sandbox, like WeChat, answers the same authorization
for the same code, and keeps a replaced refresh token valid until its successor is
used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .base import BaseAPI

PREFIX = "cgi-bin/component/"
# SPEC §8: what this product needs of a merchant's authorization.
FUNC_CARDS = 8  # 卡券 (cards and coupons)
FUNC_STORES = 13  # 门店 (stores)
REQUIRED_FUNCS = (FUNC_CARDS, FUNC_STORES)
MAX_LIST_COUNT = 500


def func_ids(func_info) -> list[int]:
    """The scope ids in WeChat's ``func_info`` list (``[{funcscope_category: {id}}]``)."""
    ids = set()
    for item in func_info or []:
        category = (item or {}).get("funcscope_category") or {}
        try:
            ids.add(int(category.get("id")))
        except (TypeError, ValueError):
            continue
    return sorted(ids)


@dataclass(frozen=True)
class PreAuthCode:
    code: str
    expires_in: int


@dataclass(frozen=True)
class Authorization:
    """What ``api_query_auth`` hands over: the authorizer's tokens and scopes."""

    authorizer_appid: str
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(repr=False)
    func_ids: list[int]


@dataclass(frozen=True)
class AuthorizerToken:
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(repr=False)


@dataclass(frozen=True)
class AuthorizerInfo:
    """``api_get_authorizer_info``: who the official account is, what it granted."""

    authorizer_appid: str
    nick_name: str
    head_img: str
    user_name: str  # the original id (gh_…), the ToUserName of its pushes
    principal_name: str
    business_info: dict
    func_ids: list[int]


@dataclass(frozen=True)
class AuthorizerListItem:
    authorizer_appid: str
    refresh_token: str = field(repr=False)
    auth_time: datetime | None


@dataclass(frozen=True)
class AuthorizerList:
    total: int
    items: list[AuthorizerListItem]


class ComponentAPI(BaseAPI):
    def _post(self, endpoint: str, body: dict, *, with_token: bool = True) -> dict:
        return self.client.call(
            "POST",
            PREFIX + endpoint,
            json_body={"component_appid": self.client.appid, **body},
            with_token=with_token,
            safe_to_retry=True,
        )

    def component_token(self, appsecret: str, ticket: str) -> tuple[str, int]:
        """``api_component_token``: a component access token (7200 s) for the
        appsecret and the latest component_verify_ticket."""
        data = self._post(
            "api_component_token",
            {"component_appsecret": appsecret, "component_verify_ticket": ticket},
            with_token=False,
        )
        return data["component_access_token"], int(data.get("expires_in", 7200))

    def create_preauthcode(self) -> PreAuthCode:
        """``api_create_preauthcode``: a pre-auth code for the authorization page."""
        data = self._post("api_create_preauthcode", {})
        return PreAuthCode(
            code=data["pre_auth_code"], expires_in=int(data.get("expires_in", 600))
        )

    def query_auth(self, authorization_code: str) -> Authorization:
        """``api_query_auth``: the authorization an auth code stands for (the only
        answer, with the authorizer list, that carries the refresh token)."""
        data = self._post("api_query_auth", {"authorization_code": authorization_code})
        info = data["authorization_info"]
        return Authorization(
            authorizer_appid=info["authorizer_appid"],
            access_token=info.get("authorizer_access_token", ""),
            expires_in=int(info.get("expires_in", 7200)),
            refresh_token=info.get("authorizer_refresh_token", ""),
            func_ids=func_ids(info.get("func_info")),
        )

    def authorizer_token(
        self, authorizer_appid: str, refresh_token: str
    ) -> AuthorizerToken:
        """``api_authorizer_token``: a new authorizer access token (and refresh
        token, which may have changed: store it)."""
        data = self._post(
            "api_authorizer_token",
            {
                "authorizer_appid": authorizer_appid,
                "authorizer_refresh_token": refresh_token,
            },
        )
        return AuthorizerToken(
            access_token=data["authorizer_access_token"],
            expires_in=int(data.get("expires_in", 7200)),
            refresh_token=data.get("authorizer_refresh_token") or refresh_token,
        )

    def get_authorizer_info(self, authorizer_appid: str) -> AuthorizerInfo:
        """``api_get_authorizer_info``: the account's name, original id, business
        abilities and the scopes it granted."""
        data = self._post(
            "api_get_authorizer_info", {"authorizer_appid": authorizer_appid}
        )
        info = data.get("authorizer_info") or {}
        authorization = data.get("authorization_info") or {}
        return AuthorizerInfo(
            authorizer_appid=authorization.get("authorizer_appid", authorizer_appid),
            nick_name=str(info.get("nick_name", "")),
            head_img=str(info.get("head_img", "")),
            user_name=str(info.get("user_name", "")),
            principal_name=str(info.get("principal_name", "")),
            business_info=dict(info.get("business_info") or {}),
            func_ids=func_ids(authorization.get("func_info")),
        )

    def get_authorizer_list(
        self, *, offset: int = 0, count: int = MAX_LIST_COUNT
    ) -> AuthorizerList:
        """``api_get_authorizer_list``: every authorizer with its refresh token
        (the recovery of lost refresh tokens), ``count`` ≤ 500 per page."""
        if not 1 <= count <= MAX_LIST_COUNT:
            raise ValueError(f"count must be 1…{MAX_LIST_COUNT}")
        data = self._post("api_get_authorizer_list", {"offset": offset, "count": count})
        items = [
            AuthorizerListItem(
                authorizer_appid=str(row.get("authorizer_appid", "")),
                refresh_token=str(row.get("refresh_token", "")),
                auth_time=datetime.fromtimestamp(int(row["auth_time"]), tz=UTC)
                if row.get("auth_time")
                else None,
            )
            for row in data.get("list") or []
        ]
        return AuthorizerList(total=int(data.get("total_count", 0)), items=items)
