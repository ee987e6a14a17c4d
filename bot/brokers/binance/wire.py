"""Binance's wire vocabulary: order statuses as :class:`OrderState`, epoch-millisecond and text times, and the
ids sent as ``newClientOrderId``. Pure functions and constants, no I/O."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from decimal import Decimal

from bot.domain import OrderState

UTC = timezone.utc
ZERO = Decimal(0)
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
#: Binance's order ``status`` → the bot's :class:`OrderState` (unknown statuses read as SUBMITTED by callers).
STATES = {
    "NEW": OrderState.SUBMITTED,
    "PENDING_NEW": OrderState.SUBMITTED,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED,
    "PENDING_CANCEL": OrderState.SUBMITTED,
    "CANCELED": OrderState.CANCELED,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}


def venue_id(client_order_id: str) -> str:
    """Our id as Binance accepts it (``^[.A-Z:/a-z0-9_-]{1,36}$``; hashed otherwise, deterministically)."""
    if _CLIENT_ID.match(client_order_id):
        return client_order_id
    return "h-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:34]


def ms_time(value: object) -> datetime | None:
    """UTC datetime from Binance's epoch milliseconds."""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC) if value is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def epoch_ms(value: datetime) -> int:
    """``value`` (tz-aware) as Binance's epoch milliseconds."""
    return int(value.timestamp() * 1000)


def utc_text(value: object) -> datetime | None:
    """UTC datetime from Binance's ``"2019-10-12 11:12:02"`` text (withdrawal times)."""
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
