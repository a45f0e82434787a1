"""Third-party providers end to end (SPEC §8), the portal against the live sandbox:
the component endpoint, tokens through the component, onboarding, and the faults
a provider meets (no ticket, an old ticket, a refused refresh token, a revocation)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

import wechat
from conftest import clear_test_cache
from portal.models import ComponentEvent, Merchant, ProviderEvent, WeChatEvent
from portal.tests.provider_helpers import (
    DUMPLING,
    encrypted_push,
    onboard,
    push_ticket,
    sub_merchant,
    ticket_xml,
)
from wechat import errors as wx

A = Merchant.Authorization


def _component_url(provider) -> str:
    return reverse("wechat_component", args=[provider.component_appid])


def _post(client, url: str, body: bytes, query: dict):
    return client.post(f"{url}?{urlencode(query)}", data=body, content_type="text/xml")


# --- the component endpoint ----------------------------------------------------------------
def test_the_ticket_is_kept_latest_wins_and_never_stored_in_clear(sandbox, provider):
    assert provider.verify_ticket == "" and provider.ticket_received_at is None
    ticket = push_ticket(sandbox, provider)
    assert provider.verify_ticket == ticket
    event = ComponentEvent.objects.get(provider=provider)
    assert event.info_type == "component_verify_ticket" and event.status == "handled"
    assert ticket not in event.raw and ticket not in str(event.payload)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT verify_ticket FROM portal_provider WHERE id = %s", [provider.pk]
        )
        assert ticket not in cursor.fetchone()[0]  # encrypted at rest
    assert ProviderEvent.objects.filter(kind="ticket_first").count() == 1

    # A late retry of an older push never replaces the newer ticket.
    client = Client()
    older = ticket_xml(
        provider.component_appid, "ticket@@@older", provider.ticket_create_time - 60
    )
    body, query = encrypted_push(
        older,
        token=provider.component_token,
        key=provider.component_encoding_aes_key,
        appid=provider.component_appid,
    )
    assert _post(client, _component_url(provider), body, query).status_code == 200
    provider.refresh_from_db()
    assert provider.verify_ticket == ticket
    # WeChat's retry of the same push is stored once.
    assert _post(client, _component_url(provider), body, query).status_code == 200
    assert ComponentEvent.objects.filter(provider=provider).count() == 2


def test_forged_wrongly_keyed_and_unknown_component_pushes(sandbox, provider):
    client = Client()
    url = _component_url(provider)
    xml = ticket_xml(provider.component_appid, "ticket@@@forged", int(time.time()))
    other_key = "Z" * 43
    body, query = encrypted_push(
        xml,
        token=provider.component_token,
        key=other_key,
        appid=provider.component_appid,
    )
    assert _post(client, url, body, query).status_code == 403  # wrong key
    body, query = encrypted_push(
        xml,
        token="not-the-token",
        key=provider.component_encoding_aes_key,
        appid=provider.component_appid,
    )
    assert _post(client, url, body, query).status_code == 403  # forged signature
    body, query = encrypted_push(
        xml,
        token=provider.component_token,
        key=provider.component_encoding_aes_key,
        appid="wx0000000000ffff01",
    )
    assert _post(client, url, body, query).status_code == 403  # another trailer
    plain = {"timestamp": query["timestamp"], "nonce": query["nonce"]}
    assert _post(client, url, xml.encode(), plain).status_code == 403  # never plain
    body, query = encrypted_push(
        xml,
        token=provider.component_token,
        key=provider.component_encoding_aes_key,
        appid=provider.component_appid,
        timestamp=int(time.time()) - 3600,
    )
    assert _post(client, url, body, query).status_code == 403  # outside the window
    unknown = reverse("wechat_component", args=["wx0000000000ffff02"])
    assert _post(client, unknown, body, query).status_code == 404
    provider.refresh_from_db()
    assert provider.verify_ticket == ""
    assert not ComponentEvent.objects.exists()


# --- onboarding ----------------------------------------------------------------------------
def test_onboarding_creates_the_sub_merchant_from_wechats_answers(
    sandbox, provider, login
):
    push_ticket(sandbox, provider)
    client = login("demo_provider")
    response = onboard(client, sandbox, DUMPLING)
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:index"
    )
    merchant = Merchant.objects.get(appid=DUMPLING)
    assert merchant.name == "Dumpling House"  # api_get_authorizer_info's nick_name
    assert merchant.provider == provider and merchant.via_component
    assert merchant.authorization == A.ACTIVE and merchant.func_ids == [8, 13]
    assert merchant.appsecret == ""  # a provider never holds the merchant's secret
    assert merchant.authorizer_info["user_name"] == f"gh_{DUMPLING[-12:]}"
    listed = wechat.for_provider(provider).component.get_authorizer_list()
    stored = {i.authorizer_appid: i.refresh_token for i in listed.items}
    assert merchant.authorizer_refresh_token == stored[DUMPLING]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT authorizer_refresh_token FROM portal_merchant WHERE id = %s",
            [merchant.pk],
        )
        assert stored[DUMPLING] not in cursor.fetchone()[0]  # encrypted at rest
    # The provider's staff act for it at once: its dashboard, its API.
    dashboard = client.get(reverse("admin:index"))
    assert dashboard.context["current_merchant"] == merchant
    assert "Dumpling House" in dashboard.content.decode()
    # The token came with the authorization: the first call needs no refresh.
    page = wechat.for_merchant(merchant).card.batchget(offset=0, count=10)
    assert page.card_ids == []
    assert sandbox.calls("cgi-bin/component/api_authorizer_token", DUMPLING) == 0
    assert ProviderEvent.objects.filter(merchant=merchant, kind="onboarded").exists()
    # WeChat's authorized push (the same authorization) links the same merchant.
    from portal.providers.receiver import component_event_process

    pushed = ComponentEvent.objects.get(provider=provider, info_type="authorized")
    assert component_event_process(pushed.pk) == "handled"
    assert Merchant.objects.filter(appid=DUMPLING).count() == 1
    kinds = ProviderEvent.objects.filter(merchant=merchant).values_list(
        "kind", flat=True
    )
    assert list(kinds) == ["onboarded"]  # told twice, changed once
    merchant.refresh_from_db()
    assert merchant.authorizer_refresh_token == stored[DUMPLING]


def test_without_cards_and_stores_the_merchant_has_insufficient_permissions(
    sandbox, provider, login
):
    push_ticket(sandbox, provider)
    client = login("demo_provider")
    response = onboard(client, sandbox, DUMPLING, func_ids=(1, 2))
    assert response.status_code == 302
    merchant = Merchant.objects.get(appid=DUMPLING)
    assert merchant.authorization == A.INSUFFICIENT
    page = client.get(reverse("admin:index")).content.decode()
    assert "卡券" in page and "id 8" in page and "id 13" in page
    before = sandbox.calls("card/batchget", DUMPLING)
    with pytest.raises(wx.PermissionsMissing) as refused:
        wechat.for_merchant(merchant).card.batchget(offset=0, count=10)
    assert "id 8" in refused.value.message
    assert sandbox.calls("card/batchget", DUMPLING) == before  # nothing was sent
    # Authorizing again with both ticked makes it active.
    onboard(client, sandbox, DUMPLING, func_ids=(8, 13))
    merchant.refresh_from_db()
    assert merchant.authorization == A.ACTIVE
    assert wechat.for_merchant(merchant).card.batchget(offset=0, count=10).total == 0


def test_onboarding_refuses_an_account_served_otherwise(sandbox, provider, login):
    push_ticket(sandbox, provider)
    client = login("demo_provider")
    bistro = Merchant.objects.get(name="Demo Bistro")  # its own AppSecret
    response = onboard(client, sandbox, bistro.appid)
    assert response.status_code == 302
    assert response["Location"] == reverse("provider:console")
    bistro.refresh_from_db()
    assert bistro.provider is None and not bistro.via_component
    messages = [
        str(m) for m in client.get(reverse("provider:console")).context["messages"]
    ]
    assert any("AppSecret" in m for m in messages)
    assert ProviderEvent.objects.filter(kind="refused").exists()


def test_a_callback_not_started_here_is_refused(sandbox, provider, login):
    client = login("demo_provider")
    response = client.get(reverse("provider:onboarding_callback") + "?auth_code=x")
    assert response.status_code == 302
    assert response["Location"] == reverse("provider:console")
    assert not Merchant.objects.filter(appid=DUMPLING).exists()


# --- faults -------------------------------------------------------------------------------
def test_no_ticket_yet_the_console_explains(sandbox, provider, login):
    client = login("demo_provider")
    response = client.get(reverse("provider:onboarding_start"))
    assert response.status_code == 302
    assert response["Location"] == reverse("provider:console")
    console = client.get(reverse("provider:console"))
    html = console.content.decode()
    assert console.status_code == 200
    assert "component_verify_ticket" in html  # the words of the waiting state
    assert 'data-provider-alert="waiting_for_ticket"' in html
    # A sub-merchant's calls say the same, and send nothing.
    tea = sub_merchant("Tea House")
    with pytest.raises(wx.ComponentTicketMissing):
        wechat.for_merchant(tea).card.batchget(offset=0, count=10)
    assert sandbox.calls("cgi-bin/component/api_component_token") == 0


def test_an_expired_ticket_is_a_provider_alert_not_a_crash(sandbox, provider, login):
    push_ticket(sandbox, provider)
    sandbox.advance(12 * 3600 + 60)  # the ticket WeChat gave is now 12 h old
    clear_test_cache()
    client = login("demo_provider")
    response = client.get(reverse("provider:onboarding_start"))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.problem_errcode == 61005
    html = client.get(reverse("provider:console")).content.decode()
    assert 'data-provider-alert="61005"' in html
    assert escape(str(wx.MESSAGES[61005])) in html
    assert ProviderEvent.objects.filter(kind="problem").count() == 1
    # The next ticket clears the alert once a component token is had again.
    push_ticket(sandbox, provider)
    wechat.for_provider(provider).component.create_preauthcode()
    provider.refresh_from_db()
    assert provider.problem_errcode is None
    assert ProviderEvent.objects.filter(kind="problem_cleared").count() == 1


def test_a_refused_refresh_token_means_authorize_again(sandbox, provider, login):
    push_ticket(sandbox, provider)
    tea = sub_merchant("Tea House")
    Merchant.objects.filter(pk=tea.pk).update(
        authorizer_refresh_token="refreshtoken@@@lost"
    )
    with pytest.raises(wx.ReauthorizationNeeded) as refused:
        wechat.for_merchant(tea).card.batchget(offset=0, count=10)
    assert refused.value.message == str(wx.MESSAGES[61023])
    tea.refresh_from_db()
    assert tea.authorization == A.REAUTHORIZE
    calls = sandbox.calls("cgi-bin/component/api_authorizer_token", tea.appid)
    assert calls == 1
    with pytest.raises(wx.ReauthorizationNeeded):
        wechat.for_merchant(tea).card.batchget(offset=0, count=10)
    assert sandbox.calls("cgi-bin/component/api_authorizer_token", tea.appid) == calls
    html = login("demo_provider").get(reverse("provider:console")).content.decode()
    assert 'data-state="reauthorize"' in html
    assert ProviderEvent.objects.filter(merchant=tea, kind="reauthorize").exists()


def test_a_refresh_token_wechat_replaces_is_persisted(sandbox, provider):
    push_ticket(sandbox, provider)
    state = sandbox.control("GET", f"components/{provider.component_appid}")
    sandbox.control(
        "POST",
        "components",
        json={
            "component_appid": state["component_appid"],
            "component_appsecret": state["component_appsecret"],
            "token": state["token"],
            "encoding_aes_key": state["encoding_aes_key"],
            "callback_url": state["callback_url"],
            "rotate_refresh_tokens": True,
        },
    )
    tea = sub_merchant("Tea House")
    before = tea.authorizer_refresh_token
    for _ in range(3):
        clear_test_cache()  # the token expired: refresh through the component
        assert wechat.for_merchant(tea).card.batchget(offset=0, count=10).total == 0
        tea.refresh_from_db()
        assert tea.authorizer_refresh_token != before
        before = tea.authorizer_refresh_token
    listed = wechat.for_provider(provider).component.get_authorizer_list()
    held = {i.authorizer_appid: i.refresh_token for i in listed.items}
    assert tea.authorizer_refresh_token == held[tea.appid]
    assert tea.authorization == A.ACTIVE
    assert ProviderEvent.objects.filter(merchant=tea, kind="refresh_token").count() == 3


def test_unauthorized_marks_the_merchant_revoked_and_stops_its_calls(
    sandbox, provider, login
):
    push_ticket(sandbox, provider)
    noodle = sub_merchant("Noodle Bar")
    assert wechat.for_merchant(noodle).card.batchget(offset=0, count=10).total == 0
    answer = sandbox.control(
        "POST",
        f"components/{provider.component_appid}/revoke",
        json={"authorizer_appid": noodle.appid},
    )
    assert answer["push"]["status"] == "delivered"
    noodle.refresh_from_db()
    assert noodle.authorization == A.REVOKED
    calls = sandbox.calls("card/batchget", noodle.appid)
    with pytest.raises(wx.AuthorizationRevoked) as refused:
        wechat.for_merchant(noodle).card.batchget(offset=0, count=10)
    assert "revoked" in refused.value.message
    assert sandbox.calls("card/batchget", noodle.appid) == calls
    # The console says so; its data stays visible, read-only.
    client = login("demo_provider")
    html = client.get(reverse("provider:console")).content.decode()
    assert f'data-merchant="{noodle.appid}" data-state="revoked"' in html
    client.post(reverse("provider:merchant_enter", args=[noodle.pk]))
    stores = client.get(reverse("admin:portal_store_changelist"))
    assert stores.status_code == 200
    assert "Noodle Bar · Suzhou" in stores.content.decode()
    assert 'data-merchant-notice="revoked"' in stores.content.decode()
    store = noodle.stores.first()
    change = client.get(reverse("admin:portal_store_change", args=[store.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    refused_post = client.post(
        reverse("admin:portal_store_change", args=[store.pk]),
        {"poi_id": store.poi_id, "name": "Renamed", "address": ""},
    )
    assert refused_post.status_code == 403
    assert "revoked" in refused_post.content.decode()
    store.refresh_from_db()
    assert store.name == "Noodle Bar · Suzhou"
    api = client.post(
        reverse("api:cards_preview"), data="{}", content_type="application/json"
    )
    assert api.status_code == 403 and api.json()["code"] == "merchant_read_only"
    # Authorizing again makes it active again.
    onboard(client, sandbox, noodle.appid)
    noodle.refresh_from_db()
    assert noodle.authorization == A.ACTIVE
    assert wechat.for_merchant(noodle).card.batchget(offset=0, count=10).total == 0


# --- a sub-merchant's own events, through its provider ---------------------------------
def test_sub_merchant_events_arrive_through_the_provider(sandbox, provider):
    tea = sub_merchant("Tea House")
    pushed = sandbox.control(
        "POST",
        "events",
        json={
            "appid": tea.appid,
            "event": "card_pass_check",
            "fields": {"CardId": "pcard1"},
        },
    )
    assert pushed["status"] == "delivered", pushed
    event = WeChatEvent.objects.get(merchant=tea)
    assert event.event == "card_pass_check" and event.encrypted
    assert event.payload["CardId"] == "pcard1"

    client = Client()
    noodle = sub_merchant("Noodle Bar")
    url = reverse(
        "wechat_component_events", args=[provider.component_appid, noodle.appid]
    )
    xml = (
        f"<xml><ToUserName><![CDATA[gh_{tea.appid[-12:]}]]></ToUserName>"
        "<FromUserName><![CDATA[o_x]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[card_pass_check]]></Event><CardId><![CDATA[p2]]></CardId></xml>"
    )
    keys = {
        "token": provider.component_token,
        "key": provider.component_encoding_aes_key,
        "appid": provider.component_appid,
    }
    body, query = encrypted_push(xml, **keys)
    # Tea House's event, replayed to Noodle Bar's address: refused.
    assert _post(client, url, body, query).status_code == 403
    body, query = encrypted_push(xml, **{**keys, "key": "Y" * 43})
    tea_url = reverse(
        "wechat_component_events", args=[provider.component_appid, tea.appid]
    )
    assert _post(client, tea_url, body, query).status_code == 403  # wrong key
    missing = reverse(
        "wechat_component_events", args=[provider.component_appid, "wx0000000000ffff03"]
    )
    assert _post(client, missing, body, query).status_code == 404
    assert WeChatEvent.objects.filter(merchant=noodle).count() == 0
    # The URL check answers with the provider's token.
    from wechat.signatures import server_signature

    ok = client.get(
        tea_url,
        {
            "timestamp": "1",
            "nonce": "n",
            "echostr": "hello",
            "signature": server_signature(provider.component_token, "1", "n"),
        },
    )
    assert ok.status_code == 200 and ok.content == b"hello"


def test_provider_settings_are_write_only(sandbox, provider, login):
    client = login("demo_provider")
    url = reverse("provider:settings")
    page = client.get(url).content.decode()
    for secret in (
        provider.component_appsecret,
        provider.component_token,
        provider.component_encoding_aes_key,
    ):
        assert secret not in page
    assert f"/wechat/component/{provider.component_appid}/" in page
    assert (
        client.post(url, {"component_appid": provider.component_appid}).status_code
        == 302
    )
    provider.refresh_from_db()
    assert provider.component_appsecret  # blank keeps it
    bad = client.post(
        url,
        {
            "component_appid": provider.component_appid,
            "component_encoding_aes_key": "x",
        },
    )
    assert bad.status_code == 200 and bad.context["form"].errors
    client.post(
        url,
        {"component_appid": provider.component_appid, "component_appsecret": "n" * 32},
    )
    provider.refresh_from_db()
    assert provider.component_appsecret == "n" * 32
    event = ProviderEvent.objects.filter(kind="settings").latest("at")
    assert "n" * 32 not in event.message and "component_appsecret" in event.message


def test_an_expired_authorizer_token_is_refreshed_once_through_the_component(
    sandbox, provider
):
    push_ticket(sandbox, provider)
    tea = sub_merchant("Tea House")
    client = wechat.for_merchant(tea)
    assert client.card.batchget(offset=0, count=10).total == 0
    refreshes = sandbox.calls("cgi-bin/component/api_authorizer_token", tea.appid)
    # WeChat says the token expired (42001): dropped, refreshed once, retried once.
    sandbox.fault("token_expired", appid=tea.appid, remaining=1)
    assert wechat.for_merchant(tea).card.batchget(offset=0, count=10).total == 0
    assert sandbox.calls("cgi-bin/component/api_authorizer_token", tea.appid) == (
        refreshes + 1
    )
    assert sandbox.calls("cgi-bin/token", tea.appid) == 0  # never its own secret
