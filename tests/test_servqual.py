"""Issue 17 part 2, Servqual: the survey table (long and wide form, Chinese
headers, GBK bytes, scores out of the scale, no customer id), the gaps worked
out by hand, the churn comparison by hand, the command line, the demo survey,
and the Service quality page in both languages (AppTest)."""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from scipy import stats
from streamlit.testing.v1 import AppTest

from crmflow import servqual
from crmflow.errors import CrmflowError
from crmflow.i18n import t
from crmflow.store import Store, load_file_dataset
from crmflow.survey_ingest import wide_pairs

ROOT = Path(__file__).resolve().parent.parent

TX = "customer_id,order_date,amount,region\nA,2024-01-05,100,North\nB,2024-01-06,50,South\nC,2024-01-07,70,North\n" \
     "A,2024-06-30,20,North\n"
# Long form, with a dimension column for two non-standard items and standard items without one.
LONG = """response,customer_id,date,item,dimension,expectation,perception
r1,A,2024-02-01,Q5,,6,4
r1,A,2024-02-01,Q6,,7,6
r1,A,2024-02-01,Q1,,5,5
r2,B,2024-03-15,Q5,,5,5
r2,B,2024-03-15,Q6,,6,3
r2,B,2024-03-15,Clean rooms,tangibles,4,5
r3,C,2024-05-20,Q5,,7,6
r3,C,2024-05-20,Q6,,7,7
r3,C,2024-05-20,Q1,,6,3
"""


def ingest(tmp_path, surveys_text: str, *, name="s.csv", encoding="utf-8", tx=TX, **kw):
    (tmp_path / "t.csv").write_text(tx, encoding="utf-8")
    (tmp_path / name).write_bytes(surveys_text.encode(encoding))
    return load_file_dataset(tmp_path / "t.csv", surveys=tmp_path / name, **kw)


def survey_report(result):
    return next(r for r in result.reports if r.table == "surveys")


# =========================================================================== reading the survey
def test_long_form_gaps_by_hand(tmp_path):
    store, result = ingest(tmp_path, LONG)
    with store:
        ds = result.dataset.dataset_id
        items = servqual.item_gaps(store.db, ds, date(2024, 6, 30)).set_index("item")
        # Q5 gaps: -2, 0, -1 -> mean -1, sd 1, interval -1 ± t(0.975, 2) / sqrt(3)
        assert items.loc["Q5", "dimension"] == "reliability"
        assert items.loc["Q5", "gap"] == pytest.approx(-1.0)
        half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
        assert items.loc["Q5", "ci_low"] == pytest.approx(-1 - half)
        assert items.loc["Q5", "ci_high"] == pytest.approx(-1 + half)
        # Q6 gaps: -1, -3, 0 -> mean -4/3; Q1 (tangibles): 0, -3 -> -1.5; "Clean rooms" (named tangibles): +1
        assert items.loc["Q6", "gap"] == pytest.approx(-4 / 3)
        assert items.loc["Q1", "gap"] == pytest.approx(-1.5) and items.loc["Q1", "dimension"] == "tangibles"
        assert items.loc["Clean rooms", "gap"] == pytest.approx(1.0) and items.loc["Clean rooms", "answers"] == 1
        assert math.isnan(items.loc["Clean rooms", "ci_low"])  # one answer: no interval
        assert list(items.index) == ["Q1", "Clean rooms", "Q5", "Q6"]  # dimension order, then item number
        # dimension per response first: reliability r1 (-2-1)/2 = -1.5, r2 (0-3)/2 = -1.5, r3 (-1+0)/2 = -0.5
        responses = servqual.response_dimensions(store.db, ds, date(2024, 6, 30))
        dims = servqual.dimension_gaps(responses).set_index("dimension")
        assert dims.loc["reliability", "gap"] == pytest.approx(-3.5 / 3)
        assert dims.loc["reliability", "responses"] == 3
        assert dims.loc["reliability", "expectation"] == pytest.approx((6.5 + 5.5 + 7) / 3)
        # tangibles: r1 0, r2 +1, r3 -3
        assert dims.loc["tangibles", "gap"] == pytest.approx(-2 / 3)
        assert list(dims.index) == ["tangibles", "reliability"]
        # as of D: answers after D are left out
        early = servqual.item_gaps(store.db, ds, date(2024, 3, 31)).set_index("item")
        assert early.loc["Q5", "answers"] == 2 and early.loc["Q5", "gap"] == pytest.approx(-1.0)


def test_wide_form_chinese_headers_in_gbk_is_melted(tmp_path):
    wide = ("填写日期,客户编号,期望1,感知1,期望5,感知5\n"
            "2024-01-10,A,6,5,7,4\n"
            "2024-02-10,B,5,5,6,6\n"
            "2024-03-10,,7,6,5,3\n")
    store, result = ingest(tmp_path, wide, encoding="gbk")
    with store:
        report = survey_report(result)
        assert report.encoding == "GB18030/GBK"
        assert report.rows_read == 6 and report.rows_loaded == 6 and report.rows_rejected == 0
        assert report.mapping["date"] == "填写日期" and report.mapping["customer_id"] == "客户编号"
        assert any(getattr(w, "key", "") == "survey_wide" for w in report.warnings)
        items = servqual.item_gaps(store.db, result.dataset.dataset_id, date(2024, 6, 30)).set_index("item")
        assert items.loc["Q1", "dimension"] == "tangibles" and items.loc["Q5", "dimension"] == "reliability"
        assert items.loc["Q1", "gap"] == pytest.approx((-1 + 0 - 1) / 3)
        assert items.loc["Q5", "gap"] == pytest.approx((-3 + 0 - 2) / 3)
        cov = servqual.coverage(store.db, result.dataset.dataset_id)
        assert cov["answers"] == 6 and cov["answers_with_customer"] == 4  # the third response is anonymous
        # one response per file row: each dimension has 3 responses
        responses = servqual.response_dimensions(store.db, result.dataset.dataset_id, date(2024, 6, 30))
        assert servqual.dimension_gaps(responses)["responses"].tolist() == [3, 3]


@pytest.mark.parametrize("headers, pairs", [
    (["date", "Q1_E", "Q1_P", "Q2_E", "Q2_P"], [("Q1", 1, 2), ("Q2", 3, 4)]),
    (["E1", "P1", "when"], [("Q1", 0, 1)]),
    (["Q3 expectation", "Q3 perception"], [("Q3", 0, 1)]),
    (["date", "item", "expectation", "perception"], []),  # the long form is not a pair
    (["期望3", "感知3", "期望4"], [("Q3", 0, 1)]),  # an item without its perception is no pair
])
def test_wide_pairs(headers, pairs):
    assert wide_pairs(headers) == pairs


def test_out_of_scale_and_unusable_rows_are_counted_with_reasons(tmp_path):
    rows = ["date,item,expectation,perception"]
    rows += [f"2024-01-{d:02d},Q{(d % 22) + 1},{(d % 7) + 1},{((d + 3) % 7) + 1}" for d in range(1, 29)] * 2
    rows += ["2024-02-01,Q2,11,5",       # above 10: out of every scale (the others fit 1-7)
             "2024-02-01,Q2,-1,5",       # below 1
             "2024-02-02,Q3,5,",         # no perception
             "2024-02-03,Q4,abc,5",      # not a number
             ",Q4,5,5",                  # no date
             "2024-02-04,,5,5",          # no item
             "2024-02-05,Q30,5,5",       # not one of the 22 standard items, no dimension column
             ]
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_read == 63 and report.rows_loaded == 56 and report.rows_rejected == 7
        assert report.rejected_by_reason == {
            "expectation score is outside the scale": 2, "missing perception score": 1,
            "expectation score is not a number": 1, "missing date": 1, "missing survey item": 1,
            "item has no Servqual dimension": 1}
        assert any(getattr(w, "key", "") == "survey_scale" and w.params["top"] == 7 for w in report.warnings)
        rejected = store.rejected_rows(result.dataset.name)
        assert (rejected["source"] == "surveys").sum() == 7


def test_scale_one_to_ten_is_detected(tmp_path):
    rows = ["date,item,expectation,perception"] + [f"2024-01-0{d},Q{d},{d + 5},{d + 2}" for d in range(1, 6)]
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        assert survey_report(result).rows_loaded == 5
        assert servqual.coverage(store.db, result.dataset.dataset_id)["scale_max"] == 10


def test_unknown_dimension_is_rejected_and_named_dimensions_are_read(tmp_path):
    text = ("日期,题目,维度,期望分,感知分\n2024-01-02,准时交货,可靠性,6,4\n2024-01-02,员工礼貌,保证性,6,6\n"
            "2024-01-02,价格,价格感,5,5\n")
    store, result = ingest(tmp_path, text)
    with store:
        report = survey_report(result)
        assert report.rejected_by_reason == {"not a Servqual dimension": 1}
        items = servqual.item_gaps(store.db, result.dataset.dataset_id, date(2024, 6, 30))
        assert dict(zip(items["item"], items["dimension"])) == {"准时交货": "reliability", "员工礼貌": "assurance"}


def test_map_override_for_the_survey(tmp_path):
    text = "when,question,want,got\n2024-01-02,Q7,6,5\n"
    store, result = ingest(tmp_path, text, overrides={"surveys": {"date": "when", "item": "question",
                                                                  "expectation": "want", "perception": "got"}})
    with store:
        items = servqual.item_gaps(store.db, result.dataset.dataset_id, date(2024, 6, 30))
        assert items[["item", "dimension", "gap"]].values.tolist() == [["Q7", "reliability", -1.0]]


def test_replace_and_delete_keep_the_survey_in_step(tmp_path):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text(LONG, encoding="utf-8")
    with Store(tmp_path / "db.duckdb") as store:
        store.ingest("x", tmp_path / "t.csv", surveys=tmp_path / "s.csv")
        assert store.db._con.execute("SELECT COUNT(*) FROM surveys").fetchone()[0] == 9
        store.ingest("x", tmp_path / "t.csv", replace=True)  # replaced without a survey
        assert store.db._con.execute("SELECT COUNT(*) FROM surveys").fetchone()[0] == 0
        store.ingest("y", tmp_path / "t.csv", surveys=tmp_path / "s.csv")
        store.delete("y")
        assert store.db._con.execute("SELECT COUNT(*) FROM surveys").fetchone()[0] == 0


# =========================================================================== trend, groups, churn
def test_trend_and_groups_by_hand(tmp_path):
    store, result = ingest(tmp_path, LONG)
    with store:
        ds = result.dataset.dataset_id
        view = servqual.servqual_view(store.db, ds, date(2024, 6, 30), period="quarter", by="region")
        rel = view.trend[view.trend["dimension"] == "reliability"].set_index("period")
        assert rel.loc[date(2024, 1, 1), "gap"] == pytest.approx((-1.5 - 1.5) / 2)  # r1, r2 in Q1
        assert rel.loc[date(2024, 4, 1), "gap"] == pytest.approx(-0.5)  # r3 in Q2
        monthly = servqual.gap_trend(servqual.response_dimensions(store.db, ds, date(2024, 6, 30)), "month")
        assert sorted(set(monthly["period"])) == [date(2024, 2, 1), date(2024, 3, 1), date(2024, 5, 1)]
        groups = view.by_group.set_index(["group", "dimension"])
        # North: A (r1) and C (r3); South: B (r2)
        assert groups.loc[("North", "reliability"), "gap"] == pytest.approx((-1.5 - 0.5) / 2)
        assert groups.loc[("North", "reliability"), "responses"] == 2
        assert groups.loc[("South", "tangibles"), "gap"] == pytest.approx(1.0)
        table = servqual.group_table(view, "zh")
        assert list(table.columns) == ["区域", "答卷数", "有形性", "可靠性"]


def test_compare_lost_by_hand():
    # 20 worst customers, 12 lost; 60 others, 12 lost: z-test with the pooled share 24/80
    worst = pd.Series([True] * 20 + [False] * 60)
    lost = pd.Series([True] * 12 + [False] * 8 + [True] * 12 + [False] * 48)
    diff, low, high, p, method = servqual.compare_lost(lost, worst)
    assert method == "z"
    assert diff == pytest.approx(0.6 - 0.2)
    pooled = 24 / 80
    z = 0.4 / math.sqrt(pooled * (1 - pooled) * (1 / 20 + 1 / 60))
    assert p == pytest.approx(2 * (1 - stats.norm.cdf(z)))
    # the interval: Newcombe's hybrid score interval from the two Wilson intervals (written out here)
    zc = 1.959964

    def wilson(x, n):
        p = x / n
        mid, half = p + zc ** 2 / (2 * n), zc * math.sqrt(p * (1 - p) / n + zc ** 2 / (4 * n ** 2))
        return (mid - half) / (1 + zc ** 2 / n), (mid + half) / (1 + zc ** 2 / n)

    (l1, u1), (l2, u2) = wilson(12, 20), wilson(12, 60)
    assert low == pytest.approx(0.4 - math.sqrt((0.6 - l1) ** 2 + (u2 - 0.2) ** 2), abs=1e-6)
    assert high == pytest.approx(0.4 + math.sqrt((u1 - 0.6) ** 2 + (0.2 - l2) ** 2), abs=1e-6)
    # a count below 5: Fisher's exact test
    worst = pd.Series([True] * 4 + [False] * 6)
    lost = pd.Series([True, True, True, False] + [True] + [False] * 5)
    diff, _, _, p, method = servqual.compare_lost(lost, worst)
    assert method == "fisher" and diff == pytest.approx(0.75 - 1 / 6)
    assert p == pytest.approx(stats.fisher_exact([[3, 1], [1, 5]])[1])


def churn_fixture() -> tuple[str, str]:
    """Twelve customers who bought on 2024-01-02; C1-C3 never again (lost at D =
    2024-12-31 with 180 days), the others also in December. Reliability gaps: C1-C3
    -3 (the worst quarter), C4 -2, the rest 0."""
    tx = ["customer_id,order_date,amount"]
    for i in range(1, 13):
        tx.append(f"C{i},2024-01-02,10")
        if i > 3:
            tx.append(f"C{i},2024-12-31,10")
    sv = ["customer_id,date,item,expectation,perception"]
    for i in range(1, 13):
        p = 3 if i <= 3 else 4 if i == 4 else 6
        sv.append(f"C{i},2024-02-01,Q5,6,{p}")
        sv.append(f"C{i},2024-02-01,Q1,6,6")
    sv.append(",2024-02-01,Q5,6,1")  # anonymous: in the gaps, not in the churn comparison
    return "\n".join(tx) + "\n", "\n".join(sv) + "\n"


def test_churn_relation_by_hand(tmp_path):
    tx, sv = churn_fixture()
    store, result = ingest(tmp_path, sv, tx=tx)
    with store:
        ds = result.dataset.dataset_id
        view = servqual.servqual_view(store.db, ds, date(2024, 12, 31))
        rel = view.churn
        # gaps [-3,-3,-3,-2,0 x 8]: the worst ceil(12/4) = 3 are C1-C3, the largest of their gaps -3
        assert rel.customers == 12 and rel.cut == pytest.approx(-3.0)
        assert (rel.worst_customers, rel.worst_lost, rel.rest_customers, rel.rest_lost) == (3, 3, 9, 0)
        assert rel.method == "fisher"
        assert rel.p_value == pytest.approx(stats.fisher_exact([[3, 0], [0, 9]])[1])
        assert rel.meaningful  # p = 1/220
        text = servqual.churn_sentence(rel, "en")
        assert "100%" in text and "0%" in text and "unlikely to be chance" in text
        assert "可靠性" in servqual.churn_sentence(rel, "zh")
        # the anonymous answer counts in the reliability gap (13 responses)
        assert view.dimensions.set_index("dimension").loc["reliability", "responses"] == 13
        # tangibles: every gap 0, so there is no worst quarter (the reason says so)
        tangibles = servqual.servqual_view(store.db, ds, date(2024, 12, 31), dimension="tangibles")
        assert tangibles.churn is None and tangibles.churn_reason == "equal_gaps"


def test_churn_relation_needs_customer_ids(tmp_path):
    store, result = ingest(tmp_path, "date,item,expectation,perception\n2024-02-01,Q5,6,4\n")
    with store:
        view = servqual.servqual_view(store.db, result.dataset.dataset_id, date(2024, 6, 30))
        assert view.churn is None and view.by_group.empty
        assert servqual.churn_sentence(None, "zh") == t("sq_churn_none", "zh", n=servqual.MIN_CUSTOMERS)


def test_bad_choices_are_errors():
    with pytest.raises(CrmflowError) as exc:
        servqual.period_start(pd.Series(pd.to_datetime(["2024-01-01"])), "week")
    assert exc.value.key == "servqual_bad_period"


# =========================================================================== demo
def test_demo_survey_is_seeded_and_reliability_gaps_are_larger_for_churners():
    from crmflow.demo import generate

    a, b = generate(), generate()
    pd.testing.assert_frame_equal(a.surveys, b.surveys)
    assert generate(seed=7).surveys is not None and not generate(seed=7).surveys.equals(a.surveys)
    s = a.surveys
    assert set(s["item"]) == {f"Q{i}" for i in range(1, 23)}
    assert s["expectation"].between(1, 7).all() and s["perception"].between(1, 7).all()
    with Store(in_memory=True) as store:
        ds = store.ensure_demo()
        assert servqual.coverage(store.db, ds.dataset_id)["answers"] == len(s)
        from crmflow.stages import resolve_as_of

        d = resolve_as_of(store.db, ds.dataset_id)
        view = servqual.servqual_view(store.db, ds.dataset_id, d)
        dims = view.dimensions.set_index("dimension")
        assert dims["gap"].idxmin() == "reliability"
        assert view.churn.worst_rate > view.churn.rest_rate and view.churn.meaningful


# =========================================================================== command line
def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crmflow", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_servqual_json_and_csv(tmp_path):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text(LONG, encoding="utf-8")
    done = cli("servqual", str(tmp_path / "t.csv"), "--surveys", str(tmp_path / "s.csv"), "--lang", "zh")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["answers"] == 9 and doc["scale"] == "1-7"
    dims = {r["dimension"]: r for r in doc["dimensions"]}
    assert dims["reliability"]["gap"] == pytest.approx(round(-3.5 / 3, 4))
    assert doc["churn"] is None and doc["churn_text"] == t("sq_churn_none", "zh", n=servqual.MIN_CUSTOMERS)
    done = cli("servqual", str(tmp_path / "t.csv"), "--surveys", str(tmp_path / "s.csv"), "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert list(table.columns) == list(servqual_csv_columns())
    row = table[(table["level"] == "item") & (table["item"] == "Q6")].iloc[0]
    assert row["gap"] == pytest.approx(round(-4 / 3, 4)) and row["count"] == 3


def servqual_csv_columns():
    from crmflow.cli import SERVQUAL_CSV_COLUMNS

    return SERVQUAL_CSV_COLUMNS


def test_cli_servqual_says_when_every_answer_is_after_d(tmp_path):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text("date,item,expectation,perception\n2024-08-01,Q1,5,4\n", encoding="utf-8")
    done = cli("servqual", str(tmp_path / "t.csv"), "--surveys", str(tmp_path / "s.csv"))
    assert done.returncode == 0 and json.loads(done.stdout)["dimensions"] == []
    assert "no survey answer is dated on or before 2024-06-30" in done.stderr
    done = cli("servqual", str(tmp_path / "t.csv"), "--surveys", str(tmp_path / "s.csv"), "--as-of", "2024-08-31")
    assert json.loads(done.stdout)["dimensions"][0]["gap"] == -1.0 and not done.stderr


def test_cli_servqual_without_survey_says_what_to_give(tmp_path):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    done = cli("servqual", str(tmp_path / "t.csv"))
    assert done.returncode == 2
    assert "no Servqual survey" in done.stderr and "--surveys FILE" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_ingest_stores_the_survey(tmp_path):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text(LONG, encoding="utf-8")
    db = tmp_path / "db.duckdb"
    done = cli("ingest", str(tmp_path / "t.csv"), "--surveys", str(tmp_path / "s.csv"), "--name", "x",
               "--db", str(db))
    assert done.returncode == 0, done.stderr
    done = cli("servqual", "--dataset", "x", "--db", str(db), "--by", "region")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["by_group"]["rows"]
    assert {r["group"] for r in rows} == {"North", "South"}


# =========================================================================== the page
@pytest.fixture(scope="module")
def page_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("servqual-page")
    db = folder / "crmflow.duckdb"
    (folder / "t.csv").write_text(TX, encoding="utf-8")
    expected = {}
    with Store(db) as store:
        ds = store.ensure_demo()
        store.ingest("plain", folder / "t.csv")
        from crmflow.stages import resolve_as_of

        d = resolve_as_of(store.db, ds.dataset_id)
        expected["view"] = servqual.servqual_view(store.db, ds.dataset_id, d)
    return db, expected


def start(monkeypatch, db, lang, dataset="demo"):
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["dataset"] = dataset
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/servqual.py")
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_shows_the_demo_survey(page_db, monkeypatch, lang):
    db, expected = page_db
    at = start(monkeypatch, db, lang)
    try:
        view = expected["view"]
        assert t("page_servqual", lang) in [h.value for h in at.header]
        cards = {m.label: m.value for m in at.metric}
        for dim in view.dimensions.itertuples(index=False):
            assert cards[servqual.dimension_label(dim.dimension, lang)] == f"{dim.gap:+.2f}"
        titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
        assert servqual.headline(view.dimensions, lang) in titles
        shown = [w.value for w in at.warning] + [i.value for i in at.info]
        assert servqual.churn_sentence(view.churn, lang) in shown
        assert view.health is not None and servqual.health_sentence(view.health, lang) in shown
        gap = at.dataframe[-1].value
        assert list(gap.columns) == list(servqual.gap_table(view, lang).columns)
        assert len(gap) == 5 + 22
        assert len(at.get("download_button")) == 2
        if lang == "zh":
            assert "Reliability" not in " ".join(titles + shown)
    finally:
        del at
        st.cache_resource.clear()
        gc.collect()


def test_the_dimension_picker_shows_the_dimension_compared(page_db, monkeypatch):
    """The picker opens on the dimension the sentence speaks of (reliability),
    and picking another compares that one."""
    db, _ = page_db
    at = start(monkeypatch, db, "en")
    try:
        picker = at.selectbox(key="sq:dimension")
        assert picker.value == "reliability"
        with Store(db, read_only=True) as store:
            ds = store.get("demo").dataset_id
            from crmflow.stages import resolve_as_of

            d = resolve_as_of(store.db, ds)
            empathy = servqual.servqual_view(store.db, ds, d, dimension="empathy")
        at = picker.select("empathy").run()
        assert at.selectbox(key="sq:dimension").value == "empathy"
        shown = [w.value for w in at.warning] + [i.value for i in at.info]
        assert servqual.churn_sentence(empathy.churn, "en", empathy.churn_reason) in shown
    finally:
        del at
        st.cache_resource.clear()
        gc.collect()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_without_a_survey_says_what_unlocks_it(page_db, monkeypatch, lang):
    db, _ = page_db
    at = start(monkeypatch, db, lang, dataset="plain")
    try:
        assert [i.value for i in at.info] == [t("sq_unlock", lang)]
        assert not at.get("plotly_chart")
    finally:
        del at
        st.cache_resource.clear()
        gc.collect()


# =========================================================================== the report slide
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_slide(lang, tmp_path):
    from crmflow import report

    assert report.SLIDE_KEYS[-1] == "servqual"
    with Store(in_memory=True) as store:
        ds = store.ensure_demo().dataset_id
        from crmflow.stages import resolve_as_of

        d = resolve_as_of(store.db, ds)
        view = servqual.servqual_view(store.db, ds, d)
        slide = report.build_slide(store.db, ds, "servqual", d, lang=lang)
        assert not slide.failed and slide.message is None
        assert slide.title == servqual.headline(view.dimensions, lang)
        assert slide.section == t("page_servqual", lang)
        # the churn comparison, then the key accounts' health comparison (the demo has both)
        assert slide.bullets == (servqual.churn_sentence(view.churn, lang), servqual.health_sentence(view.health, lang))
        assert slide.table[t("sq_col_dimension", lang)].tolist() == [
            servqual.dimension_label(x, lang) for x in servqual.DIMENSIONS]
        assert slide.table[t("sq_col_gap", lang)].tolist() == [f"{g:+.2f}" for g in view.dimensions["gap"]]
        page = report.write_html([slide], report.ReportInfo("demo", d, lang=lang))
        assert slide.title in page
        # a dataset without a survey: the slide says what to upload
        (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
        plain = store.ingest("plain", tmp_path / "t.csv").dataset.dataset_id
        empty = report.build_slide(store.db, plain, "servqual", date(2024, 6, 30), lang=lang)
        assert not empty.failed and empty.message == t("sq_unlock", lang) and empty.figure is None


# =========================================================================== the Data page's upload path
def test_upload_of_a_wide_survey_with_a_column_switched_off(tmp_path):
    from crmflow import upload

    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_bytes("客户编号,期望1,感知1,填写日期,期望5,感知5\nA,6,5,2024-01-10,7,4\n"
                                     "B,5,5,2024-02-10,6,6\n".encode("gbk"))
    survey = upload.inspect_file(tmp_path / "s.csv", "surveys")
    assert survey.problem is None  # item and scores come from the column pairs
    choices = upload.default_choices(survey)
    assert choices["date"] == 3 and choices["customer_id"] == 0 and choices["item"] is None
    tx = upload.inspect_file(tmp_path / "t.csv", "transactions")
    result = upload.check([upload.plan(tx, upload.default_choices(tx)), upload.plan(survey, choices)])
    report = next(r for r in result.reports if r.table == "surveys")
    assert report.rows_loaded == 4 and report.mapping["date"] == "填写日期"
    # the customer id switched off: the positions still name the right columns after the melt
    plan = upload.plan(survey, {**choices, "customer_id": None})
    result = upload.check([upload.plan(tx, upload.default_choices(tx)), plan])
    report = next(r for r in result.reports if r.table == "surveys")
    assert report.rows_loaded == 4 and "customer_id" not in report.mapping and report.mapping["date"] == "填写日期"
    # a long survey without its scores is still a problem to fix in the mapping
    (tmp_path / "bad.csv").write_text("date,item\n2024-01-02,Q1\n", encoding="utf-8")
    bad = upload.inspect_file(tmp_path / "bad.csv", "surveys")
    assert bad.problem is not None and bad.problem.key == "upload_required_not_chosen"


@pytest.mark.parametrize("lang", ["zh"])
def test_data_page_takes_the_survey_as_a_fourth_upload(page_db, monkeypatch, lang):
    """Upload transactions and a wide survey on the Data page, save: the stored
    dataset has the survey, and the Service quality page shows it."""
    db, _ = page_db
    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    try:
        assert t("data_upload_surveys", lang) in [u.label for u in at.get("file_uploader")]
        at.file_uploader(key="data:upload:transactions").upload("t.csv", TX.encode("utf-8"), "text/csv").run()
        wide = "填写日期,客户编号,期望5,感知5,期望6,感知6\n2024-02-01,A,6,4,7,6\n2024-03-15,B,5,5,6,3\n"
        at.file_uploader(key="data:upload:surveys").upload("s.csv", wide.encode("gbk"), "text/csv").run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        at.text_input(key="data:name").input("with survey").run()
        at.button(key="data:save").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    finally:
        del at
        st.cache_resource.clear()
        gc.collect()
    with Store(db, read_only=True) as store:
        ds = store.get("with survey").dataset_id
        items = servqual.item_gaps(store.db, ds, date(2024, 6, 30)).set_index("item")
        assert items.loc["Q5", "gap"] == pytest.approx(-1.0) and items.loc["Q6", "gap"] == pytest.approx(-2.0)


def test_servqual_help_does_not_import_the_heavy_libraries():
    from test_startup import HEAVY, run_probe

    result = run_probe("servqual", "--help")
    assert result["code"] == 0 and "--surveys" in result["out"] and "--dimension" in result["out"]
    assert not {m.split(".")[0] for m in result["modules"]} & set(HEAVY)
