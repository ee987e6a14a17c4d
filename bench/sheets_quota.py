"""Sheets quota: a burst of alerts against the Google backend on a loopback fake of Sheets v4.

The real engine (``build_services`` with a ``GoogleWorkbook`` on the fake, paper broker, SQLite
state DB in a temp dir) receives ``--alerts`` alerts (default 200) within ``--burst`` seconds (1 s)
through the Flask app (``/webhook``; 8 client threads posting from TradingView's four addresses, so
the per-address flood limit is not what is measured) across ``--rows`` Config rows (50), while the
outbox writer runs on its thread (one flush per second at most, as in production). The fake answers
after ``--latency`` seconds (Google takes ~0.1-0.5 s) and enforces Google's quota of 60 requests per
minute per user (429 beyond it).

Prints: Sheets requests per alert (from the first alert until the sheet is consistent), the time
from the last alert until the sheet is consistent (every Signals/Orders row present, in order, once;
every Config row's Position as in the state DB), the most requests in any 60 s
window (start-up included) and the 429s received. Targets (issue): ≤ 0.05 requests per alert,
consistent within 5 s, never more than 60 requests in any 60 s window.

``--sustained SECONDS`` then keeps sending one alert every ``--interval`` seconds for that long to
show that the client-side budget keeps steady traffic under the quota too.

Run: ``.venv/bin/python bench/sheets_quota.py [--alerts 200] [--rows 50] [--latency 0.15]``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.domain import format_decimal  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.settings import TRADINGVIEW_IPS  # noqa: E402
from bot.sheets.google.auth import open_google_workbook  # noqa: E402
from bot.state.models import OrderRecord, SignalRecord, SlotRecord  # noqa: E402
from bot.web import create_app  # noqa: E402
from tests.fakes.sheets_fake import SheetsFake, google_settings  # noqa: E402

SECRET = "bench-secret"
CONFIG_HEADERS = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"]


def consistency_problems(services: object, fake: SheetsFake, sheet_id: str) -> list[str]:
    """What in the fake sheet differs from the state DB (empty list = consistent)."""
    store = services.store  # type: ignore[attr-defined]
    problems: list[str] = []
    if store.outbox_depth():
        problems.append(f"{store.outbox_depth()} outbox entries pending")
    with store.session() as s:
        signal_ids = [str(i) for i in s.scalars(select(SignalRecord.id).order_by(SignalRecord.id))]
        orders = [(o.client_order_id, o.state) for o in s.scalars(select(OrderRecord).order_by(OrderRecord.id))]
        slots = {(slot.symbol, slot.timeframe): format_decimal(slot.qty) for slot in s.scalars(select(SlotRecord))}
    sheet_signals = [r.get("signal_id", "") for r in fake.records(sheet_id, "Signals")]
    if sheet_signals != signal_ids:
        problems.append(f"Signals: {len(sheet_signals)} rows in the sheet, {len(signal_ids)} in the DB (or order)")
    sheet_orders = [(r.get("client_order_id", ""), r.get("status", "")) for r in fake.records(sheet_id, "Orders")]
    if sheet_orders != orders:
        problems.append(f"Orders: {len(sheet_orders)} rows in the sheet, {len(orders)} in the DB (or status/order)")
    for row in fake.records(sheet_id, "Config"):
        key = (row["symbol"], "15m")
        if key in slots and row.get("Position", "") != slots[key]:
            problems.append(f"Config {key}: Position {row.get('Position')!r}, DB {slots[key]}")
            break
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--burst", type=float, default=1.0, help="seconds over which the alerts are sent")
    parser.add_argument("--latency", type=float, default=0.15, help="fake Google reply time, seconds")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sustained", type=float, default=0.0, help="then send steadily for this many seconds")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between sustained alerts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with SheetsFake(latency=args.latency, quota_per_minute=60) as fake, tempfile.TemporaryDirectory() as tmp:
        config = [CONFIG_HEADERS] + [[f"SYM{i:02d}", "1000", "TRUE", "15", "", ""] for i in range(args.rows)]
        sheet_id = fake.create_spreadsheet({"Config": config})
        settings = google_settings(fake, sheet_id, Path(tmp), webhook_secret=SECRET)
        started = time.monotonic()
        workbook = open_google_workbook(settings, http_client=fake.http_client)
        services = build_services(settings, workbook=workbook)
        app = create_app(services=services)
        services.writer.start()
        startup_requests = len(fake.api_calls())
        deadline = time.monotonic() + 10  # let the start-up status writes (READY on every row) land first
        while services.store.outbox_depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        before_burst = len(fake.api_calls())

        bodies = []
        for i in range(args.alerts):
            row, cycle = i % args.rows, i // args.rows
            bodies.append(
                json.dumps(
                    {
                        "secret": SECRET,
                        "action": "buy" if cycle % 2 == 0 else "sell",
                        "symbol": f"SYM{row:02d}",
                        "timeframe": "15",
                        "price": 100 + cycle,
                        "id": f"bench-{i}",
                    }
                ).encode()
            )
        per_client = [bodies[c :: args.clients] for c in range(args.clients)]
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        burst_start = time.monotonic() + 0.05
        gap = args.burst / max(1, -(-args.alerts // args.clients))

        def client(mine: list[bytes], address: str) -> None:
            test_client = app.test_client()
            while time.monotonic() < burst_start:
                time.sleep(0.001)
            for n, body in enumerate(mine):
                target = burst_start + n * gap
                pause = target - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                reply = test_client.post(
                    "/webhook", data=body, content_type="text/plain", environ_base={"REMOTE_ADDR": address}
                )
                with lock:
                    statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

        # TradingView posts from four addresses; the webhook's per-address flood limit applies to each
        threads = [
            threading.Thread(target=client, args=(mine, TRADINGVIEW_IPS[c % len(TRADINGVIEW_IPS)]))
            for c, mine in enumerate(per_client)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        last_alert = time.monotonic()
        consistent_at = None
        problems: list[str] = []
        while time.monotonic() - last_alert < 60:
            problems = consistency_problems(services, fake, sheet_id)
            if not problems:
                consistent_at = time.monotonic()
                break
            time.sleep(0.05)
        burst_calls = fake.api_calls()[before_burst:]
        burst_requests = len(burst_calls)
        kinds: dict[str, int] = {}
        for call in burst_calls:
            kinds[call.kind] = kinds.get(call.kind, 0) + 1

        sustained_line = ""
        if args.sustained > 0:
            sustained_start = time.monotonic()
            test_client = app.test_client()
            count = 0
            while time.monotonic() - sustained_start < args.sustained:
                body = json.loads(bodies[count % len(bodies)])
                body["id"] = f"steady-{count}"
                body["action"] = "buy" if (count // args.rows) % 2 else "sell"
                test_client.post(
                    "/webhook",
                    data=json.dumps(body),
                    content_type="text/plain",
                    environ_base={"REMOTE_ADDR": TRADINGVIEW_IPS[count % len(TRADINGVIEW_IPS)]},
                )
                count += 1
                time.sleep(args.interval)
            deadline = time.monotonic() + 90
            while consistency_problems(services, fake, sheet_id) and time.monotonic() < deadline:
                time.sleep(0.1)
            calls = fake.api_calls(since=sustained_start)
            sustained_line = (
                f"sustained: {count} alerts over {args.sustained:.0f} s, {len(calls)} requests "
                f"({len(calls) / max(count, 1):.3f}/alert), max {fake.max_in_window(60.0, since=sustained_start)} "
                f"in any 60 s, consistent: {not consistency_problems(services, fake, sheet_id)}"
            )

        rejected = len(fake.api_calls(ok=False))
        window_max = fake.max_in_window(60.0)
        services.close()

    per_alert = burst_requests / args.alerts
    settle = (consistent_at - last_alert) if consistent_at is not None else float("nan")
    print(f"alerts: {args.alerts} in {last_alert - burst_start:.2f} s across {args.rows} rows; replies {statuses}")
    run = time.monotonic() - started
    print(f"start-up: {startup_requests} requests (token exchange: {fake.token_requests}); whole run {run:.1f} s")
    print(f"burst: {burst_requests} Sheets requests = {per_alert:.4f} per alert  (target <= 0.05)  {kinds}")
    print(
        f"consistent {settle:.2f} s after the last alert  (target <= 5 s)" + ("" if consistent_at else f": {problems}")
    )
    print(f"max requests in any 60 s window: {window_max}  (target <= 60); non-2xx answers: {rejected}")
    if sustained_line:
        print(sustained_line)
    ok = per_alert <= 0.05 and consistent_at is not None and settle <= 5 and window_max <= 60 and rejected == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
