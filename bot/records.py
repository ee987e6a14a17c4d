"""Shared records that cross package boundaries: workbook tables and writes, venue rules, cash flows.

They live here, beside :mod:`bot.domain`, so that neither the workbook adapters (``bot.sheets``) nor the
state DB (``bot.state``) nor the venues (``bot.brokers``) import each other to exchange them. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import NamedTuple


@dataclass
class Table:
    """A tab's content: ``headers`` as in the sheet and ``rows`` as dicts keyed by header.

    ``rows[i]`` is sheet row ``i + 2`` (row 1 holds the headers). Every row has every header key.
    ``problems`` maps ``(i, header)`` to why that cell cannot be read safely (e.g. a text number that the
    sheet's locale makes ambiguous); readers treat such a cell as invalid, never guess its value.
    """

    tab: str
    headers: list[str]
    rows: list[dict[str, str]]
    problems: dict[tuple[int, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowWrite:
    """Set ``values`` (header → text) on the rows of ``tab`` whose key equals ``key``.

    ``key`` is the normalised key tuple (:func:`row_key`). With ``upsert`` the row is appended
    when no row has the key; without it, a missing row is skipped (the user deleted it).
    """

    tab: str
    key: tuple[str, ...]
    values: dict[str, str]
    upsert: bool = False


@dataclass
class WriteBatch:
    """Writes to apply together, in order: row updates/upserts and plain appends."""

    writes: list[RowWrite] = field(default_factory=list)
    appends: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.writes or self.appends)


@dataclass(frozen=True)
class Instrument:
    """Trading rules of a symbol on a venue.

    ``qty_step``: quantities are multiples of it (rounded down); ``min_qty`` and ``min_notional``
    (quote currency) are the venue's minimums; ``shortable`` false means sells only close longs
    (spot venues); ``whole_shares_for_short``: shorts must be whole units (Alpaca).
    """

    symbol: str
    qty_step: Decimal
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    shortable: bool = True
    whole_shares_for_short: bool = False


@dataclass(frozen=True)
class CashFlow:
    """A deposit or withdrawal of an account (a CashFlows row; what ``cash_flows(since)`` returns).

    Attributes:
        flow_at: when the money moved, tz-aware (converted to UTC).
        kind: ``"deposit"`` or ``"withdrawal"``.
        amount: positive amount in ``currency`` (the kind gives the direction).
        currency: ``USD``, ``USDT``, ...
        reference: the broker's id of the transfer (Alpaca activity id, Binance ``txId``/``id``);
            imports skip a transfer whose reference is already in the tab. ``""`` on manual rows.
        broker / account / source / note: the other CashFlows columns (``source`` one of
            ``manual``, ``alpaca``, ``binance``; filled in by :func:`import_cash_flows` when blank).

    Raises:
        ValueError: naive ``flow_at``, unknown ``kind``, ``amount`` not a positive Decimal.
    """

    flow_at: datetime
    kind: str
    amount: Decimal
    currency: str = "USD"
    reference: str = ""
    broker: str = ""
    account: str = ""
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.flow_at, datetime) or self.flow_at.tzinfo is None:
            raise ValueError(f"cash flow flow_at: {self.flow_at!r} must be a tz-aware datetime")
        if self.kind not in ("deposit", "withdrawal"):
            raise ValueError(f"cash flow kind: {self.kind!r} is not deposit or withdrawal")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"cash flow amount: {self.amount!r} must be a positive Decimal")
        object.__setattr__(self, "flow_at", self.flow_at.astimezone(timezone.utc))

    @property
    def signed(self) -> Decimal:
        """The amount with the direction: deposits positive, withdrawals negative."""
        return self.amount if self.kind == "deposit" else -self.amount


class Balance(NamedTuple):
    """One asset held at a venue (what ``balances()`` returns; a plain 4-tuple works the same).

    ``free``/``locked`` in units of ``asset``; ``usd_value`` of free + locked in USD/USDT, or None
    when the venue has no price for the asset.
    """

    asset: str
    free: Decimal
    locked: Decimal
    usd_value: Decimal | None
