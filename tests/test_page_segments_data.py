"""The Segments and Data pages: the package functions behind them
(crmflow.segments_table, crmflow.charts.segments) on hand-made frames, then the
pages driven by Streamlit's AppTest.

The AppTests share one database with four datasets: the demo data, the demo
transactions reduced to the three required columns (``plain``), a single
customer with a single order (``single``) and a file of returns only
(``returns``: no order at all). The numbers the pages show are compared with
the command line (``rfm``, ``stages``) and the package, computed before the app
opens the file. Renaming and deleting run on a database of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crmflow import model
from crmflow.account_view import compact
from crmflow.analytics import rfm, segments
from crmflow.charts.segments import (
    backtest_bars,
    cohort_heatmap,
    segment_treemap,
    value_histogram,
)
from crmflow.config import STAGES, Params
from crmflow.exports import safe_csv, safe_excel
from crmflow.i18n import t
from crmflow.segments_table import (
    CUSTOMER_TABLE_COLUMNS,
    ModelNote,
    backtest_view,
    build_customer_table,
    cohort_headline,
    download_frame,
    fit_notes,
    segment_headline,
    segment_view,
    top_revenue_segment,
    value_concentration,
    verdict,
)
from crmflow.stages import customer_stages, data_range
from crmflow.store import Store
from crmflow.upload import COVERAGE_ITEMS

ROOT = Path(__file__).resolve().parent.parent
SINGLE = "customer_id,order_date,amount\nS1,2024-05-02,250\n"
RETURNS = "customer_id,order_date,amount\nR1,2024-03-01,-10\nR2,2024-03-02,-20\n"


# =========================================================================== package: the all-customers table
def stages_frame(rows):
    return pd.DataFrame(rows, columns=["customer_id", "stage"])


def rfm_frame(rows):
    cols = ["customer_id", "segment", "r_score", "f_score", "m_score", "recency_days", "frequency", "monetary"]
    df = pd.DataFrame(rows, columns=cols)
    df["first_order_date"] = date(2024, 1, 1)
    df["last_order_date"] = date(2024, 6, 1)
    return df


def test_customer_table_has_every_existing_customer_once():
    stages = stages_frame([("B", "loyal"), ("A", "first"), ("L", "potential"), ("Z", "none")])
    scores = rfm_frame([("A", "new", 5, 1, 2, 3, 1, 10.0), ("B", "champions", 5, 5, 5, 1, 9, 900.0)])
    preds = pd.DataFrame({"customer_id": ["A", "B"], "p_alive": [0.5, 0.9], "expected_orders": [0.2, 3.0],
                          "expected_value": [2.0, 270.0], "frequency": [0.0, 8.0]})
    table = build_customer_table(stages, scores, preds)
    assert tuple(table.columns) == CUSTOMER_TABLE_COLUMNS
    assert list(table["customer_id"]) == ["A", "B", "L"]  # `none` (not a customer yet at D) left out
    assert list(table["stage"]) == ["first", "loyal", "potential"]
    lead = table.iloc[2]
    assert lead["segment"] is None or pd.isna(lead["segment"])
    assert pd.isna(lead["r_score"]) and pd.isna(lead["expected_value"])
    assert table.loc[1, "r_score"] == 5 and str(table["r_score"].dtype) == "Int64"
    assert table.loc[1, "expected_value"] == 270.0 and table.loc[0, "p_alive"] == 0.5


def test_customer_table_without_a_model_has_empty_predictions():
    table = build_customer_table(stages_frame([("A", "first")]), rfm_frame([("A", "new", 1, 1, 1, 0, 1, 5.0)]), None)
    assert table[["p_alive", "expected_orders", "expected_value"]].isna().all().all()


def test_download_frame_is_in_words_and_safe_to_export():
    stages = stages_frame([("=cmd", "loyal"), ("L", "potential")])
    scores = rfm_frame([("=cmd", "cant_lose", 1, 5, 5, 400, 9, 1234.567)])
    out = download_frame(build_customer_table(stages, scores, None), "zh")
    assert list(out.columns)[:3] == ["客户编号", "客户分群", "截至日期的阶段"]
    assert out.iloc[0, 1] == "沉寂的头部买家" and out.iloc[0, 2] == "忠诚客户" and out.iloc[1, 1] == ""
    assert out.iloc[0]["消费金额（收入）"] == 1234.57
    assert "'=cmd" in safe_csv(out)
    assert safe_excel(out)[:2] == b"PK"


def test_segment_view_matches_rfm_stages_and_the_model(load):
    text = "customer_id,order_date,amount\n" + "".join(
        f"C{c},2024-{m:02d}-{d:02d},{10 * c + m}\n" for c in range(1, 9) for m in range(1, 2 + c % 6) for d in (3,))
    store, ds = load(text, "customer_id,name\nC1,A\nLEAD,B\n")
    d = date(2024, 7, 1)
    view = segment_view(store.db, ds, d, Params())
    scores = rfm(store.db, ds, d)
    stages = customer_stages(store.db, ds, d, Params())
    assert len(view.customers) == int((stages["stage"] != "none").sum()) == 9
    assert view.customers.set_index("customer_id").loc["LEAD", "stage"] == "potential"
    merged = view.customers.dropna(subset=["segment"]).set_index("customer_id")
    assert merged["segment"].to_dict() == scores.set_index("customer_id")["segment"].to_dict()
    assert int(view.summary["customers"].sum()) == len(scores)
    preds, _ = model.customer_values(store.db, ds, d)
    assert np.allclose(merged.loc[preds["customer_id"], "expected_value"], preds["expected_value"])
    # the notes are the fit's own (issue 13: e.g. an edge fit in words), in both languages
    assert view.has_model and view.notes and all(n.key.startswith(("seg_clv_note_", "clv_", "clvchoice_"))
                                                 for n in view.notes)
    assert all(n.text("en") and n.text("zh") for n in view.notes)


def test_segment_view_and_backtest_never_raise_on_a_single_order(load):
    store, ds = load(SINGLE)
    view = segment_view(store.db, ds, date(2024, 5, 2), Params())
    assert len(view.customers) == 1 and view.customers.loc[0, "segment"] == "lost"
    # one buyer without repeats (issue 13): nobody repeats, so no further orders are expected,
    # and no spend model, said in words; too short a history for a choice by backtest
    assert view.has_model
    assert [n.key for n in view.notes] == ["clv_purchase_no_repeaters", "seg_clv_note_spend_fallback"]
    assert view.choice.key == "clvchoice_choice_short"
    bt = backtest_view(store.db, ds, date(2024, 5, 2))
    assert bt.result is None and bt.verdict is None and "nothing to fit" in bt.error.line()


def test_fit_notes_say_in_words_how_the_fit_went():
    summary = pd.DataFrame({"frequency": [0.0, 2.0, 3.0]})
    ok = SimpleNamespace(penalized_=False, note_key_="clv_purchase_converged", note_params_={})
    soft = SimpleNamespace(penalized_=True, note_key_="clv_spend_regularised", note_params_={"customers": 2})
    bad = SimpleNamespace(penalized_=True, note_key_="clv_purchase_failed",
                          note_params_={"model": "BG/NBD", "customers": 3, "repeat": 2})
    notes = fit_notes(SimpleNamespace(summary=summary, purchase=ok, gamma_gamma=soft))
    assert [n.key for n in notes] == ["seg_clv_note_converged", "clv_spend_regularised"]
    assert notes[0].values == {"model": "seg_clv_model_purchase", "customers": 3, "repeat": 2}
    assert notes[0].text("en") == "The purchase model fitted well (3 customers, 2 of them bought more than once)."
    assert notes[1].text("zh").startswith("消费金额模型在这份数据上未收敛") and notes[1].level == "warning"
    notes = fit_notes(SimpleNamespace(summary=summary, purchase=bad, gamma_gamma=None))
    assert [n.key for n in notes] == ["clv_purchase_failed", "seg_clv_note_spend_fallback"]
    assert notes[0].text("en").startswith("The purchase model (BG/NBD) could not be fitted")
    assert ModelNote("seg_clv_note_spend_fallback").text("zh").startswith("无法拟合消费金额模型")


# =========================================================================== package: the numbers in the titles
def summary_frame(rows):
    df = pd.DataFrame(rows, columns=["segment", "customers", "customer_share", "revenue_share", "mean_monetary"])
    df["revenue"] = 0.0
    return df


def test_segment_headline_prefers_champions_then_the_largest_revenue_share():
    s = summary_frame([("champions", 2, 0.2, 0.5, 10), ("loyal", 8, 0.8, 0.5, 5)])
    h = segment_headline(s)
    assert (h.segment, h.customers, h.customer_share, h.revenue_share) == ("champions", 2, 0.2, 0.5)
    s = summary_frame([("champions", 0, 0.0, np.nan, np.nan), ("loyal", 3, 0.3, 0.2, 5), ("lost", 7, 0.7, 0.8, 1)])
    assert segment_headline(s).segment == "lost" and top_revenue_segment(s).segment == "lost"
    s = summary_frame([("loyal", 3, 0.3, np.nan, -5), ("lost", 7, 0.7, np.nan, -1)])  # total revenue <= 0
    h = segment_headline(s)
    assert h.segment == "lost" and h.revenue_share is None and top_revenue_segment(s) is None
    assert segment_headline(summary_frame([("loyal", 0, np.nan, np.nan, np.nan)])) is None


def test_cohort_headline_is_the_mean_month_one_value_of_finished_months():
    rows = [(date(2024, 1, 1), 0, date(2024, 1, 1), 1.0), (date(2024, 1, 1), 1, date(2024, 2, 1), 0.4),
            (date(2024, 2, 1), 0, date(2024, 2, 1), 1.0), (date(2024, 2, 1), 1, date(2024, 3, 1), 0.2),
            (date(2024, 3, 1), 0, date(2024, 3, 1), 1.0), (date(2024, 3, 1), 1, date(2024, 4, 1), 0.9)]
    frame = pd.DataFrame(rows, columns=["cohort_month", "month_offset", "activity_month", "retention"])
    assert cohort_headline(frame, date(2024, 4, 15)) == pytest.approx(0.3)  # April not over: 0.9 left out
    assert cohort_headline(frame, date(2024, 4, 30)) == pytest.approx(0.5)
    only = frame[frame["cohort_month"] == date(2024, 3, 1)]
    assert cohort_headline(only, date(2024, 4, 2)) == pytest.approx(0.9)  # no month 1 is over yet: use what there is
    assert cohort_headline(frame[frame["month_offset"] == 0], date(2024, 4, 30)) is None


def test_value_concentration_and_verdict():
    c = value_concentration(pd.Series([50.0, 10, 10, 10, 10, 5, 5, 0, 0, 0, 0, np.nan]))
    assert (c.customers, c.top10_customers, c.total) == (11, 2, 100.0)
    assert c.top10_share == pytest.approx(0.6) and c.median == 5.0
    assert value_concentration([0.0, 0.0]).top10_share is None
    assert value_concentration([]).customers == 0
    assert [verdict(p, 100) for p in (85, 115, 116, 65, 136)] == ["close", "close", "rough", "rough", "off"]
    assert verdict(3.0, 0) is None


# =========================================================================== package: charts
def test_charts_carry_the_titles_and_keys():
    s = summary_frame([("champions", 2, 0.2, 0.5, 10), ("loyal", 8, 0.8, 0.5, 5), ("lost", 0, 0.0, 0.0, np.nan)])
    names = {k: t(f"segment_{k}", "zh") for k in segments()}
    fig = segment_treemap(s, names, t("seg_tile", "zh"), t("seg_tile_no_revenue", "zh"), "T", "c", "m")
    tm = fig.data[0]
    assert list(tm.ids) == ["all", "champions", "loyal"] and list(tm.values) == [10, 2, 8]  # ids = segment keys
    assert list(tm.parents) == ["", "all", "all"]
    assert tm.text[1] == "冠军买家<br>2 · 收入占 50%" and fig.layout.title.text == "T"
    matrix = pd.DataFrame([[1.0, 0.4, 0.2], [1.0, 0.3, np.nan]], index=[date(2024, 1, 1), date(2024, 2, 1)],
                          columns=[0, 1, 2])
    heat = cohort_heatmap(matrix, "H", "x", "y", "c", percent=True)
    assert heat.data[0].zmax == pytest.approx(0.4) and list(heat.data[0].y) == ["2024-01", "2024-02"]
    hist = value_histogram(pd.Series(list(range(100)) + [10_000.0]), "V", "x", "y")
    assert max(hist.data[0].x) < 100 and len(hist.data[0].x) == 101
    bars = backtest_bars(pd.DataFrame({"decile": [1, 2], "predicted": [5.0, 2.0], "actual": [4, 3]}), "P", "A",
                         "B", "x", "y")
    assert [b.name for b in bars.data] == ["P", "A"] and bars.layout.title.text == "B"


# =========================================================================== the pages
def cli(db: Path, *args: str):
    out = subprocess.run([sys.executable, "-m", "crmflow", *args, "--db", str(db)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout)


def segment_counts(rows: list[dict]) -> dict[str, int]:
    keys = {t(f"segment_{k}", "en"): k for k in segments()}
    out: dict[str, int] = {}
    for r in rows:
        out[keys[r["segment"]]] = out.get(keys[r["segment"]], 0) + 1
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The database file and every number the pages must show, from the CLI and
    the package (computed before any app holds the file)."""
    from crmflow.demo import generate

    folder = tmp_path_factory.mktemp("segments")
    db = folder / "crmflow.duckdb"
    generate().transactions[["customer_id", "order_date", "amount"]].to_csv(folder / "plain.csv", index=False)
    (folder / "single.csv").write_text(SINGLE, encoding="utf-8")
    (folder / "returns.csv").write_text(RETURNS, encoding="utf-8")
    expected: dict = {}
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("plain", folder / "plain.csv")
        store.ingest("single", folder / "single.csv")
        store.ingest("returns", folder / "returns.csv")
        for name in ("demo", "plain", "single"):
            ds = store.get(name).dataset_id
            last = data_range(store.db, ds)[1]
            view = segment_view(store.db, ds, last, Params())
            expected[name] = {"last": last, "summary": view.summary, "customers": view.customers,
                              "backtest": backtest_view(store.db, ds, last),
                              "coverage": store.db.run("data_coverage", dataset_id=ds).iloc[0].to_dict()}
    for name in ("demo", "plain", "single"):
        expected[name]["rfm"] = cli(db, "rfm", "--dataset", name)
        expected[name]["stages"] = cli(db, "stages", "--dataset", name)["counts"]
    return db, expected


@pytest.fixture(scope="module")
def scratch_db(tmp_path_factory):
    """A database of its own for renaming and deleting: the demo and one more."""
    folder = tmp_path_factory.mktemp("datasets")
    db = folder / "crmflow.duckdb"
    (folder / "single.csv").write_text(SINGLE, encoding="utf-8")
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("old name", folder / "single.csv")
        store.ingest("keep", folder / "single.csv")
    return db


OPTIONS = {"defaults": {"dataset": "demo"}, "timeout": 120}


@pytest.fixture
def app(world, app_factory):
    return app_factory(world[0], **OPTIONS)


@pytest.fixture
def scratch_app(scratch_db, app_factory):
    return app_factory(scratch_db, **OPTIONS)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def segment_table_counts(at: AppTest, lang: str) -> dict[str, int]:
    keys = {t(f"segment_{k}", lang): k for k in segments()}
    table = at.dataframe[0].value
    return {keys[s]: int(n) for s, n in zip(table[t("seg_col_segment", lang)], table[t("seg_col_customers", lang)])
            if n > 0}


def expected_title(summary: pd.DataFrame, lang: str) -> str:
    h = segment_headline(summary)
    return t("seg_title", lang, segment=t(f"segment_{h.segment}", lang), customer_share=h.customer_share,
             revenue_share=h.revenue_share)


# --------------------------------------------------------------------------- Segments
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_segments_page_shows_the_cli_segments_and_the_model(app, world, lang):
    _, expected = world
    e = expected["demo"]
    at = app("segments", lang=lang)
    # the segment table counts are the command line's `rfm`
    cli_counts = segment_counts(e["rfm"])
    assert segment_table_counts(at, lang) == cli_counts
    assert sum(cli_counts.values()) == len(e["rfm"])
    # the title states the finding with the command line's numbers
    champions = [r for r in e["rfm"] if r["segment"] == "Champions"]
    share = len(champions) / len(e["rfm"])
    revenue = sum(r["monetary"] for r in champions) / sum(r["monetary"] for r in e["rfm"])
    title = at.subheader[0].value
    assert title == t("seg_title", lang, segment=t("segment_champions", lang), customer_share=share,
                      revenue_share=revenue) == expected_title(e["summary"], lang)
    titles = chart_titles(at)
    assert len(titles) == 7  # treemap, cohort heatmap, value histogram, backtest; track record, groups, new customer
    assert t("seg_cohort_title_retention", lang, share=0)[:6] in titles[1]
    # CLV and backtest numbers are the package's
    shown = metrics(at)
    values = e["customers"]["expected_value"].dropna()
    assert shown[t("seg_clv_metric_total", lang)] == compact(values.sum(), lang)   # the one money format
    bt = e["backtest"].result
    assert shown[t("seg_bt_metric_predicted", lang)] == f"{bt['predicted_orders']:,.0f}"
    assert shown[t("seg_bt_metric_actual", lang)] == f"{bt['actual_orders']:,}"
    assert shown[t("seg_bt_metric_mae", lang)] == f"{bt['mean_absolute_error']:,.2f}"
    # the download has every customer that exists at D: the stage counts of the command line
    everyone = sum(e["stages"][s] for s in STAGES)
    assert t("seg_download_caption", lang, customers=everyone, as_of=e["last"].isoformat()) in texts(at)
    assert len(e["customers"]) == everyone


def test_segments_drill_down_and_cohort_toggle(app, world):
    _, expected = world
    cli_counts = segment_counts(expected["demo"]["rfm"])
    at = app("segments")
    pick = at.selectbox(key="segments:pick")
    assert pick.value == "champions"
    pick.set_value("at_risk").run()
    assert not at.exception
    members = [m for m in texts(at) if m.startswith("**" + t("segment_at_risk", "en") + ":")]
    assert members and f"{cli_counts['at_risk']:,} customers" in members[0]
    at.radio(key="segments:cohort_value").set_value("revenue").run()
    assert not at.exception
    assert any(title.startswith("On average a cohort brings") for title in chart_titles(at))


def test_segments_page_on_required_columns_only(app, world):
    _, expected = world
    e = expected["plain"]
    at = app("segments", dataset="plain", lang="zh")
    assert segment_table_counts(at, "zh") == segment_counts(e["rfm"])
    assert at.subheader[0].value == expected_title(e["summary"], "zh")


def test_segments_page_on_a_single_customer(app, world):
    _, expected = world
    at = app("segments", dataset="single", lang="zh")
    assert segment_table_counts(at, "zh") == {"lost": 1} == segment_counts(expected["single"]["rfm"])
    assert at.subheader[0].value.startswith(t("segment_lost", "zh"))


# --------------------------------------------------------------------------- Data
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_data_page_lists_datasets_and_what_the_demo_unlocks(app, world, lang):
    _, expected = world
    at = app("data", lang=lang)
    listing = at.dataframe[0].value
    assert set(listing[t("data_col_name", lang)]) == {"demo", "plain", "single", "returns"}
    demo = listing.set_index(t("data_col_name", lang)).loc["demo"]
    assert demo[t("data_col_customers", lang)] == sum(expected["demo"]["stages"].values())  # every customer known
    coverage = at.dataframe[-1].value
    rows = dict(zip(coverage[t("data_col_item", lang)], coverage[t("data_col_rows", lang)]))
    for key in COVERAGE_ITEMS:
        assert rows[t(f"data_item_{key}", lang)] == int(expected["demo"]["coverage"][key]), key
    assert at.subheader[0].value == t("data_upload_heading", lang)
    assert t("data_need_transactions", lang) in [i.value for i in at.info]
    assert any(str(500) in c for c in texts(at))  # the upload size limit from .streamlit/config.toml


def test_data_page_says_what_a_required_only_dataset_misses(app, world):
    at = app("data", dataset="plain")
    coverage = at.dataframe[-1].value.set_index(t("data_col_item", "en"))
    present = coverage[t("data_col_present", "en")]
    assert all(present[t(f"data_item_{k}", "en")] == "—" for k in COVERAGE_ITEMS)
    assert "Profit" in coverage.loc[t("data_item_cost", "en"), t("data_col_unlocks", "en")]


def dataset_names(at: AppTest) -> set[str]:
    return set(at.dataframe[0].value[t("data_col_name", "en")])


def test_rename_and_delete_with_confirmation(scratch_app):
    at = scratch_app("data")
    assert dataset_names(at) == {"demo", "old name", "keep"}
    at.selectbox(key="data:manage").set_value("old name").run()
    at.text_input(key="data:rename_to").input("new name").run()
    at.button(key="data:rename").click().run()
    assert not at.exception and dataset_names(at) == {"demo", "new name", "keep"}
    assert at.selectbox(key="data:manage").value == "new name"
    assert any("new name" in s.value for s in at.success)
    # a taken name is a one-line error; nothing changes
    at.text_input(key="data:rename_to").input("demo").run()
    at.button(key="data:rename").click().run()
    assert not at.exception and at.error and "already exists" in at.error[0].value
    assert dataset_names(at) == {"demo", "new name", "keep"}
    # delete asks first; cancel keeps it
    at.button(key="data:delete").click().run()
    assert any("new name" in w.value for w in at.warning)
    at.button(key="data:delete_cancel").click().run()
    assert not at.exception and dataset_names(at) == {"demo", "new name", "keep"}
    at.button(key="data:delete").click().run()
    at.button(key="data:delete_yes").click().run()
    assert not at.exception and dataset_names(at) == {"demo", "keep"}


def test_deleting_the_demo_and_creating_it_again(scratch_app):
    at = scratch_app("data")
    assert "keep" in dataset_names(at)
    at.selectbox(key="data:manage").set_value("demo").run()
    at.button(key="data:delete").click().run()
    at.button(key="data:delete_yes").click().run()
    assert not at.exception and "demo" not in dataset_names(at)
    assert t("data_demo_missing", "en") in [i.value for i in at.info]
    at.button(key="data:demo").click().run()
    assert not at.exception and "demo" in dataset_names(at)
    # deleting the last dataset brings the demo back at once: the dashboard always has data to show
    for name in sorted(dataset_names(at) - {"demo"}):
        at.selectbox(key="data:manage").set_value(name).run()
        at.button(key="data:delete").click().run()
        at.button(key="data:delete_yes").click().run()
    at.selectbox(key="data:manage").set_value("demo").run()
    at.button(key="data:delete").click().run()
    at.button(key="data:delete_yes").click().run()
    assert not at.exception and dataset_names(at) == {"demo"}
