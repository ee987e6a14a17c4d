"""What every channel shares (:mod:`bot.notify.channels.base`): the redactor."""

from __future__ import annotations

from bot.notify.channels.base import Redactor


def test_redactor_covers_webhook_url_path() -> None:
    url = "https://hooks.slack.com/services/T000/B000/abcdefghijkl"
    redact = Redactor([url, "ab", ""])
    assert redact(f"posted to {url}") == "posted to ***"
    assert redact("path services/T000/B000/abcdefghijkl leaked") == "path *** leaked"
    assert redact("ab stays") == "ab stays"  # too short to redact safely
