"""Reconciliation: the sum of the slot positions per symbol against each venue's net position.

The venue's position should always equal the sum of its slots (the engine sends each slot's
change as one net order). A difference means something happened outside the bot's books — a
manual trade, a missed fill, a protective exit that fired at the venue, a position left from
before — and is **reported, never silently fixed**: :func:`reconcile` only reads.

:func:`find_drift` is the pure comparison; :func:`reconcile` gathers its inputs from a running
bot (state DB slots, Config rows, brokers) and is meant to be scheduled by :mod:`bot.jobs`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain import SlotKey, format_decimal
from bot.errors import BotError
from bot.state import ledger

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

ZERO = Decimal(0)


@dataclass(frozen=True)
class Drift:
    """A symbol whose venue position differs from the sum of its slots.

    Attributes:
        broker: the venue name (``alpaca``, ``binance``, ``binance-futures``, ``paper``); ``""`` when unknown.
        symbol: canonical symbol.
        slots_qty: sum of the slot positions, signed base units (negative = short).
        broker_qty: the venue's net position, signed base units.
        tracked: False when no slot of this venue has ever held the symbol (a position the bot
            never traded, e.g. a manual buy or BNB kept for fees).
    """

    broker: str
    symbol: str
    slots_qty: Decimal
    broker_qty: Decimal
    tracked: bool = True

    @property
    def difference(self) -> Decimal:
        """``broker_qty − slots_qty``: positive when the venue holds more than the slots."""
        return self.broker_qty - self.slots_qty

    def describe(self) -> str:
        """One line for a notification or the log, naming the numbers and likely causes."""
        venue = f"{self.broker} " if self.broker else ""
        what = "not traded by the bot" if not self.tracked else "manual trade, missed fill or an exit at the venue?"
        return (
            f"{self.symbol}: {venue}position {format_decimal(self.broker_qty)} but slots sum to "
            f"{format_decimal(self.slots_qty)} (difference {format_decimal(self.difference)}; {what}); not changed"
        )


def find_drift(
    slot_totals: Mapping[str, Decimal],
    broker_positions: Mapping[str, Decimal],
    tolerance: Decimal | Mapping[str, Decimal] = ZERO,
    *,
    broker: str = "",
) -> list[Drift]:
    """Compare per-symbol sums of slot positions with the venue's positions (pure).

    Args:
        slot_totals: symbol → sum of its slots' signed quantities (symbols with 0 may be included).
        broker_positions: symbol → the venue's signed net position (flat symbols may be missing).
        tolerance: largest absolute difference ignored (e.g. dust below a venue's step), one value
            for every symbol or a mapping symbol → tolerance (missing symbols: 0).
        broker: venue name stored in each :class:`Drift`.

    Returns:
        One :class:`Drift` per symbol whose ``|broker − slots| > tolerance``, sorted by symbol.
        A symbol held at the venue but absent from ``slot_totals`` is ``tracked=False``.
    """
    drifts = []
    for symbol in sorted(set(slot_totals) | set(broker_positions)):
        slots = slot_totals.get(symbol, ZERO)
        held = broker_positions.get(symbol, ZERO)
        limit = tolerance.get(symbol, ZERO) if isinstance(tolerance, Mapping) else tolerance
        if abs(held - slots) > limit:
            drifts.append(Drift(broker, symbol, slots, held, tracked=symbol in slot_totals))
    return drifts


def reconcile(services: Services, *, tolerance: Decimal | Mapping[str, Decimal] = ZERO) -> list[Drift]:
    """Compare the state DB's slots with every venue in use; report (log) differences, change nothing.

    A slot belongs to the venue of its latest order (else its Config row's ``broker``, else the
    default broker). Venues checked: those holding slots plus those already loaded by the engine.
    Symbols with an order still in flight (not final) are skipped: their fills may be on their way.
    A venue that cannot be read (keys missing, unreachable) is logged and skipped.

    Returns:
        Every :class:`Drift` found, ordered by venue then symbol.
    """
    snapshot = services.config.get()
    rows = {**snapshot.inactive, **snapshot.rows}
    default = services.brokers.default
    last_broker, in_flight = ledger.order_venues(services.store)
    totals: dict[str, dict[str, Decimal]] = {}
    for slot in services.store.slots():
        key = (slot.symbol, slot.timeframe)
        row = rows.get(SlotKey(slot.symbol, slot.timeframe))
        name = last_broker.get(key) or (row.broker if row is not None else "") or default
        per_symbol = totals.setdefault(name, {})
        per_symbol[slot.symbol] = per_symbol.get(slot.symbol, ZERO) + slot.qty
    names = sorted(set(totals) | set(services.brokers.loaded()))
    drifts: list[Drift] = []
    for name in names:
        try:
            positions = services.brokers.get(name).positions()
        except BotError as exc:
            log.warning("reconciliation: cannot read %s positions: %s", name, exc)
            continue
        slot_totals = totals.get(name, {})
        skipped = {symbol for broker, symbol in in_flight if broker == name}
        found = find_drift(
            {k: v for k, v in slot_totals.items() if k not in skipped},
            {k: v for k, v in positions.items() if k not in skipped},
            tolerance,
            broker=name,
        )
        for drift in found:
            log.warning("reconciliation: %s", drift.describe())
        drifts.extend(found)
    return drifts
