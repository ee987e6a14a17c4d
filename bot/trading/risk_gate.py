"""The engine's risk gate: gathers the account's exposure and asks :mod:`bot.trading.risk` whether an
entry may go ahead; keeps the order rate, the daily-loss block and today's P&L."""

from __future__ import annotations

import time
from collections import deque
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.domain import ConfigRow, SlotState, utc_now
from bot.errors import BotError
from bot.settings import RuntimeSettings
from bot.state import ledger
from bot.trading.context import TradingContext
from bot.trading.risk import Exposure, entry_block_reason

ZERO = Decimal(0)


class RiskGate:
    """Risk limits of entries with the state they need between alerts.

    Args:
        ctx: the engine's shared wiring (state DB for exposure, venues for last prices).
        zone: the trading day's time zone (daily loss resets at its midnight).
    """

    def __init__(self, ctx: TradingContext, zone: ZoneInfo) -> None:
        self._ctx = ctx
        self._zone = zone
        self._order_times: deque[float] = deque(maxlen=100_000)
        self._loss_block_day: date | None = None
        self._resumed_day: date | None = None

    def note_order(self) -> None:
        """Count an order placed now (for ``max_orders_per_minute``)."""
        self._order_times.append(time.monotonic())

    def lift_loss_block(self) -> None:
        """Let entries through for the rest of today despite the daily loss limit (on resume)."""
        self._resumed_day = self._today()

    def entry_blocked(
        self, row: ConfigRow, runtime: RuntimeSettings, slot: SlotState, delta: Decimal, price: Decimal
    ) -> str | None:
        """Reason the entry (changing the symbol's net qty by ``delta`` base units at ``price``) is
        blocked by a risk limit, or None. Raises TemporaryError when the state DB cannot be read."""
        needs_db = runtime.max_symbol_notional_usd or runtime.max_open_positions or runtime.max_daily_loss_usd
        symbol_qty, open_slots, daily = ZERO, 0, None
        if needs_db:
            symbol_qty, open_slots = ledger.symbol_exposure(self._ctx.store, row.symbol)
            if runtime.max_daily_loss_usd:
                daily = self.daily_pnl()
        now_mono = time.monotonic()
        while self._order_times and now_mono - self._order_times[0] >= 60:
            self._order_times.popleft()
        today = self._today()
        exposure = Exposure(
            symbol_qty=symbol_qty,
            open_slots=open_slots,
            orders_last_minute=len(self._order_times),
            daily_pnl=daily,
            slot_last_exit_at=slot.last_exit_at,
        )
        reason = entry_block_reason(
            row=row,
            runtime=runtime,
            exposure=exposure,
            entry_delta=delta,
            slot_was_flat=slot.qty == 0,
            price=price,
            now=utc_now(),
            loss_block_active=self._loss_block_day == today,
            loss_limit_lifted=self._resumed_day == today,
        )
        if reason and reason.startswith("daily loss") and self._loss_block_day != today:
            self._loss_block_day = today
        return reason

    def daily_pnl(self) -> Decimal:
        """Today's P&L, quote currency: realised (fills since local midnight, average cost, net of fees) plus
        unrealised on open slots, each valued at its own venue's last price (a slot whose venue has no
        price counts nothing)."""
        midnight = datetime.combine(self._today(), datetime.min.time(), self._zone)
        realised = ledger.realised_pnl_since(self._ctx.store, midnight)
        unrealised = ZERO
        for slot in ledger.open_slots(self._ctx.store):
            if slot.avg_price is None:
                continue
            try:
                last = self._ctx.brokers.get(slot.broker).last_price(slot.symbol)
            except BotError:
                last = None
            if last is not None:
                unrealised += (last - slot.avg_price) * slot.qty
        return realised + unrealised

    def _today(self) -> date:
        return utc_now().astimezone(self._zone).date()
