"""Tests of bot.analytics: TWR, MWR, risk metrics (against empyrical-reloaded), calendars."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analytics.calendar import daily_trade_stats, pnl_by_hour, pnl_by_weekday
from bot.analytics.returns import PERIODS, daily_returns, daily_twr, period_returns
from bot.analytics.risk_metrics import (
    Drawdown,
    annual_volatility,
    benchmark_comparison,
    cagr,
    calmar_ratio,
    max_drawdown,
    risk_metrics,
    sharpe_ratio,
    sortino_ratio,
)
from bot.analytics.round_trips import RoundTrip
from bot.analytics.xirr import xirr
from bot.domain import PositionSide

UTC = timezone.utc
D = Decimal
TOL = 1e-9


def at(day: int, hour: int = 20, month: int = 1, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def approx(value: float) -> object:
    return pytest.approx(value, rel=TOL, abs=TOL)


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


def test_xirr_excel_example() -> None:
    # Microsoft's XIRR documentation example: 0.373362535 (37.34 %); LibreOffice's XIRR gives
    # 0.3733625335 to ten places.
    flows = [
        (date(2008, 1, 1), -10000),
        (date(2008, 3, 1), 2750),
        (date(2008, 10, 30), 4250),
        (date(2009, 2, 15), 3250),
        (date(2009, 4, 1), 2750),
    ]
    rate = xirr(flows)
    assert rate == pytest.approx(0.3733625335, abs=1e-10)
    npv = sum(a / (1 + rate) ** ((d - date(2008, 1, 1)).days / 365) for d, a in flows)
    assert npv == pytest.approx(0, abs=1e-7)


def test_xirr_simple_and_extreme_cases() -> None:
    assert xirr([(date(2021, 1, 1), D(-100)), (date(2022, 1, 1), D(110))]) == approx(0.1)
    assert xirr([(date(2022, 1, 1), 110), (date(2021, 1, 1), -100)]) == approx(0.1)  # any order
    assert xirr([(date(2021, 1, 1), -100), (date(2022, 1, 1), 100)]) == 0.0
    assert xirr([(date(2021, 1, 1), -100), (date(2022, 1, 1), 1)]) == approx(-0.99)
    assert xirr([(date(2021, 1, 1), -100), (date(2021, 1, 8), 200)]) == approx(2 ** (365 / 7) - 1)
    with pytest.raises(ValueError, match="positive and one negative"):
        xirr([(date(2021, 1, 1), 100), (date(2022, 1, 1), 1)])
    with pytest.raises(ValueError, match="no cash flows"):
        xirr([])


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-0.9, 5.0),
    st.lists(st.tuples(st.integers(1, 1500), st.floats(0, 500)), max_size=6),
)
def test_xirr_solves_the_npv_equation(rate: float, middle: list[tuple[int, float]]) -> None:
    # one outflow then inflows only: a single sign change, so exactly one root, `rate`
    origin = date(2020, 1, 1)
    flows = [(origin, -1000.0)] + [(origin + timedelta(days=d), a) for d, a in middle]
    last = origin + timedelta(days=1600)
    # choose the final flow so that `rate` solves the equation exactly
    balance = sum(a / (1 + rate) ** ((d - origin).days / 365) for d, a in flows)
    final = -balance * (1 + rate) ** (1600 / 365)
    if final <= 1e-6:
        return
    found = xirr([*flows, (last, final)])
    assert found == pytest.approx(rate, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------
# Risk metrics against empyrical-reloaded
# --------------------------------------------------------------------------------------------


def sample_returns(seed: int, count: int = 400) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2022-01-03", periods=count, freq="D", name="day")
    return pd.Series(rng.normal(0.0005, 0.02, count), index=index)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("ppy", [252, 365])
@pytest.mark.parametrize("rf", [0.0, 0.04])
def test_risk_metrics_match_empyrical(seed: int, ppy: int, rf: float) -> None:
    returns = sample_returns(seed)
    rf_period = (1 + rf) ** (1 / ppy) - 1
    assert sharpe_ratio(returns, periods_per_year=ppy, risk_free_annual=rf) == approx(
        empyrical.sharpe_ratio(returns, risk_free=rf_period, annualization=ppy)
    )
    assert sortino_ratio(returns, periods_per_year=ppy, risk_free_annual=rf) == approx(
        empyrical.sortino_ratio(returns, required_return=rf_period, annualization=ppy)
    )
    assert annual_volatility(returns, periods_per_year=ppy) == approx(
        empyrical.annual_volatility(returns, annualization=ppy)
    )
    assert cagr(returns, periods_per_year=ppy) == approx(empyrical.cagr(returns, annualization=ppy))
    assert max_drawdown(returns).max_drawdown == approx(empyrical.max_drawdown(returns))
    assert calmar_ratio(returns, periods_per_year=ppy) == approx(empyrical.calmar_ratio(returns, annualization=ppy))
    metrics = risk_metrics(returns, periods_per_year=ppy, risk_free_annual=rf)
    assert metrics.periods == 400
    assert metrics.sharpe == approx(empyrical.sharpe_ratio(returns, risk_free=rf_period, annualization=ppy))
    assert metrics.sortino == approx(empyrical.sortino_ratio(returns, required_return=rf_period, annualization=ppy))
    assert metrics.cagr == approx(empyrical.annual_return(returns, annualization=ppy))
    assert metrics.annual_volatility == approx(empyrical.annual_volatility(returns, annualization=ppy))
    assert metrics.calmar == approx(empyrical.calmar_ratio(returns, annualization=ppy))
    assert metrics.total_return == approx(empyrical.cum_returns_final(returns))
    assert metrics.max_drawdown == max_drawdown(returns)


def test_risk_metrics_of_twr_returns_match_empyrical() -> None:
    rng = np.random.default_rng(9)
    equity = 10_000 * np.cumprod(1 + rng.normal(0.0003, 0.01, 300))
    snapshots = [(at(1) + timedelta(days=i), D(repr(round(float(v), 2)))) for i, v in enumerate(equity)]
    flows = [(at(1) + timedelta(days=i, hours=-12), D(500)) for i in (30, 90, 200)]
    returns = daily_returns(snapshots, flows)
    assert len(returns) == 299
    metrics = risk_metrics(returns, periods_per_year=365, risk_free_annual=0.02)
    rf_period = 1.02 ** (1 / 365) - 1
    assert metrics.sharpe == approx(empyrical.sharpe_ratio(returns, risk_free=rf_period, annualization=365))
    assert metrics.sortino == approx(empyrical.sortino_ratio(returns, required_return=rf_period, annualization=365))
    assert metrics.max_drawdown.max_drawdown == approx(empyrical.max_drawdown(returns))
    assert metrics.cagr == approx(empyrical.cagr(returns, annualization=365))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5, allow_subnormal=False), min_size=2, max_size=60))
def test_sharpe_and_drawdown_match_empyrical_on_any_returns(values: list[float]) -> None:
    returns = np.array(values)
    ours = sharpe_ratio(returns, periods_per_year=365)
    theirs = empyrical.sharpe_ratio(returns, annualization=365)
    if ours is None:
        assert not np.isfinite(theirs)
    else:
        assert ours == approx(theirs)
    assert max_drawdown(returns).max_drawdown == approx(empyrical.max_drawdown(returns))
    assert annual_volatility(returns, periods_per_year=252) == approx(empyrical.annual_volatility(returns))


def test_max_drawdown_dates() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D")
    returns = pd.Series([0.1, -0.5, 0.2, 0.5, 0.2, -0.1], index=index)
    # wealth 1.1, 0.55, 0.66, 0.99, 1.188, 1.0692 → peak 1.1 (1 Jan), trough 0.55 (2 Jan),
    # regained on 5 Jan
    dd = max_drawdown(returns)
    assert dd.max_drawdown == approx(-0.5)
    assert (dd.peak_at, dd.trough_at, dd.recovered_at) == (index[0], index[1], index[4])
    never = max_drawdown(pd.Series([-0.1, -0.1, 0.05], index=index[:3]))
    assert never.peak_at is None  # the peak is the starting value
    assert never.trough_at == index[1] and never.recovered_at is None
    assert never.max_drawdown == approx(0.9 * 0.9 - 1)
    assert max_drawdown([0.01, 0.02]) == Drawdown(0.0)
    assert max_drawdown([]).max_drawdown is None
    assert max_drawdown([0.1, -0.2, 0.5]).trough_at == 1  # positions without an index


def test_undefined_metrics_are_none() -> None:
    assert sharpe_ratio([0.01]) is None
    assert sharpe_ratio([0.01, 0.01, 0.01]) is None  # no dispersion (empyrical: inf)
    assert sortino_ratio([0.01, 0.02]) is None  # no downside (empyrical: inf)
    assert annual_volatility([0.01]) is None
    assert cagr([]) is None
    assert calmar_ratio([0.01, 0.02]) is None  # no drawdown (empyrical: nan)
    empty = risk_metrics(daily_returns([]))
    assert empty.periods == 0 and empty.sharpe is None and empty.max_drawdown.max_drawdown is None
    assert daily_twr([]).empty
    assert all(p.twr is None for p in period_returns([], as_of=date(2024, 1, 1)))
    with pytest.raises(ValueError, match="periods_per_year"):
        sharpe_ratio([0.1, 0.2], periods_per_year=0)
    with pytest.raises(ValueError, match="risk_free_annual"):
        sharpe_ratio([0.1, 0.2], risk_free_annual=-1)


# --------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------


def test_benchmark_comparison_over_common_days() -> None:
    own = sample_returns(4, 100)
    bench = 0.5 * sample_returns(4, 100) + sample_returns(5, 100) * 0.3
    bench = bench.iloc[10:]  # the benchmark starts later
    bench.iloc[5] = np.nan  # and misses a day
    common = own.index.intersection(bench.dropna().index)
    result = benchmark_comparison(own, bench)
    assert result.days == len(common) == 89
    aligned_own, aligned_bench = own[common], bench[common]
    assert result.total_return == approx(float(np.prod(aligned_own + 1) - 1))
    assert result.benchmark_return == approx(float(np.prod(aligned_bench + 1) - 1))
    assert result.excess_return == approx(result.total_return - result.benchmark_return)
    assert result.beta == approx(empyrical.beta(aligned_own, aligned_bench))
    assert result.beta == approx(empyrical.beta(own, bench))  # empyrical aligns the same way
    assert result.correlation == approx(aligned_own.corr(aligned_bench))


def test_benchmark_hand_computed_and_degenerate() -> None:
    index = pd.date_range("2024-01-01", periods=3)
    own = pd.Series([0.02, -0.02, 0.04], index=index)
    bench = pd.Series([0.01, -0.01, 0.02], index=index)
    result = benchmark_comparison(own, bench)
    assert result.beta == approx(2.0) and result.correlation == approx(1.0)
    assert result.excess_return == approx(1.02 * 0.98 * 1.04 - 1.01 * 0.99 * 1.02)
    flat = benchmark_comparison(own, pd.Series(0.01, index=index))
    assert flat.beta is None and flat.correlation is None
    assert benchmark_comparison(own, bench.shift(freq="10D")).days == 0
    with pytest.raises(ValueError, match="Series"):
        benchmark_comparison(own, [0.1, 0.2, 0.3])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Calendar aggregates
# --------------------------------------------------------------------------------------------


def closed(pnl: str, entry: datetime, exit_: datetime) -> RoundTrip:
    return RoundTrip(
        trade_id=f"T-{entry.isoformat()}",
        symbol="AAPL",
        timeframe="1h",
        side=PositionSide.LONG,
        qty=D(1),
        entry_at=entry,
        entry_price=D(100),
        exit_at=exit_,
        exit_price=D(100) + D(pnl),
        fees=D(0),
        pnl=D(pnl),
        pnl_pct=D(pnl),
        r_multiple=None,
        holding_time=exit_ - entry,
        exit_reason="signal",
    )


TRIPS = [
    # entered Monday 4 March 14:30 UTC (09:30 New York), closed 5 March 02:00 UTC (4 March in NY)
    closed("10.10", datetime(2024, 3, 4, 14, 30, tzinfo=UTC), datetime(2024, 3, 5, 2, tzinfo=UTC)),
    closed("-4.05", datetime(2024, 3, 4, 15, 0, tzinfo=UTC), datetime(2024, 3, 5, 15, tzinfo=UTC)),
    closed("0", datetime(2024, 3, 5, 15, 10, tzinfo=UTC), datetime(2024, 3, 5, 16, tzinfo=UTC)),
]


def test_daily_trade_stats_by_exit_day_in_zone() -> None:
    ny = daily_trade_stats(TRIPS, zone=ZoneInfo("America/New_York"))
    assert list(ny.index) == [date(2024, 3, 4), date(2024, 3, 5)]
    assert ny.index.name == "day"
    assert list(ny["trades"]) == [1, 2] and list(ny["wins"]) == [1, 0] and list(ny["losses"]) == [0, 1]
    assert list(ny["win_rate"]) == [100.0, 0.0]
    assert list(ny["pnl"]) == [D("10.10"), D("-4.05")]
    assert isinstance(ny["pnl"].iloc[0], Decimal)
    utc = daily_trade_stats(TRIPS)
    assert list(utc.index) == [date(2024, 3, 5)] and utc["pnl"].iloc[0] == D("6.05")
    assert utc["win_rate"].iloc[0] == approx(100 / 3)
    assert daily_trade_stats([]).empty


def test_pnl_by_weekday_and_hour_of_entry() -> None:
    ny = ZoneInfo("America/New_York")
    weekdays = pnl_by_weekday(TRIPS, zone=ny)
    assert list(weekdays.index) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert weekdays.loc["Mon", "trades"] == 2 and weekdays.loc["Mon", "pnl"] == D("6.05")
    assert weekdays.loc["Tue", "trades"] == 1 and weekdays.loc["Tue", "pnl"] == 0
    assert weekdays.loc["Wed", "trades"] == 0 and math.isnan(weekdays.loc["Wed", "win_rate"])
    hours = pnl_by_hour(TRIPS, zone=ny)
    assert list(hours.index) == list(range(24)) and hours.index.name == "hour"
    assert hours.loc[9, "pnl"] == D("10.10")  # 09:30 New York
    assert hours.loc[10, "trades"] == 2 and hours.loc[10, "pnl"] == D("-4.05")
    assert hours.loc[10, "win_rate"] == 0.0
    assert pnl_by_hour(TRIPS).loc[14, "pnl"] == D("10.10")
    assert sum(hours["trades"]) == 3
