"""The two admin sites.

* ``portal_site`` (``/admin/``): the merchant portal. Everything registered here is a
  ``MerchantScopedAdmin`` and sees only the current merchant's rows. Cashiers never
  enter: they land on the redemption page.
* ``OpsAdminSite`` (``/ops/``, Django's default site): the platform operator's console
  (users, providers, merchants, Celery beat, lockouts). Superusers only.
"""

from __future__ import annotations

from functools import update_wrapper
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, resolve_url
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import dashboard, nav
from .roles import Capability, Role, can


class _PortalLoginMixin:
    def admin_view(self, view, cacheable=False):
        """A signed-in user without access gets 403 (a cashier: the till page),
        never a sign-in page that would send them straight back."""
        inner = super().admin_view(view, cacheable)

        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not self.has_permission(request):
                if getattr(request, "role", None) == Role.CASHIER:
                    return redirect("redemption:home")
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return update_wrapper(wrapper, view)

    def login(self, request, extra_context=None):
        """The portal has one sign-in page for every role and both sites."""
        url = resolve_url(settings.LOGIN_URL)
        next_url = request.GET.get("next") or reverse(f"{self.name}:index")
        return redirect(f"{url}?{urlencode({'next': next_url})}")


class PortalAdminSite(_PortalLoginMixin, admin.AdminSite):
    site_header = _("Friend Coupons · Merchant Portal")
    site_title = _("Friend Coupons")
    index_title = _("Dashboard")
    index_template = "portal/dashboard.html"
    enable_nav_sidebar = True

    def has_permission(self, request) -> bool:
        return (
            request.user.is_active
            and getattr(request, "merchant", None) is not None
            and can(getattr(request, "role", None), Capability.ADMIN)
        )

    def get_app_list(self, request, app_label=None):
        """The models' admins, then the pages apps add (portal.nav)."""
        apps = super().get_app_list(request, app_label)
        if app_label is None and self.has_permission(request):
            apps += nav.extra_apps(request)
        return apps

    def index(self, request, extra_context=None):
        context = {
            **self.each_context(request),
            "title": self.index_title,
            "subtitle": None,
            "app_list": self.get_app_list(request),
            "sections": dashboard.sections_for(request),
            **(extra_context or {}),
        }
        request.current_app = self.name
        return TemplateResponse(request, self.index_template, context)


portal_site = PortalAdminSite(name="admin")


class OpsAdminSite(_PortalLoginMixin, admin.AdminSite):
    site_header = _("Friend Coupons · Platform operations")
    site_title = _("Operations")

    def __init__(self, name: str = "ops"):
        super().__init__(name)

    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser
