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


@dataclass(frozen=True)
class DemoData:
    merchants: tuple[DemoMerchant, ...]
    providers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> users


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
        ),
        DemoMerchant(
            name="Noodle Bar",
            appid="wx0000000000de0012",
            stores=(("300101", "Noodle Bar · Suzhou", "9 Pingjiang Rd, Suzhou"),),
            provider="Demo Provider",
        ),
    ),
    providers={"Demo Provider": ("demo_provider",)},
)


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
    providers = {}
    for name, usernames in DEMO.providers.items():
        provider, _ = Provider.objects.get_or_create(name=name)
        for username in usernames:
            ProviderStaff.objects.get_or_create(provider=provider, user=_user(username))
        providers[name] = provider

    merchants = {}
    for spec in DEMO.merchants:
        merchant = Merchant.objects.filter(appid=spec.appid).first()
        if merchant is None:
            merchant = Merchant.objects.create(
                appid=spec.appid,
                name=spec.name,
                provider=providers.get(spec.provider),
                appsecret=secrets.token_hex(16),
                event_token=secrets.token_hex(8),
                encoding_aes_key=new_encoding_aes_key()
                if spec.encrypted_events
                else "",
                event_mode=Merchant.EventMode.SAFE
                if spec.encrypted_events
                else Merchant.EventMode.PLAIN,
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
        _sandbox_account(merchant, spec, portal_url)
    return merchants


def _sandbox_account(merchant: Merchant, spec: DemoMerchant, portal_url: str | None):
    """WeChat's side of a demo merchant: the same secrets, pushing to the portal."""
    from sandbox.backends.core import account_save

    base = portal_url or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    account_save(
        appid=merchant.appid,
        secret=merchant.appsecret,
        token=merchant.event_token,
        encoding_aes_key=merchant.encoding_aes_key,
        callback_url=f"{base.rstrip('/')}/wechat/events/{merchant.appid}/",
        encrypted=spec.encrypted_events,
    )
