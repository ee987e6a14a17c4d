"""Notifications: routing, real SDKs against loopback fakes, grouping, overflow, redaction.

Twilio and Slack run through their official SDKs against the fakes in ``tests/fakes``; e-mail
goes through smtplib to an aiosmtpd server. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fakes.slack_fake import SlackFake  # tests/ is on sys.path (as for support.helpers in conftest)
from fakes.twilio_fake import TwilioFake
from support.channels import SMS_FROM, SMS_TO, Inbox, channel_values, smtp_inbox
from support.server import free_port

from bot.errors import ConfigError, TemporaryError
from bot.notify import events
from bot.notify.channels.base import Channel, Message, Redactor, RetryPolicy
from bot.notify.channels.build import build_channels, channel_problems
from bot.notify.channels.slack import SlackChannel, SlackWebhookChannel
from bot.notify.channels.sms import SmsChannel
from bot.notify.channels.smtp import EmailChannel
from bot.notify.events import Event, EventKind
from bot.notify.notifier import Notifier, build_notifier, send_test
from bot.notify.routing import (
    CHANNEL_NAMES,
    NOTIFY_SETTING_KEYS,
    NotifySettings,
    ThresholdMonitor,
    parse_channels,
    parse_notify_settings,
)
from bot.settings import Settings

#: Short timeouts and backoff so fault tests take well under a second each.
FAST = RetryPolicy(attempts=3, timeout_seconds=0.3, wait_initial_seconds=0.01, wait_max_seconds=0.05)
ALL = set(CHANNEL_NAMES)

WEBHOOK_SECRET = "whsec-Sup3rS3cretValue"
API_TOKEN = "api-T0ken-Value-123"
SMTP_PASSWORD = "smtp-Passw0rd-Value"


# --------------------------------------------------------------------------------------------
# Fixtures: fakes on 127.0.0.1
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackFake]:
    with SlackFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    with smtp_inbox() as server:
        yield server


@pytest.fixture
def twilio(twilio_server: TwilioFake) -> TwilioFake:
    twilio_server.reset()
    return twilio_server


@pytest.fixture
def slack(slack_server: SlackFake) -> SlackFake:
    slack_server.reset()
    return slack_server


@pytest.fixture
def smtp(smtp_server: tuple[Controller, Inbox]) -> tuple[Controller, Inbox]:
    smtp_server[1].reset()
    return smtp_server


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox]) -> Settings:
    controller, _ = smtp
    return make_settings(
        **channel_values(twilio, slack, controller.port), webhook_secret=WEBHOOK_SECRET, bot_api_token=API_TOKEN
    )


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def sms_text(event: Event, note: str = "") -> str:
    return f"{event.kind.title}: {event.text}{note}"


def slack_text(event: Event, note: str = "") -> str:
    escaped = (event.text + note).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"*{event.kind.title}*: {escaped}"


class RecordingChannel(Channel):
    """In-process channel: records messages; optionally blocks until released."""

    def __init__(self, name: str = "slack", *, block: bool = False) -> None:
        super().__init__(retry=FAST)
        self.name = name
        self.messages: list[Message] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()

    def _send(self, message: Message) -> None:
        self.started.set()
        self.release.wait(10)
        self.messages.append(message)


# --------------------------------------------------------------------------------------------
# Settings-tab keys and routing
# --------------------------------------------------------------------------------------------


def test_setting_keys_cover_every_event_kind_and_threshold() -> None:
    for kind in EventKind:
        assert f"notify_{kind.value}" in NOTIFY_SETTING_KEYS
    for key in ("alert_daily_loss_usd", "alert_drawdown_pct", "alert_equity_below_usd",
                "alert_silent_minutes", "notify_group_minutes"):  # fmt: skip
        assert key in NOTIFY_SETTING_KEYS
    assert "Default slack" in NOTIFY_SETTING_KEYS["notify_order_filled"]
    assert "Default 10" in NOTIFY_SETTING_KEYS["notify_group_minutes"]


def test_parse_notify_settings_defaults() -> None:
    parsed, problems = parse_notify_settings([])
    assert problems == []
    assert parsed.channels_for(EventKind.ORDER_FILLED) == {"slack"}
    assert parsed.channels_for(EventKind.ORDER_FAILED) == ALL
    assert parsed.channels_for(EventKind.POSITION_DRIFT) == ALL
    assert parsed.channels_for(EventKind.WORKBOOK_DEGRADED) == ALL
    assert parsed.channels_for(EventKind.DAILY_SUMMARY) == {"email"}
    assert parsed.channels_for(EventKind.TEST) == ALL
    assert parsed.group_minutes == 10
    assert parsed.daily_loss_usd is None and parsed.silent_minutes is None


def test_parse_notify_settings_reads_routes_and_thresholds() -> None:
    records = [
        {"key": "notify_order_filled", "value": "Slack, e-mail"},
        {"key": "notify_order_failed", "value": "sms,slack"},
        {"key": "notify_daily_summary", "value": "email"},
        {"key": "notify_alert_rejected", "value": "none"},
        {"key": "notify_blocked", "value": ""},  # blank = default
        {"key": "alert_daily_loss_usd", "value": "$1,500"},
        {"key": "alert_drawdown_pct", "value": "12.5%"},
        {"key": "alert_equity_below_usd", "value": "0"},  # 0 = off
        {"key": "alert_silent_minutes", "value": "90"},
        {"key": "notify_group_minutes", "value": "5"},
        {"key": "trading_enabled", "value": "FALSE"},  # not ours: ignored, no problem
    ]
    parsed, problems = parse_notify_settings(records)
    assert problems == []
    assert parsed.channels_for(EventKind.ORDER_FILLED) == {"slack", "email"}
    assert parsed.channels_for(EventKind.ORDER_FAILED) == {"sms", "slack"}
    assert parsed.channels_for(EventKind.ALERT_REJECTED) == frozenset()
    assert parsed.channels_for(EventKind.BLOCKED) == ALL
    assert parsed.daily_loss_usd == Decimal("1500")
    assert parsed.drawdown_pct == Decimal("12.5")
    assert parsed.equity_below_usd is None
    assert parsed.silent_minutes == 90
    assert parsed.group_seconds == 300


def test_parse_notify_settings_names_bad_values_and_keeps_defaults() -> None:
    parsed, problems = parse_notify_settings(
        [
            {"key": "notify_order_filled", "value": "slak"},
            {"key": "alert_daily_loss_usd", "value": "lots"},
            {"key": "notify_group_minutes", "value": "-3"},
        ]
    )
    assert parsed.channels_for(EventKind.ORDER_FILLED) == {"slack"}
    assert parsed.daily_loss_usd is None
    assert parsed.group_minutes == 10
    assert len(problems) == 3
    assert problems[0].startswith("key 'notify_order_filled':") and "'slak'" in problems[0]
    assert problems[1].startswith("key 'alert_daily_loss_usd':") and "'lots'" in problems[1]
    assert problems[2].startswith("key 'notify_group_minutes':")


def test_parse_channels_aliases() -> None:
    assert parse_channels("all") == ALL
    assert parse_channels("text + mail") == {"sms", "email"}
    assert parse_channels("off") == frozenset()
    with pytest.raises(ValueError, match="'pager'"):
        parse_channels("sms, pager")


# --------------------------------------------------------------------------------------------
# Delivery through the real SDKs
# --------------------------------------------------------------------------------------------


def one_event_per_kind() -> list[Event]:
    return [
        events.order_filled(symbol="AAPL", timeframe="15m", side="buy", qty=Decimal("10"),
                            price=Decimal("187.50"), order_id="ord-1", position="long 10"),
        events.order_failed(symbol="MSFT", timeframe="1h", side="sell", qty="3", reason="insufficient qty"),
        events.config_error(problem="position_size 'abc' is not a number", symbol="TSLA", timeframe="4h", row=7),
        events.alert_rejected(symbol="NVDA", timeframe="5m", reason="duplicate of alert a-1"),
        events.blocked(symbol="BTCUSDT", timeframe="1d", action="buy", reason="trading_enabled is FALSE"),
        events.position_drift(symbol="ETHUSDT", broker_qty=Decimal("1.5"), slots_qty=Decimal("1")),
        events.workbook_degraded(reason="Google Sheets quota exceeded (429)", pending_writes=12),
        events.workbook_recovered(flushed_writes=12),
        events.webhook_silent(minutes=90, last_signal_at=dt.datetime(2024, 5, 1, 14, 30, tzinfo=dt.timezone.utc)),
        events.daily_summary(text="Today: 4 trades, P&L +120.50 USD.", html="<table><tr><td>4</td></tr></table>"),
        events.threshold(metric="Daily loss", value="612.40 USD", limit="500.00 USD"),
        events.test_event(),
    ]  # fmt: skip


def test_each_event_reaches_the_routed_channels(
    settings: Settings, twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox]
) -> None:
    _, inbox = smtp
    records = [
        {"key": "notify_alert_rejected", "value": "none"},
        {"key": "notify_daily_summary", "value": "email, slack"},
    ]
    expected = {
        EventKind.ORDER_FILLED: {"slack"},
        EventKind.ALERT_REJECTED: set(),
        EventKind.DAILY_SUMMARY: {"email", "slack"},
    }
    published = one_event_per_kind()
    assert {e.kind for e in published} == set(EventKind)

    notifier = build_notifier(settings, route_records=records, retry=FAST)
    assert [c.name for c in notifier.channels] == ["sms", "slack", "email"]
    for event in published:
        notifier.publish(event)
    assert notifier.close(timeout=10)

    want = {name: [e for e in published if name in expected.get(e.kind, ALL)] for name in CHANNEL_NAMES}
    assert sorted(twilio.bodies()) == sorted(sms_text(e) for e in want["sms"])
    assert sorted(slack.texts()) == sorted(slack_text(e) for e in want["slack"])
    assert sorted(str(m["Subject"]) for m in inbox.messages) == sorted(
        f"[trading bot] {e.subject}" for e in want["email"]
    )
    by_subject = {str(m["Subject"]): m for m in inbox.messages}
    for event in want["email"]:
        assert plain_body(by_subject[f"[trading bot] {event.subject}"]).strip() == event.text
    summary = by_subject["[trading bot] DAILY SUMMARY"]
    html = summary.get_body(preferencelist=("html",))
    assert html is not None and "<table>" in html.get_content()
    assert all(m["from"] == SMS_FROM and m["to"] == SMS_TO for m in twilio.messages)
    assert {p["channel"] for p in slack.posts} == {"#alerts"}
    assert notifier.stats()["sms"].failed == 0


def test_event_texts_say_what_happened_where_and_what_the_bot_did() -> None:
    failed = events.order_failed(symbol="AAPL", timeframe="15m", side="buy", qty="10", reason="market closed")
    assert failed.text == "AAPL 15m: buy 10 order FAILED: market closed. Row marked FAILED; no position change."
    assert failed.subject == "ORDER FAILED AAPL 15m"
    filled = events.order_filled(symbol="AAPL", timeframe="15m", side="buy", qty=Decimal("10.50"),
                                 price=Decimal("187.5"), order_id="x1")  # fmt: skip
    assert filled.text == "AAPL 15m: buy 10.5 filled @ 187.5 (order x1)."
    assert "No order placed" in events.blocked(symbol="AAPL", timeframe="1h", action="buy", reason="kill switch").text


def test_sms_goes_to_every_recipient_with_basic_auth(twilio: TwilioFake) -> None:
    channel = SmsChannel(
        account_sid=twilio.account_sid, auth_token=twilio.auth_token, from_number=SMS_FROM,
        to_numbers=["+15550000002", "+15550000003"], base_url=twilio.base_url, retry=FAST,
    )  # fmt: skip
    # The SDK hook: the API domain's base URL; the SDK builds /2010-04-01/Accounts/{sid}/Messages.json.
    assert channel.client.api.base_url == twilio.base_url
    event = events.test_event("hello")
    channel.send(Message(event.kind, event.subject, event.text))
    assert [m["to"] for m in twilio.messages] == ["+15550000002", "+15550000003"]
    assert twilio.bodies() == ["TEST: hello", "TEST: hello"]


def test_sms_retries_429_and_500_then_delivers(twilio: TwilioFake) -> None:
    twilio.fail_next(429, 500)
    channel = SmsChannel(account_sid=twilio.account_sid, auth_token=twilio.auth_token, from_number=SMS_FROM,
                         to_numbers=[SMS_TO], base_url=twilio.base_url, retry=FAST)  # fmt: skip
    channel.send(Message(EventKind.TEST, "TEST", "after retries"))
    assert twilio.requests == 3
    assert twilio.bodies() == ["TEST: after retries"]


def test_sms_bad_token_is_a_config_error_without_retry(twilio: TwilioFake) -> None:
    channel = SmsChannel(account_sid=twilio.account_sid, auth_token="wrong-token-value", from_number=SMS_FROM,
                         to_numbers=[SMS_TO], base_url=twilio.base_url, retry=FAST)  # fmt: skip
    with pytest.raises(ConfigError) as info:
        channel.send(Message(EventKind.TEST, "TEST", "x"))
    assert info.value.field == "TWILIO_AUTH_TOKEN"
    assert "20003" in str(info.value) and "wrong-token-value" not in str(info.value)
    assert twilio.requests == 1


def test_slack_retries_ratelimited_honouring_retry_after(slack: SlackFake) -> None:
    slack.fail_next(429, 503)
    channel = SlackChannel(token=slack.token, channel="#alerts", base_url=slack.api_base_url, retry=FAST)
    channel.send(Message(EventKind.ORDER_FILLED, "ORDER FILLED", "AAPL 15m: buy 1 filled <ok> & done."))
    assert slack.requests == 3
    assert slack.texts() == ["*ORDER FILLED*: AAPL 15m: buy 1 filled &lt;ok&gt; &amp; done."]


def test_slack_unknown_channel_is_a_config_error(slack_server: SlackFake) -> None:
    slack_server.reset()
    slack_server.channels = {"#alerts"}
    try:
        channel = SlackChannel(token=slack_server.token, channel="#nope", base_url=slack_server.api_base_url,
                               retry=FAST)  # fmt: skip
        with pytest.raises(ConfigError) as info:
            channel.send(Message(EventKind.TEST, "TEST", "x"))
        assert info.value.field == "SLACK_CHANNEL" and "channel_not_found" in str(info.value)
        assert slack_server.requests == 1
    finally:
        slack_server.channels = None


def test_slack_incoming_webhook_delivers_and_retries(slack: SlackFake) -> None:
    settings = make_settings(slack_webhook_url=slack.webhook_url)
    channels = build_channels(settings, retry=FAST)
    assert len(channels) == 1 and isinstance(channels[0], SlackWebhookChannel)
    assert slack.webhook_path not in channels[0].describe()
    slack.fail_next(429, 500)
    channels[0].send(Message(EventKind.TEST, "TEST", "via webhook"))
    assert slack.requests == 3
    assert [p["text"] for p in slack.webhook_posts] == ["*TEST*: via webhook"]


def test_slack_webhook_gives_up_after_bounded_attempts(slack: SlackFake) -> None:
    channel = SlackWebhookChannel(url=slack.webhook_url, retry=FAST)
    slack.fail_next(500, 500, 500, 500)
    with pytest.raises(TemporaryError, match="HTTP 500"):
        channel.send(Message(EventKind.TEST, "TEST", "x"))
    assert slack.requests == FAST.attempts


# --------------------------------------------------------------------------------------------
# Never in the way of trading
# --------------------------------------------------------------------------------------------


def test_hanging_channel_delays_neither_publish_nor_other_channels(
    settings: Settings, twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox], caplog: Any
) -> None:
    _, inbox = smtp
    twilio.hang_seconds = 3.0  # far beyond the 0.3 s client timeout
    notifier = build_notifier(settings, retry=FAST)
    event = events.order_failed(symbol="AAPL", timeframe="15m", side="buy", qty="1", reason="rejected")
    caplog.set_level(logging.WARNING, logger="bot.notify")

    started = time.perf_counter()
    notifier.publish(event)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.05, f"publish took {elapsed * 1000:.1f} ms"

    # Slack and e-mail arrive while Twilio is still hanging (well before its first timeout ends).
    assert wait_for(lambda: slack.texts() == [slack_text(event)] and len(inbox.messages) == 1, timeout=2)
    assert notifier.stats()["sms"].sent == 0

    assert notifier.close(timeout=10)
    stats = notifier.stats()["sms"]
    assert (stats.sent, stats.failed) == (0, 1)
    assert "did not answer within 0.3 s" in stats.last_error
    assert twilio.requests == FAST.attempts
    assert twilio.auth_token not in caplog.text


def test_failing_channel_does_not_stop_the_others(
    settings: Settings, twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox], caplog: Any
) -> None:
    _, inbox = smtp
    slack.fail_next(*[500] * 10)
    caplog.set_level(logging.WARNING, logger="bot.notify")
    notifier = build_notifier(settings, retry=FAST)
    first = events.position_drift(symbol="AAPL", broker_qty="5", slots_qty="4")
    second = events.position_drift(symbol="MSFT", broker_qty="2", slots_qty="0")
    started = time.perf_counter()
    notifier.publish(first)
    notifier.publish(second)
    assert time.perf_counter() - started < 0.05
    assert notifier.close(timeout=10)
    assert sorted(twilio.bodies()) == sorted([sms_text(first), sms_text(second)])
    assert len(inbox.messages) == 2
    assert slack.texts() == []
    assert notifier.stats()["slack"].failed == 2
    assert "slack: position_drift notification not delivered: Slack answered HTTP 500" in caplog.text
    assert slack.token not in caplog.text


def test_publish_with_no_channels_is_a_cheap_no_op() -> None:
    threads_before = threading.active_count()
    notifier = build_notifier(make_settings())
    assert not notifier.enabled and notifier.channels == ()
    started = time.perf_counter()
    for _ in range(1000):
        notifier.publish(events.test_event())
    assert time.perf_counter() - started < 0.05
    assert threading.active_count() == threads_before
    assert notifier.close(timeout=1)
    assert send_test(notifier) == {}


def test_queue_overflow_drops_oldest_non_critical_first() -> None:
    channel = RecordingChannel("slack", block=True)
    notifier = Notifier([channel], settings=NotifySettings(group_minutes=0), queue_size=5)
    routes_all = NotifySettings(group_minutes=0, routes={kind: frozenset({"slack"}) for kind in EventKind})
    notifier.update_settings(routes_all)
    notifier.publish(events.order_filled(symbol="S0", timeframe="1m", side="buy", qty="1"))
    assert channel.started.wait(5)  # the worker is now stuck in send()
    critical = events.order_failed(symbol="AAPL", timeframe="1m", reason="boom")
    notifier.publish(critical)
    fills = [events.order_filled(symbol=f"S{i}", timeframe="1m", side="buy", qty="1") for i in range(1, 11)]
    started = time.perf_counter()
    for fill in fills:
        notifier.publish(fill)
    assert time.perf_counter() - started < 0.05
    assert notifier.stats()["slack"].dropped == 6
    channel.release.set()
    assert notifier.close(timeout=5)
    texts = [m.text for m in channel.messages]
    assert texts == [channel.messages[0].text, critical.text, *[f.text for f in fills[6:]]]


# --------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------


def test_storm_of_failures_is_grouped_into_a_handful_of_messages(
    settings: Settings, twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox]
) -> None:
    _, inbox = smtp
    notifier = build_notifier(settings, retry=FAST)
    storm = [
        events.order_failed(symbol="AAPL", timeframe="15m", side="buy", qty="1", reason=f"rejected #{i}")
        for i in range(1000)
    ]
    other = events.order_failed(symbol="MSFT", timeframe="15m", side="buy", qty="1", reason="rejected")
    started = time.perf_counter()
    for event in storm:
        notifier.publish(event)
    notifier.publish(other)
    assert time.perf_counter() - started < 1.0  # 1,001 publishes; generous bound, not a benchmark
    assert notifier.close(timeout=10)

    note = " (+998 similar suppressed)"
    assert sorted(twilio.bodies()) == sorted([sms_text(storm[0]), sms_text(storm[-1], note), sms_text(other)])
    assert sorted(slack.texts()) == sorted(
        [slack_text(storm[0]), slack_text(storm[-1], note), slack_text(other)]
    )
    assert len(inbox.messages) == 3
    assert any(plain_body(m).strip().endswith(note.strip()) for m in inbox.messages)
    assert notifier.stats()["sms"].suppressed == 999


def test_grouping_window_reports_suppressed_repeats() -> None:
    now = [1000.0]
    channel = RecordingChannel("sms")
    notifier = Notifier([channel], settings=NotifySettings(group_minutes=10), clock=lambda: now[0],
                        tick_seconds=0.01)  # fmt: skip
    e1, e2, e3 = (events.blocked(symbol="AAPL", timeframe="1h", action="buy", reason=f"limit {i}") for i in range(3))
    notifier.publish(e1)
    assert wait_for(lambda: len(channel.messages) == 1)
    notifier.publish(e2)
    notifier.publish(e3)
    time.sleep(0.05)
    assert len(channel.messages) == 1  # window still open

    now[0] += 601  # the window ends: the latest repeat goes out, noting the other one
    assert wait_for(lambda: len(channel.messages) == 2)
    assert channel.messages[1].text == e3.text + " (+1 similar suppressed)"

    e4, e5 = (events.blocked(symbol="AAPL", timeframe="1h", action="sell", reason=f"x{i}") for i in range(2))
    notifier.publish(e4)  # inside the new window: suppressed
    now[0] += 601
    notifier.publish(e5)  # after it: sent at once with the note
    assert notifier.close(timeout=5)
    assert [m.text for m in channel.messages[2:]] == [e5.text + " (+1 similar suppressed)"]


def test_group_minutes_zero_sends_every_event() -> None:
    channel = RecordingChannel("sms")
    notifier = Notifier([channel], settings=NotifySettings(group_minutes=0))
    for i in range(20):
        notifier.publish(events.order_failed(symbol="AAPL", timeframe="1m", reason=f"r{i}"))
    assert notifier.close(timeout=5)
    assert len(channel.messages) == 20


# --------------------------------------------------------------------------------------------
# Secrets and send_test
# --------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_sent_text(
    settings: Settings, twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox], caplog: Any
) -> None:
    _, inbox = smtp
    secrets = [twilio.auth_token, slack.token, WEBHOOK_SECRET, API_TOKEN]
    leaky = Event(
        EventKind.CONFIG_ERROR,
        f"bad config: token={slack.token} secret={WEBHOOK_SECRET} api={API_TOKEN} sms={twilio.auth_token}",
        html=f"<p>{WEBHOOK_SECRET}</p>",
    )
    notifier = build_notifier(settings, retry=FAST)
    notifier.publish(leaky)
    assert notifier.close(timeout=10)
    sent = [*twilio.bodies(), *slack.texts(), *(m.decode("utf-8", "replace") for m in inbox.raw)]
    assert len(sent) == 3
    for text in sent:
        assert "***" in text
        for secret in secrets:
            assert secret not in text
    for secret in secrets:
        assert secret not in caplog.text


def test_redactor_covers_webhook_url_path() -> None:
    url = "https://hooks.slack.com/services/T000/B000/abcdefghijkl"
    redact = Redactor([url, "ab", ""])
    assert redact(f"posted to {url}") == "posted to ***"
    assert redact("path services/T000/B000/abcdefghijkl leaked") == "path *** leaked"
    assert redact("ab stays") == "ab stays"  # too short to redact safely


def test_send_test_reports_ok_or_error_per_channel(
    twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox]
) -> None:
    controller, inbox = smtp
    settings = make_settings(
        twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token, twilio_from=SMS_FROM,
        alert_sms_to=SMS_TO, twilio_base_url=twilio.base_url,
        slack_bot_token="test-wrong-token-123", slack_channel="#alerts", slack_base_url=slack.api_base_url,
        smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none", smtp_from="bot@example.com",
        smtp_to="trader@example.com",
    )  # fmt: skip
    notifier = build_notifier(settings, retry=FAST)
    result = send_test(notifier)
    assert list(result) == ["sms", "slack", "email"]
    assert result["sms"] == "ok" and result["email"] == "ok"
    assert "invalid_auth" in result["slack"] and "SLACK_BOT_TOKEN" in result["slack"]
    assert "test-wrong-token-123" not in result["slack"]
    assert twilio.bodies() == ["TEST: Test message from the trading bot: this channel works."]
    assert len(inbox.messages) == 1
    notifier.close(timeout=1)


def test_send_test_reports_unreachable_channel() -> None:
    channel = EmailChannel(host="127.0.0.1", port=free_port(), to_addrs=["a@example.com"],
                           from_addr="bot@example.com", security="none", retry=FAST)  # fmt: skip
    result = send_test([channel])
    assert result == {"email": "cannot reach the SMTP server (ConnectionRefusedError)"}


# --------------------------------------------------------------------------------------------
# Channel construction from Settings
# --------------------------------------------------------------------------------------------


def test_channels_enabled_only_when_fully_configured() -> None:
    assert build_channels(make_settings()) == []
    assert channel_problems(make_settings()) == []
    partial = make_settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="tok-12345", twilio_from=SMS_FROM)
    assert build_channels(partial) == []
    assert channel_problems(partial) == ["SMS (Twilio) is partly configured: set ALERT_SMS_TO (channel off)"]
    bad_number = make_settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="tok-12345",
                               twilio_from=SMS_FROM, alert_sms_to="555-1234")  # fmt: skip
    assert build_channels(bad_number) == []
    assert "E.164" in channel_problems(bad_number)[0]
    slack_only_token = make_settings(slack_bot_token="test-slack-token-abc")
    assert channel_problems(slack_only_token) == ["Slack is partly configured: set SLACK_CHANNEL (channel off)"]
    email = make_settings(smtp_host="smtp.example.com", smtp_user="me@example.com", smtp_to="a@x.com, b@x.com")
    (channel,) = build_channels(email)
    assert isinstance(channel, EmailChannel)
    assert channel.from_addr == "me@example.com" and channel.to_addrs == ("a@x.com", "b@x.com")
    assert channel.describe() == "email: smtp.example.com:587 (starttls) to 2 address(es)"


# --------------------------------------------------------------------------------------------
# E-mail: HTML, attachments, STARTTLS and SSL
# --------------------------------------------------------------------------------------------

PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def test_email_has_plain_html_and_png_attachment(smtp: tuple[Controller, Inbox], tmp_path: Path) -> None:
    controller, inbox = smtp
    chart = tmp_path / "equity.png"
    chart.write_bytes(PNG_BYTES)
    channel = EmailChannel(host="127.0.0.1", port=controller.port, to_addrs=["a@example.com", "b@example.com"],
                           from_addr="bot@example.com", security="none", retry=FAST)  # fmt: skip
    notifier = Notifier([channel])
    notifier.publish(events.daily_summary(text="P&L +10 USD", html="<h1>P&amp;L +10 USD</h1>",
                                          attachments=[chart, tmp_path / "missing.png"]))  # fmt: skip
    assert notifier.close(timeout=5)
    (message,) = inbox.messages
    assert message["Subject"] == "[trading bot] DAILY SUMMARY"
    assert inbox.envelopes == [("bot@example.com", ["a@example.com", "b@example.com"])]
    assert plain_body(message).strip() == "P&L +10 USD"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<h1>P&amp;L +10 USD</h1>" in html.get_content()
    attachments = list(message.iter_attachments())
    assert [(a.get_content_type(), a.get_filename()) for a in attachments] == [("image/png", "equity.png")]
    assert attachments[0].get_content() == PNG_BYTES


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _Login:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_login(security: str, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    inbox = Inbox()
    port = free_port()
    tls_args: dict[str, Any] = (
        {"tls_context": server_ctx, "require_starttls": True} if security == "starttls"
        else {"ssl_context": server_ctx, "auth_require_tls": False}
    )  # fmt: skip
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_Login("bot", SMTP_PASSWORD),
                            auth_required=True, **tls_args)  # fmt: skip
    controller.start()
    try:
        def channel(password: str) -> EmailChannel:
            return EmailChannel(host="127.0.0.1", port=port, security=security, user="bot", password=password,
                                from_addr="bot@example.com", to_addrs=["t@example.com"], ssl_context=client_ctx,
                                retry=FAST)  # fmt: skip

        good = channel(SMTP_PASSWORD)
        good.send(Message(EventKind.TEST, "TEST", "over tls"))
        assert [plain_body(m).strip() for m in inbox.messages] == ["over tls"]
        assert SMTP_PASSWORD.encode() not in inbox.raw[0]
        assert send_test([channel("wrong-password")]) == {"email": "SMTP login refused (535) (check SMTP_PASSWORD)"}
        # An unverifiable certificate is a configuration problem, not something to retry.
        untrusting = EmailChannel(host="127.0.0.1", port=port, security=security, user="bot",
                                  password=SMTP_PASSWORD, from_addr="bot@example.com", to_addrs=["t@example.com"],
                                  retry=FAST)  # fmt: skip
        with pytest.raises(ConfigError, match="TLS"):
            untrusting.send(Message(EventKind.TEST, "TEST", "x"))
    finally:
        controller.stop()


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def test_threshold_monitor_fires_once_per_breach() -> None:
    settings, _ = parse_notify_settings(
        [
            {"key": "alert_daily_loss_usd", "value": "500"},
            {"key": "alert_drawdown_pct", "value": "10"},
            {"key": "alert_equity_below_usd", "value": "90000"},
            {"key": "alert_silent_minutes", "value": "60"},
        ]
    )
    monitor = ThresholdMonitor(settings)
    day = dt.datetime(2024, 5, 1, 15, tzinfo=dt.timezone.utc)
    assert monitor.check(equity_usd=Decimal("99000"), daily_pnl_usd=Decimal("-100"),
                         peak_equity_usd=Decimal("100000"), now=day) == []  # fmt: skip
    fired = monitor.check(equity_usd=Decimal("89000"), daily_pnl_usd=Decimal("-612.4"),
                          peak_equity_usd=Decimal("100000"), now=day)  # fmt: skip
    assert [e.kind for e in fired] == [EventKind.THRESHOLD] * 3
    assert fired[0].text == "Daily loss 612.40 USD crossed the alert level 500.00 USD. Trading continues (alert only)."
    assert fired[1].text.startswith("Drawdown 11.00 % crossed the alert level 10 %")
    assert fired[2].text.startswith("Equity 89,000.00 USD crossed the alert level 90,000.00 USD (floor)")
    channel = RecordingChannel("sms")
    with Notifier([channel]) as notifier:  # different limits are never grouped together
        for event in fired:
            notifier.publish(event)
    assert [m.text for m in channel.messages] == [e.text for e in fired]
    # Still breached: no repeat. Recovered then breached again: fires again.
    assert monitor.check(equity_usd=Decimal("88000"), daily_pnl_usd=Decimal("-700"),
                         peak_equity_usd=Decimal("100000"), now=day) == []  # fmt: skip
    monitor.check(equity_usd=Decimal("95000"), peak_equity_usd=Decimal("100000"), now=day)
    again = monitor.check(equity_usd=Decimal("89500"), peak_equity_usd=Decimal("100000"), now=day)
    assert [e.text.split()[0] for e in again] == ["Drawdown", "Equity"]
    # A new day re-arms the daily loss alarm.
    next_day = day + dt.timedelta(days=1)
    assert len(monitor.check(daily_pnl_usd=Decimal("-600"), now=next_day)) == 1

    last = day - dt.timedelta(minutes=30)
    assert monitor.check_silence(last_signal_at=last, now=day) == []
    (silent,) = monitor.check_silence(last_signal_at=last, now=day + dt.timedelta(minutes=31))
    assert silent.kind is EventKind.WEBHOOK_SILENT and "60 min" in silent.text
    assert monitor.check_silence(last_signal_at=last, now=day + dt.timedelta(minutes=90)) == []
    assert monitor.check_silence(last_signal_at=None, now=day) == []
