"""The committed example alert stream and the independent reference trade calculator.

``examples/alerts/ma_cross.jsonl`` must be exactly what ``scripts/make_example_alerts.py``
generates from bokeh-sampledata's daily stock prices, look like what TradingView sends, follow the
moving-average-cross strategy, and turn into a known number of round trips in the reference.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import gzip
import json
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

try:
    from tests.support import reference_trades as ref
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from support import reference_trades as ref  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make_example_alerts.py"
ALERTS = REPO / "examples" / "alerts" / "ma_cross.jsonl"
FIELDS = ["secret", "action", "symbol", "timeframe", "price", "time", "id", "strategy"]
STREAMS = {("NASDAQ:AAPL", "D"), ("NASDAQ:AAPL", "W"), ("NASDAQ:MSFT", "D")}
TIME = re.compile(r"^(\d{4}-\d\d-\d\d)T21:00:00Z$")


def _source_csv() -> Path:
    sampledata = pytest.importorskip("bokeh_sampledata")
    return Path(sampledata.__file__).resolve().parent / "_data" / "stocks.csv.gz"


def _lines() -> list[str]:
    text = ALERTS.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def _alerts() -> list[dict[str, Any]]:
    """The committed alerts, numbers parsed as exact ``Decimal``."""
    return [json.loads(line, parse_float=Decimal, parse_int=Decimal) for line in _lines()]


def _by_stream(alerts: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    streams: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for alert in alerts:
        streams[(alert["symbol"], alert["timeframe"])].append(alert)
    return dict(streams)


def _csv_closes() -> dict[str, dict[str, str]]:
    """``{ticker: {date: close text}}`` read straight from the source file."""
    closes: dict[str, dict[str, str]] = defaultdict(dict)
    with gzip.open(_source_csv(), "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            closes[row["Ticker"]][row["Date"]] = row["Close"]
    return dict(closes)


# --- the committed file -------------------------------------------------------------------------


def test_committed_file_is_exactly_what_the_script_generates(tmp_path: Path) -> None:
    """Regenerating (twice) gives the committed bytes: the file is reproducible and up to date."""
    _source_csv()
    outputs = []
    for name in ("first.jsonl", "second.jsonl"):
        out = tmp_path / name
        subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] == ALERTS.read_bytes()


def test_every_line_is_a_tradingview_style_alert() -> None:
    """One JSON object per line, with exactly the documented fields and value formats."""
    ids = set()
    for line in _lines():
        alert = json.loads(line, parse_float=Decimal, parse_int=Decimal)
        assert list(alert) == FIELDS
        assert alert["secret"] == "{{SECRET}}"
        assert alert["action"] in {"buy", "sell", "close"}
        assert (alert["symbol"], alert["timeframe"]) in STREAMS
        assert isinstance(alert["price"], Decimal), "price must be a JSON number, not a string"
        assert alert["price"] > 0
        match = TIME.match(alert["time"])
        assert match, alert["time"]
        dt.date.fromisoformat(match.group(1))
        ticker = alert["symbol"].split(":")[1]
        assert alert["id"] == f"{ticker}-{alert['timeframe']}-{match.group(1)}-{alert['action']}"
        assert alert["id"] not in ids
        ids.add(alert["id"])
        assert alert["strategy"] == "ma-cross"
    assert 10 <= len(ids) <= 500


def test_lines_are_sorted_and_time_moves_forward() -> None:
    """Sorted by (time, symbol, timeframe); within a stream time strictly increases, except that
    the final close may share the bar of a cross just before it."""
    alerts = _alerts()
    keys = [(a["time"], a["symbol"], a["timeframe"]) for a in alerts]
    assert keys == sorted(keys)
    for stream in _by_stream(alerts).values():
        for before, after in pairwise(stream):
            if after["action"] == "close" and after is stream[-1]:
                assert after["time"] >= before["time"]
            else:
                assert after["time"] > before["time"]


def test_prices_are_the_source_closes_of_those_bars() -> None:
    """Each price is the CSV close of the bar's date, with the CSV's exact decimal text; weekly bars
    close on their week's last trading day; every stream closes on the last day of the data."""
    closes = _csv_closes()
    for line in _lines():
        raw = json.loads(line, parse_float=str, parse_int=str)
        ticker = raw["symbol"].split(":")[1]
        date = raw["time"][:10]
        assert raw["price"] == closes[ticker][date], line
        assert f'"price": {closes[ticker][date]},' in line
        if raw["timeframe"] == "W":
            week = dt.date.fromisoformat(date).isocalendar()[:2]
            later_same_week = [
                d for d in closes[ticker] if d > date and dt.date.fromisoformat(d).isocalendar()[:2] == week
            ]
            assert later_same_week == [], f"{date} is not the last trading day of its week"
        if raw["action"] == "close":
            assert date == max(closes[ticker])


def test_each_stream_alternates_and_ends_with_one_close() -> None:
    """Per stream: at least one cross, crosses alternate buy/sell, one close, last."""
    streams = _by_stream(_alerts())
    assert set(streams) == STREAMS
    for key, stream in streams.items():
        actions = [a["action"] for a in stream]
        assert actions[-1] == "close", key
        assert actions.count("close") == 1, key
        crosses = actions[:-1]
        assert crosses, key
        for before, after in pairwise(crosses):
            assert before != after, (key, before, after)


def _sma_crosses(dates: list[str], closes: list[float], start: str) -> list[tuple[str, str]]:
    """Independent float/pandas version of the strategy: (date, action) per regime change."""
    pd = pytest.importorskip("pandas")
    series = pd.Series(closes, index=dates)
    diff = series.rolling(10).mean() - series.rolling(30).mean()
    out = []
    regime = 0
    for date, value in diff.items():
        if pd.isna(value) or abs(value) < 1e-9:
            continue
        sign = 1 if value > 0 else -1
        if regime and sign != regime and date >= start:
            out.append((date, "buy" if sign > 0 else "sell"))
        regime = sign
    return out


def test_cross_alerts_agree_with_an_independent_sma_computation() -> None:
    """The crosses are fast SMA(10) vs slow SMA(30) on closes (weekly = last close per week)."""
    closes = _csv_closes()
    streams = _by_stream(_alerts())
    start = "2010-03-01"
    for (symbol, timeframe), stream in streams.items():
        ticker = symbol.split(":")[1]
        dates = sorted(closes[ticker])
        if timeframe == "W":
            last_of_week = {dt.date.fromisoformat(d).isocalendar()[:2]: d for d in dates}
            dates = [last_of_week[week] for week in sorted(last_of_week)]
        expected = _sma_crosses(dates, [float(closes[ticker][d]) for d in dates], start)
        got = [(a["time"][:10], a["action"]) for a in stream if a["action"] != "close"]
        assert got == expected, (symbol, timeframe)
        assert stream[0]["time"][:10] >= start


# --- the reference on the committed stream ------------------------------------------------------


def test_reference_round_trips_on_the_example_stream() -> None:
    """Each slot starts flat, every cross opens one position (after closing the previous one) and
    the final close ends it, so per stream: round trips == cross alerts == alerts - 1, and overall
    round trips == alerts - number of streams. Trips chain: each exit is the next entry."""
    alerts = _alerts()
    streams = _by_stream(alerts)
    qty = Decimal(10)
    result = ref.simulate(alerts, qty=qty)
    assert result.open_positions == {}
    assert len(result.trips) == len(alerts) - len(streams)
    assert result.total.trades == len(result.trips)
    for (symbol, timeframe), stream in streams.items():
        crosses = [a for a in stream if a["action"] != "close"]
        bare = symbol.split(":")[1]
        canonical = {"D": "1d", "W": "1w"}[timeframe]
        trips = [t for t in result.trips if (t.symbol, t.timeframe) == (bare, canonical)]
        assert len(trips) == len(crosses) == len(stream) - 1
        for trip, opening in zip(trips, crosses, strict=True):
            assert trip.side == {"buy": "long", "sell": "short"}[opening["action"]]
            assert (trip.entry_time, trip.entry_price) == (opening["time"], opening["price"])
            assert trip.qty == qty
        for before, after in pairwise(trips):
            assert (before.exit_time, before.exit_price) == (after.entry_time, after.entry_price)
        assert (trips[-1].exit_time, trips[-1].exit_price) == (stream[-1]["time"], stream[-1]["price"])
    assert set(result.by_symbol) == {"AAPL", "MSFT"}
    for totals in [*result.by_symbol.values(), result.total]:
        assert totals.wins + totals.losses <= totals.trades
    assert result.total.pnl == sum((t.pnl for t in result.by_symbol.values()), Decimal(0))


def test_reference_fees_on_the_example_stream() -> None:
    """With a fee rate, net pnl == gross pnl - rate * qty * (sum of every fill price)."""
    alerts = _alerts()
    qty, rate = Decimal(3), Decimal("0.0005")
    gross = ref.simulate(alerts, qty=qty).total.pnl
    trips = ref.round_trips(alerts, qty=qty, fee_rate=rate)
    fills = sum((t.entry_price + t.exit_price for t in trips), Decimal(0))
    net = ref.simulate(alerts, qty=qty, fee_rate=rate).total.pnl
    assert net == gross - rate * qty * fills
    assert sum((t.fees for t in trips), Decimal(0)) == rate * qty * fills


# --- the reference on a hand-made stream --------------------------------------------------------


def _alert(action: str, symbol: str, timeframe: str, price: str, time: str) -> dict[str, Any]:
    return {"action": action, "symbol": symbol, "timeframe": timeframe, "price": Decimal(price), "time": time}


def test_reference_hand_computed_pnl() -> None:
    """qty 10, fee 0.1 % per fill; every number below is worked out by hand."""
    alerts = [
        _alert("buy", "NASDAQ:AAA", "D", "100", "t01"),  # long 10 @ 100, fee 1.00
        _alert("buy", "NASDAQ:AAA", "D", "105", "t02"),  # already long: no-op
        _alert("sell", "NASDAQ:AAA", "D", "110", "t03"),  # +100 - 1.00 - 1.10 = 97.90; short @ 110
        _alert("close", "NASDAQ:AAA", "D", "104", "t04"),  # +60 - 1.10 - 1.04 = 57.86
        _alert("close", "NASDAQ:AAA", "D", "99", "t05"),  # flat already: no-op
        _alert("sell", "NASDAQ:AAA", "W", "50", "t06"),  # other slot: short 10 @ 50, fee 0.50
        _alert("short", "NASDAQ:AAA", "W", "52", "t07"),  # alias, already short: no-op
        _alert("buy", "NASDAQ:AAA", "W", "55", "t08"),  # -50 - 0.50 - 0.55 = -51.05; long @ 55
        _alert("exit", "NASDAQ:AAA", "W", "55", "t09"),  # 0 - 0.55 - 0.55 = -1.10
        {"action": "LONG", "ticker": "BINANCE:BBB.P", "interval": "60", "price": "2.5", "timenow": "t10"},
        _alert("close", "BINANCE:BBB.P", "1h", "3", "t11"),  # +5 - 0.025 - 0.03 = 4.945
        _alert("sell", "BINANCE:BBB.P", "1h", "3", "t12"),  # left open: short 10 @ 3
    ]
    result = ref.simulate(alerts, qty=10, fee_rate="0.001")
    summary = [(t.symbol, t.timeframe, t.side, t.entry_price, t.exit_price, t.pnl) for t in result.trips]
    assert summary == [
        ("AAA", "1d", "long", Decimal(100), Decimal(110), Decimal("97.90")),
        ("AAA", "1d", "short", Decimal(110), Decimal(104), Decimal("57.86")),
        ("AAA", "1w", "short", Decimal(50), Decimal(55), Decimal("-51.05")),
        ("AAA", "1w", "long", Decimal(55), Decimal(55), Decimal("-1.10")),
        ("BBB", "1h", "long", Decimal("2.5"), Decimal(3), Decimal("4.945")),
    ]
    assert [(t.entry_time, t.exit_time) for t in result.trips] == [
        ("t01", "t03"),
        ("t03", "t04"),
        ("t06", "t08"),
        ("t08", "t09"),
        ("t10", "t11"),
    ]
    assert result.trips[0].fees == Decimal("2.10")
    assert all(t.qty == 10 for t in result.trips)
    assert result.by_symbol == {
        "AAA": ref.SymbolTotals("AAA", 4, 2, 2, Decimal("103.61")),
        "BBB": ref.SymbolTotals("BBB", 1, 1, 0, Decimal("4.945")),
    }
    assert result.total == ref.SymbolTotals("TOTAL", 5, 3, 2, Decimal("108.555"))
    assert result.open_positions == {
        ("BBB", "1h"): ref.OpenPosition(
            "BBB", "1h", "short", Decimal(10), Decimal(3), "t12", Decimal("0.030")
        ),
    }


def test_reference_break_even_trip_is_neither_win_nor_loss() -> None:
    """A trip with pnl exactly 0 counts as a trade only."""
    alerts = [_alert("sell", "X", "15", "7.25", "a"), _alert("close", "X", "15m", "7.25", "b")]
    result = ref.simulate(alerts, qty="0.5")
    assert [(t.timeframe, t.side, t.pnl) for t in result.trips] == [("15m", "short", Decimal(0))]
    assert result.total == ref.SymbolTotals("TOTAL", 1, 0, 0, Decimal(0))


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("D", "1d"),
        ("1D", "1d"),
        ("W", "1w"),
        ("1W", "1w"),
        ("M", "1M"),
        ("15", "15m"),
        ("15 Min", "15m"),
        ("60", "1h"),
        ("240", "4h"),
        ("1h", "1h"),
        ("1m", "1m"),
    ],
)
def test_reference_canonical_timeframe(raw: str, canonical: str) -> None:
    """TradingView intervals map to the canonical spelling the Trades tab uses."""
    assert ref.canonical_timeframe(raw) == canonical


def test_reference_rejects_bad_input() -> None:
    """Unknown actions, missing prices and non-positive sizes are errors, not silent no-ops."""
    with pytest.raises(ValueError, match="action"):
        ref.simulate([_alert("hold", "X", "D", "1", "t")], qty=1)
    with pytest.raises(ValueError, match="price"):
        ref.simulate([{"action": "buy", "symbol": "X", "timeframe": "D", "time": "t"}], qty=1)
    with pytest.raises(ValueError, match="qty"):
        ref.simulate([], qty=0)


def test_reference_is_independent_of_the_bot() -> None:
    """The reference must not import anything from ``bot`` (it checks the bot's results)."""
    tree = ast.parse(Path(ref.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not any(name == "bot" or name.startswith("bot.") for name in names), names
