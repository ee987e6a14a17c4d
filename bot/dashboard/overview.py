"""The Overview page's data: headline figures, bot health and open positions.

Figures come from the :mod:`bot.analytics` modules on the typed views
(:class:`~bot.dashboard.trades.TradesView`, :class:`~bot.dashboard.portfolio.PortfolioView`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import pandas as pd

from bot.analytics.returns import PeriodReturn, daily_returns, period_returns
from bot.analytics.risk_metrics import max_drawdown
from bot.analytics.trade_stats import TradeStats, summarise
from bot.dashboard.formatting import UTC, cell_decimal, parse_time_or_none
from bot.dashboard.portfolio import PortfolioView
from bot.dashboard.trades import TradesView
from bot.records import Table


@dataclass(frozen=True)
class OverviewFigures:
    """The Overview page's headline numbers.

    Attributes:
        currency: account currency (latest snapshot, else ``USD``).
        equity / equity_at: latest total equity (exact) and its time (UTC); None without snapshots.
        today_pnl: today's P&L (exact): from equity when there are snapshots today and before
            (``V_today − V_previous day − net flows in between``), else the realised P&L of the
            trades closed today; ``today_source`` says which (``equity``, ``trades``).
        periods: :func:`bot.analytics.returns.period_returns` as of today (empty without snapshots).
        stats: :func:`bot.analytics.trade_stats.summarise` of every trade.
        max_drawdown: :func:`bot.analytics.risk_metrics.max_drawdown` of the daily TWR returns (None without).
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
        signals: :func:`~bot.dashboard.activity.signals_frame` (newest first).
        now: the current time (tz-aware), for "x minutes ago".
    """
    last: datetime | None = None
    if len(signals) and not pd.isna(signals["received_at"].iloc[0]):
        last = signals["received_at"].iloc[0].to_pydatetime()
    if body is not None:
        raw_last = body.get("last_signal_at")
        if raw_last:
            parsed = parse_time_or_none(str(raw_last), UTC)
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
        qty = cell_decimal(record.get("Position"))
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
