"""Shared fixtures: a bot on a temporary data dir with the paper broker and the local workbook.

Nothing here patches modules: tests get real services built by ``build_services`` with settings
pointing at ``tmp_path``; background threads are not started, tests flush the outbox explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.helpers import SECRET, make_settings

from bot.services import Services, build_services
from bot.settings import Settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test with no bot variables from the caller's environment."""
    import os

    for name in list(os.environ):
        if name.startswith(("BOT_", "WEBHOOK_", "GOOGLE_", "ALPACA_", "BINANCE_", "TWILIO_", "SLACK_", "SMTP_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default test settings (paper broker, local workbook)."""
    return make_settings(tmp_path)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Real services on the temporary data dir; closed after the test."""
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Any:
    """Flask test client of an app built on ``services``."""
    from bot.web import create_app

    return create_app(services=services).test_client()


@pytest.fixture
def post(client: Any) -> Callable[..., tuple[int, dict[str, Any]]]:
    """``post(**fields)`` sends an alert with the test secret; returns ``(status, json)``."""

    def send(
        raw: bytes | str | None = None,
        *,
        secret: str | None = SECRET,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> tuple[int, dict[str, Any]]:
        if raw is None:
            body = dict(fields)
            if secret is not None:
                body["secret"] = secret
            raw = json.dumps(body, default=str)
        reply = client.post("/webhook", data=raw, headers=headers or {}, content_type="text/plain")
        return reply.status_code, reply.get_json()

    return send
