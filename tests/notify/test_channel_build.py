"""Channel construction from Settings (:mod:`bot.notify.channels.build`): enabled only when fully configured."""

from __future__ import annotations

from support.channels import SMS_FROM
from support.notify_helpers import make_settings

from bot.notify.channels.build import build_channels, channel_problems
from bot.notify.channels.smtp import EmailChannel


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
