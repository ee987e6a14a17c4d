"""Slot position arithmetic (pure, Decimal): applying a fill to a signed position.

Average-cost basis: adding to a position re-averages the entry price; reducing it realises
``(exit − average) × qty`` for longs and ``(average − exit) × qty`` for shorts, minus the fee. A
fill that crosses zero closes the old side completely and opens the rest at the fill price. The
journal (Trades tab) uses FIFO round trips from :mod:`bot.analytics.round_trips`; for a closed round trip both
give the same total.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.domain import Side, SlotState

ZERO = Decimal(0)


def apply_fill(
    slot: SlotState, side: Side, qty: Decimal, price: Decimal, fee: Decimal, at: datetime
) -> tuple[SlotState, Decimal]:
    """The slot after a fill of ``qty`` (> 0) at ``price``, and the P&L it realised (net of ``fee``).

    Returns ``(new_slot, realised)``; ``realised`` is ``-fee`` for a pure entry.
    """
    signed = qty if side is Side.BUY else -qty
    before, after = slot.qty, slot.qty + signed
    realised = -fee
    avg = slot.avg_price
    last_exit = slot.last_exit_at
    reducing = before != 0 and (before > 0) != (signed > 0)
    if reducing:
        closed = min(abs(signed), abs(before))
        assert avg is not None
        realised += (price - avg) * closed if before > 0 else (avg - price) * closed
        last_exit = at
        if after == 0:
            avg = None
        elif (after > 0) != (before > 0):
            avg = price  # crossed zero: the remainder opened at this price
    elif after != 0:
        avg = price if before == 0 or avg is None else (avg * abs(before) + price * qty) / abs(after)
    return SlotState(qty=after, avg_price=avg, last_exit_at=last_exit), realised
