"""Trading safety: stale alerts, risk limits on entries (exits always allowed), cool-down, trading hours."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from support.helpers import TOKEN, set_config

from bot.domain import parse_trading_hours
from bot.services import Services


def rows(*symbols: str, **extra: str) -> list[dict[str, str]]:
    return [{"symbol": s, "position_size": "10", "active": "TRUE", "Time Frame": "1h", "size_type": "qty", **extra}
            for s in symbols]


def test_stale_alert_is_rejected_but_replays_are_not(services: Services, post: Any) -> None:
    set_config(services, rows("AAPL"), {"max_alert_age_seconds": "30"})
    old = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    _, reply = post(action="buy", symbol="AAPL", timeframe="1h", price=10, time=old)
    assert reply["status"] == "skipped" and reply["reason"].startswith("stale alert: fired 300 s ago")
    assert services.brokers.get("paper").positions() == {}
    fresh = datetime.now(timezone.utc).isoformat()
    _, reply = post(action="buy", symbol="AAPL", timeframe="1h", price=10, time=fresh)
    assert reply["order_status"] == "FILLED"
    _, reply = post(action="close", symbol="AAPL", timeframe="1h", price=10, time=old, headers={"X-Bot-Replay": "1"})
    assert reply["order_status"] == "WAITING"


def test_max_open_positions_blocks_entries_not_exits(services: Services, post: Any) -> None:
    set_config(services, rows("AAPL", "MSFT"), {"max_open_positions": "1"})
    assert post(action="buy", symbol="AAPL", timeframe="1h", price=10)[1]["order_status"] == "FILLED"
    _, reply = post(action="buy", symbol="MSFT", timeframe="1h", price=10)
    assert (reply["status"], reply["order_status"]) == ("skipped", "BLOCKED")
    assert "max_open_positions 1" in reply["reason"]
    # a reversal of the open slot is allowed (it does not open a new slot)
    assert post(action="sell", symbol="AAPL", timeframe="1h", price=11)[1]["order_status"] == "FILLED"
    assert post(action="close", symbol="AAPL", timeframe="1h", price=11)[1]["order_status"] == "WAITING"
    assert post(action="buy", symbol="MSFT", timeframe="1h", price=10, id="again")[1]["order_status"] == "FILLED"


def test_max_symbol_notional_and_orders_per_minute(services: Services, post: Any) -> None:
    set_config(services, rows("AAPL", "MSFT", "NVDA"), {"max_symbol_notional_usd": "150", "max_orders_per_minute": "2"})
    _, reply = post(action="buy", symbol="AAPL", timeframe="1h", price=20)  # 10 × 20 = 200 > 150
    assert reply["order_status"] == "BLOCKED" and "max_symbol_notional_usd 150" in reply["reason"]
    assert post(action="buy", symbol="AAPL", timeframe="1h", price=10)[1]["order_status"] == "FILLED"
    assert post(action="buy", symbol="MSFT", timeframe="1h", price=10)[1]["order_status"] == "FILLED"
    _, reply = post(action="buy", symbol="NVDA", timeframe="1h", price=10)
    assert reply["order_status"] == "BLOCKED" and "max_orders_per_minute" in reply["reason"]
    assert post(action="close", symbol="AAPL", timeframe="1h", price=10)[1]["order_status"] == "WAITING"


def test_daily_loss_blocks_entries_until_resume(services: Services, post: Any, client: Any) -> None:
    set_config(services, rows("AAPL", "MSFT"), {"max_daily_loss_usd": "50"})
    post(action="buy", symbol="AAPL", timeframe="1h", price=100)
    post(action="close", symbol="AAPL", timeframe="1h", price=94)  # realised −60
    _, reply = post(action="buy", symbol="MSFT", timeframe="1h", price=10)
    assert reply["order_status"] == "BLOCKED" and reply["reason"].startswith("daily loss 60")
    _, reply = post(action="buy", symbol="MSFT", timeframe="1h", price=10.5)
    assert reply["order_status"] == "BLOCKED" and "blocked until tomorrow or POST /resume" in reply["reason"]
    client.post("/resume", headers={"Authorization": f"Bearer {TOKEN}"})
    assert post(action="buy", symbol="MSFT", timeframe="1h", price=11)[1]["order_status"] == "FILLED"


def test_daily_loss_counts_unrealised_losses(services: Services, post: Any) -> None:
    set_config(services, rows("AAPL", "MSFT"), {"max_daily_loss_usd": "50"})
    post(action="buy", symbol="AAPL", timeframe="1h", price=100)
    set_config(services, [*rows("AAPL", "MSFT"), *rows("AAPL", **{"Time Frame": "4h"})], {"max_daily_loss_usd": "50"})
    post(action="sell", symbol="AAPL", timeframe="4h", price=93)  # marks AAPL at 93: the 1h slot is −70 unrealised
    assert services.brokers.get("paper").last_price("AAPL") == Decimal(93)
    _, reply = post(action="buy", symbol="MSFT", timeframe="1h", price=10)
    assert reply["order_status"] == "BLOCKED" and "daily loss" in reply["reason"]


def test_cooldown_after_exit(services: Services, post: Any) -> None:
    set_config(services, rows("AAPL"), {"cooldown_seconds": "600"})
    post(action="buy", symbol="AAPL", timeframe="1h", price=10)
    post(action="close", symbol="AAPL", timeframe="1h", price=10)
    _, reply = post(action="buy", symbol="AAPL", timeframe="1h", price=10, id="re-entry")
    assert reply["order_status"] == "BLOCKED" and reply["reason"].startswith("cool-down: slot exited 0 s ago")


def test_trading_hours_block_entries_outside_the_window(services: Services, post: Any) -> None:
    now = datetime.now(timezone.utc)
    closed = f"{(now + timedelta(hours=2)).strftime('%H:%M')}-{(now + timedelta(hours=3)).strftime('%H:%M')} UTC"
    set_config(services, rows("AAPL", trading_hours=closed))
    _, reply = post(action="buy", symbol="AAPL", timeframe="1h", price=10)
    assert reply["order_status"] == "BLOCKED" and "trading_hours" in reply["reason"]
    opened = f"{(now - timedelta(hours=1)).strftime('%H:%M')}-{(now + timedelta(hours=1)).strftime('%H:%M')} UTC"
    set_config(services, rows("AAPL", trading_hours=opened))
    assert post(action="buy", symbol="AAPL", timeframe="1h", price=10, id="in")[1]["order_status"] == "FILLED"
    set_config(services, rows("AAPL", trading_hours=closed))
    assert post(action="close", symbol="AAPL", timeframe="1h", price=10)[1]["order_status"] == "WAITING"


def test_trading_hours_parsing() -> None:
    hours = parse_trading_hours("09:30-16:00 America/New_York Mon-Fri")
    monday_open = datetime(2024, 5, 6, 14, 0, tzinfo=timezone.utc)  # 10:00 New York
    assert hours.contains(monday_open)
    assert not hours.contains(monday_open.replace(hour=21))  # 17:00 New York
    assert not hours.contains(datetime(2024, 5, 4, 14, 0, tzinfo=timezone.utc))  # Saturday
    overnight = parse_trading_hours("22:00-02:00 UTC")
    assert overnight.contains(datetime(2024, 5, 6, 23, 0, tzinfo=timezone.utc))
    assert overnight.contains(datetime(2024, 5, 7, 1, 0, tzinfo=timezone.utc))
    assert not overnight.contains(datetime(2024, 5, 7, 3, 0, tzinfo=timezone.utc))
    for bad in ("9-5", "09:30-16:00 Mars/Base", "09:30-16:00 Funday", "America/New_York"):
        with pytest.raises(ValueError):
            parse_trading_hours(bad)
