"""The alert path's second step: what order does the signal need? (slot → decision → size → risk).

Reads the slot (after booking exits that fired at the venue), the venue's rules for the symbol,
decides the slot transition, sizes the opening leg and applies the risk limits to it. Exits are never
blocked: an entry that cannot be sized or is blocked is dropped while its closing leg still goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.analytics.qty import SizingError
from bot.brokers.base import Broker, OrderRequest
from bot.domain import ConfigRow, PositionSide, RowStatus, Side, SlotState
from bot.errors import BrokerRejected, ConfigError, TemporaryError
from bot.records import Instrument
from bot.settings import RuntimeSettings
from bot.state import ledger
from bot.trading.context import TradingContext
from bot.trading.decision import Decision, decide
from bot.trading.gate import Skip
from bot.trading.recording import Incoming
from bot.trading.risk_gate import RiskGate
from bot.trading.sizing import entry_size
from bot.trading.venue_exits import ExitBook

ZERO = Decimal(0)


@dataclass(frozen=True)
class OrderPlan:
    """The order a signal needs: the ``request`` for the venue, the ``order_values`` to record (columns of
    ``orders``), and the ``slot`` it was planned against (read under the symbol's lock)."""

    request: OrderRequest
    order_values: dict[str, Any]
    slot: SlotState


@dataclass
class _Sized:
    decision: Decision
    open_qty: Decimal = ZERO
    price: Decimal | None = None
    notes: list[str] = field(default_factory=list)


def plan_order(
    ctx: TradingContext,
    exits: ExitBook,
    risk: RiskGate,
    incoming: Incoming,
    row: ConfigRow,
    broker: Broker,
    runtime: RuntimeSettings,
    client_order_id: str,
) -> OrderPlan | Skip:
    """Plan the order for ``incoming`` on ``row`` at ``broker``, or the :class:`Skip` that stops it.

    The caller holds the symbol's lock. Orders accepted but not yet filled count as filled (a repeated
    buy while the first is queued must not buy twice); a slot with a position first books the
    protective exits that fired at the venue, so a close never sells the same shares twice.
    """
    signal = incoming.signal
    slot, exit_entries, exits_unread = _slot_after_exits(ctx, exits, incoming, broker)
    try:
        instrument = broker.instrument(signal.symbol)
    except ConfigError as exc:
        ctx.emit("config_error", f"{signal.key}: {exc}", signal.key)
        return Skip("skipped", str(exc), status=RowStatus.CONFIG_ERROR)
    except (BrokerRejected, TemporaryError) as exc:
        return Skip("failed", f"instrument lookup failed: {exc}", status=RowStatus.FAILED)
    inflight = ZERO if broker.capabilities.inline_fills else ledger.unfilled_qty(ctx.store, signal.key)
    effective = slot.qty + inflight
    decision = decide(signal.action, slot_qty=effective, direction=row.direction, shortable=instrument.shortable)
    if decision.skip_status is not None:
        return Skip("skipped", decision.reason, status=decision.skip_status)
    if exits_unread and decision.close_qty:
        reason = f"{exits_unread}; not sent: if one fired, this order would close the position twice"
        ctx.emit("order_failed", f"{signal.key}: {signal.action.value} not placed: {reason}", signal.key)
        return Skip("failed", reason, status=RowStatus.FAILED)
    sized = _size_entry(ctx, risk, incoming, row, broker, runtime, instrument, decision, slot, effective)
    if isinstance(sized, Skip):
        return sized
    return _plan(incoming, row, broker, sized, slot, effective, client_order_id, exit_entries)


def _slot_after_exits(
    ctx: TradingContext, exits: ExitBook, incoming: Incoming, broker: Broker
) -> tuple[SlotState, list[tuple[str, Any]], str]:
    """``(slot, entries whose exits may be at the venue, reason the exits could not be read or "")``."""
    key = incoming.signal.key
    slot = ctx.read_slot(key)
    if not (slot.qty and broker.capabilities.venue_exits):
        return slot, [], ""
    entries = exits.entries(key, broker.name)
    try:
        if exits.book(key, broker, entries):
            slot = ctx.read_slot(key)
    except (BrokerRejected, TemporaryError, ConfigError) as exc:
        return slot, entries, f"protective exits at {broker.name} could not be read ({exc})"
    return slot, entries, ""


def _size_entry(
    ctx: TradingContext,
    risk: RiskGate,
    incoming: Incoming,
    row: ConfigRow,
    broker: Broker,
    runtime: RuntimeSettings,
    instrument: Instrument,
    decision: Decision,
    slot: SlotState,
    effective: Decimal,
) -> _Sized | Skip:
    """Size the opening leg and check the risk limits; an entry that fails either is dropped (its
    closing leg kept, with a note) or, without a closing leg, stops the signal."""
    signal = incoming.signal
    sized = _Sized(decision=decision, price=signal.price)
    if decision.open_side is None:
        return sized
    if sized.price is None:
        try:
            sized.price = broker.last_price(signal.symbol)
        except (BrokerRejected, TemporaryError):
            sized.price = None
    try:
        if sized.price is None:
            raise SizingError('no price to size the order: add "price": {{close}} to the alert')
        equity = None
        if row.size_type.value in ("pct_equity", "risk_pct") and signal.quantity is None:
            equity = broker.account().equity
        size = entry_size(
            row,
            price=sized.price,
            instrument=instrument,
            equity=equity,
            override_qty=signal.quantity,
            short=decision.open_side is PositionSide.SHORT,
        )
        sized.open_qty = size.qty
        sized.notes.extend(size.notes)
        signed_entry = size.qty if decision.open_side is PositionSide.LONG else -size.qty
        blocked = risk.entry_blocked(row, runtime, slot, signed_entry - effective, sized.price)
    except (SizingError, BrokerRejected, TemporaryError, ConfigError) as exc:
        if not decision.close_qty:
            ctx.emit("order_failed", f"{signal.key}: {signal.action.value} not placed: {exc}", signal.key)
            return Skip("failed", str(exc), status=RowStatus.FAILED)
        sized.notes.append(f"entry skipped: {exc}")
        sized.decision, sized.open_qty = Decision(close_qty=decision.close_qty), ZERO
        return sized
    if blocked:
        if not decision.close_qty:
            ctx.emit("blocked", f"{signal.key}: {signal.action.value} blocked: {blocked}", signal.key)
            return Skip("blocked", blocked, status=RowStatus.BLOCKED)
        sized.notes.append(f"entry blocked: {blocked}")
        sized.decision, sized.open_qty = Decision(close_qty=decision.close_qty), ZERO
    return sized


def _plan(
    incoming: Incoming,
    row: ConfigRow,
    broker: Broker,
    sized: _Sized,
    slot: SlotState,
    effective: Decimal,
    client_order_id: str,
    exit_entries: list[tuple[str, Any]],
) -> OrderPlan:
    """The net order: closing leg plus opening leg in one request, and its ``orders`` columns."""
    signal, decision = incoming.signal, sized.decision
    total = decision.close_qty + sized.open_qty
    side = Side.SELL if (effective > 0 or decision.open_side is PositionSide.SHORT) else Side.BUY
    ref_price = sized.price if sized.price is not None else signal.price
    opening = decision.open_side is not None
    fill_at = signal.fired_at if incoming.replay else None
    request = OrderRequest(
        client_order_id=client_order_id,
        symbol=signal.symbol,
        side=side,
        qty=total,
        ref_price=ref_price,
        reduce_only=not opening,
        leverage=row.leverage,
        stop_loss_pct=row.stop_loss_pct if opening else None,
        take_profit_pct=row.take_profit_pct if opening else None,
        trailing_pct=row.trailing_pct if opening else None,
        extended_hours=row.extended_hours,
        fill_at=fill_at,
        exits_of=tuple(cid for cid, _ in exit_entries) if decision.close_qty else (),
    )
    order_values = {
        "client_order_id": client_order_id,
        "broker": broker.name,
        "symbol": signal.symbol,
        "timeframe": signal.timeframe,
        "side": side.value,
        "qty": total,
        "ref_price": ref_price,
        "notional": (total * ref_price) if ref_price is not None else None,
        "reduce_only": not opening,
        "purpose": decision.purpose,
        "stop_loss_pct": row.stop_loss_pct,
        "reason": "; ".join(sized.notes),
        "replay_fill_at": fill_at,
    }
    return OrderPlan(request=request, order_values=order_values, slot=slot)
