"""The framework's own ceiling: gunicorn (gthread) + Flask + Flask-Limiter with a handler that does nothing.

Serves a minimal Flask app shaped like the bot's webhook (the body read, the per-source limit on
the blueprint as ``bot.web.create_app`` sets it, a small JSON reply) with the same gunicorn settings
as ``python -m bot serve``, and drives it with the same 8 keep-alive clients and alert bodies as
``load.py``. Prints requests/s and reply-time p50/p99 for one worker (as the bot runs) and, for
scale, two workers (keep-alive connections stay with the worker that accepted them, so two workers
do not double the figure). The bot cannot be faster than the one-worker figure with the limiter.

Run: ``.venv/bin/python bench/framework_floor.py [--requests 5000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from _client import combined, run_clients
from _server import SECRET, free_port, percentile, server_cpu_seconds

APP = '''
from flask import Blueprint, Flask, jsonify, request
from flask_limiter import Limiter

app = Flask("floor")
webhook = Blueprint("webhook", __name__)


@webhook.post("/webhook")
def receive():
    body = request.get_data()
    return jsonify({"status": "success", "bytes": len(body)})


@app.get("/health")
def health():
    return jsonify({"status": "ok"})


if LIMITER:
    limiter = Limiter(key_func=lambda: request.remote_addr, app=app, storage_uri="memory://", default_limits=[])
    limiter.limit("100000/second")(webhook)
app.register_blueprint(webhook)
'''


def measure(folder: Path, *, limiter: bool, workers: int, per_client: list[list[bytes]]) -> str:
    """Serve the minimal app and return a one-line summary of the run."""
    module = f"floor_{'lim' if limiter else 'bare'}"
    (folder / f"{module}.py").write_text(APP.replace("if LIMITER:", f"if {limiter}:"))
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", f"{module}:app", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--worker-class", "gthread", "--threads", "8", "--keep-alive", "75"]
    process = subprocess.Popen([*command, "--log-level", "warning"], cwd=folder)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        cpu = server_cpu_seconds(process.pid)
        results, elapsed = run_clients(port, per_client)
        cpu = (server_cpu_seconds(process.pid) or 0.0) - cpu if cpu is not None else None
    finally:
        process.terminate()
        process.wait(timeout=30)
    times, statuses = combined(results)
    ok = statuses.get("success", 0)
    per_request = f", server CPU {cpu / len(times) * 1000:.2f} ms per request" if cpu is not None else ""
    return (
        f"{len(times) / elapsed:6.0f} requests/s, p50 {percentile(times, 50):5.2f} ms, "
        f"p99 {percentile(times, 99):5.2f} ms{per_request} ({ok} of {len(times)} answered success)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    body = {"secret": SECRET, "action": "buy", "symbol": "SYM1", "timeframe": "15", "price": 100}
    per_client = [
        [json.dumps({**body, "id": f"floor-{c}-{i}"}).encode() for i in range(args.requests // args.clients)]
        for c in range(args.clients)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for limiter, workers in ((False, 1), (True, 1), (False, 2), (True, 2)):
            stack = "Flask + Flask-Limiter" if limiter else "bare Flask"
            name = f"{stack:22} {workers} worker{'s' if workers > 1 else ' '}"
            print(f"{name}: {measure(Path(tmp), limiter=limiter, workers=workers, per_client=per_client)}")


if __name__ == "__main__":
    main()
