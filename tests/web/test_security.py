"""Who gets in: IP allowlist behind proxies, rate limit, API token, kill switch endpoints, secret leaks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from support.helpers import SECRET, TOKEN, make_settings, set_config, tab_rows

from bot.errors import ConfigError
from bot.services import Services, build_services
from bot.web import create_app
from bot.web.security import client_address, parse_networks

ROWS = [{"symbol": "AAPL", "position_size": "1", "active": "TRUE", "Time Frame": "1h", "size_type": "qty"}]
TV = "52.89.214.238"


def alert(**extra: Any) -> str:
    return json.dumps({"secret": SECRET, "action": "buy", "symbol": "AAPL", "timeframe": "60", "price": 10, **extra})


def app_with(tmp_path: Path, **settings: Any) -> tuple[Any, Services]:
    services = build_services(make_settings(tmp_path, **settings))
    set_config(services, ROWS)
    return create_app(services=services).test_client(), services


def test_allowlist_preset_and_trusted_proxy(tmp_path: Path) -> None:
    client, services = app_with(tmp_path, webhook_ip_allowlist="tradingview", trusted_proxies="127.0.0.1")
    try:
        direct = client.post("/webhook", data=alert(id="1"), environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert direct.status_code == 403 and direct.get_json() == {"error": "address not allowed"}
        ok = client.post("/webhook", data=alert(id="2"), environ_base={"REMOTE_ADDR": TV})
        assert ok.status_code == 200
        # behind the proxy: the right-most untrusted hop is the client
        proxied = client.post("/webhook", data=alert(id="3"), environ_base={"REMOTE_ADDR": "127.0.0.1"},
                              headers={"X-Forwarded-For": f"198.51.100.7, {TV}"})
        assert proxied.status_code == 200
        spoofed = client.post("/webhook", data=alert(id="4"), environ_base={"REMOTE_ADDR": "127.0.0.1"},
                              headers={"X-Forwarded-For": f"{TV}, 198.51.100.7"})
        assert spoofed.status_code == 403
        # a header from an untrusted peer is ignored
        untrusted = client.post("/webhook", data=alert(id="5"), environ_base={"REMOTE_ADDR": "198.51.100.7"},
                                headers={"X-Forwarded-For": TV})
        assert untrusted.status_code == 403
        assert client.get("/health", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    finally:
        services.close()


def test_client_address_rules() -> None:
    proxies = parse_networks("10.0.0.0/8, 127.0.0.1", setting="TRUSTED_PROXIES")
    assert client_address("10.1.2.3", "1.1.1.1, 2.2.2.2, 10.0.0.5", proxies) == "2.2.2.2"
    assert client_address("10.1.2.3", "10.0.0.9", proxies) == "10.1.2.3"
    assert client_address("8.8.8.8", "1.1.1.1", proxies) == "8.8.8.8"
    with pytest.raises(ConfigError, match="WEBHOOK_IP_ALLOWLIST: 'nonsense'"):
        parse_networks("1.2.3.4, nonsense", setting="WEBHOOK_IP_ALLOWLIST")


def test_rate_limit_per_source(tmp_path: Path) -> None:
    client, services = app_with(tmp_path, webhook_rate_limit="5/minute")
    try:
        codes = [client.post("/webhook", data=alert(id=f"r{i}"), environ_base={"REMOTE_ADDR": "198.51.100.1"}
                             ).status_code for i in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        limited = client.post("/webhook", data=alert(id="r9"), environ_base={"REMOTE_ADDR": "198.51.100.1"})
        assert limited.get_json() == {"error": "too many requests"}
        other = client.post("/webhook", data=alert(id="r10"), environ_base={"REMOTE_ADDR": "198.51.100.2"})
        assert other.status_code == 200
    finally:
        services.close()


def test_pause_and_resume_survive_a_restart(tmp_path: Path) -> None:
    client, services = app_with(tmp_path)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/pause").status_code == 401
    assert client.post("/pause", headers=auth).get_json() == {"paused": True}
    reply = client.post("/webhook", data=alert(id="p1")).get_json()
    assert (reply["status"], reply["order_status"]) == ("skipped", "BLOCKED") and "paused" in reply["reason"]
    assert client.get("/health").get_json()["trading_enabled"] is False
    services.close()
    client, services = app_with(tmp_path)
    try:
        assert client.post("/webhook", data=alert(id="p2")).get_json()["order_status"] == "BLOCKED"
        client.post("/resume", headers=auth)
        assert client.post("/webhook", data=alert(id="p3")).get_json()["order_status"] == "FILLED"
    finally:
        services.close()


def test_no_secret_leaks_anywhere_after_a_full_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secrets = {"alpaca_api_key": "test-alpaca-key-1234567", "alpaca_api_secret": "alpaca-secret-9876543210",
               "binance_api_key": "binance-key-abcdef123456", "binance_api_secret": "binance-secret-654321fedcba",
               "twilio_auth_token": "twilio-token-0011223344", "slack_bot_token": "test-slack-token-55667788",
               "smtp_password": "smtp-password-99887766"}
    caplog.set_level(logging.DEBUG)
    client, services = app_with(tmp_path, **secrets)
    replies: list[str] = []
    try:
        set_config(services, [*ROWS, {"symbol": "MSFT", "position_size": "1", "active": "TRUE", "Time Frame": "1h",
                                      "broker": "alpaca"}])
        bodies = [alert(id="s1"), alert(id="s1"), alert(action="sell", id="s2"),
                  json.dumps({"secret": SECRET + "x", "action": "buy"}),  # wrong secret that contains the secret
                  alert(symbol="MSFT", id="s3"), "{" + SECRET]
        for body in bodies:
            reply = client.post("/webhook", data=body)
            replies.append(reply.get_data(as_text=True))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/health", "/config", "/positions", "/performance"):
            replies.append(client.get(path, headers=auth).get_data(as_text=True))
        services.writer.flush()
        workbook = json.dumps({tab: tab_rows(services, tab) for tab in ("Config", "Signals", "Orders", "Settings")})
    finally:
        services.close()
    state = (tmp_path / "data" / "state.db").read_bytes()
    texts = {"replies": "\n".join(replies), "workbook": workbook, "logs": caplog.text}
    for value in [SECRET, TOKEN, *secrets.values()]:
        for where, text in texts.items():
            assert value not in text, f"{value[:6]}… leaked into {where}"
        assert value.encode() not in state, f"{value[:6]}… leaked into the state DB"
