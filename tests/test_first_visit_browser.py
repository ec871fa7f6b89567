"""A page's address as the very first visit after the dashboard starts, in a real Chromium.

Streamlit ran the first session of a process with its old navigation of the
``pages/`` folder, where the Key accounts page is ``key_accounts``: the first
person to open ``/key-accounts`` saw "Page not found" above the right page
(streamlit/streamlit#8860, #9992). crmflow.serve clears that before the
first session (``no_pages_folder_navigation``). Here the first session of a
new server opens /key-accounts and the second /service-quality in Chinese:
each shows its page, its sidebar, and no dialog.
"""

from __future__ import annotations

import os

import pytest

from crmflow.i18n import t
from test_e2e_browser import CHROMIUM, LAUNCH_ARGS, TIMEOUT, assert_no_error, heading, settle, start_dashboard, \
    stop_dashboard

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


def test_the_first_visit_opens_a_page_by_its_address_without_a_dialog(tmp_path):
    from playwright.sync_api import sync_playwright

    from crmflow import demo
    from crmflow.store import Store

    db = tmp_path / "crmflow.duckdb"
    small = demo.generate(n_customers=200)
    with Store(db) as store:
        store.ingest("demo", small.transactions, small.customers, small.interactions, actor="crmflow", via="demo")
    proc, url = start_dashboard(tmp_path, dict(os.environ, CRMFLOW_DB=str(db)))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                for path, key, lang in (("/key-accounts", "key_accounts", "en"),
                                        ("/service-quality?lang=zh", "servqual", "zh")):
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    context.set_default_timeout(TIMEOUT)
                    tab = context.new_page()
                    tab.goto(url + path, wait_until="domcontentloaded")
                    heading(tab, t(f"page_{key}", lang)).wait_for()
                    settle(tab)
                    tab.wait_for_timeout(500)  # the dialog came with the first messages; give it time to show
                    assert_no_error(tab, f"first visit of {path}")
                    navigation = tab.locator('[data-testid="stSidebarNav"]').inner_text()
                    assert t("page_overview", lang) in navigation, navigation
                    context.close()
            finally:
                browser.close()
    finally:
        stop_dashboard(proc)
