"""Google Sheets backend under the engine: coalescing of writes, the quota, outages and restarts.

Everything runs the real gspread client and google-auth (service-account JWT signed with a locally
generated RSA key, exchanged at the fake's loopback token endpoint) against the Sheets v4 fake in
``tests/fakes/sheets_fake.py``; the fake is reached through gspread's ``http_client=`` hook only.
The behaviour shared with the local backend is in ``test_workbook_contract.py``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.sheets_fake import SheetsFake
from support.google_sheets import alert, build_bot, config_sheet, sheet_problems, wait_until

from bot.errors import TemporaryError


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
