"""Load: the real server (gunicorn, as in production) on loopback, 8 concurrent clients, 5,000 alerts.

30 % of the alerts are exact copies of an earlier alert (same ``id``) sent from another client, as
when TradingView or a user fires an alert twice. Prints throughput, reply-time p50/p99, orders placed
vs expected (must be equal) and duplicates refused. Targets (issue 8): ≥ 1,200 alerts/s, p99 ≤ 25 ms,
orders placed = unique alerts.

Clients are separate processes, each with one keep-alive connection, sending prepared request bytes
and reading each reply in full (status and JSON body are checked): a lean client, like wrk, so the
measuring side takes little of the machine's two cores.

Run: ``.venv/bin/python bench/load.py [--alerts 5000] [--clients 8]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _server import SECRET, percentile, start_server
from sqlalchemy import create_engine, text

ROWS = 200


def _request(port: int, body: bytes) -> bytes:
    return (
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
        % (port, len(body))
    ) + body


def _read_reply(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    """One HTTP/1.1 reply from a keep-alive socket: (status code, body). Needs Content-Length (gunicorn sets it)."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            length = next(int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:"))
            if len(buffer) >= end + 4 + length:
                body = bytes(buffer[end + 4 : end + 4 + length])
                del buffer[: end + 4 + length]
                return int(head[0].split(" ", 2)[1]), body
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk


def _client(port: int, bodies: list[bytes], start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Send ``bodies`` one after another on one keep-alive connection; report reply times and statuses."""
    requests = [_request(port, body) for body in bodies]
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray()
    while time.time() < start:
        time.sleep(0.001)
    times, statuses = [], {}
    for request in requests:
        began = time.perf_counter()
        sock.sendall(request)
        code, body = _read_reply(sock, buffer)
        times.append((time.perf_counter() - began) * 1000)
        key = json.loads(body).get("status") or f"http {code}"
        statuses[key] = statuses.get(key, 0) + 1
    sock.close()
    out.put((times, statuses))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.30)
    parser.add_argument("--threads", type=int, default=8, help="server threads (gunicorn gthread)")
    args = parser.parse_args()
    rng = random.Random(7)
    unique = round(args.alerts * (1 - args.duplicates))
    alerts = []
    for i in range(unique):
        row, cycle = i % ROWS, i // ROWS
        alerts.append(
            json.dumps(
                {
                    "secret": SECRET,
                    "action": "buy" if cycle % 2 == 0 else "sell",
                    "symbol": f"SYM{row}",
                    "timeframe": "15",
                    "price": 100 + cycle % 5,
                    "id": f"load-{i}",
                }
            ).encode()
        )
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
        config = Path(tmp) / "config.csv"
        config.write_text(
            "symbol,position_size,active,Time Frame,size_type\n"
            + "".join(f"SYM{i},10,TRUE,15,qty\n" for i in range(ROWS))
        )
        subprocess.run(
            [sys.executable, "-m", "bot", "import", "Config", str(config), "--replace"],
            check=True,
            capture_output=True,
            env={"BOT_DATA_DIR": str(data), "PATH": ""},
        )
        process, url = start_server(data, threads=args.threads, env={"WEBHOOK_RATE_LIMIT": "100000/second"})
        port = int(url.rsplit(":", 1)[1])
        try:
            out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            start = time.time() + 1.0
            workers = [mp.Process(target=_client, args=(port, bodies, start, out)) for bodies in per_client]
            for w in workers:
                w.start()
            results = [out.get(timeout=600) for _ in workers]
            elapsed = time.time() - start
            for w in workers:
                w.join()
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
    print(
        f"orders placed: {orders} (expected {unique}); duplicates refused: {statuses.get('duplicate', 0)} "
        f"(sent {copies}); signals with more than one order: {doubled}"
    )


if __name__ == "__main__":
    main()
