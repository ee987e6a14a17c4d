"""Generate ``examples/alerts/ma_cross.jsonl``: TradingView-style alerts from real daily prices.

Source data: the daily stock prices shipped by the PyPI package ``bokeh-sampledata``
(``bokeh_sampledata/_data/stocks.csv.gz``, one gzip CSV with a ``Ticker`` column; Quandl WIKI
prices, public domain, series ending 2013-03-01). Closes are unadjusted, as traded that day.

Strategy ("ma-cross"): a simple-moving-average cross on closes, fast SMA(10) against slow
SMA(30), long/short. When the fast average moves above the slow one the alert is ``buy``, when it
moves below it is ``sell``. Bars where both averages are exactly equal do not change the regime,
so a stream's cross alerts always alternate. The averages are computed over the whole history
(as a TradingView chart would) but alerts are only kept for bars on or after ``WINDOW_START``.
Every stream ends with a ``close`` alert at its last bar so a replay ends flat.

Streams: NASDAQ:AAPL daily ("D"), NASDAQ:AAPL weekly ("W": one bar per calendar week, closing on
the week's last trading day, price = that day's close) and NASDAQ:MSFT daily ("D").

Each output line is one JSON object with the fields ``secret`` (the literal placeholder
``{{SECRET}}``, substituted by the replay tool), ``action``, ``symbol``, ``timeframe``, ``price``
(a JSON number, written with exactly the decimal text of the CSV close), ``time`` (the bar's
close as ISO UTC; a fixed ``21:00:00Z`` = 16:00 New York standard time, ignoring daylight
saving), ``id`` (unique) and ``strategy``. Lines are sorted by time, then symbol, then
timeframe; a stream's cross alert comes before its close alert on the same bar.

The output is deterministic: running the script twice gives identical bytes. Run from the
repository root::

    .venv/bin/python scripts/make_example_alerts.py [--out examples/alerts/ma_cross.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "examples" / "alerts" / "ma_cross.jsonl"

#: First bar date (inclusive) for which alerts are emitted: the last three years of the data.
WINDOW_START = "2010-03-01"
FAST = 10
SLOW = 30
STRATEGY = "ma-cross"
SECRET_PLACEHOLDER = "{{SECRET}}"
#: Bar close time written to every alert (US close, 16:00 New York in standard time).
CLOSE_TIME_UTC = "21:00:00Z"

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Bar:
    """One bar: its closing trading day (``YYYY-MM-DD``) and close as exact CSV text."""

    date: str
    close: str


@dataclass(frozen=True)
class Stream:
    """One alert stream: a ticker on a timeframe, as TradingView names them."""

    ticker: str
    exchange: str
    timeframe: str  # TradingView {{interval}}: "D" or "W"

    @property
    def symbol(self) -> str:
        """The symbol as TradingView's ``{{exchange}}:{{ticker}}`` sends it."""
        return f"{self.exchange}:{self.ticker}"


STREAMS: tuple[Stream, ...] = (
    Stream("AAPL", "NASDAQ", "D"),
    Stream("AAPL", "NASDAQ", "W"),
    Stream("MSFT", "NASDAQ", "D"),
)


def source_csv_path() -> Path:
    """Return the path of ``stocks.csv.gz`` inside the installed ``bokeh_sampledata`` package."""
    import bokeh_sampledata

    return Path(bokeh_sampledata.__file__).resolve().parent / "_data" / "stocks.csv.gz"


def read_daily_closes(path: Path, ticker: str) -> list[Bar]:
    """Read one ticker's daily closes from the gzip CSV, oldest first, keeping the exact text."""
    bars: list[Bar] = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if row["Ticker"] != ticker:
                continue
            close = row["Close"].strip()
            if not _NUMBER.match(close):
                raise ValueError(f"unexpected close {close!r} for {ticker} on {row['Date']}")
            bars.append(Bar(date=row["Date"].strip(), close=close))
    if not bars:
        raise ValueError(f"no rows for {ticker} in {path}")
    bars.sort(key=lambda bar: bar.date)
    return bars


def weekly_bars(daily: Sequence[Bar]) -> list[Bar]:
    """Resample daily bars to weekly ones: the last close of each ISO calendar week.

    The weekly bar is dated by the last trading day of its week (usually a Friday).
    """
    weeks: dict[tuple[int, int], Bar] = {}
    for bar in daily:
        iso = dt.date.fromisoformat(bar.date).isocalendar()
        weeks[(iso[0], iso[1])] = bar  # daily is sorted, so the last one wins
    return [weeks[key] for key in sorted(weeks)]


def cross_signals(bars: Sequence[Bar], fast: int = FAST, slow: int = SLOW) -> Iterator[tuple[Bar, str]]:
    """Yield ``(bar, "buy"|"sell")`` for every bar where the fast SMA crosses the slow SMA.

    Comparison is exact: ``sum_fast * slow`` against ``sum_slow * fast`` in ``Decimal``. The
    regime is the sign of ``fast SMA - slow SMA``; a signal fires when the sign differs from the
    last non-zero sign (equal averages keep the previous regime). The first regime is not a
    signal.
    """
    closes = [Decimal(bar.close) for bar in bars]
    regime = 0
    for i in range(slow - 1, len(bars)):
        sum_fast = sum(closes[i - fast + 1 : i + 1], Decimal(0))
        sum_slow = sum(closes[i - slow + 1 : i + 1], Decimal(0))
        diff = sum_fast * slow - sum_slow * fast
        sign = (diff > 0) - (diff < 0)
        if sign == 0:
            continue
        if regime and sign != regime:
            yield bars[i], "buy" if sign > 0 else "sell"
        regime = sign


def alert_line(stream: Stream, bar: Bar, action: str) -> str:
    """Render one alert as a JSON line (no newline); ``price`` keeps the CSV's decimal text."""
    fields = [
        ("secret", json.dumps(SECRET_PLACEHOLDER)),
        ("action", json.dumps(action)),
        ("symbol", json.dumps(stream.symbol)),
        ("timeframe", json.dumps(stream.timeframe)),
        ("price", bar.close),
        ("time", json.dumps(f"{bar.date}T{CLOSE_TIME_UTC}")),
        ("id", json.dumps(f"{stream.ticker}-{stream.timeframe}-{bar.date}-{action}")),
        ("strategy", json.dumps(STRATEGY)),
    ]
    return "{" + ", ".join(f"{json.dumps(key)}: {value}" for key, value in fields) + "}"


def stream_bars(path: Path, stream: Stream) -> list[Bar]:
    """Return the bars of a stream's timeframe for its ticker."""
    daily = read_daily_closes(path, stream.ticker)
    if stream.timeframe == "D":
        return daily
    if stream.timeframe == "W":
        return weekly_bars(daily)
    raise ValueError(f"unsupported timeframe {stream.timeframe!r}")


def generate(path: Path | None = None, window_start: str = WINDOW_START) -> str:
    """Build the whole JSON-lines document (newline-terminated) for all :data:`STREAMS`."""
    path = path or source_csv_path()
    keyed: list[tuple[str, str, str, int, str]] = []
    for stream in STREAMS:
        bars = stream_bars(path, stream)
        for bar, action in cross_signals(bars):
            if bar.date >= window_start:
                keyed.append((bar.date, stream.symbol, stream.timeframe, 0, alert_line(stream, bar, action)))
        last = bars[-1]
        keyed.append((last.date, stream.symbol, stream.timeframe, 1, alert_line(stream, last, "close")))
    keyed.sort(key=lambda item: item[:4])
    return "".join(item[4] + "\n" for item in keyed)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: write the alert file and print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output file (default: %(default)s)")
    parser.add_argument(
        "--source", type=Path, default=None, help="stocks.csv.gz (default: bokeh_sampledata's)"
    )
    args = parser.parse_args(argv)
    text = generate(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("utf-8"))
    print(f"wrote {text.count(chr(10))} alerts to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
