"""The client-side request budget: a sliding-window count that keeps background work under Google's quota.

Google allows 60 requests per minute per user; background work (apply, replace_rows, trim,
ensure_tabs, format_tabs) waits here for room *before* taking any lock, while the Config reads of the
webhook path are counted but never wait.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from bot.errors import TemporaryError


class RequestBudget:
    """Sliding-window count of requests sent, so background work stays under Google's quota.

    Every request sent is noted (:meth:`note`); background work calls :meth:`wait_for_room` first and
    waits while the last ``window`` seconds already hold ``limit`` requests (reads of the webhook path
    included, though they never wait themselves).

    Args:
        limit: requests per ``window`` seconds background work stays under (50 of Google's 60).
        window: window length, seconds (Google's quota window is 60 s).
        clock: monotonic clock (seconds).
    """

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.waited_seconds = 0.0

    def note(self) -> None:
        """Record one request sent now."""
        with self._lock:
            self._sent.append(self._clock())

    def in_window(self) -> int:
        """Requests sent in the last ``window`` seconds."""
        with self._lock:
            self._expire()
            return len(self._sent)

    def wait_for_room(self, needed: int) -> None:
        """Block until ``needed`` more requests fit in the window (background threads only).

        Raises:
            TemporaryError: when :meth:`close` is called while waiting.
        """
        needed = min(needed, self.limit)
        while True:
            with self._lock:
                self._expire()
                if len(self._sent) + needed <= self.limit:
                    return
                pause = self._sent[len(self._sent) + needed - self.limit - 1] + self.window - self._clock()
            pause = max(pause, 0.01)
            self.waited_seconds += pause
            if self._closed.wait(pause):
                raise TemporaryError("Google Sheets workbook closed while waiting for request budget")

    def close(self) -> None:
        """Wake and fail every waiter."""
        self._closed.set()

    def _expire(self) -> None:
        edge = self._clock() - self.window
        while self._sent and self._sent[0] <= edge:
            self._sent.popleft()
