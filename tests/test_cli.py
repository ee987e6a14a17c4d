"""The command line: export and import of tabs, validated, while a bot has the workbook open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import SECRET, TOKEN

from bot.cli import check_listen_address, main
from bot.domain import SlotKey
from bot.errors import ConfigError
from bot.services import build_services
from bot.settings import load_settings


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "WEBHOOK_SECRET": SECRET, "BOT_API_TOKEN": TOKEN}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)


def test_import_validates_then_a_running_bot_picks_it_up(tmp_path: Path) -> None:
    services = build_services(load_settings(bot_data_dir=tmp_path / "data", webhook_secret=SECRET))
    try:
        bad = tmp_path / "bad.csv"
        bad.write_text("symbol,position_size,active,Time Frame,my notes\nTSLA,5k,TRUE,15,x\nNVDA,100,TRUE,,y\n")
        result = run_cli(tmp_path, "import", "Config", str(bad))
        assert result.returncode == 1
        assert "row 2: position_size: '5k' is not a number" in result.stderr
        assert "row 3: Time Frame is blank" in result.stderr and "nothing imported" in result.stderr
        good = tmp_path / "good.csv"
        good.write_text("symbol,position_size,active,Time Frame,my notes\nTSLA,5000,TRUE,15,x\nNVDA,100,TRUE,4H,y\n")
        result = run_cli(tmp_path, "import", "config", str(good))
        assert result.returncode == 0, result.stderr
        assert "appended 2 row(s) in Config" in result.stdout
        snapshot = services.config.get()  # the local workbook's version changed: re-read now, not in 15 s
        assert SlotKey("TSLA", "15m") in snapshot.rows and SlotKey("NVDA", "4h") in snapshot.rows
        exported = run_cli(tmp_path, "export", "Config", "--format", "json")
        rows = json.loads(exported.stdout)
        assert {"symbol": "NVDA", "my notes": "y"}.items() <= rows[-1].items()
        result = run_cli(tmp_path, "import", "Config", str(good), "--replace")
        assert "replaced 2 row(s)" in result.stdout
        csv_text = run_cli(tmp_path, "export", "Config").stdout
        assert csv_text.splitlines()[0].startswith("symbol,position_size,active,Time Frame,Order Status,Last Updated")
        assert len(csv_text.splitlines()) == 3
    finally:
        services.close()


def test_unknown_tab_and_missing_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["export", "Nope"]) == 1
    assert "unknown tab 'Nope'" in capsys.readouterr().err
    missing = tmp_path / "m.csv"
    missing.write_text("symbol,active\nAAPL,TRUE\n")
    assert main(["import", "Config", str(missing)]) == 1
    err = capsys.readouterr().err
    assert "missing required column 'position_size'" in err and "missing required column 'Time Frame'" in err


def test_serve_refuses_public_address_without_strong_secrets(tmp_path: Path) -> None:
    weak = load_settings(bot_data_dir=tmp_path, webhook_secret="short")
    check_listen_address("127.0.0.1", weak)
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET and BOT_API_TOKEN"):
        check_listen_address("0.0.0.0", weak)
    strong = load_settings(bot_data_dir=tmp_path, webhook_secret="x" * 16, bot_api_token="y" * 16)
    check_listen_address("0.0.0.0", strong)
