"""GET /metrics: Prometheus text, token required, per-app registry, counts from real webhook replies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import TemporaryError
from bot.services import Services, build_services
from bot.settings import load_settings
from bot.sheets.local import LocalWorkbook
from bot.web import create_app
from bot.web.metrics import order_status_label, outcome_of, register_metrics

SECRET = "metrics-test-secret-0123456789"
TOKEN = "metrics-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FlakyWorkbook(LocalWorkbook):
    """The local workbook, refusing writes while ``failing`` is set (like a Sheets outage)."""

    failing = False

    def apply(self, batch: Any) -> None:
        if self.failing:
            raise TemporaryError("workbook unavailable (test)")
        super().apply(batch)


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = load_settings(bot_data_dir=tmp_path / "data", webhook_secret=SECRET, bot_api_token=TOKEN)
    built = build_services(settings, workbook=FlakyWorkbook(settings.workbook_path))
    yield built
    built.close()


def _app(services: Services) -> Any:
    app = create_app(services=services)
    register_metrics(app, services)  # no-op when create_app already registers it
    return app


def _alert(**fields: Any) -> bytes:
    body = {"secret": SECRET, "action": "buy", "symbol": "NASDAQ:AAPL", "timeframe": "D", "price": 190.5}
    body.update(fields)
    return json.dumps(body).encode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = client.get("/metrics", headers=AUTH)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=")
    return _samples(reply.get_data(as_text=True))


def test_metrics_requires_the_api_token(services: Services) -> None:
    client = _app(services).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-value"}).status_code == 401
    assert client.get("/metrics", headers=AUTH).status_code == 200


def test_alert_outcomes_orders_and_latency_are_counted(services: Services) -> None:
    client = _app(services).test_client()
    replies = [
        client.post("/webhook", data=_alert(id="m-1")),  # success: paper fill
        client.post("/webhook", data=_alert(id="m-1")),  # duplicate id
        client.post("/webhook", data=_alert(id="m-2")),  # skipped: already long
        client.post("/webhook", data=_alert(secret="wrong-secret-value")),  # 401
        client.post("/webhook", data=b"not json"),  # 400
        client.post("/webhook", data=b"x" * (65 * 1024)),  # 413
    ]
    assert [r.status_code for r in replies] == [200, 200, 200, 401, 400, 413]
    assert [r.get_json().get("status") for r in replies[:3]] == ["success", "duplicate", "skipped"]
    client.get("/health")  # not an alert: not counted

    values = _scrape(client)
    alerts = {dict(k[1])["outcome"]: v for k, v in values.items() if k[0] == "bot_alerts_total"}
    assert alerts == {
        "success": 1,
        "duplicate": 1,
        "skipped": 1,
        "unauthorized": 1,
        "rejected": 1,
        "too_large": 1,
    }
    assert values[("bot_orders_total", (("status", "filled"),))] == 1
    assert values[("bot_orders_by_state", (("state", "filled"),))] == 1
    assert values[("bot_reply_seconds_count", ())] == 6
    assert 0 < values[("bot_reply_seconds_sum", ())] < 30
    assert values[("bot_reply_seconds_bucket", (("le", "+Inf"),))] == 6
    assert values[("bot_last_signal_timestamp_seconds", ())] > 1.6e9


def test_outbox_depth_and_workbook_errors_come_from_the_services(services: Services) -> None:
    client = _app(services).test_client()
    assert client.post("/webhook", data=_alert(id="o-1")).status_code == 200
    depth = services.store.outbox_depth()
    assert depth > 0
    values = _scrape(client)
    assert values[("bot_outbox_depth", ())] == depth
    assert values[("bot_workbook_errors_total", ())] == 0

    services.workbook.failing = True  # type: ignore[attr-defined]
    with pytest.raises(TemporaryError):
        services.writer.flush()
    values = _scrape(client)
    assert values[("bot_workbook_errors_total", ())] == 1
    assert values[("bot_outbox_depth", ())] == depth  # nothing lost

    services.workbook.failing = False  # type: ignore[attr-defined]
    services.writer.flush()
    assert _scrape(client)[("bot_outbox_depth", ())] == 0


def test_alerts_refused_by_earlier_hooks_are_counted(services: Services) -> None:
    from flask import abort, request

    app = create_app(services=services)

    @app.before_request
    def _flood_guard() -> None:  # stands for a rate limiter registered before the metrics
        if request.headers.get("X-Test-Flood"):
            abort(429)

    register_metrics(app, services)
    client = app.test_client()
    assert client.post("/webhook", data=_alert(id="f-1"), headers={"X-Test-Flood": "1"}).status_code == 429
    values = _scrape(client)
    assert values[("bot_alerts_total", (("outcome", "rate_limited"),))] == 1
    assert values[("bot_reply_seconds_count", ())] == 1


def test_each_app_has_its_own_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    built = []
    try:
        clients = []
        for name in ("a", "b"):
            settings = load_settings(bot_data_dir=tmp_path / name, webhook_secret=SECRET, bot_api_token=TOKEN)
            built.append(build_services(settings))
            app = _app(built[-1])
            assert register_metrics(app, built[-1]) is app.extensions["metrics"]  # idempotent
            clients.append(app.test_client())
        clients[0].post("/webhook", data=_alert(id="only-in-a"))
        assert _scrape(clients[0])[("bot_alerts_total", (("outcome", "success"),))] == 1
        assert _scrape(clients[1])[("bot_alerts_total", (("outcome", "success"),))] == 0
    finally:
        for services in built:
            services.close()


def test_outcome_names() -> None:
    assert outcome_of(200, {"status": "success"}) == "success"
    assert outcome_of(202, {"status": "success"}) == "success"
    assert outcome_of(202, {}) == "accepted"
    assert outcome_of(401, {"error": "wrong secret"}) == "unauthorized"
    assert outcome_of(429, None) == "rate_limited"
    assert outcome_of(500, None) == "error"
    assert outcome_of(418, None) == "http_418"
    assert order_status_label("WAITING") == "filled"  # a close that filled leaves the row WAITING
    assert order_status_label("ORDER SUBMITTED") == "submitted"
    assert order_status_label("SOMETHING NEW") == "something_new"
