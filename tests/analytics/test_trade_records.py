"""Tests of bot.analytics.trade_records: Trades/Performance tab records and manual Trades rows read back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.trades import T0, fill, trip

from bot.analytics.round_trips import round_trips
from bot.analytics.trade_records import (
    PERFORMANCE_HEADERS,
    TRADES_HEADERS,
    format_duration,
    performance_records,
    trade_from_record,
    trade_records,
)
from bot.analytics.trade_stats import summarise
from bot.domain import PositionSide

UTC = timezone.utc
SCHEMA = Path(__file__).resolve().parents[2] / "sheets_schema"
D = Decimal


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def schema_headers(tab: str) -> list[str]:
    return [column["name"] for column in json.loads((SCHEMA / f"{tab}.json").read_text())["columns"]]


def test_headers_match_the_sheet_schema() -> None:
    assert list(TRADES_HEADERS) == schema_headers("Trades")
    assert list(PERFORMANCE_HEADERS) == schema_headers("Performance")


def test_format_duration() -> None:
    assert format_duration(timedelta(seconds=59.9)) == "00:00:59"
    assert format_duration(timedelta(hours=3, minutes=4, seconds=5)) == "03:04:05"
    assert format_duration(timedelta(days=2, hours=3, minutes=4, seconds=5)) == "2d 03:04:05"
    assert format_duration(timedelta(days=1)) == "1d 00:00:00"
    assert format_duration(timedelta(minutes=-90)) == "-01:30:00"
    assert format_duration(None) == ""


def test_trade_records() -> None:
    fills = [
        fill("f1", "buy", "0.5", "100.123456789", fee="0.011", minute=0, stop="2", order_id="A"),
        fill("f2", "sell", "0.5", "103", fee="0.005", minute=60 * 26 + 3, order_id="B", reason="stop"),
    ]
    [row] = trade_records(round_trips(fills), ZoneInfo("America/New_York"))
    assert list(row) == list(TRADES_HEADERS)
    assert row == {
        "trade_id": "AAPL-1h-f1",
        "symbol": "AAPL",
        "timeframe": "1h",
        "side": "long",
        "qty": "0.5",
        "entry_at": "2024-03-04 09:30:00",  # 14:30 UTC = 09:30 EST
        "entry_price": "100.12345679",
        "exit_at": "2024-03-05 11:33:00",
        "exit_price": "103",
        "fees": "0.02",  # 0.016
        "pnl": "1.42",  # 0.5 × 2.876543211 − 0.016 = 1.4222716055
        "pnl_pct": "2.84",
        "r_multiple": "1.42",
        "holding_time": "1d 02:03:00",
        "exit_reason": "stop",
        "order_ids": "A, B",
        "setup": "",
        "tags": "",
        "notes": "",
        "screenshot_url": "",
        "rating": "",
    }


def test_performance_records_rows_and_rounding() -> None:
    trips = [
        trip("2.345", 1, symbol="BTCUSDT", timeframe="1h"),
        trip("-1", 2, symbol="BTCUSDT", timeframe="15m", fees="0.125"),
        trip("2.355", 3, symbol="AAPL", timeframe="1d", side=PositionSide.SHORT, hold_minutes=60 * 25),
    ]
    now = datetime(2024, 7, 1, 12, 0, 5, tzinfo=UTC)
    rows = performance_records(trips, now, ZoneInfo("Europe/Berlin"))
    assert [(r["symbol"], r["timeframe"]) for r in rows] == [
        ("AAPL", ""),
        ("AAPL", "1d"),
        ("BTCUSDT", ""),
        ("BTCUSDT", "15m"),
        ("BTCUSDT", "1h"),
        ("TOTAL", ""),
    ]
    for row in rows:
        assert list(row) == list(PERFORMANCE_HEADERS)
        assert row["last_updated"] == "2024-07-01 14:00:05"  # CEST
    aapl, btc, total = rows[0], rows[2], rows[-1]
    assert aapl["total_pnl"] == "2.36"  # 2.355 half-even → 2.36
    assert aapl["profit_factor"] == "" and aapl["avg_loss"] == "" and aapl["payoff_ratio"] == ""
    assert aapl["short_trades"] == "1" and aapl["short_pnl"] == "2.36" and aapl["long_pnl"] == "0"
    assert aapl["avg_holding_time"] == "1d 01:00:00"
    assert btc == {
        "symbol": "BTCUSDT",
        "total_trades": "2",
        "winning_trades": "1",
        "losing_trades": "1",
        "win_rate": "50",
        "total_pnl": "1.34",  # 1.345 half-even → 1.34
        "avg_pnl_per_trade": "0.67",  # 0.6725
        "best_trade": "2.34",  # 2.345 half-even → 2.34
        "worst_trade": "-1",
        "last_updated": "2024-07-01 14:00:05",
        "timeframe": "",
        "scratch_trades": "0",
        "gross_profit": "2.34",
        "gross_loss": "-1",
        "profit_factor": "2.34",
        "expectancy": "0.67",
        "avg_win": "2.34",
        "avg_loss": "-1",
        "payoff_ratio": "2.34",
        "max_win_streak": "1",
        "max_loss_streak": "1",
        "avg_holding_time": "01:00:00",
        "long_trades": "2",
        "long_pnl": "1.34",
        "short_trades": "0",
        "short_pnl": "0",
        "max_drawdown": "1",
        "total_fees": "0.12",  # 0.125 half-even → 0.12
    }
    assert total["total_trades"] == "3" and total["total_pnl"] == "3.7"
    assert total["win_rate"] == "66.67"


def test_performance_records_without_trades_has_a_total_row() -> None:
    [row] = performance_records([], datetime(2024, 1, 1, tzinfo=UTC), UTC)
    assert row["symbol"] == "TOTAL" and row["total_trades"] == "0" and row["total_pnl"] == "0"
    assert row["win_rate"] == "" and row["avg_holding_time"] == ""


def test_manual_trip_without_timeframe_counts_only_in_symbol_and_total_rows() -> None:
    trips = [trip(1, 1, timeframe=""), trip(2, 2, timeframe="1h")]
    rows = performance_records(trips, T0, UTC)
    assert [(r["symbol"], r["timeframe"], r["total_trades"]) for r in rows] == [
        ("AAPL", "", "2"),
        ("AAPL", "1h", "1"),
        ("TOTAL", "", "2"),
    ]


# --------------------------------------------------------------------------------------------
# Manual journal rows
# --------------------------------------------------------------------------------------------


def manual(**cells: str) -> dict[str, str]:
    row = dict.fromkeys(TRADES_HEADERS, "")
    row.update(
        symbol="nasdaq:aapl",
        side="Long",
        qty="10",
        entry_at="2024-03-04 09:30:00",
        entry_price="$100",
        exit_at="2024-03-05 10:00:30",
        exit_price="105.50",
        fees="1",
    )
    row.update(cells)
    return row


def test_trade_from_record_computes_pnl_from_prices() -> None:
    t = trade_from_record(manual(timeframe="60", order_ids="a, b;c a"), zone=ZoneInfo("America/New_York"))
    assert (t.symbol, t.timeframe, t.side, t.qty) == ("AAPL", "1h", "long", 10)
    assert t.entry_at == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    assert t.exit_at == datetime(2024, 3, 5, 15, 0, 30, tzinfo=UTC)
    assert t.entry_at.tzinfo is UTC
    assert t.entry_price == 100 and t.exit_price == D("105.5")
    assert t.pnl == D(54)  # 5.5 × 10 − 1
    assert t.pnl_pct == D("5.4")
    assert t.holding_time == timedelta(days=1, minutes=30, seconds=30)
    assert t.trade_id == "" and t.order_ids == ("a", "b", "c")
    assert t.r_multiple is None


def test_trade_from_record_short_given_pnl_and_offsets() -> None:
    t = trade_from_record(
        manual(side="short", pnl="-12.5", r_multiple="-0.5", entry_at="2024-03-04T14:30:00Z", fees="")
    )
    assert t.side == "short" and t.pnl == D("-12.5") and t.r_multiple == D("-0.5")
    assert t.fees == 0 and t.entry_at == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    computed = trade_from_record(manual(side="short", fees=""))
    assert computed.pnl == D(-55)


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"qty": "ten"}, r"qty: 'ten' is not a number"),
        ({"qty": "0"}, r"qty: '0' must be greater than zero"),
        ({"qty": "-1"}, r"qty: '-1' must not be negative"),
        ({"side": "flat"}, r"side: 'flat' is not long or short"),
        ({"entry_price": ""}, r"entry_price: required"),
        ({"symbol": ""}, r"symbol: required"),
        ({"symbol": "A B"}, r"symbol: 'A B' is not a symbol"),
        ({"timeframe": "fortnight"}, r"timeframe: 'fortnight' is not a timeframe"),
        ({"entry_at": "04/03/2024"}, r"entry_at: '04/03/2024' is not a time"),
        ({"exit_at": "2024-03-01 00:00:00"}, r"exit_at: '2024-03-01 00:00:00' is before entry_at"),
        ({"fees": "abc"}, r"fees: 'abc' is not a number"),
        ({"pnl": "1e99"}, r"pnl: '1e99' is too large"),
        ({"exit_price": ""}, r"exit_price: required"),
    ],
)
def test_trade_from_record_errors_name_column_and_value(cells: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trade_from_record(manual(**cells))


def test_manual_trades_feed_the_statistics() -> None:
    bot_trip = round_trips([fill("f1", "buy", 1, 100), fill("f2", "sell", 1, 90, minute=1)])[0]
    manual_trip = trade_from_record(manual(timeframe="1h"))
    stats = summarise([bot_trip, manual_trip])
    assert stats.total_trades == 2 and stats.total_pnl == D(44)


def test_manual_trade_with_zero_fees_is_kept() -> None:
    t = trade_from_record(manual(fees="0", pnl=""))
    assert t.fees == 0
    assert t.pnl == (t.exit_price - t.entry_price) * t.qty * (1 if t.side == "long" else -1)
