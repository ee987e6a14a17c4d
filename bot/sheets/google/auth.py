"""Opening a Google Sheet: the sheet id, the service-account key, the credentials and the gspread client.

:func:`open_google_workbook` is the entry point: it reads GOOGLE_SHEET_ID and the key
(GOOGLE_CREDENTIALS_JSON or GOOGLE_CREDENTIALS_FILE) from the settings, builds google-auth
service-account credentials for :data:`SCOPES`, an authorised ``gspread.Client`` on them, and the
:class:`~bot.sheets.google.workbook.GoogleWorkbook`, checking access with one request.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import gspread
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from gspread.http_client import HTTPClient

from bot.errors import BotError, ConfigError
from bot.settings import Settings
from bot.sheets.google.workbook import GoogleWorkbook

#: OAuth scope the bot asks for: the sheets it was shared with, nothing of Drive.
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)

_SHEET_URL_RE = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_SHEET_ID_RE = re.compile(r"^[A-Za-z0-9_-]{10,}$")


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
