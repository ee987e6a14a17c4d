"""Which alerts were seen already: an in-memory index of recent alert keys, backed by the state DB."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain import utc_now
from bot.state import ledger
from bot.state.store import StateStore

#: How far back the in-memory duplicate index reaches; longer windows fall back to a DB query.
RECENT_HORIZON = timedelta(days=2)


class DuplicateIndex:
    """Accepted alerts by alert key, for the duplicate window check without a query per alert.

    Args:
        store: the state DB (loaded at start: the last :data:`RECENT_HORIZON` of accepted alerts).
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        since = utc_now() - RECENT_HORIZON
        self._recent: dict[str, tuple[datetime, int]] = {}
        for key, at, pk in ledger.recent_alert_keys(store, since):
            self._recent.setdefault(key, (at, pk))
        self._since = since
        self._prune_at = 10_000

    def first_of(self, alert_key: str, received_at: datetime, window: float) -> int | None:
        """Id of an earlier accepted signal with ``alert_key`` within ``window`` seconds before
        ``received_at``, else None (``window`` ≤ 0: never a duplicate)."""
        if window <= 0:
            return None
        since = received_at - timedelta(seconds=window)
        if since >= self._since:
            seen = self._recent.get(alert_key)
            return seen[1] if seen is not None and seen[0] >= since else None
        return ledger.duplicate_of(self._store, alert_key, since)

    def remember(self, alert_key: str, received_at: datetime, signal_pk: int) -> None:
        """Add an accepted alert; prune entries past the horizon once the index grows."""
        if alert_key not in self._recent:
            self._recent[alert_key] = (received_at, signal_pk)
        if len(self._recent) > self._prune_at:
            horizon = utc_now() - RECENT_HORIZON
            self._recent = {k: v for k, v in self._recent.items() if v[0] >= horizon}
            self._since = horizon
            self._prune_at = max(10_000, 2 * len(self._recent))
