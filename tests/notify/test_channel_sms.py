"""Twilio SMS (:mod:`bot.notify.channels.sms`) through the official SDK against the Twilio fake on 127.0.0.1."""

from __future__ import annotations

import pytest
from fakes.twilio_fake import TwilioFake
from support.channels import SMS_FROM, SMS_TO
from support.notify_helpers import FAST

from bot.errors import ConfigError
from bot.notify import events
from bot.notify.channels.base import Message
from bot.notify.channels.sms import SmsChannel
from bot.notify.events import EventKind


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
