"""The editor's form → WeChat JSON step exists once, on the server (issue 9, B.2), and
the card's pages say what they say in the reader's language and time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone

from cards.models import CardStatus, FriendCard
from portal import events
from portal.models import WeChatEvent
from tests.factories import editor_form
from wechat import errors as wx

ADD = "admin:cards_friendcard_add"
FORM_PREVIEW = "/api/cards/preview/form"


def _preview_form(client, data, **query):
    """POST the raw form, form-encoded, as the editor's JavaScript does."""
    return client.post(f"{FORM_PREVIEW}?{urlencode(query)}", data)


def test_the_form_preview_and_the_saved_card_agree(bistro, login):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    data = editor_form(logo, pic)
    answer = _preview_form(client, data, quantity=1000).json()
    assert answer["title"] == "全场满500减50"
    assert answer["summary"] == "消费满500元可用"
    assert answer["unit_price"] == "0.6" and answer["price"] == "600.0"
    assert answer["errors"] == {} and answer["field_errors"] == {}
    client.post(reverse(ADD), data | {"_continue": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    assert (
        card.title == answer["title"] and str(card.unit_price) == answer["unit_price"]
    )


def test_dates_are_days_in_the_merchants_time_zone(bistro, login):
    merchant, logo, pic = bistro
    merchant.time_zone = "America/New_York"
    merchant.save(update_fields=["time_zone"])
    begin = timezone.now().astimezone(ZoneInfo("America/New_York")).date()
    end = begin + timedelta(days=30)
    data = editor_form(
        logo, pic, begin_date=begin.isoformat(), end_date=end.isoformat()
    )
    client = login("demo_staff")
    assert _preview_form(client, data).json()["field_errors"] == {}
    client.post(reverse(ADD), data | {"_continue": "1"})
    dates = FriendCard.objects.get(merchant=merchant).definition["cash"]["base_info"][
        "date_info"
    ]
    new_york = ZoneInfo("America/New_York")
    midnight = datetime(begin.year, begin.month, begin.day, tzinfo=new_york)
    last_second = datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=new_york)
    assert dates["begin_timestamp"] == int(midnight.timestamp())
    assert dates["end_timestamp"] == int(last_second.timestamp())


def test_errors_come_by_editor_field_in_the_readers_language(bistro, login):
    _merchant, logo, pic = bistro
    data = editor_form(logo, pic, brand_name="一二三四五六七八九十一二三", logo_url="")
    client = login("demo_staff")
    en = _preview_form(client, data).json()
    assert "12" in en["field_errors"]["brand_name"]
    assert "logo_url" in en["field_errors"]
    assert "base_info.brand_name" in en["errors"]  # the JSON paths too
    zh = client.post(FORM_PREVIEW, data, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert "汉字" in zh["field_errors"]["brand_name"]


def test_a_submitted_card_previews_with_its_own_thresholds(bistro, login, sandbox):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), editor_form(logo, pic) | {"_submit": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    assert card.status == CardStatus.IN_REVIEW
    # The browser does not post disabled inputs; a forged threshold changes nothing.
    data = editor_form(logo, pic, least_cost="1", reduce_cost="99")
    answer = _preview_form(client, data, card=card.pk).json()
    assert answer["title"] == "全场满500减50"
    # Another merchant's card id is not honoured (its definition is not read).
    other = login("other_staff")
    assert _preview_form(other, data, card=card.pk).json()["title"] == "全场满1减99"


def test_a_new_form_shows_no_errors_and_colours_are_named_swatches(bistro, login):
    page = login("demo_staff").get(reverse(ADD), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert 'class="errorlist' not in html and "errornote" not in html
    assert "data-swatches" in html and "绿色" in html and 'fill="#63b359"' in html
    assert "封面简介时必填" in html  # when the cover picture becomes required


def test_saving_an_invalid_draft_says_it_cannot_be_submitted(bistro, login):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    response = client.post(
        reverse(ADD),
        editor_form(logo, pic, logo_url="") | {"_continue": "1"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    text = response.content.decode()
    assert "It cannot be submitted to WeChat until the marked fields are fixed" in text
    assert "was added successfully" not in text
    assert FriendCard.objects.get(merchant=merchant).status == CardStatus.DRAFT


def test_a_refusal_stored_in_chinese_is_shown_in_english(bistro, login, sandbox):
    merchant, logo, pic = bistro
    sandbox.control("POST", "reset")  # WeChat forgot our images: 40141
    client = login("demo_staff")
    client.post(
        reverse(ADD),
        editor_form(logo, pic) | {"_submit": "1"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    card = FriendCard.objects.get(merchant=merchant)
    assert card.last_error["errcode"] == 40141
    page = client.get(
        reverse("admin:cards_friendcard_change", args=[card.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    with_en = str(wx.MESSAGES[40141])
    assert page.context["adminform"].form.errors["logo_url"] == [with_en]
    history = page.context["history"]
    assert any(row["message"] == with_en for row in history)
    assert "微信" not in "".join(row["message"] for row in history)


def test_the_history_says_where_a_change_came_from_in_words(bistro, login, sandbox):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), editor_form(logo, pic) | {"_submit": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    for pk in WeChatEvent.objects.values_list("pk", flat=True):
        events.event_process(pk)
    page = client.get(
        reverse("admin:cards_friendcard_change", args=[card.pk]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    sources = {row["source"] for row in page.context["history"]}
    assert sources == {"商户后台操作", "微信事件推送"}


def test_the_card_status_endpoint_answers_the_live_page(bistro, login, sandbox):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), editor_form(logo, pic) | {"_submit": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    page = client.get(reverse("admin:cards_friendcard_change", args=[card.pk]))
    status_url = reverse("admin:cards_friendcard_status", args=[card.pk])
    assert f'data-live-url="{status_url}"' in page.content.decode()
    assert client.get(status_url).json()["status"] == CardStatus.IN_REVIEW
    assert login("other_staff").get(status_url).status_code == 404


def test_deleting_a_card_at_wechat_says_so(bistro, login, sandbox):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), editor_form(logo, pic) | {"_submit": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    page = client.get(
        reverse("admin:cards_friendcard_delete", args=[card.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "data-deletes-at-wechat" in page and "card/delete" in page
    change = client.get(
        reverse("admin:cards_friendcard_change", args=[card.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "Delete (also at WeChat)" in change


def test_the_list_has_one_crumb_per_level_and_no_style_attributes(bistro, login):
    _merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), editor_form(logo, pic) | {"_continue": "1"})
    html = client.get(
        reverse("admin:cards_friendcard_changelist"), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    crumbs = html.split('class="breadcrumbs"')[1].split("</div>")[0]
    assert crumbs.count("Friend coupons") == 1
    assert " style=" not in html and 'class="badge status-DRAFT"' in html
