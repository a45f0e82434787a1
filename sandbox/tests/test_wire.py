"""The sandbox speaks WeChat's wire format: raw HTTP, and an existing SDK (wechatpy)."""

from __future__ import annotations

import io

import pytest
import requests

from sandbox.tests.helpers import WeChatHostSession

APPID = "wx000000005a0d0001"
SECRET = "sandbox-wire-secret-0123456789ab"


@pytest.fixture
def wire(sandbox):
    sandbox.account(APPID, SECRET)
    return sandbox


def _token(wire) -> dict:
    return requests.get(
        wire.base_url + "cgi-bin/token",
        params={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
        timeout=5,
    ).json()


def test_token_answer_has_wechats_shape(wire):
    data = _token(wire)
    assert set(data) == {"access_token", "expires_in"}
    assert data["expires_in"] == 7200


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        (
            {"grant_type": "client_credential", "appid": "wxnobody", "secret": "x"},
            40013,
        ),
        ({"grant_type": "client_credential", "appid": APPID, "secret": "wrong"}, 40125),
        ({"grant_type": "password", "appid": APPID, "secret": SECRET}, 40002),
    ],
)
def test_token_errors(wire, params, errcode):
    data = requests.get(
        wire.base_url + "cgi-bin/token", params=params, timeout=5
    ).json()
    assert data["errcode"] == errcode and data["errmsg"]


def test_access_token_missing_invalid_and_expired(wire):
    url = wire.base_url + "cgi-bin/ticket/getticket"
    assert requests.get(url, params={"type": "jsapi"}).json()["errcode"] == 41001
    assert (
        requests.get(url, params={"type": "jsapi", "access_token": "nope"}).json()[
            "errcode"
        ]
        == 40001
    )
    token = _token(wire)["access_token"]
    ok = requests.get(url, params={"type": "jsapi", "access_token": token}).json()
    assert ok["errcode"] == 0 and ok["errmsg"] == "ok" and ok["expires_in"] == 7200
    wire.advance(7200)
    expired = requests.get(url, params={"type": "jsapi", "access_token": token}).json()
    assert expired["errcode"] == 42001


def test_ticket_type_is_checked(wire):
    token = _token(wire)["access_token"]
    data = requests.get(
        wire.base_url + "cgi-bin/ticket/getticket",
        params={"type": "nonsense", "access_token": token},
    ).json()
    assert data["errcode"] == 40097


def test_uploadimg_accepts_buffer_and_media_fields(wire):
    token = _token(wire)["access_token"]
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    for field in ("buffer", "media"):
        data = requests.post(
            wire.base_url + "cgi-bin/media/uploadimg",
            params={"access_token": token},
            files={field: ("a.jpg", jpeg, "image/jpeg")},
        ).json()
        assert data["url"].endswith(".jpg")
        assert requests.get(data["url"]).content == jpeg
    missing = requests.post(
        wire.base_url + "cgi-bin/media/uploadimg", params={"access_token": token}
    ).json()
    assert missing["errcode"] == 41005


def test_answers_are_utf8_json_with_cjk_unescaped(wire):
    response = requests.get(wire.base_url + "cgi-bin/token", params={"appid": APPID})
    assert response.headers["Content-Type"].startswith("application/json")
    assert "\\u" not in response.text


def test_wechatpy_pointed_at_the_sandbox_works_unchanged(wire):
    from PIL import Image
    from wechatpy import WeChatClient

    client = WeChatClient(APPID, SECRET)
    client._http = WeChatHostSession(wire.base_url)
    assert client.access_token
    ticket = client.jsapi.get_jsapi_ticket()
    assert ticket
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="JPEG")
    buffer.seek(0)
    buffer.name = "logo.jpg"
    url = client.media.upload_image(buffer)
    assert url.startswith(wire.base_url) and requests.get(url).status_code == 200


def test_control_api_accounts_clock_faults_calls_reset(wire):
    listed = wire.control("GET", "accounts")["accounts"]
    mine = next(a for a in listed if a["appid"] == APPID)
    assert set(mine) >= {
        "appid",
        "secret",
        "token",
        "encoding_aes_key",
        "callback_url",
        "encrypted",
    }
    before = wire.control("GET", "clock")["offset_seconds"]
    after = wire.control("POST", "clock", json={"advance_seconds": 90})
    assert after["offset_seconds"] == before + 90
    fault = wire.fault("errcode_-1", appid=APPID, path="cgi-bin/token", remaining=1)
    assert any(f["id"] == fault for f in wire.control("GET", "faults")["faults"])
    assert _token(wire)["errcode"] == -1
    assert "access_token" in _token(wire)  # the fault was used up
    assert wire.calls("cgi-bin/token", APPID) == 2
    wire.fault("http_500", appid=APPID)
    assert wire.control("DELETE", "faults", params={"appid": APPID})["deleted"] == 1
    wire.control("POST", "reset")
    assert wire.control("GET", "clock")["offset_seconds"] == 0
    assert wire.calls("cgi-bin/token", APPID) == 0
    assert any(a["appid"] == APPID for a in wire.control("GET", "accounts")["accounts"])


def test_control_api_rejects_bad_input_with_a_reason(wire):
    bad = requests.post(wire.base_url + "control/clock", json={"advance_seconds": -5})
    assert bad.status_code == 400 and "forward" in bad.json()["error"]
    bad = requests.post(wire.base_url + "control/faults", json={"kind": "meteor"})
    assert bad.status_code == 400
    bad = requests.post(
        wire.base_url + "control/accounts",
        data="{nope",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400


CONTROL_POSTS = ["reset", "clock", "faults", "accounts", "events", "recharges/pay-all"]


def test_control_api_takes_only_json_posts(wire):
    """A web page may POST text/plain or a form to any origin without a preflight:
    the control API answers such a POST 415 and does nothing."""
    before = wire.control("GET", "clock")["offset_seconds"]
    for path in CONTROL_POSTS:
        for headers, body in (
            ({"Content-Type": "text/plain"}, '{"advance_seconds": 3600}'),
            (
                {"Content-Type": "application/x-www-form-urlencoded"},
                "advance_seconds=1",
            ),
            ({}, None),
        ):
            answer = requests.post(
                wire.base_url + "control/" + path, data=body, headers=headers, timeout=5
            )
            assert answer.status_code == 415, (path, headers)
    assert wire.control("GET", "clock")["offset_seconds"] == before
    assert wire.control("POST", "reset") == {"reset": True}  # bodyless, as JSON


def test_control_api_refuses_other_origins(wire, live_server):
    url = wire.base_url + "control/clock"
    evil = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": live_server.url.replace("localhost", "127.0.0.1") + "0"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    for headers in evil:
        for method in ("GET", "POST"):
            answer = requests.request(
                method, url, json={"advance_seconds": 60}, headers=headers, timeout=5
            )
            assert answer.status_code == 403, (method, headers)
    assert wire.control("GET", "clock")["offset_seconds"] == 0
    own = {"Origin": live_server.url, "Sec-Fetch-Site": "same-origin"}
    answer = requests.post(url, json={"advance_seconds": 60}, headers=own, timeout=5)
    assert answer.status_code == 200 and answer.json()["offset_seconds"] == 60


def test_control_api_token_when_the_environment_sets_one(wire, monkeypatch):
    url = wire.base_url + "control/accounts"
    monkeypatch.setenv("SANDBOX_CONTROL_TOKEN", "staging-token-7f3a")
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic x"},
    ):
        answer = requests.get(url, headers=headers, timeout=5)
        assert answer.status_code == 401 and "secret" not in answer.text, headers
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    ok = {"Authorization": "Bearer staging-token-7f3a"}
    assert requests.get(url, headers=ok, timeout=5).status_code == 200
    assert wire.control("GET", "accounts")["accounts"]  # the handle sends it too
    monkeypatch.delenv("SANDBOX_CONTROL_TOKEN")
    assert requests.get(url, timeout=5).status_code == 200


def test_console_forms_keep_working_same_origin_with_csrf(wire, live_server):
    """The console's forms are not the control API: same-origin HTML forms with a
    CSRF token, and they still move sandbox time."""
    session = requests.Session()
    console = session.get(wire.base_url + "console/", timeout=5)
    assert console.status_code == 200
    token = console.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"')[0]
    moved = session.post(
        wire.base_url + "console/clock",
        data={"advance_seconds": "120", "csrfmiddlewaretoken": token},
        headers={"Origin": live_server.url, "Referer": wire.base_url + "console/"},
        timeout=5,
    )
    assert moved.status_code == 200
    assert wire.control("GET", "clock")["offset_seconds"] == 120


def test_console_shows_accounts_and_acts(wire, client):
    page = requests.get(wire.base_url + "console/")
    assert page.status_code == 200 and APPID in page.text
    assert "csrfmiddlewaretoken" in page.text


def test_console_forms_push_an_event_that_arrives_once(live_demo, client):
    from django.contrib.messages import get_messages

    from portal.models import WeChatEvent

    shop = live_demo["Other Shop"]
    response = client.post(
        "/sandbox/console/events",
        {
            "appid": shop.appid,
            "event": "user_get_card",
            "fields": "CardId=pX\nUserCardCode=1",
        },
    )
    assert response.status_code == 302
    assert "delivered" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert WeChatEvent.objects.filter(merchant=shop, event="user_get_card").count() == 1
    client.post("/sandbox/console/clock", {"advance_seconds": "120"})
    client.post(
        "/sandbox/console/faults/add",
        {"kind": "latency", "appid": shop.appid, "latency_ms": "10", "remaining": "1"},
    )
    page = client.get("/sandbox/console/").content.decode()
    assert "120 s ahead" in page or "120" in page
    assert "added latency" in page


def test_the_sandbox_process_answers_404_pages_of_its_own(settings, client):
    settings.ROOT_URLCONF = "sandbox.urls_root"
    settings.DEBUG = False
    response = client.get("/favicon.ico")
    assert response.status_code == 404
    assert "/sandbox/console/" in response.content.decode()
