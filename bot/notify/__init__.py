"""Notifications: events → routed channels (Twilio SMS, Slack, e-mail), never in the way of trading.
:mod:`bot.notify.events` holds :class:`~bot.notify.events.EventKind`, ``Event`` and the constructors
with uniform wording; :mod:`bot.notify.routing` the Settings-tab keys (``NOTIFY_SETTING_KEYS``), routes
and thresholds; :mod:`bot.notify.channels` the SDK adapters, one module per service (the only importers
of twilio/slack_sdk/smtplib); :mod:`bot.notify.notifier` the queue and worker threads, grouping,
redaction, ``build_notifier`` and ``send_test``.
"""
