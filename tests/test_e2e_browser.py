"""End to end in a real headless Chromium (Debian's package, driven by Playwright).

One dashboard server for the whole module, on a free port, with a fresh
database holding the demo data. The tests

* upload a real-world transactions file through the Data page -- GBK encoded,
  Chinese headers, semicolons, decimal commas, ids with leading zeros, a
  return -- check the detected reading and column mapping, check and save it,
  open its overview and compare the five stage cards with
  ``python -m crmflow stages FILE`` (and, once the server has let go of the
  database, with ``--dataset NAME --db``);
* switch to 简体中文 with the sidebar's language radio;
* open every page in English and in Chinese on the demo data, wait for its
  content, check that no exception or traceback is shown and save a full-page
  screenshot to tests/artifacts/<page>_<lang>.png;
* download the every-customer CSV on Segments and compare it with the
  package's table for the same dataset and date.

``python tests/make_screenshots.py`` runs this module and copies the English
screenshots into docs/ for the README. Waits are on visible text and on the
app's "script finished" state, never on fixed sleeps; timeouts are generous
because CI machines are small and busy.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from crmflow.i18n import t

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTH, HEIGHT = 1400, 900
#: Tallest full-page screenshot (px); longer pages are cut there.
MAX_HEIGHT = 7000
#: Every wait, in ms: a cold query on a busy two-core machine can take a while.
TIMEOUT = 180_000
STAGES = ("potential", "first", "repeat", "loyal", "lost")
#: The uploaded file; the Data page suggests its stem as the dataset name.
UPLOAD_FILE = "销售订单.csv"
UPLOAD_NAME = "销售订单"
#: Page key (screenshot name, ``page_<key>`` title) and URL path; {customer} is filled in.
PAGES = (
    ("overview", "/"),
    ("flow", "/flow"),
    ("churn", "/churn"),
    ("key_accounts", "/key-accounts"),
    ("account", "/account?customer={customer}"),
    ("my_accounts", "/my-accounts?manager=Chen+Jing"),  # an account manager of the demo data
    ("segments", "/segments"),
    ("data", "/data"),
    ("servqual", "/service-quality"),
    ("present", "/?present=1"),  # presentation mode, as its button opens it
)
#: Pages whose content includes a Plotly chart to wait for.
CHARTS = {"overview", "flow", "churn", "key_accounts", "account", "my_accounts", "segments", "servqual", "present"}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]

#: What one test saw and a later one checks (the stage cards of the uploaded dataset).
SEEN: dict[str, object] = {}


# ----------------------------------------------------------------------------- the real-world file
def write_gbk_orders(path: Path, rows: int = 300) -> Path:
    """An export as a Chinese ERP writes it: GBK, ';' between columns, decimal
    commas, CRLF line ends, customer numbers with leading zeros, dates as
    YYYY/MM/DD, product category and channel columns, and one return."""
    rnd = random.Random(20250630)
    customers = [f"{n:06d}" for n in rnd.sample(range(1, 20000), 90)]
    weights = [1 / (i + 1) for i in range(len(customers))]  # a few big buyers, many small ones
    first, last = date(2023, 1, 1), date(2025, 6, 30)
    span = (last - first).days
    lines = ["客户编号;下单日期;销售额;产品类别;渠道"]
    for _ in range(rows - 1):
        customer = rnd.choices(customers, weights)[0]
        day = last - timedelta(days=int(span * rnd.random() ** 1.5))  # more orders lately
        amount = f"{rnd.uniform(20, 5000):.2f}".replace(".", ",")
        lines.append(f"{customer};{day:%Y/%m/%d};{amount};{rnd.choice(['办公用品', '电子产品', '家具'])};"
                     f"{rnd.choice(['线上', '门店', '经销商'])}")
    lines.append(f"{customers[0]};2025/06/20;-350,50;电子产品;门店")  # a return
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def cli(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "crmflow", *args], check=False, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"crmflow {' '.join(args)} failed:\n{done.stderr}"
    return json.loads(done.stdout)


# ----------------------------------------------------------------------------- fixtures
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(folder: Path, env: dict[str, str], *options: str) -> tuple[subprocess.Popen, str]:
    """``python -m crmflow.serve`` on a free loopback port, with ``env`` (the
    whole environment) and extra Streamlit ``options``, its output in
    ``folder/streamlit.log``; (process, URL) once it answers its health
    check, or the test fails (after at most 120 s) with the log."""
    port = free_port()
    log_path = folder / "streamlit.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crmflow.serve", "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--browser.gatherUsageStats", "false", *options],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.5)
    stop_dashboard(proc)
    pytest.fail("the dashboard did not start within 120 s:\n" + log_path.read_text())


def stop_dashboard(proc: subprocess.Popen) -> None:
    """Stop a dashboard (it holds its database file while it runs)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@dataclass
class Server:
    url: str
    db: Path
    orders: Path
    proc: subprocess.Popen
    demo: dict  # demo numbers computed before the server opened the database

    def stop(self) -> None:
        stop_dashboard(self.proc)


def demo_numbers(db: Path) -> dict:
    """The demo data's numbers the pages must show: stage counts from the
    command line, a key account to open, and the Segments page's
    every-customer table, read while no server holds the database."""
    from crmflow.account_view import key_account_health
    from crmflow.segments_table import download_frame, segment_view
    from crmflow.stages import data_range
    from crmflow.store import Store

    stages = cli("stages", "--dataset", "demo", "--db", str(db))
    with Store(db) as store:
        dataset_id = store.get("demo").dataset_id
        _, as_of = data_range(store.db, dataset_id)
        customers = segment_view(store.db, dataset_id, as_of).customers
        key = key_account_health(store.db, dataset_id, as_of)
        table = {lang: download_frame(customers, lang) for lang in ("en", "zh")}
    return {"counts": stages["counts"], "as_of": as_of, "customer": str(key["customer_id"].iloc[0]),
            "table": table}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    db = folder / "crmflow.duckdb"
    subprocess.run([sys.executable, "-m", "crmflow", "demo", "--store", "--db", str(db)], cwd=ROOT, check=True,
                   capture_output=True, timeout=600)
    demo = demo_numbers(db)
    orders = write_gbk_orders(folder / UPLOAD_FILE)
    proc, url = start_dashboard(folder, dict(os.environ, CRMFLOW_DB=str(db)))
    srv = Server(url, db, orders, proc, demo)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser):
    """One browser profile (the app's scripts are loaded and cached once); each
    test opens its own tab, i.e. its own Streamlit session."""
    profile = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, accept_downloads=True,
                                  locale="en-US")
    profile.set_default_timeout(TIMEOUT)
    yield profile
    profile.close()


@pytest.fixture
def page(context):
    tab = context.new_page()
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def app_ready(server, context):
    """The main page opened once before the other tests, so that they wait for
    their page, not for the server's first imports (a page's address as the first
    visit: test_a_page_url_as_the_first_visit, tests/test_first_visit_browser.py)."""
    tab = context.new_page()
    open_page(tab, server.url, "overview", "/", "en")
    tab.close()
    return server


# ----------------------------------------------------------------------------- helpers
def settle(page) -> None:
    """Wait until the app's script run has finished."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def heading(page, text: str):
    return page.locator('[data-testid="stHeading"]').filter(has_text=text).first


def with_query(path: str, lang: str, dataset: str | None = None) -> str:
    """``path`` with the language (left out for English) and dataset in the query string."""
    query = ([f"dataset={quote(dataset)}"] if dataset else []) + ([f"lang={lang}"] if lang != "en" else [])
    return path + ("&" if "?" in path else "?") + "&".join(query) if query else path


def open_page(page, url: str, key: str, path: str, lang: str, dataset: str | None = "demo") -> None:
    """Go to a page and wait for its content: its title, the end of the
    script run, and (where it has one) a drawn Plotly chart."""
    page.goto(url + with_query(path, lang, dataset), wait_until="domcontentloaded")
    wait_for_content(page, key, lang)


def wait_for_content(page, key: str, lang: str) -> None:
    if key == "present":
        page.get_by_role("button", name=t("rep_next", lang)).wait_for()
    else:
        heading(page, t(f"page_{key}", lang)).wait_for()
    settle(page)
    if key in CHARTS:
        page.locator(".js-plotly-plot .main-svg").first.wait_for()
    assert_no_error(page, f"{key} ({lang})")


def assert_no_error(page, where: str) -> None:
    """No exception box, no traceback, no dialog (Streamlit's "Page not found"
    is one; the pages themselves open none)."""
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        pytest.fail(f"{where}: the page shows an exception:\n{exceptions.first.inner_text()}")
    dialogs = page.get_by_role("dialog")
    if dialogs.count():
        pytest.fail(f"{where}: the page shows a dialog:\n{dialogs.first.inner_text()}")
    body = page.locator("body").inner_text()
    assert "Traceback" not in body, f"{where}: the page shows a traceback:\n{body[:3000]}"


def screenshot(page, name: str) -> Path:
    """A screenshot of the whole page. Streamlit scrolls inside its main
    container, so the window is made as tall as the content first (again if
    the content grows on the way, up to MAX_HEIGHT)."""
    for _ in range(3):
        height = min(MAX_HEIGHT, page.evaluate("""() => Math.max(...['stMain', 'stAppViewContainer',
            'stSidebarContent'].map(id => document.querySelector(`[data-testid="${id}"]`)?.scrollHeight || 0))"""))
        if height <= page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": WIDTH, "height": height})
        settle(page)
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def stage_cards(page) -> list[str]:
    return [v.strip() for v in page.locator('[data-testid="stMetricValue"]').all_inner_texts()[:len(STAGES)]]


def combobox(page, label: str):
    return page.get_by_role("combobox", name=label, exact=True)


# ----------------------------------------------------------------------------- tests
def test_a_page_url_as_the_first_visit(server, page):
    """A bookmarked link to a page, opened right after the server started."""
    page.goto(server.url + "/flow", wait_until="domcontentloaded")
    heading(page, t("page_flow", "en")).wait_for()
    settle(page)
    navigation = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert t("page_overview", "en") in navigation and "common" not in navigation.split()


def test_presentation_mode_at_the_page_url(app_ready, page):
    open_page(page, app_ready.url, "present", "/present?present=1", "en")


def test_upload_a_gbk_file_with_chinese_headers(app_ready, page):
    server = app_ready
    open_page(page, server.url, "data", "/data", "en")
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=t("data_upload_transactions", "en"))
    uploader.locator('input[type="file"]').set_input_files(str(server.orders))

    # how the file was read, in words, and the detected mapping
    heading(page, t("data_mapping_heading", "en")).wait_for()
    settle(page)
    described = page.get_by_text("GB18030/GBK").first.inner_text()
    for part in ("GB18030/GBK", t("data_delim_semicolon", "en"), t("data_header_yes", "en"),
                 t("data_decimal_comma", "en"), "300"):
        assert part in described, described
    mapped = {"customer_id": "客户编号", "order_date": "下单日期", "amount": "销售额", "category": "产品类别",
              "channel": "渠道", "order_id": t("data_not_used", "en"), "cost": t("data_not_used", "en")}
    for field, column in mapped.items():
        label = t(f"data_field_{field}", "en")
        if field in ("customer_id", "order_date", "amount"):
            label = t("data_required_mark", "en", field=label)
        assert combobox(page, label).input_value() == column, field
    preview = page.locator('[data-testid="stDataFrame"]').first
    assert preview.is_visible()

    # dry run: every row can be used (the return is a row with a negative amount)
    page.get_by_role("button", name=t("data_check", "en"), exact=True).click()
    page.get_by_text(t("data_check_ok", "en", loaded=300, read=300)).wait_for()
    settle(page)
    assert_no_error(page, "data (check)")
    screenshot(page, "upload_en")

    # save under the suggested name, then open its overview
    assert page.get_by_label(t("data_name", "en"), exact=True).input_value() == UPLOAD_NAME
    page.get_by_role("button", name=t("data_save", "en"), exact=True).click()
    page.get_by_text(t("data_saved_name", "en", name=UPLOAD_NAME)).wait_for()
    settle(page)
    assert_no_error(page, "data (saved)")
    page.get_by_role("button", name=t("data_open_overview", "en"), exact=True).click()
    page.wait_for_url(f"**dataset={quote(UPLOAD_NAME)}**")
    wait_for_content(page, "overview", "en")
    page.get_by_text(t("overview_dataset_caption", "en", name=UPLOAD_NAME, n_transactions=300,
                       n_customers=0).split(",")[0]).first.wait_for()
    cards = stage_cards(page)

    # the same numbers as the command line on the same file
    counts = cli("stages", str(server.orders))["counts"]
    assert cards == [f"{counts[s]:,}" for s in STAGES]
    assert sum(counts.values()) > 50 and counts["lost"] > 0 and counts["repeat"] > 0
    # and the same as a fresh session opening the dataset by its URL
    open_page(page, server.url, "overview", "/", "en", UPLOAD_NAME)
    assert stage_cards(page) == cards
    screenshot(page, "upload_overview_en")
    SEEN["upload_cards"] = cards

    # the ids kept their leading zeros: the customer with the return has its page
    customer = server.orders.read_bytes().decode("gbk").splitlines()[-1].split(";")[0]
    assert customer.startswith("0")
    open_page(page, server.url, "account", f"/account?customer={customer}", "en", UPLOAD_NAME)
    assert page.get_by_text(t("acc_unknown", "en")).count() == 0
    assert customer in page.locator('[data-testid="stMain"]').inner_text()


def test_language_radio_switches_to_chinese(app_ready, page):
    server = app_ready
    open_page(page, server.url, "overview", "/", "en")
    assert stage_cards(page) == [f"{server.demo['counts'][s]:,}" for s in STAGES]
    page.locator('[data-testid="stSidebar"]').get_by_text("简体中文", exact=True).click()
    page.wait_for_url("**lang=zh**")
    wait_for_content(page, "overview", "zh")
    page.get_by_text(t("stage_lost", "zh"), exact=True).first.wait_for()
    assert stage_cards(page) == [f"{server.demo['counts'][s]:,}" for s in STAGES]
    navigation = page.locator('[data-testid="stSidebarNav"]').inner_text()
    for key, _ in PAGES:
        assert t(f"page_{key}", "zh") in navigation


@pytest.mark.parametrize("key,path", PAGES, ids=[k for k, _ in PAGES])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page(app_ready, page, key, path, lang):
    server = app_ready
    open_page(page, server.url, key, path.format(customer=server.demo["customer"]), lang)
    if key == "overview":
        assert stage_cards(page) == [f"{server.demo['counts'][s]:,}" for s in STAGES]
    elif key == "account":
        assert server.demo["customer"] in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, f"{key}_{lang}")
    if key == "segments":
        check_segment_download(page, server, lang)


def check_segment_download(page, server: Server, lang: str) -> None:
    """Every customer with its segment, as the package's table for the same dataset and date."""
    expected = server.demo["table"][lang]
    page.get_by_role("tab", name=t("seg_tab_download", lang)).click()
    button = page.locator(".st-key-segments-all-csv").get_by_role("button", name=t("download_csv", lang))
    button.wait_for()
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.endswith(f"-{server.demo['as_of']}.csv")
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(expected.columns)
    assert len(rows) - 1 == len(expected) > 0
    id_col, segment_col, stage_col = (list(expected.columns).index(t(f"seg_col_{c}", lang))
                                      for c in ("customer_id", "segment", "stage"))
    assert [r[id_col] for r in rows[1:]] == list(expected.iloc[:, id_col])
    assert [r[segment_col] for r in rows[1:]] == list(expected.iloc[:, segment_col])
    assert [r[stage_col] for r in rows[1:]] == list(expected.iloc[:, stage_col])


def test_cli_reads_the_dataset_saved_in_the_browser(server):
    """Last: stops the server so that the command line can open its database."""
    if "upload_cards" not in SEEN:
        pytest.skip("the upload test did not run")
    server.stop()
    counts = cli("stages", "--dataset", UPLOAD_NAME, "--db", str(server.db))["counts"]
    assert SEEN["upload_cards"] == [f"{counts[s]:,}" for s in STAGES]
