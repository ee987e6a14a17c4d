"""Alpaca adapter (alpaca-py): US equities, paper or live by ``ALPACA_PAPER`` (default paper).

What it does, in the venue's terms:

- **Orders** are market orders by quantity (fractional quantities are sent as such, ``DAY``;
  shorts are whole shares — the engine sizes them with :attr:`Instrument.whole_shares_for_short`).
  The order is posted as JSON with decimal **strings** through alpaca-py's ``TradingClient.post``
  (its request models hold quantities and prices as ``float``), so nothing goes through a float.
  ``client_order_id`` is the engine's id: a retried or repeated request can never place a second
  order (Alpaca answers 422 ``client_order_id must be unique``; the existing order is fetched).
- **Reversals.** Alpaca rejects an order that takes the position from long to short (or back)
  in one go, so such an order is split into a closing order ``<id>-c`` for the current position
  and, once that has filled, an opening order ``<id>-o`` for the rest; :meth:`AlpacaBroker.get_order`
  aggregates both legs under the original id (fills of both, one state).
- **Market closed.** A market order placed while the regular session is closed is queued by
  Alpaca (status ``accepted``); it is reported as ``QUEUED`` with ``eligible_at`` = ``next_open``
  from ``/v2/clock``, then ``FILLED`` at the open (the order tracker polls).
- **Extended hours** (``OrderRequest.extended_hours``): a ``DAY`` limit order at the signal price
  (``ref_price``, rounded to the tick) with ``extended_hours=true``, as Alpaca requires.
- **Protective exits** of an entry: ``stop_loss_pct`` and/or ``take_profit_pct`` as a bracket
  (both) or OTO (one) order, ``GTC``; the legs are priced from the signal price at submission and
  re-priced from the actual fill price once the entry fills. ``trailing_pct`` places a
  ``trailing_stop`` order (``trail_percent``) for the filled quantity after the fill (and then the
  stop/take-profit are not placed: Alpaca cannot hold two exits on the same shares). Exits need
  whole shares and are only attached when the order adds to the position in its own direction
  (an order that nets against another slot's position gets none; the reason says so). Before an
  order that reduces a position, exit orders of this bot holding the shares are cancelled.
- **Fills** come from ``/v2/account/activities/FILL`` (one :class:`FillReport` per execution, id =
  the activity id, ``fee`` 0: Alpaca charges no commission; regulatory SEC/TAF fees are booked
  as separate ``FEE`` activities at day end and are not attributed to fills). When the order says
  filled but the activities do not show every execution yet, the order is reported partially
  filled until they do, so a fill is never invented.
- **Errors**: 401 and 403 without an Alpaca code (bad or wrong-environment keys) →
  :class:`ConfigError`; 429, 5xx, timeouts, connection errors → :class:`TemporaryError`;
  everything else the venue refuses (insufficient buying power 40310000, unknown symbol, ...) →
  :class:`BrokerRejected` with Alpaca's code and message.

- **History** (optional methods read by :mod:`bot.snapshots`, :mod:`bot.report`, :mod:`bot.doctor`):
  :meth:`AlpacaBroker.cash_flows` (account activities ``CSD``/``CSW``), :meth:`AlpacaBroker.daily_closes`
  (daily bars of the Market Data API) and :meth:`AlpacaBroker.server_time` (``/v2/clock``).

SDK hooks: ``TradingClient(paper=, raw_data=True, url_override=ALPACA_BASE_URL)`` and
``StockHistoricalDataClient(raw_data=True, url_override=ALPACA_DATA_URL)``. alpaca-py 0.44 has no
constructor option for a request timeout and retries 429/504 itself with 3 s sleeps; the clients
here are subclasses that give their ``requests`` session a timeout and turn the SDK's own retry
off (``RESTClient._session`` / ``_retry``), so retries happen in one place (the engine, with the
same ``client_order_id``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockLatestTradeRequest
from alpaca.trading.client import TradingClient

from bot.brokers.base import Account, Capabilities, FillReport, OrderRequest, OrderUpdate, VenueExit, decimal_or_none
from bot.domain import OrderState, Side, format_decimal
from bot.errors import BotError, BrokerRejected, ConfigError, TemporaryError
from bot.records import CashFlow, Instrument
from bot.settings import Settings

log = logging.getLogger(__name__)

UTC = timezone.utc
#: Alpaca's calendar: activity dates and daily bars are New York trading days.
NEW_YORK = ZoneInfo("America/New_York")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
#: Quantity step of fractionable assets (Alpaca accepts up to 9 decimals).
FRACTION_STEP = Decimal("0.000000001")
#: Alpaca's limit on ``client_order_id`` length.
MAX_CLIENT_ID = 128
#: Order statuses that mean "accepted, not yet executing" (queued while the market is closed).
_WAITING = {"accepted", "new", "pending_new", "accepted_for_bidding"}
_STATES = {
    "new": OrderState.SUBMITTED,
    "accepted": OrderState.SUBMITTED,
    "pending_new": OrderState.SUBMITTED,
    "accepted_for_bidding": OrderState.SUBMITTED,
    "calculated": OrderState.SUBMITTED,
    "held": OrderState.SUBMITTED,
    "stopped": OrderState.SUBMITTED,
    "suspended": OrderState.SUBMITTED,
    "done_for_day": OrderState.SUBMITTED,
    "pending_cancel": OrderState.SUBMITTED,
    "pending_replace": OrderState.SUBMITTED,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "replaced": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}
_EXIT_TYPES = {"stop", "stop_limit", "limit", "trailing_stop"}
#: What each exit order type is, as written in the Note and the Orders tab.
_EXIT_KINDS = {"stop": "stop loss", "stop_limit": "stop loss", "limit": "take profit", "trailing_stop": "trailing stop"}
#: Orders one ``venue_exits`` listing reads (Alpaca's maximum page).
EXIT_LIST_LIMIT = 500
#: Account activities per page (Alpaca's maximum) and the most pages one history read follows.
ACTIVITY_PAGE_SIZE = 100
MAX_ACTIVITY_PAGES = 1000
#: Bars per page (Alpaca's maximum) and the most pages one ``daily_closes`` call follows.
BAR_PAGE_SIZE = 10_000
MAX_BAR_PAGES = 100
#: Daily bars: the consolidated (SIP) feed, adjusted for splits and dividends (a total-return benchmark).
BAR_FEED = "sip"
BAR_ADJUSTMENT = "all"
#: Alpaca's free plan refuses SIP data newer than 15 minutes; bar requests end at least this long ago.
SIP_DELAY = timedelta(minutes=16)


# --------------------------------------------------------------------------------------------
# SDK clients with a timeout and without their own retry loop
# --------------------------------------------------------------------------------------------


class _TimeoutSession(requests.Session):
    """A ``requests`` session whose requests time out after ``timeout`` seconds unless told otherwise."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class _TradingClient(TradingClient):
    """alpaca-py ``TradingClient`` returning raw JSON, with a request timeout and no SDK-level retry."""

    def __init__(self, *, api_key: str, secret_key: str, paper: bool, url_override: str | None, timeout: float) -> None:
        super().__init__(api_key=api_key, secret_key=secret_key, paper=paper, raw_data=True, url_override=url_override)
        self._session = _TimeoutSession(timeout)
        self._retry = 0


class _DataClient(StockHistoricalDataClient):
    """alpaca-py ``StockHistoricalDataClient`` returning raw JSON, with a timeout and no SDK-level retry."""

    def __init__(self, *, api_key: str, secret_key: str, url_override: str | None, timeout: float) -> None:
        super().__init__(api_key=api_key, secret_key=secret_key, raw_data=True, url_override=url_override)
        self._session = _TimeoutSession(timeout)
        self._retry = 0


# --------------------------------------------------------------------------------------------
# Per-order memory (which legs, which exits), kept while the order is open
# --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """How a request was (or is being) executed: single order, or close leg + open leg."""

    request: OrderRequest
    venue_id: str
    close_qty: Decimal
    exits_allowed: bool
    notes: list[str] = field(default_factory=list)
    reported: int = 0
    after_fill_done: bool = False
    open_failed: bool = False

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def new_notes(self) -> str:
        """Notes not yet handed to the engine (it appends each update's reason to the order)."""
        text = "; ".join(self.notes[self.reported :])
        self.reported = len(self.notes)
        return text


@dataclass(frozen=True)
class _Leg:
    """One venue order, translated: state, fills from the activities, and the order JSON."""

    order: dict[str, Any]
    state: OrderState
    fills: tuple[FillReport, ...]
    filled_qty: Decimal
    eligible_at: datetime | None


# --------------------------------------------------------------------------------------------
# The broker
# --------------------------------------------------------------------------------------------


class AlpacaBroker:
    """Alpaca through alpaca-py, implementing :class:`bot.brokers.base.Broker`.

    Args:
        settings: ``ALPACA_API_KEY``/``ALPACA_API_SECRET`` (required), ``ALPACA_PAPER`` (paper by
            default; ``live`` is its negation), ``ALPACA_BASE_URL`` / ``ALPACA_DATA_URL`` overrides.
        timeout: seconds before an HTTP request is abandoned (→ :class:`TemporaryError`).
        leg_wait_seconds: how long :meth:`submit_order` follows the closing leg of a split
            reversal before returning (the tracker completes it later if the market is closed).
        poll_seconds: first interval of that follow-up (doubles up to 0.5 s).
        asset_cache_seconds: how long asset rules (fractionable, shortable) are cached.
        clock_cache_seconds: how long the market clock is cached.

    Raises:
        ConfigError: keys missing.
    """

    name = "alpaca"
    capabilities = Capabilities(venue_exits=True, daily_closes=True, cash_flows=True, server_time=True)

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,
        leg_wait_seconds: float = 5.0,
        poll_seconds: float = 0.05,
        asset_cache_seconds: float = 3600.0,
        clock_cache_seconds: float = 15.0,
    ) -> None:
        key = settings.alpaca_api_key.get_secret_value()
        secret = settings.alpaca_api_secret.get_secret_value()
        if not (key and secret):
            raise ConfigError(
                "broker alpaca needs ALPACA_API_KEY and ALPACA_API_SECRET", field="broker", value="alpaca"
            )
        self.live = not settings.alpaca_paper
        self._client = _TradingClient(
            api_key=key,
            secret_key=secret,
            paper=settings.alpaca_paper,
            url_override=settings.alpaca_base_url or None,
            timeout=timeout,
        )
        self._data = _DataClient(
            api_key=key, secret_key=secret, url_override=settings.alpaca_data_url or None, timeout=timeout
        )
        self._leg_wait = leg_wait_seconds
        self._poll = poll_seconds
        self._asset_ttl = asset_cache_seconds
        self._clock_ttl = clock_cache_seconds
        self._assets: dict[str, tuple[float, dict[str, Any]]] = {}
        self._clock_cache: tuple[float, dict[str, Any]] | None = None
        self._plans: OrderedDict[str, _Plan] = OrderedDict()
        self._lock = threading.RLock()

    # -- rules and prices ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """Rules of ``symbol``: step 1e-9 when fractionable (else 1), $1 minimum for fractional
        orders, ``shortable`` when Alpaca lists it shortable and easy to borrow, whole-share shorts.

        Raises:
            BrokerRejected: unknown or non-tradable symbol. TemporaryError / ConfigError: see module doc.
        """
        asset = self._asset(symbol)
        fractionable = bool(asset.get("fractionable"))
        return Instrument(
            symbol=symbol,
            qty_step=FRACTION_STEP if fractionable else Decimal(1),
            min_qty=ZERO,
            min_notional=Decimal(1) if fractionable else ZERO,
            shortable=bool(asset.get("shortable")) and bool(asset.get("easy_to_borrow", True)),
            whole_shares_for_short=True,
        )

    def last_price(self, symbol: str) -> Decimal | None:
        """Price of the latest trade (Market Data API ``/v2/stocks/trades/latest``), or None."""
        try:
            trades = self._data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=symbol))
        except (APIError, requests.RequestException) as exc:
            raise _translate(exc) from None
        trade = trades.get(symbol) if isinstance(trades, dict) else None
        if not trade or trade.get("p") is None:
            return None
        return decimal_or_none(trade["p"])

    # -- orders -----------------------------------------------------------------------------------------

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
        asset = self._asset(request.symbol)
        if not asset.get("tradable", True):
            raise BrokerRejected(f"{request.symbol} is not tradable on Alpaca", code="not_tradable")
        if not _whole(request.qty) and not asset.get("fractionable"):
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

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """The order with our id (both legs aggregated for a split reversal), or None when Alpaca
        never received it. Completes a split reversal (sends the opening leg once the closing leg
        filled) and the after-fill exits of an entry. ``symbol`` is not needed on Alpaca.

        Raises:
            TemporaryError / ConfigError: see the module doc.
        """
        with self._lock:
            plan = self._plans.get(client_order_id)
        venue_id = plan.venue_id if plan else _venue_id(client_order_id)
        if plan is None or not plan.close_qty:
            order = self._by_client_id(venue_id)
            if order is not None:
                return self._single_update(order, plan)
            if plan is not None:
                return None
        close = self._by_client_id(venue_id + "-c")
        if close is None:
            return None
        opening = self._by_client_id(venue_id + "-o")
        return self._split_update(plan, close, opening)

    # -- account ------------------------------------------------------------------------------------------

    def account(self) -> Account:
        """Equity, cash and buying power in USD (``/v2/account``); positions value = long + short market value."""
        data = self._call(self._client.get_account)
        long_value = decimal_or_none(data.get("long_market_value")) or ZERO
        short_value = decimal_or_none(data.get("short_market_value")) or ZERO
        return Account(
            account_id=str(data.get("account_number") or data.get("id") or "alpaca"),
            equity=decimal_or_none(data.get("equity")) or ZERO,
            cash=decimal_or_none(data.get("cash")) or ZERO,
            buying_power=decimal_or_none(data.get("buying_power")) or ZERO,
            positions_value=long_value + short_value,
            currency=str(data.get("currency") or "USD"),
        )

    def positions(self) -> dict[str, Decimal]:
        """Net position per symbol (``/v2/positions``), signed shares (negative = short)."""
        result: dict[str, Decimal] = {}
        for item in self._call(self._client.get_all_positions) or []:
            qty = abs(decimal_or_none(item.get("qty")) or ZERO)
            if qty:
                result[str(item["symbol"])] = -qty if item.get("side") == "short" else qty
        return result

    def close(self) -> None:
        """Close the HTTP sessions."""
        self._client._session.close()
        self._data._session.close()

    # -- history (optional methods: bot.snapshots, bot.report, bot.doctor) ---------------------------------

    def cash_flows(self, since: datetime | None = None) -> list[CashFlow]:
        """Deposits and withdrawals of the account: activities ``CSD`` (cash deposit) and ``CSW`` (cash withdrawal).

        ``GET /v2/account/activities?activity_types=CSD,CSW&direction=asc&page_size=100``, paged with
        ``page_token`` = the last activity id of the previous page until a page is short. With
        ``since`` (tz-aware), ``after`` = one day before it, so the whole New York day of ``since``
        is included (:func:`bot.snapshots.import_cash_flows` skips what it already has by reference).

        Alpaca sends ``net_amount`` as text, a withdrawal usually negative: the amount is its
        magnitude and the kind comes from the type (a ``CSD`` with a negative amount, a returned
        deposit, is a withdrawal). Canceled activities and zero amounts are left out. Alpaca gives
        only the activity ``date`` (a New York day), so ``flow_at`` is 00:00 New York time of that
        day, in UTC. Journals between accounts (``JNLC``) are not imported.

        Args:
            since: only flows from this time on (roughly: from the day before it); None = all.

        Returns:
            :class:`~bot.snapshots.CashFlow` values oldest first: currency ``USD``, ``reference`` =
            the activity id, ``broker``/``source`` ``alpaca``, ``note`` = ``alpaca CSD``/``CSW``
            (plus Alpaca's description when there is one).

        Raises:
            TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys. BrokerRejected: other refusals.
        """
        params: dict[str, Any] = {"activity_types": "CSD,CSW", "direction": "asc", "page_size": ACTIVITY_PAGE_SIZE}
        if since is not None:
            params["after"] = _rfc3339(since - timedelta(days=1))
        flows: list[CashFlow] = []
        for _ in range(MAX_ACTIVITY_PAGES):
            page = self._call(self._client.get, "/account/activities", params) or []
            for item in page:
                flow = _activity_flow(item)
                if flow is not None:
                    flows.append(flow)
            if len(page) < ACTIVITY_PAGE_SIZE or not page[-1].get("id"):
                break
            params["page_token"] = page[-1]["id"]
        else:
            log.warning("alpaca: cash flow history cut after %d pages", MAX_ACTIVITY_PAGES)
        return sorted(flows, key=lambda flow: flow.flow_at)

    def daily_closes(self, symbol: str, start: date, end: date) -> list[tuple[date, Decimal]]:
        """Daily closing prices of ``symbol`` on the New York trading days from ``start`` to ``end`` (inclusive).

        Market Data API ``GET /v2/stocks/{symbol}/bars?timeframe=1Day`` (through the data client's
        HTTP helper, paged with ``next_page_token``), ``feed=sip`` (the consolidated close) and
        ``adjustment=all`` (split- and dividend-adjusted: returns between closes include
        dividends, a total-return benchmark). The request ends at the close of ``end`` or 16
        minutes ago, whichever is earlier (Alpaca's free plan refuses SIP data newer than 15
        minutes), so today's bar, when asked for, is the day so far. A bar's ``t`` is midnight New
        York of its day; its close ``c`` (a JSON number) is taken as ``Decimal(str(c))``.

        Returns:
            ``[(day, close)]`` ascending; ``[]`` when the range holds no trading day.

        Raises:
            BrokerRejected: the symbol or request refused (Alpaca's code and message).
            TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys.
        """
        first = datetime.combine(start, datetime.min.time(), NEW_YORK)
        last = min(
            datetime.combine(end + timedelta(days=1), datetime.min.time(), NEW_YORK) - timedelta(seconds=1),
            datetime.now(UTC) - SIP_DELAY,
        )
        if last < first:
            return []
        params: dict[str, Any] = {
            "timeframe": "1Day",
            "start": _rfc3339(first),
            "end": _rfc3339(last),
            "limit": BAR_PAGE_SIZE,
            "adjustment": BAR_ADJUSTMENT,
            "feed": BAR_FEED,
        }
        path = f"/stocks/{quote(symbol, safe='')}/bars"
        closes: dict[date, Decimal] = {}
        for _ in range(MAX_BAR_PAGES):
            data = self._call(self._data.get, path, params) or {}
            for bar in data.get("bars") or []:
                when = _parse_time(bar.get("t"))
                close = decimal_or_none(bar.get("c"))
                if when is not None and close is not None:
                    closes[when.astimezone(NEW_YORK).date()] = close
            token = data.get("next_page_token")
            if not token:
                break
            params["page_token"] = token
        else:
            log.warning("alpaca: %s daily bars cut after %d pages", symbol, MAX_BAR_PAGES)
        return sorted(closes.items())

    def server_time(self) -> datetime:
        """Alpaca's clock: ``timestamp`` of ``GET /v2/clock`` (read now, not the cached market clock), UTC.

        Raises:
            TemporaryError: unreachable, or no readable timestamp. ConfigError: bad keys.
        """
        clock = self._call(self._client.get_clock)
        when = _parse_time(clock.get("timestamp")) if isinstance(clock, dict) else None
        if when is None:
            raise TemporaryError(f"alpaca clock sent no readable timestamp: {str(clock)[:200]}")
        return when

    # -- planning -----------------------------------------------------------------------------------------

    def _plan(self, request: OrderRequest) -> _Plan:
        """Decide single order or split, from the venue's current position; remembered by client id."""
        position = self._position_qty(request.symbol)
        signed = request.qty if request.side is Side.BUY else -request.qty
        after = position + signed
        split = position != 0 and after != 0 and (position > 0) != (after > 0)
        adds = position == 0 or (position > 0) == (signed > 0)
        plan = _Plan(
            request=request,
            venue_id=_venue_id(request.client_order_id),
            close_qty=abs(position) if split else ZERO,
            exits_allowed=split or adds,
        )
        if _wants_exits(request) and not plan.exits_allowed:
            plan.note(
                f"protective exits not placed: this order nets against another slot's {request.symbol} position "
                f"({format_decimal(position)})"
            )
        with self._lock:
            plan = self._plans.setdefault(request.client_order_id, plan)
            while len(self._plans) > 10_000:
                self._plans.popitem(last=False)
        return plan

    def _submit_single(self, plan: _Plan) -> OrderUpdate:
        request = plan.request
        self._free_shares(plan, request.side, request.qty)
        payload = self._payload(plan, plan.venue_id, request.qty, exits=plan.exits_allowed)
        order = self._post(payload)
        return self._single_update(order, plan, best_effort=True)

    def _submit_split(self, plan: _Plan) -> OrderUpdate:
        request = plan.request
        plan.note(
            f"reversal split into a closing order for {format_decimal(plan.close_qty)} and an opening order for "
            f"{format_decimal(request.qty - plan.close_qty)} (Alpaca does not flip a position in one order)"
        )
        self._free_shares(plan, request.side, plan.close_qty)
        close = self._post(self._payload(plan, plan.venue_id + "-c", plan.close_qty, exits=False))
        # follow the closing order briefly (it fills in milliseconds when the market is open); when
        # the market is closed it waits for the open and the tracker sends the opening order then
        queued = str(close.get("status")) in _WAITING and not self._safe_clock_open()
        deadline = time.monotonic() + (0 if queued else self._leg_wait)
        interval = self._poll
        while _STATES.get(str(close.get("status")), OrderState.SUBMITTED) not in _FINAL and time.monotonic() < deadline:
            time.sleep(interval)
            interval = min(interval * 2, 0.5)
            try:
                close = self._by_client_id(plan.venue_id + "-c") or close
            except TemporaryError:
                continue
        try:
            opening = self._by_client_id(plan.venue_id + "-o")
            return self._split_update(plan, close, opening)
        except TemporaryError as exc:
            log.warning("alpaca: reversal %s: follow-up failed: %s", request.client_order_id, exc)
            return OrderUpdate(
                broker_order_id=str(close.get("id", "")), state=OrderState.SUBMITTED, reason=plan.new_notes()
            )

    def _payload(self, plan: _Plan, venue_id: str, qty: Decimal, *, exits: bool) -> dict[str, Any]:
        """JSON for ``POST /v2/orders``: decimal strings, our client id, exits when allowed."""
        request = plan.request
        payload: dict[str, Any] = {
            "symbol": request.symbol,
            "qty": format_decimal(qty),
            "side": request.side.value,
            "type": "market",
            "time_in_force": "day",
            "client_order_id": venue_id,
        }
        if request.extended_hours:
            assert request.ref_price is not None
            payload.update(type="limit", limit_price=format_decimal(_tick(request.ref_price)), extended_hours=True)
        if not (exits and _wants_exits(request)):
            return payload
        if not _whole(qty):
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
        stop, take = _exit_prices(request.side, base, request.stop_loss_pct, request.take_profit_pct)
        payload["time_in_force"] = "gtc"
        payload["order_class"] = "bracket" if stop is not None and take is not None else "oto"
        if take is not None:
            payload["take_profit"] = {"limit_price": format_decimal(take)}
        if stop is not None:
            payload["stop_loss"] = {"stop_price": format_decimal(stop)}
        return payload

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST the order; a duplicate ``client_order_id`` returns the existing order instead."""
        try:
            return self._client.post("/orders", payload)  # type: ignore[no-any-return]
        except APIError as exc:
            if _is_duplicate(exc):
                existing = self._by_client_id(payload["client_order_id"])
                if existing is not None:
                    return existing
                raise TemporaryError("alpaca reported a duplicate client_order_id it cannot show yet") from None
            raise _translate(exc) from None
        except requests.RequestException as exc:
            raise _translate(exc) from None

    def _send_opening_leg(self, plan: _Plan, close: dict[str, Any]) -> dict[str, Any] | None:
        """Send ``<id>-o`` for the rest once the closing leg filled completely; None when not sent."""
        closed = decimal_or_none(close.get("filled_qty")) or ZERO
        rest = plan.request.qty - closed
        if rest <= 0:
            return None
        try:
            return self._post(self._payload(plan, plan.venue_id + "-o", rest, exits=plan.exits_allowed))
        except BrokerRejected as exc:
            plan.note(f"opening order of the reversal rejected: {exc}")
            plan.open_failed = True
            return None

    # -- updates ----------------------------------------------------------------------------------------------

    def _single_update(self, order: dict[str, Any], plan: _Plan | None, *, best_effort: bool = False) -> OrderUpdate:
        try:
            leg = self._leg(order)
        except TemporaryError:
            if not best_effort:
                raise
            # the order is placed; its fills will be read by the tracker
            state = _STATES.get(str(order.get("status")), OrderState.SUBMITTED)
            leg = _Leg(order, OrderState.SUBMITTED if state is OrderState.FILLED else state, (), ZERO, None)
        if plan is not None and leg.state is OrderState.FILLED:
            self._after_fill(plan, leg.order)
        return OrderUpdate(
            broker_order_id=str(order.get("id", "")),
            state=leg.state,
            filled_qty=leg.filled_qty,
            filled_avg_price=_avg(leg.fills),
            fills=leg.fills,
            reason=self._reason(plan, leg),
            eligible_at=leg.eligible_at,
        )

    def _split_update(self, plan: _Plan | None, close: dict[str, Any], opening: dict[str, Any] | None) -> OrderUpdate:
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
                self._after_fill(plan, open_leg.order)
        ids = "+".join(str(o.get("id", "")) for o in (close, opening) if o is not None)
        reason = "; ".join(filter(None, [self._reason(plan, open_leg or close_leg), *notes]))
        return OrderUpdate(
            broker_order_id=ids,
            state=state,
            filled_qty=filled,
            filled_avg_price=_avg(fills),
            fills=fills,
            reason=reason,
            eligible_at=eligible_at,
        )

    def _leg(self, order: dict[str, Any]) -> _Leg:
        """Translate one venue order: state (QUEUED while the market is closed), fills from activities."""
        status = str(order.get("status", ""))
        state = _STATES.get(status, OrderState.SUBMITTED)
        ordered_fill = decimal_or_none(order.get("filled_qty")) or ZERO
        fills = self._fills(order) if ordered_fill > 0 else ()
        known = sum((f.qty for f in fills), start=ZERO)
        if known < ordered_fill and state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED):
            state = OrderState.PARTIALLY_FILLED  # activities lag the order: wait for them
        eligible_at = None
        if status in _WAITING and ordered_fill == 0 and not order.get("extended_hours"):
            clock = self._clock()
            if not clock.get("is_open", True):
                state = OrderState.QUEUED
                eligible_at = _parse_time(clock.get("next_open"))
        return _Leg(order, state, fills, known, eligible_at)

    def _reason(self, plan: _Plan | None, leg: _Leg) -> str:
        parts = [plan.new_notes()] if plan is not None else []
        if leg.state in (OrderState.REJECTED, OrderState.CANCELED, OrderState.EXPIRED):
            parts.append(f"alpaca order {leg.order.get('status')}")
        return "; ".join(p for p in parts if p)

    def _fills(self, order: dict[str, Any]) -> tuple[FillReport, ...]:
        """Executions of ``order`` from ``/v2/account/activities/FILL`` (ascending, paged by id)."""
        order_id = str(order.get("id"))
        since = _parse_time(order.get("submitted_at") or order.get("created_at"))
        params: dict[str, Any] = {"direction": "asc", "page_size": 100}
        if since is not None:
            params["after"] = (since - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        fills: list[FillReport] = []
        for _ in range(50):
            page = self._call(self._client.get, "/account/activities/FILL", params) or []
            for item in page:
                if str(item.get("order_id")) != order_id:
                    continue
                fills.append(
                    FillReport(
                        fill_id=str(item["id"]),
                        qty=decimal_or_none(item.get("qty")) or ZERO,
                        price=decimal_or_none(item.get("price")) or ZERO,
                        fee=ZERO,
                        filled_at=_parse_time(item.get("transaction_time")) or datetime.now(UTC),
                    )
                )
            if len(page) < params["page_size"]:
                break
            params["page_token"] = page[-1]["id"]
        return tuple(fills)

    # -- protective exits ------------------------------------------------------------------------------------

    def _after_fill(self, plan: _Plan, entry: dict[str, Any]) -> None:
        """Once per entry fill: re-price bracket legs from the fill price, or place the trailing stop."""
        with self._lock:
            if plan.after_fill_done:
                return
            plan.after_fill_done = True
        request = plan.request
        if not (plan.exits_allowed and _wants_exits(request)):
            return
        fill_price = decimal_or_none(entry.get("filled_avg_price"))
        qty = decimal_or_none(entry.get("filled_qty")) or ZERO
        if fill_price is None or not _whole(qty) or request.extended_hours:
            return
        try:
            if request.trailing_pct:
                self._post(
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
            stop, take = _exit_prices(request.side, fill_price, request.stop_loss_pct, request.take_profit_pct)
            for leg in entry.get("legs") or []:
                if _STATES.get(str(leg.get("status")), OrderState.SUBMITTED).is_final:
                    continue
                if leg.get("type") == "limit" and take is not None and decimal_or_none(leg.get("limit_price")) != take:
                    self._call(self._client.patch, f"/orders/{leg['id']}", {"limit_price": format_decimal(take)})
                elif (
                    leg.get("type") in ("stop", "stop_limit")
                    and stop is not None
                    and decimal_or_none(leg.get("stop_price")) != stop
                ):
                    self._call(self._client.patch, f"/orders/{leg['id']}", {"stop_price": format_decimal(stop)})
            parts = [
                f"stop {format_decimal(stop)}" if stop else "",
                f"take profit {format_decimal(take)}" if take else "",
            ]
            plan.note("exits from fill price " + format_decimal(fill_price) + ": " + ", ".join(p for p in parts if p))
        except BotError as exc:
            plan.note(f"protective exit not placed: {exc}")

    def _free_shares(self, plan: _Plan, side: Side, qty: Decimal) -> None:
        """Cancel this bot's exit orders holding shares an order that reduces the position needs.

        The exits of the closing row's own entries (``request.exits_of``) are always cancelled: they
        protect shares this order sells, and left behind they would later sell another row's shares.
        Other exits on the symbol are cancelled only when the shares are not free otherwise.
        """
        position = self._position(plan.request.symbol)
        if position is None:
            return
        held_qty = decimal_or_none(position.get("qty")) or ZERO
        reduces = (held_qty > 0 and side is Side.SELL) or (held_qty < 0 and side is Side.BUY)
        if not reduces:
            return
        own = _exit_owners(plan.request.exits_of)
        enough = _available(position) >= min(qty, abs(held_qty))
        if enough and not own:
            return
        orders = self._call(
            self._client.get,
            "/orders",
            {"status": "open", "symbols": plan.request.symbol, "nested": "true", "limit": 500},
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
                if leg.get("side") != side.value or leg.get("type") not in _EXIT_TYPES:
                    continue
                if _STATES.get(str(leg.get("status")), OrderState.SUBMITTED).is_final:
                    continue
                try:
                    self._call(self._client.cancel_order_by_id, str(leg["id"]))
                    cancelled += 1
                except BrokerRejected:
                    continue  # already filled or cancelled meanwhile
        if cancelled:
            plan.note(f"cancelled {cancelled} protective exit order(s) on {plan.request.symbol} to free the shares")
            deadline = time.monotonic() + self._leg_wait
            while time.monotonic() < deadline:
                position = self._position(plan.request.symbol)
                if position is None or _available(position) >= min(qty, abs(held_qty)):
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
            TemporaryError / ConfigError: see the module doc.
        """
        owners = _exit_owners(client_order_ids)
        params = {
            "status": "all",
            "symbols": symbol,
            "nested": "true",
            # Alpaca filters by its own submission time: a day of margin for a host clock that runs fast
            "after": _rfc3339(since - timedelta(days=1)),
            "direction": "desc",
            "limit": EXIT_LIST_LIMIT,
        }
        orders = self._call(self._client.get, "/orders", params) or []
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
                found = _executed_exit(leg, entry)
                if found is not None:
                    exits.append(found)
        return sorted(exits, key=lambda e: e.filled_at)

    # -- venue reads -------------------------------------------------------------------------------------------

    def _by_client_id(self, venue_id: str) -> dict[str, Any] | None:
        return _found_or_none(self._client.get_order_by_client_id, venue_id)

    def _position(self, symbol: str) -> dict[str, Any] | None:
        return _found_or_none(self._client.get_open_position, symbol)

    def _position_qty(self, symbol: str) -> Decimal:
        position = self._position(symbol)
        if position is None:
            return ZERO
        qty = abs(decimal_or_none(position.get("qty")) or ZERO)
        return -qty if position.get("side") == "short" else qty

    def _asset(self, symbol: str) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._assets.get(symbol)
        if cached is not None and now - cached[0] < self._asset_ttl:
            return cached[1]
        try:
            asset = self._client.get_asset(symbol)
        except APIError as exc:
            if exc.status_code == 404:
                raise BrokerRejected(f"unknown symbol {symbol} on Alpaca", code=str(_error_parts(exc)[0])) from None
            raise _translate(exc) from None
        except (requests.RequestException, ValueError) as exc:
            raise _translate(exc) from None
        with self._lock:
            self._assets[symbol] = (now, asset)  # type: ignore[assignment]
        return asset  # type: ignore[return-value]

    def _clock(self) -> dict[str, Any]:
        now = time.monotonic()
        cached = self._clock_cache
        if cached is not None and now - cached[0] < self._clock_ttl:
            return cached[1]
        clock = self._call(self._client.get_clock)
        self._clock_cache = (now, clock)
        return clock  # type: ignore[no-any-return]

    def _safe_clock_open(self) -> bool:
        """Whether the regular session is open (True when the clock cannot be read)."""
        try:
            return bool(self._clock().get("is_open", True))
        except BotError:
            return True

    def _safe_last_price(self, symbol: str) -> Decimal | None:
        try:
            return self.last_price(symbol)
        except BotError:
            return None

    @staticmethod
    def _call(func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except (APIError, requests.RequestException) as exc:
            raise _translate(exc) from None


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_FINAL = {s for s in OrderState if s.is_final}


def _venue_id(client_order_id: str) -> str:
    """Our id as sent to Alpaca (hashed when too long for the ``-c``/``-o``/``-t`` suffixes)."""
    if len(client_order_id) <= MAX_CLIENT_ID - 2:
        return client_order_id
    return "h-" + hashlib.sha256(client_order_id.encode()).hexdigest()


def _wants_exits(request: OrderRequest) -> bool:
    return bool(request.stop_loss_pct or request.take_profit_pct or request.trailing_pct)


def _whole(qty: Decimal) -> bool:
    return qty == qty.to_integral_value()


def _tick(price: Decimal) -> Decimal:
    """Alpaca's price increment: $0.01 at or above $1, $0.0001 below."""
    return price.quantize(Decimal("0.01") if price >= 1 else Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _exit_prices(
    side: Side, base: Decimal, stop_pct: Decimal | None, take_pct: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """``(stop, take_profit)`` for an entry on ``side`` at ``base``: long stop below/target above, short reversed."""
    sign = Decimal(1) if side is Side.BUY else Decimal(-1)
    stop = _tick(base * (1 - sign * stop_pct / HUNDRED)) if stop_pct else None
    take = _tick(base * (1 + sign * take_pct / HUNDRED)) if take_pct else None
    return stop, take


def _available(position: dict[str, Any]) -> Decimal:
    """Shares of a position not held by open orders (``qty_available``, as a magnitude; 0 if of the wrong sign)."""
    qty = decimal_or_none(position.get("qty")) or ZERO
    available = decimal_or_none(position.get("qty_available"))
    if available is None:
        return abs(qty)
    if position.get("side") == "short" and available <= 0:
        return -available
    return max(available, ZERO)


def _avg(fills: tuple[FillReport, ...]) -> Decimal | None:
    qty = sum((f.qty for f in fills), start=ZERO)
    return sum((f.qty * f.price for f in fills), start=ZERO) / qty if qty else None


def _exit_owners(client_order_ids: Sequence[str]) -> dict[str, str]:
    """Venue ids of the orders that carry the exits of the bot's entries → the entry's id: the entry itself
    (bracket/OTO), the opening order of a split reversal (``-o``) and the trailing stop (``-t``)."""
    return {_venue_id(cid) + suffix: cid for cid in client_order_ids for suffix in ("", "-o", "-t")}


def _executed_exit(order: dict[str, Any], entry_client_order_id: str) -> VenueExit | None:
    """A final exit order with a fill as a :class:`VenueExit`; None for anything else (open, unfilled, not an exit)."""
    kind = _EXIT_KINDS.get(str(order.get("type") or order.get("order_type") or ""))
    state = _STATES.get(str(order.get("status")), OrderState.SUBMITTED)
    qty = decimal_or_none(order.get("filled_qty")) or ZERO
    price = decimal_or_none(order.get("filled_avg_price"))
    filled_at = _parse_time(order.get("filled_at")) or _parse_time(order.get("updated_at"))
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


def _found_or_none(read: Callable[[str], Any], key: str) -> dict[str, Any] | None:
    """``read(key)``, or None when Alpaca answers 404; other errors translated (see :func:`_translate`)."""
    try:
        return read(key)  # type: ignore[no-any-return]
    except APIError as exc:
        if exc.status_code == 404:
            return None
        raise _translate(exc) from None
    except requests.RequestException as exc:
        raise _translate(exc) from None


def _parse_time(value: object) -> datetime | None:
    """UTC datetime from Alpaca's RFC 3339 text (nanoseconds cut to microseconds; offsets honoured)."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        count = len(rest) - len(rest.lstrip("0123456789"))
        digits, zone = rest[:count], rest[count:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    """``2024-05-01T13:30:00Z``: a tz-aware time as Alpaca's query parameters take it (UTC, whole seconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _activity_flow(item: dict[str, Any]) -> CashFlow | None:
    """A ``CSD``/``CSW`` account activity as a :class:`CashFlow` (None: canceled, zero, other type, unreadable)."""
    kind_code = str(item.get("activity_type", "")).upper()
    if kind_code not in ("CSD", "CSW") or str(item.get("status") or "").lower() == "canceled":
        return None
    amount = decimal_or_none(item.get("net_amount"))
    if amount is None or not amount.is_finite() or amount == 0:
        return None
    try:
        day = date.fromisoformat(str(item.get("date", ""))[:10])
    except ValueError:
        return None
    kind = "deposit" if kind_code == "CSD" and amount > 0 else "withdrawal"
    note = f"alpaca {kind_code}"
    if kind_code == "CSD" and amount < 0:
        note += " with a negative amount (returned deposit)"
    description = str(item.get("description") or "").strip()
    if description:
        note += f": {description}"
    return CashFlow(
        flow_at=datetime.combine(day, datetime.min.time(), NEW_YORK),
        kind=kind,
        amount=abs(amount),
        currency="USD",
        reference=str(item.get("id", "")),
        broker="alpaca",
        source="alpaca",
        note=note,
    )


def _error_parts(exc: APIError) -> tuple[str, str]:
    """``(code, message)`` of an Alpaca error body ``{"code": ..., "message": ...}``."""
    try:
        body = json.loads(str(exc))
        return str(body.get("code", "")), str(body.get("message", "")).strip()
    except (ValueError, AttributeError, TypeError):
        return "", str(exc)[:200].strip()


def _is_duplicate(exc: APIError) -> bool:
    _, message = _error_parts(exc)
    return exc.status_code == 422 and "client_order_id" in message and "unique" in message


def _translate(exc: Exception) -> BotError:
    """A vendor exception as the bot's error type (module doc: which is which)."""
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        code, message = _error_parts(exc)
        text = f"alpaca {status} {code}: {message}".replace("  ", " ")
        if status == 429 or status >= 500:
            return TemporaryError(text)
        if status == 401 or (status == 403 and not code):
            return ConfigError(
                f"{text} — check ALPACA_API_KEY/ALPACA_API_SECRET and ALPACA_PAPER (paper keys work only on paper)",
                field="ALPACA_API_KEY",
            )
        return BrokerRejected(text, code=code)
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return TemporaryError(f"alpaca unreachable: {type(exc).__name__}")
    if isinstance(exc, requests.RequestException):
        return TemporaryError(f"alpaca request failed: {type(exc).__name__}")
    if isinstance(exc, ValueError):
        return TemporaryError(f"alpaca sent an unreadable answer: {exc}")
    return TemporaryError(str(exc))
