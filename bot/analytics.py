"""Portfolio analytics: time- and money-weighted returns, risk metrics, benchmark, calendars.

Pure functions, no I/O (pandas and numpy only). Inputs are account equity snapshots and cash
flows (the Snapshots and CashFlows tabs) or closed round trips (:mod:`bot.performance`).

Conventions:

- Times are tz-aware; a *day* is a calendar day in the ``zone`` argument (default UTC; use the
  exchange's zone, e.g. ``America/New_York``, for stocks). Day indexes are tz-naive midnight
  :class:`pandas.Timestamp` values of that local day, index name ``"day"``.
- Returns are fractions (``0.01`` = 1 %), floats. Amounts of money reported back (period P&L,
  start and end values, flows) are exact :class:`~decimal.Decimal` computed from the inputs
  (floats are taken by their shortest ``repr``); values used for returns are floats.
- Risk metrics follow empyrical-reloaded's definitions (``empyrical/stats.py``) so they agree
  with it to floating-point rounding; where empyrical answers NaN or ±inf (too few values, no
  dispersion, no drawdown) these functions answer ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from bot.parsing import parse_decimal
from bot.performance import RoundTrip

__all__ = [
    "PERIODS",
    "BenchmarkComparison",
    "Drawdown",
    "PeriodReturn",
    "RiskMetrics",
    "annual_volatility",
    "benchmark_comparison",
    "cagr",
    "calmar_ratio",
    "daily_returns",
    "daily_trade_stats",
    "daily_twr",
    "max_drawdown",
    "period_returns",
    "pnl_by_hour",
    "pnl_by_weekday",
    "risk_metrics",
    "sharpe_ratio",
    "sortino_ratio",
    "xirr",
]

UTC = timezone.utc

Amount: TypeAlias = Decimal | float | int
#: Equity snapshots: a Series of equity indexed by tz-aware times, or ``(time, equity)`` pairs.
EquityInput: TypeAlias = pd.Series | Iterable[tuple[datetime, Amount]]
#: Cash flows: a Series of signed amounts (deposit > 0, withdrawal < 0) indexed by tz-aware
#: times, ``(time, signed amount)`` pairs, or ``(time, "deposit"|"withdrawal", amount ≥ 0)``.
FlowInput: TypeAlias = pd.Series | Iterable[tuple[datetime, Amount] | tuple[datetime, str, Amount]]

#: Periods of :func:`period_returns`, in output order.
PERIODS: tuple[str, ...] = ("7d", "30d", "90d", "YTD", "1y", "inception")

_DAYS_PER_YEAR = 365.0
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --------------------------------------------------------------------------------------------
# Input normalisation
# --------------------------------------------------------------------------------------------


def _exact(value: Any, what: str) -> Decimal:
    """Exact Decimal of a number or numeric text (``"$1,234.50"``); floats by their repr."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: {value!r} is not a number")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = parse_decimal(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    else:
        try:
            result = Decimal(repr(float(value)))
        except (TypeError, ValueError):
            raise ValueError(f"{what}: {value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


def _utc_index(times: Sequence[Any] | pd.Index, what: str) -> pd.DatetimeIndex:
    try:
        index = pd.DatetimeIndex(times)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: times must be tz-aware datetimes ({exc})") from None
    if len(index) and index.tz is None:
        raise ValueError(f"{what}: times must be tz-aware (got naive times such as {index[0]})")
    return index.tz_convert(UTC) if len(index) else pd.DatetimeIndex([], tz=UTC)


def _local_days(index: pd.DatetimeIndex, zone: tzinfo) -> pd.DatetimeIndex:
    # one resolution (ns) for every day index, so their ``asi8`` integers compare
    return index.tz_convert(zone).tz_localize(None).normalize().as_unit("ns")


def _flows(flows: FlowInput | None) -> tuple[pd.DatetimeIndex, list[Decimal]]:
    """Cash flows as (UTC times, signed exact amounts), deposits positive."""
    if flows is None:
        return pd.DatetimeIndex([], tz=UTC), []
    if isinstance(flows, pd.Series):
        amounts = [_exact(value, "cash flow amount") for value in flows.to_numpy(dtype=object)]
        return _utc_index(flows.index, "cash flows"), amounts
    times: list[Any] = []
    amounts = []
    for item in flows:
        if len(item) == 2:
            at, amount = item  # type: ignore[misc]
            amounts.append(_exact(amount, "cash flow amount"))
        elif len(item) == 3:
            at, kind, amount = item  # type: ignore[misc]
            value = _exact(amount, "cash flow amount")
            if value < 0:
                raise ValueError(f"cash flow amount: {amount!r} must not be negative with a kind")
            kind_text = str(kind).strip().lower()
            if kind_text == "deposit":
                amounts.append(value)
            elif kind_text == "withdrawal":
                amounts.append(-value)
            else:
                raise ValueError(f"cash flow kind: {kind!r} is not deposit or withdrawal")
        else:
            raise ValueError(f"cash flow: {item!r} is not (time, amount) or (time, kind, amount)")
        times.append(at)
    return _utc_index(times, "cash flows"), amounts


@dataclass(frozen=True)
class _Daily:
    """Valuation days and the flows assigned to them (internal to the TWR functions)."""

    days: pd.DatetimeIndex  # local valuation days, ascending
    values: np.ndarray  # float equity at the end of each day
    exact: list[Decimal]  # the same, exact
    inflow: np.ndarray  # deposits counted at the start of day i (since day i-1), float
    outflow: np.ndarray  # withdrawals counted at the end of day i, float (positive)
    flow_days: pd.DatetimeIndex  # local day of every flow
    flow_amounts: list[Decimal]  # signed, exact
    flow_slot: np.ndarray  # valuation-day position each flow is counted in (0 = base, n = later)


def _daily(snapshots: EquityInput, flows: FlowInput | None, zone: tzinfo, weekdays_only: bool) -> _Daily:
    if isinstance(snapshots, pd.Series):
        times: Any = snapshots.index
        raw = list(snapshots.to_numpy(dtype=object))
    else:
        pairs = list(snapshots)
        times = [pair[0] for pair in pairs]
        raw = [pair[1] for pair in pairs]
    index = _utc_index(times, "equity snapshots")
    try:
        floats = np.array(raw, dtype=float)  # fast path: numbers, Decimals, plain numeric text
    except (TypeError, ValueError):
        floats = np.array([float(_exact(value, "equity snapshot")) for value in raw], dtype=float)
    if not np.isfinite(floats).all():
        bad = raw[int(np.argmin(np.isfinite(floats)))]
        _exact(bad, "equity snapshot")  # raises naming the value (None, NaN, inf)
        raise ValueError(f"equity snapshot: {bad!r} is not a finite number")
    order = np.argsort(index.asi8, kind="stable")
    days = _local_days(index, zone)[order]
    keep = np.ones(len(days), dtype=bool)
    if len(days) > 1:
        keep[:-1] = days.asi8[:-1] != days.asi8[1:]  # last snapshot of each day
    if weekdays_only:
        keep &= days.day_of_week < 5
    picked = order[keep]
    day_index = pd.DatetimeIndex(days[keep], name="day")
    flow_times, flow_amounts = _flows(flows)
    flow_days = _local_days(flow_times, zone)
    slot = np.searchsorted(day_index.asi8, flow_days.asi8, side="left")
    inflow = np.zeros(len(day_index))
    outflow = np.zeros(len(day_index))
    counted = (slot > 0) & (slot < len(day_index))
    signed = np.array([float(amount) for amount in flow_amounts], dtype=float)
    np.add.at(inflow, slot[counted & (signed > 0)], signed[counted & (signed > 0)])
    np.add.at(outflow, slot[counted & (signed < 0)], -signed[counted & (signed < 0)])
    return _Daily(
        days=day_index,
        values=floats[picked],
        exact=[_exact(raw[position], "equity") for position in picked],
        inflow=inflow,
        outflow=outflow,
        flow_days=flow_days,
        flow_amounts=flow_amounts,
        flow_slot=slot,
    )


def _chain(daily: _Daily) -> np.ndarray:
    """Daily returns r_1..r_n-1 (Portfolio Performance's formula), r_0 = NaN."""
    values = daily.values
    returns = np.full(len(values), np.nan)
    if len(values) > 1:
        denominator = values[:-1] + daily.inflow[1:]
        numerator = values[1:] + daily.outflow[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            returns[1:] = np.where(denominator > 0, numerator / denominator - 1.0, 0.0)
    return returns


# --------------------------------------------------------------------------------------------
# Time-weighted and money-weighted returns
# --------------------------------------------------------------------------------------------


def daily_twr(
    snapshots: EquityInput,
    flows: FlowInput | None = None,
    *,
    zone: tzinfo = UTC,
    weekdays_only: bool = False,
) -> pd.DataFrame:
    """Daily time-weighted return table, chained as in Portfolio Performance.

    ``r_t = (V_t + Out_t) / (V_{t−1} + In_t) − 1`` where ``V_t`` is the equity at the end of
    valuation day ``t`` (the day's last snapshot), ``In_t`` the deposits counted at the start of
    day ``t`` and ``Out_t`` the withdrawals counted at its end (Portfolio Performance manual,
    "True Time-Weighted Rate of Return"). Flows dated on a day without a snapshot (or on a
    weekend with ``weekdays_only``) count in the next valuation day. The first valuation day is
    the base: its flows are inception capital and it has no return. Flows after the last
    valuation day are not counted yet. A day with ``V_{t−1} + In_t ≤ 0`` (nothing invested)
    returns 0.

    Args:
        snapshots: equity snapshots (:data:`EquityInput`), tz-aware times, account currency;
            several a day are fine (the last one counts), any order.
        flows: cash flows (:data:`FlowInput`) or None.
        zone: time zone that defines the calendar day.
        weekdays_only: drop Saturday and Sunday valuations (stock accounts, with
            ``periods_per_year=252``).

    Returns:
        DataFrame indexed by local day (tz-naive midnight, name ``"day"``), columns
        ``equity`` (end of day), ``inflow`` and ``outflow`` (≥ 0, counted that day), ``return``
        (NaN on the base day) and ``growth`` (Π(1 + r), 1.0 on the base day); all floats.

    Raises:
        ValueError: naive or unparsable times, non-numeric or non-finite amounts, a cash flow
            kind other than deposit/withdrawal.
    """
    daily = _daily(snapshots, flows, zone, weekdays_only)
    returns = _chain(daily)
    growth = np.cumprod(np.where(np.isnan(returns), 0.0, returns) + 1.0)
    return pd.DataFrame(
        {
            "equity": daily.values,
            "inflow": daily.inflow,
            "outflow": daily.outflow,
            "return": returns,
            "growth": growth,
        },
        index=daily.days,
    )


def daily_returns(
    snapshots: EquityInput,
    flows: FlowInput | None = None,
    *,
    zone: tzinfo = UTC,
    weekdays_only: bool = False,
) -> pd.Series:
    """Daily TWR returns (fractions) as a Series indexed by local day, base day excluded.

    The input of the risk metrics below. Same arguments, rules and errors as :func:`daily_twr`.
    """
    table = daily_twr(snapshots, flows, zone=zone, weekdays_only=weekdays_only)
    return table["return"].iloc[1:].rename("return")


@dataclass(frozen=True)
class PeriodReturn:
    """Returns and P&L of one period ending at ``as_of`` (see :func:`period_returns`).

    Attributes:
        label: one of :data:`PERIODS`.
        start / end: base valuation day (its end-of-day equity is the starting value) and last
            valuation day ≤ ``as_of``; None (and every figure None) without a valuation by ``as_of``.
        complete: False when the history starts after the period's start (the figures then
            cover the period since inception).
        days: ``end − start`` in calendar days.
        start_value / end_value: equity, account currency, exact.
        deposits / withdrawals: flows counted in ``(start, end]``, both ≥ 0, exact.
        pnl: ``end_value − start_value − (deposits − withdrawals)``, exact.
        twr: chained time-weighted return (fraction).
        twr_annualised: ``(1 + twr)^(365/days) − 1``, only when ``days ≥ 365``, else None.
        mwr: money-weighted return, XIRR (annual, actual/365) of −start_value, −deposits,
            +withdrawals, +end_value; None when undefined (e.g. no money invested).
    """

    label: str
    start: date | None
    end: date | None
    complete: bool
    days: int | None
    start_value: Decimal | None
    end_value: Decimal | None
    deposits: Decimal | None
    withdrawals: Decimal | None
    pnl: Decimal | None
    twr: float | None
    twr_annualised: float | None
    mwr: float | None


_NO_FIGURES = (None,) * 9  # days … mwr of a period without any valuation


def _period_start(label: str, as_of: date, first: date) -> date:
    if label == "inception":
        return first
    if label == "YTD":
        return date(as_of.year - 1, 12, 31)
    if label == "1y":
        try:
            return as_of.replace(year=as_of.year - 1)
        except ValueError:  # 29 February
            return as_of.replace(year=as_of.year - 1, day=28)
    return as_of - timedelta(days=int(label[:-1]))


def period_returns(
    snapshots: EquityInput,
    flows: FlowInput | None = None,
    *,
    as_of: date,
    zone: tzinfo = UTC,
    weekdays_only: bool = False,
) -> list[PeriodReturn]:
    """TWR, MWR and P&L for the periods :data:`PERIODS` ending at the end of ``as_of``.

    Period starts: ``Nd`` → ``as_of − N days``; ``YTD`` → 31 December of the previous year;
    ``1y`` → same date a year earlier; ``inception`` → the first valuation day. The base is the
    last valuation day on or before the start (its closing equity is the starting value), or the
    first valuation day when the history starts later (``complete=False``). TWR chains the daily
    returns of :func:`daily_twr` over ``(start, end]``; it is annualised only for periods of at
    least 365 days (Portfolio Performance and GIPS: never annualise a shorter period). MWR is
    :func:`xirr`. P&L is the change of equity net of the flows.

    Args:
        snapshots, flows, zone, weekdays_only: as :func:`daily_twr`.
        as_of: last day (local) of every period.

    Returns:
        One :class:`PeriodReturn` per label of :data:`PERIODS`, in that order.

    Raises:
        ValueError: as :func:`daily_twr`.
    """
    daily = _daily(snapshots, flows, zone, weekdays_only)
    returns = _chain(daily)
    day_ns = daily.days.asi8
    as_of_ns = pd.Timestamp(as_of).value
    end_pos = int(np.searchsorted(day_ns, as_of_ns, side="right")) - 1
    results: list[PeriodReturn] = []
    for label in PERIODS:
        if end_pos < 0:
            results.append(PeriodReturn(label, None, None, False, *_NO_FIGURES))
            continue
        first_day = daily.days[0].date()
        target = _period_start(label, as_of, first_day)
        start_pos = int(np.searchsorted(day_ns, pd.Timestamp(target).value, side="right")) - 1
        complete = start_pos >= 0
        start_pos = max(start_pos, 0)
        results.append(_period(label, daily, returns, start_pos, end_pos, complete))
    return results


def _period(label: str, daily: _Daily, returns: np.ndarray, start: int, end: int, complete: bool) -> PeriodReturn:
    start_day = daily.days[start].date()
    end_day = daily.days[end].date()
    days = (end_day - start_day).days
    twr = float(np.prod(returns[start + 1 : end + 1] + 1.0) - 1.0) if end > start else 0.0
    annualised = (1.0 + twr) ** (_DAYS_PER_YEAR / days) - 1.0 if days >= 365 else None
    start_value, end_value = daily.exact[start], daily.exact[end]
    deposits = withdrawals = Decimal(0)
    xirr_flows: list[tuple[date, Decimal]] = [(start_day, -start_value)]
    for position, day, amount in zip(daily.flow_slot, daily.flow_days, daily.flow_amounts, strict=True):
        if start < position <= end:
            if amount > 0:
                deposits += amount
            else:
                withdrawals -= amount
            xirr_flows.append((day.date(), -amount))
    xirr_flows.append((end_day, end_value))
    try:
        mwr = xirr(xirr_flows) if days > 0 else None
    except ValueError:
        mwr = None
    return PeriodReturn(
        label=label,
        start=start_day,
        end=end_day,
        complete=complete,
        days=days,
        start_value=start_value,
        end_value=end_value,
        deposits=deposits,
        withdrawals=withdrawals,
        pnl=end_value - start_value - (deposits - withdrawals),
        twr=twr,
        twr_annualised=annualised,
        mwr=mwr,
    )


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
    items = list(cash_flows)
    if not items:
        raise ValueError("xirr: no cash flows")
    stamps = [_as_datetime(item[0]) for item in items]
    origin = min(stamps)
    years = np.array([(stamp - origin).total_seconds() / 86400.0 / _DAYS_PER_YEAR for stamp in stamps])
    amounts = np.array([float(_exact(item[1], "xirr amount")) for item in items])
    if not (amounts > 0).any() or not (amounts < 0).any():
        raise ValueError("xirr: needs at least one positive and one negative cash flow")

    def value(x: float) -> tuple[float, float]:
        """NPV and its derivative in x, both scaled by the same positive factor (no overflow)."""
        exponents = -x * years
        weights = np.exp(exponents - exponents.max())
        return float((amounts * weights).sum()), float((-years * amounts * weights).sum())

    steps = [0.0]
    while steps[-1] < 40.0:
        steps.append(min(40.0, 1e-3 * 2.0 ** (len(steps) - 1)))
    sign_at: dict[float, float] = {}

    def sign(x: float) -> float:
        if x not in sign_at:
            npv = value(x)[0]
            sign_at[x] = 0.0 if npv == 0 else math.copysign(1.0, npv)
        return sign_at[x]

    if sign(0.0) == 0.0:
        return 0.0
    bracket: tuple[float, float] | None = None
    for inner, outer in pairwise(steps):  # walk outward from r = 0 on both sides
        for low, high in ((inner, outer), (-outer, -inner)):
            if sign(low) == 0.0:
                return math.expm1(low)
            if sign(high) == 0.0:
                return math.expm1(high)
            if sign(low) != sign(high):
                bracket = (low, high)
                break
        if bracket is not None:
            break
    if bracket is None:
        return None
    low, high = bracket
    low_sign = sign(low)
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
    return math.expm1(x)


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"xirr: {value!r} is not a date")


# --------------------------------------------------------------------------------------------
# Risk metrics (definitions of empyrical-reloaded's stats.py)
# --------------------------------------------------------------------------------------------

ReturnsInput: TypeAlias = pd.Series | np.ndarray | Sequence[float]


def _values(returns: ReturnsInput) -> np.ndarray:
    array = np.asarray(returns, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {array.shape}")
    return array[~np.isnan(array)]


def _check_ppy(periods_per_year: float) -> None:
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")


def _period_rate(risk_free_annual: float, periods_per_year: float) -> float:
    """Per-period risk-free return ``(1 + annual)^(1/periods_per_year) − 1`` (geometric)."""
    if not risk_free_annual > -1:
        raise ValueError(f"risk_free_annual must be > -1, got {risk_free_annual!r}")
    return (1.0 + risk_free_annual) ** (1.0 / periods_per_year) - 1.0


def annual_volatility(returns: ReturnsInput, *, periods_per_year: float = 252) -> float | None:
    """Annualised volatility: sample standard deviation (ddof 1) × √periods_per_year.

    Args:
        returns: periodic returns (fractions), e.g. :func:`daily_returns`; NaNs are dropped.
        periods_per_year: 252 for stock trading days, 365 for crypto.

    Returns:
        The volatility as a fraction, or None with fewer than 2 returns.

    Raises:
        ValueError: non-positive ``periods_per_year``, returns not one-dimensional.

    Source: ``empyrical.annual_volatility`` (alpha = 2).
    """
    _check_ppy(periods_per_year)
    values = _values(returns)
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) * periods_per_year ** (1.0 / 2.0))


def _excess_returns(returns: ReturnsInput, periods_per_year: float, risk_free_annual: float) -> np.ndarray | None:
    """Per-period returns minus the per-period risk-free rate; None with fewer than 2 returns."""
    _check_ppy(periods_per_year)
    rate = _period_rate(risk_free_annual, periods_per_year)
    values = _values(returns)
    if len(values) < 2:
        return None
    return values - rate if rate != 0 else values


def sharpe_ratio(
    returns: ReturnsInput, *, periods_per_year: float = 252, risk_free_annual: float = 0.0
) -> float | None:
    """Annualised Sharpe ratio: mean(r − rf) / std(r − rf, ddof 1) × √periods_per_year.

    ``rf`` is the per-period rate equivalent to ``risk_free_annual``:
    ``(1 + risk_free_annual)^(1/periods_per_year) − 1``.

    Args:
        returns: periodic returns (fractions); NaNs are dropped.
        periods_per_year: 252 (stocks) or 365 (crypto).
        risk_free_annual: annual risk-free rate as a fraction (``0.04`` = 4 %).

    Returns:
        The ratio, or None with fewer than 2 returns or when the excess returns do not vary.

    Raises:
        ValueError: non-positive ``periods_per_year``, ``risk_free_annual ≤ −1``.

    Source: ``empyrical.sharpe_ratio(returns, risk_free=rf, annualization=periods_per_year)``.
    """
    excess = _excess_returns(returns, periods_per_year, risk_free_annual)
    if excess is None:
        return None
    deviation = np.std(excess, ddof=1)
    if excess.max() == excess.min() or deviation == 0:  # no dispersion (or it underflows)
        return None
    return float(np.mean(excess) / deviation * np.sqrt(periods_per_year))


def sortino_ratio(
    returns: ReturnsInput, *, periods_per_year: float = 252, risk_free_annual: float = 0.0
) -> float | None:
    """Annualised Sortino ratio with the risk-free rate as the minimum acceptable return.

    ``mean(r − rf) × periods_per_year / (√mean(min(r − rf, 0)²) × √periods_per_year)`` with the
    per-period ``rf`` of :func:`sharpe_ratio` (downside deviation over all periods, Sortino &
    Price 1994).

    Args / Raises: as :func:`sharpe_ratio`.

    Returns:
        The ratio, or None with fewer than 2 returns or no return below ``rf``.

    Source: ``empyrical.sortino_ratio(returns, required_return=rf, annualization=periods_per_year)``.
    """
    excess = _excess_returns(returns, periods_per_year, risk_free_annual)
    if excess is None:
        return None
    downside = np.sqrt(np.mean(np.square(np.clip(excess, -np.inf, 0.0)))) * np.sqrt(periods_per_year)
    if downside == 0:
        return None
    return float(np.mean(excess) * periods_per_year / downside)


def cagr(returns: ReturnsInput, *, periods_per_year: float = 252) -> float | None:
    """Compound annual growth rate: ``Π(1 + r)^(periods_per_year / n) − 1``.

    ``n`` counts the returns, so it assumes one return per period (a daily series of trading
    days with 252, of calendar days with 365).

    Args:
        returns: periodic returns (fractions); NaNs are dropped.
        periods_per_year: 252 or 365.

    Returns:
        The rate as a fraction, or None without returns.

    Raises:
        ValueError: non-positive ``periods_per_year``.

    Source: ``empyrical.annual_return`` / ``empyrical.cagr``.
    """
    _check_ppy(periods_per_year)
    values = _values(returns)
    if len(values) < 1:
        return None
    ending = float(np.prod(values + 1.0))
    return float(ending ** (1.0 / (len(values) / periods_per_year)) - 1.0)


@dataclass(frozen=True)
class Drawdown:
    """Largest peak-to-trough fall of the compounded returns (see :func:`max_drawdown`).

    Attributes:
        max_drawdown: the fall as a negative fraction (``-0.25`` = −25 %), 0.0 without a fall,
            None without returns (empyrical's sign convention).
        peak_at: index label of the return that closed at the peak; None when the peak is the
            starting value (before the first return) or there is no fall.
        trough_at: index label of the return at the trough (None without a fall).
        recovered_at: first label after the trough where the peak is regained, None if never.
    """

    max_drawdown: float | None
    peak_at: Any = None
    trough_at: Any = None
    recovered_at: Any = None


def max_drawdown(returns: ReturnsInput) -> Drawdown:
    """Maximum drawdown of compounded returns, with its peak, trough and recovery labels.

    Wealth ``W_t = Π_{s≤t}(1 + r_s)`` starting from ``W = 1`` before the first return;
    drawdown ``W_t / max_{s≤t} W_s − 1`` (the start included in the running max).

    Args:
        returns: periodic returns; a Series gives its index labels (e.g. days) to the dates,
            other sequences their positions. NaNs count as 0 (as in empyrical).

    Returns:
        :class:`Drawdown`.

    Source: ``empyrical.max_drawdown`` (and its ``drawdown_series``).
    """
    labels = list(returns.index) if isinstance(returns, pd.Series) else None
    array = np.asarray(returns, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {array.shape}")
    if len(array) == 0:
        return Drawdown(None)
    wealth = np.concatenate(([1.0], np.cumprod(np.where(np.isnan(array), 0.0, array) + 1.0)))
    peaks = np.fmax.accumulate(wealth)
    drawdowns = (wealth - peaks) / peaks
    trough = int(np.argmin(drawdowns))
    worst = float(drawdowns[trough])
    if worst >= 0:
        return Drawdown(0.0)
    peak = int(np.argmax(wealth[: trough + 1]))  # first time the running peak was reached
    peak_value = wealth[peak]
    after = np.nonzero(wealth[trough + 1 :] >= peak_value)[0]
    recovered = trough + 1 + int(after[0]) if len(after) else None

    def label(position: int | None) -> Any:
        if position is None or position == 0:  # position 0 is the start, before any return
            return None
        return labels[position - 1] if labels is not None else position - 1

    return Drawdown(worst, label(peak), label(trough), label(recovered))


def calmar_ratio(returns: ReturnsInput, *, periods_per_year: float = 252) -> float | None:
    """Calmar ratio: :func:`cagr` / |:func:`max_drawdown`|.

    Returns:
        The ratio, or None without a drawdown (or without returns).

    Raises:
        ValueError: non-positive ``periods_per_year``.

    Source: ``empyrical.calmar_ratio``.
    """
    drawdown = max_drawdown(returns).max_drawdown
    growth = cagr(returns, periods_per_year=periods_per_year)
    if drawdown is None or growth is None or drawdown >= 0:
        return None
    ratio = growth / abs(drawdown)
    return None if math.isinf(ratio) else ratio


@dataclass(frozen=True)
class RiskMetrics:
    """Risk and return figures of one returns series (see :func:`risk_metrics`).

    ``periods`` is the number of returns, ``total_return`` Π(1 + r) − 1; the other fields are
    the results of the functions of the same names (None where undefined).
    """

    periods: int
    periods_per_year: float
    risk_free_annual: float
    total_return: float | None
    cagr: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: Drawdown
    calmar: float | None


def risk_metrics(returns: ReturnsInput, *, periods_per_year: float = 252, risk_free_annual: float = 0.0) -> RiskMetrics:
    """All risk metrics of ``returns`` at once (CAGR, volatility, Sharpe, Sortino, drawdown, Calmar).

    Args:
        returns: periodic returns, e.g. :func:`daily_returns` (Series indexed by day gives dated
            drawdowns).
        periods_per_year: 252 (stocks, with ``weekdays_only``) or 365 (crypto).
        risk_free_annual: annual risk-free rate as a fraction.

    Raises:
        ValueError: as :func:`sharpe_ratio`.
    """
    values = _values(returns)
    kwargs = {"periods_per_year": periods_per_year}
    return RiskMetrics(
        periods=len(values),
        periods_per_year=periods_per_year,
        risk_free_annual=risk_free_annual,
        total_return=float(np.prod(values + 1.0) - 1.0) if len(values) else None,
        cagr=cagr(values, **kwargs),
        annual_volatility=annual_volatility(values, **kwargs),
        sharpe=sharpe_ratio(values, risk_free_annual=risk_free_annual, **kwargs),
        sortino=sortino_ratio(values, risk_free_annual=risk_free_annual, **kwargs),
        max_drawdown=max_drawdown(returns),
        calmar=calmar_ratio(values, **kwargs),
    )


# --------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkComparison:
    """Portfolio versus benchmark over their common days (see :func:`benchmark_comparison`).

    Attributes:
        days: number of common periods with both returns present.
        total_return / benchmark_return: Π(1 + r) − 1 of each over those periods.
        excess_return: ``total_return − benchmark_return`` (fraction).
        beta: ``cov(r, b) / var(b)`` (population moments); None with fewer than 2 periods or a
            benchmark that does not move.
        correlation: Pearson correlation of the returns; None when undefined.
    """

    days: int
    total_return: float | None
    benchmark_return: float | None
    excess_return: float | None
    beta: float | None
    correlation: float | None


def benchmark_comparison(returns: pd.Series, benchmark: pd.Series) -> BenchmarkComparison:
    """Compare periodic returns with a benchmark's over the periods present in both.

    Args:
        returns: the portfolio's returns (fractions), e.g. :func:`daily_returns`.
        benchmark: the benchmark's returns on the same kind of index (e.g. an index ETF's daily
            close-to-close returns, ``prices.pct_change()``, indexed by the same local days).

    Returns:
        :class:`BenchmarkComparison` on the intersection of both indexes (NaNs dropped).

    Raises:
        ValueError: either argument is not a pandas Series.

    Source: beta as ``empyrical.beta`` (Cov(X, Y) / Var(X) with population means); correlation
    as ``numpy.corrcoef``.
    """
    if not isinstance(returns, pd.Series) or not isinstance(benchmark, pd.Series):
        raise ValueError("benchmark_comparison: returns and benchmark must be pandas Series")
    joined = pd.concat([returns.rename("r"), benchmark.rename("b")], axis=1, join="inner").dropna()
    own = joined["r"].to_numpy(dtype=float)
    other = joined["b"].to_numpy(dtype=float)
    count = len(own)
    if count == 0:
        return BenchmarkComparison(0, None, None, None, None, None)
    total = float(np.prod(own + 1.0) - 1.0)
    bench_total = float(np.prod(other + 1.0) - 1.0)
    beta = correlation = None
    if count >= 2:
        residual = other - other.mean()
        variance = float(np.mean(residual * residual))
        if variance >= 1e-30:
            beta = float(np.mean(residual * own)) / variance
        if own.std() > 0 and other.std() > 0:
            correlation = float(np.corrcoef(own, other)[0, 1])
    return BenchmarkComparison(count, total, bench_total, total - bench_total, beta, correlation)


# --------------------------------------------------------------------------------------------
# Calendar aggregates of round trips
# --------------------------------------------------------------------------------------------

_CALENDAR_COLUMNS = ["trades", "wins", "losses", "win_rate", "pnl"]


def _calendar(groups: dict[Any, list[Decimal]], index: Iterable[Any], name: str) -> pd.DataFrame:
    rows = []
    labels = list(index)
    for key in labels:
        pnls = groups.get(key, [])
        wins = sum(1 for pnl in pnls if pnl > 0)
        losses = sum(1 for pnl in pnls if pnl < 0)
        rows.append(
            (
                len(pnls),
                wins,
                losses,
                wins * 100.0 / len(pnls) if pnls else math.nan,
                sum(pnls, Decimal(0)),
            )
        )
    frame = pd.DataFrame(rows, columns=_CALENDAR_COLUMNS, index=pd.Index(labels, name=name))
    frame["pnl"] = frame["pnl"].astype(object)
    return frame


def daily_trade_stats(trips: Iterable[RoundTrip], *, zone: tzinfo = UTC) -> pd.DataFrame:
    """P&L, trade count and win rate per day a trade closed (``exit_at`` in ``zone``).

    Args:
        trips: closed round trips (:class:`~bot.performance.RoundTrip`).
        zone: time zone of the calendar day.

    Returns:
        DataFrame indexed by day (``datetime.date``, ascending, only days with trades; index
        name ``"day"``), columns ``trades``, ``wins`` (pnl > 0), ``losses`` (pnl < 0) as ints,
        ``win_rate`` (percent of trades, float) and ``pnl`` (exact ``Decimal``, object dtype;
        ``.astype(float)`` to chart it).
    """
    groups: dict[date, list[Decimal]] = {}
    for trip in trips:
        groups.setdefault(trip.exit_at.astimezone(zone).date(), []).append(trip.pnl)
    return _calendar(groups, sorted(groups), "day")


def pnl_by_weekday(trips: Iterable[RoundTrip], *, zone: tzinfo = UTC) -> pd.DataFrame:
    """P&L, trade count and win rate by weekday of entry (``entry_at`` in ``zone``).

    Returns:
        DataFrame with all seven rows indexed ``Mon`` … ``Sun`` (index name ``"weekday"``),
        columns as :func:`daily_trade_stats` (``win_rate`` NaN on days without trades).
    """
    groups: dict[str, list[Decimal]] = {}
    for trip in trips:
        groups.setdefault(_WEEKDAYS[trip.entry_at.astimezone(zone).weekday()], []).append(trip.pnl)
    return _calendar(groups, _WEEKDAYS, "weekday")


def pnl_by_hour(trips: Iterable[RoundTrip], *, zone: tzinfo = UTC) -> pd.DataFrame:
    """P&L, trade count and win rate by hour of entry (0–23, ``entry_at`` in ``zone``).

    Returns:
        DataFrame with all 24 rows indexed 0 … 23 (index name ``"hour"``), columns as
        :func:`daily_trade_stats` (``win_rate`` NaN on hours without trades).
    """
    groups: dict[int, list[Decimal]] = {}
    for trip in trips:
        groups.setdefault(trip.entry_at.astimezone(zone).hour, []).append(trip.pnl)
    return _calendar(groups, range(24), "hour")
