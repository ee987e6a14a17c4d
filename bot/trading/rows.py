"""Cells the engine writes to the Config, Signals and Orders tabs (pure formatting).

Every value passes through :func:`~bot.parsing.safe_cell`; times are shown in the configured zone
as ``YYYY-MM-DD HH:MM:SS``; decimals as plain text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.domain import format_decimal
from bot.parsing import safe_cell

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
