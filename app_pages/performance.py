"""Performance: statistics per symbol / timeframe, long vs short, weekday × hour heatmap, best and worst."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_pages import _charts, _data, _ui
from bot.analytics.calendar import pnl_by_hour, pnl_by_weekday
from bot.dashboard.trade_stats import best_worst_trades, group_stats, weekday_hour_heatmap


def render() -> None:
    st.title("Performance")
    view = _data.trades()
    currency = _data.portfolio().currency
    if view.empty:
        _ui.empty_state(
            "No closed trade yet, so there is nothing to break down.",
            hint="Statistics appear once the Trades tab has round trips (the bot recomputes it every few minutes).",
        )
        _ui.problems(view.problems, "Trades rows")
        return
    symbols = st.multiselect(
        "Symbols", sorted(view.frame["symbol"].unique()), key="p_symbols", placeholder="All symbols"
    )
    mask = view.frame["symbol"].isin(symbols).to_numpy() if symbols else [True] * len(view.frame)
    frame, trips = view.subset(mask)
    zone = _data.zone()

    st.subheader("By symbol and timeframe")
    labels = {"symbol": "Symbol", "timeframe": "Timeframe", "symbol+timeframe": "Symbol + timeframe"}
    by = st.radio("Group by", list(labels), format_func=labels.get, horizontal=True, key="p_group")
    table = group_stats(trips, by)  # type: ignore[arg-type]
    st.dataframe(
        _ui.coloured(table, ["total_pnl", "avg_pnl", "expectancy"]),
        hide_index=True,
        width="stretch",
        column_config=_stats_columns(currency),
    )

    st.subheader("Long vs short")
    sides = group_stats(trips, "side")
    left, right = st.columns([3, 2])
    left.dataframe(
        _ui.coloured(sides, ["total_pnl", "avg_pnl", "expectancy"]),
        hide_index=True,
        width="stretch",
        column_config=_stats_columns(currency),
    )
    right.altair_chart(
        _charts.signed_bars(sides.rename(columns={"total_pnl": "pnl"}), "side", title="Side", currency=currency),
        width="stretch",
    )

    st.subheader("When: P&L by weekday and hour of entry")
    st.caption(f"Entry times in {zone.key}.")
    st.altair_chart(_charts.heatmap(weekday_hour_heatmap(trips, zone), currency), width="stretch")
    left, right = st.columns(2)
    weekdays = pnl_by_weekday(trips, zone=zone).reset_index()
    weekdays["pnl"] = weekdays["pnl"].astype(float)
    hours = pnl_by_hour(trips, zone=zone).reset_index()
    hours["pnl"] = hours["pnl"].astype(float)
    left.altair_chart(
        _charts.signed_bars(weekdays, "weekday", title="Weekday", currency=currency, sort=list(weekdays["weekday"])),
        width="stretch",
    )
    right.altair_chart(_charts.signed_bars(hours, "hour", title="Hour", currency=currency), width="stretch")

    st.subheader("Best and worst trades")
    best, worst = best_worst_trades(frame, 10)
    columns = ["exit_at", "symbol", "timeframe", "side", "pnl", "pnl_pct", "qty", "entry_price", "exit_price",
               "setup", "tags"]  # fmt: skip
    config = {
        "exit_at": _ui.time_column("Exit"),
        "pnl": _ui.money_column("P&L", currency),
        "pnl_pct": st.column_config.NumberColumn("P&L %", format="%+.2f %%"),
        "qty": st.column_config.NumberColumn("Qty", format="%g"),
        "entry_price": st.column_config.NumberColumn("Entry", format="%.4f"),
        "exit_price": st.column_config.NumberColumn("Exit", format="%.4f"),
    }
    left, right = st.columns(2)
    left.markdown("**Best**")
    left.dataframe(
        _ui.coloured(best[columns], ["pnl", "pnl_pct"]), hide_index=True, width="stretch", column_config=config
    )
    right.markdown("**Worst**")
    right.dataframe(
        _ui.coloured(worst[columns], ["pnl", "pnl_pct"]), hide_index=True, width="stretch", column_config=config
    )
    _ui.problems(view.problems, "Trades rows")


def _stats_columns(currency: str) -> dict[str, Any]:
    number = st.column_config.NumberColumn
    return {
        "win_rate": number("Win rate", format="%.1f %%"),
        "total_pnl": _ui.money_column("P&L", currency),
        "avg_pnl": _ui.money_column("Avg trade", currency),
        "expectancy": _ui.money_column("Expectancy", currency),
        "best": _ui.money_column("Best", currency),
        "worst": _ui.money_column("Worst", currency),
        "max_drawdown": _ui.money_column("Max drawdown", currency, signed=False),
        "fees": _ui.money_column("Fees", currency, signed=False),
        "profit_factor": number("Profit factor", format="%.2f"),
        "payoff_ratio": number("Payoff", format="%.2f"),
        "avg_holding": st.column_config.TextColumn("Avg holding"),
    }


_ui.guarded(render)
