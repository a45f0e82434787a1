from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .api import api
from .providers import receiver
from .sites import portal_site

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch-merchant/", views.switch_merchant, name="switch_merchant"),
    path("wechat/events/<str:appid>/", views.wechat_events, name="wechat_events"),
    # Third-party providers (SPEC §8): the component endpoint and its sub-merchants'.
    path(
        "wechat/component/<str:component_appid>/",
        receiver.component_events,
        name="wechat_component",
    ),
    path(
        "wechat/component/<str:component_appid>/events/<str:appid>/",
        receiver.merchant_events,
        name="wechat_component_events",
    ),
    path("provider/", include("portal.providers.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("redemption/", include("redemption.urls")),
    path("c/", include("distribution.urls")),
    # Online redemption (issue 10 §5): the coupon's own link, public.
    path("u/", include("redemption.online")),
    path("api/", api.urls),
    path("admin/", portal_site.urls),
    path("ops/", admin.site.urls),
]

if settings.SANDBOX_MOUNTED:  # tests: portal and sandbox in one live server
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
