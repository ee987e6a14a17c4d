"""Money-weighted return: the internal rate of return of dated cash flows (Excel's XIRR, actual/365; pure).

Solved for ``x = ln(1 + r)``: the net present value is scanned outward from ``r = 0`` on both
sides for a sign change (so the root nearest to 0 wins when the flows change sign several times),
then refined by a safeguarded Newton iteration inside that bracket.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone
from itertools import pairwise

import numpy as np

from bot.analytics.inputs import Amount, exact_amount

__all__ = ["DAYS_PER_YEAR", "xirr"]

UTC = timezone.utc
#: Days of the year in every annualisation (actual/365, as Excel's XIRR).
DAYS_PER_YEAR = 365.0


def _scan_steps() -> list[float]:
    """``x`` values of the outward scan: 0, then 1e-3 doubling up to 40 (both signs are tried)."""
    steps = [0.0]
    while steps[-1] < 40.0:
        steps.append(min(40.0, 1e-3 * 2.0 ** (len(steps) - 1)))
    return steps


_STEPS = _scan_steps()


def xirr(cash_flows: Iterable[tuple[date | datetime, Amount]]) -> float | None:
    """Internal rate of return of dated cash flows (Excel's XIRR, actual/365).

    Solves ``Σ amount_i / (1 + r)^((d_i − d_0) / 365) = 0`` for ``r > −1``, with ``d_0`` the
    earliest date (datetimes count fractional days). Solved for ``x = ln(1 + r)`` by a
    safeguarded Newton iteration inside a bracket found by scanning outward from 0 (the root
    nearest to r = 0 wins when the flows change sign several times), to 1e-14 in ``x``.

    Args:
        cash_flows: ``(date or datetime, amount)``; investor's view: money in negative
            (a deposit, the starting value), money out positive (a withdrawal, the end value).

    Returns:
        The annual rate as a fraction (``0.1`` = 10 %), or None when no rate in
        ``(−1, e^40 − 1)`` solves the equation.

    Raises:
        ValueError: no flows, a non-numeric amount, or not at least one positive and one
            negative amount (no rate exists).
    """
    npv = _Npv(*_years_and_amounts(cash_flows))
    if npv.sign(0.0) == 0.0:
        return 0.0
    found = _bracket(npv.sign)
    if found is None:
        return None
    if isinstance(found, float):
        return math.expm1(found)
    low, high = found
    return math.expm1(_newton(npv.value, low, high, npv.sign(low)))


def _years_and_amounts(cash_flows: Iterable[tuple[date | datetime, Amount]]) -> tuple[np.ndarray, np.ndarray]:
    """Years since the earliest flow (actual/365) and the float amounts, after the checks of :func:`xirr`."""
    items = list(cash_flows)
    if not items:
        raise ValueError("xirr: no cash flows")
    stamps = [_as_datetime(item[0]) for item in items]
    origin = min(stamps)
    years = np.array([(stamp - origin).total_seconds() / 86400.0 / DAYS_PER_YEAR for stamp in stamps])
    amounts = np.array([float(exact_amount(item[1], "xirr amount")) for item in items])
    if not (amounts > 0).any() or not (amounts < 0).any():
        raise ValueError("xirr: needs at least one positive and one negative cash flow")
    return years, amounts


class _Npv:
    """Net present value of the flows as a function of ``x = ln(1 + r)``, its sign memoised."""

    def __init__(self, years: np.ndarray, amounts: np.ndarray) -> None:
        self.years = years
        self.amounts = amounts
        self.sign_at: dict[float, float] = {}

    def value(self, x: float) -> tuple[float, float]:
        """NPV and its derivative in x, both scaled by the same positive factor (no overflow)."""
        exponents = -x * self.years
        weights = np.exp(exponents - exponents.max())
        return float((self.amounts * weights).sum()), float((-self.years * self.amounts * weights).sum())

    def sign(self, x: float) -> float:
        """``-1.0``, ``0.0`` or ``1.0``: the sign of the NPV at ``x``."""
        if x not in self.sign_at:
            npv = self.value(x)[0]
            self.sign_at[x] = 0.0 if npv == 0 else math.copysign(1.0, npv)
        return self.sign_at[x]


def _bracket(sign: Callable[[float], float]) -> float | tuple[float, float] | None:
    """Walk outward from ``x = 0`` on both sides: an exact root on the grid (a float), the first
    ``(low, high)`` with a sign change, or None when the NPV keeps its sign up to ``|x| = 40``."""
    for inner, outer in pairwise(_STEPS):  # walk outward from r = 0 on both sides
        for low, high in ((inner, outer), (-outer, -inner)):
            if sign(low) == 0.0:
                return low
            if sign(high) == 0.0:
                return high
            if sign(low) != sign(high):
                return (low, high)
    return None


def _newton(value: Callable[[float], tuple[float, float]], low: float, high: float, low_sign: float) -> float:
    """Safeguarded Newton iteration for the root of ``value`` in ``(low, high)``, to 1e-14 in ``x``.

    A step that leaves the bracket is replaced by bisection; the bracket shrinks every step.
    """
    x = (low + high) / 2.0
    for _ in range(200):
        npv, slope = value(x)
        if npv == 0.0:
            break
        if math.copysign(1.0, npv) == low_sign:
            low = x
        else:
            high = x
        candidate = x - npv / slope if slope != 0.0 else math.nan
        if not (low < candidate < high):
            candidate = (low + high) / 2.0
        if abs(candidate - x) < 1e-14 or high - low < 1e-14:
            x = candidate
            break
        x = candidate
    return x


def _as_datetime(value: date | datetime) -> datetime:
    """A datetime as is (naive read as UTC), a date as its UTC midnight; ValueError for anything else."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"xirr: {value!r} is not a date")
