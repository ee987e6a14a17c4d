"""Order updates from a venue → fills → slot positions, with the rows and notifications they cause.

Idempotent: a fill already recorded for an order (same venue fill id) is ignored, so the tracker,
recovery and the alert path may all report the same update.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bot.brokers.base import OrderUpdate
from bot.domain import OrderState, RowStatus, Side, SlotKey, SlotState, format_decimal, utc_now
from bot.state import ledger
from bot.trading.context import TradingContext
from bot.trading.positions import apply_fill
from bot.trading.rows import fmt_time, row_status


def elapsed_ms(started: float) -> Decimal:
    """Milliseconds (three decimals) since ``started`` (a :func:`time.perf_counter` reading)."""
    return Decimal(int((time.perf_counter() - started) * 1_000_000)) / 1000


class FillBook:
    """Records venue updates of orders: fills move the slot, and the rows, signal and events follow.

    Args:
        ctx: the engine's shared wiring.
    """

    def __init__(self, ctx: TradingContext) -> None:
        self._ctx = ctx

    def apply_update(
        self,
        order_pk: int,
        update: OrderUpdate,
        *,
        signal_pk: int | None = None,
        started: float | None = None,
        submitted_ms: Decimal | None = None,
    ) -> RowStatus:
        """Record a venue update of order ``order_pk``: new fills move the slot; write statuses.

        ``signal_pk``/``started``/``submitted_ms`` fill in the alert's latency figures when the update
        answers an alert. Returns the row status. Raises TemporaryError when the state DB cannot commit.
        """
        return self.record_update(
            update, order_pk=order_pk, signal_pk=signal_pk, started=started, submitted_ms=submitted_ms
        )

    def record_update(
        self,
        update: OrderUpdate,
        *,
        order_pk: int | None = None,
        new_order: dict[str, Any] | None = None,
        signal_pk: int | None = None,
        started: float | None = None,
        submitted_ms: Decimal | None = None,
    ) -> RowStatus:
        """:meth:`apply_update` for the stored order ``order_pk``, or for ``new_order`` (its column values),
        inserted in the same transaction (an order the venue placed on its own, e.g. a protective exit)."""
        ctx = self._ctx
        with ctx.store.session() as tx:
            order = ledger.add_order(tx, new_order) if new_order is not None else ledger.order_record(tx, order_pk or 0)
            key = SlotKey(order.symbol, order.timeframe)
            record = ledger.slot_record(tx, key)
            slot, new_fills = self._book_fills(tx, order, update, ledger.slot_state(record))
            ledger.store_slot(record, slot, order.broker)
            _merge_update(order, update, new_fills)
            status = row_status(update.state, order.filled_qty, slot.qty)
            self._update_signal(tx, order, status, signal_pk, started, submitted_ms, update)
            note = order.reason
            if update.state is OrderState.QUEUED and update.eligible_at:
                note = f"market closed: eligible {fmt_time(update.eligible_at, ctx.rows.zone)}"
            cells = {
                "Order Status": status.value,
                "Position": format_decimal(slot.qty),
                "Last Order ID": order.broker_order_id or order.client_order_id,
                "Note": note,
            }
            ledger.enqueue_tx(tx, [ctx.rows.config(key, cells), ctx.rows.order(ledger.order_values(order))])
            side, qty, reason = order.side, order.qty, order.reason
            filled_text = f"{order.side} {format_decimal(order.filled_qty)} {key}"
            avg = format_decimal(order.filled_avg_price)
        ctx.slots[key] = slot
        if status is RowStatus.FAILED:
            ctx.emit("order_failed", f"order failed: {side} {format_decimal(qty)} {key}: {reason}", key)
        elif update.state is OrderState.FILLED and new_fills:
            ctx.emit("order_filled", f"filled: {filled_text} @ {avg}; position {format_decimal(slot.qty)}", key)
        return status

    @staticmethod
    def _book_fills(tx: ledger.Tx, order: Any, update: OrderUpdate, slot: SlotState) -> tuple[SlotState, list[Any]]:
        """Add the fills of ``update`` not yet recorded for ``order``; returns the slot after them and them."""
        known = ledger.fill_ids(tx, order.id)
        new_fills = [f for f in update.fills if f.fill_id not in known]
        for fill in new_fills:
            slot, realised = apply_fill(slot, Side(order.side), fill.qty, fill.price, fill.fee, fill.filled_at)
            ledger.add_fill(
                tx,
                {
                    "order_id": order.id,
                    "broker_fill_id": fill.fill_id,
                    "symbol": order.symbol,
                    "timeframe": order.timeframe,
                    "side": order.side,
                    "qty": fill.qty,
                    "price": fill.price,
                    "fee": fill.fee,
                    "filled_at": fill.filled_at,
                    "realised_pnl": realised,
                },
            )
            order.fees = order.fees + fill.fee
        return slot, new_fills

    def _update_signal(
        self,
        tx: ledger.Tx,
        order: Any,
        status: RowStatus,
        signal_pk: int | None,
        started: float | None,
        submitted_ms: Decimal | None,
        update: OrderUpdate,
    ) -> None:
        """Carry the order's outcome to the signal that placed it (result, reason, latency) and its row."""
        pk = signal_pk or order.signal_id
        signal = ledger.signal_record(tx, pk) if pk else None
        if signal is None:
            return
        signal.result = "failed" if status is RowStatus.FAILED else "success"
        signal.reason = order.reason
        signal.row_status = status.value
        signal.order_id = order.broker_order_id or order.client_order_id
        if submitted_ms is not None:
            signal.submitted_ms = submitted_ms
            signal.latency_ms = submitted_ms
        if started is not None and update.state is OrderState.FILLED:
            signal.filled_ms = elapsed_ms(started)
        ledger.enqueue_tx(tx, [self._ctx.rows.signal(signal.id, signal.__dict__)])


def _merge_update(order: Any, update: OrderUpdate, new_fills: list[Any]) -> None:
    """Apply the venue's view ``update`` (state, cumulative fill, ids, reason) to the stored ``order``."""
    now = utc_now()
    if update.broker_order_id:
        order.broker_order_id = update.broker_order_id
    order.state = update.state.value
    order.filled_qty = max(update.filled_qty, order.filled_qty)
    if update.filled_avg_price is not None:
        order.filled_avg_price = update.filled_avg_price
    if new_fills:
        order.filled_at = max(f.filled_at for f in new_fills)
    if order.submitted_at is None and update.state is not OrderState.PENDING:
        order.submitted_at = now
    if update.reason and update.reason not in order.reason:
        order.reason = "; ".join(p for p in (order.reason, update.reason) if p)
    order.updated_at = now
