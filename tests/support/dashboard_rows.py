"""Workbook rows shared by the dashboard data tests (importable as ``support.dashboard_rows``).

Trades, Snapshots, CashFlows and Config rows in the bot's cell formats, and helpers that turn
them into a :class:`~bot.records.Table` or a real local workbook.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.records import Table
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs, tab_spec

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


def trade_row(
    trade_id: str, symbol: str, side: str, entry: str, exit_: str, entry_at: str, exit_at: str, **extra: str
) -> dict[str, str]:
    """A Trades row (qty 10, fees 1, timeframe ``1d``, ``order_ids`` ``o-<id>`` unless given in ``extra``)."""
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
    trade_row("A-1", "AAPL", "long", "100", "110", "2024-03-04 10:00:00", "2024-03-05 15:00:00", tags="breakout, A+"),
    trade_row("A-2", "AAPL", "short", "110", "112", "2024-03-06 09:30:00", "2024-03-06 11:00:00", timeframe="1h"),
    trade_row("M-3", "MSFT", "long", "50", "49", "2024-03-08 14:00:00", "2024-03-11 10:00:00", rating="4"),
    trade_row(
        "", "MSFT", "short", "60", "55", "2024-04-01 10:00:00", "2024-04-02 10:00:00", order_ids="", notes="manual"
    ),
    trade_row("", "TSLA", "long", "200", "200", "2024-04-03 10:00:00", "2024-04-03 12:00:00", order_ids="", fees=""),
]


def tab_table(tab: str, rows: list[dict[str, str]]) -> Table:
    """``rows`` as the ``tab`` tab (every column of its schema, missing cells blank)."""
    headers = tab_spec(tab).headers
    return Table(tab, headers, [{h: r.get(h, "") for h in headers} for r in rows])


def local_workbook(tmp_path: Path, tabs: dict[str, list[dict[str, str]]]) -> LocalWorkbook:
    """A local workbook under ``tmp_path`` with every tab, and ``tabs`` (name → rows) written."""
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    for tab, rows in tabs.items():
        workbook.replace_rows(tab, rows)
    return workbook


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
