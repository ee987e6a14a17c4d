"""Account history read side: the Snapshots and CashFlows tabs parsed, and accounts combined (pure).

:func:`read_snapshots` and :func:`read_cash_flows` parse the tabs (already read into a
:class:`~bot.records.Table`) into tz-aware UTC times and exact :class:`~decimal.Decimal` amounts,
tolerant of what people type; :func:`portfolio_equity` combines the accounts into the
``(time, amount)`` inputs of :mod:`bot.analytics.returns`. The write side (the snapshot job) is
:mod:`bot.snapshots`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any

from bot.parsing import parse_decimal, parse_sheet_time
from bot.records import CashFlow, Table

__all__ = ["Snapshot", "portfolio_equity", "read_cash_flows", "read_snapshots"]

UTC = timezone.utc
_KINDS = {"deposit": "deposit", "deposits": "deposit", "withdrawal": "withdrawal", "withdrawals": "withdrawal",
          "withdraw": "withdrawal"}  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """One Snapshots row: an account's values at ``taken_at`` (UTC), money in ``currency``.

    ``cash``/``positions_value`` are None when the cell is blank.
    """

    taken_at: datetime
    broker: str
    account: str
    equity: Decimal
    cash: Decimal | None
    positions_value: Decimal | None
    currency: str = "USD"


# --------------------------------------------------------------------------------------------
# Cell parsing
# --------------------------------------------------------------------------------------------


_CURRENCY_TEXT = re.compile(r"^(US\$|USD|USDT)\s*|\s*(USD|USDT)$", re.IGNORECASE)


def _amount_text(text: str) -> str:
    """``text`` stripped of a leading ``US$``/``USD``/``USDT`` or a trailing ``USD``/``USDT`` (the rest is a number)."""
    return _CURRENCY_TEXT.sub("", text.strip())


class _RowError(ValueError):
    """An unusable cell: ``args`` are ``(column, message)``; :func:`_rows` adds the sheet row."""


def _cell(record: dict[str, str], column: str) -> str:
    """The stripped text of ``column`` in ``record`` (``""`` when missing or None)."""
    value = record.get(column)
    return "" if value is None else str(value).strip()


def _rows(table: Table, parse: Any, errors: list[str] | None) -> list[Any]:
    """``parse`` of every non-blank row; an unusable row raises, or is described in ``errors`` when given."""
    out = []
    for index, record in enumerate(table.rows):
        if not any(str(value or "").strip() for value in record.values()):
            continue
        try:
            out.append(parse(record))
        except _RowError as exc:
            column, message = exc.args
            text = f"{table.tab} row {index + 2}, column {column}: {message}"
            if errors is None:
                raise ValueError(text) from None
            errors.append(text)
    return out


def read_snapshots(table: Table, *, zone: tzinfo = UTC, errors: list[str] | None = None) -> list[Snapshot]:
    """Parse the Snapshots tab into :class:`Snapshot` values, oldest first.

    Args:
        table: the Snapshots tab (``workbook.read_tables(["Snapshots"])["Snapshots"]``).
        zone: zone of ``taken_at`` cells without an offset (``BOT_TIMEZONE``, as written).
        errors: when given, unusable rows are skipped and described here instead of raising.

    Returns:
        Snapshots sorted by ``taken_at`` (UTC); ``equity`` required, ``cash`` and
        ``positions_value`` optional; ``currency`` defaults to ``USD``. Blank rows are ignored.

    Raises:
        ValueError: ``"Snapshots row 7, column equity: 'abc' is not a number"`` for the first
            unusable row (only without ``errors``).
    """

    def parse(record: dict[str, str]) -> Snapshot:
        """One Snapshots row; :class:`_RowError` naming the column of an unusable cell."""

        def number(column: str, *, required: bool) -> Decimal | None:
            """The amount in ``column`` (currency text stripped), None when blank and not required."""
            text = _cell(record, column)
            if not text:
                if required:
                    raise _RowError(column, "required, the cell is blank")
                return None
            try:
                return parse_decimal(_amount_text(text))
            except ValueError as exc:
                raise _RowError(column, str(exc)) from None

        try:
            taken_at = parse_sheet_time(_cell(record, "taken_at"), zone=zone)
        except ValueError as exc:
            raise _RowError("taken_at", str(exc)) from None
        equity = number("equity", required=True)
        assert equity is not None
        return Snapshot(
            taken_at=taken_at,
            broker=_cell(record, "broker"),
            account=_cell(record, "account"),
            equity=equity,
            cash=number("cash", required=False),
            positions_value=number("positions_value", required=False),
            currency=_cell(record, "currency").upper() or "USD",
        )

    return sorted(_rows(table, parse, errors), key=lambda snapshot: snapshot.taken_at)


def read_cash_flows(
    table: Table,
    *,
    zone: tzinfo = UTC,
    date_zone: tzinfo | None = None,
    errors: list[str] | None = None,
) -> list[CashFlow]:
    """Parse the CashFlows tab (typed by the user or imported) into :class:`CashFlow` values.

    Tolerant of what people type: ``flow_at`` as a date alone or a date and time (see
    :func:`parse_sheet_time`); ``kind`` in any case (``Deposit``, ``withdraw``); ``amount`` with
    ``$``, ``US$``, ``USD``, thousands separators (``$5,000.00``). The amount must be positive
    (the kind gives the direction).

    Args:
        table: the CashFlows tab.
        zone: zone of times typed without an offset (``BOT_TIMEZONE``).
        date_zone: zone whose calendar day a date alone means (the report's day zone; default ``zone``).
        errors: when given, unusable rows are skipped and described here instead of raising.

    Returns:
        Flows sorted by ``flow_at`` (UTC); ``currency`` defaults to ``USD``, ``source`` to ``manual``.
        Blank rows are ignored.

    Raises:
        ValueError: ``"CashFlows row 4, column amount: '-500' must not be negative ..."`` naming
            the sheet row (header = row 1) and the column of the first unusable cell (only
            without ``errors``).
    """

    def parse(record: dict[str, str]) -> CashFlow:
        """One CashFlows row; :class:`_RowError` naming the column of an unusable cell."""
        try:
            flow_at = parse_sheet_time(_cell(record, "flow_at"), zone=zone, date_zone=date_zone)
        except ValueError as exc:
            raise _RowError("flow_at", str(exc)) from None
        kind_text = _cell(record, "kind")
        if not kind_text:
            raise _RowError("kind", "required, the cell is blank (deposit or withdrawal)")
        kind = _KINDS.get(kind_text.lower())
        if kind is None:
            raise _RowError("kind", f"{kind_text!r} is not deposit or withdrawal")
        amount_text = _cell(record, "amount")
        if not amount_text:
            raise _RowError("amount", "required, the cell is blank")
        try:
            amount = parse_decimal(_amount_text(amount_text))
        except ValueError as exc:
            raise _RowError("amount", str(exc)) from None
        if amount < 0:
            raise _RowError("amount", f"{amount_text!r} must not be negative (the kind says deposit or withdrawal)")
        if amount == 0:
            raise _RowError("amount", f"{amount_text!r} must be greater than zero")
        return CashFlow(
            flow_at=flow_at,
            kind=kind,
            amount=amount,
            currency=_cell(record, "currency").upper() or "USD",
            reference=_cell(record, "reference"),
            broker=_cell(record, "broker"),
            account=_cell(record, "account"),
            source=_cell(record, "source").lower() or "manual",
            note=_cell(record, "note"),
        )

    return sorted(_rows(table, parse, errors), key=lambda flow: flow.flow_at)


def portfolio_equity(
    snapshots: Iterable[Snapshot],
    flows: Iterable[CashFlow] = (),
    *,
    zone: tzinfo = UTC,
    brokers: Sequence[str] | None = None,
) -> tuple[list[tuple[datetime, Decimal]], list[tuple[datetime, Decimal]]]:
    """Combined equity of several accounts per day, and the flows, as :mod:`bot.analytics.returns` inputs.

    Per account (broker, account) the last snapshot of each calendar day in ``zone`` counts; a day
    on which an account has no snapshot carries its previous value forward (a failed snapshot is
    not a loss). USDT is counted as USD. An account whose first snapshot comes after the
    portfolio's first day brings its equity in as a deposit on that day (so adding a venue is not
    a return). With one account this is just its daily closing equity.

    Args:
        snapshots: parsed Snapshots rows (:func:`read_snapshots`).
        flows: parsed CashFlows rows (:func:`read_cash_flows`).
        zone: time zone of the calendar day (use the same as for :func:`bot.analytics.returns.daily_twr`).
        brokers: keep only these broker names (flows with a blank broker cell are kept); None = all.

    Returns:
        ``(equity, flows)``: ``[(time, equity)]`` one per day (the day's latest snapshot time, UTC)
        and ``[(time, signed amount)]`` (deposits > 0), ready for ``daily_twr(equity, flows, zone=…)``.
    """
    wanted = None if brokers is None else set(brokers)
    by_account: dict[tuple[str, str], dict[date, tuple[datetime, Decimal]]] = {}
    for snapshot in sorted(snapshots, key=lambda item: item.taken_at):
        if wanted is not None and snapshot.broker not in wanted:
            continue
        day = snapshot.taken_at.astimezone(zone).date()
        by_account.setdefault((snapshot.broker, snapshot.account), {})[day] = (snapshot.taken_at, snapshot.equity)
    days = sorted({day for series in by_account.values() for day in series})
    equity: list[tuple[datetime, Decimal]] = []
    extra: list[tuple[datetime, Decimal]] = []
    last: dict[tuple[str, str], Decimal] = {}
    for position, day in enumerate(days):
        total = Decimal(0)
        latest: datetime | None = None
        for key, series in by_account.items():
            point = series.get(day)
            if point is not None:
                if key not in last and position > 0:
                    extra.append((point[0], point[1]))
                last[key] = point[1]
                latest = point[0] if latest is None or point[0] > latest else latest
            if key in last:
                total += last[key]
        assert latest is not None
        equity.append((latest, total))
    moves = [
        (flow.flow_at, flow.signed) for flow in flows if wanted is None or not flow.broker or flow.broker in wanted
    ]
    return equity, sorted(moves + extra, key=lambda item: item[0])
