"""Structured logs: JSON lines to stdout and a rotating file, secrets redacted, one line per alert."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import logging_setup
from bot.logging_setup import REDACTED, RedactFilter, log_alert, setup_logging
from bot.services import build_services
from bot.settings import load_settings
from bot.web import create_app
from bot.web.metrics import register_metrics

SECRETS = {
    "webhook_secret": "hook-secret-AAAA-1111-zzzz",
    "bot_api_token": "api-token-BBBB-2222-yyyy",
    "alpaca_api_key": "alpaca-key-EEEE-5555",
    "alpaca_api_secret": "alpaca-secret-CCCC-3333",
    "twilio_auth_token": "twilio-token-FFFF-6666",
    "smtp_password": "smtp-pass-DDDD",
}  # notification channels stay off (partly configured): nothing is ever sent


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    scheduler = logging.getLogger("apscheduler")
    handlers, level, scheduler_level = list(root.handlers), root.level, scheduler.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    scheduler.setLevel(scheduler_level)
    logging.captureWarnings(False)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    return load_settings(bot_data_dir=tmp_path / "data", **SECRETS)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_to_stream_and_rotating_file(settings: Any) -> None:
    stream = io.StringIO()
    path = setup_logging(settings, stream=stream)
    assert path == settings.bot_data_dir / "logs" / "bot.log"
    logging.getLogger("bot.test").info("hello %s", "world", extra={"symbol": "AAPL", "qty": 3})
    logging.getLogger("bot.test").warning("second")
    for handler in logging.getLogger().handlers:
        handler.flush()
    out = _lines(stream.getvalue())
    assert [line["message"] for line in out] == ["hello world", "second"]
    first = out[0]
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["symbol"] == "AAPL" and first["qty"] == 3
    assert first["time"].endswith("+00:00")
    assert _lines(path.read_text(encoding="utf-8")) == out


def test_setup_twice_does_not_duplicate_lines(settings: Any) -> None:
    stream = io.StringIO()
    setup_logging(settings, stream=io.StringIO())
    setup_logging(settings, stream=stream, to_file=False)
    logging.getLogger("bot.test").info("once")
    assert len(_lines(stream.getvalue())) == 1


def test_replaces_the_basic_config_console_handler(settings: Any) -> None:
    plain = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(plain)
    stream = io.StringIO()
    setup_logging(settings, stream=stream, to_file=False)
    assert plain not in logging.getLogger().handlers
    logging.getLogger("bot.test").info("only json")
    assert _lines(stream.getvalue())[0]["message"] == "only json"


def test_file_rotates(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging_setup, "LOG_FILE_MAX_BYTES", 2_000)
    path = setup_logging(settings, stream=io.StringIO())
    assert path is not None
    for n in range(100):
        logging.getLogger("bot.test").info("line %d %s", n, "x" * 50)
    assert path.with_name("bot.log.1").exists()
    assert path.stat().st_size <= 2_000 + 500


def test_secrets_are_redacted_everywhere(settings: Any) -> None:
    generated = "generated-secret-EEEE-5555"
    settings.bot_data_dir.mkdir(parents=True)
    (settings.bot_data_dir / "api_token").write_text(generated + "\n", encoding="utf-8")
    stream = io.StringIO()
    path = setup_logging(settings, stream=stream)
    log = logging.getLogger("bot.test")
    log.info("webhook secret is %s", SECRETS["webhook_secret"])
    log.info("keys %s/%s", SECRETS["alpaca_api_key"], SECRETS["alpaca_api_secret"])
    log.info("twilio auth %s", SECRETS["twilio_auth_token"])
    log.info("generated %s", generated)
    log.info("request headers {'Authorization': 'Bearer some-other-token-9999'}")
    log.info('alert body {"secret": "typed-by-user-123", "action": "buy"}')
    log.info("login with password=hunter2hunter2")
    log.info(
        "extra fields",
        extra={"secret": "field-secret-1", "body": {"passphrase": "p", "note": SECRETS["smtp_password"]}},
    )
    try:
        raise RuntimeError(f"broker said: bad key {SECRETS['alpaca_api_key']}")
    except RuntimeError:
        log.exception("failure")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert path is not None
    for text in (stream.getvalue(), path.read_text(encoding="utf-8")):
        for value in [*SECRETS.values(), generated, "some-other-token-9999", "typed-by-user-123", "hunter2hunter2"]:
            assert value not in text
        assert "field-secret-1" not in text
        assert text.count(REDACTED) >= 10
    lines = _lines(stream.getvalue())
    assert lines[5]["message"] == f'alert body {{"secret": {REDACTED}, "action": "buy"}}'
    assert lines[7]["secret"] == REDACTED and lines[7]["body"]["passphrase"] == REDACTED
    assert "Traceback" in lines[8]["exc_info"] and REDACTED in lines[8]["exc_info"]


def test_redaction_keeps_ordinary_text() -> None:
    redact = RedactFilter(["s3cr3t-value"]).redact
    assert redact('missing secret: add "secret" to the alert message') == (
        'missing secret: add "secret" to the alert message'
    )
    assert redact("wrong secret") == "wrong secret"
    assert redact("basic sizing uses the token bucket") == "basic sizing uses the token bucket"
    assert redact("value s3cr3t-value here") == f"value {REDACTED} here"
    assert redact("Authorization: Bearer abcdefgh12345") == f"Authorization: {REDACTED}"
    assert redact(redact("api_key=AK123 secret=x")) == f"api_key={REDACTED} secret={REDACTED}"


def test_log_alert_writes_one_line_with_every_field(settings: Any) -> None:
    stream = io.StringIO()
    setup_logging(settings, stream=stream, to_file=False)
    log_alert(
        {
            "alert_id": "a-1",
            "symbol": "AAPL",
            "timeframe": "1d",
            "action": "buy",
            "http_status": 200,
            "result": "success",
            "reason": "",
            "latency_ms": 4.2,
            "unrelated": "dropped",
        }
    )
    log_alert({"http_status": 401, "result": "unauthorized", "reason": "wrong secret"})
    first, second = _lines(stream.getvalue())
    assert first["event"] == "alert" and first["logger"] == "bot.trading.alerts" and first["level"] == "INFO"
    assert {k: first[k] for k in ("alert_id", "symbol", "timeframe", "action", "http_status", "result", "reason")} == {
        "alert_id": "a-1",
        "symbol": "AAPL",
        "timeframe": "1d",
        "action": "buy",
        "http_status": 200,
        "result": "success",
        "reason": "",
    }
    assert first["latency_ms"] == 4.2 and "unrelated" not in first
    assert second["level"] == "WARNING" and second["symbol"] is None and second["reason"] == "wrong secret"


def test_the_app_logs_one_line_per_alert(settings: Any) -> None:
    stream = io.StringIO()
    setup_logging(settings, stream=stream, to_file=False)
    services = build_services(settings)
    try:
        app = create_app(services=services)
        register_metrics(app, services)
        client = app.test_client()
        secret = SECRETS["webhook_secret"]
        bodies = [
            {"secret": secret, "action": "buy", "symbol": "NASDAQ:AAPL", "timeframe": "D", "price": 190, "id": "L-1"},
            {"secret": secret, "action": "sell", "symbol": "NASDAQ:AAPL", "timeframe": "D", "price": 191, "id": "L-2"},
            {"secret": "not-the-secret", "action": "buy", "symbol": "AAPL", "timeframe": "D", "id": "L-3"},
        ]
        codes = [client.post("/webhook", data=json.dumps(b)).status_code for b in bodies]
        client.get("/health")
    finally:
        services.close()
    assert codes == [200, 200, 401]
    alerts = [line for line in _lines(stream.getvalue()) if line.get("event") == "alert"]
    assert [(a["alert_id"], a["http_status"], a["result"]) for a in alerts] == [
        ("L-1", 200, "success"),
        ("L-2", 200, "success"),
        ("L-3", 401, "unauthorized"),
    ]
    assert alerts[0]["symbol"] == "AAPL" and alerts[0]["timeframe"] == "1d" and alerts[0]["action"] == "buy"
    assert alerts[0]["order_status"] == "FILLED" and alerts[0]["latency_ms"] >= 0
    assert secret not in stream.getvalue() and "not-the-secret" not in stream.getvalue()
