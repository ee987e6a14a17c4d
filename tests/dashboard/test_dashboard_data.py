"""Dashboard data preparation (bot.dashboard_data) and the calculator (bot.calculator): pure functions.

Numbers are checked against bot.performance / bot.analytics / bot.trading.sizing computed independently here,
and writes against a real local workbook (bot cells must never change).
"""

from __future__ import annotations

import math
import pickle
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from bot import dashboard_data as dd
from bot.analytics import calculator
from bot.analytics.calendar import daily_trade_stats, pnl_by_hour, pnl_by_weekday
from bot.analytics.equity import portfolio_equity, read_cash_flows, read_snapshots
from bot.analytics.returns import daily_returns, daily_twr, period_returns
from bot.analytics.risk_metrics import max_drawdown
from bot.analytics.trade_records import TRADES_USER_COLUMNS, trade_from_record
from bot.analytics.trade_stats import summarise
from bot.domain import ConfigRow, SizeType
from bot.jobs import recompute_performance
from bot.records import Instrument, RowWrite, Table, WriteBatch
from bot.services import Services
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs, tab_spec
from bot.trading.sizing import entry_size, qty_for_risk

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


def _trade(trade_id: str, symbol: str, side: str, entry: str, exit_: str, entry_at: str, exit_at: str, **extra: str):
    return {
        "trade_id": trade_id,
        "symbol": symbol,
        "timeframe": extra.pop("timeframe", "1d"),
        "side": side,
        "qty": "10",
        "entry_at": entry_at,
        "entry_price": entry,
        "exit_at": exit_at,
        "exit_price": exit_,
        "fees": "1",
        "order_ids": extra.pop("order_ids", f"o-{trade_id}"),
        **extra,
    }


TRADES = [
    _trade("A-1", "AAPL", "long", "100", "110", "2024-03-04 10:00:00", "2024-03-05 15:00:00", tags="breakout, A+"),
    _trade("A-2", "AAPL", "short", "110", "112", "2024-03-06 09:30:00", "2024-03-06 11:00:00", timeframe="1h"),
    _trade("M-3", "MSFT", "long", "50", "49", "2024-03-08 14:00:00", "2024-03-11 10:00:00", rating="4"),
    _trade("", "MSFT", "short", "60", "55", "2024-04-01 10:00:00", "2024-04-02 10:00:00", order_ids="", notes="manual"),
    _trade("", "TSLA", "long", "200", "200", "2024-04-03 10:00:00", "2024-04-03 12:00:00", order_ids="", fees=""),
]


def _table(tab: str, rows: list[dict[str, str]]) -> Table:
    headers = tab_spec(tab).headers
    return Table(tab, headers, [{h: r.get(h, "") for h in headers} for r in rows])


# -- formatting and parsing ----------------------------------------------------------------------


def test_money_and_percent_formats() -> None:
    assert dd.format_money(Decimal("1234.565"), "USD") == "1,234.56 USD"  # half-even
    assert dd.format_money(Decimal("-0.001"), "USD", signed=True) == "0.00 USD"
    assert dd.format_money(12.5, "USDT", signed=True) == "+12.50 USDT"
    assert dd.format_money(-3, "USD", signed=True) == "-3.00 USD"
    assert dd.format_money(None) == "–" and dd.format_money(math.nan) == "–"
    assert dd.format_pct(0.01234) == "+1.23 %"
    assert dd.format_pct(-0.5, signed=False) == "-50.00 %"
    assert dd.format_pct(48.49, fraction=False, signed=False) == "48.49 %"
    assert dd.format_pct(None) == "–" and dd.format_pct(0.0) == "0.00 %"


def test_parse_times_reads_zone_local_cells_and_offsets() -> None:
    times = dd.parse_times(["2024-03-04 10:00:00", "2024-03-04T15:00:00Z", "", "garbage", "2024-07-01"], NY)
    assert times[0] == pd.Timestamp("2024-03-04 15:00", tz="UTC")
    assert times[1] == pd.Timestamp("2024-03-04 15:00", tz="UTC")
    assert pd.isna(times[2]) and pd.isna(times[3])
    assert times[4] == pd.Timestamp("2024-07-01 04:00", tz="UTC")  # midnight New York in summer
    assert str(times.tz) == "America/New_York"


# -- trades ------------------------------------------------------------------------------------------


def test_trades_view_types_every_row_like_the_recompute_and_reports_bad_ones() -> None:
    rows = [
        *TRADES,
        _trade("X-9", "AAPL", "long", "abc", "1", "2024-01-01 00:00:00", "2024-01-02 00:00:00"),
        {h: "" for h in tab_spec("Trades").headers},
    ]
    view = dd.trades_view(_table("Trades", rows), NY)
    assert len(view.frame) == len(view.trips) == 5
    assert view.problems == ("Trades row 7: entry_price: 'abc' is not a number",)
    expected = [trade_from_record(r, zone=NY) for r in TRADES]
    assert (
        [t.pnl for t in view.trips]
        == [t.pnl for t in expected]
        == [Decimal(99), Decimal(-21), Decimal(-11), Decimal(49), Decimal(0)]
    )
    frame = view.frame
    assert list(frame["row"]) == [2, 3, 4, 5, 6]
    assert list(frame["manual"]) == [False, False, False, True, True]
    assert list(frame["editable"]) == [True, True, True, False, False]  # blank ids cannot be addressed
    assert frame.loc[2, "rating"] == 4 and pd.isna(frame.loc[0, "rating"])
    assert str(frame["entry_at"].dt.tz) == "America/New_York"
    assert frame.loc[0, "entry_at"] == pd.Timestamp("2024-03-04 15:00", tz="UTC")
    assert dd.trade_tags(frame) == ["A+", "breakout"]


def test_a_zero_fee_cell_reads_as_no_fee() -> None:
    """trade_from_record refuses fees "0" (blank works); the journal must not drop such rows."""
    view = dd.trades_view(_table("Trades", [{**TRADES[4], "fees": "0"}, {**TRADES[0], "fees": "0.00"}]), UTC)
    assert view.problems == () and [t.pnl for t in view.trips] == [Decimal(0), Decimal(100)]


def test_duplicate_trade_ids_are_not_editable() -> None:
    view = dd.trades_view(_table("Trades", [TRADES[0], TRADES[0], TRADES[1]]), UTC)
    assert list(view.frame["editable"]) == [False, False, True]


def test_filter_trades_by_every_field() -> None:
    frame = dd.trades_view(_table("Trades", TRADES), NY).frame

    def ids(**filters: object) -> list[int]:
        return list(frame.loc[dd.filter_trades(frame, **filters), "row"])  # type: ignore[arg-type]

    assert ids() == [2, 3, 4, 5, 6]
    assert ids(symbols=["MSFT"]) == [4, 5]
    assert ids(timeframes=["1h"]) == [3]
    assert ids(sides=["short"]) == [3, 5]
    assert ids(start=date(2024, 3, 6), end=date(2024, 3, 11)) == [3, 4]  # by exit day
    assert ids(tag="a+") == [2]
    assert ids(outcome="winners") == [2, 5]
    assert ids(outcome="losers") == [3, 4]
    assert ids(outcome="scratch") == [6]
    assert ids(symbols=["AAPL"], outcome="losers") == [3]


def _workbook(tmp_path: Path, tabs: dict[str, list[dict[str, str]]]) -> LocalWorkbook:
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    for tab, rows in tabs.items():
        workbook.replace_rows(tab, rows)
    return workbook


def test_journal_edits_write_only_user_cells(tmp_path: Path) -> None:
    workbook = _workbook(tmp_path, {"Trades": TRADES})
    before = workbook.read_tables(["Trades"])["Trades"].rows
    frame = dd.trades_view(workbook.read_tables(["Trades"])["Trades"], NY).frame
    subset = frame.iloc[[2, 0]]  # a filtered, reordered view: positions are into it
    batch, problems = dd.journal_edit_batch(
        subset,
        {
            "0": {"notes": "held through earnings", "rating": 5.0, "tags": "swing,  earnings"},
            1: {"setup": '=HYPERLINK("x")', "screenshot_url": "https://tradingview.com/x/abc"},
        },
    )
    assert problems == []
    assert [w.key for w in batch.writes] == [("M-3",), ("A-1",)]
    assert all(set(w.values) <= set(TRADES_USER_COLUMNS) for w in batch.writes)
    workbook.apply(batch)
    after = workbook.read_tables(["Trades"])["Trades"].rows
    assert after[2]["notes"] == "held through earnings" and after[2]["rating"] == "5"
    assert after[2]["tags"] == "swing, earnings"
    assert after[0]["setup"] == '\'=HYPERLINK("x")'  # never a formula
    for old, new in zip(before, after, strict=True):
        assert {k: v for k, v in old.items() if k not in TRADES_USER_COLUMNS} == {
            k: v for k, v in new.items() if k not in TRADES_USER_COLUMNS
        }


def test_journal_edits_are_checked() -> None:
    frame = dd.trades_view(_table("Trades", TRADES), UTC).frame
    batch, problems = dd.journal_edit_batch(
        frame,
        {
            0: {"pnl": 1000},
            1: {"rating": 7},
            2: {"screenshot_url": "javascript:alert(1)"},
            3: {"notes": "x"},
            4: {"notes": ""},
        },
    )
    assert not batch
    assert problems == [
        "Trades row 2: pnl is written by the bot and cannot be edited here",
        "Trades row 3: rating: '7' is not a whole number from 1 to 5",
        "Trades row 4: screenshot_url: 'javascript:alert(1)' is not an http(s):// link",
        "Trades row 5: has no unique trade_id, so it cannot be written back safely; edit it in the sheet",
    ]  # row 6: unchanged value, nothing to write


def test_manual_trade_record_is_kept_and_counted_by_the_recompute(services: Services) -> None:
    record = dd.manual_trade_record(
        symbol="NASDAQ:AAPL",
        timeframe="D",
        side="short",
        qty=Decimal("5"),
        entry_price=Decimal("190.5"),
        exit_price=Decimal("180"),
        fees=Decimal("1.25"),
        entry_at=datetime(2024, 5, 1, 9, 30),
        exit_at=datetime(2024, 5, 2, 16, 0),
        zone=NY,
        notes="faded the gap",
        rating=4,
    )
    assert record["trade_id"].startswith("manual-") and record["order_ids"] == ""
    assert (record["symbol"], record["timeframe"], record["pnl"], record["pnl_pct"]) == ("AAPL", "1d", "51.25", "5.38")
    assert record["entry_at"] == "2024-05-01 09:30:00" and record["holding_time"] == "1d 06:30:00"
    assert record["rating"] == "4" and record["notes"] == "faded the gap"
    services.workbook.apply(WriteBatch(appends=[("Trades", record)]))
    assert recompute_performance(services)["manual_trades"] == 1
    rows = services.workbook.read_tables(["Trades", "Performance"])
    assert rows["Trades"].rows == [record]
    total = next(r for r in rows["Performance"].rows if r["symbol"] == "TOTAL")
    assert (total["total_trades"], total["total_pnl"]) == ("1", "51.25")
    with pytest.raises(ValueError, match="exit_at"):
        dd.manual_trade_record(
            symbol="AAPL",
            side="long",
            qty=Decimal(1),
            entry_price=Decimal(1),
            exit_price=Decimal(2),
            entry_at=datetime(2024, 5, 2),
            exit_at=datetime(2024, 5, 1),
            zone=NY,
        )
    with pytest.raises(ValueError, match="qty"):
        dd.manual_trade_record(
            symbol="AAPL",
            side="long",
            qty=Decimal(0),
            entry_price=Decimal(1),
            exit_price=Decimal(2),
            entry_at=datetime(2024, 5, 1),
            exit_at=datetime(2024, 5, 2),
            zone=NY,
        )


def test_group_stats_and_heatmap_agree_with_performance_and_analytics() -> None:
    trips = dd.trades_view(_table("Trades", TRADES), NY).trips
    by_symbol = dd.group_stats(trips, "symbol").set_index("symbol")
    for symbol in ("AAPL", "MSFT", "TSLA"):
        stats = summarise([t for t in trips if t.symbol == symbol])
        assert by_symbol.loc[symbol, "total_pnl"] == float(stats.total_pnl)
        assert by_symbol.loc[symbol, "trades"] == stats.total_trades
    sides = dd.group_stats(trips, "side").set_index("side")
    assert sides.loc["long", "total_pnl"] == float(summarise(trips).long_pnl)
    slots = dd.group_stats(trips, "symbol+timeframe")
    assert len(slots) == 4 and list(slots.columns[:2]) == ["symbol", "timeframe"]
    cells = dd.weekday_hour_heatmap(trips, NY)
    assert len(cells) == 7 * 24
    weekdays = pnl_by_weekday(trips, zone=NY)
    hours = pnl_by_hour(trips, zone=NY)
    assert np.allclose(cells.groupby("weekday")["pnl"].sum().reindex(weekdays.index), weekdays["pnl"].astype(float))
    assert np.allclose(cells.groupby("hour")["pnl"].sum(), hours["pnl"].astype(float))
    best, worst = dd.best_worst_trades(dd.trades_view(_table("Trades", TRADES), NY).frame, 2)
    assert list(best["pnl"]) == [99.0, 49.0] and list(worst["pnl"]) == [-21.0, -11.0]


# -- equity, flows, TWR --------------------------------------------------------------------------------

SNAPSHOTS = [
    {"taken_at": "2024-01-01 16:00:00", "broker": "alpaca", "account": "a", "equity": "10000", "currency": "USD"},
    {"taken_at": "2024-01-01 16:00:00", "broker": "binance", "account": "b", "equity": "5000", "currency": "USD"},
    {"taken_at": "2024-01-02 16:00:00", "broker": "alpaca", "account": "a", "equity": "10100.5"},
    {"taken_at": "2024-01-03 16:00:00", "broker": "binance", "account": "b", "equity": "$6,000"},
    {"taken_at": "not a time", "broker": "alpaca", "account": "a", "equity": "1"},
    {"taken_at": "2024-01-04 16:00:00", "broker": "alpaca", "account": "a", "equity": "n/a"},
]
FLOWS = [
    {"flow_at": "2024-01-03 09:00:00", "kind": "deposit", "amount": "1000"},
    {"flow_at": "2024-01-03 12:00:00", "kind": "Withdrawal", "amount": "200.5"},
    {"flow_at": "2024-01-03", "kind": "gift", "amount": "5"},
]


def test_portfolio_combines_accounts_like_the_report_and_reports_bad_rows() -> None:
    view = dd.portfolio_view(_table("Snapshots", SNAPSHOTS), _table("CashFlows", FLOWS), NY)
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
    snapshots = read_snapshots(_table("Snapshots", SNAPSHOTS), zone=NY, errors=[])
    flows = read_cash_flows(_table("CashFlows", FLOWS), zone=NY, errors=[])
    equity, moves = portfolio_equity(snapshots, flows, zone=NY)
    assert list(zip(view.equity.index.to_pydatetime(), view.equity, strict=True)) == equity
    assert list(zip(view.flows.index.to_pydatetime(), view.flows, strict=True)) == moves


def test_an_account_added_later_is_a_deposit_not_a_gain() -> None:
    rows = [
        {"taken_at": "2024-01-01 16:00:00", "broker": "alpaca", "account": "a", "equity": "10000"},
        {"taken_at": "2024-01-02 16:00:00", "broker": "alpaca", "account": "a", "equity": "10000"},
        {"taken_at": "2024-01-02 16:00:00", "broker": "binance", "account": "b", "equity": "5000"},
    ]
    view = dd.portfolio_view(_table("Snapshots", rows), _table("CashFlows", []), NY)
    assert list(view.equity) == [Decimal(10000), Decimal(15000)] and list(view.flows) == [Decimal(5000)]
    assert dd.twr_growth(view, NY).iloc[-1] == 0.0


def test_overview_figures_are_the_analytics_results() -> None:
    portfolio = dd.portfolio_view(_table("Snapshots", SNAPSHOTS), _table("CashFlows", FLOWS), NY)
    trades = dd.trades_view(_table("Trades", TRADES), NY)
    figures = dd.overview_figures(trades, portfolio, today=date(2024, 1, 3), zone=NY)
    assert figures.periods == tuple(period_returns(portfolio.equity, portfolio.flows, as_of=date(2024, 1, 3), zone=NY))
    assert figures.today_pnl == Decimal("16100.5") - Decimal("15100.5") - Decimal("799.5")  # net of today's flows
    assert figures.today_source == "equity"
    assert figures.stats == summarise(trades.trips)
    returns = daily_returns(portfolio.equity, portfolio.flows, zone=NY)
    assert figures.max_drawdown == max_drawdown(returns).max_drawdown
    later = dd.overview_figures(trades, portfolio, today=date(2024, 3, 5), zone=NY)
    assert (later.today_pnl, later.today_source) == (Decimal(99), "trades")  # no snapshot today: trades closed today
    curve = dd.equity_curve(portfolio, NY)
    assert list(curve["equity"]) == [15000.0, 15100.5, 16100.5]
    table = daily_twr(portfolio.equity, portfolio.flows, zone=NY)
    assert np.allclose(curve["twr"], table["growth"] - 1)
    assert (curve["drawdown"] <= 0).all()
    periods = dd.twr_table(figures.periods)
    assert list(periods["period"]) == ["7d", "30d", "90d", "YTD", "1y", "All"]


def test_views_survive_the_cache_pickling() -> None:
    portfolio = dd.portfolio_view(_table("Snapshots", SNAPSHOTS), _table("CashFlows", FLOWS), NY)
    trades = dd.trades_view(_table("Trades", TRADES), NY)
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
    record = dd.cashflow_record(
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
        dd.cashflow_record(flow_at=datetime(2024, 2, 1), kind="deposit", amount=Decimal(0), zone=NY)
    with pytest.raises(ValueError, match="kind"):
        dd.cashflow_record(flow_at=datetime(2024, 2, 1), kind="bonus", amount=Decimal(1), zone=NY)


# -- calendar ----------------------------------------------------------------------------------------------


def test_month_grid_weeks_and_totals_come_from_daily_trade_stats() -> None:
    trips = dd.trades_view(_table("Trades", TRADES), NY).trips
    daily = daily_trade_stats(trips, zone=NY)
    grid = dd.month_grid(daily, 2024, 3)
    assert len(grid) == 35 and grid["day"].iloc[0] == date(2024, 2, 26)  # Monday before 1 March
    assert grid.loc[grid["day"] == date(2024, 3, 5), "pnl"].item() == 99.0
    assert grid.loc[grid["day"] == date(2024, 3, 6), "win_rate"].item() == 0.0
    weeks = dd.week_totals(grid)
    assert weeks["pnl"].sum() == float(sum(daily["pnl"][[d.month == 3 for d in daily.index]]))
    assert list(weeks.loc[weeks["trades"] > 0, "trades"]) == [2, 1]
    totals = dd.month_totals(daily, 2024, 3)
    assert totals == {
        "trades": 3,
        "wins": 1,
        "losses": 2,
        "win_rate": 100 / 3,
        "pnl": Decimal(67),
        "days": 3,
        "green_days": 1,
    }
    assert dd.month_totals(daily, 2023, 1)["trades"] == 0
    frame = dd.trades_view(_table("Trades", TRADES), NY).frame
    assert list(dd.day_trades(frame, date(2024, 3, 11))["row"]) == [4]


# -- config ---------------------------------------------------------------------------------------------------

CONFIG = [
    {
        "symbol": "AAPL",
        "position_size": "10",
        "active": "TRUE",
        "Time Frame": "1D",
        "size_type": "qty",
        "Order Status": "FILLED",
        "Position": "10",
        "Last Signal": "buy @ 190",
    },
    {"symbol": "MSFT", "position_size": "500", "active": "TRUE", "Time Frame": "1h", "Order Status": "WAITING"},
    {
        "symbol": "BTCUSDT",
        "position_size": "250",
        "active": "FALSE",
        "Time Frame": "15",
        "direction": "long",
        "stop_loss_pct": "2",
    },
]


def test_config_edits_write_changed_user_cells_only(tmp_path: Path) -> None:
    workbook = _workbook(tmp_path, {"Config": CONFIG})
    base = workbook.read_tables(["Config"])["Config"]
    edits = {
        "edited_rows": {"0": {"position_size": "12", "Order Status": "HACKED"}, 1: {"active": False}},
        "added_rows": [{"symbol": "NVDA", "position_size": "5", "active": "TRUE", "Time Frame": "4h"}],
        "deleted_rows": [],
    }
    plan = dd.config_save(base, edits)
    assert plan.rows is None and plan.summary == "2 changed, 1 added, 0 deleted"
    assert [(w.key, w.values) for w in plan.batch.writes] == [
        (("AAPL", "1d"), {"position_size": "12"}),
        (("MSFT", "1h"), {"active": "FALSE"}),
    ]
    # the bot writes a status meanwhile: it survives
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("AAPL", "1d"), {"Order Status": "ALREADY LONG"})]))
    workbook.apply(plan.batch)
    rows = workbook.read_tables(["Config"])["Config"].rows
    assert (rows[0]["position_size"], rows[0]["Order Status"], rows[0]["Position"]) == ("12", "ALREADY LONG", "10")
    assert rows[1]["active"] == "FALSE" and rows[3]["symbol"] == "NVDA"
    assert dd.config_records(base, edits)[0]["position_size"] == "12"


def test_config_deletion_replaces_rows_with_the_latest_bot_cells(tmp_path: Path) -> None:
    workbook = _workbook(tmp_path, {"Config": CONFIG})
    base = workbook.read_tables(["Config"])["Config"]
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("AAPL", "1d"), {"Order Status": "ALREADY LONG"})]))
    edits = {"edited_rows": {2: {"position_size": "300"}}, "added_rows": [], "deleted_rows": [1]}
    plan = dd.config_save(base, edits, current=workbook.read_tables(["Config"])["Config"])
    assert plan.batch is None and plan.summary == "1 changed, 0 added, 1 deleted"
    workbook.replace_rows("Config", plan.rows or [])
    rows = workbook.read_tables(["Config"])["Config"].rows
    assert [r["symbol"] for r in rows] == ["AAPL", "BTCUSDT"]
    assert rows[0]["Order Status"] == "ALREADY LONG" and rows[0]["Last Signal"] == "buy @ 190"
    assert rows[1]["position_size"] == "300"
    assert dd.config_save(base, {}).summary == "no changes"


def test_config_validation_messages_per_row() -> None:
    base = _table("Config", CONFIG)
    records = dd.config_records(
        base,
        {
            "edited_rows": {1: {"position_size": "5k"}},
            "added_rows": [{"symbol": "AAPL", "position_size": "1", "active": "TRUE", "Time Frame": "D"}],
        },
    )
    problems = dd.config_row_problems(base.headers, records)
    assert set(problems) == {2, 3, 5}
    assert "position_size" in problems[3][0] and "5k" in problems[3][0]
    assert all("AAPL" in m or "duplicate" in m.lower() or "same" in m.lower() for m in problems[2] + problems[5])
    assert dd.config_row_problems(base.headers, base.rows) == {}


def test_bulk_copy_and_add_symbols(tmp_path: Path) -> None:
    workbook = _workbook(tmp_path, {"Config": CONFIG})
    table = workbook.read_tables(["Config"])["Config"]
    batch, problems = dd.copy_settings_batch(table, 4, [2, 3, 9], ["direction", "stop_loss_pct"])
    assert problems == ["row 9 does not exist"]
    workbook.apply(batch)
    rows = workbook.read_tables(["Config"])["Config"].rows
    assert [(r["direction"], r["stop_loss_pct"]) for r in rows[:2]] == [("long", "2"), ("long", "2")]
    assert rows[0]["Order Status"] == "FILLED"  # untouched
    assert dd.copy_settings_batch(table, 2, [3], ["Order Status"])[1] == [
        "cannot copy Order Status (key or bot-owned columns)"
    ]
    symbols, bad = dd.parse_symbol_list("NASDAQ:aapl, msft\nBINANCE:ETHUSDT.P;; ETHUSDT  bad$$")
    assert symbols == ["AAPL", "MSFT", "ETHUSDT"] and len(bad) == 1
    batch, skipped = dd.add_symbols_batch(
        table, symbols, timeframe="60", settings={"position_size": "100", "active": "FALSE", "Order Status": "x"}
    )
    assert skipped == ["MSFT 1h: already in Config"]
    assert [r for _, r in batch.appends] == [
        {"symbol": "AAPL", "Time Frame": "1h", "position_size": "100", "active": "FALSE"},
        {"symbol": "ETHUSDT", "Time Frame": "1h", "position_size": "100", "active": "FALSE"},
    ]
    with pytest.raises(ValueError):
        dd.add_symbols_batch(table, ["X"], timeframe="7 fortnights", settings={})


# -- signals, orders, health, positions ----------------------------------------------------------------------


def test_signals_orders_latency_and_positions() -> None:
    signals = dd.signals_frame(
        _table(
            "Signals",
            [
                {"received_at": "2024-01-01 10:00:00", "symbol": "AAPL", "result": "success", "latency_ms": "3.5"},
                {"received_at": "2024-01-01 11:00:00", "symbol": "MSFT", "result": "rejected", "latency_ms": "10"},
                {"received_at": "", "symbol": "X", "result": "rejected", "latency_ms": ""},
            ],
        ),
        UTC,
    )
    assert list(signals["symbol"]) == ["MSFT", "AAPL", "X"]
    assert dd.latency_summary(signals["latency_ms"]) == {
        "count": 2,
        "p50": 6.75,
        "p95": pytest.approx(9.675),
        "max": 10.0,
    }
    orders = dd.orders_frame(
        _table(
            "Orders",
            [
                {
                    "submitted_at": "2024-01-01 10:00:00",
                    "filled_at": "2024-01-01 10:00:02",
                    "status": "filled",
                    "qty": "1",
                },
                {"submitted_at": "2024-01-01 10:00:00", "filled_at": "2010-01-01 10:00:00", "status": "filled"},
            ],
        ),
        UTC,
    )
    assert list(orders["fill_seconds"].fillna(-1)) == [-1, 2.0]  # same time: later rows first
    positions = dd.open_positions(
        _table("Config", [*CONFIG, {"symbol": "ETH", "Time Frame": "1h", "Position": "-0.5"}])
    )
    assert positions[["symbol", "side", "qty"]].to_dict("records") == [
        {"symbol": "AAPL", "side": "long", "qty": 10.0},
        {"symbol": "ETH", "side": "short", "qty": 0.5},
    ]


def test_health_from_the_endpoint_or_the_last_signal() -> None:
    signals = dd.signals_frame(_table("Signals", [{"received_at": "2024-01-01 10:00:00"}]), UTC)
    now = datetime(2024, 1, 1, 10, 30, tzinfo=UTC)
    health = dd.health_summary(None, signals, now=now, zone=UTC)
    assert health.state == "unreachable" and "30 min" in health.text
    body = {
        "status": "ok",
        "mode": "paper",
        "trading_enabled": False,
        "active_configs": 3,
        "last_signal_at": "2024-01-01T10:29:00+00:00",
    }
    health = dd.health_summary(body, signals, now=now, zone=UTC)
    assert health.state == "degraded" and "kill switch" in health.text and "60 s ago" in health.text
    assert dd.health_summary(None, signals.iloc[:0], now=now, zone=UTC).state == "unknown"


# -- bars and benchmark ------------------------------------------------------------------------------------------


def test_bars_files_and_benchmark_returns(tmp_path: Path) -> None:
    (tmp_path / "SPY.csv").write_text(
        "Date,Open,High,Low,Close\n2024-01-03,1,1,1,110\n2024-01-02,1,1,1,100\n2024-01-04,1,1,1,99\n"
    )
    (tmp_path / "aapl_1h.csv").write_text("timestamp,close\n1704200400000,190\n1704204000000,191\n")
    assert dd.find_bars(tmp_path, "SPY", "1d") == tmp_path / "SPY.csv"
    assert dd.find_bars(tmp_path, "AAPL", "1h") == tmp_path / "aapl_1h.csv"
    assert dd.find_bars(tmp_path, "AAPL", "1d") is None and dd.bar_symbols(tmp_path) == ["AAPL", "SPY"]
    spy = dd.read_bars(tmp_path / "SPY.csv")
    assert spy.attrs["date_only"] and list(spy["close"]) == [100.0, 110.0, 99.0]
    hourly = dd.read_bars(tmp_path / "aapl_1h.csv")
    assert hourly["time"].iloc[0] == pd.Timestamp("2024-01-02 13:00", tz="UTC") and hourly["open"].iloc[0] == 190
    returns = dd.benchmark_returns(spy, NY)  # date bars keep their dates whatever the zone
    assert list(returns.index) == [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04")]
    assert np.allclose(returns, [0.1, -0.1])
    twr = pd.Series([0.0, 0.05, 0.02], index=pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="day"))
    lines = dd.return_lines(twr, returns, name="SPY")
    assert np.allclose(lines.loc[lines["series"] == "SPY", "return"], [0.0, 0.1, 1.1 * 0.9 - 1])
    window = dd.bars_window(spy, datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 3, 12, tzinfo=UTC), pad_bars=0)
    assert list(window["close"]) == [110.0]
    with pytest.raises(ValueError, match="close"):
        dd.read_bars("time,price\n2024-01-01,1\n")


# -- calculator ------------------------------------------------------------------------------------------------


def test_linear_size_is_the_engines_risk_pct_size() -> None:
    result = calculator.position_size(
        equity=Decimal(25000),
        risk_pct=Decimal(1),
        entry=Decimal("190.5"),
        stop_pct=Decimal(2),
        fee_rate=Decimal("0.001"),
        step=Decimal("0.01"),
        target_price=Decimal("205"),
        leverage=Decimal(2),
    )
    stop = Decimal("190.5") * Decimal("0.98")
    assert result.stop_price == stop
    assert result.qty == qty_for_risk(Decimal(250), Decimal("190.5"), stop, Decimal("0.01"), Decimal("0.001"))
    assert result.qty == Decimal("59.70")
    row = ConfigRow("AAPL", "1d", Decimal(1), True, 2, size_type=SizeType.RISK_PCT, stop_loss_pct=Decimal(2))
    engine = entry_size(
        row, price=Decimal("190.5"), instrument=Instrument("AAPL", Decimal("0.01")), equity=Decimal(25000)
    )
    assert engine.qty == qty_for_risk(Decimal(250), Decimal("190.5"), stop, Decimal("0.01"))  # the engine (no fee)
    assert result.notional == result.qty * Decimal("190.5") and result.margin == result.notional / 2
    per_unit = Decimal("190.5") - stop + Decimal("0.001") * (Decimal("190.5") + stop)
    assert result.loss_at_stop == result.qty * per_unit <= Decimal(250)
    reward = result.qty * (Decimal(205) - Decimal("190.5") - Decimal("0.001") * (Decimal("190.5") + 205))
    assert result.reward_at_target == reward and float(result.rr) == pytest.approx(float(reward / result.loss_at_stop))


def test_inverse_contract_size_in_coin() -> None:
    result = calculator.position_size(
        equity=Decimal("0.5"),
        risk_amount=Decimal("0.005"),
        entry=Decimal(60000),
        stop_price=Decimal(61200),
        side="short",
        contract="inverse",
        contract_size=Decimal(100),
        fee_rate=Decimal("0.0005"),
        step=Decimal(1),
        leverage=Decimal(10),
    )
    per = 100 * (Decimal(1) / 60000 - Decimal(1) / 61200).copy_abs() + Decimal("0.0005") * 100 * (
        Decimal(1) / 60000 + Decimal(1) / 61200
    )
    assert result.qty == (Decimal("0.005") / per).to_integral_value(rounding="ROUND_DOWN") == 145
    assert result.notional_quote == 14500 and float(result.notional) == pytest.approx(14500 / 60000)
    assert float(result.margin) == pytest.approx(14500 / 60000 / 10)
    assert float(result.loss_at_stop) == pytest.approx(float(145 * per)) and result.loss_at_stop <= Decimal("0.005")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stop_price": Decimal(101)}, "below the entry"),
        ({"stop_price": Decimal(99), "side": "short"}, "above the entry"),
        ({"stop_price": Decimal(99), "risk_amount": Decimal(5)}, "either a percent"),
        ({"stop_pct": Decimal(0)}, "stop %"),
        ({"stop_price": Decimal(99), "target_price": Decimal(90)}, "target"),
        ({"stop_price": Decimal(99), "leverage": Decimal("0.5")}, "leverage"),
        ({"stop_price": Decimal(99), "equity": Decimal(0)}, "equity"),
    ],
)
def test_calculator_names_the_bad_input(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"equity": Decimal(1000), "entry": Decimal(100), "risk_pct": Decimal(1), **kwargs}
    with pytest.raises(calculator.CalculatorError, match=message):
        calculator.position_size(**values)  # type: ignore[arg-type]


def test_calculator_warns_when_margin_exceeds_equity() -> None:
    result = calculator.position_size(
        equity=Decimal(1000), risk_pct=Decimal(5), entry=Decimal(100), stop_price=Decimal("99.9")
    )
    assert result.qty == 500 and any("margin" in note for note in result.notes)
    assert result.leverage_needed == 50
    tiny = calculator.position_size(
        equity=Decimal(10), risk_pct=Decimal(1), entry=Decimal(50000), stop_pct=Decimal(1), step=Decimal(1)
    )
    assert tiny.qty == 0 and any("rounds down to 0" in note for note in tiny.notes)


def test_snapshot_unit_of_time_does_not_matter() -> None:
    """pandas 3 parses to microseconds: the totals index must still be the right instants."""
    rows = [
        {"taken_at": (datetime(2024, 1, 1) + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S"), "equity": str(h)}
        for h in range(48)
    ]
    view = dd.portfolio_view(_table("Snapshots", rows), _table("CashFlows", []), UTC)
    assert list(view.equity.index) == [
        pd.Timestamp("2024-01-01 23:00", tz="UTC"),
        pd.Timestamp("2024-01-02 23:00", tz="UTC"),
    ]
    assert len(dd.equity_curve(view, UTC)) == 2


def test_journal_pnl_is_exact_when_the_cells_allow_it() -> None:
    """The bot rounds ``pnl`` cells to cents; totals of many rows must not drift from the Performance tab."""
    short = _trade("S-1", "AAPL", "short", "529.8209", "430.47", "2012-11-01 16:00:00", "2013-03-01 16:00:00",
                   pnl="993.51", fees="")  # fmt: skip
    scaled = _trade("S-2", "AAPL", "long", "100", "110", "2024-01-01 10:00:00", "2024-01-02 10:00:00",
                    pnl="150", fees="")  # a scaled-in trade: qty × prices does not give its pnl  # fmt: skip
    trips = dd.trades_view(_table("Trades", [short, scaled]), UTC).trips
    assert trips[0].pnl == Decimal("993.5090")  # exact, and still rounds to the cell
    assert trips[1].pnl == Decimal(150)  # the cell as typed
