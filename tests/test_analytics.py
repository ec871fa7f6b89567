"""RFM, cohort retention, Pareto and N/t/D (SPEC §2) against values worked out
by hand; invariants on the demo data and CDNOW; RFM against an independent
plain-pandas computation; the analytics commands of the command line."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CDNOW_MASTER

from crmflow import analytics
from crmflow.analytics import (
    cohort_matrix,
    cohort_retention,
    ntd_trends,
    pareto,
    pareto_headline,
    rfm,
    rfm_segments_summary,
    segment_grid,
    segment_map,
    segment_name,
    segments,
)
from crmflow.cli import main
from crmflow.config import Params
from crmflow.errors import CrmflowError
from crmflow.i18n import TRANSLATIONS
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
D = date(2024, 6, 30)


def csv_text(rows: list[tuple], header: str = "customer,date,amount") -> str:
    return header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n"


def by_customer(df: pd.DataFrame, *cols: str) -> dict:
    return {c: tuple(v) for c, *v in df[["customer_id", *cols]].itertuples(index=False)}


# --------------------------------------------------------------------------- RFM: tie rule
# Ten customers; on each metric the values sorted from worst to best are
#   position   0   1   2   3   4   5   6   7   8   9
#   value      v0  v1  v1  v2  v2  v3  v3  v4  v4  v5     (a tie across every quintile boundary)
# score = 1 + floor(5 * (#strictly worse) / 10):
#   v0: 0 worse -> 1;  v1: 1 -> 1 + floor(0.5) = 1;  v2: 3 -> 1 + floor(1.5) = 2;
#   v3: 5 -> 1 + floor(2.5) = 3;  v4: 7 -> 1 + floor(3.5) = 4;  v5: 9 -> 1 + floor(4.5) = 5
# Plain quintiles by position would split every tie (1,1,2,2,3,3,4,4,5,5); the rule gives
TIE_SCORES = [1, 1, 1, 2, 2, 3, 3, 4, 4, 5]
RECENCY = [100, 90, 90, 80, 80, 70, 70, 60, 60, 50]      # days, worst (most) first
FREQUENCY = [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]               # orders, worst (fewest) first
MONETARY = [10, 20, 20, 30, 30, 40, 40, 50, 50, 60]      # revenue, worst (least) first
# Each metric is given to the customers in a different order, so that a score
# computed from the wrong metric or from row order would show.
NAMES = list("ABCDEFGHIJ")
R_OWNER = NAMES                                           # A has recency position 0, ...
F_OWNER = list("JIHGFEDCBA")                               # J has frequency position 0, ...
M_OWNER = list("EJAFBGCHDI")


def tie_dataset() -> tuple[str, dict[str, tuple[int, int, int]]]:
    """Rows for the ten customers, and each customer's (recency, frequency, monetary)."""
    metrics = {}
    for name in NAMES:
        metrics[name] = (RECENCY[R_OWNER.index(name)], FREQUENCY[F_OWNER.index(name)],
                         MONETARY[M_OWNER.index(name)])
    rows = []
    # listed in reverse so that the input row order differs from every sort order
    for name in reversed(NAMES):
        r, f, m = metrics[name]
        last = D - timedelta(days=r)
        # f orders on f distinct days ending at `last`; 1 each, the rest on the last order
        for k in range(f - 1, -1, -1):
            amount = 1 if k else m - (f - 1)
            rows.append((name, last - timedelta(days=k), amount))
    return csv_text(rows), metrics


def expected_tie_scores() -> dict[str, tuple[int, int, int]]:
    return {n: (TIE_SCORES[R_OWNER.index(n)], TIE_SCORES[F_OWNER.index(n)], TIE_SCORES[M_OWNER.index(n)])
            for n in NAMES}


def test_rfm_ties_at_every_boundary_get_the_lower_score(load):
    text, metrics = tie_dataset()
    store, ds = load(text)
    df = rfm(store.db, ds, D)
    assert list(df.columns) == list(analytics.RFM_COLUMNS)
    assert list(df["customer_id"]) == NAMES
    assert by_customer(df, "recency_days", "frequency", "monetary") == metrics
    assert by_customer(df, "r_score", "f_score", "m_score") == expected_tie_scores()
    # e.g. A: recency position 0 (100 days) -> r 1; frequency position 9 (6 orders) -> f 5 -> cant_lose (Quiet top buyers)
    assert df.set_index("customer_id").loc["A", "segment"] == "cant_lose"
    # J: recency position 9 (50 days) -> r 5; frequency position 0 -> f 1 -> New
    assert df.set_index("customer_id").loc["J", "segment"] == "new"
    assert df["segment"].tolist() == [segment_grid()[(r, f)] for r, f in zip(df["r_score"], df["f_score"])]


def test_rfm_does_not_depend_on_row_order(load):
    text, _ = tie_dataset()
    header, *rows = text.strip().splitlines()
    store1, ds1 = load(text)
    first = rfm(store1.db, ds1, D)
    shuffled = [rows[i] for i in np.random.default_rng(7).permutation(len(rows))]
    store2, ds2 = load(header + "\n" + "\n".join(shuffled) + "\n")
    pd.testing.assert_frame_equal(first, rfm(store2.db, ds2, D))


def test_rfm_distinct_values_give_exact_quintiles(load):
    # 10 customers, frequency 1..10 and revenue 10..100 all distinct: two per score
    rows = []
    for i in range(10):
        for k in range(i + 1):
            rows.append((f"C{i}", date(2024, 1, 1) + timedelta(days=k + i), 10 if k == 0 else 0.0001))
    store, ds = load(csv_text(rows))
    df = rfm(store.db, ds, D)
    assert df["f_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert sorted(df["m_score"].value_counts().tolist()) == [2] * 5


@pytest.mark.parametrize("values, scores", [
    # n = 1: nobody is worse -> 1
    ([10], [1]),
    # n = 2: 1 + floor(5 * 1 / 2) = 3
    ([10, 20], [1, 3]),
    # n = 3: 1, 1 + floor(5/3) = 2, 1 + floor(10/3) = 4
    ([10, 20, 30], [1, 2, 4]),
    # n = 4 all equal: nobody strictly worse -> all 1
    ([10, 10, 10, 10], [1, 1, 1, 1]),
    # n = 4: 1, 1 + floor(5/4) = 2, 2 (tie), 1 + floor(15/4) = 4
    ([10, 20, 20, 30], [1, 2, 2, 4]),
])
def test_rfm_fewer_than_five_customers(load, values, scores):
    rows = [(f"C{i}", "2024-06-01", v) for i, v in enumerate(values)]
    store, ds = load(csv_text(rows))
    df = rfm(store.db, ds, D)
    assert df["m_score"].tolist() == scores
    # same day, one order each: recency and frequency all tied -> 1
    assert set(df["r_score"]) == {1} and set(df["f_score"]) == {1}


def test_rfm_returns_lower_monetary_and_are_not_orders(load):
    store, ds = load("""
        customer,date,amount
        A,2024-05-01,100
        A,2024-06-10,-30
        A,2024-06-20,0
        A,2024-07-05,-50
        B,2024-06-01,40
    """)
    df = rfm(store.db, ds, D).set_index("customer_id")
    # A: one order (the return, the zero row and the later return are not orders; the
    # July return is after D): monetary 100 - 30 = 70, recency from 2024-05-01 = 60 days
    assert df.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [60, 1, 70.0]
    assert df.loc["B", ["recency_days", "frequency", "monetary"]].tolist() == [29, 1, 40.0]
    # A worse on recency, better on monetary: n = 2 -> scores 1 and 3
    assert df.loc["A", ["r_score", "f_score", "m_score"]].tolist() == [1, 1, 3]
    assert df.loc["B", ["r_score", "f_score", "m_score"]].tolist() == [3, 1, 1]


def test_rfm_same_day_rows_are_one_order_without_order_id(load):
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,10
        A,2024-06-01,20
        A,2024-06-03,5
    """)
    row = rfm(store.db, ds, D).iloc[0]
    assert (row["frequency"], row["monetary"], row["recency_days"]) == (2, 35.0, 27)


def test_rfm_order_id_orders(load):
    store, ds = load("""
        order_id,customer,date,amount
        O1,A,2024-06-01,10
        O1,A,2024-06-01,5
        O2,A,2024-06-01,20
        O3,B,2024-06-01,10
        O3,B,2024-06-02,10
        O4,B,2024-06-29,1
        O4,B,2024-07-02,1
    """)
    df = rfm(store.db, ds, D).set_index("customer_id")
    # A: O1 and O2 on the same day are two orders; revenue 35
    assert df.loc["A", ["frequency", "monetary", "recency_days"]].tolist() == [2, 35.0, 29]
    # B: O3 spans two days (one order, dated 06-01), O4 dated 06-29 (its line after D is
    # ignored): 2 orders, revenue 10 + 10 + 1 = 21, last order 06-29 -> 1 day
    assert df.loc["B", ["frequency", "monetary", "recency_days"]].tolist() == [2, 21.0, 1]


def test_rfm_orders_after_d_are_ignored(load):
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,10
        A,2024-07-01,10
        B,2024-07-01,10
    """)
    df = rfm(store.db, ds, D)
    assert df["customer_id"].tolist() == ["A"]   # B has no order on or before D
    assert df.iloc[0][["frequency", "monetary", "recency_days"]].tolist() == [1, 10.0, 29]
    assert rfm(store.db, ds, date(2024, 5, 1)).empty


def test_rfm_matches_an_independent_pandas_computation(load):
    rng = np.random.default_rng(20240630)
    n = 400
    customers = [f"K{i:03d}" for i in rng.integers(0, 120, n)]
    days = [date(2023, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 600, n)]
    amounts = np.round(rng.choice([-1, 1, 1, 1, 1], n) * rng.gamma(2.0, 40.0, n), 2)
    amounts[rng.random(n) < 0.05] = 0
    raw = pd.DataFrame({"customer": customers, "date": days, "amount": amounts})
    store, ds = load(raw.to_csv(index=False))
    as_of = date(2024, 3, 31)
    got = rfm(store.db, ds, as_of).set_index("customer_id")

    # SPEC §2 in plain pandas: orders = distinct (customer, day) with amount > 0
    upto = raw[raw["date"] <= as_of]
    orders = upto[upto["amount"] > 0].drop_duplicates(["customer", "date"])
    per = orders.groupby("customer").agg(frequency=("date", "size"), last=("date", "max"))
    per["recency_days"] = [(as_of - d).days for d in per["last"]]
    per["monetary"] = upto.groupby("customer")["amount"].sum().reindex(per.index)

    def score(values: pd.Series, higher_is_better: bool) -> pd.Series:
        v = values.to_numpy()
        worse = [(v < x).sum() if higher_is_better else (v > x).sum() for x in v]
        return pd.Series([1 + (5 * w) // len(v) for w in worse], index=values.index)

    want = pd.DataFrame({
        "recency_days": per["recency_days"], "frequency": per["frequency"], "monetary": per["monetary"],
        "r_score": score(per["recency_days"], False), "f_score": score(per["frequency"], True),
        "m_score": score(per["monetary"].round(4), True)})
    assert sorted(got.index) == sorted(want.index)
    want = want.loc[got.index]
    for col in ("recency_days", "frequency", "r_score", "f_score", "m_score"):
        assert got[col].tolist() == want[col].astype(int).tolist(), col
    np.testing.assert_allclose(got["monetary"], want["monetary"], atol=1e-9)


# --------------------------------------------------------------------------- segment map
ENGLISH_NAMES = {
    "champions": "Champions", "loyal": "Steady buyers", "potential_loyalist": "Rising buyers",
    "new": "Recent starters", "promising": "Promising", "need_attention": "Need a nudge",
    "about_to_sleep": "About to sleep", "at_risk": "Fading regulars", "cant_lose": "Quiet top buyers",
    "hibernating": "Hibernating", "lost": "Gone cold",
}


def test_segment_map_covers_each_cell_exactly_once():
    path = ROOT / "crmflow" / "data" / "rfm_segments.csv"
    cells: dict[tuple[int, int], list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            for r in range(int(rec["r_min"]), int(rec["r_max"]) + 1):
                for f in range(int(rec["f_min"]), int(rec["f_max"]) + 1):
                    cells.setdefault((r, f), []).append(rec["segment"])
    assert set(cells) == {(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert all(len(v) == 1 for v in cells.values()), {k: v for k, v in cells.items() if len(v) > 1}
    assert len(segment_grid()) == 25 and len(segment_map()) >= 11


def test_segment_map_is_the_common_rf_map():
    g = segment_grid()
    want = {
        "champions": [(5, 4), (5, 5)],
        "loyal": [(r, f) for r in (3, 4) for f in (4, 5)],
        "potential_loyalist": [(r, f) for r in (4, 5) for f in (2, 3)],
        "new": [(5, 1)], "promising": [(4, 1)], "need_attention": [(3, 3)],
        "about_to_sleep": [(3, 1), (3, 2)],
        "at_risk": [(r, f) for r in (1, 2) for f in (3, 4)],
        "cant_lose": [(1, 5), (2, 5)],
        "hibernating": [(2, 1), (2, 2), (1, 2)],
        "lost": [(1, 1)],
    }
    assert {seg: sorted(c for c, s in g.items() if s == seg) for seg in want} == {k: sorted(v) for k, v in
                                                                                 want.items()}
    assert set(segments()) == set(ENGLISH_NAMES)


def test_segment_names_in_both_languages():
    for seg, name in ENGLISH_NAMES.items():
        assert segment_name(seg) == name
        zh = segment_name(seg, "zh")
        assert zh and zh != name and f"segment_{seg}" in TRANSLATIONS["zh"]
    assert segment_name("cant_lose", "zh") == "沉寂的头部买家"
    assert len({segment_name(s, "zh") for s in ENGLISH_NAMES}) == len(ENGLISH_NAMES)


def test_segment_map_is_packaged():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "data/*.csv" in text


def test_segment_summary(load):
    text, _ = tie_dataset()
    store, ds = load(text)
    frame = rfm(store.db, ds, D)
    summary = rfm_segments_summary(store.db, ds, D)
    assert list(summary.columns) == list(analytics.SEGMENT_SUMMARY_COLUMNS)
    assert summary["segment"].tolist() == list(segments())
    assert summary["customers"].sum() == 10
    assert math.isclose(summary["revenue_share"].sum(), 1.0)
    assert math.isclose(summary["customer_share"].sum(), 1.0)
    # A (cant_lose): revenue 30 of a total 350 (10 + 2*20 + 2*30 + 2*40 + 2*50 + 60)
    row = summary.set_index("segment").loc["cant_lose"]
    members = frame[frame["segment"] == "cant_lose"]
    assert row["customers"] == len(members)
    assert math.isclose(row["revenue_share"], members["monetary"].sum() / 350)
    assert math.isclose(row["mean_frequency"], members["frequency"].mean())
    assert summary.set_index("segment").loc["lost", "customers"] == (frame["segment"] == "lost").sum()


# --------------------------------------------------------------------------- cohorts
COHORT_DATA = """
    customer,date,amount
    A,2024-01-05,100
    A,2024-02-10,-5
    A,2024-03-10,40
    B,2024-01-20,20
    B,2024-01-25,30
    C,2024-02-03,50
    C,2024-04-01,70
    E,2024-03-15,60
"""


def test_cohort_retention_full_triangle_by_hand(load):
    store, ds = load(COHORT_DATA)
    df = cohort_retention(store.db, ds, date(2024, 3, 15))
    assert list(df.columns) == list(analytics.COHORT_COLUMNS)
    got = {(c.strftime("%Y-%m"), k): (n, a, r, rev, rpc) for c, k, n, a, r, rev, rpc in
           df[["cohort_month", "month_offset", "cohort_size", "active_customers", "retention", "revenue",
               "revenue_per_customer"]].itertuples(index=False)}
    # cohorts: Jan {A, B}, Feb {C}, Mar {E}; D's month is March -> 3 + 2 + 1 cells
    # Jan k=1 (Feb): A only returned (-5) -> no active customer, revenue -5
    # Jan k=2 (Mar): A comes back -> 1 of 2 active, revenue 40
    # Feb k=1 (Mar): C's next order is in April, after D -> 0
    assert got == {
        ("2024-01", 0): (2, 2, 1.0, 150.0, 75.0),
        ("2024-01", 1): (2, 0, 0.0, -5.0, -2.5),
        ("2024-01", 2): (2, 1, 0.5, 40.0, 20.0),
        ("2024-02", 0): (1, 1, 1.0, 50.0, 50.0),
        ("2024-02", 1): (1, 0, 0.0, 0.0, 0.0),
        ("2024-03", 0): (1, 1, 1.0, 60.0, 60.0),
    }
    assert [m.strftime("%Y-%m") for m in df["activity_month"]] == [
        "2024-01", "2024-02", "2024-03", "2024-02", "2024-03", "2024-03"]
    matrix = cohort_matrix(df)
    assert matrix.shape == (3, 3)
    assert matrix.isna().sum().sum() == 3  # the blank half of the triangle


def test_cohort_after_d_later(load):
    store, ds = load(COHORT_DATA)
    df = cohort_retention(store.db, ds, date(2024, 4, 30))
    cell = df[(df["cohort_month"] == date(2024, 2, 1)) & (df["month_offset"] == 2)].iloc[0]
    assert (cell["active_customers"], cell["revenue"]) == (1, 70.0)   # C's April order now counts
    assert len(df) == 4 + 3 + 2
    assert cohort_retention(store.db, ds, date(2023, 12, 31)).empty


# --------------------------------------------------------------------------- Pareto
def test_pareto_ten_customers_by_hand(load):
    # values 50 20 10 8 5 3 2 1 1 0 (total 100); J orders 10 and returns 10 -> 0
    rows = [("A", "2024-01-01", 50), ("B", "2024-01-01", 20), ("C", "2024-01-01", 10), ("D", "2024-01-01", 8),
            ("E", "2024-01-01", 5), ("F", "2024-01-01", 3), ("G", "2024-01-01", 2), ("I", "2024-01-01", 1),
            ("H", "2024-01-01", 1), ("J", "2024-01-01", 10), ("J", "2024-02-01", -10),
            ("A", "2024-07-01", 1000)]   # after D
    store, ds = load(csv_text(rows))
    curve = pareto(store.db, ds, D)
    assert list(curve.columns) == list(analytics.PARETO_COLUMNS)
    # tie of H and I at 1 is broken by customer_id
    assert curve["customer_id"].tolist() == list("ABCDEFGHIJ")
    assert curve["rank"].tolist() == list(range(1, 11))
    assert curve["cumulative_value"].tolist() == [50, 70, 80, 88, 93, 96, 98, 99, 100, 100]
    assert curve["customer_share"].tolist() == pytest.approx([k / 10 for k in range(1, 11)])
    assert curve["cumulative_share"].tolist() == pytest.approx([.5, .7, .8, .88, .93, .96, .98, .99, 1, 1])
    head = pareto_headline(curve)
    # top 20% = ceil(0.2 * 10) = 2 customers: 70 of 100; bottom 30% = 3 customers: 1 + 1 + 0
    assert (head.customers, head.top20_customers, head.bottom30_customers) == (10, 2, 3)
    assert head.top20_share == pytest.approx(0.70)
    assert head.bottom30_share == pytest.approx(0.02)
    assert head.total == pytest.approx(100)


def test_pareto_headline_rounds_the_customer_count_up():
    # n = 15: ceil(0.2 * 15) = 3 (0.2 * 15 in floating point is 3.0000000000000004);
    # ceil(0.3 * 15) = 5 (4.5 rounded up)
    values = np.arange(15, 0, -1, dtype=float)
    curve = pd.DataFrame({"value": values, "cumulative_value": np.cumsum(values)})
    head = pareto_headline(curve)
    assert (head.top20_customers, head.bottom30_customers) == (3, 5)
    assert head.top20_share == pytest.approx((15 + 14 + 13) / 120)
    assert head.bottom30_share == pytest.approx((1 + 2 + 3 + 4 + 5) / 120)


def test_pareto_negative_customers_destroy_value(load):
    store, ds = load("""
        customer,date,amount
        A,2024-01-01,60
        B,2024-01-01,50
        C,2024-01-01,10
        C,2024-02-01,-20
    """)
    curve = pareto(store.db, ds, D)
    # C: 10 - 20 = -10; total 100 -> cumulative shares 0.6, 1.1, 1.0
    assert curve["value"].tolist() == [60, 50, -10]
    assert curve["cumulative_share"].tolist() == pytest.approx([0.6, 1.1, 1.0])
    head = pareto_headline(curve)
    assert head.top20_share == pytest.approx(0.6)          # ceil(0.6) = 1 customer
    assert head.bottom30_share == pytest.approx(-0.1)      # ceil(0.9) = 1 customer: C


def test_pareto_total_not_positive_has_no_shares(load):
    store, ds = load("""
        customer,date,amount
        A,2024-01-01,10
        B,2024-01-01,5
        B,2024-02-01,-25
    """)
    curve = pareto(store.db, ds, D)
    assert curve["cumulative_share"].isna().all()
    head = pareto_headline(curve)
    assert head.top20_share is None and head.bottom30_share is None and head.total == pytest.approx(-10)


def test_pareto_profit_with_and_without_cost(load):
    store, ds = load("""
        customer,date,amount,cost
        A,2024-01-01,100,60
        B,2024-01-01,50,10
        C,2024-01-01,30,40
    """)
    assert analytics.has_cost(store.db, ds, D)
    curve = pareto(store.db, ds, D, "profit")
    # profit A 40, B 40 (tie -> A first), C -10; total 70
    assert curve["customer_id"].tolist() == ["A", "B", "C"]
    assert curve["value"].tolist() == [40, 40, -10]
    assert pareto_headline(curve).top20_share == pytest.approx(40 / 70)
    revenue = pareto(store.db, ds, D, "revenue")
    assert revenue["value"].tolist() == [100, 50, 30]

    store2, ds2 = load("customer,date,amount\nA,2024-01-01,100\n")
    assert not analytics.has_cost(store2.db, ds2, D)
    with pytest.raises(CrmflowError, match="cost"):
        pareto(store2.db, ds2, D, "profit")
    with pytest.raises(CrmflowError, match="measure"):
        pareto(store2.db, ds2, D, "margin")


def test_pareto_empty(load):
    store, ds = load("customer,date,amount\nA,2024-08-01,100\n")
    summary = rfm_segments_summary(store.db, ds, D)   # no customer yet: every segment empty
    assert summary["customers"].tolist() == [0] * len(segments())
    curve = pareto(store.db, ds, D)
    assert curve.empty and list(curve.columns) == list(analytics.PARETO_COLUMNS)
    head = pareto_headline(curve)
    assert (head.customers, head.top20_share, head.bottom30_share) == (0, None, None)


# --------------------------------------------------------------------------- N/t/D
NTD_DATA = """
    customer,date,amount,category
    A,2024-01-10,100,x
    A,2024-02-15,50,y
    A,2024-02-20,-20,w
    B,2024-02-01,30,x
    B,2024-02-01,10,z
    C,2023-06-01,40,x
"""


def test_ntd_by_hand(load):
    store, ds = load(NTD_DATA)
    df = ntd_trends(store.db, ds, date(2023, 12, 1), date(2024, 2, 29), Params())
    assert list(df.columns) == list(analytics.NTD_COLUMNS)
    assert df["snapshot_date"].tolist() == [date(2023, 12, 31), date(2024, 1, 31), date(2024, 2, 29)]
    rows = df.set_index("snapshot_date")
    # 2023-12-31: C's only order is 213 days old -> lost; nobody active
    dec = rows.loc[date(2023, 12, 31)]
    assert dec["active_customers"] == 0 and dec["revenue"] == 0
    assert dec[["mean_relationship_days", "revenue_per_active", "categories_per_active"]].isna().all()
    # 2024-01-31: A (first) only; t = 0; January revenue 100; categories {x}
    jan = rows.loc[date(2024, 1, 31)]
    assert jan.tolist() == [1, 0.0, 100.0, 100.0, 1.0]
    # 2024-02-29: A repeat (2024-01-10 -> 2024-02-15 = 36 days), B first (0 days): t = 18;
    # February revenue 50 - 20 + 30 + 10 = 70 -> 35 per active; categories A {x, y}
    # (the return's w is not bought), B {x, z} -> 2.0
    feb = rows.loc[date(2024, 2, 29)]
    assert feb.tolist() == [2, 18.0, 70.0, 35.0, 2.0]


def test_ntd_category_window_and_no_category(load):
    store, ds = load(NTD_DATA)
    p = Params(lost_after_days=180, loyal_orders=4, loyal_window_days=30)
    df = ntd_trends(store.db, ds, date(2024, 2, 1), date(2024, 2, 29), p)
    # window (2024-01-30, 2024-02-29]: A {y} (x on 01-10 is outside), B {x, z} -> 1.5
    assert df["categories_per_active"].tolist() == [1.5]
    store2, ds2 = load(NTD_DATA.replace(",category", "").replace(",x", "").replace(",y", "")
                       .replace(",w", "").replace(",z", ""))
    df2 = ntd_trends(store2.db, ds2, date(2024, 2, 1), date(2024, 2, 29), Params())
    assert df2["categories_per_active"].isna().all() and df2["active_customers"].tolist() == [2]
    with pytest.raises(CrmflowError):
        ntd_trends(store.db, ds, date(2024, 3, 1), date(2024, 2, 1), Params())


def test_ntd_active_customers_match_stage_snapshots(load):
    from crmflow.stages import stage_snapshots

    store, ds = load(NTD_DATA)
    snap = stage_snapshots(store.db, ds, date(2023, 6, 1), date(2024, 2, 29), Params())
    df = ntd_trends(store.db, ds, date(2023, 6, 1), date(2024, 2, 29), Params())
    assert df["active_customers"].tolist() == (snap["first"] + snap["repeat"] + snap["loyal"]).tolist()


# --------------------------------------------------------------------------- demo and CDNOW invariants
@pytest.fixture(scope="module")
def demo():
    store = Store(in_memory=True)
    ds = store.ensure_demo()
    from crmflow.stages import resolve_as_of

    yield store, ds.dataset_id, resolve_as_of(store.db, ds.dataset_id)
    store.close()


@pytest.fixture(scope="module")
def cdnow():
    store = Store(in_memory=True)
    ds = store.ingest("cdnow", CDNOW_MASTER).dataset
    yield store, ds.dataset_id, date(1998, 6, 30)
    store.close()


def check_rfm_invariants(frame: pd.DataFrame) -> None:
    n = len(frame)
    assert n > 0 and frame["customer_id"].is_unique
    for col in ("r_score", "f_score", "m_score"):
        assert frame[col].between(1, 5).all(), col
    assert set(frame["segment"]) <= set(segments())
    assert (frame["frequency"] >= 1).all() and (frame["recency_days"] >= 0).all()
    # higher metric -> never a lower score (monotone)
    for col, metric, sign in (("r_score", "recency_days", -1), ("f_score", "frequency", 1),
                              ("m_score", "monetary", 1)):
        ordered = frame.assign(key=sign * frame[metric]).sort_values("key")
        assert ordered[col].is_monotonic_increasing, col


@pytest.mark.parametrize("source", ["demo", "cdnow"])
def test_rfm_invariants(source, request):
    store, ds, as_of = request.getfixturevalue(source)
    frame = rfm(store.db, ds, as_of)
    check_rfm_invariants(frame)
    n = len(frame)
    # monetary has (almost) no ties: each score holds roughly n/5 customers
    counts = frame["m_score"].value_counts()
    assert set(counts.index) == {1, 2, 3, 4, 5}
    assert (abs(counts - n / 5) <= 0.05 * n / 5).all(), counts.to_dict()
    summary = rfm_segments_summary(store.db, ds, as_of)
    assert summary["customers"].sum() == n
    assert math.isclose(summary["revenue_share"].sum(), 1.0)


def test_cdnow_rfm_counts(cdnow):
    store, ds, as_of = cdnow
    frame = rfm(store.db, ds, as_of)
    assert len(frame) == 23502   # every CDNOW customer bought in the first quarter of 1997
    # recency has many ties (days), still within 10% of n/5
    counts = frame["r_score"].value_counts()
    assert (abs(counts - len(frame) / 5) <= 0.1 * len(frame) / 5).all(), counts.to_dict()
    # most customers bought once: one big tied group, all scored 1
    assert (frame.loc[frame["frequency"] == 1, "f_score"] == 1).all()


@pytest.mark.parametrize("source", ["demo", "cdnow"])
def test_cohort_and_pareto_invariants(source, request):
    store, ds, as_of = request.getfixturevalue(source)
    frame = rfm(store.db, ds, as_of)
    cohorts = cohort_retention(store.db, ds, as_of)
    first = cohorts[cohorts["month_offset"] == 0]
    assert first["cohort_size"].sum() == len(frame)             # every buyer in exactly one cohort
    assert (first["retention"] == 1.0).all()
    assert cohorts["retention"].between(0, 1).all()
    last_month = date(as_of.year, as_of.month, 1)
    assert (cohorts.groupby("cohort_month")["activity_month"].max() == last_month).all()   # full triangle
    assert math.isclose(cohorts["revenue"].sum(), frame["monetary"].sum(), rel_tol=1e-9)
    curve = pareto(store.db, ds, as_of)
    assert curve["customer_id"].is_unique and curve["value"].is_monotonic_decreasing
    assert curve["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    head = pareto_headline(curve)
    assert 0.2 <= head.top20_share <= 1 and head.bottom30_share <= 0.3


def test_demo_profit_pareto_and_trends(demo):
    store, ds, as_of = demo
    assert analytics.has_cost(store.db, ds, as_of)
    head = pareto_headline(pareto(store.db, ds, as_of, "profit"))
    assert head.top20_share is not None and head.top20_share > 0.2
    trends = ntd_trends(store.db, ds, date(as_of.year, 1, 1), as_of, Params())
    assert (trends["active_customers"] > 0).all()
    assert trends["categories_per_active"].notna().all()
    assert trends["snapshot_date"].iloc[-1] == as_of


# --------------------------------------------------------------------------- command line
SALES = """\
order_id,customer_id,order_date,amount
O1,00042,2024-01-05,120.50
O2,00042,2024-03-10,30.25
R1,00042,2024-04-12,-20.00
O3,00007,2023-11-02,15.00
O4,12345,2024-06-01,10.10
O5,=HYPERLINK,2024-06-01,1.00
"""


@pytest.fixture
def sales(tmp_path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text(SALES, encoding="utf-8")
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_rfm_json_and_csv(sales, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CRMFLOW_DB", str(tmp_path / "x.duckdb"))
    code, out, err = run(capsys, "rfm", sales)
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 4
    for r in rows:
        assert list(r) == ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score",
                           "m_score", "segment"]
        assert r["segment"] in ENGLISH_NAMES.values()
    got = {r["customer_id"]: r for r in rows}
    # D = 2024-06-01; 00042: 2 orders, 120.50 + 30.25 - 20 = 130.75, last 2024-03-10 -> 83 days
    assert (got["00042"]["frequency"], got["00042"]["monetary"], got["00042"]["recency_days"]) == (2, 130.75, 83)
    # recency worst -> best: 00007 (212), 00042 (83), then 12345 and =HYPERLINK tied at 0:
    # 1, 1 + floor(5/4) = 2, 1 + floor(10/4) = 3
    assert [got[c]["r_score"] for c in ("00007", "00042", "12345", "=HYPERLINK")] == [1, 2, 3, 3]
    assert got["00007"]["segment"] == "Gone cold"
    code, out, err = run(capsys, "rfm", sales, "--format", "csv")
    assert code == 0, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                        "segment"]
    assert len(table) == 5
    assert ["'=HYPERLINK"] == [r[0] for r in table[1:] if "HYPERLINK" in r[0]]   # neutralised for spreadsheets
    assert {r[0]: r[3] for r in table[1:]}["00042"] == "130.75"


def test_cli_pareto_cohorts_trends(sales, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CRMFLOW_DB", str(tmp_path / "x.duckdb"))
    code, out, err = run(capsys, "pareto", sales, "--as-of", "2024-06-01")
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc) == ["as_of", "measure", "customers", "top20_share", "bottom30_share", "curve"]
    assert (doc["as_of"], doc["measure"], doc["customers"]) == ("2024-06-01", "revenue", 4)
    # values 130.75, 15, 10.10, 1 (total 156.85): top ceil(0.8) = 1 customer, bottom ceil(1.2) = 2
    assert doc["top20_share"] == round(130.75 / 156.85, 4)
    assert doc["bottom30_share"] == round(11.10 / 156.85, 4)
    assert [c["customer_id"] for c in doc["curve"]] == ["00042", "00007", "12345", "=HYPERLINK"]
    assert list(doc["curve"][0]) == list(analytics.PARETO_COLUMNS)

    code, out, err = run(capsys, "cohorts", sales)
    assert code == 0, err
    rows = json.loads(out)
    assert list(rows[0]) == list(analytics.COHORT_COLUMNS)
    assert rows[0]["cohort_month"] == "2023-11-01" and len(rows) == 8 + 6 + 1   # Nov..Jun, Jan..Jun, Jun

    code, out, err = run(capsys, "trends", sales, "--from", "2024-01-01", "--format", "csv")
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert list(df.columns) == list(analytics.NTD_COLUMNS)
    assert df["snapshot_date"].tolist()[-1] == "2024-06-01" and len(df) == 6


def test_cli_errors_are_one_line_exit_2(sales, tmp_path):
    env = {**os.environ, "CRMFLOW_DB": str(tmp_path / "x.duckdb")}   # never the project's own database
    proc = subprocess.run([sys.executable, "-m", "crmflow", "pareto", str(sales), "--measure", "profit"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180, check=False, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "cost" in lines[0] and "Traceback" not in proc.stderr


def test_cli_trends_from_after_as_of_is_an_error(sales, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CRMFLOW_DB", str(tmp_path / "x.duckdb"))
    code, out, err = run(capsys, "trends", sales, "--from", "2024-07-01", "--as-of", "2024-06-01")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "start date" in err


# --------------------------------------------------------------------------- query drift
def test_analytics_queries_return_their_documented_columns(load):
    from crmflow.db import registry

    store, ds = load(NTD_DATA)
    calls = {
        "rfm": {"as_of": D},
        "cohort_retention": {"as_of": D},
        "pareto": {"as_of": D, "measure": "revenue"},
        "cost_coverage": {"as_of": D},
        "ntd_monthly": {"dates": [date(2024, 1, 31), D], "lost_after_days": 180, "loyal_window_days": 365},
    }
    for name, params in calls.items():
        df = store.db.run(name, dataset_id=ds, **params)
        assert list(df.columns) == list(registry()[name].columns), name
        assert not df.empty, name
