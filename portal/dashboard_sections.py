"""The dashboard's merchant section: who the merchant is, its stores and staff, and
whether its WeChat settings are complete."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import dashboard
from .models import Membership, Merchant, Store
from .roles import Capability, can


@dashboard.register(order=40)
def merchant_section(request):
    merchant = request.merchant
    alerts = []
    may_edit = can(request.role, Capability.SETTINGS)
    settings_url = reverse("admin:portal_merchant_change", args=[merchant.pk])
    if may_edit:
        secrets = Merchant.objects.filter(pk=merchant.pk).first()
        if secrets is not None and not (secrets.appsecret and secrets.event_token):
            alerts.append(
                {
                    "level": "warning",
                    "text": _(
                        "The WeChat settings are incomplete: set the AppSecret and "
                        "the event token."
                    ),
                    "url": settings_url,
                    "action": _("WeChat settings"),
                }
            )
    return {
        "key": "merchant",
        "title": _("Merchant"),
        "template": "portal/sections/merchant.html",
        "span": 4,
        "merchant": merchant,
        "store_count": Store.objects.filter(merchant=merchant).count(),
        "staff_count": Membership.objects.filter(merchant=merchant).count(),
        "settings_url": settings_url if may_edit else None,
        "alerts": alerts,
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
