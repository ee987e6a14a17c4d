"""Which channels get which event, alert thresholds, and the Settings-tab keys that set them.

Routing and thresholds are runtime knobs in the workbook's Settings tab (key | value)::

    notify_order_filled   = slack
    notify_order_failed   = sms,slack
    notify_daily_summary  = email
    alert_daily_loss_usd  = 500
    notify_group_minutes  = 10

Blank or missing keys use the defaults in :data:`NOTIFY_SETTING_KEYS`. No I/O here;
:class:`ThresholdMonitor` turns measured numbers into :class:`~bot.notify.events.Event` values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from bot.domain import format_decimal, utc_now
from bot.notify import events
from bot.notify.events import Event, EventKind
from bot.parsing import parse_decimal

#: Channel names used in routes (``all`` = every configured channel, ``none`` = no channel).
CHANNEL_NAMES: tuple[str, ...] = ("sms", "slack", "email")
ALL = frozenset(CHANNEL_NAMES)

_CHANNEL_ALIASES = {
    "sms": "sms",
    "text": "sms",
    "twilio": "sms",
    "slack": "slack",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "smtp": "email",
}

#: Default channels per event kind: failures, drift and outages go everywhere; fills to Slack;
#: the daily summary by e-mail. Only configured channels are ever used.
DEFAULT_ROUTES: Mapping[EventKind, frozenset[str]] = MappingProxyType(
    {
        EventKind.ORDER_FILLED: frozenset({"slack"}),
        EventKind.ORDER_FAILED: ALL,
        EventKind.CONFIG_ERROR: ALL,
        EventKind.ALERT_REJECTED: frozenset({"slack"}),
        EventKind.BLOCKED: ALL,
        EventKind.POSITION_DRIFT: ALL,
        EventKind.WORKBOOK_DEGRADED: ALL,
        EventKind.WORKBOOK_RECOVERED: ALL,
        EventKind.WEBHOOK_SILENT: ALL,
        EventKind.DAILY_SUMMARY: frozenset({"email"}),
        EventKind.THRESHOLD: ALL,
        EventKind.TEST: ALL,
    }
)

DEFAULT_GROUP_MINUTES = 10.0


def _route_text(channels: frozenset[str]) -> str:
    if channels == ALL:
        return "all"
    return ",".join(name for name in CHANNEL_NAMES if name in channels) or "none"


_THRESHOLD_KEYS: dict[str, str] = {
    "alert_daily_loss_usd": ("Alert when today's loss in USD (realised + unrealised) reaches this. Blank/0 = off."),
    "alert_drawdown_pct": "Alert when equity is this many percent below its peak. Blank/0 = off.",
    "alert_equity_below_usd": "Alert when account equity (USD) falls below this. Blank/0 = off.",
    "alert_silent_minutes": "Alert when no TradingView alert arrived for this many minutes. Blank/0 = off.",
    "notify_group_minutes": (
        f"At most one message per channel, event kind and symbol (or topic) in this many minutes; repeats are "
        f"counted and reported. Default {DEFAULT_GROUP_MINUTES:g}; 0 = send every event."
    ),
}

#: Settings-tab keys owned by notifications: key → description (with the default). The main
#: Settings parser should accept these keys and leave them to :func:`parse_notify_settings`.
NOTIFY_SETTING_KEYS: dict[str, str] = {
    **{
        f"notify_{kind.value}": (
            f"Channels for {kind.value} events: comma-separated sms, slack, email, or all / none. "
            f"Default {_route_text(DEFAULT_ROUTES[kind])}."
        )
        for kind in EventKind
    },
    **_THRESHOLD_KEYS,
}


@dataclass(frozen=True)
class NotifySettings:
    """Parsed notification knobs.

    Attributes:
        routes: channel names per event kind (kinds missing here use :data:`DEFAULT_ROUTES`).
        group_minutes: grouping window in minutes (0 = no grouping).
        daily_loss_usd: alert level for today's loss in USD (positive number), None = off.
        drawdown_pct: alert level for drawdown from peak equity in percent, None = off.
        equity_below_usd: alert when equity falls below this many USD, None = off.
        silent_minutes: alert after this many minutes without an alert, None = off.
    """

    routes: Mapping[EventKind, frozenset[str]] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    group_minutes: float = DEFAULT_GROUP_MINUTES
    daily_loss_usd: Decimal | None = None
    drawdown_pct: Decimal | None = None
    equity_below_usd: Decimal | None = None
    silent_minutes: float | None = None

    def channels_for(self, kind: EventKind) -> frozenset[str]:
        """Channel names (subset of :data:`CHANNEL_NAMES`) that should receive ``kind``."""
        return self.routes.get(kind, DEFAULT_ROUTES[kind])

    @property
    def group_seconds(self) -> float:
        """The grouping window in seconds."""
        return self.group_minutes * 60.0


def parse_channels(raw: str) -> frozenset[str]:
    """``"sms, Slack"`` → ``{"sms", "slack"}``; ``"all"`` → every channel; ``"none"``/``"off"`` → empty.

    Separators: comma, semicolon, ``+``, ``|`` or spaces. Aliases: ``text``/``twilio`` = sms,
    ``mail``/``e-mail``/``smtp`` = email.

    Raises:
        ValueError: naming the unknown channel word.
    """
    words = [w for w in re.split(r"[,;+|\s]+", raw) if w]
    chosen: set[str] = set()
    for word in words:
        low = word.strip().lower()
        if low == "all":
            chosen |= ALL
        elif low in ("none", "off", "-", "no"):
            continue
        elif low in _CHANNEL_ALIASES:
            chosen.add(_CHANNEL_ALIASES[low])
        else:
            raise ValueError(f"unknown channel {word!r} (use sms, slack, email, all or none)")
    return frozenset(chosen)


def _positive_decimal(value: str) -> Decimal | None:
    number = parse_decimal(value.rstrip("%").strip(), positive=True)
    return number if number > 0 else None


def parse_notify_settings(records: Iterable[Mapping[str, object]]) -> tuple[NotifySettings, list[str]]:
    """Build :class:`NotifySettings` from Settings-tab records (``{"key": ..., "value": ...}``).

    Only keys in :data:`NOTIFY_SETTING_KEYS` are read; other keys are ignored (they belong to the
    main Settings parser). Blank values use the default.

    Returns:
        ``(settings, problems)``: an invalid value falls back to the default and is listed in
        ``problems`` as ``"key 'x': ..."``, so a typo never silences or breaks notifications.
    """
    routes: dict[EventKind, frozenset[str]] = dict(DEFAULT_ROUTES)
    values: dict[str, object] = {}
    problems: list[str] = []
    for record in records:
        key = str(record.get("key") or "").strip()
        value = str(record.get("value") if record.get("value") is not None else "").strip()
        if key not in NOTIFY_SETTING_KEYS or not value:
            continue
        try:
            if key.startswith("notify_") and key != "notify_group_minutes":
                routes[EventKind(key.removeprefix("notify_"))] = parse_channels(value)
            elif key in ("alert_daily_loss_usd", "alert_drawdown_pct", "alert_equity_below_usd"):
                values[key] = _positive_decimal(value)
            else:  # minutes
                minutes = parse_decimal(value, positive=True)
                if minutes > 7 * 24 * 60:
                    raise ValueError(f"{value!r} is more than a week")
                values[key] = float(minutes)
        except ValueError as exc:
            problems.append(f"key {key!r}: value {value!r}: {exc}")
    silent = values.get("alert_silent_minutes")
    settings = NotifySettings(
        routes=MappingProxyType(routes),
        group_minutes=float(values.get("notify_group_minutes", DEFAULT_GROUP_MINUTES)),  # type: ignore[arg-type]
        daily_loss_usd=values.get("alert_daily_loss_usd"),  # type: ignore[arg-type]
        drawdown_pct=values.get("alert_drawdown_pct"),  # type: ignore[arg-type]
        equity_below_usd=values.get("alert_equity_below_usd"),  # type: ignore[arg-type]
        silent_minutes=float(silent) if silent else None,  # type: ignore[arg-type]
    )
    return settings, problems


class ThresholdMonitor:
    """Turns measurements into ``threshold`` / ``webhook_silent`` events, once per breach.

    Call :meth:`check` from the performance/snapshot job and :meth:`check_silence` from a
    periodic job. Each limit fires when it is first crossed and re-arms only after the value is
    back within the limit (the daily-loss alarm also re-arms at the start of a new UTC day), so a
    breach that lasts hours is one message, not one every run. Not thread-safe; use from one job.
    """

    def __init__(self, settings: NotifySettings | None = None) -> None:
        self.settings = settings or NotifySettings()
        self._armed: dict[str, bool] = {}
        self._loss_day: date | None = None

    def _fire(self, name: str, breached: bool) -> bool:
        armed = self._armed.get(name, True)
        self._armed[name] = not breached
        return breached and armed

    def check(
        self,
        *,
        equity_usd: Decimal | None = None,
        daily_pnl_usd: Decimal | None = None,
        peak_equity_usd: Decimal | None = None,
        now: datetime | None = None,
    ) -> list[Event]:
        """Events for limits newly crossed.

        Args:
            equity_usd: current account equity in USD.
            daily_pnl_usd: today's P&L in USD (negative = loss).
            peak_equity_usd: highest equity seen (drawdown = 1 - equity/peak, in percent).
            now: tz-aware time (default: now, UTC); a new UTC date re-arms the daily-loss alarm.
        """
        settings = self.settings
        found: list[Event] = []
        today = (now or utc_now()).date()
        if self._loss_day != today:
            self._loss_day = today
            self._armed.pop("daily_loss", None)
        if settings.daily_loss_usd is not None and daily_pnl_usd is not None:
            loss = -daily_pnl_usd
            if self._fire("daily_loss", loss >= settings.daily_loss_usd):
                found.append(
                    events.threshold(
                        metric="Daily loss",
                        value=f"{_money(loss)} USD",
                        limit=f"{_money(settings.daily_loss_usd)} USD",
                    )
                )
        if settings.drawdown_pct is not None and equity_usd is not None and peak_equity_usd:
            drawdown = (1 - equity_usd / peak_equity_usd) * 100
            if self._fire("drawdown", drawdown >= settings.drawdown_pct):
                found.append(
                    events.threshold(
                        metric="Drawdown",
                        value=f"{drawdown.quantize(Decimal('0.01'))} %",
                        limit=f"{format_decimal(settings.drawdown_pct)} %",
                    )
                )
        if (
            settings.equity_below_usd is not None
            and equity_usd is not None
            and self._fire("equity_floor", equity_usd < settings.equity_below_usd)
        ):
            found.append(
                events.threshold(
                    metric="Equity",
                    value=f"{_money(equity_usd)} USD",
                    limit=f"{_money(settings.equity_below_usd)} USD (floor)",
                )
            )
        return found

    def check_silence(self, *, last_signal_at: datetime | None, now: datetime | None = None) -> list[Event]:
        """A ``webhook_silent`` event when no alert arrived for ``silent_minutes`` (once per silence).

        ``last_signal_at`` is the time of the last accepted or rejected alert (None = none since start;
        then nothing fires, since a fresh bot has no baseline).
        """
        minutes = self.settings.silent_minutes
        if not minutes or last_signal_at is None:
            return []
        idle = ((now or utc_now()) - last_signal_at).total_seconds() / 60
        if self._fire("silent", idle >= minutes):
            return [events.webhook_silent(minutes=minutes, last_signal_at=last_signal_at)]
        return []


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"
