"""Delivery channels: Twilio SMS, Slack (bot token or incoming webhook) and e-mail (SMTP).

This is the only module that imports ``twilio``, ``slack_sdk`` and ``smtplib``. Each channel
sends one :class:`Message` synchronously, retrying each API call with tenacity (exponential
backoff, :class:`RetryPolicy`) on rate limits (429), server errors (5xx), timeouts and dropped
connections. Vendor exceptions are translated at this boundary:

- :class:`~bot.errors.TemporaryError` (or its :class:`RateLimited` subclass): still failing after
  the last attempt; the message is lost for this channel, try again later.
- :class:`~bot.errors.ConfigError`: the service refused for a reason a retry cannot fix (bad
  token, unknown Slack channel, invalid phone number, SMTP login refused). ``field`` names the
  setting to check.

Error texts never contain tokens, passwords or webhook URLs. Channels are built from
:class:`~bot.settings.Settings` by :func:`build_channels`; a channel is enabled when its settings
are complete, and a partially configured channel is reported by :func:`channel_problems`.

Test hooks (all supported SDK features, no patching): Twilio's API domain ``client.api.base_url``
(``TWILIO_BASE_URL``), Slack's ``WebClient(base_url=...)`` (``SLACK_BASE_URL``), the webhook URL
itself, and any SMTP host/port.
"""

from __future__ import annotations

import html as html_lib
import http.client
import logging
import smtplib
import ssl
import urllib.error
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from bot.errors import ConfigError, TemporaryError
from bot.notify.events import EventKind
from bot.settings import Settings

log = logging.getLogger(__name__)
# The Twilio SDK logs every request and response at INFO (8 lines per SMS); keep its log quiet.
_twilio_sdk_log = logging.getLogger(f"{__name__}.twilio_sdk")
_twilio_sdk_log.setLevel(logging.WARNING)

T = TypeVar("T")

#: Longest SMS body sent (Twilio accepts 1,600 characters; 480 keeps it to ~3 segments).
SMS_MAX_CHARS = 480
#: Longest Slack text sent (Slack truncates at 40,000; messages here are short anyway).
SLACK_MAX_CHARS = 3000


# --------------------------------------------------------------------------------------------
# Values shared by all channels
# --------------------------------------------------------------------------------------------


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


def _mask_number(number: str) -> str:
    return number[:3] + "…" + number[-2:] if len(number) > 6 else "…"


def _split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]


# --------------------------------------------------------------------------------------------
# Twilio SMS
# --------------------------------------------------------------------------------------------


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
        return f"sms: Twilio from {_mask_number(self.from_number)} to {len(self.to_numbers)} number(s)"

    def _send(self, message: Message) -> None:
        body = f"{message.kind.title}: {message.text}"
        if len(body) > SMS_MAX_CHARS:
            body = body[: SMS_MAX_CHARS - 1] + "…"
        failures: list[tuple[str, Exception]] = []
        for number in self.to_numbers:
            try:
                self._call(lambda number=number: self._create(number, body), f"SMS to {_mask_number(number)}")
            except (TemporaryError, ConfigError) as exc:
                failures.append((number, exc))
        if failures:
            number, first = failures[0]
            text = f"{len(failures)} of {len(self.to_numbers)} SMS failed; {_mask_number(number)}: {first}"
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


# --------------------------------------------------------------------------------------------
# Slack
# --------------------------------------------------------------------------------------------

#: Slack ``error`` codes worth retrying (https://api.slack.com/methods/chat.postMessage#errors).
_SLACK_TRANSIENT = frozenset(
    {"ratelimited", "rate_limited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)
_SLACK_FIELDS = {
    "invalid_auth": "SLACK_BOT_TOKEN",
    "not_authed": "SLACK_BOT_TOKEN",
    "account_inactive": "SLACK_BOT_TOKEN",
    "token_revoked": "SLACK_BOT_TOKEN",
    "missing_scope": "SLACK_BOT_TOKEN",
    "channel_not_found": "SLACK_CHANNEL",
    "not_in_channel": "SLACK_CHANNEL",
    "is_archived": "SLACK_CHANNEL",
}


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (``& < >``) escaped, as Slack's formatting guide asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_text(message: Message) -> str:
    text = f"*{message.kind.title}*: {_slack_escape(message.text)}"
    return text if len(text) <= SLACK_MAX_CHARS else text[: SLACK_MAX_CHARS - 1] + "…"


def _retry_after(headers: object) -> float:
    value = None
    if hasattr(headers, "get"):
        value = headers.get("Retry-After") or headers.get("retry-after")  # type: ignore[union-attr]
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _network_error(service: str, exc: BaseException, timeout: float) -> TemporaryError:
    reason = getattr(exc, "reason", exc)
    if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
        return TemporaryError(f"{service} did not answer within {timeout:g} s")
    return TemporaryError(f"cannot reach {service} ({type(reason).__name__})")


class SlackChannel(Channel):
    """Slack ``chat.postMessage`` with a bot token (``slack_sdk.WebClient``).

    Args:
        token: ``xoxb-…`` bot token (secret), with the ``chat:write`` scope.
        channel: channel ID or ``#name`` the bot is a member of.
        base_url: Web API base override (``SLACK_BASE_URL``; tests), default ``https://slack.com/api/``.

    The SDK's own retry handlers are turned off; :class:`RetryPolicy` applies, honouring
    ``Retry-After`` on 429 (capped by ``wait_max_seconds``).
    """

    name = "slack"

    def __init__(
        self,
        *,
        token: str,
        channel: str,
        base_url: str = "",
        retry: RetryPolicy | None = None,
        redact: Redactor | None = None,
    ) -> None:
        super().__init__(retry=retry, redact=redact)
        self.channel = channel
        kwargs: dict[str, object] = {"base_url": base_url} if base_url else {}
        self.client = WebClient(
            token=token,
            timeout=self.retry.timeout_seconds,  # type: ignore[arg-type]  # urllib accepts float
            retry_handlers=[],
            logger=logging.getLogger(f"{__name__}.slack_sdk"),
            **kwargs,  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        """``"slack: chat.postMessage to #alerts"``."""
        return f"slack: chat.postMessage to {self.channel}"

    def _send(self, message: Message) -> None:
        self._call(lambda: self._post(_slack_text(message)), "chat.postMessage")

    def _post(self, text: str) -> None:
        try:
            self.client.chat_postMessage(channel=self.channel, text=text, unfurl_links=False)
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", 0) or 0
            data = getattr(response, "data", None)
            error = str(data.get("error", "")) if isinstance(data, dict) else ""
            detail = f"Slack answered HTTP {status}" + (f": {error}" if error else "")
            if status == 429 or error in ("ratelimited", "rate_limited"):
                raise RateLimited(detail, retry_after_seconds=_retry_after(response.headers)) from None
            if status >= 500 or error in _SLACK_TRANSIENT:
                raise TemporaryError(detail) from None
            raise ConfigError(detail, field=_SLACK_FIELDS.get(error, "SLACK_BOT_TOKEN")) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise _network_error("Slack", exc, self.retry.timeout_seconds) from None
        except SlackClientError as exc:
            raise ConfigError(f"Slack client error: {type(exc).__name__}", field="SLACK_BASE_URL") from None


class SlackWebhookChannel(Channel):
    """Slack incoming webhook (``slack_sdk.webhook.WebhookClient``); the URL is the secret.

    Args:
        url: ``https://hooks.slack.com/services/T…/B…/…`` (``SLACK_WEBHOOK_URL``).
    """

    name = "slack"

    def __init__(self, *, url: str, retry: RetryPolicy | None = None, redact: Redactor | None = None) -> None:
        super().__init__(retry=retry, redact=redact)
        self.client = WebhookClient(
            url=url,
            timeout=self.retry.timeout_seconds,  # type: ignore[arg-type]
            retry_handlers=[],
            logger=logging.getLogger(f"{__name__}.slack_sdk"),
        )
        self._host = urlsplit(url).hostname or "?"

    def describe(self) -> str:
        """``"slack: incoming webhook at hooks.slack.com"`` (never the URL's secret path)."""
        return f"slack: incoming webhook at {self._host}"

    def _send(self, message: Message) -> None:
        self._call(lambda: self._post(_slack_text(message)), "incoming webhook")

    def _post(self, text: str) -> None:
        try:
            response = self.client.send(text=text, unfurl_links=False)
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise _network_error("the Slack webhook", exc, self.retry.timeout_seconds) from None
        except SlackClientError as exc:
            detail = f"Slack webhook error: {type(exc).__name__}"
            raise ConfigError(detail, field="SLACK_WEBHOOK_URL") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"Slack webhook answered HTTP {status}: {(response.body or '')[:80]}"
        if status == 429:
            raise RateLimited(detail, retry_after_seconds=_retry_after(response.headers))
        if status >= 500:
            raise TemporaryError(detail)
        raise ConfigError(detail, field="SLACK_WEBHOOK_URL")


# --------------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------------


class EmailChannel(Channel):
    """E-mail through SMTP (``smtplib``): plain text + HTML alternative, optional PNG attachments.

    Args:
        host, port: the SMTP server (587 for STARTTLS, 465 for SSL, 25 for none).
        security: ``"starttls"`` (upgrade after EHLO), ``"ssl"`` (implicit TLS) or ``"none"``.
        user, password: login, when ``user`` is set (password is secret).
        from_addr: sender address (default: ``user``).
        to_addrs: recipients.
        ssl_context: TLS settings (default: ``ssl.create_default_context()``, which verifies the
            server certificate and host name).

    One SMTP session per message, to all recipients. A missing attachment file is skipped with a
    warning (the e-mail still goes out).
    """

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        to_addrs: Sequence[str],
        from_addr: str = "",
        security: str = "starttls",
        user: str = "",
        password: str = "",
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
        redact: Redactor | None = None,
    ) -> None:
        super().__init__(retry=retry, redact=redact)
        if security not in ("starttls", "ssl", "none"):
            detail = f"SMTP_SECURITY {security!r} is not starttls, ssl or none"
            raise ConfigError(detail, field="SMTP_SECURITY")
        if not to_addrs:
            raise ConfigError("SMTP_TO: no recipient", field="SMTP_TO")
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self._password = password
        self.from_addr = from_addr or user
        if not self.from_addr:
            raise ConfigError("SMTP_FROM: no sender address (set SMTP_FROM or SMTP_USER)", field="SMTP_FROM")
        self.to_addrs = tuple(to_addrs)
        self.ssl_context = ssl_context

    def describe(self) -> str:
        """``"email: smtp.example.com:587 (starttls) to 1 address(es)"``."""
        return f"email: {self.host}:{self.port} ({self.security}) to {len(self.to_addrs)} address(es)"

    def build(self, message: Message) -> EmailMessage:
        """The MIME message: multipart/alternative (text, HTML), wrapped in multipart/mixed with PNGs."""
        mail = EmailMessage()
        mail["Subject"] = f"[trading bot] {message.subject}" if message.subject else "[trading bot]"
        mail["From"] = self.from_addr
        mail["To"] = ", ".join(self.to_addrs)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.from_addr.rpartition("@")[2] or None)
        mail.set_content(message.text)
        body_html = message.html or f"<p>{html_lib.escape(message.text).replace(chr(10), '<br>')}</p>"
        mail.add_alternative(f"<html><body>{body_html}</body></html>", subtype="html")
        for path in message.attachments:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                log.warning("email: attachment %s skipped (%s)", Path(path).name, type(exc).__name__)
                continue
            mail.add_attachment(data, maintype="image", subtype="png", filename=Path(path).name)
        return mail

    def _send(self, message: Message) -> None:
        mail = self.build(message)
        self._call(lambda: self._deliver(mail), "SMTP send")

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _deliver(self, mail: EmailMessage) -> None:
        timeout = self.retry.timeout_seconds
        try:
            smtp: smtplib.SMTP
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.user:
                    smtp.login(self.user, self._password)
                refused = smtp.send_message(mail)
            if refused:
                log.warning("email: %d recipient(s) refused: %s", len(refused), ", ".join(sorted(refused)))
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(f"SMTP login refused ({exc.smtp_code})", field="SMTP_PASSWORD") from None
        except smtplib.SMTPNotSupportedError:
            raise ConfigError("SMTP server does not offer STARTTLS or AUTH", field="SMTP_SECURITY") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = f"SMTP refused every recipient (codes {sorted(set(codes))})"
            if codes and all(400 <= code < 500 for code in codes):
                raise TemporaryError(detail) from None
            raise ConfigError(detail, field="SMTP_TO") from None
        except smtplib.SMTPResponseException as exc:
            detail = f"SMTP server answered {exc.smtp_code}"
            if 400 <= exc.smtp_code < 500:
                raise TemporaryError(detail) from None
            raise ConfigError(detail, field="SMTP_FROM") from None
        except ssl.SSLError as exc:
            raise ConfigError(f"TLS with the SMTP server failed ({exc.reason or type(exc).__name__})",
                              field="SMTP_SECURITY") from None  # fmt: skip
        except smtplib.SMTPServerDisconnected:
            raise TemporaryError("SMTP server closed the connection") from None
        except smtplib.SMTPException as exc:  # before OSError: SMTPException is an OSError
            raise ConfigError(f"SMTP error ({type(exc).__name__}: {exc})", field="SMTP_HOST") from None
        except TimeoutError:
            raise TemporaryError(f"SMTP server did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise TemporaryError(f"cannot reach the SMTP server ({type(exc).__name__})") from None


# --------------------------------------------------------------------------------------------
# Construction from Settings
# --------------------------------------------------------------------------------------------


@dataclass
class _ChannelPlan:
    problems: list[str] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)


def _plan(settings: Settings, retry: RetryPolicy | None, redact: Redactor, *, build: bool) -> _ChannelPlan:
    plan = _ChannelPlan()

    def missing(group: str, names: dict[str, object]) -> list[str]:
        empty = [name for name, value in names.items() if not value]
        if empty and len(empty) < len(names):
            plan.problems.append(f"{group} is partly configured: set {', '.join(empty)} (channel off)")
        return empty

    token = settings.twilio_auth_token.get_secret_value()
    recipients = _split_list(settings.alert_sms_to)
    sms = {
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_FROM": settings.twilio_from,
        "ALERT_SMS_TO": recipients,
    }
    if not missing("SMS (Twilio)", sms):
        bad = [_mask_number(n) for n in recipients if not (n.startswith("+") and n[1:].isdigit())]
        if bad:
            plan.problems.append(f"ALERT_SMS_TO: {', '.join(bad)} not in E.164 form (+15551234567)")
        elif build:
            plan.channels.append(
                SmsChannel(
                    account_sid=settings.twilio_account_sid,
                    auth_token=token,
                    from_number=settings.twilio_from,
                    to_numbers=recipients,
                    base_url=settings.twilio_base_url,
                    retry=retry,
                    redact=redact,
                )
            )

    bot_token = settings.slack_bot_token.get_secret_value()
    webhook = settings.slack_webhook_url.get_secret_value()
    if bot_token or settings.slack_channel:
        slack = {"SLACK_BOT_TOKEN": bot_token, "SLACK_CHANNEL": settings.slack_channel}
        if not missing("Slack", slack) and build:
            plan.channels.append(
                SlackChannel(
                    token=bot_token,
                    channel=settings.slack_channel,
                    base_url=settings.slack_base_url,
                    retry=retry,
                    redact=redact,
                )
            )
        if webhook:
            plan.problems.append("SLACK_WEBHOOK_URL is ignored while SLACK_BOT_TOKEN/SLACK_CHANNEL are set")
    elif webhook:
        if not webhook.startswith(("https://", "http://")):
            plan.problems.append("SLACK_WEBHOOK_URL does not start with https:// (channel off)")
        elif build:
            plan.channels.append(SlackWebhookChannel(url=webhook, retry=retry, redact=redact))

    email = {
        "SMTP_HOST": settings.smtp_host,
        "SMTP_TO": _split_list(settings.smtp_to),
        "SMTP_FROM or SMTP_USER": settings.smtp_from or settings.smtp_user,
    }
    if not missing("E-mail (SMTP)", email) and build:
        plan.channels.append(
            EmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                to_addrs=_split_list(settings.smtp_to),
                from_addr=settings.smtp_from,
                security=settings.smtp_security,
                user=settings.smtp_user,
                password=settings.smtp_password.get_secret_value(),
                retry=retry,
                redact=redact,
            )
        )
    if settings.smtp_password.get_secret_value() and not settings.smtp_user:
        plan.problems.append("SMTP_PASSWORD is set but SMTP_USER is empty (no login is attempted)")
    return plan


def channel_problems(settings: Settings) -> list[str]:
    """Human-readable problems with the channel settings (partly configured channels, bad numbers).

    An empty list means every channel is either fully configured or fully off. Never contains
    secret values. For ``python -m bot doctor``.
    """
    return _plan(settings, None, Redactor(), build=False).problems


def build_channels(settings: Settings, *, retry: RetryPolicy | None = None) -> list[Channel]:
    """Channels enabled by ``settings`` (complete settings only), in the order sms, slack, email.

    Partly configured channels are left off and logged as warnings (see :func:`channel_problems`).
    No network access happens here. Returns an empty list when nothing is configured.
    """
    redact = Redactor(settings.secret_values())
    plan = _plan(settings, retry, redact, build=True)
    for problem in plan.problems:
        log.warning("notifications: %s", problem)
    return plan.channels
