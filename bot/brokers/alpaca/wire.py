"""Alpaca's wire vocabulary: order statuses as :class:`OrderState`, RFC 3339 times, the ids sent as
``client_order_id``, price ticks and share counts. Pure functions and constants, no I/O."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from bot.domain import OrderState

UTC = timezone.utc
#: Alpaca's calendar: activity dates and daily bars are New York trading days.
NEW_YORK = ZoneInfo("America/New_York")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
#: Quantity step of fractionable assets (Alpaca accepts up to 9 decimals).
FRACTION_STEP = Decimal("0.000000001")
#: Alpaca's limit on ``client_order_id`` length.
MAX_CLIENT_ID = 128
#: Order statuses that mean "accepted, not yet executing" (queued while the market is closed).
WAITING = {"accepted", "new", "pending_new", "accepted_for_bidding"}
#: Alpaca's order ``status`` → the bot's :class:`OrderState` (unknown statuses read as SUBMITTED by callers).
STATES = {
    "new": OrderState.SUBMITTED,
    "accepted": OrderState.SUBMITTED,
    "pending_new": OrderState.SUBMITTED,
    "accepted_for_bidding": OrderState.SUBMITTED,
    "calculated": OrderState.SUBMITTED,
    "held": OrderState.SUBMITTED,
    "stopped": OrderState.SUBMITTED,
    "suspended": OrderState.SUBMITTED,
    "done_for_day": OrderState.SUBMITTED,
    "pending_cancel": OrderState.SUBMITTED,
    "pending_replace": OrderState.SUBMITTED,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "replaced": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}
#: The final order states.
FINAL = {s for s in OrderState if s.is_final}


def venue_id(client_order_id: str) -> str:
    """Our id as sent to Alpaca (hashed when too long for the ``-c``/``-o``/``-t`` suffixes)."""
    if len(client_order_id) <= MAX_CLIENT_ID - 2:
        return client_order_id
    return "h-" + hashlib.sha256(client_order_id.encode()).hexdigest()


def whole(qty: Decimal) -> bool:
    """Whether ``qty`` is a whole number of shares."""
    return qty == qty.to_integral_value()


def tick(price: Decimal) -> Decimal:
    """Alpaca's price increment: $0.01 at or above $1, $0.0001 below."""
    return price.quantize(Decimal("0.01") if price >= 1 else Decimal("0.0001"), rounding=ROUND_HALF_UP)


def parse_time(value: object) -> datetime | None:
    """UTC datetime from Alpaca's RFC 3339 text (nanoseconds cut to microseconds; offsets honoured)."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        count = len(rest) - len(rest.lstrip("0123456789"))
        digits, zone = rest[:count], rest[count:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """``2024-05-01T13:30:00Z``: a tz-aware time as Alpaca's query parameters take it (UTC, whole seconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
