"""The journal's typed Trades tab (bot.dashboard.trades): rows read like the recompute, tags, filters, exact P&L."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from support.dashboard_rows import NY, TRADES, UTC, tab_table, trade_row

from bot.analytics.trade_records import trade_from_record
from bot.dashboard.trades import filter_trades, trade_tags, trades_view
from bot.sheets.schema import tab_spec


def test_trades_view_types_every_row_like_the_recompute_and_reports_bad_ones() -> None:
    rows = [
        *TRADES,
        trade_row("X-9", "AAPL", "long", "abc", "1", "2024-01-01 00:00:00", "2024-01-02 00:00:00"),
        {h: "" for h in tab_spec("Trades").headers},
    ]
    view = trades_view(tab_table("Trades", rows), NY)
    assert len(view.frame) == len(view.trips) == 5
    assert view.problems == ("Trades row 7: entry_price: 'abc' is not a number",)
    expected = [trade_from_record(r, zone=NY) for r in TRADES]
    assert (
        [t.pnl for t in view.trips]
        == [t.pnl for t in expected]
        == [Decimal(99), Decimal(-21), Decimal(-11), Decimal(49), Decimal(0)]
    )
    frame = view.frame
    assert list(frame["row"]) == [2, 3, 4, 5, 6]
    assert list(frame["manual"]) == [False, False, False, True, True]
    assert list(frame["editable"]) == [True, True, True, False, False]  # blank ids cannot be addressed
    assert frame.loc[2, "rating"] == 4 and pd.isna(frame.loc[0, "rating"])
    assert str(frame["entry_at"].dt.tz) == "America/New_York"
    assert frame.loc[0, "entry_at"] == pd.Timestamp("2024-03-04 15:00", tz="UTC")
    assert trade_tags(frame) == ["A+", "breakout"]


def test_a_zero_fee_cell_reads_as_no_fee() -> None:
    """trade_from_record refuses fees "0" (blank works); the journal must not drop such rows."""
    view = trades_view(tab_table("Trades", [{**TRADES[4], "fees": "0"}, {**TRADES[0], "fees": "0.00"}]), UTC)
    assert view.problems == () and [t.pnl for t in view.trips] == [Decimal(0), Decimal(100)]


def test_duplicate_trade_ids_are_not_editable() -> None:
    view = trades_view(tab_table("Trades", [TRADES[0], TRADES[0], TRADES[1]]), UTC)
    assert list(view.frame["editable"]) == [False, False, True]


def test_filter_trades_by_every_field() -> None:
    frame = trades_view(tab_table("Trades", TRADES), NY).frame

    def ids(**filters: object) -> list[int]:
        return list(frame.loc[filter_trades(frame, **filters), "row"])  # type: ignore[arg-type]

    assert ids() == [2, 3, 4, 5, 6]
    assert ids(symbols=["MSFT"]) == [4, 5]
    assert ids(timeframes=["1h"]) == [3]
    assert ids(sides=["short"]) == [3, 5]
    assert ids(start=date(2024, 3, 6), end=date(2024, 3, 11)) == [3, 4]  # by exit day
    assert ids(tag="a+") == [2]
    assert ids(outcome="winners") == [2, 5]
    assert ids(outcome="losers") == [3, 4]
    assert ids(outcome="scratch") == [6]
    assert ids(symbols=["AAPL"], outcome="losers") == [3]


def test_journal_pnl_is_exact_when_the_cells_allow_it() -> None:
    """The bot rounds ``pnl`` cells to cents; totals of many rows must not drift from the Performance tab."""
    short = trade_row("S-1", "AAPL", "short", "529.8209", "430.47", "2012-11-01 16:00:00", "2013-03-01 16:00:00",
                   pnl="993.51", fees="")  # fmt: skip
    scaled = trade_row("S-2", "AAPL", "long", "100", "110", "2024-01-01 10:00:00", "2024-01-02 10:00:00",
                    pnl="150", fees="")  # a scaled-in trade: qty × prices does not give its pnl  # fmt: skip
    trips = trades_view(tab_table("Trades", [short, scaled]), UTC).trips
    assert trips[0].pnl == Decimal("993.5090")  # exact, and still rounds to the cell
    assert trips[1].pnl == Decimal(150)  # the cell as typed
