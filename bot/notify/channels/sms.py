"""SMS through Twilio: :class:`SmsChannel`; the only importer of ``twilio``.

Twilio REST errors, timeouts and dropped connections are translated into
:class:`~bot.errors.TemporaryError` / :class:`~bot.notify.channels.base.RateLimited` (retried) or
:class:`~bot.errors.ConfigError` (not retried; ``field`` names the setting). Test hook: the SDK's
API domain ``client.api.base_url`` (``TWILIO_BASE_URL``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from bot.errors import ConfigError, TemporaryError
from bot.notify.channels.base import Channel, Message, RateLimited, Redactor, RetryPolicy

# The Twilio SDK logs every request and response at INFO (8 lines per SMS); keep its log quiet.
_twilio_sdk_log = logging.getLogger(f"{__name__}.twilio_sdk")
_twilio_sdk_log.setLevel(logging.WARNING)

#: Longest SMS body sent (Twilio accepts 1,600 characters; 480 keeps it to ~3 segments).
SMS_MAX_CHARS = 480


def mask_number(number: str) -> str:
    """``"+15…67"``: a phone number shortened for logs and problems (``"…"`` when 6 characters or fewer)."""
    return number[:3] + "…" + number[-2:] if len(number) > 6 else "…"


class SmsChannel(Channel):
    """SMS through the Twilio REST API (official ``twilio`` SDK), one message per recipient.

    Args:
        account_sid: ``AC…`` account SID.
        auth_token: the account's auth token (secret).
        from_number: sender, E.164 (``+15551234567``) or a messaging-service SID.
        to_numbers: recipients, E.164.
        base_url: API domain override (``TWILIO_BASE_URL``; tests, proxies), e.g.
            ``http://127.0.0.1:8123``; set on the SDK's API domain (``client.api.base_url``).
        http_client: a ``twilio.http.HttpClient`` to use instead of the default
            ``TwilioHttpClient(timeout=retry.timeout_seconds)``.

    Each recipient is retried on its own, so a retry never texts a number twice. The body is
    ``"<KIND TITLE>: <text>"`` (e.g. ``"ORDER FAILED: AAPL 15m: ..."``) cut to :data:`SMS_MAX_CHARS`.
    """

    name = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        to_numbers: Sequence[str],
        base_url: str = "",
        http_client: TwilioHttpClient | None = None,
        retry: RetryPolicy | None = None,
        redact: Redactor | None = None,
    ) -> None:
        super().__init__(retry=retry, redact=redact)
        if not to_numbers:
            raise ConfigError("ALERT_SMS_TO: no recipient", field="ALERT_SMS_TO")
        self.from_number = from_number
        self.to_numbers = tuple(to_numbers)
        environment = None
        if base_url:
            # Keep TWILIO_EDGE/TWILIO_REGION from the process environment out of a loopback URL.
            environment = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}
        self.client = TwilioClient(
            account_sid,
            auth_token,
            http_client=http_client or TwilioHttpClient(timeout=self.retry.timeout_seconds, logger=_twilio_sdk_log),
            environment=environment,
        )
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")

    def describe(self) -> str:
        """``"sms: Twilio from +15…67 to 2 number(s)"``."""
        return f"sms: Twilio from {mask_number(self.from_number)} to {len(self.to_numbers)} number(s)"

    def _send(self, message: Message) -> None:
        body = f"{message.kind.title}: {message.text}"
        if len(body) > SMS_MAX_CHARS:
            body = body[: SMS_MAX_CHARS - 1] + "…"
        failures: list[tuple[str, Exception]] = []
        for number in self.to_numbers:
            try:
                self._call(lambda number=number: self._create(number, body), f"SMS to {mask_number(number)}")
            except (TemporaryError, ConfigError) as exc:
                failures.append((number, exc))
        if failures:
            number, first = failures[0]
            text = f"{len(failures)} of {len(self.to_numbers)} SMS failed; {mask_number(number)}: {first}"
            if isinstance(first, ConfigError):
                raise ConfigError(text, field=first.field) from first
            raise TemporaryError(text) from first

    def _create(self, number: str, body: str) -> None:
        try:
            self.client.messages.create(to=number, from_=self.from_number, body=body)
        except TwilioRestException as exc:
            detail = f"Twilio answered HTTP {exc.status}" + (f", code {exc.code}" if exc.code else "")
            detail += f": {exc.msg}" if exc.msg else ""
            if exc.status == 429:
                raise RateLimited(detail) from None
            if exc.status >= 500:
                raise TemporaryError(detail) from None
            field = {20003: "TWILIO_AUTH_TOKEN", 20404: "TWILIO_ACCOUNT_SID", 21212: "TWILIO_FROM"}.get(
                exc.code or 0, "ALERT_SMS_TO"
            )
            raise ConfigError(detail, field=field) from None
        except requests.Timeout:
            raise TemporaryError(f"Twilio did not answer within {self.retry.timeout_seconds:g} s") from None
        except requests.RequestException as exc:
            raise TemporaryError(f"cannot reach Twilio ({type(exc).__name__})") from None
        except TwilioException as exc:
            raise ConfigError(f"Twilio client error: {exc}", field="TWILIO_ACCOUNT_SID") from None
