"""Tests of bot.analytics.xirr: Excel's XIRR example, edge cases, and the NPV equation on any flows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.numbers import approx

from bot.analytics.xirr import xirr

D = Decimal


def test_xirr_excel_example() -> None:
    # Microsoft's XIRR documentation example: 0.373362535 (37.34 %); LibreOffice's XIRR gives
    # 0.3733625335 to ten places.
    flows = [
        (date(2008, 1, 1), -10000),
        (date(2008, 3, 1), 2750),
        (date(2008, 10, 30), 4250),
        (date(2009, 2, 15), 3250),
        (date(2009, 4, 1), 2750),
    ]
    rate = xirr(flows)
    assert rate == pytest.approx(0.3733625335, abs=1e-10)
    npv = sum(a / (1 + rate) ** ((d - date(2008, 1, 1)).days / 365) for d, a in flows)
    assert npv == pytest.approx(0, abs=1e-7)


def test_xirr_simple_and_extreme_cases() -> None:
    assert xirr([(date(2021, 1, 1), D(-100)), (date(2022, 1, 1), D(110))]) == approx(0.1)
    assert xirr([(date(2022, 1, 1), 110), (date(2021, 1, 1), -100)]) == approx(0.1)  # any order
    assert xirr([(date(2021, 1, 1), -100), (date(2022, 1, 1), 100)]) == 0.0
    assert xirr([(date(2021, 1, 1), -100), (date(2022, 1, 1), 1)]) == approx(-0.99)
    assert xirr([(date(2021, 1, 1), -100), (date(2021, 1, 8), 200)]) == approx(2 ** (365 / 7) - 1)
    with pytest.raises(ValueError, match="positive and one negative"):
        xirr([(date(2021, 1, 1), 100), (date(2022, 1, 1), 1)])
    with pytest.raises(ValueError, match="no cash flows"):
        xirr([])


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-0.9, 5.0),
    st.lists(st.tuples(st.integers(1, 1500), st.floats(0, 500)), max_size=6),
)
def test_xirr_solves_the_npv_equation(rate: float, middle: list[tuple[int, float]]) -> None:
    # one outflow then inflows only: a single sign change, so exactly one root, `rate`
    origin = date(2020, 1, 1)
    flows = [(origin, -1000.0)] + [(origin + timedelta(days=d), a) for d, a in middle]
    last = origin + timedelta(days=1600)
    # choose the final flow so that `rate` solves the equation exactly
    balance = sum(a / (1 + rate) ** ((d - origin).days / 365) for d, a in flows)
    final = -balance * (1 + rate) ** (1600 / 365)
    if final <= 1e-6:
        return
    found = xirr([*flows, (last, final)])
    assert found == pytest.approx(rate, rel=1e-9, abs=1e-9)
