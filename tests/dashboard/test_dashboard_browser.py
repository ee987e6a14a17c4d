"""The dashboard in a real browser: headless Chromium opens every page of the running app.

The app runs as ``streamlit run streamlit_app.py`` on the replayed example workbook (see
tests/dashboard/test_dashboard.py). Each page must finish its script run without a Streamlit exception or
error box, and every chart must be drawn with coloured marks (a chart whose data is empty, or
whose spec Vega cannot render, has no height or no colour). A screenshot of every page is kept in
``test-artifacts/dashboard/`` (two of them are copied to docs/screenshots/ by hand for the README).

Chromium is Debian's package, installed by ``scripts/ensure_chromium.sh`` when missing; if it cannot
be installed the test fails (it is never skipped).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from playwright.sync_api import Page, sync_playwright
from test_dashboard import ZONE, build_replay_workbook

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
#: url path → (title, charts the page must draw)
PAGES = {
    "": ("Overview", 1),
    "journal": ("Journal", 0),
    "performance": ("Performance", 4),
    "twr": ("Time-weighted return", 1),
    "calendar": ("Calendar", 1),
    "calculator": ("Position size calculator", 0),
    "config": ("Config", 0),
    "signals": ("Signals & Orders", 0),
}
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WIDTH = 1400


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium, installed by scripts/ensure_chromium.sh when missing."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        pytest.fail(f"Chromium is required for the browser test and could not be installed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on the replayed workbook; yields its base URL."""
    data_dir = tmp_path / "data"
    build_replay_workbook(data_dir)
    port = _free_port()
    env = {**os.environ, "BOT_DATA_DIR": str(data_dir), "BOT_TIMEZONE": ZONE,
           "DASHBOARD_BOT_URL": f"http://127.0.0.1:{_free_port()}"}  # fmt: skip
    env.pop("DASHBOARD_PASSWORD", None)
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _coloured_share(png: bytes) -> float:
    """Share of clearly coloured pixels (marks), ignoring white, black and grey (background, axes, text)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.thumbnail((400, 400))
    pixels = np.asarray(image, dtype=np.int16).reshape(-1, 3)
    spread = pixels.max(axis=1) - pixels.min(axis=1)
    return float((spread > 60).mean()) if len(pixels) else 0.0


def _settle(page: Page) -> None:
    """Wait until the script run is over and every chart has been laid out."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60000)
    page.wait_for_selector("h1", timeout=30000)
    _charts_drawn(page)


def _charts_drawn(page: Page) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                 .every(el => el.querySelector('canvas, svg') && el.getBoundingClientRect().height > 40)""",
        timeout=15000,
    )
    page.wait_for_timeout(500)


def test_every_page_renders_in_chromium(chromium: str, dashboard: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-profile-"),
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": WIDTH, "height": 1000},
        )
        try:
            page = context.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text) if m.type == "error" and "ERROR" in m.text else None)
            for path, (title, want_charts) in PAGES.items():
                console.clear()
                page.set_viewport_size({"width": WIDTH, "height": 1000})
                page.goto(f"{dashboard}/{path}")
                try:
                    _settle(page)
                except Exception as exc:  # keep going: report every page at once
                    problems.append(f"/{path}: did not settle ({type(exc).__name__})")
                name = path or "overview"
                heading = page.locator("h1").first.inner_text() if page.locator("h1").count() else ""
                if heading.strip() != title:
                    problems.append(f"/{path}: title {heading!r}, expected {title!r}")
                for selector in ('[data-testid="stException"]', ".stException", '[data-testid="stAlertContentError"]'):
                    if page.locator(selector).count():
                        problems.append(f"/{path}: {page.locator(selector).first.inner_text()[:300]!r}")
                charts = page.locator('[data-testid="stVegaLiteChart"]').all()
                if len(charts) != want_charts:
                    problems.append(f"/{path}: {len(charts)} charts, expected {want_charts}")
                for number, chart in enumerate(charts, start=1):
                    chart.scroll_into_view_if_needed()
                    box = chart.bounding_box()
                    if box is None or box["height"] < 40:
                        problems.append(f"/{path}: chart {number} has no height (not drawn)")
                        continue
                    share = _coloured_share(chart.screenshot())
                    if share < 0.005:
                        problems.append(f"/{path}: chart {number} is empty ({share:.2%} coloured pixels)")
                if console:
                    problems.append(f"/{path}: Vega errors {console[:3]}")
                height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
                page.set_viewport_size({"width": WIDTH, "height": min(int(height) + 40, 8000)})
                page.wait_for_timeout(300)
                if want_charts:
                    _charts_drawn(page)  # charts are laid out again after the resize
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) >= sorted(f"{p or 'overview'}.png" for p in PAGES)
