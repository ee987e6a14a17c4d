"""Tests of bot.snapshots: the snapshot job (Snapshots, Balances, CashFlows) and its rows read back.

Brokers are the real paper broker, or small venue classes injected through ``build_services``'s
broker factories (the adapter seam), implementing the optional ``balances``/``cash_flows`` methods.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.helpers import SECRET, add_rows, make_settings, tab_rows

from bot.analytics.equity import Snapshot, read_snapshots
from bot.brokers.base import Account, Capabilities
from bot.errors import TemporaryError
from bot.records import Balance, CashFlow
from bot.services import Services, build_services
from bot.snapshots import (
    IMPORT_OVERLAP,
    balances_rows,
    import_cash_flows,
    snapshot_job,
    take_snapshot,
    update_balances,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Venue:
    """A venue adapter with fixed account values and the optional history methods."""

    live = False
    capabilities = Capabilities(balances=True, cash_flows=True)

    def __init__(
        self,
        name: str,
        equity: str = "1000",
        *,
        balances: list[Any] | None = None,
        flows: list[CashFlow] | None = None,
        failing: bool = False,
    ) -> None:
        self.name = name
        self._equity = Decimal(equity)
        self._balances = balances
        self._flows = flows or []
        self.failing = failing
        self.since_calls: list[datetime | None] = []

    def account(self) -> Account:
        if self.failing:
            raise TemporaryError(f"{self.name} is down")
        return Account(f"{self.name}-acct", self._equity, Decimal("400"), Decimal("400"), self._equity - 400, "USD")

    def positions(self) -> dict[str, Decimal]:
        return {}

    def last_price(self, symbol: str) -> Decimal | None:
        return None

    def close(self) -> None:
        pass

    def balances(self) -> list[Any]:
        if self._balances is None:
            raise TemporaryError("no balances")
        return self._balances

    def cash_flows(self, since: datetime | None) -> list[CashFlow]:
        self.since_calls.append(since)
        return [flow for flow in self._flows if since is None or flow.flow_at >= since]


def _services(tmp_path: Path, venues: dict[str, Venue], default: str, **overrides: Any) -> Services:
    settings = make_settings(tmp_path, bot_broker=default, **overrides)
    return build_services(settings, brokers={name: (lambda v=venue: v) for name, venue in venues.items()})


def _alert(services: Services, **fields: Any) -> None:
    reply = services.engine.handle(json.dumps({"secret": SECRET, **fields}).encode())
    assert reply.http_status == 200 and reply.body["status"] == "success", reply.body


# --------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------


def test_snapshot_of_the_paper_broker_after_fills(tmp_path: Path) -> None:
    """equity = cash + positions value, with the values worked out from the fills by hand."""
    services = build_services(make_settings(tmp_path, bot_timezone="Europe/Berlin"))
    try:
        _alert(services, action="buy", symbol="NASDAQ:AAPL", timeframe="1D", price=190)  # 10 @ 190
        _alert(services, action="buy", symbol="NASDAQ:AAPL", timeframe="1W", price=195)  # 10 more @ 195
        _alert(services, action="sell", symbol="NASDAQ:MSFT", timeframe="D", price="400.25")  # short 10
        rows = take_snapshot(services, NOW)
        written = tab_rows(services, "Snapshots")
    finally:
        services.close()
    cash = Decimal(100000) - 10 * Decimal(190) - 10 * Decimal(195) + 10 * Decimal("400.25")
    positions = 20 * Decimal(195) - 10 * Decimal("400.25")  # AAPL at its last fill price, MSFT short
    assert rows == written
    assert rows == [
        {
            "taken_at": "2024-05-01 14:00:00",  # 12:00 UTC in Berlin (CEST)
            "broker": "paper",
            "account": "paper",
            "equity": "100050",
            "cash": "100152.5",
            "positions_value": "-102.5",
            "currency": "USD",
        }
    ]
    assert (Decimal(rows[0]["cash"]), Decimal(rows[0]["positions_value"])) == (cash, positions)
    assert Decimal(rows[0]["equity"]) == cash + positions
    # starting cash + unrealised P&L: the first AAPL lot is up 5 a share, the rest is at its fill price
    assert Decimal(rows[0]["equity"]) == Decimal(100000) + 10 * (Decimal(195) - Decimal(190))


def test_snapshot_read_back_gives_utc_times_and_exact_amounts(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path, bot_timezone="Europe/Berlin"))
    try:
        take_snapshot(services, NOW)
        take_snapshot(services, NOW + timedelta(hours=1))
        services.writer.flush()
        table = services.workbook.read_tables(["Snapshots"])["Snapshots"]
    finally:
        services.close()
    snapshots = read_snapshots(table, zone=BERLIN)
    assert snapshots == [
        Snapshot(NOW, "paper", "paper", Decimal(100000), Decimal(100000), Decimal(0), "USD"),
        Snapshot(NOW + timedelta(hours=1), "paper", "paper", Decimal(100000), Decimal(100000), Decimal(0), "USD"),
    ]
    assert all(item.taken_at.tzinfo is UTC for item in snapshots)


def test_snapshot_covers_every_broker_in_use_and_skips_a_failing_one(tmp_path: Path) -> None:
    alpaca = Venue("alpaca", "2500.5")
    binance = Venue("binance", failing=True)
    futures = Venue("binance-futures", "10")
    services = _services(tmp_path, {"alpaca": alpaca, "binance": binance, "binance-futures": futures}, "alpaca")
    try:
        services.brokers.get("binance")  # used by an order
        problems: list[str] = []
        rows = take_snapshot(services, NOW, problems=problems)
        written = tab_rows(services, "Snapshots")
    finally:
        services.close()
    assert [(row["broker"], row["account"], row["equity"]) for row in written] == [
        ("alpaca", "alpaca-acct", "2500.5")
    ]  # binance-futures is neither loaded, the default nor in a Config row
    assert rows == written
    assert problems == ["broker binance: account values unavailable: binance is down"]


def test_snapshot_rows_wait_in_the_outbox_until_written(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path))
    try:
        take_snapshot(services, NOW)
        assert services.store.outbox_depth() >= 1  # durable before the workbook has it
        assert len(tab_rows(services, "Snapshots")) == 1  # tab_rows flushes
        assert services.store.outbox_depth() == 0
    finally:
        services.close()


# --------------------------------------------------------------------------------------------
# Balances
# --------------------------------------------------------------------------------------------


def test_balances_rows_value_and_share() -> None:
    rows = balances_rows(
        "binance",
        [
            ("BTC", Decimal("0.01"), Decimal("0.005"), Decimal("900")),
            Balance("USDT", Decimal("1000"), Decimal("0"), Decimal("1000.004")),
            ("DUST", "0", "0", "0"),  # nothing held: left out
            ("XYZ", "5", "0", None),  # no price
        ],
        NOW,
        UTC,
    )
    assert rows == [
        {"taken_at": "2024-05-01 12:00:00", "broker": "binance", "asset": "USDT", "free": "1000", "locked": "0",
         "usd_value": "1000", "share_pct": "52.63"},
        {"taken_at": "2024-05-01 12:00:00", "broker": "binance", "asset": "BTC", "free": "0.01", "locked": "0.005",
         "usd_value": "900", "share_pct": "47.37"},
        {"taken_at": "2024-05-01 12:00:00", "broker": "binance", "asset": "XYZ", "free": "5", "locked": "0",
         "usd_value": "", "share_pct": ""},
    ]  # fmt: skip
    with pytest.raises(ValueError, match="balance of BTC"):
        balances_rows("binance", [("BTC", "lots", "0", "1")], NOW, UTC)


def test_update_balances_replaces_only_that_brokers_rows(tmp_path: Path) -> None:
    binance = Venue("binance", balances=[("ETH", Decimal("2"), Decimal("0"), Decimal("6000"))])
    alpaca = Venue("alpaca")  # has balances() but it fails: its old rows stay
    services = _services(tmp_path, {"binance": binance, "alpaca": alpaca}, "binance")
    try:
        services.brokers.get("alpaca")
        add_rows(services, "Balances", [
            {"broker": "binance", "asset": "BTC", "free": "1", "usd_value": "60000"},
            {"broker": "alpaca", "asset": "USD", "free": "5", "usd_value": "5"},
        ])  # fmt: skip
        problems: list[str] = []
        assert update_balances(services, NOW, problems=problems) == 1
        rows = tab_rows(services, "Balances")
    finally:
        services.close()
    assert [(row["broker"], row["asset"], row["usd_value"], row["share_pct"]) for row in rows] == [
        ("alpaca", "USD", "5", ""),
        ("binance", "ETH", "6000", "100"),
    ]
    assert problems == ["broker alpaca: balances unavailable: no balances"]


# --------------------------------------------------------------------------------------------
# Cash flows: import without duplicates
# --------------------------------------------------------------------------------------------


def _flow(day: int, kind: str, amount: str, reference: str) -> CashFlow:
    return CashFlow(datetime(2024, 3, day, 15, 30, tzinfo=UTC), kind, Decimal(amount), "USD", reference)


def test_import_cash_flows_never_duplicates(tmp_path: Path) -> None:
    flows = [
        _flow(1, "deposit", "5000", "act-1"),
        _flow(4, "withdrawal", "1200.50", "act-2"),
        _flow(4, "withdrawal", "1200.50", "act-2"),  # the venue repeats itself
        _flow(5, "deposit", "10", ""),  # no reference: cannot be deduplicated, so not imported
        _flow(9, "deposit", "300", "act-3"),
    ]
    alpaca = Venue("alpaca", flows=flows)
    services = _services(tmp_path, {"alpaca": alpaca}, "alpaca", bot_timezone="Europe/Berlin")
    try:
        # the user already typed act-3 (with their own note)
        add_rows(services, "CashFlows", [
            {"flow_at": "2024-03-09", "kind": "deposit", "amount": "300", "reference": "act-3", "note": "mine"},
        ])  # fmt: skip
        assert import_cash_flows(services) == 2
        assert import_cash_flows(services) == 0  # again: nothing new
        rows = tab_rows(services, "CashFlows")
    finally:
        services.close()
    assert rows == [
        {"flow_at": "2024-03-09", "broker": "", "account": "", "kind": "deposit", "amount": "300", "currency": "",
         "source": "", "reference": "act-3", "note": "mine"},
        {"flow_at": "2024-03-01 16:30:00", "broker": "alpaca", "account": "alpaca-acct", "kind": "deposit",
         "amount": "5000", "currency": "USD", "source": "alpaca", "reference": "act-1", "note": "imported"},
        {"flow_at": "2024-03-04 16:30:00", "broker": "alpaca", "account": "alpaca-acct", "kind": "withdrawal",
         "amount": "1200.5", "currency": "USD", "source": "alpaca", "reference": "act-2", "note": "imported"},
    ]  # fmt: skip
    # first import: all history; second: from a week before the newest imported transfer
    assert alpaca.since_calls == [None, datetime(2024, 3, 4, 15, 30, tzinfo=UTC) - IMPORT_OVERLAP]


def test_cash_flow_value_object_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        CashFlow(datetime(2024, 1, 1), "deposit", Decimal(1), "USD", "x")
    with pytest.raises(ValueError, match="kind"):
        CashFlow(NOW, "transfer", Decimal(1), "USD", "x")
    with pytest.raises(ValueError, match="positive"):
        CashFlow(NOW, "withdrawal", Decimal(-1), "USD", "x")
    assert CashFlow(NOW, "withdrawal", Decimal(7), "USD", "x").signed == Decimal(-7)


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------


def test_snapshot_job_runs_every_part(tmp_path: Path) -> None:
    binance = Venue(
        "binance",
        "1500",
        balances=[("USDT", Decimal("1500"), Decimal("0"), Decimal("1500"))],
        flows=[_flow(2, "deposit", "1500", "tx-1")],
    )
    services = _services(tmp_path, {"binance": binance}, "binance")
    try:
        first = snapshot_job(services, NOW)
        second = snapshot_job(services, NOW + timedelta(hours=1))
        snapshots = tab_rows(services, "Snapshots")
        balances = tab_rows(services, "Balances")
        flows = tab_rows(services, "CashFlows")
    finally:
        services.close()
    assert first == {"snapshots": 1, "balances": 1, "cash_flows": 1, "problems": []}
    assert second == {"snapshots": 1, "balances": 1, "cash_flows": 0, "problems": []}
    assert [row["taken_at"] for row in snapshots] == ["2024-05-01 12:00:00", "2024-05-01 13:00:00"]
    assert [(row["asset"], row["taken_at"]) for row in balances] == [("USDT", "2024-05-01 13:00:00")]
    assert [(row["reference"], row["source"]) for row in flows] == [("tx-1", "binance")]
