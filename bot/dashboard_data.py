"""Data preparation for the Streamlit dashboard: workbook tables in, typed frames and figures out.

The dashboard's pages (``app_pages/``) are UI only; everything they show is computed here, from
the same workbook tabs the bot writes (:class:`~bot.records.Table`, all cells text), with the
statistics delegated to :mod:`bot.performance` and :mod:`bot.analytics` so a number on a page is
the number those functions give. Apart from reading a bars CSV file (:func:`read_bars`) nothing
here does I/O; writes are returned as :class:`~bot.records.WriteBatch` objects for the
caller to apply.

Conventions:

- Workbook times are ``YYYY-MM-DD HH:MM:SS`` in ``BOT_TIMEZONE`` (the ``zone`` argument); times
  with an offset keep it. Frames carry tz-aware times **in the zone** (pandas ``datetime64[ns, zone]``).
- Money in frames is float (for tables and charts); figures a test compares (P&L, equity,
  totals) are exact :class:`~decimal.Decimal` where the underlying function gives one.
- Returns are fractions (``0.01`` = 1 %); ``win_rate`` is percent, as in :class:`TradeStats`.
- A row that cannot be read is skipped and reported in ``problems`` as ``"<Tab> row N: why"``
  (sheet row numbers: the header is row 1), never raised, so a broken cell never breaks a page.
"""

from __future__ import annotations

import calendar as _calendar
import csv
import io
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from bot.analytics.equity import Snapshot, portfolio_equity, read_cash_flows, read_snapshots
from bot.analytics.returns import PeriodReturn, daily_returns, daily_twr, period_returns
from bot.analytics.risk_metrics import max_drawdown
from bot.analytics.round_trips import RoundTrip
from bot.analytics.trade_records import TRADES_USER_COLUMNS, format_duration, trade_from_record, trade_records
from bot.analytics.trade_stats import TradeStats, summarise
from bot.domain import (
    PositionSide,
    format_decimal,
    normalise_symbol,
    normalise_timeframe,
    parse_decimal,
    parse_sheet_time,
    safe_cell,
)
from bot.records import CashFlow, RowWrite, Table, WriteBatch
from bot.sheets.base import clean_record, row_key
from bot.sheets.schema import tab_spec
from bot.validate import validate_records

__all__ = [
    "CONFIG_COPY_COLUMNS",
    "DEFAULT_CURRENCY",
    "PERIOD_LABELS",
    "ConfigSave",
    "Health",
    "OverviewFigures",
    "PortfolioView",
    "TradesView",
    "add_symbols_batch",
    "bar_symbols",
    "bars_window",
    "benchmark_returns",
    "best_worst_trades",
    "cashflow_record",
    "config_frame",
    "config_records",
    "config_row_problems",
    "config_save",
    "copy_settings_batch",
    "day_trades",
    "equity_curve",
    "filter_trades",
    "find_bars",
    "format_money",
    "format_pct",
    "group_stats",
    "health_summary",
    "journal_edit_batch",
    "latency_summary",
    "manual_trade_record",
    "month_grid",
    "month_totals",
    "open_positions",
    "orders_frame",
    "overview_figures",
    "parse_symbol_list",
    "parse_times",
    "portfolio_view",
    "read_bars",
    "return_lines",
    "signals_frame",
    "trade_tags",
    "trades_view",
    "twr_growth",
    "twr_table",
    "week_totals",
    "weekday_hour_heatmap",
]

UTC = timezone.utc
DEFAULT_CURRENCY = "USD"
#: Labels shown for :data:`bot.analytics.PERIODS` (``inception`` is "All").
PERIOD_LABELS: dict[str, str] = {"7d": "7d", "30d": "30d", "90d": "90d", "YTD": "YTD", "1y": "1y", "inception": "All"}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHEET_TIME = "%Y-%m-%d %H:%M:%S"


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def format_money(value: Decimal | float | None, currency: str = DEFAULT_CURRENCY, *, signed: bool = False) -> str:
    """``"1,234.56 USD"`` (``signed``: ``"+1,234.56 USD"``; negatives always ``"-1,234.56 USD"``).

    Two decimals, thousands separators, half-even rounding; ``"–"`` for None or NaN.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    number = number.quantize(Decimal("0.01"))
    if number == 0:
        number = abs(number)
    sign = "+" if signed and number > 0 else ""
    return f"{sign}{number:,.2f} {currency}".strip()


def format_pct(value: float | Decimal | None, *, fraction: bool = True, signed: bool = True) -> str:
    """A return or rate as ``"+1.23 %"``; ``fraction`` means ``0.0123`` → ``1.23 %``. ``"–"`` for None/NaN."""
    if value is None:
        return "–"
    number = float(value) * (100.0 if fraction else 1.0)
    if math.isnan(number):
        return "–"
    if abs(number) < 0.005:
        return "0.00 %"
    return f"{number:+,.2f} %" if signed else f"{number:,.2f} %"


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------


def parse_times(values: Sequence[str], zone: tzinfo, *, fast_only: bool = False) -> pd.DatetimeIndex:
    """Workbook time cells → tz-aware times in ``zone`` (``NaT`` for blank or unreadable cells).

    The bot's own format ``YYYY-MM-DD HH:MM:SS`` (local time in ``zone``) is parsed vectorised
    (50,000 cells ≈ 30 ms); other cells by :func:`bot.snapshots.parse_sheet_time` (a date alone,
    ``HH:MM``, ISO with an offset or ``Z``), unless ``fast_only``, when they are ``NaT``.
    """
    series = pd.Series(list(values), dtype=object).fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(series, format=_SHEET_TIME, errors="coerce")
    missing = (parsed.isna() & (series != "")).to_numpy()
    if missing.any() and not fast_only:
        # other formats, one by one, as naive wall times of the zone so one localisation fits all
        slow = [_parse_one_time(text, zone) for text in series[missing]]
        parsed = parsed.copy()
        parsed.loc[missing] = [
            pd.Timestamp(value.astimezone(zone).replace(tzinfo=None)) if value is not None else pd.NaT for value in slow
        ]
    index = pd.DatetimeIndex(parsed).as_unit("ns")
    return index.tz_localize(zone, ambiguous=np.zeros(len(index), dtype=bool), nonexistent="shift_forward")


def _parse_one_time(text: str, zone: tzinfo) -> datetime | None:
    try:
        return parse_sheet_time(text, zone=zone)
    except ValueError:
        return None


def _number(text: str | None) -> float:
    """Cell text → float (NaN when blank or not a number; ``$``, commas and ``%`` tolerated)."""
    if text is None:
        return math.nan
    text = text.strip().rstrip("%")
    if not text:
        return math.nan
    try:
        return float(parse_decimal(text))
    except ValueError:
        return math.nan


def _decimal(text: str | None) -> Decimal | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return parse_decimal(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Trades (the journal)
# --------------------------------------------------------------------------------------------

#: Columns of :attr:`TradesView.frame`, in display order.
TRADE_FRAME_COLUMNS = (
    "row", "trade_id", "symbol", "timeframe", "side", "qty", "entry_at", "entry_price", "exit_at",
    "exit_price", "fees", "pnl", "pnl_pct", "r_multiple", "holding_time", "exit_reason", "manual",
    "editable", *TRADES_USER_COLUMNS,
)  # fmt: skip


@dataclass(frozen=True)
class TradesView:
    """The Trades tab, typed.

    Attributes:
        frame: one row per readable trade, in sheet order, columns :data:`TRADE_FRAME_COLUMNS`:
            ``row`` (sheet row, int), ``trade_id``, ``symbol``, ``timeframe``, ``side``
            (``long|short``), ``qty`` (base units), ``entry_at``/``exit_at`` (tz-aware, zone),
            prices, ``fees``, ``pnl`` (quote currency), ``pnl_pct`` (percent), ``r_multiple``,
            ``holding_time`` (``[Nd ]HH:MM:SS``), ``exit_reason``, ``manual`` (typed by the user:
            no ``order_ids``), ``editable`` (``trade_id`` present and unique, so the row can be
            written back by key), and the user columns as text except ``rating`` (nullable Int64).
            Numbers are floats (NaN when blank). The index is ``0..n-1``.
        trips: the :class:`~bot.performance.RoundTrip` of each frame row (same order): the
            input of every statistic, from :func:`~bot.performance.trade_from_record`.
        problems: rows that could not be read, ``"Trades row N: why"``.
    """

    frame: pd.DataFrame
    trips: tuple[RoundTrip, ...]
    problems: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when there is no readable trade."""
        return not self.trips

    def subset(self, mask: np.ndarray | pd.Series) -> tuple[pd.DataFrame, list[RoundTrip]]:
        """Frame rows and trips where boolean ``mask`` (aligned with ``frame``) is true."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        return self.frame.iloc[positions], [self.trips[i] for i in positions]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the trips column-wise (plain str/int lists): 3-4× faster than object by object.

        The dashboard's ``st.cache_data`` pickles every cached value on store and on each read.
        """
        return (_unpack_trades_view, (self.frame, _pack_trips(self.trips), self.problems))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)


def _pack_trips(trips: Sequence[RoundTrip]) -> dict[str, list[Any]]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "ids": [t.trade_id for t in trips],
        "symbols": [t.symbol for t in trips],
        "timeframes": [t.timeframe for t in trips],
        "sides": [str(t.side.value) for t in trips],
        "decimals": [
            (
                str(t.qty),
                str(t.entry_price),
                str(t.exit_price),
                str(t.fees),
                str(t.pnl),
                text(t.pnl_pct),
                text(t.r_multiple),
                text(t.stop_loss_pct),
            )
            for t in trips
        ],
        "times": [((t.entry_at - _EPOCH) // _MICRO, (t.exit_at - _EPOCH) // _MICRO) for t in trips],
        "reasons": [t.exit_reason for t in trips],
        "orders": [t.order_ids for t in trips],
    }


def _unpack_trades_view(frame: pd.DataFrame, packed: dict[str, list[Any]], problems: tuple[str, ...]) -> TradesView:
    sides = {side.value: side for side in PositionSide}
    trips = []
    for index, trade_id in enumerate(packed["ids"]):
        qty, entry_price, exit_price, fees, pnl, pct, r_multiple, stop = packed["decimals"][index]
        entry_us, exit_us = packed["times"][index]
        entry_at, exit_at = _EPOCH + entry_us * _MICRO, _EPOCH + exit_us * _MICRO
        trips.append(
            RoundTrip(
                trade_id, packed["symbols"][index], packed["timeframes"][index], sides[packed["sides"][index]],
                Decimal(qty), entry_at, Decimal(entry_price), exit_at, Decimal(exit_price), Decimal(fees),
                Decimal(pnl), None if pct is None else Decimal(pct),
                None if r_multiple is None else Decimal(r_multiple), exit_at - entry_at, packed["reasons"][index],
                packed["orders"][index], None if stop is None else Decimal(stop),
            )
        )  # fmt: skip
    return TradesView(frame, tuple(trips), problems)


def trades_view(table: Table, zone: tzinfo) -> TradesView:
    """Type the Trades tab (bot rows and manual rows alike) for the Journal and the statistics.

    Every row goes through :func:`bot.performance.trade_from_record` (the recompute's rule for
    manual rows): P&L is the ``pnl`` cell when present, else computed from prices and fees.
    Blank rows are ignored; unreadable rows are reported in ``problems``.

    Args:
        table: the Trades tab.
        zone: ``BOT_TIMEZONE`` (times without an offset are in it).
    """
    trips: list[RoundTrip] = []
    records: list[tuple[Any, ...]] = []
    problems: list[str] = []
    id_counts: dict[str, int] = {}
    for record in table.rows:
        trade_id = (record.get("trade_id") or "").strip()
        if trade_id:
            id_counts[trade_id] = id_counts.get(trade_id, 0) + 1
    for index, record in enumerate(table.rows):
        if not (record.get("symbol") or "").strip():
            if any((value or "").strip() for value in record.values()):
                problems.append(f"Trades row {index + 2}: symbol: required, the cell is blank")
            continue
        try:
            trip = _unrounded(trade_from_record(_zero_fees_blank(record), zone=zone))
        except ValueError as exc:
            problems.append(f"Trades row {index + 2}: {exc}")
            continue
        trips.append(trip)
        rating = _decimal(record.get("rating"))
        records.append(
            (
                index + 2,
                trip.trade_id,
                trip.symbol,
                trip.timeframe,
                str(trip.side.value),
                float(trip.qty),
                trip.entry_at,
                float(trip.entry_price),
                trip.exit_at,
                float(trip.exit_price),
                float(trip.fees),
                float(trip.pnl),
                float(trip.pnl_pct) if trip.pnl_pct is not None else math.nan,
                float(trip.r_multiple) if trip.r_multiple is not None else math.nan,
                format_duration(trip.holding_time),
                trip.exit_reason,
                not (record.get("order_ids") or "").strip(),
                bool(trip.trade_id) and id_counts.get(trip.trade_id) == 1,
                record.get("setup", "") or "",
                record.get("tags", "") or "",
                record.get("notes", "") or "",
                record.get("screenshot_url", "") or "",
                int(rating) if rating is not None and rating == rating.to_integral_value() else pd.NA,
            )
        )
    frame = pd.DataFrame.from_records(records, columns=list(TRADE_FRAME_COLUMNS))
    for column in ("entry_at", "exit_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(zone)
    frame["rating"] = frame["rating"].astype("Int64")
    frame["row"] = frame["row"].astype("int64")
    for column in ("manual", "editable"):
        frame[column] = frame[column].astype(bool)
    return TradesView(frame, tuple(trips), tuple(problems))


_CENT = Decimal("0.01")


def _unrounded(trip: RoundTrip) -> RoundTrip:
    """The trip with its P&L recomputed from quantity, prices and fees when that agrees with the cell.

    The bot writes ``pnl`` rounded to cents (:func:`~bot.performance.trade_records`) while its
    Performance tab sums the unrounded values, so a journal total of rounded cells can be a cent
    off. When ``±(exit − entry) × qty − fees`` rounds (half-even) to the row's ``pnl``, that exact
    value is used (true for every single-entry, single-exit trade); otherwise (scaled trades,
    hand-edited cells) the cell is kept as it is.
    """
    move = (trip.exit_price - trip.entry_price) * trip.qty
    exact = (move if trip.side == "long" else -move) - trip.fees
    if exact == trip.pnl or exact.quantize(_CENT, rounding=ROUND_HALF_EVEN) != trip.pnl:
        return trip
    notional = trip.qty * trip.entry_price
    pct = exact * 100 / notional if notional else trip.pnl_pct
    return replace(trip, pnl=exact, pnl_pct=pct)


def _zero_fees_blank(record: dict[str, str]) -> dict[str, str]:
    """``fees`` ``"0"`` as blank: :func:`trade_from_record` rejects a zero fee cell (blank means 0 there)."""
    fees = (record.get("fees") or "").strip()
    if fees and _decimal(fees) == 0:
        return {**record, "fees": ""}
    return record


def trade_tags(frame: pd.DataFrame) -> list[str]:
    """Distinct tags of the ``tags`` column (comma-separated cells), sorted case-insensitively."""
    seen: dict[str, str] = {}
    for cell in frame["tags"]:
        for tag in _split_tags(cell):
            seen.setdefault(tag.lower(), tag)
    return sorted(seen.values(), key=str.lower)


def _split_tags(cell: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", cell or "") if part.strip()]


Outcome = Literal["all", "winners", "losers", "scratch"]


def filter_trades(
    frame: pd.DataFrame,
    *,
    symbols: Iterable[str] = (),
    timeframes: Iterable[str] = (),
    sides: Iterable[str] = (),
    start: date | None = None,
    end: date | None = None,
    tag: str | None = None,
    outcome: Outcome = "all",
) -> np.ndarray:
    """Boolean mask of the trades matching every given filter (an empty filter matches all).

    ``start``/``end`` are inclusive local days of ``exit_at`` (a trade counts on the day it
    closed, as in :func:`bot.analytics.daily_trade_stats`); ``tag`` matches one of the row's
    comma-separated tags, case-insensitively; ``outcome``: ``winners`` pnl > 0, ``losers``
    pnl < 0, ``scratch`` pnl == 0.
    """
    mask = np.ones(len(frame), dtype=bool)
    symbols, timeframes, sides = list(symbols), list(timeframes), list(sides)
    if symbols:
        mask &= frame["symbol"].isin(symbols).to_numpy()
    if timeframes:
        mask &= frame["timeframe"].isin(timeframes).to_numpy()
    if sides:
        mask &= frame["side"].isin(sides).to_numpy()
    if start is not None or end is not None:
        days = frame["exit_at"].dt.date
        if start is not None:
            mask &= (days >= start).to_numpy()
        if end is not None:
            mask &= (days <= end).to_numpy()
    if tag:
        wanted = tag.strip().lower()
        mask &= frame["tags"].map(lambda cell: wanted in {t.lower() for t in _split_tags(cell)}).to_numpy(dtype=bool)
    pnl = frame["pnl"].to_numpy(dtype=float)
    if outcome == "winners":
        mask &= pnl > 0
    elif outcome == "losers":
        mask &= pnl < 0
    elif outcome == "scratch":
        mask &= pnl == 0
    return mask


def journal_edit_batch(frame: pd.DataFrame, edits: Mapping[int, Mapping[str, Any]]) -> tuple[WriteBatch, list[str]]:
    """Writes for edits of the user-owned Trades columns (setup, tags, notes, screenshot_url, rating).

    Each write is a :class:`~bot.records.RowWrite` keyed by the row's ``trade_id`` that sets
    only the changed user cells, so bot-owned cells are never written. Rows without a unique
    ``trade_id`` (manual rows typed without one) cannot be addressed and are refused.

    Args:
        frame: the frame the user edited (a :class:`TradesView` frame or a subset of it; its
            index is ignored).
        edits: positional row (0-based in ``frame``) → column → new value, as
            ``st.data_editor``'s ``edited_rows`` gives them.

    Returns:
        ``(batch, problems)``; rows with a problem are left out of the batch. Checks: only user
        columns; ``rating`` an integer 1–5 or blank; ``screenshot_url`` an ``http(s)://`` link
        or blank. Values go through :func:`~bot.domain.safe_cell` (no formula injection).
    """
    batch = WriteBatch()
    problems: list[str] = []
    user_columns = set(TRADES_USER_COLUMNS)
    for position, changes in sorted((int(p), c) for p, c in edits.items()):
        if not 0 <= position < len(frame):
            problems.append(f"edit of row {position}: no such row")
            continue
        row = frame.iloc[position]
        label = f"Trades row {int(row['row'])}"
        values: dict[str, str] = {}
        bad = False
        for column, raw in changes.items():
            if column not in user_columns:
                problems.append(f"{label}: {column} is written by the bot and cannot be edited here")
                bad = True
                continue
            try:
                text = _user_cell(column, raw)
            except ValueError as exc:
                problems.append(f"{label}: {exc}")
                bad = True
                continue
            if text != _user_cell_text(row[column]):
                values[column] = text
        if bad or not values:
            continue
        if not bool(row["editable"]):
            problems.append(
                f"{label}: has no unique trade_id, so it cannot be written back safely; edit it in the sheet"
            )
            continue
        batch.writes.append(RowWrite("Trades", row_key("Trades", {"trade_id": str(row["trade_id"])}), values))
    return batch, problems


def _user_cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _user_cell(column: str, raw: Any) -> str:
    text = _user_cell_text(raw).strip()
    if column == "rating" and text:
        try:
            number = Decimal(text)
        except ArithmeticError:
            raise ValueError(f"rating: {text!r} is not a whole number from 1 to 5") from None
        if number != number.to_integral_value() or not 1 <= number <= 5:
            raise ValueError(f"rating: {text!r} is not a whole number from 1 to 5")
        text = str(int(number))
    if column == "screenshot_url" and text and not re.match(r"^https?://\S+$", text):
        raise ValueError(f"screenshot_url: {text!r} is not an http(s):// link")
    if column == "tags":
        text = ", ".join(_split_tags(text))
    return safe_cell(text)


def manual_trade_record(
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    entry_at: datetime,
    entry_price: Decimal,
    exit_at: datetime,
    exit_price: Decimal,
    zone: tzinfo,
    timeframe: str = "",
    fees: Decimal = Decimal(0),
    exit_reason: str = "manual",
    setup: str = "",
    tags: str = "",
    notes: str = "",
    screenshot_url: str = "",
    rating: int | None = None,
    trade_id: str | None = None,
) -> dict[str, str]:
    """A complete Trades row for a trade typed in the dashboard (append it to the Trades tab).

    The row is validated and computed like the bot's own rows (:func:`trade_from_record` then
    :func:`trade_records`: P&L net of fees, P&L %, holding time); it has a unique ``trade_id``
    ``manual-YYYYMMDDHHMMSS-xxxxxx`` (so its notes can be edited later) and no ``order_ids``
    (so the performance recompute keeps and counts it as a manual trade).

    Args:
        entry_at / exit_at: tz-aware, or naive local times in ``zone``.
        qty, prices: > 0 (quote currency per unit); ``fees`` ≥ 0, quote currency.

    Raises:
        ValueError: naming the field (``"qty: ..."``, ``"exit_at: ... is before entry_at"``).
    """
    for name, value in (("entry_at", entry_at), ("exit_at", exit_at)):
        if not isinstance(value, datetime):
            raise ValueError(f"{name}: {value!r} is not a time")
    entry = entry_at if entry_at.tzinfo else entry_at.replace(tzinfo=zone)
    exit_ = exit_at if exit_at.tzinfo else exit_at.replace(tzinfo=zone)
    identifier = trade_id or f"manual-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    record = {
        "trade_id": identifier,
        "symbol": symbol,
        "timeframe": timeframe,
        "side": side,
        "qty": format_decimal(qty) if isinstance(qty, Decimal) else str(qty),
        "entry_at": entry.astimezone(zone).strftime(_SHEET_TIME),
        "entry_price": format_decimal(entry_price) if isinstance(entry_price, Decimal) else str(entry_price),
        "exit_at": exit_.astimezone(zone).strftime(_SHEET_TIME),
        "exit_price": format_decimal(exit_price) if isinstance(exit_price, Decimal) else str(exit_price),
        "fees": format_decimal(fees) if isinstance(fees, Decimal) else str(fees),
        "exit_reason": exit_reason,
    }
    trip = trade_from_record(_zero_fees_blank(record), zone=zone)
    row = trade_records([trip], zone)[0]
    row["order_ids"] = ""
    user = {"setup": setup, "tags": tags, "notes": notes, "screenshot_url": screenshot_url, "rating": rating}
    for column, value in user.items():
        row[column] = _user_cell(column, "" if value is None else value)
    return clean_record(row)


def best_worst_trades(frame: pd.DataFrame, count: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``count`` best trades (highest pnl first) and the ``count`` worst (lowest first)."""
    if frame.empty:
        return frame, frame
    ordered = frame.sort_values("pnl", kind="stable")
    return ordered.iloc[::-1].head(count), ordered.head(count)


# --------------------------------------------------------------------------------------------
# Statistics per group (Performance page)
# --------------------------------------------------------------------------------------------

GroupBy = Literal["symbol", "timeframe", "symbol+timeframe", "side"]


def _stats_row(stats: TradeStats) -> dict[str, Any]:
    def f(value: Decimal | None) -> float:
        return float(value) if value is not None else math.nan

    return {
        "trades": stats.total_trades,
        "wins": stats.winning_trades,
        "losses": stats.losing_trades,
        "win_rate": f(stats.win_rate),
        "total_pnl": f(stats.total_pnl),
        "avg_pnl": f(stats.avg_pnl_per_trade),
        "profit_factor": f(stats.profit_factor),
        "expectancy": f(stats.expectancy),
        "payoff_ratio": f(stats.payoff_ratio),
        "best": f(stats.best_trade),
        "worst": f(stats.worst_trade),
        "max_drawdown": f(stats.max_drawdown),
        "fees": f(stats.total_fees),
        "avg_holding": format_duration(stats.avg_holding_time),
    }


def group_stats(trips: Sequence[RoundTrip], by: GroupBy) -> pd.DataFrame:
    """:func:`bot.performance.summarise` per group, one row each, plus nothing else.

    Args:
        trips: round trips.
        by: ``symbol``, ``timeframe`` (across symbols; blank timeframe shown as ``"–"``),
            ``symbol+timeframe`` or ``side`` (long vs short).

    Returns:
        DataFrame with the group column(s) (``symbol``, ``timeframe`` or ``side``) then
        ``trades, wins, losses`` (int), ``win_rate`` (percent), ``total_pnl, avg_pnl, expectancy,
        best, worst, max_drawdown, fees`` (quote currency), ``profit_factor, payoff_ratio``
        (NaN when undefined) and ``avg_holding`` (text); sorted by ``total_pnl`` descending.
    """
    keys: dict[tuple[str, ...], list[RoundTrip]] = {}
    for trip in trips:
        if by == "symbol":
            key: tuple[str, ...] = (trip.symbol,)
        elif by == "timeframe":
            key = (trip.timeframe or "–",)
        elif by == "side":
            key = (str(trip.side.value),)
        else:
            key = (trip.symbol, trip.timeframe or "–")
        keys.setdefault(key, []).append(trip)
    names = {"symbol": ["symbol"], "timeframe": ["timeframe"], "side": ["side"]}.get(by, ["symbol", "timeframe"])
    rows = [{**dict(zip(names, key, strict=True)), **_stats_row(summarise(group))} for key, group in keys.items()]
    columns = [*names, *_stats_row(summarise([])).keys()]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("total_pnl", ascending=False, kind="stable").reset_index(drop=True)


def weekday_hour_heatmap(trips: Sequence[RoundTrip], zone: tzinfo) -> pd.DataFrame:
    """P&L and trade count per (weekday, hour) of entry in ``zone``: 7 × 24 rows, long format.

    The rows of one weekday add up to :func:`bot.analytics.pnl_by_weekday`, those of one hour to
    :func:`bot.analytics.pnl_by_hour` (same grouping by ``entry_at``).

    Returns:
        DataFrame with ``weekday`` (``Mon`` … ``Sun``), ``hour`` (0–23), ``trades`` (int),
        ``wins`` (int), ``pnl`` (float, quote currency; 0 where no trade), ``win_rate``
        (percent, NaN where no trade).
    """
    pnl = np.zeros((7, 24))
    count = np.zeros((7, 24), dtype=np.int64)
    wins = np.zeros((7, 24), dtype=np.int64)
    for trip in trips:
        local = trip.entry_at.astimezone(zone)
        day, hour = local.weekday(), local.hour
        pnl[day, hour] += float(trip.pnl)
        count[day, hour] += 1
        wins[day, hour] += trip.pnl > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(count > 0, wins * 100.0 / np.maximum(count, 1), np.nan)
    return pd.DataFrame(
        {
            "weekday": np.repeat(_WEEKDAYS, 24),
            "hour": np.tile(np.arange(24), 7),
            "trades": count.ravel(),
            "wins": wins.ravel(),
            "pnl": pnl.ravel(),
            "win_rate": rate.ravel(),
        }
    )


# --------------------------------------------------------------------------------------------
# Equity, cash flows, TWR (Overview and TWR pages)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortfolioView:
    """The Snapshots and CashFlows tabs, typed, and the account equity the returns are computed on.

    The rules are those of :mod:`bot.snapshots` (what the report uses): rows are read like
    :func:`bot.snapshots.read_snapshots` / :func:`bot.snapshots.read_cash_flows`, and accounts
    are combined by :func:`bot.snapshots.portfolio_equity` (per account the day's last snapshot,
    carried forward on days without one; an account that appears later brings its equity in as a
    deposit, so adding a venue is not a return).

    Attributes:
        snapshots: one row per readable snapshot, by time: ``taken_at`` (tz-aware, zone),
            ``broker``, ``account``, ``equity``, ``cash``, ``positions_value`` (floats, NaN when
            blank), ``currency``.
        cash_flows: one row per readable flow, by time: ``flow_at`` (tz-aware, zone), ``kind``,
            ``amount`` (≥ 0), ``signed`` (deposit +), ``currency``, ``broker``, ``account``,
            ``source``, ``reference``, ``note``.
        equity: combined equity per day (exact ``Decimal``) indexed by the day's latest snapshot
            time (tz-aware UTC): the ``snapshots`` input of :mod:`bot.analytics`.
        flows: signed flows (exact ``Decimal``, deposits > 0) indexed by tz-aware UTC times, plus
            the first equity of accounts added later: the ``flows`` input of :mod:`bot.analytics`.
        currency: the currency of the latest snapshot (``USD`` when none says).
        problems: unreadable rows (``"Snapshots row 7, column equity: ..."``).
    """

    snapshots: pd.DataFrame
    cash_flows: pd.DataFrame
    equity: pd.Series
    flows: pd.Series
    currency: str = DEFAULT_CURRENCY
    problems: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True without any readable snapshot."""
        return self.equity.empty

    @property
    def latest(self) -> tuple[datetime, Decimal] | None:
        """``(time UTC, combined equity)`` of the latest day with a snapshot, or None."""
        if self.equity.empty:
            return None
        return self.equity.index[-1].to_pydatetime(), self.equity.iloc[-1]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the Decimal series as int64 times and texts (fast, exact)."""
        return (
            _unpack_portfolio,
            (self.snapshots, self.cash_flows, _pack_series(self.equity), _pack_series(self.flows), self.currency,
             self.problems),
        )  # fmt: skip


def _pack_series(series: pd.Series) -> tuple[np.ndarray, list[str], str | None]:
    return series.index.as_unit("ns").asi8.copy(), [str(v) for v in series], series.name


def _unpack_series(packed: tuple[np.ndarray, list[str], str | None]) -> pd.Series:
    stamps, values, name = packed
    index = pd.DatetimeIndex(stamps.astype("datetime64[ns]")).tz_localize(UTC)
    return pd.Series([Decimal(v) for v in values], index=index, dtype=object, name=name)


def _unpack_portfolio(
    snapshots: pd.DataFrame,
    cash_flows: pd.DataFrame,
    equity: tuple[np.ndarray, list[str], str | None],
    flows: tuple[np.ndarray, list[str], str | None],
    currency: str,
    problems: tuple[str, ...],
) -> PortfolioView:
    return PortfolioView(snapshots, cash_flows, _unpack_series(equity), _unpack_series(flows), currency, problems)


_DAY_NS = 86_400 * 10**9
_SNAPSHOT_COLUMNS = ["taken_at", "broker", "account", "equity", "cash", "positions_value", "currency"]
_FLOW_COLUMNS = ["flow_at", "kind", "amount", "signed", "currency", "broker", "account", "source", "reference", "note"]


def portfolio_view(snapshots: Table, cash_flows: Table, zone: tzinfo) -> PortfolioView:
    """Type the Snapshots and CashFlows tabs and combine the accounts (see :class:`PortfolioView`).

    Snapshot cells in the bot's own format (``YYYY-MM-DD HH:MM:SS``, plain numbers) are parsed
    vectorised (50,000 rows ≈ 0.2 s); any other row goes through :func:`bot.snapshots.read_snapshots`
    so the rules are the same. Only each account's last snapshot of a day matters for the
    equity, so :func:`bot.snapshots.portfolio_equity` gets one per account and day.
    """
    problems: list[str] = []
    rows = snapshots.rows
    times = parse_times([r.get("taken_at", "") for r in rows], zone, fast_only=True)
    bad_time = np.asarray(times.isna())
    values = _decimals([r.get("equity", "") for r in rows], fast_only=True)
    keep: list[int] = []
    slow: set[int] = set()
    for index, record in enumerate(rows):
        if bad_time[index] or values[index] is None:
            if any((value or "").strip() for value in record.values()):
                slow.add(index)
            continue
        keep.append(index)
    # columns of the readable rows: UTC instants and local days as int64 ns (no Timestamp per row)
    stamps = times.asi8[keep].tolist() if keep else []
    days = (times.tz_localize(None).normalize().asi8[keep] // _DAY_NS).tolist() if keep else []
    brokers = [(rows[i].get("broker") or "").strip() for i in keep]
    accounts = [(rows[i].get("account") or "").strip() for i in keep]
    equities: list[Decimal] = [values[i] for i in keep]  # type: ignore[misc]
    cash = _numbers([rows[i].get("cash", "") for i in keep]).tolist()
    positions = _numbers([rows[i].get("positions_value", "") for i in keep]).tolist()
    currencies = [(rows[i].get("currency") or "").strip().upper() or DEFAULT_CURRENCY for i in keep]
    if slow:  # other formats and bad rows: the report's own reader (sheet row numbers kept)
        errors: list[str] = []
        others = Table("Snapshots", snapshots.headers, [r if i in slow else {} for i, r in enumerate(rows)])
        for snap in read_snapshots(others, zone=zone, errors=errors):
            local = pd.Timestamp(snap.taken_at).tz_convert(zone)
            stamps.append(local.as_unit("ns").value)
            days.append(local.tz_localize(None).normalize().as_unit("ns").value // _DAY_NS)
            brokers.append(snap.broker)
            accounts.append(snap.account)
            equities.append(snap.equity)
            cash.append(_f(snap.cash))
            positions.append(_f(snap.positions_value))
            currencies.append(snap.currency)
        problems.extend(errors)
    order = np.argsort(np.array(stamps, dtype=np.int64), kind="stable").tolist()
    frame = pd.DataFrame(
        {
            "taken_at": pd.DatetimeIndex(np.array([stamps[i] for i in order], dtype="datetime64[ns]"))
            .tz_localize(UTC)
            .tz_convert(zone),
            "broker": [brokers[i] for i in order],
            "account": [accounts[i] for i in order],
            "equity": np.array([float(equities[i]) for i in order], dtype=float),
            "cash": np.array([cash[i] for i in order], dtype=float),
            "positions_value": np.array([positions[i] for i in order], dtype=float),
            "currency": [currencies[i] for i in order],
        },
        columns=_SNAPSHOT_COLUMNS,
    )
    flow_errors: list[str] = []
    flows = read_cash_flows(cash_flows, zone=zone, errors=flow_errors)
    problems.extend(flow_errors)
    flow_frame = pd.DataFrame(
        {
            "flow_at": pd.DatetimeIndex([f.flow_at for f in flows]).tz_convert(zone)
            if flows
            else pd.DatetimeIndex([], tz=zone),
            "kind": [f.kind for f in flows],
            "amount": [float(f.amount) for f in flows],
            "signed": [float(f.signed) for f in flows],
            "currency": [f.currency for f in flows],
            "broker": [f.broker for f in flows],
            "account": [f.account for f in flows],
            "source": [f.source for f in flows],
            "reference": [f.reference for f in flows],
            "note": [f.note for f in flows],
        },
        columns=_FLOW_COLUMNS,
    )
    daily_last: dict[tuple[str, str, int], int] = {}
    for i in order:  # by time: the day's last snapshot of each account wins
        daily_last[(brokers[i], accounts[i], days[i])] = i
    reduced = [
        Snapshot(_EPOCH + timedelta(microseconds=stamps[i] // 1000), brokers[i], accounts[i], equities[i], None, None,
                 currencies[i])
        for i in daily_last.values()
    ]  # fmt: skip
    equity_pairs, flow_pairs = portfolio_equity(reduced, flows, zone=zone)
    equity_series = _decimal_series(equity_pairs, "equity")
    flow_series = _decimal_series(flow_pairs, "amount")
    currency = currencies[order[-1]] if order else DEFAULT_CURRENCY
    return PortfolioView(frame, flow_frame, equity_series, flow_series, currency, tuple(problems))


def _decimal_series(pairs: Sequence[tuple[datetime, Decimal]], name: str) -> pd.Series:
    if not pairs:
        return pd.Series([], index=pd.DatetimeIndex([], tz=UTC), dtype=object, name=name)
    index = pd.DatetimeIndex([moment for moment, _ in pairs]).tz_convert(UTC).as_unit("ns")
    return pd.Series([value for _, value in pairs], index=index, dtype=object, name=name)


def _decimals(texts: Sequence[str | None], *, fast_only: bool = False) -> list[Decimal | None]:
    """Cell texts → exact Decimals (None when blank or not a plain number; ``fast_only``: no ``$``/commas)."""
    out: list[Decimal | None] = []
    for text in texts:
        try:
            value = Decimal(text)  # type: ignore[arg-type]
            out.append(value + 0 if value.is_finite() else None)
        except (ArithmeticError, TypeError, ValueError):
            out.append(None if fast_only else _decimal(text))
    return out


def _numbers(texts: Sequence[str | None]) -> np.ndarray:
    """Cell texts → floats (NaN when blank or not a number; ``$``, commas and ``%`` tolerated)."""
    raw = np.array([text if text else "nan" for text in texts], dtype=object)
    numbers = np.array(pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce"), dtype=float)
    retry = np.flatnonzero(np.isnan(numbers) & (raw != "nan"))
    for position in retry.tolist():
        numbers[position] = _number(raw[position])
    return numbers


def cashflow_record(
    *,
    flow_at: datetime,
    kind: str,
    amount: Decimal,
    zone: tzinfo,
    currency: str = DEFAULT_CURRENCY,
    broker: str = "",
    account: str = "",
    note: str = "",
) -> dict[str, str]:
    """A CashFlows row for a deposit or withdrawal typed in the dashboard (``source`` ``manual``).

    Validated by :class:`bot.records.CashFlow` (the value object of imported flows) and
    written in the same cell formats as :func:`bot.snapshots.cash_flow_rows`.

    Args:
        flow_at: when the money moved (tz-aware, or naive local time in ``zone``); written in ``zone``.
        kind: ``deposit`` or ``withdrawal``.
        amount: > 0, account currency.

    Raises:
        ValueError: naming the field.
    """
    kind = kind.strip().lower()
    if kind not in ("deposit", "withdrawal"):
        raise ValueError(f"kind: {kind!r} is not deposit or withdrawal")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount: {amount!r} must be a positive number")
    if not isinstance(flow_at, datetime):
        raise ValueError(f"flow_at: {flow_at!r} is not a time")
    moment = flow_at if flow_at.tzinfo else flow_at.replace(tzinfo=zone)
    flow = CashFlow(flow_at=moment.astimezone(UTC), kind=kind, amount=amount, currency=currency.strip().upper()
                    or DEFAULT_CURRENCY, broker=broker.strip(), account=account.strip(), source="manual",
                    note=note.strip())  # fmt: skip
    return clean_record(
        {
            "flow_at": flow.flow_at.astimezone(zone).strftime(_SHEET_TIME),
            "broker": flow.broker,
            "account": flow.account,
            "kind": flow.kind,
            "amount": format_decimal(flow.amount),
            "currency": flow.currency,
            "source": flow.source,
            "reference": "",
            "note": flow.note,
        }
    )


def equity_curve(portfolio: PortfolioView, zone: tzinfo) -> pd.DataFrame:
    """Daily equity with its time-weighted drawdown, for the Overview chart.

    Built on :func:`bot.analytics.daily_twr` (end-of-day equity, flows on their day): the
    drawdown is ``growth / running max(growth) − 1`` of the chained TWR growth, so deposits and
    withdrawals are not mistaken for gains or losses.

    Returns:
        DataFrame indexed 0..n-1 with ``day`` (tz-naive local midnight), ``equity`` (float),
        ``growth`` (Π(1 + r)), ``twr`` (``growth − 1``) and ``drawdown`` (≤ 0, fraction);
        empty without snapshots.
    """
    if portfolio.empty:
        return pd.DataFrame(columns=["day", "equity", "growth", "twr", "drawdown"])
    table = daily_twr(portfolio.equity, portfolio.flows, zone=zone)
    growth = table["growth"].to_numpy(dtype=float)
    peaks = np.fmax.accumulate(growth)
    return pd.DataFrame(
        {
            "day": table.index.to_numpy(),
            "equity": table["equity"].to_numpy(dtype=float),
            "growth": growth,
            "twr": growth - 1.0,
            "drawdown": growth / peaks - 1.0,
        }
    )


def twr_growth(portfolio: PortfolioView, zone: tzinfo) -> pd.Series:
    """Cumulative TWR (fraction) per local day: ``daily_twr(...)["growth"] − 1`` (empty without snapshots)."""
    if portfolio.empty:
        return pd.Series([], dtype=float, name="twr")
    table = daily_twr(portfolio.equity, portfolio.flows, zone=zone)
    return (table["growth"] - 1.0).rename("twr")


def twr_table(periods: Sequence[PeriodReturn]) -> pd.DataFrame:
    """The TWR page's period table from :func:`bot.analytics.period_returns`.

    Returns:
        One row per period: ``period`` (label, ``All`` for inception), ``start``, ``end``
        (dates), ``days``, ``twr``, ``twr_annualised``, ``mwr`` (fractions, NaN when undefined),
        ``pnl``, ``deposits``, ``withdrawals``, ``start_value``, ``end_value`` (float) and
        ``complete`` (False when the history is shorter than the period).
    """
    rows = []
    for period in periods:
        rows.append(
            {
                "period": PERIOD_LABELS.get(period.label, period.label),
                "start": period.start,
                "end": period.end,
                "days": period.days,
                "twr": _f(period.twr),
                "twr_annualised": _f(period.twr_annualised),
                "mwr": _f(period.mwr),
                "pnl": _f(period.pnl),
                "deposits": _f(period.deposits),
                "withdrawals": _f(period.withdrawals),
                "start_value": _f(period.start_value),
                "end_value": _f(period.end_value),
                "complete": period.complete,
            }
        )
    return pd.DataFrame(rows)


def _f(value: float | Decimal | None) -> float:
    return float(value) if value is not None else math.nan


@dataclass(frozen=True)
class OverviewFigures:
    """The Overview page's headline numbers.

    Attributes:
        currency: account currency (latest snapshot, else ``USD``).
        equity / equity_at: latest total equity (exact) and its time (UTC); None without snapshots.
        today_pnl: today's P&L (exact): from equity when there are snapshots today and before
            (``V_today − V_previous day − net flows in between``), else the realised P&L of the
            trades closed today; ``today_source`` says which (``equity``, ``trades``).
        periods: :func:`bot.analytics.period_returns` as of today (empty without snapshots).
        stats: :func:`bot.performance.summarise` of every trade.
        max_drawdown: :func:`bot.analytics.max_drawdown` of the daily TWR returns (None without).
    """

    currency: str
    equity: Decimal | None
    equity_at: datetime | None
    today_pnl: Decimal
    today_source: str
    periods: tuple[PeriodReturn, ...]
    stats: TradeStats
    max_drawdown: float | None


def overview_figures(trades: TradesView, portfolio: PortfolioView, *, today: date, zone: tzinfo) -> OverviewFigures:
    """Compute :class:`OverviewFigures` (``today`` is the local date in ``zone``)."""
    stats = summarise(trades.trips)
    periods: tuple[PeriodReturn, ...] = ()
    drawdown: float | None = None
    equity_now: Decimal | None = None
    equity_at: datetime | None = None
    today_pnl: Decimal | None = None
    source = "trades"
    if not portfolio.empty:
        periods = tuple(period_returns(portfolio.equity, portfolio.flows, as_of=today, zone=zone))
        returns = daily_returns(portfolio.equity, portfolio.flows, zone=zone)
        drawdown = max_drawdown(returns).max_drawdown
        latest = portfolio.latest
        assert latest is not None
        equity_at, equity_now = latest
        today_pnl = _equity_pnl_today(portfolio, today, zone)
        if today_pnl is not None:
            source = "equity"
    if today_pnl is None:
        today_pnl = sum((t.pnl for t in trades.trips if t.exit_at.astimezone(zone).date() == today), Decimal(0))
    return OverviewFigures(
        currency=portfolio.currency,
        equity=equity_now,
        equity_at=equity_at,
        today_pnl=today_pnl,
        today_source=source,
        periods=periods,
        stats=stats,
        max_drawdown=drawdown,
    )


def _equity_pnl_today(portfolio: PortfolioView, today: date, zone: tzinfo) -> Decimal | None:
    """``V_today − V_previous day − flows in between`` (the daily TWR's day, in money), or None."""
    local_days = portfolio.equity.index.tz_convert(zone).date
    today_mask = local_days == today
    before_mask = local_days < today
    if not today_mask.any() or not before_mask.any():
        return None
    end_value = portfolio.equity[today_mask].iloc[-1]
    start_value = portfolio.equity[before_mask].iloc[-1]
    start_day = local_days[before_mask][-1]
    net = Decimal(0)
    if not portfolio.flows.empty:
        flow_days = portfolio.flows.index.tz_convert(zone).date
        for day, amount in zip(flow_days, portfolio.flows, strict=True):
            if start_day < day <= today:
                net += amount
    return end_value - start_value - net


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


def month_grid(daily: pd.DataFrame, year: int, month: int) -> pd.DataFrame:
    """Cells of a month calendar (weeks Monday–Sunday) with each day's trade figures.

    Args:
        daily: :func:`bot.analytics.daily_trade_stats` (indexed by ``datetime.date``).
        year / month: the month shown.

    Returns:
        One row per cell of the weeks covering the month (28–42 rows): ``day`` (date),
        ``day_label`` (``"1"``…), ``week`` (0-based row), ``weekday`` (``Mon``…), ``in_month``
        (bool), ``trades`` (int), ``wins`` (int), ``win_rate`` (percent, NaN without trades),
        ``pnl`` (float; 0 without trades).
    """
    weeks = _calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    rows = []
    for week_number, week in enumerate(weeks):
        for weekday, day in enumerate(week):
            has = day in daily.index
            rows.append(
                {
                    "day": day,
                    "day_label": str(day.day),
                    "week": week_number,
                    "weekday": _WEEKDAYS[weekday],
                    "in_month": day.month == month,
                    "trades": int(daily.at[day, "trades"]) if has else 0,
                    "wins": int(daily.at[day, "wins"]) if has else 0,
                    "win_rate": float(daily.at[day, "win_rate"]) if has else math.nan,
                    "pnl": float(daily.at[day, "pnl"]) if has else 0.0,
                }
            )
    return pd.DataFrame(rows)


def week_totals(grid: pd.DataFrame) -> pd.DataFrame:
    """Totals per calendar row of :func:`month_grid`, counting only the month's own days.

    Returns:
        ``week`` (row), ``start``/``end`` (first and last day of the month in that row),
        ``trades``, ``wins``, ``win_rate`` (percent, NaN without trades), ``pnl`` (float).
    """
    inside = grid[grid["in_month"]]
    rows = []
    for week, group in inside.groupby("week", sort=True):
        trades = int(group["trades"].sum())
        wins = int(group["wins"].sum())
        rows.append(
            {
                "week": int(week),
                "start": group["day"].min(),
                "end": group["day"].max(),
                "trades": trades,
                "wins": wins,
                "win_rate": wins * 100.0 / trades if trades else math.nan,
                "pnl": float(group["pnl"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["week", "start", "end", "trades", "wins", "win_rate", "pnl"])


def month_totals(daily: pd.DataFrame, year: int, month: int) -> dict[str, Any]:
    """Totals of one month from :func:`bot.analytics.daily_trade_stats`.

    Returns:
        ``{"trades": int, "wins": int, "losses": int, "win_rate": float | None (percent),
        "pnl": Decimal (exact), "days": int (days with trades), "green_days": int}``.
    """
    picked = daily[[d.year == year and d.month == month for d in daily.index]] if len(daily) else daily
    trades = int(picked["trades"].sum()) if len(picked) else 0
    wins = int(picked["wins"].sum()) if len(picked) else 0
    pnl = sum(picked["pnl"], Decimal(0)) if len(picked) else Decimal(0)
    return {
        "trades": trades,
        "wins": wins,
        "losses": int(picked["losses"].sum()) if len(picked) else 0,
        "win_rate": wins * 100.0 / trades if trades else None,
        "pnl": pnl,
        "days": len(picked),
        "green_days": int(sum(1 for value in picked["pnl"] if value > 0)) if len(picked) else 0,
    }


def day_trades(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    """Trades that closed on local ``day`` (the calendar counts a trade on its exit day)."""
    if frame.empty:
        return frame
    return frame[frame["exit_at"].dt.date == day]


# --------------------------------------------------------------------------------------------
# Signals, orders, health, positions
# --------------------------------------------------------------------------------------------


def signals_frame(table: Table, zone: tzinfo) -> pd.DataFrame:
    """Signals rows newest first: ``received_at`` (tz-aware, zone), ``alert_id``, ``action``,
    ``symbol``, ``timeframe``, ``price`` (float), ``result``, ``reason``, ``latency_ms`` (float),
    ``signal_id``. Rows without a readable time sort last (kept, time NaT)."""
    rows = table.rows
    frame = pd.DataFrame(
        {
            "received_at": parse_times([r.get("received_at", "") for r in rows], zone),
            "alert_id": [r.get("alert_id", "") for r in rows],
            "action": [r.get("action", "") for r in rows],
            "symbol": [r.get("symbol", "") for r in rows],
            "timeframe": [r.get("timeframe", "") for r in rows],
            "price": [_number(r.get("price")) for r in rows],
            "result": [(r.get("result") or "").strip() for r in rows],
            "reason": [r.get("reason", "") for r in rows],
            "latency_ms": [_number(r.get("latency_ms")) for r in rows],
            "signal_id": [r.get("signal_id", "") for r in rows],
        }
    )
    frame["_pos"] = np.arange(len(frame))
    frame = frame.sort_values(["received_at", "_pos"], ascending=False, na_position="last", kind="stable")
    return frame.drop(columns="_pos").reset_index(drop=True)


def orders_frame(table: Table, zone: tzinfo) -> pd.DataFrame:
    """Orders rows newest first, typed: times tz-aware in ``zone``; ``qty``, ``notional``,
    ``filled_qty``, ``filled_avg_price`` floats; ``fill_seconds`` = ``filled_at − submitted_at``
    in seconds (NaN when either is missing or the fill is dated earlier, as on replays)."""
    rows = table.rows
    submitted = parse_times([r.get("submitted_at", "") for r in rows], zone)
    filled = parse_times([r.get("filled_at", "") for r in rows], zone)
    seconds = (filled - submitted).total_seconds().to_numpy(dtype=float) if len(rows) else np.array([])
    seconds = np.where(seconds >= 0, seconds, np.nan)
    frame = pd.DataFrame(
        {
            "submitted_at": submitted,
            "order_id": [r.get("order_id", "") for r in rows],
            "client_order_id": [r.get("client_order_id", "") for r in rows],
            "broker": [r.get("broker", "") for r in rows],
            "symbol": [r.get("symbol", "") for r in rows],
            "timeframe": [r.get("timeframe", "") for r in rows],
            "side": [r.get("side", "") for r in rows],
            "qty": [_number(r.get("qty")) for r in rows],
            "notional": [_number(r.get("notional")) for r in rows],
            "status": [(r.get("status") or "").strip() for r in rows],
            "filled_qty": [_number(r.get("filled_qty")) for r in rows],
            "filled_avg_price": [_number(r.get("filled_avg_price")) for r in rows],
            "filled_at": filled,
            "fill_seconds": seconds,
            "reason": [r.get("reason", "") for r in rows],
        }
    )
    frame["_pos"] = np.arange(len(frame))
    frame = frame.sort_values(["submitted_at", "_pos"], ascending=False, na_position="last", kind="stable")
    return frame.drop(columns="_pos").reset_index(drop=True)


def latency_summary(latency_ms: pd.Series) -> dict[str, float | None]:
    """``{"count", "p50", "p95", "max"}`` of the non-NaN latencies in milliseconds (None when none)."""
    values = latency_ms.dropna().to_numpy(dtype=float)
    if not len(values):
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {
        "count": len(values),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }


@dataclass(frozen=True)
class Health:
    """Bot health for the Overview: ``state`` ``ok|degraded|unreachable|unknown``, a one-line
    ``text``, the last signal time (tz-aware, zone) and the ``/health`` body when reachable."""

    state: str
    text: str
    last_signal_at: datetime | None = None
    body: dict[str, Any] = field(default_factory=dict)


def health_summary(body: Mapping[str, Any] | None, signals: pd.DataFrame, *, now: datetime, zone: tzinfo) -> Health:
    """Health from the bot's ``GET /health`` body, or from the latest Signals row when unreachable.

    Args:
        body: the JSON of ``/health`` (DESIGN.md §4), or None when the bot did not answer.
        signals: :func:`signals_frame` (newest first).
        now: the current time (tz-aware), for "x minutes ago".
    """
    last: datetime | None = None
    if len(signals) and not pd.isna(signals["received_at"].iloc[0]):
        last = signals["received_at"].iloc[0].to_pydatetime()
    if body is not None:
        raw_last = body.get("last_signal_at")
        if raw_last:
            parsed = _parse_one_time(str(raw_last), UTC)
            if parsed is not None:
                last = parsed.astimezone(zone)
        status = str(body.get("status", "unknown"))
        mode = body.get("mode", "?")
        trading = "trading on" if body.get("trading_enabled", True) else "trading OFF (kill switch)"
        parts = [f"{status}", f"{mode}", trading, f"{body.get('active_configs', '?')} active rows"]
        if body.get("config_errors"):
            parts.append(f"{body['config_errors']} config errors")
        if body.get("outbox_depth"):
            parts.append(f"{body['outbox_depth']} workbook writes pending")
        parts.append(f"last signal {_ago(now - last)} ago" if last is not None else "no signal yet")
        state = "ok" if status == "ok" and body.get("trading_enabled", True) else "degraded"
        return Health(state, " · ".join(parts), last, dict(body))
    if last is None:
        return Health("unknown", "bot not reachable and no signal received yet", None)
    text = f"bot not reachable at its /health; last signal {_ago(now - last)} ago ({last:%Y-%m-%d %H:%M})"
    return Health("unreachable", text, last)


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def open_positions(config: Table) -> pd.DataFrame:
    """Slots with a position, from the Config tab's bot-owned ``Position`` column.

    Returns:
        ``symbol``, ``timeframe``, ``side`` (``long|short``), ``qty`` (absolute, float),
        ``status`` (Order Status), ``last_signal``, ``updated`` (Last Updated, text), ``broker``.
    """
    rows = []
    for record in config.rows:
        qty = _decimal(record.get("Position"))
        if qty is None or qty == 0:
            continue
        rows.append(
            {
                "symbol": record.get("symbol", ""),
                "timeframe": record.get("Time Frame", ""),
                "side": "long" if qty > 0 else "short",
                "qty": float(abs(qty)),
                "status": record.get("Order Status", ""),
                "last_signal": record.get("Last Signal", ""),
                "updated": record.get("Last Updated", ""),
                "broker": record.get("broker", ""),
            }
        )
    columns = ["symbol", "timeframe", "side", "qty", "status", "last_signal", "updated", "broker"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# Config page
# --------------------------------------------------------------------------------------------

#: Config columns a bulk "apply settings" may copy (user-owned, not the row key).
CONFIG_COPY_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in tab_spec("Config").columns if column.owner == "user" and column.name not in
    ("symbol", "Time Frame")
)  # fmt: skip


def config_frame(table: Table) -> pd.DataFrame:
    """The Config tab as an all-text DataFrame (headers as in the sheet, blank rows kept) for the editor."""
    headers = table.headers or tab_spec("Config").headers
    return pd.DataFrame([[r.get(h, "") for h in headers] for r in table.rows], columns=headers, dtype=object)


def config_row_problems(headers: Sequence[str], records: Sequence[Mapping[str, str]]) -> dict[int, list[str]]:
    """Validation messages per sheet row (``2`` = first data row) with the bot's own rules.

    :func:`bot.validate.validate_records`; messages not tied to a row (a missing column) are
    under key ``0``.
    """
    problems: dict[int, list[str]] = {}
    for message in validate_records("Config", list(headers), [dict(r) for r in records]):
        match = re.match(r"row (\d+): (.*)", message)
        if match:
            problems.setdefault(int(match.group(1)), []).append(match.group(2))
        else:
            problems.setdefault(0, []).append(message)
    return problems


@dataclass(frozen=True)
class ConfigSave:
    """How to save an edited Config grid (see :func:`config_save`).

    At most one of ``batch`` (row writes of changed user cells, and appended rows) and ``rows``
    (every row, for :meth:`~bot.sheets.base.Workbook.replace_rows`, when rows were deleted or an
    edited row's key is ambiguous) is set; both are None when nothing changed. ``summary`` says
    what changes (``"1 changed, 2 added, 0 deleted"``).
    """

    batch: WriteBatch | None
    rows: list[dict[str, str]] | None
    summary: str


def _editor_state(edits: Mapping[str, Any]) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]], list[int]]:
    edited = {int(position): dict(values) for position, values in (edits.get("edited_rows") or {}).items()}
    added = [dict(values) for values in (edits.get("added_rows") or [])]
    deleted = sorted({int(position) for position in (edits.get("deleted_rows") or [])})
    return edited, added, deleted


def config_records(base: Table, edits: Mapping[str, Any]) -> list[dict[str, str]]:
    """The Config rows the editor shows after ``edits`` (kept rows in order, then added rows).

    Args:
        base: the Config tab the editor was filled from (:func:`config_frame`).
        edits: ``st.data_editor`` state: ``{"edited_rows": {position: {column: value}},
            "added_rows": [{column: value}], "deleted_rows": [position]}`` (positions in ``base``).
    """
    headers = list(base.headers or tab_spec("Config").headers)
    edited, added, deleted = _editor_state(edits)
    rows: list[dict[str, str]] = []
    for position, original in enumerate(base.rows):
        if position in deleted:
            continue
        row = {h: original.get(h, "") or "" for h in headers}
        row.update({h: _cell_text(v) for h, v in edited.get(position, {}).items() if h in headers})
        rows.append(row)
    for values in added:
        rows.append({h: _cell_text(values.get(h)) for h in headers})
    return rows


def config_save(base: Table, edits: Mapping[str, Any], current: Table | None = None) -> ConfigSave:
    """Turn the Config editor's edits into workbook writes that never overwrite bot-owned cells.

    Args:
        base: the Config tab the editor was filled from.
        edits: the editor state (see :func:`config_records`); edits of bot-owned columns are ignored.
        current: the Config tab re-read just before saving; a full replace takes the bot-owned
            cells from it (matched by key) so statuses the bot wrote meanwhile are kept.
            Defaults to ``base``.

    Returns:
        :class:`ConfigSave`. Without deletions and with unique keys only the changed user cells
        are written (:class:`~bot.records.RowWrite` by the row's original key) and new rows
        appended; otherwise every row is replaced: user cells from the editor, bot cells from
        ``current``.
    """
    spec = tab_spec("Config")
    bot_columns = spec.bot_columns
    headers = list(base.headers or spec.headers)
    edited, added, deleted = _editor_state(edits)
    keys = [row_key("Config", r) for r in base.rows]
    counts: dict[tuple[str, ...], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    changed: dict[int, dict[str, str]] = {}
    for position, values in edited.items():
        if not 0 <= position < len(base.rows) or position in deleted:
            continue
        original = base.rows[position]
        diff = {
            h: clean_record({h: _cell_text(v)})[h]
            for h, v in values.items()
            if h in headers and h not in bot_columns and _cell_text(v) != (original.get(h) or "")
        }
        if diff:
            changed[position] = diff
    new_rows = []
    for values in added:
        record = {h: _cell_text(values.get(h)) for h in headers if h not in bot_columns}
        if any(v.strip() for v in record.values()):
            new_rows.append(clean_record({k: v for k, v in record.items() if v}))
    deleted = [p for p in deleted if 0 <= p < len(base.rows)]
    if not changed and not new_rows and not deleted:
        return ConfigSave(None, None, "no changes")
    summary = f"{len(changed)} changed, {len(new_rows)} added, {len(deleted)} deleted"
    if not deleted and not any(counts[keys[p]] > 1 for p in changed):
        batch = WriteBatch()
        for position, diff in sorted(changed.items()):
            batch.writes.append(RowWrite("Config", keys[position], diff))
        batch.appends.extend(("Config", record) for record in new_rows)
        return ConfigSave(batch, None, summary)
    fresh_by_key: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for record in (current or base).rows:
        fresh_by_key.setdefault(row_key("Config", record), []).append(record)
    rows: list[dict[str, str]] = []
    for position, original in enumerate(base.rows):
        if position in deleted:
            continue
        row = {h: original.get(h, "") or "" for h in headers}
        row.update(changed.get(position, {}))
        same = fresh_by_key.get(keys[position], [])
        if len(same) == 1:
            row.update({c: same[0].get(c, "") or "" for c in bot_columns if c in headers})
        rows.append(row)
    rows.extend({h: record.get(h, "") for h in headers} for record in new_rows)
    return ConfigSave(None, rows, summary)


def _cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def copy_settings_batch(
    config: Table, source_row: int, target_rows: Sequence[int], columns: Sequence[str] = CONFIG_COPY_COLUMNS
) -> tuple[WriteBatch, list[str]]:
    """Apply one Config row's settings to other rows ("bulk apply").

    Args:
        config: the Config tab.
        source_row / target_rows: sheet row numbers (2 = first data row).
        columns: which settings to copy; only :data:`CONFIG_COPY_COLUMNS` are allowed.

    Returns:
        ``(batch, problems)``: one :class:`~bot.records.RowWrite` per target (by its key),
        setting only the copied user cells; targets with an ambiguous key are refused.
    """
    problems: list[str] = []
    rows = config.rows
    if not 2 <= source_row < len(rows) + 2:
        return WriteBatch(), [f"source row {source_row} does not exist"]
    bad_columns = [c for c in columns if c not in CONFIG_COPY_COLUMNS]
    if bad_columns:
        return WriteBatch(), [f"cannot copy {', '.join(bad_columns)} (key or bot-owned columns)"]
    source = rows[source_row - 2]
    values = {c: source.get(c, "") or "" for c in columns}
    counts: dict[tuple[str, ...], int] = {}
    for record in rows:
        key = row_key("Config", record)
        counts[key] = counts.get(key, 0) + 1
    batch = WriteBatch()
    for number in target_rows:
        if number == source_row:
            continue
        if not 2 <= number < len(rows) + 2:
            problems.append(f"row {number} does not exist")
            continue
        key = row_key("Config", rows[number - 2])
        if counts[key] > 1 or not all(key):
            problems.append(f"row {number}: symbol and Time Frame do not identify it uniquely; fix the key first")
            continue
        batch.writes.append(RowWrite("Config", key, dict(values)))
    return batch, problems


def parse_symbol_list(text: str) -> tuple[list[str], list[str]]:
    """Symbols from pasted text (commas, spaces, semicolons or new lines), normalised like alerts.

    ``"NASDAQ:AAPL, msft\\nBINANCE:BTCUSDT.P"`` → ``["AAPL", "MSFT", "BTCUSDT"]``; duplicates
    are dropped (first kept). Returns ``(symbols, problems)``.
    """
    symbols: list[str] = []
    problems: list[str] = []
    for part in re.split(r"[\s,;]+", text or ""):
        if not part:
            continue
        try:
            symbol = normalise_symbol(part)
        except ValueError as exc:
            problems.append(f"{part!r}: {exc}")
            continue
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols, problems


def add_symbols_batch(
    config: Table,
    symbols: Sequence[str],
    *,
    timeframe: str,
    settings: Mapping[str, str],
) -> tuple[WriteBatch, list[str]]:
    """Config rows to append for ``symbols`` on ``timeframe`` with the given ``settings``.

    Args:
        config: the Config tab (existing (symbol, timeframe) pairs are skipped).
        symbols: normalised symbols (:func:`parse_symbol_list`).
        timeframe: any timeframe text (normalised, e.g. ``D`` → ``1d``).
        settings: user-owned cells for the new rows (``position_size``, ``active``,
            ``size_type``, …), e.g. copied from a template row; key and bot columns are ignored.

    Returns:
        ``(batch, skipped)``: appends, and a message per symbol skipped.

    Raises:
        ValueError: an unreadable timeframe.
    """
    canonical = normalise_timeframe(timeframe)
    existing = {row_key("Config", r) for r in config.rows}
    base = {k: v for k, v in settings.items() if k in CONFIG_COPY_COLUMNS and v is not None}
    batch = WriteBatch()
    skipped: list[str] = []
    for symbol in symbols:
        record = {"symbol": symbol, "Time Frame": canonical, **base}
        if row_key("Config", record) in existing:
            skipped.append(f"{symbol} {canonical}: already in Config")
            continue
        existing.add(row_key("Config", record))
        batch.appends.append(("Config", clean_record(record)))
    return batch, skipped


# --------------------------------------------------------------------------------------------
# Bars (price charts, benchmark)
# --------------------------------------------------------------------------------------------

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
        return np.array([_number(row.get(source_name)) for row in raw], dtype=float)

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
    """Daily close-to-close returns of a benchmark's bars, indexed like :func:`bot.analytics.daily_twr`.

    The day of a bar is its date when the bars are dates (``read_bars(...).attrs["date_only"]``),
    else its local day in ``zone``; a day's close is its last bar's. The first day has no return.

    Returns:
        Series of fractions indexed by tz-naive local midnight (name ``"day"``), the
        ``benchmark`` input of :func:`bot.analytics.benchmark_comparison`.
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
        twr: :func:`twr_growth` (cumulative TWR per local day).
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
