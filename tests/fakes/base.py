"""Lifecycle shared by the loopback fakes: an HTTP server on ``127.0.0.1`` (random port) in a thread.

A fake subclasses :class:`LoopbackFake`, sets up its own state, then calls
``super().__init__(handler_class(self._serve), name=...)``: :func:`handler_class` reads each request
and writes the reply its ``_serve(method, path, headers, body) -> (status, headers, body)`` returns
(:func:`json_reply` builds a JSON one). Start it with
:meth:`LoopbackFake.start` (or ``with Fake() as fake:``) and stop it with :meth:`LoopbackFake.stop`,
which also sets :attr:`LoopbackFake._stopping` so that requests waiting on it (injected hangs and
delays) are released at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

_Fake = TypeVar("_Fake", bound="LoopbackFake")

#: What a fake answers: ``(status, headers, body)``; ``Content-Length`` is added.
Reply = tuple[int, dict[str, str], bytes]
#: A fake's request entry point: ``(method, path with query, request headers, body) -> Reply``.
Serve = Callable[[str, str, Message, bytes], Reply]


def json_reply(status: int, payload: Any, content_type: str = "application/json; charset=UTF-8") -> Reply:
    """``payload`` as a JSON reply; ``None`` gives an empty body."""
    body = b"" if payload is None else json.dumps(payload).encode()
    return status, {"Content-Type": content_type}, body


def handler_class(serve: Serve) -> type[BaseHTTPRequestHandler]:
    """A keep-alive HTTP/1.1 handler that hands every GET/POST/PUT/PATCH/DELETE to ``serve``.

    Nagle is off (one segment per answer: no 40 ms delayed-ACK stalls); a client that gave up before
    the answer (timeout tests) is ignored; nothing is logged.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, headers, data = serve(self.command, self.path, self.headers, raw)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class _Server(ThreadingHTTPServer):
    """Handler threads are daemons and are not joined on close (a hanging request never blocks stop)."""

    daemon_threads = True
    block_on_close = False


class LoopbackFake:
    """An HTTP server on ``127.0.0.1`` (random port), served by a daemon thread once started.

    Args:
        handler: the request handler class the server uses.
        name: the serving thread's name.
        poll_interval: how often ``serve_forever`` checks for shutdown, seconds (its default is 0.5).
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, name: str, poll_interval: float = 0.5) -> None:
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the server's root."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self: _Fake) -> _Fake:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release requests waiting on ``_stopping`` (hangs, delays)."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self: _Fake) -> _Fake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
