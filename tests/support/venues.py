"""Venue settings for the loopback Alpaca and Binance fakes, and a bot trading through alpaca-py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fakes.alpaca_fake import AlpacaFake
from fakes.binance_fake import BinanceFake

from bot.brokers.alpaca.broker import AlpacaBroker
from bot.services import Services, build_services
from bot.settings import Settings, load_settings

from .helpers import SECRET, TOKEN


def alpaca_values(fake: AlpacaFake) -> dict[str, object]:
    """Settings values pointing alpaca-py at ``fake`` (its keys and URLs)."""
    return {
        "alpaca_api_key": fake.api_key,
        "alpaca_api_secret": fake.secret_key,
        "alpaca_base_url": fake.base_url,
        "alpaca_data_url": fake.base_url,
    }


def binance_values(fake: BinanceFake) -> dict[str, object]:
    """Settings values pointing python-binance (spot and USD-M futures) at ``fake``."""
    return {
        "binance_api_key": fake.api_key,
        "binance_api_secret": fake.api_secret,
        "binance_api_url": fake.base_url,
        "binance_futures_url": fake.base_url,
    }


def alpaca_settings(fake: AlpacaFake, **values: object) -> Settings:
    """Settings (no .env) for ``fake``; ``values`` override or add fields."""
    return Settings(_env_file=None, **{**alpaca_values(fake), **values})  # type: ignore[call-arg, arg-type]


def binance_settings(fake: BinanceFake, **values: object) -> Settings:
    """Settings (no .env) for ``fake``; ``values`` override or add fields."""
    return Settings(_env_file=None, **{**binance_values(fake), **values})  # type: ignore[call-arg, arg-type]


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
            **alpaca_values(fake),  # type: ignore[arg-type]
        )
        services = build_services(settings, brokers={"alpaca": lambda: AlpacaBroker(settings, timeout=timeout)})
        try:
            row = {"position_size": position_size, "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}
            services.workbook.replace_rows("Config", [{"symbol": s, **row} for s in prices])
            services.config.invalidate()
            yield fake, services
        finally:
            services.close()
