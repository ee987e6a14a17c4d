"""Code and sheets_schema/ agree: every column the bot writes exists, with the owner it claims."""

from __future__ import annotations

import ast
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.domain import RowStatus
from bot.services import EXAMPLE_CONFIG, seed_workbook
from bot.settings import RuntimeSettings, parse_runtime_settings
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import SCHEMA_DIR, TABS, all_specs, tab_spec
from bot.trading.config_table import parse_row
from bot.trading.rows import order_row, signal_row

ROOT = Path(__file__).resolve().parents[2]


def test_one_file_per_tab_with_complete_columns() -> None:
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(TABS)
    for spec in all_specs():
        assert spec.key and all(k in spec.headers for k in spec.key), spec.name
        assert len(set(spec.headers)) == len(spec.headers), spec.name
        for column in spec.columns:
            assert column.owner in ("bot", "user"), (spec.name, column.name)
            assert column.type in (
                "text",
                "symbol",
                "decimal",
                "bool",
                "timeframe",
                "enum",
                "datetime",
                "int",
                "duration",
            ), (spec.name, column.name)
            if column.type == "enum":
                assert column.allowed, (spec.name, column.name)
        raw = json.loads((SCHEMA_DIR / f"{spec.name}.json").read_text())
        assert all({"name", "type", "required", "owner", "description"} <= set(c) for c in raw["columns"])


def test_config_keeps_the_classic_leading_columns() -> None:
    assert tab_spec("Config").headers[:6] == [
        "symbol",
        "position_size",
        "active",
        "Time Frame",
        "Order Status",
        "Last Updated",
    ]
    assert set(tab_spec("Config").column("Order Status").allowed) == {s.value for s in RowStatus}


def test_trades_user_columns_are_user_owned() -> None:
    assert {"setup", "tags", "notes", "screenshot_url", "rating"} <= tab_spec("Trades").user_columns


def test_engine_writes_only_schema_columns() -> None:
    now = datetime.now(timezone.utc)
    zone = ZoneInfo("UTC")
    signals = signal_row(
        signal_id=1,
        received_at=now,
        alert_id="",
        action="buy",
        symbol="A",
        timeframe="1d",
        price=None,
        result="success",
        reason="",
        latency_ms=None,
        zone=zone,
    )
    assert list(signals) == tab_spec("Signals").headers
    orders = order_row(
        submitted_at=now,
        broker_order_id="",
        client_order_id="c",
        broker="paper",
        symbol="A",
        timeframe="1d",
        side="buy",
        qty=Decimal(1),
        notional=None,
        state="filled",
        filled_qty=Decimal(1),
        filled_avg_price=None,
        filled_at=None,
        reason="",
        zone=zone,
    )
    assert list(orders) == tab_spec("Orders").headers
    trees = [ast.parse(path.read_text()) for path in sorted((ROOT / "bot" / "trading").glob("*.py"))]
    config_keys = {
        node.value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for node in node.keys
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value[:1].isupper()
    }
    assert {"Order Status", "Position", "Note", "Last Signal", "Last Order ID"} <= config_keys
    assert config_keys <= tab_spec("Config").bot_columns


def test_settings_tab_lists_every_runtime_knob_and_reports_bad_values(tmp_path: Path) -> None:
    book = LocalWorkbook(tmp_path / "wb.db")
    seed_workbook(book, examples=False)
    records = book.read_tables(["Settings"])["Settings"].rows
    assert {r["key"] for r in records} == set(RuntimeSettings.model_fields)
    assert all(r["description"] and r["value"] == "" for r in records)
    runtime, problems = parse_runtime_settings(records)
    assert runtime == RuntimeSettings() and problems == []
    edited = [*records, {"key": "trading_enabld", "value": "FALSE"}]
    edited = [{**r, "value": "soon"} if r["key"] == "config_refresh_seconds" else r for r in edited]
    edited = [{**r, "value": "FALSE"} if r["key"] == "trading_enabled" else r for r in edited]
    runtime, problems = parse_runtime_settings(edited)
    assert runtime.trading_enabled is False and runtime.config_refresh_seconds == 15
    assert any("'trading_enabld': unknown setting" in p for p in problems)
    assert any("'config_refresh_seconds': value 'soon'" in p for p in problems)


def test_example_config_rows_are_valid() -> None:
    for number, row in enumerate(EXAMPLE_CONFIG, start=2):
        parsed = parse_row(row, number)
        assert parsed.symbol == row["symbol"]
