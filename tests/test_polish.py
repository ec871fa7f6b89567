"""Issue 12, items 4, 7 and 8: pages that looked empty or broken, the account
timeline in Chinese, a stable default dataset, drill-downs with feedback and
in the URL, a refused upload that says why.

The pages are driven by Streamlit's AppTest on one database holding the demo
data and, stored after it (so it is the newest), a one-customer dataset
``newer``. Expected values come from the package and the command line,
computed before the app opens the file.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow import account_view as av
from crmflow.charts.accounts import account_timeline
from crmflow.analytics import rfm
from crmflow.config import DEFAULT_DATASET_ENV_VAR
from crmflow.health import QUADRANTS, value_matrix, value_matrix_summary
from crmflow.i18n import t
from crmflow.stages import data_range
from crmflow.store import Store
from crmflow.transitions import band_key, parse_band

ROOT = Path(__file__).resolve().parent.parent
NEWER = "customer_id,order_date,amount\nN1,2024-02-20,150\nN1,2024-03-01,100\n"
#: Code points that only an emoji font draws (pictographs, dingbat emoji, the emoji selector).
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2705\u274C\u274E\u2753-\u2757\uFE0F]")


def cli(db: Path, *args: str):
    out = subprocess.run([sys.executable, "-m", "crmflow", *args, "--db", str(db)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("polish")
    db = folder / "crmflow.duckdb"
    (folder / "newer.csv").write_text(NEWER, encoding="utf-8")
    expected: dict = {}
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("newer", folder / "newer.csv")
        assert store.names()[0] == "newer"           # the most recent upload
        ds = store.get("demo").dataset_id
        last = data_range(store.db, ds)[1]
        expected["matrix"] = value_matrix_summary(value_matrix(store.db, ds, last))
        expected["rfm"] = rfm(store.db, ds, last)
    expected["flow"] = {(r["from"], r["to"]): r["customers"] for r in
                        cli(db, "flow", "--dataset", "demo", "--from", "2024-06-30", "--to",
                            last.isoformat())["transitions"]}
    return db, expected


@pytest.fixture
def app(world, app_factory):
    return app_factory(world[0], errors_ok=True)


def dataset_box(at: AppTest):
    return next(s for s in at.sidebar.selectbox if s.label in (t("sidebar_dataset", "en"), t("sidebar_dataset", "zh")))


def query(at: AppTest, name: str):
    value = dict(at.query_params).get(name)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


# --------------------------------------------------------------------------- default dataset
def test_default_dataset_is_pinned_else_demo_else_oldest(tmp_path, monkeypatch):
    monkeypatch.delenv(DEFAULT_DATASET_ENV_VAR, raising=False)
    (tmp_path / "a.csv").write_text(NEWER, encoding="utf-8")
    with Store(in_memory=True) as store:
        assert store.default_name() is None
        store.ingest("first", tmp_path / "a.csv")
        store.ingest("second", tmp_path / "a.csv")
        assert store.names()[0] == "second"
        assert store.default_name() == "first"          # the oldest, not the newest upload
        store.ingest("demo", tmp_path / "a.csv")
        store.ingest("third", tmp_path / "a.csv")
        assert store.default_name() == "demo"           # an upload does not move the default
        monkeypatch.setenv(DEFAULT_DATASET_ENV_VAR, "second")
        assert store.default_name() == "second"         # the pinned one
        monkeypatch.setenv(DEFAULT_DATASET_ENV_VAR, "deleted long ago")
        assert store.default_name() == "demo"
        store.delete("demo")
        assert store.default_name() == "first"


def test_the_root_url_opens_the_default_not_the_newest_upload(app):
    at = app()
    assert dataset_box(at).value == "demo"
    assert t("polish_dataset_missing", "en") not in [w.value for w in at.warning]
    assert query(at, "dataset") == "demo"          # a copied link names it


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_link_to_a_deleted_dataset_says_so(app, lang):
    at = app(dataset="**gone** ![x](http://127.0.0.1:9/x.png)", lang=lang)
    assert t("polish_dataset_missing", lang) in [w.value for w in at.warning]
    assert "**gone** ![x](http://127.0.0.1:9/x.png)" in [x.value for x in at.text]   # as text, not Markdown
    assert dataset_box(at).value == "demo"
    assert query(at, "dataset") == "**gone** ![x](http://127.0.0.1:9/x.png)"          # the link is not rewritten
    # a link to a dataset that exists shows it, without the notice
    at = app(dataset="newer", lang=lang)
    assert dataset_box(at).value == "newer"
    assert t("polish_dataset_missing", lang) not in [w.value for w in at.warning]


# --------------------------------------------------------------------------- icons, traffic lights
def test_no_emoji_in_navigation_labels_or_pages():
    text = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    pages = next(n.value for n in ast.walk(text) if isinstance(n, ast.Assign)
                 and getattr(n.targets[0], "id", "") == "PAGES")
    icons = [row.elts[2].value for row in pages.elts]
    assert len(icons) == len(list((ROOT / "pages").glob("*.py"))) and all(re.fullmatch(r":material/[a-z_]+:", i) for i in icons), icons
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "crmflow").rglob("*.py"),
             *(ROOT / "crmflow" / "locales").glob("*.json")]
    found = {str(p.relative_to(ROOT)): EMOJI.findall(p.read_text(encoding="utf-8")) for p in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_traffic_lights_are_coloured_text(app, world):
    at = app("key_accounts")
    labels = [m.label for m in at.metric]
    for status, colour in (("healthy", "green"), ("watch", "orange"), ("at_risk", "red")):
        assert f":{colour}[● {t('health_status_' + status, 'en')}]" in labels
    table = at.dataframe[0]
    column = t("health_status", "en")
    assert set(table.value[column]) <= {av.traffic_light(s, "en") for s in ("healthy", "watch", "at_risk", None)}
    # the table's cells are coloured by status (a Styler, sent as CSS with the table)
    styles = table.proto.arrow_data.styler.styles
    assert av.LIGHT_CSS["healthy"] in styles and av.LIGHT_CSS["at_risk"] in styles


# --------------------------------------------------------------------------- never a blank page
@pytest.mark.parametrize("page", ["churn", "key_accounts", "account"])
def test_slow_pages_draw_their_title_before_the_scoring_code_loads(page):
    """The scoring modules take seconds to import on a first visit: the title
    and a named spinner come first, the imports inside that spinner."""
    tree = ast.parse((ROOT / "pages" / f"{page}.py").read_text(encoding="utf-8"))
    body = tree.body
    header = next(i for i, n in enumerate(body) if "st.header(" in ast.unparse(n))
    spinner = next(i for i, n in enumerate(body) if isinstance(n, ast.With) and "st.spinner" in ast.unparse(n))
    # the page frame (crmflow.ui) is light; everything else of crmflow waits for the spinner
    top_level = [i for i, n in enumerate(body) if isinstance(n, ast.ImportFrom) and n.module.startswith("crmflow")
                 and not n.module.startswith("crmflow.ui")]
    assert header < spinner and not top_level
    inside = [n.module for n in ast.walk(body[spinner]) if isinstance(n, ast.ImportFrom)]
    assert "crmflow.account_view" in inside
    assert f"polish_loading_{ {'churn': 'churn', 'key_accounts': 'health', 'account': 'account'}[page]}" \
        in ast.unparse(body[spinner])


def test_account_page_from_the_navigation_offers_a_picker_and_a_hint(app):
    at = app("account")
    assert [h.value for h in at.header] == [t("page_account", "en")]
    assert t("acc_pick", "en") in [s.label for s in at.selectbox]
    assert t("acc_none", "en") in [i.value for i in at.info]


# --------------------------------------------------------------------------- the timeline in Chinese
def test_contact_types_and_dates_in_chinese():
    interactions = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-05", "2024-02-10", "2024-03-15", "2024-04-20"]),
        "type": ["call", " Visit ", "complaint", "Site tour"],
        "is_complaint": [False, False, True, False], "is_unresolved": [False, False, True, False],
        "resolved": [None, None, False, None], "satisfaction": [None] * 4, "note": ["a", "b", "c", "<b>d</b>"],
    })
    shown = av.with_contact_labels(interactions, "zh")
    assert list(shown["type"]) == ["电话", "拜访", "投诉", "Site tour"]      # a type the product does not know stays
    assert list(interactions["type"])[0] == "call"                         # the input is not changed
    assert list(av.activity_table(interactions, "zh")[t("acc_col_type", "zh")]) == ["电话", "拜访", "投诉", "Site tour"]
    orders = pd.DataFrame({"order_date": pd.to_datetime(["2023-06-01", "2024-05-01"]), "kind": ["order", "order"],
                           "amount": [100.0, 50.0], "lines": [1, 1], "orders": [1, 1]})
    keys = ("orders", "returns", "amount", "days_late", "contacts", "complaint", "unresolved", "on_time", "late",
            "overdue", "open", "due", "paid", "unpaid", "date")
    fig = account_timeline(orders, None, shown, {k: t(f"acc_l_{k}", "zh") for k in keys}, "标题")
    ys = {y for trace in fig.data if trace.type == "scatter" for y in trace.y}
    assert ys == {"电话", "拜访", "投诉", "Site tour"}
    for axis in ("xaxis", "xaxis2"):
        formats = [stop.value for stop in fig.layout[axis].tickformatstops]
        assert formats and not any("%b" in f or "%B" in f for f in formats)   # never English month names


# --------------------------------------------------------------------------- drill-downs
def test_a_band_button_under_the_sankey_opens_the_drill_down_under_the_table(app, world):
    _, expected = world
    at = app("flow", **{"from": "2024-06-30"})
    pills = next(b for b in at.button_group if b.label == t("polish_band_pills", "en"))
    moves = {k: n for k, n in expected["flow"].items() if n and k[0] != k[1]}
    largest = sorted(moves, key=lambda k: -moves[k])
    assert pills.options[0].startswith(t(f"stage_{largest[0][0]}", "en"))
    wanted = band_key(*largest[1])
    pills.set_value(wanted).run()
    assert not at.exception, at.exception
    box = next(s for s in at.selectbox if s.label == t("fl_band_pick", "en"))
    assert box.value == wanted
    assert len(at.dataframe[1].value) == moves[parse_band(wanted)]     # right under the transition table
    f, to = largest[1]
    band = t("fl_band", "en", source=t(f"stage_{f}", "en"), target=t(f"stage_{to}", "en"), customers=moves[(f, to)])
    assert [x.value for x in at.toast] == [t("polish_drill_toast", "en", band=band)]   # says where the list is
    assert query(at, "band") == wanted


def test_segment_choice_lives_in_the_url(app, world):
    _, expected = world
    counts = expected["rfm"]["segment"].value_counts()
    rare = counts.index[-1]
    at = app("segments", rfm=rare)
    box = next(s for s in at.selectbox if s.label == t("seg_pick", "en"))
    assert box.value == rare
    other = counts.index[-2]
    box.set_value(other).run()
    assert not at.exception, at.exception
    assert query(at, "rfm") == other
    members = [d for d in at.dataframe if len(d.value) == counts[other]]
    assert members


def test_quadrant_choice_lives_in_the_url(app, world):
    _, expected = world
    summary = expected["matrix"].set_index("quadrant")
    at = app("key_accounts", quadrant="poor")
    box = next(s for s in at.selectbox if s.label == t("ka_drill_pick", "en"))
    assert box.value == "poor"
    assert len(at.dataframe[-1].value) == int(summary.loc["poor", "customers"])
    box.set_value("direct").run()
    assert query(at, "quadrant") == "direct"
    assert len(at.dataframe[-1].value) == int(summary.loc["direct", "customers"])
    box.set_value(QUADRANTS[0]).run()
    assert query(at, "quadrant") is None


# --------------------------------------------------------------------------- a refused upload
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_refused_upload_says_why_under_the_box(app, lang):
    at = app("data", lang=lang)
    mb = int(st.get_option("server.maxUploadSize"))
    html = " ".join(e.proto.body for e in at.get("html"))
    message = t("polish_upload_refused", lang, mb=mb)
    assert "aria-invalid" in html and "::after" in html
    decoded = re.sub(r"\\\\([0-9a-f]+) ", lambda m: chr(int(m.group(1), 16)), html)   # CSS escapes
    assert message in decoded


# --------------------------------------------------------------------------- layout
def test_cards_wrap_their_comparison_and_phones_get_two_cards_a_row(app):
    """Checked by eye in Chromium at 1440×900 (the "对比 2025-04-01" under "+105"
    wraps instead of being cut) and 390×844 (two cards a row, no chart toolbar)."""
    at = app(lang="zh")
    css = " ".join(e.proto.body for e in at.get("html"))
    assert "[data-testid='stMetricDeltaDescription']" in css and "white-space: normal" in css
    phone = css[css.index("@media (max-width: 640px)"):]
    assert "calc(50% - 0.5rem)" in phone and ".modebar-container {display: none}" in phone
