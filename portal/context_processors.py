from django.utils.functional import SimpleLazyObject

from .roles import Capability, Role, can
from .selectors import merchants_for_user


def tenancy(request):
    """The header's merchant switcher and the role's capabilities, for every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = getattr(request, "role", None)
    return {
        "current_merchant": getattr(request, "merchant", None),
        "current_role": role,
        "current_role_label": Role(role).label if role else "",
        "switchable_merchants": SimpleLazyObject(lambda: _switchable(request, user)),
        "caps": {c.value: can(role, c) for c in Capability},
        # SPEC §8: why nothing may be done for this merchant (revoked, …), in words.
        "merchant_notice": SimpleLazyObject(lambda: _merchant_notice(request)),
    }


# A provider may have hundreds of sub-merchants: the header offers the first ones
# (and the current one); the provider console lists them all.
SWITCHER_LIMIT = 20


def _switchable(request, user) -> list:
    """The merchants of the header's switcher: names only (no secret is read)."""
    merchants = list(
        merchants_for_user(user=user)
        .order_by("name")
        .only("pk", "name")[:SWITCHER_LIMIT]
    )
    current = getattr(request, "merchant", None)
    if current is not None and all(m.pk != current.pk for m in merchants):
        merchants.insert(0, current)
    return merchants


def _merchant_notice(request) -> str:
    merchant = getattr(request, "merchant", None)
    if merchant is None or not merchant.is_read_only:
        return ""
    from .providers.selectors import merchant_state_words

    return merchant_state_words(merchant)
