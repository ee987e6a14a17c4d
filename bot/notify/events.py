"""Notification events: what happened, as a short human text, ready for any channel.

An :class:`Event` is a plain value: the engine, the jobs and the sheet outbox build one and hand
it to :meth:`bot.notify.notifier.Notifier.publish`. Which channels receive it is decided by the
Settings tab (:mod:`bot.notify.routing`), never by the publisher.

The helper constructors below (``order_filled(...)``, ``order_failed(...)``, ...) write the text
the same way everywhere: *what happened*, *symbol/timeframe*, *what the bot did*. They take plain
values (Decimal or text) so callers do not need to format numbers. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path

from bot.domain import format_decimal, utc_now


class EventKind(str, Enum):
    """Kinds of notification; each kind is routed separately (``notify_<kind>`` in Settings)."""

    ORDER_FILLED = "order_filled"
    ORDER_FAILED = "order_failed"
    CONFIG_ERROR = "config_error"
    ALERT_REJECTED = "alert_rejected"  # duplicate or stale alert
    BLOCKED = "blocked"  # kill switch or risk limit
    POSITION_DRIFT = "position_drift"  # broker position differs from the slots' sum
    WORKBOOK_DEGRADED = "workbook_degraded"  # sheet writes failing (quota/outage); trading continues
    WORKBOOK_RECOVERED = "workbook_recovered"
    WEBHOOK_SILENT = "webhook_silent"  # no alert for alert_silent_minutes
    DAILY_SUMMARY = "daily_summary"
    THRESHOLD = "threshold"  # daily loss / drawdown / equity floor crossed
    TEST = "test"

    @property
    def title(self) -> str:
        """Upper-case label used in subjects and SMS prefixes, e.g. ``"ORDER FAILED"``."""
        return self.value.replace("_", " ").upper()

    @property
    def is_critical(self) -> bool:
        """True when the trader must act or know now; critical events are the last to be dropped."""
        return self in CRITICAL_KINDS


#: Kinds that are kept when a channel's queue overflows (non-critical ones are dropped first).
CRITICAL_KINDS = frozenset(
    {
        EventKind.ORDER_FAILED,
        EventKind.CONFIG_ERROR,
        EventKind.BLOCKED,
        EventKind.POSITION_DRIFT,
        EventKind.WORKBOOK_DEGRADED,
        EventKind.WEBHOOK_SILENT,
        EventKind.THRESHOLD,
        EventKind.TEST,
    }
)


@dataclass(frozen=True)
class Event:
    """One thing the trader should hear about.

    Attributes:
        kind: the :class:`EventKind` (decides routing and grouping).
        text: one or two plain sentences: what happened, for which symbol/timeframe, and what the
            bot did about it. Sent as is to SMS/Slack and as the plain-text e-mail body.
        symbol: canonical symbol (``""`` when the event is not about one); part of the grouping key.
        timeframe: canonical timeframe (``""`` when not about one slot).
        html: optional HTML body for e-mail (other channels use ``text``).
        attachments: optional PNG files (paths) attached to e-mail only (e.g. an equity chart).
        topic: what the event is about when ``symbol`` does not say it (``"daily_loss"``,
            ``"row 7"``); part of the grouping key, so different problems are never folded together.
        at: when it happened, tz-aware UTC.
    """

    kind: EventKind
    text: str
    symbol: str = ""
    timeframe: str = ""
    html: str = ""
    attachments: tuple[Path, ...] = ()
    topic: str = ""
    at: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            object.__setattr__(self, "kind", EventKind(self.kind))
        if not isinstance(self.attachments, tuple):
            object.__setattr__(self, "attachments", tuple(Path(p) for p in self.attachments))

    @property
    def group_key(self) -> tuple[EventKind, str, str]:
        """``(kind, symbol, topic)``: events with the same key are grouped (see the notifier)."""
        return (self.kind, self.symbol, self.topic)

    @property
    def subject(self) -> str:
        """Short title: ``"ORDER FAILED AAPL 15m"`` (kind, then symbol and timeframe when set)."""
        return " ".join(part for part in (self.kind.title, self.symbol, self.timeframe) if part)


# --------------------------------------------------------------------------------------------
# Constructors with consistent wording
# --------------------------------------------------------------------------------------------


def _slot(symbol: str, timeframe: str) -> str:
    return " ".join(part for part in (symbol, timeframe) if part)


def _amount(value: Decimal | str | None) -> str:
    if value is None:
        return ""
    return format_decimal(value) if isinstance(value, Decimal) else str(value)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def order_filled(
    *,
    symbol: str,
    timeframe: str,
    side: str,
    qty: Decimal | str,
    price: Decimal | str | None = None,
    order_id: str = "",
    position: str = "",
) -> Event:
    """``order_filled``: e.g. "AAPL 15m: buy 10 filled @ 187.5 (order abc). Slot now long 10."

    ``side`` is ``buy|sell``; ``qty`` in base units; ``price`` the average fill price in quote
    currency; ``position`` an optional description of the slot afterwards (``"long 10"``).
    """
    text = f"{_slot(symbol, timeframe)}: {side} {_amount(qty)} filled"
    if price is not None:
        text += f" @ {_amount(price)}"
    if order_id:
        text += f" (order {order_id})"
    text += "."
    if position:
        text += f" Slot now {position}."
    return Event(EventKind.ORDER_FILLED, text, symbol, timeframe)


def order_failed(
    *, symbol: str, timeframe: str, side: str = "", qty: Decimal | str | None = None, reason: str
) -> Event:
    """``order_failed``: e.g. "AAPL 15m: buy 10 FAILED: insufficient buying power. Row marked FAILED."

    ``reason`` is the venue's or the bot's reason (already free of secrets, e.g. a
    :class:`~bot.errors.BrokerRejected` message).
    """
    what = " ".join(part for part in (side, _amount(qty)) if part)
    text = f"{_slot(symbol, timeframe)}: {what + ' ' if what else ''}order FAILED: {_sentence(reason)}"
    text += " Row marked FAILED; no position change."
    return Event(EventKind.ORDER_FAILED, text, symbol, timeframe)


def config_error(*, problem: str, symbol: str = "", timeframe: str = "", row: int | None = None) -> Event:
    """``config_error``: e.g. "Config row 7 (AAPL 15m): position_size 'abc' is not a number. Row skipped."."""
    where = "Config"
    if row is not None:
        where += f" row {row}"
    slot = _slot(symbol, timeframe)
    if slot:
        where += f" ({slot})"
    action = " Row skipped until fixed." if (row is not None or slot) else ""
    text = f"{where}: {_sentence(problem)}{action}"
    topic = f"row {row}" if row is not None else problem[:60]
    return Event(EventKind.CONFIG_ERROR, text, symbol, timeframe, topic=topic)


def alert_rejected(*, symbol: str, timeframe: str, reason: str) -> Event:
    """``alert_rejected`` (duplicate or stale): "AAPL 15m: alert ignored: duplicate. No order placed."."""
    text = f"{_slot(symbol, timeframe)}: alert ignored: {_sentence(reason)} No order placed."
    return Event(EventKind.ALERT_REJECTED, text, symbol, timeframe)


def blocked(*, symbol: str, timeframe: str, action: str, reason: str) -> Event:
    """``blocked`` (kill switch or risk limit): "AAPL 15m: buy BLOCKED: kill switch on. No order placed."."""
    text = f"{_slot(symbol, timeframe)}: {action} BLOCKED: {_sentence(reason)} No order placed."
    return Event(EventKind.BLOCKED, text, symbol, timeframe)


def position_drift(*, symbol: str, broker_qty: Decimal | str, slots_qty: Decimal | str, action: str = "") -> Event:
    """``position_drift``: the broker holds a different quantity than the slots add up to.

    ``action`` says what the bot did (default: nothing changed; please check).
    """
    text = f"{symbol}: position drift: broker holds {_amount(broker_qty)}, slots add up to {_amount(slots_qty)}. " + (
        _sentence(action) if action else "No order placed; please check the broker and the Config tab."
    )
    return Event(EventKind.POSITION_DRIFT, text, symbol)


def workbook_degraded(*, reason: str, pending_writes: int = 0) -> Event:
    """``workbook_degraded``: sheet writes failing; trading continues, writes are kept and retried."""
    text = f"Workbook writes failing: {_sentence(reason)} Trading continues; "
    queued = f"{pending_writes} write(s)" if pending_writes else "writes"
    text += f"{queued} queued and retried."
    return Event(EventKind.WORKBOOK_DEGRADED, text)


def workbook_recovered(*, flushed_writes: int = 0) -> Event:
    """``workbook_recovered``: the workbook accepts writes again."""
    text = "Workbook writes working again."
    if flushed_writes:
        text += f" {flushed_writes} queued write(s) applied."
    return Event(EventKind.WORKBOOK_RECOVERED, text)


def webhook_silent(*, minutes: float, last_signal_at: datetime | None) -> Event:
    """``webhook_silent``: no alert arrived for ``minutes`` (check TradingView alerts and the URL)."""
    last = last_signal_at.strftime("%Y-%m-%d %H:%M UTC") if last_signal_at else "never"
    text = (
        f"No TradingView alert for {minutes:g} min (last: {last}). "
        "The bot is running; check the alerts in TradingView and the webhook URL."
    )
    return Event(EventKind.WEBHOOK_SILENT, text)


def daily_summary(*, text: str, html: str = "", attachments: Sequence[Path | str] = ()) -> Event:
    """``daily_summary``: the end-of-day report (usually e-mailed with an HTML table and charts)."""
    return Event(EventKind.DAILY_SUMMARY, text, html=html, attachments=tuple(Path(p) for p in attachments))


def threshold(*, metric: str, value: Decimal | str, limit: Decimal | str, action: str = "") -> Event:
    """``threshold``: e.g. "Daily loss 612.40 USD crossed the alert level 500 USD. Trading continues."."""
    text = f"{metric} {_amount(value)} crossed the alert level {_amount(limit)}. "
    text += _sentence(action) if action else "Trading continues (alert only)."
    return Event(EventKind.THRESHOLD, text, topic=metric.lower())


def test_event(text: str = "") -> Event:
    """``test``: the message of ``python -m bot notify-test``."""
    return Event(EventKind.TEST, text or "Test message from the trading bot: this channel works.")


test_event.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported
