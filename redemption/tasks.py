"""Redemption's clocks (thin: services do the work)."""

from celery import shared_task

from portal.models import Merchant

from . import services


@shared_task(name="redemption.settle_unknown")
def settle_unknown() -> int:
    """Beat: consumes whose answer was lost, read again (code/get) with back-off."""
    return services.attempts_settle_unknown()


@shared_task(name="redemption.settle_attempt", acks_late=True)
def settle_attempt(attempt_id: int) -> str:
    return services.attempt_settle(attempt_id=attempt_id).outcome


@shared_task(name="redemption.check_code", acks_late=True)
def check_code(merchant_id: int, code: str) -> str:
    record = services.code_check(
        merchant=Merchant.objects.get(pk=merchant_id), code=code
    )
    return record.status if record else ""
