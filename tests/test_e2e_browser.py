"""End to end in a real headless Chromium (Debian's package, driven by Playwright).

Starts the dashboard on a free port with a fresh database, waits for the demo
data's overview, checks the stage counts against the command line, switches to
简体中文, and saves a screenshot of each state to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("e2e") / "crmflow.duckdb"
    # store the demo data first, so the numbers can be compared with the CLI
    subprocess.run([sys.executable, "-m", "crmflow", "demo", "--store", "--db", str(db)], cwd=ROOT, check=True,
                   capture_output=True)
    cli = subprocess.run([sys.executable, "-m", "crmflow", "stages", "--dataset", "demo", "--db", str(db)],
                         cwd=ROOT, check=True, capture_output=True, text=True)
    port = free_port()
    env = dict(os.environ, CRMFLOW_DB=str(db))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("the dashboard did not start within 60 s")
    yield url, json.loads(cli.stdout)["counts"]
    proc.terminate()
    proc.wait(timeout=20)


def test_overview_in_both_languages(server):
    from playwright.sync_api import sync_playwright

    url, counts = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text("Lost", exact=True).first.wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        metrics = page.locator('[data-testid="stMetricValue"]').all_inner_texts()[:5]
        assert [m.strip() for m in metrics] == [f"{counts[s]:,}" for s in
                                                ("potential", "first", "repeat", "loyal", "lost")]
        page.screenshot(path=str(ARTIFACTS / "overview_en.png"), full_page=True)

        page.goto(url + "/?lang=zh", wait_until="domcontentloaded")
        page.get_by_text("流失客户", exact=True).first.wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "overview_zh.png"), full_page=True)
        browser.close()
