"""The notifier (:mod:`bot.notify.notifier`): routed delivery through the real SDKs, never in the way of trading,
grouping, overflow, redaction and ``send_test``.

Twilio and Slack run through their official SDKs against the fakes in ``tests/fakes``; e-mail
goes through smtplib to an aiosmtpd server. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from decimal import Decimal
from typing import Any

from aiosmtpd.controller import Controller
from fakes.slack_fake import SlackFake
from fakes.twilio_fake import TwilioFake
from support.channels import SMS_FROM, SMS_TO, Inbox
from support.notify_helpers import (
    ALL,
    API_TOKEN,
    FAST,
    WEBHOOK_SECRET,
    RecordingChannel,
    make_settings,
    plain_body,
    slack_text,
    sms_text,
    wait_for,
)
from support.server import free_port

from bot.notify import events
from bot.notify.channels.smtp import EmailChannel
from bot.notify.events import Event, EventKind
from bot.notify.notifier import Notifier, build_notifier, send_test
from bot.notify.routing import CHANNEL_NAMES, NotifySettings
from bot.settings import Settings

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
    assert sorted(slack.texts()) == sorted([slack_text(storm[0]), slack_text(storm[-1], note), slack_text(other)])
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
