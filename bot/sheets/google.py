"""Google Sheets backend of the :class:`~bot.sheets.base.Workbook` interface (gspread 6.x, google-auth).

Behaves like :class:`~bot.sheets.local.LocalWorkbook` (same tabs, rows located by key, columns by
header name, unknown user columns left alone) while staying inside Google's quota of 60 requests
per minute per user:

- **Reads** are one ``values:batchGet`` (``FORMATTED_VALUE``) for all tabs asked for. Every read
  refreshes a cache of each tab's header row, data-row count and the sheet row of every key.
- **Writes**: :meth:`GoogleWorkbook.apply` turns a whole :class:`~bot.records.WriteBatch` into
  ONE ``values:batchUpdate`` (``USER_ENTERED``): updates go to the cached row of their key; new rows
  are written at computed positions below the data. Only when the grid is too small (or a tab is
  missing) does one ``spreadsheets:batchUpdate`` (``appendDimension``/``addSheet``) come first.
  Because positions are computed, re-sending a batch whose reply was lost rewrites the same
  cells: a retry never duplicates a row.
- Positions can go stale when a person sorts or inserts rows, so tabs with user-owned columns
  (Config, Settings, ...) are re-read before a write when their cache is older than
  ``user_tab_ttl`` seconds (10 s by default; the Config cache re-reads them every 15 s anyway),
  bot-only tabs (Signals, Orders) after ``bot_tab_ttl``, and any tab when a row to update is not
  found (one re-read).
- A client-side budget keeps background work (apply, replace_rows, trim, ensure_tabs) under
  ``requests_per_minute`` (50 by default) in any 60 s window, leaving room for the Config reads of
  the webhook path, which never wait. Background calls wait for room *before* taking any lock.
- No retry happens here: 429, 5xx and connection errors become :class:`~bot.errors.TemporaryError`
  (the outbox writer retries with backoff), access problems :class:`~bot.errors.ConfigError`.
  gspread's ``BackOffHTTPClient`` is not used (in 6.2.1 it never gives up).

Cell texts: values are written through :func:`~bot.parsing.safe_cell` with ``USER_ENTERED`` so
numbers and booleans stay numbers and booleans; text-typed schema columns (ids, symbols, notes) and
time stamps are sent with a leading apostrophe so ``"007"``, a 20-digit order id or
``2024-03-01 09:05:00`` read back exactly as written (a date typed into a sheet comes back in the
sheet's locale format, which the bot could not parse reliably). Reads pass every
formatted value through :func:`~bot.parsing.safe_cell` again, so a text cell showing ``=x`` reads as
``'=x`` exactly like the local backend stores it, and writing it back never creates a formula.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gspread
import requests
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.utils import rowcol_to_a1

from bot.domain import RowStatus
from bot.errors import BotError, ConfigError, TemporaryError
from bot.parsing import safe_cell
from bot.records import RowWrite, Table, WriteBatch
from bot.settings import Settings
from bot.sheets.base import row_key
from bot.sheets.schema import TABS, TabSpec, tab_spec

log = logging.getLogger(__name__)

#: OAuth scope the bot asks for: the sheets it was shared with, nothing of Drive.
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)

#: Columns of these schema types are written as text (apostrophe prefix) so ids keep their digits.
_TEXT_TYPES = frozenset({"text", "symbol", "timeframe", "duration", "datetime"})
_FORMULA_MARK = ("'=", "'+", "'-", "'@", "'\t", "'\r", "'\n")
_SHEET_URL_RE = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_SHEET_ID_RE = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_MIN_NEW_ROWS = 1000  # grid growth step (rows); growth is one request, so grow generously
_NEW_TAB_ROWS = 1000
_NEW_TAB_COLUMNS = 26
_MAX_CELL_CHARS = 49_000  # Google refuses cells over 50,000 characters; keep room for the apostrophe

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


# --------------------------------------------------------------------------------------------
# Opening: credentials, sheet id
# --------------------------------------------------------------------------------------------


def parse_sheet_id(value: str) -> str:
    """The spreadsheet id from GOOGLE_SHEET_ID: the id itself or the sheet's full URL.

    ``"https://docs.google.com/spreadsheets/d/1AbC…xyz/edit#gid=0"`` → ``"1AbC…xyz"``.

    Raises:
        ConfigError: when blank or not an id/URL of a Google Sheet.
    """
    text = (value or "").strip()
    if not text:
        raise ConfigError(
            "GOOGLE_SHEET_ID is not set: use the sheet's id (the part between /d/ and /edit in its URL) "
            "or paste the whole URL",
            field="GOOGLE_SHEET_ID",
        )
    match = _SHEET_URL_RE.search(text)
    if match:
        return match.group(1)
    if _SHEET_ID_RE.match(text):
        return text
    raise ConfigError(
        f"GOOGLE_SHEET_ID {text[:80]!r} is neither a Google Sheets id nor a sheet URL "
        "(expected https://docs.google.com/spreadsheets/d/<id>/edit)",
        field="GOOGLE_SHEET_ID",
        value=text[:80],
    )


def load_service_account_info(settings: Settings) -> dict[str, Any]:
    """The service-account key (a dict) from GOOGLE_CREDENTIALS_JSON, else GOOGLE_CREDENTIALS_FILE.

    GOOGLE_CREDENTIALS_JSON may hold the key's JSON text or that text base64-encoded (handy for
    platforms that mangle newlines). Error messages never contain the key.

    Raises:
        ConfigError: no credentials, unreadable file, invalid JSON, or not a service-account key.
    """
    raw = settings.google_credentials_json.get_secret_value().strip()
    if raw:
        source, name = "GOOGLE_CREDENTIALS_JSON", "GOOGLE_CREDENTIALS_JSON"
        if not raw.startswith("{"):
            try:
                raw = base64.b64decode(raw, validate=True).decode("utf-8").strip()
            except (binascii.Error, UnicodeDecodeError):
                raise ConfigError(
                    "GOOGLE_CREDENTIALS_JSON is neither JSON nor base64-encoded JSON: paste the whole "
                    "service-account key file (it starts with '{')",
                    field=name,
                ) from None
    else:
        path = settings.google_credentials_file
        source, name = str(path), "GOOGLE_CREDENTIALS_FILE"
        if not path.is_file():
            raise ConfigError(
                f"Google credentials not found: {path} does not exist. Download a service-account key "
                "(Google Cloud console > IAM > Service accounts > Keys > Add key > JSON) and point "
                "GOOGLE_CREDENTIALS_FILE at it, or put its content in GOOGLE_CREDENTIALS_JSON",
                field=name,
                value=str(path),
            )
        try:
            raw = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Google credentials file {path} cannot be read: {exc}", field=name) from None
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", field=name
        ) from None
    if not isinstance(info, dict):
        raise ConfigError(f"{source} must hold a JSON object (a service-account key)", field=name)
    if info.get("type") != "service_account":
        kind = "an OAuth client file" if ("installed" in info or "web" in info) else f"type {info.get('type')!r}"
        raise ConfigError(
            f"{source} is {kind}, not a service-account key: create a key for a service account "
            "(IAM > Service accounts > Keys > Add key > JSON)",
            field=name,
        )
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{source} lacks {', '.join(missing)}: download the key file again", field=name)
    return info


def open_google_workbook(
    settings: Settings,
    *,
    http_client: type[HTTPClient] = HTTPClient,
    timeout: float | tuple[float, float] = (5.0, 20.0),
    check: bool = True,
    **options: Any,
) -> GoogleWorkbook:
    """Open the Google Sheet of ``settings`` and check that the service account can use it.

    Args:
        settings: GOOGLE_SHEET_ID (id or URL), GOOGLE_CREDENTIALS_JSON or GOOGLE_CREDENTIALS_FILE.
        http_client: gspread's HTTP client class (tests pass one routed to a loopback fake).
        timeout: seconds per request, or ``(connect, read)``.
        check: verify access now (one request); False when starting during an outage on a saved config.
        options: passed to :class:`GoogleWorkbook` (budget and cache knobs).

    Costs one request (``spreadsheets.get`` of the tab list) plus the token exchange.

    Raises:
        ConfigError: missing/bad credentials, sheet id missing or wrong (404), sheet not shared with
            the service account (403, the message names its e-mail), Sheets API disabled.
        TemporaryError: Google unreachable, over quota or failing (5xx) at start-up.
    """
    info = load_service_account_info(settings)
    sheet_id = parse_sheet_id(settings.google_sheet_id)
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except (ValueError, auth_exceptions.GoogleAuthError) as exc:
        source = "GOOGLE_CREDENTIALS_JSON" if settings.google_credentials_json.get_secret_value() else "the key file"
        raise ConfigError(
            f"the private key in {source} cannot be used ({type(exc).__name__}): download a new key",
            field="GOOGLE_CREDENTIALS_FILE",
        ) from None
    client = gspread.Client(auth=credentials, http_client=http_client)
    client.set_timeout(timeout)
    workbook = GoogleWorkbook(client, sheet_id, service_account_email=str(info["client_email"]), **options)
    if not check:
        return workbook
    try:
        workbook.check_access()
    except BotError:
        workbook.close()
        raise
    return workbook


# --------------------------------------------------------------------------------------------
# Internals: request budget, cached layout
# --------------------------------------------------------------------------------------------


class RequestBudget:
    """Sliding-window count of requests sent, so background work stays under Google's quota.

    Every request sent is noted (:meth:`note`); background work calls :meth:`wait_for_room` first and
    waits while the last ``window`` seconds already hold ``limit`` requests (reads of the webhook path
    included, though they never wait themselves).

    Args:
        limit: requests per ``window`` seconds background work stays under (50 of Google's 60).
        window: window length, seconds (Google's quota window is 60 s).
        clock: monotonic clock (seconds).
    """

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.waited_seconds = 0.0

    def note(self) -> None:
        """Record one request sent now."""
        with self._lock:
            self._sent.append(self._clock())

    def in_window(self) -> int:
        """Requests sent in the last ``window`` seconds."""
        with self._lock:
            self._expire()
            return len(self._sent)

    def wait_for_room(self, needed: int) -> None:
        """Block until ``needed`` more requests fit in the window (background threads only).

        Raises:
            TemporaryError: when :meth:`close` is called while waiting.
        """
        needed = min(needed, self.limit)
        while True:
            with self._lock:
                self._expire()
                if len(self._sent) + needed <= self.limit:
                    return
                pause = self._sent[len(self._sent) + needed - self.limit - 1] + self.window - self._clock()
            pause = max(pause, 0.01)
            self.waited_seconds += pause
            if self._closed.wait(pause):
                raise TemporaryError("Google Sheets workbook closed while waiting for request budget")

    def close(self) -> None:
        """Wake and fail every waiter."""
        self._closed.set()

    def _expire(self) -> None:
        edge = self._clock() - self.window
        while self._sent and self._sent[0] <= edge:
            self._sent.popleft()


@dataclass
class _Sheet:
    """One tab of the spreadsheet as Google describes it."""

    sheet_id: int
    title: str
    index: int
    rows: int
    cols: int
    frozen: int = 0


@dataclass
class _TabState:
    """What the last read (plus our own writes since) tells about a tab.

    ``headers[c]`` is the header text of column ``c`` (stripped; ``""`` when blank); sheet rows
    ``2 .. data_rows + 1`` hold data; ``keys`` maps a row key to its sheet row numbers (1-based).
    """

    headers: list[str]
    data_rows: int
    keys: dict[tuple[str, ...], list[int]]
    read_at: float

    def column(self, name: str) -> int | None:
        try:
            return self.headers.index(name)
        except ValueError:
            return None


@dataclass
class _TabPlan:
    """Pending changes of one tab inside :meth:`GoogleWorkbook.apply` (committed on success)."""

    tab: str
    title: str
    headers: list[str]
    data_rows: int
    keys: dict[tuple[str, ...], list[int]]
    new_tab: bool = False
    cells: dict[int, dict[int, str]] = field(default_factory=dict)  # sheet row (1-based) → column (0-based) → text

    def named_columns(self) -> list[int]:
        """Columns with a header (the first one when a header is repeated)."""
        seen: set[str] = set()
        out = []
        for index, header in enumerate(self.headers):
            if header and header not in seen:
                seen.add(header)
                out.append(index)
        return out

    def column(self, name: str) -> int:
        """Column index of header ``name``, adding it at the right (header cell written) when missing."""
        try:
            return self.headers.index(name)
        except ValueError:
            self.headers.append(name)
            column = len(self.headers) - 1
            self.cells.setdefault(1, {})[column] = _header_out(name)
            return column


def _col_letters(index: int) -> str:
    """0-based column index → A1 letters (0 → A, 26 → AA)."""
    return rowcol_to_a1(1, index + 1)[:-1]  # gspread's A1 notation of row 1, without the row


def _header_out(name: str) -> str:
    """A header cell's USER_ENTERED text: always literal text."""
    return "'" + name


def _quote_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _a1(title: str, row: int, col: int, last_row: int, last_col: int) -> str:
    """A1 range of a block (1-based rows, 0-based columns, inclusive)."""
    return f"{_quote_title(title)}!{_col_letters(col)}{row}:{_col_letters(last_col)}{last_row}"


def _key_parts(tab: str, key: tuple[str, ...], values: dict[str, str]) -> tuple[str, ...]:
    """The key of a row whose key was ``key`` after setting ``values`` on it."""
    spec = tab_spec(tab)
    record = dict(zip(spec.key, key, strict=False))
    record.update({k: v for k, v in values.items() if k in spec.key})
    return row_key(tab, record)


def _cell_out(tab: str, column: str, value: str) -> str:
    """Text to send with USER_ENTERED for ``value`` in ``column`` (see the module docstring).

    Longer texts are cut to Google's limit of 50,000 characters per cell (a longer one would make
    Google refuse the whole batch, and the outbox would retry it forever).
    """
    text = safe_cell(value)
    if len(text) > _MAX_CELL_CHARS:
        text = text[: _MAX_CELL_CHARS - 1] + "…"
    if not text or text.startswith(_FORMULA_MARK):
        return text
    spec = tab_spec(tab) if tab in TABS else None
    is_text = False
    if spec is not None:
        try:
            is_text = spec.column(column).type in _TEXT_TYPES
        except KeyError:
            is_text = False
    if is_text or text.startswith("'"):
        return "'" + text
    return text


def _blocks(title: str, cells: dict[int, dict[int, str]]) -> list[dict[str, Any]]:
    """Value ranges covering exactly the given cells: contiguous column runs, stacked rows merged."""
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
    blocks: list[dict[str, Any]] = []
    open_blocks: dict[tuple[int, int], dict[str, Any]] = {}
    for row, first, last, values in runs:
        block = open_blocks.get((first, last))
        if block is not None and block["_last_row"] == row - 1:
            block["values"].append(values)
            block["_last_row"] = row
            continue
        block = {"_first_row": row, "_last_row": row, "_first": first, "_last": last, "values": [values]}
        open_blocks[(first, last)] = block
        blocks.append(block)
    return [
        {
            "range": _a1(title, b["_first_row"], b["_first"], b["_last_row"], b["_last"]),
            "majorDimension": "ROWS",
            "values": b["values"],
        }
        for b in blocks
    ]


def _rgb(colour: dict[str, Any] | None) -> tuple[float, float, float]:
    colour = colour or {}
    red, green, blue = (float(colour.get(k, 0.0)) for k in ("red", "green", "blue"))
    return red, green, blue


# --------------------------------------------------------------------------------------------
# The workbook
# --------------------------------------------------------------------------------------------


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
        self._http: HTTPClient = client.http_client
        self.spreadsheet_id = spreadsheet_id
        self.service_account_email = service_account_email
        self.user_tab_ttl = user_tab_ttl
        self.bot_tab_ttl = bot_tab_ttl
        self.trim_margin = trim_margin
        self._clock = clock
        self.budget = RequestBudget(requests_per_minute, budget_window, clock)
        self._write_lock = threading.RLock()  # serialises every mutation (and its requests)
        self._state_lock = threading.Lock()  # guards the caches below (held briefly, never over I/O)
        self._sheets: dict[str, _Sheet] | None = None  # tab name → sheet (Config may be an alias)
        self._sheets_at = 0.0
        self._states: dict[str, _TabState] = {}
        self._gen: dict[str, int] = {}
        self.requests_sent = 0
        self.locale = ""

    # -- public: reading -------------------------------------------------------------------

    def check_access(self) -> None:
        """Fetch the tab list (one request): proves credentials, sharing and sheet id.

        Raises:
            ConfigError | TemporaryError: as :func:`open_google_workbook`.
        """
        self._load_sheets(force=True)

    def read_tables(self, tabs: Sequence[str]) -> dict[str, Table]:
        """Read ``tabs`` with one ``values:batchGet``; a missing tab reads as empty with schema headers.

        Never waits for the request budget and never retries (it runs in the webhook path).
        Cells are formatted texts (``""`` when blank) passed through :func:`~bot.parsing.safe_cell`.

        Raises:
            TemporaryError: Google unreachable, over quota or failing.
            ConfigError: access lost (403/404).
        """
        wanted = list(dict.fromkeys(tabs))
        sheets = self._load_sheets()
        with self._state_lock:
            gens = {tab: self._gen.get(tab, 0) for tab in wanted}
        present = [tab for tab in wanted if tab in sheets]
        tables = self._fetch_tables(present, sheets)
        with self._state_lock:
            for tab, (_table, state) in tables.items():
                if self._gen.get(tab, 0) == gens[tab]:
                    self._states[tab] = state
        result = {}
        for tab in wanted:
            if tab in tables:
                result[tab] = tables[tab][0]
            else:
                result[tab] = Table(tab, tab_spec(tab).headers if tab in TABS else [], [])
        return result

    def headers(self, tab: str) -> list[str]:
        """Headers of ``tab`` as in the sheet (empty list when the tab does not exist)."""
        return self.read_tables([tab])[tab].headers if tab in self._load_sheets() else []

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
            sheets = self._load_sheets()
            appending = {tab for tab, _ in batch.appends} | {w.tab for w in batch.writes if w.upsert}
            stale = [tab for tab in tabs if tab in sheets and self._needs_read(tab, appending=tab in appending)]
            fresh: set[str] = set()
            if stale:
                self._refresh(stale, sheets)
                fresh.update(stale)
            plans, missing = self._plan(batch, sheets)
            retry_tabs = [tab for tab in missing if tab not in fresh and tab in sheets]
            if retry_tabs:
                self._refresh(retry_tabs, sheets)
                plans, missing = self._plan(batch, sheets)
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
            sheets = self._load_sheets()
            if tab in sheets and self._needs_read(tab, appending=True):
                self._refresh([tab], sheets)
            plan = self._new_plan(tab, sheets)
            old_rows = plan.data_rows
            for record in rows:
                for name in record:
                    plan.column(name)
            named = plan.named_columns()
            plan.keys = {}
            for offset, record in enumerate(rows):
                row = offset + 2
                plan.cells[row] = {c: _cell_out(tab, plan.headers[c], record.get(plan.headers[c], "")) for c in named}
                if tab in TABS and any(record.values()):
                    plan.keys.setdefault(row_key(tab, record), []).append(row)
            for row in range(len(rows) + 2, old_rows + 2):
                plan.cells[row] = dict.fromkeys(named, "")
            plan.data_rows = len(rows)
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
            sheets = self._load_sheets(max_age=5.0)
            changes: list[str] = []
            existing = [spec for spec in specs if spec.name in sheets]
            headers = self._fetch_header_rows([spec.name for spec in existing], sheets)
            requests_: list[dict[str, Any]] = []
            new_sheets: dict[str, _Sheet] = {}
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
                        requests_.append(self._append_dimension(sheet, "COLUMNS", start + len(missing) - sheet.cols))
                    requests_.append(self._header_cells(sheet.sheet_id, start, missing, bold=False))
                    changes.append(f"{spec.name}: added columns {', '.join(missing)}")
                    new_headers = current + missing
                else:
                    count = len({s.sheet_id for s in sheets.values()}) + len(new_sheets)
                    sheet = self._new_sheet(spec.name, len(spec.headers), used_ids, count)
                    used_ids.add(sheet.sheet_id)
                    new_sheets[spec.name] = sheet
                    requests_.append(self._add_sheet_request(sheet))
                    requests_.append(self._header_cells(sheet.sheet_id, 0, spec.headers, bold=True))
                    changes.append(f"created tab {spec.name}")
                    new_headers = list(spec.headers)
                headers[spec.name] = new_headers
            if requests_:
                self._batch_update(requests_)
                with self._state_lock:
                    for name, sheet in new_sheets.items():
                        self._sheets = {**(self._sheets or {}), name: sheet}
                    self._grow_cached_columns(headers)
                    for name, new_headers in headers.items():
                        state = self._states.get(name)
                        if state is not None:
                            state.headers = list(new_headers)
                        elif name in new_sheets:
                            self._states[name] = _TabState(list(new_headers), 0, {}, self._clock())
                        self._gen[name] = self._gen.get(name, 0) + 1
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
            sheets = self._load_sheets(max_age=5.0)
            if self.locale and not self.locale.startswith("en"):
                log.warning(
                    "spreadsheet locale is %s: numbers and dates typed by the bot are parsed with it; "
                    "English (United States) is the safe choice (File > Settings > Locale)",
                    self.locale,
                )
            schema_tabs = [name for name in TABS if name in sheets]
            if not schema_tabs:
                return []
            ranges = [
                f"{_quote_title(sheets[name].title)}!{'1:2' if name == 'Config' else 'A1'}" for name in schema_tabs
            ]
            fields = (
                "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
                "conditionalFormats,data(startRow,startColumn,rowData(values(formattedValue,dataValidation))))"
            )
            reply = self._call(
                "spreadsheets.get",
                self._http.spreadsheets_get,
                self.spreadsheet_id,
                {"ranges": ranges, "fields": fields},
            )
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
                    more, what = self._config_formatting(sheet, info)
                    requests_.extend(more)
                    changes.extend(what)
            if requests_:
                self._batch_update(requests_)
                with self._state_lock:
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
        with self._state_lock:
            state = self._states.get(tab)
        margin = max(1, int(keep_rows * self.trim_margin))
        if state is None or state.data_rows < keep_rows + margin:
            return 0
        self.budget.wait_for_room(2)
        with self._write_lock:
            sheets = self._load_sheets()
            if tab not in sheets:
                return 0
            self._refresh([tab], sheets)
            with self._state_lock:
                state = self._states[tab]
            delete = state.data_rows - keep_rows
            if delete <= 0:
                return 0
            sheet = sheets[tab]
            body = {
                "requests": [
                    {
                        "deleteDimension": {
                            "range": {
                                "sheetId": sheet.sheet_id,
                                "dimension": "ROWS",
                                "startIndex": 1,
                                "endIndex": 1 + delete,
                            }
                        }
                    }
                ]
            }
            self._call("spreadsheets.batchUpdate", self._http.batch_update, self.spreadsheet_id, body)
            with self._state_lock:
                keys: dict[tuple[str, ...], list[int]] = {}
                for key, rows in state.keys.items():
                    moved = [r - delete for r in rows if r - delete >= 2]
                    if moved:
                        keys[key] = moved
                self._states[tab] = _TabState(state.headers, state.data_rows - delete, keys, state.read_at)
                sheet.rows -= delete
                self._gen[tab] = self._gen.get(tab, 0) + 1
            return delete

    def close(self) -> None:
        """Fail pending budget waits and close the HTTP session."""
        self.budget.close()
        session = getattr(self._http, "session", None)
        if session is not None:
            session.close()

    # -- internals: requests -----------------------------------------------------------------

    def _batch_update(self, requests_: list[dict[str, Any]]) -> Any:
        """One ``spreadsheets:batchUpdate`` (structure and formatting)."""
        return self._call(
            "spreadsheets.batchUpdate", self._http.batch_update, self.spreadsheet_id, {"requests": requests_}
        )

    def _call(self, what: str, func: Callable[..., Any], *args: Any) -> Any:
        """Send one request through gspread's HTTP client; translate failures (never retries)."""
        self.budget.note()
        self.requests_sent += 1
        try:
            return func(*args)
        except APIError as exc:
            raise self._translate(what, exc) from None
        except auth_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise TemporaryError(f"Google token service unavailable during {what}; will retry") from None
            raise ConfigError(
                f"Google refused the service-account credentials of {self.service_account_email or 'the key'} "
                f"({_first_line(exc)}): the key may be deleted or disabled; create a new key",
                field="GOOGLE_CREDENTIALS_FILE",
            ) from None
        except (auth_exceptions.TransportError, requests.RequestException) as exc:
            raise TemporaryError(f"Google Sheets unreachable during {what}: {type(exc).__name__}") from None

    def _translate(self, what: str, exc: APIError) -> BotError:
        status = exc.response.status_code if exc.response is not None else exc.code
        error = exc.error if isinstance(exc.error, dict) else {}
        message = str(error.get("message", "")).strip()[:300]
        reason = str(error.get("status", ""))
        if status == 429:
            return TemporaryError(f"Google Sheets quota exceeded during {what} (429 {reason}): {message}")
        if status >= 500 or status == 408:
            return TemporaryError(f"Google Sheets failing during {what} ({status} {reason}): {message}")
        if status == 401:
            return ConfigError(
                f"Google rejected the credentials of {self.service_account_email} during {what}: {message}",
                field="GOOGLE_CREDENTIALS_FILE",
            )
        if status == 403:
            low = message.lower()
            if "has not been used" in low or "disabled" in low or "service_disabled" in reason.lower():
                return ConfigError(
                    "the Google Sheets API is not enabled for the service account's project: enable it at "
                    f"https://console.cloud.google.com/apis/library/sheets.googleapis.com ({message})",
                    field="GOOGLE_CREDENTIALS_FILE",
                )
            if "quota" in low or "rate limit" in low:
                return TemporaryError(f"Google Sheets quota exceeded during {what} (403): {message}")
            return ConfigError(
                f"the service account cannot open Google Sheet {self.spreadsheet_id}: share the sheet with "
                f"{self.service_account_email or 'the service account e-mail in the key file'} as Editor "
                f"(Google said: {message or reason})",
                field="GOOGLE_SHEET_ID",
                value=self.spreadsheet_id,
            )
        if status == 404:
            return ConfigError(
                f"Google Sheet {self.spreadsheet_id!r} not found: check GOOGLE_SHEET_ID (the part between /d/ "
                "and /edit in the sheet's URL)",
                field="GOOGLE_SHEET_ID",
                value=self.spreadsheet_id,
            )
        if status == 400 and ("unable to parse range" in message.lower() or "exceeds grid limits" in message.lower()):
            # Our cached layout is out of date (a tab renamed/deleted, rows removed at the bottom).
            self._invalidate()
            return TemporaryError(f"Google Sheet layout changed during {what}; re-reading it: {message}")
        if status == 400:
            self._invalidate()
        return ConfigError(f"Google Sheets refused {what} ({status} {reason}): {message}")

    def _invalidate(self) -> None:
        with self._state_lock:
            self._sheets = None
            self._states.clear()
            for tab in list(self._gen):
                self._gen[tab] += 1

    def _load_sheets(self, *, force: bool = False, max_age: float | None = None) -> dict[str, _Sheet]:
        """The tab list (cached; ``force`` or an age above ``max_age`` seconds re-fetches it).

        The Config tab may be a classic sheet's first tab under another title (see ``_find_classic_config``).
        """
        with self._state_lock:
            young = max_age is None or self._clock() - self._sheets_at <= max_age
            if self._sheets is not None and not force and young:
                return self._sheets
        fields = "properties(locale),sheets(properties(sheetId,title,index,gridProperties))"
        reply = self._call("spreadsheets.get", self._http.spreadsheets_get, self.spreadsheet_id, {"fields": fields})
        sheets: dict[str, _Sheet] = {}
        for item in sorted(reply.get("sheets", []), key=lambda s: s["properties"].get("index", 0)):
            props = item["properties"]
            grid = props.get("gridProperties", {})
            sheet = _Sheet(
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
        with self._state_lock:
            old = self._sheets or {}
            for name, sheet in sheets.items():
                if name in old and (old[name].sheet_id != sheet.sheet_id or old[name].title != sheet.title):
                    self._states.pop(name, None)
            self._sheets = sheets
            self._sheets_at = self._clock()
            self.locale = str(reply.get("properties", {}).get("locale", ""))
            return sheets

    def _find_classic_config(self, sheets: dict[str, _Sheet]) -> _Sheet | None:
        """The first tab whose header row has the required Config columns (a classic one-tab sheet)."""
        candidates = [s for s in sheets.values() if s.title not in TABS]
        if not candidates:
            return None
        reply = self._call(
            "values.batchGet",
            self._http.values_batch_get,
            self.spreadsheet_id,
            [f"{_quote_title(s.title)}!1:1" for s in candidates],
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        required = set(tab_spec("Config").required)
        for sheet, value_range in zip(candidates, reply.get("valueRanges", []), strict=False):
            row = (value_range.get("values") or [[]])[0]
            if required <= {str(v).strip() for v in row}:
                return sheet
        return None

    def _fetch_header_rows(self, tabs: list[str], sheets: dict[str, _Sheet]) -> dict[str, list[str]]:
        if not tabs:
            return {}
        reply = self._call(
            "values.batchGet",
            self._http.values_batch_get,
            self.spreadsheet_id,
            [f"{_quote_title(sheets[t].title)}!1:1" for t in tabs],
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        out = {}
        for tab, value_range in zip(tabs, reply.get("valueRanges", []), strict=False):
            row = (value_range.get("values") or [[]])[0]
            out[tab] = [str(v).strip() for v in row]
        return out

    def _fetch_tables(self, tabs: list[str], sheets: dict[str, _Sheet]) -> dict[str, tuple[Table, _TabState]]:
        if not tabs:
            return {}
        started = self._clock()
        reply = self._call(
            "values.batchGet",
            self._http.values_batch_get,
            self.spreadsheet_id,
            [_quote_title(sheets[t].title) for t in tabs],
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        ranges = reply.get("valueRanges", [])
        out: dict[str, tuple[Table, _TabState]] = {}
        for tab, value_range in zip(tabs, ranges, strict=False):
            out[tab] = _parse_values(tab, value_range.get("values") or [], started)
        return out

    def _refresh(self, tabs: list[str], sheets: dict[str, _Sheet]) -> None:
        """Re-read ``tabs`` into the cache (called with the write lock held)."""
        tables = self._fetch_tables(tabs, sheets)
        with self._state_lock:
            for tab, (_table, state) in tables.items():
                self._states[tab] = state

    def _needs_read(self, tab: str, *, appending: bool) -> bool:
        with self._state_lock:
            state = self._states.get(tab)
        if state is None:
            return True
        ttl = self.user_tab_ttl if _has_user_columns(tab) else self.bot_tab_ttl
        if appending and _has_user_columns(tab):
            ttl = min(ttl, 1.0)  # never append below a user's fresh rows on a stale count
        return self._clock() - state.read_at > ttl

    # -- internals: planning and executing writes ------------------------------------------

    def _new_plan(self, tab: str, sheets: dict[str, _Sheet]) -> _TabPlan:
        with self._state_lock:
            state = self._states.get(tab)
        if tab in sheets and state is not None:
            return _TabPlan(
                tab,
                sheets[tab].title,
                list(state.headers),
                state.data_rows,
                {k: list(v) for k, v in state.keys.items()},
            )
        headers = tab_spec(tab).headers if tab in TABS else []
        if tab in sheets:  # present but never read (should not happen: callers refresh first)
            raise TemporaryError(f"Google Sheet tab {tab} not read yet")
        plan = _TabPlan(tab, tab, list(headers), 0, {}, new_tab=True)
        plan.cells[1] = {c: _header_out(h) for c, h in enumerate(headers)}
        return plan

    def _plan(self, batch: WriteBatch, sheets: dict[str, _Sheet]) -> tuple[list[_TabPlan], list[str]]:
        plans: dict[str, _TabPlan] = {}
        missing: list[str] = []

        def plan_of(tab: str) -> _TabPlan:
            if tab not in plans:
                plans[tab] = self._new_plan(tab, sheets)
            return plans[tab]

        for write in batch.writes:
            plan = plan_of(write.tab)
            rows = plan.keys.get(write.key)
            if not rows:
                if write.upsert:
                    self._plan_append(plan, write.values)
                else:
                    missing.append(write.tab)
                continue
            self._plan_update(plan, write, rows)
        for tab, record in batch.appends:
            self._plan_append(plan_of(tab), record)
        return list(plans.values()), list(dict.fromkeys(missing))

    @staticmethod
    def _plan_update(plan: _TabPlan, write: RowWrite, rows: list[int]) -> None:
        columns = {name: plan.column(name) for name in write.values}
        for row in rows:
            cells = plan.cells.setdefault(row, {})
            for name, value in write.values.items():
                cells[columns[name]] = _cell_out(plan.tab, name, value)
        if plan.tab in TABS and any(name in tab_spec(plan.tab).key for name in write.values):
            new_key = _key_parts(plan.tab, write.key, write.values)
            if new_key != write.key:
                plan.keys.pop(write.key, None)
                plan.keys.setdefault(new_key, []).extend(rows)

    @staticmethod
    def _plan_append(plan: _TabPlan, record: dict[str, str]) -> None:
        for name in record:
            plan.column(name)
        row = plan.data_rows + 2
        plan.data_rows += 1
        plan.cells[row] = {
            c: _cell_out(plan.tab, plan.headers[c], record.get(plan.headers[c], "")) for c in plan.named_columns()
        }
        if plan.tab in TABS and any(record.values()):
            plan.keys.setdefault(row_key(plan.tab, record), []).append(row)

    def _execute(self, plans: list[_TabPlan], *, replaced: Iterable[str] = ()) -> None:
        """Send the plans: structure first (new tabs, grid growth) if needed, then one values:batchUpdate."""
        plans = [p for p in plans if p.cells or p.new_tab]
        if not plans:
            return
        with self._state_lock:
            sheets = dict(self._sheets or {})
        structural: list[dict[str, Any]] = []
        new_sheets: dict[str, _Sheet] = {}
        used_ids = {s.sheet_id for s in sheets.values()}
        grown: dict[str, tuple[int, int]] = {}
        for plan in plans:
            need_rows = max([plan.data_rows + 1, *plan.cells.keys()])
            need_cols = max(len(plan.headers), 1)
            if plan.new_tab:
                count = len({s.sheet_id for s in sheets.values()}) + len(new_sheets)
                sheet = self._new_sheet(plan.tab, need_cols, used_ids, count)
                sheet.rows = max(sheet.rows, need_rows + _MIN_NEW_ROWS // 2)
                used_ids.add(sheet.sheet_id)
                new_sheets[plan.tab] = sheet
                structural.append(self._add_sheet_request(sheet))
                continue
            sheet = sheets[plan.tab]
            add_rows = need_rows - sheet.rows
            add_cols = need_cols - sheet.cols
            if add_rows > 0:
                add_rows = max(add_rows + _MIN_NEW_ROWS // 2, _MIN_NEW_ROWS)
                structural.append(self._append_dimension(sheet, "ROWS", add_rows))
            if add_cols > 0:
                structural.append(self._append_dimension(sheet, "COLUMNS", add_cols))
            if add_rows > 0 or add_cols > 0:
                grown[plan.tab] = (max(add_rows, 0), max(add_cols, 0))
        if structural:
            self._batch_update(structural)
            with self._state_lock:
                current = dict(self._sheets or {})
                current.update(new_sheets)
                for tab, (add_rows, add_cols) in grown.items():
                    if tab in current:
                        current[tab].rows += add_rows
                        current[tab].cols += add_cols
                self._sheets = current
        data: list[dict[str, Any]] = []
        for plan in plans:
            data.extend(_blocks(plan.title, plan.cells))
        self._call(
            "values.batchUpdate",
            self._http.values_batch_update,
            self.spreadsheet_id,
            {"valueInputOption": "USER_ENTERED", "data": data},
        )
        now = self._clock()
        replaced = set(replaced)
        with self._state_lock:
            for plan in plans:
                old = self._states.get(plan.tab)
                read_at = now if (plan.new_tab or plan.tab in replaced or old is None) else old.read_at
                self._states[plan.tab] = _TabState(list(plan.headers), plan.data_rows, plan.keys, read_at)
                self._gen[plan.tab] = self._gen.get(plan.tab, 0) + 1

    def _config_formatting(self, sheet: _Sheet, info: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """Requests for Config's validation and Order Status colours that differ from ``info`` (sheet JSON)."""
        rows = []
        for block in info.get("data", []):
            start = int(block.get("startRow", 0))
            for offset, row_data in enumerate(block.get("rowData", [])):
                rows.append((start + offset, row_data.get("values", [])))
        header_cells = next((cells for index, cells in rows if index == 0), [])
        headers = [str(c.get("formattedValue", "")).strip() for c in header_cells]
        second = next((cells for index, cells in rows if index == 1), [])
        spec = tab_spec("Config")
        requests_: list[dict[str, Any]] = []
        changes: list[str] = []
        rules: dict[str, dict[str, Any]] = {name: {"condition": {"type": "BOOLEAN"}} for name in _CHECKBOX_COLUMNS}
        for name in _DROPDOWN_COLUMNS:
            allowed = [v for v in spec.column(name).allowed if v]
            rules[name] = {
                "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in allowed]},
                "showCustomUi": True,
                "strict": False,
            }

        def column_range(col: int) -> dict[str, Any]:
            return {"sheetId": sheet.sheet_id, "startRowIndex": 1, "startColumnIndex": col, "endColumnIndex": col + 1}

        for col, header in enumerate(headers):
            current = second[col].get("dataValidation") if col < len(second) else None
            rule = rules.get(header)
            if rule is not None:
                if _same_rule(current, rule):
                    continue
                requests_.append({"setDataValidation": {"range": column_range(col), "rule": rule}})
                kind = "checkbox" if header in _CHECKBOX_COLUMNS else "drop-down"
                changes.append(f"Config: {kind} for {header}")
            elif current and any(_same_rule(current, other) for other in rules.values()):
                # one of our rules left behind on a column the user moved: clear it
                requests_.append({"setDataValidation": {"range": column_range(col)}})
                changes.append(f"Config: removed a stale drop-down/checkbox from column {header or _col_letters(col)}")
        if "Order Status" in headers:
            col = headers.index("Order Status")
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
            for index in sorted(stale, reverse=True):
                requests_.append({"deleteConditionalFormatRule": {"sheetId": sheet.sheet_id, "index": index}})
            added = 0
            for status, rgb in STATUS_COLOURS.items():
                if status in have:
                    continue
                requests_.append(
                    {
                        "addConditionalFormatRule": {
                            "index": 0,
                            "rule": {
                                "ranges": [column_range(col)],
                                "booleanRule": {
                                    "condition": {"type": "TEXT_EQ", "values": [{"userEnteredValue": status}]},
                                    "format": {
                                        "backgroundColor": dict(zip(("red", "green", "blue"), rgb, strict=True))
                                    },
                                },
                            },
                        }
                    }
                )
                added += 1
            if added or stale:
                changes.append(f"Config: colours for Order Status ({added} rule(s) added, {len(stale)} replaced)")
        return requests_, changes

    # -- internals: small builders -----------------------------------------------------------

    @staticmethod
    def _new_sheet(name: str, columns: int, used_ids: set[int], count: int) -> _Sheet:
        """A tab to add: unused random id; placed at its schema position (at most after the ``count`` tabs)."""
        sheet_id = secrets.randbelow(2_000_000_000) + 1
        while sheet_id in used_ids:
            sheet_id = secrets.randbelow(2_000_000_000) + 1
        index = min(TABS.index(name), count) if name in TABS else count
        return _Sheet(sheet_id, name, index, _NEW_TAB_ROWS, max(_NEW_TAB_COLUMNS, columns), 1)

    @staticmethod
    def _add_sheet_request(sheet: _Sheet) -> dict[str, Any]:
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

    @staticmethod
    def _append_dimension(sheet: _Sheet, dimension: str, length: int) -> dict[str, Any]:
        return {"appendDimension": {"sheetId": sheet.sheet_id, "dimension": dimension, "length": length}}

    @staticmethod
    def _header_cells(sheet_id: int, start: int, names: list[str], *, bold: bool) -> dict[str, Any]:
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

    def _grow_cached_columns(self, headers: dict[str, list[str]]) -> None:
        for name, row in headers.items():
            sheet = (self._sheets or {}).get(name)
            if sheet is not None and len(row) > sheet.cols:
                sheet.cols = len(row)


def _same_colour(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Colours equal within Google's 8-bit quantisation (it answers 0.8509804 for 0.851)."""
    return all(abs(x - y) <= 1.5 / 255 for x, y in zip(a, b, strict=True))


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.splitlines()[0][:200]


def _has_user_columns(tab: str) -> bool:
    return tab not in TABS or bool(tab_spec(tab).user_columns)


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


def _parse_values(tab: str, values: list[list[Any]], read_at: float) -> tuple[Table, _TabState]:
    """A :class:`Table` (and the cache state) from a ``values`` array (row 1 = headers).

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
    for offset, row in enumerate(values[1:]):
        record = {name: safe_cell(str(row[i])) if i < len(row) else "" for name, i in positions.items()}
        rows.append(record)
        if tab in TABS and any(record.values()):
            keys.setdefault(row_key(tab, record), []).append(offset + 2)
    state = _TabState(raw_headers, max(len(values) - 1, 0), keys, read_at)
    return Table(tab, list(positions), rows), state
