"""The dashboard's merchant section: who the merchant is, its stores and staff."""

from django.utils.translation import gettext_lazy as _

from . import dashboard
from .models import Membership, Store


@dashboard.register(order=0)
def merchant_section(request):
    merchant = request.merchant
    return {
        "key": "merchant",
        "title": _("Merchant"),
        "template": "portal/sections/merchant.html",
        "merchant": merchant,
        "store_count": Store.objects.filter(merchant=merchant).count(),
        "staff_count": Membership.objects.filter(merchant=merchant).count(),
    }


@dashboard.register(order=1)
def provider_section(request):
    """For a provider's staff: the way to the console of all its sub-merchants."""
    from django.urls import reverse

    from .providers.selectors import providers_for

    merchant = request.merchant
    if request.user.is_superuser or not merchant.provider_id:
        return None
    provider = providers_for(user=request.user).filter(pk=merchant.provider_id).first()
    if provider is None:
        return None
    return {
        "key": "provider",
        "title": _("Service provider"),
        "template": "provider/dashboard_section.html",
        "provider": provider,
        "merchant_count": provider.merchants.count(),
        "console_url": reverse("provider:console"),
        "add_url": reverse("provider:onboarding_start"),
    }
