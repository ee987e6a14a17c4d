"""Render time of every dashboard page on a big workbook: prints its figures, asserts nothing.

Run: ``.venv/bin/python bench/dashboard.py [--trades 10000] [--snapshots 50000] [--repeat 3]``

Builds a local workbook (a temporary ``BOT_DATA_DIR``) with ``--trades`` closed trades (12
symbols × 4 timeframes, journal notes on a tenth of them), ``--snapshots`` hourly equity
snapshots ending now with a deposit or withdrawal every ~3 weeks, 5,000 Signals and Orders rows
(the default ``sheet_keep_rows``) and 48 Config rows, plus daily bars for the price charts and the
benchmark. Then runs ``streamlit_app.py`` with Streamlit's AppTest (the server-side script run a
browser waits for) and times each page:

- ``cold``: data caches cleared first, so the page reads and prepares every tab it needs (the
  workbook connection stays open, as in a running dashboard);
- ``warm``: the same page again, within the cache TTL (what a user clicking around sees).

With Chromium (Debian's package, installed by scripts/ensure_chromium.sh when missing) the same
pages are also timed in a real browser against ``streamlit run`` (``--no-browser`` skips it):
``warm`` is a click on the page in the sidebar, ``cold`` a press of *Refresh data* on it, each
until a script run it started is over and every chart is drawn.

Target (dashboard issue): every page ≤ 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.analytics.round_trips import RoundTrip  # noqa: E402
from bot.analytics.trade_records import trade_records  # noqa: E402
from bot.domain import PositionSide  # noqa: E402
from bot.sheets.local import LocalWorkbook  # noqa: E402
from bot.sheets.schema import all_specs  # noqa: E402

UTC = timezone.utc
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "SPY", "QQQ", "BTCUSDT", "ETHUSDT", "SOLUSDT")
TIMEFRAMES = ("15m", "1h", "4h", "1d")
PAGES = (
    ("Overview", "app_pages/overview.py"),
    ("Journal", "app_pages/journal.py"),
    ("Performance", "app_pages/performance.py"),
    ("TWR", "app_pages/twr.py"),
    ("Calendar", "app_pages/calendar_page.py"),
    ("Calculator", "app_pages/calculator.py"),
    ("Config", "app_pages/config_editor.py"),
    ("Signals & Orders", "app_pages/signals_orders.py"),
)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def build_workbook(data_dir: Path, *, trades: int, snapshots: int, seed: int = 11) -> None:
    """Write the synthetic workbook described in the module docstring under ``data_dir``."""
    rng = random.Random(seed)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=snapshots - 1)
    prices = {symbol: 20.0 + 30.0 * index for index, symbol in enumerate(SYMBOLS)}
    prices["BTCUSDT"], prices["ETHUSDT"] = 30000.0, 2000.0
    span = (end - start).total_seconds()
    trips: list[RoundTrip] = []
    for number in range(trades):
        symbol = rng.choice(SYMBOLS)
        timeframe = rng.choice(TIMEFRAMES)
        entry_at = start + timedelta(seconds=span * number / trades + rng.random() * 3600)
        held = timedelta(minutes=rng.randint(15, 60 * 24 * 5))
        exit_at = min(entry_at + held, end)
        long = rng.random() < 0.6
        entry = Decimal(f"{prices[symbol] * (0.8 + 0.4 * rng.random()):.2f}")
        move = Decimal(f"{rng.gauss(0.002, 0.02):.5f}")
        exit_ = (entry * (1 + move)).quantize(Decimal("0.01"))
        qty = Decimal(f"{max(1.0, 5000.0 / float(entry)):.3f}")
        fees = (qty * (entry + exit_) * Decimal("0.0005")).quantize(Decimal("0.01"))
        gross = (exit_ - entry) * qty if long else (entry - exit_) * qty
        pnl = gross - fees
        trips.append(
            RoundTrip(
                f"{symbol}-{timeframe}-{number}",
                symbol,
                timeframe,
                PositionSide.LONG if long else PositionSide.SHORT,
                qty,
                entry_at,
                entry,
                exit_at,
                exit_,
                fees,
                pnl,
                pnl * 100 / (qty * entry),
                None,
                exit_at - entry_at,
                rng.choice(("signal", "reversal", "close")),
                (f"o{number}a", f"o{number}b"),
            )
        )
    trips.sort(key=lambda t: t.exit_at)
    trade_rows = trade_records(trips, UTC)
    tags = ("breakout", "pullback", "news", "fomo", "a+ setup")
    for index, row in enumerate(trade_rows):
        if index % 10 == 0:
            row.update(
                setup=rng.choice(("ORB", "VWAP", "trend")),
                tags=rng.choice(tags),
                rating=str(rng.randint(1, 5)),
                notes="followed the plan" if rng.random() < 0.5 else "",
            )

    flows: list[dict[str, str]] = []
    flow_times = []
    moment = start + timedelta(days=10)
    while moment < end:
        deposit = rng.random() < 0.7
        amount = Decimal(rng.randrange(1000, 20000, 500))
        flows.append(
            {
                "flow_at": _when(moment),
                "broker": "paper",
                "account": "main",
                "kind": "deposit" if deposit else "withdrawal",
                "amount": str(amount),
                "currency": "USD",
                "source": "manual",
                "reference": f"bench-{len(flows)}",
                "note": "",
            }
        )
        flow_times.append((moment, amount if deposit else -amount))
        moment += timedelta(days=rng.randint(14, 28))

    snapshot_rows: list[dict[str, str]] = []
    equity = Decimal(100000)
    trip_index = flow_index = 0
    for hour in range(snapshots):
        taken = start + timedelta(hours=hour)
        while trip_index < len(trips) and trips[trip_index].exit_at <= taken:
            equity += trips[trip_index].pnl
            trip_index += 1
        while flow_index < len(flow_times) and flow_times[flow_index][0] <= taken:
            equity += flow_times[flow_index][1]
            flow_index += 1
        open_value = Decimal(f"{rng.gauss(0, 150):.2f}")
        snapshot_rows.append(
            {
                "taken_at": _when(taken),
                "broker": "paper",
                "account": "main",
                "equity": str(equity + open_value),
                "cash": str(equity - 20000),
                "positions_value": str(Decimal(20000) + open_value),
                "currency": "USD",
            }
        )

    signals, orders = [], []
    for number in range(5000):
        received = end - timedelta(minutes=5 * (5000 - number))
        symbol, timeframe = rng.choice(SYMBOLS), rng.choice(TIMEFRAMES)
        result = rng.choices(("success", "skipped", "duplicate", "rejected"), weights=(85, 8, 5, 2))[0]
        signals.append(
            {
                "received_at": _when(received),
                "alert_id": f"a{number}",
                "action": rng.choice(("buy", "sell")),
                "symbol": symbol,
                "timeframe": timeframe,
                "price": f"{prices[symbol]:.2f}",
                "result": result,
                "reason": "" if result == "success" else "ALREADY LONG",
                "latency_ms": f"{rng.lognormvariate(1.2, 0.5):.1f}",
                "signal_id": str(number + 1),
            }
        )
        orders.append(
            {
                "submitted_at": _when(received),
                "order_id": f"paper-{number}",
                "client_order_id": f"c{number}",
                "broker": "paper",
                "symbol": symbol,
                "timeframe": timeframe,
                "side": "buy",
                "qty": "10",
                "notional": f"{prices[symbol] * 10:.2f}",
                "status": "filled",
                "filled_qty": "10",
                "filled_avg_price": f"{prices[symbol]:.2f}",
                "filled_at": _when(received + timedelta(seconds=1)),
                "reason": "",
            }
        )
    config = [
        {
            "symbol": symbol,
            "position_size": "1000",
            "active": "TRUE",
            "Time Frame": timeframe,
            "size_type": "usd",
            "direction": "both",
            "Order Status": "FILLED",
            "Position": str(rng.choice((0, 0, 5, -5))),
        }
        for symbol in SYMBOLS
        for timeframe in TIMEFRAMES
    ]

    data_dir.mkdir(parents=True, exist_ok=True)
    workbook = LocalWorkbook(data_dir / "workbook.db")
    try:
        workbook.ensure_tabs(all_specs())
        for tab, rows in (
            ("Trades", trade_rows),
            ("Snapshots", snapshot_rows),
            ("CashFlows", flows),
            ("Signals", signals),
            ("Orders", orders),
            ("Config", config),
        ):
            workbook.replace_rows(tab, rows)
    finally:
        workbook.close()
    bars = data_dir / "bars"
    bars.mkdir(exist_ok=True)
    for symbol in ("AAPL", "SPY"):
        lines = ["date,open,high,low,close,volume"]
        price = prices[symbol]
        day = start.date()
        while day <= end.date():
            change = rng.gauss(0.0004, 0.012)
            high, low = price * (1 + abs(change) + 0.003), price * (1 - abs(change) - 0.003)
            close = price * (1 + change)
            lines.append(f"{day},{price:.2f},{high:.2f},{low:.2f},{close:.2f},1000000")
            price = close
            day += timedelta(days=1)
        (bars / f"{symbol}.csv").write_text("\n".join(lines) + "\n")


def measure(data_dir: Path, repeat: int) -> list[tuple[str, float, float]]:
    """``(page, cold seconds, warm seconds)`` per page; the median of ``repeat`` runs each."""
    os.environ["BOT_DATA_DIR"] = str(data_dir)
    os.environ["DASHBOARD_BOT_URL"] = "http://127.0.0.1:9"  # nothing listens: health falls back to Signals
    os.environ.pop("DASHBOARD_PASSWORD", None)
    os.chdir(ROOT)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    results = []
    for name, path in PAGES:
        cold, warm = [], []
        for _ in range(repeat):
            app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
            app.run()  # st.navigation must run once before a page can be chosen
            st.cache_data.clear()  # so the timed run reads and prepares every tab it shows
            app.switch_page(path)
            started = time.perf_counter()
            app.run()
            cold.append(time.perf_counter() - started)
            if app.exception:
                raise SystemExit(f"{name}: {app.exception[0].message}")
            started = time.perf_counter()
            app.run()
            warm.append(time.perf_counter() - started)
        results.append((name, statistics.median(cold), statistics.median(warm)))
    return results


URL_PATHS = {
    "Overview": "",
    "Journal": "journal",
    "Performance": "performance",
    "TWR": "twr",
    "Calendar": "calendar",
    "Calculator": "calculator",
    "Config": "config",
    "Signals & Orders": "signals",
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SETTLED = """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState === 'notRunning'
    && document.querySelector('h1')
    && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .every(el => el.querySelector('canvas, svg') && el.getBoundingClientRect().height > 40)"""


def measure_browser(data_dir: Path, repeat: int) -> list[tuple[str, float, float]]:
    """``(page, cold, warm)`` seconds in headless Chromium, until the run is over and charts are drawn.

    The end of a run is the server's ``script_finished`` message on the page's websocket.

    ``cold``: press *Refresh data* on the page (every cache cleared: it reads and prepares its tabs
    again); ``warm``: go to another page and click back in the sidebar (data cached). Each is timed
    until a script run the action started is over and every chart is drawn. Medians of ``repeat``.
    """
    import subprocess

    from _server import free_port
    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    chromium = (
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    env = {**os.environ, "BOT_DATA_DIR": str(data_dir), "DASHBOARD_BOT_URL": "http://127.0.0.1:9"}
    env.pop("DASHBOARD_PASSWORD", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = []
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(),
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1400, "height": 1000},
            )
            page = context.new_page()
            finished = [0]  # script runs the server reported finished (ForwardMsg.script_finished)

            def on_frame(payload: bytes | str) -> None:
                if isinstance(payload, bytes):
                    message = ForwardMsg.FromString(payload)
                    if message.WhichOneof("type") == "script_finished" and message.script_finished in (
                        ForwardMsg.FINISHED_SUCCESSFULLY,
                        ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                    ):
                        finished[0] += 1

            page.on("websocket", lambda socket_: socket_.on("framereceived", on_frame))
            deadline = time.monotonic() + 60
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            page.wait_for_function(SETTLED, timeout=120000)

            def settle_after(action: object) -> float:
                """Seconds from ``action`` until a script run it started has finished and charts are drawn."""
                before = finished[0]
                started = time.perf_counter()
                action()  # type: ignore[operator]
                while finished[0] == before:
                    page.wait_for_timeout(5)
                    if time.perf_counter() - started > 120:
                        raise TimeoutError("no script run finished")
                page.wait_for_function(SETTLED, timeout=120000)
                return time.perf_counter() - started

            def click_page(path: str) -> None:
                selector = (
                    f'[data-testid="stSidebarNav"] a[href$="/{path}"]'
                    if path
                    else ('[data-testid="stSidebarNav"] a >> nth=0')
                )
                page.click(selector)

            for name, path in URL_PATHS.items():
                cold, warm = [], []
                other = "config" if path != "config" else "calculator"
                for _ in range(repeat):
                    settle_after(lambda other=other: click_page(other))  # clicking the current page does nothing
                    settle_after(lambda path=path: click_page(path))
                    cold.append(settle_after(lambda: page.get_by_role("button", name="Refresh data").click()))
                    settle_after(lambda other=other: click_page(other))
                    warm.append(settle_after(lambda path=path: click_page(path)))
                results.append((name, statistics.median(cold), statistics.median(warm)))
            context.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10000)
    parser.add_argument("--snapshots", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        build_workbook(data_dir, trades=args.trades, snapshots=args.snapshots)
        print(
            f"workbook: {args.trades:,} trades, {args.snapshots:,} snapshots, 5,000 signals/orders "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        results = measure(data_dir, args.repeat)
        browser = [] if args.no_browser else measure_browser(data_dir, args.repeat)
    print("\nServer-side script run (AppTest), seconds:")
    _table(results)
    if browser:
        print("\nHeadless Chromium, click → run over and charts drawn, seconds:")
        _table(browser)


def _table(results: list[tuple[str, float, float]]) -> None:
    print(f"{'page':<18} {'cold':>6} {'warm':>6}   target ≤ 2 s")
    for name, cold, warm in results:
        flag = "" if max(cold, warm) <= 2.0 else "  OVER TARGET"
        print(f"{name:<18} {cold:>6.2f} {warm:>6.2f}{flag}")


if __name__ == "__main__":
    main()
