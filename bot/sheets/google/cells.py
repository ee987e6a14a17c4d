"""Cell texts and A1 ranges: what the bot sends for a value, and the value ranges of a set of cells.

Values are written through :func:`~bot.parsing.safe_cell` with ``USER_ENTERED``; numbers and
booleans of numeric and bool columns go as JSON numbers and booleans, which no locale re-parses;
text-typed schema columns (ids, symbols, notes) and time stamps are sent with a leading apostrophe so
``"007"``, a 20-digit order id or ``2024-03-01 09:05:00`` read back exactly as written, in any locale.
Reads are typed by :mod:`bot.sheets.google.typed`; text cells pass through
:func:`~bot.parsing.safe_cell` again, so a text cell showing ``=x`` reads as ``'=x`` exactly like the
local backend stores it, and writing it back never creates a formula.
"""

from __future__ import annotations

from typing import Any

from gspread.utils import rowcol_to_a1

from bot.parsing import safe_cell
from bot.sheets.google.typed import cell_json
from bot.sheets.schema import TABS, tab_spec

#: Columns of these schema types are written as text (apostrophe prefix) so ids keep their digits.
_TEXT_TYPES = frozenset({"text", "symbol", "timeframe", "duration", "datetime"})
_FORMULA_MARK = ("'=", "'+", "'-", "'@", "'\t", "'\r", "'\n")
_MAX_CELL_CHARS = 49_000  # Google refuses cells over 50,000 characters; keep room for the apostrophe


def col_letters(index: int) -> str:
    """0-based column index → A1 letters (0 → A, 26 → AA)."""
    return rowcol_to_a1(1, index + 1)[:-1]  # gspread's A1 notation of row 1, without the row


def header_out(name: str) -> str:
    """A header cell's USER_ENTERED text: always literal text."""
    return "'" + name


def quote_title(title: str) -> str:
    """A tab title quoted for an A1 range: ``Bob's`` → ``'Bob''s'``."""
    return "'" + title.replace("'", "''") + "'"


def a1(title: str, row: int, col: int, last_row: int, last_col: int) -> str:
    """A1 range of a block (1-based rows, 0-based columns, inclusive)."""
    return f"{quote_title(title)}!{col_letters(col)}{row}:{col_letters(last_col)}{last_row}"


def cell_out(tab: str, column: str, value: str) -> Any:
    """What to send with USER_ENTERED for ``value`` in ``column`` (see the module docstring): a JSON number
    or boolean for numeric and bool schema columns (:func:`~bot.sheets.google.typed.cell_json`), text
    otherwise.

    Longer texts are cut to Google's limit of 50,000 characters per cell (a longer one would make
    Google refuse the whole batch, and the outbox would retry it forever).
    """
    text = safe_cell(value)
    if len(text) > _MAX_CELL_CHARS:
        text = text[: _MAX_CELL_CHARS - 1] + "…"
    if not text or text.startswith(_FORMULA_MARK):
        return text
    spec = tab_spec(tab) if tab in TABS else None
    kind = None
    if spec is not None:
        try:
            kind = spec.column(column).type
        except KeyError:
            kind = None
    if kind in _TEXT_TYPES or text.startswith("'"):
        return "'" + text
    return cell_json(text, kind)


def blocks(title: str, cells: dict[int, dict[int, str]]) -> list[dict[str, Any]]:
    """Value ranges covering exactly the given cells: contiguous column runs, stacked rows merged.

    ``cells`` maps sheet row (1-based) → column (0-based) → text; the result is the ``data`` list
    of a ``values:batchUpdate`` (``{"range", "majorDimension": "ROWS", "values"}`` each).
    """
    runs: list[tuple[int, int, int, list[str]]] = []  # (row, first col, last col, values)
    for row in sorted(cells):
        columns = sorted(cells[row])
        start = prev = columns[0]
        values = [cells[row][start]]
        for col in columns[1:]:
            if col == prev + 1:
                values.append(cells[row][col])
            else:
                runs.append((row, start, prev, values))
                start, values = col, [cells[row][col]]
            prev = col
        runs.append((row, start, prev, values))
    merged: list[dict[str, Any]] = []
    open_blocks: dict[tuple[int, int], dict[str, Any]] = {}
    for row, first, last, values in runs:
        block = open_blocks.get((first, last))
        if block is not None and block["_last_row"] == row - 1:
            block["values"].append(values)
            block["_last_row"] = row
            continue
        block = {"_first_row": row, "_last_row": row, "_first": first, "_last": last, "values": [values]}
        open_blocks[(first, last)] = block
        merged.append(block)
    return [
        {
            "range": a1(title, b["_first_row"], b["_first"], b["_last_row"], b["_last"]),
            "majorDimension": "ROWS",
            "values": b["values"],
        }
        for b in merged
    ]
