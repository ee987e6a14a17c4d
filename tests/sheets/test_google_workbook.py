"""Google Sheets backend, the workbook (bot.sheets.google.workbook): request counts, error translation.

Everything runs the real gspread client and google-auth (service-account JWT signed with a locally
generated RSA key, exchanged at the fake's loopback token endpoint) against the Sheets v4 fake in
``tests/fakes/sheets_fake.py``; the fake is reached through gspread's ``http_client=`` hook only.
The behaviour shared with the local backend is in ``test_workbook_contract.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fakes.sheets_fake import SheetsFake
from support.google_sheets import config_sheet, open_on

from bot.errors import ConfigError, TemporaryError
from bot.records import RowWrite, WriteBatch
from bot.sheets.base import clean_record
from bot.sheets.schema import all_specs, tab_spec


def test_config_read_is_one_batch_get_and_failures_are_not_retried(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict
) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(3, refresh="15"))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    since = time.monotonic()
    tables = workbook.read_tables(["Config", "Settings"])
    calls = shared_fake.api_calls(since=since)
    assert [c.kind for c in calls] == ["values.batchGet"]
    assert calls[0].params["ranges"] == ["'Config'", "'Settings'"]
    # typed values, locale-proof (Sheets API v4 ValueRenderOption / DateTimeRenderOption)
    assert calls[0].params["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert calls[0].params["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    assert len(tables["Config"].rows) == 3 and tables["Settings"].rows[0]["value"] == "15"
    for status, error in ((429, TemporaryError), (503, TemporaryError), (403, ConfigError)):
        shared_fake.fail_next(1, status)
        since = time.monotonic()
        with pytest.raises(error):
            workbook.read_tables(["Config", "Settings"])
        assert len(shared_fake.api_calls(since=since)) == 1
    assert len(workbook.read_tables(["Config"])["Config"].rows) == 3
    workbook.close()


def test_apply_is_one_values_batch_update_with_user_entered(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict
) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(3))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    workbook.ensure_tabs(all_specs())
    workbook.read_tables(["Config", "Signals", "Orders"])
    batch = WriteBatch()
    for i in range(3):
        batch.writes.append(RowWrite("Config", (f"SYM{i:02d}", "15m"), {"Order Status": "FILLED", "Position": "2"}))
        batch.writes.append(RowWrite("Signals", (str(i + 1),), clean_record({"signal_id": str(i + 1)}), True))
        batch.writes.append(RowWrite("Orders", (f"c{i}",), {"client_order_id": f"c{i}", "qty": "2"}, True))
    since = time.monotonic()
    workbook.apply(batch)
    calls = shared_fake.api_calls(since=since)
    assert [c.kind for c in calls] == ["values.batchUpdate"]
    assert calls[0].body["valueInputOption"] == "USER_ENTERED"
    assert shared_fake.records(sheet_id, "Config")[2]["Order Status"] == "FILLED"
    assert [r["client_order_id"] for r in shared_fake.records(sheet_id, "Orders")] == ["c0", "c1", "c2"]
    since = time.monotonic()
    workbook.apply(WriteBatch())
    assert shared_fake.api_calls(since=since) == []
    workbook.close()


def test_grid_grows_with_one_request_when_needed(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(1))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    workbook.ensure_tabs([tab_spec("Signals")])
    since = time.monotonic()
    workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": str(n)}) for n in range(1, 1501)]))
    assert [c.kind for c in shared_fake.api_calls(since=since)] == ["spreadsheets.batchUpdate", "values.batchUpdate"]
    assert len(shared_fake.records(sheet_id, "Signals")) == 1500
    since = time.monotonic()
    workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": "1501"})]))
    assert [c.kind for c in shared_fake.api_calls(since=since)] == ["values.batchUpdate"]
    workbook.close()


def test_trim_costs_nothing_until_the_margin_then_two_requests(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict
) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(1))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    workbook.ensure_tabs([tab_spec("Signals")])
    workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": str(n)}) for n in range(1, 110)]))
    since = time.monotonic()
    assert workbook.trim("Signals", 100) == 0  # 109 rows: within the 10 % margin
    assert shared_fake.api_calls(since=since) == []
    workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": "110"})]))
    since = time.monotonic()
    assert workbook.trim("Signals", 100) == 10
    assert [c.kind for c in shared_fake.api_calls(since=since)] == ["values.batchGet", "spreadsheets.batchUpdate"]
    rows = shared_fake.records(sheet_id, "Signals")
    assert [r["signal_id"] for r in (rows[0], rows[-1])] == ["11", "110"] and len(rows) == 100
    workbook.close()


def test_lost_reply_retry_does_not_duplicate_rows(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(1))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    workbook.ensure_tabs([tab_spec("Signals")])
    batch = WriteBatch(
        writes=[RowWrite("Signals", (str(n),), {"signal_id": str(n)}, True) for n in (1, 2)],
        appends=[("Signals", {"signal_id": "3"})],
    )
    shared_fake.fail_next(1, 503, after_apply=True)  # Google applied it, the answer got lost
    with pytest.raises(TemporaryError):
        workbook.apply(batch)
    workbook.apply(batch)  # the outbox writer sends the same batch again
    assert [r["signal_id"] for r in shared_fake.records(sheet_id, "Signals")] == ["1", "2", "3"]
    workbook.close()


def test_user_edits_between_writes_are_found(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(3))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    workbook.read_tables(["Config"])
    # a new row typed below: its key is unknown to the cache -> exactly one re-read, then the write
    shared_fake.set_values(sheet_id, "Config", [["NEW", "5", "TRUE", "1h"]], start_row=5)
    since = time.monotonic()
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("NEW", "1h"), {"Order Status": "READY"})]))
    assert [c.kind for c in shared_fake.api_calls(since=since)] == ["values.batchGet", "values.batchUpdate"]
    assert shared_fake.records(sheet_id, "Config")[3]["Order Status"] == "READY"
    # the user sorts the rows: once the cache is older than user_tab_ttl the tab is re-read first
    shared_fake.sort_rows(sheet_id, "Config", 0, reverse=True)
    workbook.user_tab_ttl = 0.0
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("SYM01", "15m"), {"Order Status": "FILLED"})]))
    by_symbol = {r["symbol"]: r["Order Status"] for r in shared_fake.records(sheet_id, "Config")}
    assert by_symbol == {"NEW": "READY", "SYM02": "", "SYM01": "FILLED", "SYM00": ""}
    workbook.close()


def test_layout_changed_under_the_cache_is_temporary_then_repaired(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict
) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(1))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    workbook.ensure_tabs(all_specs())
    workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": "1"})]))
    with shared_fake.locked():  # the user deletes the Signals tab
        book = shared_fake.book(sheet_id)
        book.sheets = [s for s in book.sheets if s.title != "Signals"]
    with pytest.raises(TemporaryError, match="layout changed"):
        workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": "2"})]))
    workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": "2"})]))  # the retry recreates the tab
    assert shared_fake.records(sheet_id, "Signals") == [
        {**dict.fromkeys(tab_spec("Signals").headers, ""), "signal_id": "2"}
    ]
    with shared_fake.locked():  # the user deletes the empty rows at the bottom of Orders
        orders = shared_fake.book(sheet_id).sheet("Orders")
        orders.rows = 1
    with pytest.raises(TemporaryError, match="exceeds grid limits"):
        workbook.apply(WriteBatch(appends=[("Orders", {"client_order_id": "x"})]))
    workbook.apply(WriteBatch(appends=[("Orders", {"client_order_id": "x"})]))
    assert [r["client_order_id"] for r in shared_fake.records(sheet_id, "Orders")] == ["x"]
    workbook.close()
