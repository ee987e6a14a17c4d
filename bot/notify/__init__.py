"""Notifications: events → routed channels (Twilio SMS, Slack, e-mail), never in the way of trading.

Typical use::

    from bot.notify import build_notifier, events

    notifier = build_notifier(settings, route_records=settings_tab_records)
    notifier.publish(events.order_failed(symbol="AAPL", timeframe="15m", side="buy", qty="10",
                                         reason="insufficient buying power"))
    ...
    notifier.close(timeout=10)

- :mod:`bot.notify.events`: :class:`EventKind`, :class:`Event` and constructors with uniform wording.
- :mod:`bot.notify.routing`: Settings-tab keys (:data:`NOTIFY_SETTING_KEYS`), routes, thresholds.
- :mod:`bot.notify.channels`: the SDK adapters (the only importers of twilio/slack_sdk/smtplib).
- :mod:`bot.notify.notifier`: queue + worker threads, grouping, redaction, :func:`send_test`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.notify import events
    from bot.notify.channels import (
        Channel,
        EmailChannel,
        Message,
        RateLimited,
        Redactor,
        RetryPolicy,
        SlackChannel,
        SlackWebhookChannel,
        SmsChannel,
        build_channels,
        channel_problems,
    )
    from bot.notify.events import CRITICAL_KINDS, Event, EventKind
    from bot.notify.notifier import ChannelStats, Notifier, build_notifier, render, send_test
    from bot.notify.routing import (
        CHANNEL_NAMES,
        DEFAULT_ROUTES,
        NOTIFY_SETTING_KEYS,
        NotifySettings,
        ThresholdMonitor,
        parse_channels,
        parse_notify_settings,
    )

# Names are imported on first use (PEP 562), so ``bot.notify.routing`` (Settings-tab keys) does
# not pull in the vendor SDKs that ``bot.notify.channels`` imports.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "bot.notify.events": ("CRITICAL_KINDS", "Event", "EventKind"),
    "bot.notify.channels": (
        "Channel",
        "EmailChannel",
        "Message",
        "RateLimited",
        "Redactor",
        "RetryPolicy",
        "SlackChannel",
        "SlackWebhookChannel",
        "SmsChannel",
        "build_channels",
        "channel_problems",
    ),
    "bot.notify.notifier": ("ChannelStats", "Notifier", "build_notifier", "render", "send_test"),
    "bot.notify.routing": (
        "CHANNEL_NAMES",
        "DEFAULT_ROUTES",
        "NOTIFY_SETTING_KEYS",
        "NotifySettings",
        "ThresholdMonitor",
        "parse_channels",
        "parse_notify_settings",
    ),
}
_HOME = {"events": "bot.notify.events", **{n: m for m, names in _EXPORTS.items() for n in names}}


def __getattr__(name: str) -> Any:
    module_name = _HOME.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bot.notify' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if name == "events" else getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "CHANNEL_NAMES",
    "CRITICAL_KINDS",
    "DEFAULT_ROUTES",
    "NOTIFY_SETTING_KEYS",
    "Channel",
    "ChannelStats",
    "EmailChannel",
    "Event",
    "EventKind",
    "Message",
    "Notifier",
    "NotifySettings",
    "RateLimited",
    "Redactor",
    "RetryPolicy",
    "SlackChannel",
    "SlackWebhookChannel",
    "SmsChannel",
    "ThresholdMonitor",
    "build_channels",
    "build_notifier",
    "channel_problems",
    "events",
    "parse_channels",
    "parse_notify_settings",
    "render",
    "send_test",
]
