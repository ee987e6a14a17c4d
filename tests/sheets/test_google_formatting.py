"""Google Sheets backend, init-sheet (bot.sheets.google.formatting): tabs, drop-downs, checkbox, status colours.

Everything runs the real gspread client and google-auth (service-account JWT signed with a locally
generated RSA key, exchanged at the fake's loopback token endpoint) against the Sheets v4 fake in
``tests/fakes/sheets_fake.py``; the fake is reached through gspread's ``http_client=`` hook only.
The behaviour shared with the local backend is in ``test_workbook_contract.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

from fakes.sheets_fake import SheetsFake
from support.google_sheets import CLASSIC, config_sheet, open_on

from bot.domain import RowStatus
from bot.services import seed_workbook
from bot.sheets.google.workbook import GoogleWorkbook
from bot.sheets.schema import TABS, tab_spec

WRITE_KINDS = {"values.batchUpdate", "spreadsheets.batchUpdate", "values.append", "values.update", "values.clear"}


def init_sheet(workbook: GoogleWorkbook) -> list[str]:
    """What ``bot init-sheet`` does (cmd_init_sheet): seed tabs/columns/settings, then format."""
    changes = seed_workbook(workbook, examples=False)
    changes.extend(workbook.format_tabs())
    return changes


def test_init_sheet_creates_formats_and_second_run_changes_nothing(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict
) -> None:
    sheet_id = shared_fake.create_spreadsheet()  # a brand-new Google Sheet: one empty Sheet1
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    changes = init_sheet(workbook)
    assert {f"created tab {t}" for t in TABS} <= set(changes)
    assert any("drop-down for Time Frame" in c for c in changes) and any("checkbox for active" in c for c in changes)
    book = shared_fake.book(sheet_id)
    titles = [s.title for s in book.sheets]
    assert titles[: len(TABS)] == list(TABS) and "Sheet1" in titles  # schema order; the user's tab stays
    for tab in TABS:
        sheet = book.sheet(tab)
        assert sheet.frozen == 1
        assert shared_fake.values(sheet_id, tab)[0] == tab_spec(tab).headers
        assert (0, 0) in sheet.bold
    config = book.sheet("Config")
    headers = tab_spec("Config").headers
    timeframe = config.validation_at(5, headers.index("Time Frame"))
    assert timeframe is not None and timeframe["condition"]["type"] == "ONE_OF_LIST"
    assert [v["userEnteredValue"] for v in timeframe["condition"]["values"]] == list(
        tab_spec("Config").column("Time Frame").allowed
    )
    assert timeframe.get("strict", False) is False and timeframe["showCustomUi"] is True  # warn, never refuse
    broker = config.validation_at(1, headers.index("broker"))
    assert broker is not None and "" not in [v["userEnteredValue"] for v in broker["condition"]["values"]]
    for name in ("direction", "size_type"):
        assert config.validation_at(1, headers.index(name))["condition"]["type"] == "ONE_OF_LIST"
    assert config.validation_at(900, headers.index("active")) == {"condition": {"type": "BOOLEAN"}}
    assert config.validation_at(1, headers.index("symbol")) is None
    status_col = headers.index("Order Status")
    rules = config.conditional_formats
    assert sorted(r["booleanRule"]["condition"]["values"][0]["userEnteredValue"] for r in rules) == sorted(
        s.value for s in RowStatus
    )
    assert all(r["ranges"][0]["startColumnIndex"] == status_col for r in rules)
    settings_keys = [r["key"] for r in shared_fake.records(sheet_id, "Settings")]
    assert "trading_enabled" in settings_keys and "config_refresh_seconds" in settings_keys

    since = time.monotonic()
    assert init_sheet(workbook) == []
    assert not [c for c in shared_fake.api_calls(since=since) if c.kind in WRITE_KINDS]
    workbook.close()


def test_init_sheet_upgrades_a_classic_sheet_without_touching_rows(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict
) -> None:
    rows = [
        CLASSIC,
        ["AAPL", "5000", "TRUE", "15", "FILLED", "2024-03-01 10:00:00"],
        ["TSLA", "2500", "FALSE", "1h", "", ""],
        ["BTCUSDT", "=2*250", "TRUE", "240", "WAITING", ""],
    ]
    sheet_id = shared_fake.create_spreadsheet({"Sheet1": rows})  # the classic bot used the first tab
    before = {k: v for k, v in shared_fake.book(sheet_id).sheet("Sheet1").cells.items()}
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    changes = init_sheet(workbook)
    assert "created tab Config" not in changes  # the classic tab is the Config tab
    assert any(c.startswith("Config: added columns broker, direction") for c in changes)
    sheet = shared_fake.book(sheet_id).sheet("Sheet1")
    assert {k: v for k, v in sheet.cells.items() if k[0] > 0} == {k: v for k, v in before.items() if k[0] > 0}
    assert shared_fake.values(sheet_id, "Sheet1")[0] == CLASSIC + [
        h for h in tab_spec("Config").headers if h not in CLASSIC
    ]
    assert init_sheet(workbook) == []
    config = workbook.read_tables(["Config"])["Config"]
    assert [r["symbol"] for r in config.rows] == ["AAPL", "TSLA", "BTCUSDT"]
    workbook.close()


def test_format_tabs_follows_a_moved_column(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet(config_sheet(2))
    workbook = open_on(shared_fake, sheet_id, tmp_path, info=key_info)
    init_sheet(workbook)
    headers = shared_fake.values(sheet_id, "Config")[0]
    a, b = headers.index("active"), headers.index("Order Status")
    headers[a], headers[b] = headers[b], headers[a]  # the user swaps two columns (data moves with them)
    with shared_fake.locked():
        sheet = shared_fake.book(sheet_id).sheet("Config")
        sheet.cells = {(r, {a: b, b: a}.get(c, c)): v for (r, c), v in sheet.cells.items()}
    changes = workbook.format_tabs()
    assert "Config: checkbox for active" in changes
    assert any("removed a stale" in c for c in changes)
    assert any("colours for Order Status" in c for c in changes)
    sheet = shared_fake.book(sheet_id).sheet("Config")
    assert sheet.validation_at(1, b) == {"condition": {"type": "BOOLEAN"}}
    assert sheet.validation_at(1, a) is None
    assert {r["ranges"][0]["startColumnIndex"] for r in sheet.conditional_formats} == {a}
    assert len(sheet.conditional_formats) == len(RowStatus)
    assert workbook.format_tabs() == []
    workbook.close()
