"""URLs of the sandbox's own web process: /sandbox/… as on WeChat's host."""

from django.http import JsonResponse
from django.urls import include, path


def healthz(request):
    return JsonResponse({"status": "ok", "service": "wechat-sandbox"})


urlpatterns = [
    path("healthz", healthz),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sandbox/", include("sandbox.urls")),
]
