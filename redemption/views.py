from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from portal.roles import Capability, can


@login_required
def home(request):
    """The cashier's till page (redemption arrives with its own issue)."""
    if not can(request.role, Capability.REDEEM):
        raise PermissionDenied
    return render(request, "redemption/home.html")
