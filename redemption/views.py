"""The till page (issue 10 §3): one code field for a queue of customers; the page's
script talks to /api/redemption/ (the same API a POS uses) with the session."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.roles import Capability, can

from . import till
from .models import Reason


def _strings() -> dict:
    """The words the page's script shows (in the reader's language)."""
    return {
        "looking": _("Looking the code up…"),
        "consuming": _("Redeeming…"),
        "success_title": _("Redeemed"),
        "give": _("Give the customer: %(what)s"),
        "refused_title": _("Not redeemed"),
        "checking_title": _("Checking…"),
        "checking": str(Reason.CHECKING.label),
        "valid": _("Valid %(from)s – %(to)s"),
        "valid_here": _("Valid at this store"),
        "network": _("The portal did not answer. Check the connection and try again."),
        "no_camera": _("No camera can be used here. Type the code instead."),
        "empty": _("Nothing redeemed here yet."),
        "outcomes": {
            "consumed": _("Redeemed"),
            "refused": _("Refused"),
            "checking": _("Checking with WeChat"),
        },
    }


def _redeemer(request) -> None:
    if request.merchant is None or not can(request.role, Capability.REDEEM):
        raise PermissionDenied


def _history_url() -> str:
    try:
        return reverse("redemption:history")
    except NoReverseMatch:  # the history page arrives with its own change
        return "/redemption/history/"


@login_required
def home(request):
    """The cashier's till page: the store chosen once, then code after code."""
    _redeemer(request)
    stores = list(till.allowed_stores(request))
    return render(
        request,
        "redemption/home.html",
        {
            "stores": stores,
            "store": till.current_store(request),
            "history_url": _history_url(),
            "till_strings": _strings(),
        },
    )


@login_required
@require_POST
def choose_store(request):
    """The till's store, kept in the session (only one the membership allows)."""
    _redeemer(request)
    till.choose_store(request, request.POST.get("store"))
    return redirect("redemption:home")
