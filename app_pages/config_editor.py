"""Config: edit the Config tab (local workbook) or see its validation (Google); bulk actions."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from app_pages import _data, _ui
from bot.dashboard.config_editor import (
    CONFIG_COPY_COLUMNS,
    add_symbols_batch,
    config_frame,
    config_records,
    config_row_problems,
    config_save,
    copy_settings_batch,
    parse_symbol_list,
)
from bot.errors import BotError
from bot.records import Table
from bot.sheets.schema import tab_spec

SPEC = tab_spec("Config")


def render() -> None:
    st.title("Config")
    _ui.show_flash()
    table = _data.table("Config")
    store = _data.source().store
    if store == "local":
        _editor(table)
    else:
        _google_report(table)
    _bulk_actions(table)


def _label(number: int, record: dict[str, str]) -> str:
    return f"row {number}: {record.get('symbol', '') or '?'} {record.get('Time Frame', '') or '?'}"


def _report(problems: dict[int, list[str]], records: list[dict[str, str]]) -> None:
    if not problems:
        st.success(f"All {len(records)} rows are valid.")
        return
    for message in problems.get(0, []):
        st.error(message)
    for number in sorted(n for n in problems if n):
        record = records[number - 2] if 0 <= number - 2 < len(records) else {}
        for message in problems[number]:
            st.error(f"{_label(number, record)} — {message}")


def _editor(table: Table) -> None:
    if not table.rows:
        _ui.empty_state(
            "The Config tab has no rows yet.",
            hint="Add rows in the grid (one per symbol and timeframe) or paste a list of symbols under "
            "Bulk actions. The bot seeds example rows on its first start.",
        )
    st.caption(
        "One row per symbol and timeframe. The bot's columns (Order Status, Last Updated, Position, Last Signal, "
        "Last Order ID, Note) are read-only. Changes are checked with the bot's own rules before they are saved."
    )
    frame = config_frame(table)
    # A fresh editor (pending edits dropped) only when the user's cells changed underneath: the bot
    # writing a status does not move rows, so edits typed meanwhile stay where they were typed.
    users = [[r.get(c, "") for c in frame.columns if c not in SPEC.bot_columns] for r in table.rows]
    digest = hashlib.sha256(repr(users).encode()).hexdigest()[:10]
    key = f"config_editor_{digest}"
    st.data_editor(
        frame,
        key=key,
        num_rows="dynamic",
        disabled=[c for c in frame.columns if c in SPEC.bot_columns],
        hide_index=True,
        width="stretch",
        column_config=_columns(frame.columns),
    )
    edits = st.session_state.get(key) or {}
    records = config_records(table, edits)
    problems = config_row_problems(list(frame.columns), records)
    plan = config_save(table, edits)
    st.subheader("Validation")
    _report(problems, records)
    if plan.batch is None and plan.rows is None:
        st.button("Save", key="config_save", disabled=True, help="No changes.")
        return
    if st.button(
        f"Save ({plan.summary})",
        key="config_save",
        type="primary",
        disabled=bool(problems),
        help="Fix the rows above first." if problems else None,
    ):
        try:
            if plan.batch is not None:
                _data.apply(plan.batch)
            else:
                fresh = config_save(table, edits, current=_data.fresh_table("Config"))
                _data.replace_rows("Config", fresh.rows or [])
        except BotError as exc:
            st.error(f"Not saved: {exc}")
            return
        st.session_state.pop(key, None)
        _ui.flash(f"Config saved: {plan.summary}.")
        st.rerun()


def _columns(columns: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in columns:
        try:
            column = SPEC.column(name)
        except KeyError:
            continue
        allowed = [a for a in column.allowed if a]
        help_text = column.description + (f" Allowed: {', '.join(allowed)}." if allowed else "")
        config[name] = st.column_config.TextColumn(name, help=help_text)
    return config


def _google_report(table: Table) -> None:
    settings = _data.settings()
    sheet = settings.google_sheet_id.strip()
    url = sheet if sheet.startswith("http") else f"https://docs.google.com/spreadsheets/d/{sheet}/edit"
    st.markdown(
        f"The Config tab lives in your Google Sheet: **[open the sheet]({url})** to edit it. "
        "The bot re-reads it within `config_refresh_seconds`."
    )
    st.subheader("Validation")
    if not table.rows:
        _ui.empty_state("The Config tab has no rows yet.")
        return
    _report(config_row_problems(table.headers, table.rows), table.rows)
    st.dataframe(config_frame(table), hide_index=True, width="stretch")


def _bulk_actions(table: Table) -> None:
    st.subheader("Bulk actions")
    rows = table.rows
    labels = {number: _label(number, record) for number, record in enumerate(rows, start=2)}
    with st.expander("Apply one row's settings to other rows"):
        if len(rows) < 2:
            st.caption("Needs at least two rows.")
        else:
            source = st.selectbox("Copy from", list(labels), format_func=labels.get, key="bulk_source")
            targets = st.multiselect(
                "To", [n for n in labels if n != source], format_func=labels.get, key="bulk_targets"
            )
            filled = [c for c in CONFIG_COPY_COLUMNS if (rows[source - 2].get(c) or "").strip()]
            columns = st.multiselect("Settings to copy", list(CONFIG_COPY_COLUMNS), default=filled, key="bulk_columns")
            if st.button("Apply", key="bulk_apply", disabled=not targets or not columns):
                batch, problems = copy_settings_batch(table, source, targets, columns)
                _ui.save_batch(batch, problems, f"Copied {len(columns)} settings to {len(batch.writes)} row(s).")
    with st.expander("Add symbols from a list"):
        text = st.text_area(
            "Symbols (commas, spaces or new lines)",
            key="bulk_symbols",
            placeholder="NASDAQ:AAPL, MSFT\nBINANCE:BTCUSDT",
        )
        a, b = st.columns(2)
        timeframe = a.text_input("Timeframe", value="1d", key="bulk_tf")
        template = b.selectbox(
            "Settings from",
            [0, *labels],
            key="bulk_template",
            format_func=lambda n: "(type them below)" if n == 0 else labels[n],
        )
        settings: dict[str, str] = {}
        if template == 0:
            c, d, e = st.columns(3)
            settings["position_size"] = c.text_input("position_size", value="100", key="bulk_size")
            settings["size_type"] = d.selectbox("size_type", ["usd", "qty", "pct_equity", "risk_pct"], key="bulk_type")
            settings["direction"] = e.selectbox("direction", ["both", "long", "short"], key="bulk_direction")
        else:
            settings = {c: rows[template - 2].get(c, "") or "" for c in CONFIG_COPY_COLUMNS}
        active = st.checkbox(
            "Active (trade them right away)",
            value=False,
            key="bulk_active",
            help="New rows start inactive so you can check them first.",
        )
        settings["active"] = "TRUE" if active else "FALSE"
        if st.button("Add rows", key="bulk_add", disabled=not text.strip()):
            symbols, problems = parse_symbol_list(text)
            try:
                batch, skipped = add_symbols_batch(table, symbols, timeframe=timeframe, settings=settings)
            except ValueError as exc:
                st.error(f"Timeframe: {exc}")
                return
            _ui.save_batch(batch, problems + skipped, f"Added {len(batch.appends)} row(s) to Config.")


_ui.guarded(render)
