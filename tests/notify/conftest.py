"""Notification fixtures: the Twilio and Slack fakes and an SMTP inbox on 127.0.0.1 (one each per test module,
reset for every test), and ``settings`` pointing every channel at them (overrides the suite-wide ``settings``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from fakes.slack_fake import SlackFake  # tests/ is on sys.path (as for support.helpers in conftest)
from fakes.twilio_fake import TwilioFake
from support.channels import Inbox, channel_values, smtp_inbox
from support.notify_helpers import API_TOKEN, WEBHOOK_SECRET, make_settings

from bot.settings import Settings


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackFake]:
    with SlackFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    with smtp_inbox() as server:
        yield server


@pytest.fixture
def twilio(twilio_server: TwilioFake) -> TwilioFake:
    twilio_server.reset()
    return twilio_server


@pytest.fixture
def slack(slack_server: SlackFake) -> SlackFake:
    slack_server.reset()
    return slack_server


@pytest.fixture
def smtp(smtp_server: tuple[Controller, Inbox]) -> tuple[Controller, Inbox]:
    smtp_server[1].reset()
    return smtp_server


@pytest.fixture
def settings(twilio: TwilioFake, slack: SlackFake, smtp: tuple[Controller, Inbox]) -> Settings:
    controller, _ = smtp
    return make_settings(
        **channel_values(twilio, slack, controller.port), webhook_secret=WEBHOOK_SECRET, bot_api_token=API_TOKEN
    )
