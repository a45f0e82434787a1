"""Roles and what each may do (SPEC §2). Pure data: no ORM, used by admin, API and views."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")
    CASHIER = "cashier", _("Cashier")
    # Not stored on a Membership: a provider's staff acting for a sub-merchant.
    PROVIDER = "provider", _("Service provider")


class Capability(models.TextChoices):
    ADMIN = "admin", _("Use the merchant portal")
    CARDS = "cards", _("Manage cards")
    COINS = "coins", _("Buy stock and recharge coins")
    STORES = "stores", _("Manage stores")
    STAFF = "staff", _("Manage staff")
    SETTINGS = "settings", _("Edit WeChat settings")
    REDEEM = "redeem", _("Redeem codes")


_ALL = frozenset(Capability)
CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: _ALL,
    Role.STAFF: frozenset(
        {Capability.ADMIN, Capability.CARDS, Capability.COINS, Capability.REDEEM}
    ),
    Role.CASHIER: frozenset({Capability.REDEEM}),
    # A provider runs everything for its sub-merchants except their own staff list.
    Role.PROVIDER: _ALL - {Capability.STAFF},
}


def can(role: str | None, capability: str) -> bool:
    """True when ``role`` grants ``capability``; no role grants nothing."""
    return role is not None and capability in CAPABILITIES.get(role, frozenset())
