"""Reconciliation: slot totals per symbol against venue positions; drift is reported, never fixed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.alpaca_fake import AlpacaFake
from support.venues import alpaca_values

from bot.brokers.alpaca.broker import AlpacaBroker
from bot.brokers.base import Broker
from bot.services import Services, build_services
from bot.settings import Settings
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs
from bot.trading.reconcile import Drift, find_drift, reconcile
from bot.trading.tracker import OrderTracker

D = Decimal
SECRET = "reconcile-secret"

# --- the pure comparison ----------------------------------------------------------------------------


def test_equal_positions_have_no_drift() -> None:
    assert find_drift({"AAPL": D(10), "MSFT": D(0)}, {"AAPL": D(10)}) == []


def test_a_difference_is_reported_with_both_numbers() -> None:
    [drift] = find_drift({"AAPL": D(10)}, {"AAPL": D(15)}, broker="alpaca")
    assert drift == Drift("alpaca", "AAPL", D(10), D(15), tracked=True)
    assert drift.difference == D(5)
    assert "position 15 but slots sum to 10 (difference 5" in drift.describe()


def test_a_position_the_bot_never_traded_is_untracked_drift() -> None:
    [drift] = find_drift({"AAPL": D(0)}, {"TSLA": D(-3)})
    assert (drift.symbol, drift.slots_qty, drift.broker_qty, drift.tracked) == ("TSLA", D(0), D(-3), False)
    assert "not traded by the bot" in drift.describe()


def test_slots_holding_what_the_venue_does_not_is_drift() -> None:
    """E.g. a stop fired at the venue, or a fill the bot never saw."""
    [drift] = find_drift({"AAPL": D(-10)}, {})
    assert drift.broker_qty == 0 and drift.difference == D(10)


def test_tolerance_global_and_per_symbol() -> None:
    slots = {"BTCUSDT": D("0.01"), "ETHUSDT": D(1)}
    venue = {"BTCUSDT": D("0.01000001"), "ETHUSDT": D("1.001")}
    assert [d.symbol for d in find_drift(slots, venue, D("0.00001"))] == ["ETHUSDT"]
    assert find_drift(slots, venue, {"BTCUSDT": D("0.00001"), "ETHUSDT": D("0.01")}) == []
    assert [d.symbol for d in find_drift(slots, venue)] == ["BTCUSDT", "ETHUSDT"]


# --- against a running bot ---------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[AlpacaFake]:
    with AlpacaFake() as server:
        server.set_price("AAPL", "100")
        server.set_price("MSFT", "200")
        yield server


def build(tmp_path: Path, fake: AlpacaFake) -> Services:
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    rows = [
        {"symbol": sym, "position_size": "10", "active": "TRUE", "Time Frame": tf, "size_type": "qty"}
        for sym, tf in (("AAPL", "1d"), ("AAPL", "1w"), ("MSFT", "1d"))
    ]
    workbook.replace_rows("Config", rows)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_data_dir=tmp_path,
        bot_broker="alpaca",
        webhook_secret=SECRET,
        bot_api_token="reconcile-token",
        **alpaca_values(fake),
    )
    brokers: dict[str, Callable[[], Broker]] = {"alpaca": lambda: AlpacaBroker(settings, timeout=1.0)}
    return build_services(settings, workbook=workbook, brokers=brokers, seed_examples=False)


def alert(services: Services, action: str, symbol: str, timeframe: str, price: str, n: int) -> None:
    body = (
        f'{{"secret": "{SECRET}", "action": "{action}", "symbol": "NASDAQ:{symbol}", '
        f'"timeframe": "{timeframe}", "price": {price}, "id": "r-{n}"}}'
    )
    reply = services.engine.handle(body.encode())
    assert reply.http_status == 200, reply.body
    tracker = OrderTracker(services.engine)
    for _ in range(20):
        if not services.engine.open_order_details():
            break
        tracker.poll_once()


def test_reconcile_reports_a_manual_trade_and_leaves_the_slots_alone(tmp_path: Path, fake: AlpacaFake) -> None:
    services = build(tmp_path, fake)
    try:
        alert(services, "buy", "AAPL", "D", "100", 1)
        alert(services, "sell", "AAPL", "W", "100", 2)  # nets the venue position back to flat
        alert(services, "buy", "MSFT", "D", "200", 3)
        assert {(s.symbol, s.timeframe): s.qty for s in services.store.slots()} == {
            ("AAPL", "1d"): D(10),
            ("AAPL", "1w"): D(-10),
            ("MSFT", "1d"): D(10),
        }
        assert fake.position("AAPL") == 0 and fake.position("MSFT") == D(10)
        assert reconcile(services) == []

        fake.set_position("MSFT", "4", "200")  # somebody sold 6 MSFT by hand
        fake.set_position("TSLA", "2", "250")  # and bought TSLA
        slots_before = [(s.symbol, s.timeframe, s.qty) for s in services.store.slots()]
        drifts = reconcile(services)
        assert drifts == [
            Drift("alpaca", "MSFT", D(10), D(4), tracked=True),
            Drift("alpaca", "TSLA", D(0), D(2), tracked=False),
        ]
        assert [(s.symbol, s.timeframe, s.qty) for s in services.store.slots()] == slots_before
        assert fake.order_posts == 3  # nothing was sent to "fix" it
    finally:
        services.close()


def test_reconcile_skips_a_symbol_with_an_order_in_flight(tmp_path: Path, fake: AlpacaFake) -> None:
    services = build(tmp_path, fake)
    try:
        fake.close_market()
        reply = services.engine.handle(
            f'{{"secret": "{SECRET}", "action": "buy", "symbol": "AAPL", "timeframe": "1D", "price": 100}}'.encode()
        )
        assert reply.body["order_status"] == "QUEUED"
        fake.set_position("MSFT", "1", "200")
        assert [d.symbol for d in reconcile(services)] == ["MSFT"]
    finally:
        services.close()
