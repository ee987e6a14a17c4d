"""Alpaca adapter (alpaca-py): US equities, paper or live by ``ALPACA_PAPER`` (default paper).

:class:`AlpacaBroker` implements :class:`bot.brokers.base.Broker` by delegating: requests and error
translation to :mod:`~bot.brokers.alpaca.client`, orders (split reversals, fractional rules, queued
orders while the market is closed, fills) to :mod:`~bot.brokers.alpaca.orders`, protective exits to
:mod:`~bot.brokers.alpaca.exits` and account history to :mod:`~bot.brokers.alpaca.history`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.brokers.alpaca import history
from bot.brokers.alpaca.client import AlpacaClient
from bot.brokers.alpaca.exits import ProtectiveExits
from bot.brokers.alpaca.orders import OrderDesk
from bot.brokers.alpaca.wire import FRACTION_STEP, ZERO, parse_time
from bot.brokers.base import Account, Capabilities, OrderRequest, OrderUpdate, VenueExit, decimal_or_none
from bot.errors import ConfigError, TemporaryError
from bot.records import CashFlow, Instrument
from bot.settings import Settings


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
        self._client = AlpacaClient(
            api_key=key,
            secret_key=secret,
            paper=settings.alpaca_paper,
            base_url=settings.alpaca_base_url or None,
            data_url=settings.alpaca_data_url or None,
            timeout=timeout,
            asset_cache_seconds=asset_cache_seconds,
        )
        self._clock_ttl = clock_cache_seconds
        self._clock_cache: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.RLock()
        self._exits = ProtectiveExits(
            self._client, self._lock, wait_seconds=leg_wait_seconds, poll_seconds=poll_seconds
        )
        self._orders = OrderDesk(
            self._client,
            self._exits,
            self._clock,
            self._lock,
            leg_wait_seconds=leg_wait_seconds,
            poll_seconds=poll_seconds,
        )

    # -- rules and prices ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """Rules of ``symbol``: step 1e-9 when fractionable (else 1), $1 minimum for fractional
        orders, ``shortable`` when Alpaca lists it shortable and easy to borrow, whole-share shorts.

        Raises:
            BrokerRejected: unknown or non-tradable symbol. TemporaryError / ConfigError: see
            :mod:`bot.brokers.alpaca.client`.
        """
        asset = self._client.asset(symbol)
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
        return self._client.last_price(symbol)

    # -- orders -----------------------------------------------------------------------------------------

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Place ``request`` (market, or extended-hours limit) and return the venue's answer at once.

        Idempotent by ``client_order_id``: a repeat returns the existing order (or resumes a split
        reversal). A reversal is split into ``-c``/``-o`` legs (:mod:`bot.brokers.alpaca.orders`); the
        closing leg is followed for up to ``leg_wait_seconds``, then the opening leg is sent.

        Raises:
            BrokerRejected: the venue refused (code and message), a fractional quantity on a
                non-fractionable asset, an extended-hours order without a price.
            TemporaryError: timeout, 5xx, rate limit (retry with the same request).
            ConfigError: bad keys.
        """
        return self._orders.submit_order(request)

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """The order with our id (both legs aggregated for a split reversal), or None when Alpaca
        never received it. Completes a split reversal (sends the opening leg once the closing leg
        filled) and the after-fill exits of an entry. ``symbol`` is not needed on Alpaca.

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.alpaca.client`.
        """
        return self._orders.get_order(client_order_id)

    def venue_exits(self, symbol: str, client_order_ids: Sequence[str], since: datetime) -> list[VenueExit]:
        """The protective exits of the bot's entries ``client_order_ids`` on ``symbol`` that Alpaca executed
        since ``since`` (UTC), oldest first; see :meth:`bot.brokers.alpaca.exits.ProtectiveExits.venue_exits`.

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.alpaca.client`.
        """
        return self._exits.venue_exits(symbol, client_order_ids, since)

    # -- account ------------------------------------------------------------------------------------------

    def account(self) -> Account:
        """Equity, cash and buying power in USD (``/v2/account``); positions value = long + short market value."""
        data = self._client.account()
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
        for item in self._client.all_positions():
            qty = abs(decimal_or_none(item.get("qty")) or ZERO)
            if qty:
                result[str(item["symbol"])] = -qty if item.get("side") == "short" else qty
        return result

    def close(self) -> None:
        """Close the HTTP sessions."""
        self._client.close()

    # -- history (optional methods: bot.snapshots, bot.report, bot.doctor) ---------------------------------

    def cash_flows(self, since: datetime | None = None) -> list[CashFlow]:
        """Deposits and withdrawals (activities ``CSD``/``CSW``) since ``since`` (UTC; all when None), oldest
        first; see :func:`bot.brokers.alpaca.history.cash_flows`.

        Raises:
            TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys. BrokerRejected: other refusals.
        """
        return history.cash_flows(self._client, since)

    def daily_closes(self, symbol: str, start: date, end: date) -> list[tuple[date, Decimal]]:
        """``[(day, close)]`` of ``symbol`` on the New York trading days from ``start`` to ``end`` inclusive,
        ascending (split- and dividend-adjusted SIP closes); see :func:`bot.brokers.alpaca.history.daily_closes`.

        Raises:
            BrokerRejected: the symbol or request refused. TemporaryError: timeout, 5xx, rate limit.
            ConfigError: bad keys.
        """
        return history.daily_closes(self._client, symbol, start, end)

    def server_time(self) -> datetime:
        """Alpaca's clock: ``timestamp`` of ``GET /v2/clock`` (read now, not the cached market clock), UTC.

        Raises:
            TemporaryError: unreachable, or no readable timestamp. ConfigError: bad keys.
        """
        clock = self._client.clock()
        when = parse_time(clock.get("timestamp")) if isinstance(clock, dict) else None
        if when is None:
            raise TemporaryError(f"alpaca clock sent no readable timestamp: {str(clock)[:200]}")
        return when

    # -- the market clock ------------------------------------------------------------------------------

    def _clock(self) -> dict[str, Any]:
        """``/v2/clock`` JSON, cached ``clock_cache_seconds`` (``_clock_cache`` = None forces a read)."""
        now = time.monotonic()
        cached = self._clock_cache
        if cached is not None and now - cached[0] < self._clock_ttl:
            return cached[1]
        clock = self._client.clock()
        self._clock_cache = (now, clock)
        return clock  # type: ignore[no-any-return]
