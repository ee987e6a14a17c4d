"""Each venue adapter declares what it can do (``Broker.capabilities``) and has exactly those methods."""

from __future__ import annotations

import pytest

from bot.brokers.alpaca.broker import AlpacaBroker
from bot.brokers.base import Broker, Capabilities
from bot.brokers.binance.broker import BinanceBroker
from bot.brokers.paper import PaperBroker

OPTIONAL = {
    "inline_fills": ("execute", "committed"),
    "venue_exits": ("venue_exits",),
    "daily_closes": ("daily_closes",),
    "balances": ("balances",),
    "cash_flows": ("cash_flows",),
    "server_time": ("server_time",),
}


def test_every_flag_names_optional_methods_of_the_interface() -> None:
    flags = set(Capabilities.__dataclass_fields__)
    assert flags == set(OPTIONAL)
    for flag, methods in OPTIONAL.items():
        if flag != "inline_fills":  # execute/committed take the state DB connection: paper-only
            assert all(callable(getattr(Broker, m, None)) for m in methods), flag


@pytest.mark.parametrize("adapter", [AlpacaBroker, BinanceBroker, PaperBroker])
def test_declared_capabilities_match_the_methods(adapter: type) -> None:
    declared = adapter.capabilities
    assert isinstance(declared, Capabilities)
    for flag, methods in OPTIONAL.items():
        has = [callable(getattr(adapter, m, None)) for m in methods]
        assert all(has) == getattr(declared, flag), f"{adapter.__name__}.{flag}"
        assert all(has) or not any(has), f"{adapter.__name__} has part of {flag}"


def test_declared_lists_true_flags_in_order() -> None:
    assert Capabilities(cash_flows=True, venue_exits=True).declared() == ("venue_exits", "cash_flows")
    assert Capabilities().declared() == ()
