"""Tests of bot.analytics.risk_metrics: the metrics against empyrical-reloaded, drawdown dates, benchmark."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.numbers import approx, at

from bot.analytics.returns import daily_returns, daily_twr, period_returns
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

UTC = timezone.utc
D = Decimal


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
