"""Writes for coins and stock (SPEC §5), one module per entity:

* ``account``   — the coin account and its balance;
* ``stock``     — stock orders: the 60-second quote, the confirm, unknown outcomes;
* ``recharges`` — WeChat Pay recharges: created, polled, settled exactly once;
* ``ledger``    — the local copy of WeChat's ledger, and what it proves;
* ``hints``     — WeChat's ``card_pay_order`` pushes, which only make the portal look
  sooner (SPEC §10: an event never moves money on its own word).

Money moves only on WeChat's own answers: every step is claimed by a conditional
UPDATE, every movement leaves a CoinEvent, and a call whose answer was lost stays
unknown until WeChat's state proves it either way — it is never sent again.
Tasks import these services; services enqueue tasks by name (portal.jobs).
"""

from .account import (
    coin_account_activate,
    coin_balance_refresh,
    schedule_balance_refresh,
)
from .common import (
    MAX_QUANTITY,
    MAX_RECHARGE,
    QUOTE_SECONDS,
    parse_coin_count,
    parse_quantity,
)
from .hints import on_card_pay_order
from .ledger import (
    ledger_local_balance,
    ledger_restate_balances,
    ledger_sync,
    ledger_upsert,
    ledgers_sync_all,
    reconcile,
)
from .recharges import (
    BULK_POLL_MIN,
    PAID,
    POLL_SCHEDULE,
    UNPAID,
    recharge_check,
    recharge_create,
    recharge_poll,
    recharge_settle,
    recharges_poll_due,
    recharges_settle_many,
)
from .stock import (
    coins_to_recharge,
    seconds_left,
    shortfall,
    stock_order_confirm,
    stock_order_confirm_request,
    stock_order_quote,
    stock_order_requote,
    stock_order_settle,
    stock_orders_expire_due,
    stock_orders_settle_unknown,
)

__all__ = [
    "BULK_POLL_MIN",
    "MAX_QUANTITY",
    "MAX_RECHARGE",
    "PAID",
    "POLL_SCHEDULE",
    "QUOTE_SECONDS",
    "UNPAID",
    "coin_account_activate",
    "coin_balance_refresh",
    "coins_to_recharge",
    "ledger_local_balance",
    "ledger_restate_balances",
    "ledger_sync",
    "ledger_upsert",
    "ledgers_sync_all",
    "on_card_pay_order",
    "parse_coin_count",
    "parse_quantity",
    "recharge_check",
    "recharge_create",
    "recharge_poll",
    "recharge_settle",
    "recharges_poll_due",
    "recharges_settle_many",
    "reconcile",
    "schedule_balance_refresh",
    "seconds_left",
    "shortfall",
    "stock_order_confirm",
    "stock_order_confirm_request",
    "stock_order_quote",
    "stock_order_requote",
    "stock_order_settle",
    "stock_orders_expire_due",
    "stock_orders_settle_unknown",
]
