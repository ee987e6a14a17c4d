"""The ``Workbook`` interface shared by the local backend and Google Sheets, and pure helpers.

A workbook is a set of tabs; each tab is a header row plus data rows of text cells. Rows are
located by their key columns (see ``sheets_schema``), never by position, so users may reorder
rows and columns or add their own columns. All values crossing this interface are ``str``
(blank cell = ``""``); typing happens in the callers (``bot.trading.config_table``, analytics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from bot.domain import normalise_symbol, normalise_timeframe
from bot.parsing import safe_cell
from bot.records import Table, WriteBatch
from bot.sheets.schema import TabSpec, tab_spec


class Workbook(Protocol):
    """Storage of the workbook tabs (local file or Google Sheet).

    Implementations raise :class:`~bot.errors.TemporaryError` when the store is briefly
    unavailable (retry later) and :class:`~bot.errors.ConfigError` when it cannot be used at all
    (missing credentials, sheet not shared, missing required column).
    """

    kind: str

    def read_tables(self, tabs: Sequence[str]) -> dict[str, Table]:
        """Read several tabs at once (one request where the backend allows); missing tabs are empty."""
        ...

    def apply(self, batch: WriteBatch) -> None:
        """Apply a batch of writes atomically where possible, in order."""
        ...

    def replace_rows(self, tab: str, rows: list[dict[str, str]]) -> None:
        """Replace every data row of ``tab`` with ``rows`` (headers untouched; extra columns kept blank)."""
        ...

    def ensure_tabs(self, specs: Sequence[TabSpec]) -> list[str]:
        """Create missing tabs and add missing schema columns at the right; return what changed."""
        ...

    def trim(self, tab: str, keep_rows: int) -> int:
        """Delete the oldest data rows so at most ``keep_rows`` remain; return how many were deleted."""
        ...

    def version(self) -> str | None:
        """A token that changes when user-owned Config/Settings cells change, or None if unknown."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def row_key(tab: str, record: dict[str, str]) -> tuple[str, ...]:
    """Normalised key of a record of ``tab`` (per ``sheets_schema`` ``key``).

    Config keys normalise symbol and timeframe like alerts do (``"NASDAQ:aapl"``/``"15 Min"`` →
    ``("AAPL", "15m")``), so a row is found whatever style the user typed. Unparsable cells fall back
    to their trimmed text.
    """
    spec = tab_spec(tab)
    parts = []
    for column in spec.key:
        raw = (record.get(column) or "").strip()
        if tab in ("Config", "Trades") and column == "symbol":
            raw = _try(normalise_symbol, raw)
        elif tab == "Config" and column == "Time Frame":
            raw = _try(normalise_timeframe, raw)
        parts.append(raw)
    return tuple(parts)


def _try(func: Callable[[str], str], raw: str) -> str:
    try:
        return func(raw)
    except ValueError:
        return raw


def clean_record(record: dict[str, object]) -> dict[str, str]:
    """Cell texts safe to write: every value through :func:`~bot.parsing.safe_cell`."""
    return {key: safe_cell(value) for key, value in record.items()}


def merge_bot_rows(
    existing: Table,
    new_rows: list[dict[str, str]],
    *,
    spec: TabSpec,
    keep: Callable[[dict[str, str]], bool],
) -> list[dict[str, str]]:
    """Rows for :meth:`Workbook.replace_rows` that preserve what the user owns.

    - rows of ``existing`` for which ``keep(row)`` is true (e.g. manual trades) stay, in place first;
    - each new row takes the user-owned cells (and unknown user columns) of the existing row with
      the same key, so journal notes survive a recompute;
    - existing bot rows absent from ``new_rows`` are dropped.

    Input/output rows are header → text dicts. Pure function.
    """
    by_key = {row_key(spec.name, row): row for row in existing.rows if not keep(row)}
    bot_columns = spec.bot_columns
    merged = [dict(row) for row in existing.rows if keep(row)]
    for row in new_rows:
        old = by_key.get(row_key(spec.name, row))
        out = dict(row)
        if old:
            for column, value in old.items():
                if column not in bot_columns and value:
                    out[column] = value
        merged.append(out)
    return merged
