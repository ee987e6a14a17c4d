"""Validation of whole tabs against ``sheets_schema`` (used by ``import`` and the dashboard editor).

Pure functions: records in, a list of problems out, each naming the row, the column and the value.
"""

from __future__ import annotations

from bot.parsing import parse_bool, parse_decimal, parse_sheet_time
from bot.records import Table
from bot.sheets.schema import ColumnSpec, tab_spec
from bot.trading.config_table import parse_config


def check_cell(column: ColumnSpec, text: str) -> str | None:
    """Problem with one cell's text for its column type, or None when fine (blank is fine unless required)."""
    if not text:
        return f"{column.name} is required" if column.required else None
    try:
        if column.type == "decimal":
            parse_decimal(text.rstrip("%"))
        elif column.type == "int":
            int(text)
        elif column.type == "bool":
            parse_bool(text)
        elif column.type == "datetime":
            parse_sheet_time(text)
        elif column.type == "enum" and column.allowed and text not in column.allowed:
            return f"{column.name}: {text!r} is not one of {', '.join(a for a in column.allowed if a)}"
    except ValueError as exc:
        return f"{column.name}: {exc}"
    return None


def validate_records(tab: str, headers: list[str], records: list[dict[str, str]]) -> list[str]:
    """Every problem in ``records`` (rows of ``tab`` with ``headers``), as ``"row N: ..."`` strings.

    Row numbers are sheet rows (the header is row 1). Unknown columns are allowed (kept as user
    columns). Config rows are checked with the same rules the bot trades by (including duplicates).
    """
    spec = tab_spec(tab)
    problems = [f"missing required column {name!r}" for name in spec.required if name not in headers]
    if problems:
        return problems
    if tab == "Config":
        _, row_problems = parse_config(Table(tab, headers, records))
        return [f"row {p.row_number}: {p.reason}" for p in sorted(row_problems, key=lambda p: p.row_number)]
    for index, record in enumerate(records, start=2):
        if not any(record.values()):
            continue
        for column in spec.columns:
            if column.name in headers:
                problem = check_cell(column, record.get(column.name, ""))
                if problem:
                    problems.append(f"row {index}: {problem}")
    return problems
