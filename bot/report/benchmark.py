"""The report's benchmark: daily closes from a CSV file or a broker's ``daily_closes``, and their returns.

A CSV of ``date,close`` (:func:`read_benchmark_csv`) wins; otherwise :func:`fetch_benchmark`
asks a broker that declares ``capabilities.daily_closes`` (Alpaca market data first) for the
closes of a symbol (``SPY``), one request per calendar year. :func:`benchmark_returns` takes the
returns between the account's own valuation days, so excess return, beta and correlation compare
like with like.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from tqdm import tqdm

from bot.errors import BotError, ConfigError
from bot.parsing import parse_decimal
from bot.report.accounts import NEW_YORK
from bot.snapshots import snapshot_brokers

if TYPE_CHECKING:
    from bot.services import Services

__all__ = ["benchmark_returns", "fetch_benchmark", "read_benchmark_csv"]

_DATE_PREFIX = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DATE_COLUMNS = ("date", "day", "timestamp", "time", "datetime")
_CLOSE_COLUMNS = ("close", "adj close", "adj_close", "adjclose", "adjusted close", "price", "value")


def _day(text: str) -> pd.Timestamp:
    """The day a ``YYYY-MM-DD`` text starts with (``/`` and ``.`` separators too); ValueError otherwise."""
    match = _DATE_PREFIX.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a date such as 2024-05-01")
    return pd.Timestamp(date(int(match.group(1)), int(match.group(2)), int(match.group(3))))


def read_benchmark_csv(path: Path | str) -> pd.Series:
    """Daily closes from a CSV file with a header row naming a date and a close column.

    Recognised headers (any case): date column ``date``/``day``/``timestamp``/``time``; close
    column ``close``, ``adj close``, ``price`` or ``value`` (the first present, in that order, so a
    Yahoo export uses ``Close``). Dates ``YYYY-MM-DD`` (a time after the date is ignored: a close
    belongs to its exchange day); closes are numbers (``$``, thousands separators allowed). Blank
    lines are skipped; a repeated date keeps its last close.

    Returns:
        Float closes (> 0) indexed by day (tz-naive midnight :class:`pandas.Timestamp`, name
        ``"day"``, ascending), named after the file's stem.

    Raises:
        ConfigError: unreadable file, missing columns, or ``"<file> row 7, column close: ..."``
            for the first unusable row.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"benchmark file {file}: cannot read it ({exc.strerror or exc})", field="benchmark") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    names = [cell.strip().lower() for cell in header or []]
    date_col = next((names.index(name) for name in _DATE_COLUMNS if name in names), None)
    close_col = next((names.index(name) for name in _CLOSE_COLUMNS if name in names), None)
    if date_col is None or close_col is None:
        raise ConfigError(
            f"benchmark file {file.name}: needs a header row with date and close columns (got {header!r})",
            field="benchmark",
        )
    closes: dict[pd.Timestamp, float] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (max(date_col, close_col) + 1 - len(row))
        try:
            day = _day(cells[date_col])
        except ValueError as exc:
            raise ConfigError(f"benchmark file {file.name} row {number}, column {names[date_col]}: {exc}") from None
        try:
            close = parse_decimal(cells[close_col], positive=True, allow_zero=False)
        except ValueError as exc:
            raise ConfigError(f"benchmark file {file.name} row {number}, column {names[close_col]}: {exc}") from None
        closes[day] = float(close)
    if not closes:
        raise ConfigError(f"benchmark file {file.name}: no closes", field="benchmark")
    series = pd.Series(closes, dtype=float, name=file.stem).sort_index()
    series.index = pd.DatetimeIndex(series.index, name="day").as_unit("ns")
    return series


def _closes_from(data: Any, name: str) -> pd.Series:
    """Float closes by day from what ``daily_closes`` returned: a Series, mapping or (day, close) pairs."""
    if isinstance(data, pd.Series):
        items: Iterable[tuple[Any, Any]] = data.items()
    elif isinstance(data, Mapping):
        items = data.items()
    else:
        items = data
    closes: dict[pd.Timestamp, float] = {}
    for day, close in items:
        stamp = pd.Timestamp(day)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(NEW_YORK).tz_localize(None)
        closes[stamp.normalize()] = float(parse_decimal(close))
    series = pd.Series(closes, dtype=float, name=name).sort_index()
    series.index = pd.DatetimeIndex(series.index, name="day").as_unit("ns")
    return series


def benchmark_returns(closes: pd.Series, days: pd.DatetimeIndex) -> pd.Series:
    """Benchmark returns between the account's valuation days.

    Each valuation day takes the latest close on or before it (so a weekend valuation of a
    crypto account sees Friday's close); the return of day ``t`` is ``close_t / close_{t−1} − 1``
    over consecutive valuation days, the same intervals as the account's daily TWR returns.

    Args:
        closes: closes by day (:func:`read_benchmark_csv`).
        days: the account's valuation days (index of :func:`bot.analytics.returns.daily_twr`).

    Returns:
        Float returns indexed by those days (the first day, and days before the first close, left out).
    """
    if closes.empty or len(days) == 0:
        return pd.Series(dtype=float, name=closes.name)
    aligned = closes.sort_index().reindex(closes.index.union(days)).ffill().reindex(days)
    return aligned.pct_change(fill_method=None).dropna().rename(closes.name)


def _fetch_closes(broker: Any, symbol: str, start: date, end: date, progress: bool) -> pd.Series:
    """Closes of ``symbol`` from ``broker.daily_closes``, one request per calendar year (progress bar)."""
    years = list(range(start.year, end.year + 1))
    parts: list[pd.Series] = []
    with tqdm(
        total=len(years), desc=f"{symbol} daily closes", unit="year", disable=not progress, file=sys.stderr
    ) as bar:
        for year in years:
            first = max(start, date(year, 1, 1))
            last = min(end, date(year, 12, 31))
            parts.append(_closes_from(broker.daily_closes(symbol, first, last), symbol))
            bar.update(1)
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.Series(dtype=float, name=symbol)
    joined = pd.concat(parts)
    return joined[~joined.index.duplicated(keep="last")].sort_index().rename(symbol)


def fetch_benchmark(
    services: Services, symbol: str, days: pd.DatetimeIndex, progress: bool, problems: list[str]
) -> tuple[pd.Series | None, str]:
    """Closes of ``symbol`` over the account's valuation ``days`` from a broker that has ``daily_closes``.

    The first broker in use (:func:`bot.snapshots.snapshot_brokers`) that declares
    ``capabilities.daily_closes``, Alpaca first, is asked from a week before the first day to the
    last one (:func:`_fetch_closes`, a tqdm bar on stderr when ``progress``).

    Returns:
        ``(closes, symbol)`` (:func:`read_benchmark_csv`'s shape), or ``(None, "")`` when no
        broker has closes, the request fails (a :class:`~bot.errors.BotError` or ValueError,
        described in ``problems``) or returns none (also described).
    """
    brokers = snapshot_brokers(services)
    candidates = sorted(
        (name for name, broker in brokers.items() if broker.capabilities.daily_closes),
        key=lambda name: (not name.startswith("alpaca"), name),
    )
    if not candidates:
        return None, ""
    start = (days[0] - pd.Timedelta(days=7)).date()
    end = days[-1].date()
    try:
        closes = _fetch_closes(brokers[candidates[0]], symbol, start, end, progress)
    except (BotError, ValueError) as exc:
        problems.append(f"benchmark {symbol} from {candidates[0]}: {exc}")
        return None, ""
    if closes.empty:
        problems.append(f"benchmark {symbol} from {candidates[0]}: no closes returned")
        return None, ""
    return closes, symbol
