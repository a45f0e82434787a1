"""The cards app's clocks (thin: services do the work)."""

from celery import shared_task

from . import services


@shared_task(name="cards.poll_reviews")
def poll_reviews() -> int:
    """Beat: ask WeChat (card/get) about cards still in review."""
    return services.cards_poll_reviews()


@shared_task(name="cards.settle_submission", acks_late=True)
def settle_submission(card_pk: int) -> str:
    """A card/create whose answer was lost: look for the card at WeChat."""
    return services.card_settle_submission(card_pk=card_pk)


@shared_task(name="cards.settle_unknown_submissions")
def settle_unknown_submissions() -> int:
    """Beat: submissions whose outcome is unknown, looked for with back-off."""
    return services.cards_settle_unknown_submissions()
