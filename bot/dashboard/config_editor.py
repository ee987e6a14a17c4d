"""The Config page's data: the Config tab for the editor, its validation, and its edits as workbook writes.

Edits never overwrite bot-owned cells: changed user cells are written by row key, and a full
replace (after deletions) takes the bot cells from a fresh read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bot.domain import normalise_symbol, normalise_timeframe
from bot.records import RowWrite, Table, WriteBatch
from bot.sheets.base import clean_record, row_key
from bot.sheets.schema import tab_spec
from bot.validate import validate_records

#: Config columns a bulk "apply settings" may copy (user-owned, not the row key).
CONFIG_COPY_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in tab_spec("Config").columns if column.owner == "user" and column.name not in
    ("symbol", "Time Frame")
)  # fmt: skip


def config_frame(table: Table) -> pd.DataFrame:
    """The Config tab as an all-text DataFrame (headers as in the sheet, blank rows kept) for the editor."""
    headers = table.headers or tab_spec("Config").headers
    return pd.DataFrame([[r.get(h, "") for h in headers] for r in table.rows], columns=headers, dtype=object)


def config_row_problems(headers: Sequence[str], records: Sequence[Mapping[str, str]]) -> dict[int, list[str]]:
    """Validation messages per sheet row (``2`` = first data row) with the bot's own rules.

    :func:`bot.validate.validate_records`; messages not tied to a row (a missing column) are
    under key ``0``.
    """
    problems: dict[int, list[str]] = {}
    for message in validate_records("Config", list(headers), [dict(r) for r in records]):
        match = re.match(r"row (\d+): (.*)", message)
        if match:
            problems.setdefault(int(match.group(1)), []).append(match.group(2))
        else:
            problems.setdefault(0, []).append(message)
    return problems


@dataclass(frozen=True)
class ConfigSave:
    """How to save an edited Config grid (see :func:`config_save`).

    At most one of ``batch`` (row writes of changed user cells, and appended rows) and ``rows``
    (every row, for :meth:`~bot.sheets.base.Workbook.replace_rows`, when rows were deleted or an
    edited row's key is ambiguous) is set; both are None when nothing changed. ``summary`` says
    what changes (``"1 changed, 2 added, 0 deleted"``).
    """

    batch: WriteBatch | None
    rows: list[dict[str, str]] | None
    summary: str


def _editor_state(edits: Mapping[str, Any]) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]], list[int]]:
    edited = {int(position): dict(values) for position, values in (edits.get("edited_rows") or {}).items()}
    added = [dict(values) for values in (edits.get("added_rows") or [])]
    deleted = sorted({int(position) for position in (edits.get("deleted_rows") or [])})
    return edited, added, deleted


def config_records(base: Table, edits: Mapping[str, Any]) -> list[dict[str, str]]:
    """The Config rows the editor shows after ``edits`` (kept rows in order, then added rows).

    Args:
        base: the Config tab the editor was filled from (:func:`config_frame`).
        edits: ``st.data_editor`` state: ``{"edited_rows": {position: {column: value}},
            "added_rows": [{column: value}], "deleted_rows": [position]}`` (positions in ``base``).
    """
    headers = list(base.headers or tab_spec("Config").headers)
    edited, added, deleted = _editor_state(edits)
    rows: list[dict[str, str]] = []
    for position, original in enumerate(base.rows):
        if position in deleted:
            continue
        row = {h: original.get(h, "") or "" for h in headers}
        row.update({h: _cell_text(v) for h, v in edited.get(position, {}).items() if h in headers})
        rows.append(row)
    for values in added:
        rows.append({h: _cell_text(values.get(h)) for h in headers})
    return rows


def config_save(base: Table, edits: Mapping[str, Any], current: Table | None = None) -> ConfigSave:
    """Turn the Config editor's edits into workbook writes that never overwrite bot-owned cells.

    Args:
        base: the Config tab the editor was filled from.
        edits: the editor state (see :func:`config_records`); edits of bot-owned columns are ignored.
        current: the Config tab re-read just before saving; a full replace takes the bot-owned
            cells from it (matched by key) so statuses the bot wrote meanwhile are kept.
            Defaults to ``base``.

    Returns:
        :class:`ConfigSave`. Without deletions and with unique keys only the changed user cells
        are written (:class:`~bot.records.RowWrite` by the row's original key) and new rows
        appended; otherwise every row is replaced: user cells from the editor, bot cells from
        ``current``.
    """
    spec = tab_spec("Config")
    bot_columns = spec.bot_columns
    headers = list(base.headers or spec.headers)
    edited, added, deleted = _editor_state(edits)
    keys = [row_key("Config", r) for r in base.rows]
    counts: dict[tuple[str, ...], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    changed: dict[int, dict[str, str]] = {}
    for position, values in edited.items():
        if not 0 <= position < len(base.rows) or position in deleted:
            continue
        original = base.rows[position]
        diff = {
            h: clean_record({h: _cell_text(v)})[h]
            for h, v in values.items()
            if h in headers and h not in bot_columns and _cell_text(v) != (original.get(h) or "")
        }
        if diff:
            changed[position] = diff
    new_rows = []
    for values in added:
        record = {h: _cell_text(values.get(h)) for h in headers if h not in bot_columns}
        if any(v.strip() for v in record.values()):
            new_rows.append(clean_record({k: v for k, v in record.items() if v}))
    deleted = [p for p in deleted if 0 <= p < len(base.rows)]
    if not changed and not new_rows and not deleted:
        return ConfigSave(None, None, "no changes")
    summary = f"{len(changed)} changed, {len(new_rows)} added, {len(deleted)} deleted"
    if not deleted and not any(counts[keys[p]] > 1 for p in changed):
        batch = WriteBatch()
        for position, diff in sorted(changed.items()):
            batch.writes.append(RowWrite("Config", keys[position], diff))
        batch.appends.extend(("Config", record) for record in new_rows)
        return ConfigSave(batch, None, summary)
    fresh_by_key: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for record in (current or base).rows:
        fresh_by_key.setdefault(row_key("Config", record), []).append(record)
    rows: list[dict[str, str]] = []
    for position, original in enumerate(base.rows):
        if position in deleted:
            continue
        row = {h: original.get(h, "") or "" for h in headers}
        row.update(changed.get(position, {}))
        same = fresh_by_key.get(keys[position], [])
        if len(same) == 1:
            row.update({c: same[0].get(c, "") or "" for c in bot_columns if c in headers})
        rows.append(row)
    rows.extend({h: record.get(h, "") for h in headers} for record in new_rows)
    return ConfigSave(None, rows, summary)


def _cell_text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def copy_settings_batch(
    config: Table, source_row: int, target_rows: Sequence[int], columns: Sequence[str] = CONFIG_COPY_COLUMNS
) -> tuple[WriteBatch, list[str]]:
    """Apply one Config row's settings to other rows ("bulk apply").

    Args:
        config: the Config tab.
        source_row / target_rows: sheet row numbers (2 = first data row).
        columns: which settings to copy; only :data:`CONFIG_COPY_COLUMNS` are allowed.

    Returns:
        ``(batch, problems)``: one :class:`~bot.records.RowWrite` per target (by its key),
        setting only the copied user cells; targets with an ambiguous key are refused.
    """
    problems: list[str] = []
    rows = config.rows
    if not 2 <= source_row < len(rows) + 2:
        return WriteBatch(), [f"source row {source_row} does not exist"]
    bad_columns = [c for c in columns if c not in CONFIG_COPY_COLUMNS]
    if bad_columns:
        return WriteBatch(), [f"cannot copy {', '.join(bad_columns)} (key or bot-owned columns)"]
    source = rows[source_row - 2]
    values = {c: source.get(c, "") or "" for c in columns}
    counts: dict[tuple[str, ...], int] = {}
    for record in rows:
        key = row_key("Config", record)
        counts[key] = counts.get(key, 0) + 1
    batch = WriteBatch()
    for number in target_rows:
        if number == source_row:
            continue
        if not 2 <= number < len(rows) + 2:
            problems.append(f"row {number} does not exist")
            continue
        key = row_key("Config", rows[number - 2])
        if counts[key] > 1 or not all(key):
            problems.append(f"row {number}: symbol and Time Frame do not identify it uniquely; fix the key first")
            continue
        batch.writes.append(RowWrite("Config", key, dict(values)))
    return batch, problems


def parse_symbol_list(text: str) -> tuple[list[str], list[str]]:
    """Symbols from pasted text (commas, spaces, semicolons or new lines), normalised like alerts.

    ``"NASDAQ:AAPL, msft\\nBINANCE:BTCUSDT.P"`` → ``["AAPL", "MSFT", "BTCUSDT"]``; duplicates
    are dropped (first kept). Returns ``(symbols, problems)``.
    """
    symbols: list[str] = []
    problems: list[str] = []
    for part in re.split(r"[\s,;]+", text or ""):
        if not part:
            continue
        try:
            symbol = normalise_symbol(part)
        except ValueError as exc:
            problems.append(f"{part!r}: {exc}")
            continue
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols, problems


def add_symbols_batch(
    config: Table,
    symbols: Sequence[str],
    *,
    timeframe: str,
    settings: Mapping[str, str],
) -> tuple[WriteBatch, list[str]]:
    """Config rows to append for ``symbols`` on ``timeframe`` with the given ``settings``.

    Args:
        config: the Config tab (existing (symbol, timeframe) pairs are skipped).
        symbols: normalised symbols (:func:`parse_symbol_list`).
        timeframe: any timeframe text (normalised, e.g. ``D`` → ``1d``).
        settings: user-owned cells for the new rows (``position_size``, ``active``,
            ``size_type``, …), e.g. copied from a template row; key and bot columns are ignored.

    Returns:
        ``(batch, skipped)``: appends, and a message per symbol skipped.

    Raises:
        ValueError: an unreadable timeframe.
    """
    canonical = normalise_timeframe(timeframe)
    existing = {row_key("Config", r) for r in config.rows}
    base = {k: v for k, v in settings.items() if k in CONFIG_COPY_COLUMNS and v is not None}
    batch = WriteBatch()
    skipped: list[str] = []
    for symbol in symbols:
        record = {"symbol": symbol, "Time Frame": canonical, **base}
        if row_key("Config", record) in existing:
            skipped.append(f"{symbol} {canonical}: already in Config")
            continue
        existing.add(row_key("Config", record))
        batch.appends.append(("Config", clean_record(record)))
    return batch, skipped
