"""Faults: kill -9 during a burst; the venue failing and hanging. Nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from support.helpers import SECRET, TOKEN
from support.server import bot_env, free_port, start_bot
from support.venues import alpaca_services

if TYPE_CHECKING:

    pass

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

SYMBOLS = [f"K{i}" for i in range(40)]
CLIENTS = 4


def _env(data: Path) -> dict[str, str]:
    """The bot's test environment, with a webhook rate limit no burst here reaches."""
    return bot_env(data, WEBHOOK_RATE_LIMIT="100000/second")


def _alerts() -> list[list[dict[str, Any]]]:
    """Per client: its symbols' alerts in order (buy, sell, buy, …: every alert places an order)."""
    per_client: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
    for cycle in range(25):
        for index, symbol in enumerate(SYMBOLS):
            per_client[index % CLIENTS].append(
                {
                    "secret": SECRET,
                    "action": "buy" if cycle % 2 == 0 else "sell",
                    "symbol": symbol,
                    "timeframe": "1h",
                    "price": str(100 + cycle),
                    "id": f"{symbol}-{cycle}",
                }
            )
    return per_client


def _send_all(port: int, per_client: list[list[dict[str, Any]]], acks: dict[str, dict[str, Any]]) -> None:
    def run(alerts: list[dict[str, Any]]) -> None:
        with requests.Session() as session:
            for alert in alerts:
                try:
                    reply = session.post(f"http://127.0.0.1:{port}/webhook", data=json.dumps(alert), timeout=10)
                except requests.RequestException:
                    return  # the server died: this client stops, like TradingView would not retry
                if reply.status_code == 200:
                    acks[alert["id"]] = reply.json()

    threads = [threading.Thread(target=run, args=(alerts,)) for alerts in per_client]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_kill_9_during_a_burst_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "config.csv"
    config.write_text(
        "symbol,position_size,active,Time Frame,size_type\n" + "".join(f"{s},1,TRUE,1h,qty\n" for s in SYMBOLS)
    )
    subprocess.run(
        [sys.executable, "-m", "bot", "import", "Config", str(config), "--replace"],
        env=_env(data),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    server = start_bot(data, port, _env(data))
    db = data / "state.db"
    per_client = _alerts()
    acks: dict[str, dict[str, Any]] = {}
    sender = threading.Thread(target=_send_all, args=(port, per_client, acks))
    sender.start()
    deadline = time.monotonic() + 120
    while _count(db, "SELECT count(*) FROM signals") < 300 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(server.pid, signal.SIGKILL)  # gunicorn master and worker, no clean-up
    server.wait(timeout=30)
    sender.join(timeout=60)
    assert 100 <= len(acks) < 1000, "the kill landed in the middle of the burst"

    server = start_bot(data, port, _env(data))  # start-up recovery runs here
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            accepted = dict(
                conn.execute(
                    "SELECT alert_id, count(*) FROM signals WHERE result NOT IN ('duplicate', 'rejected') "
                    "GROUP BY alert_id"
                ).fetchall()
            )
            doubled = conn.execute(
                "SELECT count(*) FROM (SELECT signal_id FROM orders GROUP BY signal_id HAVING count(*) > 1)"
            ).fetchone()[0]
            pending = conn.execute("SELECT count(*) FROM orders WHERE state = 'pending'").fetchone()[0]
        for alert_id, reply in acks.items():  # every alert answered 200 has exactly one outcome
            assert accepted.get(alert_id) == 1, alert_id
            assert reply["status"] == "success" and reply["order_status"] in ("FILLED", "WAITING")
        assert all(count == 1 for count in accepted.values())
        assert doubled == 0 and pending == 0

        # TradingView does not retry, but an owner might resend everything: nothing may trade twice
        resent: dict[str, dict[str, Any]] = {}
        _send_all(port, per_client, resent)
        assert all(resent[alert_id]["status"] == "duplicate" for alert_id in acks)
        positions = requests.get(
            f"http://127.0.0.1:{port}/positions", timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert _count(db, "SELECT count(*) FROM orders") == 1000  # one order per alert, each exactly once
    assert _count(db, "SELECT count(DISTINCT client_order_id) FROM orders") == 1000
    assert _count(db, "SELECT count(*) FROM fills") == 1000
    # 25 alerts per symbol ending with a buy: every slot is long 1, and the venue holds what the slots say
    assert {p["symbol"]: Decimal(p["qty"]) for p in positions["positions"]} == {s: Decimal(1) for s in SYMBOLS}


def test_venue_failing_and_hanging_never_doubles_an_order_and_reports_failures(tmp_path: Path) -> None:
    from bot.trading.tracker import OrderTracker

    symbols = [f"V{i}" for i in range(6)]
    with alpaca_services(tmp_path, dict.fromkeys(symbols, "50"), position_size="2", timeout=0.5) as (fake, services):
        # the venue answers 500 to every order for a while, and loses some answers after acting on them
        fake.fail_next(500, times=7)
        for _ in range(3):
            fake.hang_next(1.0)
        replies = []
        for index, symbol in enumerate(symbols):
            body = json.dumps(
                {
                    "secret": SECRET,
                    "action": "buy",
                    "symbol": symbol,
                    "timeframe": "1h",
                    "price": 50,
                    "id": f"v{index}",
                }
            ).encode()
            replies.append(services.engine.handle(body))
        assert all(r.http_status in (200, 202) for r in replies)
        tracker = OrderTracker(services.engine, unknown_after=0.0)
        deadline = time.monotonic() + 30
        while services.engine.open_order_details() and time.monotonic() < deadline:
            tracker.poll_once()
            time.sleep(0.1)
        assert services.engine.open_order_details() == []  # every order resolved, none left hanging
        venue = fake.orders()
        ids = [o["client_order_id"] for o in venue]
        assert len(ids) == len(set(ids))  # never two orders for one alert
        services.writer.flush()
        rows = {r["symbol"]: r for r in services.workbook.read_tables(["Config"])["Config"].rows}
        filled = {s for s, r in rows.items() if r["Order Status"] == "FILLED"}
        failed = {s for s, r in rows.items() if r["Order Status"] == "FAILED"}
        assert filled | failed == set(symbols)
        assert failed and len(filled) >= 3  # outright failures, and orders that survived lost answers
        assert all(rows[s]["Note"] for s in failed)  # each failure says why
        assert {s for s in symbols if fake.position(s) == Decimal(2)} == filled  # venue agrees with the rows
        assert len(venue) == len(filled)


def test_a_hanging_venue_gets_202_in_time_and_the_order_completes_in_the_background(tmp_path: Path) -> None:
    from bot.trading.tracker import OrderTracker

    with alpaca_services(tmp_path, {"AAPL": "190"}, position_size="3", timeout=10.0) as (fake, services):
        settings_rows = services.workbook.read_tables(["Settings"])["Settings"].rows
        services.workbook.replace_rows(
            "Settings",
            [{**r, "value": "0.5"} if r["key"] == "broker_reply_deadline_seconds" else r for r in settings_rows],
        )
        services.config.invalidate()
        fake.hang_next(4.0)  # the venue takes 4 s to answer
        body = json.dumps(
            {"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "1h", "price": 190}
        ).encode()
        started = time.perf_counter()
        reply = services.engine.handle(body)
        assert time.perf_counter() - started < 1.5  # well inside TradingView's 3 s
        assert (reply.http_status, reply.body["order_status"]) == (202, "ORDER SUBMITTED")
        services.writer.flush()
        row = services.workbook.read_tables(["Config"])["Config"].rows[0]
        assert row["Order Status"] == "ORDER SUBMITTED"
        # a second alert for the same symbol waits for the first to finish, then sees the long slot
        again = json.dumps(
            {"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "1h", "price": 191}
        ).encode()
        assert services.engine.handle(again).body["order_status"] == "ALREADY LONG"
        tracker = OrderTracker(services.engine)
        deadline = time.monotonic() + 20
        while services.engine.open_order_details() and time.monotonic() < deadline:
            tracker.poll_once()  # the fill is picked up by the order tracker, no fixed sleep
            time.sleep(0.1)
        services.writer.flush()
        row = services.workbook.read_tables(["Config"])["Config"].rows[0]
        assert (row["Position"], len(fake.orders())) == ("3", 1)
