"""Building the account report (``python -m bot report``): returns, risk, benchmark, per-symbol table, files.

:func:`build_report` reads the workbook (Snapshots, CashFlows, Trades, Orders, Performance,
Settings), computes with the :mod:`bot.analytics` modules, writes CSV exports and PNG charts
(:mod:`bot.report.charts`) to a folder and returns a :class:`~bot.report.summary.ReportSummary`
whose :meth:`~bot.report.summary.ReportSummary.text` is what the command prints and whose
:attr:`~bot.report.summary.ReportSummary.attachments` the e-mail summary attaches.

Choices a trader should know (each can be overridden by a keyword argument):

- **Periods per year**: 252 (trading days, weekend valuations dropped) when every account in the
  report is a stock account, else 365 (crypto trades every day). An account is crypto when its
  broker is Binance, or when it traded a crypto symbol (``BTCUSDT``, ``ETH/USD``; see
  :func:`bot.report.accounts.is_crypto_symbol`) according to the Orders tab; otherwise (Alpaca, paper on stocks) stock.
- **Calendar day**: ``America/New_York`` for stock portfolios (the exchange's day, so a daily
  valuation is the close), UTC for crypto (the venues' daily candle), as :mod:`bot.analytics.returns` advises.
- **Risk-free rate**: the Settings-tab key ``risk_free_rate`` (annual fraction, ``0.04`` = 4 %).
- **Benchmark**: a CSV with ``date,close`` columns, else the daily closes of ``SPY`` from a broker
  that declares ``capabilities.daily_closes`` (``daily_closes(symbol, start, end)``, Alpaca market
  data; :mod:`bot.report.benchmark`), else none. Its returns are taken between the same valuation
  days as the account's, so excess return, beta and correlation compare like with like.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot.analytics.calendar import daily_trade_stats
from bot.analytics.equity import Snapshot, portfolio_equity, read_cash_flows, read_snapshots
from bot.analytics.returns import PERIODS, PeriodReturn, daily_twr, period_returns
from bot.analytics.risk_metrics import BenchmarkComparison, RiskMetrics, benchmark_comparison, risk_metrics
from bot.analytics.round_trips import RoundTrip, round_trips
from bot.analytics.trade_records import performance_records, trade_from_record
from bot.domain import utc_now
from bot.errors import ConfigError
from bot.records import CashFlow, Table
from bot.report.accounts import NEW_YORK, account_kinds
from bot.report.benchmark import benchmark_returns, fetch_benchmark, read_benchmark_csv
from bot.report.charts import benchmark_chart, calendar_chart, equity_chart
from bot.report.summary import ReportSummary
from bot.settings import parse_runtime_settings
from bot.sheets.base import Workbook

if TYPE_CHECKING:
    from bot.services import Services

__all__ = ["CSV_TABS", "build_report"]

UTC = timezone.utc
#: Tabs exported as ``<tab>.csv`` as they are in the workbook.
CSV_TABS: tuple[str, ...] = ("Trades", "Orders", "Performance", "Snapshots", "CashFlows")
_TABS = ("Settings", "Trades", "Orders", "Performance", "Snapshots", "CashFlows")


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
    (:func:`bot.analytics.equity.portfolio_equity`) with the CashFlows as deposits/withdrawals;
    daily TWR, period returns (TWR, MWR, P&L) and risk metrics (:mod:`bot.analytics.returns`,
    :mod:`bot.analytics.risk_metrics`: empyrical's definitions); benchmark comparison; per-symbol
    trade statistics (:mod:`bot.analytics.trade_records`); CSV exports (:data:`CSV_TABS` as in the
    workbook, plus ``Returns.csv``: the daily table) and PNG charts (equity with drawdown band, TWR
    vs benchmark, calendar heatmap of daily P&L), and ``report.txt`` (:meth:`ReportSummary.text`).

    Args:
        source: :class:`~bot.services.Services` (trades from the state DB's fills, benchmark from a
            broker's ``daily_closes``, zone from ``BOT_TIMEZONE``) or a bare
            :class:`~bot.sheets.base.Workbook` (trades from the Trades tab).
        out_dir: folder for the files.
        benchmark_csv: CSV of ``date,close`` (:func:`~bot.report.benchmark.read_benchmark_csv`); wins
            over fetching.
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
        :class:`~bot.report.summary.ReportSummary`.

    Raises:
        ConfigError: an unusable CashFlows row (naming row and column; a wrong flow would make
            every return wrong, so it is not skipped), or an unusable benchmark file.
        BotError: the workbook could not be read.
    """
    services, workbook, cell_zone, default_broker = _source(source, sheet_zone)
    problems: list[str] = []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = workbook.read_tables(list(_TABS))
    if risk_free_rate is None:
        risk_free_rate = _risk_free_rate(tables["Settings"], problems)
    accounts = _accounts(tables, cell_zone, default_broker, brokers, zone, periods_per_year, problems)
    figures = _returns(accounts, brokers, as_of, risk_free_rate, problems)
    daily = figures.daily
    closes, bench_name, comparison = _benchmark(
        services, benchmark_csv, benchmark_symbol, daily, figures.returns, progress, problems
    )
    trips = _trips(services, tables["Trades"], cell_zone, problems)
    records = performance_records(trips, now or utc_now(), cell_zone)
    files = _write_files(out, tables, daily)
    charts = _draw_charts(out, daily, closes, bench_name, trips, accounts.day_zone, problems)
    summary = _summary(accounts, figures, risk_free_rate, comparison, bench_name, records, out, files, charts, problems)
    report_path = out / "report.txt"
    summary.files["report"] = report_path
    report_path.write_text(summary.text(), encoding="utf-8")
    return summary


# --------------------------------------------------------------------------------------------
# Settings and accounts
# --------------------------------------------------------------------------------------------


def _source(source: Services | Workbook, sheet_zone: tzinfo | None) -> tuple[Any, Workbook, tzinfo, str]:
    """``(services or None, workbook, zone of the sheet's times, default broker)`` of the report's source."""
    services: Any = source if hasattr(source, "workbook") and hasattr(source, "store") else None
    workbook: Workbook = services.workbook if services is not None else source  # type: ignore[assignment]
    cell_zone: tzinfo = sheet_zone or (services.settings.zone if services is not None else UTC)
    default_broker = services.brokers.default if services is not None else "paper"
    return services, workbook, cell_zone, default_broker


def _risk_free_rate(settings: Table, problems: list[str]) -> float:
    """The Settings tab's ``risk_free_rate`` (annual fraction, 0 when unset); its problems go to ``problems``."""
    runtime, setting_problems = parse_runtime_settings(list(settings.rows))
    problems += [f"Settings: {text}" for text in setting_problems if "risk_free_rate" in text]
    return float(getattr(runtime, "risk_free_rate", 0.0) or 0.0)


@dataclass(frozen=True)
class _Accounts:
    """The accounts in the report and the calendar their kind gives (see the module docstring)."""

    snapshots: list[Snapshot]
    flows: list[CashFlow]
    names: list[str]  # "broker/account" of each account, in Snapshots order
    kind: str  # "stock" or "crypto"
    periods_per_year: float
    weekdays_only: bool
    day_zone: tzinfo


def _accounts(
    tables: Mapping[str, Table],
    cell_zone: tzinfo,
    default_broker: str,
    brokers: list[str] | None,
    zone: tzinfo | None,
    periods_per_year: float | None,
    problems: list[str],
) -> _Accounts:
    """Read Snapshots (unusable rows left out, described in ``problems``) and CashFlows; pick the calendar.

    Raises:
        ConfigError: an unusable CashFlows row.
    """
    snapshot_errors: list[str] = []
    snapshots = read_snapshots(tables["Snapshots"], zone=cell_zone, errors=snapshot_errors)
    problems += [f"{text} (row left out)" for text in snapshot_errors]
    if brokers is not None:
        snapshots = [item for item in snapshots if item.broker in brokers]
    account_names = list(dict.fromkeys(f"{item.broker}/{item.account}" for item in snapshots))
    kinds = account_kinds(dict.fromkeys(item.broker for item in snapshots), tables["Orders"], default_broker)
    kind = "crypto" if "crypto" in kinds.values() else "stock"
    if periods_per_year is None:
        periods_per_year = 252.0 if kind == "stock" else 365.0
    day_zone: tzinfo = zone or (NEW_YORK if kind == "stock" else UTC)
    try:
        flows = read_cash_flows(tables["CashFlows"], zone=cell_zone, date_zone=day_zone)
    except ValueError as exc:
        raise ConfigError(str(exc), field="CashFlows") from None
    return _Accounts(snapshots, flows, account_names, kind, periods_per_year, periods_per_year < 365, day_zone)


# --------------------------------------------------------------------------------------------
# Returns and risk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Returns:
    """The report's returns: last day, daily table, daily returns, period returns, risk metrics."""

    as_of: date | None
    daily: pd.DataFrame
    returns: pd.Series
    periods: list[PeriodReturn]
    risk: RiskMetrics | None


def _returns(
    accounts: _Accounts, brokers: list[str] | None, as_of: date | None, risk_free_rate: float, problems: list[str]
) -> _Returns:
    """Daily TWR table, period returns and risk metrics of the combined accounts up to ``as_of``."""
    day_zone, weekdays_only = accounts.day_zone, accounts.weekdays_only
    equity, moves = portfolio_equity(accounts.snapshots, accounts.flows, zone=day_zone, brokers=brokers)
    if as_of is None and equity:
        as_of = equity[-1][0].astimezone(day_zone).date()
    if as_of is not None:
        equity = [point for point in equity if point[0].astimezone(day_zone).date() <= as_of]
        moves = [move for move in moves if move[0].astimezone(day_zone).date() <= as_of]
    daily = daily_twr(equity, moves, zone=day_zone, weekdays_only=weekdays_only)
    daily["pnl"] = daily["equity"] - daily["equity"].shift(1) - daily["inflow"] + daily["outflow"]
    peaks = daily["growth"].cummax().clip(lower=1.0)
    daily["drawdown"] = daily["growth"] / peaks - 1.0
    returns = daily["return"].iloc[1:]
    if not equity:
        problems.append(
            f"no Snapshots on or before {as_of}"
            if accounts.snapshots
            else "no Snapshots yet: returns and risk need the snapshot job (python -m bot snapshot)"
        )
        periods = [PeriodReturn(label, None, None, False, *(None,) * 9) for label in PERIODS]
    else:
        periods = period_returns(equity, moves, as_of=as_of or date.today(), zone=day_zone, weekdays_only=weekdays_only)
    risk = _risk(daily, returns, accounts, risk_free_rate, problems)
    return _Returns(as_of, daily, returns, periods, risk)


def _risk(
    daily: pd.DataFrame, returns: pd.Series, accounts: _Accounts, risk_free_rate: float, problems: list[str]
) -> RiskMetrics | None:
    """:func:`~bot.analytics.risk_metrics.risk_metrics` of ``returns`` (None without any), with a
    problem when the Snapshots leave gaps (the annualised figures assume one return per day)."""
    weekdays_only = accounts.weekdays_only
    risk = (
        risk_metrics(returns, periods_per_year=accounts.periods_per_year, risk_free_annual=risk_free_rate)
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
    return risk


def _benchmark(
    services: Any,
    benchmark_csv: Path | str | None,
    benchmark_symbol: str,
    daily: pd.DataFrame,
    returns: pd.Series,
    progress: bool,
    problems: list[str],
) -> tuple[pd.Series | None, str, BenchmarkComparison | None]:
    """Benchmark closes (CSV first, else fetched with services), their name, and the comparison.

    Raises:
        ConfigError: an unusable benchmark file.
    """
    closes: pd.Series | None = None
    bench_name = ""
    if benchmark_csv is not None:
        closes = read_benchmark_csv(benchmark_csv)
        bench_name = str(closes.name)
    elif services is not None and len(daily) >= 2:
        closes, bench_name = fetch_benchmark(services, benchmark_symbol, daily.index, progress, problems)
    comparison: BenchmarkComparison | None = None
    if closes is not None and len(daily) >= 2:
        bench = benchmark_returns(closes, daily.index)
        comparison = benchmark_comparison(returns, bench)
        if comparison.days == 0:
            problems.append(f"benchmark {bench_name}: no closes on the account's valuation days")
            comparison = None
    return closes, bench_name, comparison


# --------------------------------------------------------------------------------------------
# Trades and files
# --------------------------------------------------------------------------------------------


def _write_csv(path: Path, headers: list[str], rows: list[dict[str, str]]) -> Path:
    """Write ``rows`` under ``headers`` to ``path`` (UTF-8, ``\\n`` line ends, extra keys ignored)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _is_manual(record: dict[str, str]) -> bool:
    """A Trades row a user typed: no ``order_ids``."""
    return not (record.get("order_ids") or "").strip()


def _trips(services: Any, table: Table, zone: tzinfo, problems: list[str]) -> list[RoundTrip]:
    """Bot trips from the state DB's fills (services) plus manual Trades rows; else every Trades row."""
    trips: list[RoundTrip] = []
    if services is not None:
        trips.extend(round_trips(services.store.fills()))
    for index, record in enumerate(table.rows):
        if not (record.get("symbol") or "").strip():
            continue
        if services is not None and not _is_manual(record):
            continue
        try:
            trips.append(trade_from_record(record, zone=zone))
        except ValueError as exc:
            problems.append(f"Trades row {index + 2} left out: {exc}")
    return trips


def _write_files(out: Path, tables: Mapping[str, Table], daily: pd.DataFrame) -> dict[str, Path]:
    """``<tab>.csv`` of each of :data:`CSV_TABS` as in the workbook, and ``Returns.csv`` (the daily table)."""
    files: dict[str, Path] = {}
    for tab in CSV_TABS:
        table = tables[tab]
        files[tab] = _write_csv(out / f"{tab}.csv", table.headers, table.rows)
    returns_table = daily.reset_index()
    returns_table["day"] = returns_table["day"].dt.date
    returns_table.to_csv(out / "Returns.csv", index=False, lineterminator="\n")
    files["Returns"] = out / "Returns.csv"
    return files


def _draw_charts(
    out: Path,
    daily: pd.DataFrame,
    closes: pd.Series | None,
    bench_name: str,
    trips: list[RoundTrip],
    day_zone: tzinfo,
    problems: list[str],
) -> dict[str, Path]:
    """The PNG charts: all three with 2 valuation days, else a calendar of realised P&L when there are trades."""
    charts: dict[str, Path] = {}
    if len(daily) >= 2:
        charts["equity"] = equity_chart(daily, out / "equity_drawdown.png")
        charts["benchmark"] = benchmark_chart(daily, closes, bench_name, out / "twr_vs_benchmark.png")
        charts["calendar"] = calendar_chart(daily["pnl"].iloc[1:], "Daily P&L (equity change net of flows)",
                                            out / "calendar_pnl.png")  # fmt: skip
    elif trips:
        stats = daily_trade_stats(trips, zone=day_zone)
        series = pd.Series(stats["pnl"].astype(float).to_numpy(), index=pd.DatetimeIndex(stats.index))
        charts["calendar"] = calendar_chart(series, "Realised P&L per day (no Snapshots yet)", out / "calendar_pnl.png")
        problems.append("equity charts need Snapshots on at least 2 days")
    return charts


def _summary(
    accounts: _Accounts,
    figures: _Returns,
    risk_free_rate: float,
    comparison: BenchmarkComparison | None,
    bench_name: str,
    records: list[dict[str, str]],
    out: Path,
    files: dict[str, Path],
    charts: dict[str, Path],
    problems: list[str],
) -> ReportSummary:
    """The :class:`~bot.report.summary.ReportSummary` of what :func:`build_report` computed and wrote."""
    return ReportSummary(
        generated_at=utc_now(),
        as_of=figures.as_of,
        accounts=accounts.names,
        kind=accounts.kind,
        periods_per_year=accounts.periods_per_year,
        weekdays_only=accounts.weekdays_only,
        zone=str(getattr(accounts.day_zone, "key", accounts.day_zone)),
        risk_free_rate=risk_free_rate,
        periods=figures.periods,
        risk=figures.risk,
        benchmark=comparison,
        benchmark_name=bench_name if comparison is not None else "",
        per_symbol=[row for row in records if not row["timeframe"]],
        daily=figures.daily,
        out_dir=out,
        files=files,
        charts=charts,
        problems=problems,
    )
