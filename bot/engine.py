"""Alert → decision → order → fills → slot positions and row statuses.

Each Config row is a **slot** with its own virtual position (state DB ``slots``). An alert moves
its slot: ``buy`` → long (closing a short first), ``sell`` → short (closing a long first; on a
long-only row or a spot venue it only closes), ``close`` → flat. The closing and opening legs go
to the venue as one net order, so the venue's position is always the sum of the slots.

Durability: the alert and the order intent (with its ``client_order_id``) are committed before the
order is sent; fills and the outcome are committed before the reply. A crash in between is
recovered at start-up by asking the venue for that ``client_order_id`` (:meth:`Engine.recover`).
Workbook writes go to the outbox in the same transactions and never delay the reply.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.alerts import check_secret, parse_body, parse_signal, redacted_body
from bot.brokers.base import Broker, OrderRequest, OrderUpdate
from bot.config_table import ConfigCache, ConfigSnapshot
from bot.domain import (
    Action,
    ConfigRow,
    Direction,
    OrderState,
    PositionSide,
    RowStatus,
    Side,
    Signal,
    SlotKey,
    format_decimal,
    safe_cell,
    utc_now,
)
from bot.errors import AlertRejected, BotError, BrokerRejected, ConfigError, TemporaryError
from bot.sizing import SizingError, entry_size
from bot.state.models import FillRecord, OrderRecord, SignalRecord, SlotRecord
from bot.state.store import StateStore

log = logging.getLogger(__name__)

ZERO = Decimal(0)


# --------------------------------------------------------------------------------------------
# Pure decision
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What to do with a slot: close ``close_qty`` (≥ 0, base units) then open ``open_side`` (or not).

    When ``skip_status`` is set, no order is placed and ``reason`` says why.
    """

    close_qty: Decimal = ZERO
    open_side: PositionSide | None = None
    skip_status: RowStatus | None = None
    reason: str = ""

    @property
    def purpose(self) -> str:
        """``entry``, ``exit`` or ``reversal`` (recorded on the order; the journal's exit reason)."""
        if self.close_qty and self.open_side:
            return "reversal"
        return "exit" if self.close_qty else "entry"


def decide(action: Action, *, slot_qty: Decimal, direction: Direction, shortable: bool) -> Decision:
    """The slot transition for ``action`` given the slot's signed quantity (DESIGN.md §4).

    ``direction`` long (or a venue that cannot short) makes ``sell`` close-only; ``direction``
    short makes ``buy`` close-only. Pure function.
    """
    long_only = direction is Direction.LONG or not shortable
    if action is Action.BUY:
        if slot_qty > 0:
            return Decision(skip_status=RowStatus.ALREADY_LONG, reason=f"slot already long {format_decimal(slot_qty)}")
        if direction is Direction.SHORT:
            if slot_qty < 0:
                return Decision(close_qty=-slot_qty)
            return Decision(
                skip_status=RowStatus.WAITING, reason="direction short: buy only closes a short; slot is flat"
            )
        return Decision(close_qty=-slot_qty, open_side=PositionSide.LONG)
    if action is Action.SELL:
        if slot_qty < 0:
            return Decision(
                skip_status=RowStatus.ALREADY_SHORT, reason=f"slot already short {format_decimal(-slot_qty)}"
            )
        if long_only:
            if slot_qty > 0:
                return Decision(close_qty=slot_qty)
            why = "direction long" if direction is Direction.LONG else "spot venue (long only)"
            return Decision(skip_status=RowStatus.WAITING, reason=f"{why}: sell only closes a long; slot is flat")
        return Decision(close_qty=slot_qty, open_side=PositionSide.SHORT)
    if slot_qty == 0:
        return Decision(skip_status=RowStatus.WAITING, reason="close: slot already flat")
    return Decision(close_qty=abs(slot_qty))


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """HTTP reply of the webhook: ``http_status`` and the JSON ``body``."""

    http_status: int
    body: dict[str, Any]


class StripedLocks:
    """A fixed set of locks picked by hash, so memory stays bounded whatever symbols arrive.

    Plain locks (not re-entrant) so a background completion may release what a request acquired.
    """

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def indexes(self, *names: str) -> list[int]:
        """Sorted distinct stripe indexes for ``names`` (acquire in this order: no deadlock)."""
        return sorted(
            {int(hashlib.blake2s(n.encode(), digest_size=4).hexdigest(), 16) % len(self._locks) for n in names}
        )

    def acquire(self, indexes: list[int]) -> None:
        """Acquire the given stripes in order."""
        for i in indexes:
            self._locks[i].acquire()

    def release(self, indexes: list[int]) -> None:
        """Release the given stripes."""
        for i in reversed(indexes):
            self._locks[i].release()


class BrokerRegistry:
    """Brokers by Config ``broker`` name, created on first use.

    Args:
        factories: name → zero-argument factory; a factory raises ConfigError when credentials are missing.
        default: the broker for rows whose ``broker`` cell is blank (BOT_BROKER).
    """

    def __init__(self, factories: dict[str, Callable[[], Broker]], default: str) -> None:
        self._factories = factories
        self._brokers: dict[str, Broker] = {}
        self._lock = threading.Lock()
        self.default = default

    def get(self, name: str = "") -> Broker:
        """The broker called ``name`` (blank = default).

        Raises:
            ConfigError: unknown name, or its credentials are missing.
        """
        name = name or self.default
        broker = self._brokers.get(name)
        if broker is not None:
            return broker
        with self._lock:
            if name not in self._brokers:
                factory = self._factories.get(name)
                if factory is None:
                    raise ConfigError(f"broker {name!r} is not available", field="broker", value=name)
                self._brokers[name] = factory()
            return self._brokers[name]

    def loaded(self) -> dict[str, Broker]:
        """Brokers created so far."""
        return dict(self._brokers)

    def close(self) -> None:
        """Close every created broker."""
        for broker in self._brokers.values():
            broker.close()


class Engine:
    """Processes alerts and order updates. Thread-safe; one instance per process.

    Args:
        store: state DB.
        brokers: venue registry.
        secret: expected webhook secret.
        zone: display time zone for workbook cells.
        events: optional callback ``(kind, text, symbol, timeframe)`` for notifications.
    """

    def __init__(
        self,
        *,
        store: StateStore,
        brokers: BrokerRegistry,
        secret: str,
        zone: ZoneInfo,
        events: Callable[[str, str, str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.brokers = brokers
        self.config: ConfigCache | None = None
        self._secret = secret
        self._zone = zone
        self._events = events
        self._locks = StripedLocks()
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="broker")
        self.last_signal_at: datetime | None = None

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
            self._record_rejected(payload, exc, received_at, started)
            return Reply(exc.http_status, {"error": str(exc)})
        stripes = self._locks.indexes("s:" + signal.symbol, "k:" + signal.alert_key)
        self._locks.acquire(stripes)
        handed_off = False
        try:
            reply, handed_off = self._process(signal, payload, received_at, started, replay, stripes)
            return reply
        except TemporaryError as exc:
            log.error("alert %s not processed: %s", signal.alert_key, exc)
            return Reply(503, {"error": f"temporarily unavailable, retry: {exc}"})
        finally:
            if not handed_off:
                self._locks.release(stripes)

    # -- processing ---------------------------------------------------------------------------

    def _process(
        self,
        signal: Signal,
        payload: dict[str, Any],
        received_at: datetime,
        started: float,
        replay: bool,
        stripes: list[int],
    ) -> tuple[Reply, bool]:
        assert self.config is not None, "engine.config must be wired before handling alerts"
        snapshot = self.config.get()
        runtime = snapshot.runtime
        base = {
            "action": signal.action.value,
            "symbol": signal.symbol,
            "timeframe": signal.timeframe,
            "amount": None,
            "order_id": None,
            "order_status": None,
            "reason": "",
        }

        def finish(
            result: str,
            reason: str,
            *,
            status: RowStatus | None = None,
            row: bool = True,
            note_only: bool = False,
            http: int = 200,
            extra: dict[str, Any] | None = None,
        ) -> tuple[Reply, bool]:
            latency = _ms(started)
            with self.store.session() as s:
                record = self._new_signal(s, signal, payload, received_at, replay)
                record.result, record.reason = result, reason
                record.row_status = status.value if status else ""
                record.latency_ms = latency
                s.flush()
                self._enqueue_signal_row(s, record)
                if row and (status or note_only):
                    values = {"Note": reason, "Last Signal": self._last_signal_text(signal, received_at)}
                    if status:
                        values["Order Status"] = status.value
                    self._enqueue_row(s, signal.key, values)
            body = {
                **base,
                "status": result if result in ("success", "duplicate") else "skipped",
                "order_status": status.value if status else None,
                "reason": reason,
                **(extra or {}),
            }
            return Reply(http, body), False

        # duplicates: same id within alert_id_window, or same body within duplicate_window
        window = runtime.alert_id_window_seconds if signal.alert_id else runtime.duplicate_window_seconds
        if window > 0:
            since = received_at - timedelta(seconds=window)
            with self.store.session() as s:
                first = s.scalar(
                    select(SignalRecord.id)
                    .where(
                        SignalRecord.alert_key == signal.alert_key,
                        SignalRecord.received_at >= since,
                        SignalRecord.result.not_in(("rejected", "duplicate")),
                    )
                    .limit(1)
                )
            if first is not None:
                self._emit(
                    "alert_rejected",
                    f"duplicate alert ignored: {signal.action.value} {signal.key} (first was #{first})",
                    signal,
                )
                return finish("duplicate", f"duplicate of signal #{first}", row=False)

        row = snapshot.rows.get(signal.key)
        if row is None:
            problem = snapshot.problem_for(signal.key)
            if problem is not None and problem.active:
                return finish("skipped", f"row {problem.row_number}: {problem.reason}", status=RowStatus.CONFIG_ERROR)
            if signal.key in snapshot.inactive or problem is not None:
                return finish("skipped", "row is inactive (active is not TRUE)", status=RowStatus.INACTIVE)
            return finish("skipped", f"no Config row for {signal.key}", row=False)
        base["amount"] = format_decimal(row.position_size)
        if row.strategy and signal.strategy != row.strategy:
            return finish(
                "skipped", f"strategy {signal.strategy!r} does not match the row's {row.strategy!r}", note_only=True
            )
        if runtime.max_alert_age_seconds and signal.fired_at and not replay:
            age = (received_at - signal.fired_at).total_seconds()
            if age > runtime.max_alert_age_seconds:
                reason = f"stale alert: fired {age:.0f} s ago (max_alert_age_seconds {runtime.max_alert_age_seconds:g})"
                self._emit("alert_rejected", f"{signal.key}: {reason}; not traded", signal)
                return finish("rejected", reason, note_only=True)
        if not runtime.trading_enabled:
            self._emit(
                "blocked",
                f"{signal.key}: {signal.action.value} blocked by the kill switch (trading_enabled FALSE)",
                signal,
            )
            return finish("blocked", "kill switch: trading_enabled is FALSE", status=RowStatus.BLOCKED)
        try:
            broker = self.brokers.get(row.broker)
        except ConfigError as exc:
            self._emit("config_error", f"{signal.key}: {exc}", signal)
            return finish("skipped", str(exc), status=RowStatus.CONFIG_ERROR)
        if replay and broker.live:
            return Reply(409, {"error": "replay is accepted only by the paper broker"}), False

        with self.store.session() as s:
            slot = self.store.slot(s, signal.key)
            assert slot is not None
            slot_qty = slot.qty
        try:
            instrument = broker.instrument(signal.symbol)
        except (BrokerRejected, TemporaryError) as exc:
            return finish("failed", f"instrument lookup failed: {exc}", status=RowStatus.FAILED)
        decision = decide(signal.action, slot_qty=slot_qty, direction=row.direction, shortable=instrument.shortable)
        if decision.skip_status is not None:
            return finish("skipped", decision.reason, status=decision.skip_status)

        # size the opening leg
        notes: list[str] = []
        open_qty = ZERO
        price = signal.price
        if decision.open_side is not None:
            if price is None:
                try:
                    price = broker.last_price(signal.symbol)
                except (BrokerRejected, TemporaryError):
                    price = None
            try:
                if price is None:
                    raise SizingError('no price to size the order: add "price": {{close}} to the alert')
                equity = None
                if row.size_type.value in ("pct_equity", "risk_pct") and signal.quantity is None:
                    equity = broker.account().equity
                size = entry_size(
                    row,
                    price=price,
                    instrument=instrument,
                    equity=equity,
                    override_qty=signal.quantity,
                    short=decision.open_side is PositionSide.SHORT,
                )
                open_qty = size.qty
                notes.extend(size.notes)
            except (SizingError, BrokerRejected, TemporaryError) as exc:
                if not decision.close_qty:
                    self._emit("order_failed", f"{signal.key}: {signal.action.value} not placed: {exc}", signal)
                    return finish("failed", str(exc), status=RowStatus.FAILED)
                notes.append(f"entry skipped: {exc}")
                decision = Decision(close_qty=decision.close_qty)
        total = decision.close_qty + open_qty
        closing_long = slot_qty > 0
        side = Side.SELL if (closing_long or decision.open_side is PositionSide.SHORT) else Side.BUY
        ref_price = price if price is not None else signal.price

        # record the alert and the order intent (durable) before sending
        with self.store.session() as s:
            record = self._new_signal(s, signal, payload, received_at, replay)
            s.flush()
            client_order_id = (
                f"tv{self.store.instance}-{record.id}-{hashlib.sha256(signal.alert_key.encode()).hexdigest()[:8]}"
            )
            order = OrderRecord(
                signal_id=record.id,
                client_order_id=client_order_id,
                broker=broker.name,
                symbol=signal.symbol,
                timeframe=signal.timeframe,
                side=side.value,
                qty=total,
                ref_price=ref_price,
                notional=(total * ref_price) if ref_price is not None else None,
                reduce_only=decision.open_side is None,
                state=OrderState.PENDING.value,
                created_at=utc_now(),
                updated_at=utc_now(),
                purpose=decision.purpose,
                stop_loss_pct=row.stop_loss_pct,
                reason="; ".join(notes),
                replay_time=signal.fired_at if replay else None,
            )
            s.add(order)
            s.flush()
            order_pk, signal_pk = order.id, record.id
            self._enqueue_row(
                s,
                signal.key,
                {
                    "Order Status": RowStatus.ORDER_SUBMITTED.value,
                    "Last Signal": self._last_signal_text(signal, received_at),
                    "Note": "; ".join(notes),
                },
            )
        request = OrderRequest(
            client_order_id=client_order_id,
            symbol=signal.symbol,
            side=side,
            qty=total,
            ref_price=ref_price,
            reduce_only=decision.open_side is None,
            leverage=row.leverage,
            stop_loss_pct=row.stop_loss_pct if decision.open_side else None,
            take_profit_pct=row.take_profit_pct if decision.open_side else None,
            trailing_pct=row.trailing_pct if decision.open_side else None,
            extended_hours=row.extended_hours,
            fill_time=signal.fired_at if replay else None,
        )
        base.update({"order_id": client_order_id, "client_order_id": client_order_id, "qty": format_decimal(total)})

        def complete() -> dict[str, Any]:
            try:
                return self._submit(broker, request, order_pk, signal_pk, started, row)
            finally:
                self._locks.release(stripes)

        if getattr(broker, "inline", False):
            # the paper broker answers in microseconds: no thread hop on the hot path
            try:
                outcome = self._submit(broker, request, order_pk, signal_pk, started, row)
            except BaseException:
                raise
            return Reply(200, {**base, **outcome}), False
        future: Future[dict[str, Any]] = self._executor.submit(complete)
        try:
            outcome = future.result(timeout=runtime.broker_reply_deadline_seconds)
        except FutureTimeout:
            return Reply(
                202,
                {
                    **base,
                    "status": "success",
                    "order_status": RowStatus.ORDER_SUBMITTED.value,
                    "reason": "broker is slow; the order continues in the background",
                },
            ), True
        return Reply(200, {**base, **outcome}), True

    def _submit(
        self, broker: Broker, request: OrderRequest, order_pk: int, signal_pk: int, started: float, row: ConfigRow
    ) -> dict[str, Any]:
        """Send the order (retrying temporary errors with the same client order id) and record the result."""
        try:
            update = self._send_with_retry(broker, request)
        except BrokerRejected as exc:
            update = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
        except TemporaryError as exc:
            # unknown whether the venue got it: keep it pending; the tracker asks by client_order_id
            update = OrderUpdate(broker_order_id="", state=OrderState.PENDING, reason=f"broker unreachable: {exc}")
        submitted_ms = _ms(started)
        status = self.apply_update(order_pk, update, signal_pk=signal_pk, started=started, submitted_ms=submitted_ms)
        result = "failed" if status is RowStatus.FAILED else "success"
        with self.store.session() as s:
            order = s.get(OrderRecord, order_pk)
            assert order is not None
            reason = order.reason
            broker_id = order.broker_order_id
        return {
            "status": result,
            "order_status": status.value,
            "reason": reason,
            "order_id": broker_id or request.client_order_id,
        }

    @staticmethod
    def _send_with_retry(broker: Broker, request: OrderRequest) -> OrderUpdate:
        for attempt in Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=stop_after_attempt(3),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        ):
            with attempt:
                return broker.submit_order(request)
        raise AssertionError("unreachable")

    # -- order updates (engine and tracker) ------------------------------------------------------

    def apply_update(
        self,
        order_pk: int,
        update: OrderUpdate,
        *,
        signal_pk: int | None = None,
        started: float | None = None,
        submitted_ms: Decimal | None = None,
    ) -> RowStatus:
        """Record a venue update of order ``order_pk``: new fills move the slot; write statuses.

        Idempotent: fills already recorded (same order and fill id) are ignored. Returns the row status.
        """
        now = utc_now()
        with self.store.session() as s:
            order = s.get(OrderRecord, order_pk)
            assert order is not None
            key = SlotKey(order.symbol, order.timeframe)
            slot = self.store.slot(s, key)
            assert slot is not None
            known = set(s.scalars(select(FillRecord.broker_fill_id).where(FillRecord.order_id == order.id)))
            new_fills = [f for f in update.fills if f.fill_id not in known]
            for fill in new_fills:
                s.add(
                    FillRecord(
                        order_id=order.id,
                        broker_fill_id=fill.fill_id,
                        symbol=order.symbol,
                        timeframe=order.timeframe,
                        side=order.side,
                        qty=fill.qty,
                        price=fill.price,
                        fee=fill.fee,
                        filled_at=fill.filled_at,
                    )
                )
                _move_slot(slot, Side(order.side), fill.qty, fill.price, fill.filled_at)
                order.fees = order.fees + fill.fee
            if update.broker_order_id:
                order.broker_order_id = update.broker_order_id
            order.state = update.state.value
            order.filled_qty = max(update.filled_qty, order.filled_qty)
            if update.filled_avg_price is not None:
                order.filled_avg_price = update.filled_avg_price
            if new_fills:
                order.filled_at = max(f.filled_at for f in new_fills)
            if order.submitted_at is None and update.state is not OrderState.PENDING:
                order.submitted_at = now
            if update.reason:
                order.reason = "; ".join(p for p in (order.reason, update.reason) if p)
            order.updated_at = now
            status = _row_status(update.state, order.filled_qty, slot.qty, order.qty)
            note = order.reason if status in (RowStatus.FAILED, RowStatus.QUEUED) or order.reason else ""
            if update.state is OrderState.QUEUED and update.eligible_at:
                note = f"market closed: eligible {self._fmt_time(update.eligible_at)}"
            signal = s.get(SignalRecord, signal_pk or order.signal_id) if (signal_pk or order.signal_id) else None
            if signal is not None:
                signal.result = "failed" if status is RowStatus.FAILED else "success"
                signal.reason = order.reason
                signal.row_status = status.value
                signal.order_id = order.broker_order_id or order.client_order_id
                if submitted_ms is not None:
                    signal.submitted_ms = submitted_ms
                    signal.latency_ms = submitted_ms
                if started is not None and update.state is OrderState.FILLED:
                    signal.filled_ms = _ms(started)
                self._enqueue_signal_row(s, signal)
            self._enqueue_row(
                s,
                key,
                {
                    "Order Status": status.value,
                    "Position": format_decimal(slot.qty),
                    "Last Order ID": order.broker_order_id or order.client_order_id,
                    "Note": note,
                },
            )
            self._enqueue_order_row(s, order)
            symbol_text = f"{order.side} {format_decimal(order.filled_qty)} {order.symbol} ({order.timeframe})"
        if status is RowStatus.FAILED:
            self._emit_raw(
                "order_failed", f"order failed: {order.side} {format_decimal(order.qty)} {key}: {order.reason}", key
            )
        elif update.state is OrderState.FILLED and new_fills:
            avg = format_decimal(order.filled_avg_price)
            self._emit_raw("order_filled", f"filled: {symbol_text} @ {avg}; position {format_decimal(slot.qty)}", key)
        return status

    def open_order_details(self) -> list[tuple[int, str, str, datetime, str]]:
        """Orders not yet final: ``(order pk, broker, client_order_id, created_at, state)``, oldest first."""
        final = [s.value for s in OrderState if s.is_final]
        with self.store.session() as s:
            return [
                (o.id, o.broker, o.client_order_id, o.created_at, o.state)
                for o in s.scalars(select(OrderRecord).where(OrderRecord.state.not_in(final)).order_by(OrderRecord.id))
            ]

    def recover(self, *, max_age_seconds: float = 300) -> dict[str, int]:
        """Start-up recovery: resolve orders left pending by a crash; nothing is executed twice.

        - pending orders: asked from the venue by ``client_order_id``; if the venue has it, its state is
          applied; if not and the alert is recent (``max_age_seconds``), it is sent again (same id, so a
          venue that did get it cannot fill it twice); an old one is marked failed with the reason.
        - pending signals without an order (crash during the decision): marked failed with the reason.

        Returns counts: ``{"resumed", "resent", "abandoned", "signals_marked"}``.
        """
        counts = {"resumed": 0, "resent": 0, "abandoned": 0, "signals_marked": 0}
        with self.store.session() as s:
            pending = list(s.scalars(select(OrderRecord).where(OrderRecord.state == OrderState.PENDING.value)))
            orphans = list(
                s.scalars(
                    select(SignalRecord)
                    .where(SignalRecord.result == "pending")
                    .where(~select(OrderRecord.id).where(OrderRecord.signal_id == SignalRecord.id).exists())
                )
            )
            for signal in orphans:
                signal.result, signal.reason = "failed", "bot restarted before acting on this alert; not traded"
                self._enqueue_signal_row(s, signal)
                counts["signals_marked"] += 1
        for order in pending:
            try:
                broker = self.brokers.get(order.broker)
                update = broker.get_order(order.client_order_id)
            except BotError as exc:
                log.error("recovery: cannot query %s for %s: %s", order.broker, order.client_order_id, exc)
                continue
            if update is not None:
                self.apply_update(order.id, update)
                counts["resumed"] += 1
                continue
            age = (utc_now() - order.created_at).total_seconds()
            if age <= max_age_seconds or order.replay_time is not None:
                request = OrderRequest(
                    client_order_id=order.client_order_id,
                    symbol=order.symbol,
                    side=Side(order.side),
                    qty=order.qty,
                    ref_price=order.ref_price,
                    reduce_only=order.reduce_only,
                    fill_time=order.replay_time,
                )
                try:
                    update = self._send_with_retry(broker, request)
                except BrokerRejected as exc:
                    update = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
                except TemporaryError:
                    continue
                self.apply_update(order.id, update)
                counts["resent"] += 1
            else:
                self.apply_update(
                    order.id,
                    OrderUpdate(
                        broker_order_id="",
                        state=OrderState.FAILED,
                        reason=f"bot restarted; order never reached the venue and is {age:.0f} s old; not sent",
                    ),
                )
                counts["abandoned"] += 1
        return counts

    # -- config statuses ------------------------------------------------------------------------

    def on_config_reload(self, snapshot: ConfigSnapshot) -> None:
        """Write INACTIVE / CONFIG ERROR / READY on rows whose sheet status disagrees with the config."""
        writes: list[tuple[tuple[str, str], dict[str, str]]] = []
        for key, problem in snapshot.problems.items():
            status = RowStatus.CONFIG_ERROR if problem.active else RowStatus.INACTIVE
            note = f"row {problem.row_number}: {problem.reason}"
            if snapshot.statuses.get(key) != (status.value, note):
                writes.append((key, {"Order Status": status.value, "Note": note}))
        for slot_key in snapshot.inactive:
            key = (slot_key.symbol, slot_key.timeframe)
            if key not in snapshot.problems and snapshot.statuses.get(key, ("", ""))[0] != RowStatus.INACTIVE.value:
                writes.append((key, {"Order Status": RowStatus.INACTIVE.value, "Note": ""}))
        for slot_key in snapshot.rows:
            key = (slot_key.symbol, slot_key.timeframe)
            current = snapshot.statuses.get(key, ("", ""))[0]
            if current in ("", RowStatus.INACTIVE.value, RowStatus.CONFIG_ERROR.value):
                writes.append((key, {"Order Status": RowStatus.READY.value, "Note": ""}))
        if not writes:
            return
        with self.store.session() as s:
            for key, values in writes:
                values["Last Updated"] = self._fmt_time(utc_now())
                self.store.enqueue(s, "write", "Config", {k: safe_cell(v) for k, v in values.items()}, key)

    # -- helpers ---------------------------------------------------------------------------------

    def _record_rejected(
        self, payload: dict[str, Any], exc: AlertRejected, received_at: datetime, started: float
    ) -> None:
        try:
            with self.store.session() as s:
                record = SignalRecord(
                    received_at=received_at,
                    result="rejected",
                    reason=str(exc)[:500],
                    action=_cell_text(payload.get("action")),
                    symbol=_cell_text(payload.get("symbol", payload.get("ticker"))),
                    timeframe=_cell_text(payload.get("timeframe", payload.get("interval"))),
                    alert_id=_cell_text(payload.get("id")),
                    body=redacted_body(payload) if payload else "",
                    latency_ms=_ms(started),
                )
                s.add(record)
                s.flush()
                self._enqueue_signal_row(s, record)
        except TemporaryError as err:
            log.error("could not record rejected alert: %s", err)

    def _new_signal(
        self, s: Session, signal: Signal, payload: dict[str, Any], received_at: datetime, replay: bool
    ) -> SignalRecord:
        record = SignalRecord(
            received_at=received_at,
            alert_key=signal.alert_key,
            alert_id=signal.alert_id,
            action=signal.action.value,
            symbol=signal.symbol,
            timeframe=signal.timeframe,
            price=signal.price,
            quantity=signal.quantity,
            strategy=signal.strategy,
            fired_at=signal.fired_at,
            body=redacted_body(payload),
            replay=replay,
        )
        s.add(record)
        return record

    def _enqueue_row(self, s: Session, key: SlotKey, values: dict[str, str]) -> None:
        values = {**values, "Last Updated": self._fmt_time(utc_now())}
        self.store.enqueue(
            s, "write", "Config", {k: safe_cell(v) for k, v in values.items()}, (key.symbol, key.timeframe)
        )

    def _enqueue_signal_row(self, s: Session, record: SignalRecord) -> None:
        row = {
            "received_at": self._fmt_time(record.received_at),
            "alert_id": record.alert_id,
            "action": record.action,
            "symbol": record.symbol,
            "timeframe": record.timeframe,
            "price": format_decimal(record.price),
            "result": record.result,
            "reason": record.reason,
            "latency_ms": format_decimal(_round_ms(record.latency_ms)),
            "signal_id": str(record.id),
        }
        self.store.enqueue(s, "upsert", "Signals", {k: safe_cell(v) for k, v in row.items()}, (str(record.id),))

    def _enqueue_order_row(self, s: Session, order: OrderRecord) -> None:
        row = {
            "submitted_at": self._fmt_time(order.submitted_at or order.created_at),
            "order_id": order.broker_order_id,
            "client_order_id": order.client_order_id,
            "broker": order.broker,
            "symbol": order.symbol,
            "timeframe": order.timeframe,
            "side": order.side,
            "qty": format_decimal(order.qty),
            "notional": format_decimal(
                order.notional.quantize(Decimal("0.01")) if order.notional is not None else None
            ),
            "status": order.state,
            "filled_qty": format_decimal(order.filled_qty),
            "filled_avg_price": format_decimal(order.filled_avg_price),
            "filled_at": self._fmt_time(order.filled_at) if order.filled_at else "",
            "reason": order.reason,
        }
        self.store.enqueue(s, "upsert", "Orders", {k: safe_cell(v) for k, v in row.items()}, (order.client_order_id,))

    def _last_signal_text(self, signal: Signal, received_at: datetime) -> str:
        price = f" @ {format_decimal(signal.price)}" if signal.price is not None else ""
        return f"{signal.action.value}{price} {self._fmt_time(signal.fired_at or received_at)}"

    def _fmt_time(self, value: datetime) -> str:
        return value.astimezone(self._zone).strftime("%Y-%m-%d %H:%M:%S")

    def _emit(self, kind: str, text: str, signal: Signal) -> None:
        self._emit_raw(kind, text, signal.key)

    def _emit_raw(self, kind: str, text: str, key: SlotKey) -> None:
        if self._events is not None:
            try:
                self._events(kind, text, key.symbol, key.timeframe)
            except Exception:  # notifications never get in the way of trading
                log.exception("notification hook failed")

    @contextmanager
    def symbol_lock(self, symbol: str) -> Iterator[None]:
        """Hold the lock that serialises alerts of ``symbol`` (used by jobs touching slots)."""
        stripes = self._locks.indexes("s:" + symbol)
        self._locks.acquire(stripes)
        try:
            yield
        finally:
            self._locks.release(stripes)

    def close(self) -> None:
        """Wait for background submissions to finish."""
        self._executor.shutdown(wait=True)


def _move_slot(slot: SlotRecord, side: Side, qty: Decimal, price: Decimal, at: datetime) -> None:
    """Apply a fill to a slot: signed qty, average entry price (reset on a flip), last exit time."""
    signed = qty if side is Side.BUY else -qty
    before = slot.qty
    after = before + signed
    if before == 0 or ((before > 0) != (after > 0) and after != 0):
        slot.avg_price = price if after != 0 else None
    elif abs(after) > abs(before):
        assert slot.avg_price is not None
        slot.avg_price = (slot.avg_price * abs(before) + price * qty) / abs(after)
    if after == 0:
        slot.avg_price = None
    if abs(after) < abs(before):
        slot.last_exit_at = at
    slot.qty = after
    slot.updated_at = utc_now()


def _row_status(state: OrderState, filled: Decimal, slot_qty: Decimal, ordered: Decimal) -> RowStatus:
    if state is OrderState.FILLED or (state.is_final and filled > 0):
        return RowStatus.WAITING if slot_qty == 0 else RowStatus.FILLED
    if state is OrderState.PARTIALLY_FILLED:
        return RowStatus.PARTIALLY_FILLED
    if state is OrderState.QUEUED:
        return RowStatus.QUEUED
    if state in (OrderState.PENDING, OrderState.SUBMITTED):
        return RowStatus.ORDER_SUBMITTED
    return RowStatus.FAILED


def _ms(started: float) -> Decimal:
    return Decimal(int((time.perf_counter() - started) * 1_000_000)) / 1000


def _round_ms(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


def _cell_text(value: object) -> str:
    return "" if value is None else str(value)[:64]
