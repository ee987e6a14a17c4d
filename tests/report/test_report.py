"""Tests of bot.report on a workbook produced by replaying the example alert stream in process.

The equity curve, its daily returns and the benchmark returns are computed here independently
(from the alerts' prices, not from the bot's records); TWR, Sharpe, max drawdown, beta and
correlation must equal empyrical-reloaded's on those returns.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import empyrical
import numpy as np
import pytest
from support.helpers import SECRET, add_rows, make_settings, tab_rows
from support.reference_trades import simulate

from bot.brokers.base import Account, Capabilities
from bot.errors import ConfigError
from bot.jobs import recompute_performance
from bot.records import WriteBatch
from bot.report.accounts import account_kind, is_crypto_symbol
from bot.report.benchmark import read_benchmark_csv
from bot.report.build import build_report
from bot.services import Services, build_services, seed_workbook
from bot.sheets.local import LocalWorkbook

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "examples" / "alerts" / "ma_cross.jsonl"
UTC = timezone.utc
QTY = Decimal(10)
START_CASH = Decimal(100000)
RISK_FREE = 0.02
TOL = 1e-9


def _alerts() -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in ALERTS.read_text().splitlines()]


def _replay(services: Services) -> None:
    for line in ALERTS.read_text().splitlines():
        reply = services.engine.handle(line.replace("{{SECRET}}", SECRET).encode(), replay=True)
        assert reply.http_status == 200 and reply.body["status"] == "success", reply.body
    recompute_performance(services)
    services.writer.flush()


def _market_equity(alerts: list[dict[str, Any]]) -> list[tuple[date, Decimal]]:
    """Equity at the end of each alert day without any cash flow, by an independent simulation.

    Each (symbol, timeframe) slot holds +10, -10 or 0 shares; ``buy``/``sell``/``close`` set it, the
    difference trades at the alert's price (no fees). Equity = starting cash − Σ cash paid
    + Σ shares × the symbol's latest alert price (mark to market) = starting cash + realised
    + unrealised P&L.
    """
    cash = START_CASH
    held: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    last_price: dict[str, Decimal] = {}
    by_day: dict[date, Decimal] = {}
    for alert in alerts:
        symbol = alert["symbol"].split(":")[1]
        slot = (symbol, alert["timeframe"])
        target = {"buy": QTY, "sell": -QTY, "close": Decimal(0)}[alert["action"]]
        cash -= (target - held[slot]) * alert["price"]
        held[slot] = target
        last_price[symbol] = alert["price"]
        value = sum((qty * last_price[s] for (s, _), qty in held.items()), Decimal(0))
        by_day[date.fromisoformat(alert["time"][:10])] = cash + value
    return sorted(by_day.items())


def _set_setting(services: Services, key: str, value: str) -> None:
    table = services.workbook.read_tables(["Settings"])["Settings"]
    rows = [dict(row, value=value) if row["key"] == key else dict(row) for row in table.rows]
    services.workbook.replace_rows("Settings", rows)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def replayed(tmp_path: Path) -> Any:
    services = build_services(make_settings(tmp_path))
    _replay(services)
    yield services
    services.close()


# --------------------------------------------------------------------------------------------
# The report on the replayed example stream
# --------------------------------------------------------------------------------------------


def test_report_matches_empyrical_on_the_replayed_stream(replayed: Services, tmp_path: Path) -> None:
    services = replayed
    alerts = _alerts()
    market = _market_equity(alerts)
    days = [day for day, _ in market]
    # the independent curve ends where the paper account ends (all slots flat after the closes)
    assert services.brokers.get().account().equity == market[-1][1]

    # a deposit typed as a date (start of day) and a withdrawal typed with a time (counted at its end)
    deposit_day, withdrawal_day = days[10], days[30]
    deposit, withdrawal = Decimal(10000), Decimal(4000)
    add_rows(services, "CashFlows", [
        {"flow_at": deposit_day.isoformat(), "kind": "Deposit", "amount": "$10,000.00"},
        {"flow_at": f"{withdrawal_day} 15:00", "kind": "withdrawal", "amount": "4,000", "reference": "w-1"},
    ])  # fmt: skip
    equity: list[Decimal] = []
    for day, value in market:
        moved = (deposit if day >= deposit_day else 0) - (withdrawal if day >= withdrawal_day else 0)
        equity.append(value + moved)
    snapshots = []
    for index, (day, value) in enumerate(zip(days, equity, strict=True)):
        if index % 5 == 0:  # an earlier snapshot the same day: only the day's last one counts
            snapshots.append({"taken_at": f"{day} 14:00:00", "broker": "paper", "account": "paper", "equity": "1"})
        snapshots.append({"taken_at": f"{day} 21:00:00", "broker": "paper", "account": "paper",
                          "equity": str(value), "currency": "USD"})  # fmt: skip
    add_rows(services, "Snapshots", snapshots)
    _set_setting(services, "risk_free_rate", str(RISK_FREE))

    # daily returns: the day's market P&L over the capital at the start of the day (deposits included)
    returns = []
    for t in range(1, len(days)):
        start_capital = equity[t - 1] + (deposit if days[t] == deposit_day else 0)
        returns.append(float((market[t][1] - market[t - 1][1]) / start_capital))
    r = np.array(returns)

    # a benchmark CSV: closes on every valuation day plus noise on other days that must not matter
    closes = [Decimal(100)]
    for t in range(1, len(days)):
        move = Decimal(repr(0.6 * returns[t - 1])) + Decimal("0.002") * ((t % 5) - 2)
        closes.append((closes[-1] * (1 + move)).quantize(Decimal("0.0001")))
    bench_file = tmp_path / "bench.csv"
    lines = ["Date,Open,Close,Volume"]
    for day, close in reversed(list(zip(days, closes, strict=True))):
        lines.append(f"{day},1,{close},100")
        if day + timedelta(days=1) not in days:
            lines.append(f"{day + timedelta(days=1)},1,1.00,100")
    bench_file.write_text("\n".join(lines) + "\n")
    b = np.array([float(closes[t] / closes[t - 1] - 1) for t in range(1, len(days))])

    out = tmp_path / "report"
    summary = build_report(services, out, benchmark_csv=bench_file, progress=False)

    # calendar and settings
    assert summary.kind == "stock" and summary.periods_per_year == 252 and summary.weekdays_only
    assert summary.zone == "America/New_York"
    assert summary.risk_free_rate == RISK_FREE
    assert summary.as_of == days[-1]
    assert summary.accounts == ["paper/paper"]
    # snapshots only on alert days: the annualised figures are flagged as not comparable
    assert len(summary.problems) == 1 and summary.problems[0].startswith(f"daily returns on {len(returns)} of about")

    # returns and risk against empyrical on the independently computed daily returns
    assert list(summary.daily["return"].iloc[1:]) == pytest.approx(returns, abs=TOL)
    risk = summary.risk
    assert risk is not None and risk.periods == len(returns)
    rf_period = (1 + RISK_FREE) ** (1 / 252) - 1
    assert risk.total_return == pytest.approx(empyrical.cum_returns_final(r), abs=TOL)
    assert summary.period("inception").twr == pytest.approx(empyrical.cum_returns_final(r), abs=TOL)
    assert risk.sharpe == pytest.approx(empyrical.sharpe_ratio(r, risk_free=rf_period, annualization=252), abs=TOL)
    assert risk.sortino == pytest.approx(
        empyrical.sortino_ratio(r, required_return=rf_period, annualization=252), abs=TOL
    )
    assert risk.max_drawdown.max_drawdown == pytest.approx(empyrical.max_drawdown(r), abs=TOL)
    assert risk.annual_volatility == pytest.approx(empyrical.annual_volatility(r, annualization=252), abs=TOL)
    inception = summary.period("inception")
    assert inception.start == days[0] and inception.end == days[-1]
    assert (inception.deposits, inception.withdrawals) == (deposit, withdrawal)
    assert inception.pnl == market[-1][1] - market[0][1]  # equity change net of the flows, exact

    # benchmark over the same days
    bench = summary.benchmark
    assert bench is not None and summary.benchmark_name == "bench"
    assert bench.days == len(returns)
    assert bench.benchmark_return == pytest.approx(empyrical.cum_returns_final(b), abs=TOL)
    assert bench.excess_return == pytest.approx(
        empyrical.cum_returns_final(r) - empyrical.cum_returns_final(b), abs=TOL
    )
    assert bench.beta == pytest.approx(empyrical.beta(r, b), abs=TOL)
    assert bench.correlation == pytest.approx(float(np.corrcoef(r, b)[0, 1]), abs=TOL)

    # per-symbol table equals the independent reference trade calculation
    reference = simulate([json.loads(line) for line in ALERTS.read_text().splitlines()], qty=QTY)
    rows = {row["symbol"]: row for row in summary.per_symbol}
    assert set(rows) == {"AAPL", "MSFT", "TOTAL"}
    for symbol, totals in [*reference.by_symbol.items(), ("TOTAL", reference.total)]:
        assert int(rows[symbol]["total_trades"]) == totals.trades
        assert Decimal(rows[symbol]["total_pnl"]) == totals.pnl.quantize(Decimal("0.01"))

    # files
    assert set(summary.files) == {"Trades", "Orders", "Performance", "Snapshots", "CashFlows", "Returns", "report"}
    assert len(_read_csv(summary.files["Trades"])) == len(alerts) - 3 == reference.total.trades
    assert len(_read_csv(summary.files["Orders"])) == len(alerts)
    assert len(_read_csv(summary.files["Snapshots"])) == len(snapshots)
    assert [row["symbol"] for row in _read_csv(summary.files["Performance"])][-1] == "TOTAL"
    assert _read_csv(summary.files["Trades"])[0].keys() == tab_rows(services, "Trades")[0].keys()
    daily_rows = _read_csv(summary.files["Returns"])
    assert [row["day"] for row in daily_rows] == [day.isoformat() for day in days]
    assert [float(row["return"]) for row in daily_rows[1:]] == pytest.approx(returns, abs=TOL)
    assert set(summary.charts) == {"equity", "benchmark", "calendar"}
    assert summary.attachments == tuple(summary.charts.values())
    for path in summary.charts.values():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, path
    text = summary.text()
    assert (out / "report.txt").read_text(encoding="utf-8") == text
    for expected in ("Period returns", "inception", "Sharpe", "max drawdown", "Benchmark bench", "AAPL", "TOTAL"):
        assert expected in text


def test_report_without_snapshots_still_exports_trades(replayed: Services, tmp_path: Path) -> None:
    summary = build_report(replayed, tmp_path / "out", progress=False)
    assert summary.risk is None and summary.benchmark is None and summary.as_of is None
    assert all(period.twr is None for period in summary.periods)
    assert any("Snapshots" in problem for problem in summary.problems)
    assert set(summary.charts) == {"calendar"}  # realised P&L per day
    assert summary.charts["calendar"].stat().st_size > 10_000
    assert len(_read_csv(summary.files["Trades"])) == 55
    assert "no Snapshots yet" in summary.text()


def test_report_as_of_cuts_the_history(replayed: Services, tmp_path: Path) -> None:
    market = _market_equity(_alerts())
    add_rows(replayed, "Snapshots", [
        {"taken_at": f"{day} 21:00:00", "broker": "paper", "account": "paper", "equity": str(value)}
        for day, value in market
    ])  # fmt: skip
    cut = market[20][0]
    summary = build_report(replayed, tmp_path / "out", as_of=cut, progress=False)
    kept = np.array([float(market[t][1] / market[t - 1][1] - 1) for t in range(1, 21)])
    assert summary.as_of == cut and summary.daily.index[-1].date() == cut
    assert summary.risk is not None and summary.risk.periods == 20
    assert summary.risk.sharpe == pytest.approx(empyrical.sharpe_ratio(kept, annualization=252), abs=TOL)


# --------------------------------------------------------------------------------------------
# A crypto account on a bare workbook
# --------------------------------------------------------------------------------------------


def test_crypto_account_on_a_bare_workbook_uses_365_calendar_days(tmp_path: Path) -> None:
    workbook = LocalWorkbook(tmp_path / "workbook.db")
    seed_workbook(workbook, examples=False)
    start = date(2024, 1, 1)
    values = [Decimal(1000) + Decimal(t * 7 % 11) - Decimal(t) / 3 for t in range(20)]  # weekends included
    rows = [
        {"taken_at": f"{start + timedelta(days=t)} 23:30:00", "broker": "binance", "account": "spot",
         "equity": format(value.quantize(Decimal("0.01")), "f"), "currency": "USDT"}
        for t, value in enumerate(values)
    ]  # fmt: skip
    workbook.apply(WriteBatch(appends=[("Snapshots", row) for row in rows]))
    summary = build_report(workbook, tmp_path / "out", progress=False)
    workbook.close()
    equity = [Decimal(row["equity"]) for row in rows]
    r = np.array([float(equity[t] / equity[t - 1] - 1) for t in range(1, len(equity))])
    assert (summary.kind, summary.periods_per_year, summary.weekdays_only, summary.zone) == (
        "crypto", 365, False, "UTC"
    )  # fmt: skip
    assert summary.risk is not None and summary.risk.periods == 19
    assert summary.risk.sharpe == pytest.approx(empyrical.sharpe_ratio(r, annualization=365), abs=TOL)
    assert summary.risk.cagr == pytest.approx(empyrical.cagr(r, annualization=365), abs=TOL)
    assert summary.risk.max_drawdown.max_drawdown == pytest.approx(empyrical.max_drawdown(r), abs=TOL)
    assert summary.benchmark is None and summary.problems == []  # a return every day: nothing to flag
    assert set(summary.charts) == {"equity", "benchmark", "calendar"}


@pytest.mark.parametrize(
    ("broker", "symbols", "kind"),
    [
        ("paper", ["AAPL", "MSFT"], "stock"),
        ("paper", ["AAPL", "BTCUSDT"], "crypto"),
        ("alpaca", ["BTC/USD"], "crypto"),
        ("alpaca", ["BRK.B"], "stock"),
        ("binance", [], "crypto"),
        ("binance-futures", ["ETHUSDT"], "crypto"),
    ],
)
def test_account_kind(broker: str, symbols: list[str], kind: str) -> None:
    assert account_kind(broker, symbols) == kind


def test_crypto_symbols() -> None:
    assert [is_crypto_symbol(s) for s in ("BTCUSDT", "ETH/USD", "BTCUSD", "ETHBTC", "AAPL", "USDT", "BRK.B")] == [
        True, True, True, True, False, False, False
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Benchmark from a broker's market data, with a progress bar
# --------------------------------------------------------------------------------------------


class MarketDataVenue:
    """A stock venue adapter with ``daily_closes`` (as Alpaca's market data would give)."""

    name = "alpaca"
    live = False
    capabilities = Capabilities(daily_closes=True)

    def __init__(self, closes: dict[date, Decimal]) -> None:
        self._closes = closes
        self.calls: list[tuple[str, date, date]] = []

    def account(self) -> Account:
        return Account("A1", Decimal(1000), Decimal(1000), Decimal(1000), Decimal(0))

    def positions(self) -> dict[str, Decimal]:
        return {}

    def last_price(self, symbol: str) -> Decimal | None:
        return None

    def close(self) -> None:
        pass

    def daily_closes(self, symbol: str, start: date, end: date) -> list[tuple[datetime, str]]:
        self.calls.append((symbol, start, end))
        return [
            (datetime(day.year, day.month, day.day, 5, tzinfo=UTC), str(close))  # Alpaca's bars: 04/05:00 UTC
            for day, close in sorted(self._closes.items())
            if start <= day <= end
        ]


def test_benchmark_from_broker_daily_closes_with_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    days = [date(2023, 12, 26) + timedelta(days=t) for t in range(14)]
    weekdays = [day for day in days if day.weekday() < 5]
    closes = {day: Decimal(400) + Decimal(t % 4) - Decimal(t) / 5 for t, day in enumerate(weekdays)}
    venue = MarketDataVenue(closes)
    settings = make_settings(tmp_path, bot_broker="alpaca")
    services = build_services(settings, brokers={"alpaca": lambda: venue})
    try:
        equity = {day: Decimal(1000) + Decimal(t * 3 % 7) for t, day in enumerate(weekdays)}
        add_rows(services, "Snapshots", [
            {"taken_at": f"{day} 21:30:00", "broker": "alpaca", "account": "A1", "equity": str(value)}
            for day, value in equity.items()
        ])  # fmt: skip
        capsys.readouterr()
        summary = build_report(services, tmp_path / "out", progress=True)
        err = capsys.readouterr().err
    finally:
        services.close()
    # one request per calendar year, from a week before the first valuation day
    assert venue.calls == [("SPY", date(2023, 12, 19), date(2023, 12, 31)), ("SPY", date(2024, 1, 1), weekdays[-1])]
    assert "SPY daily closes" in err
    values = [float(v) for v in equity.values()]
    prices = [float(closes[day]) for day in weekdays]
    r = np.array([values[t] / values[t - 1] - 1 for t in range(1, len(values))])
    b = np.array([prices[t] / prices[t - 1] - 1 for t in range(1, len(prices))])
    assert summary.benchmark_name == "SPY" and summary.benchmark is not None and summary.problems == []
    assert summary.benchmark.days == len(r)
    assert summary.benchmark.beta == pytest.approx(empyrical.beta(r, b), abs=TOL)


# --------------------------------------------------------------------------------------------
# Errors name what to fix
# --------------------------------------------------------------------------------------------


def test_bad_cash_flow_row_stops_the_report(replayed: Services, tmp_path: Path) -> None:
    add_rows(replayed, "CashFlows", [
        {"flow_at": "2011-01-03", "kind": "deposit", "amount": "100"},
        {"flow_at": "3/1/2011", "kind": "deposit", "amount": "100"},
    ])  # fmt: skip
    with pytest.raises(ConfigError, match=r"CashFlows row 3, column flow_at: '3/1/2011' is ambiguous"):
        build_report(replayed, tmp_path / "out", progress=False)


def test_read_benchmark_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "spy.csv"
    path.write_text("Date,Adj Close\n2024-01-02,470.1\n2024-01-03,$468.79\n\n2024-01-03,468.8\n")
    series = read_benchmark_csv(path)
    assert series.name == "spy" and list(series) == [470.1, 468.8]
    path.write_text("when,close\n2024-01-02,1\n")
    with pytest.raises(ConfigError, match="header row with date and close"):
        read_benchmark_csv(path)
    path.write_text("date,close\n2024-01-02,1\n2024-01-03,n/a\n")
    with pytest.raises(ConfigError, match=r"spy.csv row 3, column close: 'n/a' is not a number"):
        read_benchmark_csv(path)
    path.write_text("date,close\n01/02/2024,1\n")
    with pytest.raises(ConfigError, match=r"row 2, column date: '01/02/2024' is not a date"):
        read_benchmark_csv(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_benchmark_csv(tmp_path / "missing.csv")
