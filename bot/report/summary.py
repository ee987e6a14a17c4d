"""What the report computed (:class:`ReportSummary`) and its printable text.

:meth:`ReportSummary.text` is what ``python -m bot report`` prints and writes to ``report.txt``;
:attr:`ReportSummary.attachments` are the charts the e-mail summary attaches. Percentages are
printed with 2 decimals, money with thousands separators, ``—`` where a figure is undefined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bot.analytics.returns import PeriodReturn
from bot.analytics.risk_metrics import BenchmarkComparison, RiskMetrics

__all__ = ["ReportSummary"]


def _pct(value: float | None, places: int = 2) -> str:
    """A fraction as ``"12.34 %"``; ``—`` for None or NaN."""
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.{places}f} %"


def _num(value: float | None, places: int = 2) -> str:
    """A number with ``places`` decimals; ``—`` for None or NaN."""
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{places}f}"


def _money(value: Decimal | None) -> str:
    """Money as ``"1,234.50"``; ``—`` for None."""
    return "—" if value is None else f"{value:,.2f}"


@dataclass
class ReportSummary:
    """What :func:`bot.report.build.build_report` computed and wrote.

    Attributes:
        generated_at: when the report was built (UTC).
        as_of: last day covered (local day in ``zone``), None without snapshots.
        accounts: ``"broker/account"`` of each account in the equity curve.
        kind: ``"stock"`` or ``"crypto"`` (``"crypto"`` as soon as one account is).
        periods_per_year / weekdays_only / zone: the calendar used for returns and risk.
        risk_free_rate: annual fraction used for Sharpe and Sortino.
        periods: :class:`~bot.analytics.returns.PeriodReturn` per label of :data:`bot.analytics.returns.PERIODS`.
        risk: :class:`~bot.analytics.risk_metrics.RiskMetrics` of the daily returns (None without 2 valuation days).
        benchmark / benchmark_name: :class:`~bot.analytics.risk_metrics.BenchmarkComparison` and what it was
            compared with (file stem or symbol); None / ``""`` without a benchmark.
        per_symbol: Performance records (:func:`bot.analytics.trade_records.performance_records`) of each
            symbol and the ``TOTAL`` row (timeframe rows left out).
        daily: daily table: :func:`bot.analytics.returns.daily_twr` columns plus ``pnl`` (equity change net
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
        """The :class:`~bot.analytics.returns.PeriodReturn` called ``label`` (``"inception"``, ``"YTD"``, …)."""
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
    """A drawdown label: the ISO day of a timestamp, else its text."""
    return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value)


def _cell_money(text: str) -> str:
    """A money cell of the Performance records with thousands separators; ``—`` when blank."""
    if not text:
        return "—"
    try:
        return f"{Decimal(text):,.2f}"
    except ArithmeticError:
        return text
