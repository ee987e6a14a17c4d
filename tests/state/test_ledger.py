"""The trading path's named queries (bot/state/ledger.py) against a real SQLite state DB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.domain import SlotKey, SlotState, utc_now
from bot.state import ledger
from bot.state.store import StateStore, database_file

KEY = SlotKey("AAPL", "1h")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    built = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield built
    built.close()


def _signal(store: StateStore, **values: Any) -> int:
    row = {"received_at": utc_now(), "alert_key": "k1", "result": "success", **values}
    return store.committer.run(lambda conn: ledger.insert_signal(conn, row))


def _order(store: StateStore, **values: Any) -> int:
    now = utc_now()
    row = {
        "client_order_id": f"c{now.timestamp()}",
        "broker": "alpaca",
        "symbol": "AAPL",
        "timeframe": "1h",
        "side": "buy",
        "qty": Decimal(10),
        "state": "submitted",
        "created_at": now,
        "updated_at": now,
        **values,
    }
    return store.committer.run(lambda conn: ledger.insert_order(conn, row))


def test_flags_start_off_and_persist(store: StateStore) -> None:
    assert ledger.read_flag(store, "paused") is False
    ledger.write_flag(store, "paused", True)
    assert ledger.read_flag(store, "paused") is True
    ledger.write_flag(store, "paused", False)
    assert ledger.read_flag(store, "paused") is False


def test_duplicate_of_sees_accepted_signals_in_the_window_only(store: StateStore) -> None:
    now = utc_now()
    _signal(store, alert_key="rej", result="rejected", received_at=now)
    _signal(store, alert_key="dup", result="duplicate", received_at=now)
    old = _signal(store, alert_key="old", received_at=now - timedelta(hours=1))
    first = _signal(store, alert_key="k1", received_at=now)
    assert ledger.duplicate_of(store, "k1", now - timedelta(seconds=5)) == first
    assert ledger.duplicate_of(store, "rej", now - timedelta(seconds=5)) is None  # a refused alert may come again
    assert ledger.duplicate_of(store, "dup", now - timedelta(seconds=5)) is None
    assert ledger.duplicate_of(store, "old", now - timedelta(minutes=5)) is None
    assert ledger.duplicate_of(store, "old", now - timedelta(hours=2)) == old
    keys = [key for key, _, _ in ledger.recent_alert_keys(store, now - timedelta(minutes=5))]
    assert keys == ["k1"]


def test_slots_round_trip_and_exposure(store: StateStore) -> None:
    assert ledger.read_slot(store, KEY) == SlotState()
    at = utc_now()
    store.committer.run(
        lambda conn: ledger.write_slot(conn, KEY, "alpaca", SlotState(Decimal("2.5"), Decimal(100), at))
    )
    store.committer.run(
        lambda conn: ledger.write_slot(conn, SlotKey("AAPL", "1d"), "alpaca", SlotState(Decimal(-1), Decimal(90)))
    )
    store.committer.run(lambda conn: ledger.write_slot(conn, SlotKey("MSFT", "1h"), "paper", SlotState()))
    assert ledger.read_slot(store, KEY) == SlotState(Decimal("2.5"), Decimal(100), at)
    assert ledger.symbol_exposure(store, "AAPL") == (Decimal("1.5"), 2)  # net of both AAPL slots; MSFT is flat
    assert {(s.symbol, s.timeframe, s.qty) for s in ledger.open_slots(store)} == {
        ("AAPL", "1h", Decimal("2.5")),
        ("AAPL", "1d", Decimal(-1)),
    }


def test_unfilled_qty_counts_open_orders_signed(store: StateStore) -> None:
    _order(store, side="buy", qty=Decimal(10), filled_qty=Decimal(4), state="partially_filled")
    _order(store, side="sell", qty=Decimal(3), state="queued")
    _order(store, side="buy", qty=Decimal(100), filled_qty=Decimal(100), state="filled")  # final: not in flight
    _order(store, side="buy", qty=Decimal(7), timeframe="1d")  # another slot
    assert ledger.unfilled_qty(store, KEY) == Decimal(3)  # +6 still to buy, -3 to sell
    states = ledger.orders_by_state(store)
    assert states == {"partially_filled": 1, "queued": 1, "filled": 1, "submitted": 1}
    open_ids = [o.client_order_id for o in ledger.open_orders(store)]
    assert len(open_ids) == 3 and all(isinstance(o.id, int) for o in ledger.open_orders(store))


def test_filled_entries_are_the_orders_whose_exits_may_fire(store: StateStore) -> None:
    since = utc_now() - timedelta(days=1)
    _order(store, client_order_id="e1", purpose="entry", filled_qty=Decimal(10), state="filled")
    _order(store, client_order_id="e2", purpose="entry", filled_qty=Decimal(0), state="canceled")
    _order(store, client_order_id="r1", purpose="reversal", filled_qty=Decimal("0.5"), state="filled")
    _order(store, client_order_id="x1", purpose="exit", filled_qty=Decimal(10), state="filled")
    _order(store, client_order_id="b1", purpose="entry", filled_qty=Decimal(1), broker="binance", state="filled")
    entries = ledger.filled_entries(store, KEY, "alpaca", since)
    assert sorted(cid for cid, _ in entries) == ["e1", "r1"]
    assert ledger.order_known(store, "x1", "alpaca") and not ledger.order_known(store, "x1", "binance")


def test_order_venues_and_outcome(store: StateStore) -> None:
    first = _order(store, broker="paper", state="filled")
    _order(store, broker="alpaca", state="submitted", reason="waiting", broker_order_id="A-1")
    last_broker, in_flight = ledger.order_venues(store)
    assert last_broker == {("AAPL", "1h"): "alpaca"}  # the latest order decides the slot's venue
    assert in_flight == {("alpaca", "AAPL")}
    assert ledger.order_symbol(store, first) == "AAPL"
    assert ledger.order_outcome(store, first + 1) == ("waiting", "A-1")
    with pytest.raises(LookupError):
        ledger.order_outcome(store, 999)


def test_realised_pnl_since_sums_fills_after_the_cut(store: StateStore) -> None:
    order_pk = _order(store)
    now = utc_now()
    fills = [
        {"broker_fill_id": "1", "realised_pnl": Decimal("-1.5"), "filled_at": now - timedelta(days=1)},
        {"broker_fill_id": "2", "realised_pnl": Decimal("12.25"), "filled_at": now},
        {"broker_fill_id": "3", "realised_pnl": Decimal("-0.25"), "filled_at": now},
    ]
    common = {"order_id": order_pk, "symbol": "AAPL", "timeframe": "1h", "side": "sell", "qty": 1, "price": 1}
    store.committer.run(lambda conn: ledger.insert_fills(conn, [{**common, **f} for f in fills]))
    assert ledger.realised_pnl_since(store, now - timedelta(hours=1)) == Decimal("12.00")


def test_database_file_names_sqlite_files_only(tmp_path: Path) -> None:
    assert database_file(f"sqlite:///{tmp_path / 's.db'}") == ("sqlite", tmp_path / "s.db")
    assert database_file("sqlite:///:memory:") == ("sqlite", None)
    assert database_file("postgresql+psycopg://u@localhost/db") == ("postgresql", None)
