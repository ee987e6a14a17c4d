"""Flask application factory: ``create_app()`` wires services and registers the blueprints."""

from __future__ import annotations

import atexit
import logging
from decimal import Decimal
from typing import Any

from flask import Flask, Request, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from werkzeug.exceptions import HTTPException

from bot.services import Services, build_services
from bot.settings import Settings, load_settings
from bot.web.security import client_address, parse_networks

log = logging.getLogger(__name__)

#: Largest accepted request body (TradingView alerts are tiny); larger bodies get 413.
MAX_BODY_BYTES = 64 * 1024


class _JSONProvider(DefaultJSONProvider):
    """JSON with Decimal as exact text (never a float)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return format(o, "f")
        return DefaultJSONProvider.default(o)


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    start_background: bool = False,
) -> Flask:
    """Build the Flask app.

    Args:
        settings: deployment settings (default: from the environment / .env).
        services: pre-built services (tests inject adapters this way).
        start_background: start the outbox writer, the order tracker and scheduled jobs
            (``serve`` does; tests drive them explicitly).

    Raises:
        ConfigError: when the settings or the workbook cannot be used (fails at start, not at the first alert).
    """
    app = Flask("bot")
    app.json = _JSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if services is None:
        services = build_services(settings or load_settings())
    app.extensions["bot"] = services

    from bot.web.api import api
    from bot.web.webhook import webhook

    guard = Guard(services.settings)
    app.extensions["bot.guard"] = guard
    limiter = Limiter(key_func=lambda: guard.client(request), app=app, storage_uri="memory://", default_limits=[])
    limiter.limit(services.settings.webhook_rate_limit)(webhook)
    app.register_blueprint(webhook)
    app.register_blueprint(api)

    from bot.web.metrics import register_metrics

    register_metrics(app, services)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        messages = {413: f"body too large (limit {MAX_BODY_BYTES // 1024} KiB)", 429: "too many requests"}
        return jsonify({"error": messages.get(exc.code or 500, exc.description or exc.name)}), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return jsonify({"error": "internal error; see the bot's log"}), 500

    if start_background:
        from bot.jobs import start_background_jobs

        start_background_jobs(services)
        atexit.register(services.close)
    return app


class Guard:
    """The allowlist and trusted proxies from settings, and the client-address rule for requests.

    Raises:
        ConfigError: a malformed WEBHOOK_IP_ALLOWLIST or TRUSTED_PROXIES entry (at start-up).
    """

    def __init__(self, settings: Settings) -> None:
        self.allowlist = parse_networks(settings.webhook_ip_allowlist, setting="WEBHOOK_IP_ALLOWLIST")
        self.proxies = parse_networks(settings.trusted_proxies, setting="TRUSTED_PROXIES")

    def client(self, req: Request) -> str:
        """The client address of ``req`` (see :func:`bot.web.security.client_address`)."""
        return client_address(req.remote_addr, req.headers.get("X-Forwarded-For"), self.proxies)
