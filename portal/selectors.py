"""Reads for tenancy: which merchants a user may act for, and in which role."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Membership, Merchant
from .roles import Role


def merchants_for_user(*, user) -> QuerySet[Merchant]:
    """Every merchant ``user`` may act for: memberships, plus its providers' sub-merchants.

    A superuser (the platform operator) may act for every merchant.
    """
    if not user.is_authenticated or not user.is_active:
        return Merchant.objects.none()
    if user.is_superuser:
        return Merchant.objects.all()
    return Merchant.objects.filter(
        Q(memberships__user=user) | Q(provider__staff__user=user)
    ).distinct()


def role_for(*, user, merchant_id: int) -> str | None:
    """The user's role at the merchant, or None when the user may not act for it.

    A direct membership wins over provider staff rights for the same merchant.
    """
    if not user.is_authenticated or not user.is_active:
        return None
    role = (
        Membership.objects.filter(user=user, merchant_id=merchant_id)
        .values_list("role", flat=True)
        .first()
    )
    if role:
        return role
    if Merchant.objects.filter(pk=merchant_id, provider__staff__user=user).exists():
        return Role.PROVIDER
    if user.is_superuser and Merchant.objects.filter(pk=merchant_id).exists():
        return Role.OWNER
    return None


SECRET_FIELDS = (
    "appsecret",
    "event_token",
    "encoding_aes_key",
    "authorizer_refresh_token",
)


def merchant_and_role(*, user, merchant_id: int) -> tuple[Merchant, str] | None:
    """The merchant and the user's role there in one query (the per-request path);
    None when the user may not act for it. Secrets are left undecrypted until used."""
    if not user.is_authenticated or not user.is_active:
        return None
    membership = (
        Membership.objects.filter(user=user, merchant_id=merchant_id)
        .select_related("merchant")
        .defer(*(f"merchant__{f}" for f in SECRET_FIELDS))
        .first()
    )
    if membership is not None:
        return membership.merchant, membership.role
    merchants = Merchant.objects.defer(*SECRET_FIELDS)
    merchant = merchants.filter(pk=merchant_id, provider__staff__user=user).first()
    if merchant is not None:
        return merchant, Role.PROVIDER
    if user.is_superuser:
        merchant = merchants.filter(pk=merchant_id).first()
        if merchant is not None:
            return merchant, Role.OWNER
    return None


def default_merchant_id(*, user) -> int | None:
    """The merchant a user lands on: the first one by name."""
    return (
        merchants_for_user(user=user)
        .order_by("name")
        .values_list("pk", flat=True)
        .first()
    )
