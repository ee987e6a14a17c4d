"""Committing what an alert did: the signal, the order intent, and the workbook rows they project.

Each function runs one group-commit unit (one transaction shared with concurrent alerts, one fsync)
and returns only once it is durable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import OrderState, RowStatus, Signal, utc_now
from bot.errors import AlertRejected, TemporaryError
from bot.state import ledger
from bot.trading.alerts import redacted_body
from bot.trading.context import TradingContext
from bot.trading.duplicates import DuplicateIndex
from bot.trading.fills import elapsed_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """An alert being handled: the validated ``signal``, its raw ``payload`` (secret still inside: only
    :func:`redacted_body` of it is stored), when it was received (UTC), whether it is a ``replay``, and
    ``started`` (a :func:`time.perf_counter` reading, for latency)."""

    signal: Signal
    payload: dict[str, Any]
    received_at: datetime
    replay: bool
    started: float

    def signal_values(self) -> dict[str, Any]:
        """Column values of the ``signals`` row common to every outcome."""
        signal = self.signal
        return {
            "received_at": self.received_at,
            "alert_key": signal.alert_key,
            "alert_id": signal.alert_id,
            "action": signal.action.value,
            "symbol": signal.symbol,
            "timeframe": signal.timeframe,
            "price": signal.price,
            "quantity": signal.quantity,
            "strategy": signal.strategy,
            "fired_at": signal.fired_at,
            "body": redacted_body(self.payload),
            "replay": self.replay,
        }


class Recorder:
    """Commits signals and order intents, keeping the duplicate index in step.

    Args:
        ctx: the engine's shared wiring.
        duplicates: accepted alerts are remembered here once committed.
    """

    def __init__(self, ctx: TradingContext, duplicates: DuplicateIndex) -> None:
        self._ctx = ctx
        self._duplicates = duplicates

    def signal(
        self,
        incoming: Incoming,
        result: str,
        reason: str,
        status: RowStatus | None,
        config_values: dict[str, str] | None,
    ) -> None:
        """Commit a signal that placed no order (``result`` skipped/blocked/duplicate/...), its Signals row
        and, with ``config_values``, cells of its Config row. Raises TemporaryError (state DB down)."""
        rows = self._ctx.rows
        values = {
            **incoming.signal_values(),
            "result": result,
            "reason": reason,
            "row_status": status.value if status else "",
        }

        def unit(conn: ledger.Conn) -> int:
            values["latency_ms"] = elapsed_ms(incoming.started)
            signal_pk = ledger.insert_signal(conn, values)
            outbox = [rows.signal(signal_pk, values)]
            if config_values is not None:
                outbox.append(rows.config(incoming.signal.key, config_values))
            ledger.enqueue(conn, outbox)
            return int(signal_pk)

        signal_pk = self._ctx.store.committer.run(unit)
        if result != "duplicate":
            self._duplicates.remember(incoming.signal.alert_key, incoming.received_at, signal_pk)

    def rejected(self, payload: dict[str, Any], exc: AlertRejected, received_at: datetime, started: float) -> None:
        """Commit an alert refused before it became a signal (what could be read of it, and why).
        A state DB failure is logged, not raised: the caller still answers the 4xx."""
        rows = self._ctx.rows
        values = {
            "received_at": received_at,
            "result": "rejected",
            "reason": str(exc)[:500],
            "action": _cell_text(payload.get("action")),
            "symbol": _cell_text(payload.get("symbol", payload.get("ticker"))),
            "timeframe": _cell_text(payload.get("timeframe", payload.get("interval"))),
            "alert_id": _cell_text(payload.get("id")),
            "body": redacted_body(payload) if payload else "",
        }

        def unit(conn: ledger.Conn) -> None:
            values["latency_ms"] = elapsed_ms(started)
            signal_pk = ledger.insert_signal(conn, values)
            ledger.enqueue(conn, [rows.signal(signal_pk, values)])

        try:
            self._ctx.store.committer.run(unit)
        except TemporaryError as err:
            log.error("could not record rejected alert: %s", err)

    def intent(self, incoming: Incoming, order_values: dict[str, Any]) -> tuple[int, int]:
        """Commit the alert and the order intent (state pending) before the order is sent to a venue.

        Returns ``(order id, signal id)``. Raises TemporaryError (state DB down: nothing was sent)."""
        rows = self._ctx.rows
        signal = incoming.signal

        def unit(conn: ledger.Conn) -> tuple[int, int]:
            now = utc_now()
            signal_pk = ledger.insert_signal(conn, incoming.signal_values())
            order = {
                **order_values,
                "signal_id": signal_pk,
                "state": OrderState.PENDING.value,
                "created_at": now,
                "updated_at": now,
            }
            order_pk = ledger.insert_order(conn, order)
            cells = {
                "Order Status": RowStatus.ORDER_SUBMITTED.value,
                "Last Signal": rows.last_signal(signal, incoming.received_at),
                "Note": order_values["reason"],
            }
            ledger.enqueue(conn, [rows.config(signal.key, cells)])
            return order_pk, signal_pk

        order_pk, signal_pk = self._ctx.store.committer.run(unit)
        self._duplicates.remember(signal.alert_key, incoming.received_at, signal_pk)
        return order_pk, signal_pk

    def remember(self, incoming: Incoming, signal_pk: int) -> None:
        """Add a signal committed by another unit (the inline venue's) to the duplicate index."""
        self._duplicates.remember(incoming.signal.alert_key, incoming.received_at, signal_pk)


def _cell_text(value: object) -> str:
    return "" if value is None else str(value)[:64]
