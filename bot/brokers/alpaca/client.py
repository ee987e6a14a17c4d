"""Alpaca's HTTP side: the alpaca-py clients and :class:`AlpacaClient`, the one place requests go through.

SDK hooks: ``TradingClient(paper=, raw_data=True, url_override=ALPACA_BASE_URL)`` and
``StockHistoricalDataClient(raw_data=True, url_override=ALPACA_DATA_URL)``. alpaca-py 0.44 has no
constructor option for a request timeout and retries 429/504 itself with 3 s sleeps; the clients
here are subclasses that give their ``requests`` session a timeout and turn the SDK's own retry
off (``RESTClient._session`` / ``_retry``), so retries happen in one place (the engine, with the
same ``client_order_id``).

**Errors**: 401 and 403 without an Alpaca code (bad or wrong-environment keys) →
:class:`ConfigError`; 429, 5xx, timeouts, connection errors → :class:`TemporaryError`;
everything else the venue refuses (insufficient buying power 40310000, unknown symbol, ...) →
:class:`BrokerRejected` with Alpaca's code and message (:func:`translate`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockLatestTradeRequest
from alpaca.trading.client import TradingClient

from bot.brokers.alpaca.wire import ZERO
from bot.brokers.base import decimal_or_none
from bot.errors import BotError, BrokerRejected, ConfigError, TemporaryError

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
# The request facade
# --------------------------------------------------------------------------------------------


class AlpacaClient:
    """Trading API (``/v2``) and Market Data API requests, answers as raw JSON, errors as :mod:`bot.errors`.

    Args:
        api_key / secret_key: the account's keys.
        paper: paper trading endpoint (else live).
        base_url / data_url: ``ALPACA_BASE_URL`` / ``ALPACA_DATA_URL`` overrides (None: alpaca-py's default).
        timeout: seconds before an HTTP request is abandoned (→ :class:`TemporaryError`).
        asset_cache_seconds: how long an asset (``/v2/assets/{symbol}``) is cached.

    Every method raises :class:`TemporaryError` / :class:`ConfigError` / :class:`BrokerRejected` as
    :func:`translate` says.
    """

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        paper: bool,
        base_url: str | None,
        data_url: str | None,
        timeout: float,
        asset_cache_seconds: float,
    ) -> None:
        self.trading = _TradingClient(
            api_key=api_key, secret_key=secret_key, paper=paper, url_override=base_url, timeout=timeout
        )
        self.data = _DataClient(api_key=api_key, secret_key=secret_key, url_override=data_url, timeout=timeout)
        self._asset_ttl = asset_cache_seconds
        self._assets: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.RLock()

    @staticmethod
    def call(func: Any, *args: Any) -> Any:
        """``func(*args)`` with vendor exceptions translated (:func:`translate`)."""
        try:
            return func(*args)
        except (APIError, requests.RequestException) as exc:
            raise translate(exc) from None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET /v2{path}`` of the Trading API with query ``params``: the JSON answer."""
        return self.call(self.trading.get, path, params)

    def data_get(self, path: str, params: dict[str, Any]) -> Any:
        """``GET /v2{path}`` of the Market Data API with query ``params``: the JSON answer."""
        return self.call(self.data.get, path, params)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        """``PATCH /v2{path}`` of the Trading API with the JSON ``body`` (re-pricing an open order)."""
        return self.call(self.trading.patch, path, body)

    def cancel(self, order_id: str) -> None:
        """``DELETE /v2/orders/{order_id}``. Raises BrokerRejected when the order is no longer cancelable."""
        self.call(self.trading.cancel_order_by_id, order_id)

    def account(self) -> dict[str, Any]:
        """``GET /v2/account``."""
        return self.call(self.trading.get_account)  # type: ignore[no-any-return]

    def all_positions(self) -> list[dict[str, Any]]:
        """``GET /v2/positions`` (``[]`` when the answer is empty)."""
        return self.call(self.trading.get_all_positions) or []

    def clock(self) -> Any:
        """``GET /v2/clock`` read now (``is_open``, ``next_open``, ``timestamp``)."""
        return self.call(self.trading.get_clock)

    def last_price(self, symbol: str) -> Decimal | None:
        """Price of the latest trade (Market Data API ``/v2/stocks/trades/latest``), or None."""
        try:
            trades = self.data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=symbol))
        except (APIError, requests.RequestException) as exc:
            raise translate(exc) from None
        trade = trades.get(symbol) if isinstance(trades, dict) else None
        if not trade or trade.get("p") is None:
            return None
        return decimal_or_none(trade["p"])

    def by_client_id(self, venue_id: str) -> dict[str, Any] | None:
        """The order sent with ``client_order_id`` = ``venue_id``, or None when Alpaca has none."""
        return found_or_none(self.trading.get_order_by_client_id, venue_id)

    def position(self, symbol: str) -> dict[str, Any] | None:
        """The open position in ``symbol`` (``/v2/positions/{symbol}``), or None when flat."""
        return found_or_none(self.trading.get_open_position, symbol)

    def position_qty(self, symbol: str) -> Decimal:
        """The position in ``symbol`` as signed shares (negative = short; 0 when flat)."""
        position = self.position(symbol)
        if position is None:
            return ZERO
        qty = abs(decimal_or_none(position.get("qty")) or ZERO)
        return -qty if position.get("side") == "short" else qty

    def asset(self, symbol: str) -> dict[str, Any]:
        """``/v2/assets/{symbol}`` (cached ``asset_cache_seconds``). Raises BrokerRejected for an unknown symbol."""
        now = time.monotonic()
        with self._lock:
            cached = self._assets.get(symbol)
        if cached is not None and now - cached[0] < self._asset_ttl:
            return cached[1]
        try:
            asset = self.trading.get_asset(symbol)
        except APIError as exc:
            if exc.status_code == 404:
                raise BrokerRejected(f"unknown symbol {symbol} on Alpaca", code=str(error_parts(exc)[0])) from None
            raise translate(exc) from None
        except (requests.RequestException, ValueError) as exc:
            raise translate(exc) from None
        with self._lock:
            self._assets[symbol] = (now, asset)  # type: ignore[assignment]
        return asset  # type: ignore[return-value]

    def post_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST the order; a duplicate ``client_order_id`` returns the existing order instead."""
        try:
            return self.trading.post("/orders", payload)  # type: ignore[no-any-return]
        except APIError as exc:
            if is_duplicate(exc):
                existing = self.by_client_id(payload["client_order_id"])
                if existing is not None:
                    return existing
                raise TemporaryError("alpaca reported a duplicate client_order_id it cannot show yet") from None
            raise translate(exc) from None
        except requests.RequestException as exc:
            raise translate(exc) from None

    def close(self) -> None:
        """Close the HTTP sessions."""
        self.trading._session.close()
        self.data._session.close()


# --------------------------------------------------------------------------------------------
# Vendor exceptions → bot.errors
# --------------------------------------------------------------------------------------------


def found_or_none(read: Callable[[str], Any], key: str) -> dict[str, Any] | None:
    """``read(key)``, or None when Alpaca answers 404; other errors translated (see :func:`translate`)."""
    try:
        return read(key)  # type: ignore[no-any-return]
    except APIError as exc:
        if exc.status_code == 404:
            return None
        raise translate(exc) from None
    except requests.RequestException as exc:
        raise translate(exc) from None


def error_parts(exc: APIError) -> tuple[str, str]:
    """``(code, message)`` of an Alpaca error body ``{"code": ..., "message": ...}``."""
    try:
        body = json.loads(str(exc))
        return str(body.get("code", "")), str(body.get("message", "")).strip()
    except (ValueError, AttributeError, TypeError):
        return "", str(exc)[:200].strip()


def is_duplicate(exc: APIError) -> bool:
    """Whether Alpaca refused an order because its ``client_order_id`` was used before (422)."""
    _, message = error_parts(exc)
    return exc.status_code == 422 and "client_order_id" in message and "unique" in message


def translate(exc: Exception) -> BotError:
    """A vendor exception as the bot's error type (module doc: which is which)."""
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        code, message = error_parts(exc)
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
