"""card/code/…: the code APIs on WeChat's paths (SPEC §7, §12).

Parsing and answer shapes only; state and rules are in ``backends.codes``.
"""

from __future__ import annotations

from ..backends import codes
from .wire import read_json, wechat_api

OK = {"errcode": 0, "errmsg": "ok"}


@wechat_api("card/code/get", methods=("POST",))
def get(request, account):
    return {**OK, **codes.code_get(account, read_json(request))}


@wechat_api("card/code/decrypt", methods=("POST",))
def decrypt(request, account):
    return {**OK, "code": codes.code_decrypt(account, read_json(request))}


@wechat_api("card/code/mark", methods=("POST",))
def mark(request, account):
    codes.code_mark(account, read_json(request))
    return dict(OK)


@wechat_api("card/code/consume", methods=("POST",))
def consume(request, account):
    code = codes.code_consume(account, read_json(request))
    return {**OK, "card": {"card_id": code.card.card_id}, "openid": code.openid}


@wechat_api("card/code/unavailable", methods=("POST",))
def unavailable(request, account):
    codes.code_unavailable(account, read_json(request))
    return dict(OK)
