"""Tests of bot.performance: fills → round trips (FIFO), statistics, Trades/Performance records."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analytics.round_trips import RoundTrip, match_fills, open_positions, round_trips
from bot.analytics.trade_records import (
    PERFORMANCE_HEADERS,
    TRADES_HEADERS,
    format_duration,
    performance_records,
    trade_from_record,
    trade_records,
)
from bot.analytics.trade_stats import summarise
from bot.domain import Fill, PositionSide, Side

UTC = timezone.utc
T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # a Monday
SCHEMA = Path(__file__).resolve().parents[2] / "sheets_schema"
D = Decimal


def close(actual: Decimal | None, expected: Decimal) -> bool:
    """Equal up to the rounding of a division (the module divides with 60 digits, tests with 28)."""
    assert actual is not None
    return abs(actual - expected) <= D("1e-25") * max(1, abs(expected))


def fill(
    fill_id: str,
    side: str,
    qty: str | int,
    price: str | int,
    *,
    fee: str | int = 0,
    minute: int = 0,
    symbol: str = "AAPL",
    timeframe: str = "1h",
    order_id: str | None = None,
    stop: str | None = None,
    reason: str = "signal",
) -> Fill:
    return Fill(
        fill_id=fill_id,
        order_id=order_id or "o" + fill_id,
        symbol=symbol,
        timeframe=timeframe,
        side=Side(side),
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        filled_at=T0 + timedelta(minutes=minute),
        stop_loss_pct=D(stop) if stop is not None else None,
        exit_reason=reason,
    )


def trip(
    pnl: str | int,
    minute: int,
    *,
    side: PositionSide = PositionSide.LONG,
    symbol: str = "AAPL",
    timeframe: str = "1h",
    fees: str = "0",
    hold_minutes: int = 60,
) -> RoundTrip:
    exit_at = T0 + timedelta(minutes=minute)
    entry_at = exit_at - timedelta(minutes=hold_minutes)
    return RoundTrip(
        trade_id=f"{symbol}-{timeframe}-{minute}",
        symbol=symbol,
        timeframe=timeframe,
        side=side,
        qty=D(1),
        entry_at=entry_at,
        entry_price=D(100),
        exit_at=exit_at,
        exit_price=D(100) + D(pnl),
        fees=D(fees),
        pnl=D(pnl),
        pnl_pct=D(pnl),
        r_multiple=None,
        holding_time=exit_at - entry_at,
        exit_reason="signal",
    )


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


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def test_summarise_hand_computed() -> None:
    pnls = [10, 5, 0, -3, -4, 8, -1]  # exit order: W W S L L W L
    trips = [
        trip(pnl, minute=10 * (i + 1), side=PositionSide.SHORT if i in (1, 4) else PositionSide.LONG, fees="0.5")
        for i, pnl in enumerate(pnls)
    ]
    random.Random(1).shuffle(trips)  # summarise orders by exit time itself
    s = summarise(trips)
    assert (s.total_trades, s.winning_trades, s.losing_trades, s.scratch_trades) == (7, 3, 3, 1)
    assert close(s.win_rate, D(300) / 7)
    assert s.total_pnl == 15
    assert close(s.avg_pnl_per_trade, D(15) / 7)
    assert (s.best_trade, s.worst_trade) == (10, -4)
    assert (s.gross_profit, s.gross_loss) == (23, -8)
    assert s.profit_factor == D("2.875")
    assert close(s.avg_win, D(23) / 3) and close(s.avg_loss, D(-8) / 3)
    assert s.payoff_ratio == D("2.875")
    assert close(s.expectancy, D(15) / 7)  # 3/7 × 23/3 − 3/7 × 8/3
    assert (s.max_win_streak, s.max_loss_streak) == (2, 2)
    assert s.max_drawdown == 7  # cumulative 10 15 15 12 8 16 15: peak 15 → 8
    assert s.avg_holding_time == timedelta(hours=1)
    assert (s.long_trades, s.long_pnl, s.short_trades, s.short_pnl) == (5, 14, 2, 1)
    assert s.total_fees == D("3.5")


def test_scratch_breaks_streaks() -> None:
    s = summarise([trip(p, minute=i) for i, p in enumerate([1, 1, 0, 1, -1, 0, -1, -1])])
    assert s.max_win_streak == 2 and s.max_loss_streak == 2
    s = summarise([trip(p, minute=i) for i, p in enumerate([1, 1, 1, -1, -1, -1, -1, 2])])
    assert s.max_win_streak == 3 and s.max_loss_streak == 4


def test_drawdown_peak_starts_at_zero() -> None:
    assert summarise([trip(-5, 1), trip(3, 2)]).max_drawdown == 5
    assert summarise([trip(2, 1), trip(3, 2)]).max_drawdown == 0
    assert summarise([trip(2, 1), trip(-3, 2), trip(-4, 3), trip(10, 4), trip(-1, 5)]).max_drawdown == 7


def test_summarise_without_losses_or_trades() -> None:
    s = summarise([trip(4, 1), trip(0, 2)])
    assert s.profit_factor is None and s.payoff_ratio is None and s.avg_loss is None
    assert s.expectancy == 2 and s.win_rate == 50
    empty = summarise([])
    assert empty.total_trades == 0 and empty.total_pnl == 0
    assert empty.win_rate is None and empty.best_trade is None and empty.avg_holding_time is None
    only_losses = summarise([trip(-4, 1)])
    assert only_losses.profit_factor == 0 and only_losses.payoff_ratio is None
    assert only_losses.expectancy == -4


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def schema_headers(tab: str) -> list[str]:
    return [column["name"] for column in json.loads((SCHEMA / f"{tab}.json").read_text())["columns"]]


def test_headers_match_the_sheet_schema() -> None:
    assert list(TRADES_HEADERS) == schema_headers("Trades")
    assert list(PERFORMANCE_HEADERS) == schema_headers("Performance")


def test_format_duration() -> None:
    assert format_duration(timedelta(seconds=59.9)) == "00:00:59"
    assert format_duration(timedelta(hours=3, minutes=4, seconds=5)) == "03:04:05"
    assert format_duration(timedelta(days=2, hours=3, minutes=4, seconds=5)) == "2d 03:04:05"
    assert format_duration(timedelta(days=1)) == "1d 00:00:00"
    assert format_duration(timedelta(minutes=-90)) == "-01:30:00"
    assert format_duration(None) == ""


def test_trade_records() -> None:
    fills = [
        fill("f1", "buy", "0.5", "100.123456789", fee="0.011", minute=0, stop="2", order_id="A"),
        fill("f2", "sell", "0.5", "103", fee="0.005", minute=60 * 26 + 3, order_id="B", reason="stop"),
    ]
    [row] = trade_records(round_trips(fills), ZoneInfo("America/New_York"))
    assert list(row) == list(TRADES_HEADERS)
    assert row == {
        "trade_id": "AAPL-1h-f1",
        "symbol": "AAPL",
        "timeframe": "1h",
        "side": "long",
        "qty": "0.5",
        "entry_at": "2024-03-04 09:30:00",  # 14:30 UTC = 09:30 EST
        "entry_price": "100.12345679",
        "exit_at": "2024-03-05 11:33:00",
        "exit_price": "103",
        "fees": "0.02",  # 0.016
        "pnl": "1.42",  # 0.5 × 2.876543211 − 0.016 = 1.4222716055
        "pnl_pct": "2.84",
        "r_multiple": "1.42",
        "holding_time": "1d 02:03:00",
        "exit_reason": "stop",
        "order_ids": "A, B",
        "setup": "",
        "tags": "",
        "notes": "",
        "screenshot_url": "",
        "rating": "",
    }


def test_performance_records_rows_and_rounding() -> None:
    trips = [
        trip("2.345", 1, symbol="BTCUSDT", timeframe="1h"),
        trip("-1", 2, symbol="BTCUSDT", timeframe="15m", fees="0.125"),
        trip("2.355", 3, symbol="AAPL", timeframe="1d", side=PositionSide.SHORT, hold_minutes=60 * 25),
    ]
    now = datetime(2024, 7, 1, 12, 0, 5, tzinfo=UTC)
    rows = performance_records(trips, now, ZoneInfo("Europe/Berlin"))
    assert [(r["symbol"], r["timeframe"]) for r in rows] == [
        ("AAPL", ""),
        ("AAPL", "1d"),
        ("BTCUSDT", ""),
        ("BTCUSDT", "15m"),
        ("BTCUSDT", "1h"),
        ("TOTAL", ""),
    ]
    for row in rows:
        assert list(row) == list(PERFORMANCE_HEADERS)
        assert row["last_updated"] == "2024-07-01 14:00:05"  # CEST
    aapl, btc, total = rows[0], rows[2], rows[-1]
    assert aapl["total_pnl"] == "2.36"  # 2.355 half-even → 2.36
    assert aapl["profit_factor"] == "" and aapl["avg_loss"] == "" and aapl["payoff_ratio"] == ""
    assert aapl["short_trades"] == "1" and aapl["short_pnl"] == "2.36" and aapl["long_pnl"] == "0"
    assert aapl["avg_holding_time"] == "1d 01:00:00"
    assert btc == {
        "symbol": "BTCUSDT",
        "total_trades": "2",
        "winning_trades": "1",
        "losing_trades": "1",
        "win_rate": "50",
        "total_pnl": "1.34",  # 1.345 half-even → 1.34
        "avg_pnl_per_trade": "0.67",  # 0.6725
        "best_trade": "2.34",  # 2.345 half-even → 2.34
        "worst_trade": "-1",
        "last_updated": "2024-07-01 14:00:05",
        "timeframe": "",
        "scratch_trades": "0",
        "gross_profit": "2.34",
        "gross_loss": "-1",
        "profit_factor": "2.34",
        "expectancy": "0.67",
        "avg_win": "2.34",
        "avg_loss": "-1",
        "payoff_ratio": "2.34",
        "max_win_streak": "1",
        "max_loss_streak": "1",
        "avg_holding_time": "01:00:00",
        "long_trades": "2",
        "long_pnl": "1.34",
        "short_trades": "0",
        "short_pnl": "0",
        "max_drawdown": "1",
        "total_fees": "0.12",  # 0.125 half-even → 0.12
    }
    assert total["total_trades"] == "3" and total["total_pnl"] == "3.7"
    assert total["win_rate"] == "66.67"


def test_performance_records_without_trades_has_a_total_row() -> None:
    [row] = performance_records([], datetime(2024, 1, 1, tzinfo=UTC), UTC)
    assert row["symbol"] == "TOTAL" and row["total_trades"] == "0" and row["total_pnl"] == "0"
    assert row["win_rate"] == "" and row["avg_holding_time"] == ""


def test_manual_trip_without_timeframe_counts_only_in_symbol_and_total_rows() -> None:
    trips = [trip(1, 1, timeframe=""), trip(2, 2, timeframe="1h")]
    rows = performance_records(trips, T0, UTC)
    assert [(r["symbol"], r["timeframe"], r["total_trades"]) for r in rows] == [
        ("AAPL", "", "2"),
        ("AAPL", "1h", "1"),
        ("TOTAL", "", "2"),
    ]


# --------------------------------------------------------------------------------------------
# Manual journal rows
# --------------------------------------------------------------------------------------------


def manual(**cells: str) -> dict[str, str]:
    row = dict.fromkeys(TRADES_HEADERS, "")
    row.update(
        symbol="nasdaq:aapl",
        side="Long",
        qty="10",
        entry_at="2024-03-04 09:30:00",
        entry_price="$100",
        exit_at="2024-03-05 10:00:30",
        exit_price="105.50",
        fees="1",
    )
    row.update(cells)
    return row


def test_trade_from_record_computes_pnl_from_prices() -> None:
    t = trade_from_record(manual(timeframe="60", order_ids="a, b;c a"), zone=ZoneInfo("America/New_York"))
    assert (t.symbol, t.timeframe, t.side, t.qty) == ("AAPL", "1h", "long", 10)
    assert t.entry_at == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    assert t.exit_at == datetime(2024, 3, 5, 15, 0, 30, tzinfo=UTC)
    assert t.entry_at.tzinfo is UTC
    assert t.entry_price == 100 and t.exit_price == D("105.5")
    assert t.pnl == D(54)  # 5.5 × 10 − 1
    assert t.pnl_pct == D("5.4")
    assert t.holding_time == timedelta(days=1, minutes=30, seconds=30)
    assert t.trade_id == "" and t.order_ids == ("a", "b", "c")
    assert t.r_multiple is None


def test_trade_from_record_short_given_pnl_and_offsets() -> None:
    t = trade_from_record(
        manual(side="short", pnl="-12.5", r_multiple="-0.5", entry_at="2024-03-04T14:30:00Z", fees="")
    )
    assert t.side == "short" and t.pnl == D("-12.5") and t.r_multiple == D("-0.5")
    assert t.fees == 0 and t.entry_at == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    computed = trade_from_record(manual(side="short", fees=""))
    assert computed.pnl == D(-55)


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"qty": "ten"}, r"qty: 'ten' is not a number"),
        ({"qty": "0"}, r"qty: '0' must be greater than zero"),
        ({"qty": "-1"}, r"qty: '-1' must not be negative"),
        ({"side": "flat"}, r"side: 'flat' is not long or short"),
        ({"entry_price": ""}, r"entry_price: required"),
        ({"symbol": ""}, r"symbol: required"),
        ({"symbol": "A B"}, r"symbol: 'A B' is not a symbol"),
        ({"timeframe": "fortnight"}, r"timeframe: 'fortnight' is not a timeframe"),
        ({"entry_at": "04/03/2024"}, r"entry_at: '04/03/2024' is not a time"),
        ({"exit_at": "2024-03-01 00:00:00"}, r"exit_at: '2024-03-01 00:00:00' is before entry_at"),
        ({"fees": "abc"}, r"fees: 'abc' is not a number"),
        ({"pnl": "1e99"}, r"pnl: '1e99' is too large"),
        ({"exit_price": ""}, r"exit_price: required"),
    ],
)
def test_trade_from_record_errors_name_column_and_value(cells: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trade_from_record(manual(**cells))


def test_manual_trades_feed_the_statistics() -> None:
    bot_trip = round_trips([fill("f1", "buy", 1, 100), fill("f2", "sell", 1, 90, minute=1)])[0]
    manual_trip = trade_from_record(manual(timeframe="1h"))
    stats = summarise([bot_trip, manual_trip])
    assert stats.total_trades == 2 and stats.total_pnl == D(44)


def test_manual_trade_with_zero_fees_is_kept() -> None:
    t = trade_from_record(manual(fees="0", pnl=""))
    assert t.fees == 0
    assert t.pnl == (t.exit_price - t.entry_price) * t.qty * (1 if t.side == "long" else -1)
