"""One behavioural suite for every Workbook backend: the local file and Google Sheets.

The ``backend`` fixture is parametrised over :class:`~bot.sheets.local.LocalWorkbook` (a temp file)
and :class:`~bot.sheets.google.workbook.GoogleWorkbook` (real gspread + google-auth against the loopback
Sheets fake). Each test seeds the tabs as a user would have typed them, opens the workbook and checks
what a reader sees afterwards, so both backends are held to the same contract.

Known, documented difference: Google stores numbers as numbers, so ``"1.50"`` reads back ``"1.5"``;
tests compare such values as decimals.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakes.sheets_fake import SheetsFake, open_fake_workbook

from bot.errors import ConfigError
from bot.records import RowWrite, Table, WriteBatch
from bot.sheets.base import Workbook, clean_record, merge_bot_rows
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs, tab_spec
from bot.trading.config_table import build_snapshot, parse_config

CLASSIC = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]


@pytest.fixture(scope="module")
def fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        yield server


@pytest.fixture(scope="module")
def key_info(fake: SheetsFake) -> dict[str, Any]:
    return fake.service_account_info()


class Backend:
    """Opens a workbook of one kind over tabs seeded as ``{tab: [header row, *rows]}`` (lists of cells)."""

    def __init__(self, kind: str, tmp_path: Path, fake: SheetsFake, key_info: dict[str, Any]) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.fake = fake
        self.key_info = key_info
        self.sheet_id = ""
        self.opened: list[Workbook] = []

    def open(self, tabs: dict[str, list[list[str]]] | None = None) -> Workbook:
        workbook: Workbook
        if self.kind == "local":
            local = LocalWorkbook(self.tmp_path / "workbook.db")
            for tab, rows in (tabs or {}).items():
                headers = rows[0] if rows else []
                local.set_headers(tab, list(headers))
                local.replace_rows(tab, [dict(zip(headers, row, strict=False)) for row in rows[1:]])
            workbook = local
        else:
            self.sheet_id = self.fake.create_spreadsheet(tabs if tabs is not None else None)
            workbook = open_fake_workbook(self.fake, self.sheet_id, self.tmp_path, info=self.key_info)
        self.opened.append(workbook)
        return workbook

    def close(self) -> None:
        for workbook in self.opened:
            workbook.close()


@pytest.fixture(params=["local", "google"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, fake: SheetsFake, key_info: dict[str, Any]
) -> Iterator[Backend]:
    opened = Backend(request.param, tmp_path, fake, key_info)
    yield opened
    opened.close()


def read(workbook: Workbook, tab: str) -> Table:
    return workbook.read_tables([tab])[tab]


def signal_row(n: int, **extra: str) -> dict[str, str]:
    return clean_record({"signal_id": str(n), "action": "buy", "symbol": "AAPL", "price": "100", **extra})


# --------------------------------------------------------------------------------------------


def test_missing_tab_reads_empty_with_schema_headers(backend: Backend) -> None:
    workbook = backend.open()
    tables = workbook.read_tables(["Signals", "Orders"])
    assert tables["Signals"].headers == tab_spec("Signals").headers
    assert tables["Signals"].rows == []
    assert tables["Orders"].rows == []


def test_ensure_tabs_creates_every_tab_then_changes_nothing(backend: Backend) -> None:
    workbook = backend.open()
    changes = workbook.ensure_tabs(all_specs())
    assert {f"created tab {spec.name}" for spec in all_specs()} <= set(changes)
    assert workbook.ensure_tabs(all_specs()) == []
    tables = workbook.read_tables([spec.name for spec in all_specs()])
    for spec in all_specs():
        assert tables[spec.name].headers == spec.headers, spec.name
        assert tables[spec.name].rows == []


def test_classic_sheet_gets_new_columns_at_the_right_and_rows_stay(backend: Backend) -> None:
    rows = [CLASSIC, ["AAPL", "5000", "TRUE", "15", "READY", ""], ["BTCUSDT", "250", "FALSE", "1h", "", ""]]
    workbook = backend.open({"Config": rows})
    changes = workbook.ensure_tabs([tab_spec("Config")])
    assert len(changes) == 1 and changes[0].startswith("Config: added columns broker, direction")
    table = read(workbook, "Config")
    assert table.headers[:6] == CLASSIC
    assert table.headers[6:] == [h for h in tab_spec("Config").headers if h not in CLASSIC]
    assert [[r[h] for h in CLASSIC] for r in table.rows] == [row for row in rows[1:]]
    assert all(r["direction"] == "" for r in table.rows)
    assert workbook.ensure_tabs([tab_spec("Config")]) == []


def test_appends_keep_order_and_upserts_update_in_place(backend: Backend) -> None:
    workbook = backend.open()
    workbook.ensure_tabs([tab_spec("Signals")])
    workbook.apply(WriteBatch(appends=[("Signals", signal_row(n)) for n in range(1, 6)]))
    workbook.apply(
        WriteBatch(
            writes=[
                RowWrite("Signals", ("3",), {"result": "success", "reason": "filled"}, upsert=True),
                RowWrite("Signals", ("6",), signal_row(6, result="skipped"), upsert=True),
                RowWrite("Signals", ("7",), signal_row(7), upsert=True),
                RowWrite("Signals", ("7",), {"result": "failed"}),  # same batch: the new row is found
            ]
        )
    )
    rows = read(workbook, "Signals").rows
    assert [r["signal_id"] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert (rows[2]["result"], rows[2]["reason"], rows[2]["symbol"]) == ("success", "filled", "AAPL")
    assert rows[5]["result"] == "skipped"
    assert rows[6]["result"] == "failed"


def test_write_without_upsert_skips_a_missing_row(backend: Backend) -> None:
    workbook = backend.open({"Config": [CLASSIC, ["AAPL", "5000", "TRUE", "15", "", ""]]})
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("MSFT", "1d"), {"Order Status": "FILLED"})]))
    rows = read(workbook, "Config").rows
    assert len(rows) == 1 and rows[0]["Order Status"] == ""


def test_write_finds_rows_however_the_key_was_typed_and_updates_duplicates(backend: Backend) -> None:
    workbook = backend.open(
        {
            "Config": [
                CLASSIC,
                ["NASDAQ:aapl", "5000", "TRUE", "15 Min", "", ""],
                ["MSFT", "10", "TRUE", "D", "", ""],
                ["AAPL", "7000", "TRUE", "15", "", ""],
            ]
        }
    )
    workbook.apply(
        WriteBatch(writes=[RowWrite("Config", ("AAPL", "15m"), {"Order Status": "CONFIG ERROR", "Note": "dup"})])
    )
    rows = read(workbook, "Config").rows
    assert [r["Order Status"] for r in rows] == ["CONFIG ERROR", "", "CONFIG ERROR"]
    assert rows[0]["symbol"] == "NASDAQ:aapl"  # the user's cells are untouched
    assert rows[0]["Time Frame"] == "15 Min"


def test_user_reordered_columns_and_own_columns_are_respected(backend: Backend) -> None:
    headers = ["My notes", "Time Frame", "active", "Order Status", "symbol", "Extra", "position_size"]
    workbook = backend.open(
        {
            "Config": [
                headers,
                ["keep me", "15", "TRUE", "", "AAPL", "x1", "5000"],
                ["", "1h", "TRUE", "", "ETH", "", "5"],
            ]
        }
    )
    workbook.apply(
        WriteBatch(
            writes=[
                RowWrite("Config", ("AAPL", "15m"), {"Order Status": "FILLED", "Note": "bought 10"}),
                RowWrite("Config", ("ETH", "1h"), {"Order Status": "READY"}),
            ]
        )
    )
    table = read(workbook, "Config")
    assert table.headers == [*headers, "Note"]  # a missing column is added at the right
    first, second = table.rows
    assert first == {
        "My notes": "keep me",
        "Time Frame": "15",
        "active": "TRUE",
        "Order Status": "FILLED",
        "symbol": "AAPL",
        "Extra": "x1",
        "position_size": "5000",
        "Note": "bought 10",
    }
    assert (second["Order Status"], second["Note"], second["My notes"]) == ("READY", "", "")
    snapshot = build_snapshot(table, Table("Settings", ["key", "value"], []))
    assert {k.symbol for k in snapshot.rows} == {"AAPL", "ETH"}


def test_missing_required_column_is_a_clear_error(backend: Backend) -> None:
    workbook = backend.open({"Config": [["symbol", "active", "Time Frame"], ["AAPL", "TRUE", "15"]]})
    table = read(workbook, "Config")
    with pytest.raises(ConfigError, match="position_size") as info:
        parse_config(table)
    assert info.value.field == "position_size"
    assert "symbol, active, Time Frame" in str(info.value)


def test_blank_rows_in_the_middle_keep_row_numbers(backend: Backend) -> None:
    workbook = backend.open(
        {
            "Config": [
                CLASSIC,
                ["AAPL", "5000", "TRUE", "15", "", ""],
                ["", "", "", "", "", ""],
                ["MSFT", "lots", "TRUE", "D", "", ""],
            ]
        }
    )
    rows, problems = parse_config(read(workbook, "Config"))
    assert [r.row_number for r in rows] == [2]
    assert [(p.row_number, p.key) for p in problems] == [(4, ("MSFT", "1d"))]


def test_replace_rows_replaces_everything_and_extends_headers(backend: Backend) -> None:
    workbook = backend.open()
    workbook.ensure_tabs([tab_spec("Performance")])
    first = [{"symbol": s, "timeframe": "1d", "total_trades": str(n)} for n, s in enumerate(["A", "B", "C", "D"])]
    workbook.replace_rows("Performance", first)
    workbook.replace_rows("Performance", [{"symbol": "Z", "timeframe": "1h", "total_trades": "9", "bonus": "yes"}])
    table = read(workbook, "Performance")
    assert table.headers == [*tab_spec("Performance").headers, "bonus"]
    assert len(table.rows) == 1
    assert (table.rows[0]["symbol"], table.rows[0]["total_trades"], table.rows[0]["bonus"]) == ("Z", "9", "yes")
    assert table.rows[0]["win_rate"] == ""


def test_replace_rows_with_merge_keeps_journal_notes(backend: Backend) -> None:
    spec = tab_spec("Trades")
    workbook = backend.open()
    workbook.ensure_tabs([spec])
    bot_row = {"trade_id": "t1", "symbol": "AAPL", "side": "long", "qty": "1", "order_ids": "o1"}
    workbook.replace_rows("Trades", [bot_row, {"trade_id": "", "symbol": "MSFT", "notes": "manual", "order_ids": ""}])
    workbook.apply(WriteBatch(writes=[RowWrite("Trades", ("t1",), {"notes": "great entry", "rating": "5"})]))
    existing = read(workbook, "Trades")
    merged = merge_bot_rows(
        existing,
        [{**bot_row, "pnl": "12.5"}],
        spec=spec,
        keep=lambda r: not (r.get("order_ids") or "").strip(),
    )
    workbook.replace_rows("Trades", merged)
    rows = read(workbook, "Trades").rows
    assert [(r["symbol"], r["notes"]) for r in rows] == [("MSFT", "manual"), ("AAPL", "great entry")]
    assert rows[1]["rating"] == "5" and Decimal(rows[1]["pnl"]) == Decimal("12.5")


def test_trim_keeps_the_newest_rows(backend: Backend) -> None:
    workbook = backend.open()
    workbook.ensure_tabs([tab_spec("Signals")])
    workbook.apply(WriteBatch(appends=[("Signals", signal_row(n)) for n in range(1, 31)]))
    assert workbook.trim("Signals", 10) == 20
    assert [r["signal_id"] for r in read(workbook, "Signals").rows] == [str(n) for n in range(21, 31)]
    assert workbook.trim("Signals", 10) == 0
    workbook.apply(WriteBatch(writes=[RowWrite("Signals", ("31",), signal_row(31), upsert=True)]))
    workbook.apply(WriteBatch(writes=[RowWrite("Signals", ("25",), {"result": "late"}, upsert=True)]))
    rows = read(workbook, "Signals").rows
    assert [r["signal_id"] for r in rows] == [str(n) for n in range(21, 32)]
    assert rows[4]["result"] == "late"


def test_cell_values_round_trip(backend: Backend) -> None:
    workbook = backend.open()
    workbook.ensure_tabs([tab_spec("Orders"), tab_spec("Signals")])
    long_id = "00123456789012345678901"
    order = clean_record(
        {
            "client_order_id": long_id,
            "order_id": "0042",
            "symbol": "TRUE",
            "qty": "0.000123",
            "notional": "5000",
            "reason": '=HYPERLINK("http://evil")',
            "side": "buy",
        }
    )
    workbook.apply(WriteBatch(writes=[RowWrite("Orders", (long_id,), order, upsert=True)]))
    workbook.apply(WriteBatch(writes=[RowWrite("Orders", (long_id,), {"status": "filled"})]))
    (row,) = read(workbook, "Orders").rows
    assert row["client_order_id"] == long_id  # ids stay text, every digit kept
    assert row["order_id"] == "0042"
    assert row["symbol"] == "TRUE"
    assert row["reason"] == '\'=HYPERLINK("http://evil")'  # formula-safe text, never evaluated
    assert Decimal(row["qty"]) == Decimal("0.000123") and row["notional"] == "5000"
    assert row["status"] == "filled"
    if backend.kind == "google":
        assert backend.fake.formulas(backend.sheet_id) == []
        notional = tab_spec("Orders").headers.index("notional")
        from fakes.sheets_fake import col_letters

        cell = backend.fake.cell(backend.sheet_id, "Orders", f"{col_letters(notional)}2")
        assert cell is not None and cell.kind == "number"  # numbers stay numbers (USER_ENTERED)


def test_write_may_change_a_key(backend: Backend) -> None:
    workbook = backend.open({"Config": [CLASSIC, ["AAPL", "5000", "TRUE", "15", "", ""]]})
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("AAPL", "15m"), {"symbol": "MSFT"})]))
    workbook.apply(WriteBatch(writes=[RowWrite("Config", ("MSFT", "15m"), {"Order Status": "READY"})]))
    (row,) = read(workbook, "Config").rows
    assert (row["symbol"], row["Order Status"]) == ("MSFT", "READY")


def test_plain_appends_follow_row_writes_in_one_batch(backend: Backend) -> None:
    workbook = backend.open({"Config": [CLASSIC, ["AAPL", "5000", "TRUE", "15", "", ""]]})
    workbook.ensure_tabs([tab_spec("Settings")])
    workbook.apply(
        WriteBatch(
            writes=[RowWrite("Config", ("AAPL", "15m"), {"Order Status": "READY"})],
            appends=[
                ("Config", clean_record({"symbol": "MSFT", "position_size": "1", "active": "TRUE", "Time Frame": "D"})),
                ("Settings", {"key": "trading_enabled", "value": "TRUE", "description": "kill switch"}),
            ],
        )
    )
    tables = workbook.read_tables(["Config", "Settings"])
    assert [(r["symbol"], r["Order Status"]) for r in tables["Config"].rows] == [("AAPL", "READY"), ("MSFT", "")]
    assert tables["Settings"].rows == [{"key": "trading_enabled", "value": "TRUE", "description": "kill switch"}]
