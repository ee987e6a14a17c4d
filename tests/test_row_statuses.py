"""Row statuses that need a real venue: PARTIALLY FILLED then FILLED, followed by the order tracker."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.alpaca_fake import AlpacaFake
from support.helpers import SECRET, TOKEN

from bot.brokers.alpaca import AlpacaBroker
from bot.services import build_services
from bot.settings import load_settings
from bot.tracker import OrderTracker


def test_partial_fill_shows_partially_filled_then_filled(tmp_path: Path) -> None:
    with AlpacaFake() as fake:
        fake.add_asset("AAPL")
        fake.set_price("AAPL", "100")
        settings = load_settings(
            bot_data_dir=tmp_path / "data",
            bot_broker="alpaca",
            webhook_secret=SECRET,
            bot_api_token=TOKEN,
            alpaca_api_key=fake.api_key,
            alpaca_api_secret=fake.secret_key,
            alpaca_base_url=fake.base_url,
            alpaca_data_url=fake.base_url,
        )
        services = build_services(settings, brokers={"alpaca": lambda: AlpacaBroker(settings, timeout=2.0)})
        try:
            services.workbook.replace_rows(
                "Config",
                [{"symbol": "AAPL", "position_size": "10", "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}],
            )
            services.config.invalidate()
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
        finally:
            services.close()
