"""Optional OHLC bars files: finding and reading them, the window around a trade, benchmark return lines.

Bars files live under ``BOT_DATA_DIR/bars/`` (see docs/dashboard.md); this is the only part of
:mod:`bot.dashboard` that reads a file.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np
import pandas as pd

from bot.dashboard.formatting import UTC, cell_float

_TIME_COLUMNS = ("time", "date", "timestamp", "datetime", "open_time")


def find_bars(directory: Path, symbol: str, timeframe: str = "") -> Path | None:
    """The bars CSV for a symbol: ``<SYMBOL>_<timeframe>.csv``, else ``<SYMBOL>.csv`` (case-insensitive).

    Bars files are optional: the dashboard reads them from ``BOT_DATA_DIR/bars/`` (see
    docs/dashboard.md). Returns None when there is none.
    """
    if not directory.is_dir():
        return None
    names = {path.name.lower(): path for path in directory.glob("*.csv")}
    wanted = [f"{symbol}_{timeframe}.csv".lower()] if timeframe else []
    wanted.append(f"{symbol}.csv".lower())
    for name in wanted:
        if name in names:
            return names[name]
    return None


def bar_symbols(directory: Path) -> list[str]:
    """Symbols with a bars file in ``directory`` (from ``SYMBOL.csv`` / ``SYMBOL_tf.csv``), sorted."""
    if not directory.is_dir():
        return []
    return sorted({path.stem.split("_")[0].upper() for path in directory.glob("*.csv")})


def read_bars(source: Path | str | io.StringIO) -> pd.DataFrame:
    """OHLC bars from a CSV file (path) or CSV text.

    Columns are found by name, case-insensitively: a time (``time``, ``date``, ``timestamp``,
    ``datetime``, ``open_time``; ISO text or epoch seconds/milliseconds; naive times are UTC),
    ``close`` (required), ``open``, ``high``, ``low`` (default: close), ``volume`` (optional).

    Returns:
        DataFrame sorted by ``time`` (tz-aware UTC): ``time, open, high, low, close, volume``
        floats; ``date_only`` is True when every time is a midnight (daily bars given as dates).

    Raises:
        ValueError: no time or close column, or no readable row.
    """
    if isinstance(source, Path):
        text = source.read_text(encoding="utf-8-sig")
    elif isinstance(source, io.StringIO):
        text = source.getvalue()
    else:
        text = source
    reader = csv.DictReader(io.StringIO(text))
    fields = {name.strip().lower(): name for name in (reader.fieldnames or [])}
    time_name = next((fields[c] for c in _TIME_COLUMNS if c in fields), None)
    if time_name is None or "close" not in fields:
        raise ValueError(f"bars: need a time/date column and a close column, found {list(fields)}")
    raw = list(reader)
    times = [(row.get(time_name) or "").strip() for row in raw]
    if times and all(t.isdigit() for t in times if t):
        numbers = pd.to_numeric(pd.Series(times), errors="coerce")
        unit = "ms" if numbers.max() > 1e11 else "s"
        stamps = pd.to_datetime(numbers, unit=unit, utc=True)
    else:
        stamps = pd.to_datetime(pd.Series(times), utc=True, errors="coerce", format="mixed")

    def column(name: str) -> np.ndarray:
        source_name = fields.get(name)
        if source_name is None:
            return np.full(len(raw), np.nan)
        return np.array([cell_float(row.get(source_name)) for row in raw], dtype=float)

    close = column("close")
    frame = pd.DataFrame(
        {
            "time": stamps,
            "open": column("open"),
            "high": column("high"),
            "low": column("low"),
            "close": close,
            "volume": column("volume"),
        }
    )
    for name in ("open", "high", "low"):
        frame[name] = frame[name].fillna(frame["close"])
    frame = frame.dropna(subset=["time", "close"]).sort_values("time", kind="stable").reset_index(drop=True)
    if frame.empty:
        raise ValueError("bars: no row with a readable time and close")
    times_index = pd.DatetimeIndex(frame["time"])
    frame.attrs["date_only"] = bool((times_index == times_index.normalize()).all())
    return frame


def bars_window(bars: pd.DataFrame, entry_at: datetime, exit_at: datetime, *, pad_bars: int = 20) -> pd.DataFrame:
    """Bars around a trade: from ``pad_bars`` bars before the entry to ``pad_bars`` after the exit."""
    times = pd.DatetimeIndex(bars["time"])
    start = max(0, int(times.searchsorted(pd.Timestamp(entry_at).tz_convert(UTC), side="left")) - pad_bars)
    end = int(times.searchsorted(pd.Timestamp(exit_at).tz_convert(UTC), side="right")) + pad_bars
    return bars.iloc[start:end]


def benchmark_returns(bars: pd.DataFrame, zone: tzinfo) -> pd.Series:
    """Daily close-to-close returns of a benchmark's bars, indexed like :func:`bot.analytics.returns.daily_twr`.

    The day of a bar is its date when the bars are dates (``read_bars(...).attrs["date_only"]``),
    else its local day in ``zone``; a day's close is its last bar's. The first day has no return.

    Returns:
        Series of fractions indexed by tz-naive local midnight (name ``"day"``), the
        ``benchmark`` input of :func:`bot.analytics.risk_metrics.benchmark_comparison`.
    """
    times = pd.DatetimeIndex(bars["time"])
    if bars.attrs.get("date_only"):
        days = times.tz_convert(UTC).tz_localize(None).normalize()
    else:
        days = times.tz_convert(zone).tz_localize(None).normalize()
    closes = pd.Series(bars["close"].to_numpy(dtype=float), index=days).groupby(level=0).last()
    closes.index = pd.DatetimeIndex(closes.index, name="day").as_unit("ns")
    return closes.pct_change().iloc[1:].rename("benchmark")


def return_lines(twr: pd.Series, benchmark: pd.Series | None = None, *, name: str = "benchmark") -> pd.DataFrame:
    """Long-format cumulative returns for the TWR chart: the portfolio, and the benchmark rebased to it.

    Args:
        twr: :func:`~bot.dashboard.portfolio.twr_growth` (cumulative TWR per local day).
        benchmark: :func:`benchmark_returns` (daily returns), or None.
        name: the benchmark's label.

    Returns:
        ``day`` (tz-naive), ``series`` (``"portfolio"`` or ``name``), ``return`` (fraction since the
        portfolio's first day: the benchmark compounds its daily returns of the days after it, up
        to the portfolio's last day).
    """
    frames = [pd.DataFrame({"day": twr.index, "series": "portfolio", "return": twr.to_numpy(dtype=float)})]
    if benchmark is not None and len(twr) and len(benchmark):
        first, last = twr.index[0], twr.index[-1]
        after = benchmark[(benchmark.index > first) & (benchmark.index <= last)]
        if len(after):
            growth = np.cumprod(after.to_numpy(dtype=float) + 1.0) - 1.0
            frames.append(pd.DataFrame({"day": [first, *after.index], "series": name, "return": [0.0, *growth]}))
    return pd.concat(frames, ignore_index=True)
