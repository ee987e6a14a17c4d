"""Notifications wired to the running bot: events reach channels, a hanging channel never delays an order,
thresholds and silence are watched, and the daily summary is e-mailed with its charts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fakes.slack_fake import SlackFake
from fakes.twilio_fake import TwilioFake
from support.channels import Inbox, channel_values, smtp_inbox
from support.helpers import SECRET, make_settings, set_config

from bot.jobs import daily_summary, monitor
from bot.services import Services, build_services
from bot.web import create_app


@pytest.fixture
def channels() -> Iterator[tuple[TwilioFake, SlackFake, Controller, Inbox]]:
    with smtp_inbox() as (smtp, inbox), TwilioFake() as twilio, SlackFake() as slack:
        yield twilio, slack, smtp, inbox


@pytest.fixture
def bot(tmp_path: Path, channels: tuple[TwilioFake, SlackFake, Controller, Inbox]) -> Iterator[Services]:
    twilio, slack, smtp, _ = channels
    services = build_services(
        make_settings(
            tmp_path,
            **channel_values(twilio, slack, smtp.port),
        )
    )
    set_config(
        services,
        [{"symbol": "AAPL", "position_size": "10", "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}],
        {},
    )
    yield services
    services.close()


def _wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for a notification"
        time.sleep(0.05)


def _alert(**fields: Any) -> str:
    return json.dumps({"secret": SECRET, "symbol": "AAPL", "timeframe": "1h", **fields})


def test_a_hanging_sms_channel_never_delays_an_order(bot: Services, channels: Any) -> None:
    twilio, slack, _, _ = channels
    twilio.hang_seconds = 8.0
    client = create_app(services=bot).test_client()
    started = time.perf_counter()
    reply = client.post("/webhook", data=_alert(action="buy")).get_json()  # no price: FAILED → sms + slack
    elapsed = time.perf_counter() - started
    assert reply["order_status"] == "FAILED"
    assert elapsed < 0.5, f"the reply waited {elapsed:.2f} s for a notification channel"
    filled = client.post("/webhook", data=_alert(action="buy", price=190)).get_json()
    assert filled["order_status"] == "FILLED"
    _wait(lambda: any("FAILED" in t or "failed" in t for t in slack.texts()) and any("190" in t for t in slack.texts()))
    assert all(SECRET not in t for t in slack.texts())
    twilio.hang_seconds = 0.0


def test_thresholds_and_silence_are_watched(bot: Services, channels: Any) -> None:
    _, slack, _, _ = channels
    set_config(
        bot, [{"symbol": "AAPL", "position_size": "10", "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}], {}
    )
    bot.workbook.replace_rows(
        "Settings",
        [
            *bot.workbook.read_tables(["Settings"])["Settings"].rows,
            {"key": "alert_daily_loss_usd", "value": "50"},
            {"key": "alert_silent_minutes", "value": "30"},
            {"key": "notify_threshold", "value": "slack"},
            {"key": "notify_webhook_silent", "value": "slack"},
        ],
    )
    bot.config.invalidate()
    bot.config.get()
    client = create_app(services=bot).test_client()
    client.post("/webhook", data=_alert(action="buy", price=100))
    client.post("/webhook", data=_alert(action="close", price=93))  # −70 realised today
    state: dict[str, Any] = {}
    texts = monitor(bot, state)
    assert any("Daily loss" in t and "70" in t for t in texts)
    assert monitor(bot, state) == []  # fires once per breach, not every minute
    later = datetime.now(timezone.utc) + timedelta(minutes=45)
    assert any(t.startswith("No TradingView alert for 30 min") for t in monitor(bot, state, now=later))
    _wait(lambda: any("Daily loss" in t for t in slack.texts()))


def test_daily_summary_is_emailed_with_charts(bot: Services, channels: Any) -> None:
    _, _, _, inbox = channels
    client = create_app(services=bot).test_client()
    client.post(
        "/webhook", data=_alert(action="buy", price=100, time="2024-05-01T14:00:00Z"), headers={"X-Bot-Replay": "1"}
    )
    client.post(
        "/webhook", data=_alert(action="close", price=110, time="2024-05-02T14:00:00Z"), headers={"X-Bot-Replay": "1"}
    )
    text = daily_summary(bot)
    assert "AAPL" in text
    _wait(lambda: inbox.messages)
    message = inbox.messages[-1]
    attachments = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert attachments and all(name.endswith(".png") for name in attachments)
    html_parts = [part.get_payload(decode=True).decode() for part in message.walk()
                  if part.get_content_type() == "text/html"]
    assert html_parts and "<h2>Daily summary" in html_parts[0] and "AAPL" in html_parts[0]
    assert SECRET not in message.as_string()
