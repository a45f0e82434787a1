"""card/…: friend coupons' management API, on WeChat's paths (SPEC §3, §12).

Parsing and answer shapes only; state and rules are in ``backends.cards``.
"""

from __future__ import annotations

from ..backends import cards
from .wire import read_json, wechat_api

OK = {"errcode": 0, "errmsg": "ok"}


@wechat_api("card/create", methods=("POST",))
def create(request, account):
    card = cards.card_create(account, read_json(request))
    return {**OK, "card_id": card.card_id}


@wechat_api("card/get", methods=("POST",))
def get(request, account):
    return {**OK, **cards.card_get(account, read_json(request).get("card_id"))}


@wechat_api("card/update", methods=("POST",))
def update(request, account):
    send_check = cards.card_update(account, read_json(request))
    return {**OK, "send_check": send_check}


@wechat_api("card/delete", methods=("POST",))
def delete(request, account):
    cards.card_delete(account, read_json(request).get("card_id"))
    return dict(OK)


@wechat_api("card/batchget", methods=("POST",))
def batchget(request, account):
    return {**OK, **cards.card_batchget(account, read_json(request))}
