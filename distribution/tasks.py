"""Distribution's clock (thin: the service does the work)."""

from celery import shared_task

from . import services


@shared_task(name="distribution.fail_stuck_qrcodes")
def fail_stuck_qrcodes() -> int:
    """Beat: QR codes whose sender died while asking WeChat are recorded not made."""
    return services.qrcodes_fail_stuck()
