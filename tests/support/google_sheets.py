"""Helpers of the Google Sheets tests (importable as ``support.google_sheets``).

A workbook or a whole bot on the Sheets fake (real gspread + google-auth), a classic Config sheet,
TradingView-style alerts, and a consistency check of the sheet against the state DB.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakes.sheets_fake import SheetsFake, google_settings, open_fake_workbook
from sqlalchemy import select

from bot.domain import format_decimal
from bot.services import Services, build_services
from bot.sheets.google.auth import open_google_workbook
from bot.sheets.google.workbook import GoogleWorkbook
from bot.state.models import OrderRecord, SignalRecord, SlotRecord

#: The columns of a classic one-tab Config sheet.
CLASSIC = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]
#: The webhook secret of :func:`build_bot` and :func:`alert`.
SECRET = "test-secret"


def open_on(fake: SheetsFake, sheet_id: str, tmp_path: Path, **options: Any) -> GoogleWorkbook:
    """A real Google workbook on sheet ``sheet_id`` of ``fake`` (``options``: key ``info`` and workbook knobs)."""
    return open_fake_workbook(fake, sheet_id, tmp_path, **options)


def config_sheet(rows: int, *, refresh: str = "") -> dict[str, list[list[str]]]:
    """Tabs of a classic Config with ``rows`` symbols SYM00.. (and a Settings tab when ``refresh`` is set)."""
    tabs = {"Config": [CLASSIC] + [[f"SYM{i:02d}", "1000", "TRUE", "15", "", ""] for i in range(rows)]}
    if refresh:
        tabs["Settings"] = [["key", "value", "description"], ["config_refresh_seconds", refresh, ""]]
    return tabs


def build_bot(fake: SheetsFake, sheet_id: str, tmp_path: Path, **kwargs: Any) -> Services:
    """Real services (paper broker, SQLite state) whose workbook is sheet ``sheet_id`` of ``fake``."""
    settings = google_settings(fake, sheet_id, tmp_path, webhook_secret=SECRET)
    workbook = open_google_workbook(settings, http_client=fake.http_client)
    return build_services(settings, workbook=workbook, **kwargs)


def alert(i: int, rows: int) -> bytes:
    """The ``i``-th alert body of a stream cycling over ``rows`` Config rows (buy, then sell, ...)."""
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
    """Poll ``check`` until it returns no problems or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    problems = check()
    while problems and time.monotonic() < deadline:
        time.sleep(0.05)
        problems = check()
    return problems
