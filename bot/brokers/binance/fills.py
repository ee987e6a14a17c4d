"""Binance trades as :class:`FillReport` values, with the real commission. Pure translation, no I/O.

One :class:`FillReport` per trade (id = trade id): a commission in the quote asset is the fee; in
the **base** asset (spot buys, Binance's default) the fee is ``commission × price`` and the fill
quantity is reported **net** of it (what the wallet holds, so the slot matches the balance; quote
spent = net qty × price + fee); in another asset (BNB) it is converted at that asset's
``<asset><quote>`` ticker price when there is one, else recorded as 0 with the asset noted in the
order's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.brokers.base import FillReport, decimal_or_none
from bot.brokers.binance.wire import UTC, ZERO, ms_time
from bot.domain import format_decimal


def response_trades(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``fills`` of a spot ``FULL`` order response as trade records (the shape of ``myTrades``)."""
    return [
        {
            "id": f.get("tradeId"),
            "price": f.get("price"),
            "qty": f.get("qty"),
            "commission": f.get("commission"),
            "commissionAsset": f.get("commissionAsset"),
            "time": order.get("transactTime"),
        }
        for f in order["fills"]
    ]


def trade_fills(
    raw: list[dict[str, Any]],
    *,
    base: str,
    quote: str,
    futures: bool,
    when: datetime | None,
    price_of: Callable[[str], Decimal | None],
    note: Callable[[str], None],
) -> tuple[tuple[FillReport, ...], Decimal]:
    """``(fills, gross quantity)`` of the trade records ``raw`` of one order on ``<base><quote>``.

    Args:
        futures: USD-M futures (a commission is never taken from the quantity there).
        when: fill time of trades without their own ``time`` (else now).
        price_of: the ticker price of a symbol, or None (converts fees paid in a third asset).
        note: records a note for the order's reason (fee handling).
    """
    fills = []
    gross = ZERO
    other_prices: dict[str, Decimal | None] = {}
    for trade in raw:
        qty = decimal_or_none(trade.get("qty")) or ZERO
        price = decimal_or_none(trade.get("price")) or ZERO
        commission = decimal_or_none(trade.get("commission")) or ZERO
        asset = str(trade.get("commissionAsset") or quote)
        gross += qty
        net_qty = qty
        if not commission or asset == quote:
            fee = commission
        elif asset == base and not futures:
            fee = commission * price
            net_qty = qty - commission
            note(f"commission {format_decimal(commission)} {base} taken from the bought quantity")
        else:
            if asset not in other_prices:
                other_prices[asset] = price_of(asset + quote)
            rate = other_prices[asset]
            if rate:
                fee = commission * rate
                note(f"fee paid in {asset}, converted at {format_decimal(rate)} {quote}")
            else:
                fee = ZERO
                note(f"fee {format_decimal(commission)} {asset} not converted (no {asset}{quote} price)")
        fills.append(
            FillReport(
                fill_id=str(trade.get("id")),
                qty=net_qty,
                price=price,
                fee=fee,
                filled_at=ms_time(trade.get("time")) or when or datetime.now(UTC),
            )
        )
    return tuple(fills), gross


def weighted(fills: tuple[FillReport, ...]) -> Decimal | None:
    """Quantity-weighted average price of ``fills`` (None without any quantity)."""
    qty = sum((f.qty for f in fills), start=ZERO)
    return sum((f.qty * f.price for f in fills), start=ZERO) / qty if qty else None
