"""Notification test helpers: fast retries, secret values, settings without an env file, waiting, message texts
as each channel formats them, and an in-process :class:`RecordingChannel`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from bot.notify.channels.base import Channel, Message, RetryPolicy
from bot.notify.events import Event
from bot.notify.routing import CHANNEL_NAMES
from bot.settings import Settings

#: Short timeouts and backoff so fault tests take well under a second each.
FAST = RetryPolicy(attempts=3, timeout_seconds=0.3, wait_initial_seconds=0.01, wait_max_seconds=0.05)

ALL = set(CHANNEL_NAMES)

WEBHOOK_SECRET = "whsec-Sup3rS3cretValue"
API_TOKEN = "api-T0ken-Value-123"
SMTP_PASSWORD = "smtp-Passw0rd-Value"


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


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
