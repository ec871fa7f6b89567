"""Issue 13 items 1-2 in the application layer: the purchase model chosen by the
holdout backtest, standard errors, and 90% bootstrap intervals (crmflow.model,
`crmflow clv`, crmflow.segments_table).

Checked against: the CDNOW sample's holdout purchases counted in plain pandas;
histories simulated from MBG/NBD (simulate() below), where the BG/NBD
fits are clearly worse; an independent bootstrap written from the interval's
definition (sample_params + with_params + np.quantile); hand-made data where
nobody repeats or the history is too short.
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from crmflow import model
from crmflow.cli import main
from crmflow.clv import customer_lifetime_value
from crmflow.segments_table import (
    candidate_table,
    choice_note,
    fit_notes,
    parameter_table,
    segment_view,
)
from crmflow.stages import data_range
from crmflow.store import load_file_dataset
from tests.conftest import CDNOW_SAMPLE

CDNOW_END = date(1998, 6, 30)


# --------------------------------------------------------------------------- simulated histories
START = date(2022, 1, 1)


def simulate(n: int, *, kind: str, r: float, alpha: float, a: float, b: float, days: int,
             arrival_days: int, seed: int) -> pd.DataFrame:
    """Transactions (customer_id, order_date, amount) of ``n`` customers over
    ``days`` days from START: each arrives (first purchase) uniformly in the
    first ``arrival_days``, buys at rate lambda ~ Gamma(r, alpha) per week while
    alive and, after each purchase, drops out with probability p ~ Beta(a, b);
    under MBG/NBD also right after the first purchase."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        first = rng.uniform(0, arrival_days)
        lam = rng.gamma(r, 1 / alpha) / 7  # per day
        p = rng.beta(a, b)
        times = [first]
        alive = not (kind == "mbgnbd" and rng.random() < p)
        t = first
        while alive:
            t += rng.exponential(1 / lam) if lam > 0 else np.inf
            if t >= days:
                break
            times.append(t)
            alive = rng.random() >= p
        for when in times:
            rows.append((f"C{i:05d}", START + timedelta(days=int(when)), round(float(rng.gamma(4, 10)), 2)))
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])


@pytest.fixture(scope="module")
def cdnow():
    store, result = load_file_dataset(CDNOW_SAMPLE)
    yield store, result.dataset.dataset_id
    store.close()


def cdnow_holdout_purchases(start: str, end: str) -> int:
    """Repeat purchases (distinct days with a positive amount) in (start, end] of
    the customers who bought on or before start, in plain pandas."""
    raw = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None, names=["m", "id", "d", "n", "usd"],
                      dtype={"m": str, "d": str})
    raw = raw[raw.usd > 0]
    raw["d"] = pd.to_datetime(raw.d, format="%Y%m%d")
    known = set(raw[raw.d <= start].m)
    hold = raw[(raw.d > start) & (raw.d <= end) & raw.m.isin(known)]
    return int(hold.groupby("m").d.nunique().sum())


def assert_chosen_is_best(choice: model.ModelChoice) -> None:
    chosen = choice.chosen_result
    tie = model.TIE_RELATIVE * max(chosen.actual, 1)
    for r in choice.results:
        assert chosen.absolute_error <= r.absolute_error + tie, r.candidate.name


# --------------------------------------------------------------------------- the choice
def test_choice_on_cdnow_compares_eight_fits_on_the_real_holdout_and_fits_the_winner_at_d(cdnow):
    store, ds = cdnow
    fit = model.fit_clv(store.db, ds, CDNOW_END)
    choice = fit.choice
    assert choice.requested == "auto" and choice.reason == "backtest"
    assert [r.candidate.name for r in choice.results] == [
        f"{m}_{fit}" for m in ("bgnbd", "mbgnbd")
        for fit in ("ml", "penalised_0.001", "penalised_0.01", "penalised_0.1")]
    # the holdout is the default backtest's: a quarter of the history before D
    first = data_range(store.db, ds)[0]
    assert (CDNOW_END - choice.calibration_end).days == model.default_holdout_days(first, CDNOW_END)
    assert choice.holdout_end == CDNOW_END
    actual = cdnow_holdout_purchases(choice.calibration_end.isoformat(), CDNOW_END.isoformat())
    assert all(r.actual == actual for r in choice.results)
    assert_chosen_is_best(choice)
    # the fits differ, and the choice is not a foregone conclusion
    assert len({round(r.predicted, 3) for r in choice.results}) == 8
    # the winner is fitted on everything up to D, as that model and fit
    assert fit.calibration_end == CDNOW_END
    assert fit.purchase.name == choice.chosen.model == fit.model
    assert fit.purchase.penalized_ == (choice.chosen.penalizer is not None)
    # the backtest the page shows is the winner's own, at D - h
    bt = model.backtest(store.db, ds, CDNOW_END)
    assert bt.fit.choice == choice and bt.calibration_end == choice.calibration_end
    assert bt.predicted_total == pytest.approx(choice.chosen_result.predicted)
    # memoised per (scope, date, model): every view shares one fit
    assert model.fit_clv(store.db, ds, CDNOW_END) is fit
    assert model.customer_values(store.db, ds, CDNOW_END)[1] is fit


def test_a_named_model_is_fitted_by_maximum_likelihood_without_a_choice(cdnow):
    store, ds = cdnow
    for name in ("bgnbd", "mbgnbd"):
        fit = model.fit_clv(store.db, ds, CDNOW_END, model=name)
        assert fit.model == name and fit.choice.reason == "requested" and fit.choice.results == ()
        assert not fit.purchase.penalized_
    with pytest.raises(model.CrmflowError):
        model.fit_clv(store.db, ds, CDNOW_END, model="pareto")


def test_on_mbgnbd_histories_the_clearly_better_mbgnbd_is_chosen(load):
    # Half the customers (p ~ Beta(1, 1)) drop out right after their first purchase:
    # BG/NBD keeps every one-time buyer alive and over-forecasts the holdout.
    df = simulate(3000, kind="mbgnbd", r=1.0, alpha=4, a=1, b=1, days=730, arrival_days=365, seed=7)
    store, ds = load(df.to_csv(index=False))
    d = data_range(store.db, ds)[1]
    choice = model.fit_clv(store.db, ds, d).choice
    assert choice.chosen.model == "mbgnbd"
    assert_chosen_is_best(choice)
    errors = {r.candidate.name: r.absolute_error for r in choice.results}
    assert min(v for k, v in errors.items() if k.startswith("bgnbd")) > 3 * errors[choice.chosen.name]
    # the actual holdout purchases, counted from the simulated rows
    start = pd.Timestamp(choice.calibration_end)
    days = df.assign(order_date=pd.to_datetime(df.order_date)).drop_duplicates(["customer_id", "order_date"])
    known = set(days[days.order_date <= start].customer_id)
    hold = days[(days.order_date > start) & days.customer_id.isin(known)]
    assert choice.chosen_result.actual == len(hold)


def test_a_short_history_falls_back_to_bgnbd_maximum_likelihood_and_says_so(load):
    rows = ["customer_id,order_date,amount"] + [
        f"C{i},2024-03-{1 + i % 20:02d},{10 + i}" for i in range(40)] + [
        f"C{i},2024-03-{5 + i % 15:02d},{5 + i}" for i in range(0, 40, 3)]
    store, ds = load("\n".join(rows) + "\n")
    fit = model.fit_clv(store.db, ds, date(2024, 3, 25))
    assert fit.choice.reason == "short_history" and fit.choice.chosen == model.Candidate("bgnbd")
    assert fit.model == "bgnbd" and not fit.purchase.penalized_
    note = choice_note(fit.choice)
    assert note.key == "clvchoice_choice_short"
    assert "too short" in note.text("en") and "历史太短" in note.text("zh")


def test_nobody_repeats_gives_zero_orders_and_value_for_everyone(load):
    # 60 customers, one order each, spread over ten months: nobody ever came back.
    rows = ["customer_id,order_date,amount"] + [
        f"C{i:02d},2024-{1 + i % 10:02d}-{1 + i % 27:02d},{20 + i}" for i in range(60)]
    store, ds = load("\n".join(rows) + "\n")
    d = data_range(store.db, ds)[1]
    pred, fit = model.customer_values(store.db, ds, d, intervals=True)
    assert len(pred) == 60 and fit.purchase.no_repeaters_
    for col in ("expected_orders", "expected_value", *model.INTERVAL_COLUMNS):
        assert (pred[col] == 0).all(), col
    assert fit.choice.reason == "backtest"
    assert all(r.predicted == 0 and r.actual == 0 for r in fit.choice.results)
    assert fit.choice.chosen == model.Candidate("bgnbd")  # a tie everywhere: the simplest
    assert fit_notes(fit)[0].key == "clv_purchase_no_repeaters"


# --------------------------------------------------------------------------- uncertainty
def test_intervals_are_the_bootstrap_of_their_definition(cdnow):
    store, ds = cdnow
    fit = model.fit_clv(store.db, ds, date(1997, 9, 30), model="bgnbd")
    pred = fit.predict(39, 0.10)
    # independent: every customer, every draw, the public API, np.quantile
    rng = np.random.default_rng(model.SEED)
    purchase = [fit.purchase.with_params(p) for p in fit.purchase.sample_params(model.DRAWS, rng)]
    spend = [fit.gamma_gamma.with_params(p) for p in fit.gamma_gamma.sample_params(model.DRAWS, rng)]
    x, tx, T, m = fit._arrays()
    orders = np.column_stack([p.expected_purchases(39, x, tx, T) for p in purchase])
    values = np.column_stack([customer_lifetime_value(p, g, x, tx, T, m, horizon_weeks=39,
                                                      discount_rate_annual=0.10) for p, g in zip(purchase, spend)])
    lo, hi = np.quantile(orders, [0.05, 0.95], axis=1)
    point = pred["expected_orders"].to_numpy()
    np.testing.assert_allclose(pred["expected_orders_low"], np.minimum(lo, point), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pred["expected_orders_high"], np.maximum(hi, point), rtol=1e-9, atol=1e-12)
    lo, hi = np.quantile(values, [0.05, 0.95], axis=1)
    vpoint = pred["expected_value"].to_numpy()
    # spends to three significant digits, discount timing of the point fit: under 1%
    np.testing.assert_allclose(pred["expected_value_low"], np.minimum(lo, vpoint), rtol=1e-2)
    np.testing.assert_allclose(pred["expected_value_high"], np.maximum(hi, vpoint), rtol=1e-2)
    # the intervals are real: most customers' are wider than nothing
    assert (pred["expected_orders_high"] - pred["expected_orders_low"] > 1e-6).mean() > 0.9


def test_intervals_hold_the_point_are_reproducible_and_shrink_with_more_data(load):
    widths = []
    for n in (400, 3200):
        df = simulate(n, kind="bgnbd", r=0.8, alpha=6, a=1.5, b=4, days=730, arrival_days=365, seed=3)
        store, ds = load(df.to_csv(index=False))
        d = data_range(store.db, ds)[1]
        fit = model.fit_clv(store.db, ds, d, model="bgnbd")
        pred = fit.predict()
        # the raw bootstrap percentiles (before predict widens them to hold the point) hold the point for
        # nearly every customer, and predict's bounds are exactly those widened
        raw = fit.intervals()
        for name in ("expected_orders", "expected_value"):
            low, high, point = raw[name + "_low"], raw[name + "_high"], pred[name].to_numpy()
            inside = (low <= point * (1 + 1e-9) + 1e-12) & (point <= high * (1 + 1e-9) + 1e-12)
            assert inside.mean() > 0.99, (name, inside.mean())
            np.testing.assert_array_equal(pred[name + "_low"], np.minimum(low, point))
            np.testing.assert_array_equal(pred[name + "_high"], np.maximum(high, point))
        # a fresh fit of the same data gives the same intervals (fixed seed)
        store.db.forget()
        again = model.fit_clv(store.db, ds, d, model="bgnbd").predict()
        pd.testing.assert_frame_equal(pred, again)
        # relative width of a typical customer's expected orders
        buyers = pred[pred["expected_orders"] > 0]
        widths.append(float(((buyers["expected_orders_high"] - buyers["expected_orders_low"])
                             / buyers["expected_orders"]).median()))
    assert widths[1] < widths[0] / 1.8  # about 1/sqrt(8) expected


def test_standard_errors_have_every_parameter(cdnow):
    store, ds = cdnow
    fit = model.fit_clv(store.db, ds, date(1997, 9, 30), model="bgnbd")
    se = fit.standard_errors()
    assert tuple(se) == model.PARAMETERS
    assert all(isinstance(v, float) and v > 0 for v in se.values())
    table = parameter_table(fit)
    assert list(table["parameter"]) == list(model.PARAMETERS)
    assert table["standard_error"].tolist() == pytest.approx([se[k] for k in model.PARAMETERS])


# --------------------------------------------------------------------------- command line
def run_clv(capsys, *extra: str) -> tuple[int, str]:
    code = main(["clv", str(CDNOW_SAMPLE), "--calibration-end", "1997-09-30", *extra])
    return code, capsys.readouterr().out


def test_clv_json_says_which_model_was_chosen_why_and_how_sure(capsys):
    code, out = run_clv(capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["model"] in ("bgnbd", "mbgnbd") and doc["fit"] in ("maximum_likelihood", "penalised")
    choice = doc["choice"]
    assert choice["reason"] == "backtest" and choice["requested"] == "auto" and "holdout" in choice["criterion"]
    assert choice["calibration_end"] == "1997-09-30" and choice["holdout_end"] == "1998-06-30"
    cands = choice["candidates"]
    assert [c["chosen"] for c in cands].count(True) == 1
    chosen = next(c for c in cands if c["chosen"])
    assert chosen["name"] == choice["chosen"] and chosen["model"] == doc["model"]
    actual = cdnow_holdout_purchases("1997-09-30", "1998-06-30")
    assert all(c["actual_orders"] == actual for c in cands)
    assert chosen["absolute_error"] <= min(c["absolute_error"] for c in cands) + model.TIE_RELATIVE * actual
    assert doc["backtest"]["predicted_orders"] == pytest.approx(chosen["predicted_orders"])
    # the chosen fit's parameters, and both reference fits by maximum likelihood at the same date
    assert set(doc["purchase"]) == set(doc["bgnbd"]) == set(doc["mbgnbd"]) == {"r", "alpha", "a", "b"}
    if chosen["fit"] == "maximum_likelihood":
        assert doc["purchase"] == doc[doc["model"]]
    else:
        assert doc["purchase"] != doc[doc["model"]]
    assert doc["bgnbd"]["r"] == pytest.approx(0.243, abs=1e-3)
    assert set(doc["standard_errors"]) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert all(v is None or v > 0 for v in doc["standard_errors"].values())

    code, out = run_clv(capsys, "--model", "mbgnbd")
    doc = json.loads(out)
    assert doc["model"] == "mbgnbd" and doc["purchase"] == doc["mbgnbd"] and doc["bgnbd"]["r"] == pytest.approx(0.243, abs=1e-3)
    assert doc["choice"]["reason"] == "requested" and len(doc["choice"]["candidates"]) == 1


def test_clv_csv_has_the_interval_columns(capsys, cdnow):
    code, out = run_clv(capsys, "--format", "csv", "--model", "bgnbd")
    assert code == 0
    rows = pd.read_csv(io.StringIO(out), dtype={"customer_id": str})
    assert tuple(rows.columns) == model.PREDICTION_COLUMNS
    assert {"expected_orders_low", "expected_orders_high", "expected_value_low", "expected_value_high"} <= set(rows)
    assert len(rows) == 2349
    # the interval columns are the fit's own (the BG/NBD fit up to the same calibration end), to 6 decimals
    store, ds = cdnow
    want = model.fit_clv(store.db, ds, date(1997, 9, 30), model="bgnbd").predict()
    rows = rows.set_index("customer_id").loc[want["customer_id"]]
    for name in model.INTERVAL_COLUMNS:
        np.testing.assert_allclose(rows[name].to_numpy(), want[name].to_numpy(), atol=1e-6, err_msg=name)


def test_clv_without_a_calibration_end_prints_the_fit_the_pages_use(capsys, cdnow):
    """No --calibration-end: parameters, standard errors and predictions are the fit at D
    (what the Segments page shows); the backtest is the one at D - h."""
    store, ds = cdnow
    assert main(["clv", str(CDNOW_SAMPLE), "--as-of", CDNOW_END.isoformat()]) == 0
    doc = json.loads(capsys.readouterr().out)
    fit = model.fit_clv(store.db, ds, CDNOW_END)
    assert doc["calibration_end"] == CDNOW_END.isoformat() and doc["model"] == fit.model
    assert doc["purchase"] == pytest.approx(fit.purchase.params_, rel=1e-9)
    assert doc["standard_errors"] == pytest.approx(fit.standard_errors(), rel=1e-9)
    bt = model.backtest(store.db, ds, CDNOW_END)
    assert doc["backtest"]["calibration_end"] == bt.calibration_end.isoformat() < CDNOW_END.isoformat()
    assert doc["holdout_expected_orders"] == pytest.approx(bt.predicted_total, abs=1e-4)
    assert doc["bgnbd"] == pytest.approx(model.fit_clv(store.db, ds, CDNOW_END, "bgnbd").purchase.params_, rel=1e-9)


# --------------------------------------------------------------------------- the Segments view's data
def test_segment_view_carries_the_choice_the_candidates_and_the_parameters(cdnow):
    store, ds = cdnow
    view = segment_view(store.db, ds, CDNOW_END)
    fit = model.fit_clv(store.db, ds, CDNOW_END)
    assert view.model == fit.model
    assert view.choice == choice_note(fit.choice) and view.choice.key == "clvchoice_choice_backtest"
    for lang in ("en", "zh"):
        text = view.choice.text(lang)
        assert f"{fit.choice.chosen_result.actual:,}" in text and fit.choice.calibration_end.isoformat() in text
    assert view.candidates.equals(candidate_table(fit.choice))
    assert view.candidates["chosen"].sum() == 1
    pred = fit.predict()
    table = view.customers.dropna(subset=["expected_value"]).set_index("customer_id")
    for col in model.INTERVAL_COLUMNS:
        assert np.allclose(table.loc[pred["customer_id"], col], pred[col]), col
