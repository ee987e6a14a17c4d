"""What the parts of the alert path share: the state DB, the venues, the row projection, events, slots."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.domain import SlotKey, SlotState
from bot.state import ledger
from bot.state.store import StateStore
from bot.trading.locks import StripedLocks
from bot.trading.rows import RowProjection
from bot.trading.venues import BrokerRegistry

log = logging.getLogger(__name__)

#: ``(kind, text, symbol, timeframe)`` → None: the notification hook (see :mod:`bot.notify`).
EventHook = Callable[[str, str, str, str], None]


@dataclass
class TradingContext:
    """The engine's wiring, handed to each of its parts (fills, exits, recovery, risk).

    Attributes:
        store: the state DB.
        brokers: the venues.
        rows: outbox entries for the workbook tabs (and the last ``Order Status`` per row).
        locks: per-symbol locks of the alert path.
        events: optional notification hook.
        slots: committed slot states by key, cached (this process is the only writer of its slots).
    """

    store: StateStore
    brokers: BrokerRegistry
    rows: RowProjection
    locks: StripedLocks = field(default_factory=StripedLocks)
    events: EventHook | None = None
    slots: dict[SlotKey, SlotState] = field(default_factory=dict)

    def read_slot(self, key: SlotKey) -> SlotState:
        """The committed state of slot ``key`` (flat when never traded)."""
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = ledger.read_slot(self.store, key)
        return slot

    def emit(self, kind: str, text: str, key: SlotKey) -> None:
        """Send event ``kind`` with ``text`` about slot ``key``; a failing hook is logged, never raised."""
        if self.events is not None:
            try:
                self.events(kind, text, key.symbol, key.timeframe)
            except Exception:  # notifications never get in the way of trading
                log.exception("notification hook failed")
