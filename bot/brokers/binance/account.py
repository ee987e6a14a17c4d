"""What a Binance account holds: account values, net positions and asset balances, valued in the quote asset
(``USDT``, counted as USD). Spot reads ``/api/v3/account`` and tickers, futures ``/fapi/v2/account``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.brokers.base import Account, decimal_or_none
from bot.brokers.binance.client import Client, call
from bot.brokers.binance.instruments import Instruments
from bot.brokers.binance.wire import ZERO
from bot.records import Balance


def account(client: Client, *, futures: bool, name: str, quote: str) -> Account:
    """Account values in the quote asset (USDT).

    Spot: ``equity`` = every balance (free + locked) valued at its ``<asset>USDT`` price (assets
    without one are left out), ``cash`` = USDT free + locked, ``buying_power`` = USDT free.
    Futures: ``equity`` = USDT wallet balance + unrealized P&L, ``cash`` = wallet balance,
    ``buying_power`` = available balance, ``positions_value`` = unrealized P&L.

    Raises:
        TemporaryError / ConfigError / BrokerRejected: see :mod:`bot.brokers.binance.client`.
    """
    if futures:
        data = call(client.futures_account)
        usdt = next((a for a in data.get("assets", []) if a.get("asset") == quote), {})
        wallet = decimal_or_none(usdt.get("walletBalance")) or ZERO
        unrealized = decimal_or_none(usdt.get("unrealizedProfit")) or ZERO
        return Account(
            account_id=name,
            equity=wallet + unrealized,
            cash=wallet,
            buying_power=decimal_or_none(usdt.get("availableBalance")) or ZERO,
            positions_value=unrealized,
            currency=quote,
        )
    data = call(client.get_account)
    prices = {t["symbol"]: decimal_or_none(t.get("price")) for t in call(client.get_all_tickers) or []}
    cash = free_quote = ZERO
    value = ZERO
    for balance in data.get("balances", []):
        asset = str(balance.get("asset"))
        free = decimal_or_none(balance.get("free")) or ZERO
        total = free + (decimal_or_none(balance.get("locked")) or ZERO)
        if not total:
            continue
        if asset == quote:
            cash, free_quote = total, free
            continue
        price = prices.get(asset + quote)
        if price:
            value += total * price
    return Account(
        account_id=f"{name}-{data.get('uid', 'spot')}",
        equity=cash + value,
        cash=cash,
        buying_power=free_quote,
        positions_value=value,
        currency=quote,
    )


def positions(client: Client, instruments: Instruments, *, futures: bool, quote: str) -> dict[str, Decimal]:
    """Net position per symbol: futures ``positionAmt`` (signed); spot base-asset balances
    (free + locked) as ``<asset>USDT`` for assets listed against USDT.

    Raises:
        TemporaryError / ConfigError / BrokerRejected: see :mod:`bot.brokers.binance.client`.
    """
    if futures:
        result = {}
        for item in call(client.futures_position_information) or []:
            amount = decimal_or_none(item.get("positionAmt")) or ZERO
            if amount:
                result[str(item["symbol"])] = amount
        return result
    data = call(client.get_account)
    symbols = instruments.table()
    result = {}
    for balance in data.get("balances", []):
        asset = str(balance.get("asset"))
        total = (decimal_or_none(balance.get("free")) or ZERO) + (decimal_or_none(balance.get("locked")) or ZERO)
        if total and asset != quote and asset + quote in symbols:
            result[asset + quote] = total
    return result


def balances(client: Client, *, futures: bool, quote: str) -> list[Balance]:
    """Assets held, each valued in the quote asset (USDT, counted as USD).

    Spot: every balance of ``GET /api/v3/account`` with free + locked ≠ 0, valued at its
    ``<ASSET>USDT`` price from ``GET /api/v3/ticker/price`` (all symbols, one request); USDT
    itself at its amount; a Simple Earn flexible balance ``LD<ASSET>`` at the price of
    ``<ASSET>`` when ``LD<ASSET>`` has none of its own.
    Futures: every asset of ``GET /fapi/v2/account`` with a wallet balance ≠ 0, as ``free``
    (``locked`` 0; unrealized P&L is part of the Snapshots equity, not of a balance), valued at
    the ``<ASSET>USDT`` price from ``GET /fapi/v2/ticker/price``.

    Returns:
        :class:`~bot.records.Balance` values in the venue's order; ``usd_value`` None when
        there is no price for the asset.

    Raises:
        TemporaryError / ConfigError / BrokerRejected: see :mod:`bot.brokers.binance.client`.
    """
    out: list[Balance] = []
    if futures:
        data = call(client.futures_account)
        prices = _all_prices(client.futures_symbol_ticker)
        for item in data.get("assets", []):
            wallet = decimal_or_none(item.get("walletBalance")) or ZERO
            if wallet:
                asset = str(item.get("asset"))
                out.append(Balance(asset, wallet, ZERO, _value(asset, wallet, prices, quote)))
        return out
    data = call(client.get_account)
    prices = _all_prices(client.get_all_tickers)
    for item in data.get("balances", []):
        free = decimal_or_none(item.get("free")) or ZERO
        locked = decimal_or_none(item.get("locked")) or ZERO
        if free + locked:
            asset = str(item.get("asset"))
            out.append(Balance(asset, free, locked, _value(asset, free + locked, prices, quote)))
    return out


def _all_prices(fetch: Callable[..., Any]) -> dict[str, Decimal]:
    """``{symbol: price}`` of every ticker (prices that are not numbers are left out)."""
    prices: dict[str, Decimal] = {}
    for item in call(fetch) or []:
        price = decimal_or_none(item.get("price")) if isinstance(item, dict) else None
        if price:
            prices[str(item.get("symbol"))] = price
    return prices


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
