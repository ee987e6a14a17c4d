"""Acceptance: the example alert stream through Alpaca and through Binance futures ends like the paper run.

``examples/alerts/ma_cross.jsonl`` (AAPL daily + weekly, MSFT daily; 58 alerts) is posted to the
engine as normal alerts (not replays: the engine accepts replays only on the paper broker) three
times, each on a fresh bot built by :func:`bot.services.build_services`:

- paper (the embedded default, fills at the alert price),
- Alpaca through alpaca-py against the Alpaca fake,
- Binance USD-M futures through python-binance against the Binance fake (symbols mapped to
  ``AAPLUSDT``/``MSFTUSDT``, leverage 2),

with the fakes filling market orders at the alert's price. The order tracker polls between alerts
(as in production, no sleeping). All three must end with the same slots, the same Config statuses
and positions, and the same round trips (fees aside: pnl is compared gross of fees), and the venues
must hold exactly what the slots say (reconciliation finds no drift).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakes.alpaca_fake import AlpacaFake
from fakes.binance_fake import BinanceFake
from support.venues import alpaca_values, binance_values

from bot.analytics.round_trips import round_trips
from bot.brokers.alpaca.broker import AlpacaBroker
from bot.brokers.base import Broker
from bot.brokers.binance.broker import BinanceBroker
from bot.services import build_services
from bot.settings import Settings
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs
from bot.trading.reconcile import reconcile
from bot.trading.tracker import OrderTracker

ALERTS = Path(__file__).resolve().parents[2] / "examples" / "alerts" / "ma_cross.jsonl"
SECRET = "replay-Secret-123"
ROWS = (("AAPL", "1D"), ("AAPL", "1W"), ("MSFT", "D"))


@dataclass
class Outcome:
    """What a run ends with, symbols in their bare form (``AAPL``), for comparison across venues."""

    slots: list[tuple[str, str, Decimal, Decimal | None]]
    statuses: dict[tuple[str, str], tuple[str, str]]
    trips: list[tuple[str, str, str, Decimal, Decimal, Decimal, Decimal]]
    fees: Decimal
    replies: list[dict[str, Any]]


def run(
    tmp_path: Path,
    *,
    broker: str,
    settings_values: dict[str, Any],
    make_broker: Callable[[Settings], Broker] | None,
    before_alert: Callable[[str, str], None] = lambda symbol, price: None,
    suffix: str = "",
    leverage: str = "",
) -> Outcome:
    """Post every example alert to a fresh bot on ``broker`` and collect the outcome."""
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    workbook.ensure_tabs(all_specs())
    workbook.replace_rows(
        "Config",
        [
            {
                "symbol": symbol + suffix,
                "position_size": "10",
                "active": "TRUE",
                "Time Frame": timeframe,
                "size_type": "qty",
                "direction": "both",
                "leverage": leverage,
            }
            for symbol, timeframe in ROWS
        ],
    )
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_data_dir=tmp_path,
        bot_broker=broker,
        webhook_secret=SECRET,
        bot_api_token="replay-token-456",
        **settings_values,
    )
    brokers = {broker: lambda: make_broker(settings)} if make_broker else None
    services = build_services(settings, workbook=workbook, brokers=brokers, seed_examples=False)  # type: ignore[arg-type]
    tracker = OrderTracker(services.engine)
    replies = []
    try:
        for line in ALERTS.read_text(encoding="utf-8").splitlines():
            alert = json.loads(line, parse_float=str)
            symbol = alert["symbol"].split(":")[1]
            body = line.replace("{{SECRET}}", SECRET)
            if suffix:
                body = body.replace(f'"NASDAQ:{symbol}"', f'"BINANCE:{symbol}{suffix}.P"')
            before_alert(symbol + suffix, alert["price"])
            reply = services.engine.handle(body.encode())
            assert reply.http_status == 200, reply.body
            replies.append(reply.body)
            for _ in range(50):
                if not services.engine.open_order_details():
                    break
                tracker.poll_once()
            assert not services.engine.open_order_details(), "an order did not complete"
        assert reconcile(services) == []
        services.writer.flush()
        table = workbook.read_tables(["Config"])["Config"]
        statuses = {
            (r["symbol"].removesuffix(suffix) if suffix else r["symbol"], r["Time Frame"]): (
                r["Order Status"],
                r["Position"],
            )
            for r in table.rows
        }
        fills = services.store.fills()
        trips = [
            (
                t.symbol.removesuffix(suffix) if suffix else t.symbol,
                t.timeframe,
                t.side.value,
                t.qty,
                t.entry_price,
                t.exit_price,
                t.pnl + t.fees,
            )
            for t in round_trips(fills)
        ]
        slots = [
            (s.symbol.removesuffix(suffix) if suffix else s.symbol, s.timeframe, s.qty, s.avg_price)
            for s in services.store.slots()
        ]
        return Outcome(slots, statuses, trips, sum((f.fee for f in fills), start=Decimal(0)), replies)
    finally:
        services.close()


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return run(tmp_path_factory.mktemp("paper"), broker="paper", settings_values={}, make_broker=None)


def test_the_paper_run_is_the_known_answer(paper: Outcome) -> None:
    """Sanity of the baseline: 55 round trips (alerts minus streams), every slot flat and WAITING."""
    assert len(paper.trips) == 55
    assert [(s[0], s[1], s[2]) for s in paper.slots] == [
        ("AAPL", "1d", Decimal(0)),
        ("AAPL", "1w", Decimal(0)),
        ("MSFT", "1d", Decimal(0)),
    ]
    assert set(paper.statuses.values()) == {("WAITING", "0")}
    assert {r["status"] for r in paper.replies} == {"success"}


def test_alpaca_run_ends_like_the_paper_run(tmp_path: Path, paper: Outcome) -> None:
    with AlpacaFake() as fake:
        outcome = run(
            tmp_path,
            broker="alpaca",
            settings_values=alpaca_values(fake),
            make_broker=lambda settings: AlpacaBroker(settings, timeout=2.0, leg_wait_seconds=5.0),
            before_alert=fake.set_price,
        )
        client_ids = [o["client_order_id"] for o in fake.orders()]
        assert fake.order_posts == len(client_ids)  # no order was ever sent twice
        assert any(cid.endswith("-c") for cid in client_ids), "a long↔short flip was split"
        assert fake.position("AAPL") == 0 and fake.position("MSFT") == 0
    assert outcome.slots == paper.slots
    assert outcome.statuses == paper.statuses
    assert outcome.trips == paper.trips
    assert outcome.fees == 0


def test_binance_futures_run_ends_like_the_paper_run(tmp_path: Path, paper: Outcome) -> None:
    with BinanceFake() as fake:
        for symbol in ("AAPL", "MSFT"):
            fake.add_symbol(f"{symbol}USDT", symbol, step="0.001", min_qty="0.001", futures_min_notional="5")
        outcome = run(
            tmp_path,
            broker="binance-futures",
            settings_values=binance_values(fake),
            make_broker=lambda settings: BinanceBroker(settings, futures=True, timeout=2.0),
            before_alert=fake.set_price,
            suffix="USDT",
            leverage="2",
        )
        assert fake.leverage_calls == [("MSFTUSDT", 2), ("AAPLUSDT", 2)]  # once per symbol, before its first order
        assert fake.order_posts["futures"] == len(fake.orders(futures=True))
        assert fake.position("AAPLUSDT") == 0 and fake.position("MSFTUSDT") == 0
    assert outcome.slots == paper.slots
    assert outcome.statuses == paper.statuses
    assert outcome.trips == paper.trips
    assert outcome.fees > 0  # real commissions from userTrades (0.04 % in USDT)
