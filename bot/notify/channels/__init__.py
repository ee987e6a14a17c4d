"""Delivery channels, one module per service: the shared :class:`~bot.notify.channels.base.Channel`
interface, ``Message``, tenacity retries and redaction in ``base``; Twilio SMS in ``sms`` (the only
importer of ``twilio``); Slack bot token and incoming webhook in ``slack`` (the only importer of
``slack_sdk``); SMTP e-mail in ``smtp``; and the enabled channels built from Settings
(``build_channels``, ``channel_problems``) in ``build``.
"""
