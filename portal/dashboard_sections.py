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
