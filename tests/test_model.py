"""The CLV model on stored datasets (crmflow.model) and `crmflow clv`.

The calibration summary is checked on a hand-worked fixture; the published
CDNOW parameters are reproduced from the raw sample file through the normal
ingestion path; the backtest is checked against an independent computation.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from crmflow import model
from crmflow.cli import main
from crmflow.errors import CrmflowError
from crmflow.store import load_file_dataset
from tests.conftest import CDNOW_SAMPLE

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "v": 15.44}

# Customer A: 2024-01-01 (10 + 5 on the same day = one purchase of 15),
#   2024-01-15 (20), a return on 2024-01-20 (-8, not a purchase), 2024-01-29 (30),
#   and 2024-03-01 after the calibration end.
#   frequency 2, recency (28 days) = 4 weeks, T = (2024-02-26 - 2024-01-01) = 56 days = 8 weeks,
#   monetary = (20 + 30) / 2 = 25, mean purchase value = (15 + 20 + 30) / 3 = 21.6667.
# Customer B: one purchase on 2024-02-26 (the calibration end): frequency 0, T 0.
# Customer C: a zero-amount row only: never a purchase, not in the summary.
# Customer D: first purchase after the calibration end: not in the summary.
HAND = """\
customer_id,order_date,amount
A,2024-01-01,10
A,2024-01-01,5
A,2024-01-15,20
A,2024-01-20,-8
A,2024-01-29,30
A,2024-03-01,40
B,2024-02-26,12.5
C,2024-01-10,0
D,2024-03-02,9
"""


def test_calibration_summary_by_hand(load):
    store, ds = load(HAND)
    s = store.db.run("clv_summary", dataset_id=ds, calibration_end=date(2024, 2, 26)).set_index("customer_id")
    assert list(s.index) == ["A", "B"]
    a, b = s.loc["A"], s.loc["B"]
    assert (a.frequency, a.recency_weeks, a.t_weeks, a.monetary) == (2, 4.0, 8.0, 25.0)
    assert a.mean_purchase_value == pytest.approx(65 / 3)
    assert (b.frequency, b.recency_weeks, b.t_weeks, b.monetary, b.mean_purchase_value) == (0, 0.0, 0.0, 0.0, 12.5)


def test_holdout_purchases_by_hand(load):
    store, ds = load(HAND)
    h = store.db.run("holdout_purchases", dataset_id=ds, start_date=date(2024, 2, 26), end_date=date(2024, 3, 1))
    # D's first purchase is after the start (not a calibration customer); A bought on 03-01.
    assert dict(zip(h.customer_id, h.actual_purchases)) == {"A": 1, "B": 0}


def test_spend_falls_back_to_own_mean_without_repeat_buyers(load):
    store, ds = load("customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-05,30\nC,2024-02-01,20\n")
    fit = model.fit_clv(store.db, ds, date(2024, 2, 1))
    assert fit.gamma_gamma is None
    assert any("could not be fitted" in m for m in fit.messages)
    pred = fit.predict().set_index("customer_id")
    np.testing.assert_allclose(pred["expected_spend"], [10, 30, 20])
    assert (pred["expected_value"] >= 0).all()
    assert not fit.converged


def test_no_customer_before_calibration_end_is_a_clear_error(load):
    store, ds = load(HAND)
    with pytest.raises(CrmflowError, match="No customer made a purchase on or before 2023-12-31"):
        model.fit_clv(store.db, ds, date(2023, 12, 31))
    with pytest.raises(CrmflowError, match="must be before the end of the holdout"):
        model.backtest_between(store.db, ds, date(2024, 3, 2), date(2024, 3, 2))


def test_default_holdout_is_a_quarter_of_history_at_most_a_year():
    assert model.default_holdout_days(date(2024, 1, 1), date(2024, 1, 3)) == 1
    assert model.default_holdout_days(date(2024, 1, 1), date(2024, 5, 1)) == 30  # 121 days // 4
    assert model.default_holdout_days(date(2020, 1, 1), date(2025, 1, 1)) == 365


def test_deciles_split_by_prediction_with_id_ties():
    import pandas as pd

    pred = pd.Series([5.0, 1.0, 3.0, 3.0, 0.0] * 4)
    ids = pd.Series([f"c{i:02d}" for i in range(20)])
    d = model.deciles(pred, ids)
    # 20 customers: two per decile, highest predictions first, ties by id.
    order = sorted(range(20), key=lambda i: (-pred[i], ids[i]))
    assert [d[i] for i in order] == [k // 2 + 1 for k in range(20)]
    # the same customers in another row order (ids not sorted), and a missing prediction last
    shuffled = [7, 3, 19, 0, 12, 5, 16, 1, 9, 14, 2, 18, 6, 11, 4, 15, 8, 13, 10, 17]
    pred2 = pred.iloc[shuffled].reset_index(drop=True)
    pred2[0] = float("nan")  # customer c07: last of all
    ids2 = ids.iloc[shuffled].reset_index(drop=True)
    d2 = model.deciles(pred2, ids2)
    order2 = sorted(range(20), key=lambda i: (pred2[i] != pred2[i], -pred2[i] if pred2[i] == pred2[i] else 0,
                                               ids2[i]))
    assert ids2[order2[-1]] == "c07"
    assert [d2[i] for i in order2] == [k // 2 + 1 for k in range(20)]


@pytest.fixture(scope="module")
def cdnow_sample():
    store, result = load_file_dataset(CDNOW_SAMPLE)
    yield store, result.dataset.dataset_id
    store.close()


def test_cdnow_sample_reproduces_published_parameters_within_one_percent(cdnow_sample):
    store, ds = cdnow_sample
    # The published numbers are BG/NBD's maximum-likelihood fit: named, not chosen by the backtest.
    fit = model.fit_clv(store.db, ds, date(1997, 9, 30), model="bgnbd")
    params = {**fit.parameters()["bgnbd"], **fit.parameters()["gamma_gamma"]}
    for key, published in PUBLISHED.items():
        assert params[key] == pytest.approx(published, rel=0.01), key
    # 2,357 sample customers, of whom 8 only ever have a $0.00 row: by SPEC §2
    # such a row is never an order, so they are not customers of the model.
    assert fit.customers == 2349
    assert fit.converged


def test_backtest_matches_an_independent_count(cdnow_sample):
    import pandas as pd

    store, ds = cdnow_sample
    bt = model.backtest_between(store.db, ds, date(1997, 9, 30), date(1998, 6, 30), model="bgnbd")
    raw = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None, names=["m", "id", "d", "n", "usd"],
                      dtype={"m": str, "d": str})
    raw = raw[raw.usd > 0]
    raw["d"] = pd.to_datetime(raw.d, format="%Y%m%d")
    known = set(raw[raw.d <= "1997-09-30"].m)
    hold = raw[(raw.d > "1997-09-30") & (raw.d <= "1998-06-30") & raw.m.isin(known)]
    assert bt.actual_total == hold.groupby("m").d.nunique().sum()
    assert bt.by_decile["customers"].sum() == 2349
    assert bt.by_decile["predicted"].sum() == pytest.approx(bt.predicted_total)
    # Deciles are ordered by prediction.
    assert bt.by_decile["predicted"].is_monotonic_decreasing
    assert bt.mean_absolute_error == pytest.approx((bt.customers.predicted - bt.customers.actual).abs().mean())
    # Expected purchases over the 39-week holdout, from the published model:
    # about 0.70 repeat purchases per customer (Fader, Hardie & Lee 2005a, fig. 2 scale).
    assert 1500 < bt.predicted_total < 1800


def test_predictions_are_in_range(cdnow_sample):
    store, ds = cdnow_sample
    pred, fit = model.customer_values(store.db, ds, date(1998, 6, 30))
    assert pred["customer_id"].is_unique and len(pred) == fit.customers
    assert pred["p_alive"].between(0, 1).all()
    assert (pred["expected_orders"] >= 0).all() and (pred["expected_value"] >= 0).all()
    # A longer horizon never lowers expected orders or value.
    longer = fit.predict(horizon_weeks=104)
    assert (longer["expected_orders"].to_numpy() >= pred["expected_orders"].to_numpy() - 1e-12).all()
    assert (longer["expected_value"].to_numpy() >= pred["expected_value"].to_numpy() - 1e-9).all()


@pytest.mark.parametrize("extra", [(), ("--model", "bgnbd")])
def test_cli_clv_prints_published_parameters(capsys, extra):
    # SPEC §4's command as written (the purchase model chosen by the backtest, whichever it is)
    # and with the model named: "bgnbd" is always BG/NBD by maximum likelihood
    assert main(["clv", str(CDNOW_SAMPLE), "--calibration-end", "1997-09-30", *extra]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("r", "alpha", "a", "b"):
        assert doc["bgnbd"][key] == pytest.approx(PUBLISHED[key], rel=0.01)
    for key in ("p", "q", "v"):
        assert doc["gamma_gamma"][key] == pytest.approx(PUBLISHED[key], rel=0.01)
    assert doc["customers"] == 2349
    assert doc["holdout_end"] == "1998-06-30"
    assert doc["holdout_expected_orders"] == pytest.approx(doc["backtest"]["predicted_orders"])
    assert len(doc["backtest"]["by_decile"]) == 10


def test_cli_clv_csv_has_one_row_per_customer(capsys):
    assert main(["clv", str(CDNOW_SAMPLE), "--calibration-end", "1997-09-30", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == ",".join(model.PREDICTION_COLUMNS)
    assert len(lines) == 2349 + 1


def test_cli_clv_bad_calibration_end_is_one_line(capsys):
    assert main(["clv", str(CDNOW_SAMPLE), "--calibration-end", "2001-01-01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be before" in err


def test_clv_fit_is_kept_per_scope_and_date_and_forgotten_on_request():
    """fit_clv keeps its fit on the Database (churn warnings, the value matrix
    and the Segments view share the fit at D): the same scope and date give
    the same object, another date or filter a new fit, forget() drops them all,
    and only Database.MEMO_SIZE fits are kept."""
    from crmflow.db import Scope
    from crmflow.store import Store

    with Store(in_memory=True) as store:
        ds = store.ensure_demo().dataset_id
        d = date(2025, 6, 30)
        first = model.fit_clv(store.db, ds, d)
        assert model.fit_clv(store.db, Scope(ds), d) is first
        assert model.customer_values(store.db, ds, d)[1] is first
        other_day = model.fit_clv(store.db, ds, date(2025, 3, 31))
        assert other_day is not first and other_day.calibration_end == date(2025, 3, 31)
        narrowed = model.fit_clv(store.db, Scope(ds, channels=("Online",)), d)
        assert narrowed is not first and narrowed.customers < first.customers
        store.db.forget()
        again = model.fit_clv(store.db, ds, d)
        assert again is not first
        assert again.purchase.params_ == first.purchase.params_  # same data, same fit
        for k in range(store.db.MEMO_SIZE):
            model.fit_clv(store.db, ds, date(2025, 1, 1 + k))
        assert model.fit_clv(store.db, ds, d) is not again  # the oldest was dropped
