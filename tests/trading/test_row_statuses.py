"""Row statuses that need a real venue: PARTIALLY FILLED then FILLED, followed by the order tracker."""

from __future__ import annotations

import json
from pathlib import Path

from support.helpers import SECRET
from support.venues import alpaca_services

from bot.trading.tracker import OrderTracker


def test_partial_fill_shows_partially_filled_then_filled(tmp_path: Path) -> None:
    with alpaca_services(tmp_path, {"AAPL": "100"}, position_size="10", timeout=2.0) as (fake, services):
        fake.partial_next("4", "6")  # 4 shares at once, the other 6 later
        body = json.dumps(
            {"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "1h", "price": 100}
        ).encode()
        services.engine.handle(body)
        tracker = OrderTracker(services.engine)
        tracker.poll_once()

        def row() -> dict[str, str]:
            services.writer.flush()
            return services.workbook.read_tables(["Config"])["Config"].rows[0]

        assert (row()["Order Status"], row()["Position"]) == ("PARTIALLY FILLED", "4")
        fake.advance()
        tracker.poll_once()
        assert (row()["Order Status"], row()["Position"]) == ("FILLED", "10")
        assert services.engine.open_order_details() == []
        assert len(fake.orders()) == 1
