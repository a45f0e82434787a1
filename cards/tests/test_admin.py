"""The editor in the merchant admin: drafts, submission, errors on their fields."""

from __future__ import annotations

from django.urls import reverse

from cards import editor
from cards.models import CardStatus, FriendCard
from tests.factories import editor_form

ADD = "admin:cards_friendcard_add"


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
    data = editor_form(logo, pic)
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
        reverse(ADD), editor_form(logo, pic) | {"_submit": "1"}
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
    data = editor_form(logo, pic, logo_url="", brand_name="一二三四五六七八九十一二三")
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
        reverse(ADD), editor_form(logo, pic) | {"_submit": "1"}, follow=True
    )
    form = response.context["adminform"].form
    assert "logo_url" in form.errors
    card = FriendCard.objects.get(merchant=merchant)
    assert card.status == CardStatus.DRAFT


def test_a_submitted_card_keeps_its_thresholds(bistro, login, sandbox):
    merchant, logo, pic = bistro
    client = login("demo_staff")
    client.post(reverse(ADD), editor_form(logo, pic) | {"_submit": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    url = reverse("admin:cards_friendcard_change", args=[card.pk])
    page = client.get(url)
    assert page.context["adminform"].form.fields["least_cost"].disabled
    # A forged post of a new threshold is ignored; the phone number change goes through.
    data = editor_form(logo, pic, least_cost="1", service_phone="021-5555")
    client.post(url, data | {"_continue": "1"})
    card.refresh_from_db()
    block = card.definition["cash"]
    assert block["advanced_info"]["use_condition"]["least_cost"] == 50000
    assert block["base_info"]["service_phone"] == "021-5555"
    assert sandbox.calls("card/update") == 1


def test_staff_of_another_merchant_cannot_open_the_card(bistro, login):
    merchant, logo, pic = bistro
    login("demo_staff").post(reverse(ADD), editor_form(logo, pic) | {"_continue": "1"})
    card = FriendCard.objects.get(merchant=merchant)
    url = reverse("admin:cards_friendcard_change", args=[card.pk])
    assert login("other_staff").get(url).status_code == 404
    assert login("demo_cashier").get(url).status_code == 302


def test_a_card_changed_since_the_editor_opened_is_not_overwritten(bistro, login):
    """Issue 9 B.5: two people edit one card; the second save would lose the first."""
    _merchant, logo, pic = bistro
    first, second = login("demo_staff"), login("demo_owner")
    first.post(reverse(ADD), editor_form(logo, pic))
    card = FriendCard.objects.get()
    url = reverse("admin:cards_friendcard_change", args=[card.pk])
    opened = card.version
    assert (
        first.post(
            url, editor_form(logo, pic, notice="第一个人改的", opened_version=opened)
        ).status_code
        == 302
    )
    stale = second.post(
        url, editor_form(logo, pic, notice="第二个人改的", opened_version=opened)
    )
    assert stale.status_code == 200
    assert "Someone else changed this card" in stale.content.decode()
    card.refresh_from_db()
    assert card.version == opened + 1
    assert card.definition["cash"]["base_info"]["notice"] == "第一个人改的"
