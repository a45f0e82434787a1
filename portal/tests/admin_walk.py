"""Shared by the admin walks: rows for every model the demo lacks, and every page
of an admin site (index, app pages, each model's standard and custom views).

A helper module, not a test module: the tenancy walk and the secrets walk use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.urls import NoReverseMatch, reverse

from portal.admin_base import scope


def _event(merchant):
    from portal.models import WeChatEvent

    return WeChatEvent.objects.create(
        merchant=merchant,
        event="card_pass_check",
        msg_type="event",
        dedupe_key=f"walk-{merchant.pk}",
        raw="<xml/>",
        payload={},
    )


def _card(merchant):
    from cards.models import FriendCard

    return FriendCard.objects.create(
        merchant=merchant, card_type="CASH", title="全场满500减50", definition={}
    )


def _stock_order(merchant):
    from django.utils import timezone

    from coins.models import StockOrder

    return StockOrder.objects.create(
        merchant=merchant,
        card=_card(merchant),
        quantity=10,
        quote_id=f"q-{merchant.pk}",
        price=6,
        quoted_at=timezone.now(),
        expires_at=timezone.now(),
    )


def _recharge(merchant):
    from coins.models import Recharge

    return Recharge.objects.create(
        merchant=merchant,
        order_id=f"r-{merchant.pk}",
        coin_count=100,
        qrcode_url="weixin://x",
    )


def _ledger(merchant):
    from django.utils import timezone

    from coins.models import LedgerEntry

    return LedgerEntry.objects.create(
        merchant=merchant,
        order_id=f"l-{merchant.pk}",
        order_type="ORDER_TYPE_SYS_ADD",
        status="ORDER_STATUS_FINANCE_SUCC",
        create_time=timezone.now(),
        free_coin_count=200,
    )


def _channel(merchant):
    from distribution import services
    from distribution.models import Channel

    name = f"Walk {Channel.objects.filter(merchant=merchant).count() + 1}"
    return services.channel_create(merchant=merchant, name=name)


def _qrcode(merchant):
    from distribution.models import QRCode

    return QRCode.objects.create(
        merchant=merchant,
        card=_card(merchant),
        channel=_channel(merchant),
        status="ready",
        url="http://weixin.qq.com/q/walk",
        ticket="t",
    )


def _campaign(merchant):
    from distribution.models import Campaign

    campaign = Campaign.objects.create(
        merchant=merchant,
        slug=f"walk{merchant.pk}",
        title="Walk",
        channel=_channel(merchant),
    )
    campaign.cards.add(_card(merchant))
    return campaign


def _whitelist(merchant):
    from distribution.models import Whitelist

    return Whitelist.objects.create(merchant=merchant, openids=["o_walk"])


# Rows the demo data does not have, made for the walks. A model registered on the
# portal site with neither demo rows nor a factory here fails the tenancy walk.
FACTORIES = {
    "WeChatEvent": _event,
    "FriendCard": _card,
    "StockOrder": _stock_order,
    "Recharge": _recharge,
    "LedgerEntry": _ledger,
    "Channel": _channel,
    "QRCode": _qrcode,
    "Campaign": _campaign,
    "Whitelist": _whitelist,
}


def merchant_objects(model, merchant, limit: int = 3) -> list:
    """Up to ``limit`` of ``merchant``'s rows of ``model``; one made if it has none."""
    rows = list(scope(model._default_manager.all(), merchant)[:limit])
    if not rows and model.__name__ in FACTORIES:
        rows = [FACTORIES[model.__name__](merchant)]
    return rows


def site_pages(site) -> Iterator[str]:
    """The site's own pages: index, each app's index, the password change form."""
    yield reverse(f"{site.name}:index")
    for app_label in sorted({m._meta.app_label for m in site._registry}):
        yield reverse(f"{site.name}:app_list", kwargs={"app_label": app_label})
    yield reverse(f"{site.name}:password_change")


def model_pages(site, model, objects: Iterable) -> Iterator[str]:
    """Every named URL of ``model``'s admin on ``site``: changelist, add, custom
    views without arguments, and per object change, history, delete and every
    custom view that takes the object's id (whatever its argument is called)."""
    model_admin = site._registry[model]
    objects = list(objects)
    for pattern in model_admin.get_urls():
        if not pattern.name:
            continue  # the catch-all redirect to the change page
        name = f"{site.name}:{pattern.name}"
        groups = list(pattern.pattern.regex.groupindex)
        if not groups:
            try:
                yield reverse(name)
            except NoReverseMatch:  # pragma: no cover  (a view with fixed args)
                continue
            continue
        for obj in objects:
            yield reverse(name, kwargs={group: obj.pk for group in groups})
