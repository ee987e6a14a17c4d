"""Structure requests: ``spreadsheets:batchUpdate`` bodies that add tabs, grow or shrink the grid, write headers.

Writes are computed positions, so the grid must be big enough before the values are sent: when a
plan reaches past the grid (or its tab is missing), :func:`structure_for` lists the ``addSheet`` /
``appendDimension`` requests to send first, growing generously since growth costs one request.
"""

from __future__ import annotations

import secrets
from typing import Any

from bot.sheets.google.layout import Sheet
from bot.sheets.google.plans import TabPlan
from bot.sheets.schema import TABS

_MIN_NEW_ROWS = 1000  # grid growth step (rows); growth is one request, so grow generously
_NEW_TAB_ROWS = 1000
_NEW_TAB_COLUMNS = 26


def new_sheet(name: str, columns: int, used_ids: set[int], count: int) -> Sheet:
    """A tab to add: unused random id; placed at its schema position (at most after the ``count`` tabs)."""
    sheet_id = secrets.randbelow(2_000_000_000) + 1
    while sheet_id in used_ids:
        sheet_id = secrets.randbelow(2_000_000_000) + 1
    index = min(TABS.index(name), count) if name in TABS else count
    return Sheet(sheet_id, name, index, _NEW_TAB_ROWS, max(_NEW_TAB_COLUMNS, columns), 1)


def add_sheet_request(sheet: Sheet) -> dict[str, Any]:
    """The ``addSheet`` request of ``sheet`` (its id, title, index and grid; header row frozen)."""
    return {
        "addSheet": {
            "properties": {
                "sheetId": sheet.sheet_id,
                "title": sheet.title,
                "index": sheet.index,
                "gridProperties": {"rowCount": sheet.rows, "columnCount": sheet.cols, "frozenRowCount": 1},
            }
        }
    }


def append_dimension(sheet: Sheet, dimension: str, length: int) -> dict[str, Any]:
    """The ``appendDimension`` request adding ``length`` ``"ROWS"`` or ``"COLUMNS"`` to ``sheet``."""
    return {"appendDimension": {"sheetId": sheet.sheet_id, "dimension": dimension, "length": length}}


def delete_rows(sheet: Sheet, count: int) -> dict[str, Any]:
    """The ``deleteDimension`` request removing the first ``count`` data rows (sheet rows 2..count+1)."""
    return {
        "deleteDimension": {
            "range": {
                "sheetId": sheet.sheet_id,
                "dimension": "ROWS",
                "startIndex": 1,
                "endIndex": 1 + count,
            }
        }
    }


def header_cells(sheet_id: int, start: int, names: list[str], *, bold: bool) -> dict[str, Any]:
    """The ``updateCells`` request writing header ``names`` in row 1 from column ``start`` (0-based)."""
    values: list[dict[str, Any]] = []
    for name in names:
        cell: dict[str, Any] = {"userEnteredValue": {"stringValue": name}}
        if bold:
            cell["userEnteredFormat"] = {"textFormat": {"bold": True}}
        values.append(cell)
    return {
        "updateCells": {
            "rows": [{"values": values}],
            "fields": "userEnteredValue,userEnteredFormat.textFormat.bold" if bold else "userEnteredValue",
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": start},
        }
    }


def structure_for(
    plans: list[TabPlan], sheets: dict[str, Sheet]
) -> tuple[list[dict[str, Any]], dict[str, Sheet], dict[str, tuple[int, int]]]:
    """What must change before ``plans`` can be written on the tabs ``sheets``.

    Returns:
        ``(requests, new_sheets, grown)``: the ``spreadsheets:batchUpdate`` requests (empty when the
        grid is big enough), the tabs they add (name → sheet), and per existing tab the
        ``(rows, columns)`` they add.
    """
    structural: list[dict[str, Any]] = []
    new_sheets: dict[str, Sheet] = {}
    used_ids = {s.sheet_id for s in sheets.values()}
    grown: dict[str, tuple[int, int]] = {}
    for plan in plans:
        need_rows = max([plan.data_rows + 1, *plan.cells.keys()])
        need_cols = max(len(plan.headers), 1)
        if plan.new_tab:
            count = len({s.sheet_id for s in sheets.values()}) + len(new_sheets)
            sheet = new_sheet(plan.tab, need_cols, used_ids, count)
            sheet.rows = max(sheet.rows, need_rows + _MIN_NEW_ROWS // 2)
            used_ids.add(sheet.sheet_id)
            new_sheets[plan.tab] = sheet
            structural.append(add_sheet_request(sheet))
            continue
        sheet = sheets[plan.tab]
        add_rows = need_rows - sheet.rows
        add_cols = need_cols - sheet.cols
        if add_rows > 0:
            add_rows = max(add_rows + _MIN_NEW_ROWS // 2, _MIN_NEW_ROWS)
            structural.append(append_dimension(sheet, "ROWS", add_rows))
        if add_cols > 0:
            structural.append(append_dimension(sheet, "COLUMNS", add_cols))
        if add_rows > 0 or add_cols > 0:
            grown[plan.tab] = (max(add_rows, 0), max(add_cols, 0))
    return structural, new_sheets, grown
