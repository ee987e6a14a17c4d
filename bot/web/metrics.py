"""``GET /metrics`` in Prometheus text format, and per-alert timing, counting and logging.

Metrics (one :class:`~prometheus_client.CollectorRegistry` per app, so tests can build many apps):

- ``bot_alerts_total{outcome}`` counter: webhook replies by outcome. ``outcome`` is the reply's
  ``status`` (``success``, ``skipped``, ``duplicate``) for 2xx replies, else a name for the HTTP
  code: ``rejected`` (400), ``unauthorized`` (401), ``forbidden`` (403), ``conflict`` (409),
  ``too_large`` (413), ``rate_limited`` (429), ``unavailable`` (503), ``error`` (other 5xx).
- ``bot_orders_total{status}`` counter: orders placed from webhook alerts by this process, by
  their status when the reply was sent: ``filled``, ``partially_filled``, ``submitted`` (sent, not
  yet filled, or still with the broker after the reply deadline), ``queued`` (market closed),
  ``failed`` (see :data:`ORDER_STATUS_LABELS`).
- ``bot_orders_by_state{state}`` gauge: every order in the state DB by its current state
  (``filled``, ``submitted``, ``failed`` …), read at scrape time, so fills found later by the
  order tracker and orders from before a restart are included.
- ``bot_reply_seconds`` histogram: time from receiving a ``POST /webhook`` to the reply, in
  seconds (buckets around TradingView's 3 s deadline).
- ``bot_outbox_depth`` gauge: pending workbook writes (``services.store.outbox_depth()``).
- ``bot_workbook_errors_total`` counter: failed workbook flushes since start (``services.writer.errors``).
- ``bot_last_signal_timestamp_seconds`` gauge: Unix time of the last alert received (absent before the first).

``/metrics`` requires the API token (``Authorization: Bearer <BOT_API_TOKEN>``), like the other
read endpoints; in Prometheus use ``authorization: {credentials: ...}`` in the scrape config.
Each alert also produces one JSON log line via :func:`bot.logging_setup.log_alert`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.logging_setup import log_alert
from bot.state import ledger
from bot.web.api import require_token

log = logging.getLogger(__name__)

#: Histogram buckets of ``bot_reply_seconds`` (TradingView gives up after 3 s).
REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
#: ``outcome`` label for non-2xx webhook replies, by HTTP status.
ERROR_OUTCOMES = {
    400: "rejected",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported",
    429: "rate_limited",
    503: "unavailable",
}
WEBHOOK_PATH = "/webhook"
#: ``status`` label of ``bot_orders_total`` for the row status in a webhook reply that placed an
#: order. ``WAITING`` after an order means it filled and left the slot flat.
ORDER_STATUS_LABELS = {
    "FILLED": "filled",
    "WAITING": "filled",
    "PARTIALLY FILLED": "partially_filled",
    "ORDER SUBMITTED": "submitted",
    "QUEUED": "queued",
    "FAILED": "failed",
}


@dataclass
class BotMetrics:
    """The metrics of one app; ``registry`` holds exactly these (never the global default registry)."""

    registry: CollectorRegistry
    alerts: Counter
    orders: Counter
    reply_seconds: Histogram


class _ServicesCollector(Collector):
    """Values read from the services at scrape time; a failing source is skipped, never a 500."""

    def __init__(self, services: Any) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        services = self._services
        try:
            depth = GaugeMetricFamily("bot_outbox_depth", "Pending workbook writes in the state DB outbox.")
            depth.add_metric([], float(services.store.outbox_depth()))
            yield depth
        except Exception as exc:  # the DB may be busy; the scrape must still answer
            log.warning("metrics: outbox depth unavailable: %s", exc)
        writer = getattr(services, "writer", None)
        errors = CounterMetricFamily("bot_workbook_errors", "Failed workbook flushes since the bot started.")
        errors.add_metric([], float(getattr(writer, "errors", 0) or 0))
        yield errors
        try:
            yield self._orders_by_state()
        except Exception as exc:
            log.warning("metrics: order states unavailable: %s", exc)
        last = getattr(getattr(services, "engine", None), "last_signal_at", None)
        if last is not None:
            gauge = GaugeMetricFamily("bot_last_signal_timestamp_seconds", "Unix time of the last alert received.")
            gauge.add_metric([], last.timestamp())
            yield gauge

    def _orders_by_state(self) -> Metric:
        gauge = GaugeMetricFamily("bot_orders_by_state", "Orders in the state DB by current state.", labels=["state"])
        for state, count in sorted(ledger.orders_by_state(self._services.store).items()):
            gauge.add_metric([str(state)], float(count))
        return gauge


def outcome_of(http_status: int, body: dict[str, Any] | None) -> str:
    """The ``outcome`` label of a webhook reply: the body's ``status`` for 2xx, else :data:`ERROR_OUTCOMES`."""
    if 200 <= http_status < 300:
        status = (body or {}).get("status")
        return str(status) if isinstance(status, str) and status else "accepted"
    if http_status in ERROR_OUTCOMES:
        return ERROR_OUTCOMES[http_status]
    return "error" if http_status >= 500 else f"http_{http_status}"


def order_status_label(row_status: object) -> str:
    """The ``status`` label for the row status of a reply that placed an order (``"FILLED"`` → ``"filled"``)."""
    text = str(row_status or "unknown")
    return ORDER_STATUS_LABELS.get(text, text.lower().replace(" ", "_"))


def register_metrics(app: Flask, services: Any) -> BotMetrics:
    """Add ``GET /metrics`` (API token required) and the ``/webhook`` timing/counting/logging hooks.

    Idempotent: a second call on the same app returns the existing :class:`BotMetrics`.

    Args:
        app: the Flask app (before it has served its first request).
        services: the app's :class:`~bot.services.Services` (``store``, ``writer``, ``engine`` are read).

    Returns:
        The app's :class:`BotMetrics` (also at ``app.extensions["metrics"]``).
    """
    existing = app.extensions.get("metrics")
    if existing is not None:
        return existing
    registry = CollectorRegistry()
    metrics = BotMetrics(
        registry=registry,
        alerts=Counter("bot_alerts", "Webhook alerts by outcome.", ["outcome"], registry=registry),
        orders=Counter(
            "bot_orders",
            "Orders placed from webhook alerts, by status at reply time.",
            ["status"],
            registry=registry,
        ),
        reply_seconds=Histogram(
            "bot_reply_seconds", "Webhook reply latency, seconds.", buckets=REPLY_BUCKETS, registry=registry
        ),
    )
    registry.register(_ServicesCollector(services))
    for outcome in ("success", "skipped", "duplicate", "rejected", "unauthorized"):
        metrics.alerts.labels(outcome=outcome)  # present (at 0) from the start: rate() needs a baseline
    app.extensions["metrics"] = metrics

    def _start_timer() -> None:
        if request.path == WEBHOOK_PATH and request.method == "POST":
            g.bot_started = time.perf_counter()
            request.get_data(cache=True)  # keep the body readable for the alert id (size limit still applies)

    # first of all before-request hooks, so alerts refused by earlier hooks (rate limit: 429,
    # address allowlist: 403) are timed, counted and logged too
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("bot_started", None)
        if started is None:
            return response
        try:
            _record(metrics, response, time.perf_counter() - started)
        except Exception:  # observing must never break a reply
            log.exception("metrics: could not record an alert")
        return response

    @app.get("/metrics")
    @require_token
    def metrics_endpoint() -> Response:
        """Prometheus text exposition of this app's registry."""
        return Response(generate_latest(current_app.extensions["metrics"].registry), content_type=CONTENT_TYPE_LATEST)

    return metrics


def _record(metrics: BotMetrics, response: Response, seconds: float) -> None:
    body = _json(response.get_data()) if response.mimetype == "application/json" else {}
    outcome = outcome_of(response.status_code, body)
    metrics.alerts.labels(outcome=outcome).inc()
    metrics.reply_seconds.observe(seconds)
    if body.get("order_id"):
        metrics.orders.labels(status=order_status_label(body.get("order_status"))).inc()
    alert = _json(request.get_data(cache=True)) if response.status_code != 413 else {}
    log_alert(
        {
            "alert_id": _text(alert.get("id")),
            "symbol": body.get("symbol") or _text(alert.get("symbol", alert.get("ticker"))),
            "timeframe": body.get("timeframe") or _text(alert.get("timeframe", alert.get("interval"))),
            "action": body.get("action") or _text(alert.get("action", alert.get("side"))),
            "http_status": response.status_code,
            "result": outcome,
            "reason": body.get("reason") or body.get("error") or "",
            "latency_ms": round(seconds * 1000, 1),
            "order_id": body.get("order_id"),
            "order_status": body.get("order_status"),
        }
    )


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8-sig")) if data else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A short display text of an alert field ("" for missing or structured values)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)[:64]
    return ""
