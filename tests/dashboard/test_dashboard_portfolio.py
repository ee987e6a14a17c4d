"""Equity, cash flows and TWR (bot.dashboard.portfolio): the report's rules, the cache's pickling."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from support.dashboard_rows import FLOWS, NY, SNAPSHOTS, TRADES, UTC, tab_table

from bot.analytics.equity import portfolio_equity, read_cash_flows, read_snapshots
from bot.dashboard.portfolio import cashflow_record, equity_curve, portfolio_view, twr_growth
from bot.dashboard.trades import trades_view


def test_portfolio_combines_accounts_like_the_report_and_reports_bad_rows() -> None:
    view = portfolio_view(tab_table("Snapshots", SNAPSHOTS), tab_table("CashFlows", FLOWS), NY)
    assert view.problems == (
        "Snapshots row 6, column taken_at: 'not a time' is not a date or time such as 2024-05-01 or 2024-05-01 14:30",
        "Snapshots row 7, column equity: 'n/a' is not a number",
        "CashFlows row 4, column kind: 'gift' is not deposit or withdrawal",
    )
    assert list(view.equity) == [Decimal(15000), Decimal("15100.5"), Decimal("16100.5")]  # "$6,000" read too
    assert view.equity.index[0] == pd.Timestamp("2024-01-01 21:00", tz="UTC")
    assert view.currency == "USD" and view.latest == (datetime(2024, 1, 3, 21, tzinfo=UTC), Decimal("16100.5"))
    assert list(view.flows) == [Decimal(1000), Decimal("-200.5")]
    assert list(view.snapshots["equity"]) == [10000.0, 5000.0, 10100.5, 6000.0]
    assert list(view.cash_flows["signed"]) == [1000.0, -200.5]
    # the same inputs as bot.snapshots gives the report
    snapshots = read_snapshots(tab_table("Snapshots", SNAPSHOTS), zone=NY, errors=[])
    flows = read_cash_flows(tab_table("CashFlows", FLOWS), zone=NY, errors=[])
    equity, moves = portfolio_equity(snapshots, flows, zone=NY)
    assert list(zip(view.equity.index.to_pydatetime(), view.equity, strict=True)) == equity
    assert list(zip(view.flows.index.to_pydatetime(), view.flows, strict=True)) == moves


def test_an_account_added_later_is_a_deposit_not_a_gain() -> None:
    rows = [
        {"taken_at": "2024-01-01 16:00:00", "broker": "alpaca", "account": "a", "equity": "10000"},
        {"taken_at": "2024-01-02 16:00:00", "broker": "alpaca", "account": "a", "equity": "10000"},
        {"taken_at": "2024-01-02 16:00:00", "broker": "binance", "account": "b", "equity": "5000"},
    ]
    view = portfolio_view(tab_table("Snapshots", rows), tab_table("CashFlows", []), NY)
    assert list(view.equity) == [Decimal(10000), Decimal(15000)] and list(view.flows) == [Decimal(5000)]
    assert twr_growth(view, NY).iloc[-1] == 0.0


def test_views_survive_the_cache_pickling() -> None:
    portfolio = portfolio_view(tab_table("Snapshots", SNAPSHOTS), tab_table("CashFlows", FLOWS), NY)
    trades = trades_view(tab_table("Trades", TRADES), NY)
    for view in (portfolio, trades):
        back = pickle.loads(pickle.dumps(view))
        assert type(back) is type(view)
    back_portfolio = pickle.loads(pickle.dumps(portfolio))
    assert list(back_portfolio.equity) == list(portfolio.equity)
    assert back_portfolio.equity.index.equals(portfolio.equity.index)
    assert back_portfolio.flows.index.equals(portfolio.flows.index) and back_portfolio.snapshots.equals(
        portfolio.snapshots
    )
    back_trades = pickle.loads(pickle.dumps(trades))
    assert back_trades.trips == trades.trips and back_trades.frame.equals(trades.frame)


def test_cashflow_record() -> None:
    record = cashflow_record(
        flow_at=datetime(2024, 2, 1, 12), kind="Deposit", amount=Decimal("2500.00"), zone=NY, note="=bonus"
    )
    assert record == {
        "flow_at": "2024-02-01 12:00:00",
        "broker": "",
        "account": "",
        "kind": "deposit",
        "amount": "2500",
        "currency": "USD",
        "source": "manual",
        "reference": "",
        "note": "'=bonus",
    }
    with pytest.raises(ValueError, match="amount"):
        cashflow_record(flow_at=datetime(2024, 2, 1), kind="deposit", amount=Decimal(0), zone=NY)
    with pytest.raises(ValueError, match="kind"):
        cashflow_record(flow_at=datetime(2024, 2, 1), kind="bonus", amount=Decimal(1), zone=NY)


def test_snapshot_unit_of_time_does_not_matter() -> None:
    """pandas 3 parses to microseconds: the totals index must still be the right instants."""
    rows = [
        {"taken_at": (datetime(2024, 1, 1) + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S"), "equity": str(h)}
        for h in range(48)
    ]
    view = portfolio_view(tab_table("Snapshots", rows), tab_table("CashFlows", []), UTC)
    assert list(view.equity.index) == [
        pd.Timestamp("2024-01-01 23:00", tz="UTC"),
        pd.Timestamp("2024-01-02 23:00", tz="UTC"),
    ]
    assert len(equity_curve(view, UTC)) == 2
