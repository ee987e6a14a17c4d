"""Read endpoints for owners and the dashboard: health, config, positions, performance.

All but ``/health`` require ``Authorization: Bearer <BOT_API_TOKEN>`` (compared in constant time).
``/health`` never shows secrets or error texts that could contain them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from bot.domain import format_decimal
from bot.errors import BotError

api = Blueprint("api", __name__)


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: 401 unless the request carries the API token as a Bearer token."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        expected = current_app.extensions["bot"].api_token
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return jsonify({"error": "missing or wrong API token (Authorization: Bearer …)"}), 401
        return view(*args, **kwargs)

    return wrapped


def _num(value: Decimal | None) -> int | float | None:
    """JSON number for display (``/config`` keeps the classic numeric shape)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


@api.get("/health")
def health() -> Any:
    """Status of the bot: store, broker, mode, trading switch, active rows, last signal, version."""
    services = current_app.extensions["bot"]
    snapshot = services.config.get()
    default = services.brokers.default
    degraded_since = services.config.degraded_since or services.writer.degraded_since
    live = any(b.live for b in services.brokers.loaded().values())
    body = {
        "status": "degraded" if degraded_since else "ok",
        "store": services.workbook.kind,
        "broker": default,
        "mode": "live" if live or _default_live(services) else "paper",
        "trading_enabled": snapshot.runtime.trading_enabled and not services.engine.paused,
        "paused": services.engine.paused,
        "active_configs": len(snapshot.rows),
        "config_errors": len([p for p in snapshot.problems.values() if p.active]),
        "last_signal_at": services.engine.last_signal_at.isoformat() if services.engine.last_signal_at else None,
        "workbook_degraded_since": degraded_since.isoformat() if degraded_since else None,
        "workbook_read_only": services.writer.read_only,
        "outbox_depth": services.store.outbox_depth(),
        "version": services.version,
    }
    if services.drift:
        body["position_drift"] = services.drift
    return jsonify(body)


def _default_live(services: Any) -> bool:
    settings = services.settings
    if settings.bot_broker == "alpaca":
        return not settings.alpaca_paper
    if settings.bot_broker.startswith("binance"):
        return not settings.binance_testnet
    return False


@api.get("/config")
@require_token
def config() -> Any:
    """``{"config": {"AAPL 15m": 5000, …}, "total": N, "rows": [...], "problems": [...]}``."""
    services = current_app.extensions["bot"]
    snapshot, engine = services.config.get(), services.engine
    rows = sorted(snapshot.rows.values(), key=lambda r: r.row_number)
    return jsonify(
        {
            "config": {f"{r.symbol} {r.timeframe}": _num(r.position_size) for r in rows},
            "total": len(rows),
            "rows": [
                {
                    "row": r.row_number,
                    "symbol": r.symbol,
                    "timeframe": r.timeframe,
                    "position_size": format_decimal(r.position_size),
                    "size_type": r.size_type.value,
                    "direction": r.direction.value,
                    "broker": r.broker or "default",
                    "status": engine.row_status.get(r.key)
                    or snapshot.statuses.get((r.symbol, r.timeframe), ("", ""))[0],
                }
                for r in rows
            ],
            "inactive": [str(k) for k in snapshot.inactive],
            "problems": [
                {"row": p.row_number, "key": " ".join(p.key), "reason": p.reason} for p in snapshot.problems.values()
            ],
        }
    )


@api.get("/positions")
@require_token
def positions() -> Any:
    """Net position per symbol from the slots, valued at the broker's last price."""
    services = current_app.extensions["bot"]
    snapshot = services.config.get()
    by_symbol: dict[str, list[Any]] = {}
    for slot in services.store.slots():
        if slot.qty != 0:
            by_symbol.setdefault(slot.symbol, []).append(slot)
    result = []
    for symbol, slots in sorted(by_symbol.items()):
        qty = sum((s.qty for s in slots), start=Decimal(0))
        row = next((r for k, r in snapshot.rows.items() if k.symbol == symbol), None)
        price = None
        try:
            price = services.brokers.get(row.broker if row else "").last_price(symbol)
        except BotError:
            price = None
        unrealized = None
        if price is not None:
            unrealized = sum(((price - (s.avg_price or price)) * s.qty for s in slots), start=Decimal(0))
        result.append(
            {
                "symbol": symbol,
                "qty": format_decimal(qty),
                "side": "long" if qty > 0 else "short" if qty < 0 else "flat",
                "market_value": format_decimal(qty * price) if price is not None else None,
                "unrealized_pl": format_decimal(unrealized.quantize(Decimal("0.01")))
                if unrealized is not None
                else None,
                "slots": [
                    {"timeframe": s.timeframe, "qty": format_decimal(s.qty), "avg_price": format_decimal(s.avg_price)}
                    for s in slots
                ],
            }
        )
    return jsonify({"positions": result, "total": len(result)})


@api.route("/performance", methods=["GET", "POST"])
@require_token
def performance() -> Any:
    """GET: the Performance tab rows; POST: recompute from fills now, then return them."""
    from bot.jobs import recompute_performance

    services = current_app.extensions["bot"]
    if request.method == "POST":
        summary = recompute_performance(services)
        return jsonify({"recomputed": True, **summary})
    table = services.workbook.read_tables(["Performance"])["Performance"]
    return jsonify({"performance": table.rows, "total": len(table.rows)})


@api.post("/pause")
@require_token
def pause() -> Any:
    """Stop trading now: signals are recorded and answered BLOCKED until ``POST /resume``."""
    current_app.extensions["bot"].engine.pause(True)
    return jsonify({"paused": True})


@api.post("/resume")
@require_token
def resume() -> Any:
    """Resume trading; also lifts today's daily-loss block."""
    current_app.extensions["bot"].engine.pause(False)
    return jsonify({"paused": False})
