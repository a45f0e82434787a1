"""Distribution in the merchant admin over HTTP (the sandbox live): forms with their
errors on the fields, the QR code's page, PNG, SVG and print pages, the whitelist
page, campaign pages, and the channel table on the card's page with N/M/K."""

from __future__ import annotations

import io
import re

import pytest
from defusedxml import ElementTree as ET
from django.urls import reverse
from PIL import Image

from distribution import services
from distribution.models import Campaign, Channel, QRCode, Whitelist
from distribution.tests.helpers import pushed
from redemption.models import Code
from tests.factories import png

ADD_QR = "/admin/distribution/qrcode/add/"


def errors_on(html: str) -> dict[str, str]:
    """{field: message} of the page's field errors."""
    return {
        m.group(1): re.sub(r"<[^>]+>", "", m.group(2)).strip()
        for m in re.finditer(r'data-error-for="([a-z_]+)"><li>(.*?)</li>', html, re.S)
    }


def test_a_channel_is_named_in_the_admin_and_gets_its_number(live_demo, login):
    client = login("demo_staff")
    url = "/admin/distribution/channel/add/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "Window poster"})
    assert response.status_code == 302, response.content.decode()[:3000]
    channel = Channel.objects.get(merchant=live_demo["Demo Bistro"])
    assert (channel.name, channel.outer_id, channel.outer_str) == (
        "Window poster",
        1,
        "ch-1",
    )
    again = client.post(url, {"name": "Window poster"})
    assert again.status_code == 200
    assert "already has a channel with this name" in again.content.decode()
    listing = client.get("/admin/distribution/channel/").content.decode()
    assert "Window poster" in listing and "ch-1" in listing


def test_the_qr_form_says_what_is_wrong_on_each_field(
    stocked_card, poster, other_channel, login, sandbox
):
    client = login("demo_staff")
    page = client.get(f"{ADD_QR}?card={stocked_card.pk}")
    assert page.status_code == 200
    good = {
        "card": stocked_card.pk,
        "channel": poster.pk,
        "validity": "expiring",
        "expire_seconds": "59",
    }
    for change, field in (
        ({"expire_seconds": "59"}, "expire_seconds"),
        ({"expire_seconds": "1801"}, "expire_seconds"),
        ({"expire_seconds": ""}, "expire_seconds"),
        ({"channel": other_channel.pk, "expire_seconds": "600"}, "channel"),
    ):
        response = client.post(ADD_QR, {**good, **change})
        assert response.status_code == 200
        assert set(errors_on(response.content.decode())) == {field}, change
    assert QRCode.objects.count() == 0


def test_a_qr_code_is_made_shown_downloaded_and_printed(
    stocked_card, poster, login, sandbox
):
    client = login("demo_staff")
    response = client.post(
        ADD_QR,
        {"card": stocked_card.pk, "channel": poster.pk, "validity": "permanent"},
    )
    assert response.status_code == 302
    qr = QRCode.objects.get()
    assert response["Location"] == reverse(
        "admin:distribution_qrcode_change", args=[qr.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and "Window poster" in page and qr.url in page
    assert "data-sandbox-phone" in page  # the simulated phone, in the sandbox

    image = client.get(reverse("admin:distribution_qrcode_png", args=[qr.pk]))
    assert image["Content-Type"] == "image/png"
    picture = Image.open(io.BytesIO(image.content))
    assert picture.size[0] == picture.size[1] >= 300
    svg = client.get(reverse("admin:distribution_qrcode_svg", args=[qr.pk]))
    assert svg["Content-Type"] == "image/svg+xml"
    assert ET.fromstring(svg.content).tag.endswith("svg")

    for size in ("a6", "a4"):
        sheet = client.get(
            reverse("admin:distribution_qrcode_print", args=[qr.pk]) + f"?size={size}"
        ).content.decode()
        assert f'data-sheet="{size}"' in sheet and "<svg" in sheet
        assert stocked_card.title in sheet and stocked_card.brand_name in sheet
        assert f"distribution/print-{size}.css" in sheet
    assert (
        client.get(
            reverse("admin:distribution_qrcode_print", args=[qr.pk]) + "?size=a3"
        ).status_code
        == 404
    )
    # the card's page lists it with its channel
    card_page = client.get(
        reverse("admin:cards_friendcard_change", args=[stocked_card.pk])
    ).content.decode()
    assert f'data-qrcode="{qr.pk}"' in card_page


def test_the_print_css_sizes_the_sheets():
    from django.conf import settings

    static = settings.BASE_DIR / "static/distribution"
    assert "@page { size: 105mm 148mm" in (static / "print-a6.css").read_text()
    assert "@page { size: 210mm 297mm" in (static / "print-a4.css").read_text()


def test_a_refusal_from_wechat_shows_on_the_form(unstocked_card, poster, login):
    from cards.models import FriendCard

    FriendCard.objects.filter(pk=unstocked_card.pk).update(quantity=3)  # stale stock
    client = login("demo_staff")
    response = client.post(
        ADD_QR,
        {
            "card": unstocked_card.pk,
            "channel": poster.pk,
            "validity": "permanent",
            "is_unique_code": "on",
        },
    )
    assert response.status_code == 200
    assert errors_on(response.content.decode()) == {
        "is_unique_code": "WeChat says this coupon has no stock left: buy stock first."
    }


def test_the_whitelist_page_explains_the_rule_and_refuses_eleven(
    live_demo, login, sandbox
):
    client = login("demo_staff")
    url = "/admin/distribution/whitelist/"
    page = client.get(url).content.decode()
    assert "At most 10 test users in all" in page
    assert "replaces its list" in page
    eleven = "\n".join(f"o_{i}" for i in range(11))
    response = client.post(url, {"openids": eleven, "usernames": ""})
    assert response.status_code == 200
    assert set(errors_on(response.content.decode())) == {"openids"}
    assert not Whitelist.objects.exists()
    response = client.post(url, {"openids": "o_anna\no_ben", "usernames": "eddy"})
    assert response.status_code == 302
    assert sandbox.control(
        "GET", "whitelist", params={"appid": live_demo["Demo Bistro"].appid}
    )["openid"] == ["o_anna", "o_ben"]
    assert "o_anna\no_ben" in client.get(url).content.decode()


def test_a_campaign_page_is_made_in_the_admin_with_its_banner(
    stocked_card, poster, login, live_server
):
    client = login("demo_staff")
    url = "/admin/distribution/campaign/add/"
    assert client.get(url).status_code == 200
    bad = client.post(url, {"title": "Spring", "channel": poster.pk, "active": "on"})
    assert bad.status_code == 200 and not Campaign.objects.exists()
    banner = io.BytesIO(png((230, 120, 40), (300, 100)))
    banner.name = "banner.png"
    response = client.post(
        url,
        {
            "title": "Spring tasting",
            "channel": poster.pk,
            "cards": [stocked_card.pk],
            "active": "on",
            "banner_file": banner,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.banner is not None and campaign.banner.wechat_url
    assert list(campaign.cards.all()) == [stocked_card]
    page = client.get(
        reverse("admin:distribution_campaign_change", args=[campaign.pk])
    ).content.decode()
    assert f"/c/{campaign.slug}/" in page and "<svg" in page
    not_an_image = io.BytesIO(b"not an image at all")
    not_an_image.name = "x.png"
    response = client.post(
        reverse("admin:distribution_campaign_change", args=[campaign.pk]),
        {
            "title": "Spring tasting",
            "channel": poster.pk,
            "cards": [stocked_card.pk],
            "active": "on",
            "banner_file": not_an_image,
        },
    )
    assert response.status_code == 200
    assert "JPG or PNG" in response.content.decode()


@pytest.mark.parametrize(("n", "m", "k"), [(3, 2, 2)])
def test_the_cards_page_shows_receives_per_channel(
    n, m, k, stocked_card, poster, table, scan, receive, login, sandbox
):
    """N scans on channel A and M on B, K of them redeemed, one received from a
    friend → the card's channel table shows exactly that."""
    merchant = stocked_card.merchant
    qr_a = services.qrcode_create(merchant=merchant, card=stocked_card, channel=poster)
    qr_b = services.qrcode_create(merchant=merchant, card=stocked_card, channel=table)
    codes = []
    for i in range(n):
        codes.append(scan(qr_a, f"o_a{i}").json()["code"])
    for i in range(m):
        scan(qr_b, f"o_b{i}")
    # a receive without a channel, from a friend
    receive(stocked_card, "o_friend", friend_openid="o_a0")
    for code in codes[:k]:  # redeemed at WeChat's back office
        sandbox.control("POST", f"codes/{code}/consume", json={"source": "FROM_MP"})
    pushed("user_consume_card", k)
    pushed("user_get_card", n + m + 1 + k)
    assert Code.objects.filter(card=stocked_card, status="CONSUMED").count() == k

    page = (
        login("demo_staff")
        .get(reverse("admin:cards_friendcard_change", args=[stocked_card.pk]))
        .content.decode()
    )
    table_html = page[page.index("data-channel-table") :]

    def row(key: str) -> tuple:
        found = re.search(
            rf'<tr data-channel="{key}">(.*?)</tr>', table_html, re.S
        ).group(1)
        cells = dict(
            re.findall(r"data-(received|consumed|rate|friends)>([^<]*)<", found)
        )
        return cells["received"], cells["consumed"], cells["rate"], cells["friends"]

    assert row(str(poster.outer_id)) == (str(n), str(k), "66.7%", "0")
    assert row(str(table.outer_id)) == (str(m), "0", "0.0%", "0")
    assert row("none") == ("1", "0", "0.0%", "1")  # no channel, from a friend
    # each redemption gave its consumer the consume-share gift (OuterStr consume_share)
    assert row("other") == (str(k), "0", "0.0%", "0")
    assert row("all") == (str(n + m + 1 + k), str(k), "25.0%", "1")
