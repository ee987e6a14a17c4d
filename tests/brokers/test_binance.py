"""Binance adapter: the real python-binance SDK against the loopback fake of Binance spot and USD-M futures.

The SDK is pointed at ``tests/fakes/binance_fake.py`` through its own ``API_URL`` / ``FUTURES_URL``
client attributes (set by the adapter from ``BINANCE_API_URL`` / ``BINANCE_FUTURES_URL``); the fake
checks the API key and the HMAC signature of every signed request. Nothing is patched.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fakes.binance_fake import BinanceFake
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.venues import binance_settings

from bot.analytics.qty import SizingError
from bot.brokers.base import OrderRequest
from bot.brokers.binance.broker import BinanceBroker
from bot.domain import ConfigRow, OrderState, Side, SizeType
from bot.errors import BrokerRejected, ConfigError, TemporaryError
from bot.records import Instrument
from bot.settings import Settings
from bot.trading.sizing import entry_size
from bot.trading.submit import send_with_retry


@pytest.fixture
def fake() -> Iterator[BinanceFake]:
    with BinanceFake() as server:
        server.set_price("BTCUSDT", "50000")
        server.set_price("ETHUSDT", "2500.5")
        yield server


@pytest.fixture
def spot(fake: BinanceFake) -> Iterator[BinanceBroker]:
    broker = BinanceBroker(binance_settings(fake), timeout=0.5)
    yield broker
    broker.close()


@pytest.fixture
def futures(fake: BinanceFake) -> Iterator[BinanceBroker]:
    broker = BinanceBroker(binance_settings(fake), futures=True, timeout=0.5)
    yield broker
    broker.close()


def order(cid: str, side: Side, qty: str, symbol: str = "BTCUSDT", **extra: object) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, qty=Decimal(qty), **extra)  # type: ignore[arg-type]


# --- settings and filters ------------------------------------------------------------------------------


def test_names_testnet_by_default_and_url_hooks(fake: BinanceFake) -> None:
    spot = BinanceBroker(binance_settings(fake))
    futures = BinanceBroker(binance_settings(fake, binance_testnet=False), futures=True)
    assert (spot.name, spot.live, futures.name, futures.live) == ("binance", False, "binance-futures", True)
    assert fake.api_url == spot._client.API_TESTNET_URL
    assert fake.futures_url == futures._client.FUTURES_URL
    with pytest.raises(ConfigError, match="BINANCE_API_KEY"):
        BinanceBroker(Settings(_env_file=None))  # type: ignore[call-arg]


def test_spot_filters_come_from_exchange_info_and_are_cached(fake: BinanceFake, spot: BinanceBroker) -> None:
    first = spot.instrument("BTCUSDT")
    assert first == Instrument(
        symbol="BTCUSDT",
        qty_step=Decimal("0.00001"),
        min_qty=Decimal("0.00001"),
        min_notional=Decimal(5),
        shortable=False,
        whole_shares_for_short=False,
    )
    spot.instrument("ETHUSDT")
    assert fake.requests.count(("GET", "/api/v3/exchangeInfo")) == 1
    with pytest.raises(BrokerRejected, match="unknown symbol NOPEUSDT") as caught:
        spot.instrument("NOPEUSDT")
    assert caught.value.code == "-1121"


def test_futures_filters_and_shortable(futures: BinanceBroker) -> None:
    inst = futures.instrument("ETHUSDT")
    assert (inst.qty_step, inst.min_qty, inst.min_notional, inst.shortable) == (
        Decimal("0.0001"),
        Decimal("0.0001"),
        Decimal(100),
        True,
    )


# --- spot orders and fees -------------------------------------------------------------------------------


def test_spot_buy_fills_from_the_full_answer_with_base_commission_netted(
    fake: BinanceFake, spot: BinanceBroker
) -> None:
    update = spot.submit_order(order("s1", Side.BUY, "0.01", ref_price=Decimal(50000)))
    assert update.state is OrderState.FILLED
    [fill] = update.fills
    # Binance charged 0.1 % in BTC: the wallet holds 0.00999, and the fee is worth 0.00001 × 50000
    assert (fill.qty, fill.price, fill.fee) == (Decimal("0.00999"), Decimal(50000), Decimal("0.5"))
    assert "commission 0.00001 BTC" in update.reason
    assert spot.positions()["BTCUSDT"] == fill.qty
    sell = spot.submit_order(order("s2", Side.SELL, format(fill.qty, "f"), ref_price=Decimal(50000)))
    assert sell.fills[0].fee == Decimal("0.4995")  # quote commission on a sell
    assert "BTCUSDT" not in spot.positions()


def test_fees_in_bnb_are_converted_at_the_bnb_price(fake: BinanceFake, spot: BinanceBroker) -> None:
    fake.fee_mode = "BNB"
    update = spot.submit_order(order("bnb", Side.BUY, "0.01", ref_price=Decimal(50000)))
    [fill] = update.fills
    assert fill.qty == Decimal("0.01")
    assert fill.fee == Decimal("0.00083333") * Decimal(600)  # 0.5 USDT paid as BNB at 600
    assert "fee paid in BNB" in update.reason


def test_quantity_is_rounded_down_to_the_step(fake: BinanceFake, spot: BinanceBroker) -> None:
    update = spot.submit_order(order("round", Side.BUY, "0.0123456", ref_price=Decimal(50000)))
    assert fake.orders()[0]["origQty"] == "0.01234000"
    assert "rounded down to 0.01234" in update.reason


def test_too_small_orders_fail_before_sending_with_the_filter_named(fake: BinanceFake, spot: BinanceBroker) -> None:
    with pytest.raises(BrokerRejected, match=r"notional 4\.5 .* below the minimum 5 \(NOTIONAL\)") as caught:
        spot.submit_order(order("tiny", Side.BUY, "0.00009", ref_price=Decimal(50000)))
    assert caught.value.code == "NOTIONAL"
    with pytest.raises(BrokerRejected, match="LOT_SIZE"):
        spot.submit_order(order("dust", Side.BUY, "0.000001", ref_price=Decimal(50000)))
    assert fake.order_posts["spot"] == 0


def test_venue_rejections_carry_binances_code(fake: BinanceFake, spot: BinanceBroker) -> None:
    with pytest.raises(BrokerRejected) as caught:
        spot.submit_order(order("poor", Side.BUY, "3", ref_price=Decimal(50000)))
    assert caught.value.code == "-2010"
    assert "insufficient balance" in str(caught.value)
    fake.fail_next(400, -1013, "Filter failure: LOT_SIZE")
    with pytest.raises(BrokerRejected, match="-1013: Filter failure: LOT_SIZE"):
        spot.submit_order(order("lot", Side.BUY, "0.001", ref_price=Decimal(50000)))


def test_error_translation(fake: BinanceFake, spot: BinanceBroker) -> None:
    fake.fail_next(429, -1003, "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.")
    with pytest.raises(TemporaryError, match="-1003"):
        spot.submit_order(order("rl", Side.BUY, "0.001", ref_price=Decimal(50000)))
    fake.fail_next(418, -1003, "Way too much request weight used; IP banned until 1700000000000.")
    with pytest.raises(TemporaryError):
        spot.submit_order(order("ban", Side.BUY, "0.001", ref_price=Decimal(50000)))
    fake.fail_next(503, -1008, "Server is currently overloaded with other requests.")
    with pytest.raises(TemporaryError):
        spot.submit_order(order("busy", Side.BUY, "0.001", ref_price=Decimal(50000)))
    bad = BinanceBroker(binance_settings(fake, binance_api_key="wrong"), timeout=0.5)
    with pytest.raises(ConfigError, match="-2015"):
        bad.account()
    wrong_secret = BinanceBroker(binance_settings(fake, binance_api_secret="wrong"), timeout=0.5)
    with pytest.raises(ConfigError, match="-1022"):
        wrong_secret.account()
    fake.hang_next(1.0, method="GET", path="/api/v3/account")
    with pytest.raises(TemporaryError, match="unreachable"):
        spot.account()
    assert fake.order_posts["spot"] == 3 and fake.orders() == []  # refused before any order was created


# --- idempotency ------------------------------------------------------------------------------------------


def test_a_repeat_after_the_fill_never_places_a_second_order(fake: BinanceFake, spot: BinanceBroker) -> None:
    """Spot Binance would accept the id again once the first order is filled: the adapter looks first."""
    first = spot.submit_order(order("rep", Side.BUY, "0.001", ref_price=Decimal(50000)))
    again = BinanceBroker(binance_settings(fake), timeout=0.5).submit_order(order("rep", Side.BUY, "0.001"))
    assert again.broker_order_id == first.broker_order_id
    assert fake.order_posts["spot"] == 1


def test_a_lost_answer_is_retried_by_the_engine_without_a_second_order(fake: BinanceFake, spot: BinanceBroker) -> None:
    fake.hang_next(1.0)
    update = send_with_retry(spot, order("lost", Side.BUY, "0.002", ref_price=Decimal(50000)))
    assert fake.order_posts["spot"] == 1  # the retry found the order by its client id and did not resend
    assert len(fake.orders()) == 1
    assert update.state is OrderState.FILLED and update.broker_order_id == str(fake.orders()[0]["orderId"])


def test_a_duplicate_id_error_fetches_the_existing_order(fake: BinanceFake, spot: BinanceBroker) -> None:
    fake.partial_next("0.001")  # stays open (partially filled): its id is taken
    spot.submit_order(order("dup", Side.BUY, "0.003", ref_price=Decimal(50000)))
    fake.fail_next(400, -2013, "Order does not exist.", method="GET", path="/api/v3/order")  # the look-up misses
    other = BinanceBroker(binance_settings(fake), timeout=0.5)
    update = other.submit_order(order("dup", Side.BUY, "0.003", ref_price=Decimal(50000)))
    assert fake.order_posts["spot"] == 2  # the resend reached Binance, which answered -2010 Duplicate order sent.
    assert len(fake.orders()) == 1
    assert update.state is OrderState.PARTIALLY_FILLED and update.filled_qty == Decimal("0.000999")


def test_get_order_of_an_unknown_id_is_none(spot: BinanceBroker, futures: BinanceBroker) -> None:
    assert spot.get_order("never") is None
    assert futures.get_order("never", symbol="BTCUSDT") is None


# --- futures --------------------------------------------------------------------------------------------------


def test_futures_order_is_new_then_filled_from_user_trades(fake: BinanceFake, futures: BinanceBroker) -> None:
    fake.partial_next("0.004", "0.006")
    update = futures.submit_order(order("f1", Side.BUY, "0.01", ref_price=Decimal(50000)))
    assert update.state is OrderState.PARTIALLY_FILLED
    assert [(f.qty, f.fee) for f in update.fills] == [(Decimal("0.004"), Decimal("0.08"))]
    update = futures.get_order("f1")
    assert update is not None and update.state is OrderState.FILLED
    assert [f.qty for f in update.fills] == [Decimal("0.004"), Decimal("0.006")]
    assert update.filled_avg_price == Decimal(50000)
    assert futures.positions() == {"BTCUSDT": Decimal("0.01")}


def test_leverage_is_set_once_per_symbol_and_again_only_when_changed(fake: BinanceFake, futures: BinanceBroker) -> None:
    futures.submit_order(order("l1", Side.BUY, "0.01", ref_price=Decimal(50000), leverage=Decimal(3)))
    futures.submit_order(order("l2", Side.BUY, "0.01", ref_price=Decimal(50000), leverage=Decimal(3)))
    futures.submit_order(order("l3", Side.BUY, "0.1", symbol="ETHUSDT", leverage=Decimal(3)))
    assert fake.leverage_calls == [("BTCUSDT", 3), ("ETHUSDT", 3)]
    update = futures.submit_order(order("l4", Side.BUY, "0.01", ref_price=Decimal(50000), leverage=Decimal("5.5")))
    assert fake.leverage_calls[-1] == ("BTCUSDT", 5)
    assert "leverage 5.5 set as 5" in update.reason
    assert fake.requests.count(("GET", "/fapi/v1/positionSide/dual")) == 1


def test_hedge_mode_is_switched_to_one_way_or_reported(fake: BinanceFake) -> None:
    fake.dual_side = True
    fake.futures_immediate = True
    broker = BinanceBroker(binance_settings(fake), futures=True, timeout=0.5)
    broker.submit_order(order("m1", Side.BUY, "0.01", ref_price=Decimal(50000)))
    assert fake.dual_side is False
    fake.dual_side = True  # switched back by the user, with a position open
    stuck = BinanceBroker(binance_settings(fake), futures=True, timeout=0.5)
    with pytest.raises(ConfigError, match="hedge mode"):
        stuck.submit_order(order("m2", Side.BUY, "0.01", ref_price=Decimal(50000)))


def test_reduce_only_for_closes_unless_the_close_nets_against_another_slot(
    fake: BinanceFake, futures: BinanceBroker
) -> None:
    fake.futures_immediate = True
    futures.submit_order(order("o1", Side.BUY, "0.01", ref_price=Decimal(50000)))
    futures.submit_order(order("c1", Side.SELL, "0.01", reduce_only=True))
    assert fake.orders(futures=True)[-1]["reduceOnly"] is True
    assert fake.position("BTCUSDT") == 0
    # flat venue position (two slots netted out): a slot's close opens the other side, without reduceOnly
    update = futures.submit_order(order("c2", Side.SELL, "0.01", ref_price=Decimal(50000), reduce_only=True))
    assert fake.orders(futures=True)[-1]["reduceOnly"] is False
    assert "without reduceOnly" in update.reason
    assert fake.position("BTCUSDT") == Decimal("-0.01")


def test_futures_minimum_notional_and_margin(fake: BinanceFake, futures: BinanceBroker) -> None:
    with pytest.raises(BrokerRejected, match=r"below the minimum 100 \(MIN_NOTIONAL\)"):
        futures.submit_order(order("small", Side.BUY, "0.001", ref_price=Decimal(50000)))
    with pytest.raises(BrokerRejected) as caught:
        futures.submit_order(order("huge", Side.BUY, "100", ref_price=Decimal(50000)))
    assert caught.value.code == "-2019"


def test_futures_account_is_usdt_wallet_plus_unrealized(fake: BinanceFake, futures: BinanceBroker) -> None:
    fake.futures_immediate = True
    futures.submit_order(order("a1", Side.SELL, "0.1", ref_price=Decimal(50000)))  # short 0.1 @ 50000, fee 2
    fake.set_price("BTCUSDT", "49000")
    account = futures.account()
    assert account.cash == Decimal(100000) - Decimal(2)
    assert account.positions_value == Decimal(100)  # unrealized on the short
    assert account.equity == Decimal(100000) - Decimal(2) + Decimal(100)
    assert account.currency == "USDT"
    assert futures.positions() == {"BTCUSDT": Decimal("-0.1")}


def test_spot_account_values_balances_in_usdt(fake: BinanceFake, spot: BinanceBroker) -> None:
    account = spot.account()
    assert account.cash == Decimal(100000)
    assert account.positions_value == Decimal(6000)  # 10 BNB at 600
    assert account.equity == Decimal(106000)
    assert spot.positions() == {"BNBUSDT": Decimal(10)}


# --- step-size rounding properties --------------------------------------------------------------------------

STEPS = [Decimal("1"), Decimal("0.1"), Decimal("0.001"), Decimal("0.00001"), Decimal("0.00000001")]


@settings(max_examples=400, deadline=None)
@given(
    notional=st.decimals(min_value="0.01", max_value="1000000", places=2),
    price=st.decimals(min_value="0.00000001", max_value="100000", places=8),
    step=st.sampled_from(STEPS),
    min_notional=st.decimals(min_value="0", max_value="100", places=2),
)
def test_rounded_qty_never_exceeds_the_notional_nor_falls_below_the_minimum(
    notional: Decimal, price: Decimal, step: Decimal, min_notional: Decimal
) -> None:
    """With the venue's step and minimum, an accepted size is a multiple of the step, worth at most the
    intended notional and at least the minimum; a refused one really was too small."""
    instrument = Instrument(symbol="X", qty_step=step, min_qty=step, min_notional=min_notional, shortable=False)
    row = ConfigRow(
        symbol="X", timeframe="1h", position_size=notional, active=True, row_number=2, size_type=SizeType.USD
    )
    try:
        size = entry_size(row, price=price, instrument=instrument)
    except SizingError:
        best = (notional / price // step) * step
        assert best < step or best * price < min_notional
        return
    assert size.qty % step == 0
    assert size.qty * price <= notional
    assert size.qty * price >= min_notional
    assert (size.qty + step) * price > notional  # rounded down by less than one step


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    notional=st.decimals(min_value="1", max_value="2000", places=2),
    price=st.decimals(min_value="100", max_value="90000", places=2),
)
def test_sizes_the_adapter_exposes_are_accepted_by_the_venue(
    fake: BinanceFake, spot: BinanceBroker, notional: Decimal, price: Decimal
) -> None:
    """End to end: filters read through the adapter, sized by the engine's sizing, sent to the fake
    (which applies Binance's LOT_SIZE and NOTIONAL rules): accepted sizes are never refused by a filter."""
    fake.set_price("BTCUSDT", price)
    instrument = spot.instrument("BTCUSDT")
    row = ConfigRow(symbol="BTCUSDT", timeframe="1h", position_size=notional, active=True, row_number=2)
    try:
        size = entry_size(row, price=price, instrument=instrument)
    except SizingError:
        event("refused by sizing")
        with pytest.raises(BrokerRejected, match=r"NOTIONAL|LOT_SIZE"):
            spot.submit_order(
                order(
                    f"p{fake.order_posts['spot']}-{len(fake.requests)}",
                    Side.BUY,
                    str((notional / price).quantize(Decimal("0.00000001"))),
                )
            )
        return
    event("sent")
    posts = fake.order_posts["spot"]
    update = spot.submit_order(order(f"p{posts}-{len(fake.requests)}", Side.BUY, str(size.qty), ref_price=price))
    assert update.state is OrderState.FILLED
    assert fake.order_posts["spot"] == posts + 1
    assert update.fills[0].price * size.qty <= notional
