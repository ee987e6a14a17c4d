"""Tests of bot.analytics.trade_stats: the statistics of a set of round trips."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from support.trades import close, trip

from bot.analytics.trade_stats import summarise
from bot.domain import PositionSide

D = Decimal


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def test_summarise_hand_computed() -> None:
    pnls = [10, 5, 0, -3, -4, 8, -1]  # exit order: W W S L L W L
    trips = [
        trip(pnl, minute=10 * (i + 1), side=PositionSide.SHORT if i in (1, 4) else PositionSide.LONG, fees="0.5")
        for i, pnl in enumerate(pnls)
    ]
    random.Random(1).shuffle(trips)  # summarise orders by exit time itself
    s = summarise(trips)
    assert (s.total_trades, s.winning_trades, s.losing_trades, s.scratch_trades) == (7, 3, 3, 1)
    assert close(s.win_rate, D(300) / 7)
    assert s.total_pnl == 15
    assert close(s.avg_pnl_per_trade, D(15) / 7)
    assert (s.best_trade, s.worst_trade) == (10, -4)
    assert (s.gross_profit, s.gross_loss) == (23, -8)
    assert s.profit_factor == D("2.875")
    assert close(s.avg_win, D(23) / 3) and close(s.avg_loss, D(-8) / 3)
    assert s.payoff_ratio == D("2.875")
    assert close(s.expectancy, D(15) / 7)  # 3/7 × 23/3 − 3/7 × 8/3
    assert (s.max_win_streak, s.max_loss_streak) == (2, 2)
    assert s.max_drawdown == 7  # cumulative 10 15 15 12 8 16 15: peak 15 → 8
    assert s.avg_holding_time == timedelta(hours=1)
    assert (s.long_trades, s.long_pnl, s.short_trades, s.short_pnl) == (5, 14, 2, 1)
    assert s.total_fees == D("3.5")


def test_scratch_breaks_streaks() -> None:
    s = summarise([trip(p, minute=i) for i, p in enumerate([1, 1, 0, 1, -1, 0, -1, -1])])
    assert s.max_win_streak == 2 and s.max_loss_streak == 2
    s = summarise([trip(p, minute=i) for i, p in enumerate([1, 1, 1, -1, -1, -1, -1, 2])])
    assert s.max_win_streak == 3 and s.max_loss_streak == 4


def test_drawdown_peak_starts_at_zero() -> None:
    assert summarise([trip(-5, 1), trip(3, 2)]).max_drawdown == 5
    assert summarise([trip(2, 1), trip(3, 2)]).max_drawdown == 0
    assert summarise([trip(2, 1), trip(-3, 2), trip(-4, 3), trip(10, 4), trip(-1, 5)]).max_drawdown == 7


def test_summarise_without_losses_or_trades() -> None:
    s = summarise([trip(4, 1), trip(0, 2)])
    assert s.profit_factor is None and s.payoff_ratio is None and s.avg_loss is None
    assert s.expectancy == 2 and s.win_rate == 50
    empty = summarise([])
    assert empty.total_trades == 0 and empty.total_pnl == 0
    assert empty.win_rate is None and empty.best_trade is None and empty.avg_holding_time is None
    only_losses = summarise([trip(-4, 1)])
    assert only_losses.profit_factor == 0 and only_losses.payoff_ratio is None
    assert only_losses.expectancy == -4
