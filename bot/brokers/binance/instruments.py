"""Binance symbols: exchange filters (``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``NOTIONAL``/``MIN_NOTIONAL``) as an
:class:`Instrument`, and ticker prices.

The quantity step is ``LOT_SIZE.stepSize`` (or ``MARKET_LOT_SIZE``'s when coarser), the minimum
quantity the larger ``minQty``, the minimum notional spot ``NOTIONAL``/``MIN_NOTIONAL`` (when it
applies to market orders) or futures ``MIN_NOTIONAL.notional``. Exchange info is cached for
``info_cache_seconds``. **Spot is long-only** (``Instrument.shortable`` false: a sell only closes).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

from bot.brokers.base import decimal_or_none
from bot.brokers.binance.client import Client, call
from bot.brokers.binance.wire import ZERO
from bot.errors import BotError, BrokerRejected
from bot.records import Instrument


class Instruments:
    """Symbol rules and prices of one Binance venue (spot or USD-M futures).

    Args:
        client: the python-binance ``Client``.
        futures: USD-M futures (``/fapi``) instead of spot (``/api``).
        name: the broker's name for messages (``binance`` / ``binance-futures``).
        info_cache_seconds: how long exchange info is cached.

    Every method raises :class:`TemporaryError` / :class:`ConfigError` as
    :func:`bot.brokers.binance.client.translate` says.
    """

    def __init__(self, client: Client, *, futures: bool, name: str, info_cache_seconds: float) -> None:
        self._client = client
        self._futures = futures
        self._name = name
        self._info_ttl = info_cache_seconds
        self._lock = threading.RLock()
        self._info: tuple[float, dict[str, dict[str, Any]]] | None = None

    def instrument(self, symbol: str) -> Instrument:
        """Filters of ``symbol`` as an :class:`Instrument` (spot: not shortable).

        Raises:
            BrokerRejected: unknown symbol (``-1121``) or not trading.
        """
        info = self.symbol(symbol)
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

    def symbol(self, symbol: str) -> dict[str, Any]:
        """Exchange info of ``symbol`` (``filters``, ``baseAsset``, ``quoteAsset``, ...).

        Raises:
            BrokerRejected: unknown symbol (``-1121``) or not trading.
        """
        info = self.table().get(symbol)
        if info is None:
            raise BrokerRejected(f"unknown symbol {symbol} on {self._name}", code="-1121")
        if info.get("status") != "TRADING" or info.get("isSpotTradingAllowed") is False:
            raise BrokerRejected(
                f"{symbol} is not trading on {self._name} (status {info.get('status')})", code="status"
            )
        return info

    def table(self) -> dict[str, dict[str, Any]]:
        """Exchange info of every symbol, by symbol (cached ``info_cache_seconds``)."""
        now = time.monotonic()
        with self._lock:
            cached = self._info
        if cached is not None and now - cached[0] < self._info_ttl:
            return cached[1]
        data = call(self._client.futures_exchange_info if self._futures else self._client.get_exchange_info)
        table = {str(s["symbol"]): s for s in data.get("symbols", [])}
        with self._lock:
            self._info = (now, table)
        return table

    def last_price(self, symbol: str) -> Decimal | None:
        """Latest price from the ticker (``/api/v3/ticker/price`` or ``/fapi/v2/ticker/price``), or None."""
        if self._futures:
            data = call(self._client.futures_symbol_ticker, symbol=symbol)
        else:
            data = call(self._client.get_symbol_ticker, symbol=symbol)
        if isinstance(data, list):
            data = next((d for d in data if d.get("symbol") == symbol), {})
        return decimal_or_none(data.get("price")) if isinstance(data, dict) else None

    def safe_price(self, symbol: str) -> Decimal | None:
        """:meth:`last_price`, or None when the ticker cannot be read."""
        try:
            return self.last_price(symbol)
        except BotError:
            return None
