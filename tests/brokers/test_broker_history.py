"""Account history of the real adapters against the loopback fakes: cash flows, balances, daily closes, clock.

The optional broker methods read by :mod:`bot.snapshots` (``balances()``, ``cash_flows(since)``),
:mod:`bot.report` (``daily_closes(symbol, start, end)``) and :mod:`bot.doctor` (``server_time()``),
through alpaca-py and python-binance pointed at ``tests/fakes/alpaca_fake.py`` and
``tests/fakes/binance_fake.py`` with their own URL hooks; nothing is patched. The last tests run the
snapshot job and the doctor on an Alpaca account served by the fake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakes.alpaca_fake import AlpacaFake
from fakes.binance_fake import BinanceFake
from support.helpers import make_settings as bot_settings
from support.helpers import tab_rows
from support.venues import alpaca_settings, alpaca_values, binance_settings

from bot.brokers.alpaca.broker import AlpacaBroker
from bot.brokers.binance.broker import BinanceBroker
from bot.doctor import clock_check, run_checks
from bot.errors import BrokerRejected, ConfigError, TemporaryError
from bot.records import Balance
from bot.report.benchmark import _fetch_closes
from bot.services import build_services, seed_workbook
from bot.settings import Settings
from bot.sheets.local import LocalWorkbook
from bot.snapshots import snapshot_job

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def alpaca_fake() -> Iterator[AlpacaFake]:
    with AlpacaFake() as server:
        yield server


@pytest.fixture
def alpaca(alpaca_fake: AlpacaFake) -> Iterator[AlpacaBroker]:
    broker = AlpacaBroker(alpaca_settings(alpaca_fake), timeout=0.5)
    yield broker
    broker.close()


@pytest.fixture
def binance_fake() -> Iterator[BinanceFake]:
    with BinanceFake() as server:
        server.set_price("BTCUSDT", "50000")
        yield server


@pytest.fixture
def spot(binance_fake: BinanceFake) -> Iterator[BinanceBroker]:
    broker = BinanceBroker(binance_settings(binance_fake), timeout=0.5)
    yield broker
    broker.close()


@pytest.fixture
def futures(binance_fake: BinanceFake) -> Iterator[BinanceBroker]:
    broker = BinanceBroker(binance_settings(binance_fake), futures=True, timeout=0.5)
    yield broker
    broker.close()


def _ny_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), NEW_YORK).astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Alpaca: cash flows from account activities
# --------------------------------------------------------------------------------------------


def test_alpaca_cash_flows_kinds_signs_and_exact_amounts(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    deposit = alpaca_fake.add_activity("CSD", "5000.25", "2024-03-01", description="ACH deposit")
    negative_withdrawal = alpaca_fake.add_activity("CSW", "-1200.10", "2024-07-01")
    positive_withdrawal = alpaca_fake.add_activity("CSW", "300", "2024-07-02")
    returned = alpaca_fake.add_activity("CSD", "-50", "2024-07-03")
    alpaca_fake.add_activity("CSD", "999", "2024-07-04", status="canceled")
    alpaca_fake.add_activity("CSD", "0", "2024-07-05")
    alpaca_fake.add_activity("DIV", "1.02", "2024-07-06")  # not a transfer: never asked for

    flows = alpaca.cash_flows(None)

    assert [(f.reference, f.kind, f.amount, f.flow_at) for f in flows] == [
        (deposit, "deposit", Decimal("5000.25"), datetime(2024, 3, 1, 5, tzinfo=UTC)),  # 00:00 EST
        (negative_withdrawal, "withdrawal", Decimal("1200.10"), datetime(2024, 7, 1, 4, tzinfo=UTC)),  # EDT
        (positive_withdrawal, "withdrawal", Decimal(300), datetime(2024, 7, 2, 4, tzinfo=UTC)),
        (returned, "withdrawal", Decimal(50), datetime(2024, 7, 3, 4, tzinfo=UTC)),
    ]
    assert all(type(f.amount) is Decimal and f.flow_at.tzinfo is UTC for f in flows)
    assert {(f.currency, f.broker, f.source) for f in flows} == {("USD", "alpaca", "alpaca")}
    assert flows[0].note == "alpaca CSD: ACH deposit"
    assert "returned deposit" in flows[3].note
    assert sum((f.signed for f in flows), start=Decimal(0)) == Decimal("3450.15")
    assert alpaca_fake.requests.count(("GET", "/v2/account/activities")) == 1


def test_alpaca_cash_flows_follow_page_tokens(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    first = date(2023, 1, 1)
    ids = [alpaca_fake.add_activity("CSD", f"{n}.01", first + timedelta(days=n)) for n in range(1, 231)]

    flows = alpaca.cash_flows(None)

    assert alpaca_fake.requests.count(("GET", "/v2/account/activities")) == 3  # 100 + 100 + 30
    assert [f.reference for f in flows] == ids  # oldest first, each once
    assert flows[-1].amount == Decimal("230.01")


def test_alpaca_cash_flows_since_asks_from_the_day_before(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    alpaca_fake.add_activity("CSD", "100", "2024-01-10")
    alpaca_fake.add_activity("CSD", "200", "2024-02-01")
    same_day = alpaca_fake.add_activity("CSW", "-300", "2024-02-02")
    later = alpaca_fake.add_activity("CSD", "400", "2024-02-20")

    afternoon = alpaca.cash_flows(datetime(2024, 2, 2, 20, tzinfo=UTC))
    evening_before = alpaca.cash_flows(datetime(2024, 2, 2, 3, tzinfo=UTC))  # still Feb 1 in New York

    assert [f.reference for f in afternoon] == [same_day, later]
    assert [f.amount for f in evening_before] == [Decimal(200), Decimal(300), Decimal(400)]


def test_alpaca_history_errors_are_translated(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    alpaca_fake.fail_next(429, method="GET", path="/v2/account/activities")
    with pytest.raises(TemporaryError, match="429"):
        alpaca.cash_flows(None)
    alpaca_fake.fail_next(503, method="GET", path="/v2/stocks/SPY/bars")
    with pytest.raises(TemporaryError, match="503"):
        alpaca.daily_closes("SPY", date(2024, 1, 2), date(2024, 1, 5))
    alpaca_fake.fail_next(422, method="GET", path="/v2/stocks/", code=42210000, message="invalid symbol: BAD$")
    with pytest.raises(BrokerRejected, match="invalid symbol"):
        alpaca.daily_closes("BAD$", date(2024, 1, 2), date(2024, 1, 5))
    wrong = AlpacaBroker(
        alpaca_settings(alpaca_fake, alpaca_api_secret="nope"),
        timeout=0.5,
    )
    with pytest.raises(ConfigError, match="401"):
        wrong.cash_flows(None)
    with pytest.raises(ConfigError, match="401"):
        wrong.server_time()


# --------------------------------------------------------------------------------------------
# Alpaca: daily closes and the clock
# --------------------------------------------------------------------------------------------


def test_alpaca_daily_closes_are_paged_exact_and_adjusted(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    alpaca_fake.set_bars(
        "SPY",
        [
            ("2024-01-02", 472.65),
            ("2024-01-03", 468.79),
            ("2024-01-04", 467.28),
            ("2024-01-05", 467.92),
            ("2024-01-08", 474.6),
            ("2024-01-09", 473.88),
        ],
    )
    alpaca_fake.bars_page_size = 2

    closes = alpaca.daily_closes("SPY", date(2024, 1, 3), date(2024, 1, 8))

    assert closes == [
        (date(2024, 1, 3), Decimal("468.79")),
        (date(2024, 1, 4), Decimal("467.28")),
        (date(2024, 1, 5), Decimal("467.92")),
        (date(2024, 1, 8), Decimal("474.6")),
    ]
    assert all(type(close) is Decimal for _, close in closes)
    queries = alpaca_fake.bar_queries
    assert len(queries) == 2 and "page_token" not in queries[0] and queries[1]["page_token"]
    assert {(q["timeframe"], q["adjustment"], q["feed"], q["symbol"]) for q in queries} == {
        ("1Day", "all", "sip", "SPY")
    }
    assert (queries[0]["start"], queries[0]["end"]) == ("2024-01-03T05:00:00Z", "2024-01-09T04:59:59Z")
    assert alpaca.daily_closes("SPY", date(2024, 1, 6), date(2024, 1, 7)) == []  # a weekend


def test_alpaca_daily_closes_up_to_today_stay_clear_of_recent_sip_data(
    alpaca_fake: AlpacaFake, alpaca: AlpacaBroker
) -> None:
    """A free-plan key may not read SIP data of the last 15 minutes (403): the request ends before that."""
    today = datetime.now(NEW_YORK).date()
    days = [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    alpaca_fake.set_bars("SPY", [(day, f"{500 + n}.5") for n, day in enumerate(days)])

    closes = alpaca.daily_closes("SPY", days[0], today)

    assert closes[:3] == [(days[0], Decimal("500.5")), (days[1], Decimal("501.5")), (days[2], Decimal("502.5"))]
    assert len(closes) in (3, 4)  # today's bar once its midnight is 16 minutes old
    end = datetime.fromisoformat(alpaca_fake.bar_queries[-1]["end"].replace("Z", "+00:00"))
    assert end <= datetime.now(UTC) - timedelta(minutes=15)
    asked = len(alpaca_fake.bar_queries)
    assert alpaca.daily_closes("SPY", today + timedelta(days=2), today + timedelta(days=9)) == []
    assert len(alpaca_fake.bar_queries) == asked  # nothing to ask for


def test_report_fetches_the_benchmark_year_by_year(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    alpaca_fake.set_bars("SPY", [("2023-12-28", 476.69), ("2023-12-29", 475.31), ("2024-01-02", 472.65)])

    closes = _fetch_closes(alpaca, "SPY", date(2023, 12, 27), date(2024, 1, 3), progress=False)

    assert len(alpaca_fake.bar_queries) == 2  # one request per calendar year
    assert closes.to_dict() == {
        datetime(2023, 12, 28): 476.69,
        datetime(2023, 12, 29): 475.31,
        datetime(2024, 1, 2): 472.65,
    }


def test_alpaca_server_time_is_the_clock_timestamp(alpaca_fake: AlpacaFake, alpaca: AlpacaBroker) -> None:
    alpaca_fake.clock_offset = timedelta(seconds=30)
    before = datetime.now(UTC)
    venue = alpaca.server_time()
    after = datetime.now(UTC)
    assert venue.tzinfo is UTC
    assert before + timedelta(seconds=29) <= venue <= after + timedelta(seconds=31)
    alpaca_fake.clock_offset = timedelta(0)
    assert abs((alpaca.server_time() - datetime.now(UTC)).total_seconds()) < 2  # not the cached market clock


# --------------------------------------------------------------------------------------------
# Binance: balances
# --------------------------------------------------------------------------------------------


def test_binance_spot_balances_are_valued_in_usdt(binance_fake: BinanceFake, spot: BinanceBroker) -> None:
    binance_fake.set_price("ETHUSDT", "2500")
    binance_fake.spot_balances = {
        "USDT": Decimal("1000.5"),
        "BTC": Decimal("0.5"),
        "ETH": Decimal(0),
        "LDBTC": Decimal("0.1"),
        "BNB": Decimal(10),
        "XYZ": Decimal(3),
    }
    binance_fake.spot_locked = {"BTC": Decimal("0.25"), "USDT": Decimal(10)}

    balances = spot.balances()

    assert balances == [
        Balance("BNB", Decimal(10), Decimal(0), Decimal(6000)),
        Balance("BTC", Decimal("0.5"), Decimal("0.25"), Decimal(37500)),
        Balance("LDBTC", Decimal("0.1"), Decimal(0), Decimal(5000)),  # Simple Earn flexible BTC
        Balance("USDT", Decimal("1000.5"), Decimal(10), Decimal("1010.5")),
        Balance("XYZ", Decimal(3), Decimal(0), None),  # no XYZUSDT price
    ]
    assert all(type(b.free) is Decimal and type(b.locked) is Decimal for b in balances)


def test_binance_futures_balances_are_wallet_balances(binance_fake: BinanceFake, futures: BinanceBroker) -> None:
    binance_fake.futures_assets = {"BNB": Decimal("2.5"), "BTC": Decimal(0), "USDC": Decimal(0)}
    binance_fake.set_position("BTCUSDT", "0.1", "40000")  # unrealized profit is not a balance

    assert futures.balances() == [
        Balance("USDT", Decimal(100000), Decimal(0), Decimal(100000)),
        Balance("BNB", Decimal("2.5"), Decimal(0), Decimal(1500)),
    ]
    assert ("GET", "/fapi/v2/ticker/price") in binance_fake.requests


# --------------------------------------------------------------------------------------------
# Binance: deposit and withdrawal history
# --------------------------------------------------------------------------------------------


def test_binance_cash_flows_take_finished_transfers_only(binance_fake: BinanceFake, spot: BinanceBroker) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    usdt_in = binance_fake.add_deposit("USDT", "1000.12345678", at=now - timedelta(days=20), network="TRX")
    btc_in = binance_fake.add_deposit("BTC", "0.5", at=now - timedelta(days=10), tx_id="ab12", network="BTC")
    binance_fake.add_deposit("ETH", "1", at=now - timedelta(days=9), status=0)  # pending
    binance_fake.add_deposit("ETH", "2", at=now - timedelta(days=9), status=6)  # credited, not final yet
    usdt_out = binance_fake.add_withdrawal("USDT", "250.5", at=now - timedelta(days=5), fee="1", tx_id="0xfe")
    binance_fake.add_withdrawal("USDT", "70", at=now - timedelta(days=4), status=4)  # processing
    binance_fake.add_withdrawal("USDT", "80", at=now - timedelta(days=3), status=1)  # cancelled

    flows = spot.cash_flows(None)

    assert [(f.reference, f.kind, f.currency, f.amount, f.flow_at) for f in flows] == [
        (usdt_in, "deposit", "USDT", Decimal("1000.12345678"), now - timedelta(days=20)),
        (btc_in, "deposit", "BTC", Decimal("0.5"), now - timedelta(days=10)),
        (usdt_out, "withdrawal", "USDT", Decimal("250.5"), now - timedelta(days=5)),
    ]
    assert {(f.broker, f.source) for f in flows} == {("binance", "binance")}
    assert flows[1].note == "binance deposit, network BTC, txId ab12"
    assert flows[2].note == "binance withdrawal, network ETH, network fee 1 USDT, txId 0xfe"
    assert all(type(f.amount) is Decimal and f.flow_at.tzinfo is UTC for f in flows)


def test_binance_cash_flows_walk_90_day_windows_and_offset_pages(
    binance_fake: BinanceFake, spot: BinanceBroker
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = binance_fake.add_deposit("USDT", "7", at=now - timedelta(days=200))
    for n in range(1001):  # one window, two pages of Binance's 1000
        binance_fake.add_deposit("USDT", "1", at=now - timedelta(days=3, seconds=n))
    binance_fake.add_withdrawal("BTC", "0.01", at=now - timedelta(days=300))

    flows = spot.cash_flows(None)

    assert len(flows) == 1003 and flows[1].reference == old
    assert len({f.reference for f in flows}) == 1003
    deposits = [q for path, q in binance_fake.sapi_queries if path.endswith("/deposit/hisrec")]
    withdrawals = [q for path, q in binance_fake.sapi_queries if path.endswith("/withdraw/history")]
    assert len(withdrawals) == 5  # 365 days in windows of at most 89
    assert len(deposits) == 6  # the same windows, plus the second page of the last one
    assert [q["offset"] for q in deposits[-2:]] == ["0", "1000"]
    assert all(int(q["endTime"]) - int(q["startTime"]) <= 89 * 86_400_000 for q in deposits + withdrawals)
    assert {q["status"] for q in deposits} == {"1"} and {q["status"] for q in withdrawals} == {"6"}

    binance_fake.sapi_queries.clear()
    recent = spot.cash_flows(now - timedelta(days=2, hours=23))
    assert recent == [] and len(binance_fake.sapi_queries) == 2  # one window each


def test_binance_testnet_without_sapi_gives_no_flows_and_logs_once(
    binance_fake: BinanceFake, spot: BinanceBroker, caplog: pytest.LogCaptureFixture
) -> None:
    binance_fake.sapi_enabled = False  # like testnet.binance.vision: HTML 404 on /sapi
    binance_fake.add_deposit("USDT", "5", at=datetime.now(UTC) - timedelta(days=1))
    caplog.set_level(logging.INFO, logger="bot.brokers.binance")

    assert spot.cash_flows(None) == []
    assert spot.cash_flows(datetime.now(UTC) - timedelta(days=5)) == []

    notes = [r for r in caplog.records if "deposit/withdrawal history" in r.getMessage()]
    assert len(notes) == 1 and "(HTTP 404)" in notes[0].getMessage()
    assert sum(path.startswith("/sapi/") for _, path in binance_fake.requests) == 1  # not asked again
    # without a URL override, the testnet's /sapi is asked, never the live host with testnet keys
    plain = BinanceBroker(Settings(_env_file=None, binance_api_key="k", binance_api_secret="s"))  # type: ignore[call-arg]
    assert plain._client.MARGIN_API_URL == "https://testnet.binance.vision/sapi"
    assert binance_fake.base_url + "/sapi" == spot._client.MARGIN_API_URL


def test_binance_live_history_errors_are_translated(binance_fake: BinanceFake) -> None:
    live = BinanceBroker(binance_settings(binance_fake, binance_testnet=False), timeout=0.5)
    binance_fake.fail_next(429, -1003, "Too many requests.", method="GET", path="/sapi/v1/capital/deposit/hisrec")
    with pytest.raises(TemporaryError, match="-1003"):
        live.cash_flows(None)
    binance_fake.sapi_enabled = False
    with pytest.raises(BrokerRejected):
        live.cash_flows(None)
    binance_fake.sapi_enabled = True
    assert live.cash_flows(None) == []  # a live error is not remembered as "no SAPI"
    wrong = BinanceBroker(binance_settings(binance_fake, binance_testnet=False, binance_api_key="bad"), timeout=0.5)
    with pytest.raises(ConfigError, match="-2015"):
        wrong.cash_flows(None)
    with pytest.raises(ConfigError, match="-2015"):
        wrong.balances()


def test_binance_futures_has_no_cash_flows(binance_fake: BinanceFake, futures: BinanceBroker) -> None:
    binance_fake.add_deposit("USDT", "5", at=datetime.now(UTC) - timedelta(days=1))
    assert futures.cash_flows(None) == []
    assert not any(path.startswith("/sapi/") for _, path in binance_fake.requests)


def test_binance_server_time_spot_and_futures(
    binance_fake: BinanceFake, spot: BinanceBroker, futures: BinanceBroker
) -> None:
    binance_fake.clock_offset = -7.5
    for broker, path in ((spot, "/api/v3/time"), (futures, "/fapi/v1/time")):
        skew = (broker.server_time() - datetime.now(UTC)).total_seconds()
        assert -8.5 < skew < -6.5
        assert ("GET", path) in binance_fake.requests
    blocked = clock_check("binance", spot)  # over Binance's 5 s recvWindow: signed requests would fail
    assert not blocked.ok and blocked.blocking and "ahead of binance" in blocked.detail
    binance_fake.clock_offset = 2.5
    warned = clock_check("binance-futures", futures)
    assert not warned.ok and not warned.blocking and "behind binance-futures" in warned.detail
    binance_fake.fail_next(503, -1008, "Server is currently overloaded.", method="GET", path="/api/v3/time")
    with pytest.raises(TemporaryError):
        spot.server_time()


# --------------------------------------------------------------------------------------------
# Through the snapshot job and the doctor
# --------------------------------------------------------------------------------------------


def test_snapshot_job_imports_alpaca_transfers_once(tmp_path: Path, alpaca_fake: AlpacaFake) -> None:
    deposit = alpaca_fake.add_activity("CSD", "25000", "2024-03-01")
    withdrawal = alpaca_fake.add_activity("CSW", "-1500.5", "2024-03-15")
    settings = bot_settings(
        tmp_path, bot_broker="alpaca", bot_timezone="America/New_York", **alpaca_values(alpaca_fake)
    )
    services = build_services(settings, seed_examples=False)
    try:
        first = snapshot_job(services, datetime(2024, 3, 20, 15, tzinfo=UTC))
        rows = tab_rows(services, "CashFlows")
        second = snapshot_job(services, datetime(2024, 3, 20, 16, tzinfo=UTC))
        unchanged = tab_rows(services, "CashFlows")
        late = alpaca_fake.add_activity("CSD", "100.01", "2024-03-21")
        third = snapshot_job(services, datetime(2024, 3, 21, 16, tzinfo=UTC))
        final = tab_rows(services, "CashFlows")
        snapshots = tab_rows(services, "Snapshots")
    finally:
        services.close()
    assert (first["cash_flows"], first["snapshots"], first["problems"]) == (2, 1, [])
    assert rows == [
        {
            "flow_at": "2024-03-01 00:00:00",
            "broker": "alpaca",
            "account": alpaca_fake.account_number,
            "kind": "deposit",
            "amount": "25000",
            "currency": "USD",
            "source": "alpaca",
            "reference": deposit,
            "note": "alpaca CSD",
        },
        {
            "flow_at": "2024-03-15 00:00:00",
            "broker": "alpaca",
            "account": alpaca_fake.account_number,
            "kind": "withdrawal",
            "amount": "1500.5",
            "currency": "USD",
            "source": "alpaca",
            "reference": withdrawal,
            "note": "alpaca CSW",
        },
    ]
    assert second["cash_flows"] == 0 and unchanged == rows  # no duplicates on a second run
    assert third["cash_flows"] == 1 and [r["reference"] for r in final] == [deposit, withdrawal, late]
    assert [s["broker"] for s in snapshots] == ["alpaca", "alpaca", "alpaca"]


def test_doctor_reports_the_alpaca_clock_skew(tmp_path: Path, alpaca_fake: AlpacaFake) -> None:
    settings = bot_settings(tmp_path, bot_broker="alpaca", **alpaca_values(alpaca_fake))
    workbook = LocalWorkbook(settings.workbook_path)
    seed_workbook(workbook, examples=True)
    try:
        alpaca_fake.clock_offset = timedelta(seconds=12)  # Alpaca's clock is 12 s ahead of this machine
        skewed = run_checks(settings, workbook=workbook, env={"BOT_HOST": "127.0.0.1"})
        alpaca_fake.clock_offset = timedelta(0)
        in_step = run_checks(settings, workbook=workbook, env={"BOT_HOST": "127.0.0.1"})
    finally:
        workbook.close()
    [clock] = [c for c in skewed if c.name == "clock vs alpaca"]
    assert not clock.ok and clock.blocking
    assert "behind alpaca" in clock.detail and "timedatectl" in clock.fix
    assert float(clock.detail.split(" s ")[0].rsplit(" ", 1)[1]) == pytest.approx(12, abs=1)
    [clock] = [c for c in in_step if c.name == "clock vs alpaca"]
    assert clock.ok, clock.detail
