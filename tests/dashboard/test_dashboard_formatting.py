"""Dashboard cell reading and formatting (bot.dashboard.formatting): money, percent, workbook times."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
from support.dashboard_rows import NY

from bot.dashboard.formatting import format_money, format_pct, parse_times


def test_money_and_percent_formats() -> None:
    assert format_money(Decimal("1234.565"), "USD") == "1,234.56 USD"  # half-even
    assert format_money(Decimal("-0.001"), "USD", signed=True) == "0.00 USD"
    assert format_money(12.5, "USDT", signed=True) == "+12.50 USDT"
    assert format_money(-3, "USD", signed=True) == "-3.00 USD"
    assert format_money(None) == "–" and format_money(math.nan) == "–"
    assert format_pct(0.01234) == "+1.23 %"
    assert format_pct(-0.5, signed=False) == "-50.00 %"
    assert format_pct(48.49, fraction=False, signed=False) == "48.49 %"
    assert format_pct(None) == "–" and format_pct(0.0) == "0.00 %"


def test_parse_times_reads_zone_local_cells_and_offsets() -> None:
    times = parse_times(["2024-03-04 10:00:00", "2024-03-04T15:00:00Z", "", "garbage", "2024-07-01"], NY)
    assert times[0] == pd.Timestamp("2024-03-04 15:00", tz="UTC")
    assert times[1] == pd.Timestamp("2024-03-04 15:00", tz="UTC")
    assert pd.isna(times[2]) and pd.isna(times[3])
    assert times[4] == pd.Timestamp("2024-07-01 04:00", tz="UTC")  # midnight New York in summer
    assert str(times.tz) == "America/New_York"
