"""Orders at a venue that fills inside the state DB transaction (``capabilities.inline_fills``: paper).

Alert, order, fill, slot and outbox rows commit in one group-commit unit, so the paper venue's book and
the slots can never disagree, even across a crash.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.brokers.base import Broker, OrderRequest, OrderUpdate
from bot.domain import OrderState, RowStatus, SlotKey, SlotState, format_decimal, utc_now
from bot.errors import BrokerRejected
from bot.state import ledger
from bot.trading.context import TradingContext
from bot.trading.fills import elapsed_ms
from bot.trading.positions import apply_fill
from bot.trading.recording import Incoming, Recorder
from bot.trading.rows import row_status

ZERO = Decimal(0)


def fill_inline(
    ctx: TradingContext,
    recorder: Recorder,
    broker: Broker,
    request: OrderRequest,
    incoming: Incoming,
    order_values: dict[str, Any],
    slot_before: SlotState,
    fee_rate: Decimal,
) -> dict[str, Any]:
    """Execute ``request`` at the inline venue and commit everything it caused in one unit.

    ``slot_before``: the slot read under the symbol's lock; ``fee_rate``: the paper fee, read before the
    unit (nothing inside a state-DB transaction may wait for the config). Returns the reply fields
    ``status``, ``order_status``, ``reason``, ``order_id``. Raises TemporaryError (state DB down).
    """
    key = incoming.signal.key

    def unit(conn: ledger.Conn) -> tuple[RowStatus, str, SlotState, OrderUpdate, int]:
        try:
            result = broker.execute(conn, request, fresh=True, fee_rate=fee_rate)
        except BrokerRejected as exc:
            result = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
        slot, fills = _fills(key, request, result, slot_before)
        status = row_status(result.state, result.filled_qty, slot.qty)
        reason = "; ".join(p for p in (order_values["reason"], result.reason) if p)
        signal_values = _signal_values(incoming, request, result, status, reason)
        signal_pk = ledger.insert_signal(conn, signal_values)
        order = _order_values(order_values, signal_pk, result, fills, reason)
        order_pk = ledger.insert_order(conn, order)
        if fills:
            ledger.insert_fills(conn, [{**f, "order_id": order_pk} for f in fills])
            ledger.write_slot(conn, key, broker.name, slot)
        cells = {
            "Order Status": status.value,
            "Position": format_decimal(slot.qty),
            "Last Order ID": order["broker_order_id"] or request.client_order_id,
            "Last Signal": ctx.rows.last_signal(incoming.signal, incoming.received_at),
            "Note": reason,
        }
        rows = ctx.rows
        ledger.enqueue(conn, [rows.signal(signal_pk, signal_values), rows.order(order), rows.config(key, cells)])
        return status, reason, slot, result, signal_pk

    status, reason, slot, result, signal_pk = ctx.store.committer.run(unit)
    broker.committed(request, result)
    ctx.slots[key] = slot
    recorder.remember(incoming, signal_pk)
    _notify(ctx, key, status, request, reason, slot)
    failed = status is RowStatus.FAILED
    return {
        "status": "failed" if failed else "success",
        "order_status": status.value,
        "reason": reason,
        "order_id": request.client_order_id if failed else f"paper-{request.client_order_id}",
    }


def _fills(
    key: SlotKey, request: OrderRequest, result: OrderUpdate, slot: SlotState
) -> tuple[SlotState, list[dict[str, Any]]]:
    """The slot after ``result``'s fills and the ``fills`` rows (without ``order_id``) they make."""
    fills = []
    for fill in result.fills:
        slot, realised = apply_fill(slot, request.side, fill.qty, fill.price, fill.fee, fill.filled_at)
        fills.append(
            {
                "broker_fill_id": fill.fill_id,
                "symbol": key.symbol,
                "timeframe": key.timeframe,
                "side": request.side.value,
                "qty": fill.qty,
                "price": fill.price,
                "fee": fill.fee,
                "filled_at": fill.filled_at,
                "realised_pnl": realised,
            }
        )
    return slot, fills


def _signal_values(
    incoming: Incoming, request: OrderRequest, result: OrderUpdate, status: RowStatus, reason: str
) -> dict[str, Any]:
    submitted_ms = elapsed_ms(incoming.started)
    return {
        **incoming.signal_values(),
        "result": "failed" if status is RowStatus.FAILED else "success",
        "reason": reason,
        "row_status": status.value,
        "order_id": result.broker_order_id or request.client_order_id,
        "submitted_ms": submitted_ms,
        "latency_ms": submitted_ms,
        "filled_ms": submitted_ms if result.state is OrderState.FILLED else None,
    }


def _order_values(
    order_values: dict[str, Any], signal_pk: int, result: OrderUpdate, fills: list[dict[str, Any]], reason: str
) -> dict[str, Any]:
    now = utc_now()
    return {
        **order_values,
        "signal_id": signal_pk,
        "broker_order_id": result.broker_order_id,
        "state": result.state.value,
        "filled_qty": result.filled_qty,
        "filled_avg_price": result.filled_avg_price,
        "fees": sum((f["fee"] for f in fills), start=ZERO),
        "created_at": now,
        "submitted_at": now,
        "updated_at": now,
        "reason": reason,
        "filled_at": max((f["filled_at"] for f in fills), default=None),
    }


def _notify(
    ctx: TradingContext, key: SlotKey, status: RowStatus, request: OrderRequest, reason: str, slot: SlotState
) -> None:
    """``order_failed`` or ``order_filled`` for an inline order's outcome."""
    if status is RowStatus.FAILED:
        ctx.emit(
            "order_failed", f"order failed: {request.side.value} {format_decimal(request.qty)} {key}: {reason}", key
        )
    elif status in (RowStatus.FILLED, RowStatus.WAITING):
        ctx.emit(
            "order_filled",
            f"filled: {request.side.value} {format_decimal(request.qty)} {key} @ "
            f"{format_decimal(request.ref_price)}; position {format_decimal(slot.qty)}",
            key,
        )
