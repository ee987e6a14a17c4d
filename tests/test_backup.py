"""Backups taken while the server writes, restores, and the running-server lock."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.backup import (
    MANIFEST,
    acquire_server_lock,
    backup,
    database_files,
    find_backup,
    restore,
    server_running,
)
from bot.errors import ConfigError
from bot.services import Services, build_services
from bot.settings import load_settings
from bot.web import create_app

SECRET = "backup-test-secret-0123456789"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    return load_settings(bot_data_dir=tmp_path / "data", webhook_secret=SECRET)


@pytest.fixture
def services(settings: Any) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


def _post(client: Any, n: int, symbol: str = "MSFT") -> None:
    action = "buy" if n % 2 == 0 else "sell"
    body = {"secret": SECRET, "action": action, "symbol": symbol, "timeframe": "D", "price": 100 + n, "id": f"b-{n}"}
    reply = client.post("/webhook", data=json.dumps(body))
    assert reply.status_code == 200, reply.get_json()


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_backup_is_consistent_while_the_server_writes(settings: Any, services: Services, tmp_path: Path) -> None:
    client = create_app(services=services).test_client()
    stop = threading.Event()
    errors: list[BaseException] = []
    posted = [0]

    def writer() -> None:
        try:
            while not stop.is_set() and posted[0] < 400:
                _post(client, posted[0])
                services.writer.flush()  # the workbook changes too
                posted[0] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    folders = []
    try:
        for _ in range(5):
            target = posted[0] + 3
            deadline = time.monotonic() + 20
            while posted[0] < target and time.monotonic() < deadline and not errors:
                time.sleep(0.005)
            folders.append(backup(settings, tmp_path / "backups")[0].parent)  # while alerts keep arriving
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors
    assert len(set(folders)) == 5
    for folder in folders:
        manifest = json.loads((folder / MANIFEST).read_text())
        assert set(manifest["files"]) == {"state.db", "workbook.db", "api_token"}  # secret came from settings
        for name in ("state.db", "workbook.db"):
            with sqlite3.connect(folder / name) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # every order in the copy belongs to a signal in the copy (one snapshot, not a mix)
        with sqlite3.connect(folder / "state.db") as conn:
            orphans = conn.execute(
                "SELECT COUNT(*) FROM orders WHERE signal_id IS NOT NULL AND signal_id NOT IN (SELECT id FROM signals)"
            ).fetchone()[0]
        assert orphans == 0
        assert (folder.stat().st_mode & 0o777) == 0o700
    counts = [_count(folder / "state.db", "signals") for folder in folders]
    assert counts == sorted(counts) and counts[-1] > counts[0]  # each backup saw the writes before it


def test_restore_brings_back_the_backed_up_state(settings: Any, services: Services, tmp_path: Path) -> None:
    client = create_app(services=services).test_client()
    for n in range(4):
        _post(client, n)
    services.writer.flush()
    saved = backup(settings, tmp_path / "backups")[0].parent
    state_db = settings.bot_data_dir / "state.db"
    signals_then = _count(saved / "state.db", "signals")
    rows_then = _count(saved / "workbook.db", "rows")
    for n in range(4, 10):
        _post(client, n, symbol="AAPL")
    services.writer.flush()
    assert _count(state_db, "signals") > signals_then

    restored = restore(settings, tmp_path / "backups")  # the newest backup in the folder
    assert {p.name for p in restored} >= {"state.db", "workbook.db"}
    assert _count(state_db, "signals") == signals_then
    assert _count(settings.workbook_path, "rows") == rows_then
    # the running services (open connections) see the restored data
    assert services.store.outbox_depth() == 0
    assert len(services.store.fills()) == _count(saved / "state.db", "fills")
    # the state before the restore was saved first
    pre = find_backup(settings.bot_data_dir / "backups" / "pre-restore")
    assert _count(pre / "state.db", "signals") == signals_then + 6


def test_restore_refuses_while_a_server_holds_the_lock(settings: Any, services: Services, tmp_path: Path) -> None:
    folder = backup(settings, tmp_path / "backups")[0].parent
    lock = acquire_server_lock(settings.bot_data_dir)
    try:
        assert server_running(settings.bot_data_dir) is not None
        with pytest.raises(ConfigError, match="server is running"):
            restore(settings, folder)
        with pytest.raises(ConfigError, match="another bot server"):
            acquire_server_lock(settings.bot_data_dir)
        assert restore(settings, folder, force=True)
    finally:
        lock.release()
    assert server_running(settings.bot_data_dir) is None
    acquire_server_lock(settings.bot_data_dir).release()
    assert restore(settings, folder)


def test_restore_refuses_an_altered_backup(settings: Any, services: Services, tmp_path: Path) -> None:
    folder = backup(settings, tmp_path / "backups")[0].parent
    with open(folder / "state.db", "r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff\xff")
    with pytest.raises(ConfigError, match="checksum"):
        restore(settings, folder)
    with pytest.raises(ConfigError, match="no backup"):
        restore(settings, tmp_path / "nothing-here")


def test_backup_of_missing_data_fails_cleanly(settings: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        backup(settings, tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []  # no half backup left behind


def test_only_local_files_are_backed_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    google = load_settings(bot_data_dir=tmp_path, bot_store="google")
    files, skipped = database_files(google)
    assert set(files) == {"state.db"} and "Google Sheet" in skipped[0]
    postgres = load_settings(bot_data_dir=tmp_path, bot_db_url="postgresql://u@localhost/bot")
    files, skipped = database_files(postgres)
    assert set(files) == {"workbook.db"} and "pg_dump" in skipped[0]
