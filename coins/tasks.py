"""The coin clocks (SPEC §5 "Celery owns the clocks"). Thin: services do the work;
every task claims its work with a conditional update, so running one twice is harmless."""

from celery import shared_task

from portal.models import Merchant

from . import services


@shared_task(name="coins.expire_stock_order", acks_late=True)
def expire_stock_order(order_id: int) -> int:
    """At a quote's 60 s: expire it if it was not confirmed."""
    return services.stock_orders_expire_due(order_ids=[order_id])


@shared_task(name="coins.expire_due_stock_orders")
def expire_due_stock_orders() -> int:
    """Beat: the sweep that expires quotes whose own task was lost."""
    return services.stock_orders_expire_due()


@shared_task(name="coins.confirm_stock_order", acks_late=True)
def confirm_stock_order(order_id: int) -> str:
    """card/pay/confirm, at most once per quote."""
    return services.stock_order_confirm(order_id=order_id)


@shared_task(name="coins.settle_stock_order", acks_late=True)
def settle_stock_order(order_id: int) -> str:
    """A confirm whose answer was lost: read WeChat and record what it proves."""
    return services.stock_order_settle(order_id=order_id)


@shared_task(name="coins.check_stock_order", acks_late=True)
def check_stock_order(order_id: int) -> str:
    """A push named this order: read it at WeChat (a late success is applied)."""
    return services.stock_order_settle(order_id=order_id, hint=True)


@shared_task(name="coins.settle_unknown_stock_orders")
def settle_unknown_stock_orders() -> int:
    """Beat: confirms whose outcome is unknown, read again with back-off."""
    return services.stock_orders_settle_unknown()


@shared_task(name="coins.poll_recharges", acks_late=True)
def poll_recharges() -> int:
    """Beat: ask WeChat about the recharges whose time has come."""
    return services.recharges_poll_due()


@shared_task(name="coins.check_recharge", acks_late=True)
def check_recharge(recharge_id: int) -> bool:
    """A push named this recharge's order: read it at WeChat now."""
    return services.recharge_check(recharge_id=recharge_id)


@shared_task(name="coins.sync_ledgers")
def sync_ledgers() -> int:
    """Beat: getorderlist into the local ledger of every coin account."""
    return services.ledgers_sync_all()


@shared_task(name="coins.sync_ledger", acks_late=True)
def sync_ledger(merchant_id: int) -> int:
    """One merchant's ledger, synced soon after a push said coins moved."""
    return services.ledger_sync(merchant=Merchant.objects.get(pk=merchant_id))


@shared_task(name="coins.refresh_balance")
def refresh_balance(merchant_id: int) -> str:
    account = services.coin_balance_refresh(
        merchant=Merchant.objects.get(pk=merchant_id)
    )
    return str(account.total_coin)
