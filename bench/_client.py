"""Load client for benchmarks: one process per client, each with one keep-alive connection.

Each client sends prepared request bytes and reads every reply in full (status line, headers,
``Content-Length`` body, JSON ``status``): a lean client, like wrk, so the measuring side takes
little of the machine's cores and the figures describe the server. Bodies go as ``application/json``,
as TradingView sends an alert message that is valid JSON. A server that answers
``Connection: close`` (gunicorn's sync worker) gets a new connection for the next request, and the
connect time counts in that request's reply time, as in wrk.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import time


def _request(port: int, body: bytes, path: str) -> bytes:
    head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return (head % (path, port, len(body))).encode() + body


def _read_reply(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 reply: (status code, body, server closes the connection). Needs Content-Length."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            fields = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in head[1:])}
            length = int(fields["content-length"])
            if len(buffer) >= end + 4 + length:
                body = bytes(buffer[end + 4 : end + 4 + length])
                del buffer[: end + 4 + length]
                return int(head[0].split(" ", 2)[1]), body, fields.get("connection", "").lower() == "close"
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk


def _client(port: int, bodies: list[bytes], start: float, out: mp.Queue, path: str) -> None:  # type: ignore[type-arg]
    """Send ``bodies`` one after another on one keep-alive connection; report reply times and statuses.

    The status of a reply is its JSON ``status`` field, else ``http <code>``.
    """
    requests = [_request(port, body, path) for body in bodies]
    sock = _connect(port)
    buffer = bytearray()
    while time.time() < start:
        time.sleep(0.001)
    times, statuses = [], {}
    for request in requests:
        began = time.perf_counter()
        if sock is None:
            sock = _connect(port)
        sock.sendall(request)
        code, body, closing = _read_reply(sock, buffer)
        times.append((time.perf_counter() - began) * 1000)
        if closing:
            sock.close()
            sock, buffer = None, bytearray()
        key = _status(body) or f"http {code}"
        statuses[key] = statuses.get(key, 0) + 1
    if sock is not None:
        sock.close()
    out.put((times, statuses))


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _status(body: bytes) -> str | None:
    """The ``status`` field of a JSON object body, or None for any other body."""
    try:
        reply = json.loads(body)
    except ValueError:
        return None
    return reply.get("status") if isinstance(reply, dict) else None


def run_clients(
    port: int, per_client: list[list[bytes]], *, path: str = "/webhook"
) -> tuple[list[tuple[list[float], dict[str, int]]], float]:
    """Start one client process per body list, all at the same moment; wait for them.

    Returns ``([(reply times in ms, {status: count}) per client], elapsed seconds)``.
    """
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start = time.time() + 1.0
    workers = [mp.Process(target=_client, args=(port, bodies, start, out, path)) for bodies in per_client]
    for w in workers:
        w.start()
    results = [out.get(timeout=600) for _ in workers]
    elapsed = time.time() - start
    for w in workers:
        w.join()
    return results, elapsed


def combined(results: list[tuple[list[float], dict[str, int]]]) -> tuple[list[float], dict[str, int]]:
    """All clients' results of :func:`run_clients` as one: (reply times in ms, {status: count})."""
    statuses: dict[str, int] = {}
    for _, counts in results:
        for key, value in counts.items():
            statuses[key] = statuses.get(key, 0) + value
    return [t for r in results for t in r[0]], statuses
