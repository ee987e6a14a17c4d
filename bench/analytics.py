"""Benchmark of the performance and analytics maths: prints its figures, asserts nothing.

Run: ``.venv/bin/python bench/analytics.py [--sizes 100000 1000000] [--years 10]``

- ``fifo+stats``: :func:`bot.analytics.round_trips.round_trips` + :func:`bot.analytics.trade_stats.summarise` on
  synthetic fills of 200 symbols × 2 timeframes, like a bot's: each trade has one or two entry
  fills and one or two exit fills, about one trade in seven ends with a reversal fill; fees 0.1 %,
  half the trades with a stop. Targets: 100k fills ≤ 1 s, 1M fills ≤ 10 s.
- ``performance_records``: the Performance tab rows (per symbol, per slot, TOTAL) of the 100k set.
- ``twr``: :func:`bot.analytics.returns.period_returns` + :func:`bot.analytics.risk_metrics.risk_metrics` over
  hourly equity snapshots for ``--years`` years with a deposit or withdrawal every ~2 weeks.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.analytics.returns import daily_returns, period_returns
from bot.analytics.risk_metrics import risk_metrics
from bot.analytics.round_trips import round_trips
from bot.analytics.trade_records import performance_records
from bot.analytics.trade_stats import summarise
from bot.domain import Fill, Side

UTC = timezone.utc
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def synthetic_fills(count: int, symbols: int = 200, seed: int = 7) -> list[Fill]:
    """``count`` fills over ``symbols`` symbols × 2 timeframes, in time order."""
    rng = random.Random(seed)
    slots = [(f"SYM{index:03d}", timeframe) for index in range(symbols) for timeframe in ("15m", "4h")]
    position = dict.fromkeys(slots, 0)  # signed quantity in lots of 0.001
    pending_exit: dict[tuple[str, str], int] = {}
    fee_rate = Decimal("0.001")
    stop = Decimal(2)
    fills: list[Fill] = []
    for number in range(count):
        slot = slots[rng.randrange(len(slots))]
        held = position[slot]
        roll = rng.random()
        if held == 0:
            lots = rng.randint(1, 5000)
            buy = roll < 0.6
            pending_exit[slot] = 0
        elif pending_exit[slot] == 0 and roll < 0.2:  # second entry (scale in / partial fill)
            lots = rng.randint(1, 5000)
            buy = held > 0
            pending_exit[slot] = 1
        elif roll < 0.15:  # reversal: one fill crossing zero
            lots = abs(held) + rng.randint(1, 5000)
            buy = held < 0
            pending_exit[slot] = 0
        elif roll < 0.35 and abs(held) > 1:  # partial exit
            lots = rng.randint(1, abs(held) - 1)
            buy = held < 0
            pending_exit[slot] = 1
        else:  # full exit
            lots = abs(held)
            buy = held < 0
        position[slot] = held + (lots if buy else -lots)
        qty = Decimal(lots).scaleb(-3)
        price = Decimal(rng.randint(1_000_000, 2_000_000)).scaleb(-4)
        fills.append(
            Fill(
                fill_id=f"F{number:08d}",
                order_id=f"O{number:08d}",
                symbol=slot[0],
                timeframe=slot[1],
                side=Side.BUY if buy else Side.SELL,
                qty=qty,
                price=price,
                fee=(qty * price * fee_rate).quantize(Decimal("0.00000001")),
                filled_at=T0 + timedelta(seconds=number * 3),
                stop_loss_pct=stop if number % 2 else None,
                exit_reason="signal",
            )
        )
    return fills


def bench_fills(sizes: list[int]) -> None:
    for size in sizes:
        fills = synthetic_fills(size)
        gc.collect()
        started = time.perf_counter()
        trips = round_trips(fills)
        matched = time.perf_counter()
        stats = summarise(trips)
        done = time.perf_counter()
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size / 1_000_000:g}M"
        print(
            f"fifo+stats {label} fills: {done - started:.2f} s "
            f"(match {matched - started:.2f} s, summarise {done - matched:.2f} s; "
            f"{len(trips):,} trades, total pnl {stats.total_pnl:.2f})"
        )
        if size == sizes[0]:
            started = time.perf_counter()
            rows = performance_records(trips, datetime.now(UTC), ZoneInfo("America/New_York"))
            print(f"performance_records {label} fills: {time.perf_counter() - started:.2f} s ({len(rows)} rows)")
        del fills, trips
        gc.collect()


def synthetic_equity(years: int, seed: int = 11) -> tuple[list[tuple[datetime, Decimal]], list]:
    """Hourly equity snapshots for ``years`` years and a cash flow every ~2 weeks."""
    rng = random.Random(seed)
    hours = years * 365 * 24
    snapshots: list[tuple[datetime, Decimal]] = []
    flows: list[tuple[datetime, Decimal]] = []
    equity = 10_000.0
    for hour in range(hours):
        at = T0 + timedelta(hours=hour)
        if hour % (24 * 14) == 5:
            amount = round(rng.uniform(-0.03, 0.04) * equity, 2)
            equity += amount
            flows.append((at, Decimal(repr(amount))))
        equity *= 1 + rng.gauss(0.00001, 0.002)
        snapshots.append((at, Decimal(repr(round(equity, 2)))))
    return snapshots, flows


def bench_twr(years: int) -> None:
    snapshots, flows = synthetic_equity(years)
    as_of = date(2020 + years - 1, 12, 31)
    started = time.perf_counter()
    periods = period_returns(snapshots, flows, as_of=as_of)
    returns = daily_returns(snapshots, flows)
    metrics = risk_metrics(returns, periods_per_year=365, risk_free_annual=0.03)
    elapsed = time.perf_counter() - started
    inception = periods[-1]
    print(
        f"twr+mwr+risk {years}y hourly ({len(snapshots):,} snapshots, {len(flows)} cash flows): "
        f"{elapsed:.2f} s (since inception TWR {inception.twr:.4f}, MWR {inception.mwr:.4f}, "
        f"Sharpe {metrics.sharpe:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    bench_fills(args.sizes)
    bench_twr(args.years)


if __name__ == "__main__":
    main()
