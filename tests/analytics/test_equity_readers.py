"""Tests of bot.analytics.equity: reading what people type into CashFlows, and combining accounts' Snapshots."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.analytics.equity import Snapshot, portfolio_equity, read_cash_flows
from bot.parsing import parse_sheet_time
from bot.records import CashFlow, Table

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


# --------------------------------------------------------------------------------------------
# Parsing what people type into CashFlows
# --------------------------------------------------------------------------------------------

_HEADERS = ["flow_at", "broker", "account", "kind", "amount", "currency", "source", "reference", "note"]


def _table(rows: list[dict[str, str]]) -> Table:
    return Table("CashFlows", _HEADERS, [{header: row.get(header, "") for header in _HEADERS} for row in rows])


def test_read_cash_flows_tolerates_typed_rows() -> None:
    table = _table([
        {"flow_at": "2024-03-01", "kind": "Deposit", "amount": "$5,000.00"},
        {},  # blank row
        {"flow_at": "2024-03-05 14:30", "kind": "withdraw", "amount": "1,200", "broker": "alpaca"},
        {"flow_at": "2024-03-06T10:00:00Z", "kind": "WITHDRAWAL", "amount": "300 USDT", "currency": "usdt"},
        {"flow_at": "2024/03/07", "kind": "deposits", "amount": " 12.5 ", "source": "Binance", "reference": "tx9"},
    ])  # fmt: skip
    flows = read_cash_flows(table, zone=BERLIN, date_zone=NEW_YORK)
    assert [(f.flow_at, f.kind, f.amount, f.currency, f.broker, f.source, f.reference) for f in flows] == [
        (datetime(2024, 3, 1, 5, 0, tzinfo=UTC), "deposit", Decimal("5000.00"), "USD", "", "manual", ""),  # NY midnight
        (datetime(2024, 3, 5, 13, 30, tzinfo=UTC), "withdrawal", Decimal(1200), "USD", "alpaca", "manual", ""),
        (datetime(2024, 3, 6, 10, 0, tzinfo=UTC), "withdrawal", Decimal(300), "USDT", "", "manual", ""),
        (datetime(2024, 3, 7, 5, 0, tzinfo=UTC), "deposit", Decimal("12.5"), "USD", "", "binance", "tx9"),
    ]
    assert [flow.signed for flow in flows] == [Decimal("5000.00"), Decimal(-1200), Decimal(-300), Decimal("12.5")]


@pytest.mark.parametrize(
    ("flow_at", "kind", "amount", "message"),
    [
        ("5/1/2024", "deposit", "1", "column flow_at: '5/1/2024' is ambiguous"),
        ("yesterday", "deposit", "1", "column flow_at: 'yesterday' is not a date"),
        ("2024-02-30", "deposit", "1", "column flow_at: '2024-02-30' is not a valid date"),
        ("", "deposit", "1", "column flow_at: required, the cell is blank"),
        ("2024-03-01", "transfer", "1", "column kind: 'transfer' is not deposit or withdrawal"),
        ("2024-03-01", "", "1", "column kind: required"),
        ("2024-03-01", "deposit", "-500", "column amount: '-500' must not be negative"),
        ("2024-03-01", "deposit", "0", "column amount: '0' must be greater than zero"),
        ("2024-03-01", "deposit", "5k", "column amount: '5k' is not a number"),
        ("2024-03-01", "deposit", "", "column amount: required"),
    ],
)
def test_read_cash_flows_names_row_and_column(flow_at: str, kind: str, amount: str, message: str) -> None:
    table = _table([
        {"flow_at": "2024-03-01", "kind": "deposit", "amount": "10"},
        {"flow_at": flow_at, "kind": kind, "amount": amount, "note": "typed"},
    ])  # fmt: skip
    with pytest.raises(ValueError) as info:
        read_cash_flows(table)
    assert str(info.value).startswith("CashFlows row 3, " + message)
    errors: list[str] = []
    assert [flow.amount for flow in read_cash_flows(table, errors=errors)] == [Decimal(10)]  # bad row skipped
    assert len(errors) == 1 and errors[0].startswith("CashFlows row 3, " + message)


def test_parse_sheet_time_forms() -> None:
    assert parse_sheet_time("2024-05-01 14:30:00", zone=BERLIN) == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_sheet_time("2024-05-01T14:30:00+02:00") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_sheet_time("2024-05-01", zone=BERLIN) == datetime(2024, 4, 30, 22, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="blank"):
        parse_sheet_time("  ")


# --------------------------------------------------------------------------------------------
# Combining accounts
# --------------------------------------------------------------------------------------------


def _snap(day: int, hour: int, broker: str, equity: str) -> Snapshot:
    return Snapshot(datetime(2024, 3, day, hour, tzinfo=UTC), broker, broker, Decimal(equity), None, None)


def test_portfolio_equity_combines_accounts() -> None:
    snapshots = [
        _snap(1, 10, "alpaca", "999"),  # earlier the same day: not the close
        _snap(1, 20, "alpaca", "1000"),
        _snap(2, 20, "alpaca", "1010"),
        _snap(2, 21, "binance", "500"),  # a second account appears: its equity comes in as a deposit
        _snap(3, 21, "binance", "520"),  # alpaca has no snapshot this day: 1010 carried forward
        _snap(4, 20, "alpaca", "990"),
    ]
    flows = [
        CashFlow(datetime(2024, 3, 3, 9, tzinfo=UTC), "deposit", Decimal(100), broker="alpaca"),
        CashFlow(datetime(2024, 3, 3, 9, tzinfo=UTC), "withdrawal", Decimal(7), broker="binance"),
        CashFlow(datetime(2024, 3, 4, 9, tzinfo=UTC), "deposit", Decimal(1)),  # no broker: always counts
    ]
    equity, moves = portfolio_equity(snapshots, flows)
    assert equity == [
        (datetime(2024, 3, 1, 20, tzinfo=UTC), Decimal(1000)),
        (datetime(2024, 3, 2, 21, tzinfo=UTC), Decimal(1510)),
        (datetime(2024, 3, 3, 21, tzinfo=UTC), Decimal(1530)),
        (datetime(2024, 3, 4, 20, tzinfo=UTC), Decimal(1510)),
    ]
    assert moves == [
        (datetime(2024, 3, 2, 21, tzinfo=UTC), Decimal(500)),
        (datetime(2024, 3, 3, 9, tzinfo=UTC), Decimal(100)),
        (datetime(2024, 3, 3, 9, tzinfo=UTC), Decimal(-7)),
        (datetime(2024, 3, 4, 9, tzinfo=UTC), Decimal(1)),
    ]
    only, only_moves = portfolio_equity(snapshots, flows, brokers=["alpaca"])
    assert [value for _, value in only] == [Decimal(1000), Decimal(1010), Decimal(990)]
    assert [amount for _, amount in only_moves] == [Decimal(100), Decimal(1)]
