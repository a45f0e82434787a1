"""Demo data for `make run` and for the tests (README "Demo logins").

Idempotent: a second run creates nothing, changes nothing and duplicates nothing.
Every demo password is ``demo-pass-2026`` — demo only.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import Membership, Merchant, Provider, ProviderStaff, Store
from .roles import Role

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  (demo only; README says so)


@dataclass(frozen=True)
class DemoMerchant:
    name: str
    appid: str
    stores: tuple[tuple[str, str, str], ...]  # (poi_id, name, address)
    users: tuple[tuple[str, str], ...] = ()  # (username, role)
    provider: str | None = None
    encrypted_events: bool = False
    # Authorized to its provider's component (SPEC §8): no AppSecret in the portal.
    via_component: bool = False


@dataclass(frozen=True)
class DemoComponent:
    """A provider's component at WeChat's open platform (SPEC §8)."""

    provider: str
    component_appid: str


@dataclass(frozen=True)
class DemoAccount:
    """An official account only WeChat knows (yet): one to onboard."""

    name: str
    appid: str


@dataclass(frozen=True)
class DemoData:
    merchants: tuple[DemoMerchant, ...]
    providers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> users
    components: tuple[DemoComponent, ...] = ()
    wechat_only: tuple[DemoAccount, ...] = ()


DEMO = DemoData(
    merchants=(
        DemoMerchant(
            name="Demo Bistro",
            appid="wx0000000000de0001",
            stores=(
                (
                    "100001",
                    "Demo Bistro · People's Square",
                    "1 Nanjing East Rd, Shanghai",
                ),
                ("100002", "Demo Bistro · Jing'an", "88 Yan'an Middle Rd, Shanghai"),
            ),
            users=(
                ("demo_owner", Role.OWNER),
                ("demo_staff", Role.STAFF),
                ("demo_cashier", Role.CASHIER),
            ),
            encrypted_events=True,
        ),
        DemoMerchant(
            name="Other Shop",
            appid="wx0000000000de0002",
            stores=(("200001", "Other Shop · Xuhui", "2 Hengshan Rd, Shanghai"),),
            users=(("other_staff", Role.STAFF),),
        ),
        DemoMerchant(
            name="Tea House",
            appid="wx0000000000de0011",
            stores=(("300001", "Tea House · Hangzhou", "5 West Lake Rd, Hangzhou"),),
            provider="Demo Provider",
            via_component=True,
        ),
        DemoMerchant(
            name="Noodle Bar",
            appid="wx0000000000de0012",
            stores=(("300101", "Noodle Bar · Suzhou", "9 Pingjiang Rd, Suzhou"),),
            provider="Demo Provider",
            via_component=True,
        ),
    ),
    providers={"Demo Provider": ("demo_provider",)},
    components=(DemoComponent("Demo Provider", "wx0000000000dc0001"),),
    wechat_only=(DemoAccount("Dumpling House", "wx0000000000de0013"),),
)
# What the demo's sub-merchants granted their provider (8 and 13 among them).
DEMO_FUNC_IDS = (1, 2, 4, 8, 11, 13, 15)


def new_encoding_aes_key() -> str:
    """43 base64 characters: 32 random bytes, as WeChat's console generates (SPEC §10)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()[:43]


def _user(username: str):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed_demo(*, portal_url: str | None = None) -> dict[str, Merchant]:
    """Create the demo tenants and their sandbox accounts; returns merchants by name.

    The sandbox accounts push events to ``portal_url`` (default: this machine's
    ``make run`` port, ``PORT``), re-pointed on every run whatever the port is.
    """
    base = (portal_url or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip(
        "/"
    )
    providers = {}
    for name, usernames in DEMO.providers.items():
        provider, _ = Provider.objects.get_or_create(name=name)
        for username in usernames:
            ProviderStaff.objects.update_or_create(
                provider=provider,
                user=_user(username),
                defaults={"role": ProviderStaff.Role.OWNER},
            )
        providers[name] = provider
    components = {}
    for spec in DEMO.components:
        components[spec.provider] = _component(providers[spec.provider], spec, base)

    merchants = {}
    for spec in DEMO.merchants:
        merchant = Merchant.objects.filter(appid=spec.appid).first()
        if merchant is None:
            merchant = Merchant.objects.create(
                appid=spec.appid,
                name=spec.name,
                provider=providers.get(spec.provider),
                appsecret="" if spec.via_component else secrets.token_hex(16),
                event_token="" if spec.via_component else secrets.token_hex(8),
                encoding_aes_key=new_encoding_aes_key()
                if spec.encrypted_events
                else "",
                event_mode=Merchant.EventMode.SAFE
                if spec.encrypted_events or spec.via_component
                else Merchant.EventMode.PLAIN,
                access=Merchant.Access.COMPONENT
                if spec.via_component
                else Merchant.Access.APPSECRET,
            )
        for poi_id, name, address in spec.stores:
            Store.objects.get_or_create(
                merchant=merchant,
                poi_id=poi_id,
                defaults={"name": name, "address": address},
            )
        for username, role in spec.users:
            Membership.objects.get_or_create(
                merchant=merchant, user=_user(username), defaults={"role": role}
            )
        merchants[spec.name] = merchant
        if spec.via_component:
            _sandbox_account_of_sub_merchant(merchant, spec, base)
            merchants[spec.name] = _authorized(merchant, components[spec.provider])
        else:
            _sandbox_account(merchant, spec, base)
    for account in DEMO.wechat_only:
        _wechat_only_account(account, base)
    _demo_coupon(merchants["Demo Bistro"], base)
    return merchants


# A 1×1 PNG: the demo coupon's logo and picture (served by the sandbox like uploads).
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg+M9QDwADgQF/"
    "e5IkGQAAAABJRU5ErkJggg=="
)
DEMO_COUPON_SOURCE = "demo-back-office"


def _demo_coupon(merchant: Merchant, base: str) -> None:
    """A coupon Demo Bistro made in WeChat's back office (MP), approved, with 100
    units of stock, valid at both stores, whose main button is the merchant's online
    redemption link (/u/<appid>/): the sandbox console's WeChat user panel can
    receive it at once, a cashier can redeem it at the till, the coupon's link opens
    the H5 page. The portal does not know it yet: the first lookup of one of its
    codes imports it (card/get, issue 10 §2), as for any card made elsewhere.
    Created once (marked in base_info.source), WeChat's side only."""
    from datetime import timedelta

    from sandbox.backends import cards as sandbox_cards
    from sandbox.backends import clock
    from sandbox.backends.core import image_store
    from sandbox.models import Account, Card

    account = Account.objects.get(appid=merchant.appid)
    mine = Card.objects.filter(account=account)
    if any(
        (c.definition.get("cash") or {}).get("base_info", {}).get("source")
        == DEMO_COUPON_SOURCE
        for c in mine.only("definition")
    ):
        return
    sandbox = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '8001')}/sandbox"
    logo = image_store(account, _PNG, base_url=sandbox)
    picture = image_store(account, _PNG, base_url=sandbox)
    begin = clock.now() - timedelta(minutes=5)
    definition = {
        "card_type": "CASH",
        "cash": {
            "base_info": {
                "logo_url": logo,
                "brand_name": "演示小馆",
                "code_type": "CODE_TYPE_QRCODE",
                "color": "Color010",
                "notice": "请出示二维码核销",
                "description": "不可与其他优惠同享",
                "date_info": {
                    "type": "DATE_TYPE_FIX_TIME_RANGE",
                    "begin_timestamp": int(begin.timestamp()),
                    "end_timestamp": int((begin + timedelta(days=80)).timestamp()),
                },
                "location_id_list": [
                    int(poi) for poi, _n, _a in DEMO.merchants[0].stores
                ],
                "center_title": "立即使用",
                "center_url": f"{base}/u/{merchant.appid}/",
                "can_share": False,
                "can_give_friend": False,
                "source": DEMO_COUPON_SOURCE,
            },
            "advanced_info": {
                "use_condition": {
                    "least_cost": 10000,
                    "can_use_with_other_discount": True,
                },
                "text_image_list": [
                    {"image_url": picture, "text": "招牌菜品，欢迎品尝"}
                ],
                "share_friends": True,
                "consume_share_self_num": 1,
            },
            "reduce_cost": 1000,
        },
    }
    card = sandbox_cards.card_create(account, {"card": definition})
    Card.objects.filter(pk=card.pk).update(
        status=Card.Status.VERIFY_OK,
        quantity=100,
        total_quantity=100,
        review_due_at=None,
    )


def _sandbox_account(merchant: Merchant, spec: DemoMerchant, base: str):
    """WeChat's side of a demo merchant: the same secrets, pushing to the portal."""
    from sandbox.backends.core import account_save

    account_save(
        appid=merchant.appid,
        secret=merchant.appsecret,
        token=merchant.event_token,
        encoding_aes_key=merchant.encoding_aes_key,
        callback_url=f"{base}/wechat/events/{merchant.appid}/",
        encrypted=spec.encrypted_events,
        nick_name=spec.name,
        principal_name=f"{spec.name} Ltd.",
    )


def _wechat_only_account(account: DemoAccount, base: str) -> None:
    """An official account WeChat knows and the portal does not (yet)."""
    from sandbox.models import Account

    existing = Account.objects.filter(appid=account.appid).first()
    from sandbox.backends.core import account_save

    account_save(
        appid=account.appid,
        secret=existing.secret if existing else secrets.token_hex(16),
        token=existing.token if existing else secrets.token_hex(8),
        callback_url=f"{base}/wechat/events/{account.appid}/",
        nick_name=account.name,
        principal_name=f"{account.name} Ltd.",
    )


def _component(provider: Provider, spec: DemoComponent, base: str):
    """The provider's open platform settings, and WeChat's side of them."""
    from sandbox.backends.component import component_save

    if not provider.is_configured:
        Provider.objects.filter(pk=provider.pk).update(
            component_appid=spec.component_appid,
            component_appsecret=secrets.token_hex(16),
            component_token=secrets.token_hex(8),
            component_encoding_aes_key=new_encoding_aes_key(),
        )
        provider.refresh_from_db()
    return component_save(
        component_appid=provider.component_appid,
        secret=provider.component_appsecret,
        token=provider.component_token,
        encoding_aes_key=provider.component_encoding_aes_key,
        callback_url=f"{base}/wechat/component/{provider.component_appid}/",
        events_url="",
        name=provider.name,
    )


def _sandbox_account_of_sub_merchant(merchant: Merchant, spec: DemoMerchant, base):
    """A sub-merchant's own account at WeChat: its AppSecret stays there."""
    from sandbox.models import Account

    existing = Account.objects.filter(appid=merchant.appid).first()
    from sandbox.backends.core import account_save

    account_save(
        appid=merchant.appid,
        secret=existing.secret if existing else secrets.token_hex(16),
        token=existing.token if existing else secrets.token_hex(8),
        callback_url=f"{base}/wechat/events/{merchant.appid}/",
        nick_name=spec.name,
        principal_name=f"{spec.name} Ltd.",
    )


def _authorized(merchant: Merchant, component) -> Merchant:
    """The sub-merchant authorized its provider's component (SPEC §8): the refresh
    token the authorization gave, in the portal; nothing changes on a second run."""
    from sandbox.backends.component import authorization_grant, authorizer_info
    from sandbox.models import Authorization

    held = Authorization.objects.filter(
        component=component, account__appid=merchant.appid, status="authorized"
    ).first()
    keeps = (
        held is not None
        and merchant.via_component
        and merchant.authorizer_refresh_token
        in (held.refresh_token, held.previous_refresh_token)
        and merchant.authorization == Merchant.Authorization.ACTIVE
    )
    if keeps:
        return merchant
    grant = authorization_grant(
        component, authorizer_appid=merchant.appid, func_ids=DEMO_FUNC_IDS, push=False
    )
    now = timezone.now()
    merchant.access = Merchant.Access.COMPONENT
    merchant.authorization = Merchant.Authorization.ACTIVE
    # An older demo gave these merchants their own secrets: a provider holds none.
    merchant.appsecret = ""
    merchant.event_token = ""
    merchant.event_mode = Merchant.EventMode.SAFE
    merchant.authorizer_refresh_token = grant.authorization.refresh_token
    merchant.func_ids = list(DEMO_FUNC_IDS)
    info = authorizer_info(component, authorizer_appid=merchant.appid)
    merchant.authorizer_info = {
        k: info["authorizer_info"][k]
        for k in ("nick_name", "user_name", "principal_name")
    }
    merchant.authorized_at = merchant.authorization_changed_at = now
    merchant.save()
    return merchant
