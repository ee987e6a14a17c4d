"""Paper broker (embedded default): fills market orders at the signal price, state in the state DB.

Behaves like a venue where it matters for correctness: orders are idempotent by
``client_order_id`` (a resend returns the original fill), quantities must respect the configured
step and minimum notional, and cash/positions survive restarts. Fee: ``qty × price × paper_fee_rate``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

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
        """Fill ``request`` completely at ``request.ref_price`` in its own transaction (idempotent by id).

        Raises:
            BrokerRejected: no reference price, or a non-positive quantity.
        """
        with self._store.engine.begin() as conn:
            return self.execute(conn, request)

    def execute(self, conn: Connection, request: OrderRequest) -> OrderUpdate:
        """Fill ``request`` using ``conn`` (the caller's transaction), so the venue's state and the bot's
        records commit together. A ``client_order_id`` seen before returns the original fill.

        Raises:
            BrokerRejected: no reference price, or a non-positive quantity.
        """
        if request.ref_price is None:
            raise BrokerRejected(
                'paper broker needs a price: add "price": {{close}} to the alert message', code="no_price"
            )
        if request.qty <= 0:
            raise BrokerRejected(f"quantity {request.qty} must be positive", code="qty")
        existing = conn.execute(_SEL_ORDER, {"k_id": request.client_order_id}).first()
        if existing is not None:
            return _update_from_row(existing)
        price = request.ref_price
        fee = request.qty * price * self._runtime().paper_fee_rate
        signed = request.qty if request.side is Side.BUY else -request.qty
        cash = conn.execute(_SEL_CASH).scalar_one()
        conn.execute(_UPD_CASH, {"cash": cash - signed * price - fee})
        held = conn.execute(_SEL_POSITION, {"k_symbol": request.symbol}).scalar()
        qty = (held or Decimal(0)) + signed
        values = {"qty": qty, "last_price": price, "avg_price": price if qty != 0 else None}
        if held is None:
            conn.execute(_INS_POSITION, {**values, "symbol": request.symbol})
        else:
            conn.execute(_UPD_POSITION, {**values, "k_symbol": request.symbol})
        row = {
            "client_order_id": request.client_order_id,
            "order_id": f"paper-{request.client_order_id}",
            "symbol": request.symbol,
            "side": request.side.value,
            "qty": request.qty,
            "price": price,
            "fee": fee,
            "filled_at": request.fill_time or utc_now(),
        }
        conn.execute(_INS_ORDER, row)
        return _update(**row)

    def get_order(self, client_order_id: str) -> OrderUpdate | None:
        """The paper order with this id, or None when it was never executed."""
        with self._store.session() as s:
            order = s.get(PaperOrder, client_order_id)
            if order is None:
                return None
            return _update(
                order_id=order.order_id, qty=order.qty, price=order.price, fee=order.fee, filled_at=order.filled_at
            )

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


_ORDERS = PaperOrder.__table__
_ACCOUNT = PaperAccount.__table__
_POSITIONS = PaperPosition.__table__
_SEL_ORDER = select(_ORDERS).where(_ORDERS.c.client_order_id == bindparam("k_id"))
_INS_ORDER = insert(_ORDERS)
_SEL_CASH = select(_ACCOUNT.c.cash).where(_ACCOUNT.c.name == "paper")
_UPD_CASH = update(_ACCOUNT).where(_ACCOUNT.c.name == "paper")
_SEL_POSITION = select(_POSITIONS.c.qty).where(_POSITIONS.c.symbol == bindparam("k_symbol"))
_INS_POSITION = insert(_POSITIONS)
_UPD_POSITION = update(_POSITIONS).where(_POSITIONS.c.symbol == bindparam("k_symbol"))


def _update(
    *, order_id: str, qty: Decimal, price: Decimal, fee: Decimal, filled_at: datetime, **_: object
) -> OrderUpdate:
    return OrderUpdate(
        broker_order_id=order_id,
        state=OrderState.FILLED,
        filled_qty=qty,
        filled_avg_price=price,
        fills=(FillReport(fill_id="1", qty=qty, price=price, fee=fee, filled_at=filled_at),),
    )


def _update_from_row(row: Any) -> OrderUpdate:
    return _update(order_id=row.order_id, qty=row.qty, price=row.price, fee=row.fee, filled_at=row.filled_at)
