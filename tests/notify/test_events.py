"""Notification events (:mod:`bot.notify.events`): texts say what happened, where, and what the bot did."""

from __future__ import annotations

from decimal import Decimal

from bot.notify import events


def test_event_texts_say_what_happened_where_and_what_the_bot_did() -> None:
    failed = events.order_failed(symbol="AAPL", timeframe="15m", side="buy", qty="10", reason="market closed")
    assert failed.text == "AAPL 15m: buy 10 order FAILED: market closed. Row marked FAILED; no position change."
    assert failed.subject == "ORDER FAILED AAPL 15m"
    filled = events.order_filled(symbol="AAPL", timeframe="15m", side="buy", qty=Decimal("10.50"),
                                 price=Decimal("187.5"), order_id="x1")  # fmt: skip
    assert filled.text == "AAPL 15m: buy 10.5 filled @ 187.5 (order x1)."
    assert "No order placed" in events.blocked(symbol="AAPL", timeframe="1h", action="buy", reason="kill switch").text
