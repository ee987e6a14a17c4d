"""Paper broker (embedded default): fills market orders at the signal price, state in the state DB.

Behaves like a venue where it matters for correctness: orders are idempotent by
``client_order_id`` (a resend returns the original fill), quantities respect the configured step and
minimum notional, and cash/positions survive restarts. Fee: ``qty × price × paper_fee_rate``.

Its durable record is the starting cash plus the fills of orders sent to it (the state DB's ``fills``
of ``orders`` with broker ``paper``): cash, positions and last prices are rebuilt from them at start
and kept in memory. The engine records the fill in the same transaction as the alert and the order
(:meth:`PaperBroker.execute` writes nothing itself) and tells the broker once it is committed
(:meth:`PaperBroker.committed`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.brokers.base import Account, Capabilities, FillReport, OrderRequest, OrderUpdate
from bot.domain import OrderState, Side, utc_now
from bot.errors import BrokerRejected
from bot.records import Instrument
from bot.settings import RuntimeSettings
from bot.state import ledger
from bot.state.store import StateStore

ZERO = Decimal(0)


class PaperBroker:
    """Simulated venue on the state DB.

    Args:
        store: the state DB.
        starting_cash: cash of a new paper account, USD (used when the account is first created).
        runtime: callable returning the current :class:`RuntimeSettings` (fee rate, step, minimum).
    """

    name = "paper"
    live = False
    #: the engine runs :meth:`execute` inside its own transaction (no network round trip)
    capabilities = Capabilities(inline_fills=True)

    def __init__(self, store: StateStore, starting_cash: Decimal, runtime: Callable[[], RuntimeSettings]) -> None:
        self._store = store
        self._runtime = runtime
        self._lock = threading.Lock()
        self._cash = ledger.paper_cash(store, starting_cash)
        self._positions: dict[str, Decimal] = {}
        self._last: dict[str, Decimal] = {}
        for row in ledger.paper_fills(store):
            self._apply(row.symbol, Side(row.side), row.qty, row.price, row.fee)

    def instrument(self, symbol: str) -> Instrument:
        """Rules from the Settings tab: ``paper_qty_step`` and ``paper_min_notional``."""
        runtime = self._runtime()
        return Instrument(symbol=symbol, qty_step=runtime.paper_qty_step, min_notional=runtime.paper_min_notional)

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Fill ``request`` completely at ``request.ref_price`` (idempotent by id), as a remote venue would.

        The caller records the fill (:meth:`bot.trading.fills.FillBook.apply_update`); until then only this
        process's memory knows it, which is what a crash would lose on a real venue's side too.

        Raises:
            BrokerRejected: no reference price, or a non-positive quantity.
        """
        fee_rate = self._runtime().paper_fee_rate
        update, new = self._execute(None, request, fresh=False, fee_rate=fee_rate)
        if new:
            self.committed(request, update)
        return update

    def execute(
        self, conn: ledger.Conn, request: OrderRequest, *, fee_rate: Decimal, fresh: bool = False
    ) -> OrderUpdate:
        """The fill of ``request``; the caller records it in its transaction and calls :meth:`committed` after.

        ``fee_rate``: the fee as a fraction of notional (``paper_fee_rate``), read by the caller before its
        transaction: nothing inside a state-DB transaction may wait for the config.
        ``fresh``: the caller generated this ``client_order_id`` just now, so it cannot exist yet (skips the
        idempotency look-up on ``conn``). A known id returns the original fill.

        Raises:
            BrokerRejected: no reference price, or a non-positive quantity.
        """
        return self._execute(conn, request, fresh=fresh, fee_rate=fee_rate)[0]

    def committed(self, request: OrderRequest, update: OrderUpdate) -> None:
        """Apply a committed fill of ``request`` to the in-memory cash and positions."""
        for fill in update.fills:
            with self._lock:
                self._apply(request.symbol, request.side, fill.qty, fill.price, fill.fee)

    def _execute(
        self, conn: ledger.Conn | None, request: OrderRequest, *, fresh: bool, fee_rate: Decimal
    ) -> tuple[OrderUpdate, bool]:
        if request.ref_price is None:
            raise BrokerRejected(
                'paper broker needs a price: add "price": {{close}} to the alert message', code="no_price"
            )
        if request.qty <= 0:
            raise BrokerRejected(f"quantity {request.qty} must be positive", code="qty")
        if not fresh:
            existing = ledger.paper_order_fill(conn, self._store, request.client_order_id)
            if existing is not None:
                return _update_from_row(existing), False
        update = _update(
            order_id=f"paper-{request.client_order_id}",
            qty=request.qty,
            price=request.ref_price,
            fee=request.qty * request.ref_price * fee_rate,
            filled_at=request.fill_at or utc_now(),
        )
        return update, True

    def _apply(self, symbol: str, side: Side, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        signed = qty if side is Side.BUY else -qty
        self._cash = self._cash - signed * price - fee
        self._positions[symbol] = self._positions.get(symbol, ZERO) + signed
        self._last[symbol] = price

    def get_order(self, client_order_id: str, symbol: str = "") -> OrderUpdate | None:
        """The paper order with this id, or None when it was never executed."""
        row = ledger.paper_order_fill(None, self._store, client_order_id)
        return _update_from_row(row) if row is not None else None

    def account(self) -> Account:
        """Cash plus positions valued at their last fill price."""
        with self._lock:
            value = sum((qty * self._last.get(symbol, ZERO) for symbol, qty in self._positions.items()), start=ZERO)
            cash = self._cash
        return Account(account_id="paper", equity=cash + value, cash=cash, buying_power=cash, positions_value=value)

    def positions(self) -> dict[str, Decimal]:
        """Non-zero net positions per symbol."""
        with self._lock:
            return {symbol: qty for symbol, qty in self._positions.items() if qty != 0}

    def last_price(self, symbol: str) -> Decimal | None:
        """Price of the last paper fill on ``symbol``."""
        with self._lock:
            return self._last.get(symbol)

    def close(self) -> None:
        """Nothing to release (the store is shared)."""


def _update(*, order_id: str, qty: Decimal, price: Decimal, fee: Decimal, filled_at: datetime, **_: Any) -> OrderUpdate:
    return OrderUpdate(
        broker_order_id=order_id,
        state=OrderState.FILLED,
        filled_qty=qty,
        filled_avg_price=price,
        fills=(FillReport(fill_id="1", qty=qty, price=price, fee=fee, filled_at=filled_at),),
    )


def _update_from_row(row: Any) -> OrderUpdate:
    return _update(order_id=row.broker_order_id, qty=row.qty, price=row.price, fee=row.fee, filled_at=row.filled_at)
