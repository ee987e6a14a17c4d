"""Orders on Binance: checking a request against the exchange filters, preparing the futures account, sending
it as a MARKET order and reading it back with its trades.

- **Filters**: :meth:`OrderDesk.submit_order` rounds the quantity **down** to the step (Decimal)
  and raises :class:`BrokerRejected` naming the filter (``LOT_SIZE`` / ``NOTIONAL``), the value and
  the minimum before anything is sent (the engine's sizing checks :class:`Instrument` first).
- **Futures**: one-way position mode is checked (and switched to, when there is no position)
  before the first order; the row's ``leverage`` is set on a symbol before its first order and
  again only when it changes (cached; integer 1–125, rounded down); ``reduceOnly`` is sent for a
  closing order when it really reduces the venue's position (a close that nets against another
  slot's position on the same symbol is sent without it — Binance would reject it).
- **Idempotency**: ``newClientOrderId`` is the engine's ``client_order_id``. Spot Binance keeps
  that id unique only among *open* orders, so before sending, the order is looked up by
  ``origClientOrderId``: a retried or repeated request returns the existing order and never places
  a second one. A duplicate-id error (``-2010 Duplicate order sent.``, ``-4116``) fetches it too.
- **Fills** come from ``myTrades`` / ``userTrades`` by ``orderId`` (spot ``FULL`` responses carry
  them already); fees as :mod:`bot.brokers.binance.fills` says. Protective exits
  (stop/take-profit/trailing) are not placed on Binance by this adapter; the reason says so.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import requests

from bot.brokers.base import FillReport, OrderRequest, OrderUpdate, decimal_or_none
from bot.brokers.binance.client import (
    BinanceAPIException,
    BinanceRequestException,
    Client,
    call,
    is_duplicate,
    translate,
)
from bot.brokers.binance.fills import response_trades, trade_fills, weighted
from bot.brokers.binance.instruments import Instruments
from bot.brokers.binance.notes import OrderNotes
from bot.brokers.binance.wire import STATES, ZERO, ms_time, venue_id
from bot.domain import OrderState, Side, format_decimal, round_down
from bot.errors import BrokerRejected, ConfigError, TemporaryError
from bot.records import Instrument

log = logging.getLogger(__name__)


class OrderDesk:
    """Sends and reads the orders of one Binance venue (spot or USD-M futures).

    Args:
        client: the python-binance ``Client``.
        instruments: the venue's :class:`Instruments` (filters, prices).
        notes: the per-order :class:`OrderNotes`.
        futures: USD-M futures instead of spot.
        name: the broker's name for messages (``binance`` / ``binance-futures``).
        quote_asset: the account currency (``USDT``), the quote of symbols without exchange info.
    """

    def __init__(
        self,
        client: Client,
        instruments: Instruments,
        notes: OrderNotes,
        *,
        futures: bool,
        name: str,
        quote_asset: str,
    ) -> None:
        self._client = client
        self._instruments = instruments
        self._notes = notes
        self._futures = futures
        self._name = name
        self._quote = quote_asset
        self._lock = threading.RLock()
        self._leverage: dict[str, int] = {}
        self._one_way = False

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Send ``request`` as a MARKET order and return the venue's answer (with fills when known).

        Idempotent by ``client_order_id`` (looked up before sending; see module doc).

        Raises:
            BrokerRejected: below LOT_SIZE/NOTIONAL (checked here first), or refused by Binance
                (code and message). TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys,
                hedge mode with open positions.
        """
        symbol = request.symbol
        cid = request.client_order_id
        sent_id = venue_id(cid)
        inst = self._instruments.instrument(symbol)
        self._notes.remember(cid, symbol)
        qty = self._lot_qty(request, inst)
        existing = self._query(symbol, sent_id)
        if existing is not None:
            return self._update(existing, symbol, cid)
        reduce_only = self._prepare_account(request, qty)
        self._check_notional(request, inst, qty, reduce_only=reduce_only)
        if request.stop_loss_pct or request.take_profit_pct or request.trailing_pct:
            self._notes.note(
                cid, f"protective exits are not placed on {self._name} by this bot (stop/take-profit/trailing)"
            )
        params: dict[str, Any] = {
            "symbol": symbol,
            "side": "BUY" if request.side is Side.BUY else "SELL",
            "type": "MARKET",
            "quantity": format_decimal(qty),
            "newClientOrderId": sent_id,
        }
        try:
            order = self._create(params, reduce_only=reduce_only)
        except BinanceAPIException as exc:
            return self._duplicate_or_raise(exc, symbol, sent_id, cid)
        except (BinanceRequestException, requests.RequestException, ValueError) as exc:
            raise translate(exc) from None
        return self._placed_update(order, symbol, cid)

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """The order with our id, or None when Binance never received it.

        Binance needs the symbol to look an order up: ``symbol`` when given, else the one this
        process sent it for, else the venue's open orders are searched (an order that is no longer
        open and was sent before a restart is then not found: None).

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.binance.client`.
        """
        symbol = symbol or self._notes.symbol_of(client_order_id)
        sent_id = venue_id(client_order_id)
        if not symbol:
            opened = call(self._client.futures_get_open_orders if self._futures else self._client.get_open_orders)
            match = next((o for o in opened or [] if o.get("clientOrderId") == sent_id), None)
            if match is None:
                return None
            symbol = str(match["symbol"])
        order = self._query(symbol, sent_id)
        return None if order is None else self._update(order, symbol, client_order_id)

    # -- the steps of submit_order ----------------------------------------------------------------------

    def _lot_qty(self, request: OrderRequest, inst: Instrument) -> Decimal:
        """``request.qty`` rounded down to the step (noted when it changes). Raises BrokerRejected below LOT_SIZE."""
        qty = round_down(request.qty, inst.qty_step) if inst.qty_step > 0 else request.qty
        if qty != request.qty:
            self._notes.note(
                request.client_order_id,
                f"quantity {format_decimal(request.qty)} rounded down to {format_decimal(qty)} "
                f"(step {format_decimal(inst.qty_step)})",
            )
        if qty <= 0 or qty < inst.min_qty:
            raise BrokerRejected(
                f"{request.symbol}: quantity {format_decimal(qty)} is below the minimum {format_decimal(inst.min_qty)} "
                f"(LOT_SIZE, step {format_decimal(inst.qty_step)}); not sent",
                code="LOT_SIZE",
            )
        return qty

    def _prepare_account(self, request: OrderRequest, qty: Decimal) -> bool:
        """Futures: one-way mode, the row's leverage, and whether to send ``reduceOnly`` (returned);
        spot: a note when leverage was asked for. Returns False on spot."""
        cid = request.client_order_id
        reduce_only = False
        if self._futures:
            self._ensure_one_way()
            if request.leverage:
                self._ensure_leverage(request.symbol, request.leverage, cid)
            if request.reduce_only:
                position = self._futures_position(request.symbol)
                signed = qty if request.side is Side.BUY else -qty
                reduce_only = position != 0 and (position > 0) != (signed > 0) and qty <= abs(position)
                if not reduce_only:
                    self._notes.note(cid, "sent without reduceOnly: it nets against another slot's position")
        elif request.leverage and request.leverage != 1:
            self._notes.note(cid, "leverage is ignored on spot")
        return reduce_only

    def _check_notional(self, request: OrderRequest, inst: Instrument, qty: Decimal, *, reduce_only: bool) -> None:
        """Raise BrokerRejected (``NOTIONAL``) when ``qty`` at the signal (else ticker) price is below the
        minimum notional; a reduce-only order is exempt."""
        price = request.ref_price or self._instruments.last_price(request.symbol)
        if price is not None and inst.min_notional and not reduce_only and qty * price < inst.min_notional:
            raise BrokerRejected(
                f"{request.symbol}: order notional {format_decimal(qty * price)} (qty {format_decimal(qty)} × "
                f"{format_decimal(price)}) is below the minimum {format_decimal(inst.min_notional)} "
                f"({'MIN_NOTIONAL' if self._futures else 'NOTIONAL'}); not sent",
                code="NOTIONAL",
            )

    def _create(self, params: dict[str, Any], *, reduce_only: bool) -> dict[str, Any]:
        """POST the order: futures ``RESULT`` response (``reduceOnly`` when told), spot ``FULL`` (with fills).

        Raises the vendor's exceptions (the caller translates them).
        """
        if self._futures:
            if reduce_only:
                params["reduceOnly"] = "true"
            return self._client.futures_create_order(newOrderRespType="RESULT", **params)  # type: ignore[no-any-return]
        return self._client.create_order(newOrderRespType="FULL", **params)  # type: ignore[no-any-return]

    def _duplicate_or_raise(self, exc: BinanceAPIException, symbol: str, sent_id: str, cid: str) -> OrderUpdate:
        """The existing order when ``exc`` says the id was sent before; else ``exc`` translated, raised."""
        if is_duplicate(exc):
            found = self._query(symbol, sent_id)
            if found is not None:
                return self._update(found, symbol, cid)
            raise TemporaryError(f"{self._name} reported a duplicate client order id it cannot show yet") from None
        raise translate(exc) from None

    def _placed_update(self, order: dict[str, Any], symbol: str, cid: str) -> OrderUpdate:
        """The update of a just-placed order; SUBMITTED (not final) when its trades cannot be read yet."""
        try:
            return self._update(order, symbol, cid)
        except TemporaryError as exc:
            # the order is placed; the tracker reads its fills later
            log.warning("%s: order %s placed, fills not read yet: %s", self._name, cid, exc)
            state = STATES.get(str(order.get("status")), OrderState.SUBMITTED)
            return OrderUpdate(
                broker_order_id=str(order.get("orderId", "")),
                state=OrderState.SUBMITTED if not state.is_final else state,
                reason=self._notes.new_notes(cid),
            )

    # -- reading back -----------------------------------------------------------------------------------

    def _update(self, order: dict[str, Any], symbol: str, cid: str) -> OrderUpdate:
        """Translate a Binance order (+ its trades) into an :class:`OrderUpdate`."""
        state = STATES.get(str(order.get("status")), OrderState.SUBMITTED)
        executed = decimal_or_none(order.get("executedQty")) or ZERO
        fills: tuple[FillReport, ...] = ()
        gross = ZERO
        if executed > 0:
            fills, gross = self._fills(order, symbol, cid)
            if gross < executed and state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED):
                state = OrderState.PARTIALLY_FILLED  # trades lag the order: wait for them
        net = sum((f.qty for f in fills), start=ZERO)
        reason = self._notes.new_notes(cid)
        if state in (OrderState.REJECTED, OrderState.CANCELED, OrderState.EXPIRED):
            reason = "; ".join(filter(None, [reason, f"{self._name} order {order.get('status')}"]))
        return OrderUpdate(
            broker_order_id=str(order.get("orderId", "")),
            state=state,
            filled_qty=net,
            filled_avg_price=weighted(fills) if net else None,
            fills=fills,
            reason=reason,
        )

    def _fills(self, order: dict[str, Any], symbol: str, cid: str) -> tuple[tuple[FillReport, ...], Decimal]:
        """``(fills, gross quantity)`` of ``order``: from the spot FULL response or the trade list."""
        rules = self._instruments.symbol(symbol)
        base, quote = str(rules.get("baseAsset", "")), str(rules.get("quoteAsset", self._quote))
        when: datetime | None
        if order.get("fills"):
            when = ms_time(order.get("transactTime"))
            raw = response_trades(order)
        else:
            when = None
            lister = self._client.futures_account_trades if self._futures else self._client.get_my_trades
            raw = call(lister, symbol=symbol, orderId=order["orderId"]) or []
        return trade_fills(
            raw,
            base=base,
            quote=quote,
            futures=self._futures,
            when=when,
            price_of=self._instruments.safe_price,
            note=lambda text: self._notes.note(cid, text),
        )

    def _query(self, symbol: str, sent_id: str) -> dict[str, Any] | None:
        """The order with ``origClientOrderId`` on ``symbol``, or None (``-2013 Order does not exist.``)."""
        try:
            if self._futures:
                return self._client.futures_get_order(symbol=symbol, origClientOrderId=sent_id)  # type: ignore[no-any-return]
            return self._client.get_order(symbol=symbol, origClientOrderId=sent_id)  # type: ignore[no-any-return]
        except BinanceAPIException as exc:
            if exc.code == -2013:
                return None
            raise translate(exc) from None
        except (BinanceRequestException, requests.RequestException, ValueError) as exc:
            raise translate(exc) from None

    # -- futures account settings -----------------------------------------------------------------------

    def _ensure_one_way(self) -> None:
        """Futures: make sure the account is in one-way mode (once per process)."""
        if self._one_way:
            return
        mode = call(self._client.futures_get_position_mode)
        if mode.get("dualSidePosition") in (True, "true"):
            try:
                self._client.futures_change_position_mode(dualSidePosition="false")
            except BinanceAPIException as exc:
                if exc.code != -4059:
                    raise ConfigError(
                        f"binance-futures account is in hedge mode and cannot be switched to one-way mode "
                        f"({exc.code}: {exc.message}); close its positions or switch it in the Binance app",
                        field="binance-futures",
                    ) from None
            except (BinanceRequestException, requests.RequestException) as exc:
                raise translate(exc) from None
        self._one_way = True

    def _ensure_leverage(self, symbol: str, leverage: Decimal, cid: str) -> None:
        """Futures: set ``symbol``'s leverage when it differs from what this process last set."""
        wanted = max(1, min(125, int(leverage.to_integral_value(rounding=ROUND_DOWN))))
        if wanted != leverage:
            self._notes.note(cid, f"leverage {format_decimal(leverage)} set as {wanted} (whole number 1-125)")
        with self._lock:
            if self._leverage.get(symbol) == wanted:
                return
        call(self._client.futures_change_leverage, symbol=symbol, leverage=wanted)
        with self._lock:
            self._leverage[symbol] = wanted

    def _futures_position(self, symbol: str) -> Decimal:
        """The futures position in ``symbol``: signed ``positionAmt`` summed over the position's entries."""
        items = call(self._client.futures_position_information, symbol=symbol) or []
        return sum(
            (decimal_or_none(i.get("positionAmt")) or ZERO for i in items if i.get("symbol") == symbol), start=ZERO
        )
