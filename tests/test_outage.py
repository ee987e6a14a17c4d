"""Google down or slow: trading goes on (also across a restart), the sheet catches up; bad writes set aside."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.sheets_fake import SheetsFake, google_settings
from support.helpers import make_settings

from bot.errors import ConfigError, TemporaryError
from bot.records import WriteBatch
from bot.services import Services, build_services
from bot.sheets.google.auth import open_google_workbook
from bot.sheets.local import LocalWorkbook
from bot.web import create_app

SECRET = "outage-secret-0123456789"
HEADERS = ["symbol", "position_size", "active", "Time Frame", "size_type"]


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    with SheetsFake() as server:
        yield server


def sheet(fake: SheetsFake) -> str:
    rows = [HEADERS] + [[f"SYM{i}", "1", "TRUE", "15", "qty"] for i in range(5)]
    return fake.create_spreadsheet({"Config": rows, "Settings": [["key", "value", "description"],
                                                                 ["config_refresh_seconds", "0.2", ""]]})


def bot(fake: SheetsFake, sheet_id: str, tmp_path: Path, *, check: bool = True) -> Services:
    settings = google_settings(fake, sheet_id, tmp_path / "data", webhook_secret=SECRET)
    workbook = open_google_workbook(settings, http_client=fake.http_client, check=check)
    return build_services(settings, workbook=workbook)


def alert(i: int) -> bytes:
    return json.dumps({"secret": SECRET, "action": "buy" if (i // 5) % 2 == 0 else "sell", "symbol": f"SYM{i % 5}",
                       "timeframe": "15", "price": 10 + i, "id": f"o-{i}"}).encode()


def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_slow_google_never_delays_a_reply(fake: SheetsFake, tmp_path: Path) -> None:
    services = bot(fake, sheet(fake), tmp_path)
    try:
        client = create_app(services=services).test_client()
        fake.latency = 2.0  # each Sheets request now takes 2 s; TradingView gives up after 3 s
        time.sleep(0.3)  # the config is stale: the next alerts trigger a refresh
        for i in range(5):
            started = time.perf_counter()
            reply = client.post("/webhook", data=alert(i))
            assert reply.status_code == 200 and reply.get_json()["order_status"] == "FILLED"
            assert time.perf_counter() - started < 1.0
    finally:
        fake.latency = 0.0
        services.close()


def test_restart_during_an_outage_trades_on_the_saved_config_and_the_sheet_catches_up(
    fake: SheetsFake, tmp_path: Path
) -> None:
    sheet_id = sheet(fake)
    first = bot(fake, sheet_id, tmp_path)
    client = create_app(services=first).test_client()
    assert client.post("/webhook", data=alert(0)).get_json()["order_status"] == "FILLED"
    first.writer.flush()
    first.close()

    fake.fail_for(600, status=503)  # Google down; the bot restarts
    with pytest.raises(TemporaryError):
        open_google_workbook(google_settings(fake, sheet_id, tmp_path / "data"), http_client=fake.http_client)
    second = bot(fake, sheet_id, tmp_path, check=False)
    try:
        client = create_app(services=second).test_client()
        health = client.get("/health").get_json()
        assert health["status"] == "degraded" and health["active_configs"] == 5
        replies = [client.post("/webhook", data=alert(i)).get_json() for i in range(1, 10)]
        assert [r["order_status"] for r in replies].count("FILLED") == 9
        with pytest.raises(TemporaryError):
            second.writer.flush()  # the writes wait, durably, in the outbox
        assert second.store.outbox_depth() > 0

        fake.fail_for(0)  # Google is back
        wait_for(lambda: _flushed(second))
        signals = [r["signal_id"] for r in fake.records(sheet_id, "Signals")]
        assert signals == [str(i) for i in range(1, 11)]  # every signal, in order, none twice
        orders = fake.records(sheet_id, "Orders")
        assert len(orders) == 10 and len({o["client_order_id"] for o in orders}) == 10
        positions = {r["symbol"]: r["Position"] for r in fake.records(sheet_id, "Config")}
        assert positions == {f"SYM{i}": "-1" for i in range(5)}  # buy then sell on each row: short 1
    finally:
        second.close()


def _flushed(services: Services) -> bool:
    try:
        services.writer.flush()
    except TemporaryError:
        return False
    return services.store.outbox_depth() == 0


class PickyWorkbook(LocalWorkbook):
    """A local workbook that refuses one kind of cell for good, as Google answers 400 to an invalid range."""

    def apply(self, batch: WriteBatch) -> None:
        if any("POISON" in json.dumps(w.values) for w in batch.writes):
            raise ConfigError("Invalid value at 'data[0].values' (400)")
        super().apply(batch)


def test_a_write_refused_for_good_is_set_aside_and_the_rest_flows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    services = build_services(settings, workbook=PickyWorkbook(settings.workbook_path))
    try:
        store = services.store
        with store.session() as s:
            store.enqueue(s, "upsert", "Signals", {"signal_id": "900", "reason": "first"}, ("900",))
            store.enqueue(s, "upsert", "Signals", {"signal_id": "901", "reason": "POISON"}, ("901",))
            store.enqueue(s, "upsert", "Signals", {"signal_id": "902", "reason": "third"}, ("902",))
        for _ in range(3):
            services.writer.flush()
        rows = services.workbook.read_tables(["Signals"])["Signals"].rows
        assert [r["signal_id"] for r in rows] == ["900", "902"]
        assert store.outbox_depth() == 0
        assert len(services.writer.set_aside) == 1 and "Signals" in services.writer.set_aside[0]
    finally:
        services.close()
