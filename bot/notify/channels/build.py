"""Channels from :class:`~bot.settings.Settings`: :func:`build_channels` and :func:`channel_problems`.

A channel is enabled when its settings are complete; a partially configured channel is left off
and reported (never with secret values). Building a channel makes no network call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.notify.channels.base import Channel, Redactor, RetryPolicy
from bot.notify.channels.slack import SlackChannel, SlackWebhookChannel
from bot.notify.channels.sms import SmsChannel, mask_number
from bot.notify.channels.smtp import EmailChannel
from bot.settings import Settings

log = logging.getLogger(__name__)


def _split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]


@dataclass
class _ChannelPlan:
    problems: list[str] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)

    def missing(self, group: str, names: dict[str, object]) -> list[str]:
        """The empty settings among ``names``; a problem is noted when only some of them are empty."""
        empty = [name for name, value in names.items() if not value]
        if empty and len(empty) < len(names):
            self.problems.append(f"{group} is partly configured: set {', '.join(empty)} (channel off)")
        return empty


def _plan_sms(
    plan: _ChannelPlan, settings: Settings, retry: RetryPolicy | None, redact: Redactor, *, build: bool
) -> None:
    token = settings.twilio_auth_token.get_secret_value()
    recipients = _split_list(settings.alert_sms_to)
    sms = {
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_FROM": settings.twilio_from,
        "ALERT_SMS_TO": recipients,
    }
    if not plan.missing("SMS (Twilio)", sms):
        bad = [mask_number(n) for n in recipients if not (n.startswith("+") and n[1:].isdigit())]
        if bad:
            plan.problems.append(f"ALERT_SMS_TO: {', '.join(bad)} not in E.164 form (+15551234567)")
        elif build:
            plan.channels.append(
                SmsChannel(
                    account_sid=settings.twilio_account_sid,
                    auth_token=token,
                    from_number=settings.twilio_from,
                    to_numbers=recipients,
                    base_url=settings.twilio_base_url,
                    retry=retry,
                    redact=redact,
                )
            )


def _plan_slack(
    plan: _ChannelPlan, settings: Settings, retry: RetryPolicy | None, redact: Redactor, *, build: bool
) -> None:
    bot_token = settings.slack_bot_token.get_secret_value()
    webhook = settings.slack_webhook_url.get_secret_value()
    if bot_token or settings.slack_channel:
        slack = {"SLACK_BOT_TOKEN": bot_token, "SLACK_CHANNEL": settings.slack_channel}
        if not plan.missing("Slack", slack) and build:
            plan.channels.append(
                SlackChannel(
                    token=bot_token,
                    channel=settings.slack_channel,
                    base_url=settings.slack_base_url,
                    retry=retry,
                    redact=redact,
                )
            )
        if webhook:
            plan.problems.append("SLACK_WEBHOOK_URL is ignored while SLACK_BOT_TOKEN/SLACK_CHANNEL are set")
    elif webhook:
        if not webhook.startswith(("https://", "http://")):
            plan.problems.append("SLACK_WEBHOOK_URL does not start with https:// (channel off)")
        elif build:
            plan.channels.append(SlackWebhookChannel(url=webhook, retry=retry, redact=redact))


def _plan_email(
    plan: _ChannelPlan, settings: Settings, retry: RetryPolicy | None, redact: Redactor, *, build: bool
) -> None:
    email = {
        "SMTP_HOST": settings.smtp_host,
        "SMTP_TO": _split_list(settings.smtp_to),
        "SMTP_FROM or SMTP_USER": settings.smtp_from or settings.smtp_user,
    }
    if not plan.missing("E-mail (SMTP)", email) and build:
        plan.channels.append(
            EmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                to_addrs=_split_list(settings.smtp_to),
                from_addr=settings.smtp_from,
                security=settings.smtp_security,
                user=settings.smtp_user,
                password=settings.smtp_password.get_secret_value(),
                retry=retry,
                redact=redact,
            )
        )
    if settings.smtp_password.get_secret_value() and not settings.smtp_user:
        plan.problems.append("SMTP_PASSWORD is set but SMTP_USER is empty (no login is attempted)")


def _plan(settings: Settings, retry: RetryPolicy | None, redact: Redactor, *, build: bool) -> _ChannelPlan:
    """Problems and (when ``build``) channels of every kind, in the order sms, slack, email."""
    plan = _ChannelPlan()
    _plan_sms(plan, settings, retry, redact, build=build)
    _plan_slack(plan, settings, retry, redact, build=build)
    _plan_email(plan, settings, retry, redact, build=build)
    return plan


def channel_problems(settings: Settings) -> list[str]:
    """Human-readable problems with the channel settings (partly configured channels, bad numbers).

    An empty list means every channel is either fully configured or fully off. Never contains
    secret values. For ``python -m bot doctor``.
    """
    return _plan(settings, None, Redactor(), build=False).problems


def build_channels(settings: Settings, *, retry: RetryPolicy | None = None) -> list[Channel]:
    """Channels enabled by ``settings`` (complete settings only), in the order sms, slack, email.

    Partly configured channels are left off and logged as warnings (see :func:`channel_problems`).
    No network access happens here. Returns an empty list when nothing is configured.
    """
    redact = Redactor(settings.secret_values())
    plan = _plan(settings, retry, redact, build=True)
    for problem in plan.problems:
        log.warning("notifications: %s", problem)
    return plan.channels
