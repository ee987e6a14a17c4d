"""Protective exits at Alpaca: placed after an entry's fill, cancelled to free shares, read back once they fired.

``stop_loss_pct`` and/or ``take_profit_pct`` go out with the entry as a bracket (both) or OTO (one)
order, ``GTC`` (priced from the signal price by :mod:`~bot.brokers.alpaca.orders`); once the entry
fills, :meth:`ProtectiveExits.after_fill` re-prices the legs from the actual fill price, or places the
``trailing_stop`` order (``trail_percent``) for the filled quantity. Before an order that reduces a
position, :meth:`ProtectiveExits.free_shares` cancels exit orders of this bot holding the shares.
:meth:`ProtectiveExits.venue_exits` lists the exits that Alpaca executed on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.brokers.alpaca.client import AlpacaClient
from bot.brokers.alpaca.plans import Plan, wants_exits
from bot.brokers.alpaca.wire import HUNDRED, STATES, ZERO, parse_time, rfc3339, tick, venue_id, whole
from bot.brokers.base import VenueExit, decimal_or_none
from bot.domain import OrderState, Side, format_decimal
from bot.errors import BotError, BrokerRejected

log = logging.getLogger(__name__)

#: Order types that are protective exits.
EXIT_TYPES = {"stop", "stop_limit", "limit", "trailing_stop"}
#: What each exit order type is, as written in the Note and the Orders tab.
EXIT_KINDS = {"stop": "stop loss", "stop_limit": "stop loss", "limit": "take profit", "trailing_stop": "trailing stop"}
#: Orders one ``venue_exits`` listing reads (Alpaca's maximum page).
EXIT_LIST_LIMIT = 500


class ProtectiveExits:
    """The exit orders of the bot's entries on one Alpaca account.

    Args:
        client: the account's :class:`AlpacaClient`.
        lock: guards each plan's ``after_fill_done`` (shared with the order desk).
        wait_seconds: how long :meth:`free_shares` waits for cancelled exits to release the shares.
        poll_seconds: interval of that wait.
    """

    def __init__(
        self, client: AlpacaClient, lock: threading.RLock, *, wait_seconds: float, poll_seconds: float
    ) -> None:
        self._client = client
        self._lock = lock
        self._wait = wait_seconds
        self._poll = poll_seconds

    def after_fill(self, plan: Plan, entry: dict[str, Any]) -> None:
        """Once per entry fill: re-price bracket legs from the fill price, or place the trailing stop.

        ``entry``: the filled order's JSON. A failure is noted on ``plan`` (the entry stays filled).
        """
        with self._lock:
            if plan.after_fill_done:
                return
            plan.after_fill_done = True
        request = plan.request
        if not (plan.exits_allowed and wants_exits(request)):
            return
        fill_price = decimal_or_none(entry.get("filled_avg_price"))
        qty = decimal_or_none(entry.get("filled_qty")) or ZERO
        if fill_price is None or not whole(qty) or request.extended_hours:
            return
        try:
            if request.trailing_pct:
                self._client.post_order(
                    {
                        "symbol": request.symbol,
                        "qty": format_decimal(qty),
                        "side": "sell" if request.side is Side.BUY else "buy",
                        "type": "trailing_stop",
                        "trail_percent": format_decimal(request.trailing_pct),
                        "time_in_force": "gtc",
                        "client_order_id": plan.venue_id + "-t",
                    }
                )
                plan.note(f"trailing stop {format_decimal(request.trailing_pct)}% placed")
                return
            stop, take = exit_prices(request.side, fill_price, request.stop_loss_pct, request.take_profit_pct)
            for leg in entry.get("legs") or []:
                if STATES.get(str(leg.get("status")), OrderState.SUBMITTED).is_final:
                    continue
                if leg.get("type") == "limit" and take is not None and decimal_or_none(leg.get("limit_price")) != take:
                    self._client.patch(f"/orders/{leg['id']}", {"limit_price": format_decimal(take)})
                elif (
                    leg.get("type") in ("stop", "stop_limit")
                    and stop is not None
                    and decimal_or_none(leg.get("stop_price")) != stop
                ):
                    self._client.patch(f"/orders/{leg['id']}", {"stop_price": format_decimal(stop)})
            parts = [
                f"stop {format_decimal(stop)}" if stop else "",
                f"take profit {format_decimal(take)}" if take else "",
            ]
            plan.note("exits from fill price " + format_decimal(fill_price) + ": " + ", ".join(p for p in parts if p))
        except BotError as exc:
            plan.note(f"protective exit not placed: {exc}")

    def free_shares(self, plan: Plan, side: Side, qty: Decimal) -> None:
        """Cancel this bot's exit orders holding shares an order that reduces the position needs.

        The exits of the closing row's own entries (``request.exits_of``) are always cancelled: they
        protect shares this order sells, and left behind they would later sell another row's shares.
        Other exits on the symbol are cancelled only when the shares are not free otherwise.

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.alpaca.client`.
        """
        position = self._client.position(plan.request.symbol)
        if position is None:
            return
        held_qty = decimal_or_none(position.get("qty")) or ZERO
        reduces = (held_qty > 0 and side is Side.SELL) or (held_qty < 0 and side is Side.BUY)
        if not reduces:
            return
        own = exit_owners(plan.request.exits_of)
        enough = available(position) >= min(qty, abs(held_qty))
        if enough and not own:
            return
        orders = self._client.get(
            "/orders", {"status": "open", "symbols": plan.request.symbol, "nested": "true", "limit": 500}
        )
        cancelled = 0
        for order in orders or []:
            candidates = list(order.get("legs") or [])
            if str(order.get("client_order_id", "")).endswith("-t"):
                candidates.append(order)
            mine = str(order.get("client_order_id", "")) in own
            if enough and not mine:
                continue
            for leg in candidates:
                if leg.get("side") != side.value or leg.get("type") not in EXIT_TYPES:
                    continue
                if STATES.get(str(leg.get("status")), OrderState.SUBMITTED).is_final:
                    continue
                try:
                    self._client.cancel(str(leg["id"]))
                    cancelled += 1
                except BrokerRejected:
                    continue  # already filled or cancelled meanwhile
        if cancelled:
            plan.note(f"cancelled {cancelled} protective exit order(s) on {plan.request.symbol} to free the shares")
            deadline = time.monotonic() + self._wait
            while time.monotonic() < deadline:
                position = self._client.position(plan.request.symbol)
                if position is None or available(position) >= min(qty, abs(held_qty)):
                    break
                time.sleep(self._poll)

    def venue_exits(self, symbol: str, client_order_ids: Sequence[str], since: datetime) -> list[VenueExit]:
        """The protective exits of the bot's entries ``client_order_ids`` on ``symbol`` that Alpaca executed.

        One ``GET /v2/orders?status=all&nested=true`` for ``symbol`` (orders submitted after ``since`` less a
        day, UTC, newest first, at most 500): the stop-loss/take-profit legs of each entry's bracket or OTO order (the
        entry itself, or the opening order of a split reversal) and its trailing stop. An exit is returned
        once it is final (filled, or cancelled/expired after a partial fill) with ``filled_qty`` > 0; legs
        still open, cancelled unfilled or replaced (re-priced) are not.

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.alpaca.client`.
        """
        owners = exit_owners(client_order_ids)
        params = {
            "status": "all",
            "symbols": symbol,
            "nested": "true",
            # Alpaca filters by its own submission time: a day of margin for a host clock that runs fast
            "after": rfc3339(since - timedelta(days=1)),
            "direction": "desc",
            "limit": EXIT_LIST_LIMIT,
        }
        orders = self._client.get("/orders", params) or []
        if len(orders) >= EXIT_LIST_LIMIT:
            log.warning("alpaca: %s has %d orders since %s; older exits not read", symbol, len(orders), since)
        exits: list[VenueExit] = []
        for order in orders:
            entry = owners.get(str(order.get("client_order_id", "")))
            if entry is None:
                continue
            if str(order.get("client_order_id", "")).endswith("-t"):
                candidates = [order]
            else:
                candidates = list(order.get("legs") or [])
            for leg in candidates:
                found = executed_exit(leg, entry)
                if found is not None:
                    exits.append(found)
        return sorted(exits, key=lambda e: e.filled_at)


def exit_prices(
    side: Side, base: Decimal, stop_pct: Decimal | None, take_pct: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """``(stop, take_profit)`` for an entry on ``side`` at ``base``: long stop below/target above, short reversed."""
    sign = Decimal(1) if side is Side.BUY else Decimal(-1)
    stop = tick(base * (1 - sign * stop_pct / HUNDRED)) if stop_pct else None
    take = tick(base * (1 + sign * take_pct / HUNDRED)) if take_pct else None
    return stop, take


def available(position: dict[str, Any]) -> Decimal:
    """Shares of a position not held by open orders (``qty_available``, as a magnitude; 0 if of the wrong sign)."""
    qty = decimal_or_none(position.get("qty")) or ZERO
    free = decimal_or_none(position.get("qty_available"))
    if free is None:
        return abs(qty)
    if position.get("side") == "short" and free <= 0:
        return -free
    return max(free, ZERO)


def exit_owners(client_order_ids: Sequence[str]) -> dict[str, str]:
    """Venue ids of the orders that carry the exits of the bot's entries → the entry's id: the entry itself
    (bracket/OTO), the opening order of a split reversal (``-o``) and the trailing stop (``-t``)."""
    return {venue_id(cid) + suffix: cid for cid in client_order_ids for suffix in ("", "-o", "-t")}


def executed_exit(order: dict[str, Any], entry_client_order_id: str) -> VenueExit | None:
    """A final exit order with a fill as a :class:`VenueExit`; None for anything else (open, unfilled, not an exit)."""
    kind = EXIT_KINDS.get(str(order.get("type") or order.get("order_type") or ""))
    state = STATES.get(str(order.get("status")), OrderState.SUBMITTED)
    qty = decimal_or_none(order.get("filled_qty")) or ZERO
    price = decimal_or_none(order.get("filled_avg_price"))
    filled_at = parse_time(order.get("filled_at")) or parse_time(order.get("updated_at"))
    if kind is None or not state.is_final or qty <= 0 or price is None or filled_at is None or not order.get("id"):
        return None
    if order.get("status") == "replaced":  # re-priced: its fills, if any, are carried by the replacement
        return None
    return VenueExit(
        exit_id=str(order["id"]),
        entry_client_order_id=entry_client_order_id,
        kind=kind,
        side=Side.SELL if order.get("side") == "sell" else Side.BUY,
        qty=qty,
        price=price,
        filled_at=filled_at,
    )
