"""A bot trading through the real alpaca-py client against the loopback Alpaca fake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fakes.alpaca_fake import AlpacaFake

from bot.brokers.alpaca import AlpacaBroker
from bot.services import Services, build_services
from bot.settings import load_settings

from .helpers import SECRET, TOKEN


@contextmanager
def alpaca_services(
    tmp_path: Path, prices: dict[str, str], *, position_size: str, timeout: float
) -> Iterator[tuple[AlpacaFake, Services]]:
    """Services trading through alpaca-py with an :class:`AlpacaFake` that lists ``prices``' symbols.

    Each symbol gets an active 1h Config row of ``position_size`` shares; ``timeout`` is the broker's
    HTTP timeout, seconds. On the way out the services are closed, then the fake is stopped.
    """
    with AlpacaFake() as fake:
        for symbol, price in prices.items():
            fake.add_asset(symbol)
            fake.set_price(symbol, price)
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
        services = build_services(settings, brokers={"alpaca": lambda: AlpacaBroker(settings, timeout=timeout)})
        try:
            row = {"position_size": position_size, "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}
            services.workbook.replace_rows("Config", [{"symbol": s, **row} for s in prices])
            services.config.invalidate()
            yield fake, services
        finally:
            services.close()
