"""Helpers for benchmarks: start the real server process on a free loopback port with a fresh data dir."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

SECRET = "bench-secret-0123456789"
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert_body(i: int, rows: int, *, prefix: str, prices: int = 5) -> bytes:
    """Alert number ``i`` of a bench stream: rows ``SYM0``… in turn, 15-minute timeframe, a buy on even
    passes over the rows and a sell on odd ones, price 100 + pass mod ``prices``, id ``prefix`` + ``i``."""
    row, cycle = i % rows, i // rows
    alert = {"secret": SECRET, "action": "buy" if cycle % 2 == 0 else "sell", "symbol": f"SYM{row}"}
    return json.dumps({**alert, "timeframe": "15", "price": 100 + cycle % prices, "id": f"{prefix}{i}"}).encode()


def import_config(data_dir: Path, rows: int) -> None:
    """Give ``data_dir``'s local workbook a Config of ``rows`` active rows ``SYM0``… (qty 10, 15-minute),
    through ``python -m bot import`` as a user would.

    Raises:
        subprocess.CalledProcessError: the import failed.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir.parent / "config.csv"
    config.write_text(
        "symbol,position_size,active,Time Frame,size_type\n" + "".join(f"SYM{i},10,TRUE,15,qty\n" for i in range(rows))
    )
    command = [sys.executable, "-m", "bot", "import", "Config", str(config), "--replace"]
    subprocess.run(command, check=True, capture_output=True, env={"BOT_DATA_DIR": str(data_dir), "PATH": ""})


def start_server(
    data_dir: Path, *, port: int | None = None, threads: int = 8, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m bot serve`` (gunicorn) and wait for /health; returns (process, base URL)."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "BOT_DATA_DIR": str(data_dir),
        "WEBHOOK_SECRET": SECRET,
        "BOT_API_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--threads", str(threads)],
        env=full_env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
    process.kill()
    raise RuntimeError("server did not start within 60 s")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (pct in 0..100)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def server_cpu_seconds(master_pid: int) -> float | None:
    """User + system CPU seconds used so far by the server's master and its worker processes (Linux /proc).

    Returns None where /proc is not available.
    """
    proc = Path("/proc")
    if not (proc / str(master_pid) / "stat").exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if master_pid in (pid, ppid):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick
