"""What the portal's own pages say (issue 9): the sign-in warns before the lockout,
the settings page shows the callback URL and tests the connection, staff names do not
leak, WeChat's events read as words, the merchant's time zone rules every page."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import dateformat, translation
from django.utils.formats import get_format

from conftest import clear_test_cache
from portal import services
from portal.models import WeChatEvent


def _sign_in(client: Client, username: str, password: str, **headers):
    return client.post(
        reverse("login"), {"username": username, "password": password}, **headers
    )


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=5, AXES_COOLOFF_TIME=0.25)  # 15 minutes
def test_sign_in_counts_down_to_the_lockout_and_says_for_how_long(demo):
    client = Client()
    pages = [
        _sign_in(client, "demo_staff", "wrong", HTTP_ACCEPT_LANGUAGE="en")
        for _ in range(4)
    ]
    texts = [p.content.decode() for p in pages]
    assert "4 tries left before the account is locked for 15 minutes" in texts[0]
    assert "2 tries left before the account is locked for 15 minutes" in texts[2]
    assert "1 try left before the account is locked for 15 minutes" in texts[3]
    locked = _sign_in(client, "demo_staff", "wrong", HTTP_ACCEPT_LANGUAGE="en")
    assert locked.status_code == 429
    assert "locked for 15 minutes" in locked.content.decode()
    zh = _sign_in(Client(), "demo_owner", "wrong", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "再输错 4 次，账号将被锁定 15 分钟" in zh.content.decode()


@pytest.mark.django_db
def test_a_first_sign_in_shows_no_warning(demo):
    page = Client().get(reverse("login")).content.decode()
    assert "data-lockout-warning" not in page


@pytest.mark.django_db
def test_a_taken_username_is_refused_without_saying_whose(demo, login):
    get_user_model().objects.create_user("someone_elsewhere", password="x" * 12)
    owner = login("demo_owner")
    page = owner.post(
        reverse("admin:portal_membership_add"),
        {
            "username": "someone_elsewhere",
            "password1": "a-long-pass-2026",
            "password2": "a-long-pass-2026",
            "role": "staff",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "This username cannot be used. Choose another one." in text
    assert "already taken" not in text and "exists" not in text


@pytest.mark.django_db
def test_the_settings_page_shows_the_callback_url_to_paste(demo, login):
    bistro = demo["Demo Bistro"]
    page = login("demo_owner").get(
        reverse("admin:portal_merchant_change", args=[bistro.pk])
    )
    assert page.status_code == 200
    url = f"http://testserver/wechat/events/{bistro.appid}/"
    assert f'value="{url}"' in page.content.decode()
    assert "data-test-connection" in page.content.decode()
    # Staff see the page read-only, without the button that calls WeChat.
    staff = login("demo_staff").get(
        reverse("admin:portal_merchant_change", args=[bistro.pk])
    )
    assert "data-test-connection" not in staff.content.decode()


def test_test_connection_fetches_the_token_and_the_ticket(live_demo, login, sandbox):
    bistro = live_demo["Demo Bistro"]
    check = services.merchant_test_connection(merchant=bistro)
    assert check.ok and check.token and check.ticket
    assert sandbox.calls("cgi-bin/ticket/getticket", bistro.appid) == 1

    # A wrong AppSecret (and no token cached yet): WeChat refuses the token, and the
    # page says so in words.
    bistro.appsecret = "w" * 32
    bistro.save()
    clear_test_cache()
    check = services.merchant_test_connection(merchant=bistro)
    assert not check.token and check.errcode is not None
    page = login("demo_owner").post(
        reverse("admin:portal_merchant_test_connection", args=[bistro.pk]),
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    text = page.content.decode()
    assert "The connection failed at the access token" in text
    assert "errmsg" not in text


def test_test_connection_is_refused_to_staff_and_to_a_get(live_demo, login, sandbox):
    bistro = live_demo["Demo Bistro"]
    url = reverse("admin:portal_merchant_test_connection", args=[bistro.pk])
    assert login("demo_staff").post(url).status_code == 403
    login("demo_owner").get(url)
    assert sandbox.calls("cgi-bin/token", bistro.appid) == 0


@pytest.mark.django_db
def test_an_event_reads_as_words_in_the_merchants_time(demo, login):
    bistro = demo["Demo Bistro"]
    moment = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on Dec 2 in Shanghai
    event = WeChatEvent.objects.create(
        merchant=bistro,
        event="card_pass_check",
        msg_type="event",
        create_time=int(moment.timestamp()),
        dedupe_key="k1",
        raw="<xml/>",
        payload={"CardId": "p1"},
    )
    WeChatEvent.objects.filter(pk=event.pk).update(received_at=moment)
    owner = login("demo_owner")
    page = owner.get(
        reverse("admin:portal_wechatevent_change", args=[event.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "Card approved by WeChat" in page
    assert "2026-12-02 00:30:00" in page
    assert str(int(moment.timestamp())) not in page
    listing = owner.get(
        reverse("admin:portal_wechatevent_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "券已通过微信审核" in listing and "2026-12-02 00:30:00" in listing


@pytest.mark.django_db
def test_pages_show_the_merchants_own_time_zone(demo, login):
    bistro = demo["Demo Bistro"]
    assert bistro.time_zone == "Asia/Shanghai"  # settings.TIME_ZONE by default
    owner = login("demo_owner")
    url = reverse("admin:portal_merchant_change", args=[bistro.pk])
    owner.post(url, {"name": bistro.name, "time_zone": "Europe/London"})
    bistro.refresh_from_db()
    assert bistro.time_zone == "Europe/London"
    moment = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)
    event = WeChatEvent.objects.create(
        merchant=bistro,
        event="card_pass_check",
        msg_type="event",
        create_time=0,
        dedupe_key="k2",
        raw="<xml/>",
        payload={},
    )
    WeChatEvent.objects.filter(pk=event.pk).update(received_at=moment)
    page = owner.get(reverse("admin:portal_wechatevent_changelist")).content.decode()
    assert "2026-12-01 16:30:00" in page  # London in winter is UTC
    # Django's own history page (the admin's LogEntry times) is in the zone too.
    history = owner.get(
        reverse("admin:portal_merchant_history", args=[bistro.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    action_time = history.context["action_list"][0].action_time

    def shown_in(zone: str) -> str:
        with translation.override("en"):
            return dateformat.format(
                action_time.astimezone(ZoneInfo(zone)), get_format("DATETIME_FORMAT")
            )

    text = history.content.decode()
    assert shown_in("Europe/London") in text
    assert shown_in("Asia/Shanghai") not in text


def test_the_public_pages_base_is_the_same_design_on_a_phone(rf):
    from django.template.loader import render_to_string

    html = render_to_string("portal/public_base.html", request=rf.get("/"))
    assert "portal/design.css" in html and "width=device-width" in html
    assert "<script" not in html and " style=" not in html
