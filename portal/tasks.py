"""Celery tasks of the portal app: thin callers of portal.events."""

from celery import shared_task

from . import events


@shared_task(name="portal.process_event", acks_late=True)
def process_event(event_id: int) -> str | None:
    """Run the handlers of one stored WeChat event (once, whoever runs it)."""
    return events.event_process(event_id)


@shared_task(name="portal.redispatch_events")
def redispatch_events() -> int:
    """Beat: events whose task was lost are enqueued again."""
    return events.events_redispatch()


@shared_task(name="portal.process_component_event", acks_late=True)
def process_component_event(event_id: int) -> str | None:
    """An authorization push of a provider: query WeChat, store the result (once)."""
    from .providers.receiver import component_event_process

    return component_event_process(event_id)


@shared_task(name="portal.redispatch_component_events")
def redispatch_component_events() -> int:
    """Beat: providers' pushes whose task was lost are enqueued again."""
    from .providers.receiver import component_events_redispatch

    return component_events_redispatch()
