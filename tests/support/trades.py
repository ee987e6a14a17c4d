"""Round-trip test data (importable as ``support.trades``): fills and closed trips built from a few numbers.

Shared by the tests of :mod:`bot.analytics.round_trips`, :mod:`bot.analytics.trade_stats` and
:mod:`bot.analytics.trade_records`. Times are minutes after :data:`T0` (a Monday, 14:30 UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from bot.analytics.round_trips import RoundTrip
from bot.domain import Fill, PositionSide, Side

UTC = timezone.utc
T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # a Monday
D = Decimal


def close(actual: Decimal | None, expected: Decimal) -> bool:
    """Equal up to the rounding of a division (the module divides with 60 digits, tests with 28)."""
    assert actual is not None
    return abs(actual - expected) <= D("1e-25") * max(1, abs(expected))


def fill(
    fill_id: str,
    side: str,
    qty: str | int,
    price: str | int,
    *,
    fee: str | int = 0,
    minute: int = 0,
    symbol: str = "AAPL",
    timeframe: str = "1h",
    order_id: str | None = None,
    stop: str | None = None,
    reason: str = "signal",
) -> Fill:
    return Fill(
        fill_id=fill_id,
        order_id=order_id or "o" + fill_id,
        symbol=symbol,
        timeframe=timeframe,
        side=Side(side),
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        filled_at=T0 + timedelta(minutes=minute),
        stop_loss_pct=D(stop) if stop is not None else None,
        exit_reason=reason,
    )


def trip(
    pnl: str | int,
    minute: int,
    *,
    side: PositionSide = PositionSide.LONG,
    symbol: str = "AAPL",
    timeframe: str = "1h",
    fees: str = "0",
    hold_minutes: int = 60,
) -> RoundTrip:
    exit_at = T0 + timedelta(minutes=minute)
    entry_at = exit_at - timedelta(minutes=hold_minutes)
    return RoundTrip(
        trade_id=f"{symbol}-{timeframe}-{minute}",
        symbol=symbol,
        timeframe=timeframe,
        side=side,
        qty=D(1),
        entry_at=entry_at,
        entry_price=D(100),
        exit_at=exit_at,
        exit_price=D(100) + D(pnl),
        fees=D(fees),
        pnl=D(pnl),
        pnl_pct=D(pnl),
        r_multiple=None,
        holding_time=exit_at - entry_at,
        exit_reason="signal",
    )
