"""Account kinds of the report: stock or crypto, from the broker and the symbols it traded (pure).

The kind sets the report's calendar: 252 periods a year on ``America/New_York`` days
(:data:`NEW_YORK`, the exchange's day) for stock accounts, 365 on UTC days for crypto.
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from bot.domain import normalise_symbol
from bot.records import Table

__all__ = ["NEW_YORK", "account_kind", "account_kinds", "is_crypto_symbol"]

#: Calendar-day zone of stock accounts (a daily valuation is the close) and of benchmark closes.
NEW_YORK = ZoneInfo("America/New_York")
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI")
_CRYPTO_BASES = ("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "LTC")


def is_crypto_symbol(symbol: str) -> bool:
    """True for a crypto pair: ``BTC/USD`` (a slash), or a quote suffix such as ``BTCUSDT``, ``ETHUSDC``.

    Also ``<coin>USD``/``<coin>BTC`` for the large coins (``BTCUSD``, ``ETHBTC``). Stock tickers
    (``AAPL``, ``BRK.B``) are not crypto.
    """
    text = symbol.upper()
    if "/" in text:
        return True
    if any(text.endswith(quote) and len(text) > len(quote) for quote in _CRYPTO_QUOTES):
        return True
    return any(text.startswith(base) and text[len(base) :] in ("USD", "BTC", "ETH") for base in _CRYPTO_BASES)


def account_kind(broker: str, symbols: Iterable[str] = ()) -> str:
    """``"crypto"`` for Binance (spot or futures) or any crypto symbol traded, else ``"stock"``."""
    if broker.lower().startswith("binance"):
        return "crypto"
    return "crypto" if any(is_crypto_symbol(symbol) for symbol in symbols) else "stock"


def account_kinds(accounts: Iterable[str], orders: Table, default_broker: str) -> dict[str, str]:
    """:func:`account_kind` of each broker in ``accounts``, from the symbols of its rows in the Orders tab.

    Args:
        accounts: broker names (the Snapshots ``broker`` cells).
        orders: the Orders tab; a row with a blank ``broker`` cell is the ``default_broker``'s, an
            unusable symbol is skipped.
        default_broker: the registry's default broker name.

    Returns:
        ``{broker: "stock" | "crypto"}``.
    """
    symbols: dict[str, set[str]] = {}
    for row in orders.rows:
        broker = (row.get("broker") or "").strip() or default_broker
        try:
            symbols.setdefault(broker, set()).add(normalise_symbol(row.get("symbol") or ""))
        except ValueError:
            continue
    return {broker: account_kind(broker, symbols.get(broker, ())) for broker in accounts}
