"""Google Sheets backend, the request budget (bot.sheets.google.budget): background work waits, reads never do.

Everything runs the real gspread client and google-auth (service-account JWT signed with a locally
generated RSA key, exchanged at the fake's loopback token endpoint) against the Sheets v4 fake in
``tests/fakes/sheets_fake.py``; the fake is reached through gspread's ``http_client=`` hook only.
The behaviour shared with the local backend is in ``test_workbook_contract.py``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fakes.sheets_fake import SheetsFake
from support.google_sheets import config_sheet, open_on

from bot.errors import TemporaryError
from bot.records import WriteBatch
from bot.sheets.schema import tab_spec


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
