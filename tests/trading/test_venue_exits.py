"""Protective exits that fire at Alpaca reach the slot: booked as the bot's own exit order and fill.

Without this, a stop-loss that fired at the venue left the row's slot long; the next ``sell`` alert then
sold the shares a second time, opening a short on a margin account (a reversal doubled it). Everything
runs through alpaca-py against the loopback Alpaca fake; the fake fires an exit with ``trigger``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakes.alpaca_fake import AlpacaFake
from sqlalchemy import select
from support.venues import alpaca_settings

from bot.brokers.alpaca.broker import AlpacaBroker
from bot.brokers.base import Broker, OrderRequest
from bot.domain import Side, SlotKey, utc_now
from bot.jobs import book_venue_exits, reconcile_positions
from bot.services import Services, build_services
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs
from bot.state.models import FillRecord, OrderRecord
from bot.trading.tracker import OrderTracker

SECRET = "s3cret-value"
KEY = SlotKey("AAPL", "1d")  # the Config row AAPL / 1D


@pytest.fixture
def fake() -> Iterator[AlpacaFake]:
    with AlpacaFake() as server:
        server.set_price("AAPL", "100")
        yield server


def _leg(fake: AlpacaFake, kind: str) -> dict[str, Any]:
    """The open exit order of ``kind`` (``stop``, ``limit``, ``trailing_stop``) in the fake."""
    [leg] = [o for o in fake.orders() if o["type"] == kind and o["status"] in ("new", "held")]
    return leg


# --- the adapter --------------------------------------------------------------------------------------------


def test_venue_exits_returns_only_executed_exits_of_the_given_entries(fake: AlpacaFake) -> None:
    broker = AlpacaBroker(alpaca_settings(fake), timeout=1.0)
    try:
        since = utc_now() - timedelta(seconds=5)
        entry = OrderRequest(
            client_order_id="e1",
            symbol="AAPL",
            side=Side.BUY,
            qty=Decimal(10),
            ref_price=Decimal(100),
            stop_loss_pct=Decimal(5),
            take_profit_pct=Decimal(10),
        )
        broker.submit_order(entry)
        broker.get_order("e1")  # the entry filled: legs re-priced from the fill
        assert broker.venue_exits("AAPL", ["e1"], since) == []  # both legs still open
        fake.set_price("AAPL", "94.5")
        fake.trigger(_leg(fake, "stop")["id"])
        [executed] = broker.venue_exits("AAPL", ["e1"], since)
        assert (executed.kind, executed.side, executed.qty, executed.price) == (
            "stop loss",
            Side.SELL,
            Decimal(10),
            Decimal("94.5"),
        )
        assert executed.entry_client_order_id == "e1"
        assert broker.venue_exits("AAPL", ["someone-else"], since) == []  # not the bot's entry
        # orders submitted before `since` (less a day of margin for clock skew) are not read
        assert broker.venue_exits("AAPL", ["e1"], utc_now() + timedelta(days=2)) == []

        trailing = OrderRequest(
            client_order_id="e2", symbol="AAPL", side=Side.BUY, qty=Decimal(4), trailing_pct=Decimal(3)
        )
        broker.submit_order(trailing)
        broker.get_order("e2")  # the trailing stop goes in after the fill
        fake.trigger(_leg(fake, "trailing_stop")["id"])
        kinds = [(e.kind, e.entry_client_order_id, e.qty) for e in broker.venue_exits("AAPL", ["e1", "e2"], since)]
        assert kinds == [("stop loss", "e1", Decimal(10)), ("trailing stop", "e2", Decimal(4))]
    finally:
        broker.close()


# --- through the engine ---------------------------------------------------------------------------------------


@pytest.fixture
def bot(tmp_path: Path, fake: AlpacaFake) -> Iterator[Services]:
    """The engine on Alpaca with one Config row AAPL 1D: 10 shares, both directions, stop 5 %, take profit 10 %."""
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    row = {"symbol": "AAPL", "position_size": "10", "active": "TRUE", "Time Frame": "1D", "size_type": "qty"}
    workbook.replace_rows("Config", [{**row, "direction": "both", "stop_loss_pct": "5", "take_profit_pct": "10"}])
    settings = alpaca_settings(
        fake, bot_data_dir=tmp_path, bot_broker="alpaca", webhook_secret=SECRET, bot_api_token="token-value"
    )
    brokers: dict[str, Callable[[], Broker]] = {"alpaca": lambda: AlpacaBroker(settings, timeout=1.0)}
    services = build_services(settings, workbook=workbook, brokers=brokers, seed_examples=False)
    try:
        yield services
    finally:
        services.close()


def _alert(services: Services, action: str) -> dict[str, Any]:
    body = f'{{"secret": "{SECRET}", "action": "{action}", "symbol": "AAPL", "timeframe": "D", "price": 100}}'
    reply = services.engine.handle(body.encode())
    assert reply.http_status == 200, reply.body
    OrderTracker(services.engine).poll_once()  # follow the order to its fill, as the tracker thread does
    return reply.body


def _config_row(services: Services) -> dict[str, str]:
    services.writer.flush()
    [row] = services.workbook.read_tables(["Config"])["Config"].rows
    return row


def _long_then_stopped_out(services: Services, fake: AlpacaFake) -> None:
    _alert(services, "buy")
    assert fake.position("AAPL") == 10 and services.engine.read_slot(KEY).qty == 10
    fake.set_price("AAPL", "95")
    fake.trigger(_leg(fake, "stop")["id"])
    assert fake.position("AAPL") == 0


def test_the_job_books_a_fired_stop_into_the_row_once(bot: Services, fake: AlpacaFake) -> None:
    _long_then_stopped_out(bot, fake)
    assert book_venue_exits(bot) == 1
    assert bot.engine.read_slot(KEY).qty == 0
    row = _config_row(bot)
    assert (row["Position"], row["Order Status"]) == ("0", "WAITING")  # flat again, as after any exit
    assert "stop loss filled at alpaca" in row["Note"]
    with bot.store.read_session() as s:
        [exit_order] = s.scalars(select(OrderRecord).where(OrderRecord.purpose == "exit")).all()
        [fill] = s.scalars(select(FillRecord).where(FillRecord.order_id == exit_order.id)).all()
    assert (exit_order.side, exit_order.qty, exit_order.state) == ("sell", Decimal(10), "filled")
    assert (fill.qty, fill.price, fill.realised_pnl) == (Decimal(10), Decimal(95), Decimal(-50))
    assert book_venue_exits(bot) == 0  # idempotent: the job skips flat rows, and asked directly ...
    with bot.engine.symbol_lock("AAPL"):
        entries = bot.engine.exits.entries(KEY, "alpaca")
        assert bot.engine.exits.book(KEY, bot.brokers.get("alpaca"), entries) == 0  # ... the exit is known
    with bot.store.read_session() as s:
        assert len(s.scalars(select(FillRecord)).all()) == 2  # the entry's fill and the stop's, once each
    assert reconcile_positions(bot) == []  # booked, so no drift to report


def test_a_close_after_a_fired_stop_sends_nothing(bot: Services, fake: AlpacaFake) -> None:
    """The alert itself checks the venue's exits first: the job has not run, and still no second sale."""
    _long_then_stopped_out(bot, fake)
    posts = fake.order_posts
    body = f'{{"secret": "{SECRET}", "action": "close", "symbol": "AAPL", "timeframe": "D", "price": 95}}'
    reply = bot.engine.handle(body.encode())
    assert reply.body["status"] == "skipped"
    assert fake.order_posts == posts
    assert fake.position("AAPL") == 0  # no short opened
    assert _config_row(bot)["Position"] == "0"


def test_a_reversal_after_a_fired_stop_opens_only_the_new_position(bot: Services, fake: AlpacaFake) -> None:
    _long_then_stopped_out(bot, fake)
    _alert(bot, "sell")  # long → short intent: the long is gone already, so only the short opens
    assert fake.position("AAPL") == -10  # not -20
    assert bot.engine.read_slot(KEY).qty == -10


def test_a_close_is_refused_when_the_exits_cannot_be_read(bot: Services, fake: AlpacaFake) -> None:
    _alert(bot, "buy")
    posts = fake.order_posts
    fake.fail_next(500, method="GET", path="/v2/orders", message="internal error", times=5)
    body = f'{{"secret": "{SECRET}", "action": "close", "symbol": "AAPL", "timeframe": "D", "price": 100}}'
    reply = bot.engine.handle(body.encode())
    assert reply.body["order_status"] == "FAILED"
    assert "protective exits at alpaca could not be read" in reply.body["reason"]
    assert fake.order_posts == posts and fake.position("AAPL") == 10


def test_the_stop_of_a_reversals_opening_order_is_booked(bot: Services, fake: AlpacaFake) -> None:
    """A reversal is split at Alpaca; the protective exits ride on its opening order (``<id>-o``)."""
    _alert(bot, "buy")
    _alert(bot, "sell")  # long 10 → short 10: the long's own exits are cancelled, the short gets a buy stop
    assert fake.position("AAPL") == -10 and bot.engine.read_slot(KEY).qty == -10
    fake.set_price("AAPL", "106")
    fake.trigger(_leg(fake, "stop")["id"])
    assert book_venue_exits(bot) == 1
    assert bot.engine.read_slot(KEY).qty == 0 and fake.position("AAPL") == 0
    with bot.store.read_session() as s:
        [booked] = s.scalars(select(OrderRecord).where(OrderRecord.purpose == "exit")).all()
    assert (booked.side, booked.qty, booked.filled_avg_price) == ("buy", Decimal(10), Decimal(106))


def test_closing_a_row_cancels_its_own_exits_even_when_shares_are_free(tmp_path: Path, fake: AlpacaFake) -> None:
    """Two rows long AAPL, only 1D with a stop: closing 1D must take its stop away, or the stop would
    later sell the 1H row's shares (Alpaca has the shares free, so nothing forced the cancel before)."""
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    row = {"symbol": "AAPL", "position_size": "10", "active": "TRUE", "size_type": "qty"}
    workbook.replace_rows("Config", [{**row, "Time Frame": "1D", "stop_loss_pct": "5"}, {**row, "Time Frame": "1h"}])
    settings = alpaca_settings(
        fake, bot_data_dir=tmp_path, bot_broker="alpaca", webhook_secret=SECRET, bot_api_token="token-value"
    )
    brokers: dict[str, Callable[[], Broker]] = {"alpaca": lambda: AlpacaBroker(settings, timeout=1.0)}
    services = build_services(settings, workbook=workbook, brokers=brokers, seed_examples=False)
    try:
        for timeframe in ("D", "60"):
            body = f'{{"secret": "{SECRET}", "action": "buy", "symbol": "AAPL", "timeframe": "{timeframe}"}}'
            assert services.engine.handle(body.encode()).http_status == 200
            OrderTracker(services.engine).poll_once()
        assert fake.position("AAPL") == 20
        assert [o["type"] for o in fake.orders() if o["status"] in ("new", "held")] == ["stop"]
        close = f'{{"secret": "{SECRET}", "action": "close", "symbol": "AAPL", "timeframe": "D", "price": 100}}'
        reply = services.engine.handle(close.encode())
        assert "cancelled 1 protective exit order" in reply.body["reason"]
        OrderTracker(services.engine).poll_once()
        assert [o for o in fake.orders() if o["status"] in ("new", "held")] == []  # no stop left behind
        assert fake.position("AAPL") == 10 == services.engine.read_slot(SlotKey("AAPL", "1h")).qty
    finally:
        services.close()
