"""Fixes to the conversion prospects (crmflow/prospects.py, its report slide,
command line and tab): unscored customers kept out of counts and tables,
reasons with observed numbers, the backtest verdict on per-step AUCs, value
bins worded as binned, and a horizon before the data's first date. Every
number is worked out by hand on small fixtures."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from crmflow import prospects as P
from crmflow.i18n import t
from crmflow.report import build_slide
from tests.test_prospects import CUSTOMERS, D, TRANSACTIONS

TWO = "customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-05,20\n"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_slide_with_nobody_scored_says_so_in_words(load, lang):
    # A and B are first-time buyers on 2024-01-05; 90 days before, nobody was a customer
    store, ds = load(TWO)
    slide = build_slide(store.db, ds, "prospects", date(2024, 1, 5), lang=lang)
    assert not slide.failed and slide.table is None and slide.figure is None
    assert slide.message == t("pr_none_scored", lang, as_of="2024-01-05", customers=2, days=90)
    assert t("pr_no_past_first", lang, days=90) in slide.bullets


def test_slide_table_lists_only_scored_customers(load):
    # 7 of the 10 are scored (the repeat buyers A1, A3, A4 have no past): the table has 7 rows
    store, ds = load(TRANSACTIONS, CUSTOMERS)
    slide = build_slide(store.db, ds, "prospects", D)
    cells = slide.table.iloc[:, 1].tolist()
    assert len(cells) == 7 and not any("nan" in c or "—" in c for c in cells)
    # 3.5/6 + 1/2 + 5.75/7 + 3/4 + 3 x 4.75/7 = 4.69 expected of the 7 scored
    assert slide.title.startswith("5 of 7 leads and buyers")


@pytest.mark.parametrize("lang, words", [
    ("en", ["below 20", "20 to under 30", "20 to under 30", "30 to under 40", "40 or more", "40 or more"]),
    ("zh", ["低于 20", "20 及以上、低于 30", "20 及以上、低于 30", "30 及以上、低于 40", "40 及以上", "40 及以上"]),
])
def test_value_bins_are_worded_as_they_are_binned(lang, words):
    # quartile edges of 10, 20, 30, 40, 50: 20, 30, 40; a value on an edge goes to the bin above it
    edges = P.value_edges(pd.Series([10, 20, 30, 40, 50]))
    model = P.StepModel("first", date(2024, 1, 1), 5, 2, 0.4, edges=edges)
    values = (19.9, 20, 29.9, 30, 40, 99)
    bins = P.value_bins(pd.Series(values), edges).tolist()
    assert bins == ["q1", "q2", "q2", "q3", "q4", "q4"]
    assert [P._bin_words("value", b, model, lang) for b in bins] == words


def test_unscored_rows_have_no_value_no_expected_and_no_bar(load):
    store, ds = load(TRANSACTIONS, CUSTOMERS)
    result = P.prospects(store.db, ds, D)
    rows = result.frame.set_index("customer_id")
    # the repeat buyers A1, A3, A4: nobody was a repeat buyer at X, so no probability and no value
    assert rows.loc[["A1", "A3", "A4"], "move_value"].isna().all()
    assert rows.loc[["A1", "A3", "A4"], "expected_value"].isna().all()
    assert rows.loc["B2", "move_value"] == pytest.approx(50.0)  # (50 + 70 + 30) / 3
    assert result.models["repeat"].move_value is None
    assert (result.scored(), result.top()) == (7, 5)  # 4.69 expected of the 7 scored
    steps = P.step_summary(result.frame).set_index("stage")
    assert steps.loc["repeat", "customers"] == 3 and pd.isna(steps.loc["repeat", "expected"])
    assert steps.loc["first", "expected"] == pytest.approx(5.75 / 7 + 0.75 + 3 * 4.75 / 7)
    slide = build_slide(store.db, ds, "prospects", D)
    expected_bars = slide.figure.data[1]
    assert list(expected_bars.y)[2] is None and list(expected_bars.text)[2] == ""
    assert list(expected_bars.text)[:2] == ["1", "4"]  # 1.08 leads, 3.61 first-time buyers


def test_top_is_empty_when_nobody_is_scored(load):
    store, ds = load(TWO)
    result = P.prospects(store.db, ds, date(2024, 1, 5))
    assert len(result.frame) == 2 and (result.scored(), result.top()) == (0, 0)
    assert result.frame["move_value"].isna().all()
    assert pd.isna(P.step_summary(result.frame).set_index("stage").loc["first", "expected"])


def test_a_list_by_stage_alone_is_judged_no_better_than_chance():
    # 20 repeat buyers all at 0.8 (16 moved) and 20 first-time buyers all at 0.2 (4 moved):
    # the list tells the steps apart and nothing within a step
    frame = pd.DataFrame({"customer_id": [f"c{i:02d}" for i in range(40)],
                          "stage": ["repeat"] * 20 + ["first"] * 20, "probability": [0.8] * 20 + [0.2] * 20})
    moved = np.array([True] * 16 + [False] * 4 + [True] * 4 + [False] * 16)
    out = P.track_numbers(frame, moved)
    # pooled: of 20 x 20 pairs, 16 x 16 right, 16 x 4 + 4 x 16 tied (half each), 4 x 4 wrong: 320 / 400
    assert out["pooled_auc"] == 0.8
    assert out["by_step"]["repeat"]["auc"] == 0.5 and out["by_step"]["first"]["auc"] == 0.5
    assert out["auc"] == 0.5 and out["verdict"] == "no_better_than_chance"
    # the top round(20 x 0.8 + 20 x 0.2) = 20 rows: the repeat buyers, 16 caught; a random 20 of 40: 10;
    # by stage alone the same 20 rows: 16
    assert (out["top"], out["caught"], out["random_caught"], out["stage_caught"]) == (20, 16, 10.0, 16.0)
    text = P.track_verdict({**out, "scored_at": "2024-01-01", "outcome_end": "2024-03-31", "horizon_days": 90})
    assert text == ("On the past the list did little better than chance: ROC AUC 50.0% within each step (the mean "
                    "over the steps, weighted by customers) for the steps taken between 2024-01-01 and 2024-03-31; "
                    "its top 20 caught 16 of 20 (a random list: 10.0; a list by stage alone: 16.0).")


def test_the_stage_only_list_cuts_a_stage_in_the_middle():
    frame = pd.DataFrame({"customer_id": list("abcde"), "stage": ["first", "first", "repeat", "potential", "first"],
                          "probability": [0.9, 0.2, 0.6, 0.1, None]})
    moved = np.array([True, False, False, True, True])  # e moved but has no probability: left out
    bases = {"first": 0.5, "repeat": 0.3, "potential": 0.1}
    # first (a, b: 1 mover) then repeat (c) then potential (d)
    assert [P.stage_only_caught(frame, moved, bases, top) for top in (1, 2, 3, 4)] == [0.5, 1.0, 1.0, 2.0]
    out = P.track_numbers(frame, moved, bases)
    assert (out["customers"], out["moved"], out["unscored"], out["unscored_moved"]) == (4, 2, 1, 1)


def test_a_horizon_before_the_first_order_is_a_keyed_error(tmp_path, load):
    import subprocess
    import sys

    from crmflow.errors import CrmflowError
    from tests.conftest import ROOT, write

    data = write(tmp_path, "one.csv", TWO)
    # D = 2024-01-05 (the last order), the first order 2024-01-01: at most 4 days
    values = dict(first="2024-01-01", as_of="2024-01-05", most=4)
    for h in ("1000000", "5"):
        done = subprocess.run([sys.executable, "-m", "crmflow", "prospects", str(data), "--horizon-days", h],
                              cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 2 and "Traceback" not in done.stderr and "Overflow" not in done.stderr
        line = t("err_prospects_horizon", "en", days=int(h), **values).rstrip(".")
        assert line in done.stderr and t("err_prospects_horizon_cli", "en", **values) in done.stderr
    ok = subprocess.run([sys.executable, "-m", "crmflow", "prospects", str(data), "--horizon-days", "4",
                         "--format", "csv"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.count("\n") == 3  # header, A, B
    # the library never overflows: D - h (or D - 2h for the backtest) before year 1 is the same error
    store, ds = load(TWO)
    with pytest.raises(CrmflowError) as caught:
        P.prospects(store.db, ds, date(2024, 1, 5), horizon_days=1_000_000)
    assert caught.value.key == "prospects_horizon" and caught.value.params["most"] == 4
    with pytest.raises(CrmflowError) as caught:
        P.track_record(store.db, ds, date(2024, 1, 5), horizon_days=400_000)
    assert caught.value.key == "prospects_horizon"
    assert "{" not in t("err_prospects_horizon_page", "zh") and caught.value.localized("zh")
