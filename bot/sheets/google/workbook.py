"""The :class:`GoogleWorkbook`: the :class:`~bot.sheets.base.Workbook` interface on a Google Sheet.

Behaves like :class:`~bot.sheets.local.LocalWorkbook` (same tabs, rows located by key, columns by
header name, unknown user columns left alone) while staying inside Google's quota of 60 requests
per minute per user:

- **Reads** are one ``values:batchGet`` (``FORMATTED_VALUE``) for all tabs asked for. Every read
  refreshes a cache of each tab's header row, data-row count and the sheet row of every key
  (:mod:`bot.sheets.google.layout`).
- **Writes**: :meth:`GoogleWorkbook.apply` turns a whole :class:`~bot.records.WriteBatch` into
  ONE ``values:batchUpdate`` (``USER_ENTERED``): updates go to the cached row of their key; new rows
  are written at computed positions below the data (:mod:`bot.sheets.google.plans`). Only when the
  grid is too small (or a tab is missing) does one ``spreadsheets:batchUpdate``
  (``appendDimension``/``addSheet``, :mod:`bot.sheets.google.structure`) come first.
  Because positions are computed, re-sending a batch whose reply was lost rewrites the same
  cells: a retry never duplicates a row.
- Positions can go stale when a person sorts or inserts rows, so tabs with user-owned columns
  (Config, Settings, ...) are re-read before a write when their cache is older than
  ``user_tab_ttl`` seconds (10 s by default; the Config cache re-reads them every 15 s anyway),
  bot-only tabs (Signals, Orders) after ``bot_tab_ttl``, and any tab when a row to update is not
  found (one re-read).
- A client-side budget (:mod:`bot.sheets.google.budget`) keeps background work (apply,
  replace_rows, trim, ensure_tabs) under ``requests_per_minute`` (50 by default) in any 60 s window,
  leaving room for the Config reads of the webhook path, which never wait. Background calls wait for
  room *before* taking any lock.
- No retry happens here: every request goes through :class:`~bot.sheets.google.gate.SheetsGate`,
  which turns 429, 5xx and connection errors into :class:`~bot.errors.TemporaryError` (the outbox
  writer retries with backoff) and access problems into :class:`~bot.errors.ConfigError`.

Cell texts follow :mod:`bot.sheets.google.cells`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gspread

from bot.records import Table, WriteBatch
from bot.sheets.google.budget import RequestBudget
from bot.sheets.google.cells import blocks
from bot.sheets.google.formatting import FORMAT_FIELDS, format_ranges, format_requests
from bot.sheets.google.gate import SheetsGate
from bot.sheets.google.layout import Layout, Sheet, TabState
from bot.sheets.google.plans import TabPlan, new_plan, plan_batch, plan_replacement
from bot.sheets.google.structure import (
    add_sheet_request,
    append_dimension,
    delete_rows,
    header_cells,
    new_sheet,
    structure_for,
)
from bot.sheets.schema import TABS, TabSpec, tab_spec

log = logging.getLogger(__name__)


class GoogleWorkbook:
    """:class:`~bot.sheets.base.Workbook` stored in a Google Sheet (thread-safe).

    Args:
        client: an authorised gspread client (``gspread.Client``); its ``http_client`` is the
            only way requests leave (tests inject one routed to a loopback fake).
        spreadsheet_id: the sheet's id.
        service_account_email: named in "share the sheet with …" errors.
        requests_per_minute: budget of background requests per ``budget_window`` seconds.
        budget_window: seconds; Google's quota window is 60 s.
        user_tab_ttl: seconds after which a tab with user-owned columns is re-read before a write.
        bot_tab_ttl: the same for tabs only the bot writes (Signals, Orders, ...).
        trim_margin: fraction of ``keep_rows`` a tab may exceed before :meth:`trim` deletes rows.

    Attributes:
        requests_sent: Sheets API requests sent (token exchanges not included).
        locale: the spreadsheet's locale once the tab list was read (``""`` before).
    """

    kind = "google"

    def __init__(
        self,
        client: gspread.Client,
        spreadsheet_id: str,
        *,
        service_account_email: str = "",
        requests_per_minute: int = 50,
        budget_window: float = 60.0,
        user_tab_ttl: float = 10.0,
        bot_tab_ttl: float = 600.0,
        trim_margin: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.spreadsheet_id = spreadsheet_id
        self.service_account_email = service_account_email
        self.user_tab_ttl = user_tab_ttl
        self.bot_tab_ttl = bot_tab_ttl
        self.trim_margin = trim_margin
        self._clock = clock
        self.budget = RequestBudget(requests_per_minute, budget_window, clock)
        self._gate = SheetsGate(
            client.http_client,
            spreadsheet_id,
            service_account_email=service_account_email,
            budget=self.budget,
            on_stale=self._invalidate,
        )
        self._write_lock = threading.RLock()  # serialises every mutation (and its requests)
        self._layout = Layout(self._gate, clock)  # tab list and tab caches (own lock, never held over I/O)

    @property
    def requests_sent(self) -> int:
        """Sheets API requests sent so far (token exchanges not included)."""
        return self._gate.requests_sent

    @property
    def locale(self) -> str:
        """The spreadsheet's locale (e.g. ``"en_US"``), ``""`` until the tab list is read."""
        return self._layout.locale

    # -- public: reading -------------------------------------------------------------------

    def check_access(self) -> None:
        """Fetch the tab list (one request): proves credentials, sharing and sheet id.

        Raises:
            ConfigError | TemporaryError: as :func:`~bot.sheets.google.auth.open_google_workbook`.
        """
        self._layout.load(force=True)

    def read_tables(self, tabs: Sequence[str]) -> dict[str, Table]:
        """Read ``tabs`` with one ``values:batchGet``; a missing tab reads as empty with schema headers.

        Never waits for the request budget and never retries (it runs in the webhook path).
        Cells are formatted texts (``""`` when blank) passed through :func:`~bot.parsing.safe_cell`.

        Raises:
            TemporaryError: Google unreachable, over quota or failing.
            ConfigError: access lost (403/404).
        """
        wanted = list(dict.fromkeys(tabs))
        layout = self._layout
        sheets = layout.load()
        with layout.lock:
            gens = {tab: layout.gen.get(tab, 0) for tab in wanted}
        present = [tab for tab in wanted if tab in sheets]
        tables = layout.fetch_tables(present, sheets)
        with layout.lock:
            for tab, (_table, state) in tables.items():
                if layout.gen.get(tab, 0) == gens[tab]:
                    layout.states[tab] = state
        result = {}
        for tab in wanted:
            if tab in tables:
                result[tab] = tables[tab][0]
            else:
                result[tab] = Table(tab, tab_spec(tab).headers if tab in TABS else [], [])
        return result

    def headers(self, tab: str) -> list[str]:
        """Headers of ``tab`` as in the sheet (empty list when the tab does not exist)."""
        return self.read_tables([tab])[tab].headers if tab in self._layout.load() else []

    def version(self) -> str | None:
        """Always None: Google has no cheap change token, the Config cache refreshes on its timer."""
        return None

    # -- public: writing -------------------------------------------------------------------

    def apply(self, batch: WriteBatch) -> None:
        """Apply ``batch`` with one ``values:batchUpdate`` (USER_ENTERED), in order.

        Row writes go to every row with their key (a missing key re-reads the tab once; still
        missing: upserts append, plain writes are skipped), then plain appends follow, each as a new
        row below the data. Missing tabs and columns are created (one ``spreadsheets:batchUpdate``,
        also used to grow the grid when needed). Waits for the request budget first.

        Raises:
            TemporaryError: Google unreachable, over quota, failing, or the layout changed under us
                (tab deleted, grid shrunk); the caches are dropped so a retry starts fresh.
            ConfigError: access lost (403/404) or a request Google refuses (400).
        """
        if not batch:
            return
        self.budget.wait_for_room(2)
        with self._write_lock:
            tabs = list(dict.fromkeys([w.tab for w in batch.writes] + [tab for tab, _ in batch.appends]))
            sheets = self._layout.load()
            appending = {tab for tab, _ in batch.appends} | {w.tab for w in batch.writes if w.upsert}
            stale = [tab for tab in tabs if tab in sheets and self._needs_read(tab, appending=tab in appending)]
            fresh: set[str] = set()
            if stale:
                self._layout.refresh(stale, sheets)
                fresh.update(stale)
            plans, missing = plan_batch(batch, sheets, self._layout)
            retry_tabs = [tab for tab in missing if tab not in fresh and tab in sheets]
            if retry_tabs:
                self._layout.refresh(retry_tabs, sheets)
                plans, missing = plan_batch(batch, sheets, self._layout)
            if missing:
                log.debug("skipped writes to rows no longer in the sheet: %s", missing)
            self._execute(plans)

    def replace_rows(self, tab: str, rows: list[dict[str, str]]) -> None:
        """Replace every data row of ``tab`` with ``rows`` in one ``values:batchUpdate``.

        Headers stay; keys of ``rows`` missing from the headers are added at the right; cells of
        columns a row does not mention (user columns included) become blank, like the local backend.
        Rows beyond the new data are blanked. The tab is re-read first when its cache is stale.

        Raises:
            TemporaryError | ConfigError: as :meth:`apply`.
        """
        self.budget.wait_for_room(2)
        with self._write_lock:
            sheets = self._layout.load()
            if tab in sheets and self._needs_read(tab, appending=True):
                self._layout.refresh([tab], sheets)
            plan = new_plan(tab, sheets, self._layout)
            plan_replacement(plan, rows)
            self._execute([plan], replaced={tab})

    def ensure_tabs(self, specs: Sequence[TabSpec]) -> list[str]:
        """Create missing tabs (headers written, header row frozen) and add missing columns at the right.

        Existing rows and user columns are never touched. Costs a tab-list request, one
        ``values:batchGet`` of the header rows and, only when something is missing, one
        ``spreadsheets:batchUpdate``; a second run changes nothing and returns ``[]``.

        Returns:
            What changed, e.g. ``["created tab Signals", "Config: added columns broker, direction"]``.

        Raises:
            TemporaryError | ConfigError: as :meth:`apply`.
        """
        self.budget.wait_for_room(3)
        with self._write_lock:
            layout = self._layout
            sheets = layout.load(max_age=5.0)
            changes: list[str] = []
            existing = [spec for spec in specs if spec.name in sheets]
            headers = layout.fetch_header_rows([spec.name for spec in existing], sheets)
            requests_: list[dict[str, Any]] = []
            new_sheets: dict[str, Sheet] = {}
            used_ids = {sheet.sheet_id for sheet in sheets.values()}
            for spec in specs:
                if spec.name in sheets:
                    current = headers.get(spec.name, [])
                    missing = [h for h in spec.headers if h not in current]
                    if not missing:
                        continue
                    sheet = sheets[spec.name]
                    start = len(current)
                    if start + len(missing) > sheet.cols:
                        requests_.append(append_dimension(sheet, "COLUMNS", start + len(missing) - sheet.cols))
                    requests_.append(header_cells(sheet.sheet_id, start, missing, bold=False))
                    changes.append(f"{spec.name}: added columns {', '.join(missing)}")
                    new_headers = current + missing
                else:
                    count = len({s.sheet_id for s in sheets.values()}) + len(new_sheets)
                    sheet = new_sheet(spec.name, len(spec.headers), used_ids, count)
                    used_ids.add(sheet.sheet_id)
                    new_sheets[spec.name] = sheet
                    requests_.append(add_sheet_request(sheet))
                    requests_.append(header_cells(sheet.sheet_id, 0, spec.headers, bold=True))
                    changes.append(f"created tab {spec.name}")
                    new_headers = list(spec.headers)
                headers[spec.name] = new_headers
            if requests_:
                self._gate.batch_update(requests_)
                with layout.lock:
                    for name, sheet in new_sheets.items():
                        layout.sheets = {**(layout.sheets or {}), name: sheet}
                    layout.grow_columns(headers)
                    for name, new_headers in headers.items():
                        state = layout.states.get(name)
                        if state is not None:
                            state.headers = list(new_headers)
                        elif name in new_sheets:
                            layout.states[name] = TabState(list(new_headers), 0, {}, self._clock())
                        layout.gen[name] = layout.gen.get(name, 0) + 1
            return changes

    def format_tabs(self) -> list[str]:
        """init-sheet formatting: frozen header rows, Config drop-downs/checkbox, Order Status colours.

        Drop-downs (Time Frame, direction, size_type, broker) are non-strict so a value the bot
        accepts but the list lacks (``15``, ``1D``) shows a warning instead of being refused.
        Idempotent: compares with what the sheet has (one ``spreadsheets.get``) and sends one
        ``spreadsheets:batchUpdate`` only for what differs; a second run returns ``[]``.

        Raises:
            TemporaryError | ConfigError: as :meth:`apply`.
        """
        self.budget.wait_for_room(3)
        with self._write_lock:
            layout = self._layout
            sheets = layout.load(max_age=5.0)
            if layout.locale and not layout.locale.startswith("en"):
                log.warning(
                    "spreadsheet locale is %s: numbers and dates typed by the bot are parsed with it; "
                    "English (United States) is the safe choice (File > Settings > Locale)",
                    layout.locale,
                )
            schema_tabs = [name for name in TABS if name in sheets]
            if not schema_tabs:
                return []
            reply = self._gate.spreadsheets_get({"ranges": format_ranges(schema_tabs, sheets), "fields": FORMAT_FIELDS})
            requests_, changes = format_requests(schema_tabs, sheets, reply)
            if requests_:
                self._gate.batch_update(requests_)
                with layout.lock:
                    for name in schema_tabs:
                        sheets[name].frozen = 1
            return changes

    def trim(self, tab: str, keep_rows: int) -> int:
        """Delete the oldest data rows of ``tab`` so ``keep_rows`` remain, once it exceeds them by the margin.

        Free (no request) until the cached row count exceeds ``keep_rows * (1 + trim_margin)``; then
        the tab is re-read and one ``deleteDimension`` removes rows 2..n. Returns rows deleted.

        Raises:
            TemporaryError | ConfigError: as :meth:`apply`.
        """
        keep_rows = max(0, keep_rows)
        layout = self._layout
        state = layout.state(tab)
        margin = max(1, int(keep_rows * self.trim_margin))
        if state is None or state.data_rows < keep_rows + margin:
            return 0
        self.budget.wait_for_room(2)
        with self._write_lock:
            sheets = layout.load()
            if tab not in sheets:
                return 0
            layout.refresh([tab], sheets)
            with layout.lock:
                state = layout.states[tab]
            delete = state.data_rows - keep_rows
            if delete <= 0:
                return 0
            sheet = sheets[tab]
            self._gate.batch_update([delete_rows(sheet, delete)])
            with layout.lock:
                keys: dict[tuple[str, ...], list[int]] = {}
                for key, rows in state.keys.items():
                    moved = [r - delete for r in rows if r - delete >= 2]
                    if moved:
                        keys[key] = moved
                layout.states[tab] = TabState(state.headers, state.data_rows - delete, keys, state.read_at)
                sheet.rows -= delete
                layout.gen[tab] = layout.gen.get(tab, 0) + 1
            return delete

    def close(self) -> None:
        """Fail pending budget waits and close the HTTP session."""
        self.budget.close()
        self._gate.close()

    # -- internals -------------------------------------------------------------------------

    def _invalidate(self) -> None:
        """Drop the cached layout (the gate calls this when Google says it is out of date)."""
        self._layout.invalidate()

    def _needs_read(self, tab: str, *, appending: bool) -> bool:
        state = self._layout.state(tab)
        if state is None:
            return True
        ttl = self.user_tab_ttl if _has_user_columns(tab) else self.bot_tab_ttl
        if appending and _has_user_columns(tab):
            ttl = min(ttl, 1.0)  # never append below a user's fresh rows on a stale count
        return self._clock() - state.read_at > ttl

    def _execute(self, plans: list[TabPlan], *, replaced: Iterable[str] = ()) -> None:
        """Send the plans: structure first (new tabs, grid growth) if needed, then one values:batchUpdate."""
        plans = [p for p in plans if p.cells or p.new_tab]
        if not plans:
            return
        layout = self._layout
        with layout.lock:
            sheets = dict(layout.sheets or {})
        structural, new_sheets, grown = structure_for(plans, sheets)
        if structural:
            self._gate.batch_update(structural)
            with layout.lock:
                current = dict(layout.sheets or {})
                current.update(new_sheets)
                for tab, (add_rows, add_cols) in grown.items():
                    if tab in current:
                        current[tab].rows += add_rows
                        current[tab].cols += add_cols
                layout.sheets = current
        data: list[dict[str, Any]] = []
        for plan in plans:
            data.extend(blocks(plan.title, plan.cells))
        self._gate.values_batch_update({"valueInputOption": "USER_ENTERED", "data": data})
        now = self._clock()
        replaced = set(replaced)
        with layout.lock:
            for plan in plans:
                old = layout.states.get(plan.tab)
                read_at = now if (plan.new_tab or plan.tab in replaced or old is None) else old.read_at
                layout.states[plan.tab] = TabState(list(plan.headers), plan.data_rows, plan.keys, read_at)
                layout.gen[plan.tab] = layout.gen.get(plan.tab, 0) + 1


def _has_user_columns(tab: str) -> bool:
    return tab not in TABS or bool(tab_spec(tab).user_columns)
