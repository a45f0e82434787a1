"""The provider's pages under /provider/ (SPEC §8)."""

from django.urls import path

from . import views

app_name = "provider"

urlpatterns = [
    path("", views.console, name="console"),
    path("coupons/", views.coupons, name="coupons"),
    path("settings/", views.settings_view, name="settings"),
    path("merchants/<int:pk>/", views.merchant_detail, name="merchant"),
    path("merchants/<int:pk>/enter/", views.merchant_enter, name="merchant_enter"),
    path("enter/", views.merchant_enter, name="enter"),
    path("onboarding/start/", views.onboarding_start, name="onboarding_start"),
    path("onboarding/callback/", views.onboarding_callback, name="onboarding_callback"),
]
