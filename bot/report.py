"""The account report (``python -m bot report``): returns, risk, benchmark, per-symbol table, files.

:func:`build_report` reads the workbook (Snapshots, CashFlows, Trades, Orders, Performance,
Settings), computes with :mod:`bot.analytics` and :mod:`bot.performance`, writes CSV exports and PNG
charts to a folder and returns a :class:`ReportSummary` whose :meth:`~ReportSummary.text` is what
the command prints and whose :attr:`~ReportSummary.attachments` the e-mail summary attaches.

Choices a trader should know (each can be overridden by a keyword argument):

- **Periods per year**: 252 (trading days, weekend valuations dropped) when every account in the
  report is a stock account, else 365 (crypto trades every day). An account is crypto when its
  broker is Binance, or when it traded a crypto symbol (``BTCUSDT``, ``ETH/USD``; see
  :func:`is_crypto_symbol`) according to the Orders tab; otherwise (Alpaca, paper on stocks) stock.
- **Calendar day**: ``America/New_York`` for stock portfolios (the exchange's day, so a daily
  valuation is the close), UTC for crypto (the venues' daily candle), as :mod:`bot.analytics` advises.
- **Risk-free rate**: the Settings-tab key ``risk_free_rate`` (annual fraction, ``0.04`` = 4 %).
- **Benchmark**: a CSV with ``date,close`` columns, else the daily closes of ``SPY`` from a broker
  whose adapter has the optional method ``daily_closes(symbol, start, end)`` (Alpaca market data),
  else none. Its returns are taken between the same valuation days as the account's, so excess
  return, beta and correlation compare like with like.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from bot import analytics, performance
from bot.analytics import BenchmarkComparison, PeriodReturn, RiskMetrics
from bot.domain import normalise_symbol, utc_now
from bot.errors import BotError, ConfigError
from bot.parsing import parse_decimal
from bot.records import Table
from bot.settings import parse_runtime_settings
from bot.sheets.base import Workbook
from bot.snapshots import portfolio_equity, read_cash_flows, read_snapshots, snapshot_brokers

if TYPE_CHECKING:
    from bot.services import Services

__all__ = [
    "CSV_TABS",
    "ReportSummary",
    "account_kind",
    "benchmark_returns",
    "build_report",
    "is_crypto_symbol",
    "read_benchmark_csv",
]

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
#: Tabs exported as ``<tab>.csv`` as they are in the workbook.
CSV_TABS: tuple[str, ...] = ("Trades", "Orders", "Performance", "Snapshots", "CashFlows")
_TABS = ("Settings", "Trades", "Orders", "Performance", "Snapshots", "CashFlows")
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI")
_CRYPTO_BASES = ("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "LTC")
_DATE_PREFIX = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DATE_COLUMNS = ("date", "day", "timestamp", "time", "datetime")
_CLOSE_COLUMNS = ("close", "adj close", "adj_close", "adjclose", "adjusted close", "price", "value")


# --------------------------------------------------------------------------------------------
# Account kinds
# --------------------------------------------------------------------------------------------


def is_crypto_symbol(symbol: str) -> bool:
    """True for a crypto pair: ``BTC/USD`` (a slash), or a quote suffix such as ``BTCUSDT``, ``ETHUSDC``.

    Also ``<coin>USD``/``<coin>BTC`` for the large coins (``BTCUSD``, ``ETHBTC``). Stock tickers
    (``AAPL``, ``BRK.B``) are not crypto.
    """
    text = symbol.upper()
    if "/" in text:
        return True
    if any(text.endswith(quote) and len(text) > len(quote) for quote in _CRYPTO_QUOTES):
        return True
    return any(text.startswith(base) and text[len(base) :] in ("USD", "BTC", "ETH") for base in _CRYPTO_BASES)


def account_kind(broker: str, symbols: Iterable[str] = ()) -> str:
    """``"crypto"`` for Binance (spot or futures) or any crypto symbol traded, else ``"stock"``."""
    if broker.lower().startswith("binance"):
        return "crypto"
    return "crypto" if any(is_crypto_symbol(symbol) for symbol in symbols) else "stock"


# --------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------


def _day(text: str) -> pd.Timestamp:
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
        days: the account's valuation days (index of :func:`bot.analytics.daily_twr`).

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


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _pct(value: float | None, places: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.{places}f} %"


def _num(value: float | None, places: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{places}f}"


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


@dataclass
class ReportSummary:
    """What :func:`build_report` computed and wrote.

    Attributes:
        generated_at: when the report was built (UTC).
        as_of: last day covered (local day in ``zone``), None without snapshots.
        accounts: ``"broker/account"`` of each account in the equity curve.
        kind: ``"stock"`` or ``"crypto"`` (``"crypto"`` as soon as one account is).
        periods_per_year / weekdays_only / zone: the calendar used for returns and risk.
        risk_free_rate: annual fraction used for Sharpe and Sortino.
        periods: :class:`~bot.analytics.PeriodReturn` per label of :data:`bot.analytics.PERIODS`.
        risk: :class:`~bot.analytics.RiskMetrics` of the daily returns (None without 2 valuation days).
        benchmark / benchmark_name: :class:`~bot.analytics.BenchmarkComparison` and what it was
            compared with (file stem or symbol); None / ``""`` without a benchmark.
        per_symbol: Performance records (:func:`bot.performance.performance_records`) of each
            symbol and the ``TOTAL`` row (timeframe rows left out).
        daily: daily table: :func:`bot.analytics.daily_twr` columns plus ``pnl`` (equity change net
            of flows, float) and ``drawdown`` (of the TWR growth, ≤ 0 fraction).
        out_dir: the folder written.
        files: CSV files by name (``Trades``, ``Orders``, ``Performance``, ``Snapshots``,
            ``CashFlows``, ``Returns``) and ``report`` (the text).
        charts: PNG files by name (``equity``, ``benchmark``, ``calendar``); only those drawn.
        problems: what was skipped or could not be used, as sentences.
    """

    generated_at: datetime
    as_of: date | None
    accounts: list[str]
    kind: str
    periods_per_year: float
    weekdays_only: bool
    zone: str
    risk_free_rate: float
    periods: list[PeriodReturn]
    risk: RiskMetrics | None
    benchmark: BenchmarkComparison | None
    benchmark_name: str
    per_symbol: list[dict[str, str]]
    daily: pd.DataFrame
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    charts: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def attachments(self) -> tuple[Path, ...]:
        """The PNG charts written (for an e-mail :class:`~bot.notify.events.Event`)."""
        return tuple(self.charts.values())

    def period(self, label: str) -> PeriodReturn | None:
        """The :class:`~bot.analytics.PeriodReturn` called ``label`` (``"inception"``, ``"YTD"``, …)."""
        return next((item for item in self.periods if item.label == label), None)

    def text(self) -> str:
        """The printable summary: period returns, risk metrics, benchmark, per-symbol table, files."""
        lines: list[str] = []
        when = self.as_of.isoformat() if self.as_of else "— (no Snapshots yet)"
        lines.append(f"Account report as of {when}")
        accounts = ", ".join(self.accounts) or "none"
        lines.append(
            f"  accounts: {accounts}; {self.kind}: {self.periods_per_year:g} periods a year"
            f"{' (weekdays)' if self.weekdays_only else ''}, days in {self.zone};"
            f" risk-free {_pct(self.risk_free_rate)} a year"
        )
        lines.append("")
        lines.append("Period returns")
        lines.append(f"  {'period':<10}{'from':>12}{'to':>12}{'TWR':>11}{'TWR p.a.':>11}{'MWR p.a.':>11}{'P&L':>16}")
        for item in self.periods:
            start = item.start.isoformat() if item.start else "—"
            end = item.end.isoformat() if item.end else "—"
            label = item.label if item.complete or item.start is None else item.label + "*"
            lines.append(
                f"  {label:<10}{start:>12}{end:>12}{_pct(item.twr):>11}{_pct(item.twr_annualised):>11}"
                f"{_pct(item.mwr):>11}{_money(item.pnl):>16}"
            )
        if any(not item.complete and item.start is not None for item in self.periods):
            lines.append("  * history shorter than the period: figures since the first snapshot")
        lines.append("")
        risk = self.risk
        if risk is None:
            lines.append("Risk: needs Snapshots on at least 2 days")
        else:
            drawdown = risk.max_drawdown
            span = ""
            if drawdown.trough_at is not None:
                peak = _label(drawdown.peak_at) if drawdown.peak_at is not None else "start"
                recovered = _label(drawdown.recovered_at) if drawdown.recovered_at is not None else "not yet"
                span = f" (peak {peak}, trough {_label(drawdown.trough_at)}, recovered {recovered})"
            lines.append(f"Risk ({risk.periods} daily returns)")
            lines.append(f"  total return (TWR)   {_pct(risk.total_return)}")
            lines.append(f"  CAGR                 {_pct(risk.cagr)}")
            lines.append(f"  volatility p.a.      {_pct(risk.annual_volatility)}")
            lines.append(f"  Sharpe               {_num(risk.sharpe)}")
            lines.append(f"  Sortino              {_num(risk.sortino)}")
            lines.append(f"  max drawdown         {_pct(drawdown.max_drawdown)}{span}")
            lines.append(f"  Calmar               {_num(risk.calmar)}")
        lines.append("")
        bench = self.benchmark
        if bench is None:
            lines.append("Benchmark: none (pass a CSV of date,close with --benchmark)")
        else:
            lines.append(f"Benchmark {self.benchmark_name} ({bench.days} common days)")
            lines.append(f"  account {_pct(bench.total_return)}, benchmark {_pct(bench.benchmark_return)},"
                         f" excess {_pct(bench.excess_return)}")  # fmt: skip
            lines.append(f"  beta {_num(bench.beta, 3)}, correlation {_num(bench.correlation, 3)}")
        lines.append("")
        lines.append("Per symbol (closed trades)")
        lines.append(f"  {'symbol':<12}{'trades':>7}{'win %':>8}{'P&L':>14}{'profit f.':>11}{'max DD':>12}{'fees':>10}")
        for row in self.per_symbol:
            lines.append(
                f"  {row['symbol']:<12}{row['total_trades']:>7}{row['win_rate'] or '—':>8}"
                f"{_cell_money(row['total_pnl']):>14}{row['profit_factor'] or '—':>11}"
                f"{_cell_money(row['max_drawdown']):>12}{_cell_money(row['total_fees']):>10}"
            )
        lines.append("")
        lines.append(f"Files in {self.out_dir}:")
        for name, path in [*self.files.items(), *self.charts.items()]:
            lines.append(f"  {name:<12}{path.name}")
        if self.problems:
            lines.append("")
            lines.append("Notes:")
            lines.extend(f"  - {problem}" for problem in self.problems)
        return "\n".join(lines) + "\n"


def _label(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value)


def _cell_money(text: str) -> str:
    if not text:
        return "—"
    try:
        return f"{Decimal(text):,.2f}"
    except ArithmeticError:
        return text


# --------------------------------------------------------------------------------------------
# Building the report
# --------------------------------------------------------------------------------------------


def _write_csv(path: Path, headers: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _is_manual(record: dict[str, str]) -> bool:
    return not (record.get("order_ids") or "").strip()


def _trips(services: Any, table: Table, zone: tzinfo, problems: list[str]) -> list[performance.RoundTrip]:
    """Bot trips from the state DB's fills (services) plus manual Trades rows; else every Trades row."""
    trips: list[performance.RoundTrip] = []
    if services is not None:
        trips.extend(performance.round_trips(services.store.fills()))
    for index, record in enumerate(table.rows):
        if not (record.get("symbol") or "").strip():
            continue
        if services is not None and not _is_manual(record):
            continue
        try:
            trips.append(performance.trade_from_record(record, zone=zone))
        except ValueError as exc:
            problems.append(f"Trades row {index + 2} left out: {exc}")
    return trips


def _kinds(accounts: Iterable[str], orders: Table, default_broker: str) -> dict[str, str]:
    symbols: dict[str, set[str]] = {}
    for row in orders.rows:
        broker = (row.get("broker") or "").strip() or default_broker
        try:
            symbols.setdefault(broker, set()).add(normalise_symbol(row.get("symbol") or ""))
        except ValueError:
            continue
    return {broker: account_kind(broker, symbols.get(broker, ())) for broker in accounts}


def build_report(
    source: Services | Workbook,
    out_dir: Path | str,
    *,
    benchmark_csv: Path | str | None = None,
    benchmark_symbol: str = "SPY",
    as_of: date | None = None,
    progress: bool = True,
    brokers: list[str] | None = None,
    zone: tzinfo | None = None,
    sheet_zone: tzinfo | None = None,
    periods_per_year: float | None = None,
    risk_free_rate: float | None = None,
    now: datetime | None = None,
) -> ReportSummary:
    """Compute the account report and write its files to ``out_dir`` (created if missing).

    Steps: read the tabs; combine the Snapshots of the accounts into one daily equity curve
    (:func:`bot.snapshots.portfolio_equity`) with the CashFlows as deposits/withdrawals; daily TWR,
    period returns (TWR, MWR, P&L) and risk metrics (:mod:`bot.analytics`, empyrical's
    definitions); benchmark comparison; per-symbol trade statistics (:mod:`bot.performance`);
    CSV exports (:data:`CSV_TABS` as in the workbook, plus ``Returns.csv``: the daily table) and
    PNG charts (equity with drawdown band, TWR vs benchmark, calendar heatmap of daily P&L), and
    ``report.txt`` (:meth:`ReportSummary.text`).

    Args:
        source: :class:`~bot.services.Services` (trades from the state DB's fills, benchmark from a
            broker's ``daily_closes``, zone from ``BOT_TIMEZONE``) or a bare
            :class:`~bot.sheets.base.Workbook` (trades from the Trades tab).
        out_dir: folder for the files.
        benchmark_csv: CSV of ``date,close`` (:func:`read_benchmark_csv`); wins over fetching.
        benchmark_symbol: symbol fetched with ``daily_closes`` when no CSV is given.
        as_of: last day of the report (local day); default the day of the latest snapshot.
        progress: show a tqdm progress bar (stderr) while fetching benchmark history.
        brokers: only the accounts of these brokers (Snapshots/CashFlows ``broker`` cell; flows
            with a blank broker always count); default all.
        zone: calendar-day zone; default ``America/New_York`` (stocks) or UTC (crypto).
        sheet_zone: zone of the workbook's times without offset; default ``BOT_TIMEZONE`` with
            services, UTC with a bare workbook.
        periods_per_year: override 252/365 (252 also drops weekend valuations).
        risk_free_rate: override the Settings tab's ``risk_free_rate`` (annual fraction).
        now: time stamped on the per-symbol records (default now).

    Returns:
        :class:`ReportSummary`.

    Raises:
        ConfigError: an unusable CashFlows row (naming row and column; a wrong flow would make
            every return wrong, so it is not skipped), or an unusable benchmark file.
        BotError: the workbook could not be read.
    """
    services: Any = source if hasattr(source, "workbook") and hasattr(source, "store") else None
    workbook: Workbook = services.workbook if services is not None else source  # type: ignore[assignment]
    cell_zone: tzinfo = sheet_zone or (services.settings.zone if services is not None else UTC)
    default_broker = services.brokers.default if services is not None else "paper"
    problems: list[str] = []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = workbook.read_tables(list(_TABS))

    # -- settings and accounts -----------------------------------------------------------------
    if risk_free_rate is None:
        runtime, setting_problems = parse_runtime_settings(list(tables["Settings"].rows))
        problems += [f"Settings: {text}" for text in setting_problems if "risk_free_rate" in text]
        risk_free_rate = float(getattr(runtime, "risk_free_rate", 0.0) or 0.0)
    snapshot_errors: list[str] = []
    snapshots = read_snapshots(tables["Snapshots"], zone=cell_zone, errors=snapshot_errors)
    problems += [f"{text} (row left out)" for text in snapshot_errors]
    if brokers is not None:
        snapshots = [item for item in snapshots if item.broker in brokers]
    account_names = list(dict.fromkeys(f"{item.broker}/{item.account}" for item in snapshots))
    kinds = _kinds(dict.fromkeys(item.broker for item in snapshots), tables["Orders"], default_broker)
    kind = "crypto" if "crypto" in kinds.values() else "stock"
    if periods_per_year is None:
        periods_per_year = 252.0 if kind == "stock" else 365.0
    weekdays_only = periods_per_year < 365
    day_zone: tzinfo = zone or (NEW_YORK if kind == "stock" else UTC)
    try:
        flows = read_cash_flows(tables["CashFlows"], zone=cell_zone, date_zone=day_zone)
    except ValueError as exc:
        raise ConfigError(str(exc), field="CashFlows") from None

    # -- returns and risk --------------------------------------------------------------------------
    equity, moves = portfolio_equity(snapshots, flows, zone=day_zone, brokers=brokers)
    if as_of is None and equity:
        as_of = equity[-1][0].astimezone(day_zone).date()
    if as_of is not None:
        equity = [point for point in equity if point[0].astimezone(day_zone).date() <= as_of]
        moves = [move for move in moves if move[0].astimezone(day_zone).date() <= as_of]
    daily = analytics.daily_twr(equity, moves, zone=day_zone, weekdays_only=weekdays_only)
    daily["pnl"] = daily["equity"] - daily["equity"].shift(1) - daily["inflow"] + daily["outflow"]
    peaks = daily["growth"].cummax().clip(lower=1.0)
    daily["drawdown"] = daily["growth"] / peaks - 1.0
    returns = daily["return"].iloc[1:]
    if not equity:
        problems.append(
            f"no Snapshots on or before {as_of}"
            if snapshots
            else "no Snapshots yet: returns and risk need the snapshot job (python -m bot snapshot)"
        )
        periods = [PeriodReturn(label, None, None, False, *(None,) * 9) for label in analytics.PERIODS]
    else:
        periods = analytics.period_returns(
            equity, moves, as_of=as_of or date.today(), zone=day_zone, weekdays_only=weekdays_only
        )
    risk = (
        analytics.risk_metrics(returns, periods_per_year=periods_per_year, risk_free_annual=risk_free_rate)
        if len(returns) >= 1
        else None
    )
    if risk is not None:
        first, last = daily.index[0].date(), daily.index[-1].date()
        expected = int(np.busday_count(first, last)) if weekdays_only else (last - first).days
        if risk.periods < 0.8 * expected:
            problems.append(
                f"daily returns on {risk.periods} of about {expected} {'trading ' if weekdays_only else ''}days"
                f" since {first}: CAGR, volatility, Sharpe, Sortino and Calmar assume one return per day, so with"
                " gaps in the Snapshots they are not comparable with other accounts (TWR, MWR and P&L are exact)"
            )

    # -- benchmark -----------------------------------------------------------------------------------
    closes: pd.Series | None = None
    bench_name = ""
    if benchmark_csv is not None:
        closes = read_benchmark_csv(benchmark_csv)
        bench_name = str(closes.name)
    elif services is not None and len(daily) >= 2:
        closes, bench_name = _fetch_benchmark(services, benchmark_symbol, daily.index, progress, problems)
    comparison: BenchmarkComparison | None = None
    if closes is not None and len(daily) >= 2:
        bench = benchmark_returns(closes, daily.index)
        comparison = analytics.benchmark_comparison(returns, bench)
        if comparison.days == 0:
            problems.append(f"benchmark {bench_name}: no closes on the account's valuation days")
            comparison = None

    # -- trades --------------------------------------------------------------------------------------
    trips = _trips(services, tables["Trades"], cell_zone, problems)
    records = performance.performance_records(trips, now or utc_now(), cell_zone)
    per_symbol = [row for row in records if not row["timeframe"]]

    # -- files ---------------------------------------------------------------------------------------
    files: dict[str, Path] = {}
    for tab in CSV_TABS:
        table = tables[tab]
        files[tab] = _write_csv(out / f"{tab}.csv", table.headers, table.rows)
    returns_table = daily.reset_index()
    returns_table["day"] = returns_table["day"].dt.date
    returns_table.to_csv(out / "Returns.csv", index=False, lineterminator="\n")
    files["Returns"] = out / "Returns.csv"
    charts: dict[str, Path] = {}
    if len(daily) >= 2:
        charts["equity"] = _equity_chart(daily, out / "equity_drawdown.png")
        charts["benchmark"] = _benchmark_chart(daily, closes, bench_name, out / "twr_vs_benchmark.png")
        charts["calendar"] = _calendar_chart(daily["pnl"].iloc[1:], "Daily P&L (equity change net of flows)",
                                             out / "calendar_pnl.png")  # fmt: skip
    elif trips:
        stats = analytics.daily_trade_stats(trips, zone=day_zone)
        series = pd.Series(stats["pnl"].astype(float).to_numpy(), index=pd.DatetimeIndex(stats.index))
        charts["calendar"] = _calendar_chart(
            series, "Realised P&L per day (no Snapshots yet)", out / "calendar_pnl.png"
        )
        problems.append("equity charts need Snapshots on at least 2 days")
    summary = ReportSummary(
        generated_at=utc_now(),
        as_of=as_of,
        accounts=account_names,
        kind=kind,
        periods_per_year=periods_per_year,
        weekdays_only=weekdays_only,
        zone=str(getattr(day_zone, "key", day_zone)),
        risk_free_rate=risk_free_rate,
        periods=periods,
        risk=risk,
        benchmark=comparison,
        benchmark_name=bench_name if comparison is not None else "",
        per_symbol=per_symbol,
        daily=daily,
        out_dir=out,
        files=files,
        charts=charts,
        problems=problems,
    )
    report_path = out / "report.txt"
    summary.files["report"] = report_path
    report_path.write_text(summary.text(), encoding="utf-8")
    return summary


def _fetch_benchmark(
    services: Services, symbol: str, days: pd.DatetimeIndex, progress: bool, problems: list[str]
) -> tuple[pd.Series | None, str]:
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


# --------------------------------------------------------------------------------------------
# Charts (matplotlib's object API on the Agg canvas: no pyplot, no global backend switch)
# --------------------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=110, format="png")
    return path


def _equity_chart(daily: pd.DataFrame, path: Path) -> Path:
    figure = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    days = daily.index.to_numpy()
    top.plot(days, daily["equity"].to_numpy(), color="#1f77b4", linewidth=1.4, label="equity")
    flows = daily.index[(daily["inflow"] > 0) | (daily["outflow"] > 0)]
    if len(flows):
        top.scatter(flows.to_numpy(), daily.loc[flows, "equity"].to_numpy(), color="#ff7f0e", zorder=3, s=18,
                    label="deposit / withdrawal")  # fmt: skip
    top.set_ylabel("equity")
    top.set_title("Equity and drawdown (drawdown of the time-weighted return)")
    top.grid(alpha=0.3)
    top.legend(loc="upper left")
    drawdown = daily["drawdown"].to_numpy() * 100.0
    bottom.fill_between(days, drawdown, 0.0, color="#d62728", alpha=0.35, step="post")
    bottom.plot(days, drawdown, color="#d62728", linewidth=0.8, drawstyle="steps-post")
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    return _save(figure, path)


def _benchmark_chart(daily: pd.DataFrame, closes: pd.Series | None, name: str, path: Path) -> Path:
    figure = Figure(figsize=(10, 5), layout="constrained")
    axes = figure.subplots()
    days = daily.index
    growth = daily["growth"]
    title = "Time-weighted return"
    if closes is not None and not closes.empty:
        aligned = closes.sort_index().reindex(closes.index.union(days)).ffill().reindex(days)
        valid = aligned.dropna()
        if not valid.empty:
            first = valid.index[0]
            bench_growth = valid / valid.iloc[0]
            own = growth.loc[first:] / growth.loc[first]
            axes.plot(own.index.to_numpy(), (own.to_numpy() - 1.0) * 100.0, label="account TWR", linewidth=1.4)
            axes.plot(bench_growth.index.to_numpy(), (bench_growth.to_numpy() - 1.0) * 100.0, label=name,
                      linewidth=1.2, color="#7f7f7f")  # fmt: skip
            title = f"Time-weighted return vs {name}"
    if not axes.lines:
        axes.plot(days.to_numpy(), (growth.to_numpy() - 1.0) * 100.0, label="account TWR", linewidth=1.4)
        title += " (no benchmark)"
    axes.axhline(0.0, color="black", linewidth=0.6)
    axes.set_ylabel("cumulative return %")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    return _save(figure, path)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_YEARS = 6


def _calendar_chart(pnl: pd.Series, title: str, path: Path) -> Path:
    """GitHub-style heatmap: one panel per year (latest :data:`_MAX_YEARS`), weekday rows, week columns."""
    values = pnl.dropna().astype(float)
    years = sorted({stamp.year for stamp in values.index})[-_MAX_YEARS:] or [date.today().year]
    figure = Figure(figsize=(12, 1.9 * len(years) + 0.8), layout="constrained")
    axes_list = figure.subplots(len(years), 1, squeeze=False)[:, 0]
    # colour limit: the 95th percentile of |P&L|, so one outlier day does not wash out the rest
    limit = float(np.percentile(np.abs(values.to_numpy()), 95)) if len(values) else 1.0
    limit = limit or float(np.abs(values.to_numpy()).max(initial=0.0)) or 1.0
    image = None
    for axes, year in zip(axes_list, years, strict=True):
        grid = np.full((7, 54), np.nan)
        start = date(year, 1, 1)
        offset = start.weekday()
        for stamp, value in values[values.index.year == year].items():
            day = stamp.date()
            position = (day - start).days + offset
            grid[day.weekday(), position // 7] = value
        image = axes.imshow(grid, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        axes.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], fontsize=7)
        ticks = [((date(year, month, 1) - start).days + offset) // 7 for month in range(1, 13)]
        axes.set_xticks(ticks, _MONTHS, fontsize=8)
        axes.set_ylabel(str(year))
        axes.tick_params(length=0)
    axes_list[0].set_title(title)
    if image is not None:
        figure.colorbar(image, ax=list(axes_list), shrink=0.8, label="P&L")
    return _save(figure, path)
