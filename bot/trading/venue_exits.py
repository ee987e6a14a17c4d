"""Booking the protective exits a venue executed on its own (a stop-loss, take-profit or trailing stop
the bot placed with an entry) into the slot, so the next order never sells the same shares twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from bot.brokers.base import Broker, FillReport, OrderUpdate, VenueExit
from bot.domain import OrderState, SlotKey, utc_now
from bot.errors import BotError, ConfigError
from bot.state import ledger
from bot.trading.context import TradingContext
from bot.trading.fills import FillBook

log = logging.getLogger(__name__)

ZERO = Decimal(0)
#: How far back the entries whose protective exits may still fire are looked up (Alpaca cancels
#: good-till-cancelled orders after 90 days).
EXIT_LOOKBACK_DAYS = 90


class ExitBook:
    """Finds and books venue-executed exits for slots at venues that report them (``venue_exits``).

    Args:
        ctx: the engine's shared wiring.
        fills: records each booked exit as an order update.
    """

    def __init__(self, ctx: TradingContext, fills: FillBook) -> None:
        self._ctx = ctx
        self._fills = fills

    def sync(self) -> int:
        """Book the exits every venue executed for non-flat slots; returns how many were booked.

        Each slot is handled under its symbol's lock (see :meth:`book`). A venue error skips that
        slot (logged); the next run retries.
        """
        booked = 0
        for slot in ledger.open_slots(self._ctx.store):
            key = SlotKey(slot.symbol, slot.timeframe)
            try:
                broker = self._ctx.brokers.get(slot.broker)
            except ConfigError:
                continue
            if not broker.capabilities.venue_exits:
                continue
            try:
                with self._ctx.locks.symbol(key.symbol):
                    booked += self.book(key, broker, self.entries(key, broker.name))
            except BotError as exc:
                log.warning("protective exits of %s at %s not read: %s", key, broker.name, exc)
        return booked

    def entries(self, key: SlotKey, broker_name: str) -> list[tuple[str, datetime]]:
        """``(client_order_id, created_at)`` of slot ``key``'s filled entry/reversal orders at ``broker_name``
        in the last :data:`EXIT_LOOKBACK_DAYS` days: the orders whose protective exits may still be at the venue."""
        since = utc_now() - timedelta(days=EXIT_LOOKBACK_DAYS)
        return ledger.filled_entries(self._ctx.store, key, broker_name, since)

    def book(self, key: SlotKey, broker: Broker, entries: list[tuple[str, datetime]]) -> int:
        """Book the exits ``broker`` executed for slot ``key``'s ``entries`` (from :meth:`entries`; the caller
        holds the symbol lock). Each executed exit becomes one ``exit`` order, state filled, with one fill
        (the venue's exit order id as fill id) that moves the slot, in one transaction; the Config row,
        Orders and Trades follow as for any fill, and ``order_filled`` is sent. Idempotent: an exit already
        booked (order ``x-<venue id>``) is skipped. Returns how many were booked.

        Raises:
            TemporaryError / ConfigError: the venue could not be read (nothing booked).
        """
        if not entries:
            return 0
        exits = broker.venue_exits(key.symbol, [cid for cid, _ in entries], min(created for _, created in entries))
        booked = 0
        for executed in exits:
            client_order_id = f"x-{executed.exit_id}"[:64]
            if ledger.order_known(self._ctx.store, client_order_id, broker.name):
                continue
            self._fills.record_update(_exit_update(executed), new_order=_exit_order(key, broker.name, executed))
            booked += 1
        return booked


def _exit_order(key: SlotKey, broker_name: str, executed: VenueExit) -> dict[str, object]:
    """Column values of the ``exit`` order that records ``executed`` (filled by its update)."""
    return {
        "client_order_id": f"x-{executed.exit_id}"[:64],
        "broker": broker_name,
        "broker_order_id": executed.exit_id,
        "symbol": key.symbol,
        "timeframe": key.timeframe,
        "side": executed.side.value,
        "qty": executed.qty,
        "ref_price": executed.price,
        "notional": executed.qty * executed.price,
        "reduce_only": True,
        "state": OrderState.SUBMITTED.value,
        "filled_qty": ZERO,
        "fees": ZERO,
        "created_at": executed.filled_at,
        "submitted_at": executed.filled_at,
        "updated_at": utc_now(),
        "reason": f"{executed.kind} filled at {broker_name} (protective exit of order "
        f"{executed.entry_client_order_id})",
        "purpose": "exit",
    }


def _exit_update(executed: VenueExit) -> OrderUpdate:
    """The filled update, with its single fill, of the exit order that records ``executed``."""
    fill = FillReport(
        fill_id=executed.exit_id, qty=executed.qty, price=executed.price, fee=ZERO, filled_at=executed.filled_at
    )
    return OrderUpdate(
        broker_order_id=executed.exit_id,
        state=OrderState.FILLED,
        filled_qty=executed.qty,
        filled_avg_price=executed.price,
        fills=(fill,),
    )
