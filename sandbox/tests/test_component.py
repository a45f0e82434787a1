"""The sandbox as WeChat's open platform (SPEC §8), over real HTTP: wechatpy's
``WeChatComponent`` unchanged but for its host, raw requests, the authorization
page, the control API and the pushes a provider's server receives."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from sandbox.tests.helpers import Callback, WeChatHostSession, cash_card
from wechat import xmlutil
from wechat.crypto import MessageCrypto

COMPONENT = "wx00000000c0a00001"
COMPONENT_SECRET = "component-secret-0123456789abcd"
TOKEN = "componenttoken1"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MERCHANT = "wx00000000c0a0a001"
OTHER = "wx00000000c0a0a002"
SECRET = "sandbox-cards-secret-0123456789"


@pytest.fixture
def provider_server():
    server = Callback()
    yield server
    server.close()


@pytest.fixture
def component(sandbox, provider_server):
    """A component whose pushes reach ``provider_server``; tickets on demand only."""
    for appid, name in ((MERCHANT, "Dumpling House"), (OTHER, "Other Shop")):
        sandbox.account(appid, SECRET, nick_name=name, principal_name=f"{name} Ltd.")
    return sandbox.control(
        "POST",
        "components",
        json={
            "component_appid": COMPONENT,
            "component_appsecret": COMPONENT_SECRET,
            "token": TOKEN,
            "encoding_aes_key": KEY,
            "callback_url": provider_server.url,
            "name": "Tea Provider",
            "ticket_interval_seconds": 0,
        },
    )


def wait_for(received: list, count: int, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(received) >= count, received
    return received


def decrypt(push: dict) -> dict:
    """What the provider's server reads from a push (SPEC §8: the component's
    token and key, the trailing appid the component appid)."""
    query = {k: v[0] for k, v in push["query"].items()}
    assert query["encrypt_type"] == "aes"
    xml = MessageCrypto(TOKEN, KEY, COMPONENT).decrypt_message(
        push["body"],
        msg_signature=query["msg_signature"],
        timestamp=query["timestamp"],
        nonce=query["nonce"],
    )
    return xmlutil.parse(xml)


def _jpeg(color: str) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def post(sandbox, endpoint: str, body: dict, token: str | None = None) -> dict:
    params = {"component_access_token": token} if token else {}
    return requests.post(
        sandbox.base_url + "cgi-bin/component/" + endpoint,
        params=params,
        json=body,
        timeout=10,
    ).json()


def component_token(sandbox) -> str:
    ticket = sandbox.control("POST", f"components/{COMPONENT}/push-ticket")[
        "component_verify_ticket"
    ]
    data = post(
        sandbox,
        "api_component_token",
        {
            "component_appid": COMPONENT,
            "component_appsecret": COMPONENT_SECRET,
            "component_verify_ticket": ticket,
        },
    )
    assert data["expires_in"] == 7200, data
    return data["component_access_token"]


def authorize(sandbox, token: str, appid: str = MERCHANT, func_ids=(8, 13)) -> dict:
    code = post(
        sandbox, "api_create_preauthcode", {"component_appid": COMPONENT}, token
    )
    granted = sandbox.control(
        "POST",
        f"components/{COMPONENT}/authorize",
        json={
            "authorizer_appid": appid,
            "func_ids": list(func_ids),
            "pre_auth_code": code["pre_auth_code"],
        },
    )
    return post(
        sandbox,
        "api_query_auth",
        {"component_appid": COMPONENT, "authorization_code": granted["auth_code"]},
        token,
    )["authorization_info"]


# --- an existing SDK, unchanged but for its host ----------------------------------
def test_wechatpy_component_drives_the_authorization(
    sandbox, component, provider_server
):
    from wechatpy.component import WeChatComponent

    wx = WeChatComponent(COMPONENT, COMPONENT_SECRET, TOKEN, KEY)
    wx._http = WeChatHostSession(sandbox.base_url)

    def parse(push):
        query = {k: v[0] for k, v in push["query"].items()}
        return wx.parse_message(
            push["body"], query["msg_signature"], query["timestamp"], query["nonce"]
        )

    # The ticket arrives encrypted with the component's keys; wechatpy keeps it.
    sandbox.control("POST", f"components/{COMPONENT}/push-ticket")
    ticket_msg = parse(wait_for(provider_server.received, 1)[0])
    assert ticket_msg.type == "component_verify_ticket"
    assert ticket_msg.appid == COMPONENT
    assert wx.component_verify_ticket.startswith("ticket@@@")

    token = wx.fetch_access_token()
    assert token["expires_in"] == 7200
    pre = wx.create_preauthcode()
    assert pre["expires_in"] == 600 and pre["pre_auth_code"]
    url = wx.get_pre_auth_url("https://provider.example/back")
    assert f"component_appid={COMPONENT}" in url

    granted = sandbox.control(
        "POST",
        f"components/{COMPONENT}/authorize",
        json={
            "authorizer_appid": MERCHANT,
            "func_ids": [1, 8, 13],
            "pre_auth_code": pre["pre_auth_code"],
        },
    )
    assert granted["expires_in"] == 600
    # The authorized push: wechatpy queries the authorization itself.
    authorized = parse(wait_for(provider_server.received, 2)[1])
    assert authorized.type == "authorized"
    assert authorized.authorizer_appid == MERCHANT
    assert authorized.authorization_code == granted["auth_code"]
    info = authorized.query_auth_result["authorization_info"]
    assert info["authorizer_appid"] == MERCHANT and info["expires_in"] == 7200
    assert [f["funcscope_category"]["id"] for f in info["func_info"]] == [1, 8, 13]
    refresh = info["authorizer_refresh_token"]

    renewed = wx.refresh_authorizer_token(MERCHANT, refresh)
    assert renewed["authorizer_refresh_token"] == refresh
    assert renewed["authorizer_access_token"] != info["authorizer_access_token"]

    about = wx.get_authorizer_info(MERCHANT)
    assert about["authorizer_info"]["nick_name"] == "Dumpling House"
    assert about["authorizer_info"]["user_name"] == f"gh_{MERCHANT[-12:]}"
    assert about["authorizer_info"]["business_info"]["open_card"] == 1
    assert about["authorization_info"]["authorizer_appid"] == MERCHANT

    listed = wx.get_authorizer_list()
    assert listed["total_count"] == 1
    assert listed["list"][0]["authorizer_appid"] == MERCHANT
    assert listed["list"][0]["refresh_token"] == refresh

    # A card created with the authorizer token belongs to that merchant.
    client = wx.get_client_by_appid(MERCHANT)
    client._http = WeChatHostSession(sandbox.base_url)

    def upload(color: str) -> str:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), color).save(buffer, format="JPEG")
        buffer.seek(0)
        buffer.name = f"{color}.jpg"
        return client.media.upload_image(buffer)

    card_id = client.card.create(
        {"card": cash_card([upload(c) for c in ("red", "green", "blue")])}
    )
    mine = sandbox.control("GET", "cards", params={"appid": MERCHANT})["cards"]
    assert [c["card_id"] for c in mine] == [card_id]
    assert sandbox.control("GET", "cards", params={"appid": OTHER})["cards"] == []


# --- tokens and tickets ----------------------------------------------------------------
def test_component_token_needs_the_secret_and_a_live_ticket(sandbox, component):
    def ask(**changes):
        body = {
            "component_appid": COMPONENT,
            "component_appsecret": COMPONENT_SECRET,
            "component_verify_ticket": "",
            **changes,
        }
        return post(sandbox, "api_component_token", body)

    assert ask()["errcode"] == 61006  # no ticket yet
    ticket = sandbox.control("POST", f"components/{COMPONENT}/push-ticket")[
        "component_verify_ticket"
    ]
    assert ask(component_verify_ticket="ticket@@@forged")["errcode"] == 61006
    assert ask(component_verify_ticket=ticket, component_appsecret="x")["errcode"] == (
        40125
    )
    assert ask(component_verify_ticket=ticket, component_appid="wxnobody")[
        "errcode"
    ] == (61011)
    assert "component_access_token" in ask(component_verify_ticket=ticket)
    sandbox.advance(12 * 3600 + 1)  # SPEC §8: a ticket is valid 12 hours
    assert ask(component_verify_ticket=ticket)["errcode"] == 61005
    fresh = sandbox.control("POST", f"components/{COMPONENT}/push-ticket")[
        "component_verify_ticket"
    ]
    assert "component_access_token" in ask(component_verify_ticket=fresh)


def test_component_apis_need_a_component_token(sandbox, component):
    body = {"component_appid": COMPONENT}
    assert post(sandbox, "api_create_preauthcode", body)["errcode"] == 41001
    assert post(sandbox, "api_create_preauthcode", body, "nope")["errcode"] == 40001
    token = component_token(sandbox)
    other = {"component_appid": "wx00000000c0a00002"}
    assert post(sandbox, "api_create_preauthcode", other, token)["errcode"] == 61011
    sandbox.advance(7201)
    assert post(sandbox, "api_create_preauthcode", body, token)["errcode"] == 42001


def test_tickets_come_every_ten_minutes_of_sandbox_time(sandbox, provider_server):
    sandbox.control(
        "POST",
        "components",
        json={
            "component_appid": COMPONENT,
            "component_appsecret": COMPONENT_SECRET,
            "token": TOKEN,
            "encoding_aes_key": KEY,
            "callback_url": provider_server.url,
        },
    )

    def tick():  # the ticker runs before every API call
        requests.get(sandbox.base_url + "cgi-bin/token", timeout=5)

    tick()
    first = decrypt(wait_for(provider_server.received, 1)[0])
    assert first["InfoType"] == "component_verify_ticket"
    assert first["AppId"] == COMPONENT and first["ComponentVerifyTicket"]
    tick()
    time.sleep(0.3)
    assert len(provider_server.received) == 1  # not due yet
    sandbox.advance(600)
    tick()
    second = decrypt(wait_for(provider_server.received, 2)[1])
    assert second["ComponentVerifyTicket"] != first["ComponentVerifyTicket"]
    state = sandbox.control("GET", f"components/{COMPONENT}")
    assert state["component_verify_ticket"] == second["ComponentVerifyTicket"]


# --- the authorization page -----------------------------------------------------------
def test_the_authorization_page_grants_and_redirects(
    sandbox, component, provider_server
):
    token = component_token(sandbox)
    code = post(
        sandbox, "api_create_preauthcode", {"component_appid": COMPONENT}, token
    )
    page_url = sandbox.base_url + "mp/cgi-bin/componentloginpage"
    params = {
        "component_appid": COMPONENT,
        "pre_auth_code": code["pre_auth_code"],
        "redirect_uri": "https://provider.example/onboarding/callback/?x=1",
        "auth_type": "1",
    }
    session = requests.Session()
    page = session.get(page_url, params=params, timeout=10)
    assert page.status_code == 200
    assert "Tea Provider" in page.text and "Dumpling House" in page.text
    # ids 8 and 13 are ticked by default
    assert 'value="8" checked' in page.text and 'value="13" checked' in page.text
    # The form ends at the provider's origin: a browser follows that redirect only
    # if the page's form-action allows it (the portal is another origin in make run).
    policy = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://provider.example;" in policy
    assert "script-src 'self';" in policy
    # A redirect_uri that could rewrite the page's policy is refused.
    forged = session.get(
        page_url,
        params={**params, "redirect_uri": "https://a.example;script-src *@b/"},
        timeout=10,
    )
    assert forged.status_code == 400 and "address" in forged.text
    assert "script-src *" not in forged.headers.get("Content-Security-Policy", "")
    csrf = session.cookies["csrftoken"]
    answer = session.post(
        page_url,
        data={**params, "authorizer_appid": MERCHANT, "func_id": ["8", "13"]},
        headers={"X-CSRFToken": csrf, "Referer": page_url},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    back = urlparse(answer.headers["Location"])
    assert back.netloc == "provider.example"
    query = parse_qs(back.query)
    assert query["x"] == ["1"] and query["expires_in"] == ["600"]
    pushed = decrypt(wait_for(provider_server.received, 2)[-1])
    assert pushed["InfoType"] == "authorized"
    assert pushed["AuthorizerAppid"] == MERCHANT
    assert pushed["AuthorizationCode"] == query["auth_code"][0]
    assert pushed["PreAuthCode"] == code["pre_auth_code"]
    # The pre-auth code opened the page once.
    again = session.get(page_url, params=params, timeout=10)
    assert again.status_code == 400 and "used" in again.text


def test_the_page_refuses_unknown_and_expired_codes(sandbox, component):
    token = component_token(sandbox)
    code = post(
        sandbox, "api_create_preauthcode", {"component_appid": COMPONENT}, token
    )
    page_url = sandbox.base_url + "mp/cgi-bin/componentloginpage"
    base = {"component_appid": COMPONENT, "redirect_uri": "https://p.example/"}
    assert (
        requests.get(
            page_url, params={**base, "pre_auth_code": "x"}, timeout=5
        ).status_code
        == 400
    )
    assert (
        requests.get(
            page_url,
            params={**base, "component_appid": "wxnobody", "pre_auth_code": "x"},
            timeout=5,
        ).status_code
        == 400
    )
    sandbox.advance(601)  # SPEC §8 decision: a pre-auth code lives 600 s
    expired = requests.get(
        page_url, params={**base, "pre_auth_code": code["pre_auth_code"]}, timeout=5
    )
    assert expired.status_code == 400 and "expired" in expired.text


# --- refresh tokens, revocation, scopes ---------------------------------------------------
def test_a_new_authorization_voids_the_old_refresh_token(sandbox, component):
    token = component_token(sandbox)
    first = authorize(sandbox, token)
    second = authorize(sandbox, token)
    assert second["authorizer_refresh_token"] != first["authorizer_refresh_token"]

    def refresh(value):
        return post(
            sandbox,
            "api_authorizer_token",
            {
                "component_appid": COMPONENT,
                "authorizer_appid": MERCHANT,
                "authorizer_refresh_token": value,
            },
            token,
        )

    assert refresh(first["authorizer_refresh_token"])["errcode"] == 61023
    assert "authorizer_access_token" in refresh(second["authorizer_refresh_token"])
    assert refresh("")["errcode"] == 61023


def test_rotated_refresh_tokens_replace_the_old_one_once_used(
    sandbox, component, provider_server
):
    sandbox.control(
        "POST",
        "components",
        json={
            "component_appid": COMPONENT,
            "component_appsecret": COMPONENT_SECRET,
            "token": TOKEN,
            "encoding_aes_key": KEY,
            "callback_url": provider_server.url,
            "ticket_interval_seconds": 0,
            "rotate_refresh_tokens": True,
        },
    )
    token = component_token(sandbox)
    old = authorize(sandbox, token)["authorizer_refresh_token"]
    body = {"component_appid": COMPONENT, "authorizer_appid": MERCHANT}
    new = post(
        sandbox,
        "api_authorizer_token",
        {**body, "authorizer_refresh_token": old},
        token,
    )["authorizer_refresh_token"]
    assert new != old
    # The answer may have been lost: the old one still works until the new is used.
    again = post(
        sandbox,
        "api_authorizer_token",
        {**body, "authorizer_refresh_token": old},
        token,
    )
    assert again["authorizer_refresh_token"] == new
    newer = post(
        sandbox,
        "api_authorizer_token",
        {**body, "authorizer_refresh_token": new},
        token,
    )["authorizer_refresh_token"]
    assert newer not in (old, new)
    stale = post(
        sandbox,
        "api_authorizer_token",
        {**body, "authorizer_refresh_token": old},
        token,
    )
    assert stale["errcode"] == 61023


def test_revoking_stops_the_tokens_and_pushes_unauthorized(
    sandbox, component, provider_server
):
    token = component_token(sandbox)
    info = authorize(sandbox, token)
    access = info["authorizer_access_token"]
    assert (
        requests.post(
            sandbox.base_url + "card/batchget",
            params={"access_token": access},
            json={"offset": 0, "count": 10},
            timeout=5,
        ).json()["errcode"]
        == 0
    )
    revoked = sandbox.control(
        "POST", f"components/{COMPONENT}/revoke", json={"authorizer_appid": MERCHANT}
    )
    assert revoked["status"] == "revoked" and revoked["push"]["status"] == "delivered"
    pushed = decrypt(provider_server.received[-1])
    assert pushed["InfoType"] == "unauthorized"
    assert pushed["AuthorizerAppid"] == MERCHANT
    assert (
        requests.post(
            sandbox.base_url + "card/batchget",
            params={"access_token": access},
            json={"offset": 0, "count": 10},
            timeout=5,
        ).json()["errcode"]
        == 40001
    )
    assert (
        post(
            sandbox,
            "api_authorizer_token",
            {
                "component_appid": COMPONENT,
                "authorizer_appid": MERCHANT,
                "authorizer_refresh_token": info["authorizer_refresh_token"],
            },
            token,
        )["errcode"]
        == 61023
    )
    listed = post(
        sandbox,
        "api_get_authorizer_list",
        {"component_appid": COMPONENT, "offset": 0, "count": 500},
        token,
    )
    assert listed["total_count"] == 0
    never = requests.post(
        sandbox.base_url + f"control/components/{COMPONENT}/revoke",
        json={"authorizer_appid": OTHER},
        timeout=5,
    )
    assert never.status_code == 404


def test_an_authorizer_token_works_only_on_its_account_and_granted_scopes(
    sandbox, component
):
    token = component_token(sandbox)
    cards_only = authorize(sandbox, token, func_ids=(8, 13))["authorizer_access_token"]
    own = requests.post(
        sandbox.base_url + "card/batchget",
        params={"access_token": cards_only},
        json={"offset": 0, "count": 10},
        timeout=5,
    ).json()
    assert own["errcode"] == 0
    # The token is the account's: another account's card is unknown to it.
    other = sandbox.client(OTHER, SECRET)
    images = [other.media.upload_image(_jpeg(c)).url for c in ("red", "green", "blue")]
    foreign = other.card.create(cash_card(images))
    unknown = requests.post(
        sandbox.base_url + "card/get",
        params={"access_token": cards_only},
        json={"card_id": foreign},
        timeout=5,
    ).json()
    assert unknown["errcode"] == 40073
    stores_only = authorize(sandbox, token, appid=OTHER, func_ids=(13,))[
        "authorizer_access_token"
    ]
    refused = requests.post(
        sandbox.base_url + "card/batchget",
        params={"access_token": stores_only},
        json={"offset": 0, "count": 10},
        timeout=5,
    ).json()
    assert refused["errcode"] == 48001
    # The account's own token (cgi-bin/token) is another source: unaffected.
    own_token = requests.get(
        sandbox.base_url + "cgi-bin/token",
        params={"grant_type": "client_credential", "appid": OTHER, "secret": SECRET},
        timeout=5,
    ).json()["access_token"]
    assert (
        requests.post(
            sandbox.base_url + "card/batchget",
            params={"access_token": own_token},
            json={"offset": 0, "count": 10},
            timeout=5,
        ).json()["errcode"]
        == 0
    )
    assert (
        requests.post(
            sandbox.base_url + "card/batchget",
            params={"access_token": cards_only},
            json={"offset": 0, "count": 10},
            timeout=5,
        ).json()["errcode"]
        == 0
    )


def test_an_authorizers_events_go_to_the_components_events_url(
    sandbox, component, provider_server
):
    token = component_token(sandbox)
    authorize(sandbox, token)
    before = len(provider_server.received)
    sandbox.control(
        "POST",
        "events",
        json={
            "appid": MERCHANT,
            "event": "card_pass_check",
            "fields": {"CardId": "p1"},
        },
    )
    push = wait_for(provider_server.received, before + 1)[-1]
    # Callback's URL ends in /wechat/events/: the events URL appends events/$APPID$/.
    query = {k: v[0] for k, v in push["query"].items()}
    xml = MessageCrypto(TOKEN, KEY, COMPONENT).decrypt_message(
        push["body"],
        msg_signature=query["msg_signature"],
        timestamp=query["timestamp"],
        nonce=query["nonce"],
    )
    fields = xmlutil.parse(xml)
    assert fields["Event"] == "card_pass_check" and fields["CardId"] == "p1"
    assert fields["ToUserName"] == f"gh_{MERCHANT[-12:]}"


def test_authorizer_list_pages_and_limits(sandbox, component):
    token = component_token(sandbox)
    authorize(sandbox, token, appid=MERCHANT)
    authorize(sandbox, token, appid=OTHER)
    body = {"component_appid": COMPONENT}
    first = post(
        sandbox, "api_get_authorizer_list", {**body, "offset": 0, "count": 1}, token
    )
    second = post(
        sandbox, "api_get_authorizer_list", {**body, "offset": 1, "count": 1}, token
    )
    assert first["total_count"] == 2
    assert {
        first["list"][0]["authorizer_appid"],
        second["list"][0]["authorizer_appid"],
    } == {
        MERCHANT,
        OTHER,
    }
    too_many = post(
        sandbox, "api_get_authorizer_list", {**body, "offset": 0, "count": 501}, token
    )
    assert too_many["errcode"] == 40097


def test_control_api_answers_404_for_unknown_components(sandbox):
    response = requests.get(sandbox.base_url + "control/components/wxnobody", timeout=5)
    assert response.status_code == 404
    response = requests.post(
        sandbox.base_url + "control/components/wxnobody/push-ticket", json={}, timeout=5
    )
    assert response.status_code == 404


def test_console_lists_components_and_revokes(sandbox, component, client):
    token = component_token(sandbox)
    authorize(sandbox, token)
    page = client.get("/sandbox/console/").content.decode()
    assert "Tea Provider" in page and MERCHANT in page
    client.post(
        f"/sandbox/console/components/{COMPONENT}/revoke",
        {"authorizer_appid": MERCHANT},
    )
    state = sandbox.control("GET", f"components/{COMPONENT}")
    assert state["authorizations"][0]["status"] == "revoked"
