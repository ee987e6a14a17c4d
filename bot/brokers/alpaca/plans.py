"""Per-order memory, kept while an order is open: how a request is executed (:class:`Plan`) and one venue
order read back (:class:`Leg`). Shared by :mod:`~bot.brokers.alpaca.orders` and :mod:`~bot.brokers.alpaca.exits`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.brokers.base import FillReport, OrderRequest
from bot.domain import OrderState


@dataclass
class Plan:
    """How a request was (or is being) executed: single order, or close leg + open leg.

    ``venue_id``: the ``client_order_id`` sent (legs add ``-c``/``-o``, a trailing stop ``-t``);
    ``close_qty`` > 0 shares for a split reversal (0: single order); ``notes``: reasons for the
    engine, ``reported`` of them already handed over.
    """

    request: OrderRequest
    venue_id: str
    close_qty: Decimal
    exits_allowed: bool
    notes: list[str] = field(default_factory=list)
    reported: int = 0
    after_fill_done: bool = False
    open_failed: bool = False

    def note(self, text: str) -> None:
        """Remember ``text`` for the order's reason (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def new_notes(self) -> str:
        """Notes not yet handed to the engine (it appends each update's reason to the order)."""
        text = "; ".join(self.notes[self.reported :])
        self.reported = len(self.notes)
        return text


@dataclass(frozen=True)
class Leg:
    """One venue order, translated: state, fills from the activities, and the order JSON."""

    order: dict[str, Any]
    state: OrderState
    fills: tuple[FillReport, ...]
    filled_qty: Decimal
    eligible_at: datetime | None


def wants_exits(request: OrderRequest) -> bool:
    """Whether ``request`` asks for any protective exit (stop loss, take profit or trailing stop)."""
    return bool(request.stop_loss_pct or request.take_profit_pct or request.trailing_pct)
