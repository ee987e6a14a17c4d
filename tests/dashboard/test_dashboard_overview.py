"""Overview data (bot.dashboard.overview): headline figures are the analytics results; bot health."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import numpy as np
from support.dashboard_rows import FLOWS, NY, SNAPSHOTS, TRADES, UTC, tab_table

from bot.analytics.returns import daily_returns, daily_twr, period_returns
from bot.analytics.risk_metrics import max_drawdown
from bot.analytics.trade_stats import summarise
from bot.dashboard.activity import signals_frame
from bot.dashboard.overview import health_summary, overview_figures
from bot.dashboard.portfolio import equity_curve, portfolio_view, twr_table
from bot.dashboard.trades import trades_view


def test_overview_figures_are_the_analytics_results() -> None:
    portfolio = portfolio_view(tab_table("Snapshots", SNAPSHOTS), tab_table("CashFlows", FLOWS), NY)
    trades = trades_view(tab_table("Trades", TRADES), NY)
    figures = overview_figures(trades, portfolio, today=date(2024, 1, 3), zone=NY)
    assert figures.periods == tuple(period_returns(portfolio.equity, portfolio.flows, as_of=date(2024, 1, 3), zone=NY))
    assert figures.today_pnl == Decimal("16100.5") - Decimal("15100.5") - Decimal("799.5")  # net of today's flows
    assert figures.today_source == "equity"
    assert figures.stats == summarise(trades.trips)
    returns = daily_returns(portfolio.equity, portfolio.flows, zone=NY)
    assert figures.max_drawdown == max_drawdown(returns).max_drawdown
    later = overview_figures(trades, portfolio, today=date(2024, 3, 5), zone=NY)
    assert (later.today_pnl, later.today_source) == (Decimal(99), "trades")  # no snapshot today: trades closed today
    curve = equity_curve(portfolio, NY)
    assert list(curve["equity"]) == [15000.0, 15100.5, 16100.5]
    table = daily_twr(portfolio.equity, portfolio.flows, zone=NY)
    assert np.allclose(curve["twr"], table["growth"] - 1)
    assert (curve["drawdown"] <= 0).all()
    periods = twr_table(figures.periods)
    assert list(periods["period"]) == ["7d", "30d", "90d", "YTD", "1y", "All"]


def test_health_from_the_endpoint_or_the_last_signal() -> None:
    signals = signals_frame(tab_table("Signals", [{"received_at": "2024-01-01 10:00:00"}]), UTC)
    now = datetime(2024, 1, 1, 10, 30, tzinfo=UTC)
    health = health_summary(None, signals, now=now, zone=UTC)
    assert health.state == "unreachable" and "30 min" in health.text
    body = {
        "status": "ok",
        "mode": "paper",
        "trading_enabled": False,
        "active_configs": 3,
        "last_signal_at": "2024-01-01T10:29:00+00:00",
    }
    health = health_summary(body, signals, now=now, zone=UTC)
    assert health.state == "degraded" and "kill switch" in health.text and "60 s ago" in health.text
    assert health_summary(None, signals.iloc[:0], now=now, zone=UTC).state == "unknown"
