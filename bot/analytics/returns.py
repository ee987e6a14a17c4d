"""Time- and money-weighted returns of an account from equity snapshots and cash flows (pure).

Inputs are account equity snapshots and cash flows (the Snapshots and CashFlows tabs, read by
:mod:`bot.analytics.equity`); shapes in :mod:`bot.analytics.inputs`.

Conventions:

- Times are tz-aware; a *day* is a calendar day in the ``zone`` argument (default UTC; use the
  exchange's zone, e.g. ``America/New_York``, for stocks). Day indexes are tz-naive midnight
  :class:`pandas.Timestamp` values of that local day, index name ``"day"``.
- Returns are fractions (``0.01`` = 1 %), floats. Amounts of money reported back (period P&L,
  start and end values, flows) are exact :class:`~decimal.Decimal` computed from the inputs
  (floats are taken by their shortest ``repr``); values used for returns are floats.
- TWR is chained as in Portfolio Performance (:func:`daily_twr`); MWR is Excel's XIRR
  (:func:`bot.analytics.xirr.xirr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from bot.analytics.inputs import EquityInput, FlowInput, exact_amount, local_days, signed_flows, utc_index
from bot.analytics.xirr import DAYS_PER_YEAR, xirr

__all__ = ["PERIODS", "PeriodReturn", "daily_returns", "daily_twr", "period_returns"]

UTC = timezone.utc

#: Periods of :func:`period_returns`, in output order.
PERIODS: tuple[str, ...] = ("7d", "30d", "90d", "YTD", "1y", "inception")


# --------------------------------------------------------------------------------------------
# Valuation days
# --------------------------------------------------------------------------------------------


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
    """The valuation days of ``snapshots`` (last snapshot of each local day) and the flows counted on each."""
    if isinstance(snapshots, pd.Series):
        times: Any = snapshots.index
        raw = list(snapshots.to_numpy(dtype=object))
    else:
        pairs = list(snapshots)
        times = [pair[0] for pair in pairs]
        raw = [pair[1] for pair in pairs]
    index = utc_index(times, "equity snapshots")
    try:
        floats = np.array(raw, dtype=float)  # fast path: numbers, Decimals, plain numeric text
    except (TypeError, ValueError):
        floats = np.array([float(exact_amount(value, "equity snapshot")) for value in raw], dtype=float)
    if not np.isfinite(floats).all():
        bad = raw[int(np.argmin(np.isfinite(floats)))]
        exact_amount(bad, "equity snapshot")  # raises naming the value (None, NaN, inf)
        raise ValueError(f"equity snapshot: {bad!r} is not a finite number")
    order = np.argsort(index.asi8, kind="stable")
    days = local_days(index, zone)[order]
    keep = np.ones(len(days), dtype=bool)
    if len(days) > 1:
        keep[:-1] = days.asi8[:-1] != days.asi8[1:]  # last snapshot of each day
    if weekdays_only:
        keep &= days.day_of_week < 5
    picked = order[keep]
    day_index = pd.DatetimeIndex(days[keep], name="day")
    flow_times, flow_amounts = signed_flows(flows)
    flow_days = local_days(flow_times, zone)
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
        exact=[exact_amount(raw[position], "equity") for position in picked],
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

    The input of the risk metrics (:mod:`bot.analytics.risk_metrics`). Same arguments, rules and
    errors as :func:`daily_twr`.
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
    annualised = (1.0 + twr) ** (DAYS_PER_YEAR / days) - 1.0 if days >= 365 else None
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
