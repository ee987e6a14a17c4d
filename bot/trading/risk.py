"""Risk limits on entries (pure). Exits are never blocked.

Limits come from the Settings tab (0 = off) and the Config row; the engine supplies the current
exposure. Each check returns the reason an entry is ``BLOCKED`` or None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.domain import ConfigRow, format_decimal
from bot.settings import RuntimeSettings


@dataclass(frozen=True)
class Exposure:
    """What the account holds when an entry is considered.

    ``symbol_qty``: net signed qty of the entry's symbol over all slots before the order;
    ``open_slots``: slots not flat; ``orders_last_minute``: orders placed in the last 60 s;
    ``daily_pnl``: today's realised plus unrealised P&L, quote currency (negative = loss);
    ``slot_last_exit_at``: when this slot last reduced its position.
    """

    symbol_qty: Decimal
    open_slots: int
    orders_last_minute: int
    daily_pnl: Decimal | None
    slot_last_exit_at: datetime | None


def entry_block_reason(
    *,
    row: ConfigRow,
    runtime: RuntimeSettings,
    exposure: Exposure,
    entry_delta: Decimal,
    slot_was_flat: bool,
    price: Decimal,
    now: datetime,
    loss_block_active: bool,
    loss_limit_lifted: bool = False,
) -> str | None:
    """Why an entry changing the symbol's net qty by ``entry_delta`` (signed) must not be placed, or None.

    ``loss_block_active``: the daily loss limit tripped earlier today; ``loss_limit_lifted``: the owner
    resumed trading today (``POST /resume``), which lifts the daily loss limit until tomorrow.
    """
    if loss_block_active and not loss_limit_lifted:
        return "daily loss limit reached earlier today: entries blocked until tomorrow or POST /resume"
    if (
        runtime.max_daily_loss_usd
        and not loss_limit_lifted
        and exposure.daily_pnl is not None
        and exposure.daily_pnl <= -runtime.max_daily_loss_usd
    ):
        return (
            f"daily loss {format_decimal(-exposure.daily_pnl)} reached max_daily_loss_usd "
            f"{format_decimal(runtime.max_daily_loss_usd)}"
        )
    if runtime.max_symbol_notional_usd:
        notional = abs(exposure.symbol_qty + entry_delta) * price
        if notional > runtime.max_symbol_notional_usd:
            return (
                f"{row.symbol} notional would be {format_decimal(notional.quantize(Decimal('0.01')))} > "
                f"max_symbol_notional_usd {format_decimal(runtime.max_symbol_notional_usd)}"
            )
    if runtime.max_open_positions and slot_was_flat and exposure.open_slots >= runtime.max_open_positions:
        return f"{exposure.open_slots} open positions = max_open_positions {runtime.max_open_positions}"
    if runtime.max_orders_per_minute and exposure.orders_last_minute >= runtime.max_orders_per_minute:
        return f"{exposure.orders_last_minute} orders in the last minute = max_orders_per_minute"
    if runtime.cooldown_seconds and exposure.slot_last_exit_at is not None:
        waited = (now - exposure.slot_last_exit_at).total_seconds()
        if waited < runtime.cooldown_seconds:
            return f"cool-down: slot exited {waited:.0f} s ago (cooldown_seconds {runtime.cooldown_seconds:g})"
    if row.trading_hours is not None and not row.trading_hours.contains(now):
        return "outside the row's trading_hours (exits are still allowed)"
    return None


def count_recent(times: Iterable[float], now: float, window: float = 60.0) -> int:
    """How many monotonic ``times`` fall within the last ``window`` seconds of ``now``."""
    return sum(1 for t in times if now - t < window)
