"""Per-order memory of the Binance adapter: the symbol each order was sent for (Binance looks orders up by
symbol and id) and the notes that become the order's reason, each handed to the engine once."""

from __future__ import annotations

import threading
from collections import OrderedDict

#: Orders remembered at most (oldest forgotten first).
MAX_ORDERS = 10_000


class OrderNotes:
    """Symbols and notes by the engine's ``client_order_id`` (thread-safe, the newest ``MAX_ORDERS`` kept)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._symbols_by_id: OrderedDict[str, str] = OrderedDict()
        self._notes: OrderedDict[str, list[str]] = OrderedDict()
        self._reported: dict[str, int] = {}

    def remember(self, cid: str, symbol: str) -> None:
        """Record that order ``cid`` is for ``symbol`` (forgetting the oldest orders beyond ``MAX_ORDERS``)."""
        with self._lock:
            self._symbols_by_id[cid] = symbol
            self._notes.setdefault(cid, [])
            while len(self._symbols_by_id) > MAX_ORDERS:
                old, _ = self._symbols_by_id.popitem(last=False)
                self._notes.pop(old, None)
                self._reported.pop(old, None)

    def symbol_of(self, cid: str) -> str:
        """The symbol order ``cid`` was sent for by this process, or ``""``."""
        with self._lock:
            return self._symbols_by_id.get(cid, "")

    def note(self, cid: str, text: str) -> None:
        """Remember ``text`` for the reason of order ``cid`` (once)."""
        with self._lock:
            notes = self._notes.setdefault(cid, [])
            if text not in notes:
                notes.append(text)

    def new_notes(self, cid: str) -> str:
        """Notes of ``cid`` not yet handed to the engine (it appends each update's reason)."""
        with self._lock:
            notes = self._notes.get(cid, [])
            start = self._reported.get(cid, 0)
            self._reported[cid] = len(notes)
            return "; ".join(notes[start:])
