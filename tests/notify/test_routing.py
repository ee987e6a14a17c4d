"""Notification routing (:mod:`bot.notify.routing`): Settings-tab keys, routes, thresholds and the threshold monitor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from support.notify_helpers import ALL, RecordingChannel

from bot.notify.events import EventKind
from bot.notify.notifier import Notifier
from bot.notify.routing import NOTIFY_SETTING_KEYS, ThresholdMonitor, parse_channels, parse_notify_settings

# --------------------------------------------------------------------------------------------
# Settings-tab keys and routing
# --------------------------------------------------------------------------------------------


def test_setting_keys_cover_every_event_kind_and_threshold() -> None:
    for kind in EventKind:
        assert f"notify_{kind.value}" in NOTIFY_SETTING_KEYS
    for key in ("alert_daily_loss_usd", "alert_drawdown_pct", "alert_equity_below_usd",
                "alert_silent_minutes", "notify_group_minutes"):  # fmt: skip
        assert key in NOTIFY_SETTING_KEYS
    assert "Default slack" in NOTIFY_SETTING_KEYS["notify_order_filled"]
    assert "Default 10" in NOTIFY_SETTING_KEYS["notify_group_minutes"]


def test_parse_notify_settings_defaults() -> None:
    parsed, problems = parse_notify_settings([])
    assert problems == []
    assert parsed.channels_for(EventKind.ORDER_FILLED) == {"slack"}
    assert parsed.channels_for(EventKind.ORDER_FAILED) == ALL
    assert parsed.channels_for(EventKind.POSITION_DRIFT) == ALL
    assert parsed.channels_for(EventKind.WORKBOOK_DEGRADED) == ALL
    assert parsed.channels_for(EventKind.DAILY_SUMMARY) == {"email"}
    assert parsed.channels_for(EventKind.TEST) == ALL
    assert parsed.group_minutes == 10
    assert parsed.daily_loss_usd is None and parsed.silent_minutes is None


def test_parse_notify_settings_reads_routes_and_thresholds() -> None:
    records = [
        {"key": "notify_order_filled", "value": "Slack, e-mail"},
        {"key": "notify_order_failed", "value": "sms,slack"},
        {"key": "notify_daily_summary", "value": "email"},
        {"key": "notify_alert_rejected", "value": "none"},
        {"key": "notify_blocked", "value": ""},  # blank = default
        {"key": "alert_daily_loss_usd", "value": "$1,500"},
        {"key": "alert_drawdown_pct", "value": "12.5%"},
        {"key": "alert_equity_below_usd", "value": "0"},  # 0 = off
        {"key": "alert_silent_minutes", "value": "90"},
        {"key": "notify_group_minutes", "value": "5"},
        {"key": "trading_enabled", "value": "FALSE"},  # not ours: ignored, no problem
    ]
    parsed, problems = parse_notify_settings(records)
    assert problems == []
    assert parsed.channels_for(EventKind.ORDER_FILLED) == {"slack", "email"}
    assert parsed.channels_for(EventKind.ORDER_FAILED) == {"sms", "slack"}
    assert parsed.channels_for(EventKind.ALERT_REJECTED) == frozenset()
    assert parsed.channels_for(EventKind.BLOCKED) == ALL
    assert parsed.daily_loss_usd == Decimal("1500")
    assert parsed.drawdown_pct == Decimal("12.5")
    assert parsed.equity_below_usd is None
    assert parsed.silent_minutes == 90
    assert parsed.group_seconds == 300


def test_parse_notify_settings_names_bad_values_and_keeps_defaults() -> None:
    parsed, problems = parse_notify_settings(
        [
            {"key": "notify_order_filled", "value": "slak"},
            {"key": "alert_daily_loss_usd", "value": "lots"},
            {"key": "notify_group_minutes", "value": "-3"},
        ]
    )
    assert parsed.channels_for(EventKind.ORDER_FILLED) == {"slack"}
    assert parsed.daily_loss_usd is None
    assert parsed.group_minutes == 10
    assert len(problems) == 3
    assert problems[0].startswith("key 'notify_order_filled':") and "'slak'" in problems[0]
    assert problems[1].startswith("key 'alert_daily_loss_usd':") and "'lots'" in problems[1]
    assert problems[2].startswith("key 'notify_group_minutes':")


def test_parse_channels_aliases() -> None:
    assert parse_channels("all") == ALL
    assert parse_channels("text + mail") == {"sms", "email"}
    assert parse_channels("off") == frozenset()
    with pytest.raises(ValueError, match="'pager'"):
        parse_channels("sms, pager")


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


def test_threshold_monitor_fires_once_per_breach() -> None:
    settings, _ = parse_notify_settings(
        [
            {"key": "alert_daily_loss_usd", "value": "500"},
            {"key": "alert_drawdown_pct", "value": "10"},
            {"key": "alert_equity_below_usd", "value": "90000"},
            {"key": "alert_silent_minutes", "value": "60"},
        ]
    )
    monitor = ThresholdMonitor(settings)
    day = dt.datetime(2024, 5, 1, 15, tzinfo=dt.timezone.utc)
    assert monitor.check(equity_usd=Decimal("99000"), daily_pnl_usd=Decimal("-100"),
                         peak_equity_usd=Decimal("100000"), now=day) == []  # fmt: skip
    fired = monitor.check(equity_usd=Decimal("89000"), daily_pnl_usd=Decimal("-612.4"),
                          peak_equity_usd=Decimal("100000"), now=day)  # fmt: skip
    assert [e.kind for e in fired] == [EventKind.THRESHOLD] * 3
    assert fired[0].text == "Daily loss 612.40 USD crossed the alert level 500.00 USD. Trading continues (alert only)."
    assert fired[1].text.startswith("Drawdown 11.00 % crossed the alert level 10 %")
    assert fired[2].text.startswith("Equity 89,000.00 USD crossed the alert level 90,000.00 USD (floor)")
    channel = RecordingChannel("sms")
    with Notifier([channel]) as notifier:  # different limits are never grouped together
        for event in fired:
            notifier.publish(event)
    assert [m.text for m in channel.messages] == [e.text for e in fired]
    # Still breached: no repeat. Recovered then breached again: fires again.
    assert monitor.check(equity_usd=Decimal("88000"), daily_pnl_usd=Decimal("-700"),
                         peak_equity_usd=Decimal("100000"), now=day) == []  # fmt: skip
    monitor.check(equity_usd=Decimal("95000"), peak_equity_usd=Decimal("100000"), now=day)
    again = monitor.check(equity_usd=Decimal("89500"), peak_equity_usd=Decimal("100000"), now=day)
    assert [e.text.split()[0] for e in again] == ["Drawdown", "Equity"]
    # A new day re-arms the daily loss alarm.
    next_day = day + dt.timedelta(days=1)
    assert len(monitor.check(daily_pnl_usd=Decimal("-600"), now=next_day)) == 1

    last = day - dt.timedelta(minutes=30)
    assert monitor.check_silence(last_signal_at=last, now=day) == []
    (silent,) = monitor.check_silence(last_signal_at=last, now=day + dt.timedelta(minutes=31))
    assert silent.kind is EventKind.WEBHOOK_SILENT and "60 min" in silent.text
    assert monitor.check_silence(last_signal_at=last, now=day + dt.timedelta(minutes=90)) == []
    assert monitor.check_silence(last_signal_at=None, now=day) == []
