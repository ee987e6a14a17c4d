"""Risk metrics of a returns series and the comparison with a benchmark's returns (pure).

Volatility, Sharpe, Sortino, CAGR, maximum drawdown, Calmar, beta and correlation follow
empyrical-reloaded's definitions (``empyrical/stats.py``) so they agree with it to floating-point
rounding; where empyrical answers NaN or ±inf (too few values, no dispersion, no drawdown) these
functions answer ``None``. Returns are fractions (``0.01`` = 1 %), floats, e.g. the daily TWR
returns of :func:`bot.analytics.returns.daily_returns`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

__all__ = [
    "BenchmarkComparison",
    "Drawdown",
    "ReturnsInput",
    "RiskMetrics",
    "annual_volatility",
    "benchmark_comparison",
    "cagr",
    "calmar_ratio",
    "max_drawdown",
    "risk_metrics",
    "sharpe_ratio",
    "sortino_ratio",
]


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
        returns: periodic returns (fractions), e.g. :func:`~bot.analytics.returns.daily_returns`; NaNs are dropped.
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
        """The index label of wealth position ``position`` (None for the start, before any return)."""
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
        returns: periodic returns, e.g. :func:`~bot.analytics.returns.daily_returns` (Series indexed by day gives dated
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
        returns: the portfolio's returns (fractions), e.g. :func:`~bot.analytics.returns.daily_returns`.
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
