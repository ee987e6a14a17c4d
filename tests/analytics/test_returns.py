"""Tests of bot.analytics.returns: daily TWR (Portfolio Performance's chaining), period returns, P&L and MWR."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from support.numbers import approx, at

from bot.analytics.returns import PERIODS, daily_returns, daily_twr, period_returns

UTC = timezone.utc
D = Decimal


# --------------------------------------------------------------------------------------------
# Time-weighted return
# --------------------------------------------------------------------------------------------

SNAPSHOTS = [
    (at(1, 9), D(990)),  # earlier snapshot of day 1: the last of the day counts
    (at(1, 23), D(1000)),
    (at(2), D(1100)),
    (at(3), D(1430)),
    (at(5), D(1500)),  # no snapshot on day 4
]
FLOWS = [
    (at(3, 10), "deposit", D(500)),  # deposit and withdrawal on the same day
    (at(3, 15), "withdrawal", D(200)),
    (at(4, 12), D(100)),  # signed deposit on a day without snapshot: counts on day 5
]


def test_daily_twr_hand_computed_with_deposit_and_withdrawal_on_the_same_day() -> None:
    table = daily_twr(SNAPSHOTS, FLOWS)
    assert list(table.index) == [pd.Timestamp(f"2024-01-0{d}") for d in (1, 2, 3, 5)]
    assert table.index.name == "day"
    assert list(table["equity"]) == [1000, 1100, 1430, 1500]
    assert list(table["inflow"]) == [0, 0, 500, 100]
    assert list(table["outflow"]) == [0, 0, 200, 0]
    returns = table["return"]
    assert math.isnan(returns.iloc[0])
    assert returns.iloc[1] == approx(0.1)  # 1100 / 1000 − 1
    assert returns.iloc[2] == approx(1630 / 1600 - 1)  # (1430 + 200) / (1100 + 500) − 1
    assert returns.iloc[3] == approx(1500 / 1530 - 1)  # 1500 / (1430 + 100) − 1
    assert table["growth"].iloc[-1] == approx(1.1 * 1630 / 1600 * 1500 / 1530)
    series = daily_returns(SNAPSHOTS, FLOWS)
    assert list(series.index) == list(table.index[1:])
    assert series.to_numpy() == pytest.approx(table["return"].to_numpy()[1:], rel=1e-15)


def test_twr_ignores_flows_on_the_base_day_and_after_the_last_valuation() -> None:
    flows = [(at(1, 10), D(900)), (at(9), D(-50))]
    returns = daily_returns([(at(1), 1000), (at(2), 1010.0)], flows)
    assert list(returns) == [approx(0.01)]


def test_equity_as_sheet_text() -> None:
    returns = daily_returns([(at(1), "$1,000.00"), (at(2), "1100"), (at(3), 1210.0)])
    assert list(returns) == [approx(0.1), approx(0.1)]
    [*_, inception] = period_returns([(at(1), "$1,000.00"), (at(2), "1100.5")], as_of=date(2024, 1, 2))
    assert inception.pnl == D("100.50")


def test_twr_input_forms_agree() -> None:
    series_snapshots = pd.Series([float(v) for _, v in SNAPSHOTS], index=pd.DatetimeIndex([t for t, _ in SNAPSHOTS]))
    series_flows = pd.Series([500.0, -200.0, 100.0], index=pd.DatetimeIndex([f[0] for f in FLOWS]))
    shuffled = [SNAPSHOTS[i] for i in (3, 0, 4, 2, 1)]
    expected = daily_returns(SNAPSHOTS, FLOWS)
    pd.testing.assert_series_equal(daily_returns(series_snapshots, series_flows), expected)
    pd.testing.assert_series_equal(daily_returns(shuffled, FLOWS), expected)


def test_twr_days_follow_the_zone() -> None:
    ny = ZoneInfo("America/New_York")
    snapshots = [
        (datetime(2024, 1, 1, 20, tzinfo=UTC), 100),  # 15:00 in New York, 1 January
        (datetime(2024, 1, 2, 3, tzinfo=UTC), 110),  # 22:00 in New York, still 1 January
        (datetime(2024, 1, 2, 20, tzinfo=UTC), 121),
    ]
    assert list(daily_twr(snapshots, zone=ny)["equity"]) == [110, 121]
    assert list(daily_twr(snapshots)["equity"]) == [100, 121]  # in UTC the last two share 2 January


def test_weekdays_only_drops_weekends_and_moves_their_flows_to_monday() -> None:
    snapshots = [(at(d), v) for d, v in [(5, 100), (6, 999), (7, 999), (8, 120)]]  # Fri, Sat, Sun, Mon
    table = daily_twr(snapshots, [(at(6, 12), D(10))], weekdays_only=True)
    assert list(table.index.day) == [5, 8]
    assert list(table["inflow"]) == [0, 10]
    assert table["return"].iloc[1] == approx(120 / 110 - 1)


def test_day_with_nothing_invested_returns_zero() -> None:
    snapshots = [(at(1), 0), (at(2), 0), (at(3), 105)]
    returns = daily_returns(snapshots, [(at(3, 8), "deposit", 100)])
    assert list(returns) == [0.0, approx(0.05)]


@pytest.mark.parametrize(
    ("snapshots", "flows", "message"),
    [
        ([(datetime(2024, 1, 1), 1)], None, "tz-aware"),
        ([(at(1), "lots")], None, "equity snapshot: 'lots' is not a number"),
        ([(at(1), None)], None, "equity snapshot: None is not a number"),
        ([(at(1), float("nan"))], None, "finite"),
        ([(at(1), 1)], [(at(1), "bonus", 5)], "bonus"),
        ([(at(1), 1)], [(at(1), "deposit", -5)], "negative"),
        ([(at(1), 1)], [(datetime(2024, 1, 1), 5)], "tz-aware"),
    ],
)
def test_twr_input_errors(snapshots: list, flows: list | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        daily_twr(snapshots, flows)


# --------------------------------------------------------------------------------------------
# Periods, P&L and money-weighted return
# --------------------------------------------------------------------------------------------


def test_period_returns_hand_computed() -> None:
    start = date(2023, 1, 1)
    days = [start + timedelta(days=i) for i in range(500)]  # 2023-01-01 … 2024-05-14
    values = [D(1000) * D("1.001") ** i for i in range(500)]
    snapshots = [
        (datetime(d.year, d.month, d.day, 21, tzinfo=UTC), v.quantize(D("0.01")))
        for d, v in zip(days, values, strict=True)
    ]
    flows = [
        (datetime(2024, 5, 7, 9, tzinfo=UTC), "deposit", D(40)),  # on the 7d base day: before it
        (datetime(2024, 5, 10, 9, tzinfo=UTC), "deposit", D(250)),
        (datetime(2024, 5, 12, 9, tzinfo=UTC), "withdrawal", D(100)),
    ]
    as_of = date(2024, 5, 14)
    results = {p.label: p for p in period_returns(snapshots, flows, as_of=as_of)}
    assert list(results) == list(PERIODS)
    table = daily_twr(snapshots, flows)
    growth = table["growth"]

    def twr_between(first: date, last: date) -> float:
        return growth[pd.Timestamp(last)] / growth[pd.Timestamp(first)] - 1

    week = results["7d"]
    assert (week.start, week.end, week.days, week.complete) == (date(2024, 5, 7), as_of, 7, True)
    assert week.deposits == 250 and week.withdrawals == 100
    value = {d: v.quantize(D("0.01")) for d, v in zip(days, values, strict=True)}
    assert week.start_value == value[date(2024, 5, 7)] and week.end_value == value[as_of]
    assert week.pnl == value[as_of] - value[date(2024, 5, 7)] - 150
    assert week.twr == approx(twr_between(date(2024, 5, 7), as_of))
    assert week.twr_annualised is None
    month = results["30d"]
    assert month.start == date(2024, 4, 14) and results["90d"].start == date(2024, 2, 14)
    assert month.deposits == 290 and month.withdrawals == 100
    assert month.pnl == value[as_of] - value[date(2024, 4, 14)] - 190
    ytd = results["YTD"]
    assert ytd.start == date(2023, 12, 31) and ytd.twr == approx(twr_between(date(2023, 12, 31), as_of))
    year = results["1y"]
    assert (year.start, year.days) == (date(2023, 5, 14), 366)
    assert year.twr_annualised == approx((1 + year.twr) ** (365 / 366) - 1)
    inception = results["inception"]
    assert (inception.start, inception.days, inception.complete) == (start, 499, True)
    assert inception.twr == approx(twr_between(start, as_of))
    assert inception.twr_annualised == approx((1 + inception.twr) ** (365 / 499) - 1)
    assert inception.pnl == value[as_of] - D(1000) - 190


def test_mwr_equals_annualised_twr_without_flows() -> None:
    snapshots = [(at(1, month=1, year=2021), 1000), (at(1, month=1, year=2022), 1210)]
    [*_, inception] = period_returns(snapshots, as_of=date(2022, 1, 1))
    assert inception.days == 365
    assert inception.twr == approx(0.21)
    assert inception.mwr == approx(0.21)
    assert inception.twr_annualised == approx(0.21)


def test_mwr_differs_from_twr_when_money_arrives_before_a_loss() -> None:
    # 1000 doubles in year one, then 10 000 more is deposited and everything halves.
    snapshots = [(at(1, year=2021), 1000), (at(1, year=2022), 2000), (at(1, year=2023), 6000)]
    flows = [(at(2, 8, year=2022), "deposit", 10_000)]  # the morning after the 2000 valuation
    [*_, inception] = period_returns(snapshots, flows, as_of=date(2023, 1, 1))
    assert inception.twr == approx(2000 / 1000 * 6000 / 12000 - 1)  # 0: +100 % then −50 %
    assert inception.mwr is not None and inception.mwr < -0.3
    # MWR is the rate that discounts the flows to zero
    rate = inception.mwr
    npv = -1000 - 10_000 / (1 + rate) ** (366 / 365) + 6000 / (1 + rate) ** (730 / 365)
    assert npv == pytest.approx(0, abs=1e-6)
    assert inception.pnl == D(6000 - 1000 - 10_000)


def test_periods_before_the_history_are_marked_incomplete_or_empty() -> None:
    snapshots = [(at(10), 100), (at(12), 110)]
    results = {p.label: p for p in period_returns(snapshots, as_of=date(2024, 1, 12))}
    month = results["30d"]
    assert month.complete is False and month.start == date(2024, 1, 10) and month.twr == approx(0.1)
    assert results["YTD"].complete is False
    assert results["inception"].complete is True
    empty = period_returns(snapshots, as_of=date(2024, 1, 9))
    assert all(p.start is None and p.twr is None and p.pnl is None for p in empty)
    same_day = {p.label: p for p in period_returns(snapshots, as_of=date(2024, 1, 10))}["inception"]
    assert same_day.days == 0 and same_day.twr == 0 and same_day.mwr is None and same_day.pnl == 0
