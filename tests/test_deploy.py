"""deploy/: gunicorn config (really served), systemd units, Dockerfile, compose, Caddyfile, ufw script, env example.

Where the machine has the real tool (systemd-analyze, docker compose, caddy, shellcheck) it is run
as well; the files are always parsed and checked here too, so no test is skipped either way.
No Docker engine runs here: the image build is documented in deploy/README.md, not tested.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.settings import TRADINGVIEW_IPS, Settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
SECRET = "deploy-test-secret-0123456789"
TOKEN = "deploy-test-token-0123456789"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with OPENER.open(req, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any bot setting (so nothing of the developer's leaks in)."""
    names = {name.upper() for name in Settings.model_fields} | {"BOT_HOST", "BOT_PORT", "BOT_THREADS"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(extra)
    return env


# -- gunicorn ---------------------------------------------------------------------------------


def _gunicorn_namespace(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("BOT_HOST", "BOT_PORT", "BOT_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_gunicorn_config_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from gunicorn.config import Config

    ns = _gunicorn_namespace(monkeypatch)
    assert ns["bind"] == ["127.0.0.1:8080"]
    assert ns["workers"] == 1 and ns["worker_class"] == "gthread" and ns["threads"] >= 2
    assert ns["keepalive"] >= 5 and ns["preload_app"] is False and ns["max_requests"] == 0
    assert ns["wsgi_app"] == "bot.web.wsgi:app"
    # every setting name is one gunicorn knows (a typo would be ignored silently by gunicorn)
    cfg = Config()
    unknown = [
        name
        for name, value in ns.items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "Any"
        if name not in cfg.settings
    ]
    assert unknown == []
    for name, value in ns.items():
        if name in cfg.settings:
            cfg.set(name, value)  # gunicorn's own validation
    assert cfg.workers == 1 and cfg.threads == ns["threads"]
    text = (DEPLOY / "gunicorn.conf.py").read_text()
    assert "background jobs" in text and "per worker" in text  # the why is explained

    ns = _gunicorn_namespace(monkeypatch, BOT_HOST="0.0.0.0", BOT_PORT="9000", BOT_THREADS="3")
    assert ns["bind"] == ["0.0.0.0:9000"] and ns["threads"] == 3


def test_gunicorn_refuses_several_workers_and_weak_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("WEBHOOK_SECRET", "BOT_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    on_starting = _gunicorn_namespace(monkeypatch)["on_starting"]

    def server(workers: int = 1, bind: str = "127.0.0.1:8080", preload: bool = False) -> Any:
        return types.SimpleNamespace(cfg=types.SimpleNamespace(workers=workers, bind=[bind], preload_app=preload))

    on_starting(server())
    with pytest.raises(SystemExit, match="workers must be 1"):
        on_starting(server(workers=2))
    with pytest.raises(SystemExit, match="preload_app"):
        on_starting(server(preload=True))
    with pytest.raises(SystemExit, match="WEBHOOK_SECRET and BOT_API_TOKEN"):
        on_starting(server(bind="0.0.0.0:8080"))
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("BOT_API_TOKEN", TOKEN)
    on_starting(server(bind="0.0.0.0:8080"))


def _start_gunicorn(tmp_path: Path, port: int, name: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    env = _clean_env(
        BOT_DATA_DIR=str(tmp_path / "data"),
        BOT_HOST="127.0.0.1",
        BOT_PORT=str(port),
        BOT_THREADS="4",
        WEBHOOK_SECRET=SECRET,
        BOT_API_TOKEN=TOKEN,
        PYTHONPATH=str(REPO),
    )
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")],
            cwd=tmp_path,  # no stray .env from the repository
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    return process, out, err


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            return None
    return process.returncode


@pytest.mark.slow
def test_gunicorn_config_serves_the_app_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    server, out, err = _start_gunicorn(tmp_path, port, "first")
    second = None
    try:
        deadline = time.monotonic() + 45
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, body = _request(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, f"no /health: rc={server.poll()} {err.read_text()[-2000:]}"
        health = json.loads(body)
        assert health["status"] == "ok" and health["mode"] == "paper"

        alert = {
            "secret": SECRET,
            "action": "buy",
            "symbol": "NASDAQ:AAPL",
            "timeframe": "D",
            "price": 190,
            "id": "g-1",
        }
        status, body = _request(f"http://127.0.0.1:{port}/webhook", json.dumps(alert).encode())
        assert status == 200 and json.loads(body)["status"] == "success"
        status, body = _request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and 'bot_alerts_total{outcome="success"} 1.0' in body.decode()

        # a second server on the same data dir refuses to start (jobs would run twice)
        second, second_out, second_err = _start_gunicorn(tmp_path, _free_port(), "second")
        assert second.wait(timeout=45) != 0
        assert "another bot server is running" in second_out.read_text() + second_err.read_text()
    finally:
        if second is not None:
            _stop(second)
        code = _stop(server)
    assert code == 0, err.read_text()[-2000:]

    log_file = tmp_path / "data" / "logs" / "bot.log"
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    alerts = [line for line in lines if line.get("event") == "alert"]
    assert [(a["alert_id"], a["result"], a["http_status"]) for a in alerts] == [("g-1", "success", 200)]
    assert sum(1 for line in lines if line["message"].startswith("bot started")) == 1
    for text in (log_file.read_text(), out.read_text(), err.read_text()):
        assert SECRET not in text and TOKEN not in text


# -- systemd ----------------------------------------------------------------------------------

#: Directives these units may use (a misspelt one is only a warning for systemd, so check here).
KNOWN_DIRECTIVES = {
    "Unit": {"Description", "Documentation", "After", "Wants", "Requires", "StartLimitIntervalSec", "StartLimitBurst"},
    "Service": {
        "Type", "User", "Group", "WorkingDirectory", "Environment", "EnvironmentFile", "ExecStart", "ExecReload",
        "KillMode", "TimeoutStopSec", "Restart", "RestartSec", "StateDirectory", "StateDirectoryMode", "UMask",
        "NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectSystem", "ProtectHome", "ProtectKernelTunables",
        "ProtectKernelModules", "ProtectControlGroups", "ProtectClock", "RestrictAddressFamilies",
        "RestrictNamespaces", "RestrictSUIDSGID", "LockPersonality", "CapabilityBoundingSet", "ReadWritePaths",
    },
    "Install": {"WantedBy"},
}  # fmt: skip


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """systemd unit syntax: ``[Section]``, ``Key=value`` (repeatable), ``#``/``;`` comments, ``\\`` continuations."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None and "=" in line, f"not a unit line: {line!r}"
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def _values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def _one(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    values = _values(unit, section, key)
    assert len(values) == 1, f"{section}.{key}: {values}"
    return values[0]


@pytest.mark.parametrize("name", ["bot.service", "dashboard.service"])
def test_systemd_unit_settings(name: str) -> None:
    unit = parse_unit((DEPLOY / name).read_text())
    assert set(unit) == {"Unit", "Service", "Install"}
    for section, entries in unit.items():
        unknown = {k for k, _ in entries} - KNOWN_DIRECTIVES[section]
        assert not unknown, f"{name} [{section}]: unknown {unknown}"
    assert _one(unit, "Service", "Restart") == "on-failure"
    assert float(_one(unit, "Service", "RestartSec")) > 0
    assert _one(unit, "Service", "EnvironmentFile") == "/etc/sheetbot/bot.env"  # no "-": a missing file is an error
    user = _one(unit, "Service", "User")
    assert user not in ("root", "0", "") and _one(unit, "Service", "Group") not in ("root", "0", "")
    assert _one(unit, "Service", "NoNewPrivileges") == "yes"
    assert _one(unit, "Service", "ProtectSystem") == "strict"
    assert _one(unit, "Service", "StateDirectory") == "sheetbot"
    assert "BOT_DATA_DIR=/var/lib/sheetbot" in " ".join(_values(unit, "Service", "Environment"))
    assert "network-online.target" in _one(unit, "Unit", "After")
    assert _one(unit, "Install", "WantedBy") == "multi-user.target"
    workdir = _one(unit, "Service", "WorkingDirectory")
    command = _one(unit, "Service", "ExecStart").split()
    assert command[0].startswith(f"{workdir}/.venv/bin/")
    if name == "bot.service":
        assert command[1:] == ["-c", "deploy/gunicorn.conf.py"] and command[0].endswith("/gunicorn")
    else:
        assert command[1:5] == ["-m", "streamlit", "run", "streamlit_app.py"]
        assert command[command.index("--server.address") + 1] == "127.0.0.1"
        assert command[command.index("--server.headless") + 1] == "true"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("gunicorn", "python"):
        (stubs / tool).write_text("#!/bin/sh\nexit 0\n")
        (stubs / tool).chmod(0o755)
    for name in ("bot.service", "dashboard.service"):
        # verify needs ExecStart's program to exist: point it at a stub, keep everything else
        text = (DEPLOY / name).read_text().replace("/opt/sheetbot/.venv/bin/", f"{stubs}/")
        copy = tmp_path / f"sheetbot-{name}"
        copy.write_text(text)
        if analyze is not None:
            result = subprocess.run(
                [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60, check=False
            )
            ours = [line for line in (result.stdout + result.stderr).splitlines() if copy.name in line]
            assert result.returncode == 0 and ours == [], result.stdout + result.stderr
        else:  # no systemd tools: the parser above is the check
            assert parse_unit(text)["Service"]


# -- Dockerfile and compose -----------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile() -> None:
    steps = _dockerfile()
    keywords = [k for k, _ in steps]
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11")
    user = [v for k, v in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")  # nothing runs as root later
    assert keywords.index("COPY") < keywords.index("RUN", keywords.index("COPY"))  # requirements layer first
    assert any(k == "VOLUME" and "/data" in v for k, v in steps)
    env = " ".join(v for k, v in steps if k == "ENV")
    assert "BOT_DATA_DIR=/data" in env and "BOT_HOST=0.0.0.0" in env
    health = [v for k, v in steps if k == "HEALTHCHECK"]
    assert health and "/health" in health[0]
    cmd = json.loads([v for k, v in steps if k == "CMD"][-1])
    assert cmd == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    for path in (".git", ".venv", "data", ".env", "deploy/bot.env", "credentials.json"):
        assert path in ignored


def load_yaml_subset(text: str) -> Any:
    """Parse the YAML used in deploy/docker-compose.yml: block mappings and lists, flow lists, scalars.

    (PyYAML is not a dependency; this covers what the compose file uses and fails on anything else.)
    """
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        stripped = re.sub(r"(^|\s)#(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$).*$", "", raw).rstrip()
        if stripped.strip():
            lines.append((len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))

    def scalar(value: str) -> Any:
        if value.startswith(("[", "{", '"')):
            return json.loads(value)
        if value.startswith("'") and value.endswith("'"):
            return value[1:-1]
        if value in ("true", "false"):
            return value == "true"
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        return value

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- "):
            return sequence(i, indent)
        return mapping(i, indent)

    def mapping(i: int, indent: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
            match = re.fullmatch(r"([\w.-]+):(?:\s+(.*))?", lines[i][1])
            assert match, f"unsupported YAML line: {lines[i][1]!r}"
            key, rest = match.group(1), match.group(2)
            i += 1
            if rest:
                result[key] = scalar(rest)
            elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))):
                result[key], i = block(i, lines[i][0])
            else:
                result[key] = None
        assert i == len(lines) or lines[i][0] < indent, f"bad indentation at {lines[i][1]!r}"
        return result, i

    def sequence(i: int, indent: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            rest = lines[i][1][2:].strip()
            if re.match(r"[\w.-]+:(\s|$)", rest):  # a mapping item: continue at the item's indentation
                lines[i] = (indent + 2, rest)
                item, i = mapping(i, indent + 2)
                items.append(item)
            else:
                items.append(scalar(rest))
                i += 1
        return items, i

    value, end = block(0, lines[0][0])
    assert end == len(lines), f"unparsed YAML from {lines[end][1]!r}"
    return value


def test_yaml_subset_parser() -> None:
    text = 'a:\n  b: 1\n  c: "x:y"\n  d:\n    - e\n    - f: g\n      h: [1, "2"]\n  i: true  # note\nj: \'k\'\n'
    assert load_yaml_subset(text) == {
        "a": {"b": 1, "c": "x:y", "d": ["e", {"f": "g", "h": [1, "2"]}], "i": True},
        "j": "k",
    }
    with pytest.raises(AssertionError):
        load_yaml_subset("a:\n  - b\n c: d\n")
    try:
        import yaml  # optional: cross-check against a real YAML parser where one is installed
    except ImportError:
        yaml = None
    if yaml is not None:
        text = (DEPLOY / "docker-compose.yml").read_text()
        assert load_yaml_subset(text) == yaml.safe_load(text)


def _port_host(spec: str) -> str:
    parts = spec.split(":")
    return parts[0] if len(parts) == 3 else ""


def test_compose_file() -> None:
    compose = load_yaml_subset((DEPLOY / "docker-compose.yml").read_text())
    assert set(compose) <= {"name", "services", "volumes", "networks"}
    services = compose["services"]
    assert set(services) == {"bot", "dashboard"}
    assert "sheetbot-data" in compose["volumes"]
    for service in services.values():
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert "bot.env" in service["env_file"]
        assert "sheetbot-data:/data" in service["volumes"]
        assert service["environment"]["BOT_DATA_DIR"] == "/data"
        assert service["restart"] in ("unless-stopped", "always")
        assert service["ports"] and all(_port_host(p) == "127.0.0.1" for p in service["ports"])
        assert "privileged" not in service and "user" not in service  # the image's non-root user
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 1
        for key in ("interval", "timeout", "start_period"):
            assert re.fullmatch(r"\d+s", check[key])
    assert "/health" in " ".join(services["bot"]["healthcheck"]["test"])
    assert "/_stcore/health" in " ".join(services["dashboard"]["healthcheck"]["test"])
    assert services["bot"]["environment"]["BOT_HOST"] == "0.0.0.0"  # reachable through the published port
    assert services["dashboard"]["depends_on"] == {"bot": {"condition": "service_healthy"}}
    command = services["dashboard"]["command"]
    assert command[:5] == ["python", "-m", "streamlit", "run", "streamlit_app.py"]
    gateway = compose["networks"]["sheetbot"]["ipam"]["config"][0]["gateway"]
    assert services["bot"]["environment"]["TRUSTED_PROXIES"] == gateway


def test_docker_compose_config(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    has_compose = (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30, check=False).returncode == 0
    )
    (tmp_path / "deploy").mkdir()
    shutil.copy(DEPLOY / "docker-compose.yml", tmp_path / "deploy")
    shutil.copy(DEPLOY / "bot.env.example", tmp_path / "deploy" / "bot.env")
    if has_compose:
        assert docker is not None
        result = subprocess.run(
            [docker, "compose", "-f", str(tmp_path / "deploy" / "docker-compose.yml"), "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    else:  # no compose plugin here: service keys must be ones compose knows
        known = {
            "build", "image", "command", "env_file", "environment", "volumes", "ports", "networks", "restart",
            "stop_grace_period", "read_only", "tmpfs", "security_opt", "cap_drop", "healthcheck", "logging",
            "depends_on",
        }  # fmt: skip
        compose = load_yaml_subset((tmp_path / "deploy" / "docker-compose.yml").read_text())
        for service in compose["services"].values():
            assert set(service) <= known


# -- bot.env.example --------------------------------------------------------------------------


def _env_example() -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    mentioned: set[str] = set()
    for line in (DEPLOY / "bot.env.example").read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if not match:
            continue
        mentioned.add(match.group(2))
        if not match.group(1):
            assert match.group(2) not in values, f"{match.group(2)} twice"
            values[match.group(2)] = match.group(3)
    return values, mentioned


def test_env_example_names_real_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import load_settings

    values, mentioned = _env_example()
    fields = {name.upper() for name in Settings.model_fields}
    deploy_only = {"BOT_HOST", "BOT_PORT", "BOT_THREADS"}
    assert set(values) <= fields | deploy_only, set(values) - fields - deploy_only
    test_overrides = {f for f in fields if f.endswith(("_BASE_URL", "_DATA_URL", "_API_URL", "_FUTURES_URL"))}
    assert fields - test_overrides - mentioned == set(), "settings missing from bot.env.example"
    for name, value in values.items():
        if any(word in name for word in ("SECRET", "TOKEN", "PASSWORD", "KEY", "SID")):
            assert value == "", f"{name} must be blank in the example"
        assert not (value.startswith(("'", '"'))), f"{name}: no quotes (systemd and compose read them differently)"
    # the example loads as it is (blank non-text values would fail or, for paths, mean ".")
    monkeypatch.chdir(tmp_path)
    for name in fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.bot_data_dir == Path("data") and settings.bot_broker == "paper"
    assert settings.alpaca_paper and settings.binance_testnet


# -- Caddy ------------------------------------------------------------------------------------


def _caddy_blocks(text: str) -> list[tuple[list[str], str]]:
    """Every directive line with the headers of the blocks it is in (comments removed)."""
    out: list[tuple[list[str], str]] = []
    stack: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        if line == "}":
            stack.pop()
            continue
        if line.endswith("{"):
            header = line[:-1].strip()
            out.append((list(stack), header))
            stack.append(header)
            continue
        out.append((list(stack), line))
    assert not stack, "unbalanced braces"
    return out


def test_caddyfile_forwards_only_the_webhook() -> None:
    entries = _caddy_blocks((DEPLOY / "Caddyfile").read_text())
    sites = [line for parents, line in entries if not parents]
    assert sites == ["", "{$BOT_DOMAIN}"]  # global options, then one HTTPS site (port 443, automatic TLS)
    proxies = [(parents, line) for parents, line in entries if line.startswith("reverse_proxy")]
    assert len(proxies) == 1 and proxies[0][0] == ["{$BOT_DOMAIN}", "handle @webhook"]
    matcher = [line for parents, line in entries if parents == ["{$BOT_DOMAIN}", "@webhook"]]
    assert sorted(matcher) == ["method POST", "path /webhook"]
    fallback = [line for parents, line in entries if parents == ["{$BOT_DOMAIN}", "handle"]]
    assert len(fallback) == 1 and fallback[0].startswith("respond") and fallback[0].endswith("404")
    everything = " ".join(line for _, line in entries)
    for forbidden in ("auto_https off", "tls internal", "http://", ":80 "):
        assert forbidden not in everything


def _walk_routes(node: Any, matchers: list[Any], found: list[list[Any]]) -> None:
    if isinstance(node, dict):
        if node.get("handler") == "reverse_proxy":
            found.append(list(matchers))
        for route in node.get("routes", []):
            _walk_routes(route.get("handle", []), [*matchers, *route.get("match", [])], found)
        for key, value in node.items():
            if key != "routes":
                _walk_routes(value, matchers, found)
    elif isinstance(node, list):
        for item in node:
            _walk_routes(item, matchers, found)


class _Upstream(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if len(self.rfile.read(length)) == length:  # complete requests only (a cut-off body is not one)
            type(self).seen.append((self.command, self.path))
        body = b'{"upstream": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # http.server's method names

    def log_message(self, *args: Any) -> None:
        return

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the proxy cut an oversized request off
            return


@pytest.fixture
def upstream() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    _Upstream.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Upstream.seen
    server.shutdown()
    server.server_close()


def test_caddy_adapts_and_routes(tmp_path: Path, upstream: tuple[int, list[tuple[str, str]]]) -> None:
    caddy = shutil.which("caddy")
    text = (DEPLOY / "Caddyfile").read_text()
    if caddy is None:  # no caddy here: the structural checks above are the test
        assert "reverse_proxy {$BOT_UPSTREAM:127.0.0.1:8080}" in text
        return
    env = _clean_env(
        BOT_DOMAIN="bot.example.com", ACME_EMAIL="owner@example.com", HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )  # fmt: skip
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    config = json.loads(adapted.stdout)
    servers = config["apps"]["http"]["servers"]
    assert [s["listen"] for s in servers.values()] == [[":443"]]
    found: list[list[Any]] = []
    _walk_routes(config, [], found)
    assert len(found) == 1
    assert {"method": ["POST"], "path": ["/webhook"]} in found[0]

    # run it for real on loopback, over plain HTTP, in front of a recording upstream
    upstream_port, seen = upstream
    port = _free_port()
    local = (
        text.replace("{$BOT_DOMAIN}", f"http://127.0.0.1:{port}")
        .replace("email {$ACME_EMAIL}", "admin off\n\temail {$ACME_EMAIL}")
        .replace("/var/log/caddy/sheetbot-access.log", str(tmp_path / "access.log"))
    )
    local_file = tmp_path / "Caddyfile"
    local_file.write_text(local)
    env["BOT_UPSTREAM"] = f"127.0.0.1:{upstream_port}"
    process = subprocess.Popen(
        [caddy, "run", "--config", str(local_file), "--adapter", "caddyfile"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "caddy.err", "wb"),  # noqa: SIM115 - closed with the process
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        assert _request(f"{base}/webhook", b'{"action": "buy"}')[0] == 200
        assert _request(f"{base}/webhook")[0] == 404  # GET
        for path in ("/health", "/metrics", "/config", "/positions", "/performance", "/"):
            assert _request(f"{base}{path}")[0] == 404
            assert _request(f"{base}{path}", b"{}")[0] == 404
        # too large: refused by Caddy (413; Caddy 2.6 answers 502 as it aborts the upstream request)
        assert _request(f"{base}/webhook", b"x" * (70 * 1024))[0] in (413, 502)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert seen == [("POST", "/webhook")], (tmp_path / "caddy.err").read_text()[-2000:]


# -- ufw --------------------------------------------------------------------------------------


def _ufw(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = tmp_path / "ufw.log"
    log.unlink(missing_ok=True)
    recorder = tmp_path / "ufw"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\t" "$@" >> {log}\necho >> {log}\n')
    recorder.chmod(0o755)
    result = subprocess.run(
        ["bash", str(DEPLOY / "ufw.sh"), *args],
        env=_clean_env(UFW=str(recorder), **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    calls = [line.rstrip("\t").split("\t") for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def _allowed(calls: list[list[str]], port: str) -> set[str]:
    sources = set()
    for call in calls:
        if call[0] == "allow" and "port" in call and call[call.index("port") + 1] == port:
            sources.add(call[call.index("from") + 1] if "from" in call else "any")
    return sources


def test_ufw_script_allows_only_tradingview_and_owner(tmp_path: Path) -> None:
    owner = "203.0.113.7"
    result, calls = _ufw(tmp_path, OWNER_IP=owner)
    assert result.returncode == 0, result.stderr
    assert ["default", "deny", "incoming"] in calls
    assert ["--force", "enable"] in calls
    expected = {*TRADINGVIEW_IPS, owner}
    assert _allowed(calls, "443") == expected
    assert _allowed(calls, "80") == expected
    assert _allowed(calls, "22") == {owner}
    ssh_rule = next(i for i, c in enumerate(calls) if "22" in c)
    assert ssh_rule < calls.index(["default", "deny", "incoming"])  # never locked out mid-way
    assert set(TRADINGVIEW_IPS) == {"52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"}

    result, calls = _ufw(tmp_path, OWNER_IP=f"{owner}, 198.51.100.0/24", ACME_HTTP="open", SSH_PORT="2222")
    assert result.returncode == 0, result.stderr
    assert _allowed(calls, "443") == {*TRADINGVIEW_IPS, owner, "198.51.100.0/24"}
    assert _allowed(calls, "80") == {"any"}
    assert _allowed(calls, "2222") == {owner, "198.51.100.0/24"}


def test_ufw_script_refuses_bad_input_and_dry_runs(tmp_path: Path) -> None:
    for env in ({}, {"OWNER_IP": "my-laptop"}, {"OWNER_IP": "1.2.3.4", "ACME_HTTP": "sometimes"}):
        result, calls = _ufw(tmp_path, **env)
        assert result.returncode == 2 and calls == [], result.stderr
    result, calls = _ufw(tmp_path, "--dry-run", OWNER_IP="1.2.3.4")
    assert result.returncode == 0 and calls == []
    printed = result.stdout.splitlines()
    assert len(printed) >= 14 and all(line.startswith(str(tmp_path)) for line in printed)
    assert subprocess.run(["bash", "-n", str(DEPLOY / "ufw.sh")], timeout=30, check=False).returncode == 0
    shellcheck = shutil.which("shellcheck")
    if shellcheck is not None:
        lint = subprocess.run([shellcheck, str(DEPLOY / "ufw.sh")], capture_output=True, text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout
    assert os.access(DEPLOY / "ufw.sh", os.X_OK)


# -- docs/tradingview.md ------------------------------------------------------------------------

#: What TradingView puts in place of each placeholder (sample values).
PLACEHOLDERS = {
    "{{exchange}}": "NASDAQ",
    "{{ticker}}": "AAPL",
    "{{interval}}": "15",
    "{{close}}": "190.5",
    "{{time}}": "2030-01-02T03:00:00Z",
    "{{timenow}}": "2030-01-02T03:15:02Z",
    "{{strategy.order.action}}": "sell",
    "{{strategy.order.price}}": "190.25",
    "{{strategy.order.id}}": "Short",
    "{{strategy.order.contracts}}": "3",
    "{{strategy.market_position}}": "flat",
}


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_tradingview_guide_messages_parse() -> None:
    from bot.trading.alerts import check_secret, parse_body, parse_signal

    text = (REPO / "docs" / "tradingview.md").read_text()
    messages = [block.strip() for block in _blocks(text, "json") if "YOUR_SECRET" in block]
    assert len(messages) >= 5
    for message in messages:
        assert "\n" not in message  # one line: nothing after the closing brace
        filled = message.replace("YOUR_SECRET", SECRET)
        for placeholder, value in PLACEHOLDERS.items():
            filled = filled.replace(placeholder, value)
        assert "{{" not in filled, f"unknown placeholder in {message}"
        payload = parse_body(filled.encode())
        check_secret(payload, SECRET)
        signal = parse_signal(payload)
        assert signal.symbol in ("AAPL", "ETHUSDT") and signal.timeframe in ("15m", "4h")
    actions = {json.loads(m.replace("{{close}}", "1"))["action"] for m in messages}
    assert {"buy", "sell", "close", "{{strategy.order.action}}"} <= actions


def test_tradingview_guide_interval_table_and_worked_example() -> None:
    from bot.domain import normalise_timeframe
    from bot.validate import validate_records

    text = (REPO / "docs" / "tradingview.md").read_text()
    section = text[text.index("## 3. Timeframes") : text.index("## 4.")]
    rows: list[tuple[str, str]] = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[^`]+`", cells[2]):
            continue
        canonical = cells[2].strip("`")
        for value in re.findall(r"`([^`]+)`", cells[1] + " " + cells[3]):  # what TradingView sends, cell spellings
            assert normalise_timeframe(value) == canonical, value
            rows.append((value, canonical))
    assert len(rows) >= 25
    for sent, canonical in {"15": "15m", "60": "1h", "240": "4h", "D": "1d", "1D": "1d", "W": "1w", "M": "1M"}.items():
        assert (sent, canonical) in rows
    (config,) = _blocks(text, "csv")
    lines = [line.split(",") for line in config.strip().splitlines()]
    headers, records = lines[0], [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert validate_records("Config", headers, records) == []
    brokers = {r["broker"] for r in records}
    assert {"alpaca", "binance", "binance-futures"} <= brokers
