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
