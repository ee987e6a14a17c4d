"""CPU per alert of the bot's own work, without HTTP: ``Engine.handle`` from 8 threads, then the outbox writer.

Builds the real services (paper broker, local workbook, SQLite state DB with fsync'd group commits)
in a temporary data dir, sends 4,000 order-placing alerts over 200 Config rows from 8 threads (each
thread owns its symbols, as in ``load.py``), and prints the process CPU time per alert for the
engine (parse, decide, size, journal unit, sheet rows) and then for flushing the outbox to the
workbook. Compare with ``framework_floor.py`` for the HTTP side.

Run: ``.venv/bin/python bench/engine_cpu.py [--alerts 4000]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from bot.services import build_services
from bot.settings import load_settings
from bot.sheets.base import clean_record

SECRET = "bench-secret-0123456789"
ROWS = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(bot_data_dir=Path(tmp) / "data", webhook_secret=SECRET, bot_api_token=SECRET)
        services = build_services(settings)
        rows = [
            {"symbol": f"SYM{i}", "position_size": "10", "active": "TRUE", "Time Frame": "15", "size_type": "qty"}
            for i in range(ROWS)
        ]
        services.workbook.replace_rows("Config", [clean_record(r) for r in rows])
        services.config.invalidate()
        services.config.get()
        services.writer.flush()
        per_thread: list[list[bytes]] = [[] for _ in range(args.threads)]
        for i in range(args.alerts):
            row, cycle = i % ROWS, i // ROWS
            alert = {"secret": SECRET, "action": "buy" if cycle % 2 == 0 else "sell", "symbol": f"SYM{row}"}
            body = json.dumps({**alert, "timeframe": "15", "price": 100 + cycle % 5, "id": f"cpu-{i}"}).encode()
            per_thread[row % args.threads].append(body)
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
        commits, units = services.store.journal.commits, services.store.journal.units
        services.close()
    print(f"alerts: {args.alerts} from {args.threads} threads, replies {statuses}")
    print(f"engine: {cpu / args.alerts * 1000:.3f} ms CPU per alert, {args.alerts / wall:.0f} alerts/s in process")
    print(f"group commit: {units} units in {commits} commits ({units / max(commits, 1):.1f} per commit)")
    print(f"outbox writer: {flush_cpu / args.alerts * 1000:.3f} ms CPU per alert")


if __name__ == "__main__":
    main()
