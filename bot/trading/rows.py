"""Cells the engine writes to the Config, Signals and Orders tabs: the workbook projection of the state DB.

Every value passes through :func:`~bot.parsing.safe_cell`; times are shown in the configured zone
as ``YYYY-MM-DD HH:MM:SS``; decimals as plain text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import OrderState, RowStatus, Signal, SlotKey, format_decimal, utc_now
from bot.parsing import safe_cell
from bot.state.store import StateStore
from bot.trading.config_table import ConfigSnapshot

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def fmt_time(value: datetime | None, zone: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in ``zone``; ``""`` for None."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def clean(values: dict[str, object]) -> dict[str, str]:
    """Formula-safe cell texts."""
    return {key: safe_cell(value) for key, value in values.items()}


def signal_row(
    *,
    signal_id: int,
    received_at: datetime,
    alert_id: str,
    action: str,
    symbol: str,
    timeframe: str,
    price: Decimal | None,
    result: str,
    reason: str,
    latency_ms: Decimal | None,
    zone: ZoneInfo,
) -> dict[str, str]:
    """A Signals-tab row (keyed by ``signal_id``)."""
    return clean(
        {
            "received_at": fmt_time(received_at, zone),
            "alert_id": alert_id,
            "action": action,
            "symbol": symbol,
            "timeframe": timeframe,
            "price": format_decimal(price),
            "result": result,
            "reason": reason,
            "latency_ms": format_decimal(latency_ms.quantize(TENTH) if latency_ms is not None else None),
            "signal_id": str(signal_id),
        }
    )


def order_row(
    *,
    submitted_at: datetime | None,
    broker_order_id: str,
    client_order_id: str,
    broker: str,
    symbol: str,
    timeframe: str,
    side: str,
    qty: Decimal,
    notional: Decimal | None,
    state: str,
    filled_qty: Decimal,
    filled_avg_price: Decimal | None,
    filled_at: datetime | None,
    reason: str,
    zone: ZoneInfo,
) -> dict[str, str]:
    """An Orders-tab row (keyed by ``client_order_id``); notional rounded to cents."""
    return clean(
        {
            "submitted_at": fmt_time(submitted_at, zone),
            "order_id": broker_order_id,
            "client_order_id": client_order_id,
            "broker": broker,
            "symbol": symbol,
            "timeframe": timeframe,
            "side": side,
            "qty": format_decimal(qty),
            "notional": format_decimal(notional.quantize(CENT) if notional is not None else None),
            "status": state,
            "filled_qty": format_decimal(filled_qty),
            "filled_avg_price": format_decimal(filled_avg_price),
            "filled_at": fmt_time(filled_at, zone),
            "reason": reason,
        }
    )


def last_signal_text(action: str, price: Decimal | None, at: datetime, zone: ZoneInfo) -> str:
    """``"buy @ 190.5 2024-05-01 14:30:00"`` for the Config row's ``Last Signal``."""
    shown = f" @ {format_decimal(price)}" if price is not None else ""
    return f"{action}{shown} {fmt_time(at, zone)}"


def row_status(state: OrderState, filled: Decimal, slot_qty: Decimal) -> RowStatus:
    """The Config row's ``Order Status`` for an order in ``state`` with ``filled`` base units filled, given
    the slot's resulting signed ``slot_qty``: a (partly) filled final order is ``FILLED``, or ``WAITING``
    when it left the slot flat."""
    if state is OrderState.FILLED or (state.is_final and filled > 0):
        return RowStatus.WAITING if slot_qty == 0 else RowStatus.FILLED
    if state is OrderState.PARTIALLY_FILLED:
        return RowStatus.PARTIALLY_FILLED
    if state is OrderState.QUEUED:
        return RowStatus.QUEUED
    if state in (OrderState.PENDING, OrderState.SUBMITTED):
        return RowStatus.ORDER_SUBMITTED
    return RowStatus.FAILED


class RowProjection:
    """Outbox entries that project the state DB onto the Signals, Orders and Config tabs.

    Each method returns the column values of one outbox entry (:meth:`StateStore.outbox_row`) for a
    group-commit unit or an ORM transaction to queue. ``row_status`` remembers the latest ``Order Status``
    this process queued per row (the sheet may lag behind the outbox).

    Args:
        zone: the display time zone of the workbook cells.
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.row_status: dict[SlotKey, str] = {}

    def signal(self, signal_pk: int, values: dict[str, Any]) -> dict[str, Any]:
        """Upsert of the Signals row of signal ``signal_pk`` from its column ``values``."""
        row = signal_row(
            signal_id=signal_pk,
            received_at=values["received_at"],
            alert_id=values.get("alert_id", ""),
            action=values.get("action", ""),
            symbol=values.get("symbol", ""),
            timeframe=values.get("timeframe", ""),
            price=values.get("price"),
            result=values.get("result", ""),
            reason=values.get("reason", ""),
            latency_ms=values.get("latency_ms"),
            zone=self.zone,
        )
        return StateStore.outbox_row("upsert", "Signals", row, (str(signal_pk),))

    def order(self, order: dict[str, Any]) -> dict[str, Any]:
        """Upsert of the Orders row of ``order`` (its column values, keyed by ``client_order_id``)."""
        row = order_row(
            submitted_at=order.get("submitted_at") or order.get("created_at"),
            broker_order_id=order.get("broker_order_id") or "",
            client_order_id=order["client_order_id"],
            broker=order["broker"],
            symbol=order["symbol"],
            timeframe=order["timeframe"],
            side=order["side"],
            qty=order["qty"],
            notional=order.get("notional"),
            state=order["state"],
            filled_qty=order.get("filled_qty") or Decimal(0),
            filled_avg_price=order.get("filled_avg_price"),
            filled_at=order.get("filled_at"),
            reason=order.get("reason") or "",
            zone=self.zone,
        )
        return StateStore.outbox_row("upsert", "Orders", row, (order["client_order_id"],))

    def config(self, key: SlotKey, values: dict[str, str]) -> dict[str, Any]:
        """Write of ``values`` (header → text) plus ``Last Updated`` on the Config row of ``key``."""
        if "Order Status" in values:
            self.row_status[key] = values["Order Status"]
        cells = {**values, "Last Updated": fmt_time(utc_now(), self.zone)}
        return StateStore.outbox_row(
            "write", "Config", {k: safe_cell(v) for k, v in cells.items()}, (key.symbol, key.timeframe)
        )

    def last_signal(self, signal: Signal, received_at: datetime) -> str:
        """The ``Last Signal`` cell for ``signal`` (fired time, else the time it was received)."""
        return last_signal_text(signal.action.value, signal.price, signal.fired_at or received_at, self.zone)


def config_reload_writes(snapshot: ConfigSnapshot) -> list[tuple[SlotKey, dict[str, str]]]:
    """Config cells to write after a reload: ``INACTIVE`` / ``CONFIG ERROR`` (with the reason in ``Note``)
    on rows whose sheet status disagrees, ``READY`` on usable rows still showing none of those. Pure."""
    writes: list[tuple[SlotKey, dict[str, str]]] = []
    for key, problem in snapshot.problems.items():
        status = RowStatus.CONFIG_ERROR if problem.active else RowStatus.INACTIVE
        note = f"row {problem.row_number}: {problem.reason}"
        if snapshot.statuses.get(key) != (status.value, note):
            writes.append((SlotKey(*key), {"Order Status": status.value, "Note": note}))
    for slot_key in snapshot.inactive:
        key = (slot_key.symbol, slot_key.timeframe)
        if key not in snapshot.problems and snapshot.statuses.get(key, ("", ""))[0] != RowStatus.INACTIVE.value:
            writes.append((slot_key, {"Order Status": RowStatus.INACTIVE.value, "Note": ""}))
    for slot_key in snapshot.rows:
        current = snapshot.statuses.get((slot_key.symbol, slot_key.timeframe), ("", ""))[0]
        if current in ("", RowStatus.INACTIVE.value, RowStatus.CONFIG_ERROR.value):
            writes.append((slot_key, {"Order Status": RowStatus.READY.value, "Note": ""}))
    return writes
