"""A provider's two endpoints at WeChat's open platform (SPEC §8, §10).

* ``/wechat/component/<component_appid>/`` — the 授权事件接收URL: always encrypted
  with the provider's token and EncodingAESKey (the trailing appid is the
  component appid); ``component_verify_ticket``, ``authorized``,
  ``updateauthorized``, ``unauthorized``. Each push is stored once, answered
  ``success`` at once, and handled: the ticket and a revocation in the request
  (database only), an authorization by a task (it calls WeChat).
* ``/wechat/component/<component_appid>/events/<appid>/`` — the 消息与事件接收URL
  (``$APPID$``): a sub-merchant's own events (cards, coins, codes), decrypted with
  the provider's keys and handed to the same handlers as a merchant's own.

Both reuse ``portal.events.decode``: the same window, nonce and XML rules.
"""

from __future__ import annotations

import logging
import re

from django.db import IntegrityError, transaction
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
)
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from wechat import errors as wx
from wechat import xmlutil
from wechat.signatures import check_server_signature

from .. import events
from ..models import ComponentEvent, Merchant, Provider
from . import services

log = logging.getLogger(__name__)

_TICKET = re.compile(
    r"(<ComponentVerifyTicket>)(.*?)(</ComponentVerifyTicket>)", re.DOTALL
)
# Handled in the receiving request: quick database work only.
INLINE = {"component_verify_ticket", "unauthorized"}


def _provider(component_appid: str) -> Provider:
    provider = Provider.objects.filter(component_appid=component_appid).first()
    if provider is None or not component_appid:
        raise Http404
    return provider


@csrf_exempt
def component_events(request, component_appid: str):
    """The provider's 授权事件接收URL: 403 on a forged or wrongly keyed push, 400
    on bad XML, 404 for an unknown component, else ``success`` once stored."""
    provider = _provider(component_appid)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        xml, parsed, _encrypted = events.decode(
            events.Keys.of_provider(provider), request.body, request.GET
        )
    except events.SignatureError as exc:
        log.warning("rejected a component push for %s: %s", component_appid, exc)
        return HttpResponseForbidden("bad signature")
    except xmlutil.XMLError as exc:
        log.warning("malformed component push for %s: %s", component_appid, exc)
        return HttpResponseBadRequest("malformed XML")
    if parsed.get("AppId") != provider.component_appid:
        log.warning("a component push for %s names another AppId", component_appid)
        return HttpResponseForbidden("bad signature")
    component_event_receive(provider=provider, xml=xml, parsed=parsed)
    return HttpResponse("success", content_type="text/plain")


def component_event_receive(
    *, provider: Provider, xml: str, parsed: dict
) -> tuple[ComponentEvent, bool]:
    """Store a component push once (WeChat's retries repeat it) and handle it."""
    info_type = str(parsed.get("InfoType", ""))[:64]
    key = events.dedupe_key(parsed)  # over the ticket too: each ticket is new
    try:
        create_time = int(str(parsed.get("CreateTime") or 0))
    except ValueError:
        create_time = 0
    stored = dict(parsed)
    if "ComponentVerifyTicket" in stored:
        stored["ComponentVerifyTicket"] = "********"
    try:
        with transaction.atomic():
            event = ComponentEvent.objects.create(
                provider=provider,
                info_type=info_type,
                authorizer_appid=str(parsed.get("AuthorizerAppid", ""))[:32],
                create_time=create_time,
                dedupe_key=key,
                raw=_TICKET.sub(r"\1********\3", xml),
                payload=stored,
            )
            if info_type in INLINE:
                _handle_inline(event, provider, parsed)
    except IntegrityError:
        return ComponentEvent.objects.get(provider=provider, dedupe_key=key), False
    if info_type not in INLINE:
        from portal.jobs import enqueue

        enqueue("portal.process_component_event", event.pk)
    return event, True


def _handle_inline(event: ComponentEvent, provider: Provider, parsed: dict) -> None:
    status, error = ComponentEvent.Status.HANDLED, ""
    try:
        with transaction.atomic():
            if event.info_type == "component_verify_ticket":
                services.provider_ticket_store(
                    provider=provider,
                    ticket=str(parsed.get("ComponentVerifyTicket", "")),
                    create_time=event.create_time,
                )
            else:
                services.authorization_revoked(
                    provider=provider,
                    authorizer_appid=str(parsed.get("AuthorizerAppid", "")),
                )
    except Exception as exc:  # the push is kept either way
        log.exception("handling component event %s failed", event.pk)
        status, error = ComponentEvent.Status.FAILED, type(exc).__name__
    ComponentEvent.objects.filter(pk=event.pk).update(
        status=status, error=error, handled_at=timezone.now()
    )


def component_event_process(event_id: int) -> str | None:
    """The task: an ``authorized`` / ``updateauthorized`` push → query the
    authorization again and store what WeChat says (a new refresh token
    included). Claimed by a conditional update: once, whoever runs it."""
    claimed = ComponentEvent.objects.filter(
        pk=event_id, status=ComponentEvent.Status.RECEIVED
    ).update(status=ComponentEvent.Status.PROCESSING)
    if not claimed:
        return None
    event = ComponentEvent.objects.select_related("provider").get(pk=event_id)
    status, error = ComponentEvent.Status.HANDLED, ""
    if event.info_type in ("authorized", "updateauthorized"):
        try:
            services.authorization_link(
                provider=event.provider,
                auth_code=str(event.payload.get("AuthorizationCode", "")),
                source=event.info_type,
            )
        except services.OnboardingRefused as exc:
            status, error = ComponentEvent.Status.FAILED, exc.message
        except wx.WeChatError as exc:
            status, error = ComponentEvent.Status.FAILED, exc.message
    else:
        status = ComponentEvent.Status.IGNORED
    ComponentEvent.objects.filter(pk=event_id).update(
        status=status, error=error, handled_at=timezone.now()
    )
    return status


def component_events_redispatch() -> int:
    """Beat: pushes whose task was lost are enqueued again."""
    from datetime import timedelta

    from portal.jobs import enqueue

    now = timezone.now()
    ComponentEvent.objects.filter(
        status=ComponentEvent.Status.PROCESSING,
        received_at__lt=now - timedelta(minutes=5),
    ).update(status=ComponentEvent.Status.RECEIVED)
    stuck = list(
        ComponentEvent.objects.filter(
            status=ComponentEvent.Status.RECEIVED,
            received_at__lt=now - timedelta(seconds=30),
        ).values_list("pk", flat=True)[:200]
    )
    for pk in stuck:
        enqueue("portal.process_component_event", pk)
    return len(stuck)


@csrf_exempt
def merchant_events(request, component_appid: str, appid: str):
    """A sub-merchant's events through its provider (消息与事件接收URL, $APPID$)."""
    provider = _provider(component_appid)
    merchant = Merchant.objects.filter(
        provider=provider, appid=appid, access=Merchant.Access.COMPONENT
    ).first()
    if merchant is None:
        raise Http404
    if request.method == "GET":
        ok = bool(provider.component_token) and check_server_signature(
            provider.component_token,
            request.GET.get("timestamp", ""),
            request.GET.get("nonce", ""),
            request.GET.get("signature", ""),
        )
        if not ok:
            return HttpResponseForbidden("bad signature")
        return HttpResponse(request.GET.get("echostr", ""), content_type="text/plain")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        xml, parsed, encrypted = events.decode(
            events.Keys.of_provider(provider), request.body, request.GET
        )
    except events.SignatureError as exc:
        log.warning("rejected a push for %s via %s: %s", appid, component_appid, exc)
        return HttpResponseForbidden("bad signature")
    except xmlutil.XMLError as exc:
        log.warning("malformed push for %s via %s: %s", appid, component_appid, exc)
        return HttpResponseBadRequest("malformed XML")
    # Every sub-merchant's events carry the provider's signature: the event must
    # be addressed to this merchant's account, or it is another's replayed here.
    user_name = (merchant.authorizer_info or {}).get("user_name")
    if user_name and parsed.get("ToUserName") != user_name:
        log.warning("a push for %s is addressed to another account", appid)
        return HttpResponseForbidden("bad signature")
    events.event_receive(merchant=merchant, xml=xml, parsed=parsed, encrypted=encrypted)
    return HttpResponse("success", content_type="text/plain")
