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
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.brokers.base import Broker, FillReport, OrderRequest, OrderUpdate
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
    SlotState,
    format_decimal,
    utc_now,
)
from bot.errors import AlertRejected, BotError, BrokerRejected, ConfigError, TemporaryError
from bot.parsing import safe_cell
from bot.settings import RuntimeSettings
from bot.state.fastsql import FastInsert
from bot.state.models import FillRecord, Meta, OrderRecord, OutboxRecord, SignalRecord, SlotRecord
from bot.state.store import StateStore
from bot.trading.alerts import check_secret, parse_body, parse_signal, redacted_body
from bot.trading.config_table import ConfigCache, ConfigSnapshot
from bot.trading.positions import apply_fill
from bot.trading.risk import Exposure, entry_block_reason
from bot.trading.rows import fmt_time, last_signal_text, order_row, signal_row
from bot.trading.sizing import SizingError, entry_size

SIGNALS = SignalRecord.__table__
ORDERS = OrderRecord.__table__
FILLS = FillRecord.__table__
SLOTS = SlotRecord.__table__
OUTBOX = OutboxRecord.__table__
META = Meta.__table__

#: How far back the in-memory duplicate index reaches; longer windows fall back to a DB query.
RECENT_HORIZON = timedelta(days=2)

# Statements built once: executing them with parameter dicts skips per-call statement construction.
INS_SIGNAL = FastInsert(SIGNALS)
INS_ORDER = FastInsert(ORDERS)
INS_FILLS = FastInsert(FILLS)
INS_OUTBOX = FastInsert(OUTBOX)
UPSERT_SLOT = FastInsert(SLOTS, upsert_on=("symbol", "timeframe"))
SEL_SLOT = select(SLOTS.c.qty, SLOTS.c.avg_price, SLOTS.c.last_exit_at).where(
    SLOTS.c.symbol == bindparam("k_symbol"), SLOTS.c.timeframe == bindparam("k_timeframe")
)
SEL_DUPLICATE = (
    select(SIGNALS.c.id)
    .where(
        SIGNALS.c.alert_key == bindparam("k_key"),
        SIGNALS.c.received_at >= bindparam("k_since", type_=SIGNALS.c.received_at.type),
        SIGNALS.c.result.not_in(("rejected", "duplicate")),
    )
    .limit(1)
)

log = logging.getLogger(__name__)

ZERO = Decimal(0)
#: How far back the entries whose protective exits may still fire are looked up (Alpaca cancels
#: good-till-cancelled orders after 90 days).
EXIT_LOOKBACK_DAYS = 90


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

    def __init__(self, stripes: int = 4096) -> None:
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
        self._order_times: deque[float] = deque(maxlen=100_000)
        # client order id suffix: start time (ms, hex) + a counter: unique across restarts of this DB
        self._order_prefix = f"{int(time.time() * 1000) % 16**9:09x}"
        self._order_counter = itertools.count(1)
        self._loss_block_day: date | None = None
        self._resumed_day: date | None = None
        with store.write() as conn:
            paused = conn.execute(select(META.c.value).where(META.c.key == "paused")).scalar()
            if paused is None:
                conn.execute(insert(META).values(key="paused", value=""))
        self.paused = bool(paused)
        self._slots: dict[SlotKey, SlotState] = {}
        #: latest Order Status written per row by this process (the sheet may lag behind the outbox)
        self.row_status: dict[SlotKey, str] = {}
        self._recent: dict[str, tuple[datetime, int]] = {}
        self._recent_since = utc_now()
        self._recent_prune_at = 10_000
        self._load_recent()

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
        base: dict[str, Any] = {
            "action": signal.action.value,
            "symbol": signal.symbol,
            "timeframe": signal.timeframe,
            "amount": None,
            "order_id": None,
            "order_status": None,
            "reason": "",
        }

        def finish(
            result: str, reason: str, *, status: RowStatus | None = None, row: bool = True, note_only: bool = False
        ) -> tuple[Reply, bool]:
            config_values = None
            if row and (status or note_only):
                config_values = {"Note": reason, "Last Signal": self._last_signal(signal, received_at)}
                if status:
                    config_values["Order Status"] = status.value
            self._record_signal(signal, payload, received_at, replay, started, result, reason, status, config_values)
            body = {
                **base,
                "status": result if result in ("success", "duplicate") else "skipped",
                "order_status": status.value if status else None,
                "reason": reason,
            }
            return Reply(200, body), False

        first = self._duplicate_of(
            signal,
            received_at,
            runtime.alert_id_window_seconds if signal.alert_id else runtime.duplicate_window_seconds,
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
        if not runtime.trading_enabled or self.paused:
            why = (
                "kill switch: trading_enabled is FALSE"
                if not runtime.trading_enabled
                else "trading paused (POST /pause)"
            )
            self._emit("blocked", f"{signal.key}: {signal.action.value} blocked; {why}", signal)
            return finish("blocked", why, status=RowStatus.BLOCKED)
        try:
            broker = self.brokers.get(row.broker)
        except ConfigError as exc:
            self._emit("config_error", f"{signal.key}: {exc}", signal)
            return finish("skipped", str(exc), status=RowStatus.CONFIG_ERROR)
        if replay and broker.live:
            return Reply(409, {"error": "replay is accepted only by the paper broker"}), False

        slot = self.read_slot(signal.key)
        exits_unread, exit_entries = "", []
        if slot.qty and broker.capabilities.venue_exits:
            # a stop or take-profit that fired at the venue must reach the slot before the next order
            # sizes against it: otherwise a close would sell the shares a second time (opening a short)
            exit_entries = self._exit_entries(signal.key, broker.name)
            try:
                if self._book_venue_exits(signal.key, broker, exit_entries):
                    slot = self.read_slot(signal.key)
            except (BrokerRejected, TemporaryError, ConfigError) as exc:
                exits_unread = f"protective exits at {broker.name} could not be read ({exc})"
        try:
            instrument = broker.instrument(signal.symbol)
        except ConfigError as exc:
            self._emit("config_error", f"{signal.key}: {exc}", signal)
            return finish("skipped", str(exc), status=RowStatus.CONFIG_ERROR)
        except (BrokerRejected, TemporaryError) as exc:
            return finish("failed", f"instrument lookup failed: {exc}", status=RowStatus.FAILED)
        # orders accepted but not yet filled (slow venue, market closed) count as if filled: a repeated buy
        # while the first is still queued must not buy twice
        effective = slot.qty if broker.capabilities.inline_fills else slot.qty + self._unfilled_qty(signal.key)
        decision = decide(signal.action, slot_qty=effective, direction=row.direction, shortable=instrument.shortable)
        if decision.skip_status is not None:
            return finish("skipped", decision.reason, status=decision.skip_status)
        if exits_unread and decision.close_qty:
            reason = f"{exits_unread}; not sent: if one fired, this order would close the position twice"
            self._emit("order_failed", f"{signal.key}: {signal.action.value} not placed: {reason}", signal)
            return finish("failed", reason, status=RowStatus.FAILED)

        # size the opening leg; risk limits apply to entries only (exits are always allowed)
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
                signed_entry = open_qty if decision.open_side is PositionSide.LONG else -open_qty
                blocked = self._entry_blocked(row, runtime, slot, signed_entry - effective, price, broker)
            except (SizingError, BrokerRejected, TemporaryError, ConfigError) as exc:
                if not decision.close_qty:
                    self._emit("order_failed", f"{signal.key}: {signal.action.value} not placed: {exc}", signal)
                    return finish("failed", str(exc), status=RowStatus.FAILED)
                notes.append(f"entry skipped: {exc}")
                decision, open_qty, blocked = Decision(close_qty=decision.close_qty), ZERO, None
            if blocked:
                if not decision.close_qty:
                    self._emit("blocked", f"{signal.key}: {signal.action.value} blocked: {blocked}", signal)
                    return finish("blocked", blocked, status=RowStatus.BLOCKED)
                notes.append(f"entry blocked: {blocked}")
                decision, open_qty = Decision(close_qty=decision.close_qty), ZERO
        total = decision.close_qty + open_qty
        side = Side.SELL if (effective > 0 or decision.open_side is PositionSide.SHORT) else Side.BUY
        ref_price = price if price is not None else signal.price
        client_order_id = (
            f"tv{self.store.instance}-{hashlib.sha256(signal.alert_key.encode()).hexdigest()[:8]}-"
            f"{self._order_prefix}{next(self._order_counter):x}"
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
            fill_at=signal.fired_at if replay else None,
            exits_of=tuple(cid for cid, _ in exit_entries) if decision.close_qty else (),
        )
        order_values = {
            "client_order_id": client_order_id,
            "broker": broker.name,
            "symbol": signal.symbol,
            "timeframe": signal.timeframe,
            "side": side.value,
            "qty": total,
            "ref_price": ref_price,
            "notional": (total * ref_price) if ref_price is not None else None,
            "reduce_only": decision.open_side is None,
            "purpose": decision.purpose,
            "stop_loss_pct": row.stop_loss_pct,
            "reason": "; ".join(notes),
            "replay_fill_at": signal.fired_at if replay else None,
        }
        base.update({"order_id": client_order_id, "client_order_id": client_order_id, "qty": format_decimal(total)})
        self._order_times.append(time.monotonic())
        if broker.capabilities.inline_fills:
            # the paper venue lives in the state DB: alert, order, fill and slot commit in one unit
            outcome = self._paper_order(
                broker, request, signal, payload, received_at, replay, started, order_values, slot, runtime
            )
            return Reply(200, {**base, **outcome}), False
        order_pk, signal_pk = self._record_intent(signal, payload, received_at, replay, order_values)

        future: Future[dict[str, Any]] = self._executor.submit(
            self._submit, broker, request, order_pk, signal_pk, started
        )
        try:
            outcome = future.result(timeout=runtime.broker_reply_deadline_seconds)
        except FutureTimeout:
            # the symbol stays locked until the venue answers: the next alert sees the final slot
            future.add_done_callback(lambda _done: self._locks.release(stripes))
            reply = {
                **base,
                "status": "success",
                "order_status": RowStatus.ORDER_SUBMITTED.value,
                "reason": "broker is slow; the order continues in the background",
            }
            return Reply(202, reply), True
        return Reply(200, {**base, **outcome}), False

    # -- commit units (one transaction each, group-committed) ---- -------------------------------------

    def _signal_values(
        self, signal: Signal, payload: dict[str, Any], received_at: datetime, replay: bool
    ) -> dict[str, Any]:
        return {
            "received_at": received_at,
            "alert_key": signal.alert_key,
            "alert_id": signal.alert_id,
            "action": signal.action.value,
            "symbol": signal.symbol,
            "timeframe": signal.timeframe,
            "price": signal.price,
            "quantity": signal.quantity,
            "strategy": signal.strategy,
            "fired_at": signal.fired_at,
            "body": redacted_body(payload),
            "replay": replay,
        }

    def _record_signal(
        self,
        signal: Signal,
        payload: dict[str, Any],
        received_at: datetime,
        replay: bool,
        started: float,
        result: str,
        reason: str,
        status: RowStatus | None,
        config_values: dict[str, str] | None,
    ) -> None:
        values = {
            **self._signal_values(signal, payload, received_at, replay),
            "result": result,
            "reason": reason,
            "row_status": status.value if status else "",
        }

        def unit(conn: Connection) -> int:
            values["latency_ms"] = _ms(started)
            signal_pk = INS_SIGNAL.one(conn, values)
            outbox = [self._signal_outbox(signal_pk, values)]
            if config_values is not None:
                outbox.append(self._config_outbox(signal.key, config_values))
            INS_OUTBOX.many(conn, outbox)
            return int(signal_pk)

        signal_pk = self.store.committer.run(unit)
        if result != "duplicate":
            self._remember(signal.alert_key, received_at, signal_pk)

    def _record_rejected(
        self, payload: dict[str, Any], exc: AlertRejected, received_at: datetime, started: float
    ) -> None:
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

        def unit(conn: Connection) -> None:
            values["latency_ms"] = _ms(started)
            signal_pk = INS_SIGNAL.one(conn, values)
            INS_OUTBOX.many(conn, [self._signal_outbox(signal_pk, values)])

        try:
            self.store.committer.run(unit)
        except TemporaryError as err:
            log.error("could not record rejected alert: %s", err)

    def _paper_order(
        self,
        broker: Any,
        request: OrderRequest,
        signal: Signal,
        payload: dict[str, Any],
        received_at: datetime,
        replay: bool,
        started: float,
        order_values: dict[str, Any],
        slot_before: SlotState,
        runtime: RuntimeSettings,
    ) -> dict[str, Any]:
        """One unit: the paper venue fills, and alert, order, fill, slot and outbox rows commit together."""
        key = signal.key
        fee_rate = runtime.paper_fee_rate

        def unit(conn: Connection) -> tuple[RowStatus, str, SlotState, OrderUpdate, int]:
            now = utc_now()
            try:
                result = broker.execute(conn, request, fresh=True, fee_rate=fee_rate)
            except BrokerRejected as exc:
                result = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
            slot = slot_before  # read under this symbol's lock by _process
            fills = []
            for fill in result.fills:
                slot, realised = apply_fill(slot, request.side, fill.qty, fill.price, fill.fee, fill.filled_at)
                fills.append(
                    {
                        "broker_fill_id": fill.fill_id,
                        "symbol": key.symbol,
                        "timeframe": key.timeframe,
                        "side": request.side.value,
                        "qty": fill.qty,
                        "price": fill.price,
                        "fee": fill.fee,
                        "filled_at": fill.filled_at,
                        "realised_pnl": realised,
                    }
                )
            status = _row_status(result.state, result.filled_qty, slot.qty)
            reason = "; ".join(p for p in (order_values["reason"], result.reason) if p)
            submitted_ms = _ms(started)
            signal_values = {
                **self._signal_values(signal, payload, received_at, replay),
                "result": "failed" if status is RowStatus.FAILED else "success",
                "reason": reason,
                "row_status": status.value,
                "order_id": result.broker_order_id or request.client_order_id,
                "submitted_ms": submitted_ms,
                "latency_ms": submitted_ms,
                "filled_ms": submitted_ms if result.state is OrderState.FILLED else None,
            }
            signal_pk = INS_SIGNAL.one(conn, signal_values)
            order = {
                **order_values,
                "signal_id": signal_pk,
                "broker_order_id": result.broker_order_id,
                "state": result.state.value,
                "filled_qty": result.filled_qty,
                "filled_avg_price": result.filled_avg_price,
                "fees": sum((f["fee"] for f in fills), start=ZERO),
                "created_at": now,
                "submitted_at": now,
                "updated_at": now,
                "reason": reason,
                "filled_at": max((f["filled_at"] for f in fills), default=None),
            }
            order_pk = INS_ORDER.one(conn, order)
            if fills:
                INS_FILLS.many(conn, [{**f, "order_id": order_pk} for f in fills])
                self._write_slot(conn, key, broker.name, slot)
            INS_OUTBOX.many(
                conn,
                [
                    self._signal_outbox(signal_pk, signal_values),
                    self._order_outbox(order),
                    self._config_outbox(
                        key,
                        {
                            "Order Status": status.value,
                            "Position": format_decimal(slot.qty),
                            "Last Order ID": order["broker_order_id"] or request.client_order_id,
                            "Last Signal": self._last_signal(signal, received_at),
                            "Note": reason,
                        },
                    ),
                ],
            )
            return status, reason, slot, result, signal_pk

        status, reason, slot, result, signal_pk = self.store.committer.run(unit)
        broker.committed(request, result)
        self._slots[key] = slot
        self._remember(signal.alert_key, received_at, signal_pk)
        self._after_order(key, status, request, reason, slot)
        return {
            "status": "failed" if status is RowStatus.FAILED else "success",
            "order_status": status.value,
            "reason": reason,
            "order_id": f"paper-{request.client_order_id}"
            if status is not RowStatus.FAILED
            else request.client_order_id,
        }

    def _record_intent(
        self, signal: Signal, payload: dict[str, Any], received_at: datetime, replay: bool, order_values: dict[str, Any]
    ) -> tuple[int, int]:
        """Commit the alert and the order intent (state pending) before the order is sent to a venue."""

        def unit(conn: Connection) -> tuple[int, int]:
            now = utc_now()
            values = self._signal_values(signal, payload, received_at, replay)
            signal_pk = INS_SIGNAL.one(conn, values)
            order = {
                **order_values,
                "signal_id": signal_pk,
                "state": OrderState.PENDING.value,
                "created_at": now,
                "updated_at": now,
            }
            order_pk = INS_ORDER.one(conn, order)
            INS_OUTBOX.many(
                conn,
                [
                    self._config_outbox(
                        signal.key,
                        {
                            "Order Status": RowStatus.ORDER_SUBMITTED.value,
                            "Last Signal": self._last_signal(signal, received_at),
                            "Note": order_values["reason"],
                        },
                    )
                ],
            )
            return order_pk, signal_pk

        order_pk, signal_pk = self.store.committer.run(unit)
        self._remember(signal.alert_key, received_at, signal_pk)
        return order_pk, signal_pk

    def _submit(
        self, broker: Broker, request: OrderRequest, order_pk: int, signal_pk: int, started: float
    ) -> dict[str, Any]:
        """Send the order (retrying temporary errors with the same client order id) and record the result."""
        try:
            result = self._send_with_retry(broker, request)
        except (BrokerRejected, ConfigError) as exc:
            result = OrderUpdate(broker_order_id="", state=OrderState.REJECTED, reason=str(exc))
        except TemporaryError as exc:
            # unknown whether the venue got it: keep it pending; the tracker asks by client_order_id
            result = OrderUpdate(broker_order_id="", state=OrderState.PENDING, reason=f"broker unreachable: {exc}")
        submitted_ms = _ms(started)
        status = self.apply_update(order_pk, result, signal_pk=signal_pk, started=started, submitted_ms=submitted_ms)
        with self.store.read_session() as s:
            order = s.get(OrderRecord, order_pk)
            assert order is not None
            reason, broker_id = order.reason, order.broker_order_id
        return {
            "status": "failed" if status is RowStatus.FAILED else "success",
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
        return self._record_update(
            update, order_pk=order_pk, signal_pk=signal_pk, started=started, submitted_ms=submitted_ms
        )

    def _record_update(
        self,
        update: OrderUpdate,
        *,
        order_pk: int | None = None,
        new_order: OrderRecord | None = None,
        signal_pk: int | None = None,
        started: float | None = None,
        submitted_ms: Decimal | None = None,
    ) -> RowStatus:
        """:meth:`apply_update` for the stored order ``order_pk``, or for ``new_order``, inserted in the same
        transaction (an order the venue placed on its own, e.g. a protective exit that fired)."""
        now = utc_now()
        with self.store.session() as s:
            if new_order is not None:
                s.add(new_order)
                s.flush()
                order = new_order
            else:
                order = s.get(OrderRecord, order_pk)
            assert order is not None
            key = SlotKey(order.symbol, order.timeframe)
            record = self.store.slot(s, key)
            assert record is not None
            slot = SlotState(record.qty, record.avg_price, record.last_exit_at)
            known = set(s.scalars(select(FillRecord.broker_fill_id).where(FillRecord.order_id == order.id)))
            new_fills = [f for f in update.fills if f.fill_id not in known]
            for fill in new_fills:
                slot, realised = apply_fill(slot, Side(order.side), fill.qty, fill.price, fill.fee, fill.filled_at)
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
                        realised_pnl=realised,
                    )
                )
                order.fees = order.fees + fill.fee
            record.qty, record.avg_price, record.last_exit_at = slot.qty, slot.avg_price, slot.last_exit_at
            record.broker, record.updated_at = order.broker, now
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
            if update.reason and update.reason not in order.reason:
                order.reason = "; ".join(p for p in (order.reason, update.reason) if p)
            order.updated_at = now
            status = _row_status(update.state, order.filled_qty, slot.qty)
            note = order.reason
            if update.state is OrderState.QUEUED and update.eligible_at:
                note = f"market closed: eligible {fmt_time(update.eligible_at, self._zone)}"
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
                s.add(OutboxRecord(**self._signal_outbox(signal.id, signal.__dict__)))
            s.add(
                OutboxRecord(
                    **self._config_outbox(
                        key,
                        {
                            "Order Status": status.value,
                            "Position": format_decimal(slot.qty),
                            "Last Order ID": order.broker_order_id or order.client_order_id,
                            "Note": note,
                        },
                    )
                )
            )
            s.add(OutboxRecord(**self._order_outbox({c.key: getattr(order, c.key) for c in ORDERS.columns})))
            request_side, request_qty = order.side, order.qty
            filled_text = f"{order.side} {format_decimal(order.filled_qty)} {key}"
            avg = format_decimal(order.filled_avg_price)
        self._slots[key] = slot
        if status is RowStatus.FAILED:
            self._emit_raw(
                "order_failed", f"order failed: {request_side} {format_decimal(request_qty)} {key}: {order.reason}", key
            )
        elif update.state is OrderState.FILLED and new_fills:
            self._emit_raw("order_filled", f"filled: {filled_text} @ {avg}; position {format_decimal(slot.qty)}", key)
        return status

    # -- protective exits the venue executed on its own ---------------------------------------------

    def sync_venue_exits(self) -> int:
        """Book into the slots the protective exits that venues executed on their own; returns how many.

        For each non-flat slot whose venue reports them (``venue_exits``, Alpaca), under the symbol's lock:
        see :meth:`_book_venue_exits`. A venue error skips that slot (logged); the next run retries.
        """
        with self.store.read_session() as s:
            slots = [(SlotKey(r.symbol, r.timeframe), r.broker) for r in s.scalars(select(SlotRecord)) if r.qty]
        booked = 0
        for key, broker_name in slots:
            try:
                broker = self.brokers.get(broker_name)
            except ConfigError:
                continue
            if not broker.capabilities.venue_exits:
                continue
            try:
                with self.symbol_lock(key.symbol):
                    booked += self._book_venue_exits(key, broker, self._exit_entries(key, broker_name))
            except BotError as exc:
                log.warning("protective exits of %s at %s not read: %s", key, broker_name, exc)
        return booked

    def _exit_entries(self, key: SlotKey, broker_name: str) -> list[tuple[str, datetime]]:
        """``(client_order_id, created_at)`` of slot ``key``'s filled entry/reversal orders at ``broker_name``
        in the last :data:`EXIT_LOOKBACK_DAYS` days: the orders whose protective exits may still be at the venue."""
        since = utc_now() - timedelta(days=EXIT_LOOKBACK_DAYS)
        with self.store.read_session() as s:
            return [
                (o.client_order_id, o.created_at)
                for o in s.scalars(
                    select(OrderRecord).where(
                        OrderRecord.symbol == key.symbol,
                        OrderRecord.timeframe == key.timeframe,
                        OrderRecord.broker == broker_name,
                        OrderRecord.purpose.in_(("entry", "reversal")),
                        OrderRecord.created_at >= since,
                    )
                )
                if o.filled_qty > 0
            ]

    def _book_venue_exits(self, key: SlotKey, broker: Broker, entries: list[tuple[str, datetime]]) -> int:
        """Book the exits ``broker`` executed for slot ``key``'s ``entries`` (from :meth:`_exit_entries`;
        the caller holds the symbol lock). Each executed exit becomes one ``exit``
        order, state filled, with one fill (the venue's exit order id as fill id) that moves the slot, in one
        transaction; the Config row, Orders and Trades follow as for any fill, and ``order_filled`` is sent.
        Idempotent: an exit already booked (order ``x-<venue id>``) is skipped. Returns how many were booked.

        Raises:
            TemporaryError / ConfigError: the venue could not be read (nothing booked).
        """
        if not entries:
            return 0
        exits = broker.venue_exits(
            key.symbol, [cid for cid, _ in entries], min(created for _, created in entries)
        )
        booked = 0
        for executed in exits:
            client_order_id = f"x-{executed.exit_id}"[:64]
            with self.store.read_session() as s:
                known = s.scalar(
                    select(OrderRecord.id).where(
                        OrderRecord.client_order_id == client_order_id, OrderRecord.broker == broker.name
                    )
                )
            if known is not None:
                continue
            now = utc_now()
            order = OrderRecord(
                client_order_id=client_order_id,
                broker=broker.name,
                broker_order_id=executed.exit_id,
                symbol=key.symbol,
                timeframe=key.timeframe,
                side=executed.side.value,
                qty=executed.qty,
                ref_price=executed.price,
                notional=executed.qty * executed.price,
                reduce_only=True,
                state=OrderState.SUBMITTED.value,
                filled_qty=ZERO,
                fees=ZERO,
                created_at=executed.filled_at,
                submitted_at=executed.filled_at,
                updated_at=now,
                reason=f"{executed.kind} filled at {broker.name} (protective exit of order "
                f"{executed.entry_client_order_id})",
                purpose="exit",
            )
            fill = FillReport(
                fill_id=executed.exit_id,
                qty=executed.qty,
                price=executed.price,
                fee=ZERO,
                filled_at=executed.filled_at,
            )
            update = OrderUpdate(
                broker_order_id=executed.exit_id,
                state=OrderState.FILLED,
                filled_qty=executed.qty,
                filled_avg_price=executed.price,
                fills=(fill,),
            )
            self._record_update(update, new_order=order)
            booked += 1
        return booked

    def apply_update_locked(self, order_pk: int, update: OrderUpdate) -> RowStatus:
        """:meth:`apply_update` while holding the order's symbol lock (for the tracker and recovery)."""
        with self.store.reader.connect() as conn:
            symbol = conn.execute(select(ORDERS.c.symbol).where(ORDERS.c.id == order_pk)).scalar_one()
        with self.symbol_lock(symbol):
            return self.apply_update(order_pk, update)

    def open_order_details(self) -> list[tuple[int, str, str, datetime, str, str]]:
        """Orders not yet final: ``(order pk, broker, client_order_id, created_at, state, symbol)``, oldest first."""
        final = [s.value for s in OrderState if s.is_final]
        with self.store.read_session() as s:
            return [
                (o.id, o.broker, o.client_order_id, o.created_at, o.state, o.symbol)
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
                s.add(OutboxRecord(**self._signal_outbox(signal.id, signal.__dict__)))
                counts["signals_marked"] += 1
        for order in pending:
            try:
                broker = self.brokers.get(order.broker)
                update = broker.get_order(order.client_order_id, order.symbol)
            except BotError as exc:
                log.error("recovery: cannot query %s for %s: %s", order.broker, order.client_order_id, exc)
                continue
            if update is not None:
                self.apply_update(order.id, update)
                counts["resumed"] += 1
                continue
            age = (utc_now() - order.created_at).total_seconds()
            if age <= max_age_seconds or order.replay_fill_at is not None:
                request = OrderRequest(
                    client_order_id=order.client_order_id,
                    symbol=order.symbol,
                    side=Side(order.side),
                    qty=order.qty,
                    ref_price=order.ref_price,
                    reduce_only=order.reduce_only,
                    fill_at=order.replay_fill_at,
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
                s.add(OutboxRecord(**self._config_outbox(SlotKey(*key), values)))

    # -- reads and small helpers ----------------------------------------------------------------

    def _duplicate_of(self, signal: Signal, received_at: datetime, window: float) -> int | None:
        """Id of an earlier accepted signal with the same alert key within ``window`` seconds, else None."""
        if window <= 0:
            return None
        since = received_at - timedelta(seconds=window)
        if since >= self._recent_since:
            seen = self._recent.get(signal.alert_key)
            return seen[1] if seen is not None and seen[0] >= since else None
        with self.store.reader.connect() as conn:
            return conn.execute(SEL_DUPLICATE, {"k_key": signal.alert_key, "k_since": since}).scalar()

    def _remember(self, alert_key: str, received_at: datetime, signal_pk: int) -> None:
        """Add an accepted alert to the in-memory duplicate index; prune entries past its horizon."""
        if alert_key not in self._recent:
            self._recent[alert_key] = (received_at, signal_pk)
        if len(self._recent) > self._recent_prune_at:
            horizon = utc_now() - RECENT_HORIZON
            self._recent = {k: v for k, v in self._recent.items() if v[0] >= horizon}
            self._recent_since = horizon
            self._recent_prune_at = max(10_000, 2 * len(self._recent))

    def _load_recent(self) -> None:
        since = utc_now() - RECENT_HORIZON
        query = (
            select(SIGNALS.c.alert_key, SIGNALS.c.received_at, SIGNALS.c.id)
            .where(
                SIGNALS.c.received_at >= since,
                SIGNALS.c.alert_key != "",
                SIGNALS.c.result.not_in(("rejected", "duplicate")),
            )
            .order_by(SIGNALS.c.id)
        )
        with self.store.reader.connect() as conn:
            for key, at, pk in conn.execute(query):
                self._recent.setdefault(key, (at, pk))
        self._recent_since = since

    def _unfilled_qty(self, key: SlotKey) -> Decimal:
        """Signed quantity still to fill on the slot's open orders (buys positive)."""
        final = [state.value for state in OrderState if state.is_final]
        query = select(ORDERS.c.side, ORDERS.c.qty, ORDERS.c.filled_qty).where(
            ORDERS.c.symbol == key.symbol, ORDERS.c.timeframe == key.timeframe, ORDERS.c.state.not_in(final)
        )
        with self.store.reader.connect() as conn:
            rows = conn.execute(query).all()
        return sum(((r.qty - r.filled_qty) * (1 if r.side == "buy" else -1) for r in rows), start=ZERO)

    def read_slot(self, key: SlotKey) -> SlotState:
        """The committed state of slot ``key`` (flat when never traded); cached, as this process is the only writer."""
        slot = self._slots.get(key)
        if slot is None:
            with self.store.reader.connect() as conn:
                slot = self._slots[key] = self._slot_from_db(conn, key)
        return slot

    @staticmethod
    def _slot_from_db(conn: Connection, key: SlotKey) -> SlotState:
        row = conn.execute(SEL_SLOT, {"k_symbol": key.symbol, "k_timeframe": key.timeframe}).first()
        return SlotState(row.qty, row.avg_price, row.last_exit_at) if row is not None else SlotState()

    @staticmethod
    def _write_slot(conn: Connection, key: SlotKey, broker: str, slot: SlotState) -> None:
        UPSERT_SLOT.upsert(
            conn,
            {
                "symbol": key.symbol,
                "timeframe": key.timeframe,
                "qty": slot.qty,
                "avg_price": slot.avg_price,
                "last_exit_at": slot.last_exit_at,
                "updated_at": utc_now(),
                "broker": broker,
            },
        )

    def _entry_blocked(
        self, row: ConfigRow, runtime: Any, slot: SlotState, delta: Decimal, price: Decimal, broker: Broker
    ) -> str | None:
        """Reason the entry (changing the symbol's net qty by ``delta``) is blocked by a risk limit, or None."""
        needs_db = runtime.max_symbol_notional_usd or runtime.max_open_positions or runtime.max_daily_loss_usd
        symbol_qty, open_slots, daily = ZERO, 0, None
        if needs_db:
            with self.store.reader.connect() as conn:
                slots = conn.execute(select(SLOTS.c.symbol, SLOTS.c.qty, SLOTS.c.avg_price)).all()
                symbol_qty = sum((r.qty for r in slots if r.symbol == row.symbol), start=ZERO)
                open_slots = sum(1 for r in slots if r.qty != 0)
            if runtime.max_daily_loss_usd:
                daily = self.daily_pnl()
        now_mono = time.monotonic()
        while self._order_times and now_mono - self._order_times[0] >= 60:
            self._order_times.popleft()
        today = utc_now().astimezone(self._zone).date()
        exposure = Exposure(
            symbol_qty=symbol_qty,
            open_slots=open_slots,
            orders_last_minute=len(self._order_times),
            daily_pnl=daily,
            slot_last_exit_at=slot.last_exit_at,
        )
        reason = entry_block_reason(
            row=row,
            runtime=runtime,
            exposure=exposure,
            entry_delta=delta,
            slot_was_flat=slot.qty == 0,
            price=price,
            now=utc_now(),
            loss_block_active=self._loss_block_day == today,
            loss_limit_lifted=self._resumed_day == today,
        )
        if reason and reason.startswith("daily loss") and self._loss_block_day != today:
            self._loss_block_day = today
        return reason

    def daily_pnl(self) -> Decimal:
        """Today's P&L, quote currency: realised (fills since local midnight, average cost, net of fees) plus
        unrealised on open slots, each valued at its own venue's last price."""
        midnight = datetime.combine(utc_now().astimezone(self._zone).date(), datetime.min.time(), self._zone)
        with self.store.reader.connect() as conn:
            realised = sum(
                (r for (r,) in conn.execute(select(FILLS.c.realised_pnl).where(FILLS.c.filled_at >= midnight))),
                start=ZERO,
            )
            slots = conn.execute(select(SLOTS.c.symbol, SLOTS.c.qty, SLOTS.c.avg_price, SLOTS.c.broker)).all()
        unrealised = ZERO
        for slot in slots:
            if slot.qty == 0 or slot.avg_price is None:
                continue
            try:
                last = self.brokers.get(slot.broker or self.brokers.default).last_price(slot.symbol)
            except BotError:
                last = None
            if last is not None:
                unrealised += (last - slot.avg_price) * slot.qty
        return realised + unrealised

    def pause(self, paused: bool) -> None:
        """Pause (no orders, signals answered BLOCKED) or resume trading; resume also lifts today's loss block."""
        self.paused = paused
        if not paused:
            self._resumed_day = utc_now().astimezone(self._zone).date()
        with self.store.write() as conn:
            conn.execute(update(META).where(META.c.key == "paused").values(value="1" if paused else ""))

    def _after_order(
        self, key: SlotKey, status: RowStatus, request: OrderRequest, reason: str, slot: SlotState
    ) -> None:
        if status is RowStatus.FAILED:
            self._emit_raw(
                "order_failed", f"order failed: {request.side.value} {format_decimal(request.qty)} {key}: {reason}", key
            )
        elif status in (RowStatus.FILLED, RowStatus.WAITING):
            self._emit_raw(
                "order_filled",
                f"filled: {request.side.value} {format_decimal(request.qty)} {key} @ "
                f"{format_decimal(request.ref_price)}; position {format_decimal(slot.qty)}",
                key,
            )

    def _signal_outbox(self, signal_pk: int, values: dict[str, Any]) -> dict[str, Any]:
        row = signal_row(
            signal_id=signal_pk,
            received_at=values["received_at"],
            alert_id=values.get("alert_id", ""),
            action=values.get("action", ""),
            symbol=values.get("symbol", ""),
            timeframe=values.get("timeframe", ""),
            price=values.get("price"),
            result=values.get("result", ""),
            reason=values.get("reason", ""),
            latency_ms=values.get("latency_ms"),
            zone=self._zone,
        )
        return self.store.outbox_row("upsert", "Signals", row, (str(signal_pk),))

    def _order_outbox(self, order: dict[str, Any]) -> dict[str, Any]:
        row = order_row(
            submitted_at=order.get("submitted_at") or order.get("created_at"),
            broker_order_id=order.get("broker_order_id") or "",
            client_order_id=order["client_order_id"],
            broker=order["broker"],
            symbol=order["symbol"],
            timeframe=order["timeframe"],
            side=order["side"],
            qty=order["qty"],
            notional=order.get("notional"),
            state=order["state"],
            filled_qty=order.get("filled_qty") or ZERO,
            filled_avg_price=order.get("filled_avg_price"),
            filled_at=order.get("filled_at"),
            reason=order.get("reason") or "",
            zone=self._zone,
        )
        return self.store.outbox_row("upsert", "Orders", row, (order["client_order_id"],))

    def _config_outbox(self, key: SlotKey, values: dict[str, str]) -> dict[str, Any]:
        if "Order Status" in values:
            self.row_status[key] = values["Order Status"]
        cells = {**values, "Last Updated": fmt_time(utc_now(), self._zone)}
        return self.store.outbox_row(
            "write", "Config", {k: safe_cell(v) for k, v in cells.items()}, (key.symbol, key.timeframe)
        )

    def note_row(self, session: Session, key: SlotKey, note: str) -> None:
        """Queue a ``Note`` for the Config row of ``key`` inside the caller's transaction."""
        session.add(OutboxRecord(**self._config_outbox(key, {"Note": note})))

    def _last_signal(self, signal: Signal, received_at: datetime) -> str:
        return last_signal_text(signal.action.value, signal.price, signal.fired_at or received_at, self._zone)

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


def _row_status(state: OrderState, filled: Decimal, slot_qty: Decimal) -> RowStatus:
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


def _cell_text(value: object) -> str:
    return "" if value is None else str(value)[:64]
