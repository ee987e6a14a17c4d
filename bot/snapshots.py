"""Account history: equity snapshots, asset balances and cash flows (Snapshots, Balances, CashFlows tabs).

Write side (the hourly job, :func:`snapshot_job`):

- :func:`take_snapshot` appends one Snapshots row per broker in use (``account()``: equity, cash,
  positions value). Rows go through the state DB's outbox, so a snapshot taken while the
  workbook is down is written when it comes back instead of being lost.
- :func:`update_balances` replaces a broker's rows of the Balances tab with its assets valued in
  USD/USDT, for brokers whose adapter has the optional method ``balances()`` (Binance).
- :func:`import_cash_flows` appends deposits and withdrawals from brokers whose adapter has the
  optional method ``cash_flows(since)`` (Alpaca activities CSD/CSW, Binance deposit/withdrawal
  history), skipping every transfer whose ``reference`` is already in the CashFlows tab.

Optional adapter methods (looked up with ``getattr``; a broker without them is simply skipped)::

    def balances(self) -> list[Balance]                     # or (asset, free, locked, usd_value) tuples
    def cash_flows(self, since: datetime | None) -> list[CashFlow]

Read side (the report and the dashboard): :func:`read_snapshots` and :func:`read_cash_flows`
parse the tabs into tz-aware UTC times and exact :class:`~decimal.Decimal` amounts, and
:func:`portfolio_equity` turns them into the ``(time, amount)`` inputs of :mod:`bot.analytics`.

Cell formats written: times ``YYYY-MM-DD HH:MM:SS`` in ``BOT_TIMEZONE`` (like every other tab);
money rounded to 2 decimals (``ROUND_HALF_EVEN``), asset quantities exact.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from bot.domain import format_decimal, utc_now
from bot.errors import BotError
from bot.parsing import parse_decimal, parse_sheet_time
from bot.records import Balance, CashFlow, Table, WriteBatch
from bot.sheets.base import clean_record
from bot.sheets.schema import tab_spec

if TYPE_CHECKING:
    from bot.brokers.base import Account, Broker
    from bot.services import Services

__all__ = [
    "Balance",
    "CashFlow",
    "Snapshot",
    "balances_rows",
    "cash_flow_rows",
    "import_cash_flows",
    "parse_sheet_time",
    "portfolio_equity",
    "read_cash_flows",
    "read_snapshots",
    "snapshot_brokers",
    "snapshot_job",
    "snapshot_row",
    "take_snapshot",
    "update_balances",
]

log = logging.getLogger(__name__)

UTC = timezone.utc
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_KINDS = {"deposit": "deposit", "deposits": "deposit", "withdrawal": "withdrawal", "withdrawals": "withdrawal",
          "withdraw": "withdrawal"}  # fmt: skip
_SOURCES = tab_spec("CashFlows").column("source").allowed
#: How far before the newest imported transfer the next import asks the broker again (late postings;
#: the ``reference`` check drops what was already there).
IMPORT_OVERLAP = timedelta(days=7)


# --------------------------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------------------------


# CashFlow and Balance live with the broker interface (adapters return them); re-exported here.


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
# Cell formatting and parsing
# --------------------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def _when(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


_CURRENCY_TEXT = re.compile(r"^(US\$|USD|USDT)\s*|\s*(USD|USDT)$", re.IGNORECASE)


def _amount_text(text: str) -> str:
    return _CURRENCY_TEXT.sub("", text.strip())


class _RowError(ValueError):
    pass


def _cell(record: dict[str, str], column: str) -> str:
    value = record.get(column)
    return "" if value is None else str(value).strip()


def _rows(table: Table, parse: Any, errors: list[str] | None) -> list[Any]:
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
        def number(column: str, *, required: bool) -> Decimal | None:
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
    """Combined equity of several accounts per day, and the flows, as :mod:`bot.analytics` inputs.

    Per account (broker, account) the last snapshot of each calendar day in ``zone`` counts; a day
    on which an account has no snapshot carries its previous value forward (a failed snapshot is
    not a loss). USDT is counted as USD. An account whose first snapshot comes after the
    portfolio's first day brings its equity in as a deposit on that day (so adding a venue is not
    a return). With one account this is just its daily closing equity.

    Args:
        snapshots: parsed Snapshots rows (:func:`read_snapshots`).
        flows: parsed CashFlows rows (:func:`read_cash_flows`).
        zone: time zone of the calendar day (use the same as for :func:`bot.analytics.daily_twr`).
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


# --------------------------------------------------------------------------------------------
# Writing: snapshots, balances, cash flows
# --------------------------------------------------------------------------------------------


def _problem(problems: list[str] | None, context: str, message: str) -> None:
    """Log ``message`` as a warning under ``context`` and add it to ``problems`` when the caller collects them."""
    log.warning("%s: %s", context, message)
    if problems is not None:
        problems.append(message)


def snapshot_brokers(services: Services, problems: list[str] | None = None) -> dict[str, Broker]:
    """The brokers in use, by registry name: created so far, the default, and any named by a Config row.

    A broker that cannot be created (missing keys) is left out and described in ``problems``.
    """
    registry = services.brokers
    names = [registry.default, *registry.loaded()]
    try:
        snapshot = services.config.get()
        names += [row.broker for row in snapshot.rows.values() if row.broker]
    except BotError as exc:
        log.warning("snapshot: Config not readable, using the loaded brokers: %s", exc)
    brokers: dict[str, Broker] = {}
    for name in dict.fromkeys(names):
        try:
            brokers[name] = registry.get(name)
        except BotError as exc:
            _problem(problems, "snapshot", f"broker {name}: {exc}")
    return brokers


def snapshot_row(broker_name: str, account: Account, taken_at: datetime, zone: tzinfo) -> dict[str, str]:
    """The Snapshots row of one :class:`~bot.brokers.base.Account` at ``taken_at``.

    Returns:
        ``{taken_at, broker, account, equity, cash, positions_value, currency}`` texts: time in
        ``zone``, money to 2 decimals (``ROUND_HALF_EVEN``).
    """
    return {
        "taken_at": _when(taken_at, zone),
        "broker": broker_name,
        "account": str(account.account_id),
        "equity": _money(account.equity),
        "cash": _money(account.cash),
        "positions_value": _money(account.positions_value),
        "currency": str(account.currency or "USD"),
    }


def take_snapshot(
    services: Services,
    now: datetime | None = None,
    *,
    brokers: dict[str, Broker] | None = None,
    problems: list[str] | None = None,
) -> list[dict[str, str]]:
    """Append one Snapshots row per broker in use (see :func:`snapshot_brokers`), via the outbox.

    Values come from each broker's ``account()``: equity, cash and positions value in the
    account currency (USD for Alpaca and paper, USDT for Binance). The rows are queued in the
    state DB's outbox in one transaction and written by the outbox writer (call
    ``services.writer.flush()`` to write them now), so a workbook outage does not lose them.

    Args:
        services: :class:`~bot.services.Services`.
        now: snapshot time (tz-aware); default now. Every row of one call has the same time.
        brokers: the brokers to snapshot by name; default :func:`snapshot_brokers`.
        problems: when given, a broker whose ``account()`` fails is described here (it is also logged).

    Returns:
        The rows queued (dicts keyed by the Snapshots headers), in broker order.
    """
    taken_at = (now or utc_now()).astimezone(UTC)
    zone = services.settings.zone
    rows = []
    if brokers is None:
        brokers = snapshot_brokers(services, problems)
    for name, broker in brokers.items():
        try:
            account = broker.account()
        except BotError as exc:
            _problem(problems, "snapshot", f"broker {name}: account values unavailable: {exc}")
            continue
        rows.append(clean_record(snapshot_row(name, account, taken_at, zone)))
    if rows:
        store = services.store
        with store.session() as session:
            for row in rows:
                store.enqueue(session, "append", "Snapshots", row)
        services.writer.notify()
    return rows


def balances_rows(broker_name: str, balances: Iterable[Any], taken_at: datetime, zone: tzinfo) -> list[dict[str, str]]:
    """Balances-tab rows of one broker: one per asset held, largest value first.

    Args:
        broker_name: the registry name (``binance``).
        balances: :class:`Balance` values or ``(asset, free, locked, usd_value)`` tuples; amounts
            Decimal (or numeric text); ``usd_value`` None when unpriced. Assets with free + locked
            of 0 are left out.
        taken_at: time of the reading (tz-aware).
        zone: zone of the ``taken_at`` cell.

    Returns:
        Rows keyed by the Balances headers: ``free``/``locked`` exact, ``usd_value`` to 2
        decimals, ``share_pct`` = usd_value / Σ usd_value of the broker's priced assets × 100, to 2
        decimals (blank when unpriced or the total is 0).

    Raises:
        ValueError: an item that is not 4 values, or an amount that is not a number (naming the asset).
    """
    items: list[tuple[str, Decimal, Decimal, Decimal | None]] = []
    for item in balances:
        try:
            asset, free, locked, value = item
        except (TypeError, ValueError):
            raise ValueError(f"balance {item!r} is not (asset, free, locked, usd_value)") from None
        try:
            free_d = parse_decimal(free)
            locked_d = parse_decimal(locked)
            value_d = None if value is None or value == "" else parse_decimal(value)
        except ValueError as exc:
            raise ValueError(f"balance of {asset}: {exc}") from None
        if free_d + locked_d == 0:
            continue
        items.append((str(asset), free_d, locked_d, value_d))
    total = sum((value for *_, value in items if value is not None), Decimal(0))
    items.sort(key=lambda item: (item[3] is None, -(item[3] or 0), item[0]))
    when = _when(taken_at, zone)
    rows = []
    for asset, free_d, locked_d, value_d in items:
        share = "" if value_d is None or total <= 0 else _money(value_d * _HUNDRED / total)
        rows.append(
            {
                "taken_at": when,
                "broker": broker_name,
                "asset": asset,
                "free": format_decimal(free_d),
                "locked": format_decimal(locked_d),
                "usd_value": _money(value_d),
                "share_pct": share,
            }
        )
    return rows


def update_balances(
    services: Services,
    now: datetime | None = None,
    *,
    brokers: dict[str, Broker] | None = None,
    problems: list[str] | None = None,
) -> int:
    """Refresh the Balances tab for every broker in use whose adapter has ``balances()``.

    Each such broker's rows are replaced by its current assets (:func:`balances_rows`); rows of
    other brokers (and of a broker whose ``balances()`` failed) are kept. Written directly to the
    workbook (the tab shows the latest reading only; a failed write is redone next run).
    ``brokers``/``problems`` as :func:`take_snapshot`.

    Returns:
        Number of Balances rows written for the refreshed brokers.

    Raises:
        BotError: the workbook could not be read or written (TemporaryError, ConfigError).
    """
    taken_at = (now or utc_now()).astimezone(UTC)
    zone = services.settings.zone
    fresh: dict[str, list[dict[str, str]]] = {}
    if brokers is None:
        brokers = snapshot_brokers(services, problems)
    for name, broker in brokers.items():
        if not broker.capabilities.balances:
            continue
        try:
            fresh[name] = balances_rows(name, broker.balances(), taken_at, zone)
        except (BotError, ValueError) as exc:
            _problem(problems, "snapshot", f"broker {name}: balances unavailable: {exc}")
    if not fresh:
        return 0
    table = services.workbook.read_tables(["Balances"])["Balances"]
    kept = [row for row in table.rows if _cell(row, "broker") not in fresh]
    new_rows = [clean_record(row) for rows in fresh.values() for row in rows]
    services.workbook.replace_rows("Balances", kept + new_rows)
    return len(new_rows)


def cash_flow_rows(flows: Iterable[CashFlow], *, broker: str, account: str, zone: tzinfo) -> list[dict[str, str]]:
    """CashFlows-tab rows of imported flows (``flow_at`` in ``zone``, amount exact, ``source`` from the broker).

    ``broker``/``account`` fill the flow's blank cells; ``source`` is the flow's, else the broker's
    family (``binance-futures`` → ``binance``) when the schema allows it, else ``manual``.
    """
    family = broker.split("-")[0]
    rows = []
    for flow in flows:
        source = flow.source or (family if family in _SOURCES else "manual")
        rows.append(
            {
                "flow_at": _when(flow.flow_at, zone),
                "broker": flow.broker or broker,
                "account": flow.account or account,
                "kind": flow.kind,
                "amount": format_decimal(flow.amount),
                "currency": flow.currency or "USD",
                "source": source,
                "reference": flow.reference,
                "note": flow.note or "imported",
            }
        )
    return rows


def import_cash_flows(
    services: Services,
    *,
    brokers: dict[str, Broker] | None = None,
    problems: list[str] | None = None,
) -> int:
    """Append the deposits and withdrawals reported by brokers that have ``cash_flows(since)``.

    ``since`` is the newest imported ``flow_at`` of that broker in the tab minus
    :data:`IMPORT_OVERLAP` (None on the first import: all the history the venue gives). A flow
    is appended only when its ``reference`` is not blank and not already in the CashFlows tab
    (rows typed by the user included) nor earlier in the same import, so running the import
    any number of times never duplicates a transfer. Rows are written directly to the workbook,
    so the next run sees them. ``brokers``/``problems`` as :func:`take_snapshot`.

    Returns:
        Number of rows appended.

    Raises:
        BotError: the workbook could not be read or written. A broker whose ``cash_flows`` fails
            is skipped (logged, and described in ``problems``).
    """
    if brokers is None:
        brokers = snapshot_brokers(services, problems)
    brokers = {name: broker for name, broker in brokers.items() if broker.capabilities.cash_flows}
    if not brokers:
        return 0
    zone = services.settings.zone
    table = services.workbook.read_tables(["CashFlows"])["CashFlows"]
    seen = {_cell(row, "reference") for row in table.rows if _cell(row, "reference")}
    newest: dict[str, datetime] = {}
    for flow in read_cash_flows(table, zone=zone, errors=[]):  # sorted by time: the last one wins
        if flow.reference and flow.broker in brokers:
            newest[flow.broker] = flow.flow_at
    appends: list[tuple[str, dict[str, str]]] = []
    for name, broker in brokers.items():
        since = newest[name] - IMPORT_OVERLAP if name in newest else None
        try:
            flows = list(broker.cash_flows(since))
        except BotError as exc:
            _problem(problems, "cash flows", f"broker {name}: cash flow history unavailable: {exc}")
            continue
        fresh = []
        for flow in flows:
            reference = (flow.reference or "").strip()
            if not reference or reference in seen:
                continue
            seen.add(reference)
            fresh.append(flow)
        account = ""
        if fresh:
            try:
                account = str(broker.account().account_id)
            except BotError:
                account = ""
        for row in cash_flow_rows(fresh, broker=name, account=account, zone=zone):
            appends.append(("CashFlows", clean_record(row)))
    if appends:
        services.workbook.apply(WriteBatch(appends=appends))
    return len(appends)


def snapshot_job(services: Services, now: datetime | None = None) -> dict[str, Any]:
    """The scheduled job: :func:`take_snapshot`, :func:`update_balances`, :func:`import_cash_flows`.

    Each part runs even when another fails (a workbook error in one is reported, not raised).

    Returns:
        ``{"snapshots": rows queued, "balances": rows written, "cash_flows": rows appended,
        "problems": [text, ...]}``.
    """
    now = now or utc_now()
    problems: list[str] = []
    result: dict[str, Any] = {"snapshots": 0, "balances": 0, "cash_flows": 0, "problems": problems}
    brokers = snapshot_brokers(services, problems)
    parts = (
        ("snapshots", lambda: len(take_snapshot(services, now, brokers=brokers, problems=problems))),
        ("balances", lambda: update_balances(services, now, brokers=brokers, problems=problems)),
        ("cash_flows", lambda: import_cash_flows(services, brokers=brokers, problems=problems)),
    )
    for name, part in parts:
        try:
            result[name] = part()
        except BotError as exc:
            log.warning("snapshot job: %s failed: %s", name, exc)
            problems.append(f"{name}: {exc}")
    return result
