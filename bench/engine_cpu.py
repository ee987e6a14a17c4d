"""CPU per alert of the bot's own work, without HTTP: ``Engine.handle`` from 8 threads, then the outbox writer.

Builds the real services (paper broker, local workbook, SQLite state DB with fsync'd group commits)
in a temporary data dir, sends 4,000 order-placing alerts over 200 Config rows from 8 threads (each
thread owns its symbols, as in ``load.py``), and prints the process CPU time per alert for the
engine (parse, decide, size, commit unit, sheet rows) and then for flushing the outbox to the
workbook. Compare with ``framework_floor.py`` for the HTTP side.

Run: ``.venv/bin/python bench/engine_cpu.py [--alerts 4000]``
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from _server import SECRET, TOKEN, alert_body, import_config

from bot.services import build_services
from bot.settings import load_settings

ROWS = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        import_config(data, ROWS)
        services = build_services(load_settings(bot_data_dir=data, webhook_secret=SECRET, bot_api_token=TOKEN))
        per_thread: list[list[bytes]] = [[] for _ in range(args.threads)]
        for i in range(args.alerts):
            per_thread[i % ROWS % args.threads].append(alert_body(i, ROWS, prefix="cpu-"))
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def send(bodies: list[bytes]) -> None:
            for body in bodies:
                status = services.engine.handle(body).http_status
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=send, args=(bodies,)) for bodies in per_thread]
        cpu, wall = time.process_time(), time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        flush_cpu = time.process_time()
        services.writer.flush()
        flush_cpu = time.process_time() - flush_cpu
        commits, units = services.store.committer.commits, services.store.committer.units
        services.close()
    print(f"alerts: {args.alerts} from {args.threads} threads, replies {statuses}")
    print(f"engine: {cpu / args.alerts * 1000:.3f} ms CPU per alert, {args.alerts / wall:.0f} alerts/s in process")
    print(f"group commit: {units} units in {commits} commits ({units / max(commits, 1):.1f} per commit)")
    print(f"outbox writer: {flush_cpu / args.alerts * 1000:.3f} ms CPU per alert")


if __name__ == "__main__":
    main()
