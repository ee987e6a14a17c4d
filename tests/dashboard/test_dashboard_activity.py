"""Signals and orders (bot.dashboard.activity), latency, and open positions (bot.dashboard.overview)."""

from __future__ import annotations

import pytest
from support.dashboard_rows import CONFIG, UTC, tab_table

from bot.dashboard.activity import latency_summary, orders_frame, signals_frame
from bot.dashboard.overview import open_positions


def test_signals_orders_latency_and_positions() -> None:
    signals = signals_frame(
        tab_table(
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
    assert latency_summary(signals["latency_ms"]) == {
        "count": 2,
        "p50": 6.75,
        "p95": pytest.approx(9.675),
        "max": 10.0,
    }
    orders = orders_frame(
        tab_table(
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
    positions = open_positions(
        tab_table("Config", [*CONFIG, {"symbol": "ETH", "Time Frame": "1h", "Position": "-0.5"}])
    )
    assert positions[["symbol", "side", "qty"]].to_dict("records") == [
        {"symbol": "AAPL", "side": "long", "qty": 10.0},
        {"symbol": "ETH", "side": "short", "qty": 0.5},
    ]
