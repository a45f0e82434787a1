"""Helpers for the provider tests (SPEC §8): the demo provider at the live sandbox."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

from django.urls import reverse

from portal.models import Merchant, Provider
from wechat.crypto import MessageCrypto
from wechat.signatures import new_nonce, server_signature

DUMPLING = "wx0000000000de0013"


def push_ticket(sandbox, provider: Provider) -> str:
    """WeChat pushes a component_verify_ticket now; the portal keeps it."""
    answer = sandbox.control(
        "POST", f"components/{provider.component_appid}/push-ticket"
    )
    assert answer["push"]["status"] == "delivered", answer
    provider.refresh_from_db()
    return answer["component_verify_ticket"]


def start_onboarding(client) -> dict:
    """*Add a merchant*: the portal's redirect to WeChat's authorization page."""
    response = client.get(reverse("provider:onboarding_start"))
    assert response.status_code == 302, response
    location = urlparse(response["Location"])
    assert location.path.endswith("/mp/cgi-bin/componentloginpage"), location
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def authorize_at_wechat(sandbox, page: dict, appid: str, func_ids=(8, 13)) -> str:
    """What the merchant's admin does on the page: the auth code WeChat sends back."""
    granted = sandbox.control(
        "POST",
        f"components/{page['component_appid']}/authorize",
        json={
            "authorizer_appid": appid,
            "func_ids": list(func_ids),
            "pre_auth_code": page["pre_auth_code"],
        },
    )
    return granted["auth_code"]


def onboard(client, sandbox, appid: str = DUMPLING, func_ids=(8, 13)):
    """The whole onboarding over HTTP; returns the callback's response."""
    page = start_onboarding(client)
    code = authorize_at_wechat(sandbox, page, appid, func_ids)
    callback = urlparse(page["redirect_uri"])
    return client.get(
        callback.path + "?" + urlencode({"auth_code": code, "expires_in": 600})
    )


def encrypted_push(
    xml: str,
    *,
    token: str,
    key: str,
    appid: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[bytes, dict]:
    """A safe-mode push as WeChat sends it, with the given keys."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or new_nonce(10)
    crypto = MessageCrypto(token, key, appid)
    encrypted = crypto.encrypt(xml)
    body = f"<xml><AppId><![CDATA[{appid}]]></AppId><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = {
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": server_signature(token, timestamp, nonce),
        "encrypt_type": "aes",
        "msg_signature": crypto.signature(timestamp, nonce, encrypted),
    }
    return body.encode(), query


def ticket_xml(appid: str, ticket: str, create_time: int) -> str:
    return (
        f"<xml><AppId><![CDATA[{appid}]]></AppId><CreateTime>{create_time}</CreateTime>"
        "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
        f"<ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
    )


def sub_merchant(name: str) -> Merchant:
    return Merchant.objects.get(name=name)
