"""Google Sheets backend: credentials and the token exchange, init-sheet, error translation, quota.

Everything runs the real gspread client and google-auth (service-account JWT signed with a locally
generated RSA key, exchanged at the fake's loopback token endpoint) against the Sheets v4 fake in
``tests/fakes/sheets_fake.py``; the fake is reached through gspread's ``http_client=`` hook only.
The behaviour shared with the local backend is in ``test_workbook_contract.py``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes.sheets_fake import SheetsFake, google_settings, open_fake_workbook
from sqlalchemy import select

from bot.domain import RowStatus, format_decimal
from bot.errors import ConfigError, TemporaryError
from bot.records import RowWrite, WriteBatch
from bot.services import Services, build_services, seed_workbook
from bot.sheets.base import clean_record
from bot.sheets.google.auth import open_google_workbook, parse_sheet_id
from bot.sheets.google.workbook import GoogleWorkbook
from bot.sheets.schema import TABS, all_specs, tab_spec
from bot.state.models import OrderRecord, SignalRecord, SlotRecord

CLASSIC = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]
SECRET = "test-secret"
WRITE_KINDS = {"values.batchUpdate", "spreadsheets.batchUpdate", "values.append", "values.update", "values.clear"}


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        yield server


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        yield server


@pytest.fixture(scope="module")
def key_info(shared_fake: SheetsFake) -> dict[str, Any]:
    return shared_fake.service_account_info()


def open_on(fake: SheetsFake, sheet_id: str, tmp_path: Path, **options: Any) -> GoogleWorkbook:
    return open_fake_workbook(fake, sheet_id, tmp_path, **options)


def config_sheet(rows: int, *, refresh: str = "") -> dict[str, list[list[str]]]:
    tabs = {"Config": [CLASSIC] + [[f"SYM{i:02d}", "1000", "TRUE", "15", "", ""] for i in range(rows)]}
    if refresh:
        tabs["Settings"] = [["key", "value", "description"], ["config_refresh_seconds", refresh, ""]]
    return tabs


def build_bot(fake: SheetsFake, sheet_id: str, tmp_path: Path, **kwargs: Any) -> Services:
    settings = google_settings(fake, sheet_id, tmp_path, webhook_secret=SECRET)
    workbook = open_google_workbook(settings, http_client=fake.http_client)
    return build_services(settings, workbook=workbook, **kwargs)


def alert(i: int, rows: int) -> bytes:
    row, cycle = i % rows, i // rows
    body = {
        "secret": SECRET,
        "action": "buy" if cycle % 2 == 0 else "sell",
        "symbol": f"SYM{row:02d}",
        "timeframe": "15",
        "price": 100 + cycle,
        "id": f"a-{i}",
    }
    return json.dumps(body).encode()


def sheet_problems(services: Services, fake: SheetsFake, sheet_id: str) -> list[str]:
    """Differences between the sheet and the state DB (the system of record); [] = consistent."""
    problems = []
    if services.store.outbox_depth():
        problems.append(f"outbox depth {services.store.outbox_depth()}")
    with services.store.session() as s:
        signals = [str(i) for i in s.scalars(select(SignalRecord.id).order_by(SignalRecord.id))]
        orders = [(o.client_order_id, o.state) for o in s.scalars(select(OrderRecord).order_by(OrderRecord.id))]
        slots = {slot.symbol: format_decimal(slot.qty) for slot in s.scalars(select(SlotRecord))}
    sheet_signals = [r["signal_id"] for r in fake.records(sheet_id, "Signals")]
    if sheet_signals != signals:
        problems.append(f"Signals {sheet_signals[:5]}... ({len(sheet_signals)}) != DB ({len(signals)})")
    sheet_orders = [(r["client_order_id"], r["status"]) for r in fake.records(sheet_id, "Orders")]
    if sheet_orders != orders:
        problems.append(f"Orders ({len(sheet_orders)}) != DB ({len(orders)})")
    positions = {r["symbol"]: r.get("Position", "") for r in fake.records(sheet_id, "Config")}
    wrong = {k: (positions.get(k), v) for k, v in slots.items() if positions.get(k) != v}
    if wrong:
        problems.append(f"Config positions differ: {wrong}")
    return problems


def wait_until(check: Callable[[], list[str]], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    problems = check()
    while problems and time.monotonic() < deadline:
        time.sleep(0.05)
        problems = check()
    return problems


# --------------------------------------------------------------------------------------------
# Credentials, token exchange, opening
# --------------------------------------------------------------------------------------------


def test_token_exchange_really_happens_and_is_renewed(fake: SheetsFake, tmp_path: Path) -> None:
    sheet_id = fake.create_spreadsheet(config_sheet(2))
    workbook = open_on(fake, sheet_id, tmp_path)
    assert fake.token_requests == 1  # a signed JWT was exchanged for an access token
    assert fake.api_calls()[0].kind == "spreadsheets.get"
    assert workbook.read_tables(["Config"])["Config"].rows[0]["symbol"] == "SYM00"
    fake.revoke_tokens()  # Google forgets the token: the next call gets 401 and google-auth re-exchanges
    assert len(workbook.read_tables(["Config"])["Config"].rows) == 2
    assert fake.token_requests == 2
    workbook.close()


def test_key_with_a_wrong_signature_is_a_config_error(fake: SheetsFake, tmp_path: Path) -> None:
    sheet_id = fake.create_spreadsheet()
    info = fake.service_account_info()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings = google_settings(fake, sheet_id, tmp_path, info=info)
    with pytest.raises(ConfigError, match="refused the service-account credentials"):
        open_google_workbook(settings, http_client=fake.http_client)
    assert fake.api_calls() == []


def test_credentials_problems_are_clear_errors(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet()

    def attempt(**overrides: Any) -> ConfigError:
        settings = google_settings(shared_fake, sheet_id, tmp_path, info=key_info, **overrides)
        with pytest.raises(ConfigError) as info:
            open_google_workbook(settings, http_client=shared_fake.http_client)
        return info.value

    missing = tmp_path / "nope.json"
    error = attempt(google_credentials_json="", google_credentials_file=missing)
    assert str(missing) in str(error) and "GOOGLE_CREDENTIALS_FILE" in str(error)
    assert error.field == "GOOGLE_CREDENTIALS_FILE"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert "not valid JSON" in str(attempt(google_credentials_json="", google_credentials_file=bad))
    assert "not valid JSON" in str(attempt(google_credentials_json='{"type": "service_account",'))
    oauth = json.dumps({"installed": {"client_id": "x", "client_secret": "y"}})
    assert "OAuth client file, not a service-account key" in str(attempt(google_credentials_json=oauth))
    lacking = json.dumps({"type": "service_account", "client_email": "a@b"})
    assert "private_key" in str(attempt(google_credentials_json=lacking))
    assert attempt(google_sheet_id="").field == "GOOGLE_SHEET_ID"
    assert attempt(google_sheet_id="https://example.com/x/y").field == "GOOGLE_SHEET_ID"
    armour = key_info["private_key"].strip().splitlines()  # the generated key's BEGIN/END lines
    broken = dict(key_info, private_key=f"{armour[0]}\nAAAASECRETBITS\n{armour[-1]}\n")  # a body that is no key
    message = str(attempt(google_credentials_json=json.dumps(broken)))
    assert "cannot be used" in message and "SECRETBITS" not in message  # never echoes the key


def test_key_file_base64_json_and_sheet_url_all_work(shared_fake: SheetsFake, tmp_path: Path, key_info: dict) -> None:
    sheet_id = shared_fake.create_spreadsheet()
    key_file = tmp_path / "credentials.json"
    key_file.write_text(json.dumps(key_info), encoding="utf-8")
    url = f"https://docs.google.com/spreadsheets/d/{sheet_id}/edit#gid=0"
    assert parse_sheet_id(url) == sheet_id
    for overrides in (
        {"google_credentials_json": "", "google_credentials_file": key_file, "google_sheet_id": url},
        {"google_credentials_json": base64.b64encode(json.dumps(key_info).encode()).decode()},
    ):
        settings = google_settings(shared_fake, sheet_id, tmp_path, info=key_info, **overrides)
        workbook = open_google_workbook(settings, http_client=shared_fake.http_client)
        assert workbook.spreadsheet_id == sheet_id and workbook.kind == "google"
        workbook.close()


def test_sheet_not_shared_names_the_service_account(fake: SheetsFake, tmp_path: Path) -> None:
    info = fake.service_account_info("trader-bot@my-project.iam.gserviceaccount.com")
    sheet_id = fake.create_spreadsheet(shared_with=["owner@example.com"])
    settings = google_settings(fake, sheet_id, tmp_path, info=info)
    with pytest.raises(
        ConfigError, match=re.escape("share the sheet with trader-bot@my-project.iam.gserviceaccount.com")
    ):
        open_google_workbook(settings, http_client=fake.http_client)
    with pytest.raises(ConfigError, match="not found: check GOOGLE_SHEET_ID"):
        open_google_workbook(google_settings(fake, "1" + "x" * 43, tmp_path, info=info), http_client=fake.http_client)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_quota_and_outage_at_start_are_temporary_and_not_retried(
    shared_fake: SheetsFake, tmp_path: Path, key_info: dict, status: int
) -> None:
    sheet_id = shared_fake.create_spreadsheet()
    before = len(shared_fake.api_calls())
    shared_fake.fail_next(1, status)
    settings = google_settings(shared_fake, sheet_id, tmp_path, info=key_info)
    with pytest.raises(TemporaryError, match=str(status)):
        open_google_workbook(settings, http_client=shared_fake.http_client)
    assert len(shared_fake.api_calls()) - before == 1  # one attempt: no retry at this boundary


def test_unreachable_google_is_a_temporary_error(tmp_path: Path) -> None:
    fake = SheetsFake().start()
    sheet_id = fake.create_spreadsheet()
    settings = google_settings(fake, sheet_id, tmp_path)
    routed = fake.http_client
    fake.stop()
    started = time.monotonic()
    with pytest.raises(TemporaryError, match="unreachable"):
        open_google_workbook(settings, http_client=routed, timeout=(1.0, 1.0))
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------------------------
# Reads and writes: request counts, error translation
# --------------------------------------------------------------------------------------------


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
    assert calls[0].params["valueRenderOption"] == ["FORMATTED_VALUE"]
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


def test_background_waits_for_budget_reads_never_do(fake: SheetsFake, tmp_path: Path) -> None:
    sheet_id = fake.create_spreadsheet(config_sheet(1))
    workbook = open_on(fake, sheet_id, tmp_path, requests_per_minute=4, budget_window=0.5)
    workbook.ensure_tabs([tab_spec("Signals")])
    time.sleep(0.5)
    since = time.monotonic()
    for n in range(1, 10):
        workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": str(n)})]))
    assert time.monotonic() - since >= 1.0  # 9 requests, at most 4 (less a reserve) per 0.5 s
    assert fake.max_in_window(0.45, since=since) <= 4
    assert len(fake.records(sheet_id, "Signals")) == 9
    # a read in the webhook path does not wait even when the budget is spent
    started = time.monotonic()
    workbook.read_tables(["Config"])
    assert time.monotonic() - started < 0.5
    # closing releases a writer waiting for budget
    workbook.budget.limit, workbook.budget.window = 1, 60.0
    errors: list[BaseException] = []

    def write() -> None:
        try:
            workbook.apply(WriteBatch(appends=[("Signals", {"signal_id": "x"})]))
        except TemporaryError as exc:
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.2)
    workbook.close()
    thread.join(5)
    assert errors and "closed" in str(errors[0])


# --------------------------------------------------------------------------------------------
# init-sheet
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The engine path: coalescing, quota, outages
# --------------------------------------------------------------------------------------------


def test_burst_of_200_alerts_costs_a_handful_of_requests(tmp_path: Path) -> None:
    with SheetsFake(latency=0.05, quota_per_minute=60) as fake:
        sheet_id = fake.create_spreadsheet(config_sheet(50))
        services = build_bot(fake, sheet_id, tmp_path)
        try:
            services.writer.start()
            assert wait_until(lambda: sheet_problems(services, fake, sheet_id), 5) == []
            since = time.monotonic()
            replies: list[int] = []

            def send(part: int) -> None:
                for i in range(part, 200, 4):
                    replies.append(services.engine.handle(alert(i, 50)).http_status)

            threads = [threading.Thread(target=send, args=(p,)) for p in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent = time.monotonic()
            services.writer.notify()
            assert replies == [200] * 200
            assert wait_until(lambda: sheet_problems(services, fake, sheet_id), 5) == []
            settled = time.monotonic() - sent
            burst = fake.api_calls(since=since)
            assert len(burst) <= 10, [c.kind for c in burst]  # <= 0.05 requests per alert
            assert settled < 5
            assert fake.max_in_window(60.0) <= 60
            assert fake.api_calls(ok=False) == []
            assert len(fake.records(sheet_id, "Signals")) == 200
        finally:
            services.close()


def test_chaos_outage_while_alerts_keep_coming(tmp_path: Path) -> None:
    with SheetsFake() as fake:
        sheet_id = fake.create_spreadsheet(config_sheet(5, refresh="0.2"))
        services = build_bot(fake, sheet_id, tmp_path, writer_interval=0.2)
        try:
            services.writer.start()
            assert wait_until(lambda: sheet_problems(services, fake, sheet_id), 5) == []
            degraded: list[Any] = []
            replies: list[int] = []

            def outage() -> None:
                fake.fail_for(1.0, 429)
                time.sleep(1.0)
                fake.fail_for(1.0, 503)
                time.sleep(1.0)
                fake.fail_next(2, 503, after_apply=True)  # applied, but the answers are lost

            chaos = threading.Thread(target=outage)
            chaos.start()
            for i in range(60):
                replies.append(services.engine.handle(alert(i, 5)).http_status)
                services.writer.notify()
                degraded.append(services.writer.degraded_since or services.config.degraded_since)
                time.sleep(0.05)
            chaos.join()
            assert replies == [200] * 60  # trading went on during the outage, on the last good config
            assert any(degraded)
            failed = fake.api_calls(ok=False)
            assert {c.status for c in failed} >= {429, 503}
            assert {c.kind for c in failed} >= {"values.batchUpdate", "values.batchGet"}
            assert wait_until(lambda: sheet_problems(services, fake, sheet_id), 30) == []
            signals = [r["signal_id"] for r in fake.records(sheet_id, "Signals")]
            assert len(signals) == len(set(signals)) == 60  # in order (checked above), none twice
            assert services.writer.degraded_since is None
            time.sleep(0.25)
            services.config.get()
            assert services.config.degraded_since is None
            assert fake.formulas(sheet_id) == []
        finally:
            services.close()


def test_restart_during_outage_loses_nothing(tmp_path: Path) -> None:
    with SheetsFake() as fake:
        sheet_id = fake.create_spreadsheet(config_sheet(4))
        first = build_bot(fake, sheet_id, tmp_path)
        first.writer.flush()
        for i in range(8):
            assert first.engine.handle(alert(i, 4)).http_status == 200
        fake.fail_next(1, 503, after_apply=True)  # this flush lands but looks failed
        with pytest.raises(TemporaryError):
            first.writer.flush()
        for i in range(8, 16):
            assert first.engine.handle(alert(i, 4)).http_status == 200
        fake.fail_for(60, 503)  # Google goes down; the bot is restarted meanwhile
        with pytest.raises(TemporaryError):
            first.writer.flush()
        pending = first.store.outbox_depth()
        assert pending > 0
        first.close()
        with pytest.raises(TemporaryError):  # cannot start without one good Config read
            build_bot(fake, sheet_id, tmp_path)
        fake.fail_for(0)
        second = build_bot(fake, sheet_id, tmp_path)
        try:
            assert second.store.outbox_depth() >= pending
            second.writer.flush()
            assert sheet_problems(second, fake, sheet_id) == []
            signals = [r["signal_id"] for r in fake.records(sheet_id, "Signals")]
            assert signals == [str(n) for n in range(1, 17)]
        finally:
            second.close()


# --------------------------------------------------------------------------------------------
# The fake itself speaks Sheets v4 as gspread expects
# --------------------------------------------------------------------------------------------


def test_fake_answers_gspreads_own_api(shared_fake: SheetsFake, key_info: dict) -> None:
    import gspread
    from google.oauth2 import service_account

    sheet_id = shared_fake.create_spreadsheet({"Data": [["name", "qty"], ["a", "1"]]})
    credentials = service_account.Credentials.from_service_account_info(
        key_info, scopes=["https://www.googleapis.com/auth/spreadsheets"]
    )
    client = gspread.Client(auth=credentials, http_client=shared_fake.http_client)
    worksheet = client.open_by_key(sheet_id).worksheet("Data")
    assert worksheet.get_all_values() == [["name", "qty"], ["a", "1"]]
    worksheet.append_row(["b", "2.50"], value_input_option="USER_ENTERED")
    worksheet.update([["'007", "=1+1"]], "A4", value_input_option="USER_ENTERED")
    assert worksheet.get("A1:B4") == [["name", "qty"], ["a", "1"], ["b", "2.5"], ["007", "#ERROR!"]]
    assert worksheet.get("B2:B3", value_render_option=gspread.utils.ValueRenderOption.unformatted) == [[1], [2.5]]
    worksheet.batch_clear(["A4:B4"])
    worksheet.update([["x"]], "A1", value_input_option="RAW")
    assert worksheet.get_all_values()[0][0] == "x" and len(worksheet.get_all_values()) == 3
    with pytest.raises(gspread.exceptions.APIError) as info:
        worksheet.update([["z"]], "A2000")
    assert info.value.code == 400 and "exceeds grid limits" in str(info.value)
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        client.open_by_key("1" + "y" * 43)
