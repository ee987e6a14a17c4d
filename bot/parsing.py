"""Text → typed values: numbers, booleans and times as typed in alerts and sheet cells, and cell-safe text.

No I/O. Money and quantities come back as :class:`decimal.Decimal`, times as tz-aware UTC
``datetime``. Every error is a ``ValueError`` whose message quotes the offending value, so the
webhook, the Config reader and the CLI can name the field and the value in what they report.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone, tzinfo
from decimal import Decimal, InvalidOperation

UTC = timezone.utc


#: Largest price, quantity or notional accepted from an alert or a cell (anything bigger is a typo).
MAX_AMOUNT = Decimal("1e12")


def parse_decimal(raw: object, *, positive: bool = False, allow_zero: bool = True) -> Decimal:
    """Exact decimal from a JSON number, numeric text or sheet cell.

    Accepts ``int``, ``Decimal``, ``float`` (via its shortest repr), and text such as ``"5000"``,
    ``"5,000.50"``, ``"$5000"``, ``" 12.5 "``. Rejects booleans, NaN/infinity, values with
    magnitude above :data:`MAX_AMOUNT`, and text like ``"5k"``.

    Raises:
        ValueError: naming the value.
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"must be a number, got {describe_value(raw)}")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace("_", "")
        if text.startswith("$"):
            text = text[1:]
        if not text or len(text) > 40:
            raise ValueError(f"{quote_value(raw)} is not a number")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{quote_value(raw)} is not a number") from None
    else:
        raise ValueError(f"must be a number, got {describe_value(raw)}")
    if not value.is_finite():
        raise ValueError(f"{quote_value(raw)} is not a finite number")
    if abs(value) > MAX_AMOUNT:
        raise ValueError(f"{quote_value(raw)} is too large (limit {MAX_AMOUNT:,.0f})")
    if positive and value < 0:
        raise ValueError(f"{quote_value(raw)} must not be negative")
    if positive and value == 0 and not allow_zero:
        raise ValueError(f"{quote_value(raw)} must be greater than zero")
    return value + 0  # normalises -0 to 0


_TRUE = {"true", "yes", "y", "1", "on", "x", "✓", "✔"}


_FALSE = {"false", "no", "n", "0", "off", ""}


def parse_bool(raw: object) -> bool:
    """Sheet checkbox or text to bool: TRUE/yes/1/on/x → True; FALSE/no/0/off/blank → False.

    Raises:
        ValueError: naming the value for anything else (e.g. ``"maybe"``).
    """
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if raw is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{quote_value(raw)} is not TRUE or FALSE")


def parse_time(raw: object, *, zone: tzinfo = UTC) -> datetime:
    """Tz-aware UTC time from ISO-8601 text (``2024-05-01T14:30:00Z``) or epoch seconds/ms.

    ISO times without an offset are taken in ``zone`` (default UTC: TradingView's ``{{timenow}}`` is
    UTC with a ``Z``).

    Raises:
        ValueError: naming the value.
    """
    if isinstance(raw, bool):
        raise ValueError(f"must be a time, got {describe_value(raw)}")
    if isinstance(raw, (int, float, Decimal)) or (isinstance(raw, str) and raw.strip().isdigit()):
        number = float(raw)
        if number > 1e11:  # milliseconds
            number /= 1000
        try:
            return datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{quote_value(raw)} is not a time") from None
    if not isinstance(raw, str) or len(raw) > 64:
        raise ValueError(f"must be an ISO time, got {describe_value(raw)}")
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{quote_value(raw)} is not an ISO time such as 2024-05-01T14:30:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


_DATE_ONLY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


_YEAR_LAST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def parse_sheet_time(text: str, *, zone: tzinfo = UTC, date_zone: tzinfo | None = None) -> datetime:
    """A time typed in (or written to) a sheet cell, as tz-aware UTC.

    Accepted: ``2024-05-01`` (also ``2024/05/01``), ``2024-05-01 14:30``, ``2024-05-01 14:30:00``,
    ``2024-05-01T14:30:00Z``, ``2024-05-01T14:30:00+02:00``. Times without an offset are in
    ``zone``; a date alone is 00:00 of that day in ``date_zone`` (default ``zone``), so it stays on
    that calendar day wherever a report cuts its days.

    Raises:
        ValueError: blank text, a day-first/month-first date such as ``5/1/2024`` (ambiguous), or
            anything else that is not one of the forms above; the message quotes the text.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("required, the cell is blank")
    match = _DATE_ONLY.match(raw)
    if match:
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise ValueError(f"{raw!r} is not a valid date") from None
        return datetime.combine(day, time(0), tzinfo=date_zone or zone).astimezone(UTC)
    if _YEAR_LAST.match(raw):
        raise ValueError(f"{raw!r} is ambiguous (day or month first?): write the date as YYYY-MM-DD")
    try:
        return parse_time(raw, zone=zone)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date or time such as 2024-05-01 or 2024-05-01 14:30") from None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: object) -> str:
    """Text for a workbook cell that no spreadsheet will evaluate as a formula.

    Text starting with ``= + - @`` or a control character, and not a plain number, is prefixed
    with an apostrophe (OWASP CSV-injection guidance). Other values are returned as text.
    """
    text = "" if value is None else str(value)
    if text and text.startswith(_FORMULA_START) and not _NUMBER_RE.match(text):
        return "'" + text
    return text


def quote_value(raw: object) -> str:
    """``repr`` of ``raw`` for an error message, text cut at 60 characters (``"'abc…'"``)."""
    text = repr(raw) if not isinstance(raw, str) else repr(raw[:60] + ("…" if len(raw) > 60 else ""))
    return text


def describe_value(raw: object) -> str:
    """Type and value of ``raw`` for an error message (``"int 5"``, ``"nothing (null)"``)."""
    if raw is None:
        return "nothing (null)"
    return f"{type(raw).__name__} {quote_value(raw)}"
