"""Review fixes of the issue-13 work (CLV model choice, track record, churn
warnings' track record): each test here failed before its fix.

Checked against: histories simulated from MBG/NBD (tests/test_clvchoice.simulate),
on which the holdout choice picks MBG/NBD; the glossary and locale tables.
"""

from __future__ import annotations

import pytest

from crmflow import model
from crmflow.i18n import t
from crmflow.report import build_slide
from crmflow.stages import data_range
from tests.test_clvchoice import simulate


@pytest.fixture(scope="module")
def mbgnbd_data(tmp_path_factory):
    from crmflow.store import Store

    df = simulate(3000, kind="mbgnbd", r=1.0, alpha=4, a=1, b=1, days=730, arrival_days=365, seed=7)
    path = tmp_path_factory.mktemp("mbg") / "t.csv"
    df.to_csv(path, index=False)
    store = Store(in_memory=True)
    ds = store.ingest("mbg", path, None, None).dataset.dataset_id
    yield store, ds, data_range(store.db, ds)[1]
    store.close()


# --------------------------------------------------------------------------- 1. the model's name
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_names_the_chosen_purchase_model(mbgnbd_data, lang):
    store, ds, d = mbgnbd_data
    assert model.fit_clv(store.db, ds, d).model == "mbgnbd"
    slide = build_slide(store.db, ds, "clv", d, lang=lang)
    assert "MBG/NBD" in slide.caption
    assert "BG/NBD" not in slide.caption.replace("MBG/NBD", "")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_p_alive_definition_does_not_name_one_model_only(lang):
    text = t("gl_def_p_alive", lang)
    assert "MBG/NBD" in text and "BG/NBD" in text.replace("MBG/NBD", "")


# --------------------------------------------------------------------------- 2. one holdout count on the page
@pytest.fixture(scope="module")
def demo_world(tmp_path_factory):
    """A database with the demo dataset, and the backtest and track record at its last day."""
    from crmflow.segments_table import backtest_view
    from crmflow.store import Store
    from crmflow.track_record import track_record

    db = tmp_path_factory.mktemp("clvmend") / "crmflow.duckdb"
    with Store(db) as store:
        ds = store.ensure_demo().dataset_id
        last = data_range(store.db, ds)[1]
        expected = {"backtest": backtest_view(store.db, ds, last), "record": track_record(store.db, ds, last)}
    return db, expected


@pytest.fixture
def demo_app(demo_world, monkeypatch):
    import gc

    import streamlit as st

    from tests.test_page_segments_data import start_app

    yield start_app(monkeypatch, demo_world[0])
    st.cache_resource.clear()
    gc.collect()


def test_the_track_record_title_counts_the_backtest_customers(demo_world):
    from crmflow.track_record import tracking_title

    _, e = demo_world
    res, rec = e["backtest"].result, e["record"]
    # the demo has customers first seen in the holdout: the plot's lines count them too
    assert rec.holdout_actual > res["actual_orders"]
    assert rec.known_actual == res["actual_orders"] and rec.known_customers == res["customers"]
    assert rec.known_expected == pytest.approx(res["predicted_orders"], abs=1e-4)  # as_dict rounds
    for lang in ("en", "zh"):
        title = tracking_title(rec, lang)
        assert f"{res['actual_orders']:,}" in title and f"{res['predicted_orders']:,.0f}" in title
        assert f"{rec.holdout_actual:,.0f}" not in title


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_segments_page_shows_one_expected_and_actual_holdout_count(demo_app, demo_world, lang):
    import json
    import re

    _, e = demo_world
    res, rec = e["backtest"].result, e["record"]
    at = demo_app("segments", lang=lang)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    backtest = t("seg_bt_title", lang, predicted=res["predicted_orders"], actual=res["actual_orders"],
                 days=res["holdout_days"])
    assert backtest in titles
    from crmflow.track_record import tracking_title

    tracking = tracking_title(rec, lang)
    assert tracking in titles
    numbers = {n.replace(",", "") for n in re.findall(r"\d[\d,]*", tracking)}
    assert {f"{res['predicted_orders']:.0f}", str(res["actual_orders"])} <= numbers
    assert f"{rec.holdout_actual:.0f}" not in numbers
    captions = [c.value for c in at.caption]
    assert t("trk_caption", lang, calibration_end=rec.calibration_end.isoformat(),
             holdout_end=rec.holdout_end.isoformat()) in captions
