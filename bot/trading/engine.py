"""Alert → signal → gate → plan → order → fills → slot positions and row statuses.

Each Config row is a **slot** with its own virtual position (state DB ``slots``). An alert moves
its slot: ``buy`` → long (closing a short first), ``sell`` → short (closing a long first; on a
long-only row or a spot venue it only closes), ``close`` → flat. The closing and opening legs go
to the venue as one net order, so the venue's position is always the sum of the slots.

The steps live in their own modules: :mod:`~bot.trading.gate` (may it trade?),
:mod:`~bot.trading.planning` (slot → decision → size → risk), :mod:`~bot.trading.recording`
(commit units), :mod:`~bot.trading.inline` (paper fills), :mod:`~bot.trading.fills` (venue updates),
:mod:`~bot.trading.venue_exits`, :mod:`~bot.trading.recovery`. This module holds the locks, the
venue submission with its reply deadline, and the public surface the web, jobs and CLI use.

Durability: the alert and the order intent (with its ``client_order_id``) are committed before the
order is sent; fills and the outcome are committed before the reply. A crash in between is
recovered at start-up by asking the venue for that ``client_order_id`` (:meth:`Engine.recover`).
Workbook writes go to the outbox in the same transactions and never delay the reply.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.brokers.base import Broker, OrderRequest, OrderUpdate
from bot.domain import OrderState, RowStatus, Signal, SlotKey, SlotState, format_decimal, utc_now
from bot.errors import AlertRejected, BrokerRejected, ConfigError, TemporaryError
from bot.settings import RuntimeSettings
from bot.state import ledger
from bot.state.store import StateStore
from bot.trading.alerts import check_secret, parse_body, parse_signal
from bot.trading.config_table import ConfigCache, ConfigSnapshot
from bot.trading.context import EventHook, TradingContext
from bot.trading.duplicates import DuplicateIndex
from bot.trading.fills import FillBook, elapsed_ms
from bot.trading.gate import Skip, admit
from bot.trading.inline import fill_inline
from bot.trading.planning import OrderPlan, plan_order
from bot.trading.recording import Incoming, Recorder
from bot.trading.recovery import recover
from bot.trading.risk_gate import RiskGate
from bot.trading.rows import RowProjection, config_reload_writes
from bot.trading.submit import send_with_retry
from bot.trading.venue_exits import ExitBook
from bot.trading.venues import BrokerRegistry

log = logging.getLogger(__name__)


@dataclass
class Reply:
    """HTTP reply of the webhook: ``http_status`` and the JSON ``body``."""

    http_status: int
    body: dict[str, Any]


class Engine:
    """Processes alerts and order updates. Thread-safe; one instance per process.

    Args:
        store: state DB.
        brokers: venue registry.
        secret: expected webhook secret.
        zone: display time zone for workbook cells (and the trading day of the daily loss limit).
        events: optional callback ``(kind, text, symbol, timeframe)`` for notifications.

    Raises:
        TemporaryError: the state DB cannot be read at start.
    """

    def __init__(
        self,
        *,
        store: StateStore,
        brokers: BrokerRegistry,
        secret: str,
        zone: ZoneInfo,
        events: EventHook | None = None,
    ) -> None:
        self.ctx = TradingContext(store=store, brokers=brokers, rows=RowProjection(zone), events=events)
        self.config: ConfigCache | None = None
        self.fills = FillBook(self.ctx)
        self.exits = ExitBook(self.ctx, self.fills)
        self.risk = RiskGate(self.ctx, zone)
        self._duplicates = DuplicateIndex(store)
        self._recorder = Recorder(self.ctx, self._duplicates)
        self._secret = secret
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="broker")
        self.last_signal_at: datetime | None = None
        # client order id suffix: start time (ms, hex) + a counter: unique across restarts of this DB
        self._order_prefix = f"{int(time.time() * 1000) % 16**9:09x}"
        self._order_counter = itertools.count(1)
        self.paused = ledger.read_flag(store, "paused")

    @property
    def store(self) -> StateStore:
        """The state DB."""
        return self.ctx.store

    @property
    def brokers(self) -> BrokerRegistry:
        """The venues."""
        return self.ctx.brokers

    @property
    def row_status(self) -> dict[SlotKey, str]:
        """Latest ``Order Status`` queued per row by this process (the sheet may lag behind the outbox)."""
        return self.ctx.rows.row_status

    # -- entry point --------------------------------------------------------------------------

    def handle(self, body: bytes, *, received_at: datetime | None = None, replay: bool = False) -> Reply:
        """Process one webhook body and return the reply (never raises for bad input).

        Status codes: 200 success/skipped/duplicate, 202 broker slower than the deadline, 400 malformed
        (naming the field), 401 bad secret, 409 replay on a live broker, 503 state DB unavailable.
        """
        received_at = received_at or utc_now()
        started = time.perf_counter()
        self.last_signal_at = received_at
        payload: dict[str, Any] = {}
        try:
            payload = parse_body(body)
            check_secret(payload, self._secret)
            signal = parse_signal(payload)
        except AlertRejected as exc:
            self._recorder.rejected(payload, exc, received_at, started)
            return Reply(exc.http_status, {"error": str(exc)})
        incoming = Incoming(signal, payload, received_at, replay, started)
        stripes = self.ctx.locks.indexes("s:" + signal.symbol, "k:" + signal.alert_key)
        self.ctx.locks.acquire(stripes)
        handed_off = False
        try:
            reply, handed_off = self._process(incoming, stripes)
            return reply
        except TemporaryError as exc:
            log.error("alert %s not processed: %s", signal.alert_key, exc)
            return Reply(503, {"error": f"temporarily unavailable, retry: {exc}"})
        finally:
            if not handed_off:
                self.ctx.locks.release(stripes)

    # -- processing: gate → plan → execute ------------------------------------------------------

    def _process(self, incoming: Incoming, stripes: list[int]) -> tuple[Reply, bool]:
        """Run the steps under the symbol's lock; returns the reply and whether the lock was handed to a
        background submission (released when the venue answers)."""
        assert self.config is not None, "engine.config must be wired before handling alerts"
        snapshot = self.config.get()
        signal = incoming.signal
        admitted = admit(self.ctx, self._duplicates, incoming, snapshot, paused=self.paused)
        if isinstance(admitted, Skip):
            # a duplicate answers before the row is looked up: no amount, as for an alert without a row
            row = None if admitted.result == "duplicate" else snapshot.rows.get(signal.key)
            return self._finish(incoming, _reply_base(signal, row), admitted), False
        base = _reply_base(signal, admitted[0])
        row, broker = admitted
        plan = plan_order(
            self.ctx, self.exits, self.risk, incoming, row, broker, snapshot.runtime, self._client_order_id(signal)
        )
        if isinstance(plan, Skip):
            return self._finish(incoming, base, plan), False
        return self._execute(incoming, broker, plan, snapshot.runtime, base, stripes)

    def _finish(self, incoming: Incoming, base: dict[str, Any], skip: Skip) -> Reply:
        """Record a signal that places no order and answer it."""
        if skip.http_status != 200:
            return Reply(skip.http_status, {"error": skip.reason})
        config_values = None
        if skip.row and (skip.status or skip.note_only):
            config_values = {
                "Note": skip.reason,
                "Last Signal": self.ctx.rows.last_signal(incoming.signal, incoming.received_at),
            }
            if skip.status:
                config_values["Order Status"] = skip.status.value
        self._recorder.signal(incoming, skip.result, skip.reason, skip.status, config_values)
        body = {
            **base,
            "status": skip.result if skip.result in ("success", "duplicate") else "skipped",
            "order_status": skip.status.value if skip.status else None,
            "reason": skip.reason,
        }
        return Reply(200, body)

    def _execute(
        self,
        incoming: Incoming,
        broker: Broker,
        plan: OrderPlan,
        runtime: RuntimeSettings,
        base: dict[str, Any],
        stripes: list[int],
    ) -> tuple[Reply, bool]:
        """Place the planned order: inline venues in one unit; others record the intent, then send it on a
        broker thread and answer within ``broker_reply_deadline_seconds`` (202 when the venue is slower)."""
        request = plan.request
        cid = request.client_order_id
        base = {**base, "order_id": cid, "client_order_id": cid, "qty": format_decimal(request.qty)}
        self.risk.note_order()
        if broker.capabilities.inline_fills:
            outcome = fill_inline(
                self.ctx,
                self._recorder,
                broker,
                request,
                incoming,
                plan.order_values,
                plan.slot,
                runtime.paper_fee_rate,
            )
            return Reply(200, {**base, **outcome}), False
        order_pk, signal_pk = self._recorder.intent(incoming, plan.order_values)
        future: Future[dict[str, Any]] = self._executor.submit(
            self._submit, broker, request, order_pk, signal_pk, incoming.started
        )
        try:
            outcome = future.result(timeout=runtime.broker_reply_deadline_seconds)
        except FutureTimeout:
            # the symbol stays locked until the venue answers: the next alert sees the final slot
            future.add_done_callback(lambda _done: self.ctx.locks.release(stripes))
            reply = {
                **base,
                "status": "success",
                "order_status": RowStatus.ORDER_SUBMITTED.value,
                "reason": "broker is slow; the order continues in the background",
            }
            return Reply(202, reply), True
        return Reply(200, {**base, **outcome}), False

    def _submit(
        self, broker: Broker, request: OrderRequest, order_pk: int, signal_pk: int, started: float
    ) -> dict[str, Any]:
        """Send the order (retrying temporary errors with the same client order id) and record the result."""
        try:
            result = send_with_retry(broker, request)
        except (BrokerRejected, ConfigError) as exc:
            result = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
        except TemporaryError as exc:
            # unknown whether the venue got it: keep it pending; the tracker asks by client_order_id
            result = OrderUpdate(broker_order_id="", state=OrderState.PENDING, reason=f"broker unreachable: {exc}")
        submitted_ms = elapsed_ms(started)
        status = self.fills.apply_update(
            order_pk, result, signal_pk=signal_pk, started=started, submitted_ms=submitted_ms
        )
        reason, broker_id = ledger.order_outcome(self.store, order_pk)
        return {
            "status": "failed" if status is RowStatus.FAILED else "success",
            "order_status": status.value,
            "reason": reason,
            "order_id": broker_id or request.client_order_id,
        }

    def _client_order_id(self, signal: Signal) -> str:
        """``tv<instance>-<alert hash>-<start prefix><counter>``: derived from the alert, never reused."""
        return (
            f"tv{self.store.instance}-{hashlib.sha256(signal.alert_key.encode()).hexdigest()[:8]}-"
            f"{self._order_prefix}{next(self._order_counter):x}"
        )

    # -- order updates, exits and recovery (tracker, jobs, start-up) -------------------------------

    def apply_update_locked(self, order_pk: int, update: OrderUpdate) -> RowStatus:
        """:meth:`FillBook.apply_update` while holding the order's symbol lock (for the tracker and recovery)."""
        with self.symbol_lock(ledger.order_symbol(self.store, order_pk)):
            return self.fills.apply_update(order_pk, update)

    def open_order_details(self) -> list[ledger.OpenOrder]:
        """Orders not yet final: ``(order pk, broker, client_order_id, created_at, state, symbol)``, oldest first."""
        return ledger.open_orders(self.store)

    def sync_venue_exits(self) -> int:
        """Book into the slots the protective exits venues executed on their own (see :class:`ExitBook`)."""
        return self.exits.sync()

    def recover(self, *, max_age_seconds: float = 300) -> dict[str, int]:
        """Start-up recovery of orders left pending by a crash (see :func:`bot.trading.recovery.recover`).

        Returns counts: ``{"resumed", "resent", "abandoned", "signals_marked"}``.
        """
        return recover(self.ctx, self.fills, max_age_seconds=max_age_seconds)

    # -- config statuses, pause, reads ----------------------------------------------------------------

    def on_config_reload(self, snapshot: ConfigSnapshot) -> None:
        """Write INACTIVE / CONFIG ERROR / READY on rows whose sheet status disagrees with the config."""
        writes = config_reload_writes(snapshot)
        if writes:
            with self.store.session() as tx:
                ledger.enqueue_tx(tx, [self.ctx.rows.config(key, values) for key, values in writes])

    def note_row(self, tx: ledger.Tx, key: SlotKey, note: str) -> None:
        """Queue a ``Note`` for the Config row of ``key`` inside the caller's transaction."""
        ledger.enqueue_tx(tx, [self.ctx.rows.config(key, {"Note": note})])

    def read_slot(self, key: SlotKey) -> SlotState:
        """The committed state of slot ``key`` (flat when never traded); cached, as this process is the only writer."""
        return self.ctx.read_slot(key)

    def daily_pnl(self) -> Decimal:
        """Today's realised plus unrealised P&L, quote currency (see :meth:`RiskGate.daily_pnl`)."""
        return self.risk.daily_pnl()

    def pause(self, paused: bool) -> None:
        """Pause (no orders, signals answered BLOCKED) or resume trading; resume also lifts today's loss block."""
        self.paused = paused
        if not paused:
            self.risk.lift_loss_block()
        ledger.write_flag(self.store, "paused", paused)

    @contextmanager
    def symbol_lock(self, symbol: str) -> Iterator[None]:
        """Hold the lock that serialises alerts of ``symbol`` (used by jobs touching slots)."""
        with self.ctx.locks.symbol(symbol):
            yield

    def close(self) -> None:
        """Wait for background submissions to finish."""
        self._executor.shutdown(wait=True)


def _reply_base(signal: Signal, row: Any) -> dict[str, Any]:
    """Reply fields every outcome carries; ``amount`` is the row's ``position_size`` when the row exists."""
    return {
        "action": signal.action.value,
        "symbol": signal.symbol,
        "timeframe": signal.timeframe,
        "amount": format_decimal(row.position_size) if row is not None else None,
        "order_id": None,
        "order_status": None,
        "reason": "",
    }
