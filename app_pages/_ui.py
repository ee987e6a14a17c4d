"""Small UI helpers shared by the pages: KPI cards, sign colours, empty states, error banners."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from app_pages import _data
from bot.dashboard.formatting import format_money

GREEN = "#1a7f37"
RED = "#cf222e"
GREY = "#6e7781"
#: Tables with more rows than this are shown without per-cell colours (styling 10,000 rows is slow).
STYLE_MAX_ROWS = 3000

_CSS = """
<style>
.kpi {border: 1px solid rgba(128,128,128,.25); border-radius: .5rem; padding: .55rem .8rem; margin-bottom: .5rem;}
.kpi-label {font-size: .8rem; opacity: .75;}
.kpi-value {font-size: 1.2rem; font-weight: 600; line-height: 1.6; white-space: nowrap;}
.kpi-sub {font-size: .75rem; opacity: .7;}
</style>
"""


def sign_colour(value: float | Decimal | None) -> str:
    """Green for gains, red for losses, grey for zero/unknown."""
    if value is None:
        return GREY
    number = float(value)
    if number != number or number == 0:  # NaN or zero
        return GREY
    return GREEN if number > 0 else RED


def kpi(label: str, value: str, *, colour: str | None = None, sub: str = "", where: Any = None) -> None:
    """A KPI card: small label, big value (optionally coloured), optional sub-line."""
    target = where or st
    style = f' style="color:{colour}"' if colour else ""
    sub_html = f'<div class="kpi-sub">{html.escape(sub)}</div>' if sub else ""
    target.markdown(
        f'{_CSS}<div class="kpi"><div class="kpi-label">{html.escape(label)}</div>'
        f'<div class="kpi-value"{style}>{html.escape(value)}</div>{sub_html}</div>',
        unsafe_allow_html=True,
    )


def money_kpi(label: str, amount: Decimal | float | None, currency: str, *, sub: str = "", where: Any = None) -> None:
    """A KPI card with a signed amount of money coloured by its sign."""
    kpi(label, format_money(amount, currency, signed=True), colour=sign_colour(amount), sub=sub, where=where)


def money_md(amount: Decimal | float | None, currency: str) -> str:
    """Markdown of a signed amount coloured by its sign (``:green[+1.00 USD]``)."""
    text = format_money(amount, currency, signed=True)
    if amount is None or float(amount) == 0:
        return text
    return f":{'green' if float(amount) > 0 else 'red'}[{text}]"


def empty_state(message: str, *, hint: str = "") -> None:
    """A friendly notice for a page (or section) without data."""
    st.info(message + (f"\n\n{hint}" if hint else ""), icon=":material/info:")


def problems(items: Sequence[str], what: str) -> None:
    """List rows that could not be read, folded away (never a traceback)."""
    if items:
        with st.expander(f"{len(items)} {what} could not be read"):
            st.markdown("\n".join(f"- {item}" for item in items[:200]))


def coloured(frame: pd.DataFrame, columns: Sequence[str]) -> Any:
    """``frame`` with ``columns`` coloured by sign (a Styler), or the frame itself when large."""
    present = [c for c in columns if c in frame.columns]
    if not present or len(frame) > STYLE_MAX_ROWS:
        return frame

    def colour(value: Any) -> str:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return ""
        if number != number or number == 0:
            return ""
        return f"color: {GREEN if number > 0 else RED}"

    return frame.style.map(colour, subset=present)


def money_column(label: str, currency: str, *, signed: bool = True, help: str | None = None) -> Any:
    """A number column shown as ``+1,234.56 USD``."""
    fmt = "%+,.2f" if signed else "%,.2f"
    return st.column_config.NumberColumn(label, format=f"{fmt} {currency}", help=help)


def time_column(label: str, help: str | None = None) -> Any:
    """A datetime column shown as ``2024-05-01 14:30`` (times are already in BOT_TIMEZONE)."""
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm", help=help)


def flash(message: str, warnings: Sequence[str] = ()) -> None:
    """Keep a success message (and warnings) for the next run, shown by :func:`show_flash` after ``st.rerun()``."""
    st.session_state["_flash"] = (message, list(warnings))


def show_flash() -> None:
    """Show and forget the messages left by :func:`flash`."""
    message, warnings = st.session_state.pop("_flash", (None, []))
    if message:
        st.success(message)
    for warning in warnings:
        st.warning(warning)


def guarded(render: Callable[[], None]) -> None:
    """Run a page body; a workbook outage becomes an error banner instead of a traceback."""
    try:
        render()
    except _data.WorkbookUnavailable as exc:
        st.error(f"{exc}. The page shows data again once the workbook answers; press Refresh to retry.")


def save_batch(batch: Any, problems: Sequence[str], done: str, *, forget: Sequence[str] = ()) -> None:
    """Write ``batch`` (a :class:`bot.records.WriteBatch`) to the workbook and rerun with ``done`` shown.

    An empty batch shows the problems (or "Nothing changed."); a refused write shows the error and keeps
    the page's input. On success the widget keys in ``forget`` are cleared.
    """
    from bot.errors import BotError

    if not batch:
        for problem in problems:
            st.warning(problem)
        if not problems:
            st.info("Nothing changed.")
        return
    try:
        _data.apply(batch)
    except BotError as exc:
        st.error(f"Not saved: {exc}")
        return
    for name in forget:
        st.session_state.pop(name, None)
    flash(done, problems)
    st.rerun()


def signal_columns() -> dict[str, Any]:
    """Column set for tables of Signals rows (time, latency, price)."""
    return {
        "received_at": time_column("Received"),
        "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="%.1f"),
        "price": st.column_config.NumberColumn("Price", format="%.4f"),
    }
