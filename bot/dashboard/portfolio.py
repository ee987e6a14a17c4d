"""The equity side of the dashboard: Snapshots and CashFlows typed as a :class:`PortfolioView`, equity curve, TWR.

The rules are those of :mod:`bot.analytics.equity` (what the report uses) and the returns those of
:mod:`bot.analytics.returns`; manual deposits and withdrawals are returned as CashFlows rows to append.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from bot.analytics.equity import Snapshot, portfolio_equity, read_cash_flows, read_snapshots
from bot.analytics.returns import PeriodReturn, daily_twr
from bot.dashboard.formatting import (
    DEFAULT_CURRENCY,
    EPOCH,
    PERIOD_LABELS,
    SHEET_TIME_FORMAT,
    UTC,
    as_float,
    cell_decimals,
    cell_floats,
    parse_times,
)
from bot.domain import format_decimal
from bot.records import CashFlow, Table
from bot.sheets.base import clean_record


@dataclass(frozen=True)
class PortfolioView:
    """The Snapshots and CashFlows tabs, typed, and the account equity the returns are computed on.

    The rules are those of :mod:`bot.analytics.equity` (what the report uses): rows are read like
    :func:`bot.analytics.equity.read_snapshots` / :func:`bot.analytics.equity.read_cash_flows`, and accounts
    are combined by :func:`bot.analytics.equity.portfolio_equity` (per account the day's last snapshot,
    carried forward on days without one; an account that appears later brings its equity in as a
    deposit, so adding a venue is not a return).

    Attributes:
        snapshots: one row per readable snapshot, by time: ``taken_at`` (tz-aware, zone),
            ``broker``, ``account``, ``equity``, ``cash``, ``positions_value`` (floats, NaN when
            blank), ``currency``.
        cash_flows: one row per readable flow, by time: ``flow_at`` (tz-aware, zone), ``kind``,
            ``amount`` (≥ 0), ``signed`` (deposit +), ``currency``, ``broker``, ``account``,
            ``source``, ``reference``, ``note``.
        equity: combined equity per day (exact ``Decimal``) indexed by the day's latest snapshot
            time (tz-aware UTC): the ``snapshots`` input of :mod:`bot.analytics.returns`.
        flows: signed flows (exact ``Decimal``, deposits > 0) indexed by tz-aware UTC times, plus
            the first equity of accounts added later: the ``flows`` input of :mod:`bot.analytics.returns`.
        currency: the currency of the latest snapshot (``USD`` when none says).
        problems: unreadable rows (``"Snapshots row 7, column equity: ..."``).
    """

    snapshots: pd.DataFrame
    cash_flows: pd.DataFrame
    equity: pd.Series
    flows: pd.Series
    currency: str = DEFAULT_CURRENCY
    problems: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True without any readable snapshot."""
        return self.equity.empty

    @property
    def latest(self) -> tuple[datetime, Decimal] | None:
        """``(time UTC, combined equity)`` of the latest day with a snapshot, or None."""
        if self.equity.empty:
            return None
        return self.equity.index[-1].to_pydatetime(), self.equity.iloc[-1]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the Decimal series as int64 times and texts (fast, exact)."""
        return (
            _unpack_portfolio,
            (self.snapshots, self.cash_flows, _pack_series(self.equity), _pack_series(self.flows), self.currency,
             self.problems),
        )  # fmt: skip


def _pack_series(series: pd.Series) -> tuple[np.ndarray, list[str], str | None]:
    return series.index.as_unit("ns").asi8.copy(), [str(v) for v in series], series.name


def _unpack_series(packed: tuple[np.ndarray, list[str], str | None]) -> pd.Series:
    stamps, values, name = packed
    index = pd.DatetimeIndex(stamps.astype("datetime64[ns]")).tz_localize(UTC)
    return pd.Series([Decimal(v) for v in values], index=index, dtype=object, name=name)


def _unpack_portfolio(
    snapshots: pd.DataFrame,
    cash_flows: pd.DataFrame,
    equity: tuple[np.ndarray, list[str], str | None],
    flows: tuple[np.ndarray, list[str], str | None],
    currency: str,
    problems: tuple[str, ...],
) -> PortfolioView:
    return PortfolioView(snapshots, cash_flows, _unpack_series(equity), _unpack_series(flows), currency, problems)


_DAY_NS = 86_400 * 10**9
_SNAPSHOT_COLUMNS = ["taken_at", "broker", "account", "equity", "cash", "positions_value", "currency"]
_FLOW_COLUMNS = ["flow_at", "kind", "amount", "signed", "currency", "broker", "account", "source", "reference", "note"]


@dataclass
class _SnapshotColumns:
    """Readable snapshot rows column by column, in sheet order (the fast path adds no Timestamp per row).

    ``stamps`` are UTC instants and ``days`` local days (``days × 86,400 s`` since the epoch, local
    midnight), both int64 nanoseconds; the other lists are the cells, typed.
    """

    stamps: list[int] = field(default_factory=list)
    days: list[int] = field(default_factory=list)
    brokers: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    equities: list[Decimal] = field(default_factory=list)
    cash: list[float] = field(default_factory=list)
    positions: list[float] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)

    def order(self) -> list[int]:
        """Positions of the rows by time (stable: rows of one time keep their sheet order)."""
        return np.argsort(np.array(self.stamps, dtype=np.int64), kind="stable").tolist()


def portfolio_view(snapshots: Table, cash_flows: Table, zone: tzinfo) -> PortfolioView:
    """Type the Snapshots and CashFlows tabs and combine the accounts (see :class:`PortfolioView`).

    Snapshot cells in the bot's own format (``YYYY-MM-DD HH:MM:SS``, plain numbers) are parsed
    vectorised (50,000 rows ≈ 0.2 s); any other row goes through :func:`bot.analytics.equity.read_snapshots`
    so the rules are the same. Only each account's last snapshot of a day matters for the
    equity, so :func:`bot.analytics.equity.portfolio_equity` gets one per account and day.
    """
    problems: list[str] = []
    columns, slow = _bot_format_snapshots(snapshots.rows, zone)
    if slow:  # other formats and bad rows: the report's own reader (sheet row numbers kept)
        problems.extend(_add_other_snapshots(columns, snapshots, slow, zone))
    order = columns.order()
    frame = _snapshot_frame(columns, order, zone)
    flow_errors: list[str] = []
    flows = read_cash_flows(cash_flows, zone=zone, errors=flow_errors)
    problems.extend(flow_errors)
    equity_pairs, flow_pairs = portfolio_equity(_daily_last_snapshots(columns, order), flows, zone=zone)
    equity_series = _decimal_series(equity_pairs, "equity")
    flow_series = _decimal_series(flow_pairs, "amount")
    currency = columns.currencies[order[-1]] if order else DEFAULT_CURRENCY
    return PortfolioView(frame, _flow_frame(flows, zone), equity_series, flow_series, currency, tuple(problems))


def _bot_format_snapshots(rows: Sequence[dict[str, str]], zone: tzinfo) -> tuple[_SnapshotColumns, set[int]]:
    """The rows in the bot's own cell formats, vectorised; and the positions of the other non-blank rows."""
    times = parse_times([r.get("taken_at", "") for r in rows], zone, fast_only=True)
    bad_time = np.asarray(times.isna())
    values = cell_decimals([r.get("equity", "") for r in rows], fast_only=True)
    keep: list[int] = []
    slow: set[int] = set()
    for index, record in enumerate(rows):
        if bad_time[index] or values[index] is None:
            if any((value or "").strip() for value in record.values()):
                slow.add(index)
            continue
        keep.append(index)
    # columns of the readable rows: UTC instants and local days as int64 ns (no Timestamp per row)
    columns = _SnapshotColumns(
        stamps=times.asi8[keep].tolist() if keep else [],
        days=(times.tz_localize(None).normalize().asi8[keep] // _DAY_NS).tolist() if keep else [],
        brokers=[(rows[i].get("broker") or "").strip() for i in keep],
        accounts=[(rows[i].get("account") or "").strip() for i in keep],
        equities=[values[i] for i in keep],  # type: ignore[misc]
        cash=cell_floats([rows[i].get("cash", "") for i in keep]).tolist(),
        positions=cell_floats([rows[i].get("positions_value", "") for i in keep]).tolist(),
        currencies=[(rows[i].get("currency") or "").strip().upper() or DEFAULT_CURRENCY for i in keep],
    )
    return columns, slow


def _add_other_snapshots(columns: _SnapshotColumns, snapshots: Table, slow: set[int], zone: tzinfo) -> list[str]:
    """Append the ``slow`` rows :func:`bot.analytics.equity.read_snapshots` can read; returns its problems."""
    errors: list[str] = []
    rows = snapshots.rows
    others = Table("Snapshots", snapshots.headers, [r if i in slow else {} for i, r in enumerate(rows)])
    for snap in read_snapshots(others, zone=zone, errors=errors):
        local = pd.Timestamp(snap.taken_at).tz_convert(zone)
        columns.stamps.append(local.as_unit("ns").value)
        columns.days.append(local.tz_localize(None).normalize().as_unit("ns").value // _DAY_NS)
        columns.brokers.append(snap.broker)
        columns.accounts.append(snap.account)
        columns.equities.append(snap.equity)
        columns.cash.append(as_float(snap.cash))
        columns.positions.append(as_float(snap.positions_value))
        columns.currencies.append(snap.currency)
    return errors


def _snapshot_frame(columns: _SnapshotColumns, order: list[int], zone: tzinfo) -> pd.DataFrame:
    """:attr:`PortfolioView.snapshots`: the readable rows in ``order`` (by time)."""
    return pd.DataFrame(
        {
            "taken_at": pd.DatetimeIndex(np.array([columns.stamps[i] for i in order], dtype="datetime64[ns]"))
            .tz_localize(UTC)
            .tz_convert(zone),
            "broker": [columns.brokers[i] for i in order],
            "account": [columns.accounts[i] for i in order],
            "equity": np.array([float(columns.equities[i]) for i in order], dtype=float),
            "cash": np.array([columns.cash[i] for i in order], dtype=float),
            "positions_value": np.array([columns.positions[i] for i in order], dtype=float),
            "currency": [columns.currencies[i] for i in order],
        },
        columns=_SNAPSHOT_COLUMNS,
    )


def _flow_frame(flows: Sequence[CashFlow], zone: tzinfo) -> pd.DataFrame:
    """:attr:`PortfolioView.cash_flows`: one row per flow of :func:`bot.analytics.equity.read_cash_flows`."""
    return pd.DataFrame(
        {
            "flow_at": pd.DatetimeIndex([f.flow_at for f in flows]).tz_convert(zone)
            if flows
            else pd.DatetimeIndex([], tz=zone),
            "kind": [f.kind for f in flows],
            "amount": [float(f.amount) for f in flows],
            "signed": [float(f.signed) for f in flows],
            "currency": [f.currency for f in flows],
            "broker": [f.broker for f in flows],
            "account": [f.account for f in flows],
            "source": [f.source for f in flows],
            "reference": [f.reference for f in flows],
            "note": [f.note for f in flows],
        },
        columns=_FLOW_COLUMNS,
    )


def _daily_last_snapshots(columns: _SnapshotColumns, order: list[int]) -> list[Snapshot]:
    """Each account's last snapshot of each local day (the only ones the combined equity uses)."""
    daily_last: dict[tuple[str, str, int], int] = {}
    for i in order:  # by time: the day's last snapshot of each account wins
        daily_last[(columns.brokers[i], columns.accounts[i], columns.days[i])] = i
    return [
        Snapshot(EPOCH + timedelta(microseconds=columns.stamps[i] // 1000), columns.brokers[i], columns.accounts[i],
                 columns.equities[i], None, None, columns.currencies[i])
        for i in daily_last.values()
    ]  # fmt: skip


def _decimal_series(pairs: Sequence[tuple[datetime, Decimal]], name: str) -> pd.Series:
    if not pairs:
        return pd.Series([], index=pd.DatetimeIndex([], tz=UTC), dtype=object, name=name)
    index = pd.DatetimeIndex([moment for moment, _ in pairs]).tz_convert(UTC).as_unit("ns")
    return pd.Series([value for _, value in pairs], index=index, dtype=object, name=name)


def cashflow_record(
    *,
    flow_at: datetime,
    kind: str,
    amount: Decimal,
    zone: tzinfo,
    currency: str = DEFAULT_CURRENCY,
    broker: str = "",
    account: str = "",
    note: str = "",
) -> dict[str, str]:
    """A CashFlows row for a deposit or withdrawal typed in the dashboard (``source`` ``manual``).

    Validated by :class:`bot.records.CashFlow` (the value object of imported flows) and
    written in the same cell formats as :func:`bot.snapshots.cash_flow_rows`.

    Args:
        flow_at: when the money moved (tz-aware, or naive local time in ``zone``); written in ``zone``.
        kind: ``deposit`` or ``withdrawal``.
        amount: > 0, account currency.

    Raises:
        ValueError: naming the field.
    """
    kind = kind.strip().lower()
    if kind not in ("deposit", "withdrawal"):
        raise ValueError(f"kind: {kind!r} is not deposit or withdrawal")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount: {amount!r} must be a positive number")
    if not isinstance(flow_at, datetime):
        raise ValueError(f"flow_at: {flow_at!r} is not a time")
    moment = flow_at if flow_at.tzinfo else flow_at.replace(tzinfo=zone)
    flow = CashFlow(flow_at=moment.astimezone(UTC), kind=kind, amount=amount, currency=currency.strip().upper()
                    or DEFAULT_CURRENCY, broker=broker.strip(), account=account.strip(), source="manual",
                    note=note.strip())  # fmt: skip
    return clean_record(
        {
            "flow_at": flow.flow_at.astimezone(zone).strftime(SHEET_TIME_FORMAT),
            "broker": flow.broker,
            "account": flow.account,
            "kind": flow.kind,
            "amount": format_decimal(flow.amount),
            "currency": flow.currency,
            "source": flow.source,
            "reference": "",
            "note": flow.note,
        }
    )


def equity_curve(portfolio: PortfolioView, zone: tzinfo) -> pd.DataFrame:
    """Daily equity with its time-weighted drawdown, for the Overview chart.

    Built on :func:`bot.analytics.returns.daily_twr` (end-of-day equity, flows on their day): the
    drawdown is ``growth / running max(growth) − 1`` of the chained TWR growth, so deposits and
    withdrawals are not mistaken for gains or losses.

    Returns:
        DataFrame indexed 0..n-1 with ``day`` (tz-naive local midnight), ``equity`` (float),
        ``growth`` (Π(1 + r)), ``twr`` (``growth − 1``) and ``drawdown`` (≤ 0, fraction);
        empty without snapshots.
    """
    if portfolio.empty:
        return pd.DataFrame(columns=["day", "equity", "growth", "twr", "drawdown"])
    table = daily_twr(portfolio.equity, portfolio.flows, zone=zone)
    growth = table["growth"].to_numpy(dtype=float)
    peaks = np.fmax.accumulate(growth)
    return pd.DataFrame(
        {
            "day": table.index.to_numpy(),
            "equity": table["equity"].to_numpy(dtype=float),
            "growth": growth,
            "twr": growth - 1.0,
            "drawdown": growth / peaks - 1.0,
        }
    )


def twr_growth(portfolio: PortfolioView, zone: tzinfo) -> pd.Series:
    """Cumulative TWR (fraction) per local day: ``daily_twr(...)["growth"] − 1`` (empty without snapshots)."""
    if portfolio.empty:
        return pd.Series([], dtype=float, name="twr")
    table = daily_twr(portfolio.equity, portfolio.flows, zone=zone)
    return (table["growth"] - 1.0).rename("twr")


def twr_table(periods: Sequence[PeriodReturn]) -> pd.DataFrame:
    """The TWR page's period table from :func:`bot.analytics.returns.period_returns`.

    Returns:
        One row per period: ``period`` (label, ``All`` for inception), ``start``, ``end``
        (dates), ``days``, ``twr``, ``twr_annualised``, ``mwr`` (fractions, NaN when undefined),
        ``pnl``, ``deposits``, ``withdrawals``, ``start_value``, ``end_value`` (float) and
        ``complete`` (False when the history is shorter than the period).
    """
    rows = []
    for period in periods:
        rows.append(
            {
                "period": PERIOD_LABELS.get(period.label, period.label),
                "start": period.start,
                "end": period.end,
                "days": period.days,
                "twr": as_float(period.twr),
                "twr_annualised": as_float(period.twr_annualised),
                "mwr": as_float(period.mwr),
                "pnl": as_float(period.pnl),
                "deposits": as_float(period.deposits),
                "withdrawals": as_float(period.withdrawals),
                "start_value": as_float(period.start_value),
                "end_value": as_float(period.end_value),
                "complete": period.complete,
            }
        )
    return pd.DataFrame(rows)
