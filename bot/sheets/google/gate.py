"""The one HTTP gate: every Sheets API request leaves through :class:`SheetsGate`.

Each request is noted in the :class:`~bot.sheets.google.budget.RequestBudget` and counted, then
sent with gspread's ``HTTPClient`` (tests inject one routed to a loopback fake). No retry happens
here: 429, 5xx and connection errors become :class:`~bot.errors.TemporaryError` (the outbox writer
retries with backoff), access problems :class:`~bot.errors.ConfigError`. gspread's
``BackOffHTTPClient`` is not used (in 6.2.1 it never gives up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from google.auth import exceptions as auth_exceptions
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from bot.errors import BotError, ConfigError, TemporaryError, WorkbookReadOnly
from bot.sheets.google.budget import RequestBudget


class SheetsGate:
    """Sends Sheets v4 requests for one spreadsheet and translates their failures into bot errors.

    Args:
        http: gspread's HTTP client of an authorised ``gspread.Client``.
        spreadsheet_id: the sheet's id (every request is about it; named in errors).
        service_account_email: named in "share the sheet with …" errors.
        budget: where each request sent is noted.
        on_stale: called when Google's answer shows the cached layout is out of date (a 400 about
            a range), before the error is raised, so the caller drops its caches.

    Attributes:
        requests_sent: Sheets API requests sent (token exchanges not included).
    """

    def __init__(
        self,
        http: HTTPClient,
        spreadsheet_id: str,
        *,
        service_account_email: str,
        budget: RequestBudget,
        on_stale: Callable[[], None],
    ) -> None:
        self._http = http
        self.spreadsheet_id = spreadsheet_id
        self.service_account_email = service_account_email
        self.budget = budget
        self._on_stale = on_stale
        self.requests_sent = 0

    # -- the four endpoints the workbook uses --------------------------------------------------

    def spreadsheets_get(self, params: dict[str, Any]) -> Any:
        """One ``spreadsheets.get`` with query ``params``; returns Google's JSON (a dict).

        Raises:
            TemporaryError | ConfigError: see :meth:`_call`.
        """
        return self._call("spreadsheets.get", self._http.spreadsheets_get, self.spreadsheet_id, params)

    def values_batch_get(self, ranges: list[str], params: dict[str, Any]) -> Any:
        """One ``values:batchGet`` of the A1 ``ranges``; returns ``{"valueRanges": [...]}``.

        Raises:
            TemporaryError | ConfigError: see :meth:`_call`.
        """
        return self._call("values.batchGet", self._http.values_batch_get, self.spreadsheet_id, ranges, params)

    def values_batch_update(self, body: dict[str, Any]) -> Any:
        """One ``values:batchUpdate`` with ``body`` (``valueInputOption`` and ``data``); returns Google's JSON.

        Raises:
            TemporaryError | ConfigError: see :meth:`_call`.
        """
        return self._call("values.batchUpdate", self._http.values_batch_update, self.spreadsheet_id, body)

    def batch_update(self, requests_: list[dict[str, Any]]) -> Any:
        """One ``spreadsheets:batchUpdate`` (structure and formatting) of ``requests_``; returns Google's JSON.

        Raises:
            TemporaryError | ConfigError: see :meth:`_call`.
        """
        return self._call(
            "spreadsheets.batchUpdate", self._http.batch_update, self.spreadsheet_id, {"requests": requests_}
        )

    def close(self) -> None:
        """Close the HTTP session (when the client has one)."""
        session = getattr(self._http, "session", None)
        if session is not None:
            session.close()

    # -- sending and translating -------------------------------------------------------------

    def _call(self, what: str, func: Callable[..., Any], *args: Any) -> Any:
        """Send one request through gspread's HTTP client; translate failures (never retries).

        Raises:
            TemporaryError: 429, 5xx, 408, a quota 403, a retryable token failure, no connection,
                or a 400 showing the cached layout changed.
            ConfigError: credentials refused, API disabled, sheet not shared or not found, other 400s.
        """
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
        """The bot error for Google's ``exc`` during ``what`` (a 400 first drops the caches via ``on_stale``)."""
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
            if what in _WRITES:
                # the sheet answered reads, so it is shared; a refused write means a Viewer share
                return WorkbookReadOnly(
                    f"the service account can read Google Sheet {self.spreadsheet_id} but not write it: share it "
                    f"with {self.service_account_email or 'the service account e-mail in the key file'} as Editor "
                    f"(Google said: {message or reason})",
                    field="GOOGLE_SHEET_ID",
                    value=self.spreadsheet_id,
                )
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
            self._on_stale()
            return TemporaryError(f"Google Sheet layout changed during {what}; re-reading it: {message}")
        if status == 400:
            self._on_stale()
        return ConfigError(f"Google Sheets refused {what} ({status} {reason}): {message}")


#: The requests that write; a 403 on one of them from a sheet that reads is a read-only share.
_WRITES = frozenset({"values.batchUpdate", "spreadsheets.batchUpdate"})


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.splitlines()[0][:200]
