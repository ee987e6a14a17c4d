"""Typed cell values in and out of Google Sheets, whatever the spreadsheet's locale.

Reads use ``valueRenderOption=UNFORMATTED_VALUE`` with ``dateTimeRenderOption=SERIAL_NUMBER``
(Sheets API v4 ValueRenderOption: "Values will be calculated, but not formatted in the reply";
numbers come back as JSON numbers, checkboxes as booleans, dates as day serials counted from
1899-12-30 with the time of day as the fraction), so ``0,01`` shown in a German sheet is the number
0.01. :func:`cell_text` turns each value into the text the :class:`~bot.sheets.base.Workbook`
interface carries, by the column's schema type. Text cells are still text: in a sheet whose locale
writes decimals with a comma, a text number with a separator (``'1.000``, ``'2,5``) is ambiguous and
comes back with a problem naming the cell, the value and the locale, never as a guess.

Writes send numbers and booleans as JSON numbers and booleans (:func:`cell_json`), which
``USER_ENTERED`` stores as they are in any locale (a numeric *string* would be parsed with the
sheet's separators: pygsheets #414 saw 1.123456789 become 1123456789 in a German sheet).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import UnknownLocaleError
from babel.numbers import get_decimal_symbol

from bot.domain import format_decimal
from bot.parsing import safe_cell

#: Day 0 of Sheets' serial dates (Sheets API v4, DateTimeRenderOption SERIAL_NUMBER).
SERIAL_EPOCH = datetime(1899, 12, 30)
_NUMERIC_TYPES = frozenset({"decimal", "int"})
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_SEPARATED_NUMBER = re.compile(r"^[^\d]{0,4}[+-]?[\d.,\s\u00a0\u202f']+\s*[^\d]{0,4}$")


def decimal_comma(locale: str) -> bool:
    """True when the spreadsheet's ``locale`` (e.g. ``de_DE``) writes decimals with a comma."""
    try:
        return get_decimal_symbol(locale or "en_US") != "."
    except (UnknownLocaleError, ValueError):
        return False


def cell_text(value: Any, *, column: str, kind: str | None, locale: str, zone: ZoneInfo) -> tuple[str, str | None]:
    """``(text, problem)`` for one ``UNFORMATTED_VALUE`` cell of a column of schema type ``kind``.

    Numbers become plain decimal text (``0.01``; a ``datetime`` column's serial becomes ISO text in the
    sheet's time ``zone``: ``2024-05-01`` or ``2024-05-01T14:30:00+02:00``), booleans ``TRUE``/``FALSE``,
    text stays text (formula-safe). ``problem`` is None unless the cell is a text number whose separators
    the sheet's ``locale`` makes ambiguous.
    """
    if value is None or value == "":
        return "", None
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), None
    if isinstance(value, (int, float)):
        if kind == "datetime":
            return serial_text(float(value), zone), None
        return format_decimal(Decimal(repr(value)) if isinstance(value, float) else Decimal(value)), None
    text = str(value)
    problem = None
    if kind in _NUMERIC_TYPES and decimal_comma(locale) and _ambiguous(text):
        problem = (
            f"{column}: text {text!r} is ambiguous in this sheet's locale {locale} (decimal comma): "
            "type the number into the cell as a number, not as text"
        )
    return safe_cell(text), problem


def _ambiguous(text: str) -> bool:
    stripped = text.strip()
    return (
        bool(_SEPARATED_NUMBER.match(stripped))
        and any(ch.isdigit() for ch in stripped)
        and ("," in stripped or "." in stripped)
    )


def serial_text(serial: float, zone: ZoneInfo) -> str:
    """ISO text of a Sheets day serial (days since 1899-12-30, fraction = time of day) in ``zone``."""
    if serial == int(serial):
        return (SERIAL_EPOCH + timedelta(days=int(serial))).date().isoformat()
    local = (SERIAL_EPOCH + timedelta(days=serial)).replace(microsecond=0)
    return local.replace(tzinfo=zone).isoformat()


def cell_json(text: str, kind: str | None) -> Any:
    """The JSON value to send for the bot's cell ``text`` in a column of schema type ``kind``.

    Plain numbers in numeric columns go as JSON numbers (ints stay ints), ``TRUE``/``FALSE`` in bool
    columns as booleans; anything else stays the text given (the caller adds formula protection).
    """
    if kind in _NUMERIC_TYPES and _PLAIN_NUMBER.match(text):
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() and "." not in text else float(number)
    if kind == "bool" and text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    return text
