"""Journal: the Trades tab, filterable; notes/tags/rating written back; manual trades; a trade's chart."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from typing import Any

import pandas as pd
import streamlit as st

from app_pages import _charts, _data, _ui
from bot.analytics.trade_stats import summarise
from bot.dashboard.bars import bars_window
from bot.dashboard.formatting import format_money, format_pct
from bot.dashboard.journal import journal_edit_batch, manual_trade_record
from bot.dashboard.trades import filter_trades, trade_tags
from bot.parsing import parse_decimal
from bot.records import WriteBatch

#: Earliest date the manual-trade form accepts (st.date_input defaults to ten years back).
EARLIEST = date(1970, 1, 1)
USER_COLUMNS = ["setup", "tags", "notes", "screenshot_url", "rating"]
SHOWN = [
    "exit_at",
    "symbol",
    "timeframe",
    "side",
    "qty",
    "entry_at",
    "entry_price",
    "exit_price",
    "fees",
    "pnl",
    "pnl_pct",
    "r_multiple",
    "holding_time",
    "exit_reason",
    *USER_COLUMNS,
    "trade_id",
]


def render() -> None:
    st.title("Journal")
    _ui.show_flash()
    view = _data.trades()
    currency = _data.portfolio().currency
    if view.empty:
        _ui.empty_state(
            "The journal is empty: no closed trade in the Trades tab yet.",
            hint="The bot fills it every few minutes from its fills (or now with `python -m bot performance`); "
            "you can also add a trade by hand below.",
        )
        _ui.problems(view.problems, "Trades rows")
        _add_trade_form(currency)
        return

    frame = view.frame
    mask = _filters(frame)
    subset, trips = view.subset(mask)
    order = subset.sort_values("exit_at", ascending=False, kind="stable")
    stats = summarise(trips)

    cols = st.columns(6)
    _ui.kpi("Trades", f"{stats.total_trades:,}", sub=f"of {len(frame):,}", where=cols[0])
    _ui.money_kpi("P&L", stats.total_pnl, currency, sub="net of fees", where=cols[1])
    _ui.kpi(
        "Win rate",
        format_pct(stats.win_rate, fraction=False, signed=False) if stats.win_rate is not None else "–",
        sub=f"{stats.winning_trades} won · {stats.losing_trades} lost",
        where=cols[2],
    )
    _ui.kpi("Profit factor", f"{stats.profit_factor:.2f}" if stats.profit_factor is not None else "–", where=cols[3])
    _ui.money_kpi("Average trade", stats.avg_pnl_per_trade, currency, where=cols[4])
    _ui.kpi("Fees", format_money(stats.total_fees, currency), where=cols[5])

    if order.empty:
        st.info("No trade matches these filters.")
    else:
        mode = st.segmented_control(
            "Mode",
            ["Browse", "Edit notes"],
            default="Browse",
            key="journal_mode",
            help="Browse: click a row to see its chart. Edit notes: type in the grid, then save.",
        )
        display = order[SHOWN].reset_index(drop=True)
        config = _column_config(currency)
        if mode == "Edit notes":
            _edit_grid(order, display, config)
        else:
            event = st.dataframe(
                _ui.coloured(display, ["pnl", "pnl_pct", "r_multiple"]),
                key="journal_table",
                on_select="rerun",
                selection_mode="single-row",
                hide_index=True,
                width="stretch",
                height=420,
                column_config=config,
            )
            rows = event.selection.rows if event is not None else []
            if rows:
                _detail(order.iloc[int(rows[0])], currency)
            else:
                st.caption("Click a row to see the trade's chart and edit its notes.")
    _ui.problems(view.problems, "Trades rows")
    _add_trade_form(currency)


def _filters(frame: pd.DataFrame) -> Any:
    with st.expander("Filters", expanded=True):
        a, b, c, d = st.columns(4)
        symbols = a.multiselect("Symbol", sorted(frame["symbol"].unique()), key="f_symbol")
        timeframes = b.multiselect("Timeframe", sorted(t for t in frame["timeframe"].unique() if t), key="f_tf")
        sides = c.multiselect("Side", ["long", "short"], key="f_side")
        outcome = d.selectbox("Outcome", ["all", "winners", "losers", "scratch"], key="f_outcome")
        e, f = st.columns([2, 2])
        first, last = frame["exit_at"].min().date(), frame["exit_at"].max().date()
        picked = e.date_input("Closed between", value=(first, last), key=f"f_dates_{first}_{last}")
        tags = trade_tags(frame)
        tag = f.selectbox("Tag", ["(any)", *tags], key="f_tag")
    start = end = None
    if isinstance(picked, (tuple, list)):
        start = picked[0] if len(picked) > 0 else None
        end = picked[1] if len(picked) > 1 else None
    return filter_trades(
        frame,
        symbols=symbols,
        timeframes=timeframes,
        sides=sides,
        start=start,
        end=end,
        tag=None if tag == "(any)" else tag,
        outcome=outcome,
    )


def _column_config(currency: str) -> dict[str, Any]:
    return {
        "exit_at": _ui.time_column("Exit"),
        "entry_at": _ui.time_column("Entry"),
        "pnl": _ui.money_column("P&L", currency),
        "fees": _ui.money_column("Fees", currency, signed=False),
        "pnl_pct": st.column_config.NumberColumn("P&L %", format="%+.2f %%"),
        "r_multiple": st.column_config.NumberColumn("R", format="%+.2f"),
        "entry_price": st.column_config.NumberColumn("Entry price", format="%.4f"),
        "exit_price": st.column_config.NumberColumn("Exit price", format="%.4f"),
        "screenshot_url": st.column_config.LinkColumn("Screenshot", validate=r"^https?://.+"),
        "rating": st.column_config.NumberColumn("Rating", min_value=1, max_value=5, step=1, format="%d ★"),
        "tags": st.column_config.TextColumn("Tags", help="Comma-separated"),
        "notes": st.column_config.TextColumn("Notes", width="large"),
    }


def _edit_grid(order: pd.DataFrame, display: pd.DataFrame, config: dict[str, Any]) -> None:
    st.caption("Only setup, tags, notes, screenshot URL and rating can be edited; the bot's columns stay as they are.")
    digest = hashlib.sha256(",".join(map(str, order["row"].tolist())).encode()).hexdigest()[:10]
    key = f"journal_editor_{digest}"  # a new editor when the filters change, so edits never land on other rows
    st.data_editor(
        display,
        key=key,
        disabled=[c for c in display.columns if c not in USER_COLUMNS],
        hide_index=True,
        width="stretch",
        height=420,
        column_config=config,
        num_rows="fixed",
    )
    state = st.session_state.get(key) or {}
    edited = {int(position): changes for position, changes in (state.get("edited_rows") or {}).items()}
    label = f"Save {len(edited)} edited row{'s' if len(edited) != 1 else ''}" if edited else "Save"
    if st.button(label, key="journal_save", type="primary", disabled=not edited):
        batch, problems = journal_edit_batch(order, edited)
        _ui.save_batch(batch, problems, f"Saved {len(batch.writes)} row(s) to the Trades tab.", forget=(key,))


def _detail(trade: pd.Series, currency: str) -> None:
    zone = _data.zone()
    title = f"{trade['symbol']} {trade['timeframe']} {trade['side']}"
    st.subheader(title)
    a, b, c, d = st.columns(4)
    _ui.money_kpi("P&L", trade["pnl"], currency, sub=format_pct(trade["pnl_pct"], fraction=False), where=a)
    _ui.kpi(
        "Entry", f"{trade['entry_price']:,.4f}", sub=f"{trade['entry_at'].tz_convert(zone):%Y-%m-%d %H:%M}", where=b
    )
    _ui.kpi("Exit", f"{trade['exit_price']:,.4f}", sub=f"{trade['exit_at'].tz_convert(zone):%Y-%m-%d %H:%M}", where=c)
    _ui.kpi("Held", str(trade["holding_time"]), sub=f"exit: {trade['exit_reason'] or '–'}", where=d)
    bars, message = _data.bars(trade["symbol"], trade["timeframe"])
    window = bars_window(bars, trade["entry_at"], trade["exit_at"]) if bars is not None else None
    if window is not None and window.empty:
        message = f"The bars file of {trade['symbol']} has no bar around this trade."
        window = None
    if message:
        st.caption(message + " Showing entry and exit only.")
    st.altair_chart(_charts.price_chart(window, trade, zone), width="stretch")
    if trade["screenshot_url"]:
        st.markdown(f"[Open the screenshot]({trade['screenshot_url']})")

    ident = trade["trade_id"] or f"row{trade['row']}"
    with st.form(f"edit_{ident}"):
        st.markdown("**Your notes**")
        x, y = st.columns(2)
        setup = x.text_input("Setup", value=trade["setup"], key=f"setup_{ident}")
        tags = y.text_input("Tags (comma-separated)", value=trade["tags"], key=f"tags_{ident}")
        notes = st.text_area("Notes", value=trade["notes"], key=f"notes_{ident}")
        x, y = st.columns(2)
        url = x.text_input("Screenshot URL", value=trade["screenshot_url"], key=f"url_{ident}")
        current = "" if pd.isna(trade["rating"]) else str(int(trade["rating"]))
        rating = y.selectbox(
            "Rating",
            ["", "1", "2", "3", "4", "5"],
            index=["", "1", "2", "3", "4", "5"].index(current),
            key=f"rating_{ident}",
        )
        saved = st.form_submit_button("Save notes", type="primary", disabled=not bool(trade["editable"]))
    if not trade["editable"]:
        st.caption("This row has no unique trade_id, so it can only be edited in the sheet.")
    if saved:
        one = trade.to_frame().T.reset_index(drop=True)
        changes = {"setup": setup, "tags": tags, "notes": notes, "screenshot_url": url, "rating": rating}
        batch, problems = journal_edit_batch(one, {0: changes})
        _ui.save_batch(batch, problems, "Notes saved to the Trades tab.")


def _add_trade_form(currency: str) -> None:
    zone = _data.zone()
    with st.expander("Add a trade by hand"), st.form("manual_trade", clear_on_submit=False):
        a, b, c = st.columns(3)
        symbol = a.text_input("Symbol", key="m_symbol", placeholder="AAPL")
        timeframe = b.text_input("Timeframe (optional)", key="m_tf", placeholder="1d")
        side = c.radio("Side", ["long", "short"], horizontal=True, key="m_side")
        a, b, c = st.columns(3)
        qty = a.text_input("Quantity", key="m_qty")
        entry_price = b.text_input(f"Entry price ({currency})", key="m_entry_price")
        exit_price = c.text_input(f"Exit price ({currency})", key="m_exit_price")
        a, b, c, d = st.columns(4)
        entry_day = a.date_input("Entry date", key="m_entry_day", min_value=EARLIEST)
        entry_time = b.time_input("Entry time", value=time(9, 30), key="m_entry_time", step=60)
        exit_day = c.date_input("Exit date", key="m_exit_day", min_value=EARLIEST)
        exit_time = d.time_input("Exit time", value=time(16, 0), key="m_exit_time", step=60)
        a, b, c = st.columns(3)
        fees = a.text_input(f"Fees ({currency})", value="0", key="m_fees")
        setup = b.text_input("Setup", key="m_setup")
        tags = c.text_input("Tags", key="m_tags")
        notes = st.text_area("Notes", key="m_notes")
        a, b = st.columns(2)
        url = a.text_input("Screenshot URL", key="m_url")
        rating = b.selectbox("Rating", ["", "1", "2", "3", "4", "5"], key="m_rating")
        submitted = st.form_submit_button("Add trade", type="primary")
    if not submitted:
        return
    try:
        record = manual_trade_record(
            symbol=symbol,
            timeframe=timeframe,
            side=side,
            qty=_decimal("Quantity", qty),
            entry_price=_decimal("Entry price", entry_price),
            exit_price=_decimal("Exit price", exit_price),
            fees=_decimal("Fees", fees or "0"),
            entry_at=datetime.combine(entry_day, entry_time),
            exit_at=datetime.combine(exit_day, exit_time),
            zone=zone,
            setup=setup,
            tags=tags,
            notes=notes,
            screenshot_url=url,
            rating=int(rating) if rating else None,
        )
    except ValueError as exc:
        st.error(f"Not added: {exc}")
        return
    batch = WriteBatch(appends=[("Trades", record)])
    keys = tuple(k for k in st.session_state if str(k).startswith("m_"))
    _ui.save_batch(
        batch,
        [],
        forget=keys,
        done=f"Added {record['symbol']} {record['side']} ({format_money(_dec(record['pnl']), currency, signed=True)}).",
    )


def _decimal(label: str, text: str) -> Any:
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None


def _dec(text: str) -> Any:
    return parse_decimal(text) if text else None


_ui.guarded(render)
