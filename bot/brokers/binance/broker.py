"""Binance adapter (python-binance): spot (``binance``) and USD-M futures (``binance-futures``).

Testnet by ``BINANCE_TESTNET`` (default on; ``live`` is its negation). :class:`BinanceBroker`
implements :class:`bot.brokers.base.Broker` by delegating: the client and error translation to
:mod:`~bot.brokers.binance.client`, exchange filters and prices to
:mod:`~bot.brokers.binance.instruments`, orders to :mod:`~bot.brokers.binance.orders` (fills and
commissions: :mod:`~bot.brokers.binance.fills`), holdings to :mod:`~bot.brokers.binance.account` and
deposits/withdrawals to :mod:`~bot.brokers.binance.history`.

- **History** (optional methods read by :mod:`bot.snapshots` and :mod:`bot.doctor`):
  :meth:`BinanceBroker.balances` (assets valued in USDT), :meth:`BinanceBroker.cash_flows` (spot
  deposit and withdrawal history) and :meth:`BinanceBroker.server_time`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.brokers.base import Account, Capabilities, OrderRequest, OrderUpdate
from bot.brokers.binance import account as holdings
from bot.brokers.binance.client import call, make_client
from bot.brokers.binance.history import TransferHistory
from bot.brokers.binance.instruments import Instruments
from bot.brokers.binance.notes import OrderNotes
from bot.brokers.binance.orders import OrderDesk
from bot.brokers.binance.wire import ms_time
from bot.errors import ConfigError, TemporaryError
from bot.records import Balance, CashFlow, Instrument
from bot.settings import Settings


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
        self._client = make_client(settings, key=key, secret=secret, timeout=timeout)
        self._instruments = Instruments(
            self._client, futures=futures, name=self.name, info_cache_seconds=info_cache_seconds
        )
        self._orders = OrderDesk(
            self._client, self._instruments, OrderNotes(), futures=futures, name=self.name, quote_asset=quote_asset
        )
        self._transfers = TransferHistory(
            self._client, futures=futures, name=self.name, live=self.live, history_days=history_days
        )

    # -- rules and prices ---------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """Filters of ``symbol`` as an :class:`Instrument` (spot: not shortable).

        Raises:
            BrokerRejected: unknown symbol (``-1121``) or not trading. TemporaryError: see
            :mod:`bot.brokers.binance.client`.
        """
        return self._instruments.instrument(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        """Latest price from the ticker (``/api/v3/ticker/price`` or ``/fapi/v2/ticker/price``), or None."""
        return self._instruments.last_price(symbol)

    # -- orders -----------------------------------------------------------------------------------------

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Send ``request`` as a MARKET order and return the venue's answer (with fills when known).

        Idempotent by ``client_order_id`` (looked up before sending; see :mod:`bot.brokers.binance.orders`).

        Raises:
            BrokerRejected: below LOT_SIZE/NOTIONAL (checked here first), or refused by Binance
                (code and message). TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys,
                hedge mode with open positions.
        """
        return self._orders.submit_order(request)

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """The order with our id, or None when Binance never received it.

        Binance needs the symbol to look an order up: ``symbol`` when given, else the one this
        process sent it for, else the venue's open orders are searched (an order that is no longer
        open and was sent before a restart is then not found: None).

        Raises:
            TemporaryError / ConfigError: see :mod:`bot.brokers.binance.client`.
        """
        return self._orders.get_order(client_order_id, symbol)

    # -- account ------------------------------------------------------------------------------------------

    def account(self) -> Account:
        """Account values in the quote asset (USDT); see :func:`bot.brokers.binance.account.account`."""
        return holdings.account(self._client, futures=self._futures, name=self.name, quote=self._quote)

    def positions(self) -> dict[str, Decimal]:
        """Net position per symbol: futures ``positionAmt`` (signed); spot base-asset balances
        (free + locked) as ``<asset>USDT`` for assets listed against USDT."""
        return holdings.positions(self._client, self._instruments, futures=self._futures, quote=self._quote)

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close_connection()

    # -- history (optional methods: bot.snapshots, bot.doctor) ------------------------------------------------

    def balances(self) -> list[Balance]:
        """Assets held, each valued in the quote asset (USDT, counted as USD); ``usd_value`` None without a
        price. See :func:`bot.brokers.binance.account.balances`.

        Raises:
            TemporaryError / ConfigError / BrokerRejected: see :mod:`bot.brokers.binance.client`.
        """
        return holdings.balances(self._client, futures=self._futures, quote=self._quote)

    def cash_flows(self, since: datetime | None = None) -> list[CashFlow]:
        """Deposits and withdrawals of the spot wallet since ``since`` (UTC; default ``history_days`` ago),
        oldest first; ``[]`` for ``binance-futures`` and on the testnet. See
        :meth:`bot.brokers.binance.history.TransferHistory.cash_flows`.

        Raises:
            TemporaryError / ConfigError / BrokerRejected (live only): see :mod:`bot.brokers.binance.client`.
        """
        return self._transfers.cash_flows(since)

    def server_time(self) -> datetime:
        """Binance's clock: ``serverTime`` (ms) of ``GET /api/v3/time`` (spot) or ``/fapi/v1/time`` (futures), UTC.

        Raises:
            TemporaryError: unreachable, or no readable time.
        """
        data = call(self._client.futures_time if self._futures else self._client.get_server_time)
        when = ms_time(data.get("serverTime")) if isinstance(data, dict) else None
        if when is None:
            raise TemporaryError(f"{self.name} clock sent no readable serverTime: {str(data)[:200]}")
        return when
