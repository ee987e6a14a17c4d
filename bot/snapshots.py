"""Account history write side: equity snapshots, asset balances and cash flows (Snapshots, Balances, CashFlows tabs).

The hourly job, :func:`snapshot_job`:

- :func:`take_snapshot` appends one Snapshots row per broker in use (``account()``: equity, cash,
  positions value). Rows go through the state DB's outbox, so a snapshot taken while the
  workbook is down is written when it comes back instead of being lost.
- :func:`update_balances` replaces a broker's rows of the Balances tab with its assets valued in
  USD/USDT, for brokers that declare ``capabilities.balances`` (Binance).
- :func:`import_cash_flows` appends deposits and withdrawals from brokers that declare
  ``capabilities.cash_flows`` (Alpaca activities CSD/CSW, Binance deposit/withdrawal history),
  skipping every transfer whose ``reference`` is already in the CashFlows tab.

Optional adapter methods (declared in the broker's :class:`~bot.brokers.base.Capabilities`; a broker
without them is simply skipped)::

    def balances(self) -> list[Balance]                     # or (asset, free, locked, usd_value) tuples
    def cash_flows(self, since: datetime | None) -> list[CashFlow]

The read side (the report and the dashboard) is :mod:`bot.analytics.equity`.

Cell formats written: times ``YYYY-MM-DD HH:MM:SS`` in ``BOT_TIMEZONE`` (like every other tab);
money rounded to 2 decimals (``ROUND_HALF_EVEN``), asset quantities exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from bot.analytics.equity import read_cash_flows
from bot.domain import format_decimal, utc_now
from bot.errors import BotError
from bot.parsing import parse_decimal
from bot.records import CashFlow, WriteBatch
from bot.sheets.base import clean_record
from bot.sheets.schema import tab_spec

if TYPE_CHECKING:
    from bot.brokers.base import Account, Broker
    from bot.services import Services

__all__ = [
    "IMPORT_OVERLAP",
    "balances_rows",
    "cash_flow_rows",
    "import_cash_flows",
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
_SOURCES = tab_spec("CashFlows").column("source").allowed
#: How far before the newest imported transfer the next import asks the broker again (late postings;
#: the ``reference`` check drops what was already there).
IMPORT_OVERLAP = timedelta(days=7)


# --------------------------------------------------------------------------------------------
# Cell formatting
# --------------------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    """Money to 2 decimals (``ROUND_HALF_EVEN``), ``""`` for None."""
    return "" if value is None else format_decimal(value.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def _when(value: datetime, zone: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of ``value`` in ``zone``."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _cell(record: dict[str, str], column: str) -> str:
    """The stripped text of ``column`` in ``record`` (``""`` when missing or None)."""
    value = record.get(column)
    return "" if value is None else str(value).strip()


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
        balances: :class:`~bot.records.Balance` values or ``(asset, free, locked, usd_value)`` tuples; amounts
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
