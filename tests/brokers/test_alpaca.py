"""Alpaca adapter: the real alpaca-py SDK against the loopback fake of Alpaca's REST API.

Every request goes over HTTP to ``tests/fakes/alpaca_fake.py`` on 127.0.0.1 through alpaca-py's
own ``url_override`` hook; nothing is patched. Timeouts are short so fault tests stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.alpaca_fake import AlpacaFake
from support.venues import alpaca_settings

from bot.brokers.alpaca.broker import AlpacaBroker
from bot.brokers.alpaca.wire import parse_time as _parse_time
from bot.brokers.base import Broker, OrderRequest
from bot.domain import OrderState, Side
from bot.errors import BrokerRejected, ConfigError, TemporaryError
from bot.services import build_services
from bot.settings import Settings
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs
from bot.trading.submit import send_with_retry
from bot.trading.tracker import OrderTracker

UTC = timezone.utc


@pytest.fixture
def fake() -> Iterator[AlpacaFake]:
    with AlpacaFake() as server:
        server.set_price("AAPL", "170.37")
        server.set_price("MSFT", "410.1")
        yield server


@pytest.fixture
def broker(fake: AlpacaFake) -> Iterator[AlpacaBroker]:
    b = AlpacaBroker(alpaca_settings(fake), timeout=0.5, leg_wait_seconds=0.5)
    yield b
    b.close()


def order(cid: str, side: Side, qty: str, symbol: str = "AAPL", **extra: object) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, qty=Decimal(qty), **extra)  # type: ignore[arg-type]


def filled(broker: AlpacaBroker, cid: str, tries: int = 20) -> object:
    """Read the order until it is final (the tracker's job in production)."""
    for _ in range(tries):
        update = broker.get_order(cid)
        assert update is not None
        if update.state.is_final:
            return update
    raise AssertionError(f"{cid} not final: {update}")


# --- settings, rules, prices -----------------------------------------------------------------------


def test_paper_by_default_and_live_when_alpaca_paper_false(fake: AlpacaFake) -> None:
    assert AlpacaBroker(alpaca_settings(fake)).live is False
    assert AlpacaBroker(alpaca_settings(fake, alpaca_paper=False)).live is True
    with pytest.raises(ConfigError, match="ALPACA_API_KEY"):
        AlpacaBroker(Settings(_env_file=None))  # type: ignore[call-arg]


def test_instrument_rules_from_the_asset(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    fake.add_asset("BRK.A", fractionable=False, shortable=False)
    aapl = broker.instrument("AAPL")
    assert (aapl.qty_step, aapl.min_notional, aapl.shortable, aapl.whole_shares_for_short) == (
        Decimal("0.000000001"),
        Decimal(1),
        True,
        True,
    )
    brk = broker.instrument("BRK.A")
    assert (brk.qty_step, brk.shortable) == (Decimal(1), False)
    with pytest.raises(BrokerRejected, match="unknown symbol ZZZZ"):
        broker.instrument("ZZZZ")


def test_last_price_is_exact(broker: AlpacaBroker) -> None:
    assert broker.last_price("MSFT") == Decimal("410.1")
    assert broker.last_price("SPY") is None


# --- orders and fills --------------------------------------------------------------------------------


def test_market_buy_is_acknowledged_then_filled_with_the_activity_fill(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    update = broker.submit_order(order("tv1-1-aa", Side.BUY, "10"))
    assert update.state is OrderState.SUBMITTED  # the POST answer; no sleeping for the fill
    sent = fake.orders()[0]
    assert (sent["client_order_id"], sent["qty"], sent["type"], sent["time_in_force"]) == (
        "tv1-1-aa",
        "10",
        "market",
        "day",
    )
    final = broker.get_order("tv1-1-aa")
    assert final is not None and final.state is OrderState.FILLED
    assert final.broker_order_id == sent["id"]
    assert final.filled_qty == Decimal(10)
    assert final.filled_avg_price == Decimal("170.37")
    [fill] = final.fills
    assert (fill.qty, fill.price, fill.fee) == (Decimal(10), Decimal("170.37"), Decimal(0))
    assert fill.filled_at.tzinfo is not None
    assert broker.get_order("tv1-1-aa") == final  # stable fill ids: the engine records them once


def test_fractional_quantity_is_sent_as_a_string(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    broker.submit_order(order("frac", Side.BUY, "0.123456789"))
    assert fake.orders()[0]["qty"] == "0.123456789"
    update = broker.get_order("frac")
    assert update is not None and update.filled_qty == Decimal("0.123456789")


def test_fractional_quantity_on_a_whole_share_asset_is_rejected_before_sending(
    fake: AlpacaFake, broker: AlpacaBroker
) -> None:
    fake.add_asset("BRK.A", fractionable=False)
    with pytest.raises(BrokerRejected, match="not fractionable"):
        broker.submit_order(order("brk", Side.BUY, "0.5", symbol="BRK.A"))
    assert fake.order_posts == 0


def test_partial_fills_arrive_one_by_one_with_distinct_ids(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    fake.partial_next("4", "6")
    broker.submit_order(order("part", Side.BUY, "10"))
    first = broker.get_order("part")
    assert first is not None and first.state is OrderState.PARTIALLY_FILLED
    assert [f.qty for f in first.fills] == [Decimal(4)]
    assert first.filled_qty == Decimal(4)
    fake.advance()
    second = broker.get_order("part")
    assert second is not None and second.state is OrderState.FILLED
    assert [f.qty for f in second.fills] == [Decimal(4), Decimal(6)]
    assert second.fills[0].fill_id == first.fills[0].fill_id
    assert len({f.fill_id for f in second.fills}) == 2


def test_unknown_order_is_none(broker: AlpacaBroker) -> None:
    assert broker.get_order("never-sent") is None


# --- errors ------------------------------------------------------------------------------------------


def test_insufficient_buying_power_is_a_rejection_with_alpacas_code(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    with pytest.raises(BrokerRejected) as caught:
        broker.submit_order(order("big", Side.BUY, "100000"))
    assert caught.value.code == "40310000"
    assert "insufficient buying power" in str(caught.value)


def test_error_translation(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    fake.fail_next(429)
    with pytest.raises(TemporaryError, match="429"):
        broker.submit_order(order("e1", Side.BUY, "1"))
    fake.fail_next(500)
    with pytest.raises(TemporaryError, match="500"):
        broker.submit_order(order("e2", Side.BUY, "1"))
    fake.fail_next(422, code=40010001, message='asset "ZZZZ" not found')
    with pytest.raises(BrokerRejected, match="not found"):
        broker.submit_order(order("e3", Side.BUY, "1"))
    bad = AlpacaBroker(alpaca_settings(fake, alpaca_api_secret="wrong"), timeout=0.5)
    with pytest.raises(ConfigError, match="401"):
        bad.account()
    fake.hang_next(1.0, method="GET", path="/v2/account")
    with pytest.raises(TemporaryError, match="unreachable"):
        broker.account()


def test_a_lost_answer_is_retried_by_the_engine_without_a_second_order(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    fake.hang_next(1.0)  # the order is placed, the answer never arrives in time
    update = send_with_retry(broker, order("lost", Side.BUY, "5"))
    assert fake.order_posts == 2  # the retry reached Alpaca ...
    assert len(fake.orders()) == 1  # ... which refused a second order with that id
    assert update.broker_order_id == fake.orders()[0]["id"]
    assert fake.position("AAPL") == Decimal(5)


def test_a_repeated_request_returns_the_existing_order(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    first = broker.submit_order(order("same", Side.BUY, "3"))
    again = AlpacaBroker(alpaca_settings(fake), timeout=0.5).submit_order(order("same", Side.BUY, "3"))
    assert again.broker_order_id == first.broker_order_id
    assert len(fake.orders()) == 1 and fake.position("AAPL") == Decimal(3)


# --- market closed -----------------------------------------------------------------------------------


def test_market_closed_order_is_queued_until_the_open(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    next_open = datetime(2030, 1, 2, 14, 30, tzinfo=UTC)
    fake.close_market(next_open)
    update = broker.submit_order(order("night", Side.BUY, "2"))
    assert update.state is OrderState.QUEUED
    assert update.eligible_at == next_open
    again = broker.get_order("night")
    assert again is not None and again.state is OrderState.QUEUED and not again.fills
    fake.open_market()
    broker._clock_cache = None  # the clock is cached for 15 s; the market just opened
    done = broker.get_order("night")
    assert done is not None and done.state is OrderState.FILLED and done.filled_qty == Decimal(2)


def test_market_closed_without_queueing_is_a_rejection(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    fake.close_market()
    fake.reject_when_closed = True
    with pytest.raises(BrokerRejected, match="market is closed"):
        broker.submit_order(order("shut", Side.BUY, "1"))


# --- reversals -------------------------------------------------------------------------------------


def test_a_reversal_is_split_into_a_close_and_an_open_order(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    broker.submit_order(order("r1", Side.BUY, "10"))
    filled(broker, "r1")
    update = broker.submit_order(order("r2", Side.SELL, "25"))
    ids = [o["client_order_id"] for o in fake.orders()]
    assert ids == ["r1", "r2-c", "r2-o"]
    assert [o["qty"] for o in fake.orders()[1:]] == ["10", "15"]
    assert "reversal split" in update.reason
    final = filled(broker, "r2")
    assert final.state is OrderState.FILLED  # type: ignore[attr-defined]
    assert final.filled_qty == Decimal(25)  # type: ignore[attr-defined]
    assert sorted(f.qty for f in final.fills) == [Decimal(10), Decimal(15)]  # type: ignore[attr-defined]
    assert fake.position("AAPL") == Decimal(-15)


def test_a_reversal_while_closed_sends_the_opening_leg_after_the_close_fills(
    fake: AlpacaFake, broker: AlpacaBroker
) -> None:
    broker.submit_order(order("q1", Side.BUY, "4"))
    filled(broker, "q1")
    fake.close_market()
    broker._clock_cache = None
    queued = broker.submit_order(order("q2", Side.SELL, "9"))
    assert queued.state is OrderState.QUEUED
    assert [o["client_order_id"] for o in fake.orders()] == ["q1", "q2-c"]
    fake.open_market()
    broker._clock_cache = None
    final = filled(broker, "q2")
    assert final.filled_qty == Decimal(9)  # type: ignore[attr-defined]
    assert [o["client_order_id"] for o in fake.orders()] == ["q1", "q2-c", "q2-o"]
    assert fake.position("AAPL") == Decimal(-5)


def test_the_opening_leg_of_a_fractional_flip_to_short_is_reported_rejected(
    fake: AlpacaFake, broker: AlpacaBroker
) -> None:
    broker.submit_order(order("f1", Side.BUY, "2.5"))
    filled(broker, "f1")
    submitted = broker.submit_order(order("f2", Side.SELL, "3"))
    final = filled(broker, "f2")
    assert final.filled_qty == Decimal("2.5")  # type: ignore[attr-defined]
    assert final.state is OrderState.CANCELED  # type: ignore[attr-defined]
    reasons = submitted.reason + final.reason  # type: ignore[attr-defined]
    assert "fractional orders cannot be sold short" in reasons
    assert fake.position("AAPL") == 0


# --- extended hours and protective exits ----------------------------------------------------------------


def test_extended_hours_is_a_day_limit_order_at_the_signal_price(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    broker.submit_order(order("ext", Side.BUY, "1", ref_price=Decimal("170.456"), extended_hours=True))
    sent = fake.orders()[0]
    assert (sent["type"], sent["limit_price"], sent["time_in_force"], sent["extended_hours"]) == (
        "limit",
        "170.46",
        "day",
        True,
    )
    with pytest.raises(BrokerRejected, match="signal price"):
        broker.submit_order(order("ext2", Side.BUY, "1", extended_hours=True))


def test_bracket_exits_are_repriced_from_the_fill(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    fake.set_price("AAPL", "101")  # fills above the 100 signal price
    request = order("br", Side.BUY, "10", ref_price=Decimal(100), stop_loss_pct=Decimal(5), take_profit_pct=Decimal(10))
    broker.submit_order(request)
    sent = fake.orders()[0]
    assert sent["order_class"] == "bracket" and sent["time_in_force"] == "gtc"
    assert {leg["type"]: (leg["limit_price"], leg["stop_price"]) for leg in sent["legs"]} == {
        "limit": ("110", None),
        "stop": (None, "95"),
    }
    update = filled(broker, "br")
    assert "exits from fill price 101" in update.reason  # type: ignore[attr-defined]
    live_legs = [o for o in fake.orders() if o["status"] == "new" and o["type"] in ("limit", "stop")]
    assert sorted((o["type"], o["limit_price"] or o["stop_price"]) for o in live_legs) == [
        ("limit", "111.1"),
        ("stop", "95.95"),
    ]


def test_a_short_entry_with_one_exit_is_an_oto_order(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    broker.submit_order(order("oto", Side.SELL, "3", ref_price=Decimal("170.37"), stop_loss_pct=Decimal(2)))
    sent = fake.orders()[0]
    assert sent["order_class"] == "oto"
    assert [(leg["side"], leg["stop_price"]) for leg in sent["legs"]] == [("buy", "173.78")]


def test_trailing_stop_goes_in_after_the_fill_and_is_cancelled_by_the_exit(
    fake: AlpacaFake, broker: AlpacaBroker
) -> None:
    broker.submit_order(order("tr", Side.BUY, "10", ref_price=Decimal("170.37"), trailing_pct=Decimal(3)))
    filled(broker, "tr")
    trailing = [o for o in fake.orders() if o["type"] == "trailing_stop"]
    assert [(o["client_order_id"], o["trail_percent"], o["qty"], o["side"]) for o in trailing] == [
        ("tr-t", "3", "10", "sell")
    ]
    exit_update = broker.submit_order(order("tr-exit", Side.SELL, "10", reduce_only=True))
    assert "cancelled 1 protective exit order" in exit_update.reason
    assert filled(broker, "tr-exit").state is OrderState.FILLED  # type: ignore[attr-defined]
    assert fake.position("AAPL") == 0


def test_no_exits_on_an_order_that_nets_against_another_slot(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    broker.submit_order(order("n1", Side.BUY, "10"))
    filled(broker, "n1")
    update = broker.submit_order(order("n2", Side.SELL, "10", ref_price=Decimal(170), stop_loss_pct=Decimal(5)))
    assert "nets against another slot" in update.reason
    assert fake.orders()[1]["order_class"] == ""


# --- account -------------------------------------------------------------------------------------------


def test_positions_and_account_are_exact_decimals(fake: AlpacaFake, broker: AlpacaBroker) -> None:
    broker.submit_order(order("p1", Side.BUY, "3"))
    broker.submit_order(order("p2", Side.SELL, "2", symbol="MSFT"))
    assert broker.positions() == {"AAPL": Decimal(3), "MSFT": Decimal(-2)}
    account = broker.account()
    assert account.account_id == fake.account_number
    assert account.cash == Decimal(100000) - Decimal("511.11") + Decimal("820.2")
    assert account.positions_value == Decimal("511.11") - Decimal("820.2")
    assert account.equity == Decimal(100000)
    assert account.currency == "USD"


def test_alpaca_times_with_nanoseconds_parse_to_utc() -> None:
    assert _parse_time("2024-05-01T13:30:00.123456789Z") == datetime(2024, 5, 1, 13, 30, 0, 123456, tzinfo=UTC)
    assert _parse_time("2024-05-02T09:30:00-04:00") == datetime(2024, 5, 2, 13, 30, tzinfo=UTC)
    # /v2/clock's timestamp: nanoseconds and a New York offset
    assert _parse_time("2024-05-01T09:30:00.123456789-04:00") == datetime(2024, 5, 1, 13, 30, 0, 123456, tzinfo=UTC)
    assert _parse_time("2024-05-01T09:30:00.5+02:00") == datetime(2024, 5, 1, 7, 30, 0, 500000, tzinfo=UTC)
    assert _parse_time(None) is None


# --- through the engine ------------------------------------------------------------------------------------


def test_engine_rows_show_queued_with_the_open_time_then_filled(tmp_path: Path, fake: AlpacaFake) -> None:
    """A market-closed alert: the Config row says QUEUED with when it becomes eligible, then FILLED
    once the tracker sees the fill at the open; a short too small for one whole share fails before sending."""
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    workbook.replace_rows(
        "Config",
        [
            {"symbol": "AAPL", "position_size": "5", "active": "TRUE", "Time Frame": "1D", "size_type": "qty"},
            {"symbol": "AAPL", "position_size": "100", "active": "TRUE", "Time Frame": "1h", "size_type": "usd"},
        ],
    )
    settings = alpaca_settings(
        fake, bot_data_dir=tmp_path, bot_broker="alpaca", webhook_secret="s3cret-value", bot_api_token="token-value"
    )
    brokers: dict[str, Callable[[], Broker]] = {"alpaca": lambda: AlpacaBroker(settings, timeout=1.0)}
    services = build_services(settings, workbook=workbook, brokers=brokers, seed_examples=False)
    try:
        fake.close_market(datetime(2030, 1, 2, 14, 30, tzinfo=UTC))
        body = (
            b'{"secret": "s3cret-value", "action": "buy", "symbol": "NASDAQ:AAPL", "timeframe": "D", "price": 170.37}'
        )
        reply = services.engine.handle(body)
        assert (reply.http_status, reply.body["order_status"]) == (200, "QUEUED")
        services.writer.flush()
        row = next(r for r in workbook.read_tables(["Config"])["Config"].rows if r["Time Frame"] == "1D")
        assert (row["Order Status"], row["Note"]) == ("QUEUED", "market closed: eligible 2030-01-02 14:30:00")

        fake.open_market()
        services.brokers.get("alpaca")._clock_cache = None  # type: ignore[attr-defined]
        OrderTracker(services.engine).poll_once()
        services.writer.flush()
        row = next(r for r in workbook.read_tables(["Config"])["Config"].rows if r["Time Frame"] == "1D")
        assert (row["Order Status"], row["Position"]) == ("FILLED", "5")

        short = b'{"secret": "s3cret-value", "action": "sell", "symbol": "AAPL", "timeframe": "60", "price": 170.37}'
        reply = services.engine.handle(short)
        assert reply.body["order_status"] == "FAILED"
        assert "shorts need whole shares" in reply.body["reason"]
        assert fake.order_posts == 1
    finally:
        services.close()
