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
        "switchable_merchants": SimpleLazyObject(
            lambda: list(merchants_for_user(user=user).order_by("name")[:500])
        ),
        "caps": {c.value: can(role, c) for c in Capability},
        # SPEC §8: why nothing may be done for this merchant (revoked, …), in words.
        "merchant_notice": SimpleLazyObject(lambda: _merchant_notice(request)),
    }


def _merchant_notice(request) -> str:
    merchant = getattr(request, "merchant", None)
    if merchant is None or not merchant.is_read_only:
        return ""
    from .providers.selectors import merchant_state_words

    return merchant_state_words(merchant)
