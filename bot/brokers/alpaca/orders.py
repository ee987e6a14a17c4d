"""Orders at Alpaca: planning a request (single order or split reversal), sending it, reading it back.

- **Orders** are market orders by quantity (fractional quantities are sent as such, ``DAY``;
  shorts are whole shares — the engine sizes them with :attr:`Instrument.whole_shares_for_short`).
  The order is posted as JSON with decimal **strings** through alpaca-py's ``TradingClient.post``
  (its request models hold quantities and prices as ``float``), so nothing goes through a float.
  ``client_order_id`` is the engine's id: a retried or repeated request can never place a second
  order (Alpaca answers 422 ``client_order_id must be unique``; the existing order is fetched).
- **Reversals.** Alpaca rejects an order that takes the position from long to short (or back)
  in one go, so such an order is split into a closing order ``<id>-c`` for the current position
  and, once that has filled, an opening order ``<id>-o`` for the rest; :meth:`OrderDesk.get_order`
  aggregates both legs under the original id (fills of both, one state).
- **Market closed.** A market order placed while the regular session is closed is queued by
  Alpaca (status ``accepted``); it is reported as ``QUEUED`` with ``eligible_at`` = ``next_open``
  from ``/v2/clock``, then ``FILLED`` at the open (the order tracker polls).
- **Extended hours** (``OrderRequest.extended_hours``): a ``DAY`` limit order at the signal price
  (``ref_price``, rounded to the tick) with ``extended_hours=true``, as Alpaca requires.
- **Protective exits** are attached (bracket/OTO) only in whole shares and when the order adds to
  the position in its own direction (an order that nets against another slot's position gets none;
  the reason says so); the rest is :mod:`bot.brokers.alpaca.exits`.
- **Fills** come from ``/v2/account/activities/FILL`` (one :class:`FillReport` per execution, id =
  the activity id, ``fee`` 0: Alpaca charges no commission; regulatory SEC/TAF fees are booked
  as separate ``FEE`` activities at day end and are not attributed to fills). When the order says
  filled but the activities do not show every execution yet, the order is reported partially
  filled until they do, so a fill is never invented.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.brokers.alpaca.client import AlpacaClient
from bot.brokers.alpaca.exits import ProtectiveExits, exit_prices
from bot.brokers.alpaca.plans import Leg, Plan, wants_exits
from bot.brokers.alpaca.wire import FINAL, STATES, UTC, WAITING, ZERO, parse_time, tick, venue_id, whole
from bot.brokers.base import FillReport, OrderRequest, OrderUpdate, decimal_or_none
from bot.domain import OrderState, Side, format_decimal
from bot.errors import BotError, BrokerRejected, TemporaryError

log = logging.getLogger(__name__)

#: Plans remembered at most (oldest forgotten first).
MAX_PLANS = 10_000


class OrderDesk:
    """Sends and reads the orders of one Alpaca account, remembering each open order's :class:`Plan`.

    Args:
        client: the account's :class:`AlpacaClient`.
        exits: its :class:`ProtectiveExits`.
        clock: the market clock (``/v2/clock`` JSON, cached by the caller).
        lock: guards the plans (shared with ``exits``).
        leg_wait_seconds: how long :meth:`submit_order` follows the closing leg of a split reversal.
        poll_seconds: first interval of that follow-up (doubles up to 0.5 s).
    """

    def __init__(
        self,
        client: AlpacaClient,
        exits: ProtectiveExits,
        clock: Callable[[], dict[str, Any]],
        lock: threading.RLock,
        *,
        leg_wait_seconds: float,
        poll_seconds: float,
    ) -> None:
        self._client = client
        self._exits = exits
        self._clock = clock
        self._lock = lock
        self._leg_wait = leg_wait_seconds
        self._poll = poll_seconds
        self._plans: OrderedDict[str, Plan] = OrderedDict()

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Place ``request`` (market, or extended-hours limit) and return the venue's answer at once.

        Idempotent by ``client_order_id``: a repeat returns the existing order (or resumes a split
        reversal). A reversal is split into ``-c``/``-o`` legs (module doc); the closing leg is
        followed for up to ``leg_wait_seconds``, then the opening leg is sent.

        Raises:
            BrokerRejected: the venue refused (code and message), a fractional quantity on a
                non-fractionable asset, an extended-hours order without a price.
            TemporaryError: timeout, 5xx, rate limit (retry with the same request).
            ConfigError: bad keys.
        """
        if request.qty <= 0:
            raise BrokerRejected(f"quantity {format_decimal(request.qty)} must be positive", code="qty")
        asset = self._client.asset(request.symbol)
        if not asset.get("tradable", True):
            raise BrokerRejected(f"{request.symbol} is not tradable on Alpaca", code="not_tradable")
        if not whole(request.qty) and not asset.get("fractionable"):
            raise BrokerRejected(
                f"{request.symbol} is not fractionable on Alpaca: quantity {format_decimal(request.qty)} "
                "must be whole shares",
                code="fractional",
            )
        if request.extended_hours and request.ref_price is None:
            raise BrokerRejected(
                'extended-hours orders are limit orders at the signal price: add "price": {{close}} to the alert',
                code="no_price",
            )
        with self._lock:
            plan = self._plans.get(request.client_order_id)
        if plan is None:
            plan = self._plan(request)
        if plan.close_qty:
            return self._submit_split(plan)
        return self._submit_single(plan)

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        """The order with our id (both legs aggregated for a split reversal), or None when Alpaca
        never received it. Completes a split reversal (sends the opening leg once the closing leg
        filled) and the after-fill exits of an entry.

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.alpaca.client`.
        """
        with self._lock:
            plan = self._plans.get(client_order_id)
        sent_id = plan.venue_id if plan else venue_id(client_order_id)
        if plan is None or not plan.close_qty:
            order = self._client.by_client_id(sent_id)
            if order is not None:
                return self._single_update(order, plan)
            if plan is not None:
                return None
        close = self._client.by_client_id(sent_id + "-c")
        if close is None:
            return None
        opening = self._client.by_client_id(sent_id + "-o")
        return self._split_update(plan, close, opening)

    # -- planning and sending -------------------------------------------------------------------------

    def _plan(self, request: OrderRequest) -> Plan:
        """Decide single order or split, from the venue's current position; remembered by client id."""
        position = self._client.position_qty(request.symbol)
        signed = request.qty if request.side is Side.BUY else -request.qty
        after = position + signed
        split = position != 0 and after != 0 and (position > 0) != (after > 0)
        adds = position == 0 or (position > 0) == (signed > 0)
        plan = Plan(
            request=request,
            venue_id=venue_id(request.client_order_id),
            close_qty=abs(position) if split else ZERO,
            exits_allowed=split or adds,
        )
        if wants_exits(request) and not plan.exits_allowed:
            plan.note(
                f"protective exits not placed: this order nets against another slot's {request.symbol} position "
                f"({format_decimal(position)})"
            )
        with self._lock:
            plan = self._plans.setdefault(request.client_order_id, plan)
            while len(self._plans) > MAX_PLANS:
                self._plans.popitem(last=False)
        return plan

    def _submit_single(self, plan: Plan) -> OrderUpdate:
        request = plan.request
        self._exits.free_shares(plan, request.side, request.qty)
        payload = self._payload(plan, plan.venue_id, request.qty, exits=plan.exits_allowed)
        order = self._client.post_order(payload)
        return self._single_update(order, plan, best_effort=True)

    def _submit_split(self, plan: Plan) -> OrderUpdate:
        request = plan.request
        plan.note(
            f"reversal split into a closing order for {format_decimal(plan.close_qty)} and an opening order for "
            f"{format_decimal(request.qty - plan.close_qty)} (Alpaca does not flip a position in one order)"
        )
        self._exits.free_shares(plan, request.side, plan.close_qty)
        close = self._client.post_order(self._payload(plan, plan.venue_id + "-c", plan.close_qty, exits=False))
        # follow the closing order briefly (it fills in milliseconds when the market is open); when
        # the market is closed it waits for the open and the tracker sends the opening order then
        queued = str(close.get("status")) in WAITING and not self._safe_clock_open()
        deadline = time.monotonic() + (0 if queued else self._leg_wait)
        interval = self._poll
        while STATES.get(str(close.get("status")), OrderState.SUBMITTED) not in FINAL and time.monotonic() < deadline:
            time.sleep(interval)
            interval = min(interval * 2, 0.5)
            try:
                close = self._client.by_client_id(plan.venue_id + "-c") or close
            except TemporaryError:
                continue
        try:
            opening = self._client.by_client_id(plan.venue_id + "-o")
            return self._split_update(plan, close, opening)
        except TemporaryError as exc:
            log.warning("alpaca: reversal %s: follow-up failed: %s", request.client_order_id, exc)
            return OrderUpdate(
                broker_order_id=str(close.get("id", "")), state=OrderState.SUBMITTED, reason=plan.new_notes()
            )

    def _payload(self, plan: Plan, sent_id: str, qty: Decimal, *, exits: bool) -> dict[str, Any]:
        """JSON for ``POST /v2/orders``: decimal strings, our client id, exits when allowed."""
        request = plan.request
        payload: dict[str, Any] = {
            "symbol": request.symbol,
            "qty": format_decimal(qty),
            "side": request.side.value,
            "type": "market",
            "time_in_force": "day",
            "client_order_id": sent_id,
        }
        if request.extended_hours:
            assert request.ref_price is not None
            payload.update(type="limit", limit_price=format_decimal(tick(request.ref_price)), extended_hours=True)
        if not (exits and wants_exits(request)):
            return payload
        if not whole(qty):
            plan.note(f"protective exits need whole shares on Alpaca; none placed for {format_decimal(qty)} shares")
            return payload
        if request.extended_hours:
            plan.note("protective exits are not available with extended-hours orders on Alpaca; none placed")
            return payload
        if request.trailing_pct:
            if request.stop_loss_pct or request.take_profit_pct:
                plan.note("trailing_pct wins: stop_loss_pct/take_profit_pct not placed (one exit per share on Alpaca)")
            return payload  # the trailing stop goes in after the fill
        base = request.ref_price or self._safe_last_price(request.symbol)
        if base is None:
            plan.note("protective exits not placed: no signal price to compute them from")
            return payload
        stop, take = exit_prices(request.side, base, request.stop_loss_pct, request.take_profit_pct)
        payload["time_in_force"] = "gtc"
        payload["order_class"] = "bracket" if stop is not None and take is not None else "oto"
        if take is not None:
            payload["take_profit"] = {"limit_price": format_decimal(take)}
        if stop is not None:
            payload["stop_loss"] = {"stop_price": format_decimal(stop)}
        return payload

    def _send_opening_leg(self, plan: Plan, close: dict[str, Any]) -> dict[str, Any] | None:
        """Send ``<id>-o`` for the rest once the closing leg filled completely; None when not sent."""
        closed = decimal_or_none(close.get("filled_qty")) or ZERO
        rest = plan.request.qty - closed
        if rest <= 0:
            return None
        try:
            return self._client.post_order(self._payload(plan, plan.venue_id + "-o", rest, exits=plan.exits_allowed))
        except BrokerRejected as exc:
            plan.note(f"opening order of the reversal rejected: {exc}")
            plan.open_failed = True
            return None

    # -- reading back -----------------------------------------------------------------------------------

    def _single_update(self, order: dict[str, Any], plan: Plan | None, *, best_effort: bool = False) -> OrderUpdate:
        try:
            leg = self._leg(order)
        except TemporaryError:
            if not best_effort:
                raise
            # the order is placed; its fills will be read by the tracker
            state = STATES.get(str(order.get("status")), OrderState.SUBMITTED)
            leg = Leg(order, OrderState.SUBMITTED if state is OrderState.FILLED else state, (), ZERO, None)
        if plan is not None and leg.state is OrderState.FILLED:
            self._exits.after_fill(plan, leg.order)
        return OrderUpdate(
            broker_order_id=str(order.get("id", "")),
            state=leg.state,
            filled_qty=leg.filled_qty,
            filled_avg_price=_avg(leg.fills),
            fills=leg.fills,
            reason=_reason(plan, leg),
            eligible_at=leg.eligible_at,
        )

    def _split_update(self, plan: Plan | None, close: dict[str, Any], opening: dict[str, Any] | None) -> OrderUpdate:
        close_leg = self._leg(close)
        notes: list[str] = []
        if opening is None and close_leg.state is OrderState.FILLED:
            if plan is not None and not plan.open_failed:
                opening = self._send_opening_leg(plan, close)
            elif plan is None:
                notes.append(
                    "opening order of the reversal not sent: the bot restarted between the two orders; "
                    "send the alert again to open the new position"
                )
        open_leg = self._leg(opening) if opening is not None else None
        fills = close_leg.fills + (open_leg.fills if open_leg else ())
        filled = close_leg.filled_qty + (open_leg.filled_qty if open_leg else ZERO)
        if open_leg is None:
            state = close_leg.state
            if state is OrderState.FILLED and (plan is None or plan.open_failed):
                state = OrderState.CANCELED  # the opening part will not execute
            elif state is OrderState.FILLED:
                state = OrderState.PARTIALLY_FILLED
            eligible_at = close_leg.eligible_at
        else:
            if open_leg.state is OrderState.FILLED and close_leg.state is OrderState.FILLED:
                state = OrderState.FILLED
            elif open_leg.state.is_final:
                state = open_leg.state
            else:
                state = OrderState.PARTIALLY_FILLED if filled > 0 else open_leg.state
            eligible_at = open_leg.eligible_at
            if plan is not None and open_leg.state is OrderState.FILLED:
                self._exits.after_fill(plan, open_leg.order)
        ids = "+".join(str(o.get("id", "")) for o in (close, opening) if o is not None)
        reason = "; ".join(filter(None, [_reason(plan, open_leg or close_leg), *notes]))
        return OrderUpdate(
            broker_order_id=ids,
            state=state,
            filled_qty=filled,
            filled_avg_price=_avg(fills),
            fills=fills,
            reason=reason,
            eligible_at=eligible_at,
        )

    def _leg(self, order: dict[str, Any]) -> Leg:
        """Translate one venue order: state (QUEUED while the market is closed), fills from activities."""
        status = str(order.get("status", ""))
        state = STATES.get(status, OrderState.SUBMITTED)
        ordered_fill = decimal_or_none(order.get("filled_qty")) or ZERO
        fills = self._fills(order) if ordered_fill > 0 else ()
        known = sum((f.qty for f in fills), start=ZERO)
        if known < ordered_fill and state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED):
            state = OrderState.PARTIALLY_FILLED  # activities lag the order: wait for them
        eligible_at = None
        if status in WAITING and ordered_fill == 0 and not order.get("extended_hours"):
            clock = self._clock()
            if not clock.get("is_open", True):
                state = OrderState.QUEUED
                eligible_at = parse_time(clock.get("next_open"))
        return Leg(order, state, fills, known, eligible_at)

    def _fills(self, order: dict[str, Any]) -> tuple[FillReport, ...]:
        """Executions of ``order`` from ``/v2/account/activities/FILL`` (ascending, paged by id)."""
        order_id = str(order.get("id"))
        since = parse_time(order.get("submitted_at") or order.get("created_at"))
        params: dict[str, Any] = {"direction": "asc", "page_size": 100}
        if since is not None:
            params["after"] = (since - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fills: list[FillReport] = []
        for _ in range(50):
            page = self._client.get("/account/activities/FILL", params) or []
            for item in page:
                if str(item.get("order_id")) != order_id:
                    continue
                fills.append(
                    FillReport(
                        fill_id=str(item["id"]),
                        qty=decimal_or_none(item.get("qty")) or ZERO,
                        price=decimal_or_none(item.get("price")) or ZERO,
                        fee=ZERO,
                        filled_at=parse_time(item.get("transaction_time")) or datetime.now(UTC),
                    )
                )
            if len(page) < params["page_size"]:
                break
            params["page_token"] = page[-1]["id"]
        return tuple(fills)

    def _safe_clock_open(self) -> bool:
        """Whether the regular session is open (True when the clock cannot be read)."""
        try:
            return bool(self._clock().get("is_open", True))
        except BotError:
            return True

    def _safe_last_price(self, symbol: str) -> Decimal | None:
        try:
            return self._client.last_price(symbol)
        except BotError:
            return None


def _reason(plan: Plan | None, leg: Leg) -> str:
    """The update's reason: the plan's new notes, and the final status when the order did not fill."""
    parts = [plan.new_notes()] if plan is not None else []
    if leg.state in (OrderState.REJECTED, OrderState.CANCELED, OrderState.EXPIRED):
        parts.append(f"alpaca order {leg.order.get('status')}")
    return "; ".join(p for p in parts if p)


def _avg(fills: tuple[FillReport, ...]) -> Decimal | None:
    """Quantity-weighted average price of ``fills`` (None without any quantity)."""
    qty = sum((f.qty for f in fills), start=ZERO)
    return sum((f.qty * f.price for f in fills), start=ZERO) / qty if qty else None
