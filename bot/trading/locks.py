"""Per-symbol serialisation of the alert path: a bounded set of striped locks."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StripedLocks:
    """A fixed set of locks picked by hash, so memory stays bounded whatever symbols arrive.

    Plain locks (not re-entrant) so a background completion may release what a request acquired.
    """

    def __init__(self, stripes: int = 4096) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def indexes(self, *names: str) -> list[int]:
        """Sorted distinct stripe indexes for ``names`` (acquire in this order: no deadlock)."""
        return sorted(
            {int(hashlib.blake2s(n.encode(), digest_size=4).hexdigest(), 16) % len(self._locks) for n in names}
        )

    def acquire(self, indexes: list[int]) -> None:
        """Acquire the given stripes in order."""
        for i in indexes:
            self._locks[i].acquire()

    def release(self, indexes: list[int]) -> None:
        """Release the given stripes."""
        for i in reversed(indexes):
            self._locks[i].release()

    @contextmanager
    def symbol(self, symbol: str) -> Iterator[None]:
        """Hold the stripe that serialises alerts of ``symbol`` (``"s:" + symbol``)."""
        stripes = self.indexes("s:" + symbol)
        self.acquire(stripes)
        try:
            yield
        finally:
            self.release(stripes)
