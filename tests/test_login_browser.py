"""Issue 15 in a real headless Chromium: a dashboard started with a users
file (CRMFLOW_USERS) asks who you are; a wrong password gets one message and
no data; an account manager who signs in sees only their owner's customers
on every page they open from the sidebar.

"Sees" is checked on what reaches the browser: every websocket frame the
server sends (protobuf with the tables as Arrow bytes, the charts as JSON,
the picker options) is kept and searched for the other owners' tagged
customer ids and names (tests/test_login_pages.build_world), and for the
manager's own (so the search is known to see the data)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crmflow.i18n import t
from test_e2e_browser import CHROMIUM, LAUNCH_ARGS, TIMEOUT, free_port, settle
from test_login_pages import FOREIGN, build_world

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]
#: The pages a manager opens from the sidebar (the Presentation page has no customer list).
VISITS = ("churn", "key_accounts", "account", "my_accounts", "segments", "flow", "data")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("login_browser")
    world = build_world(folder)
    port = free_port()
    log = (folder / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmflow.serve", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, CRMFLOW_DB=str(world["db"]), CRMFLOW_USERS=str(world["users"])),
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the dashboard did not start within 120 s:\n" + (folder / "streamlit.log").read_text())
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def session(browser, url: str):
    """A new browser profile on the dashboard, keeping every websocket frame the server sends."""
    profile = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    profile.set_default_timeout(TIMEOUT)
    tab = profile.new_page()
    frames: list[bytes] = []

    def watch(ws):
        ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes)
                                                             else payload.encode("utf-8")))

    tab.on("websocket", watch)
    tab.goto(url, wait_until="domcontentloaded")
    tab.get_by_role("heading", name=t("login_title", "en")).wait_for()
    settle(tab)
    return profile, tab, frames


def sign_in(tab, name: str, password: str) -> None:
    tab.get_by_role("textbox", name=t("login_name", "en")).fill(name)
    tab.get_by_role("textbox", name=t("login_password", "en")).fill(password)
    tab.get_by_role("button", name=t("login_submit", "en")).click()


def test_wrong_password_is_refused_with_one_message(browser, server):
    profile, tab, frames = session(browser, server)
    try:
        # before signing in, no list of pages either
        assert tab.locator('[data-testid="stSidebarNavLink"]').count() == 0
        sign_in(tab, "olivia", "not her password")
        tab.get_by_text(t("err_auth_wrong", "en")).wait_for()
        settle(tab)
        assert tab.get_by_role("heading", name=t("login_title", "en")).is_visible()
        assert not tab.get_by_role("heading", name=t("page_overview", "en")).count()
        assert frames and not any(b"OLIVIA-" in f or b"DANIEL" in f for f in frames)
    finally:
        profile.close()


def test_a_manager_sees_only_her_owners_customers(browser, server):
    profile, tab, frames = session(browser, server)
    try:
        sign_in(tab, "olivia", "olivia pw")
        tab.get_by_role("heading", name=t("page_overview", "en")).wait_for()
        settle(tab)
        sidebar = tab.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("Signed in as olivia (account manager: Olivia Brown)").is_visible()
        for stem in VISITS:
            sidebar.get_by_role("link", name=t(f"page_{stem}", "en"), exact=True).click()
            tab.get_by_role("heading", name=t(f"page_{stem}", "en"), exact=True).first.wait_for()
            settle(tab)
        # the account picker lists only her customers
        sidebar.get_by_role("link", name=t("page_account", "en"), exact=True).click()
        tab.get_by_role("heading", name=t("page_account", "en"), exact=True).first.wait_for()
        settle(tab)
        received = b"".join(frames)
        assert b"OLIVIA-" in received and b"OLIVIACO" in received
        for token in FOREIGN:
            assert token not in received, token
        # signing out asks again
        sidebar.get_by_role("button", name=t("login_sign_out", "en")).click()
        tab.get_by_role("heading", name=t("login_title", "en")).wait_for()
    finally:
        profile.close()
