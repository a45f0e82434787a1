"""URLs of the sandbox's own web process: everything under /sandbox/, like WeChat's host."""

from django.http import JsonResponse
from django.urls import include, path


def healthz(request):
    return JsonResponse({"status": "ok", "service": "wechat-sandbox"})


urlpatterns = [
    path("healthz", healthz),
    path("sandbox/", include("sandbox.urls")),
]
