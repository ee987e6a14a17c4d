"""``POST /webhook``: the TradingView entry point. Thin: the engine does the work."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from bot.domain import utc_now
from bot.web.security import is_allowed

log = logging.getLogger(__name__)

webhook = Blueprint("webhook", __name__)

#: Header the ``replay`` command sets; replays fill at the alert's time on the paper broker only.
REPLAY_HEADER = "X-Bot-Replay"


@webhook.before_request
def _check_source() -> Any:
    """403 for addresses outside WEBHOOK_IP_ALLOWLIST (checked before the body is read)."""
    guard = current_app.extensions["bot.guard"]
    address = guard.client(request)
    if not is_allowed(address, guard.allowlist):
        log.warning("alert refused from %s: not in WEBHOOK_IP_ALLOWLIST", address)
        return jsonify({"error": "address not allowed"}), 403
    return None


@webhook.post("/webhook")
def receive() -> Any:
    """Parse the body as JSON whatever the Content-Type and hand it to the engine.

    Replies per DESIGN.md §4: 200/202 with the outcome, 4xx ``{"error": ...}`` naming the field.
    """
    received_at = utc_now()
    services = current_app.extensions["bot"]
    body = request.get_data(cache=False)
    reply = services.engine.handle(body, received_at=received_at, replay=request.headers.get(REPLAY_HEADER) == "1")
    services.writer.notify()
    return jsonify(reply.body), reply.http_status
