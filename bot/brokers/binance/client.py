"""Binance's HTTP side: the python-binance ``Client`` pointed at the right hosts, and vendor exceptions as
:mod:`bot.errors` (:func:`call` is the one place requests go through; :func:`translate` says which is which).

SDK hooks: ``Client(api_key, api_secret, testnet=, ping=False, requests_params={"timeout": ...})``
and, for ``BINANCE_API_URL`` / ``BINANCE_FUTURES_URL``, the client's ``API_URL`` /
``API_TESTNET_URL`` and ``FUTURES_URL`` / ``FUTURES_TESTNET_URL`` attributes (the base before
``/v3/...`` and ``/v1/...``; ``/api`` and ``/fapi`` are appended when missing). ``MARGIN_API_URL``
(the ``/sapi`` base) follows ``BINANCE_API_URL`` (same host, ``/sapi``); on the testnet without it,
it is the testnet host's ``/sapi`` (python-binance would send testnet keys to the live host).

**Errors**: 401, ``-2014``/``-2015`` (key, IP or permission), ``-1022`` (signature) →
:class:`ConfigError`; 429/418, 5xx, ``-1003``, ``-1007``, ``-1021``, timeouts, connection errors →
:class:`TemporaryError`; everything else (``-2010`` insufficient balance, ``-1013`` filter
failure, ``-1121`` invalid symbol, ``-2019`` margin, ...) → :class:`BrokerRejected` with the code
and message.
"""

from __future__ import annotations

import warnings
from typing import Any

import requests

from bot.errors import BotError, BrokerRejected, ConfigError, TemporaryError
from bot.settings import Settings

with warnings.catch_warnings():
    # python-binance 1.0.37 imports a deprecated websockets name at import time (websocket API unused here)
    warnings.filterwarnings("ignore", "websockets.WebSocketClientProtocol is deprecated", DeprecationWarning)
    from binance.client import Client
    from binance.exceptions import BinanceAPIException, BinanceRequestException

# the package's other modules take the vendor names from here, so the warning filter above always applies
__all__ = [
    "BinanceAPIException",
    "BinanceRequestException",
    "Client",
    "brief",
    "call",
    "is_duplicate",
    "make_client",
    "translate",
]

_TEMPORARY_CODES = {-1000, -1001, -1003, -1006, -1007, -1008, -1015, -1021}
_CONFIG_CODES = {-1002, -1022, -2014, -2015}
_DUPLICATE_CODES = {-4116}
#: The exceptions a python-binance request raises (translated by :func:`translate`).
VENDOR_ERRORS = (BinanceAPIException, BinanceRequestException, requests.RequestException, ValueError)


def make_client(settings: Settings, *, key: str, secret: str, timeout: float) -> Client:
    """A python-binance ``Client`` for ``BINANCE_TESTNET`` with the ``BINANCE_API_URL`` / ``BINANCE_FUTURES_URL``
    overrides applied (module doc), every request abandoned after ``timeout`` seconds. No request is sent."""
    client = Client(key, secret, testnet=settings.binance_testnet, ping=False, requests_params={"timeout": timeout})
    if settings.binance_api_url:
        url = _with_suffix(settings.binance_api_url, "/api")
        client.API_URL = url
        client.API_TESTNET_URL = url
        client.MARGIN_API_URL = url.removesuffix("/api") + "/sapi"
    elif settings.binance_testnet:  # python-binance keeps the live /sapi host on the testnet
        client.MARGIN_API_URL = client.API_TESTNET_URL.rstrip("/").removesuffix("/api") + "/sapi"
    if settings.binance_futures_url:
        url = _with_suffix(settings.binance_futures_url, "/fapi")
        client.FUTURES_URL = url
        client.FUTURES_TESTNET_URL = url
    return client


def call(func: Any, **kwargs: Any) -> Any:
    """``func(**kwargs)`` (a ``Client`` method) with vendor exceptions translated (:func:`translate`)."""
    try:
        return func(**kwargs)
    except VENDOR_ERRORS as exc:
        raise translate(exc) from None


def _with_suffix(url: str, suffix: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith(suffix) else url + suffix


def brief(exc: Exception) -> str:
    """One line about a failed request (an HTML error page is named by its HTTP status only)."""
    if isinstance(exc, BinanceAPIException) and not exc.code:
        return f"HTTP {exc.status_code}"
    return " ".join(str(translate(exc)).split())[:200]


def is_duplicate(exc: BinanceAPIException) -> bool:
    """Whether Binance refused an order because its client order id was sent before."""
    message = str(exc.message or "").lower()
    return exc.code in _DUPLICATE_CODES or (exc.code == -2010 and "duplicate" in message)


def translate(exc: Exception) -> BotError:
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
