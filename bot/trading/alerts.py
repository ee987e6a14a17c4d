"""Turning a raw TradingView webhook body into a validated :class:`~bot.domain.Signal`.

Pure functions, no I/O. Every failure is an :class:`~bot.errors.AlertRejected` whose message
names the field and the offending value; nothing here can raise anything else for any input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from bot.domain import Signal, normalise_symbol, normalise_timeframe, parse_action
from bot.errors import AlertRejected
from bot.parsing import parse_decimal, parse_time

#: Alert fields the bot understands (anything else is kept in ``Signal.extra`` as text, truncated).
KNOWN_FIELDS = {
    "secret", "passphrase", "action", "side", "symbol", "ticker", "timeframe", "interval", "price", "close",
    "quantity", "qty", "strategy", "id", "time", "timenow",
}  # fmt: skip
MAX_FIELD_CHARS = 256


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse a webhook body as a JSON object, whatever the Content-Type.

    Floats are parsed as :class:`~decimal.Decimal` (exact prices); ``NaN``/``Infinity`` are refused.

    Raises:
        AlertRejected: 400 when the body is empty, not UTF-8, not JSON, or not a JSON object.
    """
    if not body or not body.strip():
        raise AlertRejected("empty body: send the alert as a JSON object", field="body")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AlertRejected("body is not UTF-8 text", field="body") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise AlertRejected(f"body is not valid JSON ({_short(str(exc))})", field="body") from None
    if not isinstance(data, dict):
        raise AlertRejected(f"body must be a JSON object, got {type(data).__name__}", field="body")
    return data


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def check_secret(payload: dict[str, Any], expected: str) -> None:
    """Compare the alert's ``secret`` (alias ``passphrase``) with ``expected`` in constant time.

    Raises:
        AlertRejected: 401 when missing or different (the message never echoes either value).
    """
    given = payload.get("secret", payload.get("passphrase"))
    if not isinstance(given, str) or not given:
        raise AlertRejected('missing secret: add "secret" to the alert message', http_status=401, field="secret")
    if not expected or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise AlertRejected("wrong secret", http_status=401, field="secret")


def parse_signal(payload: dict[str, Any]) -> Signal:
    """Validate an alert object into a :class:`Signal` (fields and aliases per DESIGN.md §4).

    - ``action`` (alias ``side``): buy|sell|close, with long/short/exit/flat aliases.
    - ``symbol`` (alias ``ticker``): exchange prefix and ``.P`` dropped.
    - ``timeframe`` (alias ``interval``): normalised to ``1m…1h…1d…1w…1M``.
    - optional ``price`` (alias ``close``) > 0, ``quantity`` (alias ``qty``) > 0, ``strategy``,
      ``id`` (idempotency key), ``time``/``timenow`` (ISO or epoch).

    Raises:
        AlertRejected: 400 naming the first bad or missing field and its value.
    """
    action = _field(payload, ("action", "side"), parse_action, required=True)
    symbol = _field(payload, ("symbol", "ticker"), normalise_symbol, required=True)
    timeframe = _field(payload, ("timeframe", "interval"), normalise_timeframe, required=True)
    price = _field(payload, ("price", "close"), lambda v: parse_decimal(v, positive=True, allow_zero=False))
    quantity = _field(payload, ("quantity", "qty"), lambda v: parse_decimal(v, positive=True, allow_zero=False))
    strategy = _field(payload, ("strategy",), _text)
    alert_id = _field(payload, ("id",), _text)
    fired_at = _field(payload, ("time", "timenow"), parse_time)
    extra = {str(k)[:64]: _short(str(v), MAX_FIELD_CHARS) for k, v in payload.items() if k not in KNOWN_FIELDS}
    return Signal(
        action=action,
        symbol=symbol,
        timeframe=timeframe,
        alert_key=alert_key(payload, alert_id or ""),
        price=price,
        quantity=quantity,
        strategy=strategy or "",
        alert_id=alert_id or "",
        fired_at=fired_at,
        extra=extra,
    )


def alert_key(payload: dict[str, Any], alert_id: str) -> str:
    """Idempotency key: ``id:<id>`` when the alert has an id, else ``body:<sha256 of the body>``.

    The body hash covers every field but the secret, serialised canonically (sorted keys), so the
    same alert sent twice maps to the same key whatever the whitespace.
    """
    if alert_id:
        return "id:" + alert_id
    canonical = json.dumps(
        {k: v for k, v in payload.items() if k not in ("secret", "passphrase")},
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return "body:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def redacted_body(payload: dict[str, Any], limit: int = 4096) -> str:
    """The alert as JSON text without its secret, truncated to ``limit`` characters (for the DB)."""
    clean = {k: ("***" if k in ("secret", "passphrase") else v) for k, v in payload.items()}
    return _short(json.dumps(clean, default=str, ensure_ascii=False), limit)


def _field(payload: dict[str, Any], names: tuple[str, ...], parse: Any, *, required: bool = False) -> Any:
    for name in names:
        if name in payload and payload[name] is not None and payload[name] != "":
            try:
                return parse(payload[name])
            except ValueError as exc:
                raise AlertRejected(f"field {name!r}: {exc}", field=name) from None
    if required:
        alias = f" (or {names[1]!r})" if len(names) > 1 else ""
        raise AlertRejected(f"missing field {names[0]!r}{alias}", field=names[0])
    return None


def _text(value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"must be a text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > 128:
        raise ValueError(f"is longer than 128 characters ({len(text)})")
    return text


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
