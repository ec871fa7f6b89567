"""The loyalty section of the Overview page (issue 17 part 3), driven by
Streamlit's AppTest in English and Chinese: the table shows the command
line's numbers, the charts are there, and a dataset without categories or
interactions says what unlocks the missing measures."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow.i18n import t
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent


def cli(db: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "crmflow", *args, "--db", str(db)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from crmflow.demo import generate

    folder = tmp_path_factory.mktemp("loyalty_pages")
    db = folder / "crmflow.duckdb"
    plain = folder / "plain.csv"
    generate().transactions[["customer_id", "order_date", "amount"]].to_csv(plain, index=False)
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("plain", plain)
    expected = {(name, by): cli(db, "loyalty", "--dataset", name, "--by", by)
                for name in ("demo", "plain") for by in ("stage", "segment")}
    return db, expected


@pytest.fixture
def app(world, monkeypatch):
    db, _ = world
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()

    def start(**query: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for k, v in {"dataset": "demo", **query}.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        return at

    yield start
    st.cache_resource.clear()
    gc.collect()


def loyalty_table(at: AppTest, lang: str) -> pd.DataFrame:
    header = t("loy_repeat_rate", lang)
    tables = [d.value for d in at.dataframe if header in list(d.value.columns)]
    assert len(tables) == 1
    return tables[0]


def pct(value) -> object:
    """The shown percentage of a share the command line printed to 4 places."""
    return "–" if value is None else pytest.approx(value * 100, abs=0.051)


def shown(column: pd.Series) -> list:
    return [v if v == "–" else float(v.rstrip("%")) for v in column]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_section_shows_the_command_line_numbers(app, world, lang):
    _, expected = world
    at = app(lang=lang)
    assert t("loy_heading", lang) in [h.value for h in at.subheader]
    table = loyalty_table(at, lang)
    groups = expected[("demo", "stage")]["groups"]
    names = [t(f"stage_{g['group']}", lang) if g["group"] != "all" else t("loy_all", lang) for g in groups]
    assert table[t("loy_col_group_stage", lang)].tolist() == names
    assert shown(table[t("loy_repeat_rate", lang)]) == [pct(g["repeat_rate"]) for g in groups]
    assert shown(table[t("loy_breadth", lang)]) == [pct(g["breadth"]) for g in groups]
    assert shown(table[t("loy_reorder_share", lang)]) == [pct(g["reorder_share"]) for g in groups]
    assert table[t("loy_col_customers", lang)].tolist() == [f"{g['customers']:,}" for g in groups]
    # every header is a label of the view's language
    for column in table.columns:
        assert column in {t(k, lang) for k in ("loy_col_group_stage", "loy_col_customers", "loy_repeat_rate",
                                                "loy_breadth", "loy_interval_cv", "loy_col_measured_regularity",
                                                "loy_col_complainers", "loy_reorder_share",
                                                "loy_col_orders_after_complaint")}
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert t("loy_regularity_chart", lang) in titles
    assert any(title.startswith(t("loy_trend_title", lang, start="", end="")[:4]) for title in titles)
    # the demo has categories and complaints: only the discount needs more data
    captions = [c.value for c in at.caption]
    assert t("loy_unlock_discount", lang) in captions and t("loy_unlock_category", lang) not in captions


def test_grouping_by_segment(app, world):
    _, expected = world
    at = app(lang="en")
    control = next(s for s in at.get("button_group") if s.label == t("loy_by", "en"))
    control.set_value("segment").run()
    assert not at.exception
    table = loyalty_table(at, "en")
    groups = expected[("demo", "segment")]["groups"]
    assert table[t("loy_col_group_segment", "en")].tolist()[:-1] == [t(f"segment_{g['group']}", "en")
                                                                     for g in groups[:-1]]
    assert shown(table[t("loy_repeat_rate", "en")]) == [pct(g["repeat_rate"]) for g in groups]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_without_categories_or_interactions_the_section_says_what_to_upload(app, world, lang):
    _, expected = world
    at = app(dataset="plain", lang=lang)
    table = loyalty_table(at, lang)
    assert t("loy_breadth", lang) not in table.columns and t("loy_reorder_share", lang) not in table.columns
    groups = expected[("plain", "stage")]["groups"]
    assert shown(table[t("loy_repeat_rate", lang)]) == [pct(g["repeat_rate"]) for g in groups]
    captions = [c.value for c in at.caption]
    for key in ("loy_unlock_category", "loy_unlock_complaints", "loy_unlock_discount"):
        assert t(key, lang) in captions
