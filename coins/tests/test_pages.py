"""The coin pages in the merchant admin: activation, quote, countdown, QR code."""

from __future__ import annotations

import pytest
from django.urls import reverse

from coins.models import Recharge, StockOrder


def test_dashboard_offers_activation_then_shows_the_balance(approved_card, login):
    client = login("demo_staff")
    home = client.get(reverse("admin:index")).content.decode()
    assert "data-activate-coins" in home
    client.post(reverse("admin:coins_coins_activate"))
    home = client.get(reverse("admin:index")).content.decode()
    assert "data-activate-coins" not in home and "200" in home
    balance = client.get("/api/coins/balance").json()
    assert balance == {
        "activated": True,
        "free_coin": "200.00",
        "pay_coin": "0.00",
        "total_coin": "200.00",
        "recharges_waiting": 0,
    }


def test_buying_stock_from_the_card_page(coins_on, login, sandbox):
    client = login("demo_staff")
    card_page = client.get(
        reverse("admin:cards_friendcard_change", args=[coins_on.pk])
    ).content.decode()
    assert "data-buy-stock" in card_page
    form = client.get(
        reverse("admin:coins_stockorder_add"), {"card": coins_on.pk}
    ).content.decode()
    assert f'value="{coins_on.pk}" selected' in form
    bad = client.post(
        reverse("admin:coins_stockorder_add"), {"card": coins_on.pk, "quantity": "0"}
    )
    assert bad.status_code == 200 and "quantity" in bad.context["form"].errors
    assert not StockOrder.objects.exists()
    response = client.post(
        reverse("admin:coins_stockorder_add"), {"card": coins_on.pk, "quantity": "50"}
    )
    order = StockOrder.objects.get()
    assert response["Location"] == reverse(
        "admin:coins_stockorder_change", args=[order.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "data-countdown" in page and "30.0" in page  # 50 × 0.6
    status = client.get(f"/api/coins/stock-orders/{order.pk}").json()
    assert status["status"] == "quoted" and 0 < status["seconds_left"] <= 60


def test_recharge_page_draws_the_qr_code(coins_on, login, sandbox):
    client = login("demo_staff")
    form = client.get(
        reverse("admin:coins_recharge_add"), {"coins": "400"}
    ).content.decode()
    assert 'value="400"' in form
    bad = client.post(reverse("admin:coins_recharge_add"), {"coin_count": "0"})
    assert "coin_count" in bad.context["form"].errors and not Recharge.objects.exists()
    response = client.post(reverse("admin:coins_recharge_add"), {"coin_count": "400"})
    recharge = Recharge.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and "data-sandbox-pay" in page
    png = client.get(reverse("admin:coins_recharge_qr_png", args=[recharge.pk]))
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert (
        client.get(f"/api/coins/recharges/{recharge.pk}").json()["status"] == "waiting"
    )
    assert (
        login("other_staff").get(f"/api/coins/recharges/{recharge.pk}").status_code
        == 404
    )


def test_unicode_digits_are_field_errors_on_the_pages(coins_on, login, sandbox):
    """Issue 8 §5: '²', '①', fullwidth and Arabic-Indic digits were a 500 or a real
    quote; only ASCII digits are numbers here."""
    client = login("demo_staff")
    for text in ("²", "①", "１０", "١٢٣", "𝟗"):
        quote = client.post(
            reverse("admin:coins_stockorder_add"),
            {"card": coins_on.pk, "quantity": text},
        )
        assert quote.status_code == 200 and "quantity" in quote.context["form"].errors
        recharge = client.post(
            reverse("admin:coins_recharge_add"), {"coin_count": text}
        )
        assert recharge.status_code == 200
        assert "coin_count" in recharge.context["form"].errors
    assert not StockOrder.objects.exists() and not Recharge.objects.exists()
    assert sandbox.calls("card/pay/getpayprice") == 0
    assert sandbox.calls("card/pay/recharge") == 0


def test_a_recharge_whose_answer_was_lost_shows_checking(coins_on, login, sandbox):
    sandbox.fault("reset", path="card/pay/recharge", remaining=1)
    client = login("demo_staff")
    response = client.post(reverse("admin:coins_recharge_add"), {"coin_count": "20"})
    recharge = Recharge.objects.get()
    assert recharge.status == Recharge.Status.UNKNOWN
    assert response["Location"] == reverse(
        "admin:coins_recharge_change", args=[recharge.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Checking with WeChat" in page and 'class="qr"' not in page
    assert (
        client.get(
            reverse("admin:coins_recharge_qr_png", args=[recharge.pk])
        ).status_code
        == 404
    )


def _own_views(model_admin):
    """(url name, bound view) of every view a coin admin wrote itself: its custom
    views and the standard views it replaces (Django's own keep Django's checks)."""
    for pattern in model_admin.get_urls():
        view = pattern.callback  # admin_view(...) around the bound method
        while hasattr(view, "__wrapped__") and not hasattr(view, "__func__"):
            view = view.__wrapped__
        func = getattr(view, "__func__", None)
        if func is not None and func.__module__ == "coins.admin":
            yield pattern.name, view, list(pattern.pattern.regex.groupindex)


def test_every_coin_view_checks_the_permission_hooks_and_the_capability(demo, rf):
    from django.contrib.auth import get_user_model
    from django.core.exceptions import PermissionDenied

    from coins.admin import CoinsAdmin
    from portal.roles import Role
    from portal.sites import portal_site

    user = get_user_model().objects.get(username="demo_cashier")
    checked = 0
    for model_admin in portal_site._registry.values():
        if not isinstance(model_admin, CoinsAdmin):
            continue
        for name, view, groups in _own_views(model_admin):
            needs = getattr(view, "coin_view_needs", None)
            assert needs, f"{name} does not go through coin_view"
            kwargs = {g: "1" for g in groups}
            for method in needs:
                request = rf.generic(method, "/")
                request.user, request.merchant = user, demo["Demo Bistro"]
                request.role = Role.CASHIER  # no coin capability
                with pytest.raises(PermissionDenied):
                    view(request, **kwargs)
            request = rf.put("/")
            request.user, request.merchant, request.role = (
                user,
                demo["Demo Bistro"],
                "owner",
            )
            assert view(request, **kwargs).status_code == 405
            checked += 1
    # quote, confirm, requote, activate, stock order page, recharge form and page,
    # QR PNG, ledger, CSV, sync, reconcile
    assert checked >= 12
