"""Slack: :class:`SlackChannel` (bot token) and :class:`SlackWebhookChannel`; the only importer of ``slack_sdk``.

Slack API errors, HTTP statuses, timeouts and dropped connections are translated into
:class:`~bot.errors.TemporaryError` / :class:`~bot.notify.channels.base.RateLimited` (retried,
honouring ``Retry-After``) or :class:`~bot.errors.ConfigError` (not retried; ``field`` names the
setting). Test hooks: ``WebClient(base_url=...)`` (``SLACK_BASE_URL``) and the webhook URL itself.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.errors import ConfigError, TemporaryError
from bot.notify.channels.base import Channel, Message, RateLimited, Redactor, RetryPolicy

#: Longest Slack text sent (Slack truncates at 40,000; messages here are short anyway).
SLACK_MAX_CHARS = 3000

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
