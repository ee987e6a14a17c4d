"""Deposits and withdrawals of a Binance spot wallet (``/sapi/v1/capital/...``, read only: the key needs no
withdrawal permission) as :class:`CashFlow` values for :mod:`bot.snapshots`. The Spot Testnet has no
``/sapi``: there the history is empty (logged once), never an error."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.brokers.base import decimal_or_none
from bot.brokers.binance.client import VENDOR_ERRORS, Client, brief, translate
from bot.brokers.binance.wire import UTC, epoch_ms, ms_time, utc_text
from bot.domain import format_decimal
from bot.records import CashFlow

log = logging.getLogger(__name__)

#: Deposit/withdrawal history: Binance answers at most 90 days per request and 1000 records a page.
HISTORY_WINDOW = timedelta(days=89)
HISTORY_PAGE_SIZE = 1000
MAX_HISTORY_PAGES = 100
#: Status codes of a finished transfer: deposit ``1`` (success), withdrawal ``6`` (completed).
DEPOSIT_SUCCESS = 1
WITHDRAWAL_COMPLETED = 6


class TransferHistory:
    """The deposit and withdrawal history of one Binance venue.

    Args:
        client: the python-binance ``Client``.
        futures: USD-M futures (no history of its own: :meth:`cash_flows` is ``[]``).
        name: the broker's name (``binance``), the flows' ``broker`` cell.
        live: live venue (errors raise) rather than the testnet (errors mean "no /sapi": ``[]``).
        history_days: how far back :meth:`cash_flows` reads when given no ``since``.
    """

    def __init__(self, client: Client, *, futures: bool, name: str, live: bool, history_days: int) -> None:
        self._client = client
        self._futures = futures
        self._name = name
        self._live = live
        self._history_days = history_days
        self._sapi_missing = False

    def cash_flows(self, since: datetime | None = None) -> list[CashFlow]:
        """Deposits and withdrawals of the spot wallet (``binance``); ``[]`` for ``binance-futures``.

        Deposit history ``GET /sapi/v1/capital/deposit/hisrec`` (status 1, success) and withdrawal
        history ``GET /sapi/v1/capital/withdraw/history`` (status 6, completed), through
        python-binance's ``get_deposit_history`` / ``get_withdraw_history``, from ``since`` (default
        ``history_days`` ago) to now in windows of 89 days (Binance allows 90 per request), 1000
        records a page (``offset``). Transfers between the spot and futures wallets are in neither
        list (they are internal); fiat deposits and card purchases are not either (add them by
        hand). Futures returns ``[]``: money reaches the futures wallet by such internal transfers.

        On the testnet, which has no ``/sapi``, any failure of these endpoints gives ``[]`` (logged
        once, and not asked again by this instance).

        Returns:
            :class:`~bot.records.CashFlow` values oldest first: ``currency`` = the coin (amounts
            in coin units, exact), ``reference`` = Binance's record ``id`` (a deposit without one:
            its ``txId``), ``broker``/``source`` ``binance``; ``flow_at`` = a deposit's
            ``insertTime``, a withdrawal's ``applyTime`` (UTC); a withdrawal's ``amount`` is
            Binance's ``amount``, its ``transactionFee`` is named in the note.

        Raises:
            TemporaryError / ConfigError / BrokerRejected (live only): see :mod:`bot.brokers.binance.client`.
        """
        if self._futures or self._sapi_missing:
            return []
        end = datetime.now(UTC)
        start = since.astimezone(UTC) if since is not None else end - timedelta(days=self._history_days)
        try:
            deposits = _history(self._client.get_deposit_history, start, end, status=DEPOSIT_SUCCESS)
            withdrawals = _history(self._client.get_withdraw_history, start, end, status=WITHDRAWAL_COMPLETED)
        except VENDOR_ERRORS as exc:
            if self._live:
                raise translate(exc) from None
            self._sapi_missing = True
            log.info(
                "%s: no deposit/withdrawal history on the testnet (%s); cash flows are not imported",
                self._name,
                brief(exc),
            )
            return []
        flows: dict[tuple[str, str], CashFlow] = {}
        for item in deposits:
            flow = _deposit_flow(item, self._name)
            if flow is not None:
                flows[(flow.kind, flow.reference)] = flow
        for item in withdrawals:
            flow = _withdrawal_flow(item, self._name)
            if flow is not None:
                flows[(flow.kind, flow.reference)] = flow
        return sorted(flows.values(), key=lambda flow: flow.flow_at)


def _history(fetch: Callable[..., Any], start: datetime, end: datetime, *, status: int) -> list[dict[str, Any]]:
    """Every record of a SAPI history endpoint between ``start`` and ``end`` (windows, then pages).

    Raises the vendor's exceptions, and ValueError for an answer that is not a list.
    """
    records: list[dict[str, Any]] = []
    window = start
    while window < end:
        window_end = min(window + HISTORY_WINDOW, end)
        offset = 0
        for _ in range(MAX_HISTORY_PAGES):
            page = fetch(
                status=status,
                startTime=epoch_ms(window),
                endTime=epoch_ms(window_end),
                offset=offset,
                limit=HISTORY_PAGE_SIZE,
            )
            if not isinstance(page, list):
                raise ValueError(f"history answer is not a list: {str(page)[:200]}")
            records.extend(item for item in page if isinstance(item, dict))
            if len(page) < HISTORY_PAGE_SIZE:
                break
            offset += len(page)
        window = window_end + timedelta(milliseconds=1)
    return records


def _deposit_flow(item: dict[str, Any], broker: str) -> CashFlow | None:
    """A deposit-history record as a :class:`CashFlow` (None unless successful, positive and dated)."""
    if str(item.get("status")) != str(DEPOSIT_SUCCESS):
        return None
    reference = str(item.get("id") or item.get("txId") or "").strip()
    return _flow(item, broker, "deposit", ms_time(item.get("insertTime")), reference)


def _withdrawal_flow(item: dict[str, Any], broker: str) -> CashFlow | None:
    """A withdrawal-history record as a :class:`CashFlow` (None unless completed, positive and dated)."""
    if str(item.get("status")) != str(WITHDRAWAL_COMPLETED):
        return None
    coin = str(item.get("coin") or "").upper()
    fee = decimal_or_none(item.get("transactionFee"))
    fee_note = f"network fee {format_decimal(fee)} {coin}" if fee else ""
    reference = str(item.get("id") or "").strip()
    return _flow(item, broker, "withdrawal", utc_text(item.get("applyTime")), reference, fee_note)


def _flow(
    item: dict[str, Any], broker: str, kind: str, when: datetime | None, reference: str, fee_note: str = ""
) -> CashFlow | None:
    """The :class:`CashFlow` of a deposit or withdrawal record (None without a positive amount, a time and
    a reference); the note names the network, the fee, an internal transfer and the txId when present."""
    amount = decimal_or_none(item.get("amount"))
    if amount is None or not amount.is_finite() or amount <= 0 or when is None or not reference:
        return None
    details = [
        f"network {item['network']}" if item.get("network") else "",
        fee_note,
        "internal transfer" if str(item.get("transferType")) == "1" else "",
        f"txId {item['txId']}" if item.get("txId") else "",
    ]
    return CashFlow(
        flow_at=when,
        kind=kind,
        amount=amount,
        currency=str(item.get("coin") or "").upper(),
        reference=reference,
        broker=broker,
        source="binance",
        note=", ".join([f"binance {kind}", *filter(None, details)]),
    )
