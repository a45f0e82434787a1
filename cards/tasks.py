"""The cards app's clocks (thin: services do the work)."""

from celery import shared_task

from . import services


@shared_task(name="cards.poll_reviews")
def poll_reviews() -> int:
    """Beat: ask WeChat (card/get) about cards still in review."""
    return services.cards_poll_reviews()
