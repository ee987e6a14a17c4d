"""Tests of bot.analytics.round_trips: fills → FIFO round trips and open positions, hand-computed and by property."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.trades import T0, close, fill

from bot.analytics.round_trips import match_fills, open_positions, round_trips
from bot.analytics.trade_stats import summarise
from bot.domain import Fill, PositionSide, Side

D = Decimal


# --------------------------------------------------------------------------------------------
# Round trips: hand-computed cases
# --------------------------------------------------------------------------------------------


def test_simple_long_round_trip() -> None:
    fills = [
        fill("f1", "buy", 10, 100, fee="1", minute=0),
        fill("f2", "sell", 10, 110, fee="1.1", minute=90, reason="close"),
    ]
    [t] = round_trips(fills)
    assert t.trade_id == "AAPL-1h-f1"
    assert (t.symbol, t.timeframe, t.side) == ("AAPL", "1h", "long")
    assert t.qty == 10
    assert t.entry_price == 100 and t.exit_price == 110
    assert t.entry_at == T0 and t.exit_at == T0 + timedelta(minutes=90)
    assert t.fees == D("2.1")
    assert t.pnl == D("97.9")  # (110 − 100) × 10 − 2.1
    assert t.pnl_pct == D("9.79")  # 97.9 / 1000 × 100
    assert t.r_multiple is None
    assert t.holding_time == timedelta(minutes=90)
    assert t.exit_reason == "close"
    assert t.order_ids == ("of1", "of2")
    assert open_positions(fills) == []


def test_simple_short_round_trip() -> None:
    fills = [
        fill("s1", "sell", 5, 200, fee="0.5", minute=0),
        fill("s2", "buy", 5, 190, fee="0.5", minute=5),
    ]
    [t] = round_trips(fills)
    assert t.side == PositionSide.SHORT and t.side == "short"
    assert t.qty == 5
    assert t.pnl == D(49)  # (200 − 190) × 5 − 1
    assert t.pnl_pct == D("4.9")
    assert t.entry_price == 200 and t.exit_price == 190


def test_losing_short() -> None:
    [t] = round_trips([fill("a", "sell", 2, 50), fill("b", "buy", 2, 55)])
    assert t.pnl == D(-10)
    assert t.pnl_pct == D(-10)


def test_partial_entries_and_exits_use_weighted_averages_and_max_position() -> None:
    fills = [
        fill("f1", "buy", 2, 100, fee="0.1", minute=0),
        fill("f2", "buy", 3, 110, fee="0.1", minute=1),
        fill("f3", "sell", 1, 120, fee="0.1", minute=2),
        fill("f4", "sell", 4, 105, fee="0.1", minute=3, reason="stop"),
    ]
    [t] = round_trips(fills)
    assert t.qty == 5
    assert t.entry_price == D(106)  # (200 + 330) / 5
    assert t.exit_price == D(108)  # (120 + 420) / 5
    assert t.fees == D("0.4")
    assert t.pnl == D("9.6")  # 540 − 530 − 0.4
    assert close(t.pnl_pct, D("9.6") * 100 / 530)
    assert t.exit_reason == "stop"
    assert t.order_ids == ("of1", "of2", "of3", "of4")


def test_qty_is_the_largest_position_not_the_sum_of_entries() -> None:
    fills = [
        fill("f1", "buy", 3, 10, minute=0),
        fill("f2", "sell", 2, 11, minute=1),
        fill("f3", "buy", 1, 12, minute=2),  # back to 2, below the earlier 3
        fill("f4", "sell", 2, 13, minute=3),
    ]
    [t] = round_trips(fills)
    assert t.qty == 3
    assert t.entry_price == D(42) / 4  # (30 + 12) / 4 entered
    assert t.pnl == (22 + 26) - 42


def test_reversal_fill_is_split_pro_rata_into_two_trades() -> None:
    fills = [
        fill("f1", "buy", 10, 100, fee="1", minute=0, order_id="o1"),
        fill("f2", "sell", 30, 110, fee="3", minute=10, order_id="o2", reason="reversal"),
        fill("f3", "buy", 20, 100, fee="2", minute=20, order_id="o3", reason="close"),
    ]
    first, second = round_trips(fills)
    assert first.trade_id == "AAPL-1h-f1" and second.trade_id == "AAPL-1h-f2"
    assert first.side == "long" and second.side == "short"
    assert first.qty == 10 and second.qty == 20
    assert first.fees == D(2)  # 1 + 3 × 10/30
    assert first.pnl == D(98)  # 100 − 2
    assert first.exit_reason == "reversal"
    assert first.exit_at == second.entry_at == T0 + timedelta(minutes=10)
    assert second.fees == D(4)  # 3 × 20/30 + 2
    assert second.entry_price == 110 and second.exit_price == 100
    assert second.pnl == D(196)  # (110 − 100) × 20 − 4
    assert first.order_ids == ("o1", "o2") and second.order_ids == ("o2", "o3")


def test_reversal_fee_split_keeps_the_total_exact() -> None:
    fills = [
        fill("f1", "buy", 1, 100, minute=0),
        fill("f2", "sell", 3, 100, fee="1", minute=1),  # 1/3 closes, 2/3 opens a short
        fill("f3", "buy", 2, 100, minute=2),
    ]
    first, second = round_trips(fills)
    assert first.fees + second.fees == D(1)
    assert first.fees == D("0.333333333333")  # 1/3 to 12 decimals; the rest opens the short
    assert second.fees == D("0.666666666667")
    assert first.pnl + second.pnl == D(-1)


def test_r_multiple_uses_first_entry_stop() -> None:
    fills = [
        fill("f1", "buy", 10, 100, minute=0, stop="2"),
        fill("f2", "sell", 10, 103, minute=1, stop="5"),
    ]
    [t] = round_trips(fills)
    assert t.pnl == 30
    assert t.r_multiple == D("1.5")  # 30 / (1000 × 2 %)
    assert t.stop_loss_pct == D(2)
    [loss] = round_trips([fill("g1", "sell", 4, 50, stop="1"), fill("g2", "buy", 4, 51, minute=1)])
    assert loss.r_multiple == D(-2)  # −4 / (200 × 1 %)


def test_slots_are_independent_and_input_order_does_not_matter() -> None:
    fills = [
        fill("a1", "buy", 1, 100, minute=0, timeframe="15m"),
        fill("b1", "sell", 2, 100, minute=1, timeframe="4h"),
        fill("a2", "sell", 1, 101, minute=2, timeframe="15m"),
        fill("c1", "buy", 5, 10, minute=3, symbol="BTCUSDT"),
        fill("b2", "buy", 2, 99, minute=4, timeframe="4h"),
        fill("c2", "sell", 5, 9, minute=5, symbol="BTCUSDT"),
    ]
    shuffled = fills[:]
    random.Random(3).shuffle(shuffled)
    trips = round_trips(shuffled)
    assert trips == round_trips(fills)
    assert [(t.trade_id, t.pnl) for t in trips] == [
        ("AAPL-15m-a1", D(1)),
        ("AAPL-4h-b1", D(2)),
        ("BTCUSDT-1h-c1", D(-5)),
    ]


def test_same_time_fills_are_ordered_by_fill_id() -> None:
    # Both fills at the same instant: f1 (buy) must come before f2 (sell) although listed later.
    fills = [fill("f2", "sell", 1, 105, minute=0), fill("f1", "buy", 1, 100, minute=0)]
    [t] = round_trips(fills)
    assert t.trade_id == "AAPL-1h-f1" and t.side == "long" and t.pnl == 5


def test_trips_are_ordered_by_exit_time() -> None:
    fills = [
        fill("x1", "buy", 1, 1, minute=0, symbol="ZZZ"),
        fill("y1", "buy", 1, 1, minute=1, symbol="AAA"),
        fill("x2", "sell", 1, 2, minute=2, symbol="ZZZ"),
        fill("y2", "sell", 1, 2, minute=3, symbol="AAA"),
    ]
    assert [t.symbol for t in round_trips(fills)] == ["ZZZ", "AAA"]


def test_non_positive_qty_is_rejected_naming_the_fill() -> None:
    with pytest.raises(ValueError, match=r"'bad'.*qty 0"):
        round_trips([fill("ok", "buy", 1, 1), fill("bad", "sell", 0, 1, minute=1)])


def test_plain_string_side_is_accepted() -> None:
    fills = [replace(fill("a", "buy", 1, 1), side="buy"), replace(fill("b", "sell", 1, 2, minute=1), side="sell")]
    assert round_trips(fills)[0].pnl == 1  # type: ignore[arg-type]


def test_open_position_fifo_lots() -> None:
    fills = [
        fill("f1", "buy", 2, 100, fee="1", minute=0),
        fill("f2", "buy", 3, 110, fee="1", minute=1),
        fill("f3", "sell", 3, 120, fee="1", minute=2),
    ]
    assert round_trips(fills) == []
    [p] = open_positions(fills)
    assert p.trade_id == "AAPL-1h-f1"
    assert p.side == "long" and p.qty == 2 and p.signed_qty == 2
    assert p.avg_entry_price == 110  # FIFO: the 2 @ 100 went first (average cost would say 106)
    assert p.cost_basis == 220
    assert p.realised_pnl == D(47)  # (120 − 100) × 2 + (120 − 110) × 1 − 3 fees
    assert p.fees == 3
    assert p.entry_at == T0
    assert p.order_ids == ("of1", "of2", "of3")


def test_open_short_after_reversal_counts_only_its_share_of_the_fill() -> None:
    fills = [
        fill("f1", "buy", 1, 100, fee="1", minute=0),
        fill("f2", "sell", 4, 90, fee="4", minute=1),
    ]
    result = match_fills(fills)
    [closed] = result.trips
    [p] = result.open
    assert closed.pnl == D(-12)  # −10 − 1 − 1
    assert p.trade_id == "AAPL-1h-f2"
    assert p.side == "short" and p.qty == 3 and p.signed_qty == -3
    assert p.avg_entry_price == 90 and p.cost_basis == 270
    assert p.fees == 3 and p.realised_pnl == -3


def test_round_trips_without_open_skips_nothing_closed() -> None:
    fills = [fill("f1", "buy", 1, 1), fill("f2", "sell", 1, 2, minute=1), fill("f3", "buy", 1, 3, minute=2)]
    assert match_fills(fills, with_open=False).open == []
    assert len(match_fills(fills).open) == 1
    assert match_fills(fills, with_open=False).trips == match_fills(fills).trips


# --------------------------------------------------------------------------------------------
# Round trips: properties
# --------------------------------------------------------------------------------------------

SLOTS = [("AAA", "1h"), ("AAA", "4h"), ("BBB", "1h")]

fill_specs = st.lists(
    st.tuples(
        st.integers(0, len(SLOTS) - 1),
        st.booleans(),
        st.integers(1, 40),  # qty in tenths
        st.integers(1, 5000),  # price in cents
        st.integers(0, 30),  # fee in cents
        st.sampled_from([None, "1.5", "3"]),
    ),
    max_size=60,
)


def build(specs: list[tuple[int, bool, int, int, int, str | None]]) -> list[Fill]:
    return [
        Fill(
            fill_id=f"f{index:03d}",
            order_id=f"o{index // 2}",
            symbol=SLOTS[slot][0],
            timeframe=SLOTS[slot][1],
            side=Side.BUY if buy else Side.SELL,
            qty=D(qty).scaleb(-1),
            price=D(price).scaleb(-2),
            fee=D(fee).scaleb(-2),
            filled_at=T0 + timedelta(seconds=index),
            stop_loss_pct=D(stop) if stop else None,
        )
        for index, (slot, buy, qty, price, fee, stop) in enumerate(specs)
    ]


@settings(max_examples=150, deadline=None)
@given(fill_specs)
def test_pnl_plus_open_cost_equals_cash_flow_minus_fees(specs: list) -> None:
    fills = build(specs)
    result = match_fills(fills)
    cash = sum(((f.price * f.qty) * (1 if f.side is Side.SELL else -1) for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    # Open positions valued at their (FIFO) entry price: unrealised 0, cost basis still paid.
    booked = sum((t.pnl for t in result.trips), D(0)) + sum(
        (p.realised_pnl - (p.cost_basis if p.side == "long" else -p.cost_basis) for p in result.open), D(0)
    )
    assert booked == cash - fees
    assert sum((t.fees for t in result.trips), D(0)) + sum((p.fees for p in result.open), D(0)) == fees
    for p in result.open:
        assert p.qty > 0 and close(p.avg_entry_price * p.qty, p.cost_basis)


@settings(max_examples=150, deadline=None)
@given(fill_specs, st.integers(0, 60))
def test_trade_ids_and_closed_trips_are_stable_when_fills_are_appended(specs: list, cut: int) -> None:
    fills = build(specs)
    before = match_fills(fills[:cut])
    after = match_fills(fills)
    assert set(before.trips) <= set(after.trips)
    closed_later = {t.trade_id for t in after.trips}
    still_open = {p.trade_id for p in after.open}
    for p in before.open:  # an open trade keeps its id whether it closes later or not
        assert p.trade_id in closed_later | still_open


@settings(max_examples=100, deadline=None)
@given(fill_specs, st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(specs: list, rnd: random.Random) -> None:
    fills = build(specs)
    shuffled = fills[:]
    rnd.shuffle(shuffled)
    assert match_fills(shuffled) == match_fills(fills)


@settings(max_examples=100, deadline=None)
@given(fill_specs)
def test_trip_invariants_and_stats_totals(specs: list) -> None:
    trips = round_trips(build(specs))
    for t in trips:
        assert t.qty > 0 and t.entry_at <= t.exit_at and t.holding_time >= timedelta(0)
        assert t.trade_id.startswith(f"{t.symbol}-{t.timeframe}-f")
        move = (t.exit_price - t.entry_price) if t.side == "long" else (t.entry_price - t.exit_price)
        assert t.fees >= 0
        assert close(t.pnl + t.fees, move * (t.pnl + t.fees) / move if move else D(0))
        assert (t.pnl + t.fees).compare(D(0)) == move.compare(D(0))
    stats = summarise(trips)
    assert stats.total_trades == len(trips)
    assert stats.winning_trades + stats.losing_trades + stats.scratch_trades == len(trips)
    assert stats.total_pnl == sum((t.pnl for t in trips), D(0))
    assert stats.long_pnl + stats.short_pnl == stats.total_pnl
    assert stats.long_trades + stats.short_trades == len(trips)
    assert stats.gross_profit + stats.gross_loss == stats.total_pnl
    assert stats.max_drawdown >= 0
