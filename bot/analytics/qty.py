"""Quantity formulas shared by the engine's sizing and the dashboard's calculator (pure, Decimal).

Quantities are base units rounded **down** to the venue step, so an order never exceeds the intended
notional or risk. Money is quote currency (USD/USDT); percentages are plain (2 = 2 %).
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain import round_down

HUNDRED = Decimal(100)


HUNDRED = Decimal(100)


class SizingError(ValueError):
    """The size cannot be traded; the message is the user-facing reason (``FAILED`` + Note)."""


def qty_for_notional(notional: Decimal, price: Decimal, step: Decimal) -> Decimal:
    """``notional / price`` rounded down to ``step``. ``price`` must be > 0."""
    return round_down(notional / price, step)


def qty_for_risk(
    risk_amount: Decimal, entry: Decimal, stop: Decimal, step: Decimal, fee_rate: Decimal = Decimal(0)
) -> Decimal:
    """Quantity whose loss at ``stop`` (plus fees on entry and exit) equals ``risk_amount``.

    Formula: ``qty = risk / (|entry − stop| + fee_rate × (entry + stop))`` (linear contracts),
    rounded down to ``step``.

    Raises:
        SizingError: when entry equals stop (infinite size).
    """
    per_unit = abs(entry - stop) + fee_rate * (entry + stop)
    if per_unit <= 0:
        raise SizingError("stop equals entry: risk per unit is zero")
    return round_down(risk_amount / per_unit, step)
