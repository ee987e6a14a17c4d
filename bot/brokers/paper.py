"""Paper broker (embedded default): fills market orders at the signal price, state in the state DB.

Behaves like a venue where it matters for correctness: orders are idempotent by
``client_order_id`` (a resend returns the original fill), quantities must respect the configured
step and minimum notional, and cash/positions survive restarts. Fee: ``qty × price × paper_fee_rate``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select

from bot.brokers.base import Account, FillReport, Instrument, OrderRequest, OrderUpdate
from bot.domain import OrderState, Side, utc_now
from bot.errors import BrokerRejected
from bot.settings import RuntimeSettings
from bot.state.models import PaperAccount, PaperOrder, PaperPosition
from bot.state.store import StateStore


class PaperBroker:
    """Simulated venue on the state DB.

    Args:
        store: the state DB.
        starting_cash: cash of a new paper account, USD.
        runtime: callable returning the current :class:`RuntimeSettings` (fee rate, step, minimum).
    """

    name = "paper"
    live = False

    def __init__(self, store: StateStore, starting_cash: Decimal, runtime: Callable[[], RuntimeSettings]) -> None:
        self._store = store
        self._runtime = runtime
        with store.session() as s:
            if s.get(PaperAccount, "paper") is None:
                s.add(PaperAccount(name="paper", cash=starting_cash))

    def instrument(self, symbol: str) -> Instrument:
        """Rules from the Settings tab: ``paper_qty_step`` and ``paper_min_notional``."""
        runtime = self._runtime()
        return Instrument(symbol=symbol, qty_step=runtime.paper_qty_step, min_notional=runtime.paper_min_notional)

    def submit_order(self, request: OrderRequest) -> OrderUpdate:
        """Fill ``request`` completely at ``request.ref_price`` (idempotent by client order id).

        Raises:
            BrokerRejected: no reference price, or a non-positive quantity.
        """
        if request.ref_price is None:
            raise BrokerRejected(
                'paper broker needs a price: add "price": {{close}} to the alert message', code="no_price"
            )
        if request.qty <= 0:
            raise BrokerRejected(f"quantity {request.qty} must be positive", code="qty")
        fee_rate = self._runtime().paper_fee_rate
        with self._store.session() as s:
            existing = s.get(PaperOrder, request.client_order_id)
            if existing is not None:
                return _update(existing)
            price = request.ref_price
            fee = request.qty * price * fee_rate
            signed = request.qty if request.side is Side.BUY else -request.qty
            account = s.get(PaperAccount, "paper")
            assert account is not None
            account.cash = account.cash - signed * price - fee
            position = s.get(PaperPosition, request.symbol)
            if position is None:
                position = PaperPosition(symbol=request.symbol, qty=Decimal(0))
                s.add(position)
            position.qty = position.qty + signed
            position.last_price = price
            position.avg_price = price if position.qty != 0 else None
            order = PaperOrder(
                client_order_id=request.client_order_id,
                order_id=f"paper-{request.client_order_id}",
                symbol=request.symbol,
                side=request.side.value,
                qty=request.qty,
                price=price,
                fee=fee,
                filled_at=request.fill_time or utc_now(),
            )
            s.add(order)
            return _update(order)

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        """The paper order with this id, or None when it was never executed."""
        with self._store.session() as s:
            order = s.get(PaperOrder, client_order_id)
            return _update(order) if order is not None else None

    def account(self) -> Account:
        """Cash plus positions valued at their last fill price."""
        with self._store.session() as s:
            account = s.get(PaperAccount, "paper")
            assert account is not None
            value = sum((p.qty * (p.last_price or 0) for p in s.scalars(select(PaperPosition))), start=Decimal(0))
            return Account(
                account_id="paper",
                equity=account.cash + value,
                cash=account.cash,
                buying_power=account.cash,
                positions_value=value,
            )

    def positions(self) -> dict[str, Decimal]:
        """Non-zero net positions per symbol."""
        with self._store.session() as s:
            return {p.symbol: p.qty for p in s.scalars(select(PaperPosition)) if p.qty != 0}

    def last_price(self, symbol: str) -> Decimal | None:
        """Price of the last paper fill on ``symbol``."""
        with self._store.session() as s:
            position = s.get(PaperPosition, symbol)
            return position.last_price if position else None

    def close(self) -> None:
        """Nothing to release (the store is shared)."""


def _update(order: PaperOrder) -> OrderUpdate:
    return OrderUpdate(
        broker_order_id=order.order_id,
        state=OrderState.FILLED,
        filled_qty=order.qty,
        filled_avg_price=order.price,
        fills=(FillReport(fill_id="1", qty=order.qty, price=order.price, fee=order.fee, filled_at=order.filled_at),),
    )
