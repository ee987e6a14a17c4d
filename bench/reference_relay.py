"""The issue's yardstick measured on this machine: a popular open-source TradingView relay beside the bot.

Issue 8 scales its speed target by a reference: "a popular open-source relay whose webhook only writes
a log line does about 600 alerts/s with p99 ≈ 18 ms on this kind of machine" (target for the bot:
≥ 1,200 alerts/s, p99 ≤ 25 ms). Machines of one kind still differ, so this script measures that relay
and the bot in one run, with the same 8 keep-alive clients (``_client.py``) and the same alert stream
as ``load.py``, and prints both and their ratio.

The relay is robswc/tradingview-webhooks-bot (the most-starred TradingView webhook relay in Python),
served as its own ``tvwb start`` serves it: ``gunicorn --bind HOST:PORT wsgi:app --workers 1``
(gunicorn's sync worker, which closes the connection after each reply; the clients then reconnect,
and the connect counts in the next reply's time). Each alert carries a ``key`` that matches none of
its events, so its webhook parses the JSON, writes its two log lines and answers 200: the "only writes
a log line" of the issue. Its code is not part of this project; clone it yourself::

    git clone https://github.com/robswc/tradingview-webhooks-bot /tmp/relay
    .venv/bin/python bench/reference_relay.py --relay /tmp/relay

Without ``--relay-python`` a virtualenv with the relay's pinned ``src/requirements.txt`` is made once
in ``<relay>/.bench-venv`` (needs the package registry). The relay writes its ``.key`` and
``components/logs/log.log`` into ``<relay>/src``, as it does when run by hand; its log lines go to a
temporary file.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _client import combined, run_clients
from _server import free_port, percentile, server_cpu_seconds
from load import client_streams, run_load


def relay_python(relay: Path) -> Path:
    """The interpreter of ``<relay>/.bench-venv``, made with the relay's pinned requirements when missing.

    Raises:
        subprocess.CalledProcessError: venv creation or pip failed.
    """
    venv = relay / ".bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        requirements = relay / "src" / "requirements.txt"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    return python


def _wait_listening(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"relay exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"relay did not listen on port {port} within {seconds:.0f} s")


def measure_relay(relay: Path, python: Path, per_client: list[list[bytes]]) -> tuple[list[float], float, dict, float]:
    """Serve the relay as ``tvwb start`` does and send it ``per_client``'s alerts with an unknown event key.

    Returns ``(reply times in ms, elapsed s, {status: count}, server CPU s)``.
    """
    unknown_key = [[_with_key(body) for body in bodies] for bodies in per_client]
    port = free_port()
    command = [str(python), "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "wsgi:app", "--workers", "1"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=relay / "src", stdout=log, stderr=log)
        try:
            _wait_listening(port, process)
            cpu_before = server_cpu_seconds(process.pid) or 0.0
            results, elapsed = run_clients(port, unknown_key)
            cpu = (server_cpu_seconds(process.pid) or 0.0) - cpu_before
        finally:
            process.terminate()
            process.wait(timeout=30)
    times, statuses = combined(results)
    return times, elapsed, statuses, cpu


def _with_key(body: bytes) -> bytes:
    return json.dumps({**json.loads(body), "key": "NoSuchEvent:000000"}).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", type=Path, required=True, help="a clone of robswc/tradingview-webhooks-bot")
    parser.add_argument("--relay-python", type=Path, help="an interpreter with the relay's requirements")
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    python = args.relay_python or relay_python(args.relay)
    per_client, _, _ = client_streams(alerts=args.alerts, clients=args.clients, duplicates=0.30)
    times, elapsed, statuses, cpu = measure_relay(args.relay, python, per_client)
    relay_rate = len(times) / elapsed
    print(
        f"relay (gunicorn sync, 1 worker, logs each alert): {relay_rate:5.0f} alerts/s, "
        f"p50 {percentile(times, 50):.2f} ms, p99 {percentile(times, 99):.2f} ms, "
        f"server CPU {cpu / len(times) * 1000:.2f} ms per alert; replies {statuses}"
    )
    bot = run_load(alerts=args.alerts, clients=args.clients)
    print(
        f"bot   (gunicorn gthread, paper broker, fsync'd): {bot.rate:5.0f} alerts/s, "
        f"p50 {percentile(bot.times, 50):.2f} ms, p99 {percentile(bot.times, 99):.2f} ms, "
        f"server CPU {(bot.server_cpu or 0) / len(bot.times) * 1000:.2f} ms per alert; replies {bot.statuses}; "
        f"orders {bot.orders} of {bot.expected_orders}, doubled {bot.doubled}"
    )
    print(
        f"bot / relay: {bot.rate / relay_rate:.2f}× the throughput (issue 8 asks 1,200 / 600 = 2.00×); "
        f"p99 {percentile(bot.times, 99):.1f} ms vs the relay's {percentile(times, 99):.1f} ms "
        f"(issue 8: ≤ 25 ms where the relay shows ≈ 18 ms)"
    )


if __name__ == "__main__":
    main()
