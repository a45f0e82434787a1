"""cgi-bin: access token, tickets, image upload (SPEC §4, §3.5)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.urls import reverse

from .. import exceptions as exc
from ..backends import core
from ..models import Image
from .wire import wechat_api


@wechat_api("cgi-bin/token", needs_token=False, methods=("GET",))
def token(request, account):
    value, expires_in = core.token_issue(
        appid=request.GET.get("appid", ""),
        secret=request.GET.get("secret", ""),
        grant_type=request.GET.get("grant_type", ""),
    )
    return {"access_token": value, "expires_in": expires_in}


@wechat_api("cgi-bin/ticket/getticket", methods=("GET",))
def getticket(request, account):
    value, expires_in = core.ticket_issue(account, request.GET.get("type", ""))
    return {"errcode": 0, "errmsg": "ok", "ticket": value, "expires_in": expires_in}


@wechat_api("cgi-bin/media/uploadimg", methods=("POST",))
def uploadimg(request, account):
    # WeChat's field is "buffer"; SDKs also send "media" (SPEC §3.5).
    upload = request.FILES.get("buffer") or request.FILES.get("media")
    if upload is None:
        raise exc.MediaDataMissing()
    if upload.size > core.MAX_IMAGE_BYTES:
        raise exc.InvalidImageSize()
    base = request.build_absolute_uri(reverse("sandbox:index"))
    return {"url": core.image_store(account, upload.read(), base_url=base)}


def media(request, key: str, ext: str):
    image = Image.objects.filter(key=key).only("content", "content_type").first()
    if image is None:
        raise Http404
    response = HttpResponse(bytes(image.content), content_type=image.content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
