"""The editor in the merchant admin: drafts, submission, errors on their fields."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from cards import editor
from cards.models import CardStatus, FriendCard

ADD = "admin:cards_friendcard_add"


def _form(logo: str, pic: str, **overrides) -> dict:
    today = timezone.localdate()
    data = {
        "card_type": "CASH",
        "brand_name": "演示小馆",
        "reduce_cost": "50",
        "least_cost": "500",
        "begin_date": today.isoformat(),
        "end_date": (today + timedelta(days=30)).isoformat(),
        "location_ids": ["100001", "100002"],
        "logo_url": logo,
        "color": "Color010",
        "notice": "请出示二维码核销",
        "description": "不可与其他优惠同享",
        "text_image_1_url": pic,
        "text_image_1_text": "招牌菜品",
        "code_type": "CODE_TYPE_QRCODE",
        "consume_share": "self",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_the_editor_page_has_its_preview_and_no_inline_code(bistro, login):
    page = login("demo_staff").get(reverse(ADD))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-preview-url="/api/cards/preview/form"' in html
    assert "data-preview-title" in html and "cards/editor.js" in html
    # CSP: no inline script of any kind, no style attribute (issue 9).
    assert "<script>" not in html and "<script type=" not in html
    assert " style=" not in html


def test_saving_a_draft_stores_exactly_the_previewed_json(bistro, login):
    merchant, logo, pic = bistro
    data = _form(logo, pic)
    response = login("demo_staff").post(reverse(ADD), data | {"_continue": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]
    card = FriendCard.objects.get(merchant=merchant)
    assert card.status == CardStatus.DRAFT
    assert card.definition == editor.build_card(data, time_zone="Asia/Shanghai")
    assert card.title == "全场满500减50"
    assert card.definition["cash"]["reduce_cost"] == 5000
    assert (
        card.definition["cash"]["advanced_info"]["use_condition"]["least_cost"] == 50000
    )


def test_submitting_sends_the_card_to_wechat(bistro, login, sandbox):
    merchant, logo, pic = bistro
    response = login("demo_staff").post(
        reverse(ADD), _form(logo, pic) | {"_submit": "1"}
    )
    card = FriendCard.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:cards_friendcard_change", args=[card.pk]
    )
    assert card.status == CardStatus.IN_REVIEW and card.card_id
    assert sandbox.calls("card/create") == 1
    listing = login("demo_staff").get(reverse("admin:cards_friendcard_changelist"))
    assert "全场满500减50" in listing.content.decode()


def test_submitting_an_invalid_card_shows_errors_on_their_fields(
    bistro, login, sandbox
):
    _merchant, logo, pic = bistro
    data = _form(logo, pic, logo_url="", brand_name="一二三四五六七八九十一二三")
    response = login("demo_staff").post(reverse(ADD), data | {"_submit": "1"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "logo_url" in errors and "brand_name" in errors
    assert sandbox.calls("card/create") == 0
    assert not FriendCard.objects.exists()


def test_a_wechat_refusal_is_shown_on_its_field_after_redirect(bistro, login, sandbox):
    merchant, logo, pic = bistro
    sandbox.control("POST", "reset")  # WeChat forgot our images: 40141
    client = login("demo_staff")
    response = client.post(
        reverse(ADD), _form(logo, pic) | {"_submit": "1"}, follow=True
    )
    form = response.context["adminform"].form
    assert "logo_url" in form.errors
    card = FriendCard.objects.get(merchant=merchant)
    assert card.status == CardStatus.DRAFT


def test_a_submitted_card_keeps_its_thresholds(bistro, login, sandbox):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), _form(logo, pic) | {"_submit": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    url = reverse("admin:cards_friendcard_change", args=[card.pk])
    page = client.get(url)
    assert page.context["adminform"].form.fields["least_cost"].disabled
    # A forged post of a new threshold is ignored; the phone number change goes through.
    data = _form(logo, pic, least_cost="1", service_phone="021-5555")
    client.post(url, data | {"_continue": "1"})
    card.refresh_from_db()
    block = card.definition["cash"]
    assert block["advanced_info"]["use_condition"]["least_cost"] == 50000
    assert block["base_info"]["service_phone"] == "021-5555"
    assert sandbox.calls("card/update") == 1


def test_staff_of_another_merchant_cannot_open_the_card(bistro, login):
    merchant, logo, pic = bistro
    login("demo_staff").post(reverse(ADD), _form(logo, pic) | {"_continue": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    url = reverse("admin:cards_friendcard_change", args=[card.pk])
    assert login("other_staff").get(url).status_code == 404
    assert login("demo_cashier").get(url).status_code == 302
