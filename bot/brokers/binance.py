"""Binance adapter (python-binance): spot (``binance``) and USD-M futures (``binance-futures``).

Testnet by ``BINANCE_TESTNET`` (default on; ``live`` is its negation). What it does:

- **Exchange filters** from exchange info (cached for ``info_cache_seconds``): the quantity step is
  ``LOT_SIZE.stepSize`` (or ``MARKET_LOT_SIZE``'s when coarser), the minimum quantity the larger
  ``minQty``, the minimum notional spot ``NOTIONAL``/``MIN_NOTIONAL`` (when it applies to market
  orders) or futures ``MIN_NOTIONAL.notional``. They are exposed through :meth:`BinanceBroker.instrument`
  so the engine's sizing rejects a too-small entry before sending; :meth:`BinanceBroker.submit_order`
  checks again (quantity rounded **down** to the step with Decimal) and raises
  :class:`BrokerRejected` naming the filter, the value and the minimum.
- **Spot is long-only** (``Instrument.shortable`` false: a sell only closes).
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
  them already), one :class:`FillReport` per trade (id = trade id) with the real commission:
  in the quote asset it is the fee; in the **base** asset (spot buys, Binance's default) the fee is
  ``commission × price`` and the fill quantity is reported **net** of it (what the wallet holds,
  so the slot matches the balance; quote spent = net qty × price + fee); in another asset (BNB)
  it is converted at that asset's ``<asset><quote>`` ticker price when there is one, else recorded
  as 0 with the asset noted in the order's reason. Protective exits (stop/take-profit/trailing)
  are not placed on Binance by this adapter; the reason says so.
- **Errors**: 401, ``-2014``/``-2015`` (key, IP or permission), ``-1022`` (signature) →
  :class:`ConfigError`; 429/418, 5xx, ``-1003``, ``-1007``, ``-1021``, timeouts, connection errors →
  :class:`TemporaryError`; everything else (``-2010`` insufficient balance, ``-1013`` filter
  failure, ``-1121`` invalid symbol, ``-2019`` margin, ...) → :class:`BrokerRejected` with the code
  and message.

- **History** (optional methods read by :mod:`bot.snapshots` and :mod:`bot.doctor`):
  :meth:`BinanceBroker.balances` (assets valued in USDT), :meth:`BinanceBroker.cash_flows` (spot
  deposit and withdrawal history, ``/sapi/v1/capital/...``; reading only, the key needs no
  withdrawal permission) and :meth:`BinanceBroker.server_time`. The Spot Testnet has no ``/sapi``:
  there the history is empty (logged once), never an error.

SDK hooks: ``Client(api_key, api_secret, testnet=, ping=False, requests_params={"timeout": ...})``
and, for ``BINANCE_API_URL`` / ``BINANCE_FUTURES_URL``, the client's ``API_URL`` /
``API_TESTNET_URL`` and ``FUTURES_URL`` / ``FUTURES_TESTNET_URL`` attributes (the base before
``/v3/...`` and ``/v1/...``; ``/api`` and ``/fapi`` are appended when missing). ``MARGIN_API_URL``
(the ``/sapi`` base) follows ``BINANCE_API_URL`` (same host, ``/sapi``); on the testnet without it,
it is the testnet host's ``/sapi`` (python-binance would send testnet keys to the live host).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

import requests

from bot.brokers.base import Account, Capabilities, FillReport, OrderRequest, OrderUpdate, decimal_or_none
from bot.domain import OrderState, Side, format_decimal, round_down
from bot.errors import BotError, BrokerRejected, ConfigError, TemporaryError
from bot.records import Balance, CashFlow, Instrument
from bot.settings import Settings

with warnings.catch_warnings():
    # python-binance 1.0.37 imports a deprecated websockets name at import time (websocket API unused here)
    warnings.filterwarnings("ignore", "websockets.WebSocketClientProtocol is deprecated", DeprecationWarning)
    from binance.client import Client
    from binance.exceptions import BinanceAPIException, BinanceRequestException

log = logging.getLogger(__name__)

UTC = timezone.utc
ZERO = Decimal(0)
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_STATES = {
    "NEW": OrderState.SUBMITTED,
    "PENDING_NEW": OrderState.SUBMITTED,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED,
    "PENDING_CANCEL": OrderState.SUBMITTED,
    "CANCELED": OrderState.CANCELED,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}
_TEMPORARY_CODES = {-1000, -1001, -1003, -1006, -1007, -1008, -1015, -1021}
_CONFIG_CODES = {-1002, -1022, -2014, -2015}
_DUPLICATE_CODES = {-4116}
#: Deposit/withdrawal history: Binance answers at most 90 days per request and 1000 records a page.
HISTORY_WINDOW = timedelta(days=89)
HISTORY_PAGE_SIZE = 1000
MAX_HISTORY_PAGES = 100
#: Status codes of a finished transfer: deposit ``1`` (success), withdrawal ``6`` (completed).
DEPOSIT_SUCCESS = 1
WITHDRAWAL_COMPLETED = 6


class BinanceBroker:
    """Binance spot or USD-M futures through python-binance, implementing :class:`bot.brokers.base.Broker`.

    Args:
        settings: ``BINANCE_API_KEY``/``BINANCE_API_SECRET`` (required), ``BINANCE_TESTNET``,
            ``BINANCE_API_URL``/``BINANCE_FUTURES_URL`` overrides.
        futures: USD-M futures (``binance-futures``) instead of spot (``binance``).
        timeout: seconds before an HTTP request is abandoned (→ :class:`TemporaryError`).
        quote_asset: the account currency positions and equity are valued in (``USDT``).
        info_cache_seconds: how long exchange filters are cached.
        history_days: how far back :meth:`cash_flows` reads when given no ``since``.

    Raises:
        ConfigError: keys missing.
    """

    capabilities = Capabilities(balances=True, cash_flows=True, server_time=True)

    def __init__(
        self,
        settings: Settings,
        *,
        futures: bool = False,
        timeout: float = 10.0,
        quote_asset: str = "USDT",
        info_cache_seconds: float = 3600.0,
        history_days: int = 365,
    ) -> None:
        key = settings.binance_api_key.get_secret_value()
        secret = settings.binance_api_secret.get_secret_value()
        self.name = "binance-futures" if futures else "binance"
        if not (key and secret):
            raise ConfigError(
                f"broker {self.name} needs BINANCE_API_KEY and BINANCE_API_SECRET", field="broker", value=self.name
            )
        self.live = not settings.binance_testnet
        self._futures = futures
        self._quote = quote_asset
        self._info_ttl = info_cache_seconds
        self._client = Client(
            key, secret, testnet=settings.binance_testnet, ping=False, requests_params={"timeout": timeout}
        )
        if settings.binance_api_url:
            url = _with_suffix(settings.binance_api_url, "/api")
            self._client.API_URL = url
            self._client.API_TESTNET_URL = url
            self._client.MARGIN_API_URL = url.removesuffix("/api") + "/sapi"
        elif settings.binance_testnet:  # python-binance keeps the live /sapi host on the testnet
            self._client.MARGIN_API_URL = self._client.API_TESTNET_URL.rstrip("/").removesuffix("/api") + "/sapi"
        if settings.binance_futures_url:
            url = _with_suffix(settings.binance_futures_url, "/fapi")
            self._client.FUTURES_URL = url
            self._client.FUTURES_TESTNET_URL = url
        self._lock = threading.RLock()
        self._info: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._symbols_by_id: OrderedDict[str, str] = OrderedDict()
        self._notes: OrderedDict[str, list[str]] = OrderedDict()
        self._reported: dict[str, int] = {}
        self._leverage: dict[str, int] = {}
        self._one_way = False
        self._history_days = history_days
        self._sapi_missing = False

    # -- rules and prices ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """Filters of ``symbol`` as an :class:`Instrument` (spot: not shortable).

        Raises:
            BrokerRejected: unknown symbol (``-1121``) or not trading. TemporaryError: see module doc.
        """
        info = self._symbol(symbol)
        filters = {f.get("filterType"): f for f in info.get("filters", [])}
        lot = filters.get("LOT_SIZE", {})
        step = decimal_or_none(lot.get("stepSize")) or ZERO
        min_qty = decimal_or_none(lot.get("minQty")) or ZERO
        market_lot = filters.get("MARKET_LOT_SIZE", {})
        market_step = decimal_or_none(market_lot.get("stepSize")) or ZERO
        if market_step > step:
            step = market_step
        min_qty = max(min_qty, decimal_or_none(market_lot.get("minQty")) or ZERO)
        min_notional = ZERO
        if self._futures:
            min_notional = decimal_or_none(filters.get("MIN_NOTIONAL", {}).get("notional")) or ZERO
        else:
            notional = filters.get("NOTIONAL")
            if notional and notional.get("applyMinToMarket", True):
                min_notional = decimal_or_none(notional.get("minNotional")) or ZERO
            old = filters.get("MIN_NOTIONAL")
            if old and old.get("applyToMarket", True):
                min_notional = max(min_notional, decimal_or_none(old.get("minNotional")) or ZERO)
        return Instrument(
            symbol=symbol,
            qty_step=step.normalize() if step else step,
            min_qty=min_qty.normalize() if min_qty else min_qty,
            min_notional=min_notional.normalize() if min_notional else min_notional,
            shortable=self._futures,
            whole_shares_for_short=False,
        )

    def last_price(self, symbol: str) -> Decimal | None:
        """Latest price from the ticker (``/api/v3/ticker/price`` or ``/fapi/v2/ticker/price``), or None."""
        if self._futures:
            data = self._call(self._client.futures_symbol_ticker, symbol=symbol)
        else:
            data = self._call(self._client.get_symbol_ticker, symbol=symbol)
        if isinstance(data, list):
            data = next((d for d in data if d.get("symbol") == symbol), {})
        return decimal_or_none(data.get("price")) if isinstance(data, dict) else None

    # -- orders -----------------------------------------------------------------------------------------

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
        venue_id = _venue_id(cid)
        inst = self.instrument(symbol)
        with self._lock:
            self._symbols_by_id[cid] = symbol
            self._notes.setdefault(cid, [])
            while len(self._symbols_by_id) > 10_000:
                old, _ = self._symbols_by_id.popitem(last=False)
                self._notes.pop(old, None)
                self._reported.pop(old, None)
        qty = round_down(request.qty, inst.qty_step) if inst.qty_step > 0 else request.qty
        if qty != request.qty:
            self._note(
                cid,
                f"quantity {format_decimal(request.qty)} rounded down to {format_decimal(qty)} "
                f"(step {format_decimal(inst.qty_step)})",
            )
        if qty <= 0 or qty < inst.min_qty:
            raise BrokerRejected(
                f"{symbol}: quantity {format_decimal(qty)} is below the minimum {format_decimal(inst.min_qty)} "
                f"(LOT_SIZE, step {format_decimal(inst.qty_step)}); not sent",
                code="LOT_SIZE",
            )
        existing = self._query(symbol, venue_id)
        if existing is not None:
            return self._update(existing, symbol, cid)
        reduce_only = False
        if self._futures:
            self._ensure_one_way()
            if request.leverage:
                self._ensure_leverage(symbol, request.leverage, cid)
            if request.reduce_only:
                position = self._futures_position(symbol)
                signed = qty if request.side is Side.BUY else -qty
                reduce_only = position != 0 and (position > 0) != (signed > 0) and qty <= abs(position)
                if not reduce_only:
                    self._note(cid, "sent without reduceOnly: it nets against another slot's position")
        elif request.leverage and request.leverage != 1:
            self._note(cid, "leverage is ignored on spot")
        price = request.ref_price or self.last_price(symbol)
        if price is not None and inst.min_notional and not reduce_only and qty * price < inst.min_notional:
            raise BrokerRejected(
                f"{symbol}: order notional {format_decimal(qty * price)} (qty {format_decimal(qty)} × "
                f"{format_decimal(price)}) is below the minimum {format_decimal(inst.min_notional)} "
                f"({'MIN_NOTIONAL' if self._futures else 'NOTIONAL'}); not sent",
                code="NOTIONAL",
            )
        if request.stop_loss_pct or request.take_profit_pct or request.trailing_pct:
            self._note(cid, f"protective exits are not placed on {self.name} by this bot (stop/take-profit/trailing)")
        params: dict[str, Any] = {
            "symbol": symbol,
            "side": "BUY" if request.side is Side.BUY else "SELL",
            "type": "MARKET",
            "quantity": format_decimal(qty),
            "newClientOrderId": venue_id,
        }
        try:
            if self._futures:
                if reduce_only:
                    params["reduceOnly"] = "true"
                order = self._client.futures_create_order(newOrderRespType="RESULT", **params)
            else:
                order = self._client.create_order(newOrderRespType="FULL", **params)
        except BinanceAPIException as exc:
            if _is_duplicate(exc):
                found = self._query(symbol, venue_id)
                if found is not None:
                    return self._update(found, symbol, cid)
                raise TemporaryError(f"{self.name} reported a duplicate client order id it cannot show yet") from None
            raise _translate(exc) from None
        except (BinanceRequestException, requests.RequestException, ValueError) as exc:
            raise _translate(exc) from None
        try:
            return self._update(order, symbol, cid)
        except TemporaryError as exc:
            # the order is placed; the tracker reads its fills later
            log.warning("%s: order %s placed, fills not read yet: %s", self.name, cid, exc)
            state = _STATES.get(str(order.get("status")), OrderState.SUBMITTED)
            return OrderUpdate(
                broker_order_id=str(order.get("orderId", "")),
                state=OrderState.SUBMITTED if not state.is_final else state,
                reason=self._new_notes(cid),
            )

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """The order with our id, or None when Binance never received it.

        Binance needs the symbol to look an order up: ``symbol`` when given, else the one this
        process sent it for, else the venue's open orders are searched (an order that is no longer
        open and was sent before a restart is then not found: None).

        Raises:
            TemporaryError / ConfigError: see the module doc.
        """
        with self._lock:
            symbol = symbol or self._symbols_by_id.get(client_order_id, "")
        venue_id = _venue_id(client_order_id)
        if not symbol:
            opened = self._call(self._client.futures_get_open_orders if self._futures else self._client.get_open_orders)
            match = next((o for o in opened or [] if o.get("clientOrderId") == venue_id), None)
            if match is None:
                return None
            symbol = str(match["symbol"])
        order = self._query(symbol, venue_id)
        return None if order is None else self._update(order, symbol, client_order_id)

    # -- account ------------------------------------------------------------------------------------------

    def account(self) -> Account:
        """Account values in the quote asset (USDT).

        Spot: ``equity`` = every balance (free + locked) valued at its ``<asset>USDT`` price (assets
        without one are left out), ``cash`` = USDT free + locked, ``buying_power`` = USDT free.
        Futures: ``equity`` = USDT wallet balance + unrealized P&L, ``cash`` = wallet balance,
        ``buying_power`` = available balance, ``positions_value`` = unrealized P&L.
        """
        if self._futures:
            data = self._call(self._client.futures_account)
            usdt = next((a for a in data.get("assets", []) if a.get("asset") == self._quote), {})
            wallet = decimal_or_none(usdt.get("walletBalance")) or ZERO
            unrealized = decimal_or_none(usdt.get("unrealizedProfit")) or ZERO
            return Account(
                account_id=self.name,
                equity=wallet + unrealized,
                cash=wallet,
                buying_power=decimal_or_none(usdt.get("availableBalance")) or ZERO,
                positions_value=unrealized,
                currency=self._quote,
            )
        data = self._call(self._client.get_account)
        prices = {t["symbol"]: decimal_or_none(t.get("price")) for t in self._call(self._client.get_all_tickers) or []}
        cash = free_quote = ZERO
        value = ZERO
        for balance in data.get("balances", []):
            asset = str(balance.get("asset"))
            free = decimal_or_none(balance.get("free")) or ZERO
            total = free + (decimal_or_none(balance.get("locked")) or ZERO)
            if not total:
                continue
            if asset == self._quote:
                cash, free_quote = total, free
                continue
            price = prices.get(asset + self._quote)
            if price:
                value += total * price
        return Account(
            account_id=f"{self.name}-{data.get('uid', 'spot')}",
            equity=cash + value,
            cash=cash,
            buying_power=free_quote,
            positions_value=value,
            currency=self._quote,
        )

    def positions(self) -> dict[str, Decimal]:
        """Net position per symbol: futures ``positionAmt`` (signed); spot base-asset balances
        (free + locked) as ``<asset>USDT`` for assets listed against USDT."""
        if self._futures:
            result = {}
            for item in self._call(self._client.futures_position_information) or []:
                amount = decimal_or_none(item.get("positionAmt")) or ZERO
                if amount:
                    result[str(item["symbol"])] = amount
            return result
        data = self._call(self._client.get_account)
        symbols = self._symbols_table()
        result = {}
        for balance in data.get("balances", []):
            asset = str(balance.get("asset"))
            total = (decimal_or_none(balance.get("free")) or ZERO) + (decimal_or_none(balance.get("locked")) or ZERO)
            if total and asset != self._quote and asset + self._quote in symbols:
                result[asset + self._quote] = total
        return result

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close_connection()

    # -- history (optional methods: bot.snapshots, bot.doctor) ------------------------------------------------

    def balances(self) -> list[Balance]:
        """Assets held, each valued in the quote asset (USDT, counted as USD).

        Spot: every balance of ``GET /api/v3/account`` with free + locked ≠ 0, valued at its
        ``<ASSET>USDT`` price from ``GET /api/v3/ticker/price`` (all symbols, one request); USDT
        itself at its amount; a Simple Earn flexible balance ``LD<ASSET>`` at the price of
        ``<ASSET>`` when ``LD<ASSET>`` has none of its own.
        Futures: every asset of ``GET /fapi/v2/account`` with a wallet balance ≠ 0, as ``free``
        (``locked`` 0; unrealized P&L is part of the Snapshots equity, not of a balance), valued at
        the ``<ASSET>USDT`` price from ``GET /fapi/v2/ticker/price``.

        Returns:
            :class:`~bot.snapshots.Balance` values in the venue's order; ``usd_value`` None when
            there is no price for the asset.

        Raises:
            TemporaryError / ConfigError / BrokerRejected: see the module doc.
        """
        out: list[Balance] = []
        if self._futures:
            data = self._call(self._client.futures_account)
            prices = self._all_prices(self._client.futures_symbol_ticker)
            for item in data.get("assets", []):
                wallet = decimal_or_none(item.get("walletBalance")) or ZERO
                if wallet:
                    asset = str(item.get("asset"))
                    out.append(Balance(asset, wallet, ZERO, _value(asset, wallet, prices, self._quote)))
            return out
        data = self._call(self._client.get_account)
        prices = self._all_prices(self._client.get_all_tickers)
        for item in data.get("balances", []):
            free = decimal_or_none(item.get("free")) or ZERO
            locked = decimal_or_none(item.get("locked")) or ZERO
            if free + locked:
                asset = str(item.get("asset"))
                out.append(Balance(asset, free, locked, _value(asset, free + locked, prices, self._quote)))
        return out

    def cash_flows(self, since: datetime | None = None) -> list[CashFlow]:
        """Deposits and withdrawals of the spot wallet (``binance``); ``[]`` for ``binance-futures``.

        Deposit history ``GET /sapi/v1/capital/deposit/hisrec`` (status 1, success) and withdrawal
        history ``GET /sapi/v1/capital/withdraw/history`` (status 6, completed), through
        python-binance's ``get_deposit_history`` / ``get_withdraw_history``, from ``since`` (default
        ``history_days`` ago) to now in windows of 89 days (Binance allows 90 per request), 1000
        records a page (``offset``). Transfers between the spot and futures wallets are in neither
        list (they are internal); fiat deposits and card purchases are not either (add them by
        hand). Futures returns ``[]``: money reaches the futures wallet by such internal transfers.

        On the testnet, which has no ``/sapi``, any failure of these endpoints gives ``[]`` (logged
        once, and not asked again by this instance).

        Returns:
            :class:`~bot.snapshots.CashFlow` values oldest first: ``currency`` = the coin (amounts
            in coin units, exact), ``reference`` = Binance's record ``id`` (a deposit without one:
            its ``txId``), ``broker``/``source`` ``binance``; ``flow_at`` = a deposit's
            ``insertTime``, a withdrawal's ``applyTime`` (UTC); a withdrawal's ``amount`` is
            Binance's ``amount``, its ``transactionFee`` is named in the note.

        Raises:
            TemporaryError / ConfigError / BrokerRejected (live only): see the module doc.
        """
        if self._futures or self._sapi_missing:
            return []
        end = datetime.now(UTC)
        start = since.astimezone(UTC) if since is not None else end - timedelta(days=self._history_days)
        try:
            deposits = self._history(self._client.get_deposit_history, start, end, status=DEPOSIT_SUCCESS)
            withdrawals = self._history(self._client.get_withdraw_history, start, end, status=WITHDRAWAL_COMPLETED)
        except (BinanceAPIException, BinanceRequestException, requests.RequestException, ValueError) as exc:
            if self.live:
                raise _translate(exc) from None
            self._sapi_missing = True
            log.info(
                "%s: no deposit/withdrawal history on the testnet (%s); cash flows are not imported",
                self.name,
                _brief(exc),
            )
            return []
        flows: dict[tuple[str, str], CashFlow] = {}
        for item in deposits:
            flow = _deposit_flow(item, self.name)
            if flow is not None:
                flows[(flow.kind, flow.reference)] = flow
        for item in withdrawals:
            flow = _withdrawal_flow(item, self.name)
            if flow is not None:
                flows[(flow.kind, flow.reference)] = flow
        return sorted(flows.values(), key=lambda flow: flow.flow_at)

    def server_time(self) -> datetime:
        """Binance's clock: ``serverTime`` (ms) of ``GET /api/v3/time`` (spot) or ``/fapi/v1/time`` (futures), UTC.

        Raises:
            TemporaryError: unreachable, or no readable time.
        """
        data = self._call(self._client.futures_time if self._futures else self._client.get_server_time)
        when = _ms_time(data.get("serverTime")) if isinstance(data, dict) else None
        if when is None:
            raise TemporaryError(f"{self.name} clock sent no readable serverTime: {str(data)[:200]}")
        return when

    def _history(
        self, fetch: Callable[..., Any], start: datetime, end: datetime, *, status: int
    ) -> list[dict[str, Any]]:
        """Every record of a SAPI history endpoint between ``start`` and ``end`` (windows, then pages)."""
        records: list[dict[str, Any]] = []
        window = start
        while window < end:
            window_end = min(window + HISTORY_WINDOW, end)
            offset = 0
            for _ in range(MAX_HISTORY_PAGES):
                page = fetch(
                    status=status,
                    startTime=_epoch_ms(window),
                    endTime=_epoch_ms(window_end),
                    offset=offset,
                    limit=HISTORY_PAGE_SIZE,
                )
                if not isinstance(page, list):
                    raise ValueError(f"history answer is not a list: {str(page)[:200]}")
                records.extend(item for item in page if isinstance(item, dict))
                if len(page) < HISTORY_PAGE_SIZE:
                    break
                offset += len(page)
            window = window_end + timedelta(milliseconds=1)
        return records

    def _all_prices(self, fetch: Callable[..., Any]) -> dict[str, Decimal]:
        """``{symbol: price}`` of every ticker (prices that are not numbers are left out)."""
        prices: dict[str, Decimal] = {}
        for item in self._call(fetch) or []:
            price = decimal_or_none(item.get("price")) if isinstance(item, dict) else None
            if price:
                prices[str(item.get("symbol"))] = price
        return prices

    # -- internals ----------------------------------------------------------------------------------------

    def _update(self, order: dict[str, Any], symbol: str, cid: str) -> OrderUpdate:
        """Translate a Binance order (+ its trades) into an :class:`OrderUpdate`."""
        state = _STATES.get(str(order.get("status")), OrderState.SUBMITTED)
        executed = decimal_or_none(order.get("executedQty")) or ZERO
        fills: tuple[FillReport, ...] = ()
        gross = ZERO
        if executed > 0:
            fills, gross = self._fills(order, symbol, cid)
            if gross < executed and state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED):
                state = OrderState.PARTIALLY_FILLED  # trades lag the order: wait for them
        net = sum((f.qty for f in fills), start=ZERO)
        reason = self._new_notes(cid)
        if state in (OrderState.REJECTED, OrderState.CANCELED, OrderState.EXPIRED):
            reason = "; ".join(filter(None, [reason, f"{self.name} order {order.get('status')}"]))
        return OrderUpdate(
            broker_order_id=str(order.get("orderId", "")),
            state=state,
            filled_qty=net,
            filled_avg_price=_weighted(fills) if net else None,
            fills=fills,
            reason=reason,
        )

    def _fills(self, order: dict[str, Any], symbol: str, cid: str) -> tuple[tuple[FillReport, ...], Decimal]:
        """``(fills, gross quantity)`` of ``order``: from the spot FULL response or the trade list."""
        rules = self._symbol(symbol)
        base, quote = str(rules.get("baseAsset", "")), str(rules.get("quoteAsset", self._quote))
        if order.get("fills"):
            when = _ms_time(order.get("transactTime"))
            raw = [
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
        else:
            when = None
            lister = self._client.futures_account_trades if self._futures else self._client.get_my_trades
            raw = self._call(lister, symbol=symbol, orderId=order["orderId"]) or []
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
            elif asset == base and not self._futures:
                fee = commission * price
                net_qty = qty - commission
                self._note(cid, f"commission {format_decimal(commission)} {base} taken from the bought quantity")
            else:
                if asset not in other_prices:
                    other_prices[asset] = self._safe_price(asset + quote)
                rate = other_prices[asset]
                if rate:
                    fee = commission * rate
                    self._note(cid, f"fee paid in {asset}, converted at {format_decimal(rate)} {quote}")
                else:
                    fee = ZERO
                    self._note(cid, f"fee {format_decimal(commission)} {asset} not converted (no {asset}{quote} price)")
            fills.append(
                FillReport(
                    fill_id=str(trade.get("id")),
                    qty=net_qty,
                    price=price,
                    fee=fee,
                    filled_at=_ms_time(trade.get("time")) or when or datetime.now(UTC),
                )
            )
        return tuple(fills), gross

    def _query(self, symbol: str, venue_id: str) -> dict[str, Any] | None:
        """The order with ``origClientOrderId`` on ``symbol``, or None (``-2013 Order does not exist.``)."""
        try:
            if self._futures:
                return self._client.futures_get_order(symbol=symbol, origClientOrderId=venue_id)  # type: ignore[no-any-return]
            return self._client.get_order(symbol=symbol, origClientOrderId=venue_id)  # type: ignore[no-any-return]
        except BinanceAPIException as exc:
            if exc.code == -2013:
                return None
            raise _translate(exc) from None
        except (BinanceRequestException, requests.RequestException, ValueError) as exc:
            raise _translate(exc) from None

    def _ensure_one_way(self) -> None:
        """Futures: make sure the account is in one-way mode (once per process)."""
        if self._one_way:
            return
        mode = self._call(self._client.futures_get_position_mode)
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
                raise _translate(exc) from None
        self._one_way = True

    def _ensure_leverage(self, symbol: str, leverage: Decimal, cid: str) -> None:
        """Futures: set ``symbol``'s leverage when it differs from what this process last set."""
        wanted = max(1, min(125, int(leverage.to_integral_value(rounding=ROUND_DOWN))))
        if wanted != leverage:
            self._note(cid, f"leverage {format_decimal(leverage)} set as {wanted} (whole number 1-125)")
        with self._lock:
            if self._leverage.get(symbol) == wanted:
                return
        self._call(self._client.futures_change_leverage, symbol=symbol, leverage=wanted)
        with self._lock:
            self._leverage[symbol] = wanted

    def _futures_position(self, symbol: str) -> Decimal:
        items = self._call(self._client.futures_position_information, symbol=symbol) or []
        return sum(
            (decimal_or_none(i.get("positionAmt")) or ZERO for i in items if i.get("symbol") == symbol), start=ZERO
        )

    def _symbol(self, symbol: str) -> dict[str, Any]:
        info = self._symbols_table().get(symbol)
        if info is None:
            raise BrokerRejected(f"unknown symbol {symbol} on {self.name}", code="-1121")
        if info.get("status") != "TRADING" or info.get("isSpotTradingAllowed") is False:
            raise BrokerRejected(f"{symbol} is not trading on {self.name} (status {info.get('status')})", code="status")
        return info

    def _symbols_table(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            cached = self._info
        if cached is not None and now - cached[0] < self._info_ttl:
            return cached[1]
        data = self._call(self._client.futures_exchange_info if self._futures else self._client.get_exchange_info)
        table = {str(s["symbol"]): s for s in data.get("symbols", [])}
        with self._lock:
            self._info = (now, table)
        return table

    def _safe_price(self, symbol: str) -> Decimal | None:
        try:
            return self.last_price(symbol)
        except BotError:
            return None

    def _note(self, cid: str, text: str) -> None:
        with self._lock:
            notes = self._notes.setdefault(cid, [])
            if text not in notes:
                notes.append(text)

    def _new_notes(self, cid: str) -> str:
        """Notes of ``cid`` not yet handed to the engine (it appends each update's reason)."""
        with self._lock:
            notes = self._notes.get(cid, [])
            start = self._reported.get(cid, 0)
            self._reported[cid] = len(notes)
            return "; ".join(notes[start:])

    @staticmethod
    def _call(func: Any, **kwargs: Any) -> Any:
        try:
            return func(**kwargs)
        except (BinanceAPIException, BinanceRequestException, requests.RequestException, ValueError) as exc:
            raise _translate(exc) from None


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _venue_id(client_order_id: str) -> str:
    """Our id as Binance accepts it (``^[.A-Z:/a-z0-9_-]{1,36}$``; hashed otherwise, deterministically)."""
    if _CLIENT_ID.match(client_order_id):
        return client_order_id
    return "h-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:34]


def _with_suffix(url: str, suffix: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(suffix) else url + suffix


def _ms_time(value: object) -> datetime | None:
    """UTC datetime from Binance's epoch milliseconds."""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC) if value is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def _epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _utc_text(value: object) -> datetime | None:
    """UTC datetime from Binance's ``"2019-10-12 11:12:02"`` text (withdrawal times)."""
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _value(asset: str, total: Decimal, prices: dict[str, Decimal], quote: str) -> Decimal | None:
    """``total`` units of ``asset`` in ``quote`` (an ``LD<ASSET>`` Simple Earn balance as ``<ASSET>``), or None."""
    candidates = [asset]
    if asset.startswith("LD") and len(asset) > 2:
        candidates.append(asset[2:])
    for candidate in candidates:
        if candidate == quote:
            return total
        price = prices.get(candidate + quote)
        if price:
            return total * price
    return None


def _deposit_flow(item: dict[str, Any], broker: str) -> CashFlow | None:
    """A deposit-history record as a :class:`CashFlow` (None unless successful, positive and dated)."""
    if str(item.get("status")) != str(DEPOSIT_SUCCESS):
        return None
    reference = str(item.get("id") or item.get("txId") or "").strip()
    return _flow(item, broker, "deposit", _ms_time(item.get("insertTime")), reference)


def _withdrawal_flow(item: dict[str, Any], broker: str) -> CashFlow | None:
    """A withdrawal-history record as a :class:`CashFlow` (None unless completed, positive and dated)."""
    if str(item.get("status")) != str(WITHDRAWAL_COMPLETED):
        return None
    coin = str(item.get("coin") or "").upper()
    fee = decimal_or_none(item.get("transactionFee"))
    fee_note = f"network fee {format_decimal(fee)} {coin}" if fee else ""
    reference = str(item.get("id") or "").strip()
    return _flow(item, broker, "withdrawal", _utc_text(item.get("applyTime")), reference, fee_note)


def _flow(
    item: dict[str, Any], broker: str, kind: str, when: datetime | None, reference: str, fee_note: str = ""
) -> CashFlow | None:
    """The :class:`CashFlow` of a deposit or withdrawal record (None without a positive amount, a time and
    a reference); the note names the network, the fee, an internal transfer and the txId when present."""
    amount = decimal_or_none(item.get("amount"))
    if amount is None or not amount.is_finite() or amount <= 0 or when is None or not reference:
        return None
    details = [
        f"network {item['network']}" if item.get("network") else "",
        fee_note,
        "internal transfer" if str(item.get("transferType")) == "1" else "",
        f"txId {item['txId']}" if item.get("txId") else "",
    ]
    return CashFlow(
        flow_at=when,
        kind=kind,
        amount=amount,
        currency=str(item.get("coin") or "").upper(),
        reference=reference,
        broker=broker,
        source="binance",
        note=", ".join([f"binance {kind}", *filter(None, details)]),
    )


def _weighted(fills: tuple[FillReport, ...]) -> Decimal | None:
    qty = sum((f.qty for f in fills), start=ZERO)
    return sum((f.qty * f.price for f in fills), start=ZERO) / qty if qty else None


def _brief(exc: Exception) -> str:
    """One line about a failed request (an HTML error page is named by its HTTP status only)."""
    if isinstance(exc, BinanceAPIException) and not exc.code:
        return f"HTTP {exc.status_code}"
    return " ".join(str(_translate(exc)).split())[:200]


def _is_duplicate(exc: BinanceAPIException) -> bool:
    message = str(exc.message or "").lower()
    return exc.code in _DUPLICATE_CODES or (exc.code == -2010 and "duplicate" in message)


def _translate(exc: Exception) -> BotError:
    """A vendor exception as the bot's error type (module doc: which is which)."""
    if isinstance(exc, BinanceAPIException):
        status = int(exc.status_code or 0)
        code = exc.code or 0
        text = f"binance {code}: {exc.message}"
        if status in (418, 429) or status >= 500 or code in _TEMPORARY_CODES:
            return TemporaryError(text)
        if status == 401 or code in _CONFIG_CODES:
            return ConfigError(
                f"{text} — check BINANCE_API_KEY/BINANCE_API_SECRET, BINANCE_TESTNET (testnet keys work only on "
                "the testnet), the key's IP restriction and that trading is enabled for it",
                field="BINANCE_API_KEY",
            )
        return BrokerRejected(text, code=str(code))
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return TemporaryError(f"binance unreachable: {type(exc).__name__}")
    if isinstance(exc, (BinanceRequestException, requests.RequestException)):
        return TemporaryError(f"binance request failed: {exc}")
    return TemporaryError(f"binance sent an unreadable answer: {exc}")
