"""Cell reading and display formatting shared by every dashboard view: cell text in, numbers, times, labels out.

The views of :mod:`bot.dashboard` read the workbook tabs the bot writes (:class:`~bot.records.Table`,
all cells text) and follow these conventions:

- Workbook times are ``YYYY-MM-DD HH:MM:SS`` in ``BOT_TIMEZONE`` (the ``zone`` argument); times
  with an offset keep it. Frames carry tz-aware times **in the zone** (pandas ``datetime64[ns, zone]``).
- Money in frames is float (for tables and charts); figures a test compares (P&L, equity,
  totals) are exact :class:`~decimal.Decimal` where the underlying function gives one.
- Returns are fractions (``0.01`` = 1 %); ``win_rate`` is percent, as in :class:`~bot.analytics.trade_stats.TradeStats`.
- A row that cannot be read is skipped and reported in ``problems`` as ``"<Tab> row N: why"``
  (sheet row numbers: the header is row 1), never raised, so a broken cell never breaks a page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from decimal import Decimal

import numpy as np
import pandas as pd

from bot.parsing import parse_decimal, parse_sheet_time

UTC = timezone.utc
DEFAULT_CURRENCY = "USD"
#: Labels shown for :data:`bot.analytics.returns.PERIODS` (``inception`` is "All").
PERIOD_LABELS: dict[str, str] = {"7d": "7d", "30d": "30d", "90d": "90d", "YTD": "YTD", "1y": "1y", "inception": "All"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHEET_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The Unix epoch (UTC): the origin of the integer times the views pickle and sort by.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_money(value: Decimal | float | None, currency: str = DEFAULT_CURRENCY, *, signed: bool = False) -> str:
    """``"1,234.56 USD"`` (``signed``: ``"+1,234.56 USD"``; negatives always ``"-1,234.56 USD"``).

    Two decimals, thousands separators, half-even rounding; ``"–"`` for None or NaN.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    number = number.quantize(Decimal("0.01"))
    if number == 0:
        number = abs(number)
    sign = "+" if signed and number > 0 else ""
    return f"{sign}{number:,.2f} {currency}".strip()


def format_pct(value: float | Decimal | None, *, fraction: bool = True, signed: bool = True) -> str:
    """A return or rate as ``"+1.23 %"``; ``fraction`` means ``0.0123`` → ``1.23 %``. ``"–"`` for None/NaN."""
    if value is None:
        return "–"
    number = float(value) * (100.0 if fraction else 1.0)
    if math.isnan(number):
        return "–"
    if abs(number) < 0.005:
        return "0.00 %"
    return f"{number:+,.2f} %" if signed else f"{number:,.2f} %"


def parse_times(values: Sequence[str], zone: tzinfo, *, fast_only: bool = False) -> pd.DatetimeIndex:
    """Workbook time cells → tz-aware times in ``zone`` (``NaT`` for blank or unreadable cells).

    The bot's own format ``YYYY-MM-DD HH:MM:SS`` (local time in ``zone``) is parsed vectorised
    (50,000 cells ≈ 30 ms); other cells by :func:`bot.parsing.parse_sheet_time` (a date alone,
    ``HH:MM``, ISO with an offset or ``Z``), unless ``fast_only``, when they are ``NaT``.
    """
    series = pd.Series(list(values), dtype=object).fillna("").astype(str).str.strip()
    parsed = pd.to_datetime(series, format=SHEET_TIME_FORMAT, errors="coerce")
    missing = (parsed.isna() & (series != "")).to_numpy()
    if missing.any() and not fast_only:
        # other formats, one by one, as naive wall times of the zone so one localisation fits all
        slow = [parse_time_or_none(text, zone) for text in series[missing]]
        parsed = parsed.copy()
        parsed.loc[missing] = [
            pd.Timestamp(value.astimezone(zone).replace(tzinfo=None)) if value is not None else pd.NaT for value in slow
        ]
    index = pd.DatetimeIndex(parsed).as_unit("ns")
    return index.tz_localize(zone, ambiguous=np.zeros(len(index), dtype=bool), nonexistent="shift_forward")


def parse_time_or_none(text: str, zone: tzinfo) -> datetime | None:
    """One time cell by :func:`bot.parsing.parse_sheet_time` (naive times in ``zone``), None when unreadable."""
    try:
        return parse_sheet_time(text, zone=zone)
    except ValueError:
        return None


def cell_float(text: str | None) -> float:
    """Cell text → float (NaN when blank or not a number; ``$``, commas and ``%`` tolerated)."""
    if text is None:
        return math.nan
    text = text.strip().rstrip("%")
    if not text:
        return math.nan
    try:
        return float(parse_decimal(text))
    except ValueError:
        return math.nan


def cell_decimal(text: str | None) -> Decimal | None:
    """Cell text → exact Decimal (None when blank or not a number; ``$``, commas tolerated)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return parse_decimal(text)
    except ValueError:
        return None


def cell_decimals(texts: Sequence[str | None], *, fast_only: bool = False) -> list[Decimal | None]:
    """Cell texts → exact Decimals (None when blank or not a plain number; ``fast_only``: no ``$``/commas)."""
    out: list[Decimal | None] = []
    for text in texts:
        try:
            value = Decimal(text)  # type: ignore[arg-type]
            out.append(value + 0 if value.is_finite() else None)
        except (ArithmeticError, TypeError, ValueError):
            out.append(None if fast_only else cell_decimal(text))
    return out


def cell_floats(texts: Sequence[str | None]) -> np.ndarray:
    """Cell texts → floats (NaN when blank or not a number; ``$``, commas and ``%`` tolerated)."""
    raw = np.array([text if text else "nan" for text in texts], dtype=object)
    numbers = np.array(pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce"), dtype=float)
    retry = np.flatnonzero(np.isnan(numbers) & (raw != "nan"))
    for position in retry.tolist():
        numbers[position] = cell_float(raw[position])
    return numbers


def as_float(value: float | Decimal | None) -> float:
    """``float(value)``, NaN for None."""
    return float(value) if value is not None else math.nan
