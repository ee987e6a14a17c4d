"""``python -m bot doctor``: checklist contents, fixes, LIVE banner, clock skew, exit codes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.brokers.base import Account, Capabilities
from bot.doctor import Check, clock_check, exit_code, print_report, run_checks
from bot.errors import TemporaryError
from bot.records import WriteBatch
from bot.settings import load_settings
from bot.sheets.local import LocalWorkbook
from bot.sheets.schema import all_specs, tab_spec

LOOPBACK = {"BOT_HOST": "127.0.0.1"}


class FakeVenue:
    """A broker double: account values, a mode and, optionally, a venue clock offset."""

    def __init__(self, name: str, *, live: bool, offset: float | None = None) -> None:
        self.name = name
        self.live = live
        self.closed = False
        self.capabilities = Capabilities(server_time=offset is not None)
        if offset is not None:
            self.server_time = lambda: datetime.now(timezone.utc) + timedelta(seconds=offset)

    def account(self) -> Account:
        return Account("acct-1", Decimal("2500.50"), Decimal("1000"), Decimal("5000"), Decimal("1500.50"))

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return load_settings(bot_data_dir=tmp_path / "data")


def _seeded(settings: Any) -> LocalWorkbook:
    from bot.services import seed_workbook

    workbook = LocalWorkbook(settings.workbook_path)
    seed_workbook(workbook, examples=True)
    return workbook


def _by_name(checks: list[Check]) -> dict[str, list[Check]]:
    grouped: dict[str, list[Check]] = {}
    for check in checks:
        grouped.setdefault(check.name, []).append(check)
    return grouped


def _report(checks: list[Check]) -> tuple[int, str]:
    out = io.StringIO()
    return print_report(checks, out), out.getvalue()


def test_embedded_default_is_ready_to_trade(settings: Any) -> None:
    workbook = _seeded(settings)
    checks = run_checks(settings, workbook=workbook, env=LOOPBACK)
    workbook.close()
    grouped = _by_name(checks)
    assert exit_code(checks) == 0, [c for c in checks if not c.ok]
    for name in ("settings", "listen address", "data dir", "state DB", "workbook tabs", "broker paper"):
        assert grouped[name][0].ok, grouped[name]
    assert "paper" in grouped["broker paper"][0].detail and "2500" not in grouped["broker paper"][0].detail
    assert "not applicable" in grouped["clock vs paper"][0].detail
    assert any(c.ok and "active row(s)" in c.detail for c in grouped["config rows"])
    notifications = grouped["notifications"][-1]
    assert not notifications.ok and not notifications.blocking  # a warning, not a blocker
    code, text = _report(checks)
    assert code == 0 and "Ready to trade" in text and "[warn] notifications" in text


def test_missing_broker_keys_block_with_a_fix(settings: Any) -> None:
    alpaca = settings.model_copy(update={"bot_broker": "alpaca"})
    workbook = _seeded(settings)
    checks = run_checks(alpaca, workbook=workbook, env=LOOPBACK)
    workbook.close()
    broker = _by_name(checks)["broker alpaca"][0]
    assert not broker.ok and broker.blocking
    assert "ALPACA_API_KEY" in broker.fix
    code, text = _report(checks)
    assert code == 1
    assert "[FAIL] broker alpaca" in text and "fix: set ALPACA_API_KEY" in text
    assert "Trading is blocked: fix broker alpaca" in text


def test_live_mode_is_loud_and_clock_skew_blocks(settings: Any) -> None:
    workbook = _seeded(settings)
    venue = FakeVenue("alpaca", live=True, offset=-12.0)
    live = settings.model_copy(update={"bot_broker": "alpaca", "alpaca_paper": False})
    checks = run_checks(live, workbook=workbook, brokers={"alpaca": lambda: venue}, env=LOOPBACK)
    workbook.close()
    grouped = _by_name(checks)
    broker = grouped["broker alpaca"][0]
    assert broker.ok and broker.loud and "LIVE" in broker.detail and "REAL MONEY" in broker.detail
    assert "ALPACA_PAPER=true" in broker.fix
    clock = grouped["clock vs alpaca"][0]
    assert not clock.ok and clock.blocking and "ahead" in clock.detail and "timedatectl" in clock.fix
    assert venue.closed
    code, text = _report(checks)
    assert code == 1
    banner = "!" * 72
    assert f"{banner}\n[ok  ] broker alpaca: *** LIVE TRADING, REAL MONEY ***" in text


def test_clock_check_thresholds() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    def venue(offset: float) -> Any:
        broker = FakeVenue("binance", live=False)
        broker.server_time = lambda: now + timedelta(seconds=offset)
        broker.capabilities = Capabilities(server_time=True)
        return broker

    def at_now() -> float:
        return now.timestamp()

    ok = clock_check("binance", venue(0.2), now=at_now)
    assert ok.ok and "0.20 s behind binance" in ok.detail
    warn = clock_check("binance", venue(-2.5), now=at_now)
    assert not warn.ok and not warn.blocking and "2.50 s ahead" in warn.detail
    block = clock_check("binance", venue(30), now=at_now)
    assert not block.ok and block.blocking
    plain = clock_check("alpaca", FakeVenue("alpaca", live=False))
    assert plain.ok and "not available" in plain.detail

    def broken() -> datetime:
        raise TemporaryError("timeout")

    failing = FakeVenue("binance", live=False)
    failing.server_time = broken  # type: ignore[attr-defined]
    failing.capabilities = Capabilities(server_time=True)
    result = clock_check("binance", failing)
    assert not result.ok and not result.blocking and "timeout" in result.detail


def test_listen_address_needs_long_secrets(settings: Any) -> None:
    workbook = _seeded(settings)
    weak = run_checks(settings, workbook=workbook, env={"BOT_HOST": "0.0.0.0"})
    check = _by_name(weak)["listen address"][0]
    assert not check.ok and check.blocking and "WEBHOOK_SECRET and BOT_API_TOKEN" in check.detail
    strong = settings.model_copy(
        update={
            "webhook_secret": type(settings.webhook_secret)("x" * 16),
            "bot_api_token": type(settings.bot_api_token)("y" * 20),
        }
    )
    good = run_checks(strong, workbook=workbook, env={"BOT_HOST": "0.0.0.0"})
    workbook.close()
    assert _by_name(good)["listen address"][0].ok
    assert "x" * 16 not in repr(good) and "y" * 20 not in repr(good)


def test_workbook_tabs_and_headers(settings: Any) -> None:
    workbook = _seeded(settings)
    headers = [h for h in tab_spec("Config").headers if h not in ("symbol", "leverage")]
    workbook.set_headers("Config", headers)
    checks = run_checks(settings, workbook=workbook, env=LOOPBACK)
    workbook.close()
    config = _by_name(checks)["tab Config"][0]
    assert not config.ok and config.blocking and "symbol" in config.detail and "init-sheet" in config.fix
    assert exit_code(checks) == 1


def test_default_broker_is_checked_when_the_config_is_unreadable(settings: Any) -> None:
    workbook = _seeded(settings)
    workbook.set_headers("Config", ["position_size", "active"])  # no symbol or Time Frame column
    venue = FakeVenue("paper", live=False)
    checks = run_checks(settings, workbook=workbook, brokers={"paper": lambda: venue}, env=LOOPBACK)
    workbook.close()
    grouped = _by_name(checks)
    assert not grouped["config rows"][0].ok
    assert grouped["broker paper"][0].ok and venue.closed


def test_missing_tabs_are_reported(settings: Any) -> None:
    workbook = LocalWorkbook(settings.workbook_path)
    workbook.ensure_tabs([spec for spec in all_specs() if spec.name not in ("Snapshots", "Config")])
    checks = run_checks(settings, workbook=workbook, env=LOOPBACK)
    workbook.close()
    grouped = _by_name(checks)
    assert not grouped["tab Config"][0].ok and grouped["tab Config"][0].blocking
    assert not grouped["tab Snapshots"][0].ok and not grouped["tab Snapshots"][0].blocking
    assert exit_code(checks) == 1


def test_kill_switch_and_settings_problems(settings: Any) -> None:
    workbook = _seeded(settings)
    table = workbook.read_tables(["Settings"])["Settings"]
    rows = [dict(r) for r in table.rows]
    for row in rows:
        if row["key"] == "trading_enabled":
            row["value"] = "FALSE"
    rows.append({"key": "no_such_knob", "value": "1", "description": ""})
    workbook.replace_rows("Settings", rows)
    workbook.apply(WriteBatch(appends=[("Config", {"symbol": "TSLA", "position_size": "lots", "active": "TRUE"})]))
    checks = run_checks(settings, workbook=workbook, env=LOOPBACK)
    workbook.close()
    grouped = _by_name(checks)
    kill = grouped["kill switch"][0]
    assert not kill.ok and kill.blocking and "trading_enabled" in kill.fix
    assert any("no_such_knob" in c.detail for c in grouped["settings tab"])
    assert any(not c.ok and not c.blocking and "row" in c.detail for c in grouped["config rows"])


def test_notification_channels_are_listed_without_secrets(settings: Any) -> None:
    slack = settings.model_copy(
        update={
            "slack_webhook_url": type(settings.slack_webhook_url)("https://hooks.slack.com/services/T1/B2/SECRETPATH")
        }
    )
    workbook = _seeded(settings)
    checks = run_checks(slack, workbook=workbook, env=LOOPBACK)
    partial = run_checks(settings.model_copy(update={"smtp_host": "smtp.example.com"}), workbook=workbook, env=LOOPBACK)
    workbook.close()
    listed = _by_name(checks)["notifications"][-1]
    assert listed.ok and "1 channel(s)" in listed.detail and "hooks.slack.com" in listed.detail
    assert "SECRETPATH" not in repr(checks)
    assert any(not c.ok and "SMTP" in c.detail for c in _by_name(partial)["notifications"])


def test_command_line_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("BOT_BROKER", "BOT_STORE", "BOT_HOST", "BOT_DB_URL", "BOT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    _seeded(load_settings()).close()
    assert main(["doctor"]) == 0
    assert "broker paper" in capsys.readouterr().out
    monkeypatch.setenv("BOT_BROKER", "binance")
    assert main(["doctor"]) == 1
    assert "BINANCE_API_KEY" in capsys.readouterr().out
    monkeypatch.setenv("BOT_TIMEZONE", "Mars/Olympus")
    checks = run_checks()
    assert len(checks) == 1 and not checks[0].ok and "BOT_TIMEZONE" in checks[0].detail
