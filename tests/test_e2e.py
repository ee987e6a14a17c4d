"""End to end: the real server process, the example alert stream over HTTP, a kill -9 in the middle.

The Trades and Performance tabs must equal the round trips computed independently
(``support.reference_trades``) from the same alerts; nothing lost, nothing doubled.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from support.helpers import TOKEN
from support.reference_trades import simulate
from support.server import bot_env, free_port, start_bot

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "examples" / "alerts" / "ma_cross.jsonl"
CENT = Decimal("0.01")

pytestmark = pytest.mark.slow


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=bot_env(data), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _wait_for_signals(db: Path, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=5) as conn:
            if conn.execute("SELECT count(*) FROM signals").fetchone()[0] >= at_least:
                return
        time.sleep(0.005)
    raise AssertionError("replay did not progress")


def _api(port: int, method: str, path: str) -> Any:
    reply = requests.request(method, f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=30)
    reply.raise_for_status()
    return reply.json()


def test_replay_with_a_kill_in_the_middle_matches_the_reference(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines = ALERTS.read_text().splitlines()
    alerts = [json.loads(line) for line in lines]
    port = free_port()
    server = start_bot(data, port)
    try:
        # first part of the stream, then kill -9 while a second replay is in flight
        first = tmp_path / "first.jsonl"
        first.write_text("\n".join(lines[:20]) + "\n")
        result = _cli(data, "replay", str(first), "--url", f"http://127.0.0.1:{port}/webhook")
        assert result.returncode == 0, result.stderr
        replay = subprocess.Popen([sys.executable, "-m", "bot", "replay", str(ALERTS), "--url",
                                   f"http://127.0.0.1:{port}/webhook"], env=bot_env(data), cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for_signals(data / "state.db", at_least=35)  # the second replay is under way past line 20
        os.killpg(server.pid, signal.SIGKILL)  # gunicorn master and worker, no clean-up
        server.wait(timeout=30)
        replay.wait(timeout=60)
        # restart: recovery resolves anything in flight; the full replay then refuses what was done
        server = start_bot(data, port)
        result = _cli(data, "replay", str(ALERTS), "--url", f"http://127.0.0.1:{port}/webhook")
        assert result.returncode == 0, result.stderr
        assert "duplicate" in result.stdout
        _api(port, "POST", "/performance")
        config = {(r["symbol"], r["timeframe"]): r for r in _api(port, "GET", "/config")["rows"]}
        positions = _api(port, "GET", "/positions")
        performance = _api(port, "GET", "/performance")["performance"]
    finally:
        server.terminate()
        server.wait(timeout=30)

    reference = simulate(alerts, qty=Decimal(10))
    # every stream ends with a close: all slots flat, statuses WAITING, no position at the venue
    assert positions == {"positions": [], "total": 0}
    expected = {("AAPL", "1d"): "WAITING", ("AAPL", "1w"): "WAITING", ("MSFT", "1d"): "WAITING"}
    assert {k: v["status"] for k, v in config.items() if k[0] in ("AAPL", "MSFT")} == expected
    sheet = json.loads(_cli(data, "export", "Config", "--format", "json").stdout)
    assert {(r["symbol"], r["Time Frame"]): (r["Order Status"], r["Position"]) for r in sheet[:3]} == {
        ("AAPL", "1D"): ("WAITING", "0"), ("AAPL", "1W"): ("WAITING", "0"), ("MSFT", "D"): ("WAITING", "0")}

    exported = _cli(data, "export", "Orders", "--format", "json")
    orders = json.loads(exported.stdout)
    assert len(orders) == len(alerts)  # one order per alert: nothing lost, nothing doubled
    assert len({o["client_order_id"] for o in orders}) == len(orders)
    assert all(o["status"] == "filled" for o in orders)

    trades = json.loads(_cli(data, "export", "Trades", "--format", "json").stdout)
    got = sorted((t["symbol"], t["timeframe"], t["side"], Decimal(t["qty"]), Decimal(t["entry_price"]),
                  Decimal(t["exit_price"]), Decimal(t["pnl"]).quantize(CENT), t["entry_at"][:10]) for t in trades)
    want = sorted((t.symbol, t.timeframe, t.side, t.qty, t.entry_price, t.exit_price, t.pnl.quantize(CENT),
                   str(t.entry_time)[:10]) for t in reference.trips)
    assert got == want

    rows = {(r["symbol"], r["timeframe"]): r for r in performance}
    for symbol, totals in reference.by_symbol.items():
        row = rows[(symbol, "")]
        assert int(row["total_trades"]) == totals.trades
        assert int(row["winning_trades"]) == totals.wins and int(row["losing_trades"]) == totals.losses
        assert Decimal(row["total_pnl"]) == totals.pnl.quantize(CENT)
    total = rows[("TOTAL", "")]
    assert int(total["total_trades"]) == reference.total.trades == len(alerts) - 3
    assert Decimal(total["total_pnl"]) == reference.total.pnl.quantize(CENT)
