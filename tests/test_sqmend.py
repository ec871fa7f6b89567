"""The reviewer's findings on the Servqual view (issue 17 part 2), each with a
case worked out by hand: the score scale, the worst quarter, the interval of
the difference of lost shares, filters on an anonymous survey, wide headers."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from crmflow import servqual
from crmflow.i18n import t
from crmflow.store import Store, load_file_dataset
from crmflow.survey_ingest import wide_pairs

TX = "customer_id,order_date,amount\nA,2024-01-05,100\n"


def ingest(tmp_path, surveys_text: str):
    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text(surveys_text, encoding="utf-8")
    return load_file_dataset(tmp_path / "t.csv", surveys=tmp_path / "s.csv")


def survey_report(result):
    return next(r for r in result.reports if r.table == "surveys")


def scale_note(report):
    return next(w for w in report.warnings if getattr(w, "key", "").startswith("survey_scale"))


# =========================================================================== 1. the score scale
def test_one_to_seven_with_few_top_scores_keeps_them(tmp_path):
    # 200 answers scored 1-5 and two answers of 6 and 7: 1-7 (the old rule read 1-5, 400 of
    # 404 scores fitting it, and rejected the two best answers)
    rows = ["date,item,expectation,perception"]
    rows += [f"2024-01-{(i % 28) + 1:02d},Q{(i % 22) + 1},{(i % 5) + 1},{((i + 2) % 5) + 1}" for i in range(200)]
    rows += ["2024-02-01,Q1,7,6", "2024-02-02,Q2,6,7"]
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_loaded == 202 and report.rows_rejected == 0
        assert scale_note(report).key == "survey_scale" and scale_note(report).params["top"] == 7
        assert servqual.coverage(store.db, result.dataset.dataset_id)["scale_max"] == 7


def test_zero_to_ten_keeps_eight_to_ten_and_zero(tmp_path):
    rows = ["date,item,expectation,perception",
            "2024-01-01,Q1,10,8", "2024-01-02,Q2,9,0", "2024-01-03,Q3,8,10", "2024-01-04,Q4,5,3",
            "2024-01-05,Q5,12,4"]  # above 10: out of scale
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_loaded == 4 and report.rows_rejected == 1
        assert report.rejected_by_reason == {"expectation score is outside the scale": 1}
        note = scale_note(report)
        assert note.key == "survey_scale_zero" and note.params["top"] == 10
        items = servqual.coverage(store.db, result.dataset.dataset_id)
        assert items["answers"] == 4 and (items["scale_min"], items["scale_max"]) == (0, 10)
        from crmflow import report

        slide = report.build_slide(store.db, result.dataset.dataset_id, "servqual", date(2024, 12, 31), lang="en")
        assert "on a 0–10 scale" in slide.caption


def test_plain_one_to_five(tmp_path):
    rows = ["date,item,expectation,perception",
            "2024-01-01,Q1,5,4", "2024-01-02,Q2,1,3", "2024-01-03,Q3,4,5", "2024-01-04,Q4,2,2",
            "2024-01-05,Q5,0.5,4"]  # below 1 on a 1-5 scale (0.5 is not 0: no 0-10 scale)
    store, result = ingest(tmp_path, "\n".join(rows) + "\n")
    with store:
        report = survey_report(result)
        assert report.rows_loaded == 4 and report.rejected_by_reason == {"expectation score is outside the scale": 1}
        assert scale_note(report).key == "survey_scale" and scale_note(report).params["top"] == 5
        cov = servqual.coverage(store.db, result.dataset.dataset_id)
        assert (cov["scale_min"], cov["scale_max"]) == (1, 5)


# =========================================================================== 2. the worst quarter
def test_worst_quarter_is_a_quarter_with_ties_broken_by_customer_id():
    # ten customers, five tied at the lowest gap -1: ceil(10/4) = 3 in the worst
    # quarter, the three first by id among the tied (the old rule took all five)
    gaps = pd.Series([0.0, -1.0, 2.0, -1.0, -1.0, 1.0, -1.0, 0.5, -1.0, 3.0],
                     index=pd.Index(["J", "E", "A", "B", "I", "C", "D", "F", "H", "G"], name="customer_id"))
    worst = servqual.worst_quarter(gaps)
    assert sorted(gaps.index[worst]) == ["B", "D", "E"]
    assert list(worst.index) == list(gaps.index)
    # seven customers: ceil(7/4) = 2, the two lowest gaps
    seven = pd.Series([5.0, -2.0, 1.0, -3.0, 0.0, 2.0, 4.0], index=list("abcdefg"))
    assert sorted(seven.index[servqual.worst_quarter(seven)]) == ["b", "d"]
    # every gap equal: no worst quarter
    assert servqual.worst_quarter(pd.Series([-1.0] * 9, index=list("abcdefghi"))) is None


def test_equal_gaps_have_their_own_reason(tmp_path):
    # twelve customers, every reliability gap -1: no comparison, and the reason is
    # not "too few customers"
    tx = ["customer_id,order_date,amount"] + [f"C{i},2024-01-02,10" for i in range(1, 13)]
    sv = ["customer_id,date,item,expectation,perception"] + [f"C{i},2024-02-01,Q5,6,5" for i in range(1, 13)]
    (tmp_path / "t.csv").write_text("\n".join(tx) + "\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("\n".join(sv) + "\n", encoding="utf-8")
    store, result = load_file_dataset(tmp_path / "t.csv", surveys=tmp_path / "s.csv")
    with store:
        view = servqual.servqual_view(store.db, result.dataset.dataset_id, date(2024, 12, 31))
        assert view.churn is None and view.churn_reason == "equal_gaps"
        for lang in ("en", "zh"):
            text = servqual.churn_sentence(view.churn, lang, view.churn_reason)
            assert text == t("sqmend_gaps_equal", lang)
            assert text != t("sq_churn_none", lang, n=servqual.MIN_CUSTOMERS)
            assert servqual.health_sentence(None, lang, "equal_gaps") == t("sqmend_gaps_equal", lang)
    assert "do not differ" in t("sqmend_gaps_equal", "en") and "没有不同" in t("sqmend_gaps_equal", "zh")


def test_demo_worst_quarter_is_a_quarter():
    # the demo's reliability gaps tie a lot (the old rule put 204 of 600 customers
    # in the "worst quarter"); now it holds ceil(n/4), and the cut is the largest
    # gap among them, worked out here with plain pandas
    from crmflow.stages import customer_stages, resolve_as_of

    with Store(in_memory=True) as store:
        ds = store.ensure_demo().dataset_id
        d = resolve_as_of(store.db, ds)
        view = servqual.servqual_view(store.db, ds, d)
        rel = view.churn
        assert rel.worst_customers == math.ceil(rel.customers / 4)
        assert rel.worst_customers + rel.rest_customers == rel.customers
        responses = servqual.response_dimensions(store.db, ds, d)
        rel_rows = responses[(responses["dimension"] == "reliability") & responses["customer_id"].notna()]
        gaps = rel_rows.groupby("customer_id")["gap"].mean()
        stages = customer_stages(store.db, ds, d)
        bought = set(stages.loc[stages["stage"].isin(servqual.BOUGHT_STAGES), "customer_id"])
        gaps = gaps[gaps.index.isin(bought)]
        ranked = sorted(zip(gaps.to_numpy(), gaps.index.astype(str)))
        worst_ids = [c for _, c in ranked[:math.ceil(len(ranked) / 4)]]
        assert rel.customers == len(gaps) and rel.cut == pytest.approx(ranked[len(worst_ids) - 1][0])
        lost = set(stages.loc[stages["stage"] == "lost", "customer_id"].astype(str))
        assert rel.worst_lost == sum(c in lost for c in worst_ids)


# =========================================================================== 3. the interval of a difference of shares
@pytest.mark.parametrize("x1, n1, x2, n2, low, high", [
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
])
def test_newcombe_interval_matches_the_published_table(x1, n1, x2, n2, low, high):
    got = servqual.share_difference_interval(x1, n1, x2, n2)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_small_counts_stay_within_minus_one_to_one():
    # 3 of 4 worst customers lost, 0 of 10 others: the normal interval was 0.33 to 1.17
    worst = pd.Series([True] * 4 + [False] * 10)
    lost = pd.Series([True, True, True, False] + [False] * 10)
    diff, low, high, _, method = servqual.compare_lost(lost, worst)
    assert method == "fisher" and diff == pytest.approx(0.75)
    assert -1 <= low < diff < high <= 1
    # Wilson 3/4: 0.3006 to 0.9544; 0/10: 0 to 0.2775 -> 0.75 - hypot(0.4494, 0.2775), 0.75 + hypot(0.2044, 0)
    assert (low, high) == pytest.approx((0.2218, 0.9544), abs=5e-5)


# =========================================================================== 4. filters on an anonymous survey
ANON_TX = "customer_id,order_date,amount,region\nA,2024-01-05,100,North\nB,2024-01-06,50,South\n"
ANON_SV = "date,item,expectation,perception\n2024-02-01,Q5,6,4\n2024-02-02,Q6,5,5\n"


def anonymous_store(tmp_path):
    (tmp_path / "t.csv").write_text(ANON_TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text(ANON_SV, encoding="utf-8")
    store = Store(tmp_path / "crmflow.duckdb")
    store.ingest("anon", tmp_path / "t.csv", surveys=tmp_path / "s.csv")
    store.ingest("plain", tmp_path / "t.csv")
    return store


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_filters_on_an_anonymous_survey_say_the_filters_exclude_it(tmp_path, lang):
    from crmflow import report
    from crmflow.filters import Filters, resolve

    with anonymous_store(tmp_path) as store:
        ds = store.get("anon").dataset_id
        plain = store.get("plain").dataset_id
        north = resolve(store.db, ds, Filters(regions=("North",)))
        assert servqual.coverage(store.db, ds)["answers"] == 2
        assert servqual.coverage(store.db, north)["answers"] == 0  # no customer id: the filter drops them
        assert servqual.no_answers_key(store.db, north) == "sqmend_filtered_out"
        # no survey at all, with or without filters: upload one
        assert servqual.no_answers_key(store.db, plain) == "sq_unlock"
        assert servqual.no_answers_key(store.db, resolve(store.db, plain, Filters(regions=("North",)))) == "sq_unlock"
        slide = report.build_slide(store.db, north, "servqual", date(2024, 12, 31), lang=lang)
        assert slide.message == t("sqmend_filtered_out", lang) != t("sq_unlock", lang)
        slide = report.build_slide(store.db, plain, "servqual", date(2024, 12, 31), lang=lang)
        assert slide.message == t("sq_unlock", lang)
    assert "customer id" in t("sqmend_filtered_out", "en") and "客户编号" in t("sqmend_filtered_out", "zh")


@pytest.mark.parametrize("lang", ["en"])
def test_page_with_filters_on_an_anonymous_survey(tmp_path, monkeypatch, lang):
    import gc
    from pathlib import Path

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    anonymous_store(tmp_path).close()
    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("CRMFLOW_DB", str(tmp_path / "crmflow.duckdb"))
    monkeypatch.chdir(root)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(root / "app.py"), default_timeout=240)
    at.query_params["dataset"] = "anon"
    at.query_params["lang"] = lang
    at.query_params["region"] = "North"
    try:
        at.run()
        at.switch_page("pages/servqual.py")
        at.run()
        assert not at.exception, at.exception
        assert [i.value for i in at.info] == [t("sqmend_filtered_out", lang)]
    finally:
        del at
        st.cache_resource.clear()
        gc.collect()


# =========================================================================== 5. wide headers
@pytest.mark.parametrize("headers, pairs", [
    (["date", "Q1(E)", "Q1(P)", "Q2(E)", "Q2(P)"], [("Q1", 1, 2), ("Q2", 3, 4)]),
    (["Q1（期望）", "Q1（感知）", "客户编号"], [("Q1", 0, 1)]),
    (["date", "Q1 Expectation Score", "Q1 Perception Score"], [("Q1", 1, 2)]),
    (["期望得分1", "感知得分1", "期望得分2", "感知得分2"], [("Q1", 0, 1), ("Q2", 2, 3)]),
    # E and P only where no other letter touches them: the old rule read "Name" and
    # "Namp" as item "Nam" (E and P), "Type" and "Typp" as item "Typ"
    (["Name", "Namp", "E5", "P5"], [("Q5", 2, 3)]),
    (["Type", "Typp"], []),
])
def test_wide_headers(headers, pairs):
    assert wide_pairs(headers) == pairs


def test_wide_survey_with_score_headers_is_melted(tmp_path):
    sv = "填写日期,期望得分1,感知得分1,Q5(E),Q5(P)\n2024-02-01,6,4,7,5\n2024-02-02,5,5,6,6\n"
    store, result = ingest(tmp_path, sv)
    with store:
        report = survey_report(result)
        assert report.rows_read == 4 and report.rows_loaded == 4
        items = servqual.item_gaps(store.db, result.dataset.dataset_id, date(2024, 6, 30)).set_index("item")
        assert items.loc["Q1", "gap"] == pytest.approx((-2 + 0) / 2)
        assert items.loc["Q5", "gap"] == pytest.approx((-2 + 0) / 2)


# =========================================================================== 6. smaller
def test_coverage_counts_answers_on_or_before_d(tmp_path):
    sv = ("customer_id,date,item,expectation,perception\nA,2024-02-01,Q5,6,4\n,2024-03-01,Q5,5,5\n"
          "A,2024-08-01,Q5,7,1\n,2024-09-01,Q6,7,1\n")
    store, result = ingest(tmp_path, sv)
    with store:
        ds = result.dataset.dataset_id
        cov = servqual.coverage(store.db, ds, date(2024, 6, 30))
        assert (cov["answers"], cov["answers_with_customer"], cov["answers_total"]) == (2, 1, 4)
        assert (cov["first_date"], cov["last_date"]) == (date(2024, 2, 1), date(2024, 3, 1))
        everything = servqual.coverage(store.db, ds)
        assert (everything["answers"], everything["answers_with_customer"]) == (4, 2)
        view = servqual.servqual_view(store.db, ds, date(2024, 6, 30))
        assert view.has_survey and view.coverage["answers"] == 2
        early = servqual.servqual_view(store.db, ds, date(2024, 1, 31))  # every answer after D: still a survey
        assert early.has_survey and early.coverage["answers"] == 0 and early.dimensions.empty


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_interval_of_a_single_response_is_a_dash(tmp_path, lang):
    from crmflow import report

    # one response: tangibles has no interval (one value); reliability has two responses -> an interval
    sv = ("response,date,item,expectation,perception\nr1,2024-02-01,Q1,6,4\nr1,2024-02-01,Q5,6,4\n"
          "r2,2024-02-02,Q5,5,5\n")
    store, result = ingest(tmp_path, sv)
    with store:
        slide = report.build_slide(store.db, result.dataset.dataset_id, "servqual", date(2024, 12, 31), lang=lang)
        cells = dict(zip(slide.table[t("sq_col_dimension", lang)], slide.table[t("sq_col_interval", lang)]))
        assert cells[servqual.dimension_label("tangibles", lang)] == "–"
        # reliability gaps -2 and 0: mean -1, sd sqrt(2), t(0.975, 1) = 12.7062 -> -1 ± 12.7062 (= 12.7062 * sqrt(2) / sqrt(2))
        assert cells[servqual.dimension_label("reliability", lang)] == "-13.71 … +11.71"
        assert "nan" not in " ".join(slide.table.astype(str).to_numpy().ravel())


def test_cli_churn_text_without_customer_ids_gives_the_no_ids_reason(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "t.csv").write_text(TX, encoding="utf-8")
    (tmp_path / "s.csv").write_text("date,item,expectation,perception\n2024-01-02,Q5,6,4\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    for lang in ("en", "zh"):
        done = subprocess.run([sys.executable, "-m", "crmflow", "servqual", str(tmp_path / "t.csv"), "--surveys",
                               str(tmp_path / "s.csv"), "--lang", lang], capture_output=True, text=True, cwd=root)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["churn"] is None and doc["churn_text"] == t("sq_churn_no_ids", lang)
