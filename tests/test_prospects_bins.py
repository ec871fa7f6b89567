"""The prospects' binning and reasons, computed over whole columns
(crmflow/prospects.py: day_bins, value_bins, text_bins, contact_bins,
to_loyal_bins, bin_frame, the reasons of score): every edge worked out by
hand -- missing values of each kind, values on and around the bin edges,
no value edges, repeated value edges, blank and whitespace-only text."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import special

from crmflow import prospects as P
from crmflow.config import Params
from crmflow.i18n import t

U = P.UNKNOWN


@pytest.mark.parametrize("values", [
    pd.Series([None, np.nan, -1, 0, 29, 29.999, 30, 89, 89.5, 90, 179, 180, 364, 364.9, 365, 4000]),
    pd.Series([None, None, -1, 0, 29, 29.999, 30, 89, 89.5, 90, 179, 180, 364, 364.9, 365, 4000], dtype=object),
    pd.Series([pd.NA, np.nan, -1, 0, 29, 29.999, 30, 89, 89.5, 90, 179, 180, 364, 364.9, 365, 4000], dtype="Float64"),
])
def test_day_bins_by_hand(values):
    # a day count on an edge (30, 90, 180, 365) opens the next bin; missing of any kind is unknown
    assert P.day_bins(values).tolist() == [
        U, U, "<30", "<30", "<30", "<30", "30-89", "30-89", "30-89", "90-179", "90-179", "180-364", "180-364",
        "180-364", "365+", "365+"]


def test_day_bins_of_integer_columns_with_missing_values():
    assert P.day_bins(pd.Series([29, pd.NA, 30], dtype="Int64")).tolist() == ["<30", U, "30-89"]


def test_contact_bins_by_hand():
    # a missing count is 0; a fraction is cut off (2.9 contacts are 2)
    values = pd.Series([None, np.nan, 0, 0.5, 1, 2, 2.9, 3, 12], dtype=object)
    assert P.contact_bins(values).tolist() == ["0", "0", "0", "0", "1-2", "1-2", "1-2", "3+", "3+"]
    assert P.contact_bins(pd.Series([1, pd.NA, 3], dtype="Int64")).tolist() == ["1-2", "0", "3+"]


def test_value_bins_by_hand():
    edges = (20.0, 30.0, 40.0)
    values = pd.Series([None, np.nan, 0, 19.999, 20, 29.999, 30, 39.999, 40, 1e9])
    # a value on an edge goes to the quarter above it
    assert P.value_bins(values, edges).tolist() == [U, U, "q1", "q1", "q2", "q2", "q3", "q3", "q4", "q4"]
    # no value edges (no first order values at X): every value is unknown
    assert P.value_bins(values, ()).tolist() == [U] * len(values)
    # repeated edges (most values equal): the bins between them are empty
    assert P.value_bins(pd.Series([9.0, 10.0, 11.0, None]), (10.0, 10.0, 10.0)).tolist() == ["q1", "q4", "q4", U]


def test_text_bins_by_hand():
    values = pd.Series([None, np.nan, "", "  ", "\t\n", "\xa0", "\x1c", " North ", "North", "0", "unknown"],
                       dtype=object)
    # missing, empty and whitespace-only text (as Python's str.strip sees it) is unknown;
    # anything else is kept exactly as written
    assert P.text_bins(values).tolist() == [U, U, U, U, U, U, U, " North ", "North", "0", "unknown"]
    as_str = pd.Series(["", None, "West", " "], dtype="str")
    assert P.text_bins(as_str).tolist() == [U, U, "West", U]
    assert P.text_bins(pd.Series([None, None], dtype=object)).tolist() == [U, U]


def test_to_loyal_bins_by_hand():
    # loyal at 4 orders in the window: missing max(4 - orders, 1), a fraction cut off; no count is 0 orders
    orders = pd.Series([None, 0, 1, 1.5, 2, 2.5, 3, 4, 9])
    assert P.to_loyal_bins(orders, Params(loyal_orders=4)).tolist() == ["3+", "3+", "3+", "2", "2", "1", "1", "1", "1"]


def test_bin_frame_columns_and_dtypes():
    frame = pd.DataFrame({"days_in_stage": [10, 400], "first_order_value": [25.0, None],
                          "first_category": ["x", " "], "region": [None, "N"], "owner": ["O", "O"],
                          "contacts": [0, 5], "orders_in_window": [3, 0]}, index=[7, 3])
    bins = P.bin_frame(frame, (20.0, 30.0, 40.0), Params())
    assert list(bins.columns) == ["bin_days", "bin_value", "bin_category", "bin_region", "bin_owner",
                                  "bin_contacts", "bin_to_loyal"]
    assert list(bins.index) == [7, 3]
    assert bins.to_dict("list") == {"bin_days": ["<30", "365+"], "bin_value": ["q2", U], "bin_category": ["x", U],
                                    "bin_region": [U, "N"], "bin_owner": ["O", "O"], "bin_contacts": ["0", "3+"],
                                    "bin_to_loyal": ["1", "3+"]}
    assert all(pd.api.types.is_string_dtype(bins[c]) for c in bins.columns)
    empty = P.bin_frame(frame.iloc[0:0], (), Params())
    assert list(empty.columns) == list(bins.columns) and empty.empty


def _rate(contribution: float) -> float:
    """The bin rate whose contribution is ``contribution`` at a base rate of 0.5 (logit 0)."""
    return float(special.expit(contribution))


def test_reasons_by_hand():
    # first -> repeat, base rate 0.5 (log-odds 0), no calibration: a bin's contribution is logit(its rate)
    rates = {"days": {"<30": (10, 9, _rate(1.0))}, "value": {}, "category": {"x": (10, 5, _rate(0.02))},
             "region": {"N": (8, 6, _rate(0.7))}, "owner": {"O": (8, 6, _rate(0.7))},
             "contacts": {"3+": (6, 1, _rate(-0.7))}}
    model = P.StepModel("first", date(2024, 1, 1), 20, 10, 0.5, rates, (), 100.0, 30.0)
    frame = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "stage": "first",
                          "days_in_stage": [12, 400, 5, 200], "first_order_value": np.nan,
                          "first_category": ["x", "x", "x", "y"], "region": ["N", "N", "S", "S"],
                          "owner": ["O", "O", "P", "P"], "contacts": [4, 7, 0, 0], "orders_in_window": 1})
    listed = P.score(frame, {"first": model}, Params()).set_index("customer_id")
    traits = {c: [(r["trait"], r["strength"]) for r in rs] for c, rs in listed["reasons"].items()}
    # a: days 1.0 first; region, owner and contacts all 0.7 in size: the first two in trait order;
    # category (0.02) is below MIN_REASON
    assert traits["a"] == [("days", 1.0), ("region", 0.7), ("owner", 0.7)]
    # b: days 400 is a bin not seen at X (the base rate: no reason)
    assert traits["b"] == [("region", 0.7), ("owner", 0.7), ("contacts", -0.7)]
    assert traits["c"] == [("days", 1.0)]
    assert traits["d"] == []
    a = listed.loc["a", "reasons"]
    assert a[0] == {"trait": "days", "strength": 1.0, "rate": _rate(1.0), "base": 0.5, "n": 10, "moved": 9,
                    "days": "12", "clock": t("pr_clock_first"), "took": "30"}
    assert a[1] == {"trait": "region", "strength": 0.7, "rate": _rate(0.7), "base": 0.5, "n": 8, "moved": 6,
                    "value": "N"}
    assert listed.loc["b", "reasons"][2]["contacts"] == 7
    assert listed.loc["c", "reasons"][0]["days"] == "5"
    for c in "abc":
        assert listed.loc[c, "reasons_text"] == [P.reason_text(r) for r in listed.loc[c, "reasons"]]
    assert listed.loc["d", "reasons_text"] == [t("pr_reason_base", base=0.5, customers=20, stage=t("stage_first"))]
    # every row has its own reasons (the same reason in two rows is two objects)
    assert listed.loc["a", "reasons"][1] == listed.loc["b", "reasons"][0]
    assert listed.loc["a", "reasons"][1] is not listed.loc["b", "reasons"][0]
