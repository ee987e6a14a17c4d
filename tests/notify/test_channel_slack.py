"""Slack (:mod:`bot.notify.channels.slack`): bot token and incoming webhook through slack_sdk against the Slack fake."""

from __future__ import annotations

import pytest
from fakes.slack_fake import SlackFake
from support.notify_helpers import FAST, make_settings

from bot.errors import ConfigError, TemporaryError
from bot.notify.channels.base import Message
from bot.notify.channels.build import build_channels
from bot.notify.channels.slack import SlackChannel, SlackWebhookChannel
from bot.notify.events import EventKind


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
