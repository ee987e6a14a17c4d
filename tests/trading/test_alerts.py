"""Webhook body → Signal: every field, alias and error message."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Action
from bot.errors import AlertRejected
from bot.trading.alerts import alert_key, check_secret, parse_body, parse_signal, redacted_body


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_parses_every_field_with_aliases() -> None:
    payload = parse_body(
        b'{"action": "{{strategy.order.action}}", "ticker": "BINANCE:ETHUSDT.P", "interval": "240",'
        b' "close": 3012.25, "qty": "0.5", "strategy": "rsi", "id": "a-1", "timenow": "2024-05-01T14:30:00Z"}\n'
    )
    payload["action"] = "BUY"
    signal = parse_signal(payload)
    assert (signal.action, signal.symbol, signal.timeframe) == (Action.BUY, "ETHUSDT", "4h")
    assert signal.price == Decimal("3012.25") and isinstance(signal.price, Decimal)
    assert signal.quantity == Decimal("0.5")
    assert (signal.strategy, signal.alert_id, signal.alert_key) == ("rsi", "a-1", "id:a-1")
    assert signal.fired_at is not None and signal.fired_at.isoformat() == "2024-05-01T14:30:00+00:00"


def test_float_prices_stay_exact() -> None:
    signal = parse_signal(parse_body(b'{"action":"buy","symbol":"X","timeframe":"1","price":0.1000000000000000055}'))
    assert signal.price == Decimal("0.1000000000000000055")


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        (b"", "body", "empty body"),
        (b"buy AAPL", "body", "not valid JSON"),
        (b"[1,2]", "body", "JSON object"),
        (b'{"price": NaN}', "body", "not valid JSON"),
        (b"\xff\xfe", "body", "UTF-8"),
        (body(symbol="AAPL", timeframe="1d"), "action", "missing field 'action'"),
        (body(action="hold", symbol="AAPL", timeframe="1d"), "action", "'hold'"),
        (body(action="buy", timeframe="1d"), "symbol", "missing field 'symbol' (or 'ticker')"),
        (body(action="buy", symbol="=HYPERLINK(1)", timeframe="1d"), "symbol", "is not a symbol"),
        (body(action="buy", symbol="AAPL"), "timeframe", "missing field 'timeframe'"),
        (body(action="buy", symbol="AAPL", timeframe="7x"), "timeframe", "'7x'"),
        (body(action="buy", symbol="AAPL", timeframe="1d", price="abc"), "price", "'abc'"),
        (body(action="buy", symbol="AAPL", timeframe="1d", price=-1), "price", "negative"),
        (body(action="buy", symbol="AAPL", timeframe="1d", price=0), "price", "greater than zero"),
        (body(action="buy", symbol="AAPL", timeframe="1d", quantity=True), "quantity", "bool"),
        (body(action="buy", symbol="AAPL", timeframe="1d", time="soon"), "time", "'soon'"),
        (body(action="buy", symbol="AAPL", timeframe="1d", id={"a": 1}), "id", "must be a text"),
        (body(action=5, symbol="AAPL", timeframe="1d"), "action", "must be a text"),
    ],
)
def test_rejections_name_the_field(raw: bytes, field: str, fragment: str) -> None:
    with pytest.raises(AlertRejected) as info:
        parse_signal(parse_body(raw))
    assert info.value.http_status == 400
    assert info.value.field == field
    assert fragment in str(info.value)


def test_secret_is_checked_in_constant_time_and_never_echoed() -> None:
    check_secret({"secret": "s3cret"}, "s3cret")
    check_secret({"passphrase": "s3cret"}, "s3cret")
    for payload in ({}, {"secret": ""}, {"secret": "nope"}, {"secret": 5}):
        with pytest.raises(AlertRejected) as info:
            check_secret(payload, "s3cret")
        assert info.value.http_status == 401
        assert "s3cret" not in str(info.value)
    with pytest.raises(AlertRejected):
        check_secret({"secret": ""}, "")


def test_body_key_ignores_secret_and_key_order() -> None:
    a = {"secret": "1", "action": "buy", "symbol": "X", "timeframe": "1"}
    b = {"timeframe": "1", "symbol": "X", "action": "buy", "secret": "2"}
    assert alert_key(a, "") == alert_key(b, "")
    assert alert_key(a, "") != alert_key({**a, "price": 1}, "")
    assert alert_key(a, "abc") == "id:abc"


def test_redacted_body_hides_the_secret() -> None:
    text = redacted_body({"secret": "topsecret", "passphrase": "pp", "action": "buy"})
    assert "topsecret" not in text and "pp\"" not in text and "buy" in text


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.dictionaries(st.text(max_size=10), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8), max_size=8).map(lambda d: json.dumps(d).encode())))
def test_any_input_either_parses_or_is_rejected_with_400(raw: bytes) -> None:
    try:
        parse_signal(parse_body(raw))
    except AlertRejected as exc:
        assert exc.http_status == 400 and str(exc)
