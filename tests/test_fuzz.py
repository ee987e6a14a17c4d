"""10,000 random and malformed webhook bodies: zero 5xx, zero orders, no formula in the workbook."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support.helpers import SECRET, make_settings, set_config, tab_rows

from bot.services import Services, build_services
from bot.state.models import OrderRecord

pytestmark = pytest.mark.slow

NASTY_TEXT = st.sampled_from([
    "=IMPORTXML(\"http://evil\",\"//a\")", "=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
    "'; DROP TABLE signals; --", "\u202eevil", "💥", "\x00", "NaN", "Infinity", "1e999999", "-0", "9" * 5000,
    "NASDAQ:AAPL", "BINANCE:BTCUSDT.P", "15", "D", "buy", "close", "", " ", "\t=1",
])  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40), NASTY_TEXT,
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                             max_size=3), max_leaves=6)
FIELDS = ["secret", "action", "symbol", "ticker", "timeframe", "interval", "price", "quantity", "strategy", "id",
          "time", "timenow"]
ALERT_LIKE = st.fixed_dictionaries(
    {"secret": st.sampled_from([SECRET, SECRET, "wrong", ""])},
    optional={name: st.one_of(VALUES, NASTY_TEXT) for name in FIELDS[1:]},
)
VALID_ISH = st.fixed_dictionaries(
    {"secret": st.just(SECRET), "action": st.sampled_from(["buy", "SELL", "long", "exit", "flat"]),
     "symbol": st.sampled_from(["NASDAQ:AAPL", "BINANCE:BTCUSDT.P", "brk.b", "X"]) | st.from_regex(r"[A-Z]{1,8}"),
     "timeframe": st.sampled_from(["15", "1h", "D", "1W", "M", "240", "15 Min"])},
    optional={"price": st.one_of(VALUES, st.decimals(min_value=0, max_value=10**9, places=4).map(str)),
              "quantity": VALUES, "strategy": st.one_of(VALUES, NASTY_TEXT), "id": st.one_of(VALUES, NASTY_TEXT),
              "time": st.one_of(VALUES, NASTY_TEXT), "comment": st.one_of(VALUES, NASTY_TEXT)},
)
BODIES = st.one_of(
    VALID_ISH.map(lambda d: json.dumps(d, default=str).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    ALERT_LIKE.map(lambda d: json.dumps(d, default=str).encode()),
    st.dictionaries(st.text(max_size=8), VALUES, max_size=6).map(lambda d: json.dumps(d, default=str).encode()),
    st.lists(VALUES, max_size=4).map(lambda v: json.dumps(v, default=str).encode()),
    st.integers(min_value=1, max_value=300).map(lambda n: ("[" * n + "]" * n).encode()),
)
FORMULA = re.compile(r"^[=+\-@\t\r\n]")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The bot with the per-source rate limit out of the way (the fuzzer is one fast source)."""
    built = build_services(make_settings(tmp_path, webhook_rate_limit="1000000/second"))
    yield built
    built.close()


def test_random_bodies_never_5xx_never_order_never_formula(services: Services, client: Any) -> None:
    set_config(services, [])  # no tradable row: any alert that parses must end as "skipped"
    seen: dict[int, int] = {}

    @settings(max_examples=10_000, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(BODIES, st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]))
    def send(body: bytes, content_type: str) -> None:
        reply = client.post("/webhook", data=body, content_type=content_type or None)
        seen[reply.status_code] = seen.get(reply.status_code, 0) + 1
        assert reply.status_code < 500, reply.get_data(as_text=True)
        data = reply.get_json()
        assert isinstance(data, dict)
        if reply.status_code == 200:
            assert data["status"] in ("skipped", "duplicate") and data["order_id"] is None
        else:
            assert reply.status_code in (400, 401, 413) and data["error"]

    send()
    assert sum(seen.values()) >= 10_000 and seen.get(200, 0) > 100  # deep paths were exercised, not only 400s
    with services.store.session() as s:
        assert s.scalar(select(func.count()).select_from(OrderRecord)) == 0
    for tab in ("Config", "Signals", "Orders"):
        for row in tab_rows(services, tab):
            for column, cell in row.items():
                assert not (FORMULA.match(cell) and not NUMBER.match(cell)), f"{tab}.{column} = {cell!r}"
