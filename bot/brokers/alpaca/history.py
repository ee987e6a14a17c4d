"""Alpaca account history for :mod:`bot.snapshots`, :mod:`bot.report` and :mod:`bot.doctor`: deposits and
withdrawals (account activities ``CSD``/``CSW``) and daily closing prices (daily bars of the Market Data API)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from bot.brokers.alpaca.client import AlpacaClient
from bot.brokers.alpaca.wire import NEW_YORK, UTC, parse_time, rfc3339
from bot.brokers.base import decimal_or_none
from bot.records import CashFlow

log = logging.getLogger(__name__)

#: Account activities per page (Alpaca's maximum) and the most pages one history read follows.
ACTIVITY_PAGE_SIZE = 100
MAX_ACTIVITY_PAGES = 1000
#: Bars per page (Alpaca's maximum) and the most pages one ``daily_closes`` call follows.
BAR_PAGE_SIZE = 10_000
MAX_BAR_PAGES = 100
#: Daily bars: the consolidated (SIP) feed, adjusted for splits and dividends (a total-return benchmark).
BAR_FEED = "sip"
BAR_ADJUSTMENT = "all"
#: Alpaca's free plan refuses SIP data newer than 15 minutes; bar requests end at least this long ago.
SIP_DELAY = timedelta(minutes=16)


def cash_flows(client: AlpacaClient, since: datetime | None = None) -> list[CashFlow]:
    """Deposits and withdrawals of the account: activities ``CSD`` (cash deposit) and ``CSW`` (cash withdrawal).

    ``GET /v2/account/activities?activity_types=CSD,CSW&direction=asc&page_size=100``, paged with
    ``page_token`` = the last activity id of the previous page until a page is short. With
    ``since`` (tz-aware), ``after`` = one day before it, so the whole New York day of ``since``
    is included (:func:`bot.snapshots.import_cash_flows` skips what it already has by reference).

    Alpaca sends ``net_amount`` as text, a withdrawal usually negative: the amount is its
    magnitude and the kind comes from the type (a ``CSD`` with a negative amount, a returned
    deposit, is a withdrawal). Canceled activities and zero amounts are left out. Alpaca gives
    only the activity ``date`` (a New York day), so ``flow_at`` is 00:00 New York time of that
    day, in UTC. Journals between accounts (``JNLC``) are not imported.

    Args:
        client: the account's :class:`AlpacaClient`.
        since: only flows from this time on (roughly: from the day before it); None = all.

    Returns:
        :class:`~bot.records.CashFlow` values oldest first: currency ``USD``, ``reference`` =
        the activity id, ``broker``/``source`` ``alpaca``, ``note`` = ``alpaca CSD``/``CSW``
        (plus Alpaca's description when there is one).

    Raises:
        TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys. BrokerRejected: other refusals.
    """
    params: dict[str, Any] = {"activity_types": "CSD,CSW", "direction": "asc", "page_size": ACTIVITY_PAGE_SIZE}
    if since is not None:
        params["after"] = rfc3339(since - timedelta(days=1))
    flows: list[CashFlow] = []
    for _ in range(MAX_ACTIVITY_PAGES):
        page = client.get("/account/activities", params) or []
        for item in page:
            flow = _activity_flow(item)
            if flow is not None:
                flows.append(flow)
        if len(page) < ACTIVITY_PAGE_SIZE or not page[-1].get("id"):
            break
        params["page_token"] = page[-1]["id"]
    else:
        log.warning("alpaca: cash flow history cut after %d pages", MAX_ACTIVITY_PAGES)
    return sorted(flows, key=lambda flow: flow.flow_at)


def daily_closes(client: AlpacaClient, symbol: str, start: date, end: date) -> list[tuple[date, Decimal]]:
    """Daily closing prices of ``symbol`` on the New York trading days from ``start`` to ``end`` (inclusive).

    Market Data API ``GET /v2/stocks/{symbol}/bars?timeframe=1Day`` (through the data client's
    HTTP helper, paged with ``next_page_token``), ``feed=sip`` (the consolidated close) and
    ``adjustment=all`` (split- and dividend-adjusted: returns between closes include
    dividends, a total-return benchmark). The request ends at the close of ``end`` or 16
    minutes ago, whichever is earlier (Alpaca's free plan refuses SIP data newer than 15
    minutes), so today's bar, when asked for, is the day so far. A bar's ``t`` is midnight New
    York of its day; its close ``c`` (a JSON number) is taken as ``Decimal(str(c))``.

    Returns:
        ``[(day, close)]`` ascending; ``[]`` when the range holds no trading day.

    Raises:
        BrokerRejected: the symbol or request refused (Alpaca's code and message).
        TemporaryError: timeout, 5xx, rate limit. ConfigError: bad keys.
    """
    first = datetime.combine(start, datetime.min.time(), NEW_YORK)
    last = min(
        datetime.combine(end + timedelta(days=1), datetime.min.time(), NEW_YORK) - timedelta(seconds=1),
        datetime.now(UTC) - SIP_DELAY,
    )
    if last < first:
        return []
    params: dict[str, Any] = {
        "timeframe": "1Day",
        "start": rfc3339(first),
        "end": rfc3339(last),
        "limit": BAR_PAGE_SIZE,
        "adjustment": BAR_ADJUSTMENT,
        "feed": BAR_FEED,
    }
    path = f"/stocks/{quote(symbol, safe='')}/bars"
    closes: dict[date, Decimal] = {}
    for _ in range(MAX_BAR_PAGES):
        data = client.data_get(path, params) or {}
        for bar in data.get("bars") or []:
            when = parse_time(bar.get("t"))
            close = decimal_or_none(bar.get("c"))
            if when is not None and close is not None:
                closes[when.astimezone(NEW_YORK).date()] = close
        token = data.get("next_page_token")
        if not token:
            break
        params["page_token"] = token
    else:
        log.warning("alpaca: %s daily bars cut after %d pages", symbol, MAX_BAR_PAGES)
    return sorted(closes.items())


def _activity_flow(item: dict[str, Any]) -> CashFlow | None:
    """A ``CSD``/``CSW`` account activity as a :class:`CashFlow` (None: canceled, zero, other type, unreadable)."""
    kind_code = str(item.get("activity_type", "")).upper()
    if kind_code not in ("CSD", "CSW") or str(item.get("status") or "").lower() == "canceled":
        return None
    amount = decimal_or_none(item.get("net_amount"))
    if amount is None or not amount.is_finite() or amount == 0:
        return None
    try:
        day = date.fromisoformat(str(item.get("date", ""))[:10])
    except ValueError:
        return None
    kind = "deposit" if kind_code == "CSD" and amount > 0 else "withdrawal"
    note = f"alpaca {kind_code}"
    if kind_code == "CSD" and amount < 0:
        note += " with a negative amount (returned deposit)"
    description = str(item.get("description") or "").strip()
    if description:
        note += f": {description}"
    return CashFlow(
        flow_at=datetime.combine(day, datetime.min.time(), NEW_YORK),
        kind=kind,
        amount=abs(amount),
        currency="USD",
        reference=str(item.get("id", "")),
        broker="alpaca",
        source="alpaca",
        note=note,
    )
