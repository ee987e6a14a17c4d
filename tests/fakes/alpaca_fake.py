"""Loopback fake of Alpaca's Trading API v2 and the latest-trade endpoint of its Market Data API.

Serves what :class:`bot.brokers.alpaca.broker.AlpacaBroker` calls through alpaca-py, with Alpaca's real
shapes: every number a JSON **string** (``"qty": "10"``, ``"filled_avg_price": "170.5"``), ``null``
for unset fields, RFC 3339 times with nanoseconds, errors as ``{"code": 40310000, "message": ...}``,
and the API-key headers ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY``. Point alpaca-py at it with
``TradingClient(url_override=fake.base_url)`` and ``StockHistoricalDataClient(url_override=...)``.

Endpoints: ``POST/GET /v2/orders``, ``GET /v2/orders:by_client_order_id``, ``GET|PATCH|DELETE
/v2/orders/{id}``, ``GET /v2/positions[/{symbol}]``, ``GET /v2/account``, ``GET /v2/clock``,
``GET /v2/assets/{symbol}``, ``GET /v2/account/activities/FILL``, ``GET /v2/account/activities``
(``activity_types``, ``after``/``until``, ``direction``, ``page_size`` ≤ 100, ``page_token``),
``GET /v2/stocks/trades/latest``, ``GET /v2/stocks/{symbol}/bars`` (daily bars: ``timeframe=1Day``,
``start``/``end``, ``limit``, ``page_token``/``next_page_token``; bar numbers are JSON numbers, as
Alpaca's market data sends them).

Venue rules it enforces, as Alpaca does: ``client_order_id`` unique across all orders (422
``client_order_id must be unique``); no order may take a position from long to short (or back) in
one go, and shares held by open exit orders are not available (403 ``insufficient qty available
for order``); no fractional shorts; fractional orders are DAY and simple; extended hours only for
DAY limit orders; buying power for buys.

Behaviour knobs (all thread-safe): :meth:`set_price`, :attr:`market_open` / :meth:`open_market`
(market orders placed while closed stay ``accepted`` until the open, or are rejected when
:attr:`reject_when_closed`), :meth:`partial_next` / :meth:`advance` (the next order fills in
steps), :meth:`fail_next` (error answers), :meth:`hang_next` (the request is processed, then the
answer is delayed: a lost response), :meth:`trigger` (an exit order fires), :meth:`add_activity`
(cash deposits ``CSD`` / withdrawals ``CSW``), :meth:`set_bars` (daily closes), :attr:`clock_offset`
(how far ``/v2/clock``'s ``timestamp`` is from this machine's clock), :attr:`bars_page_size`,
:attr:`sip_recent_allowed` (a free-plan key may not read SIP bars of the last 15 minutes: 403).
Counters: :attr:`order_posts` (POST /v2/orders received), :meth:`orders` (orders created),
:attr:`bar_queries` (query of every bars request).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from .base import LoopbackFake, Reply, handler_class, json_reply

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
ZERO = Decimal(0)

_FINAL = {"filled", "canceled", "expired", "rejected", "replaced"}


def _num(value: Decimal | None) -> str | None:
    """Alpaca's number text: plain decimal string, no exponent, no trailing zeros."""
    if value is None:
        return None
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _query_time(text: str) -> datetime:
    """A time query parameter as Alpaca takes it: RFC 3339 or a date (00:00 New York)."""
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), NEW_YORK).astimezone(UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _activity_time(item: dict[str, Any]) -> datetime:
    """When an activity happened: a fill's ``transaction_time``, else 00:00 New York of its ``date``."""
    if item.get("transaction_time"):
        return datetime.fromisoformat(item["transaction_time"].replace("Z", "+00:00"))
    return datetime.combine(date.fromisoformat(item["date"]), datetime.min.time(), NEW_YORK).astimezone(UTC)


def _time(value: datetime | None) -> str | None:
    """RFC 3339 UTC with nanoseconds, as Alpaca writes order times (``...:01.942282123Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


@dataclass
class _Order:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    type: str
    time_in_force: str
    created_at: datetime
    order_class: str = ""
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    extended_hours: bool = False
    status: str = "accepted"
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    updated_at: datetime | None = None
    steps: list[Decimal] = field(default_factory=list)
    legs: list[str] = field(default_factory=list)
    parent: str | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    @property
    def avg(self) -> Decimal | None:
        return self.filled_value / self.filled_qty if self.filled_qty else None

    @property
    def open(self) -> bool:
        return self.status not in _FINAL


class AlpacaFake(LoopbackFake):
    """Alpaca Trading + latest-trade API on ``127.0.0.1`` (random port), run in a background thread.

    Args:
        api_key, secret_key: the credentials it accepts (anything else is 401).
        cash: starting cash, USD.

    Attributes:
        market_open: regular session open (market orders fill at :meth:`set_price` prices).
        next_open: what ``/v2/clock`` reports as ``next_open`` while closed.
        reject_when_closed: answer market orders with 403 while closed instead of queueing them.
        order_posts: number of ``POST /v2/orders`` received (accepted, rejected or failed).
        requests: ``(method, path)`` of every request, in order.
    """

    def __init__(
        self,
        *,
        api_key: str = "fake-alpaca-key",
        secret_key: str = "fake-alpaca-secret",
        cash: Decimal = Decimal(100000),
    ) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.account_number = "PA3FAKE0001"
        self.account_id = str(uuid.uuid4())
        self.cash = Decimal(cash)
        self.market_open = True
        self.reject_when_closed = False
        self.next_open = datetime(2030, 1, 2, 14, 30, tzinfo=UTC)
        self.clock_offset = timedelta(0)
        self.bars_page_size = 10_000
        self.sip_recent_allowed = False
        self.bar_queries: list[dict[str, str]] = []
        self._bars: dict[str, list[tuple[date, float]]] = {}
        self.order_posts = 0
        self.requests: list[tuple[str, str]] = []
        self._orders: dict[str, _Order] = {}
        self._by_client: dict[str, str] = {}
        self._positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed qty, avg entry)
        self._activities: list[dict[str, Any]] = []
        self._prices: dict[str, Decimal] = {}
        self._assets: dict[str, dict[str, Any]] = {}
        self._partial: list[list[Decimal]] = []
        self._failures: list[tuple[str, str, int, int | None, str]] = []
        self._hangs: list[tuple[str, str, float]] = []
        self._lock = threading.RLock()
        super().__init__(handler_class(self._serve), name="alpaca-fake", poll_interval=0.02)
        for symbol in ("AAPL", "MSFT", "SPY"):
            self.add_asset(symbol)

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (alpaca-py appends ``/v2/...``)."""
        return self.url

    # ---- knobs ----------------------------------------------------------------------------------

    def add_asset(
        self, symbol: str, *, fractionable: bool = True, shortable: bool = True, tradable: bool = True
    ) -> None:
        """Make ``symbol`` a known US equity."""
        with self._lock:
            self._assets[symbol] = {
                "fractionable": fractionable,
                "shortable": shortable,
                "tradable": tradable,
                "id": str(uuid.uuid4()),
            }

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        """The price market orders on ``symbol`` fill at from now on (and the latest trade)."""
        with self._lock:
            self._prices[symbol] = Decimal(price)

    def partial_next(self, *steps: Decimal | str) -> None:
        """The next created order fills in these quantities: the first at once, the others one per
        :meth:`advance`."""
        with self._lock:
            self._partial.append([Decimal(s) for s in steps])

    def advance(self) -> None:
        """Execute the next fill step of every order that fills in steps (see :meth:`partial_next`)."""
        with self._lock:
            for order in list(self._orders.values()):
                if order.steps and order.open:
                    self._advance(order)

    def fail_next(
        self,
        status: int,
        *,
        method: str = "POST",
        path: str = "/v2/orders",
        code: int | None = None,
        message: str = "",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path`` (prefix) with an error."""
        with self._lock:
            for _ in range(times):
                self._failures.append((method, path, status, code, message))

    def hang_next(self, seconds: float, *, method: str = "POST", path: str = "/v2/orders") -> None:
        """Process the next matching request, then wait ``seconds`` before answering (lost response)."""
        with self._lock:
            self._hangs.append((method, path, seconds))

    def open_market(self) -> None:
        """Open the regular session: queued market orders fill at the current prices."""
        with self._lock:
            self.market_open = True
            for order in list(self._orders.values()):
                if order.open and order.type == "market" and order.parent is None and order.filled_qty == 0:
                    order.status = "new"
                    self._advance(order)

    def close_market(self, next_open: datetime | None = None) -> None:
        """Close the regular session (``next_open`` is reported by ``/v2/clock``)."""
        with self._lock:
            self.market_open = False
            if next_open is not None:
                self.next_open = next_open

    def trigger(self, order_id: str) -> None:
        """Fill an open exit order (stop, limit leg, trailing stop) at the current price."""
        with self._lock:
            order = self._orders[order_id]
            price = self._prices[order.symbol]
            self._execute(order, order.qty - order.filled_qty, price)
            if order.parent is not None:
                for sibling_id in self._orders[order.parent].legs:
                    sibling = self._orders[sibling_id]
                    if sibling.id != order.id and sibling.open:
                        sibling.status = "canceled"
                        sibling.canceled_at = datetime.now(UTC)

    def add_activity(
        self,
        activity_type: str,
        net_amount: str,
        on: date | str,
        *,
        status: str = "executed",
        description: str = "",
    ) -> str:
        """Book a non-trade activity (``CSD`` deposit, ``CSW`` withdrawal, ``DIV``, ...) and return its id.

        ``net_amount`` is Alpaca's text, signed as Alpaca books it (a ``CSW`` is ``"-1000"``);
        ``on`` the activity's (New York) date. The id starts with the date, as Alpaca's do.
        """
        day = date.fromisoformat(on) if isinstance(on, str) else on
        activity_id = day.strftime("%Y%m%d") + "000000000::" + str(uuid.uuid4())
        with self._lock:
            self._activities.append(
                {
                    "id": activity_id,
                    "activity_type": activity_type,
                    "date": day.isoformat(),
                    "net_amount": net_amount,
                    "description": description,
                    "status": status,
                }
            )
        return activity_id

    def set_bars(self, symbol: str, closes: list[tuple[date | str, float | str | Decimal]]) -> None:
        """Daily bars of ``symbol``: ``(day, close)`` pairs (served as JSON numbers, at midnight New York)."""
        bars = []
        for day, close in closes:
            bars.append((date.fromisoformat(day) if isinstance(day, str) else day, float(close)))
        with self._lock:
            self._bars[symbol] = sorted(bars)

    def orders(self) -> list[dict[str, Any]]:
        """Every order created, oldest first, in Alpaca's JSON shape (legs included)."""
        with self._lock:
            return [self._json(o) for o in sorted(self._orders.values(), key=lambda o: o.created_at)]

    def position(self, symbol: str) -> Decimal:
        """Signed position on ``symbol`` (0 when flat)."""
        with self._lock:
            return self._positions.get(symbol, (ZERO, ZERO))[0]

    def set_position(self, symbol: str, qty: Decimal | str, avg_price: Decimal | str) -> None:
        """Put a position in place directly (a manual trade made outside the bot)."""
        with self._lock:
            self._positions[symbol] = (Decimal(qty), Decimal(avg_price))

    # ---- order book keeping -------------------------------------------------------------------------

    def _available(self, symbol: str, side: str) -> Decimal:
        """Shares of the position ``side`` may still close: position minus open same-side orders."""
        qty = self._positions.get(symbol, (ZERO, ZERO))[0]
        held = ZERO
        by_parent: dict[str, Decimal] = {}
        for o in self._orders.values():
            if o.symbol != symbol or not o.open or o.side != side:
                continue
            if o.parent is None:
                held += o.qty - o.filled_qty
            else:  # the legs of one bracket are one-cancels-other: they hold the shares once
                by_parent[o.parent] = max(by_parent.get(o.parent, ZERO), o.qty - o.filled_qty)
        held += sum(by_parent.values(), start=ZERO)
        if side == "sell":
            return max(qty, ZERO) - held
        return max(-qty, ZERO) - held

    def _execute(self, order: _Order, qty: Decimal, price: Decimal) -> None:
        if qty <= 0:
            return
        now = datetime.now(UTC)
        order.filled_qty += qty
        order.filled_value += qty * price
        order.status = "filled" if order.filled_qty >= order.qty else "partially_filled"
        order.filled_at = now
        order.updated_at = now
        signed = qty if order.side == "buy" else -qty
        before, avg = self._positions.get(order.symbol, (ZERO, ZERO))
        after = before + signed
        if before == 0 or (before > 0) != (after > 0):
            avg = price
        elif abs(after) > abs(before):
            avg = (avg * abs(before) + price * qty) / abs(after)
        self._positions[order.symbol] = (after, avg if after != 0 else ZERO)
        self.cash -= signed * price
        self._activities.append(
            {
                "id": now.strftime("%Y%m%d%H%M%S%f")[:17] + "::" + str(uuid.uuid4()),
                "activity_type": "FILL",
                "transaction_time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "type": "fill" if order.status == "filled" else "partial_fill",
                "price": _num(price),
                "qty": _num(qty),
                "side": order.side,
                "symbol": order.symbol,
                "leaves_qty": _num(order.qty - order.filled_qty),
                "order_id": order.id,
                "cum_qty": _num(order.filled_qty),
                "order_status": order.status,
            }
        )
        if order.status == "filled":
            for leg_id in order.legs:
                leg = self._orders[leg_id]
                if leg.status == "held":
                    leg.status = "new"

    def _advance(self, order: _Order) -> None:
        """Run the next fill step of a working entry order (market, or a marketable limit)."""
        if not order.open or order.parent is not None or order.type not in ("market", "limit"):
            return
        if order.type == "market" and not self.market_open:
            return
        price = self._prices.get(order.symbol)
        if price is None:
            return
        if order.type == "limit":
            assert order.limit_price is not None
            if (order.side == "buy" and price > order.limit_price) or (
                order.side == "sell" and price < order.limit_price
            ):
                return
            price = order.limit_price
        if not order.steps:
            order.steps = [order.qty - order.filled_qty]
        step = min(order.steps.pop(0), order.qty - order.filled_qty)
        self._execute(order, step, price)

    # ---- request handling ---------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((method, path))
            if method == "POST" and path == "/v2/orders":
                self.order_posts += 1
            failure = None
            for index, (f_method, f_path, status, code, message) in enumerate(self._failures):
                if f_method == method and path.startswith(f_path):
                    failure = (status, code, message)
                    del self._failures[index]
                    break
            hang = 0.0
            for index, (h_method, h_path, seconds) in enumerate(self._hangs):
                if h_method == method and path.startswith(h_path):
                    hang = seconds
                    del self._hangs[index]
                    break
        if headers.get("APCA-API-KEY-ID") != self.api_key or headers.get("APCA-API-SECRET-KEY") != self.secret_key:
            return 401, {"code": 40110000, "message": "request is not authorized"}
        if failure is not None:
            status, code, message = failure
            default = {429: (42910000, "rate limit exceeded"), 500: (50010000, "internal server error")}
            code = code or default.get(status, (status * 100000, "error"))[0]
            return status, {"code": code, "message": message or default.get(status, (0, "error"))[1]}
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, {"code": 40010000, "message": "request body format is invalid"}
        with self._lock:
            result = self._route(method, path, query, payload)
        if hang:
            self._stopping.wait(hang)
        return result

    def _route(self, method: str, path: str, query: dict[str, str], payload: dict[str, Any]) -> tuple[int, Any]:
        if path == "/v2/orders" and method == "POST":
            return self._create(payload)
        if path == "/v2/orders" and method == "GET":
            return 200, self._list(query)
        if path == "/v2/orders:by_client_order_id" and method == "GET":
            order_id = self._by_client.get(query.get("client_order_id", ""))
            if order_id is None:
                return 404, {"code": 40410000, "message": "order not found"}
            return 200, self._read(self._orders[order_id])
        if path.startswith("/v2/orders/"):
            order = self._orders.get(path.rsplit("/", 1)[1])
            if order is None:
                return 404, {"code": 40410000, "message": "order not found"}
            if method == "GET":
                return 200, self._read(order)
            if method == "DELETE":
                if not order.open:
                    return 422, {"code": 42210000, "message": f'order is already in "{order.status}" state'}
                order.status = "canceled"
                order.canceled_at = datetime.now(UTC)
                return 204, None
            if method == "PATCH":
                return self._replace(order, payload)
        if path == "/v2/positions" and method == "GET":
            return 200, [self._position_json(s) for s, (q, _) in sorted(self._positions.items()) if q != 0]
        if path.startswith("/v2/positions/") and method == "GET":
            symbol = path.rsplit("/", 1)[1]
            if self._positions.get(symbol, (ZERO, ZERO))[0] == 0:
                return 404, {"code": 40410000, "message": "position does not exist"}
            return 200, self._position_json(symbol)
        if path == "/v2/account" and method == "GET":
            return 200, self._account_json()
        if path == "/v2/clock" and method == "GET":
            now = datetime.now(UTC) + self.clock_offset
            return 200, {
                "timestamp": now.astimezone(timezone(timedelta(hours=-4))).isoformat(),
                "is_open": self.market_open,
                "next_open": self.next_open.astimezone(timezone(timedelta(hours=-4))).isoformat(),
                "next_close": (self.next_open + timedelta(hours=6, minutes=30))
                .astimezone(timezone(timedelta(hours=-4)))
                .isoformat(),
            }
        if path.startswith("/v2/assets/") and method == "GET":
            symbol = path.rsplit("/", 1)[1]
            asset = self._assets.get(symbol)
            if asset is None:
                return 404, {"code": 40410000, "message": "asset not found"}
            return 200, self._asset_json(symbol, asset)
        if path == "/v2/account/activities/FILL" and method == "GET":
            return 200, self._fills(query)
        if path == "/v2/account/activities" and method == "GET":
            return self._activity_list(query)
        if path.startswith("/v2/stocks/") and path.endswith("/bars") and method == "GET":
            return self._bars_page(unquote(path[len("/v2/stocks/") : -len("/bars")]), query)
        if path == "/v2/stocks/trades/latest" and method == "GET":
            trades = {}
            for symbol in query.get("symbols", "").split(","):
                if symbol in self._prices:
                    trades[symbol] = {
                        "c": ["@"],
                        "i": 52983525029461,
                        "p": float(self._prices[symbol]),
                        "s": 100,
                        "t": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "x": "V",
                        "z": "C",
                    }
            return 200, {"trades": trades}
        return 404, {"code": 40410000, "message": "endpoint not found"}

    def _create(self, data: dict[str, Any]) -> tuple[int, Any]:
        def bad(message: str, status: int = 422, code: int = 40010001) -> tuple[int, Any]:
            return status, {"code": code, "message": message}

        symbol = str(data.get("symbol", ""))
        asset = self._assets.get(symbol)
        if asset is None:
            return bad(f'asset "{symbol}" not found')
        if not asset["tradable"]:
            return bad(f"asset {symbol} is not tradable")
        client_id = str(data.get("client_order_id") or uuid.uuid4())
        if len(client_id) > 128:
            return bad("client_order_id must be no more than 128 characters")
        if client_id in self._by_client:
            return bad("client_order_id must be unique")
        if "notional" in data and data["notional"] is not None:
            return bad("notional orders are not supported by this fake")
        try:
            qty = Decimal(str(data["qty"]))
        except (KeyError, ArithmeticError, ValueError):
            return bad("qty is required")
        if isinstance(data["qty"], (int, float)):
            return bad("qty must be a string in this fake (Alpaca documents it as a string)")
        if qty <= 0:
            return bad("qty must be > 0")
        side, kind, tif = data.get("side"), data.get("type"), data.get("time_in_force")
        order_class = data.get("order_class") or ""
        extended = bool(data.get("extended_hours"))
        fractional = qty != qty.to_integral_value()
        if side not in ("buy", "sell") or kind not in ("market", "limit", "stop", "trailing_stop"):
            return bad("invalid order type or side")
        if fractional and not asset["fractionable"]:
            return bad(f"asset {symbol} is not fractionable")
        if fractional and (tif != "day" or order_class):
            return bad("fractional orders must be simple DAY orders")
        if extended and (kind != "limit" or tif != "day"):
            return bad("extended hours order must be DAY limit orders")
        if order_class in ("bracket", "oto") and tif not in ("day", "gtc"):
            return bad("bracket orders must be DAY or GTC")
        if kind == "market" and not self.market_open and self.reject_when_closed:
            return 403, {"code": 40310000, "message": "market is closed"}
        position = self._positions.get(symbol, (ZERO, ZERO))[0]
        closing = (side == "sell" and position > 0) or (side == "buy" and position < 0)
        if closing:
            available = self._available(symbol, side)
            if qty > available:
                return 403, {
                    "code": 40310000,
                    "message": "insufficient qty available for order "
                    f"(requested: {_num(qty)}, available: {_num(available)})",
                    "symbol": symbol,
                    "requested": _num(qty),
                    "available": _num(available),
                }
        elif side == "sell":
            if fractional:
                return 403, {"code": 40310000, "message": "fractional orders cannot be sold short"}
            if not asset["shortable"]:
                return 403, {"code": 40310000, "message": f"asset {symbol} cannot be sold short"}
        price = self._prices.get(symbol) or Decimal(data.get("limit_price") or 0)
        if side == "buy" and not closing and qty * price > self._buying_power():
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        now = datetime.now(UTC)
        order = _Order(
            id=str(uuid.uuid4()),
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            qty=qty,
            type=kind,
            time_in_force=str(tif),
            created_at=now,
            updated_at=now,
            order_class=order_class,
            limit_price=Decimal(str(data["limit_price"])) if data.get("limit_price") else None,
            stop_price=Decimal(str(data["stop_price"])) if data.get("stop_price") else None,
            trail_percent=Decimal(str(data["trail_percent"])) if data.get("trail_percent") else None,
            extended_hours=extended,
            status="accepted" if kind in ("market", "limit") else "new",
        )
        if self._partial and kind == "market":
            order.steps = self._partial.pop(0)
        self._orders[order.id] = order
        self._by_client[client_id] = order.id
        exit_side = "sell" if side == "buy" else "buy"
        if order_class in ("bracket", "oto"):
            take_profit, stop_loss = data.get("take_profit"), data.get("stop_loss")
            if order_class == "bracket" and not (take_profit and stop_loss):
                return bad("bracket orders require take_profit.limit_price and stop_loss.stop_price")
            for kind_name, leg_data in (("limit", take_profit), ("stop", stop_loss)):
                if not leg_data:
                    continue
                leg = _Order(
                    id=str(uuid.uuid4()),
                    client_order_id=str(uuid.uuid4()),
                    symbol=symbol,
                    side=exit_side,
                    qty=qty,
                    type=kind_name,
                    time_in_force=str(tif),
                    created_at=now,
                    updated_at=now,
                    limit_price=Decimal(str(leg_data["limit_price"])) if kind_name == "limit" else None,
                    stop_price=Decimal(str(leg_data["stop_price"])) if kind_name == "stop" else None,
                    status="held",
                    parent=order.id,
                )
                self._orders[leg.id] = leg
                order.legs.append(leg.id)
        snapshot = self._json(order)
        if kind in ("market", "limit") and (self.market_open or extended):
            order.status = "new"
            self._advance(order)
        return 200, snapshot

    def _replace(self, order: _Order, data: dict[str, Any]) -> tuple[int, Any]:
        if not order.open:
            return 422, {"code": 42210000, "message": "order is not open"}
        now = datetime.now(UTC)
        new = _Order(**{**order.__dict__, "id": str(uuid.uuid4()), "client_order_id": str(uuid.uuid4())})
        new.created_at = new.updated_at = now
        new.legs = []
        new.replaces = order.id
        if data.get("limit_price"):
            new.limit_price = Decimal(str(data["limit_price"]))
        if data.get("stop_price"):
            new.stop_price = Decimal(str(data["stop_price"]))
        if data.get("trail"):
            new.trail_percent = Decimal(str(data["trail"]))
        order.status = "replaced"
        order.replaced_by = new.id
        self._orders[new.id] = new
        self._by_client[new.client_order_id] = new.id
        if order.parent is not None:
            legs = self._orders[order.parent].legs
            legs[legs.index(order.id)] = new.id
        return 200, self._json(new)

    def _read(self, order: _Order) -> dict[str, Any]:
        return self._json(order)

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = query.get("status", "open")
        symbols = set(filter(None, query.get("symbols", "").split(",")))
        nested = query.get("nested") == "true"
        after = _query_time(query["after"]) if query.get("after") else None
        newest_first = query.get("direction", "desc") == "desc"
        out = []
        for order in sorted(self._orders.values(), key=lambda o: o.created_at, reverse=newest_first):
            if symbols and order.symbol not in symbols:
                continue
            if after is not None and order.created_at <= after:  # Alpaca: submitted after ``after``
                continue
            if nested and order.parent is not None:
                continue
            if status == "open" and not (order.open or (nested and any(self._orders[x].open for x in order.legs))):
                continue
            if status == "closed" and order.open:
                continue
            out.append(self._json(order, nested=nested))
        return out[: int(query.get("limit", 50))]

    def _fills(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = [a for a in self._activities if a["activity_type"] == "FILL"]
        if query.get("after"):
            after = datetime.fromisoformat(query["after"].replace("Z", "+00:00"))
            items = [a for a in items if datetime.fromisoformat(a["transaction_time"].replace("Z", "+00:00")) > after]
        if query.get("direction", "desc") == "desc":
            items.reverse()
        token = query.get("page_token")
        if token:
            ids = [a["id"] for a in items]
            items = items[ids.index(token) + 1 :] if token in ids else []
        return items[: int(query.get("page_size", 100))]

    def _activity_list(self, query: dict[str, str]) -> tuple[int, Any]:
        types = set(filter(None, query.get("activity_types", "").split(",")))
        try:
            after = _query_time(query["after"]) if query.get("after") else None
            until = _query_time(query["until"]) if query.get("until") else None
            page_size = int(query.get("page_size", 100))
        except ValueError:
            return 422, {"code": 42210000, "message": "invalid after, until or page_size"}
        if not 1 <= page_size <= 100:
            return 422, {"code": 42210000, "message": "page_size must be between 1 and 100"}
        items = sorted((a for a in self._activities if not types or a["activity_type"] in types), key=lambda a: a["id"])
        if after is not None:
            items = [a for a in items if _activity_time(a) > after]
        if until is not None:
            items = [a for a in items if _activity_time(a) < until]
        if query.get("direction", "desc") == "desc":
            items.reverse()
        token = query.get("page_token")
        if token:
            ids = [a["id"] for a in items]
            items = items[ids.index(token) + 1 :] if token in ids else []
        return 200, [dict(a) for a in items[:page_size]]

    def _bars_page(self, symbol: str, query: dict[str, str]) -> tuple[int, Any]:
        self.bar_queries.append(dict(query, symbol=symbol))
        if query.get("timeframe") != "1Day":
            return 422, {"code": 42210000, "message": "invalid timeframe"}
        try:
            start = _query_time(query["start"]) if query.get("start") else datetime.now(UTC).replace(hour=0)
            end = _query_time(query["end"]) if query.get("end") else datetime.now(UTC)
            limit = int(query.get("limit", 1000))
        except ValueError:
            return 422, {"code": 42210000, "message": "invalid start, end or limit"}
        recent = end > datetime.now(UTC) - timedelta(minutes=15)
        if query.get("feed", "sip") == "sip" and recent and not self.sip_recent_allowed:
            return 403, {"message": "subscription does not permit querying recent SIP data"}
        stamped = [
            (datetime.combine(day, datetime.min.time(), NEW_YORK).astimezone(UTC), close)
            for day, close in self._bars.get(symbol, [])
        ]
        stamped = [(t, c) for t, c in stamped if start <= t <= end]
        token = query.get("page_token")
        if token:
            after = datetime.fromisoformat(base64.b64decode(token).decode())
            stamped = [(t, c) for t, c in stamped if t > after]
        page = stamped[: min(limit, 10_000, self.bars_page_size)]
        more = len(stamped) > len(page)
        bars = [
            {
                "t": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "o": close,
                "h": close,
                "l": close,
                "c": close,
                "v": 71_523_400,
                "n": 612_345,
                "vw": close,
            }
            for t, close in page
        ]
        next_token = base64.b64encode(page[-1][0].isoformat().encode()).decode() if more else None
        return 200, {"bars": bars, "symbol": symbol, "next_page_token": next_token}

    def _buying_power(self) -> Decimal:
        return self.cash + sum(
            (q * self._prices.get(s, avg) for s, (q, avg) in self._positions.items() if q < 0), start=ZERO
        )

    def _json(self, order: _Order, nested: bool = True) -> dict[str, Any]:
        avg = order.avg
        return {
            "id": order.id,
            "client_order_id": order.client_order_id,
            "created_at": _time(order.created_at),
            "updated_at": _time(order.updated_at),
            "submitted_at": _time(order.created_at),
            "filled_at": _time(order.filled_at) if order.status == "filled" else None,
            "expired_at": None,
            "canceled_at": _time(order.canceled_at),
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": order.replaced_by,
            "replaces": order.replaces,
            "asset_id": self._assets.get(order.symbol, {}).get("id"),
            "symbol": order.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": _num(order.qty),
            "filled_qty": _num(order.filled_qty),
            "filled_avg_price": _num(avg.quantize(Decimal("0.0001")).normalize()) if avg is not None else None,
            "order_class": order.order_class,
            "order_type": order.type,
            "type": order.type,
            "side": order.side,
            "position_intent": None,
            "time_in_force": order.time_in_force,
            "limit_price": _num(order.limit_price),
            "stop_price": _num(order.stop_price),
            "status": order.status,
            "extended_hours": order.extended_hours,
            "legs": [self._json(self._orders[x]) for x in order.legs] if order.legs and nested else None,
            "trail_percent": _num(order.trail_percent),
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
            "expires_at": None,
        }

    def _position_json(self, symbol: str) -> dict[str, Any]:
        qty, avg = self._positions[symbol]
        price = self._prices.get(symbol, avg)
        held = self._available(symbol, "sell" if qty > 0 else "buy")
        return {
            "asset_id": self._assets.get(symbol, {}).get("id"),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _num(avg),
            "qty": _num(qty),
            "side": "long" if qty > 0 else "short",
            "market_value": _num(qty * price),
            "cost_basis": _num(qty * avg),
            "unrealized_pl": _num(qty * (price - avg)),
            "unrealized_plpc": "0",
            "unrealized_intraday_pl": _num(qty * (price - avg)),
            "unrealized_intraday_plpc": "0",
            "current_price": _num(price),
            "lastday_price": _num(price),
            "change_today": "0",
            "qty_available": _num(held if qty > 0 else -held),
        }

    def _account_json(self) -> dict[str, Any]:
        long_value = sum((q * self._prices.get(s, a) for s, (q, a) in self._positions.items() if q > 0), start=ZERO)
        short_value = sum((q * self._prices.get(s, a) for s, (q, a) in self._positions.items() if q < 0), start=ZERO)
        equity = self.cash + long_value + short_value
        return {
            "id": self.account_id,
            "account_number": self.account_number,
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "buying_power": _num(self._buying_power()),
            "regt_buying_power": _num(self._buying_power()),
            "daytrading_buying_power": "0",
            "non_marginable_buying_power": _num(self._buying_power()),
            "cash": _num(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "portfolio_value": _num(equity),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2024-01-02T15:04:05.123456Z",
            "trade_suspended_by_user": False,
            "multiplier": "1",
            "shorting_enabled": True,
            "equity": _num(equity),
            "last_equity": _num(equity),
            "long_market_value": _num(long_value),
            "short_market_value": _num(short_value),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
        }

    @staticmethod
    def _asset_json(symbol: str, asset: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": asset["id"],
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": symbol,
            "name": f"{symbol} Inc. Common Stock",
            "status": "active",
            "tradable": asset["tradable"],
            "marginable": True,
            "maintenance_margin_requirement": 30,
            "shortable": asset["shortable"],
            "easy_to_borrow": asset["shortable"],
            "fractionable": asset["fractionable"],
            "attributes": ["fractional_eh_enabled", "has_options"],
        }

    def _serve(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        return json_reply(*self._handle(method, path, headers, raw))
