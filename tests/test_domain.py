"""Parsing and normalisation rules shared by alerts and Config cells."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import Action, normalise_symbol, normalise_timeframe, parse_action, round_down, timeframe_seconds
from bot.parsing import parse_bool, parse_decimal, parse_time, safe_cell


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15", "15m"), ("15m", "15m"), ("15 Min", "15m"), ("15min", "15m"), ("1", "1m"), ("60", "1h"),
        ("1h", "1h"), ("1H", "1h"), ("4H", "4h"), ("240", "4h"), ("120", "2h"), ("1440", "1d"), ("D", "1d"),
        ("1D", "1d"), ("1d", "1d"), ("24h", "1d"), ("W", "1w"), ("1W", "1w"), ("7d", "1w"), ("M", "1M"),
        ("1M", "1M"), ("3M", "3M"), ("30S", "30s"), ("1 hour", "1h"), (" 45 ", "45m"), (15, "15m"),
    ],
)  # fmt: skip
def test_timeframes_normalise_to_canonical(raw: object, expected: str) -> None:
    assert normalise_timeframe(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "x", "15x", "0", "-5", True, None, 1.5, "15 lightyears"])
def test_bad_timeframes_name_the_value(raw: object) -> None:
    with pytest.raises(ValueError) as info:
        normalise_timeframe(raw)
    if isinstance(raw, str) and raw.strip():
        assert repr(raw) in str(info.value)


@given(st.integers(min_value=1, max_value=99999))
def test_bare_minutes_keep_their_length(minutes: int) -> None:
    assert timeframe_seconds(normalise_timeframe(str(minutes))) == minutes * 60


@given(st.sampled_from(["s", "m", "h", "d", "w"]), st.integers(min_value=1, max_value=500))
def test_normalising_is_idempotent(unit: str, count: int) -> None:
    once = normalise_timeframe(f"{count}{unit}")
    assert normalise_timeframe(once) == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("NASDAQ:AAPL", "AAPL"), ("BINANCE:BTCUSDT.P", "BTCUSDT"), ("brk.b", "BRK.B"), (" aapl ", "AAPL"),
     ("BTC/USD", "BTC/USD"), ("BTCUSDT.P", "BTCUSDT")],
)  # fmt: skip
def test_symbols(raw: str, expected: str) -> None:
    assert normalise_symbol(raw) == expected


@pytest.mark.parametrize("raw", ["", "=IMPORTXML(A1)", "AAPL;DROP", "a" * 40, "NASDAQ:", 5, None])
def test_bad_symbols(raw: object) -> None:
    with pytest.raises(ValueError):
        normalise_symbol(raw)


@pytest.mark.parametrize(
    ("raw", "action"),
    [("buy", Action.BUY), ("LONG", Action.BUY), ("sell", Action.SELL), ("Short", Action.SELL),
     ("close", Action.CLOSE), ("exit", Action.CLOSE), (" flat ", Action.CLOSE)],
)  # fmt: skip
def test_action_aliases(raw: str, action: Action) -> None:
    assert parse_action(raw) is action


def test_unknown_action_is_named() -> None:
    with pytest.raises(ValueError, match="'hold'"):
        parse_action("hold")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5000", Decimal(5000)), ("5,000.50", Decimal("5000.50")), ("$12.5", Decimal("12.5")), (7, Decimal(7)),
     (0.1, Decimal("0.1")), (Decimal("1e3"), Decimal(1000))],
)  # fmt: skip
def test_decimals(raw: object, expected: Decimal) -> None:
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["5k", "", "NaN", "inf", "1e40", True, None, [], "1.2.3"])
def test_bad_decimals(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_decimal(raw)


def test_positive_decimals_refuse_zero_and_negative() -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        parse_decimal("0", positive=True, allow_zero=False)
    with pytest.raises(ValueError, match="negative"):
        parse_decimal("-1", positive=True)


@given(
    st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=8),
    st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.001"), Decimal("0.00001"), Decimal("0.5"), Decimal("5")]),
)
def test_round_down_never_exceeds_and_is_a_step_multiple(qty: Decimal, step: Decimal) -> None:
    rounded = round_down(qty, step)
    assert rounded <= qty
    assert qty - rounded < step
    assert (rounded / step) == (rounded / step).to_integral_value()


def test_bools() -> None:
    assert parse_bool("TRUE") and parse_bool("yes") and parse_bool("1") and parse_bool(True)
    assert not parse_bool("FALSE") and not parse_bool("") and not parse_bool("off")
    with pytest.raises(ValueError, match="'maybe'"):
        parse_bool("maybe")


def test_times_are_utc() -> None:
    assert parse_time("2024-05-01T14:30:00Z") == datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
    assert parse_time("2024-05-01T16:30:00+02:00") == datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
    assert parse_time(1714573800000) == datetime(2024, 5, 1, 14, 30, tzinfo=timezone.utc)
    assert parse_time("2024-05-01T14:30:00").tzinfo is not None
    with pytest.raises(ValueError):
        parse_time("yesterday")


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", '=IMPORTXML("http://x")', "\t=1"])
def test_formula_text_is_neutralised(text: str) -> None:
    assert safe_cell(text).startswith("'")


@pytest.mark.parametrize("text", ["-12.5", "+3", "AAPL", "", "1e5"])
def test_plain_values_are_untouched(text: str) -> None:
    assert safe_cell(text) == text
