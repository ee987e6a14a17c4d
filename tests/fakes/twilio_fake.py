"""Loopback fake of Twilio's Programmable Messaging REST API (``/2010-04-01/.../Messages.json``).

Serves what the official ``twilio`` SDK calls, with Twilio's real shapes: form-encoded request
bodies, HTTP basic auth (account SID : auth token), ``201`` with the Message resource JSON, and
Twilio-shaped error bodies (``{"code", "message", "more_info", "status"}``). Point the SDK at it
with ``client.api.base_url = fake.base_url`` (``TWILIO_BASE_URL``).

Fault injection: :meth:`TwilioFake.fail_next` answers the next requests with given statuses
(429, 500, ...); :attr:`TwilioFake.hang_seconds` delays every answer (the client should time out).
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from email.message import Message
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from .base import LoopbackFake, Reply, handler_class, json_reply

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

_ERRORS = {
    400: (21211, "Invalid 'To' Phone Number"),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


class TwilioFake(LoopbackFake):
    """A Twilio Messages API on ``127.0.0.1`` (random port), run in a background thread.

    Attributes:
        account_sid, auth_token: the credentials it accepts.
        messages: accepted messages, as dicts ``{"sid", "to", "from", "body", "account_sid"}``.
        requests: number of POSTs received (accepted or not), for retry assertions.
        hang_seconds: wait this long before answering each request (0 = answer at once).
    """

    def __init__(self, *, account_sid: str = "", auth_token: str = "") -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or "twilio-" + secrets.token_hex(12)
        self.messages: list[dict[str, str]] = []
        self.requests = 0
        self.hang_seconds = 0.0
        self._failures: list[int] = []
        self._lock = threading.Lock()
        super().__init__(handler_class(self._serve), name="twilio-fake")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the API domain; the SDK appends ``/2010-04-01/...``)."""
        return self.url

    def fail_next(self, *statuses: int) -> None:
        """Answer the next ``len(statuses)`` requests with these HTTP statuses (Twilio error bodies)."""
        with self._lock:
            self._failures.extend(statuses)

    def reset(self) -> None:
        """Forget messages, counters and injected faults."""
        with self._lock:
            self.messages.clear()
            self.requests = 0
            self._failures.clear()
            self.hang_seconds = 0.0

    def bodies(self) -> list[str]:
        """Bodies of the accepted messages, in order."""
        with self._lock:
            return [m["body"] for m in self.messages]

    # ---- request handling --------------------------------------------------------------------

    def _handle(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            failure = self._failures.pop(0) if self._failures else None
            hang = self.hang_seconds
        if hang:
            self._stopping.wait(hang)
        match = _MESSAGES_PATH.match(path)
        if not match:
            return self._error(404)
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("Authorization", "") != f"Basic {expected}":
            return self._error(401)
        if match["sid"] != self.account_sid:
            return self._error(404)
        if failure is not None:
            return self._error(failure)
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if not _E164.match(to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json",
                "feedback": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Feedback.json",
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages.append(
                {"sid": sid, "to": to, "from": sender, "body": body, "account_sid": self.account_sid}
            )
        return 201, resource

    @staticmethod
    def _error(status: int, code: int | None = None, message: str = "") -> tuple[int, dict[str, Any]]:
        default_code, default_message = _ERRORS.get(status, (20000 + status, "Error"))
        code = code or default_code
        return status, {
            "code": code,
            "message": message or default_message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _serve(self, method: str, path: str, headers: Message, raw: bytes) -> Reply:
        return json_reply(*self._handle(path, headers, raw), "application/json; charset=utf-8")
