"""Notification channels on loopback: an SMTP inbox (aiosmtpd) and settings pointing every channel at fakes."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from fakes.slack_fake import SlackFake
from fakes.twilio_fake import TwilioFake

from .server import free_port

SMS_FROM = "+15550000001"
SMS_TO = "+15550000002"


class Inbox:
    """aiosmtpd handler that keeps every message it receives (parsed, raw and envelope)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.raw.append(content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def reset(self) -> None:
        """Forget every message received so far."""
        self.messages.clear()
        self.raw.clear()
        self.envelopes.clear()


@contextmanager
def smtp_inbox(**controller_args: Any) -> Iterator[tuple[Controller, Inbox]]:
    """An SMTP server on a free loopback port for the block: ``(controller, inbox)``."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **controller_args)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def channel_values(twilio: TwilioFake, slack: SlackFake, smtp_port: int) -> dict[str, Any]:
    """Settings values sending SMS, Slack and e-mail to the fakes (plain SMTP on ``smtp_port``)."""
    return {
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_from": SMS_FROM,
        "alert_sms_to": SMS_TO,
        "twilio_base_url": twilio.base_url,
        "slack_bot_token": slack.token,
        "slack_channel": "#alerts",
        "slack_base_url": slack.api_base_url,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "smtp_from": "bot@example.com",
        "smtp_to": "trader@example.com",
    }
