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
from dataclasses import dataclass
from pathlib import Path

from _client import combined, run_clients
from _server import alert_body, import_config, percentile, server_cpu_seconds, start_server
from sqlalchemy import create_engine, text

ROWS = 200


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured: reply times (ms), reply statuses, server CPU and the orders in the state DB."""

    times: list[float]
    elapsed: float
    statuses: dict[str, int]
    server_cpu: float | None
    orders: int
    expected_orders: int
    doubled: int
    copies: int

    @property
    def rate(self) -> float:
        """Alerts answered per second."""
        return len(self.times) / self.elapsed

    def lines(self, clients: int) -> list[str]:
        """The run's figures as printed lines."""
        out = [
            f"alerts sent: {len(self.times)} by {clients} clients in {self.elapsed:.2f} s → {self.rate:.0f} alerts/s",
            f"reply time: p50 {percentile(self.times, 50):.2f} ms, p99 {percentile(self.times, 99):.2f} ms, "
            f"max {max(self.times):.1f} ms",
            f"replies: {dict(sorted(self.statuses.items()))}",
        ]
        if self.server_cpu is not None:
            per_alert = self.server_cpu / len(self.times) * 1000
            busy = self.server_cpu / self.elapsed
            out.append(f"server CPU: {self.server_cpu:.2f} s = {per_alert:.2f} ms per alert, {busy:.2f} cores busy")
        out.append(
            f"orders placed: {self.orders} (expected {self.expected_orders}); duplicates refused: "
            f"{self.statuses.get('duplicate', 0)} (sent {self.copies}); "
            f"signals with more than one order: {self.doubled}"
        )
        return out


def client_streams(*, alerts: int, clients: int, duplicates: float) -> tuple[list[list[bytes]], int, int]:
    """The request bodies each client sends, in order: ``(bodies per client, unique alerts, copies)``.

    Each client owns a set of symbols (per-symbol order is preserved); each copy is sent by the same client
    at a random later point, so the original is always answered first. Seeded: every run sends the same stream.
    """
    rng = random.Random(7)
    unique = round(alerts * (1 - duplicates))
    per_client: list[list[bytes]] = [[] for _ in range(clients)]
    for i in range(unique):
        per_client[(i % ROWS) % clients].append(alert_body(i, ROWS, prefix="load-"))
    for i in range(alerts - unique):
        mine = per_client[i % clients]
        original = rng.randrange(len(mine))
        mine.insert(rng.randrange(original + 1, len(mine) + 1), mine[original])
    return per_client, unique, alerts - unique


def run_load(
    *, alerts: int = 5000, clients: int = 8, duplicates: float = 0.30, threads: int = 8, log_level: str = "WARNING"
) -> LoadResult:
    """Start the bot on a fresh data dir with a 200-row Config, send ``alerts`` alerts from ``clients`` clients
    (``duplicates`` of them copies of earlier ones), stop it and count its orders."""
    per_client, unique, copies = client_streams(alerts=alerts, clients=clients, duplicates=duplicates)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        import_config(data, ROWS)
        process, url = start_server(
            data, threads=threads, env={"WEBHOOK_RATE_LIMIT": "100000/second", "LOG_LEVEL": log_level}
        )
        port = int(url.rsplit(":", 1)[1])
        try:
            cpu_before = server_cpu_seconds(process.pid)
            results, elapsed = run_clients(port, per_client)
            cpu_after = server_cpu_seconds(process.pid)
            engine = create_engine(f"sqlite:///{data / 'state.db'}")
            with engine.connect() as conn:
                orders = conn.execute(text("SELECT count(*) FROM orders")).scalar() or 0
                doubled = conn.execute(
                    text("SELECT count(*) FROM (SELECT signal_id FROM orders GROUP BY signal_id HAVING count(*) > 1)")
                ).scalar()
            engine.dispose()
        finally:
            process.terminate()
            process.wait(timeout=30)
    times, statuses = combined(results)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return LoadResult(
        times=times,
        elapsed=elapsed,
        statuses=statuses,
        server_cpu=cpu,
        orders=orders,
        expected_orders=unique,
        doubled=doubled or 0,
        copies=copies,
    )


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
    result = run_load(
        alerts=args.alerts,
        clients=args.clients,
        duplicates=args.duplicates,
        threads=args.threads,
        log_level=args.log_level,
    )
    print("\n".join(result.lines(args.clients)))


if __name__ == "__main__":
    main()
