"""Cached loaders of the dashboard: the only place pages get workbook data from (and write through).

- The workbook client is a resource (``st.cache_resource``), one per store and location.
- Each tab is read once per cache window (``st.cache_data`` with a TTL) or per press of *Refresh*,
  whichever comes first, shared by every page and user: the big tabs (Trades, Snapshots,
  CashFlows, Signals, Orders) inside the loader of their typed view (:mod:`bot.dashboard`),
  the small shared ones (Config, Settings) by :func:`_read_tab`. All loaders of a run use the same
  window, so a page never mixes two reads of a tab.

The window (``epoch``) is fixed once per script run by :func:`begin_run` (called by
``streamlit_app.py``), so all loaders of one run agree. Every cache is bounded (``max_entries``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import requests
import streamlit as st

from bot.analytics.calendar import daily_trade_stats
from bot.analytics.returns import PeriodReturn, period_returns
from bot.dashboard.activity import orders_frame, signals_frame
from bot.dashboard.bars import bar_symbols as symbols_with_bars
from bot.dashboard.bars import find_bars, read_bars
from bot.dashboard.overview import Health, OverviewFigures, health_summary, overview_figures
from bot.dashboard.portfolio import PortfolioView, equity_curve, portfolio_view
from bot.dashboard.trades import TradesView, trades_view
from bot.errors import BotError
from bot.records import Table, WriteBatch
from bot.settings import Settings, load_settings
from bot.sheets.schema import TABS, tab_spec

#: Seconds a tab read stays fresh (local file: cheap to re-read; Google: 60 requests/min quota).
TTL = {"local": 15, "google": 60}
#: Seconds the bot's /health answer is kept.
HEALTH_TTL = 10
#: Where the bot's HTTP API is (``/health``); ``make run`` starts it on this address by default.
DEFAULT_BOT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Source:
    """Which workbook the dashboard reads (hashable: part of every cache key)."""

    store: str  # "local" | "google"
    location: str  # local file path, or Google sheet id / URL
    zone: str  # BOT_TIMEZONE
    data_dir: str  # BOT_DATA_DIR (bars files live under it)

    @property
    def tz(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.zone)

    @property
    def bars_dir(self) -> Path:
        """Optional OHLC bars CSV files for the price charts and the benchmark."""
        return Path(self.data_dir) / "bars"


def settings() -> Settings:
    """Deployment settings (env / .env), validated; read on each run (cheap)."""
    return load_settings()


def source() -> Source:
    """The :class:`Source` of the current settings."""
    config = settings()
    location = str(config.workbook_path.resolve()) if config.bot_store == "local" else config.google_sheet_id
    return Source(config.bot_store, location, config.bot_timezone, str(config.bot_data_dir.resolve()))


def begin_run() -> None:
    """Fix this script run's cache window (call once, at the top of ``streamlit_app.py``)."""
    src = source()
    ttl = TTL.get(src.store, 60)
    st.session_state["_data_epoch"] = int(time.time() // ttl)
    st.session_state.setdefault("_data_read_at", {})


def epoch() -> int:
    """The cache window of this run (see :func:`begin_run`)."""
    if "_data_epoch" not in st.session_state:
        begin_run()
    return int(st.session_state["_data_epoch"])


def key() -> tuple[Source, int]:
    """``(source, epoch)``: the cache key of every loader for this run."""
    return source(), epoch()


# -- the workbook ------------------------------------------------------------------------------


def open_workbook_for(store: str, location: str) -> Any:
    """Open the workbook of a :class:`Source` (``store`` and ``location``) with the bot's own adapters."""
    from bot.services import open_workbook

    if store == "local":
        return open_workbook(load_settings(bot_store="local", bot_data_dir=Path(location).parent))
    return open_workbook(load_settings())


#: How the dashboard opens a workbook, ``(store, location) -> Workbook``. An embedder or a test may
#: inject another adapter here (the tests run the Google branch on a loopback fake of the Sheets API).
workbook_opener: Callable[[str, str], Any] = open_workbook_for


@st.cache_resource(max_entries=4, show_spinner=False)
def _workbook(store: str, location: str) -> Any:
    """The workbook client (opened once per store and location, shared by all sessions)."""
    return workbook_opener(store, location)


def _exists(src: Source) -> bool:
    return src.store != "local" or Path(src.location).exists()


def _load(src: Source, tab: str) -> Table:
    """Read ``tab`` from the workbook now (an empty table when the local file does not exist yet).

    Called only by cached loaders: :func:`_read_tab` for small tabs several pages share (Config,
    Settings), and the typed-view loaders below for the big tabs each of them alone consumes, so
    every tab is read once per cache window.
    """
    if not _exists(src):  # never create a workbook just by looking at it
        return Table(tab, tab_spec(tab).headers if tab in TABS else [], [])
    return _workbook(src.store, src.location).read_tables([tab])[tab]


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def _read_tab(src: Source, tab: str, window: int) -> Table:
    """One read of a small shared tab (Config, Settings) per cache window."""
    return _load(src, tab)


class WorkbookUnavailable(Exception):
    """The workbook could not be read; the message is for the user."""


def table(tab: str) -> Table:
    """The cached content of ``tab``.

    Raises:
        WorkbookUnavailable: the store failed (message says why, without secrets).
    """
    src, window = key()
    try:
        return _read_tab(src, tab, window)
    except BotError as exc:
        raise WorkbookUnavailable(f"the {src.store} workbook cannot be read: {exc}") from None


def workbook_exists() -> bool:
    """False when the local workbook file has not been created yet (the bot creates it on start)."""
    return _exists(source())


# -- typed views (bot.dashboard) ---------------------------------------------------------------


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _trades(src: Source, window: int) -> TradesView:
    return trades_view(_load(src, "Trades"), src.tz)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _portfolio(src: Source, window: int) -> PortfolioView:
    return portfolio_view(_load(src, "Snapshots"), _load(src, "CashFlows"), src.tz)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _signals(src: Source, window: int) -> pd.DataFrame:
    return signals_frame(_load(src, "Signals"), src.tz)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _orders(src: Source, window: int) -> pd.DataFrame:
    return orders_frame(_load(src, "Orders"), src.tz)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _overview(src: Source, window: int, today: date) -> tuple[OverviewFigures, pd.DataFrame]:
    trades, portfolio = _trades(src, window), _portfolio(src, window)
    figures = overview_figures(trades, portfolio, today=today, zone=src.tz)
    return figures, equity_curve(portfolio, src.tz)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _daily(src: Source, window: int) -> pd.DataFrame:
    return daily_trade_stats(_trades(src, window).trips, zone=src.tz)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _periods(src: Source, window: int, today: date) -> list[PeriodReturn]:
    portfolio = _portfolio(src, window)
    if portfolio.empty:
        return []
    return period_returns(portfolio.equity, portfolio.flows, as_of=today, zone=src.tz)


def _guard(load: Any, *args: Any) -> Any:
    src, window = key()
    try:
        return load(src, window, *args)
    except BotError as exc:
        raise WorkbookUnavailable(f"the {src.store} workbook cannot be read: {exc}") from None


def trades() -> TradesView:
    """The journal (:func:`bot.dashboard.trades.trades_view`)."""
    return _guard(_trades)


def portfolio() -> PortfolioView:
    """Equity snapshots and cash flows (:func:`bot.dashboard.portfolio.portfolio_view`)."""
    return _guard(_portfolio)


def signals() -> pd.DataFrame:
    """Signals, newest first (:func:`bot.dashboard.activity.signals_frame`)."""
    return _guard(_signals)


def orders() -> pd.DataFrame:
    """Orders, newest first (:func:`bot.dashboard.activity.orders_frame`)."""
    return _guard(_orders)


def overview() -> tuple[OverviewFigures, pd.DataFrame]:
    """Headline figures and the daily equity/drawdown curve of the Overview page."""
    return _guard(_overview, today())


def daily_stats() -> pd.DataFrame:
    """:func:`bot.analytics.calendar.daily_trade_stats` of the journal."""
    return _guard(_daily)


def periods() -> list[PeriodReturn]:
    """:func:`bot.analytics.returns.period_returns` as of today (empty without snapshots)."""
    return _guard(_periods, today())


def zone() -> ZoneInfo:
    """The display time zone (BOT_TIMEZONE)."""
    return source().tz


def today() -> date:
    """Today's date in the display time zone."""
    return datetime.now(zone()).date()


# -- bars (optional files) ----------------------------------------------------------------------


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def _bars(path: str, mtime: float) -> pd.DataFrame:
    return read_bars(Path(path))


def bars(symbol: str, timeframe: str = "") -> tuple[pd.DataFrame | None, str]:
    """``(bars, message)``: the symbol's bars from ``BOT_DATA_DIR/bars``, or None and why not."""
    directory = source().bars_dir
    path = find_bars(directory, symbol, timeframe)
    if path is None:
        return None, f"No bars for {symbol}: put {symbol}_{timeframe or '1d'}.csv or {symbol}.csv in {directory}."
    try:
        return _bars(str(path), path.stat().st_mtime), ""
    except (OSError, ValueError) as exc:
        return None, f"{path.name} cannot be read: {exc}"


def bar_symbols() -> list[str]:
    """Symbols that have a bars file."""
    return symbols_with_bars(source().bars_dir)


# -- bot health -----------------------------------------------------------------------------------


def bot_url() -> str:
    """Base URL of the bot's HTTP API: ``DASHBOARD_BOT_URL`` (a setting when Settings has it, else the
    environment), default :data:`DEFAULT_BOT_URL`."""
    configured = str(getattr(settings(), "dashboard_bot_url", "") or "")
    return (configured or os.environ.get("DASHBOARD_BOT_URL") or DEFAULT_BOT_URL).rstrip("/")


@st.cache_data(ttl=HEALTH_TTL, max_entries=4, show_spinner=False)
def _health(url: str) -> dict[str, Any] | None:
    try:
        reply = requests.get(f"{url}/health", timeout=0.5)
        if reply.ok:
            body = reply.json()
            return body if isinstance(body, dict) else None
    except (requests.RequestException, ValueError):
        return None
    return None


def health() -> Health:
    """The bot's health from ``/health``, or from the latest Signals row when it does not answer."""
    return health_summary(_health(bot_url()), signals(), now=datetime.now(zone()), zone=zone())


# -- writes ---------------------------------------------------------------------------------------


def _writer() -> Any:
    src = source()
    return _workbook(src.store, src.location)


def apply(batch: WriteBatch) -> None:
    """Apply ``batch`` to the workbook, then drop the cached reads so pages show the change.

    Raises:
        BotError: the store refused or is unavailable (the caller shows the message).
    """
    if batch:
        _writer().apply(batch)
    refresh()


def replace_rows(tab: str, rows: list[dict[str, str]]) -> None:
    """Replace every data row of ``tab`` (Config editor after deletions), then drop cached reads."""
    _writer().replace_rows(tab, rows)
    refresh()


def fresh_table(tab: str) -> Table:
    """``tab`` read now, bypassing the cache (just before a write that needs the latest bot cells)."""
    src = source()
    if not _exists(src):
        return Table(tab, tab_spec(tab).headers, [])
    return _workbook(src.store, src.location).read_tables([tab])[tab]


def refresh() -> None:
    """Forget every cached read and view (the *Refresh* button; after each write)."""
    st.cache_data.clear()
