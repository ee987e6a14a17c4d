"""Calendar: a month grid coloured by daily P&L, weekly and monthly totals; a day's trades on click."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from app_pages import _charts, _data, _ui
from bot.dashboard.formatting import format_money, format_pct
from bot.dashboard.month_calendar import day_trades, month_grid, month_totals, week_totals

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _shift(year: int, month: int, step: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + step
    return index // 12, index % 12 + 1


def render() -> None:
    """The Calendar page: month picker, month totals, the day grid, a picked day's trades, week totals."""
    st.title("Calendar")
    view = _data.trades()
    currency = _data.portfolio().currency
    daily = _data.daily_stats()
    year, month = _pick_month(daily)
    _month_kpis(month_totals(daily, year, month), year, month, currency)
    if view.empty:
        _ui.empty_state(
            "No closed trade yet: the calendar fills in as trades close.",
            hint="Each day is coloured by the P&L of the trades that closed that day.",
        )
    grid = month_grid(daily, year, month)
    weeks = week_totals(grid)
    event = st.altair_chart(
        _charts.calendar_grid(grid, weeks, currency),
        width="stretch",
        on_select="rerun",
        key=f"cal_chart_{year}_{month}",
    )
    chosen = _pick_day(daily, year, month, _clicked_day(event))
    if chosen is not None:
        _day_trades(view.frame, chosen, currency)
    _week_table(weeks, currency)


def _pick_month(daily: pd.DataFrame) -> tuple[int, int]:
    """Previous / Next buttons and a month select box (months with trades); returns ``(year, month)``."""
    if "cal_month" not in st.session_state:
        latest = max(daily.index) if len(daily) else _data.today()
        st.session_state["cal_month"] = (latest.year, latest.month)
    year, month = st.session_state["cal_month"]

    left, middle, right = st.columns([1, 3, 1])
    if left.button("Previous", icon=":material/chevron_left:", key="cal_prev", width="stretch"):
        year, month = _shift(year, month, -1)
    if right.button("Next", icon=":material/chevron_right:", icon_position="right", key="cal_next", width="stretch"):
        year, month = _shift(year, month, 1)
    months = sorted({(d.year, d.month) for d in daily.index} | {(year, month)}, reverse=True)
    picked = middle.selectbox(
        "Month",
        months,
        index=months.index((year, month)),
        key=f"cal_pick_{year}_{month}",
        format_func=lambda ym: f"{MONTHS[ym[1] - 1]} {ym[0]}",
        label_visibility="collapsed",
    )
    year, month = picked
    st.session_state["cal_month"] = (year, month)
    return year, month


def _month_kpis(totals: dict[str, Any], year: int, month: int, currency: str) -> None:
    """The month's P&L, trades, win rate and green days (:func:`~bot.dashboard.month_calendar.month_totals`)."""
    cols = st.columns(4)
    _ui.money_kpi(f"{MONTHS[month - 1]} {year}", totals["pnl"], currency, sub="realised P&L", where=cols[0])
    _ui.kpi(
        "Trades",
        str(totals["trades"]),
        sub=f"on {totals['days']} day{'s' if totals['days'] != 1 else ''}",
        where=cols[1],
    )
    _ui.kpi(
        "Win rate",
        format_pct(totals["win_rate"], fraction=False, signed=False),
        where=cols[2],
        sub=f"{totals['wins']} won · {totals['losses']} lost",
    )
    _ui.kpi("Green days", f"{totals['green_days']} / {totals['days']}", where=cols[3])


def _pick_day(daily: pd.DataFrame, year: int, month: int, clicked: date | None) -> date | None:
    """The day whose trades are listed: a new click on the grid picks it, or the Day select box does."""
    trading_days = sorted(d for d in daily.index if d.year == year and d.month == month)
    day_key = f"cal_day_{year}_{month}"
    if clicked != st.session_state.get("cal_last_click") and clicked in trading_days:
        st.session_state[day_key] = clicked  # a new click on the chart picks the day
    st.session_state["cal_last_click"] = clicked
    st.caption("Click a day to list its trades (double-click clears), or pick it here:")
    options: list[date | None] = [None, *trading_days]
    return st.selectbox(
        "Day",
        options,
        key=day_key,
        format_func=lambda d: "—" if d is None else f"{d:%a %d %b %Y}",
        label_visibility="collapsed",
    )


def _day_trades(frame: pd.DataFrame, chosen: date, currency: str) -> None:
    """The trades that closed on ``chosen``, with their total P&L."""
    trades = day_trades(frame, chosen).sort_values("exit_at")
    pnl = float(trades["pnl"].sum())
    st.subheader(
        f"{chosen:%A %d %B %Y}: {len(trades)} trade{'s' if len(trades) != 1 else ''}, "
        f"{format_money(pnl, currency, signed=True)}"
    )
    st.dataframe(
        _ui.coloured(
            trades[
                [
                    "exit_at",
                    "symbol",
                    "timeframe",
                    "side",
                    "qty",
                    "entry_price",
                    "exit_price",
                    "pnl",
                    "pnl_pct",
                    "setup",
                    "tags",
                    "notes",
                ]
            ],
            ["pnl", "pnl_pct"],
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "exit_at": _ui.time_column("Exit"),
            "pnl": _ui.money_column("P&L", currency),
            "pnl_pct": st.column_config.NumberColumn("P&L %", format="%+.2f %%"),
        },
    )


def _week_table(weeks: pd.DataFrame, currency: str) -> None:
    """Totals of the weeks of the month that have trades."""
    st.subheader("Weeks")
    if weeks["trades"].sum() == 0:
        st.caption("No trade closed this month.")
    else:
        shown = weeks[weeks["trades"] > 0].drop(columns=["week"])
        st.dataframe(
            _ui.coloured(shown, ["pnl"]),
            hide_index=True,
            width="stretch",
            column_config={
                "pnl": _ui.money_column("P&L", currency),
                "win_rate": st.column_config.NumberColumn("Win rate", format="%.1f %%"),
            },
        )


def _clicked_day(event: object) -> date | None:
    selection = getattr(event, "selection", None) or {}
    points = selection.get("day") if hasattr(selection, "get") else None
    if not points:
        return None
    value = points[0].get("date") if isinstance(points[0], dict) else None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


_ui.guarded(render)
