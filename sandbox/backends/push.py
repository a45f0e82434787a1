"""Pushing events to an account's server, as WeChat does (SPEC §10).

A push is an XML POST to the account's callback URL with ``signature``, ``timestamp``
and ``nonce`` in the query; in safe mode the body is the encrypted envelope and the
query adds ``encrypt_type=aes`` and ``msg_signature``. An answer other than 200 within
5 s is retried, three times at most, like WeChat.
"""

from __future__ import annotations

import logging
import threading
import time
from xml.sax.saxutils import escape

import requests

from ..models import Account, Push
from . import clock, pushcrypto

log = logging.getLogger("sandbox.push")

TIMEOUT = 5.0
RETRIES = 3  # after the first attempt


def event_xml(*, to_user: str, from_user: str, event: str, fields: dict) -> str:
    """WeChat's event XML: ToUserName, FromUserName, CreateTime, MsgType, Event, …"""
    parts = {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": str(int(clock.now().timestamp())),
        "MsgType": "event",
        "Event": event,
        **{k: v for k, v in fields.items() if v is not None},
    }
    body = "".join(_element(k, v) for k, v in parts.items())
    return f"<xml>{body}</xml>"


def _element(name: str, value) -> str:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float):
        return f"<{name}>{value}</{name}>"
    text = str(value)
    if "]]>" in text:
        return f"<{name}>{escape(text)}</{name}>"
    return f"<{name}><![CDATA[{text}]]></{name}>"


def push_create(
    account: Account, *, event: str, fields: dict, from_user: str = ""
) -> Push:
    xml = event_xml(
        to_user=f"gh_{account.appid[-12:]}",
        from_user=from_user or "o_sandbox_system",
        event=event,
        fields=fields,
    )
    return Push.objects.create(account=account, event=event, xml=xml)


def push_deliver(push: Push, *, session: requests.Session | None = None) -> Push:
    """Deliver one push now: up to 1 + 3 attempts; returns it with its outcome."""
    account = push.account
    target = _target(account)
    if not target.url:
        push.status, push.response = Push.Status.FAILED, "no callback URL"
        push.save(update_fields=["status", "response"])
        return push
    session = session or requests.Session()
    for _attempt in range(1 + RETRIES):
        timestamp, nonce = str(int(time.time())), pushcrypto.nonce(10)
        params = {
            "signature": pushcrypto.sha1_sorted(target.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "o_sandbox_system",
        }
        body = push.xml
        if target.encrypted:
            # Safe mode: the body carries ToUserName and Encrypt; msg_signature
            # (over token, timestamp, nonce, Encrypt) travels in the query.
            encrypted = pushcrypto.encrypt(
                push.xml, encoding_aes_key=target.encoding_aes_key, appid=target.appid
            )
            body = (
                f"<xml><ToUserName><![CDATA[gh_{account.appid[-12:]}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            )
            params["encrypt_type"] = "aes"
            params["msg_signature"] = pushcrypto.sha1_sorted(
                target.token, timestamp, nonce, encrypted
            )
        push.attempts += 1
        try:
            response = session.post(
                target.url,
                params=params,
                data=body.encode("utf-8"),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=TIMEOUT,
            )
            push.response = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 200:
                push.status = Push.Status.DELIVERED
                break
        except requests.RequestException as error:
            push.response = type(error).__name__
    else:
        push.status = Push.Status.FAILED
    push.save(update_fields=["status", "attempts", "response"])
    log.info("push %s to %s: %s", push.event, account.appid, push.status)
    return push


def _target(account: Account):
    """The account's own server, or (SPEC §8) the events URL of the component it
    authorized, with the component's keys."""
    from .component_push import Target, push_target

    return push_target(account) or Target(
        url=account.callback_url,
        token=account.token,
        encoding_aes_key=account.encoding_aes_key,
        appid=account.appid,
        encrypted=account.encrypted,
    )


# The name of the threads that deliver pushes in the background (one may wait for
# them: the tests do before they empty the database).
PUSH_THREAD = "sandbox-push"


def push_event(
    account: Account,
    *,
    event: str,
    fields: dict,
    from_user: str = "",
    wait: bool = True,
) -> Push:
    """Create and deliver a push; ``wait=False`` delivers it in a background thread
    (WeChat pushes asynchronously: the API call that caused it does not wait)."""
    push = push_create(account, event=event, fields=fields, from_user=from_user)
    if wait:
        return push_deliver(push)
    thread = threading.Thread(
        target=_deliver_in_thread, args=(push.pk,), daemon=True, name=PUSH_THREAD
    )
    thread.start()
    return push


def _deliver_in_thread(push_id: int) -> None:
    from django.db import connections

    try:
        push = Push.objects.select_related("account").get(pk=push_id)
        push_deliver(push)
    finally:
        # This thread's own connections: the thread ends here, and a persistent
        # connection (CONN_MAX_AGE) left open would outlive it.
        connections.close_all()
