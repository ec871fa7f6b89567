"""Issue 13 items 1-2 on the Segments page (Streamlit AppTest), in both
languages: the sentence saying which purchase model and fit were chosen and
why, every candidate's holdout forecast, the parameters with their standard
errors, and the 90% intervals as table columns, with the package's numbers."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow.i18n import t
from crmflow.segments_table import candidate_label, segment_view
from crmflow.stages import data_range
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = tmp_path_factory.mktemp("clvchoice") / "crmflow.duckdb"
    with Store(db) as store:
        ds = store.ensure_demo().dataset_id
        last = data_range(store.db, ds)[1]
        view = segment_view(store.db, ds, last)
    return db, view


@pytest.fixture
def page(world, monkeypatch):
    monkeypatch.setenv("CRMFLOW_DB", str(world[0]))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()

    def open_page(lang: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.query_params["dataset"] = "demo"
        at.query_params["lang"] = lang
        at.run()
        assert not at.exception, at.exception
        at.switch_page("pages/segments.py")
        at.run()
        assert not at.exception, at.exception
        return at

    yield open_page
    st.cache_resource.clear()
    gc.collect()


def table_with(at: AppTest, column: str):
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, column
    return found[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_segments_page_says_which_model_was_chosen_and_shows_the_intervals(page, world, lang):
    _, view = world
    at = page(lang)
    # the choice in words
    assert view.choice is not None
    assert view.choice.text(lang) in [i.value for i in at.info]
    # every candidate's holdout forecast, the chosen one marked
    cand = table_with(at, t("clvchoice_col_candidate", lang))
    assert list(cand[t("clvchoice_col_candidate", lang)]) == [
        t(candidate_label(c), lang) for c in view.candidates["candidate"]]
    marked = [c for c, mark in zip(view.candidates["candidate"], cand[t("clvchoice_col_chosen", lang)]) if mark]
    assert marked == list(view.candidates.loc[view.candidates["chosen"], "candidate"])
    # parameters with their standard errors
    par = table_with(at, t("clvchoice_col_standard_error", lang))
    assert list(par[t("clvchoice_col_parameter", lang)]) == list(view.parameters["parameter"])
    assert par[t("clvchoice_col_standard_error", lang)].tolist() == pytest.approx(
        view.parameters["standard_error"].tolist(), nan_ok=True)
    # interval columns: the top customers by expected value, low <= point <= high
    low, high = t("seg_col_expected_value_low", lang), t("seg_col_expected_value_high", lang)
    columns = [t(f"seg_col_{c}", lang) for c in (
        "customer_id", "p_alive", "expected_orders", "expected_orders_low", "expected_orders_high",
        "expected_value", "expected_value_low", "expected_value_high")]
    top = next(d.value for d in at.dataframe if list(d.value.columns) == columns)
    point = t("seg_col_expected_value", lang)
    assert len(top) == 20 and (top[low] <= top[point]).all() and (top[point] <= top[high]).all()
    best = view.customers.sort_values(["expected_value", "customer_id"], ascending=[False, True]).iloc[0]
    assert top[point].iloc[0] == pytest.approx(round(best["expected_value"], 2))
    assert top[high].iloc[0] == pytest.approx(round(best["expected_value_high"], 2))
    # the members' table and the download carry the interval columns too
    assert sum(t("seg_col_expected_orders_low", lang) in d.value.columns for d in at.dataframe) >= 2
    # the backtest shown is the one the fit was chosen on, and the page says so
    fit_choice = view.candidates
    assert t("seg_bt_caption_chosen", lang, n=len(fit_choice)) in [c.value for c in at.caption]
    # the parameter table names each model in words, not by its key
    purchase = t("clvchoice_table_model_purchase", lang, model=t(f"clvchoice_model_{view.model}", lang))
    assert list(par[t("clvchoice_col_model", lang)]) == [purchase] * 4 + [t("clvchoice_table_model_spend", lang)] * 3
