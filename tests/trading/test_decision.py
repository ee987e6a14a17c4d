"""The slot transition table (DESIGN.md §4), checked without a database: decide() is pure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import Action, Direction, PositionSide, RowStatus
from bot.trading.decision import Decision, decide

B, S, C = Action.BUY, Action.SELL, Action.CLOSE
BOTH, LONG, SHORT = Direction.BOTH, Direction.LONG, Direction.SHORT
L, SH = PositionSide.LONG, PositionSide.SHORT

# (action, slot qty, direction, shortable) → (close_qty, open_side, skip status)
TABLE = [
    (B, "0", BOTH, True, "0", L, None),
    (B, "-3", BOTH, True, "3", L, None),  # reversal: close the short, open long
    (B, "2", BOTH, True, "0", None, RowStatus.ALREADY_LONG),
    (B, "-3", SHORT, True, "3", None, None),  # short-only row: a buy only closes
    (B, "0", SHORT, True, "0", None, RowStatus.WAITING),
    (S, "0", BOTH, True, "0", SH, None),
    (S, "2", BOTH, True, "2", SH, None),  # reversal: close the long, open short
    (S, "-1", BOTH, True, "0", None, RowStatus.ALREADY_SHORT),
    (S, "2", LONG, True, "2", None, None),  # long-only row: a sell only closes
    (S, "2", BOTH, False, "2", None, None),  # spot venue: cannot short
    (S, "0", LONG, True, "0", None, RowStatus.WAITING),
    (S, "0", BOTH, False, "0", None, RowStatus.WAITING),
    (C, "2", BOTH, True, "2", None, None),
    (C, "-0.5", BOTH, True, "0.5", None, None),
    (C, "0", BOTH, True, "0", None, RowStatus.WAITING),
]


@pytest.mark.parametrize(("action", "qty", "direction", "shortable", "close", "open_side", "skip"), TABLE)
def test_transition_table(
    action: Action,
    qty: str,
    direction: Direction,
    shortable: bool,
    close: str,
    open_side: PositionSide | None,
    skip: RowStatus | None,
) -> None:
    decision = decide(action, slot_qty=Decimal(qty), direction=direction, shortable=shortable)
    assert decision.close_qty == Decimal(close)
    assert decision.open_side is open_side
    assert decision.skip_status is skip
    assert bool(decision.reason) == (skip is not None)  # a skip always says why


def test_purpose_names_the_order_kind() -> None:
    assert Decision(open_side=L).purpose == "entry"
    assert Decision(close_qty=Decimal(1)).purpose == "exit"
    assert Decision(close_qty=Decimal(1), open_side=SH).purpose == "reversal"


def test_skip_reasons_name_the_slot_and_the_rule() -> None:
    assert "already long 2" in decide(B, slot_qty=Decimal(2), direction=BOTH, shortable=True).reason
    assert "spot venue" in decide(S, slot_qty=Decimal(0), direction=BOTH, shortable=False).reason
    assert "direction long" in decide(S, slot_qty=Decimal(0), direction=LONG, shortable=True).reason
