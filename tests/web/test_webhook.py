"""The core loop through the real Flask app, engine, paper broker, state DB and local workbook."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.helpers import SECRET, TOKEN, config_rows, make_settings, set_config, tab_rows

from bot.brokers.base import Capabilities
from bot.brokers.paper import PaperBroker
from bot.domain import SlotKey
from bot.services import Services, build_services
from bot.state.models import FillRecord, OrderRecord, SignalRecord

ROWS = [
    {"symbol": "AAPL", "position_size": "10", "active": "TRUE", "Time Frame": "1D", "size_type": "qty"},
    {"symbol": "AAPL", "position_size": "5", "active": "TRUE", "Time Frame": "1W", "size_type": "qty"},
    {"symbol": "BTCUSDT", "position_size": "500", "active": "TRUE", "Time Frame": "15", "direction": "long"},
    {"symbol": "ETHUSDT", "position_size": "250", "active": "FALSE", "Time Frame": "1h"},
]


@pytest.fixture(autouse=True)
def _rows(services: Services) -> None:
    set_config(services, ROWS)


def orders(services: Services) -> list[OrderRecord]:
    with services.store.session() as s:
        return list(s.scalars(select(OrderRecord).order_by(OrderRecord.id)))


def paper_positions(services: Services) -> dict[str, Decimal]:
    return services.brokers.get("paper").positions()


def slot_qty(services: Services, symbol: str, timeframe: str) -> Decimal:
    with services.store.session() as s:
        slot = services.store.slot(s, SlotKey(symbol, timeframe))
        return slot.qty


# -- statuses ----------------------------------------------------------------------------------


def test_buy_fills_and_writes_row_orders_and_signals(services: Services, post: Any) -> None:
    status, reply = post(action="buy", symbol="NASDAQ:AAPL", timeframe="D", price=190.25, id="a1")
    assert status == 200
    assert reply["status"] == "success" and reply["order_status"] == "FILLED"
    assert (reply["action"], reply["symbol"], reply["timeframe"], reply["qty"]) == ("buy", "AAPL", "1d", "10")
    row = config_rows(services)[("AAPL", "1D")]
    assert row["Order Status"] == "FILLED"
    assert row["Position"] == "10"
    assert row["Last Order ID"] == reply["order_id"]
    assert row["Last Signal"].startswith("buy @ 190.25")
    assert row["Last Updated"] and row["Note"] == ""
    [order_row] = tab_rows(services, "Orders")
    assert order_row["side"] == "buy" and order_row["qty"] == "10" and order_row["status"] == "filled"
    assert order_row["notional"] == "1902.5" and order_row["filled_avg_price"] == "190.25"
    assert order_row["client_order_id"] == reply["client_order_id"]
    [signal_row] = tab_rows(services, "Signals")
    assert signal_row["result"] == "success" and signal_row["alert_id"] == "a1" and signal_row["latency_ms"]
    assert paper_positions(services) == {"AAPL": Decimal(10)}


def test_already_long_and_already_short_place_no_order(services: Services, post: Any) -> None:
    post(action="buy", symbol="AAPL", timeframe="1d", price=100)
    status, reply = post(action="buy", symbol="AAPL", timeframe="1d", price=101)
    assert (status, reply["status"], reply["order_status"]) == (200, "skipped", "ALREADY LONG")
    post(action="sell", symbol="AAPL", timeframe="1w", price=100)
    _, reply = post(action="short", symbol="AAPL", timeframe="1w", price=99)
    assert reply["order_status"] == "ALREADY SHORT"
    assert len(orders(services)) == 2
    rows = config_rows(services)
    assert rows[("AAPL", "1D")]["Order Status"] == "ALREADY LONG"
    assert rows[("AAPL", "1W")]["Order Status"] == "ALREADY SHORT"


def test_reversal_is_one_net_order(services: Services, post: Any) -> None:
    post(action="buy", symbol="AAPL", timeframe="1d", price=100)
    _, reply = post(action="sell", symbol="AAPL", timeframe="1d", price=110)
    assert reply["order_status"] == "FILLED" and reply["qty"] == "20"
    assert slot_qty(services, "AAPL", "1d") == Decimal(-10)
    last = orders(services)[-1]
    assert (last.side, last.qty, last.purpose, last.reduce_only) == ("sell", Decimal(20), "reversal", False)
    assert config_rows(services)[("AAPL", "1D")]["Position"] == "-10"


def test_close_goes_flat_then_waiting(services: Services, post: Any) -> None:
    post(action="sell", symbol="AAPL", timeframe="1d", price=100)
    _, reply = post(action="exit", symbol="AAPL", timeframe="1d", price=90)
    assert reply["order_status"] == "WAITING" and reply["status"] == "success"
    assert orders(services)[-1].reduce_only is True
    _, again = post(action="close", symbol="AAPL", timeframe="1d", price=90)
    assert (again["status"], again["order_status"]) == ("skipped", "WAITING")
    assert "already flat" in again["reason"]
    row = config_rows(services)[("AAPL", "1D")]
    assert row["Position"] == "0" and "already flat" in row["Note"]
    assert len(orders(services)) == 2


def test_two_timeframes_on_one_symbol_do_not_disturb_each_other(services: Services, post: Any) -> None:
    post(action="buy", symbol="AAPL", timeframe="1d", price=100)
    post(action="sell", symbol="AAPL", timeframe="1w", price=100)
    assert slot_qty(services, "AAPL", "1d") == 10 and slot_qty(services, "AAPL", "1w") == -5
    assert paper_positions(services) == {"AAPL": Decimal(5)}  # the venue sees the net
    post(action="close", symbol="AAPL", timeframe="1d", price=105)
    assert slot_qty(services, "AAPL", "1d") == 0 and slot_qty(services, "AAPL", "1w") == -5
    assert paper_positions(services) == {"AAPL": Decimal(-5)}
    rows = config_rows(services)
    assert rows[("AAPL", "1D")]["Order Status"] == "WAITING"
    assert rows[("AAPL", "1W")]["Order Status"] == "FILLED" and rows[("AAPL", "1W")]["Position"] == "-5"


def test_long_only_row_sell_only_closes(services: Services, post: Any) -> None:
    _, reply = post(action="sell", symbol="BTCUSDT", timeframe="15m", price=60000)
    assert (reply["status"], reply["order_status"]) == ("skipped", "WAITING")
    assert "direction long" in reply["reason"]
    _, buy = post(action="buy", symbol="BINANCE:BTCUSDT", timeframe="15", price=60000)
    assert buy["qty"] == "0.008333"  # 500 / 60000 rounded down to the paper step 0.000001
    _, sell = post(action="sell", symbol="BTCUSDT", timeframe="15", price=61000)
    assert sell["order_status"] == "WAITING" and slot_qty(services, "BTCUSDT", "15m") == 0


def test_inactive_and_missing_rows_are_skipped_with_reason(services: Services, post: Any) -> None:
    _, reply = post(action="buy", symbol="ETHUSDT", timeframe="60", price=3000)
    assert (reply["status"], reply["order_status"]) == ("skipped", "INACTIVE")
    _, reply = post(action="buy", symbol="TSLA", timeframe="5", price=200)
    assert reply["status"] == "skipped" and reply["reason"] == "no Config row for TSLA 5m"
    assert orders(services) == []
    assert config_rows(services)[("ETHUSDT", "1h")]["Order Status"] == "INACTIVE"
    results = [r["result"] for r in tab_rows(services, "Signals")]
    assert results == ["skipped", "skipped"]


def test_statuses_written_on_config_load(services: Services) -> None:
    set_config(
        services,
        [
            *ROWS,
            {"symbol": "MSFT", "position_size": "5k", "active": "TRUE", "Time Frame": "1d"},
            {"symbol": "NVDA", "position_size": "100", "active": "TRUE", "Time Frame": ""},
            {"symbol": "AMD", "position_size": "100", "active": "TRUE", "Time Frame": "1h", "size_type": "risk_pct"},
            {"symbol": "META", "position_size": "100", "active": "TRUE", "Time Frame": "1h", "broker": "alpaca"},
        ],
    )
    rows = config_rows(services)
    assert rows[("AAPL", "1D")]["Order Status"] == "READY"
    assert rows[("ETHUSDT", "1h")]["Order Status"] == "INACTIVE"
    assert rows[("MSFT", "1d")]["Order Status"] == "CONFIG ERROR"
    assert "position_size: '5k' is not a number" in rows[("MSFT", "1d")]["Note"]
    assert rows[("NVDA", "")]["Order Status"] == "CONFIG ERROR" and "Time Frame is blank" in rows[("NVDA", "")]["Note"]
    assert "risk_pct needs stop_loss_pct" in rows[("AMD", "1h")]["Note"]
    assert rows[("META", "1h")]["Order Status"] == "READY"  # broker checked when trading


def test_config_error_rows_refuse_alerts(services: Services, post: Any) -> None:
    set_config(
        services,
        [
            *ROWS,
            {"symbol": "MSFT", "position_size": "5k", "active": "TRUE", "Time Frame": "1d"},
            {"symbol": "QQQ", "position_size": "1", "active": "TRUE", "Time Frame": "1d"},
            {"symbol": "QQQ", "position_size": "2", "active": "TRUE", "Time Frame": "D"},
            {"symbol": "META", "position_size": "100", "active": "TRUE", "Time Frame": "1h", "broker": "alpaca"},
        ],
    )
    _, reply = post(action="buy", symbol="MSFT", timeframe="1d", price=400)
    assert (reply["status"], reply["order_status"]) == ("skipped", "CONFIG ERROR")
    assert "'5k'" in reply["reason"]
    _, reply = post(action="buy", symbol="QQQ", timeframe="1d", price=400)
    assert reply["order_status"] == "CONFIG ERROR" and "duplicate row for QQQ 1d" in reply["reason"]
    _, reply = post(action="buy", symbol="META", timeframe="1h", price=400)
    assert reply["order_status"] == "CONFIG ERROR" and "ALPACA_API_KEY" in reply["reason"]
    assert orders(services) == []
    assert config_rows(services)[("META", "1h")]["Order Status"] == "CONFIG ERROR"


def test_strategy_filter(services: Services, post: Any) -> None:
    set_config(
        services,
        [
            {
                "symbol": "AAPL",
                "position_size": "1",
                "active": "TRUE",
                "Time Frame": "1d",
                "size_type": "qty",
                "strategy": "ma-cross",
            }
        ],
    )
    _, reply = post(action="buy", symbol="AAPL", timeframe="1d", price=1, strategy="rsi")
    assert reply["status"] == "skipped" and "'rsi' does not match the row's 'ma-cross'" in reply["reason"]
    _, reply = post(action="buy", symbol="AAPL", timeframe="1d", price=1, strategy="ma-cross")
    assert reply["order_status"] == "FILLED"


def test_failed_without_price_or_when_size_rounds_to_zero(services: Services, post: Any) -> None:
    _, reply = post(action="buy", symbol="AAPL", timeframe="1d")
    assert (reply["status"], reply["order_status"]) == ("skipped", "FAILED")
    assert '"price": {{close}}' in reply["reason"]
    set_config(services, [{"symbol": "BTCUSDT", "position_size": "0.5", "active": "TRUE", "Time Frame": "15"}])
    _, reply = post(action="buy", symbol="BTCUSDT", timeframe="15", price=60000)
    assert reply["order_status"] == "FAILED" and "below the venue minimum 1" in reply["reason"]
    set_config(
        services,
        [
            {
                "symbol": "BTCUSDT",
                "position_size": "0.00000001",
                "active": "TRUE",
                "Time Frame": "15",
                "size_type": "qty",
            }
        ],
    )
    _, reply = post(action="buy", symbol="BTCUSDT", timeframe="15", price=60001)
    assert reply["order_status"] == "FAILED" and "rounds to zero" in reply["reason"]
    assert orders(services) == []
    assert config_rows(services)[("BTCUSDT", "15")]["Order Status"] == "FAILED"


def test_kill_switch_blocks(services: Services, post: Any) -> None:
    set_config(services, ROWS, {"trading_enabled": "FALSE"})
    _, reply = post(action="buy", symbol="AAPL", timeframe="1d", price=100)
    assert (reply["status"], reply["order_status"]) == ("skipped", "BLOCKED")
    assert orders(services) == [] and config_rows(services)[("AAPL", "1D")]["Order Status"] == "BLOCKED"
    assert tab_rows(services, "Signals")[-1]["result"] == "blocked"


@pytest.mark.parametrize(
    ("row", "price", "expected_qty", "note"),
    [
        ({"position_size": "1000"}, "300", "3.333333", ""),
        ({"position_size": "10", "size_type": "pct_equity"}, "250", "40", ""),  # 10 % of 100,000 = 10,000
        ({"position_size": "1", "size_type": "risk_pct", "stop_loss_pct": "2"}, "100", "500", ""),  # 1000 / 2
        ({"position_size": "5000", "max_position_usd": "1000"}, "100", "10", "capped at max_position_usd 1000"),
    ],
)
def test_sizing(services: Services, post: Any, row: dict[str, str], price: str, expected_qty: str, note: str) -> None:
    set_config(services, [{"symbol": "SPY", "active": "TRUE", "Time Frame": "1h", **row}])
    _, reply = post(action="buy", symbol="SPY", timeframe="1h", price=Decimal(price))
    assert reply["qty"] == expected_qty and reply["order_status"] == "FILLED"
    assert note in reply["reason"]


def test_alert_quantity_overrides_sizing(services: Services, post: Any) -> None:
    _, reply = post(action="buy", symbol="AAPL", timeframe="1d", price=100, quantity="3")
    assert reply["qty"] == "3"


def test_replay_fills_at_the_alert_time(services: Services, post: Any) -> None:
    post(
        action="buy",
        symbol="AAPL",
        timeframe="1d",
        price=100,
        time="2012-03-05T21:00:00Z",
        headers={"X-Bot-Replay": "1"},
    )
    [fill] = services.store.fills()
    assert fill.filled_at.isoformat() == "2012-03-05T21:00:00+00:00"


# -- duplicates --------------------------------------------------------------------------------


def test_duplicate_id_and_duplicate_body(services: Services, post: Any) -> None:
    post(action="buy", symbol="AAPL", timeframe="1d", price=100, id="x-1")
    post(action="close", symbol="AAPL", timeframe="1d", price=100, id="x-2")
    _, dup = post(action="buy", symbol="AAPL", timeframe="1d", price=100, id="x-1")
    assert dup["status"] == "duplicate" and "duplicate of signal" in dup["reason"]
    body = {"action": "buy", "symbol": "AAPL", "timeframe": "1w", "price": 100}
    post(**body)
    _, dup = post(**body)
    assert dup["status"] == "duplicate"
    assert len(orders(services)) == 3
    assert [r["result"] for r in tab_rows(services, "Signals")].count("duplicate") == 2


def test_concurrent_copies_place_one_order(services: Services, client: Any) -> None:
    raw = json.dumps({"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "1d", "price": 100})
    barrier = threading.Barrier(12)
    replies: list[dict[str, Any]] = []

    def send() -> None:
        barrier.wait()
        replies.append(client.post("/webhook", data=raw).get_json())

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r["status"] for r in replies)
    assert statuses.count("success") == 1 and statuses.count("duplicate") == 11
    assert len(orders(services)) == 1 and paper_positions(services) == {"AAPL": Decimal(10)}


def test_concurrent_different_symbols_all_trade(services: Services, client: Any) -> None:
    set_config(
        services,
        [
            {"symbol": f"S{i}", "position_size": "1", "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}
            for i in range(10)
        ],
    )
    threads = [
        threading.Thread(
            target=lambda i=i: client.post(
                "/webhook",
                data=json.dumps({"secret": SECRET, "action": "buy", "symbol": f"S{i}", "timeframe": "60", "price": 10}),
            )
        )
        for i in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(orders(services)) == 10
    assert set(paper_positions(services)) == {f"S{i}" for i in range(10)}


# -- HTTP errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"", 400, "empty body"),
        (json.dumps({"secret": "wrong", "action": "buy"}).encode(), 401, "wrong secret"),
        (json.dumps({"action": "buy"}).encode(), 401, "missing secret"),
        (json.dumps({"secret": SECRET, "symbol": "AAPL", "timeframe": "1d"}).encode(), 400, "'action'"),
        (json.dumps({"secret": SECRET, "action": "buy", "timeframe": "1d"}).encode(), 400, "'symbol'"),
        (json.dumps({"secret": SECRET, "action": "buy", "symbol": "AAPL"}).encode(), 400, "'timeframe'"),
        (
            json.dumps({"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "1d", "price": "x"}).encode(),
            400,
            "'price'",
        ),
        (b"x" * (65 * 1024), 413, "too large"),
    ],
)
def test_bad_alerts_get_4xx_json_and_are_recorded(
    services: Services, client: Any, raw: bytes, status: int, fragment: str
) -> None:
    reply = client.post("/webhook", data=raw, content_type="application/json")
    assert reply.status_code == status
    assert fragment in reply.get_json()["error"]
    assert orders(services) == []
    if status != 413:
        with services.store.session() as s:
            rejected = select(func.count()).select_from(SignalRecord).where(SignalRecord.result == "rejected")
            assert s.scalar(rejected) == 1
        assert SECRET not in json.dumps(tab_rows(services, "Signals"))


def test_other_methods_and_paths_answer_json(client: Any) -> None:
    assert client.get("/webhook").status_code == 405
    assert client.get("/nope").get_json() == {
        "error": "The requested URL was not found on the server. If you entered "
        "the URL manually please check your spelling and try again."
    }


def test_api_requires_the_token(client: Any, post: Any) -> None:
    post(action="buy", symbol="AAPL", timeframe="1d", price=100)
    for path in ("/config", "/positions", "/performance"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    config = client.get("/config", headers=auth).get_json()
    assert config["config"] == {"AAPL 1d": 10, "AAPL 1w": 5, "BTCUSDT 15m": 500} and config["total"] == 3
    positions = client.get("/positions", headers=auth).get_json()
    assert positions["total"] == 1
    [aapl] = positions["positions"]
    assert (aapl["symbol"], aapl["qty"], aapl["side"], aapl["market_value"]) == ("AAPL", "10", "long", "1000")
    assert aapl["slots"] == [{"timeframe": "1d", "qty": "10", "avg_price": "100"}]
    health = client.get("/health").get_json()
    assert health["status"] == "ok" and health["mode"] == "paper" and health["active_configs"] == 3
    assert health["last_signal_at"] and SECRET not in json.dumps(health) and TOKEN not in json.dumps(health)


# -- durability --------------------------------------------------------------------------------


class _Crash(BaseException):
    """Stands in for the process dying between recording an order and sending it."""


class CrashingPaper(PaperBroker):
    """A paper broker whose first submission kills the 'process' before reaching the venue."""

    crashed = False

    def submit_order(self, request: Any) -> Any:
        if not CrashingPaper.crashed:
            CrashingPaper.crashed = True
            raise _Crash
        return super().submit_order(request)


def test_crash_between_record_and_send_is_recovered_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = build_services(settings)
    set_config(first, ROWS)
    first.close()
    crashing = build_services(settings, brokers={"paper": lambda: _paper(crashing, CrashingPaper)})
    raw = json.dumps(
        {"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "1d", "price": 100, "id": "crash-1"}
    ).encode()
    with pytest.raises(_Crash):
        crashing.engine.handle(raw)
    crashing.store.close()  # the process is gone: no clean shutdown
    restarted = build_services(settings)
    counts = restarted.engine.recover()
    assert counts["resent"] == 1
    assert restarted.engine.recover()["resent"] == 0  # running recovery again changes nothing
    reply = restarted.engine.handle(raw)
    assert reply.body["status"] == "duplicate"
    with restarted.store.session() as s:
        assert s.scalar(select(func.count()).select_from(FillRecord)) == 1
    assert restarted.brokers.get("paper").positions() == {"AAPL": Decimal(10)}
    assert config_rows(restarted)[("AAPL", "1D")]["Order Status"] == "FILLED"
    restarted.close()


def _paper(services: Services, cls: type[PaperBroker]) -> PaperBroker:
    """A paper venue driven like a remote one (record intent, then send), as Alpaca or Binance are."""
    broker = cls(services.store, services.settings.paper_starting_cash, lambda: services.config.get().runtime)
    broker.capabilities = Capabilities(inline_fills=False)
    return broker
