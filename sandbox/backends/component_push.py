"""Pushes to a component (SPEC §8): its 授权事件接收URL gets the tickets and the
authorization changes, always encrypted with the component's keys (the trailing
appid is the component appid); an account that authorized a component has its own
events delivered to the component's 消息与事件接收URL instead of its server.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import requests

from ..models import Account, Authorization, Component, ComponentPush
from . import clock, pushcrypto
from .push import PUSH_THREAD, RETRIES, TIMEOUT, _element

log = logging.getLogger("sandbox.component")

# A ticket push that found nobody listening is tried again this soon.
TICKET_RETRY_SECONDS = 15


def component_xml(component: Component, info_type: str, fields: dict) -> str:
    parts = {
        "AppId": component.component_appid,
        "CreateTime": str(int(clock.now().timestamp())),
        "InfoType": info_type,
        **{k: v for k, v in fields.items() if v not in (None, "")},
    }
    return "<xml>" + "".join(_element(k, v) for k, v in parts.items()) + "</xml>"


def component_push(
    component: Component, info_type: str, fields: dict, *, wait: bool = True
) -> ComponentPush:
    push = ComponentPush.objects.create(
        component=component,
        info_type=info_type,
        xml=component_xml(component, info_type, fields),
    )
    if wait:
        return component_push_deliver(push)
    threading.Thread(
        target=_deliver_in_thread, args=(push.pk,), daemon=True, name=PUSH_THREAD
    ).start()
    return push


def component_push_deliver(
    push: ComponentPush, *, session: requests.Session | None = None
) -> ComponentPush:
    """Deliver a push as WeChat does: always encrypted with the component's keys
    (the trailing appid is the component appid), 5 s timeout, 3 retries."""
    component = push.component
    if not component.callback_url:
        push.status, push.response = ComponentPush.Status.FAILED, "no callback URL"
        push.save(update_fields=["status", "response"])
        return push
    session = session or requests.Session()
    for _attempt in range(1 + RETRIES):
        timestamp, nonce = str(int(time.time())), pushcrypto.nonce(10)
        encrypted = pushcrypto.encrypt(
            push.xml,
            encoding_aes_key=component.encoding_aes_key,
            appid=component.component_appid,
        )
        body = (
            f"<xml><AppId><![CDATA[{component.component_appid}]]></AppId>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        params = {
            "signature": pushcrypto.sha1_sorted(component.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": pushcrypto.sha1_sorted(
                component.token, timestamp, nonce, encrypted
            ),
        }
        push.attempts += 1
        try:
            response = session.post(
                component.callback_url,
                params=params,
                data=body.encode("utf-8"),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=TIMEOUT,
            )
            push.response = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 200:
                push.status = ComponentPush.Status.DELIVERED
                break
        except requests.RequestException as error:
            push.response = type(error).__name__
    else:
        push.status = ComponentPush.Status.FAILED
    push.save(update_fields=["status", "attempts", "response"])
    if (
        push.info_type == "component_verify_ticket"
        and push.status == ComponentPush.Status.FAILED
    ):
        # Nobody listened (the provider's server is still starting): sooner again.
        Component.objects.filter(pk=component.pk).update(
            next_ticket_at=clock.now() + timedelta(seconds=TICKET_RETRY_SECONDS)
        )
    log.info("push %s to %s: %s", push.info_type, component, push.status)
    return push


def _deliver_in_thread(push_id: int) -> None:
    from django.db import connections

    try:
        push = ComponentPush.objects.select_related("component").get(pk=push_id)
        component_push_deliver(push)
    finally:
        connections.close_all()


@dataclass(frozen=True)
class Target:
    """Where and how an account's own events are pushed."""

    url: str
    token: str
    encoding_aes_key: str
    appid: str  # the trailing appid of encrypted pushes
    encrypted: bool


def push_target(account: Account) -> Target | None:
    """SPEC §8: an account that authorized a component (with an events URL) has its
    events pushed there, ``$APPID$`` replaced, encrypted with the component's keys;
    None: the account's own server."""
    authorization = (
        Authorization.objects.select_related("component")
        .filter(account=account, status=Authorization.Status.AUTHORIZED)
        .exclude(component__events_url="")
        .order_by("-authorized_at")
        .first()
    )
    if authorization is None:
        return None
    component = authorization.component
    return Target(
        url=component.events_url.replace("$APPID$", account.appid),
        token=component.token,
        encoding_aes_key=component.encoding_aes_key,
        appid=component.component_appid,
        encrypted=True,
    )
