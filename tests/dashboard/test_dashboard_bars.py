"""Bars files and the benchmark (bot.dashboard.bars)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.dashboard_rows import NY, UTC

from bot.dashboard.bars import bar_symbols, bars_window, benchmark_returns, find_bars, read_bars, return_lines


def test_bars_files_and_benchmark_returns(tmp_path: Path) -> None:
    (tmp_path / "SPY.csv").write_text(
        "Date,Open,High,Low,Close\n2024-01-03,1,1,1,110\n2024-01-02,1,1,1,100\n2024-01-04,1,1,1,99\n"
    )
    (tmp_path / "aapl_1h.csv").write_text("timestamp,close\n1704200400000,190\n1704204000000,191\n")
    assert find_bars(tmp_path, "SPY", "1d") == tmp_path / "SPY.csv"
    assert find_bars(tmp_path, "AAPL", "1h") == tmp_path / "aapl_1h.csv"
    assert find_bars(tmp_path, "AAPL", "1d") is None and bar_symbols(tmp_path) == ["AAPL", "SPY"]
    spy = read_bars(tmp_path / "SPY.csv")
    assert spy.attrs["date_only"] and list(spy["close"]) == [100.0, 110.0, 99.0]
    hourly = read_bars(tmp_path / "aapl_1h.csv")
    assert hourly["time"].iloc[0] == pd.Timestamp("2024-01-02 13:00", tz="UTC") and hourly["open"].iloc[0] == 190
    returns = benchmark_returns(spy, NY)  # date bars keep their dates whatever the zone
    assert list(returns.index) == [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04")]
    assert np.allclose(returns, [0.1, -0.1])
    twr = pd.Series([0.0, 0.05, 0.02], index=pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="day"))
    lines = return_lines(twr, returns, name="SPY")
    assert np.allclose(lines.loc[lines["series"] == "SPY", "return"], [0.0, 0.1, 1.1 * 0.9 - 1])
    window = bars_window(spy, datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 3, 12, tzinfo=UTC), pad_bars=0)
    assert list(window["close"]) == [110.0]
    with pytest.raises(ValueError, match="close"):
        read_bars("time,price\n2024-01-01,1\n")
