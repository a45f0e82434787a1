"""The wire: WeChat's request parsing and answer shapes, shared by every API view.

``wechat_api`` wraps a view function ``(request, account) -> dict``: it applies
injected faults, checks the access token (41001 / 40001 / 42001), turns a
``SandboxAPIError`` into WeChat's ``{"errcode", "errmsg"}`` and records the call.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from functools import wraps

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import exceptions as exc
from ..backends import component, core, ticker
from ..models import AccessToken, Fault

# A "timeout" fault holds the answer this long unless the fault says otherwise:
# longer than any sane client timeout.
DEFAULT_TIMEOUT_FAULT_MS = 12_000


def answer(data: dict, status: int = 200) -> JsonResponse:
    """JSON as WeChat writes it: UTF-8, CJK unescaped."""
    return JsonResponse(
        data,
        status=status,
        json_dumps_params={"ensure_ascii": False, "separators": (",", ":")},
    )


def read_json(request) -> dict:
    """The POST body as a JSON object, or 47001 (WeChat's "data format error")."""
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise exc.DataFormatError() from None
    if not isinstance(data, dict):
        raise exc.DataFormatError()
    return data


def _appid_of(request) -> str:
    if request.GET.get("appid"):
        return request.GET["appid"]
    token = request.GET.get("access_token")
    if token:
        row = AccessToken.objects.filter(token=token).values("account__appid").first()
        if row:
            return row["account__appid"]
    return ""


def wechat_api(
    path: str,
    *,
    needs_token: bool = True,
    methods: tuple = ("GET", "POST"),
    appid_of=None,
):
    """``appid_of(request)`` names the account a call is counted and faulted for
    (default: ``?appid=`` or the access token's account)."""

    def decorator(fn):
        @csrf_exempt
        @wraps(fn)
        def view(request, *args, **kwargs):
            appid = (appid_of or _appid_of)(request)
            if request.method not in methods:
                return _finish(appid, path, exc.RequirePost().as_json())
            after = None  # a fault that strikes once the call is applied
            for hit in core.fault_take(appid=appid, path=path):
                if hit.kind in (Fault.Kind.HTTP_500_AFTER, Fault.Kind.RESET_AFTER):
                    after = hit.kind
                elif hit.kind == Fault.Kind.RESET:
                    core.call_record(appid=appid, path=path, errcode=0, http_status=0)
                    return drop_connection(request)
                elif hit.kind == Fault.Kind.LATENCY:
                    time.sleep(hit.latency_ms / 1000)
                elif hit.kind == Fault.Kind.TIMEOUT:
                    time.sleep((hit.latency_ms or DEFAULT_TIMEOUT_FAULT_MS) / 1000)
                elif hit.kind == Fault.Kind.HTTP_500:
                    core.call_record(appid=appid, path=path, errcode=0, http_status=500)
                    return HttpResponse("Internal Server Error", status=500)
                elif hit.kind == Fault.Kind.BUSY:
                    return _finish(appid, path, exc.SystemBusy().as_json())
                elif hit.kind == Fault.Kind.TOKEN_EXPIRED and needs_token and appid:
                    core.tokens_expire(core.account_get(appid))
                    return _finish(appid, path, exc.AccessTokenExpired().as_json())
            ticker.tick()
            try:
                account = None
                if needs_token:
                    account = core.token_account(request.GET.get("access_token"))
                    # A component's token for the account: only granted scopes.
                    component.scope_check(request.GET.get("access_token"), path)
                data = fn(request, account, *args, **kwargs)
            except exc.SandboxAPIError as error:
                data = error.as_json()
            if after == Fault.Kind.HTTP_500_AFTER:
                core.call_record(appid=appid, path=path, errcode=0, http_status=500)
                return HttpResponse("Internal Server Error", status=500)
            if after == Fault.Kind.RESET_AFTER:
                core.call_record(appid=appid, path=path, errcode=0, http_status=0)
                return drop_connection(request)
            return _finish(appid, path, data)

        view.wechat_path = path
        return view

    return decorator


def drop_connection(request) -> HttpResponse:
    """Close the client's connection without an answer (the "reset" faults).

    The socket comes from gunicorn (``gunicorn.socket``) or from the WSGI input
    stream of Django's own server (the tests' live server). The response returned
    afterwards never reaches the client; the server's write fails quietly.
    """
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        reader = getattr(
            getattr(request.environ.get("wsgi.input"), "_read", None), "__self__", None
        )
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return HttpResponse(status=500)


def _finish(appid: str, path: str, data: dict) -> JsonResponse:
    core.call_record(appid=appid, path=path, errcode=int(data.get("errcode") or 0))
    return answer(data)
