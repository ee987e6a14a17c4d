"""Loopback fake of the Google Sheets v4 REST API and of Google's OAuth token endpoint.

What it serves (shapes as Google documents them):

- ``POST /token``: the service-account JWT-bearer grant. The assertion's RS256 signature is checked
  against the public key registered by :meth:`SheetsFake.service_account_info`, as are ``iss``,
  ``aud`` (Google's token endpoint, as google-auth sends it), ``exp`` and ``scope``. Answers
  ``{"access_token", "expires_in", "token_type"}``, or ``{"error": "invalid_grant",
  "error_description"}`` with 400.
- ``GET /v1/projects/-/serviceAccounts/{email}/allowedLocations``: google-auth's background
  Regional Access Boundary lookup (answered, counted apart from the Sheets API).
- ``GET /v4/spreadsheets/{id}`` (``ranges``, ``includeGridData``; grid data carries
  ``formattedValue`` and ``dataValidation``), ``POST /v4/spreadsheets/{id}:batchUpdate``
  (``addSheet``, ``updateSheetProperties``, ``appendDimension``, ``insertDimension``,
  ``deleteDimension``, ``updateCells``, ``setDataValidation``, ``addConditionalFormatRule``,
  ``deleteConditionalFormatRule``; all-or-nothing like Google).
- ``values``: ``GET {range}``, ``:batchGet``, ``PUT {range}``, ``:batchUpdate``, ``{range}:append``,
  ``{range}:clear``, ``:batchClear``, with A1 ranges (``'Config'!A1:T``, ``Config``, ``'Config'!1:1``),
  ``USER_ENTERED`` parsing (numbers, ``TRUE``/``FALSE``, ``=`` formulas, a leading apostrophe marks
  literal text) and ``FORMATTED_VALUE`` strings (numbers in the General format, held as doubles).
  Writing outside the grid fails like Google (``exceeds grid limits``): grids grow only by request
  (or by ``values:append``).
- Errors are Google-shaped: ``{"error": {"code", "message", "status"}}`` (401 UNAUTHENTICATED,
  403 PERMISSION_DENIED when the sheet is not shared with the caller, 404 NOT_FOUND, 400
  INVALID_ARGUMENT, 429 RESOURCE_EXHAUSTED, 5xx).

Fault injection: :meth:`SheetsFake.fail_next` (the next N API requests; optionally *after*
applying them, as when a reply is lost), :meth:`SheetsFake.fail_for` (a time window),
:attr:`SheetsFake.quota_per_minute` (Google's per-user quota, enforced), :attr:`SheetsFake.latency`.
Every API request is logged in :attr:`SheetsFake.calls` with its time, kind, status and JSON body.

Route gspread to it with ``gspread.Client(auth=credentials, http_client=fake.http_client)``:
:attr:`SheetsFake.http_client` is an ``HTTPClient`` subclass that swaps Google's API root for this
server's address; nothing else is patched.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from babel.numbers import get_decimal_symbol, get_group_symbol
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as GoogleAuthRequest
from gspread.http_client import HTTPClient
from gspread.utils import convert_credentials, rowcol_to_a1

from .base import LoopbackFake, Reply, handler_class, json_reply

GOOGLE_ROOT = "https://sheets.googleapis.com"
#: The ``aud`` google-auth puts in service-account assertions, whatever the key's token_uri.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_FAULT_MESSAGES = {
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of "
    "service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
    500: "Internal error encountered.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CELL_RE = re.compile(r"^([A-Za-z]*)(\d*)$")


class LoopbackAdapter(requests.adapters.HTTPAdapter):
    """Sends every request to ``base`` (``http://127.0.0.1:<port>``), keeping path and query."""

    def __init__(self, base: str) -> None:
        super().__init__(max_retries=0)
        self._base = base

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite the request's scheme and host to the fake's, then send it."""
        parts = urlsplit(request.url or "")
        request.url = self._base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, *args, **kwargs)


class FakeApiError(Exception):
    """A Google-shaped error answer raised inside the fake's handlers."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------
# Sheet model
# --------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """A cell: ``kind`` is ``string``, ``number``, ``bool`` or ``formula``; ``value`` the typed value."""

    kind: str
    value: Any
    entered: str = ""

    @property
    def formatted(self) -> str:
        """The FORMATTED_VALUE text in an en_US sheet (see :meth:`formatted_in`)."""
        return self.formatted_in("en_US")

    def formatted_in(self, locale: str) -> str:
        """The FORMATTED_VALUE text in a sheet of ``locale`` (General number format; formulas ``#ERROR!``).

        Sheets API v4, ValueRenderOption FORMATTED_VALUE: "Values will be calculated & formatted in the
        response according to the cell's formatting. Formatting is based on the spreadsheet's locale,
        not the requesting user's locale." So 0.01 reads ``0.01`` in en_US and ``0,01`` in de_DE/fr_FR.
        """
        if self.kind == "number":
            return general_format(float(self.value)).replace(".", get_decimal_symbol(locale))
        if self.kind == "bool":
            return "TRUE" if self.value else "FALSE"
        if self.kind == "formula":
            return "#ERROR!"
        return str(self.value)


def general_format(value: float) -> str:
    """Sheets' General number format: integers as is, else up to 15 significant digits."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".15g")
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}E{int(exponent):+03d}"
    return text


def user_entered(raw: Any, locale: str = "en_US") -> Cell | None:
    """How Sheets stores a value sent with USER_ENTERED in a sheet of ``locale`` (None = clear the cell).

    Sheets API v4, ValueInputOption USER_ENTERED: "The values will be parsed as if the user typed them
    into the UI" -- with the spreadsheet's locale. JSON numbers and booleans are stored as they are; a
    numeric string is read with the locale's separators (:func:`locale_number`), so ``"0.00999"`` sent
    to a de_DE sheet is not 0.00999 (pygsheets #414 saw 1.123456789 become 1123456789).
    """
    if isinstance(raw, bool):
        return Cell("bool", raw, str(raw).upper())
    if isinstance(raw, (int, float)):
        return Cell("number", float(raw), str(raw))
    text = str(raw)
    if text == "":
        return None
    if text.startswith("'"):
        return Cell("string", text[1:], text)
    if text.startswith("="):
        return Cell("formula", text, text)
    if text.upper() in ("TRUE", "FALSE"):
        return Cell("bool", text.upper() == "TRUE", text)
    number = locale_number(text.strip(), locale)
    if number is not None:
        return Cell("number", number, text)
    return Cell("string", text, text)


def locale_number(text: str, locale: str) -> float | None:
    """The number a person typing ``text`` into a sheet of ``locale`` enters, or None for text.

    The locale's group separator is dropped and its decimal separator read as the point: en_US
    ``1,234.5`` → 1234.5; de_DE ``0,01`` → 0.01 and ``1.123456789`` → 1123456789 (the dot groups
    digits there); fr_FR ``0,01`` → 0.01 while ``0.01`` stays text (no dot in French numbers).
    """
    decimal, group = get_decimal_symbol(locale), get_group_symbol(locale)
    plain = text.replace(group, "").replace("\u00a0" if group == "\u202f" else group, "")
    if decimal != ".":
        if group != "." and "." in plain:
            return None
        plain = plain.replace(".", "").replace(decimal, ".")
    return float(plain) if _NUMBER_RE.match(plain) else None


def raw_entered(raw: Any) -> Cell | None:
    """How Sheets stores a value sent with RAW."""
    if isinstance(raw, bool):
        return Cell("bool", raw, str(raw))
    if isinstance(raw, (int, float)):
        return Cell("number", float(raw), str(raw))
    text = str(raw)
    return None if text == "" else Cell("string", text, text)


@dataclass
class FakeSheet:
    """One tab: grid size, cells by (row, column) 0-based, validation rules, conditional formats."""

    sheet_id: int
    title: str
    index: int
    rows: int = 1000
    cols: int = 26
    frozen: int = 0
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    validations: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    conditional_formats: list[dict[str, Any]] = field(default_factory=list)
    bold: set[tuple[int, int]] = field(default_factory=set)
    #: the spreadsheet's locale (``properties.locale``): parsing of typed text and formatted values follow it
    locale: str = "en_US"

    def properties(self) -> dict[str, Any]:
        """The ``SheetProperties`` JSON (``frozenRowCount`` omitted when 0, as Google does)."""
        grid: dict[str, Any] = {"rowCount": self.rows, "columnCount": self.cols}
        if self.frozen:
            grid["frozenRowCount"] = self.frozen
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }

    def last_row(self) -> int:
        """0-based index of the last row holding a value (-1 when empty)."""
        return max((r for r, _ in self.cells), default=-1)

    def validation_at(self, row: int, col: int) -> dict[str, Any] | None:
        """The data-validation rule of a cell (0-based), the last one set over it winning."""
        rule = None
        for grid_range, candidate in self.validations:
            if _in_range(grid_range, row, col):
                rule = candidate
        return rule


def _in_range(grid_range: dict[str, Any], row: int, col: int) -> bool:
    return grid_range.get("startRowIndex", 0) <= row < grid_range.get("endRowIndex", 10**9) and grid_range.get(
        "startColumnIndex", 0
    ) <= col < grid_range.get("endColumnIndex", 10**9)


@dataclass
class FakeSpreadsheet:
    """A spreadsheet: tabs in order, the e-mails it is shared with (``"*"`` = anyone)."""

    spreadsheet_id: str
    title: str
    sheets: list[FakeSheet]
    shared_with: set[str]
    locale: str = "en_US"
    #: e-mails with a Viewer share (``"*"`` = anyone): reads answer 200, writes 403 PERMISSION_DENIED
    viewers: set[str] = field(default_factory=set)

    def sheet(self, title: str) -> FakeSheet:
        """The tab called ``title`` (400 ``Unable to parse range`` when there is none)."""
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise FakeApiError(400, f"Unable to parse range: {title}")

    def by_id(self, sheet_id: int, where: str) -> FakeSheet:
        """The tab with ``sheet_id`` (400 ``No grid with id`` naming the request ``where``)."""
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise FakeApiError(400, f"Invalid {where}: No grid with id: {sheet_id}")

    def reindex(self) -> None:
        """Renumber tab indexes 0..n-1 in order."""
        self.sheets.sort(key=lambda s: s.index)
        for index, sheet in enumerate(self.sheets):
            sheet.index = index


# --------------------------------------------------------------------------------------------
# A1 ranges
# --------------------------------------------------------------------------------------------


def col_index(letters: str) -> int:
    """A → 0, Z → 25, AA → 26."""
    value = 0
    for char in letters.upper():
        value = value * 26 + (ord(char) - 64)
    return value - 1


def col_letters(index: int) -> str:
    """0 → A, 26 → AA."""
    return rowcol_to_a1(1, index + 1)[:-1]  # gspread's A1 notation of row 1, without the row


def _title_text(title: str) -> str:
    return title if re.fullmatch(r"[A-Za-z0-9_]+", title) else "'" + title.replace("'", "''") + "'"


@dataclass
class Span:
    """A resolved range: sheet and inclusive 0-based bounds; ``single`` = one start cell given."""

    sheet: FakeSheet
    row0: int
    col0: int
    row1: int
    col1: int
    single: bool = False

    def a1(self) -> str:
        """The span in A1 notation, as Google echoes ranges (``Config!A1:T9``)."""
        start = f"{col_letters(self.col0)}{self.row0 + 1}"
        return f"{_title_text(self.sheet.title)}!{start}:{col_letters(self.col1)}{self.row1 + 1}"

    def check_grid(self) -> None:
        """400 ``exceeds grid limits`` (Google's message) when the span leaves the grid."""
        if self.row1 >= self.sheet.rows or self.col1 >= self.sheet.cols:
            raise FakeApiError(
                400,
                f"Range ({_title_text(self.sheet.title)}!{col_letters(self.col0)}{self.row0 + 1}"
                f"{'' if self.single else ':' + col_letters(self.col1) + str(self.row1 + 1)}) exceeds grid limits. "
                f"Max rows: {self.sheet.rows}, max columns: {self.sheet.cols}",
            )


def parse_range(book: FakeSpreadsheet, text: str) -> Span:
    """Resolve an A1 range against ``book`` (400 ``Unable to parse range`` like Google)."""
    sheet_part, cells = None, text
    if "!" in text:
        sheet_part, cells = text.rsplit("!", 1)
        if sheet_part.startswith("'") and sheet_part.endswith("'") and len(sheet_part) >= 2:
            sheet_part = sheet_part[1:-1].replace("''", "'")
    else:
        stripped = text[1:-1].replace("''", "'") if text.startswith("'") and text.endswith("'") else text
        if any(s.title == stripped for s in book.sheets):
            sheet_part, cells = stripped, ""
    if sheet_part is None:
        if not book.sheets:
            raise FakeApiError(400, f"Unable to parse range: {text}")
        sheet = book.sheets[0]
    else:
        try:
            sheet = book.sheet(sheet_part)
        except FakeApiError:
            raise FakeApiError(400, f"Unable to parse range: {text}") from None
    if not cells:
        return Span(sheet, 0, 0, sheet.rows - 1, sheet.cols - 1)
    first, _, last = cells.partition(":")
    m1 = _CELL_RE.match(first)
    m2 = _CELL_RE.match(last) if last else None
    if not m1 or (last and not m2) or (not m1.group(1) and not m1.group(2)):
        raise FakeApiError(400, f"Unable to parse range: {text}")
    row0 = int(m1.group(2)) - 1 if m1.group(2) else 0
    col0 = col_index(m1.group(1)) if m1.group(1) else 0
    if m2 is None:
        if m1.group(1) and m1.group(2):
            return Span(sheet, row0, col0, row0, col0, single=True)
        if m1.group(1):  # "A" = the whole column
            return Span(sheet, 0, col0, sheet.rows - 1, col0)
        return Span(sheet, row0, 0, row0, sheet.cols - 1)  # "3" = the whole row
    row1 = int(m2.group(2)) - 1 if m2.group(2) else sheet.rows - 1
    col1 = col_index(m2.group(1)) if m2.group(1) else sheet.cols - 1
    if row0 < 0 or row1 < row0 or col1 < col0:
        raise FakeApiError(400, f"Unable to parse range: {text}")
    return Span(sheet, row0, col0, row1, col1)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One API request as received: monotonic time, HTTP method, API method, status, JSON body."""

    at: float
    method: str
    kind: str
    status: int
    body: Any = None
    params: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    after_apply: bool = False


class SheetsFake(LoopbackFake):
    """Sheets v4 + OAuth token endpoint on ``127.0.0.1`` (random port), in a background thread.

    Attributes:
        url: ``http://127.0.0.1:<port>`` (replaces ``https://sheets.googleapis.com``).
        calls: every Sheets API request (not token requests), in arrival order.
        token_requests: accepted token exchanges.
        side_requests: google-auth's Regional Access Boundary lookups (not Sheets API calls).
        latency: seconds to wait before answering each API request (Google takes ~0.1-0.5 s).
        quota_per_minute: when set, a user's requests beyond this many in 60 s get 429.
        token_lifetime: ``expires_in`` of issued tokens, seconds.
    """

    def __init__(self, *, latency: float = 0.0, quota_per_minute: int | None = None) -> None:
        self.calls: list[Call] = []
        self.token_requests = 0
        self.side_requests = 0
        self.latency = latency
        self.quota_per_minute = quota_per_minute
        self.token_lifetime = 3600
        self.books: dict[str, FakeSpreadsheet] = {}
        self._keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {}  # key id → (email, public key)
        self._tokens: dict[str, str] = {}  # access token → e-mail
        self._faults: list[_Fault] = []
        self._fail_until = 0.0
        self._fail_status = 503
        self._token_faults: list[int] = []
        self._user_calls: dict[str, list[float]] = {}
        self._lock = threading.RLock()
        super().__init__(handler_class(self._serve), name="sheets-fake")

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint to put in service-account keys."""
        return self.url + "/token"

    @property
    def http_client(self) -> type[HTTPClient]:
        """A gspread ``HTTPClient`` class whose HTTPS requests all go to this fake instead of Google.

        It builds gspread's usual ``AuthorizedSession`` (google-auth), with a transport adapter
        mounted for ``https://`` on it and on its token/lookup session: Sheets API calls and
        google-auth's background Regional Access Boundary lookup (``iamcredentials.googleapis.com``)
        reach this fake, and nothing can reach the internet.
        """
        base = self.url

        class FakeRoutedHTTPClient(HTTPClient):
            def __init__(self, auth: Any, session: Any = None) -> None:
                if session is not None:
                    super().__init__(auth, session)
                    return
                self.auth = convert_credentials(auth)
                side = requests.Session()
                side.mount("https://", LoopbackAdapter(base))
                self.session = AuthorizedSession(self.auth, auth_request=GoogleAuthRequest(side))
                self.session.mount("https://", LoopbackAdapter(base))
                self.timeout = None

        return FakeRoutedHTTPClient

    # ---- accounts and spreadsheets -----------------------------------------------------------

    def service_account_info(self, email: str = "sheetbot@test-project.iam.gserviceaccount.com") -> dict[str, Any]:
        """A service-account key (Google's JSON shape) with a fresh RSA key whose token_uri is this fake."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        key_id = secrets.token_hex(20)
        with self._lock:
            self._keys[key_id] = (email, key.public_key())
        return {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": self.url + "/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": self.url + "/certs",
            "client_x509_cert_url": self.url + "/certs/" + email,
            "universe_domain": "googleapis.com",
        }

    def create_spreadsheet(
        self,
        tabs: dict[str, list[list[Any]]] | None = None,
        *,
        shared_with: Iterator[str] | list[str] | tuple[str, ...] = ("*",),
        title: str = "Trading bot",
        rows: int = 1000,
        cols: int = 26,
        locale: str = "en_US",
    ) -> str:
        """A new spreadsheet with ``tabs`` (title → rows typed USER_ENTERED); returns its id.

        Without ``tabs`` it has one empty ``Sheet1`` like a new Google Sheet.
        """
        spreadsheet_id = "1" + secrets.token_urlsafe(32).replace("-", "a").replace("_", "b")[:43]
        tabs = tabs if tabs is not None else {"Sheet1": []}
        sheets = []
        for index, (name, values) in enumerate(tabs.items()):
            sheet = FakeSheet(
                sheet_id=0 if index == 0 else secrets.randbelow(10**9) + 1, title=name, index=index, locale=locale
            )
            sheet.rows, sheet.cols = max(rows, len(values) + 1), max(cols, *(len(r) for r in values), 1)
            for r, row in enumerate(values):
                for c, value in enumerate(row):
                    cell = user_entered(value, locale)
                    if cell is not None:
                        sheet.cells[(r, c)] = cell
            sheets.append(sheet)
        with self._lock:
            self.books[spreadsheet_id] = FakeSpreadsheet(spreadsheet_id, title, sheets, set(shared_with), locale)
        return spreadsheet_id

    def book(self, spreadsheet_id: str) -> FakeSpreadsheet:
        """The spreadsheet model (hold :meth:`locked` while changing it from a test)."""
        return self.books[spreadsheet_id]

    def locked(self) -> threading.RLock:
        """The model's lock (``with fake.locked(): ...``)."""
        return self._lock

    def values(self, spreadsheet_id: str, title: str) -> list[list[str]]:
        """A tab's FORMATTED_VALUE rows, trailing blanks dropped (what values.get returns)."""
        with self._lock:
            sheet = self.books[spreadsheet_id].sheet(title)
            return _read_values(sheet, 0, 0, sheet.rows - 1, sheet.cols - 1, "FORMATTED_VALUE")

    def records(self, spreadsheet_id: str, title: str) -> list[dict[str, str]]:
        """Data rows of a tab as dicts keyed by the header row (blank headers skipped)."""
        values = self.values(spreadsheet_id, title)
        if not values:
            return []
        headers = values[0]
        out = []
        for row in values[1:]:
            out.append({h: (row[i] if i < len(row) else "") for i, h in enumerate(headers) if h})
        return out

    def cell(self, spreadsheet_id: str, title: str, a1: str) -> Cell | None:
        """The stored cell at ``a1`` (e.g. ``"B3"``), or None when empty."""
        with self._lock:
            book = self.books[spreadsheet_id]
            span = parse_range(book, f"{_title_text(title)}!{a1}")
            return span.sheet.cells.get((span.row0, span.col0))

    def set_values(self, spreadsheet_id: str, title: str, rows: list[list[Any]], *, start_row: int = 1) -> None:
        """Type ``rows`` into a tab from ``start_row`` (1-based), USER_ENTERED, as a person would."""
        with self._lock:
            sheet = self.books[spreadsheet_id].sheet(title)
            for r, row in enumerate(rows, start=start_row - 1):
                sheet.rows = max(sheet.rows, r + 1)
                for c, value in enumerate(row):
                    sheet.cols = max(sheet.cols, c + 1)
                    if value is None:
                        continue
                    cell = user_entered(value, sheet.locale)
                    if cell is None:
                        sheet.cells.pop((r, c), None)
                    else:
                        sheet.cells[(r, c)] = cell

    def insert_rows(self, spreadsheet_id: str, title: str, before_row: int, count: int = 1) -> None:
        """Insert blank rows before sheet row ``before_row`` (1-based), as a person would."""
        with self._lock:
            sheet = self.books[spreadsheet_id].sheet(title)
            _insert(sheet, "ROWS", before_row - 1, before_row - 1 + count)

    def delete_rows(self, spreadsheet_id: str, title: str, first_row: int, count: int = 1) -> None:
        """Delete ``count`` rows from sheet row ``first_row`` (1-based)."""
        with self._lock:
            sheet = self.books[spreadsheet_id].sheet(title)
            _delete(sheet, "ROWS", first_row - 1, first_row - 1 + count)

    def sort_rows(self, spreadsheet_id: str, title: str, column: int, *, reverse: bool = False) -> None:
        """Sort the data rows (2..) by a 0-based column's formatted text, as "Sort sheet" does."""
        with self._lock:
            sheet = self.books[spreadsheet_id].sheet(title)
            last = sheet.last_row()
            rows = [{c: sheet.cells[(r, c)] for (rr, c) in list(sheet.cells) if rr == r} for r in range(1, last + 1)]
            rows.sort(
                key=lambda cells: cells[column].formatted_in(sheet.locale) if column in cells else "", reverse=reverse
            )
            for key in [k for k in sheet.cells if k[0] >= 1]:
                del sheet.cells[key]
            for r, cells in enumerate(rows, start=1):
                for c, cell in cells.items():
                    sheet.cells[(r, c)] = cell

    def formulas(self, spreadsheet_id: str) -> list[str]:
        """Every formula cell as ``Title!A1=formula`` (the bot must never create one)."""
        with self._lock:
            return [
                f"{s.title}!{col_letters(c)}{r + 1}={cell.value}"
                for s in self.books[spreadsheet_id].sheets
                for (r, c), cell in s.cells.items()
                if cell.kind == "formula"
            ]

    # ---- faults and counters ----------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 429, *, after_apply: bool = False) -> None:
        """Answer the next ``count`` API requests with ``status``; ``after_apply`` applies them first."""
        with self._lock:
            self._faults.extend(_Fault(status, after_apply) for _ in range(count))

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Answer every API request with ``status`` for the next ``seconds``."""
        with self._lock:
            self._fail_until = time.monotonic() + seconds
            self._fail_status = status

    def fail_token_next(self, *statuses: int) -> None:
        """Answer the next token requests with these statuses."""
        with self._lock:
            self._token_faults.extend(statuses)

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (clients must exchange a new one)."""
        with self._lock:
            self._tokens.clear()

    def api_calls(self, *, since: float = 0.0, kind: str | None = None, ok: bool | None = None) -> list[Call]:
        """API requests received at or after monotonic time ``since`` (optionally one ``kind``/outcome)."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.at >= since and (kind is None or c.kind == kind) and (ok is None or (c.status < 400) == ok)
            ]

    def max_in_window(self, window: float = 60.0, *, since: float = 0.0) -> int:
        """The largest number of API requests in any ``window`` seconds."""
        times = [c.at for c in self.api_calls(since=since)]
        best, start = 0, 0
        for end in range(len(times)):
            while times[end] - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ---- HTTP ------------------------------------------------------------------------------

    def _serve(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        return json_reply(*self._handle(method, path, dict(headers), raw))

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(path)
        if parts.path == "/token" and method == "POST":
            return self._token(raw)
        if parts.path.endswith("/allowedLocations") and method == "GET":
            with self._lock:
                self.side_requests += 1
            return 200, {"locations": ["us-central1", "europe-west1"], "encodedLocations": "0x3"}
        params = parse_qs(parts.query, keep_blank_values=True)
        kind, route = _route(method, parts.path)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, _error(400, "Invalid JSON payload received.")
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            call = Call(time.monotonic(), method, kind, 0, body, params)
            self.calls.append(call)
            status, answer = self._api(method, kind, route, params, body, headers)
            call.status = status
        return status, answer

    def _api(
        self,
        method: str,
        kind: str,
        route: dict[str, str],
        params: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if not auth.startswith("Bearer "):
            return 401, _error(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
            )
        email = self._tokens.get(auth[7:])
        if email is None:
            return 401, _error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
            )
        now = time.monotonic()
        if now < self._fail_until:
            status = self._fail_status
            return status, _error(status, _FAULT_MESSAGES.get(status, "Error"))
        fault = self._faults.pop(0) if self._faults else None
        if fault is not None and not fault.after_apply:
            return fault.status, _error(fault.status, _FAULT_MESSAGES.get(fault.status, "Error"))
        if self.quota_per_minute is not None:
            recent = [t for t in self._user_calls.get(email, []) if now - t < 60.0]
            recent.append(now)
            self._user_calls[email] = recent
            if len(recent) > self.quota_per_minute:
                return 429, _error(429, _FAULT_MESSAGES[429])
        if kind == "unknown":
            return 404, _error(404, "Method not found.")
        book = self.books.get(route.get("id", ""))
        if book is None:
            return 404, _error(404, "Requested entity was not found.")
        editor = "*" in book.shared_with or email in book.shared_with
        viewer = "*" in book.viewers or email in book.viewers
        if not editor and not viewer:
            return 403, _error(403, "The caller does not have permission")
        if not editor and kind not in _READS:
            # Drive sharing: a Viewer can read a spreadsheet but any write is refused with 403 PERMISSION_DENIED
            # (Sheets API v4 errors; https://developers.google.com/workspace/sheets/api/guides/troubleshoot-api-errors)
            return 403, _error(403, "The caller does not have permission")
        try:
            answer = _HANDLERS[kind](book, route, params, body or {})
        except FakeApiError as exc:
            return exc.code, _error(exc.code, exc.message)
        if fault is not None:
            return fault.status, _error(fault.status, _FAULT_MESSAGES.get(fault.status, "Error"))
        return 200, answer

    def _token(self, raw: bytes) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        with self._lock:
            if self._token_faults:
                status = self._token_faults.pop(0)
                return status, {"error": "internal_failure" if status >= 500 else "invalid_grant"}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        try:
            header_b64, claims_b64, signature_b64 = form.get("assertion", "").split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except ValueError:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: malformed."}
        with self._lock:
            entry = self._keys.get(str(header.get("kid", "")))
        if entry is None or header.get("alg") != "RS256":
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        email, public_key = entry
        try:
            public_key.verify(signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        now = time.time()
        if claims.get("iss") != email or claims.get("aud") not in (self.token_uri, GOOGLE_TOKEN_AUDIENCE):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: iss or aud mismatch."}
        if not (claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0) + 300):
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: Token must be a short-lived token",
            }
        if SHEETS_SCOPE not in str(claims.get("scope", "")).split():
            return 400, {"error": "invalid_scope", "error_description": "Sheets scope not requested."}
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = email
            self.token_requests += 1
        return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": _STATUS_NAMES.get(code, "UNKNOWN")}}


_ROUTES = [
    ("GET", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)$"), "spreadsheets.get"),
    ("POST", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+):batchUpdate$"), "spreadsheets.batchUpdate"),
    ("GET", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values:batchGet$"), "values.batchGet"),
    ("POST", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values:batchUpdate$"), "values.batchUpdate"),
    ("POST", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values:batchClear$"), "values.batchClear"),
    ("POST", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values/(?P<range>[^/:]+):append$"), "values.append"),
    ("POST", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values/(?P<range>[^/:]+):clear$"), "values.clear"),
    ("GET", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values/(?P<range>[^/:]+)$"), "values.get"),
    ("PUT", re.compile(r"^/v4/spreadsheets/(?P<id>[^/:]+)/values/(?P<range>[^/:]+)$"), "values.update"),
]


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    for verb, pattern, kind in _ROUTES:
        match = pattern.match(path)
        if verb == method and match:
            groups = {k: unquote(v) for k, v in match.groupdict().items()}
            return kind, groups
    return "unknown", {}


# --------------------------------------------------------------------------------------------
# Handlers (called with the model lock held)
# --------------------------------------------------------------------------------------------


def _read_values(sheet: FakeSheet, row0: int, col0: int, row1: int, col1: int, render: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    last = min(row1, sheet.last_row())
    for r in range(row0, last + 1):
        row: list[Any] = []
        for c in range(col0, col1 + 1):
            cell = sheet.cells.get((r, c))
            if cell is None:
                row.append("")
            elif render == "FORMATTED_VALUE":
                row.append(cell.formatted_in(sheet.locale))
            elif render == "FORMULA" and cell.kind == "formula":
                row.append(cell.value)
            elif cell.kind == "number":
                value = float(cell.value)
                row.append(int(value) if value == int(value) else value)
            else:
                row.append(cell.value if cell.kind != "formula" else "#ERROR!")
        while row and row[-1] == "":
            row.pop()
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _value_range(book: FakeSpreadsheet, text: str, params: dict[str, list[str]]) -> dict[str, Any]:
    span = parse_range(book, text)
    span.check_grid()
    render = (params.get("valueRenderOption") or ["FORMATTED_VALUE"])[0]
    if (params.get("majorDimension") or ["ROWS"])[0] != "ROWS":
        raise FakeApiError(400, "Only majorDimension ROWS is supported by this fake.")
    out: dict[str, Any] = {"range": span.a1(), "majorDimension": "ROWS"}
    values = _read_values(span.sheet, span.row0, span.col0, span.row1, span.col1, render)
    if values:
        out["values"] = values
    return out


def _write_values(book: FakeSpreadsheet, text: str, values: list[list[Any]], option: str) -> Span:
    """Validate one ValueRange write (returns the span written); :func:`_commit_values` stores it."""
    span = parse_range(book, text)
    height = len(values)
    width = max((len(r) for r in values), default=0)
    if span.single or (span.row1 - span.row0 + 1 >= height and span.col1 - span.col0 + 1 >= width):
        if span.single:
            span = Span(span.sheet, span.row0, span.col0, span.row0 + max(height, 1) - 1, span.col0 + max(width, 1) - 1)
    else:
        raise FakeApiError(
            400,
            f"Requested writing within range [{text}], but tried writing {height} rows and {width} columns.",
        )
    written = Span(span.sheet, span.row0, span.col0, span.row0 + max(height, 1) - 1, span.col0 + max(width, 1) - 1)
    written.check_grid()
    if option not in ("USER_ENTERED", "RAW"):
        raise FakeApiError(400, "Invalid valueInputOption: must be RAW or USER_ENTERED")
    return written


def _commit_values(span: Span, values: list[list[Any]], option: str) -> None:
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            if value is None:
                continue
            key = (span.row0 + r, span.col0 + c)
            cell = user_entered(value, span.sheet.locale) if option == "USER_ENTERED" else raw_entered(value)
            if cell is None:
                span.sheet.cells.pop(key, None)
            else:
                span.sheet.cells[key] = cell


def _option(params: dict[str, list[str]], body: dict[str, Any]) -> str:
    option = (params.get("valueInputOption") or [body.get("valueInputOption", "")])[0]
    if not option:
        raise FakeApiError(400, "'valueInputOption' is required but not specified")
    return option


def _h_values_get(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    return _value_range(book, route["range"], params)


def _h_batch_get(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    ranges = params.get("ranges") or []
    return {"spreadsheetId": book.spreadsheet_id, "valueRanges": [_value_range(book, r, params) for r in ranges]}


def _update_reply(book: FakeSpreadsheet, span: Span, values: list[list[Any]]) -> dict[str, Any]:
    return {
        "spreadsheetId": book.spreadsheet_id,
        "updatedRange": span.a1(),
        "updatedRows": len(values),
        "updatedColumns": max((len(r) for r in values), default=0),
        "updatedCells": sum(len(r) for r in values),
    }


def _h_values_update(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    option = _option(params, {})
    values = body.get("values") or []
    span = _write_values(book, route["range"], values, option)
    _commit_values(span, values, option)
    return _update_reply(book, span, values)


def _h_values_batch_update(
    book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any
) -> Any:
    option = _option({}, body)
    data = body.get("data") or []
    spans = []
    for item in data:
        if item.get("majorDimension", "ROWS") != "ROWS":
            raise FakeApiError(400, "Only majorDimension ROWS is supported by this fake.")
        spans.append(_write_values(book, item["range"], item.get("values") or [], option))
    replies = []
    for span, item in zip(spans, data, strict=True):
        _commit_values(span, item.get("values") or [], option)
        replies.append(_update_reply(book, span, item.get("values") or []))
    return {
        "spreadsheetId": book.spreadsheet_id,
        "totalUpdatedRows": sum(r["updatedRows"] for r in replies),
        "totalUpdatedColumns": max((r["updatedColumns"] for r in replies), default=0),
        "totalUpdatedCells": sum(r["updatedCells"] for r in replies),
        "totalUpdatedSheets": len({s.sheet.sheet_id for s in spans}),
        "responses": replies,
    }


def _h_values_append(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    option = _option(params, {})
    values = body.get("values") or []
    span = parse_range(book, route["range"])
    sheet = span.sheet
    last = max((r for (r, c) in sheet.cells if span.col0 <= c <= span.col1), default=-1)
    start = last + 1
    width = max((len(r) for r in values), default=1)
    needed = start + len(values)
    if needed > sheet.rows:  # append grows the grid, like Google
        sheet.rows = needed
    target = Span(sheet, start, span.col0, start + max(len(values), 1) - 1, span.col0 + width - 1)
    if target.col1 >= sheet.cols:
        sheet.cols = target.col1 + 1
    _commit_values(target, values, option)
    return {
        "spreadsheetId": book.spreadsheet_id,
        "tableRange": Span(sheet, 0, span.col0, max(last, 0), span.col0 + width - 1).a1(),
        "updates": _update_reply(book, target, values),
    }


def _clear(book: FakeSpreadsheet, text: str) -> str:
    span = parse_range(book, text)
    span.check_grid()
    for key in [k for k in span.sheet.cells if span.row0 <= k[0] <= span.row1 and span.col0 <= k[1] <= span.col1]:
        del span.sheet.cells[key]
    return span.a1()


def _h_values_clear(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    return {"spreadsheetId": book.spreadsheet_id, "clearedRange": _clear(book, route["range"])}


def _h_batch_clear(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    return {"spreadsheetId": book.spreadsheet_id, "clearedRanges": [_clear(book, r) for r in body.get("ranges", [])]}


def _h_get(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    ranges = params.get("ranges") or []
    fields = (params.get("fields") or [""])[0]
    with_data = (params.get("includeGridData") or ["false"])[0] == "true" or "data" in fields
    spans = [parse_range(book, r) for r in ranges]
    sheets = [s for s in book.sheets if not spans or any(sp.sheet is s for sp in spans)]
    out_sheets = []
    for sheet in sheets:
        item: dict[str, Any] = {"properties": sheet.properties()}
        if sheet.conditional_formats:
            item["conditionalFormats"] = copy.deepcopy(sheet.conditional_formats)
        if with_data:
            own = [sp for sp in spans if sp.sheet is sheet] or [Span(sheet, 0, 0, sheet.rows - 1, sheet.cols - 1)]
            item["data"] = [_grid_data(sheet, sp) for sp in own]
        out_sheets.append(item)
    return {
        "spreadsheetId": book.spreadsheet_id,
        "properties": {"title": book.title, "locale": book.locale, "timeZone": "Etc/GMT"},
        "sheets": out_sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
    }


def _grid_data(sheet: FakeSheet, span: Span) -> dict[str, Any]:
    row1, col1 = min(span.row1, sheet.rows - 1), min(span.col1, sheet.cols - 1)
    rows = []
    for r in range(span.row0, row1 + 1):
        values = []
        for c in range(span.col0, col1 + 1):
            data: dict[str, Any] = {}
            cell = sheet.cells.get((r, c))
            if cell is not None:
                data["formattedValue"] = cell.formatted_in(sheet.locale)
            rule = sheet.validation_at(r, c)
            if rule is not None:
                data["dataValidation"] = copy.deepcopy(rule)
            values.append(data)
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    while rows and not rows[-1]:
        rows.pop()
    return {"startRow": span.row0, "startColumn": span.col0, "rowData": rows}


def _insert(sheet: FakeSheet, dimension: str, start: int, end: int) -> None:
    count = end - start
    if dimension == "ROWS":
        sheet.cells = {((r + count if r >= start else r), c): v for (r, c), v in sheet.cells.items()}
        sheet.rows += count
    else:
        sheet.cells = {(r, (c + count if c >= start else c)): v for (r, c), v in sheet.cells.items()}
        sheet.cols += count


def _delete(sheet: FakeSheet, dimension: str, start: int, end: int) -> None:
    count = end - start
    limit = sheet.rows if dimension == "ROWS" else sheet.cols
    if start < 0 or end > limit or count <= 0:
        raise FakeApiError(400, "Invalid requests[0].deleteDimension: range out of bounds")
    if dimension == "ROWS":
        if count >= sheet.rows - sheet.frozen:
            raise FakeApiError(400, "Invalid requests[0].deleteDimension: You can't delete all the rows on the sheet.")
        sheet.cells = {
            ((r - count if r >= end else r), c): v for (r, c), v in sheet.cells.items() if not start <= r < end
        }
        sheet.rows -= count
    else:
        sheet.cells = {
            (r, (c - count if c >= end else c)): v for (r, c), v in sheet.cells.items() if not start <= c < end
        }
        sheet.cols -= count


def _h_batch_update(book: FakeSpreadsheet, route: dict[str, str], params: dict[str, list[str]], body: Any) -> Any:
    work = copy.deepcopy(book)  # all or nothing, like Google
    replies = []
    for number, request in enumerate(body.get("requests") or []):
        if len(request) != 1:
            raise FakeApiError(400, f"Invalid requests[{number}]: exactly one kind of request expected")
        ((name, args),) = request.items()
        where = f"requests[{number}].{name}"
        replies.append(_structural(work, name, args, where))
    book.sheets = work.sheets
    return {"spreadsheetId": book.spreadsheet_id, "replies": replies}


def _structural(book: FakeSpreadsheet, name: str, args: dict[str, Any], where: str) -> dict[str, Any]:
    if name == "addSheet":
        props = args.get("properties", {})
        title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
        if any(s.title == title for s in book.sheets):
            raise FakeApiError(
                400,
                f'Invalid {where}: A sheet with the name "{title}" already exists. Please enter another name.',
            )
        sheet_id = props.get("sheetId", secrets.randbelow(10**9) + 1)
        if any(s.sheet_id == sheet_id for s in book.sheets):
            raise FakeApiError(400, f"Invalid {where}: Sheet with id {sheet_id} already exists.")
        grid = props.get("gridProperties", {})
        index = min(int(props.get("index", len(book.sheets))), len(book.sheets))
        for sheet in book.sheets:
            if sheet.index >= index:
                sheet.index += 1
        sheet = FakeSheet(
            sheet_id,
            title,
            index,
            int(grid.get("rowCount", 1000)),
            int(grid.get("columnCount", 26)),
            int(grid.get("frozenRowCount", 0)),
            locale=book.locale,
        )
        book.sheets.append(sheet)
        book.reindex()
        return {"addSheet": {"properties": sheet.properties()}}
    if name == "updateSheetProperties":
        props = args.get("properties", {})
        sheet = book.by_id(props.get("sheetId", 0), where)
        fields = args.get("fields", "")
        if not fields:
            raise FakeApiError(400, f"Invalid {where}: At least one field must be updated, but none were specified.")
        for item in fields.split(","):
            if item == "gridProperties.frozenRowCount":
                sheet.frozen = int(props.get("gridProperties", {}).get("frozenRowCount", 0))
            elif item == "title":
                sheet.title = props["title"]
            else:
                raise FakeApiError(400, f"Invalid {where}: field {item} not supported by this fake")
        return {}
    if name == "appendDimension":
        sheet = book.by_id(args.get("sheetId", 0), where)
        length = int(args.get("length", 0))
        if length <= 0:
            raise FakeApiError(400, f"Invalid {where}: length must be positive")
        if args.get("dimension") == "ROWS":
            sheet.rows += length
        else:
            sheet.cols += length
        return {}
    if name in ("insertDimension", "deleteDimension"):
        grid = args.get("range", {})
        sheet = book.by_id(grid.get("sheetId", 0), where)
        handler = _insert if name == "insertDimension" else _delete
        handler(sheet, grid.get("dimension", "ROWS"), int(grid.get("startIndex", 0)), int(grid["endIndex"]))
        return {}
    if name == "updateCells":
        start = args.get("start") or {}
        grid = args.get("range") or {}
        sheet = book.by_id((start or grid).get("sheetId", 0), where)
        row0 = int(start.get("rowIndex", grid.get("startRowIndex", 0)))
        col0 = int(start.get("columnIndex", grid.get("startColumnIndex", 0)))
        fields = args.get("fields", "")
        rows = args.get("rows", [])
        width = max((len(r.get("values", [])) for r in rows), default=0)
        Span(sheet, row0, col0, row0 + max(len(rows), 1) - 1, col0 + max(width, 1) - 1).check_grid()
        for r, row in enumerate(rows):
            for c, data in enumerate(row.get("values", [])):
                key = (row0 + r, col0 + c)
                if "userEnteredValue" in fields or fields == "*":
                    entered = data.get("userEnteredValue")
                    if not entered:
                        sheet.cells.pop(key, None)
                    elif "stringValue" in entered:
                        sheet.cells[key] = Cell("string", entered["stringValue"], entered["stringValue"])
                    elif "numberValue" in entered:
                        sheet.cells[key] = Cell("number", float(entered["numberValue"]))
                    elif "boolValue" in entered:
                        sheet.cells[key] = Cell("bool", bool(entered["boolValue"]))
                    elif "formulaValue" in entered:
                        sheet.cells[key] = Cell("formula", entered["formulaValue"])
                if "bold" in fields and data.get("userEnteredFormat", {}).get("textFormat", {}).get("bold"):
                    sheet.bold.add(key)
        return {}
    if name == "setDataValidation":
        grid = args.get("range", {})
        sheet = book.by_id(grid.get("sheetId", 0), where)
        rule = _proto3(copy.deepcopy(args.get("rule"))) if args.get("rule") else None
        sheet.validations.append((copy.deepcopy(grid), rule))
        return {}
    if name == "addConditionalFormatRule":
        rule = args.get("rule", {})
        ranges = rule.get("ranges") or []
        if not ranges:
            raise FakeApiError(400, f"Invalid {where}: rule must have at least one range")
        sheet = book.by_id(ranges[0].get("sheetId", 0), where)
        index = int(args.get("index", 0))
        stored = _proto3(copy.deepcopy(rule))
        colour = stored.get("booleanRule", {}).get("format", {}).get("backgroundColor")
        if colour:  # Google keeps 8 bits per channel and answers e.g. 0.8509804 for 0.851
            quantised = {k: round(float(v) * 255) / 255 for k, v in colour.items()}
            stored["booleanRule"]["format"]["backgroundColor"] = {k: v for k, v in quantised.items() if v}
        sheet.conditional_formats.insert(min(index, len(sheet.conditional_formats)), stored)
        return {}
    if name == "deleteConditionalFormatRule":
        sheet = book.by_id(args.get("sheetId", 0), where)
        index = int(args.get("index", 0))
        if not 0 <= index < len(sheet.conditional_formats):
            raise FakeApiError(400, f"Invalid {where}: No conditional format on sheet at index {index}")
        del sheet.conditional_formats[index]
        return {}
    raise FakeApiError(400, f"Invalid JSON payload received. Unknown name \"{name}\" at 'requests[0]'")


def _proto3(value: Any) -> Any:
    """Drop default-valued fields (False, 0, "", empty) as Google's JSON answers do."""
    if isinstance(value, dict):
        cleaned = {k: _proto3(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (False, 0, "", None, [], {}) or k == "userEnteredValue"}
    if isinstance(value, list):
        return [_proto3(v) for v in value]
    return value


#: Request kinds that only read (allowed for a Viewer share).
_READS = frozenset({"spreadsheets.get", "values.get", "values.batchGet"})

_HANDLERS = {
    "spreadsheets.get": _h_get,
    "spreadsheets.batchUpdate": _h_batch_update,
    "values.get": _h_values_get,
    "values.batchGet": _h_batch_get,
    "values.update": _h_values_update,
    "values.batchUpdate": _h_values_batch_update,
    "values.append": _h_values_append,
    "values.clear": _h_values_clear,
    "values.batchClear": _h_batch_clear,
}


def google_settings(
    fake: SheetsFake, spreadsheet_id: str, data_dir: Any, *, info: dict[str, Any] | None = None, **overrides: Any
) -> Any:
    """:class:`bot.settings.Settings` for BOT_STORE=google on ``fake`` (a fresh key unless ``info`` is given)."""
    from bot.settings import load_settings

    values = {
        "bot_store": "google",
        "google_sheet_id": spreadsheet_id,
        "google_credentials_json": json.dumps(info or fake.service_account_info()),
        "bot_data_dir": data_dir,
        "webhook_secret": "test-secret",
        "bot_api_token": "test-token",
    }
    values.update(overrides)
    return load_settings(**values)


def open_fake_workbook(
    fake: SheetsFake, spreadsheet_id: str, data_dir: Any, *, info: dict[str, Any] | None = None, **options: Any
) -> Any:
    """A real :class:`bot.sheets.google.workbook.GoogleWorkbook` (real gspread + google-auth) on ``fake``."""
    from bot.sheets.google.auth import open_google_workbook

    settings = google_settings(fake, spreadsheet_id, data_dir, info=info)
    return open_google_workbook(settings, http_client=fake.http_client, **options)
