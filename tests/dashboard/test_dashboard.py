"""The Streamlit dashboard under AppTest: every page on a missing, an empty and a replayed workbook.

The replayed workbook is what the bot itself writes for ``examples/alerts/ma_cross.jsonl`` (real
services, the engine handling each alert, the performance recompute), plus realistic Snapshots and
CashFlows rows (daily mark-to-market equity from the trades and the AAPL/MSFT closes, one deposit
and one withdrawal) and daily bars for the price charts and the benchmark. Key numbers on the
pages must equal bot.analytics results computed here from the state DB's fills
and the rows written, and edits must change user-owned cells only.
"""

from __future__ import annotations

import csv
import gzip
import html
import json
import re
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import bokeh_sampledata
import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest
from support.helpers import SECRET, TOKEN

from bot.analytics.calendar import daily_trade_stats
from bot.analytics.qty import qty_for_risk
from bot.analytics.returns import daily_returns, period_returns
from bot.analytics.risk_metrics import max_drawdown
from bot.analytics.round_trips import RoundTrip, round_trips
from bot.analytics.trade_records import TRADES_USER_COLUMNS
from bot.analytics.trade_stats import summarise
from bot.dashboard.formatting import PERIOD_LABELS, format_money, format_pct
from bot.jobs import recompute_performance
from bot.records import WriteBatch
from bot.services import build_services, seed_workbook
from bot.settings import Settings, load_settings
from bot.sheets.local import LocalWorkbook

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
ALERTS = ROOT / "examples" / "alerts" / "ma_cross.jsonl"
STOCKS = Path(bokeh_sampledata.__file__).resolve().parent / "_data" / "stocks.csv.gz"
ZONE = "America/New_York"
NY = ZoneInfo(ZONE)
UTC = timezone.utc
PAGES = {
    "overview": "app_pages/overview.py",
    "journal": "app_pages/journal.py",
    "performance": "app_pages/performance.py",
    "twr": "app_pages/twr.py",
    "calendar": "app_pages/calendar_page.py",
    "calculator": "app_pages/calculator.py",
    "config": "app_pages/config_editor.py",
    "signals": "app_pages/signals_orders.py",
}
KPI = re.compile(
    r'<div class="kpi-label">(.*?)</div><div class="kpi-value"[^>]*>(.*?)</div>(?:<div class="kpi-sub">(.*?)</div>)?'
)


# -- the replayed workbook ------------------------------------------------------------------------------


@dataclass
class Replay:
    """A data dir built by the bot from the example alerts, and the facts the pages must show."""

    data_dir: Path
    trips: list[RoundTrip]  # from the state DB's fills: the bot's own computation
    snapshots: list[tuple[datetime, Decimal]]  # total equity, UTC
    flows: list[tuple[datetime, str, Decimal]]
    performance_tab: list[dict[str, str]]
    signals: list[dict[str, str]]


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(
        bot_data_dir=data_dir, webhook_secret=SECRET, bot_api_token=TOKEN, bot_timezone=ZONE, **overrides
    )


def _closes() -> dict[str, dict[str, dict[str, str]]]:
    rows: dict[str, dict[str, dict[str, str]]] = {}
    with gzip.open(STOCKS, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Ticker"] in ("AAPL", "MSFT", "IBM") and "2009-06-01" <= row["Date"] <= "2013-03-01":
                rows.setdefault(row["Ticker"], {})[row["Date"]] = row
    return rows


def _when(moment: datetime) -> str:
    return moment.astimezone(NY).strftime("%Y-%m-%d %H:%M:%S")


def build_replay_workbook(data_dir: Path) -> Replay:
    """Replay the example alerts through real services in-process, then add equity, flows and bars."""
    services = build_services(_settings(data_dir))
    try:
        for line in ALERTS.read_text(encoding="utf-8").splitlines():
            reply = services.engine.handle(line.replace("{{SECRET}}", SECRET).encode(), replay=True)
            assert reply.http_status == 200, reply.body
        services.writer.flush()
        assert recompute_performance(services)["trades"] == 55
        trips = round_trips(services.store.fills())
        bars = _closes()
        flows = [
            (datetime(2011, 6, 1, 14, tzinfo=NY).astimezone(UTC), "deposit", Decimal(25000)),
            (datetime(2012, 9, 4, 10, tzinfo=NY).astimezone(UTC), "withdrawal", Decimal("10000.50")),
        ]
        snapshots: list[tuple[datetime, Decimal]] = []
        for day in sorted(d for d in bars["AAPL"] if d >= "2010-03-01"):
            at = datetime.fromisoformat(f"{day}T21:00:00+00:00")
            equity = Decimal(100000) + sum((a if k == "deposit" else -a for t, k, a in flows if t <= at), Decimal(0))
            for trip in trips:
                if trip.exit_at <= at:
                    equity += trip.pnl
                elif trip.entry_at <= at:
                    close = Decimal(bars[trip.symbol][day]["Close"])
                    move = (close - trip.entry_price) * trip.qty
                    equity += move if trip.side == "long" else -move
            snapshots.append((at, equity))
        services.workbook.replace_rows(
            "Snapshots",
            [
                {"taken_at": _when(at), "broker": "paper", "account": "paper", "equity": str(value), "currency": "USD"}
                for at, value in snapshots
            ],
        )
        services.workbook.apply(
            WriteBatch(
                appends=[
                    (
                        "CashFlows",
                        {
                            "flow_at": _when(at),
                            "broker": "paper",
                            "kind": kind,
                            "amount": str(amount),
                            "currency": "USD",
                            "source": "manual",
                        },
                    )
                    for at, kind, amount in flows
                ]
            )
        )
        tables = services.workbook.read_tables(["Performance", "Signals"])
    finally:
        services.close()
    (data_dir / "bars").mkdir()
    for ticker, days in bars.items():
        lines = ["date,open,high,low,close,volume"]
        lines += [f"{d},{r['Open']},{r['High']},{r['Low']},{r['Close']},{r['Volume']}" for d, r in sorted(days.items())]
        (data_dir / "bars" / f"{ticker}.csv").write_text("\n".join(lines) + "\n")
    return Replay(data_dir, trips, snapshots, flows, tables["Performance"].rows, tables["Signals"].rows)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    return build_replay_workbook(tmp_path_factory.mktemp("replay") / "data")


@pytest.fixture
def own_replay(replay: Replay, tmp_path: Path) -> Replay:
    """A private copy of the replayed data dir, for tests that write."""
    target = tmp_path / "data"
    shutil.copytree(replay.data_dir, target)
    return Replay(target, replay.trips, replay.snapshots, replay.flows, replay.performance_tab, replay.signals)


# -- AppTest helpers ----------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Any:
    def configure(data_dir: Path, **extra: str) -> None:
        monkeypatch.setenv("BOT_DATA_DIR", str(data_dir))
        monkeypatch.setenv("BOT_TIMEZONE", ZONE)
        monkeypatch.setenv("DASHBOARD_BOT_URL", f"http://127.0.0.1:{_closed_port()}")
        monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
        for name, value in extra.items():
            monkeypatch.setenv(name, value)

    return configure


def start() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def show(app: AppTest, page: str) -> AppTest:
    app.switch_page(PAGES[page]).run()
    ok(app)
    return app


def ok(app: AppTest) -> None:
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def kpis(app: AppTest) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for block in app.markdown:
        for match in KPI.finditer(block.value):
            found[html.unescape(match[1])] = (html.unescape(match[2]), html.unescape(match[3] or ""))
    return found


def charts(app: AppTest) -> list[list[pd.DataFrame]]:
    """The datasets of every Vega-Lite chart on the page."""
    return [
        [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
        for chart in app.get("vega_lite_chart")
    ]


def rows(data_dir: Path, tab: str) -> list[dict[str, str]]:
    workbook = LocalWorkbook(data_dir / "workbook.db")
    try:
        return workbook.read_tables([tab])[tab].rows
    finally:
        workbook.close()


def button(app: AppTest, label: str) -> Any:
    return next(b for b in app.button if b.label == label)


def today() -> date:
    return datetime.now(NY).date()


# -- empty workbooks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_every_page_has_an_empty_state(kind: str, tmp_path: Path, env: Any) -> None:
    data_dir = tmp_path / "data"
    if kind == "empty":
        workbook = LocalWorkbook(data_dir / "workbook.db")
        seed_workbook(workbook, examples=False)
        workbook.close()
    env(data_dir)
    app = start()
    for page in PAGES:
        show(app, page)
        assert app.title, page
        if page != "calculator":  # the calculator needs no data: it shows its form
            assert app.info, f"{page}: no empty-state notice"
        assert not charts(app) or all(all(len(d) for d in c) for c in charts(app)), page
    assert (data_dir / "workbook.db").exists() == (kind == "empty")  # looking never creates a workbook


# -- the replayed workbook: every page, key numbers -----------------------------------------------------------


def test_every_page_renders_the_replayed_workbook_with_charts(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = start()
    expected_charts = {
        "overview": 1,
        "journal": 0,
        "performance": 4,
        "twr": 1,
        "calendar": 1,
        "calculator": 0,
        "config": 0,
        "signals": 0,
    }
    for page, count in expected_charts.items():
        show(app, page)
        found = charts(app)
        assert len(found) == count, page
        for datasets in found:
            assert datasets and all(len(d) > 0 for d in datasets), f"{page}: empty chart"
        assert not app.warning, f"{page}: {[w.value for w in app.warning]}"


def test_overview_numbers_are_the_analytics_results(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = start()
    figures = kpis(app)
    stats = summarise(replay.trips)
    assert figures["Win rate"][0] == format_pct(stats.win_rate, fraction=False, signed=False)
    assert figures["Profit factor"][0] == f"{stats.profit_factor:.2f}"
    assert figures["Total realised P&L"] == (format_money(stats.total_pnl, "USD", signed=True), "55 trades")
    assert figures["Equity"][0] == format_money(replay.snapshots[-1][1], "USD")
    periods = period_returns(replay.snapshots, replay.flows, as_of=today(), zone=NY)
    for period in periods:
        if period.label == "1y":
            continue
        label = f"TWR {PERIOD_LABELS[period.label]}" + ("" if period.complete else " (since start)")
        assert figures[label] == (format_pct(period.twr), f"P&L {format_money(period.pnl, 'USD', signed=True)}")
    inception = periods[-1]
    assert inception.pnl == replay.snapshots[-1][1] - Decimal(100000) - Decimal("14999.50")
    returns = daily_returns(replay.snapshots, replay.flows, zone=NY)
    assert figures["Max drawdown (TWR)"][0] == format_pct(max_drawdown(returns).max_drawdown)
    assert figures["Bot health"][0] == "UNREACHABLE" and "last signal" in figures["Bot health"][1]
    latest = app.dataframe[-1].value
    assert list(latest["result"]) == ["success"] * 10
    (curve,) = charts(app)[0]
    assert len(curve) == len(replay.snapshots)  # one point a trading day


def test_health_comes_from_the_bot_when_it_answers(replay: Replay, env: Any) -> None:
    body = {
        "status": "ok",
        "mode": "paper",
        "trading_enabled": True,
        "active_configs": 4,
        "last_signal_at": datetime.now(UTC).isoformat(),
        "version": "test",
    }

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps(body).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env(replay.data_dir, DASHBOARD_BOT_URL=f"http://127.0.0.1:{server.server_address[1]}")
        health = kpis(start())["Bot health"]
    finally:
        server.shutdown()
    assert health[0] == "OK" and "paper" in health[1] and "4 active rows" in health[1]


def test_journal_totals_and_filters(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = show(start(), "journal")
    stats = summarise(replay.trips)
    assert kpis(app)["Trades"] == ("55", "of 55")
    assert kpis(app)["P&L"][0] == format_money(stats.total_pnl, "USD", signed=True)
    app.multiselect(key="f_symbol").set_value(["MSFT"]).run()
    app.selectbox(key="f_outcome").set_value("losers").run()
    ok(app)
    losers = [t for t in replay.trips if t.symbol == "MSFT" and t.pnl < 0]
    assert kpis(app)["Trades"][0] == str(len(losers))
    assert kpis(app)["P&L"][0] == format_money(sum(t.pnl for t in losers), "USD", signed=True)
    table = app.dataframe[0].value
    assert set(table["symbol"]) == {"MSFT"} and (table["pnl"] < 0).all()
    assert list(table["exit_at"]) == sorted(table["exit_at"], reverse=True)  # newest first
    # the bot's Performance tab agrees (it is computed from fills, the journal from the Trades tab)
    msft = next(r for r in replay.performance_tab if r["symbol"] == "MSFT" and not r["timeframe"])
    app.selectbox(key="f_outcome").set_value("all").run()
    assert kpis(app)["P&L"][0] == format_money(Decimal(msft["total_pnl"]), "USD", signed=True)


def test_journal_grid_edits_change_only_user_cells(own_replay: Replay, env: Any) -> None:
    env(own_replay.data_dir)
    before = rows(own_replay.data_dir, "Trades")
    app = show(start(), "journal")
    app.segmented_control(key="journal_mode").set_value("Edit notes").run()
    editor = app.data_editor[0]
    shown = editor.value
    first, third = shown["trade_id"].iloc[0], shown["trade_id"].iloc[2]
    app.session_state[editor.key] = {
        "edited_rows": {0: {"notes": "earnings gap", "rating": 4, "tags": "gap, earnings"}, 2: {"setup": "MA cross"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    button(app, "Save 2 edited rows").click().run()
    ok(app)
    assert "Saved 2 row(s)" in app.success[0].value
    after = rows(own_replay.data_dir, "Trades")
    changed = {r["trade_id"]: r for r in after if r["trade_id"] in (first, third)}
    assert (changed[first]["notes"], changed[first]["rating"], changed[first]["tags"]) == (
        "earnings gap",
        "4",
        "gap, earnings",
    )
    assert changed[third]["setup"] == "MA cross"
    for old, new in zip(before, after, strict=True):
        assert {k: v for k, v in old.items() if k not in TRADES_USER_COLUMNS} == {
            k: v for k, v in new.items() if k not in TRADES_USER_COLUMNS
        }
        if old["trade_id"] not in (first, third):
            assert old == new
    # the bot's next recompute keeps them
    services = build_services(_settings(own_replay.data_dir))
    try:
        recompute_performance(services)
        kept = {r["trade_id"]: r for r in services.workbook.read_tables(["Trades"])["Trades"].rows}
    finally:
        services.close()
    assert kept[first]["notes"] == "earnings gap" and kept[third]["setup"] == "MA cross"


def test_journal_row_shows_its_chart_and_saves_notes(own_replay: Replay, env: Any) -> None:
    env(own_replay.data_dir)
    app = show(start(), "journal")
    trade = app.dataframe[0].value.iloc[1]
    app.session_state["journal_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    app.run()
    ok(app)
    assert app.subheader[-1].value == f"{trade['symbol']} {trade['timeframe']} {trade['side']}"
    (price,) = charts(app)
    candles = next(d for d in price if "close" in d.columns)
    markers = next(d for d in price if "what" in d.columns)
    assert len(candles) > 20 and list(markers["price"]) == [trade["entry_price"], trade["exit_price"]]
    ident = trade["trade_id"]
    app.text_area(key=f"notes_{ident}").input("stopped out by the reversal")
    app.selectbox(key=f"rating_{ident}").set_value("2")
    app.text_input(key=f"url_{ident}").input("https://www.tradingview.com/x/abcd1234/")
    button(app, "Save notes").click().run()
    ok(app)
    saved = next(r for r in rows(own_replay.data_dir, "Trades") if r["trade_id"] == ident)
    assert (saved["notes"], saved["rating"], saved["screenshot_url"]) == (
        "stopped out by the reversal",
        "2",
        "https://www.tradingview.com/x/abcd1234/",
    )


def test_manual_trade_is_added_and_counted(own_replay: Replay, env: Any) -> None:
    env(own_replay.data_dir)
    app = show(start(), "journal")
    app.text_input(key="m_symbol").input("NASDAQ:NVDA")
    app.text_input(key="m_tf").input("D")
    app.radio(key="m_side").set_value("short")
    app.text_input(key="m_qty").input("0")
    app.text_input(key="m_entry_price").input("450.5")
    app.text_input(key="m_exit_price").input("430")
    app.date_input(key="m_entry_day").set_value(date(2024, 5, 1))
    app.date_input(key="m_exit_day").set_value(date(2024, 5, 3))
    app.text_input(key="m_fees").input("1.5")
    app.text_area(key="m_notes").input("hedge")
    button(app, "Add trade").click().run()
    assert app.error[0].value.startswith("Not added: qty:") and len(rows(own_replay.data_dir, "Trades")) == 55
    app.text_input(key="m_qty").input("3")
    button(app, "Add trade").click().run()
    ok(app)
    assert "Added NVDA short (+60.00 USD)" in app.success[0].value
    assert kpis(app)["Trades"][0] == "56"
    added = [r for r in rows(own_replay.data_dir, "Trades") if r["symbol"] == "NVDA"]
    assert len(added) == 1 and added[0]["order_ids"] == "" and added[0]["trade_id"].startswith("manual-")
    assert (added[0]["entry_at"], added[0]["pnl"], added[0]["notes"]) == ("2024-05-01 09:30:00", "60", "hedge")
    services = build_services(_settings(own_replay.data_dir))
    try:
        assert recompute_performance(services)["manual_trades"] == 1
        total = next(
            r for r in services.workbook.read_tables(["Performance"])["Performance"].rows if r["symbol"] == "TOTAL"
        )
    finally:
        services.close()
    assert total["total_trades"] == "56"
    assert app.text_input(key="m_symbol").value == ""  # the form is cleared after an add


def test_performance_tables_match_the_bots_performance_tab(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = show(start(), "performance")
    by_symbol = app.dataframe[0].value.set_index("symbol")
    for record in replay.performance_tab:
        if record["timeframe"] or record["symbol"] == "TOTAL":
            continue
        stats = summarise([t for t in replay.trips if t.symbol == record["symbol"]])
        row = by_symbol.loc[record["symbol"]]
        assert row["total_pnl"] == float(stats.total_pnl)
        assert Decimal(str(row["total_pnl"])).quantize(Decimal("0.01")) == Decimal(record["total_pnl"])
        assert (row["trades"], row["wins"], row["losses"]) == (
            int(record["total_trades"]),
            int(record["winning_trades"]),
            int(record["losing_trades"]),
        )
    app.radio(key="p_group").set_value("symbol+timeframe").run()
    assert len(app.dataframe[0].value) == 3
    sides = app.dataframe[1].value.set_index("side")
    stats = summarise(replay.trips)
    assert sides.loc["long", "total_pnl"] == float(stats.long_pnl)
    assert sides.loc["short", "trades"] == stats.short_trades
    heat = charts(app)[1][0]
    assert heat["pnl"].sum() == pytest.approx(float(stats.total_pnl))
    best = app.dataframe[2].value
    assert best["pnl"].iloc[0] == float(stats.best_trade)


def test_twr_page_periods_chart_and_cash_flow_form(own_replay: Replay, env: Any) -> None:
    env(own_replay.data_dir)
    app = show(start(), "twr")
    table = app.dataframe[0].value
    periods = period_returns(own_replay.snapshots, own_replay.flows, as_of=today(), zone=NY)
    for (_, row), period in zip(table.iterrows(), periods, strict=True):
        assert row["period"] == PERIOD_LABELS[period.label]
        assert row["twr"] == pytest.approx(period.twr, abs=1e-15)
        assert row["pnl"] == float(period.pnl)
        assert (row["mwr"] == pytest.approx(period.mwr)) if period.mwr is not None else pd.isna(row["mwr"])
    (lines,) = charts(app)[0]
    assert set(lines["series"]) == {"portfolio", "AAPL"}  # no SPY file: the first bars file is the benchmark
    app.selectbox(key="twr_benchmark").set_value("IBM").run()
    ok(app)
    assert "β" in kpis(app)["Excess vs IBM"][1]
    assert {s for s in charts(app)[0][0]["series"]} == {"portfolio", "IBM"}
    assert len(app.dataframe[1].value) == 2  # the two cash flows
    app.radio(key="cf_kind").set_value("withdrawal")
    app.text_input(key="cf_amount").input("1,500.25")
    app.date_input(key="cf_day").set_value(date(2013, 2, 1))
    button(app, "Record").click().run()
    ok(app)
    assert "Recorded a withdrawal of 1500.25 USD on 2013-02-01 12:00:00" in app.success[0].value
    flows = rows(own_replay.data_dir, "CashFlows")
    assert (flows[-1]["flow_at"], flows[-1]["kind"], flows[-1]["amount"], flows[-1]["source"]) == (
        "2013-02-01 12:00:00",
        "withdrawal",
        "1500.25",
        "manual",
    )
    assert len(app.dataframe[1].value) == 3
    new_flows = [
        *own_replay.flows,
        (datetime(2013, 2, 1, 12, tzinfo=NY).astimezone(UTC), "withdrawal", Decimal("1500.25")),
    ]
    inception = period_returns(own_replay.snapshots, new_flows, as_of=today(), zone=NY)[-1]
    assert app.dataframe[0].value["withdrawals"].iloc[-1] == float(inception.withdrawals)


def test_calendar_month_totals_and_a_days_trades(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = show(start(), "calendar")
    daily = daily_trade_stats(replay.trips, zone=NY)
    march = [d for d in daily.index if (d.year, d.month) == (2013, 3)]  # the latest month with trades
    figures = kpis(app)
    assert figures["March 2013"][0] == format_money(sum(daily.loc[march, "pnl"]), "USD", signed=True)
    assert figures["Trades"][0] == str(int(daily.loc[march, "trades"].sum()))
    grid = charts(app)[0][0]
    cells = grid[grid["kind"] == "day"].set_index("date")
    for day in march:
        assert cells.loc[str(day), "pnl"] == float(daily.loc[day, "pnl"])
    app.selectbox(key="cal_day_2013_3").set_value(march[-1]).run()
    ok(app)
    listed = app.dataframe[0].value
    assert len(listed) == daily.loc[march[-1], "trades"] == 3
    assert sum(listed["pnl"]) == pytest.approx(float(daily.loc[march[-1], "pnl"]))
    button(app, "Previous").click().run()
    ok(app)
    february = [d for d in daily.index if (d.year, d.month) == (2013, 2)]
    assert kpis(app)["February 2013"][0] == format_money(
        sum(daily.loc[february, "pnl"], Decimal(0)), "USD", signed=True
    )
    app.selectbox(key="cal_pick_2013_2").set_value((2012, 11)).run()
    ok(app)
    november = [d for d in daily.index if (d.year, d.month) == (2012, 11)]
    assert november and kpis(app)["Trades"][0] == str(int(daily.loc[november, "trades"].sum()))
    weeks = app.dataframe[-1].value
    assert weeks["pnl"].sum() == pytest.approx(float(sum(daily.loc[november, "pnl"])))


def test_calculator_uses_the_engines_formula(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = show(start(), "calculator")
    equity = app.number_input(key="calc_equity_linear")
    assert equity.value == float(replay.snapshots[-1][1])  # prefilled from the latest snapshot
    equity.set_value(25000.0)
    app.number_input(key="calc_entry").set_value(190.5)
    app.radio(key="calc_stop_mode").set_value("% from entry").run()
    app.number_input(key="calc_stop_pct").set_value(2.0)
    app.number_input(key="calc_fee").set_value(0.1)
    app.number_input(key="calc_step_linear").set_value(0.01)
    app.number_input(key="calc_target").set_value(205.0)
    app.run()
    ok(app)
    stop = Decimal("190.5") * Decimal("0.98")
    qty = qty_for_risk(Decimal(250), Decimal("190.5"), stop, Decimal("0.01"), Decimal("0.001"))
    assert kpis(app)["Quantity (rounded down)"][0] == f"{qty} units"
    assert kpis(app)["Notional"][0] == f"{qty * Decimal('190.5'):,.2f} USD"
    assert kpis(app)["Reward : risk"][0].endswith(" R")
    app.radio(key="calc_contract").set_value("inverse").run()
    ok(app)
    assert kpis(app)["Quantity (rounded down)"][0].endswith("contracts")
    app.number_input(key="calc_entry").set_value(100.0)
    app.radio(key="calc_stop_mode").set_value("price").run()
    app.number_input(key="calc_stop_long").set_value(101.0).run()
    assert "below the entry" in app.warning[0].value


def test_config_editor_validates_and_writes_user_cells_only(own_replay: Replay, env: Any) -> None:
    env(own_replay.data_dir)
    before = rows(own_replay.data_dir, "Config")
    app = show(start(), "config")
    editor = app.data_editor[0]
    app.session_state[editor.key] = {"edited_rows": {0: {"position_size": "5k"}}, "added_rows": [], "deleted_rows": []}
    app.run()
    assert not app.exception
    assert any("row 2: AAPL 1D" in e.value and "5k" in e.value for e in app.error)
    assert button(app, "Save (1 changed, 0 added, 0 deleted)").disabled
    app.session_state[editor.key] = {
        "edited_rows": {0: {"position_size": "12", "Order Status": "HACKED"}},
        "added_rows": [{"symbol": "NVDA", "position_size": "2", "active": "FALSE", "Time Frame": "4h"}],
        "deleted_rows": [],
    }
    app.run()
    assert app.success[0].value.startswith("All 6 rows are valid")
    button(app, "Save (1 changed, 1 added, 0 deleted)").click().run()
    ok(app)
    assert "Config saved" in app.success[0].value
    after = rows(own_replay.data_dir, "Config")
    assert after[0] == {**before[0], "position_size": "12"}  # Order Status and the other bot cells untouched
    assert after[1:5] == before[1:5] and after[5]["symbol"] == "NVDA" and after[5]["active"] == "FALSE"


def test_config_bulk_actions(own_replay: Replay, env: Any) -> None:
    env(own_replay.data_dir)
    before = rows(own_replay.data_dir, "Config")
    app = show(start(), "config")
    app.selectbox(key="bulk_source").set_value(2)
    app.multiselect(key="bulk_targets").set_value([4])
    app.multiselect(key="bulk_columns").set_value(["stop_loss_pct"]).run()
    button(app, "Apply").click().run()
    ok(app)
    after = rows(own_replay.data_dir, "Config")
    assert after[2] == {**before[2], "stop_loss_pct": "5"} and after[0] == before[0]
    app.text_area(key="bulk_symbols").input("NASDAQ:NVDA, tsla\nMSFT")
    app.text_input(key="bulk_tf").input("D").run()
    button(app, "Add rows").click().run()
    ok(app)
    assert "Added 2 row(s)" in app.success[0].value and "MSFT 1d: already in Config" in app.warning[0].value
    added = rows(own_replay.data_dir, "Config")[len(before) :]
    assert [(r["symbol"], r["Time Frame"], r["active"], r["position_size"]) for r in added] == [
        ("NVDA", "1d", "FALSE", "100"),
        ("TSLA", "1d", "FALSE", "100"),
    ]


def test_config_on_a_google_workbook_is_a_report_and_a_link(tmp_path: Path, env: Any) -> None:
    from fakes.sheets_fake import SheetsFake, open_fake_workbook

    if str(ROOT) not in sys.path:  # the app's own package (AppTest adds it only while a script runs)
        sys.path.insert(0, str(ROOT))
    from app_pages import _data

    with SheetsFake() as fake:
        header = ["symbol", "position_size", "active", "Time Frame"]
        sheet_id = fake.create_spreadsheet(
            {"Config": [header, ["AAPL", "10", "TRUE", "1D"], ["MSFT", "5k", "TRUE", "1h"]]}
        )
        env(tmp_path / "data", BOT_STORE="google", GOOGLE_SHEET_ID=sheet_id)
        opener = _data.workbook_opener
        _data.workbook_opener = lambda store, location: open_fake_workbook(fake, location, tmp_path)
        _data._workbook.clear()
        try:
            app = show_with_errors(start(), "config")
        finally:
            _data.workbook_opener = opener
            _data._workbook.clear()
    assert not app.data_editor  # the sheet is edited in Google Sheets
    assert any(f"docs.google.com/spreadsheets/d/{sheet_id}/edit" in m.value for m in app.markdown)
    assert [e.value for e in app.error] == ["row 3: MSFT 1h — position_size: '5k' is not a number"]
    assert len(app.dataframe[0].value) == 2


def show_with_errors(app: AppTest, page: str) -> AppTest:
    """Like :func:`show`, for pages whose error boxes are validation messages."""
    app.switch_page(PAGES[page]).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_signals_and_orders(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = show(start(), "signals")
    figures = kpis(app)
    assert figures["Signals"][0] == "58" and figures["Success"][0] == "58"
    latencies = pd.Series([float(r["latency_ms"]) for r in replay.signals])
    assert figures["Latency p50"][0] == f"{latencies.quantile(0.5):,.1f} ms"
    assert len(app.dataframe[0].value) == 58 and len(app.dataframe[1].value) == 58
    assert set(app.dataframe[1].value["status"]) == {"filled"}
    app.multiselect(key="so_symbols").set_value(["MSFT"]).run()
    assert kpis(app)["Signals"][0] == "30"


# -- access control ---------------------------------------------------------------------------------------------


def test_nothing_is_shown_before_the_password(replay: Replay, env: Any) -> None:
    env(replay.data_dir, DASHBOARD_PASSWORD="correct horse battery")
    app = start()
    assert [t.value for t in app.title] == ["Trading bot"]
    assert not kpis(app) and not app.dataframe and not app.sidebar.button
    app.text_input(key="login_password").input("wrong")
    button(app, "Log in").click().run()
    assert app.error[0].value == "Wrong password." and not kpis(app)
    app.text_input(key="login_password").input("correct horse battery")
    button(app, "Log in").click().run()
    ok(app)
    assert [t.value for t in app.title] == ["Overview"] and "Win rate" in kpis(app)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Each test starts with empty dashboard caches (they are process-wide)."""
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_calendar_starts_at_the_month_of_the_latest_trade(replay: Replay, env: Any) -> None:
    env(replay.data_dir)
    app = show(start(), "calendar")
    latest = max(t.exit_at for t in replay.trips).astimezone(NY)
    assert f"{latest:%B %Y}" in kpis(app)


def test_nothing_is_shown_before_an_oidc_login(replay: Replay, env: Any) -> None:
    env(replay.data_dir, DASHBOARD_PASSWORD="ignored when OIDC is configured")
    app = AppTest.from_file(APP, default_timeout=60)
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "0" * 32,
                           "client_id": "x", "client_secret": "y",
                           "server_metadata_url": "https://id.example/.well-known/openid-configuration"}  # fmt: skip
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Trading bot"]
    assert not kpis(app) and not app.dataframe and not app.text_input  # no page, no password form
    try:
        import authlib  # noqa: F401
    except ImportError:  # st.login cannot work: say so, show nothing
        assert "Authlib" in app.error[0].value
    else:
        assert [b.label for b in app.button] == ["Log in"]
