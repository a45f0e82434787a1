"""URLs of the sandbox's own web process: /sandbox/… as on WeChat's host."""

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import include, path


def healthz(request):
    return JsonResponse({"status": "ok", "service": "wechat-sandbox"})


def not_found(request, exception=None):
    """The portal's 404 page links to portal pages this process does not serve."""
    return render(request, "sandbox/404.html", status=404)


handler404 = not_found

urlpatterns = [
    path("healthz", healthz),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sandbox/", include("sandbox.urls")),
]
