"""Independent reference for the round trips an alert stream should produce.

This module deliberately imports nothing from :mod:`bot`: it is a second, much simpler
implementation of the slot semantics in DESIGN.md §4, used to check what the bot records.

What it models
--------------
- Each ``(symbol, timeframe)`` pair is a *slot* with its own virtual position, independent of
  every other slot (two timeframes on one symbol never disturb each other).
- Every entry is a fixed quantity ``qty`` (the Config row's ``size_type`` ``qty``).
- ``buy``: flat → long ``qty``; short → close the short, then long ``qty``; long → no-op.
- ``sell``: flat → short ``qty``; long → close the long, then short ``qty``; short → no-op.
- ``close``: long/short → flat; flat → no-op.
- Every fill is at the alert's ``price``, with no slippage, no rounding to a step size and no
  minimum notional. Each fill pays ``qty * price * fee_rate``; a reversal is two fills (the
  closing one charged to the old round trip, the opening one to the new), which equals the fee
  on the single net order the broker would receive.
- A *round trip* runs flat → position → flat. Its ``pnl`` is
  ``direction * qty * (exit_price - entry_price) - entry_fee - exit_fee`` (direction +1 long,
  -1 short). A position still open at the end of the stream is reported in
  :attr:`ReferenceResult.open_positions`, not as a round trip.

Arithmetic is exact :class:`~decimal.Decimal` (no quantisation). Alerts are processed in the
order given (the order a replay posts them). Accepted field aliases: ``ticker`` for ``symbol``,
``interval`` for ``timeframe``, ``timenow`` for ``time``; actions ``long``/``short``/``exit``/
``flat`` (case-insensitive). Symbols lose their exchange prefix (``NASDAQ:AAPL`` → ``AAPL``) and
a ``.P`` perpetual suffix; timeframes are made canonical (``D`` → ``1d``, ``W`` → ``1w``, …).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "OpenPosition",
    "ReferenceResult",
    "RoundTrip",
    "SymbolTotals",
    "bare_symbol",
    "canonical_timeframe",
    "round_trips",
    "simulate",
    "totals",
]

_ACTIONS = {
    "buy": "buy",
    "long": "buy",
    "sell": "sell",
    "short": "sell",
    "close": "close",
    "exit": "close",
    "flat": "close",
}

_TIMEFRAME_UNITS = {
    "": "m",
    "s": "s",
    "sec": "s",
    "m": "m",
    "min": "m",
    "h": "h",
    "hr": "h",
    "hour": "h",
    "d": "d",
    "day": "d",
    "w": "w",
    "wk": "w",
    "week": "w",
}
_TIMEFRAME = re.compile(r"^\s*(\d*)\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True)
class RoundTrip:
    """One closed position of one slot: flat → long/short ``qty`` → flat.

    ``fees`` is the entry fee plus the exit fee; ``pnl`` is net of ``fees``. Times are the
    alerts' ``time`` strings as given.
    """

    symbol: str
    timeframe: str
    side: str  # "long" | "short"
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_time: str
    exit_time: str
    fees: Decimal
    pnl: Decimal


@dataclass(frozen=True)
class OpenPosition:
    """A slot's position still open after the last alert."""

    symbol: str
    timeframe: str
    side: str
    qty: Decimal
    entry_price: Decimal
    entry_time: str
    entry_fee: Decimal


@dataclass(frozen=True)
class SymbolTotals:
    """Aggregate of round trips: count, wins (``pnl > 0``), losses (``pnl < 0``) and net pnl.

    A round trip with ``pnl == 0`` counts as a trade but neither a win nor a loss.
    """

    symbol: str
    trades: int
    wins: int
    losses: int
    pnl: Decimal


@dataclass(frozen=True)
class ReferenceResult:
    """Output of :func:`simulate`.

    ``trips`` are in the order they closed; ``by_symbol`` is keyed by bare symbol (sorted);
    ``total`` has ``symbol == "TOTAL"``; ``open_positions`` is keyed by ``(symbol, timeframe)``.
    """

    trips: list[RoundTrip]
    by_symbol: dict[str, SymbolTotals]
    total: SymbolTotals
    open_positions: dict[tuple[str, str], OpenPosition]


def bare_symbol(raw: str) -> str:
    """``"NASDAQ:AAPL"`` → ``"AAPL"``; ``"BINANCE:BTCUSDT.P"`` → ``"BTCUSDT"``; upper-cased."""
    text = str(raw).strip().upper()
    text = text.rsplit(":", 1)[-1]
    if text.endswith(".P"):
        text = text[:-2]
    if not text:
        raise ValueError(f"empty symbol in {raw!r}")
    return text


def canonical_timeframe(raw: str) -> str:
    """Make a TradingView interval canonical: ``"D"``/``"1D"`` → ``"1d"``, ``"W"`` → ``"1w"``.

    Also ``"M"`` → ``"1M"`` (month), bare minutes ``"15"`` → ``"15m"``, ``"60"`` → ``"1h"``,
    ``"240"`` → ``"4h"``, and already canonical values (``"15m"``, ``"1h"``, ``"1d"``) unchanged.
    """
    text = str(raw).strip()
    match = _TIMEFRAME.match(text)
    if not match:
        raise ValueError(f"unknown timeframe {raw!r}")
    count = int(match.group(1)) if match.group(1) else 1
    word = match.group(2)
    if word == "M" or word.lower() in ("mo", "mon", "month", "months"):
        unit = "M"
    else:
        lowered = word.lower()
        if lowered.endswith("s") and lowered[:-1] in _TIMEFRAME_UNITS and lowered != "s":
            lowered = lowered[:-1]
        if lowered not in _TIMEFRAME_UNITS:
            raise ValueError(f"unknown timeframe {raw!r}")
        unit = _TIMEFRAME_UNITS[lowered]
    if count <= 0:
        raise ValueError(f"unknown timeframe {raw!r}")
    if unit == "m" and count % 60 == 0:
        count, unit = count // 60, "h"
    return f"{count}{unit}"


def _decimal(raw: object, name: str) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"bad {name}: {raw!r}")
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except decimal.InvalidOperation:
        raise ValueError(f"bad {name}: {raw!r}") from None
    if not value.is_finite():
        raise ValueError(f"bad {name}: {raw!r}")
    return value


def _field(alert: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in alert and alert[name] is not None:
            return alert[name]
    raise ValueError(f"alert has no {names[0]!r}: {alert!r}")


def simulate(
    alerts: Iterable[Mapping[str, Any]],
    qty: Decimal | int | str,
    fee_rate: Decimal | int | str = 0,
) -> ReferenceResult:
    """Replay ``alerts`` (dicts as parsed from the JSON lines) through independent slots.

    ``qty`` is the fixed entry quantity of every slot; ``fee_rate`` the fraction of notional
    charged per fill (``"0.001"`` = 0.1 %). Prices may be ``Decimal``, ``int``, ``str`` or
    ``float`` (floats go through ``str`` first). See the module docstring for the rules.
    """
    size = _decimal(qty, "qty")
    rate = _decimal(fee_rate, "fee_rate")
    if size <= 0:
        raise ValueError("qty must be positive")
    if rate < 0:
        raise ValueError("fee_rate must not be negative")
    trips: list[RoundTrip] = []
    slots: dict[tuple[str, str], OpenPosition] = {}
    with decimal.localcontext() as ctx:
        ctx.prec = 60  # far more than any product here needs: results are exact
        for alert in alerts:
            raw_action = str(_field(alert, "action")).strip().lower()
            if raw_action not in _ACTIONS:
                raise ValueError(f"unknown action {raw_action!r}")
            action = _ACTIONS[raw_action]
            symbol = bare_symbol(_field(alert, "symbol", "ticker"))
            timeframe = canonical_timeframe(_field(alert, "timeframe", "interval"))
            price = _decimal(_field(alert, "price"), "price")
            if price <= 0:
                raise ValueError(f"price must be positive: {alert!r}")
            when = str(_field(alert, "time", "timenow"))
            key = (symbol, timeframe)
            held = slots.get(key)
            wanted = {"buy": "long", "sell": "short", "close": None}[action]
            if held is not None and held.side == wanted:
                continue  # ALREADY LONG / ALREADY SHORT: no order
            if held is not None:
                exit_fee = held.qty * price * rate
                direction = 1 if held.side == "long" else -1
                gross = direction * held.qty * (price - held.entry_price)
                fees = held.entry_fee + exit_fee
                trips.append(
                    RoundTrip(
                        symbol=symbol,
                        timeframe=timeframe,
                        side=held.side,
                        qty=held.qty,
                        entry_price=held.entry_price,
                        exit_price=price,
                        entry_time=held.entry_time,
                        exit_time=when,
                        fees=fees,
                        pnl=gross - fees,
                    )
                )
                del slots[key]
            if wanted is not None:
                slots[key] = OpenPosition(
                    symbol=symbol,
                    timeframe=timeframe,
                    side=wanted,
                    qty=size,
                    entry_price=price,
                    entry_time=when,
                    entry_fee=size * price * rate,
                )
    by_symbol, total = totals(trips)
    return ReferenceResult(trips=trips, by_symbol=by_symbol, total=total, open_positions=slots)


def round_trips(
    alerts: Iterable[Mapping[str, Any]],
    qty: Decimal | int | str,
    fee_rate: Decimal | int | str = 0,
) -> list[RoundTrip]:
    """Shortcut for ``simulate(alerts, qty, fee_rate).trips``."""
    return simulate(alerts, qty, fee_rate).trips


def totals(trips: Iterable[RoundTrip]) -> tuple[dict[str, SymbolTotals], SymbolTotals]:
    """Aggregate round trips per symbol (all timeframes together) and overall.

    Returns ``(by_symbol, total)``; ``by_symbol`` is sorted by symbol and ``total.symbol`` is
    ``"TOTAL"``.
    """
    counts: dict[str, list[Any]] = {}
    for trip in trips:
        row = counts.setdefault(trip.symbol, [0, 0, 0, Decimal(0)])
        row[0] += 1
        row[1] += trip.pnl > 0
        row[2] += trip.pnl < 0
        row[3] += trip.pnl
    by_symbol = {
        symbol: SymbolTotals(symbol, int(row[0]), int(row[1]), int(row[2]), row[3])
        for symbol, row in sorted(counts.items())
    }
    total = SymbolTotals(
        "TOTAL",
        sum(t.trades for t in by_symbol.values()),
        sum(t.wins for t in by_symbol.values()),
        sum(t.losses for t in by_symbol.values()),
        sum((t.pnl for t in by_symbol.values()), Decimal(0)),
    )
    return by_symbol, total
