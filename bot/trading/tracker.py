"""Order tracker: follows every non-final order until the venue reports it final.

No fixed sleep after submitting: the webhook replies as soon as the venue accepts an order, and
this thread polls open orders (by ``client_order_id``) every ``interval`` seconds, applying new
fills and states through :meth:`bot.trading.fills.FillBook.apply_update`.
"""

from __future__ import annotations

import logging
import threading

from bot.domain import OrderState, utc_now
from bot.errors import BotError
from bot.trading.engine import Engine

log = logging.getLogger(__name__)


class OrderTracker:
    """Polls open orders on a background thread.

    Args:
        engine: applies updates and lists open orders.
        interval: seconds between polls.
        unknown_after: seconds after which a pending order the venue has never seen is failed.
    """

    def __init__(self, engine: Engine, *, interval: float = 2.0, unknown_after: float = 120.0) -> None:
        self._engine = engine
        self._interval = interval
        self._unknown_after = unknown_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="order-tracker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def poll_once(self) -> int:
        """Query every open order once; return how many changed."""
        changed = 0
        for order_pk, broker_name, client_order_id, created_at, state, symbol in self._engine.open_order_details():
            try:
                broker = self._engine.brokers.get(broker_name)
                update = broker.get_order(client_order_id, symbol)
            except BotError as exc:
                log.warning("tracker: %s %s: %s", broker_name, client_order_id, exc)
                continue
            if update is None:
                age = (utc_now() - created_at).total_seconds()
                if state == OrderState.PENDING.value and age > self._unknown_after:
                    from bot.brokers.base import OrderUpdate

                    self._engine.apply_update_locked(
                        order_pk,
                        OrderUpdate(
                            broker_order_id="",
                            state=OrderState.FAILED,
                            reason=f"the venue has no order {client_order_id} after {age:.0f} s; not filled",
                        ),
                    )
                    changed += 1
                continue
            self._engine.apply_update_locked(order_pk, update)
            changed += 1
        return changed

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("order tracker poll failed")
