"""Start the real server process for end-to-end and fault tests (importable as ``support.server``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from .helpers import SECRET, TOKEN

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on ``127.0.0.1`` that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(data: Path, **extra: str) -> dict[str, str]:
    """This process's environment plus the bot's data dir, test secret and token, quiet logs, and ``extra``."""
    return {
        **os.environ,
        "BOT_DATA_DIR": str(data),
        "WEBHOOK_SECRET": SECRET,
        "BOT_API_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_bot(data: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Run ``python -m bot serve --port <port>`` in its own session and wait until ``/health`` answers.

    Args:
        data: the bot's data dir.
        port: the port to serve on.
        env: the process environment (default: :func:`bot_env` of ``data``).

    The process leads a new session, so ``os.killpg(process.pid, ...)`` reaches gunicorn's master and
    workers. Raises ``AssertionError`` (after killing it) when it is not healthy within 60 s.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=bot_env(data) if env is None else env,
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("server did not start")
