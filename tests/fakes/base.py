"""Lifecycle shared by the loopback fakes: an HTTP server on ``127.0.0.1`` (random port) in a thread.

A fake subclasses :class:`LoopbackFake`, sets up its own state, then calls
``super().__init__(handler, name=...)`` with its request handler class. Start it with
:meth:`LoopbackFake.start` (or ``with Fake() as fake:``) and stop it with :meth:`LoopbackFake.stop`,
which also sets :attr:`LoopbackFake._stopping` so that requests waiting on it (injected hangs and
delays) are released at once.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

_Fake = TypeVar("_Fake", bound="LoopbackFake")


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
