"""Plain helpers for tests (importable as ``support.helpers``): settings, config edits, reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.records import WriteBatch
from bot.services import Services
from bot.settings import Settings, load_settings
from bot.sheets.base import clean_record

SECRET = "test-secret-0123456789"
TOKEN = "test-token-0123456789abcdef"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on ``tmp_path/data`` with fixed secret and token."""
    values: dict[str, Any] = {"bot_data_dir": tmp_path / "data", "webhook_secret": SECRET, "bot_api_token": TOKEN}
    values.update(overrides)
    return load_settings(**values)


def set_config(services: Services, rows: list[dict[str, str]], settings_rows: dict[str, str] | None = None) -> None:
    """Replace the Config tab (and optionally set Settings keys) and make the engine re-read it."""
    services.workbook.replace_rows("Config", [clean_record(r) for r in rows])
    if settings_rows:
        table = services.workbook.read_tables(["Settings"])["Settings"]
        records = [dict(r) for r in table.rows]
        for record in records:
            if record["key"] in settings_rows:
                record["value"] = settings_rows[record["key"]]
        services.workbook.replace_rows("Settings", records)
    services.config.invalidate()
    services.config.get()
    services.writer.flush()


def add_rows(services: Services, tab: str, rows: list[dict[str, str]]) -> None:
    """Append rows to a tab directly (as a user typing them)."""
    services.workbook.apply(WriteBatch(appends=[(tab, clean_record(r)) for r in rows]))


def config_rows(services: Services) -> dict[tuple[str, str], dict[str, str]]:
    """Config rows after flushing the outbox, keyed by (symbol, Time Frame) as typed."""
    services.writer.flush()
    table = services.workbook.read_tables(["Config"])["Config"]
    return {(r["symbol"], r["Time Frame"]): r for r in table.rows}


def tab_rows(services: Services, tab: str) -> list[dict[str, str]]:
    """Rows of ``tab`` after flushing the outbox."""
    services.writer.flush()
    return services.workbook.read_tables([tab])[tab].rows
