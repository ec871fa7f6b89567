"""Issue 12: the meeting report has the Overview's revenue by month (same
function, same title), and its title page defines the stages in the
glossary's words (one vocabulary), with the report's own parameters."""

from __future__ import annotations

import gc
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow import glossary, report
from crmflow.config import STAGES, Params
from crmflow.headlines import money
from crmflow.i18n import t
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent

#: Three regions and a customer without one; a return in East; one line
#: before the 24-month window (left out). As of 2024-12-31 the window starts
#: on the first day of the month 24 months back: 2022-12-01 (the first order,
#: 2022-11-05, is earlier).
ORDERS = """customer_id,order_date,amount,region
A,2022-11-05,5000,North
A,2023-03-10,1000,North
A,2024-06-01,500,North
B,2023-05-20,800,East
B,2024-11-02,-200,East
C,2024-12-30,2500,South
D,2024-02-14,300,
"""
AS_OF = date(2024, 12, 31)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("polish3-report")
    (folder / "regions.csv").write_text(ORDERS, encoding="utf-8")
    with Store(folder / "crmflow.duckdb") as s:
        s.ingest("regions", folder / "regions.csv")
        yield s, s.get("regions").dataset_id


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_revenue_slide_states_the_largest_region_of_the_window(store, lang):
    s, ds = store
    slide = report.build_slide(s.db, ds, "revenue", AS_OF, lang=lang)
    assert not slide.failed and slide.message is None
    # by hand, 2022-12-01..2024-12-31: North 1,500; East 600; South 2,500; none 300 -> 4,900; South 51%
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS))
    window = frame[pd.to_datetime(frame["order_date"]) >= "2022-12-01"]
    totals = window.groupby(window["region"].fillna("(none)"))["amount"].sum()
    assert totals.to_dict() == {"North": 1500, "East": 600, "South": 2500, "(none)": 300}
    assert slide.title == t("mg_revenue_title", lang, group="South", share=2500 / 4900, total=money(4900, lang),
                            start="2022-12-01", end="2024-12-31")
    assert slide.section == t("page_overview", lang)
    # the table: largest first, the one money format, shares of the total
    assert slide.table.values.tolist() == [
        ["South", money(2500, lang), "51%"], ["North", money(1500, lang), "31%"], ["East", money(600, lang), "12%"],
        [t("mg_group_none_region", lang), money(300, lang), "6%"]]
    # the chart's bars add up, month by month, to the lines of that month
    drawn = {}
    for trace in slide.figure.data:
        for x, y in zip(trace.x, trace.y):
            key = pd.Timestamp(x).strftime("%Y-%m")
            drawn[key] = drawn.get(key, 0) + y
    by_month = window.groupby(pd.to_datetime(window["order_date"]).dt.strftime("%Y-%m"))["amount"].sum()
    assert {k: v for k, v in drawn.items() if v} == by_month.to_dict()
    assert len(drawn) == 25  # every month of the window (2022-12 to 2024-12), empty ones as 0


def test_the_revenue_slide_comes_after_the_stages_in_both_writers(store):
    s, ds = store
    assert report.SLIDE_KEYS[:3] == ("kpis", "stages", "revenue")
    slides = report.build_slides(s.db, ds, AS_OF, keys=("revenue",))
    info = report.report_info(s.db, ds, "regions", AS_OF)
    page = report.write_html(slides, info)
    assert 'id="slide-revenue"' in page and 'id="chart-revenue"' in page
    assert report.slide_heading("revenue", "zh") == "按月收入"


def test_the_overview_and_the_slide_show_the_same_revenue_title(tmp_path, monkeypatch):
    """The demo data: the Overview's revenue chart (default view) and the
    report's slide carry one title, computed by crmflow.managers.revenue_chart."""
    db = tmp_path / "crmflow.duckdb"
    with Store(db) as s:
        s.ensure_demo()
        ds = s.get("demo").dataset_id
        from crmflow.stages import data_range

        title = report.build_slide(s.db, ds, "revenue", data_range(s.db, ds)[1]).title
    gc.collect()
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    assert not at.exception, at.exception
    specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    titles = [spec["layout"].get("title", {}).get("text") for spec in specs]
    assert title in titles, titles
    st.cache_resource.clear()
    gc.collect()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_title_page_defines_the_stages_in_the_glossary_words(lang):
    params = Params(lost_after_days=90, loyal_orders=3, loyal_window_days=200)
    info = report.ReportInfo("demo", AS_OF, params, lang)
    lines = info.definitions()
    colon = ": " if lang == "en" else "："
    assert lines == [glossary.concept("stage", s).name(lang) + colon + glossary.concept("stage", s).definition(
        lang, params) for s in STAGES]
    assert [line.split(colon)[0] for line in lines] == [t(f"stage_{s}", lang) for s in STAGES]
    loyal, lost = lines[STAGES.index("loyal")], lines[STAGES.index("lost")]
    assert "3" in loyal and "200" in loyal and "90" in lost and "180" not in lost
    # with the default definitions they read as the README's glossary
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for s in STAGES:
        assert glossary.concept("stage", s).definition(lang, Params()) in readme
    assert all(line in report.write_html([], info) for line in lines)
