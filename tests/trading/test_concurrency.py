"""Lock ordering between the state DB, the group committer and the config cache.

Found by ``bench/load.py`` with 10,000 alerts: a config reload (holding the cache's lock) waited for
the state DB's write lock to save the last good config, while the group-commit thread, holding that
write lock inside a paper unit, waited for the cache's lock. Every alert then hung for 30 s. These
tests pin each rule that prevents it: units never wait for the config, ``ConfigCache.get`` never
waits for another thread's reload, reads never take the write lock, and a unit that waited too long
for its turn is withdrawn (the caller answers "retry" with nothing recorded) instead of leaking out
as an error while it may still commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from support.helpers import SECRET, make_settings, set_config

from bot.errors import TemporaryError
from bot.records import Table
from bot.services import Services, build_services
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs
from bot.state.models import OrderRecord, OutboxRecord
from bot.state.store import StateStore
from bot.trading.config_table import ConfigCache

OUTBOX = OutboxRecord.__table__


def _outbox_row() -> dict[str, Any]:
    return StateStore.outbox_row("append", "Signals", {"symbol": "X"})


def _services_trading(tmp_path: Path, symbols: list[str], settings_rows: dict[str, str] | None = None) -> Services:
    """Real services with one active 15-minute row of qty 1 per symbol."""
    services = build_services(make_settings(tmp_path))
    row = {"position_size": "1", "active": "TRUE", "Time Frame": "15", "size_type": "qty"}
    rows = [{"symbol": s, **row} for s in symbols]
    set_config(services, rows, settings_rows)
    return services


def test_reads_do_not_wait_for_a_writer_and_see_only_committed_rows(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with store.engine.begin() as conn:
        conn.execute(insert(OUTBOX), [_outbox_row()])
    writer = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another writer holds the lock (busy_timeout is 30 s)
    writer.execute("DELETE FROM outbox")
    results: dict[str, Any] = {}

    def read() -> None:
        results["depth"] = store.outbox_depth()
        results["batch"] = len(store.outbox_batch())
        results["fills"] = store.fills()
        results["slots"] = store.slots()
        results["tables"] = store.load_tables("nothing saved")

    reader = threading.Thread(target=read)
    started = time.monotonic()
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "a read waited for the write lock"
    assert time.monotonic() - started < 10
    writer.execute("ROLLBACK")
    writer.close()
    assert results == {"depth": 1, "batch": 1, "fills": [], "slots": [], "tables": None}
    store.close()


def test_a_unit_that_waited_too_long_is_withdrawn_and_never_runs(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    release = threading.Event()
    ran: list[str] = []

    def slow(conn: Any) -> str:
        release.wait(10)
        conn.execute(insert(OUTBOX), [_outbox_row()])
        ran.append("slow")
        return "slow"

    def late(conn: Any) -> str:
        conn.execute(insert(OUTBOX), [_outbox_row()])
        ran.append("late")
        return "late"

    first: dict[str, str] = {}
    holder = threading.Thread(target=lambda: first.setdefault("value", store.committer.run(slow)))
    holder.start()
    time.sleep(0.1)  # the committer is now inside ``slow``
    with pytest.raises(TemporaryError, match="not recorded"):
        store.committer.run(late, timeout=0.2)
    release.set()
    holder.join(timeout=10)
    assert first == {"value": "slow"}
    assert store.committer.run(lambda conn: "next") == "next"  # the committer carries on
    assert ran == ["slow"]
    assert store.outbox_depth() == 1
    store.close()


def test_a_unit_already_running_is_waited_for_past_the_timeout(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")

    def unit(conn: Any) -> int:
        time.sleep(0.4)
        conn.execute(insert(OUTBOX), [_outbox_row()])
        return 7

    assert store.committer.run(unit, timeout=0.1) == 7  # started in time: its outcome is final, not an error
    assert store.outbox_depth() == 1
    store.close()


class _GatedWorkbook:
    """A local workbook whose Config reads block while ``gate`` is closed (a slow or locked source)."""

    def __init__(self, inner: LocalWorkbook) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.reading = threading.Event()
        self.kind = inner.kind

    def read_tables(self, tabs: list[str]) -> dict[str, Table]:
        self.reading.set()
        self.gate.wait(10)
        return self.inner.read_tables(tabs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_get_returns_the_current_snapshot_while_another_thread_reloads(tmp_path: Path) -> None:
    inner = LocalWorkbook(tmp_path / "workbook.db")
    inner.ensure_tabs(all_specs())
    workbook = _GatedWorkbook(inner)
    cache = ConfigCache(workbook)  # type: ignore[arg-type]
    first = cache.get()
    workbook.gate.clear()
    cache.invalidate()
    reloader = threading.Thread(target=cache.get)
    reloader.start()
    assert workbook.reading.wait(5)  # the reloader holds the cache's lock, blocked on the workbook
    answered: list[object] = []
    other = threading.Thread(target=lambda: answered.append(cache.get()))
    other.start()
    other.join(timeout=5)
    alive = other.is_alive()
    workbook.gate.set()
    reloader.join(timeout=10)
    other.join(timeout=10)
    assert not alive, "get() waited for another thread's reload"
    assert answered == [first]
    assert cache.get() is not first  # the reload itself completed


def test_alerts_never_hang_while_the_config_reloads_under_load(tmp_path: Path) -> None:
    """Eight alert threads, config re-read on every alert, statuses flowing into Config meanwhile."""
    symbols = [f"SYM{i}" for i in range(16)]
    services = _services_trading(tmp_path, symbols, {"config_refresh_seconds": "0"})
    per_thread = 40
    replies: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def alerts(index: int) -> None:
        mine = symbols[index::8]
        for n in range(per_thread):
            symbol = mine[n % len(mine)]
            action = "buy" if (n // len(mine)) % 2 == 0 else "sell"
            alert = {"secret": SECRET, "action": action, "symbol": symbol, "timeframe": "15", "price": 10}
            body = json.dumps({**alert, "id": f"{index}-{n}"}).encode()
            reply = services.engine.handle(body)
            with lock:
                replies.append(reply.http_status)

    def flush_statuses() -> None:  # the outbox writer puts statuses into Config: its content keeps changing
        while not stop.is_set():
            services.writer.flush()
            time.sleep(0.005)

    flusher = threading.Thread(target=flush_statuses, daemon=True)
    flusher.start()
    threads = [threading.Thread(target=alerts, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    hung = [t for t in threads if t.is_alive()]
    stop.set()
    flusher.join(timeout=10)
    assert not hung, f"{len(hung)} alert threads still waiting after 60 s"
    assert replies == [200] * (8 * per_thread)
    with services.store.read_session() as s:
        assert s.scalar(select(func.count()).select_from(OrderRecord)) == 8 * per_thread
    services.close()


def test_fast_insert_stores_exactly_what_sqlalchemy_core_stores(tmp_path: Path) -> None:
    """The hot-path INSERT (raw cursor on SQLite) and a Core INSERT give identical rows."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from sqlalchemy.exc import IntegrityError

    from bot.state.fastsql import FastInsert
    from bot.state.models import SignalRecord, SlotRecord

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    signals = SignalRecord.__table__
    row = {
        "received_at": datetime(2026, 3, 1, 14, 30, 5, 123456, tzinfo=UTC),
        "alert_key": "k",
        "symbol": "BTCUSDT",
        "price": Decimal("0.000012300"),
        "replay": True,
    }
    fast = FastInsert(signals)
    with store.engine.begin() as conn:
        fast_pk = fast.one(conn, row)
        core_pk = conn.execute(insert(signals), row).inserted_primary_key[0]
    with store.engine.connect() as conn:
        raw = {
            pk: conn.exec_driver_sql("SELECT * FROM signals WHERE id=?", (pk,)).one()[1:] for pk in (fast_pk, core_pk)
        }
        typed = conn.execute(select(signals).where(signals.c.id == fast_pk)).one()
    assert raw[fast_pk] == raw[core_pk]  # same text, same defaults ("pending", "", 1 for True)
    assert (
        typed.price == Decimal("0.000012300") and typed.received_at == row["received_at"] and typed.result == "pending"
    )

    slots = FastInsert(SlotRecord.__table__, upsert_on=("symbol", "timeframe"))
    when = datetime(2026, 3, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        slots.upsert(conn, {"symbol": "X", "timeframe": "15", "qty": Decimal("1.5"), "updated_at": when})
        slots.upsert(conn, {"symbol": "X", "timeframe": "15", "qty": Decimal("-2"), "updated_at": when})
    assert [(s.symbol, s.qty) for s in store.slots()] == [("X", Decimal("-2"))]

    orders = FastInsert(OrderRecord.__table__)
    order = {
        "client_order_id": "dup",
        "broker": "paper",
        "symbol": "X",
        "timeframe": "15",
        "side": "buy",
        "qty": Decimal(1),
        "created_at": when,
        "updated_at": when,
    }
    with pytest.raises(IntegrityError), store.engine.begin() as conn:  # translated like Core's errors
        orders.many(conn, [order, order])
    store.close()


def test_local_workbook_reads_never_wait_for_its_writer(tmp_path: Path) -> None:
    """The config check on every alert reads the workbook while a job may be rewriting a large tab."""
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    writer = sqlite3.connect(tmp_path / "workbook.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process writing
    writer.execute("DELETE FROM rows")
    results: list[object] = []
    with workbook._lock:  # this process's writer busy (e.g. replace_rows of a 50,000-row Trades tab)
        reader = threading.Thread(
            target=lambda: results.extend([workbook.version(), workbook.read_tables(["Config"])["Config"].rows])
        )
        reader.start()
        reader.join(timeout=5)
        blocked = reader.is_alive()
    writer.execute("ROLLBACK")
    writer.close()
    reader.join(timeout=10)
    assert not blocked, "a workbook read waited for the writer"
    assert results[1] == []
    workbook.close()


def test_other_writers_get_their_turn_while_alerts_keep_the_committer_busy(tmp_path: Path) -> None:
    """An ORM write (order updates, config saves) must not starve behind a stream of group commits.

    With SQLite's busy handler alone, such a write polled the lock and waited a median 130 ms (up to
    1 s) under 8 alert threads; with the process's first-come write lock it waits one commit.
    """
    from bot.state.models import Meta

    symbols = [f"SYM{i}" for i in range(32)]
    services = _services_trading(tmp_path, symbols)
    stop = threading.Event()
    waits: list[float] = []

    def orm_writes() -> None:
        while not stop.is_set():
            began = time.perf_counter()
            with services.store.session() as s:
                s.merge(Meta(key="probe", value=str(began)))
            waits.append(time.perf_counter() - began)
            time.sleep(0.002)

    def alerts(index: int) -> None:
        mine = symbols[index::8]
        for n in range(150):
            action = "buy" if (n // len(mine)) % 2 == 0 else "sell"
            alert = {"secret": SECRET, "action": action, "symbol": mine[n % len(mine)], "timeframe": "15"}
            services.engine.handle(json.dumps({**alert, "price": 10, "id": f"{index}-{n}"}).encode())

    writer = threading.Thread(target=orm_writes)
    writer.start()
    threads = [threading.Thread(target=alerts, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    writer.join(timeout=30)
    services.close()
    waits.sort()
    assert len(waits) >= 50, f"only {len(waits)} ORM writes got through"
    assert waits[len(waits) // 2] < 0.05, f"median wait {waits[len(waits) // 2] * 1000:.0f} ms"


def test_a_nested_write_transaction_fails_fast_instead_of_waiting_for_itself(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with pytest.raises(RuntimeError, match="cannot nest"), store.session(), store.write():
        pass
    with store.write() as conn:  # the lock was handed on: the next writer gets its turn
        conn.execute(insert(OUTBOX), [_outbox_row()])
    assert store.outbox_depth() == 1
    store.close()


def test_local_workbook_reads_from_many_threads_reuse_connections(tmp_path: Path) -> None:
    """The dashboard reads from a new thread on every page run: that must not open a file each time."""
    import os

    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    workbook.version()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        reader = threading.Thread(target=lambda: (workbook.version(), workbook.read_tables(["Config"])))
        reader.start()
        reader.join(timeout=10)
    assert len(os.listdir("/proc/self/fd")) - before <= 2
    workbook.close()


def test_a_unit_waiting_behind_another_writer_is_still_withdrawn_on_time(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    ran: list[str] = []
    release = threading.Event()

    def hold_a_session() -> None:
        with store.session():
            release.wait(10)

    holder = threading.Thread(target=hold_a_session, daemon=True)
    holder.start()
    time.sleep(0.1)  # the session now holds the process's write lock
    started = time.monotonic()
    with pytest.raises(TemporaryError, match="not recorded"):
        store.committer.run(lambda conn: ran.append("unit"), timeout=0.3)
    waited = time.monotonic() - started
    release.set()
    holder.join(timeout=10)
    assert store.committer.run(lambda conn: "next") == "next"
    assert ran == [] and waited < 5
    store.close()


def test_a_writer_interrupted_while_waiting_gives_up_its_turn() -> None:
    import _thread

    from bot.state.group_commit import FairLock

    lock = FairLock()
    holder = threading.Thread(target=lambda: [lock.__enter__(), time.sleep(0.6), lock.__exit__()], daemon=True)
    holder.start()
    time.sleep(0.1)
    threading.Timer(0.2, _thread.interrupt_main).start()
    # queued behind the holder; the interrupt surfaces when the wait ends, as the turn comes up
    with pytest.raises(KeyboardInterrupt), lock:
        pass
    holder.join(timeout=10)
    got: list[bool] = []
    later = threading.Thread(target=lambda: [lock.__enter__(), got.append(True), lock.__exit__()], daemon=True)
    later.start()
    later.join(timeout=5)
    assert got == [True], "the abandoned turn stalled every later writer"


def test_fast_insert_refuses_a_key_that_is_not_a_column(tmp_path: Path) -> None:
    from bot.state.fastsql import FastInsert

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with pytest.raises(ValueError, match=r"outbox: no such column.*kindd"), store.engine.begin() as conn:
        FastInsert(OUTBOX).many(conn, [{**_outbox_row(), "kindd": "append"}])
    assert store.outbox_depth() == 0
    store.close()
