"""The slot transition an alert asks for (pure; table-tested without a database).

DESIGN.md §4: ``buy`` → slot long (closing a short first), ``sell`` → slot short (closing a long
first; on a long-only row or a spot venue it only closes), ``close`` → flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Action, Direction, PositionSide, RowStatus, format_decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Decision:
    """What to do with a slot: close ``close_qty`` (≥ 0, base units) then open ``open_side`` (or not).

    When ``skip_status`` is set, no order is placed and ``reason`` says why.
    """

    close_qty: Decimal = ZERO
    open_side: PositionSide | None = None
    skip_status: RowStatus | None = None
    reason: str = ""

    @property
    def purpose(self) -> str:
        """``entry``, ``exit`` or ``reversal`` (recorded on the order; the journal's exit reason)."""
        if self.close_qty and self.open_side:
            return "reversal"
        return "exit" if self.close_qty else "entry"


def decide(action: Action, *, slot_qty: Decimal, direction: Direction, shortable: bool) -> Decision:
    """The slot transition for ``action`` given the slot's signed quantity (DESIGN.md §4).

    ``direction`` long (or a venue that cannot short) makes ``sell`` close-only; ``direction``
    short makes ``buy`` close-only. Pure function.
    """
    long_only = direction is Direction.LONG or not shortable
    if action is Action.BUY:
        if slot_qty > 0:
            return Decision(skip_status=RowStatus.ALREADY_LONG, reason=f"slot already long {format_decimal(slot_qty)}")
        if direction is Direction.SHORT:
            if slot_qty < 0:
                return Decision(close_qty=-slot_qty)
            return Decision(
                skip_status=RowStatus.WAITING, reason="direction short: buy only closes a short; slot is flat"
            )
        return Decision(close_qty=-slot_qty, open_side=PositionSide.LONG)
    if action is Action.SELL:
        if slot_qty < 0:
            return Decision(
                skip_status=RowStatus.ALREADY_SHORT, reason=f"slot already short {format_decimal(-slot_qty)}"
            )
        if long_only:
            if slot_qty > 0:
                return Decision(close_qty=slot_qty)
            why = "direction long" if direction is Direction.LONG else "spot venue (long only)"
            return Decision(skip_status=RowStatus.WAITING, reason=f"{why}: sell only closes a long; slot is flat")
        return Decision(close_qty=slot_qty, open_side=PositionSide.SHORT)
    if slot_qty == 0:
        return Decision(skip_status=RowStatus.WAITING, reason="close: slot already flat")
    return Decision(close_qty=abs(slot_qty))
