"""The local workbook file: persistence, key lookup, user columns, versions, other processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.records import RowWrite, Table, WriteBatch
from bot.sheets.base import merge_bot_rows
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs, tab_spec


def test_survives_reopen_and_finds_rows_by_normalised_key(tmp_path: Path) -> None:
    path = tmp_path / "wb.db"
    book = LocalWorkbook(path)
    book.ensure_tabs(all_specs())
    book.apply(WriteBatch(appends=[("Config", {"symbol": "NASDAQ:aapl", "position_size": "1", "active": "TRUE",
                                                "Time Frame": "15 Min", "my column": "mine"})]))
    book.apply(WriteBatch(writes=[RowWrite("Config", ("AAPL", "15m"), {"Order Status": "FILLED"})]))
    book.close()
    again = LocalWorkbook(path)
    table = again.read_tables(["Config"])["Config"]
    assert table.rows == [{**{h: "" for h in table.headers}, "symbol": "NASDAQ:aapl", "position_size": "1",
                           "active": "TRUE", "Time Frame": "15 Min", "my column": "mine", "Order Status": "FILLED"}]
    assert "my column" in table.headers


def test_write_to_a_deleted_row_is_dropped_and_upsert_appends(tmp_path: Path) -> None:
    book = LocalWorkbook(tmp_path / "wb.db")
    book.ensure_tabs(all_specs())
    book.apply(WriteBatch(writes=[RowWrite("Config", ("GONE", "1d"), {"Order Status": "FILLED"})]))
    assert book.read_tables(["Config"])["Config"].rows == []
    book.apply(WriteBatch(writes=[RowWrite("Orders", ("c1",), {"client_order_id": "c1", "status": "pending"}, True),
                                  RowWrite("Orders", ("c1",), {"status": "filled"}, True)]))
    assert [r["status"] for r in book.read_tables(["Orders"])["Orders"].rows] == ["filled"]


def test_version_changes_only_with_user_cells(tmp_path: Path) -> None:
    book = LocalWorkbook(tmp_path / "wb.db")
    book.ensure_tabs(all_specs())
    v0 = book.version()
    book.apply(WriteBatch(appends=[("Config", {"symbol": "A", "Time Frame": "1d"})]))
    v1 = book.version()
    book.apply(WriteBatch(writes=[RowWrite("Config", ("A", "1d"), {"Order Status": "READY", "Note": ""})]))
    assert v0 != v1 and book.version() == v1
    book.apply(WriteBatch(writes=[RowWrite("Config", ("A", "1d"), {"position_size": "5"})]))
    assert book.version() != v1


def test_trim_keeps_newest_rows(tmp_path: Path) -> None:
    book = LocalWorkbook(tmp_path / "wb.db")
    book.apply(WriteBatch(appends=[("Signals", {"signal_id": str(i)}) for i in range(30)]))
    assert book.trim("Signals", 10) == 20
    assert [r["signal_id"] for r in book.read_tables(["Signals"])["Signals"].rows] == [str(i) for i in range(20, 30)]
    assert book.trim("Signals", 10) == 0


def test_ensure_tabs_upgrades_a_classic_config_and_is_idempotent(tmp_path: Path) -> None:
    book = LocalWorkbook(tmp_path / "wb.db")
    classic = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]
    book.set_headers("Config", classic)
    book.apply(WriteBatch(appends=[("Config", {"symbol": "AAPL", "position_size": "5000", "active": "TRUE",
                                               "Time Frame": "15"})]))
    changes = book.ensure_tabs(all_specs())
    assert any("Config: added columns" in c for c in changes)
    headers = book.read_tables(["Config"])["Config"].headers
    assert headers[:6] == classic and set(tab_spec("Config").headers) <= set(headers)
    assert book.read_tables(["Config"])["Config"].rows[0]["position_size"] == "5000"
    assert book.ensure_tabs(all_specs()) == []


def test_another_process_reads_while_this_one_writes(tmp_path: Path) -> None:
    path = tmp_path / "wb.db"
    book = LocalWorkbook(path)
    book.apply(WriteBatch(appends=[("Signals", {"signal_id": "1"})]))
    code = (
        "import sys; from bot.sheets.local import LocalWorkbook;"
        f"b = LocalWorkbook({str(path)!r});"
        "print(len(b.read_tables(['Signals'])['Signals'].rows))"
    )
    for expected in (1, 51):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
        assert out.stdout.strip() == str(expected)
        book.apply(WriteBatch(appends=[("Signals", {"signal_id": str(i)}) for i in range(50)]))


def test_merge_keeps_user_cells_and_manual_rows() -> None:
    spec = tab_spec("Trades")
    existing = Table("Trades", spec.headers, [
        {"trade_id": "T1", "symbol": "AAPL", "pnl": "5", "notes": "good entry", "rating": "4", "order_ids": "o1"},
        {"trade_id": "", "symbol": "TSLA", "pnl": "-3", "notes": "manual", "order_ids": ""},
        {"trade_id": "T0", "symbol": "OLD", "pnl": "1", "order_ids": "o0"},
    ])
    new = [{"trade_id": "T1", "symbol": "AAPL", "pnl": "6", "notes": "", "order_ids": "o1"},
           {"trade_id": "T2", "symbol": "MSFT", "pnl": "2", "order_ids": "o2"}]
    merged = merge_bot_rows(existing, new, spec=spec, keep=lambda r: not r.get("order_ids"))
    assert [r["trade_id"] for r in merged] == ["", "T1", "T2"]
    assert merged[1]["pnl"] == "6" and merged[1]["notes"] == "good entry" and merged[1]["rating"] == "4"
