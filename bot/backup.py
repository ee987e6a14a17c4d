"""Backups of the state DB and the local workbook, taken while the bot runs, and restores.

``python -m bot backup DIR`` copies each SQLite file with SQLite's online backup API
(:meth:`sqlite3.Connection.backup`): the copy is one consistent snapshot even while the server
keeps writing (WAL mode: the copy reads inside one read transaction and never blocks the
server's writers). A plain ``cp`` of a live WAL database can miss committed transactions that are
still in the ``-wal`` file, or copy a half-written page.

Layout of one backup: ``DIR/sheetbot-YYYYMMDD-HHMMSSZ/`` with ``state.db``, ``workbook.db`` (local
workbook only), the generated ``webhook_secret``/``api_token`` files when present (so alerts keep
working after a restore onto a new machine; keep backups private), and ``manifest.json``
(``{"created_at", "version", "files": {name: {"bytes", "sha256"}}, "skipped": [why, ...]}``).

``python -m bot restore SRC`` writes the backup back into the live files, again through the backup
API (so WAL and shared-memory files stay coherent and other processes' open connections see the
restored content), after saving the current files to ``BOT_DATA_DIR/backups/pre-restore-…``.

Running-server detection: a serving process holds an exclusive ``flock`` on
``BOT_DATA_DIR/server.lock`` (:func:`acquire_server_lock`; the kernel releases it when the process
exits, even on a crash, so there are no stale pid files). :func:`restore` refuses while that lock
is held unless ``force`` is given. A server that was started without taking the lock is not seen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from bot import __version__
from bot.errors import ConfigError
from bot.settings import Settings
from bot.state.store import database_file

log = logging.getLogger(__name__)

LOCK_NAME = "server.lock"
MANIFEST = "manifest.json"
#: Generated secret files of the embedded default, copied along (they are tiny).
SECRET_FILES = ("webhook_secret", "api_token")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, no detection
    fcntl = None  # type: ignore[assignment]


# -- running-server lock ----------------------------------------------------------------------


@dataclass
class ServerLock:
    """An exclusive lock on ``BOT_DATA_DIR/server.lock``, held for the life of a server process."""

    path: Path
    handle: IO[str] | None

    def release(self) -> None:
        """Release the lock (also released by the kernel when the process exits). Safe twice."""
        if self.handle is not None:
            try:
                if fcntl is not None:
                    fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            finally:
                self.handle.close()
                self.handle = None


def acquire_server_lock(data_dir: Path) -> ServerLock:
    """Take the server lock of ``data_dir`` (a server calls this once at start-up and keeps it).

    Two servers on one data dir would run every background job twice; this refuses the second.

    Raises:
        ConfigError: another process holds the lock (its pid is named when known).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open for the process's life
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ConfigError(
                f"another bot server is running with BOT_DATA_DIR={data_dir} ({_holder(path)}); stop it first"
            ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return ServerLock(path, handle)


def server_running(data_dir: Path) -> str | None:
    """A description of the server holding ``data_dir``'s lock (``"pid 123"``), or None when free."""
    path = data_dir / LOCK_NAME
    if fcntl is None or not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _holder(path)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="utf-8").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


# -- backup ---------------------------------------------------------------------------------


def database_files(settings: Settings) -> tuple[dict[str, Path], list[str]]:
    """The SQLite files to back up, ``{"state.db": path, "workbook.db": path}``, and notes on what is not.

    The state DB is included when ``BOT_DB_URL`` is a SQLite file; the workbook when
    ``BOT_STORE=local``. A Google Sheet has its own version history (File → Version history);
    PostgreSQL is backed up with ``pg_dump``.
    """
    files: dict[str, Path] = {}
    skipped: list[str] = []
    backend, path = database_file(settings.db_url)
    if path is not None:
        files["state.db"] = path
    else:
        skipped.append(f"state DB is {backend}: back it up with its own tools (pg_dump)")
    if settings.bot_store == "local":
        files["workbook.db"] = settings.workbook_path
    else:
        skipped.append("workbook is a Google Sheet: it keeps its own version history")
    return files, skipped


def backup(settings: Settings, dest: Path) -> list[Path]:
    """Copy the state DB and the local workbook into a new timestamped folder under ``dest``.

    Consistent while the server runs (SQLite online backup API, one read snapshot per file).
    Each copy is checked with ``PRAGMA integrity_check``.

    Args:
        settings: where the files are (``BOT_DATA_DIR``, ``BOT_DB_URL``, ``BOT_STORE``).
        dest: parent directory; created when missing.

    Returns:
        The files written, the manifest last. ``paths[0].parent`` is the backup folder.

    Raises:
        ConfigError: a database file is missing, unreadable or the copy fails its integrity check.
    """
    files, skipped = database_files(settings)
    folder = _new_folder(Path(dest))
    written: list[Path] = []
    manifest: dict[str, object] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "store": settings.bot_store,
        "broker": settings.bot_broker,
        "files": {},
        "skipped": skipped,
    }
    try:
        for name, source in files.items():
            if not source.exists():
                raise ConfigError(f"{name}: {source} does not exist (has the bot run with this BOT_DATA_DIR?)")
            target = folder / name
            copy_database(source, target)
            written.append(target)
        for name in SECRET_FILES:
            source = settings.bot_data_dir / name
            if source.is_file():
                target = folder / name
                shutil.copyfile(source, target)
                target.chmod(0o600)
                written.append(target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never leave a half backup that looks whole
        raise
    manifest["files"] = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in written}
    manifest_path = folder / MANIFEST
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    written.append(manifest_path)
    log.info("backup written to %s (%d files)", folder, len(written))
    return written


def copy_database(source: Path, target: Path) -> None:
    """Copy one SQLite database with the online backup API and check the copy.

    Raises:
        ConfigError: the source cannot be read or the copy is not intact.
    """
    try:
        # a normal connection: a read-only one cannot always open a live WAL database; nothing is written
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # pages=-1: the whole file in one step, one consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
                _check(dst, target)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot back up {source}: {exc}") from None


def _check(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()
    if not result or result[0] != "ok":
        raise ConfigError(f"{path} failed its integrity check: {result[0] if result else 'no answer'}")


def _new_folder(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%SZ")
    for n in range(1, 1000):
        folder = dest / (f"sheetbot-{stamp}" if n == 1 else f"sheetbot-{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        folder.chmod(0o700)
        return folder
    raise ConfigError(f"too many backups named sheetbot-{stamp}* in {dest}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- restore --------------------------------------------------------------------------------


def find_backup(src: Path) -> Path:
    """The backup folder for ``src``: ``src`` itself when it has a manifest, else its newest backup subfolder.

    Raises:
        ConfigError: no backup there.
    """
    src = Path(src)
    if (src / MANIFEST).is_file():
        return src
    candidates = sorted(p for p in src.glob("sheetbot-*") if (p / MANIFEST).is_file()) if src.is_dir() else []
    if not candidates:
        raise ConfigError(f"no backup in {src} (expected {MANIFEST} there or in a sheetbot-* folder)")
    return candidates[-1]


def restore(settings: Settings, src: Path, *, force: bool = False) -> list[Path]:
    """Write a backup back into ``BOT_DATA_DIR`` (state DB, local workbook, generated secrets).

    Steps: pick the folder (:func:`find_backup`), check every file against the manifest's sha256
    and with ``PRAGMA integrity_check``, refuse while a server holds the lock (unless ``force``),
    save the current files with :func:`backup` into ``BOT_DATA_DIR/backups/pre-restore-…``, then
    copy each database into the live file with the backup API.

    Args:
        settings: the target (``BOT_DATA_DIR``, ``BOT_DB_URL``, ``BOT_STORE``).
        src: a backup folder, or a directory of them (the newest is used).
        force: restore even while a server runs (it keeps running on the restored data; its
            in-memory caches, e.g. the last-signal time, are not reset).

    Returns:
        The live files that were overwritten.

    Raises:
        ConfigError: a server is running and ``force`` is false; the backup is missing, altered or damaged.
    """
    folder = find_backup(src)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    recorded: dict[str, dict[str, object]] = manifest.get("files", {})
    for name, info in recorded.items():
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"backup {folder} is incomplete: {name} is missing")
        if _sha256(path) != info.get("sha256"):
            raise ConfigError(f"backup {folder}: {name} does not match its checksum (altered or damaged)")
    holder = server_running(settings.bot_data_dir)
    if holder and not force:
        raise ConfigError(
            f"a bot server is running on {settings.bot_data_dir} ({holder}): stop it first "
            "(systemctl stop sheetbot / docker compose stop bot), or pass --force"
        )
    targets, _ = database_files(settings)
    plan = [
        (folder / name, targets[name]) for name in ("state.db", "workbook.db") if name in recorded and name in targets
    ]
    if not plan:
        raise ConfigError(f"backup {folder} has nothing this configuration can restore")
    for source, _target in plan:
        with sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True) as conn:
            _check(conn, source)
        conn.close()
    existing = [target for _, target in plan if target.exists()]
    if existing:
        saved = backup(settings, settings.bot_data_dir / "backups" / "pre-restore")
        log.warning("current data saved to %s before restoring", saved[0].parent)
    restored: list[Path] = []
    for source, target in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        src_conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        dst_conn = sqlite3.connect(target, timeout=30)
        try:
            dst_conn.execute("PRAGMA journal_mode=WAL")
            src_conn.backup(dst_conn)
            _check(dst_conn, target)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot restore {target}: {exc}") from None
        finally:
            dst_conn.close()
            src_conn.close()
        restored.append(target)
    for name in SECRET_FILES:
        if name in recorded:
            target = settings.bot_data_dir / name
            shutil.copyfile(folder / name, target)
            target.chmod(0o600)
            restored.append(target)
    log.warning("restored %s from %s", ", ".join(p.name for p in restored), folder)
    return restored
