"""What every delivery channel shares: the :class:`Channel` interface, :class:`Message`, retries, redaction.

Each channel sends one :class:`Message` synchronously, retrying each API call with tenacity
(exponential backoff, :class:`RetryPolicy`) on rate limits (429), server errors (5xx), timeouts
and dropped connections. Vendor exceptions are translated at each channel's boundary:

- :class:`~bot.errors.TemporaryError` (or its :class:`RateLimited` subclass): still failing after
  the last attempt; the message is lost for this channel, try again later.
- :class:`~bot.errors.ConfigError`: the service refused for a reason a retry cannot fix (bad
  token, unknown Slack channel, invalid phone number, SMTP login refused). ``field`` names the
  setting to check.

Error texts never contain tokens, passwords or webhook URLs (:class:`Redactor` is the last guard).
No vendor SDK is imported here: the channels live in :mod:`bot.notify.channels.sms` (Twilio),
:mod:`bot.notify.channels.slack` (slack_sdk) and :mod:`bot.notify.channels.smtp` (smtplib), and
are built from Settings by :mod:`bot.notify.channels.build`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.errors import TemporaryError
from bot.notify.events import EventKind

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How each API call is retried (tenacity).

    Attributes:
        attempts: total tries per call (1 = no retry).
        timeout_seconds: connect/read timeout of one try.
        wait_initial_seconds: first backoff; doubles each retry (0.5, 1, 2, ...).
        wait_max_seconds: cap on one backoff, also on a server's ``Retry-After``.
    """

    attempts: int = 3
    timeout_seconds: float = 5.0
    wait_initial_seconds: float = 0.5
    wait_max_seconds: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_seconds <= 0 or self.wait_initial_seconds < 0:
            raise ValueError(f"invalid retry policy {self!r}")


@dataclass(frozen=True)
class Message:
    """A rendered notification, as channels send it.

    Attributes:
        kind: the event kind (for logs).
        subject: one-line title (``"ORDER FAILED AAPL 15m"``); e-mail subject, SMS/Slack prefix.
        text: plain text body (already redacted and with any "(+N similar suppressed)" note).
        html: HTML body for e-mail (``""`` = generated from ``text``).
        attachments: PNG files attached to e-mail only.
    """

    kind: EventKind
    subject: str
    text: str
    html: str = ""
    attachments: tuple[Path, ...] = ()


class RateLimited(TemporaryError):
    """The service answered 429; ``retry_after_seconds`` is its ``Retry-After`` (0 when absent)."""

    def __init__(self, message: str, *, retry_after_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Redactor:
    """Replaces secret values in text with ``***`` (the final guard before anything is sent or logged).

    Values shorter than 4 characters are ignored (they would mangle ordinary words). For URL
    secrets (a Slack webhook URL) the part after the host is redacted too.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            secret = (secret or "").strip()
            if len(secret) < 4:
                continue
            values.add(secret)
            if "://" in secret:
                parts = urlsplit(secret)
                if len(parts.path) >= 8:
                    values.add(parts.path.lstrip("/"))
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return text

    def __bool__(self) -> bool:
        return bool(self._values)

    def extended(self, secrets: Iterable[str]) -> Redactor:
        """A new redactor knowing these values as well as this one's."""
        return Redactor([*self._values, *secrets])


def _wait_strategy(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    exponential = wait_exponential(multiplier=policy.wait_initial_seconds, max=policy.wait_max_seconds)

    def wait(state: RetryCallState) -> float:
        delay = exponential(state)
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, RateLimited) and error.retry_after_seconds > 0:
            delay = max(delay, min(error.retry_after_seconds, policy.wait_max_seconds))
        return delay

    return wait


class Channel(ABC):
    """A delivery channel. Subclasses implement :meth:`_send`, wrapping each API call in :meth:`_call`.

    Attributes:
        name: ``"sms"``, ``"slack"`` or ``"email"`` (the words used in routes).
        retry: the :class:`RetryPolicy` of each API call.
    """

    name: str = ""

    def __init__(self, *, retry: RetryPolicy | None = None, redact: Redactor | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.redact = redact or Redactor()

    def send(self, message: Message) -> None:
        """Deliver ``message`` now (blocking; at most ``attempts`` × (timeout + backoff) per call).

        Raises:
            TemporaryError: still failing after the last attempt (429, 5xx, timeout, no connection).
            ConfigError: refused for a reason a retry cannot fix; ``field`` names the setting.
        """
        self._send(message)

    @abstractmethod
    def _send(self, message: Message) -> None: ...

    def describe(self) -> str:
        """One line saying where messages go, without secrets (for ``doctor`` and logs)."""
        return self.name

    def _call(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn`` with the retry policy; only :class:`TemporaryError` is retried."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            log.warning(
                "%s: %s attempt %d/%d failed (%s); retrying in %.2f s",
                self.name, what, state.attempt_number, self.retry.attempts,
                self.redact(str(error)), delay,
            )  # fmt: skip

        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=_wait_strategy(self.retry),
            retry=retry_if_exception_type(TemporaryError),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)
