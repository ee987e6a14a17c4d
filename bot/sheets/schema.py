"""The workbook's tab definitions, loaded from ``sheets_schema/*.json`` (one file per tab).

Each file: ``{"tab", "description", "key": [column, ...], "columns": [{"name", "type", "required",
"owner": "bot"|"user", "allowed"?, "default"?, "description"}]}``. Code refers to tabs and columns
through :func:`tab_spec` so a renamed column fails loudly in tests (see tests/sheets/test_schema.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sheets_schema"

#: Tab names in workbook order.
TABS = ("Config", "Settings", "Signals", "Orders", "Trades", "Performance", "Snapshots", "CashFlows", "Balances")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: header ``name``, value ``type``, who writes it (``owner``), allowed values."""

    name: str
    type: str
    owner: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    default: str | None = None
    description: str = ""


@dataclass(frozen=True)
class TabSpec:
    """One tab: its ``name``, ordered ``columns`` and the ``key`` columns that identify a row."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    description: str = ""

    @property
    def headers(self) -> list[str]:
        """Column headers in schema order."""
        return [column.name for column in self.columns]

    @property
    def bot_columns(self) -> frozenset[str]:
        """Headers the bot owns (it may overwrite them)."""
        return frozenset(c.name for c in self.columns if c.owner == "bot")

    @property
    def user_columns(self) -> frozenset[str]:
        """Headers the user owns (the bot never overwrites them, except on rows it creates)."""
        return frozenset(c.name for c in self.columns if c.owner == "user")

    @property
    def required(self) -> list[str]:
        """Headers that must exist in the sheet."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        """The :class:`ColumnSpec` called ``name``.

        Raises:
            KeyError: when the tab has no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"tab {self.name} has no column {name!r}")


@cache
def tab_spec(name: str) -> TabSpec:
    """Load and cache the :class:`TabSpec` of tab ``name`` from ``sheets_schema/<name>.json``.

    Raises:
        FileNotFoundError: for an unknown tab.
    """
    data = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    columns = tuple(
        ColumnSpec(
            name=c["name"],
            type=c["type"],
            owner=c["owner"],
            required=bool(c.get("required", False)),
            allowed=tuple(c.get("allowed", ())),
            default=c.get("default"),
            description=c.get("description", ""),
        )
        for c in data["columns"]
    )
    return TabSpec(name=data["tab"], columns=columns, key=tuple(data["key"]), description=data.get("description", ""))


def all_specs() -> list[TabSpec]:
    """Every tab's :class:`TabSpec`, in workbook order."""
    return [tab_spec(name) for name in TABS]
