"""The background writer: applies the state DB's outbox to the workbook, coalesced and in order.

Writes are grouped per flush: every update of the same row becomes one (later values win), appends
stay in order, and the whole flush is one :meth:`Workbook.apply` call (one ``values:batchUpdate``
plus appends on Google). A failing workbook (quota, outage) is retried with exponential backoff and
jitter; entries stay in the durable outbox until applied, so a restart loses nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from tenacity import RetryCallState, wait_exponential_jitter

from bot.domain import utc_now
from bot.errors import BotError, ConfigError, WorkbookReadOnly
from bot.records import RowWrite, WriteBatch
from bot.sheets.base import Workbook
from bot.state.store import OutboxEntry, StateStore

log = logging.getLogger(__name__)

#: A write the workbook refuses (not a temporary failure) this many times is set aside and logged.
MAX_REFUSALS = 3


def coalesce(entries: list[OutboxEntry]) -> WriteBatch:
    """Merge outbox entries into one :class:`WriteBatch` (pure).

    Row writes with the same (tab, key) merge into the first one's place, later values overriding
    earlier ones; a merged write is an upsert if any part was. Appends keep their order.
    """
    batch = WriteBatch()
    index: dict[tuple[str, tuple[str, ...]], int] = {}
    for entry in entries:
        payload = json.loads(entry.payload)
        if entry.kind == "append":
            batch.appends.append((entry.tab, payload))
            continue
        key = tuple(json.loads(entry.key))
        position = index.get((entry.tab, key))
        upsert = entry.kind == "upsert"
        if position is None:
            index[(entry.tab, key)] = len(batch.writes)
            batch.writes.append(RowWrite(entry.tab, key, payload, upsert))
        else:
            old = batch.writes[position]
            batch.writes[position] = RowWrite(entry.tab, key, {**old.values, **payload}, old.upsert or upsert)
    return batch


class OutboxWriter:
    """Flushes the outbox to the workbook on a background thread.

    Args:
        store: the state DB holding the outbox.
        workbook: the target.
        min_interval: seconds between flushes (1.0 for Google: at most one flush per second).
        batch_limit: outbox entries per flush.
        on_state: called with ``("degraded", error)`` / ``("recovered", "")`` on transitions.
        after_flush: called after each successful flush (e.g. trimming Signals/Orders).
    """

    def __init__(
        self,
        store: StateStore,
        workbook: Workbook,
        *,
        min_interval: float = 0.2,
        batch_limit: int = 5000,
        on_state: Callable[[str, str], None] | None = None,
        after_flush: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._workbook = workbook
        self._min_interval = min_interval
        self._batch_limit = batch_limit
        self._on_state = on_state
        self._after_flush = after_flush
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wait = wait_exponential_jitter(initial=1, max=60, jitter=1)
        self._failures = 0
        self.degraded_since: datetime | None = None
        #: the workbook refuses every write (a Viewer share): nothing is set aside while this holds
        self.read_only = False
        self.last_error = ""
        self.flushes = 0
        self.errors = 0
        self.set_aside: list[str] = []

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox-writer", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        """Hint that new entries are waiting (the writer also polls)."""
        self._wake.set()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop the thread after a last flush attempt (bounded by ``drain_seconds``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=drain_seconds)
            self._thread = None

    def flush(self) -> int:
        """Apply every pending entry now (in batches). Returns entries applied.

        Raises:
            BotError: when the workbook refuses (the entries stay in the outbox).
        """
        applied = 0
        while True:
            entries = self._store.outbox_batch(self._batch_limit)
            if not entries:
                break
            try:
                self._workbook.apply(coalesce(entries))
            except WorkbookReadOnly as exc:
                # nothing can be written: keep every entry (no refusal counted) until the share is fixed
                self.errors += 1
                self.read_only = True
                self._set_degraded(str(exc))
                raise
            except ConfigError:
                # refused for good (e.g. Google 400 on one cell): find the culprit, keep the rest flowing
                self.errors += 1
                applied += self._apply_each(entries)
                if len(entries) < self._batch_limit:
                    break
                continue
            except BotError as exc:
                self._store.outbox_failed(entries[0].id)
                self.errors += 1
                self._set_degraded(str(exc))
                raise
            self._store.outbox_done(entries[-1].id)
            applied += len(entries)
            self.flushes += 1
            if len(entries) < self._batch_limit:
                break
        self.read_only = False
        if self.degraded_since is not None:
            self.degraded_since = None
            self.last_error = ""
            log.info("workbook writes recovered")
            if self._on_state:
                self._on_state("recovered", "")
        if applied and self._after_flush:
            try:
                self._after_flush()
            except BotError as exc:
                log.warning("after-flush task failed: %s", exc)
        return applied

    def _apply_each(self, entries: list[OutboxEntry]) -> int:
        """Apply entries one at a time; an entry refused :data:`MAX_REFUSALS` times is set aside (logged)."""
        applied = 0
        for entry in entries:
            try:
                self._workbook.apply(coalesce([entry]))
            except ConfigError as exc:
                if entry.attempts + 1 >= MAX_REFUSALS:
                    log.error(
                        "workbook refused a write %d times; set aside: %s %s %s: %s",
                        MAX_REFUSALS,
                        entry.kind,
                        entry.tab,
                        entry.key,
                        exc,
                    )
                    self.set_aside.append(f"{entry.tab} {entry.key}: {exc}")
                    self._store.outbox_delete([entry.id])
                else:
                    self._store.outbox_failed(entry.id)
                continue
            self._store.outbox_delete([entry.id])
            applied += 1
        return applied

    def _set_degraded(self, error: str) -> None:
        self.last_error = error
        if self.degraded_since is None:
            self.degraded_since = utc_now()
            log.warning("workbook writes failing, keeping them in the outbox: %s", error)
            if self._on_state:
                self._on_state("degraded", error)

    def _run(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=max(self._min_interval, 0.05))
            self._wake.clear()
            pause = self._min_interval - (time.monotonic() - last)
            if pause > 0 and self._stop.wait(pause):
                break
            last = time.monotonic()
            try:
                self.flush()
                self._failures = 0
            except BotError:
                self._failures += 1
                state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
                state.attempt_number = self._failures
                self._stop.wait(self._wait(state))
            except Exception:
                log.exception("outbox writer crashed on a flush; retrying")
                self._stop.wait(5)
        try:
            self.flush()
        except BotError as exc:
            log.warning("final flush failed; %s entries stay in the outbox: %s", self._store.outbox_depth(), exc)
