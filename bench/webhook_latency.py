"""Alert → order submitted latency on loopback: real server (gunicorn), paper broker, local workbook.

Sends 2,000 alerts one after another over a keep-alive connection, each one placing an order
(buy/sell alternating over 50 Config rows), then prints:
- server-side receipt → order submitted (from the state DB's ``submitted_ms`` per signal), p50/p99;
- client-side round trip (send → reply), p50/p99.
Target (issue 2): p50 ≤ 5 ms, p99 ≤ 25 ms.

Run: ``.venv/bin/python bench/webhook_latency.py [--alerts 2000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import requests
from _server import alert_body, import_config, percentile, start_server
from sqlalchemy import create_engine, text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        import_config(data, args.rows)
        process, url = start_server(data, env={"WEBHOOK_RATE_LIMIT": "100000/second"})
        try:
            round_trips: list[float] = []
            with requests.Session() as session:
                for _ in range(50):  # warm-up, not measured
                    session.get(url + "/health")
                for i in range(args.alerts):
                    body = alert_body(i, args.rows, prefix="b", prices=7)
                    started = time.perf_counter()
                    reply = session.post(url + "/webhook", data=body)
                    round_trips.append((time.perf_counter() - started) * 1000)
                    if reply.status_code != 200 or reply.json()["status"] != "success":
                        raise SystemExit(f"alert {i}: {reply.status_code} {reply.text}")
            engine = create_engine(f"sqlite:///{data / 'state.db'}")
            with engine.connect() as conn:
                submitted = [
                    float(v)
                    for (v,) in conn.execute(text("SELECT submitted_ms FROM signals WHERE submitted_ms IS NOT NULL"))
                ]
                orders = conn.execute(text("SELECT count(*) FROM orders")).scalar()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"alerts: {args.alerts}, orders placed: {orders}")
    print(
        f"alert → order submitted (server): p50 {percentile(submitted, 50):.2f} ms, "
        f"p99 {percentile(submitted, 99):.2f} ms, max {max(submitted):.2f} ms"
    )
    print(
        f"round trip (client, loopback):    p50 {percentile(round_trips, 50):.2f} ms, "
        f"p99 {percentile(round_trips, 99):.2f} ms"
    )


if __name__ == "__main__":
    main()
