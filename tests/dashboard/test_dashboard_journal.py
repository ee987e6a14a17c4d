"""Journal writes (bot.dashboard.journal): edits touch user cells only, manual trades count in the recompute."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support.dashboard_rows import NY, TRADES, UTC, local_workbook, tab_table

from bot.analytics.trade_records import TRADES_USER_COLUMNS
from bot.dashboard.journal import journal_edit_batch, manual_trade_record
from bot.dashboard.trades import trades_view
from bot.jobs import recompute_performance
from bot.records import WriteBatch
from bot.services import Services


def test_journal_edits_write_only_user_cells(tmp_path: Path) -> None:
    workbook = local_workbook(tmp_path, {"Trades": TRADES})
    before = workbook.read_tables(["Trades"])["Trades"].rows
    frame = trades_view(workbook.read_tables(["Trades"])["Trades"], NY).frame
    subset = frame.iloc[[2, 0]]  # a filtered, reordered view: positions are into it
    batch, problems = journal_edit_batch(
        subset,
        {
            "0": {"notes": "held through earnings", "rating": 5.0, "tags": "swing,  earnings"},
            1: {"setup": '=HYPERLINK("x")', "screenshot_url": "https://tradingview.com/x/abc"},
        },
    )
    assert problems == []
    assert [w.key for w in batch.writes] == [("M-3",), ("A-1",)]
    assert all(set(w.values) <= set(TRADES_USER_COLUMNS) for w in batch.writes)
    workbook.apply(batch)
    after = workbook.read_tables(["Trades"])["Trades"].rows
    assert after[2]["notes"] == "held through earnings" and after[2]["rating"] == "5"
    assert after[2]["tags"] == "swing, earnings"
    assert after[0]["setup"] == '\'=HYPERLINK("x")'  # never a formula
    for old, new in zip(before, after, strict=True):
        assert {k: v for k, v in old.items() if k not in TRADES_USER_COLUMNS} == {
            k: v for k, v in new.items() if k not in TRADES_USER_COLUMNS
        }


def test_journal_edits_are_checked() -> None:
    frame = trades_view(tab_table("Trades", TRADES), UTC).frame
    batch, problems = journal_edit_batch(
        frame,
        {
            0: {"pnl": 1000},
            1: {"rating": 7},
            2: {"screenshot_url": "javascript:alert(1)"},
            3: {"notes": "x"},
            4: {"notes": ""},
        },
    )
    assert not batch
    assert problems == [
        "Trades row 2: pnl is written by the bot and cannot be edited here",
        "Trades row 3: rating: '7' is not a whole number from 1 to 5",
        "Trades row 4: screenshot_url: 'javascript:alert(1)' is not an http(s):// link",
        "Trades row 5: has no unique trade_id, so it cannot be written back safely; edit it in the sheet",
    ]  # row 6: unchanged value, nothing to write


def test_manual_trade_record_is_kept_and_counted_by_the_recompute(services: Services) -> None:
    record = manual_trade_record(
        symbol="NASDAQ:AAPL",
        timeframe="D",
        side="short",
        qty=Decimal("5"),
        entry_price=Decimal("190.5"),
        exit_price=Decimal("180"),
        fees=Decimal("1.25"),
        entry_at=datetime(2024, 5, 1, 9, 30),
        exit_at=datetime(2024, 5, 2, 16, 0),
        zone=NY,
        notes="faded the gap",
        rating=4,
    )
    assert record["trade_id"].startswith("manual-") and record["order_ids"] == ""
    assert (record["symbol"], record["timeframe"], record["pnl"], record["pnl_pct"]) == ("AAPL", "1d", "51.25", "5.38")
    assert record["entry_at"] == "2024-05-01 09:30:00" and record["holding_time"] == "1d 06:30:00"
    assert record["rating"] == "4" and record["notes"] == "faded the gap"
    services.workbook.apply(WriteBatch(appends=[("Trades", record)]))
    assert recompute_performance(services)["manual_trades"] == 1
    rows = services.workbook.read_tables(["Trades", "Performance"])
    assert rows["Trades"].rows == [record]
    total = next(r for r in rows["Performance"].rows if r["symbol"] == "TOTAL")
    assert (total["total_trades"], total["total_pnl"]) == ("1", "51.25")
    with pytest.raises(ValueError, match="exit_at"):
        manual_trade_record(
            symbol="AAPL",
            side="long",
            qty=Decimal(1),
            entry_price=Decimal(1),
            exit_price=Decimal(2),
            entry_at=datetime(2024, 5, 2),
            exit_at=datetime(2024, 5, 1),
            zone=NY,
        )
    with pytest.raises(ValueError, match="qty"):
        manual_trade_record(
            symbol="AAPL",
            side="long",
            qty=Decimal(0),
            entry_price=Decimal(1),
            exit_price=Decimal(2),
            entry_at=datetime(2024, 5, 1),
            exit_at=datetime(2024, 5, 2),
            zone=NY,
        )
