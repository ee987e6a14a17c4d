"""Load: the real server (gunicorn, as in production) on loopback, 8 concurrent clients, 5,000 alerts.

30 % of the alerts are exact copies of an earlier alert (same ``id``), sent again later on the same
connection, as when TradingView or a user fires an alert twice. Prints throughput, reply-time p50/p99, orders placed
vs expected (must be equal) and duplicates refused. Targets (issue 8): ≥ 1,200 alerts/s, p99 ≤ 25 ms,
orders placed = unique alerts.

Clients are separate processes, each with one keep-alive connection, sending prepared request bytes
and reading each reply in full (status and JSON body are checked): a lean client, like wrk, so the
measuring side takes little of the machine's two cores.

Run: ``.venv/bin/python bench/load.py [--alerts 5000] [--clients 8]``
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from _client import run_clients
from _server import alert_body, import_config, percentile, server_cpu_seconds, start_server
from sqlalchemy import create_engine, text

ROWS = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.30)
    parser.add_argument("--threads", type=int, default=8, help="server threads (gunicorn gthread)")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="server LOG_LEVEL; INFO (the default in production) adds a JSON line per alert",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    unique = round(args.alerts * (1 - args.duplicates))
    alerts = [alert_body(i, ROWS, prefix="load-") for i in range(unique)]
    # each client owns a set of symbols (per-symbol order is preserved); each copy is sent by the same
    # client at a random later point, so the original is always answered first
    per_client: list[list[bytes]] = [[] for _ in range(args.clients)]
    for i, body in enumerate(alerts):
        per_client[(i % ROWS) % args.clients].append(body)
    copies = 0
    for i in range(args.alerts - unique):
        bodies = per_client[i % args.clients]
        original = rng.randrange(len(bodies))
        bodies.insert(rng.randrange(original + 1, len(bodies) + 1), bodies[original])
        copies += 1
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        import_config(data, ROWS)
        process, url = start_server(
            data, threads=args.threads, env={"WEBHOOK_RATE_LIMIT": "100000/second", "LOG_LEVEL": args.log_level}
        )
        port = int(url.rsplit(":", 1)[1])
        try:
            cpu_before = server_cpu_seconds(process.pid)
            results, elapsed = run_clients(port, per_client)
            cpu_after = server_cpu_seconds(process.pid)
            engine = create_engine(f"sqlite:///{data / 'state.db'}")
            with engine.connect() as conn:
                orders = conn.execute(text("SELECT count(*) FROM orders")).scalar()
                doubled = conn.execute(
                    text("SELECT count(*) FROM (SELECT signal_id FROM orders GROUP BY signal_id HAVING count(*) > 1)")
                ).scalar()
        finally:
            process.terminate()
            process.wait(timeout=30)
    times = [t for r in results for t in r[0]]
    statuses: dict[str, int] = {}
    for _, counts in results:
        for key, value in counts.items():
            statuses[key] = statuses.get(key, 0) + value
    print(
        f"alerts sent: {len(times)} by {args.clients} clients in {elapsed:.2f} s → {len(times) / elapsed:.0f} alerts/s"
    )
    print(
        f"reply time: p50 {percentile(times, 50):.2f} ms, p99 {percentile(times, 99):.2f} ms, max {max(times):.1f} ms"
    )
    print(f"replies: {dict(sorted(statuses.items()))}")
    if cpu_before is not None and cpu_after is not None:
        used = cpu_after - cpu_before
        per_alert = used / len(times) * 1000
        print(f"server CPU: {used:.2f} s = {per_alert:.2f} ms per alert, {used / elapsed:.2f} cores busy")
    print(
        f"orders placed: {orders} (expected {unique}); duplicates refused: {statuses.get('duplicate', 0)} "
        f"(sent {copies}); signals with more than one order: {doubled}"
    )


if __name__ == "__main__":
    main()
