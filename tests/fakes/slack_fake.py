"""Loopback fake of Slack's Web API ``chat.postMessage`` and of an incoming webhook.

Shapes follow Slack: ``POST /api/chat.postMessage`` with ``Authorization: Bearer <token>`` and a
JSON (or form) body answers ``{"ok": true, "channel", "ts", "message"}``, or ``{"ok": false,
"error": "invalid_auth" | "channel_not_found" | "no_text" | ...}``; rate limiting is HTTP 429
with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``. The incoming webhook
(``POST /services/T…/B…/…``) answers ``200 ok`` as text, or Slack's plain-text errors
(``invalid_payload``, ``no_service``, ``rate_limited``, ``rollup_error``).

Point ``slack_sdk.WebClient(base_url=fake.api_base_url)`` and ``WebhookClient(fake.webhook_url)``
at it. Fault injection: :meth:`SlackFake.fail_next` and :attr:`SlackFake.hang_seconds`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

from .base import LoopbackFake, Reply, handler_class, json_reply

_WEB_ERRORS = {429: "ratelimited", 500: "fatal_error", 502: "fatal_error", 503: "service_unavailable"}
_HOOK_ERRORS = {400: "invalid_payload", 403: "invalid_token", 404: "no_service", 410: "channel_is_archived",
                429: "rate_limited", 500: "rollup_error", 503: "service_unavailable"}  # fmt: skip


class SlackFake(LoopbackFake):
    """Slack Web API + incoming webhook on ``127.0.0.1`` (random port), in a background thread.

    Attributes:
        token: the bot token ``chat.postMessage`` accepts.
        channels: channel names/IDs that exist (``None`` = any).
        posts: accepted ``chat.postMessage`` calls: ``{"channel", "text", "ts"}``.
        webhook_posts: accepted webhook payloads: ``{"text", ...}`` as sent.
        requests: number of POSTs received (accepted or not).
        hang_seconds: wait this long before answering each request.
        retry_after: the ``Retry-After`` seconds sent with 429.
    """

    def __init__(self, *, token: str = "", channels: set[str] | None = None) -> None:
        self.token = token or "test-slack-" + secrets.token_hex(12)
        self.channels = channels
        self.webhook_path = f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}/" + (
            secrets.token_hex(12)
        )
        self.posts: list[dict[str, Any]] = []
        self.webhook_posts: list[dict[str, Any]] = []
        self.requests = 0
        self.hang_seconds = 0.0
        self.retry_after = 1
        self._failures: list[int] = []
        self._lock = threading.Lock()
        super().__init__(handler_class(self._serve), name="slack-fake")

    @property
    def api_base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/`` (WebClient's ``base_url``)."""
        return self.url + "/api/"

    @property
    def webhook_url(self) -> str:
        """The incoming-webhook URL (its path is the secret, as with Slack)."""
        return self.url + self.webhook_path

    def fail_next(self, *statuses: int) -> None:
        """Answer the next ``len(statuses)`` requests (either endpoint) with these HTTP statuses."""
        with self._lock:
            self._failures.extend(statuses)

    def reset(self) -> None:
        """Forget posts, counters and injected faults."""
        with self._lock:
            self.posts.clear()
            self.webhook_posts.clear()
            self.requests = 0
            self._failures.clear()
            self.hang_seconds = 0.0

    def texts(self) -> list[str]:
        """Texts of accepted ``chat.postMessage`` calls and webhook posts, in order of arrival."""
        with self._lock:
            return [p["text"] for p in sorted(self.posts + self.webhook_posts, key=lambda p: p["_n"])]

    # ---- request handling --------------------------------------------------------------------

    def _begin(self) -> int | None:
        with self._lock:
            self.requests += 1
            failure = self._failures.pop(0) if self._failures else None
            hang = self.hang_seconds
        if hang:
            self._stopping.wait(hang)
        return failure

    def _post_message(self, headers: Any, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        failure = self._begin()
        json_headers = {"Content-Type": "application/json; charset=utf-8"}
        if failure is not None:
            extra = {"Retry-After": str(self.retry_after)} if failure == 429 else {}
            body = {"ok": False, "error": _WEB_ERRORS.get(failure, "fatal_error")}
            return failure, {**json_headers, **extra}, json.dumps(body).encode()
        auth = headers.get("Authorization", "")
        if not auth:
            return 200, json_headers, json.dumps({"ok": False, "error": "not_authed"}).encode()
        if auth != f"Bearer {self.token}":
            return 200, json_headers, json.dumps({"ok": False, "error": "invalid_auth"}).encode()
        if (headers.get("Content-Type") or "").startswith("application/json"):
            args = json.loads(raw or b"{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
        channel, text = str(args.get("channel") or ""), str(args.get("text") or "")
        if not channel or (self.channels is not None and channel not in self.channels):
            return 200, json_headers, json.dumps({"ok": False, "error": "channel_not_found"}).encode()
        if not text and not args.get("blocks"):
            return 200, json_headers, json.dumps({"ok": False, "error": "no_text"}).encode()
        ts = f"{time.time():.6f}"
        channel_id = channel if channel.startswith("C") else "C0" + secrets.token_hex(4).upper()
        with self._lock:
            self.posts.append({"channel": channel, "text": text, "ts": ts, "_n": self.requests})
        body = {
            "ok": True,
            "channel": channel_id,
            "ts": ts,
            "message": {
                "type": "message",
                "subtype": "bot_message",
                "text": text,
                "ts": ts,
                "user": "U0FAKEBOT",
                "bot_id": "B0FAKEBOT",
                "app_id": "A0FAKEAPP",
                "team": "T0FAKETEAM",
            },
            "warning": "missing_charset" if "charset" not in (headers.get("Content-Type") or "") else None,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return 200, json_headers, json.dumps(body).encode()

    def _webhook(self, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        failure = self._begin()
        text_headers = {"Content-Type": "text/html"}
        if path != self.webhook_path:
            return 404, text_headers, b"no_service"
        if failure is not None:
            extra = {"Retry-After": str(self.retry_after)} if failure == 429 else {}
            return failure, {**text_headers, **extra}, _HOOK_ERRORS.get(failure, "rollup_error").encode()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return 400, text_headers, b"invalid_payload"
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return 400, text_headers, b"no_text"
        with self._lock:
            self.webhook_posts.append({**payload, "_n": self.requests})
        return 200, text_headers, b"ok"

    def _serve(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        if method == "POST" and path.startswith("/api/chat.postMessage"):
            return self._post_message(headers, raw)
        if method == "POST" and path.startswith("/services/"):
            return self._webhook(path, raw)
        return json_reply(404, {"ok": False, "error": "unknown_method"}, "application/json; charset=utf-8")
