"""init-sheet formatting: frozen header rows, Config drop-downs and checkbox, Order Status colours.

Everything here compares what the sheet has (one ``spreadsheets.get`` of :data:`FORMAT_FIELDS` over
:func:`format_ranges`) with what it should have and builds ``spreadsheets:batchUpdate`` requests only
for what differs, so a second run builds none. Drop-downs are non-strict: a value the bot accepts but
the list lacks (``15``, ``1D``) shows a warning instead of being refused.
"""

from __future__ import annotations

from typing import Any

from bot.domain import RowStatus
from bot.sheets.google.cells import col_letters, quote_title
from bot.sheets.google.layout import Sheet
from bot.sheets.schema import tab_spec

#: Background colours of the Config ``Order Status`` cells (init-sheet), as RGB 0..1.
STATUS_COLOURS: dict[str, tuple[float, float, float]] = {
    RowStatus.READY.value: (0.851, 0.918, 0.827),
    RowStatus.ORDER_SUBMITTED.value: (0.812, 0.886, 0.953),
    RowStatus.QUEUED.value: (1.0, 0.949, 0.8),
    RowStatus.PARTIALLY_FILLED.value: (0.788, 0.855, 0.973),
    RowStatus.FILLED.value: (0.576, 0.769, 0.49),
    RowStatus.FAILED.value: (0.918, 0.6, 0.6),
    RowStatus.WAITING.value: (0.937, 0.937, 0.937),
    RowStatus.INACTIVE.value: (0.8, 0.8, 0.8),
    RowStatus.ALREADY_LONG.value: (0.851, 0.824, 0.914),
    RowStatus.ALREADY_SHORT.value: (0.851, 0.824, 0.914),
    RowStatus.BLOCKED.value: (0.965, 0.698, 0.42),
    RowStatus.CONFIG_ERROR.value: (0.8, 0.0, 0.0),
}

#: Config columns that get a drop-down (non-strict: a warning, never a rejected entry).
_DROPDOWN_COLUMNS = ("Time Frame", "direction", "size_type", "broker")
_CHECKBOX_COLUMNS = ("active",)

#: ``fields`` of the ``spreadsheets.get`` that :func:`format_requests` compares with.
FORMAT_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "conditionalFormats,data(startRow,startColumn,rowData(values(formattedValue,dataValidation))))"
)


def format_ranges(schema_tabs: list[str], sheets: dict[str, Sheet]) -> list[str]:
    """A1 ranges to fetch with :data:`FORMAT_FIELDS`: Config's first two rows, cell A1 of the other tabs."""
    return [f"{quote_title(sheets[name].title)}!{'1:2' if name == 'Config' else 'A1'}" for name in schema_tabs]


def format_requests(
    schema_tabs: list[str], sheets: dict[str, Sheet], reply: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Requests that bring ``schema_tabs`` to the bot's formatting, from the sheet JSON ``reply``.

    Returns:
        ``(requests, changes)``: ``spreadsheets:batchUpdate`` requests (empty when nothing differs)
        and what they change, e.g. ``["Signals: froze the header row", "Config: checkbox for active"]``.
    """
    by_id = {s["properties"]["sheetId"]: s for s in reply.get("sheets", [])}
    requests_: list[dict[str, Any]] = []
    changes: list[str] = []
    for name in schema_tabs:
        sheet = sheets[name]
        info = by_id.get(sheet.sheet_id, {})
        frozen = int(info.get("properties", {}).get("gridProperties", {}).get("frozenRowCount", 0))
        if frozen != 1:
            requests_.append(
                {
                    "updateSheetProperties": {
                        "properties": {"sheetId": sheet.sheet_id, "gridProperties": {"frozenRowCount": 1}},
                        "fields": "gridProperties.frozenRowCount",
                    }
                }
            )
            changes.append(f"{name}: froze the header row")
        if name == "Config":
            more, what = config_formatting(sheet, info)
            requests_.extend(more)
            changes.extend(what)
    return requests_, changes


def config_formatting(sheet: Sheet, info: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Requests for Config's validation and Order Status colours that differ from ``info`` (sheet JSON).

    Returns:
        ``(requests, changes)`` as :func:`format_requests`.
    """
    headers, second = _first_two_rows(info)
    requests_, changes = _validation_requests(sheet, headers, second, _validation_rules())
    if "Order Status" in headers:
        more, what = _status_colour_requests(sheet, headers.index("Order Status"), info)
        requests_.extend(more)
        changes.extend(what)
    return requests_, changes


def _first_two_rows(info: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Config's header texts (stripped) and the cells (JSON) of its first data row, from the sheet JSON."""
    rows = []
    for block in info.get("data", []):
        start = int(block.get("startRow", 0))
        for offset, row_data in enumerate(block.get("rowData", [])):
            rows.append((start + offset, row_data.get("values", [])))
    header_cells = next((cells for index, cells in rows if index == 0), [])
    headers = [str(c.get("formattedValue", "")).strip() for c in header_cells]
    second = next((cells for index, cells in rows if index == 1), [])
    return headers, second


def _validation_rules() -> dict[str, dict[str, Any]]:
    """Header → the data-validation rule its column should have (checkbox or non-strict drop-down)."""
    spec = tab_spec("Config")
    rules: dict[str, dict[str, Any]] = {name: {"condition": {"type": "BOOLEAN"}} for name in _CHECKBOX_COLUMNS}
    for name in _DROPDOWN_COLUMNS:
        allowed = [v for v in spec.column(name).allowed if v]
        rules[name] = {
            "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in allowed]},
            "showCustomUi": True,
            "strict": False,
        }
    return rules


def _column_range(sheet: Sheet, col: int) -> dict[str, Any]:
    """The grid range of column ``col`` (0-based) below the header row."""
    return {"sheetId": sheet.sheet_id, "startRowIndex": 1, "startColumnIndex": col, "endColumnIndex": col + 1}


def _validation_requests(
    sheet: Sheet, headers: list[str], second: list[dict[str, Any]], rules: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``setDataValidation`` requests: our rule on each column that lacks it, cleared where a column moved."""
    requests_: list[dict[str, Any]] = []
    changes: list[str] = []
    for col, header in enumerate(headers):
        current = second[col].get("dataValidation") if col < len(second) else None
        rule = rules.get(header)
        if rule is not None:
            if _same_rule(current, rule):
                continue
            requests_.append({"setDataValidation": {"range": _column_range(sheet, col), "rule": rule}})
            kind = "checkbox" if header in _CHECKBOX_COLUMNS else "drop-down"
            changes.append(f"Config: {kind} for {header}")
        elif current and any(_same_rule(current, other) for other in rules.values()):
            # one of our rules left behind on a column the user moved: clear it
            requests_.append({"setDataValidation": {"range": _column_range(sheet, col)}})
            changes.append(f"Config: removed a stale drop-down/checkbox from column {header or col_letters(col)}")
    return requests_, changes


def _status_colour_requests(sheet: Sheet, col: int, info: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Conditional-format requests giving each Order Status (column ``col``) its colour.

    Our rules that are wrong (other column, other colour, a duplicate) are deleted (highest index
    first), missing ones added at index 0; rules of the user's own are left alone.
    """
    have, stale = _colour_rules_in_place(info, col)
    requests_: list[dict[str, Any]] = []
    changes: list[str] = []
    for index in sorted(stale, reverse=True):
        requests_.append({"deleteConditionalFormatRule": {"sheetId": sheet.sheet_id, "index": index}})
    added = 0
    for status, rgb in STATUS_COLOURS.items():
        if status in have:
            continue
        requests_.append(_add_colour_rule(sheet, col, status, rgb))
        added += 1
    if added or stale:
        changes.append(f"Config: colours for Order Status ({added} rule(s) added, {len(stale)} replaced)")
    return requests_, changes


def _colour_rules_in_place(info: dict[str, Any], col: int) -> tuple[set[str], list[int]]:
    """Statuses whose colour rule is already right, and the indexes of our status rules that are not."""
    wanted = {status: tuple(round(v, 3) for v in rgb) for status, rgb in STATUS_COLOURS.items()}
    stale: list[int] = []
    have: set[str] = set()
    for index, rule in enumerate(info.get("conditionalFormats", [])):
        condition = rule.get("booleanRule", {}).get("condition", {})
        values = [v.get("userEnteredValue") for v in condition.get("values", [])]
        if condition.get("type") != "TEXT_EQ" or len(values) != 1 or values[0] not in wanted:
            continue
        status = values[0]
        ranges = rule.get("ranges", [])
        on_column = (
            len(ranges) == 1
            and ranges[0].get("startColumnIndex") == col
            and (ranges[0].get("endColumnIndex") == col + 1)
        )
        style = rule.get("booleanRule", {}).get("format", {})
        colour = _rgb(style.get("backgroundColor") or style.get("backgroundColorStyle", {}).get("rgbColor"))
        if on_column and _same_colour(colour, wanted[status]) and status not in have:
            have.add(status)
        else:
            stale.append(index)
    return have, stale


def _add_colour_rule(sheet: Sheet, col: int, status: str, rgb: tuple[float, float, float]) -> dict[str, Any]:
    """The ``addConditionalFormatRule`` request colouring cells of column ``col`` equal to ``status``."""
    return {
        "addConditionalFormatRule": {
            "index": 0,
            "rule": {
                "ranges": [_column_range(sheet, col)],
                "booleanRule": {
                    "condition": {"type": "TEXT_EQ", "values": [{"userEnteredValue": status}]},
                    "format": {"backgroundColor": dict(zip(("red", "green", "blue"), rgb, strict=True))},
                },
            },
        }
    }


def _rgb(colour: dict[str, Any] | None) -> tuple[float, float, float]:
    colour = colour or {}
    red, green, blue = (float(colour.get(k, 0.0)) for k in ("red", "green", "blue"))
    return red, green, blue


def _same_colour(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Colours equal within Google's 8-bit quantisation (it answers 0.8509804 for 0.851)."""
    return all(abs(x - y) <= 1.5 / 255 for x, y in zip(a, b, strict=True))


def _same_rule(current: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    if not current:
        return False
    cur, want = current.get("condition", {}), wanted["condition"]
    if cur.get("type") != want["type"]:
        return False
    if [v.get("userEnteredValue") for v in cur.get("values", [])] != [
        v.get("userEnteredValue") for v in want.get("values", [])
    ]:
        return False
    return bool(current.get("strict", False)) == bool(wanted.get("strict", False)) and bool(
        current.get("showCustomUi", False)
    ) == bool(wanted.get("showCustomUi", False))
