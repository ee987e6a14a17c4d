"""Loopback fake of Binance's Spot REST API (``/api/v3``) and USD-M Futures REST API (``/fapi``).

Serves what :class:`bot.brokers.binance.broker.BinanceBroker` calls through python-binance, with
Binance's real shapes: prices and quantities as 8-decimal **strings** (``"0.00100000"``), ids and
times as integers, exchange-info ``filters`` (``PRICE_FILTER``, ``LOT_SIZE``, ``MARKET_LOT_SIZE``,
spot ``NOTIONAL`` / futures ``MIN_NOTIONAL``), errors as ``{"code": -2010, "msg": "..."}`` with
the HTTP status Binance uses (400 for order rejects, 401 for bad keys, 429/418 for rate limits).
Signed endpoints check ``X-MBX-APIKEY``, ``timestamp`` and the HMAC-SHA256 ``signature``.
Point python-binance at it with ``Client(ping=False)`` and ``client.API_URL = fake.api_url``,
``client.FUTURES_URL = fake.futures_url``.

Venue rules it enforces: LOT_SIZE (``-1013 Filter failure: LOT_SIZE``), spot NOTIONAL
(``-1013 Filter failure: NOTIONAL``), futures minimum notional (``-4164``) unless reduce-only,
spot balances (``-2010 Account has insufficient balance for requested action.``), futures margin
(``-2019``), reduce-only that would open (``-2022``), hedge mode (``-4061``), unknown symbol
(``-1121``), unknown order (``-2013``). Like spot Binance, a ``newClientOrderId`` is unique only
among **open** orders (a filled order's id may be reused: the adapter must look before it sends).

Wallet endpoints (``/sapi``): ``GET /sapi/v1/capital/deposit/hisrec`` and
``GET /sapi/v1/capital/withdraw/history`` (signed; ``status``, ``coin``, ``startTime``/``endTime``
at most 90 days apart, default the last 90 days, ``offset``/``limit`` ≤ 1000, newest first), with
Binance's record shapes. With :attr:`sapi_enabled` false the fake answers every ``/sapi`` path
with an HTML 404, like the Spot Testnet, which has no wallet endpoints. ``GET /api/v3/time`` and
``GET /fapi/v1/time`` give ``serverTime`` shifted by :attr:`clock_offset` seconds.

Knobs: :meth:`set_price`, :meth:`add_symbol`, :attr:`spot_balances`, :attr:`spot_locked`,
:attr:`futures_wallet`, :attr:`futures_assets`, :attr:`fee_mode` (spot buy commission in ``base``
like Binance, in ``quote``, or in ``BNB``), :meth:`partial_next`, :meth:`fail_next`,
:meth:`hang_next`, :attr:`dual_side`, :meth:`add_deposit`, :meth:`add_withdrawal`,
:attr:`sapi_enabled`, :attr:`clock_offset`.
Counters: :attr:`order_posts` per market, :attr:`leverage_calls`, :meth:`orders`,
:attr:`sapi_queries` (path and parameters of every ``/sapi`` request that reached a route).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .base import LoopbackFake, Reply, handler_class, json_reply

ZERO = Decimal(0)
_OPEN = {"NEW", "PARTIALLY_FILLED"}
_NINETY_DAYS_MS = 90 * 24 * 3600 * 1000
_NOT_FOUND_HTML = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class _Html:
    """An answer body that is not JSON (the testnet's 404 page)."""

    text: str


def _s(value: Decimal) -> str:
    """Binance's 8-decimal number text."""
    return format(value.quantize(Decimal("0.00000001")), "f")


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Rules:
    """Filters of one symbol on one market."""

    base: str
    quote: str
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    tick: Decimal = Decimal("0.01")
    status: str = "TRADING"


@dataclass
class _Order:
    order_id: int
    client_id: str
    symbol: str
    side: str
    qty: Decimal
    futures: bool
    reduce_only: bool = False
    status: str = "NEW"
    executed: Decimal = ZERO
    quote: Decimal = ZERO
    time: int = field(default_factory=_ms)
    steps: list[Decimal] = field(default_factory=list)


class BinanceFake(LoopbackFake):
    """Binance spot + USD-M futures REST on ``127.0.0.1`` (random port), in a background thread.

    Args:
        api_key, api_secret: the credentials it accepts.

    Attributes:
        spot_balances: free balance per asset (spot).
        futures_wallet: USDT wallet balance (futures).
        fee_mode: ``"base"`` (Binance's default: a spot buy pays commission in the bought asset),
            ``"quote"`` or ``"BNB"`` (every spot and futures fill pays in BNB at the BNBUSDT price).
        spot_fee_rate / futures_fee_rate: commission as a fraction of the fill's quote value.
        dual_side: the futures account is in hedge mode.
        spot_locked: locked balance per asset (spot; in open orders).
        futures_assets: futures wallet balance of the margin assets besides USDT (zeros are listed,
            as Binance lists every margin asset).
        sapi_enabled: serve the wallet endpoints (false: HTML 404, like the Spot Testnet).
        clock_offset: seconds the venue clock is ahead of this machine's (negative: behind).
        futures_immediate: futures market orders answer ``FILLED`` at once (else ``NEW``, filled on read).
        order_posts: ``{"spot": n, "futures": n}`` order POSTs received.
        leverage_calls: ``(symbol, leverage)`` of each ``POST /fapi/v1/leverage``.
    """

    def __init__(self, *, api_key: str = "binance-test-key", api_secret: str = "binance-test-secret") -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.spot_balances: dict[str, Decimal] = {"USDT": Decimal(100000), "BNB": Decimal(10)}
        self.futures_wallet = Decimal(100000)
        self.spot_locked: dict[str, Decimal] = {}
        self.futures_assets: dict[str, Decimal] = {"BNB": ZERO, "BTC": ZERO, "USDC": ZERO}
        self.sapi_enabled = True
        self.clock_offset = 0.0
        self.sapi_queries: list[tuple[str, dict[str, str]]] = []
        self._deposits: list[dict[str, Any]] = []
        self._withdrawals: list[dict[str, Any]] = []
        self.fee_mode = "base"
        self.spot_fee_rate = Decimal("0.001")
        self.futures_fee_rate = Decimal("0.0004")
        self.dual_side = False
        self.futures_immediate = False
        self.order_posts = {"spot": 0, "futures": 0}
        self.leverage_calls: list[tuple[str, int]] = []
        self.requests: list[tuple[str, str]] = []
        self.spot_rules: dict[str, Rules] = {}
        self.futures_rules: dict[str, Rules] = {}
        self._prices: dict[str, Decimal] = {"BNBUSDT": Decimal(600)}
        self._orders: list[_Order] = []
        self._trades: list[dict[str, Any]] = []
        self._positions: dict[str, tuple[Decimal, Decimal]] = {}  # futures: symbol -> (amt, entry)
        self._leverage: dict[str, int] = {}
        self._partial: list[list[Decimal]] = []
        self._failures: list[tuple[str, str, int, int, str]] = []
        self._hangs: list[tuple[str, str, float]] = []
        self._next_id = 1000
        self._lock = threading.RLock()
        super().__init__(handler_class(self._serve), name="binance-fake", poll_interval=0.02)
        self.add_symbol("BTCUSDT", "BTC", step="0.00001", min_qty="0.00001", min_notional="5")
        self.add_symbol("ETHUSDT", "ETH", step="0.0001", min_qty="0.0001", min_notional="5")
        self.add_symbol("BNBUSDT", "BNB", step="0.001", min_qty="0.001", min_notional="5")

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.url

    @property
    def api_url(self) -> str:
        """Spot base, as python-binance's ``API_URL`` (``.../api``; it appends ``/v3/...``)."""
        return self.base_url + "/api"

    @property
    def futures_url(self) -> str:
        """USD-M futures base, as python-binance's ``FUTURES_URL`` (``.../fapi``)."""
        return self.base_url + "/fapi"

    # ---- knobs ----------------------------------------------------------------------------------

    def add_symbol(
        self,
        symbol: str,
        base: str,
        *,
        quote: str = "USDT",
        step: str = "0.001",
        min_qty: str = "0.001",
        min_notional: str = "5",
        futures_step: str | None = None,
        futures_min_qty: str | None = None,
        futures_min_notional: str = "100",
    ) -> None:
        """List ``symbol`` on spot and futures with these filters."""
        with self._lock:
            self.spot_rules[symbol] = Rules(base, quote, Decimal(step), Decimal(min_qty), Decimal(min_notional))
            self.futures_rules[symbol] = Rules(
                base,
                quote,
                Decimal(futures_step or step),
                Decimal(futures_min_qty or min_qty),
                Decimal(futures_min_notional),
            )

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        """Market orders on ``symbol`` fill at this price from now on."""
        with self._lock:
            self._prices[symbol] = Decimal(price)

    def partial_next(self, *steps: Decimal | str) -> None:
        """The next order fills in these steps: the first at once, one more per read of the order."""
        with self._lock:
            self._partial.append([Decimal(s) for s in steps])

    def fail_next(self, status: int, code: int, msg: str, *, method: str = "POST", path: str = "/api/v3/order") -> None:
        """Answer the next request matching ``method`` and ``path`` (prefix) with this error."""
        with self._lock:
            self._failures.append((method, path, status, code, msg))

    def hang_next(self, seconds: float, *, method: str = "POST", path: str = "/api/v3/order") -> None:
        """Process the next matching request, then wait ``seconds`` before answering (lost response)."""
        with self._lock:
            self._hangs.append((method, path, seconds))

    def add_deposit(
        self,
        coin: str,
        amount: Decimal | str,
        *,
        at: datetime,
        status: int = 1,
        tx_id: str | None = None,
        network: str = "ETH",
        transfer_type: int = 0,
    ) -> str:
        """Record a deposit (status 0 pending, 1 success, 6 credited but locked, 7 wrong, 8 waiting); returns its id."""
        with self._lock:
            self._next_id += 1
            deposit_id = str(769800519366885376 + self._next_id)
            ms = int(at.timestamp() * 1000)
            self._deposits.append(
                {
                    "id": deposit_id,
                    "amount": _s(Decimal(amount)),
                    "coin": coin,
                    "network": network,
                    "status": status,
                    "address": "0x788cabe9236ce061e5a892e1a59395a81fc8d62c",
                    "addressTag": "",
                    "txId": tx_id if tx_id is not None else "0x" + uuid.uuid4().hex + uuid.uuid4().hex,
                    "insertTime": ms,
                    "completeTime": ms + 60_000,
                    "transferType": transfer_type,
                    "confirmTimes": "12/12",
                    "unlockConfirm": 0,
                    "walletType": 0,
                    "travelRuleStatus": 0,
                }
            )
        return deposit_id

    def add_withdrawal(
        self,
        coin: str,
        amount: Decimal | str,
        *,
        at: datetime,
        status: int = 6,
        fee: Decimal | str = "0",
        tx_id: str | None = None,
        network: str = "ETH",
    ) -> str:
        """Record a withdrawal (status 0 e-mail sent, 1 cancelled, 2 awaiting approval, 3 rejected,
        4 processing, 5 failure, 6 completed); returns its id."""
        withdrawal_id = uuid.uuid4().hex
        applied = at.astimezone(timezone.utc)
        with self._lock:
            self._withdrawals.append(
                {
                    "id": withdrawal_id,
                    "amount": _s(Decimal(amount)),
                    "transactionFee": format(Decimal(fee).normalize(), "f"),
                    "coin": coin,
                    "status": status,
                    "address": "0x94df8b352de7f46f64b01d3666bf6e936e44ce60",
                    "txId": tx_id if tx_id is not None else "0x" + uuid.uuid4().hex + uuid.uuid4().hex,
                    "applyTime": applied.strftime("%Y-%m-%d %H:%M:%S"),
                    "network": network,
                    "transferType": 0,
                    "info": "",
                    "confirmNo": 12,
                    "walletType": 0,
                    "txKey": "",
                    "completeTime": applied.strftime("%Y-%m-%d %H:%M:%S") if status == 6 else "",
                }
            )
        return withdrawal_id

    def orders(self, *, futures: bool | None = None) -> list[dict[str, Any]]:
        """Orders created (optionally one market's), oldest first, in the query-order shape."""
        with self._lock:
            return [self._order_json(o) for o in self._orders if futures is None or o.futures == futures]

    def position(self, symbol: str) -> Decimal:
        """Futures position amount on ``symbol`` (signed)."""
        with self._lock:
            return self._positions.get(symbol, (ZERO, ZERO))[0]

    def set_position(self, symbol: str, amount: Decimal | str, entry: Decimal | str) -> None:
        """Put a futures position in place directly (a manual trade)."""
        with self._lock:
            self._positions[symbol] = (Decimal(amount), Decimal(entry))

    # ---- request handling ---------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = parts.path
        raw_pairs = parse_qsl(parts.query, keep_blank_values=True) + parse_qsl(body.decode(), keep_blank_values=True)
        params = dict(raw_pairs)
        with self._lock:
            self.requests.append((method, path))
            if method == "POST" and path in ("/api/v3/order", "/fapi/v1/order"):
                self.order_posts["futures" if path.startswith("/fapi") else "spot"] += 1
            failure = next((f for f in self._failures if f[0] == method and path.startswith(f[1])), None)
            if failure is not None:
                self._failures.remove(failure)
            hang = next((h for h in self._hangs if h[0] == method and path.startswith(h[1])), None)
            if hang is not None:
                self._hangs.remove(hang)
        if failure is not None:
            return failure[2], {"code": failure[3], "msg": failure[4]}
        if path.startswith("/sapi/") and not self.sapi_enabled:
            return 404, _Html(_NOT_FOUND_HTML)
        if path.rstrip("/").split("/")[-1] not in _PUBLIC:
            if headers.get("X-MBX-APIKEY") != self.api_key:
                return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
            if "timestamp" not in params:
                return 400, {
                    "code": -1102,
                    "msg": "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
                }
            unsigned = "&".join(f"{k}={v}" for k, v in raw_pairs if k != "signature")
            expected = hmac.new(self.api_secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, params.get("signature", "")):
                return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        with self._lock:
            result = self._route(method, path, params)
        if hang is not None:
            self._stopping.wait(hang[2])
        return result

    def _route(self, method: str, path: str, p: dict[str, str]) -> tuple[int, Any]:
        routes = {
            ("GET", "/api/v3/ping"): lambda: (200, {}),
            ("GET", "/api/v3/time"): lambda: (200, {"serverTime": self._server_ms()}),
            ("GET", "/fapi/v1/time"): lambda: (200, {"serverTime": self._server_ms()}),
            ("GET", "/sapi/v1/capital/deposit/hisrec"): lambda: self._history(path, p, self._deposits),
            ("GET", "/sapi/v1/capital/withdraw/history"): lambda: self._history(path, p, self._withdrawals),
            ("GET", "/api/v3/exchangeInfo"): lambda: (200, self._exchange_info(futures=False)),
            ("POST", "/api/v3/order"): lambda: self._new_order(p, futures=False),
            ("GET", "/api/v3/order"): lambda: self._query(p, futures=False),
            ("GET", "/api/v3/openOrders"): lambda: (200, self._open(p, futures=False)),
            ("GET", "/api/v3/myTrades"): lambda: (200, self._my_trades(p, futures=False)),
            ("GET", "/api/v3/account"): lambda: (200, self._spot_account()),
            ("GET", "/api/v3/ticker/price"): lambda: self._ticker(p, futures=False),
            ("GET", "/fapi/v1/ping"): lambda: (200, {}),
            ("GET", "/fapi/v1/exchangeInfo"): lambda: (200, self._exchange_info(futures=True)),
            ("POST", "/fapi/v1/order"): lambda: self._new_order(p, futures=True),
            ("GET", "/fapi/v1/order"): lambda: self._query(p, futures=True),
            ("GET", "/fapi/v1/openOrders"): lambda: (200, self._open(p, futures=True)),
            ("GET", "/fapi/v1/userTrades"): lambda: (200, self._my_trades(p, futures=True)),
            ("POST", "/fapi/v1/leverage"): lambda: self._set_leverage(p),
            ("GET", "/fapi/v1/positionSide/dual"): lambda: (200, {"dualSidePosition": self.dual_side}),
            ("POST", "/fapi/v1/positionSide/dual"): lambda: self._set_dual(p),
            ("GET", "/fapi/v2/account"): lambda: (200, self._futures_account()),
            ("GET", "/fapi/v3/positionRisk"): lambda: (200, self._position_risk(p)),
            ("GET", "/fapi/v2/ticker/price"): lambda: self._ticker(p, futures=True),
        }
        route = routes.get((method, path))
        if route is None:
            return 404, {"code": -1000, "msg": f"unknown endpoint {method} {path}"}
        return route()

    # ---- orders ---------------------------------------------------------------------------------------

    def _new_order(self, p: dict[str, str], *, futures: bool) -> tuple[int, Any]:
        def reject(code: int, msg: str) -> tuple[int, Any]:
            return 400, {"code": code, "msg": msg}

        rules_by_symbol = self.futures_rules if futures else self.spot_rules
        symbol = p.get("symbol", "")
        rules = rules_by_symbol.get(symbol)
        if rules is None:
            return reject(-1121, "Invalid symbol.")
        if p.get("type") != "MARKET":
            return reject(-1116, "Invalid orderType.")
        side = p.get("side", "")
        client_id = p.get("newClientOrderId", "")
        qty = Decimal(p.get("quantity", "0"))
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        if futures and self.dual_side and "positionSide" not in p:
            return reject(-4061, "Order's position side does not match user's setting.")
        duplicates = [
            o for o in self._orders if o.futures == futures and o.client_id == client_id and o.symbol == symbol
        ]
        if futures and duplicates:
            return reject(-4116, "ClientOrderId is duplicated.")
        if not futures and any(o.status in _OPEN for o in duplicates):
            return reject(-2010, "Duplicate order sent.")
        if qty < rules.min_qty or (qty / rules.step) != (qty / rules.step).to_integral_value():
            if futures and qty >= rules.min_qty:
                return reject(-1111, "Precision is over the maximum defined for this asset.")
            return reject(-1013, "Filter failure: LOT_SIZE")
        price = self._prices.get(symbol)
        if price is None:
            return reject(-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
        notional = qty * price
        if futures:
            amount, _entry = self._positions.get(symbol, (ZERO, ZERO))
            signed = qty if side == "BUY" else -qty
            reduces = amount != 0 and (amount > 0) != (signed > 0) and qty <= abs(amount)
            if reduce_only and not reduces:
                return reject(-2022, "ReduceOnly Order is rejected.")
            if not reduce_only and notional < rules.min_notional:
                return reject(
                    -4164,
                    f"Order's notional must be no smaller than {rules.min_notional.normalize()} "
                    "(unless you choose reduce only).",
                )
            if not reduces:
                lev = Decimal(self._leverage.get(symbol, 20))
                if notional / lev > self._available_margin():
                    return reject(-2019, "Margin is insufficient.")
        else:
            if notional < rules.min_notional:
                return reject(-1013, "Filter failure: NOTIONAL")
            if side == "BUY" and notional > self.spot_balances.get(rules.quote, ZERO):
                return reject(-2010, "Account has insufficient balance for requested action.")
            if side == "SELL" and qty > self.spot_balances.get(rules.base, ZERO):
                return reject(-2010, "Account has insufficient balance for requested action.")
        self._next_id += 1
        order = _Order(self._next_id, client_id, symbol, side, qty, futures, reduce_only)
        if self._partial:
            order.steps = self._partial.pop(0)
        self._orders.append(order)
        if futures and not self.futures_immediate and not order.steps:
            order.steps = [qty]
            return 200, self._order_json(order, result=True)  # NEW; fills when read
        self._step(order)
        if futures:
            return 200, self._order_json(order, result=True)
        response = self._order_json(order, result=True)
        response["fills"] = [
            {
                "price": t["price"],
                "qty": t["qty"],
                "commission": t["commission"],
                "commissionAsset": t["commissionAsset"],
                "tradeId": t["id"],
            }
            for t in self._trades
            if t["orderId"] == order.order_id and t["_futures"] is False
        ]
        return 200, response

    def _step(self, order: _Order) -> None:
        """Execute the next step of ``order`` (all of it when not stepped)."""
        if order.status not in _OPEN:
            return
        rest = order.qty - order.executed
        qty = min(order.steps.pop(0), rest) if order.steps else rest
        price = self._prices[order.symbol]
        rules = (self.futures_rules if order.futures else self.spot_rules)[order.symbol]
        quote_value = qty * price
        rate = self.futures_fee_rate if order.futures else self.spot_fee_rate
        fee_quote = quote_value * rate
        if self.fee_mode == "BNB":
            commission, asset = (fee_quote / self._prices["BNBUSDT"]).quantize(Decimal("0.00000001")), "BNB"
            self.spot_balances["BNB"] = self.spot_balances.get("BNB", ZERO) - commission
        elif order.futures or self.fee_mode == "quote" or order.side == "SELL":
            commission, asset = fee_quote.quantize(Decimal("0.00000001")), rules.quote
        else:
            commission, asset = (qty * rate).quantize(Decimal("0.00000001")), rules.base
        realized = ZERO
        if order.futures:
            amount, entry = self._positions.get(order.symbol, (ZERO, ZERO))
            signed = qty if order.side == "BUY" else -qty
            after = amount + signed
            if amount != 0 and (amount > 0) != (signed > 0):
                closed = min(abs(signed), abs(amount))
                realized = closed * (price - entry) * (1 if amount > 0 else -1)
            if amount == 0 or (amount > 0) != (after > 0):
                entry = price
            elif abs(after) > abs(amount):
                entry = (entry * abs(amount) + price * qty) / abs(after)
            self._positions[order.symbol] = (after, entry if after != 0 else ZERO)
            self.futures_wallet += realized - (commission if asset == "USDT" else ZERO)
        else:
            base, quote = rules.base, rules.quote
            if order.side == "BUY":
                self.spot_balances[quote] = self.spot_balances.get(quote, ZERO) - quote_value
                self.spot_balances[base] = (
                    self.spot_balances.get(base, ZERO) + qty - (commission if asset == base else ZERO)
                )
            else:
                self.spot_balances[base] = self.spot_balances.get(base, ZERO) - qty
                self.spot_balances[quote] = (
                    self.spot_balances.get(quote, ZERO) + quote_value - (commission if asset == quote else ZERO)
                )
        order.executed += qty
        order.quote += quote_value
        order.status = "FILLED" if order.executed >= order.qty else "PARTIALLY_FILLED"
        self._next_id += 1
        self._trades.append(
            {
                "symbol": order.symbol,
                "id": self._next_id,
                "orderId": order.order_id,
                "price": _s(price),
                "qty": _s(qty),
                "quoteQty": _s(quote_value),
                "commission": _s(commission),
                "commissionAsset": asset,
                "time": _ms(),
                "realizedPnl": _s(realized),
                "side": order.side,
                "buyer": order.side == "BUY",
                "maker": False,
                "_futures": order.futures,
            }
        )

    def _find(self, p: dict[str, str], *, futures: bool) -> _Order | None:
        symbol = p.get("symbol", "")
        candidates = [o for o in self._orders if o.futures == futures and o.symbol == symbol]
        if "orderId" in p:
            return next((o for o in candidates if str(o.order_id) == p["orderId"]), None)
        matches = [o for o in candidates if o.client_id == p.get("origClientOrderId")]
        return matches[-1] if matches else None

    def _query(self, p: dict[str, str], *, futures: bool) -> tuple[int, Any]:
        if p.get("symbol") not in (self.futures_rules if futures else self.spot_rules):
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        order = self._find(p, futures=futures)
        if order is None:
            return 400, {"code": -2013, "msg": "Order does not exist."}
        if order.steps and order.status in _OPEN:
            self._step(order)
        return 200, self._order_json(order)

    def _open(self, p: dict[str, str], *, futures: bool) -> list[dict[str, Any]]:
        return [
            self._order_json(o)
            for o in self._orders
            if o.futures == futures and o.status in _OPEN and (not p.get("symbol") or o.symbol == p["symbol"])
        ]

    def _my_trades(self, p: dict[str, str], *, futures: bool) -> list[dict[str, Any]]:
        out = []
        for trade in self._trades:
            if trade["_futures"] != futures or trade["symbol"] != p.get("symbol"):
                continue
            if "orderId" in p and str(trade["orderId"]) != p["orderId"]:
                continue
            item = {k: v for k, v in trade.items() if not k.startswith("_")}
            if futures:
                item["positionSide"] = "BOTH"
                item.pop("isBuyer", None)
            else:
                item.update(orderListId=-1, isBuyer=trade["buyer"], isMaker=False, isBestMatch=True)
                for key in ("buyer", "maker", "side", "realizedPnl"):
                    item.pop(key, None)
            out.append(item)
        return out

    def _order_json(self, order: _Order, *, result: bool = False) -> dict[str, Any]:
        avg = order.quote / order.executed if order.executed else ZERO
        if order.futures:
            data: dict[str, Any] = {
                "orderId": order.order_id,
                "symbol": order.symbol,
                "status": order.status,
                "clientOrderId": order.client_id,
                "price": "0",
                "avgPrice": _s(avg),
                "origQty": _s(order.qty),
                "executedQty": _s(order.executed),
                "cumQty": _s(order.executed),
                "cumQuote": _s(order.quote),
                "timeInForce": "GTC",
                "type": "MARKET",
                "reduceOnly": order.reduce_only,
                "closePosition": False,
                "side": order.side,
                "positionSide": "BOTH",
                "stopPrice": "0",
                "workingType": "CONTRACT_PRICE",
                "priceProtect": False,
                "origType": "MARKET",
                "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "goodTillDate": 0,
                "updateTime": _ms(),
            }
            if not result:
                data["time"] = order.time
            return data
        data = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "price": "0.00000000",
            "origQty": _s(order.qty),
            "executedQty": _s(order.executed),
            "cummulativeQuoteQty": _s(order.quote),
            "status": order.status,
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": order.side,
            "workingTime": order.time,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if result:
            data["transactTime"] = order.time
        else:
            data.update(
                stopPrice="0.00000000",
                icebergQty="0.00000000",
                time=order.time,
                updateTime=_ms(),
                isWorking=True,
                origQuoteOrderQty="0.00000000",
            )
        return data

    # ---- wallet history, clock ---------------------------------------------------------------------

    def _server_ms(self) -> int:
        return int((time.time() + self.clock_offset) * 1000)

    def _history(self, path: str, p: dict[str, str], records: list[dict[str, Any]]) -> tuple[int, Any]:
        """Deposit or withdrawal history: filtered, newest first, ``offset``/``limit`` pages."""
        self.sapi_queries.append((path, {k: v for k, v in p.items() if k not in ("signature", "timestamp")}))
        try:
            end = int(p.get("endTime") or _ms())
            start = int(p.get("startTime") or end - _NINETY_DAYS_MS)
            offset = int(p.get("offset") or 0)
            limit = int(p.get("limit") or 1000)
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
        if end - start > _NINETY_DAYS_MS:
            return 400, {"code": -1127, "msg": "More than 90 days between startTime and endTime."}
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}

        def when(record: dict[str, Any]) -> int:
            if "insertTime" in record:
                return int(record["insertTime"])
            applied = datetime.strptime(record["applyTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            return int(applied.timestamp() * 1000)

        chosen = [
            r
            for r in records
            if start <= when(r) <= end
            and (not p.get("status") or str(r["status"]) == p["status"])
            and (not p.get("coin") or r["coin"] == p["coin"])
        ]
        chosen.sort(key=when, reverse=True)
        return 200, [dict(r) for r in chosen[offset : offset + limit]]

    # ---- account, leverage, market data --------------------------------------------------------------

    def _set_leverage(self, p: dict[str, str]) -> tuple[int, Any]:
        symbol = p.get("symbol", "")
        if symbol not in self.futures_rules:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        try:
            leverage = int(p.get("leverage", ""))
        except ValueError:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'leverage' is not valid."}
        if not 1 <= leverage <= 125:
            return 400, {"code": -4028, "msg": f"Leverage {leverage} is not valid"}
        self._leverage[symbol] = leverage
        self.leverage_calls.append((symbol, leverage))
        return 200, {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}

    def _set_dual(self, p: dict[str, str]) -> tuple[int, Any]:
        wanted = p.get("dualSidePosition", "").lower() == "true"
        if wanted == self.dual_side:
            return 400, {"code": -4059, "msg": "No need to change position side."}
        if any(amount != 0 for amount, _ in self._positions.values()):
            return 400, {"code": -4068, "msg": "Position side cannot be changed if there exists position."}
        self.dual_side = wanted
        return 200, {"code": 200, "msg": "success"}

    def _unrealized(self) -> Decimal:
        return sum(
            (amount * (self._prices.get(s, entry) - entry) for s, (amount, entry) in self._positions.items()),
            start=ZERO,
        )

    def _available_margin(self) -> Decimal:
        used = sum(
            (
                abs(a) * self._prices.get(s, e) / Decimal(self._leverage.get(s, 20))
                for s, (a, e) in self._positions.items()
            ),
            start=ZERO,
        )
        return self.futures_wallet + self._unrealized() - used

    def _futures_account(self) -> dict[str, Any]:
        unrealized = self._unrealized()
        available = self._available_margin()
        usdt = {
            "asset": "USDT",
            "walletBalance": _s(self.futures_wallet),
            "unrealizedProfit": _s(unrealized),
            "marginBalance": _s(self.futures_wallet + unrealized),
            "maintMargin": "0.00000000",
            "initialMargin": _s(self.futures_wallet + unrealized - available),
            "positionInitialMargin": _s(self.futures_wallet + unrealized - available),
            "openOrderInitialMargin": "0.00000000",
            "crossWalletBalance": _s(self.futures_wallet),
            "crossUnPnl": _s(unrealized),
            "availableBalance": _s(available),
            "maxWithdrawAmount": _s(available),
            "marginAvailable": True,
            "updateTime": _ms(),
        }
        return {
            "feeTier": 0,
            "feeBurn": True,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            "totalInitialMargin": usdt["initialMargin"],
            "totalMaintMargin": "0.00000000",
            "totalWalletBalance": usdt["walletBalance"],
            "totalUnrealizedProfit": usdt["unrealizedProfit"],
            "totalMarginBalance": usdt["marginBalance"],
            "totalPositionInitialMargin": usdt["positionInitialMargin"],
            "totalOpenOrderInitialMargin": "0.00000000",
            "totalCrossWalletBalance": usdt["walletBalance"],
            "totalCrossUnPnl": usdt["unrealizedProfit"],
            "availableBalance": usdt["availableBalance"],
            "maxWithdrawAmount": usdt["availableBalance"],
            "assets": [
                usdt,
                *(self._futures_asset(asset, wallet) for asset, wallet in sorted(self.futures_assets.items())),
            ],
            "positions": [],
        }

    @staticmethod
    def _futures_asset(asset: str, wallet: Decimal) -> dict[str, Any]:
        """A margin asset other than USDT in the futures account (no positions margined in it)."""
        return {
            "asset": asset,
            "walletBalance": _s(wallet),
            "unrealizedProfit": "0.00000000",
            "marginBalance": _s(wallet),
            "maintMargin": "0.00000000",
            "initialMargin": "0.00000000",
            "positionInitialMargin": "0.00000000",
            "openOrderInitialMargin": "0.00000000",
            "crossWalletBalance": _s(wallet),
            "crossUnPnl": "0.00000000",
            "availableBalance": _s(wallet),
            "maxWithdrawAmount": _s(wallet),
            "marginAvailable": True,
            "updateTime": _ms(),
        }

    def _position_risk(self, p: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for symbol, (amount, entry) in sorted(self._positions.items()):
            if amount == 0 or (p.get("symbol") and p["symbol"] != symbol):
                continue
            mark = self._prices.get(symbol, entry)
            out.append(
                {
                    "symbol": symbol,
                    "positionSide": "BOTH",
                    "positionAmt": _s(amount),
                    "entryPrice": _s(entry),
                    "breakEvenPrice": _s(entry),
                    "markPrice": _s(mark),
                    "unRealizedProfit": _s(amount * (mark - entry)),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": _s(amount * mark),
                    "marginAsset": "USDT",
                    "isolatedWallet": "0",
                    "initialMargin": _s(abs(amount) * mark / Decimal(self._leverage.get(symbol, 20))),
                    "maintMargin": "0",
                    "positionInitialMargin": "0",
                    "openOrderInitialMargin": "0",
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": _ms(),
                }
            )
        return out

    def _spot_account(self) -> dict[str, Any]:
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": _ms(),
            "accountType": "SPOT",
            "balances": [
                {"asset": asset, "free": _s(amount), "locked": _s(self.spot_locked.get(asset, ZERO))}
                for asset, amount in sorted(self.spot_balances.items())
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _ticker(self, p: dict[str, str], *, futures: bool) -> tuple[int, Any]:
        def one(symbol: str) -> dict[str, Any]:
            item: dict[str, Any] = {"symbol": symbol, "price": _s(self._prices[symbol])}
            if futures:
                item["time"] = _ms()
            return item

        if p.get("symbol"):
            if p["symbol"] not in self._prices:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            return 200, one(p["symbol"])
        return 200, [one(s) for s in sorted(self._prices)]

    def _exchange_info(self, *, futures: bool) -> dict[str, Any]:
        symbols = []
        for symbol, r in sorted((self.futures_rules if futures else self.spot_rules).items()):
            filters: list[dict[str, Any]] = [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": _s(r.tick),
                    "maxPrice": "1000000.00000000",
                    "tickSize": _s(r.tick),
                },
                {"filterType": "LOT_SIZE", "minQty": _s(r.min_qty), "maxQty": "9000.00000000", "stepSize": _s(r.step)},
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": "0.00000000",
                    "maxQty": "100.00000000",
                    "stepSize": "0.00000000",
                },
            ]
            if futures:
                filters.append({"filterType": "MIN_NOTIONAL", "notional": format(r.min_notional.normalize(), "f")})
                symbols.append(
                    {
                        "symbol": symbol,
                        "pair": symbol,
                        "contractType": "PERPETUAL",
                        "status": r.status,
                        "baseAsset": r.base,
                        "quoteAsset": r.quote,
                        "marginAsset": r.quote,
                        "pricePrecision": 2,
                        "quantityPrecision": max(0, -r.step.normalize().as_tuple().exponent),
                        "baseAssetPrecision": 8,
                        "quotePrecision": 8,
                        "underlyingType": "COIN",
                        "filters": filters,
                        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
                        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                    }
                )
            else:
                filters.append(
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": _s(r.min_notional),
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    }
                )
                symbols.append(
                    {
                        "symbol": symbol,
                        "status": r.status,
                        "baseAsset": r.base,
                        "baseAssetPrecision": 8,
                        "quoteAsset": r.quote,
                        "quotePrecision": 8,
                        "quoteAssetPrecision": 8,
                        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                        "icebergAllowed": True,
                        "ocoAllowed": True,
                        "isSpotTradingAllowed": True,
                        "isMarginTradingAllowed": False,
                        "filters": filters,
                        "permissions": [],
                        "permissionSets": [["SPOT"]],
                        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
                    }
                )
        return {
            "timezone": "UTC",
            "serverTime": _ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _serve(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        status, payload = self._handle(method, path, headers, raw)
        if isinstance(payload, _Html):
            reply = status, {"Content-Type": "text/html"}, payload.text.encode()
        else:
            reply = json_reply(status, payload, "application/json;charset=UTF-8")
        reply[1]["X-MBX-USED-WEIGHT-1M"] = "1"
        return reply


_PUBLIC = {"ping", "exchangeInfo", "price", "time"}
