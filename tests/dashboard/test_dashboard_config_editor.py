"""Config editor data (bot.dashboard.config_editor): writes never overwrite bot-owned cells."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.dashboard_rows import CONFIG, local_workbook, tab_table

from bot.dashboard.config_editor import (
    add_symbols_batch,
    config_records,
    config_row_problems,
    config_save,
    copy_settings_batch,
    parse_symbol_list,
)
from bot.records import RowWrite, WriteBatch


def test_config_edits_write_changed_user_cells_only(tmp_path: Path) -> None:
    workbook = local_workbook(tmp_path, {"Config": CONFIG})
    base = workbook.read_tables(["Config"])["Config"]
    edits = {
        "edited_rows": {"0": {"position_size": "12", "Order Status": "HACKED"}, 1: {"active": False}},
        "added_rows": [{"symbol": "NVDA", "position_size": "5", "active": "TRUE", "Time Frame": "4h"}],
        "deleted_rows": [],
    }
    plan = config_save(base, edits)
    assert plan.rows is None and plan.summary == "2 changed, 1 added, 0 deleted"
    assert [(w.key, w.values) for w in plan.batch.writes] == [
        (("AAPL", "1d"), {"position_size": "12"}),
        (("MSFT", "1h"), {"active": "FALSE"}),
    ]
    # the bot writes a status meanwhile: it survives
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("AAPL", "1d"), {"Order Status": "ALREADY LONG"})]))
    workbook.apply(plan.batch)
    rows = workbook.read_tables(["Config"])["Config"].rows
    assert (rows[0]["position_size"], rows[0]["Order Status"], rows[0]["Position"]) == ("12", "ALREADY LONG", "10")
    assert rows[1]["active"] == "FALSE" and rows[3]["symbol"] == "NVDA"
    assert config_records(base, edits)[0]["position_size"] == "12"


def test_config_deletion_replaces_rows_with_the_latest_bot_cells(tmp_path: Path) -> None:
    workbook = local_workbook(tmp_path, {"Config": CONFIG})
    base = workbook.read_tables(["Config"])["Config"]
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("AAPL", "1d"), {"Order Status": "ALREADY LONG"})]))
    edits = {"edited_rows": {2: {"position_size": "300"}}, "added_rows": [], "deleted_rows": [1]}
    plan = config_save(base, edits, current=workbook.read_tables(["Config"])["Config"])
    assert plan.batch is None and plan.summary == "1 changed, 0 added, 1 deleted"
    workbook.replace_rows("Config", plan.rows or [])
    rows = workbook.read_tables(["Config"])["Config"].rows
    assert [r["symbol"] for r in rows] == ["AAPL", "BTCUSDT"]
    assert rows[0]["Order Status"] == "ALREADY LONG" and rows[0]["Last Signal"] == "buy @ 190"
    assert rows[1]["position_size"] == "300"
    assert config_save(base, {}).summary == "no changes"


def test_config_validation_messages_per_row() -> None:
    base = tab_table("Config", CONFIG)
    records = config_records(
        base,
        {
            "edited_rows": {1: {"position_size": "5k"}},
            "added_rows": [{"symbol": "AAPL", "position_size": "1", "active": "TRUE", "Time Frame": "D"}],
        },
    )
    problems = config_row_problems(base.headers, records)
    assert set(problems) == {2, 3, 5}
    assert "position_size" in problems[3][0] and "5k" in problems[3][0]
    assert all("AAPL" in m or "duplicate" in m.lower() or "same" in m.lower() for m in problems[2] + problems[5])
    assert config_row_problems(base.headers, base.rows) == {}


def test_bulk_copy_and_add_symbols(tmp_path: Path) -> None:
    workbook = local_workbook(tmp_path, {"Config": CONFIG})
    table = workbook.read_tables(["Config"])["Config"]
    batch, problems = copy_settings_batch(table, 4, [2, 3, 9], ["direction", "stop_loss_pct"])
    assert problems == ["row 9 does not exist"]
    workbook.apply(batch)
    rows = workbook.read_tables(["Config"])["Config"].rows
    assert [(r["direction"], r["stop_loss_pct"]) for r in rows[:2]] == [("long", "2"), ("long", "2")]
    assert rows[0]["Order Status"] == "FILLED"  # untouched
    assert copy_settings_batch(table, 2, [3], ["Order Status"])[1] == [
        "cannot copy Order Status (key or bot-owned columns)"
    ]
    symbols, bad = parse_symbol_list("NASDAQ:aapl, msft\nBINANCE:ETHUSDT.P;; ETHUSDT  bad$$")
    assert symbols == ["AAPL", "MSFT", "ETHUSDT"] and len(bad) == 1
    batch, skipped = add_symbols_batch(
        table, symbols, timeframe="60", settings={"position_size": "100", "active": "FALSE", "Order Status": "x"}
    )
    assert skipped == ["MSFT 1h: already in Config"]
    assert [r for _, r in batch.appends] == [
        {"symbol": "AAPL", "Time Frame": "1h", "position_size": "100", "active": "FALSE"},
        {"symbol": "ETHUSDT", "Time Frame": "1h", "position_size": "100", "active": "FALSE"},
    ]
    with pytest.raises(ValueError):
        add_symbols_batch(table, ["X"], timeframe="7 fortnights", settings={})
