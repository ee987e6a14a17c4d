"""Group commit for the state DB: many requests' writes, one transaction, one fsync.

A request hands a *unit* (a function taking a SQLAlchemy :class:`~sqlalchemy.engine.Connection`) to
:meth:`GroupCommitter.run` and blocks until the unit's transaction is committed (durable). A single
writer thread drains the queue, runs every queued unit inside one transaction, commits once and wakes
every caller. Units must not have effects outside the database before they are committed; if one
raises, the batch is rolled back and each unit is re-run in a transaction of its own, so only the
failing unit fails.

Under load, units arriving while a commit is in progress are batched into the next one, so the
fsync cost is shared; with a single caller it behaves like a plain transaction. Durability is not
weakened: :meth:`run` returns only after the commit that contains the unit.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from bot.errors import TemporaryError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Most units committed together (bounds the time a unit waits behind others).
MAX_BATCH = 64


class FairLock:
    """A first-come, first-served mutex: each waiter gets a ticket and is admitted in ticket order.

    ``threading.Lock`` lets the thread that just released it take it again at once, so a busy group
    committer could starve every other writer of the state DB (seen: ORM writes waiting up to a second
    under a burst). Waiting on this lock is cheap and wakes the next ticket the moment the holder leaves.
    Not re-entrant.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._owner: int | None = None

    def __enter__(self) -> None:
        """Wait for this thread's turn.

        Raises:
            RuntimeError: the calling thread already holds the lock (a write transaction opened inside
                another one would otherwise wait for itself forever).
        """
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                raise RuntimeError("state DB write transactions cannot nest (this thread already holds one)")
            ticket = self._next
            self._next += 1
            try:
                while ticket != self._serving:
                    self._cond.wait()
            except BaseException:  # interrupted while waiting: give the turn up, or the queue stalls
                self._abandoned.add(ticket)
                self._advance_to(self._serving)
                raise
            self._owner = me

    def __exit__(self, *_exc: object) -> None:
        with self._cond:
            self._owner = None
            self._advance_to(self._serving + 1)

    def _advance_to(self, ticket: int) -> None:
        """Serve ``ticket`` next, skipping abandoned turns (caller holds ``_cond``)."""
        while ticket in self._abandoned:
            self._abandoned.discard(ticket)
            ticket += 1
        if ticket != self._serving:
            self._serving = ticket
            self._cond.notify_all()


class GroupCommitter:
    """Serialises state-DB writes on one thread and commits them in batches.

    Args:
        engine: the state DB engine (SQLite uses BEGIN IMMEDIATE and fsync on commit).
        write_lock: the process's lock for state-DB writes, shared with every other writer (see
            :class:`FairLock`), so writers take turns instead of polling in SQLite's busy handler.
    """

    def __init__(self, engine: Engine, *, write_lock: FairLock | None = None) -> None:
        self._engine = engine
        self._write_lock = write_lock or FairLock()
        self._queue: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._closed = False
        self.commits = 0
        self.units = 0
        self._thread.start()

    def run(self, unit: Callable[[Connection], T], timeout: float = 30.0) -> T:
        """Run ``unit`` in the next group transaction and return its result once committed.

        If the unit has not started within ``timeout`` seconds it is withdrawn (it will never run) and
        :class:`TemporaryError` is raised, so the caller can answer "retry" knowing nothing was recorded.
        A unit that has started is waited for: its commit is under way and its outcome is final.

        Raises:
            TemporaryError: the database could not commit (locked, disk full, closed) or the unit was
                withdrawn after waiting ``timeout`` seconds for its turn.
            Exception: whatever ``unit`` raised (its savepoint is rolled back; others still commit).
        """
        if self._closed:
            raise TemporaryError("state DB is closed")
        future: Future[T] = Future()
        self._queue.put((unit, future))
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            if future.cancel():
                raise TemporaryError(f"state DB busy: not recorded within {timeout:g} s") from None
            return future.result()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Callable[[Connection], Any], Future[Any]]]) -> None:
        """Run the batch in one transaction; if a unit fails, run each unit alone so only it fails.

        Units are marked running only once this thread holds the process's write lock, so a unit whose
        caller gave up while another writer held the lock is still withdrawn, never run.
        """
        with self._write_lock:
            batch = [item for item in batch if item[1].set_running_or_notify_cancel()]  # drop withdrawn units
            if not batch:
                return
            try:
                with self._engine.begin() as conn:
                    values = [unit(conn) for unit, _future in batch]
            except OperationalError as exc:
                self._fail(batch, TemporaryError(f"state DB commit failed: {exc.orig}"))
                return
            except Exception:
                for item in batch:
                    self._run_alone(item)
                return
        self.commits += 1
        self.units += len(batch)
        for (_unit, future), value in zip(batch, values, strict=True):
            future.set_result(value)

    def _run_alone(self, item: tuple[Callable[[Connection], Any], Future[Any]]) -> None:
        """Run one unit in a transaction of its own (the caller holds the write lock)."""
        unit, future = item
        try:
            with self._engine.begin() as conn:
                value = unit(conn)
        except OperationalError as exc:
            future.set_exception(TemporaryError(f"state DB commit failed: {exc.orig}"))
        except Exception as exc:
            future.set_exception(exc)
        else:
            self.commits += 1
            self.units += 1
            future.set_result(value)

    @staticmethod
    def _fail(batch: list[tuple[Callable[[Connection], Any], Future[Any]]], error: Exception) -> None:
        for _unit, future in batch:
            future.set_exception(error)
