"""Start-up recovery: orders and alerts a crash left half-done are resolved, and nothing executes twice."""

from __future__ import annotations

import logging

from bot.brokers.base import OrderRequest, OrderUpdate
from bot.domain import OrderState, Side, utc_now
from bot.errors import BotError, BrokerRejected, TemporaryError
from bot.state import ledger
from bot.trading.context import TradingContext
from bot.trading.fills import FillBook
from bot.trading.submit import send_with_retry

log = logging.getLogger(__name__)


def recover(ctx: TradingContext, fills: FillBook, *, max_age_seconds: float = 300) -> dict[str, int]:
    """Resolve orders left pending by a crash; nothing is executed twice.

    - pending orders: asked from the venue by ``client_order_id``; if the venue has it, its state is
      applied; if not and the alert is recent (``max_age_seconds``) or a replay, it is sent again (same
      id, so a venue that did get it cannot fill it twice); an old one is marked failed with the reason.
    - pending signals without an order (crash during the decision): marked failed with the reason.

    Returns counts: ``{"resumed", "resent", "abandoned", "signals_marked"}``. A venue that cannot be
    asked leaves its orders pending for the next run (logged).
    """
    counts = {"resumed": 0, "resent": 0, "abandoned": 0, "signals_marked": 0}
    with ctx.store.session() as tx:
        pending = ledger.pending_orders(tx)
        for signal in ledger.orphan_signals(tx):
            signal.result, signal.reason = "failed", "bot restarted before acting on this alert; not traded"
            ledger.enqueue_tx(tx, [ctx.rows.signal(signal.id, signal.__dict__)])
            counts["signals_marked"] += 1
    for order in pending:
        try:
            broker = ctx.brokers.get(order.broker)
            update = broker.get_order(order.client_order_id, order.symbol)
        except BotError as exc:
            log.error("recovery: cannot query %s for %s: %s", order.broker, order.client_order_id, exc)
            continue
        if update is not None:
            fills.apply_update(order.id, update)
            counts["resumed"] += 1
            continue
        age = (utc_now() - order.created_at).total_seconds()
        if age > max_age_seconds and order.replay_fill_at is None:
            reason = f"bot restarted; order never reached the venue and is {age:.0f} s old; not sent"
            fills.apply_update(order.id, OrderUpdate(broker_order_id="", state=OrderState.FAILED, reason=reason))
            counts["abandoned"] += 1
            continue
        request = OrderRequest(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=Side(order.side),
            qty=order.qty,
            ref_price=order.ref_price,
            reduce_only=order.reduce_only,
            fill_at=order.replay_fill_at,
        )
        try:
            update = send_with_retry(broker, request)
        except BrokerRejected as exc:
            update = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
        except TemporaryError:
            continue
        fills.apply_update(order.id, update)
        counts["resent"] += 1
    return counts
