"""Entry sizing of a Config row (pure, Decimal): position_size by size_type, capped, rounded to the venue.

All quantities are base units rounded **down** to the venue step, so an order never exceeds the
intended notional or risk. Money is quote currency (USD/USDT); percentages are plain (2 = 2 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.analytics.qty import HUNDRED, SizingError, qty_for_notional, qty_for_risk
from bot.domain import ConfigRow, SizeType, format_decimal, round_down
from bot.records import Instrument


@dataclass(frozen=True)
class Size:
    """An entry size: ``qty`` (rounded, > 0), its ``notional`` at ``price``, and notes (e.g. capped)."""

    qty: Decimal
    notional: Decimal
    notes: tuple[str, ...] = ()


def entry_size(
    row: ConfigRow,
    *,
    price: Decimal,
    instrument: Instrument,
    equity: Decimal | None = None,
    override_qty: Decimal | None = None,
    short: bool = False,
) -> Size:
    """Size of a new entry for ``row`` at ``price``.

    - ``override_qty`` (the alert's ``quantity``) wins over the row's sizing;
    - ``usd``: ``position_size`` notional; ``qty``: ``position_size`` units;
    - ``pct_equity``: ``equity × position_size / 100`` notional;
    - ``risk_pct``: risk ``equity × position_size / 100`` at a stop ``stop_loss_pct`` away;
    - ``max_position_usd`` caps the notional (noted); shorts on venues that need whole units
      (Alpaca) round to whole shares (noted).

    Raises:
        SizingError: the size rounds to zero or is below the venue minimum (message says which and why),
            or equity is needed but unknown.
    """
    notes: list[str] = []
    step = instrument.qty_step
    if short and instrument.whole_shares_for_short:
        step = max(step, Decimal(1))
    if override_qty is not None:
        qty = round_down(override_qty, step)
    elif row.size_type is SizeType.QTY:
        qty = round_down(row.position_size, step)
    elif row.size_type is SizeType.USD:
        qty = qty_for_notional(row.position_size, price, step)
    else:
        if equity is None or equity <= 0:
            raise SizingError(f"size_type {row.size_type.value} needs the account equity, which is unknown")
        if row.size_type is SizeType.PCT_EQUITY:
            qty = qty_for_notional(equity * row.position_size / HUNDRED, price, step)
        else:
            assert row.stop_loss_pct is not None  # enforced by the Config reader
            distance = price * row.stop_loss_pct / HUNDRED
            stop = price + distance if short else price - distance
            qty = qty_for_risk(equity * row.position_size / HUNDRED, price, stop, step)
    if row.max_position_usd is not None and qty * price > row.max_position_usd:
        qty = qty_for_notional(row.max_position_usd, price, step)
        notes.append(f"capped at max_position_usd {format_decimal(row.max_position_usd)}")
    if qty <= 0:
        raise SizingError(
            f"size rounds to zero: {row.size_type.value} {format_decimal(row.position_size)} at price "
            f"{format_decimal(price)} with step {format_decimal(step)}"
            + (" (shorts need whole shares)" if short and instrument.whole_shares_for_short else "")
        )
    notional = qty * price
    if qty < instrument.min_qty:
        raise SizingError(f"qty {format_decimal(qty)} is below the venue minimum {format_decimal(instrument.min_qty)}")
    if notional < instrument.min_notional:
        raise SizingError(
            f"notional {format_decimal(notional)} is below the venue minimum {format_decimal(instrument.min_notional)}"
        )
    return Size(qty=qty, notional=notional, notes=tuple(notes))
