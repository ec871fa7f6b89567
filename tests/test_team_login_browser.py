"""Issue 15, owner scope in a real headless Chromium, for what leaves the
dashboard as a file: an account manager signed in to a server started with a
users file (tests/test_login_browser.py's server: a store of three owners
whose customer ids and names carry their owner's tag) downloads the Segments
page's every-customer CSV and the meeting report's HTML through the buttons,
as a person would, and neither file holds another owner's customer, name or
account manager; both hold hers (so the search is known to see the data).
tests/test_login_pages.py shows the same search finds the other owners in an
administrator's report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from crmflow.i18n import t
from test_e2e_browser import CHROMIUM, TIMEOUT, settle
from test_login_browser import browser, server, sign_in  # noqa: F401 - the module's server and browser
from test_login_pages import FOREIGN

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


@pytest.fixture
def olivia(browser, server):  # noqa: F811
    """A tab signed in as olivia (account manager of Olivia Brown's customers)."""
    profile = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US", accept_downloads=True)
    profile.set_default_timeout(TIMEOUT)
    tab = profile.new_page()
    tab.goto(server, wait_until="domcontentloaded")
    tab.get_by_role("heading", name=t("login_title", "en")).wait_for()
    settle(tab)
    sign_in(tab, "olivia", "olivia pw")
    tab.get_by_role("heading", name=t("page_overview", "en")).wait_for()
    settle(tab)
    yield tab
    profile.close()


def download(tab, button) -> bytes:
    with tab.expect_download() as done:
        button.click()
    return Path(done.value.path()).read_bytes()


def test_a_managers_segment_download_holds_only_her_customers(olivia):
    tab = olivia
    sidebar = tab.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=t("page_segments", "en"), exact=True).click()
    tab.get_by_role("heading", name=t("page_segments", "en"), exact=True).first.wait_for()
    settle(tab)
    tab.get_by_role("tab", name=t("seg_tab_download", "en")).click()
    button = tab.locator(".st-key-segments-all-csv").get_by_role("button", name=t("download_csv", "en"))
    data = download(tab, button)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    column = rows[0].index(t("seg_col_customer_id", "en"))
    ids = [row[column] for row in rows[1:]]
    assert len(ids) > 10
    assert all(i.startswith("OLIVIA-") for i in ids), [i for i in ids if not i.startswith("OLIVIA-")][:5]
    for token in FOREIGN:
        assert token not in data, token


def test_a_managers_meeting_report_holds_only_her_customers(olivia):
    tab = olivia
    sidebar = tab.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("button", name=t("rep_prepare", "en")).click()
    button = sidebar.get_by_role("button", name=t("rep_download_html", "en"))
    button.wait_for()
    settle(tab)
    html = download(tab, button)
    assert b"Olivia Brown" in html
    for token in FOREIGN:
        assert token not in html, token
