"""The Journal's data: the Trades tab typed as a :class:`TradesView`, its tags and its filters.

Every row goes through :func:`bot.analytics.trade_records.trade_from_record` (the recompute's rule), so a
number on the Journal or Performance page is the number :mod:`bot.analytics.trade_stats` gives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

from bot.analytics.round_trips import RoundTrip
from bot.analytics.trade_records import TRADES_USER_COLUMNS, format_duration, trade_from_record
from bot.dashboard.formatting import EPOCH, cell_decimal
from bot.domain import PositionSide
from bot.records import Table

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
        trips: the :class:`~bot.analytics.round_trips.RoundTrip` of each frame row (same order): the
            input of every statistic, from :func:`~bot.analytics.trade_records.trade_from_record`.
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
        "times": [((t.entry_at - EPOCH) // _MICRO, (t.exit_at - EPOCH) // _MICRO) for t in trips],
        "reasons": [t.exit_reason for t in trips],
        "orders": [t.order_ids for t in trips],
    }


def _unpack_trades_view(frame: pd.DataFrame, packed: dict[str, list[Any]], problems: tuple[str, ...]) -> TradesView:
    sides = {side.value: side for side in PositionSide}
    trips = []
    for index, trade_id in enumerate(packed["ids"]):
        qty, entry_price, exit_price, fees, pnl, pct, r_multiple, stop = packed["decimals"][index]
        entry_us, exit_us = packed["times"][index]
        entry_at, exit_at = EPOCH + entry_us * _MICRO, EPOCH + exit_us * _MICRO
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

    Every row goes through :func:`bot.analytics.trade_records.trade_from_record` (the recompute's rule for
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
            trip = _unrounded(trade_from_record(zero_fees_blank(record), zone=zone))
        except ValueError as exc:
            problems.append(f"Trades row {index + 2}: {exc}")
            continue
        trips.append(trip)
        rating = cell_decimal(record.get("rating"))
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

    The bot writes ``pnl`` rounded to cents (:func:`~bot.analytics.trade_records.trade_records`) while its
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


def zero_fees_blank(record: dict[str, str]) -> dict[str, str]:
    """``fees`` ``"0"`` as blank: :func:`trade_from_record` rejects a zero fee cell (blank means 0 there)."""
    fees = (record.get("fees") or "").strip()
    if fees and cell_decimal(fees) == 0:
        return {**record, "fees": ""}
    return record


def trade_tags(frame: pd.DataFrame) -> list[str]:
    """Distinct tags of the ``tags`` column (comma-separated cells), sorted case-insensitively."""
    seen: dict[str, str] = {}
    for cell in frame["tags"]:
        for tag in split_tags(cell):
            seen.setdefault(tag.lower(), tag)
    return sorted(seen.values(), key=str.lower)


def split_tags(cell: str) -> list[str]:
    """A ``tags`` cell's tags: ``"breakout, A+;news"`` → ``["breakout", "A+", "news"]`` (blanks dropped)."""
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
    closed, as in :func:`bot.analytics.calendar.daily_trade_stats`); ``tag`` matches one of the row's
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
        mask &= frame["tags"].map(lambda cell: wanted in {t.lower() for t in split_tags(cell)}).to_numpy(dtype=bool)
    pnl = frame["pnl"].to_numpy(dtype=float)
    if outcome == "winners":
        mask &= pnl > 0
    elif outcome == "losers":
        mask &= pnl < 0
    elif outcome == "scratch":
        mask &= pnl == 0
    return mask
