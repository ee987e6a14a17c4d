"""Overview: equity and drawdown, today's and period P&L, TWR, win rate, positions, bot health, signals."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from app_pages import _charts, _data, _ui
from bot.dashboard.formatting import PERIOD_LABELS, format_money, format_pct
from bot.dashboard.overview import OverviewFigures, open_positions
from bot.dashboard.trades import TradesView


def render() -> None:
    """The Overview page: bot health, headline figures, TWR per period, equity chart, positions, signals."""
    st.title("Overview")
    figures, curve = _data.overview()
    trades = _data.trades()
    portfolio = _data.portfolio()
    signals = _data.signals()
    health = _data.health()
    currency = figures.currency
    zone = _data.zone()

    colour = {"ok": _ui.GREEN, "degraded": "#bf8700", "unreachable": _ui.RED}.get(health.state, _ui.GREY)
    _ui.kpi("Bot health", health.state.upper(), colour=colour, sub=health.text)

    if trades.empty and portfolio.empty and signals.empty:
        _ui.empty_state(
            "Nothing to show yet: the workbook has no trades, equity snapshots or signals.",
            hint="Start the bot with `make run` and send the test alert it prints, or replay the example stream: "
            "`python -m bot replay examples/alerts/ma_cross.jsonl --url http://127.0.0.1:8080/webhook`, then "
            "`python -m bot performance`.",
        )
        return

    _headline(figures, zone)
    _twr_periods(figures, zone)
    _equity_chart(curve, trades, currency)
    left, right = st.columns([2, 3])
    with left:
        _open_positions()
    with right:
        _latest_signals(signals)
    _ui.problems([*trades.problems, *portfolio.problems], "rows")


def _headline(figures: OverviewFigures, zone: ZoneInfo) -> None:
    """Equity, today's and total P&L, win rate, profit factor and max drawdown in one row."""
    stats = figures.stats
    currency = figures.currency
    row = st.columns(6)
    if figures.equity is not None and figures.equity_at is not None:
        _ui.kpi(
            "Equity",
            format_money(figures.equity, currency),
            sub=f"at {figures.equity_at.astimezone(zone):%Y-%m-%d %H:%M}",
            where=row[0],
        )
    else:
        _ui.kpi("Equity", "–", sub="no snapshot yet", where=row[0])
    source = "equity change" if figures.today_source == "equity" else "trades closed today"
    _ui.money_kpi("Today's P&L", figures.today_pnl, currency, sub=source, where=row[1])
    _ui.money_kpi("Total realised P&L", stats.total_pnl, currency, sub=f"{stats.total_trades} trades", where=row[2])
    _ui.kpi(
        "Win rate",
        format_pct(stats.win_rate, fraction=False, signed=False) if stats.win_rate is not None else "–",
        sub=f"{stats.winning_trades} won · {stats.losing_trades} lost",
        where=row[3],
    )
    _ui.kpi(
        "Profit factor",
        f"{stats.profit_factor:.2f}" if stats.profit_factor is not None else "–",
        sub="gross profit / gross loss",
        where=row[4],
    )
    drawdown = format_pct(figures.max_drawdown) if figures.max_drawdown is not None else "–"
    _ui.kpi(
        "Max drawdown (TWR)",
        drawdown,
        colour=_ui.RED if figures.max_drawdown else None,
        sub="from equity snapshots",
        where=row[5],
    )


def _twr_periods(figures: OverviewFigures, zone: ZoneInfo) -> None:
    """TWR of the 7d, 30d, 90d, YTD and inception periods, and a warning when the snapshots are stale."""
    currency = figures.currency
    st.subheader("Time-weighted return")
    if figures.periods:
        wanted = [p for p in figures.periods if p.label in ("7d", "30d", "90d", "YTD", "inception")]
        for column, period in zip(st.columns(len(wanted)), wanted, strict=True):
            note = "" if period.complete else " (since start)"
            _ui.kpi(
                f"TWR {PERIOD_LABELS[period.label]}{note}",
                format_pct(period.twr),
                colour=_ui.sign_colour(period.twr),
                sub=f"P&L {format_money(period.pnl, currency, signed=True)}",
                where=column,
            )
        if figures.equity_at is not None:
            age = (_data.today() - figures.equity_at.astimezone(zone).date()).days
            if age > 2:
                st.caption(
                    f"The latest equity snapshot is {age:,} days old ({figures.equity_at.astimezone(zone):%Y-%m-%d}): "
                    "periods end today, so the recent ones show no change. Is the bot's snapshot job running?"
                )
    else:
        st.caption("TWR needs equity snapshots (the Snapshots tab is empty).")


def _equity_chart(curve: pd.DataFrame, trades: TradesView, currency: str) -> None:
    """Equity and drawdown from the snapshots, else the journal's cumulative realised P&L."""
    st.subheader("Equity and drawdown")
    if len(curve) >= 2:
        st.altair_chart(_charts.equity_drawdown(curve, currency), width="stretch")
    elif not trades.empty:
        st.caption("No equity snapshots yet: showing the cumulative realised P&L of the journal instead.")
        st.altair_chart(_charts.cumulative_pnl(trades.frame, currency), width="stretch")
    else:
        st.caption("The chart appears once there are equity snapshots or closed trades.")


def _open_positions() -> None:
    """Slots with a position (the Config tab's bot-owned Position column)."""
    st.subheader("Open positions")
    positions = open_positions(_data.table("Config"))
    if positions.empty:
        st.caption("No open position (every Config row is flat).")
    else:
        st.dataframe(positions, hide_index=True, width="stretch")


def _latest_signals(signals: pd.DataFrame) -> None:
    """The ten newest signals, results coloured."""
    st.subheader("Latest signals")
    if signals.empty:
        st.caption("No signal received yet.")
    else:
        latest = signals.head(10)[
            ["received_at", "symbol", "timeframe", "action", "price", "result", "reason", "latency_ms"]
        ]
        st.dataframe(
            latest.style.map(_result_colour, subset=["result"]),
            hide_index=True,
            width="stretch",
            column_config=_ui.signal_columns(),
        )


def _result_colour(value: str) -> str:
    if value == "success":
        return f"color: {_ui.GREEN}"
    if value in ("rejected", "failed", "blocked"):
        return f"color: {_ui.RED}"
    return ""


_ui.guarded(render)
