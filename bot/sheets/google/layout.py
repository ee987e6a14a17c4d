"""The cached layout of the spreadsheet: its tab list, each tab's headers, data rows and row keys.

Every read refreshes a cache of each tab's header row, data-row count and the sheet row of every
key, so writes can go to computed positions without reading first. The reads that fill it (tab
list, header rows, whole tabs) are here too; each tab also has a generation counter, bumped by every
write, so a read that raced a write does not overwrite the newer cache.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.records import Table
from bot.sheets.base import row_key
from bot.sheets.google.cells import col_letters, quote_title
from bot.sheets.google.gate import SheetsGate
from bot.sheets.google.typed import cell_text
from bot.sheets.schema import TABS, tab_spec

log = logging.getLogger(__name__)


@dataclass
class Sheet:
    """One tab of the spreadsheet as Google describes it (``rows``/``cols``: grid size)."""

    sheet_id: int
    title: str
    index: int
    rows: int
    cols: int
    frozen: int = 0


@dataclass
class TabState:
    """What the last read (plus our own writes since) tells about a tab.

    ``headers[c]`` is the header text of column ``c`` (stripped; ``""`` when blank); sheet rows
    ``2 .. data_rows + 1`` hold data; ``keys`` maps a row key to its sheet row numbers (1-based).
    """

    headers: list[str]
    data_rows: int
    keys: dict[tuple[str, ...], list[int]]
    read_at: float

    def column(self, name: str) -> int | None:
        """Column index (0-based) of header ``name``; None when the tab has no such column."""
        try:
            return self.headers.index(name)
        except ValueError:
            return None


def parse_values(
    tab: str, values: list[list[Any]], read_at: float, *, locale: str = "en_US", zone: ZoneInfo | None = None
) -> tuple[Table, TabState]:
    """A :class:`Table` (and the cache state) from an ``UNFORMATTED_VALUE`` ``values`` array (row 1 =
    headers), each cell typed by its schema column (:func:`~bot.sheets.google.typed.cell_text`) in the
    sheet's ``locale`` and time ``zone`` (UTC when unknown).

    Blank header cells are skipped (their columns are not part of the table); a repeated header
    maps to its first column. Rows in the middle that are blank stay (``rows[i]`` is sheet row
    ``i + 2``); Google already drops trailing blank rows.
    """
    raw_headers = [str(v).strip() for v in (values[0] if values else [])]
    positions: dict[str, int] = {}
    for index, name in enumerate(raw_headers):
        if name and name not in positions:
            positions[name] = index
    rows: list[dict[str, str]] = []
    keys: dict[tuple[str, ...], list[int]] = {}
    problems: dict[tuple[int, str], str] = {}
    kinds = _column_kinds(tab, positions)
    zone = zone or ZoneInfo("UTC")
    for offset, row in enumerate(values[1:]):
        record: dict[str, str] = {}
        for name, i in positions.items():
            text, problem = cell_text(
                row[i] if i < len(row) else "", column=name, kind=kinds[name], locale=locale, zone=zone
            )
            record[name] = text
            if problem:
                problems[(offset, name)] = f"cell {col_letters(i)}{offset + 2}: {problem}"
        rows.append(record)
        if tab in TABS and any(record.values()):
            keys.setdefault(row_key(tab, record), []).append(offset + 2)
    state = TabState(raw_headers, max(len(values) - 1, 0), keys, read_at)
    return Table(tab, list(positions), rows, problems), state


def _column_kinds(tab: str, positions: dict[str, int]) -> dict[str, str | None]:
    """Schema type of each header of ``tab`` (None for the user's own columns and unknown tabs)."""
    spec = tab_spec(tab) if tab in TABS else None
    kinds: dict[str, str | None] = {}
    for name in positions:
        try:
            kinds[name] = spec.column(name).type if spec is not None else None
        except KeyError:
            kinds[name] = None
    return kinds


class Layout:
    """The tab list and per-tab caches of one spreadsheet, and the reads that refresh them (thread-safe).

    Args:
        gate: where the reads are sent.
        clock: monotonic clock (seconds) stamping ``read_at`` and the tab list's age.

    Attributes:
        lock: guards the caches below (held briefly, never over I/O); callers changing them hold it.
        sheets: tab name → :class:`Sheet` (Config may be an alias), None until the tab list is read.
        sheets_at: clock time of the last tab-list read.
        states: tab name → :class:`TabState`.
        gen: tab name → generation, bumped by every write of the tab and by :meth:`invalidate`.
        locale: the spreadsheet's locale (``""`` until the tab list is read), e.g. ``"en_US"``.
    """

    def __init__(self, gate: SheetsGate, clock: Callable[[], float]) -> None:
        self._gate = gate
        self._clock = clock
        self.lock = threading.Lock()
        self.sheets: dict[str, Sheet] | None = None
        self.sheets_at = 0.0
        self.states: dict[str, TabState] = {}
        self.gen: dict[str, int] = {}
        self.locale = ""
        self.time_zone = ZoneInfo("UTC")

    def state(self, tab: str) -> TabState | None:
        """The cached state of ``tab`` (None when never read or dropped)."""
        with self.lock:
            return self.states.get(tab)

    def invalidate(self) -> None:
        """Drop every cache (tab list and tab states) and bump every generation."""
        with self.lock:
            self.sheets = None
            self.states.clear()
            for tab in list(self.gen):
                self.gen[tab] += 1

    def grow_columns(self, headers: dict[str, list[str]]) -> None:
        """Widen cached grids to the given header rows (tab → headers); call with :attr:`lock` held."""
        for name, row in headers.items():
            sheet = (self.sheets or {}).get(name)
            if sheet is not None and len(row) > sheet.cols:
                sheet.cols = len(row)

    def load(self, *, force: bool = False, max_age: float | None = None) -> dict[str, Sheet]:
        """The tab list (cached; ``force`` or an age above ``max_age`` seconds re-fetches it).

        The Config tab may be a classic sheet's first tab under another title (see ``_find_classic_config``).
        A re-fetch costs one ``spreadsheets.get`` (plus one ``values:batchGet`` when looking for a
        classic Config tab) and drops the state of any tab whose id or title changed.

        Raises:
            TemporaryError | ConfigError: as :class:`~bot.sheets.google.gate.SheetsGate`.
        """
        with self.lock:
            young = max_age is None or self._clock() - self.sheets_at <= max_age
            if self.sheets is not None and not force and young:
                return self.sheets
        fields = "properties(locale,timeZone),sheets(properties(sheetId,title,index,gridProperties))"
        reply = self._gate.spreadsheets_get({"fields": fields})
        sheets: dict[str, Sheet] = {}
        for item in sorted(reply.get("sheets", []), key=lambda s: s["properties"].get("index", 0)):
            props = item["properties"]
            grid = props.get("gridProperties", {})
            sheet = Sheet(
                sheet_id=int(props.get("sheetId", 0)),
                title=str(props["title"]),
                index=int(props.get("index", 0)),
                rows=int(grid.get("rowCount", 0)),
                cols=int(grid.get("columnCount", 0)),
                frozen=int(grid.get("frozenRowCount", 0)),
            )
            sheets.setdefault(sheet.title, sheet)
        if "Config" not in sheets and sheets:
            alias = self._find_classic_config(sheets)
            if alias is not None:
                log.info("using tab %r as the Config tab (it has the classic Config columns)", alias.title)
                sheets["Config"] = alias
        with self.lock:
            old = self.sheets or {}
            for name, sheet in sheets.items():
                if name in old and (old[name].sheet_id != sheet.sheet_id or old[name].title != sheet.title):
                    self.states.pop(name, None)
            self.sheets = sheets
            self.sheets_at = self._clock()
            self.locale = str(reply.get("properties", {}).get("locale", ""))
            self.time_zone = _zone(str(reply.get("properties", {}).get("timeZone", "") or "UTC"))
            return sheets

    def _find_classic_config(self, sheets: dict[str, Sheet]) -> Sheet | None:
        """The first tab whose header row has the required Config columns (a classic one-tab sheet)."""
        candidates = [s for s in sheets.values() if s.title not in TABS]
        if not candidates:
            return None
        reply = self._gate.values_batch_get(
            [f"{quote_title(s.title)}!1:1" for s in candidates],
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        required = set(tab_spec("Config").required)
        for sheet, value_range in zip(candidates, reply.get("valueRanges", []), strict=False):
            row = (value_range.get("values") or [[]])[0]
            if required <= {str(v).strip() for v in row}:
                return sheet
        return None

    def fetch_header_rows(self, tabs: list[str], sheets: dict[str, Sheet]) -> dict[str, list[str]]:
        """The header row of each tab (stripped texts) with one ``values:batchGet``; ``{}`` for no tabs.

        Raises:
            TemporaryError | ConfigError: as :class:`~bot.sheets.google.gate.SheetsGate`.
        """
        if not tabs:
            return {}
        reply = self._gate.values_batch_get(
            [f"{quote_title(sheets[t].title)}!1:1" for t in tabs],
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        out = {}
        for tab, value_range in zip(tabs, reply.get("valueRanges", []), strict=False):
            row = (value_range.get("values") or [[]])[0]
            out[tab] = [str(v).strip() for v in row]
        return out

    def fetch_tables(self, tabs: list[str], sheets: dict[str, Sheet]) -> dict[str, tuple[Table, TabState]]:
        """Each tab whole (``UNFORMATTED_VALUE``, serial dates) with one ``values:batchGet``, as a table and
        its cache state.

        The cache is not updated here (see :meth:`refresh`). ``{}`` for no tabs.

        Raises:
            TemporaryError | ConfigError: as :class:`~bot.sheets.google.gate.SheetsGate`.
        """
        if not tabs:
            return {}
        started = self._clock()
        reply = self._gate.values_batch_get(
            [quote_title(sheets[t].title) for t in tabs],
            {
                "valueRenderOption": "UNFORMATTED_VALUE",
                "dateTimeRenderOption": "SERIAL_NUMBER",
                "majorDimension": "ROWS",
            },
        )
        ranges = reply.get("valueRanges", [])
        out: dict[str, tuple[Table, TabState]] = {}
        locale, zone = self.locale or "en_US", self.time_zone
        for tab, value_range in zip(tabs, ranges, strict=False):
            out[tab] = parse_values(tab, value_range.get("values") or [], started, locale=locale, zone=zone)
        return out

    def refresh(self, tabs: list[str], sheets: dict[str, Sheet]) -> None:
        """Re-read ``tabs`` into the cache (called with the workbook's write lock held).

        Raises:
            TemporaryError | ConfigError: as :class:`~bot.sheets.google.gate.SheetsGate`.
        """
        tables = self.fetch_tables(tabs, sheets)
        with self.lock:
            for tab, (_table, state) in tables.items():
                self.states[tab] = state


def _zone(name: str) -> ZoneInfo:
    """The spreadsheet's time zone (``properties.timeZone``, an IANA name), UTC when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("spreadsheet time zone %r is unknown here; reading its dates in UTC", name)
        return ZoneInfo("UTC")
