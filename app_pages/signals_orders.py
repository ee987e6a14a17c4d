"""Signals & Orders: the latest alerts with their result, reason and latency, and the orders placed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _data, _ui
from bot.dashboard.activity import latency_summary

BAD_RESULTS = ("rejected", "failed", "blocked")
BAD_STATUSES = ("rejected", "failed", "canceled", "expired")


def _colour(value: str) -> str:
    if value in ("success", "filled"):
        return f"color: {_ui.GREEN}"
    if value in BAD_RESULTS or value in BAD_STATUSES:
        return f"color: {_ui.RED}"
    if value in ("skipped", "duplicate", "pending", "submitted", "queued", "partially_filled"):
        return "color: #9a6700"
    return ""


def _styled(frame: pd.DataFrame, column: str) -> object:
    return frame.style.map(_colour, subset=[column]) if len(frame) <= _ui.STYLE_MAX_ROWS else frame


def render() -> None:
    st.title("Signals & Orders")
    signals, orders = _data.signals(), _data.orders()
    if signals.empty and orders.empty:
        _ui.empty_state(
            "No signal received yet.",
            hint="Every alert the webhook receives is listed here with its result and latency, and every order "
            "with its status. `make run` prints a curl command that sends a test alert.",
        )
        return
    a, b, c = st.columns([2, 2, 1])
    symbols = a.multiselect(
        "Symbol",
        sorted(s for s in set(signals["symbol"]) | set(orders["symbol"]) if s),
        key="so_symbols",
        placeholder="All symbols",
    )
    problems_only = b.toggle("Only problems (rejected, failed, blocked …)", key="so_problems")
    limit = c.selectbox("Rows", [50, 200, 1000, 5000], index=1, key="so_limit")

    st.subheader("Signals")
    shown = signals
    if symbols:
        shown = shown[shown["symbol"].isin(symbols)]
    if problems_only:
        shown = shown[shown["result"].isin([*BAD_RESULTS, "skipped"])]
    stats = latency_summary(shown["latency_ms"])
    counts = shown["result"].value_counts()
    cols = st.columns(5)
    _ui.kpi(
        "Signals", f"{len(shown):,}", sub=" · ".join(f"{k} {v}" for k, v in counts.items()) or "none", where=cols[0]
    )
    _ui.kpi("Success", f"{counts.get('success', 0):,}", colour=_ui.GREEN, where=cols[1])
    for column, label, name in (
        (cols[2], "Latency p50", "p50"),
        (cols[3], "Latency p95", "p95"),
        (cols[4], "Latency max", "max"),
    ):
        value = stats[name]
        _ui.kpi(label, f"{value:,.1f} ms" if value is not None else "–", where=column, sub="receipt → reply")
    if shown.empty:
        st.caption("No signal matches.")
    else:
        st.dataframe(
            _styled(shown.head(int(limit)), "result"),
            hide_index=True,
            width="stretch",
            column_config=_ui.signal_columns(),
        )

    st.subheader("Orders")
    picked = orders
    if symbols:
        picked = picked[picked["symbol"].isin(symbols)]
    if problems_only:
        picked = picked[picked["status"].isin(BAD_STATUSES)]
    if picked.empty:
        st.caption("No order matches." if len(orders) else "No order placed yet.")
    else:
        fills = latency_summary(picked["fill_seconds"] * 1000.0)
        st.caption(
            f"{len(picked):,} orders · "
            + " · ".join(f"{k} {v}" for k, v in picked["status"].value_counts().items())
            + (f" · submit → fill p50 {fills['p50'] / 1000:.2f} s" if fills["p50"] is not None else "")
        )
        st.dataframe(
            _styled(picked.head(int(limit)), "status"),
            hide_index=True,
            width="stretch",
            column_config={
                "submitted_at": _ui.time_column("Submitted"),
                "filled_at": _ui.time_column("Filled"),
                "fill_seconds": st.column_config.NumberColumn("Fill time (s)", format="%.2f"),
                "notional": st.column_config.NumberColumn("Notional", format="%,.2f"),
                "filled_avg_price": st.column_config.NumberColumn("Fill price", format="%.4f"),
            },
        )


_ui.guarded(render)
