"""Key accounts, health score, life-cycle phase and value matrix (SPEC §2)
against values worked out by hand.

Dates: D = 2024-06-30. Counting back k days from D (2024 is a leap year):
k=30 → 2024-05-31, k=60 → 05-01, k=89 → 04-02, k=90 → 04-01, k=120 → 03-02,
k=179 → 2024-01-03, k=180 → 2024-01-02, k=359 → 2023-07-07, k=360 → 2023-07-06,
k=364 → 2023-07-02, k=365 → 2023-07-01. Windows: 12 months k < 365, recent
half k < 180, previous half 180 <= k < 360, contacts k < 90.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from crmflow import health
from crmflow.cli import main
from crmflow.config import Params
from crmflow.db import registry
from crmflow.health import (
    COMPONENTS,
    PHASES,
    QUADRANTS,
    STATUSES,
    TRENDS,
    account_health,
    health_components,
    health_coverage,
    health_history,
    key_accounts,
    load_weights,
    resolve_weights,
    round_score,
    status_for,
    trend_for,
    value_matrix,
    value_matrix_summary,
    weighted_score,
)

D = date(2024, 6, 30)
W = load_weights()  # recency 20, order_trend 10, revenue_trend 15, margin 10, payment 15, contact 10,
#                     complaints 10, breadth 10


def comps(store, ds, ids, as_of=D, **kw):
    return health_components(store.db, ds, as_of, ids, **kw).set_index("customer_id")


# --------------------------------------------------------------------------- weights
def test_default_weights_come_from_the_data_file():
    assert W == {"recency": 20, "order_trend": 10, "revenue_trend": 15, "margin": 10, "payment": 15,
                 "contact": 10, "complaints": 10, "breadth": 10}
    assert resolve_weights({"margin": 0})["margin"] == 0
    assert resolve_weights({"margin": 0})["recency"] == 20


@pytest.mark.parametrize("bad", [{"nonsense": 1}, {"recency": -1}, {"recency": float("nan")},
                                 {c: 0 for c in COMPONENTS}, {"recency": "heavy"}])
def test_bad_weights_are_refused_in_plain_words(bad):
    from crmflow.errors import CrmflowError

    with pytest.raises(CrmflowError):
        resolve_weights(bad)


def test_every_label_exists_in_both_languages():
    from crmflow.health import label

    for kind, keys in (("component", COMPONENTS), ("status", STATUSES), ("trend", TRENDS), ("phase", PHASES),
                       ("quadrant", QUADRANTS)):
        for key in keys:
            assert label(kind, key, "en") and label(kind, key, "zh"), (kind, key)
    assert label("phase", "retention", "zh") == "挽留期" and label("quadrant", "direct", "zh") == "直接价值客户"
    assert label("status", None) == ""


# --------------------------------------------------------------------------- components, by hand
def test_recency_against_the_accounts_own_rhythm(load):
    # A: buying days k=120, 90, 60 -> gaps 30, 30, median 30; 60 days since -> r = 2 -> 100*(3-2)/2 = 50
    # B: k=60, 30 -> gap 30; 30 since -> r = 1 -> 100
    # C: k=180, 150 -> gap 30; 150 since -> r = 5 -> 0 (clamped)
    # F: k=75, 45 -> gap 30; 45 since -> r = 1.5 -> 75
    # E: one buying day -> no rhythm -> NULL (missing)
    # G: two orders on one day and one more 10 days later: one gap of 10 (a day is one buying day);
    #    k=10 since -> r = 1 -> 100
    store, ds = load("""
        order_id,customer,date,amount
        1,A,2024-03-02,10
        2,A,2024-04-01,10
        3,A,2024-05-01,10
        4,B,2024-05-01,10
        5,B,2024-05-31,10
        6,C,2024-01-02,10
        7,C,2024-02-01,10
        8,F,2024-04-16,10
        9,F,2024-05-16,10
        10,E,2024-06-01,10
        11,G,2024-06-10,10
        12,G,2024-06-10,10
        13,G,2024-06-20,10
    """)
    c = comps(store, ds, ["A", "B", "C", "F", "E", "G"])
    assert c.loc["A", "recency"] == pytest.approx(50)
    assert c.loc["B", "recency"] == pytest.approx(100)
    assert c.loc["C", "recency"] == 0
    assert c.loc["F", "recency"] == pytest.approx(75)
    assert pd.isna(c.loc["E", "recency"])
    assert c.loc["G", "recency"] == pytest.approx(100)
    assert c.loc["A", "median_gap_days"] == 30 and c.loc["A", "days_since_last_order"] == 60


ORDER_TREND = """
    order_id,customer,date,amount
    a0,A,2023-07-06,100
    a1,A,2023-07-07,100
    a2,A,2023-09-01,100
    a3,A,2023-11-01,100
    a4,A,2024-01-02,100
    a5,A,2024-01-03,100
    a6,A,2024-03-01,100
    a7,A,2024-06-30,100
    b1,B,2024-02-01,100
    b2,B,2024-03-01,100
    c1,C,2023-08-01,100
    c2,C,2023-09-01,100
    d1,D,2023-08-01,100
    d2,D,2024-02-01,100
    d3,D,2024-03-01,100
    d4,D,2024-04-01,100
    g1,G,2023-10-01,1000
    g2,G,2024-03-01,600
    g3,G,2024-04-01,-100
    h1,H,2024-05-01,300
    i1,I,2023-10-01,500
    i2,I,2024-05-01,800
    j1,J,2023-10-01,400
    j2,J,2024-05-01,100
    j3,J,2024-05-10,-300
"""


def test_order_trend_recent_half_vs_previous_half(load):
    # A: previous (180 <= k < 360) = 2023-07-07 (k=359), 09-01, 11-01, 2024-01-02 (k=180) = 4 orders;
    #    2023-07-06 (k=360) is outside; recent (k < 180) = 2024-01-03 (k=179), 03-01, 06-30 = 3 -> 75
    # B: previous 0, recent 2 -> 100;  C: previous 2, recent 0 -> 0;  D: previous 1, recent 3 -> 100 (capped)
    store, ds = load(ORDER_TREND)
    c = comps(store, ds, ["A", "B", "C", "D"])
    assert (c.loc["A", "orders_previous"], c.loc["A", "orders_recent"]) == (4, 3)
    assert c.loc["A", "order_trend"] == pytest.approx(75)
    assert c.loc["B", "order_trend"] == 100
    assert c.loc["C", "order_trend"] == 0
    assert c.loc["D", "order_trend"] == 100


def test_revenue_trend_nets_returns(load):
    # G: previous 1000; recent 600 - 100 (return) = 500 -> 50
    # H: previous 0, recent 300 -> 100;  I: 500 -> 800 -> 100 (capped)
    # J: previous 400; recent 100 - 300 = -200 -> 0 (clamped)
    store, ds = load(ORDER_TREND)
    c = comps(store, ds, ["G", "H", "I", "J"])
    assert c.loc["G", "revenue_recent"] == 500 and c.loc["G", "revenue_previous"] == 1000
    assert c.loc["G", "revenue_trend"] == pytest.approx(50)
    assert c.loc["H", "revenue_trend"] == 100
    assert c.loc["I", "revenue_trend"] == 100
    assert c.loc["J", "revenue_trend"] == 0


MARGIN = """
    order_id,customer,date,amount,cost
    a1,A,2024-05-01,1000,850
    b1,B,2024-05-01,1000,550
    c1,C,2024-05-01,500,600
    e1,E,2024-05-01,700,
    f1,F,2023-07-01,1000,0
"""


def test_margin_against_the_whole_business(load):
    # 12-month lines with a cost: A 1000-850 = 150, B 450, C -100 -> business margin 500 / 2500 = 20%.
    # F's line is at k=365 (outside); E's line has no cost (left out).
    # A: 15% / 20% -> 75;  B: 45% / 20% -> 100 (capped);  C: -20% -> 0;  E, F: no line with a cost -> NULL
    store, ds = load(MARGIN)
    assert health_coverage(store.db, ds, D)["margin"] is True
    cov = store.db.run("health_coverage", dataset_id=ds, as_of=D).iloc[0]
    assert cov["dataset_margin"] == pytest.approx(0.20)
    c = comps(store, ds, ["A", "B", "C", "E", "F"])
    assert c.loc["A", "margin_12m"] == pytest.approx(0.15)
    assert c.loc["A", "margin"] == pytest.approx(75)
    assert c.loc["B", "margin"] == 100
    assert c.loc["C", "margin"] == 0
    assert pd.isna(c.loc["E", "margin"]) and pd.isna(c.loc["F", "margin"])


PAYMENT = """
    order_id,customer,date,amount,due_date,paid_date
    O1,A,2024-01-10,100,2024-02-10,2024-02-05
    O2,A,2024-02-10,100,2024-03-10,2024-03-01
    O2,A,2024-02-10,100,2024-03-10,2024-03-10
    O3,A,2024-03-10,100,2024-04-10,2024-04-20
    O4,A,2024-05-01,100,2024-06-01,
    O5,A,2024-06-20,100,2024-07-20,
    O6,A,2023-06-01,100,2023-07-01,2023-08-01
    O7,A,2024-05-10,100,2024-06-10,2024-07-05
    O8,A,2024-06-01,100,2024-06-30,
    R1,A,2024-05-15,-50,2024-05-01,
    B1,B,2024-06-25,100,2024-07-25,
"""


def test_payment_punctuality(load):
    # A's invoices dated in the 12 months:
    #   O1 paid 02-05 <= due 02-10 -> on time;  O2 two lines, paid when the last is (03-10 = due) -> on time
    #   O3 paid 04-20 > due 04-10 -> late;  O4 unpaid, due 06-01 < D -> late
    #   O7 paid 07-05, after D: unpaid at D and due 06-10 < D -> late
    #   O5 unpaid, due 07-20 (not yet due) -> ignored;  O8 unpaid, due on D itself -> not yet late, ignored
    #   O6 dated 2023-06-01 (k > 365) -> outside;  R1 is a return (amount <= 0), not an invoice
    #   -> 2 on time of 5 -> 40
    # B: only a not-yet-due invoice -> NULL (no invoice counts)
    store, ds = load(PAYMENT)
    c = comps(store, ds, ["A", "B"])
    assert (c.loc["A", "invoices_on_time"], c.loc["A", "invoices_late"]) == (2, 3)
    assert c.loc["A", "payment"] == pytest.approx(40)
    assert pd.isna(c.loc["B", "payment"])


CONTACTS_TX = """
    customer,date,amount
    A,2024-06-01,100
    B,2024-06-01,100
    C,2024-06-01,100
"""
CONTACTS = """
    customer_id,date,type,resolved
    A,2024-04-02,visit,
    A,2024-05-01,call,
    A,2024-04-01,email,
    A,2024-06-01,complaint,false
    A,2024-05-01,complaint,true
    A,2024-03-01,complaint,
    A,2023-07-01,complaint,false
    B,2024-05-01,meeting,
    B,2024-05-02,visit,
    B,2024-05-03,call,
    B,2024-05-04,email,
    B,2024-07-01,visit,
    B,2024-01-01,complaint,no
    B,2024-02-01,complaint,no
    B,2024-03-01,complaint,no
    B,2024-04-01,complaint,no
    B,2024-05-01,complaint,no
"""


def test_contact_frequency_excludes_complaints(load):
    # A: visit 04-02 (k=89, in), call 05-01 -> 2; email 04-01 (k=90) is outside, complaints do not count
    #    -> 100 * 2/3 = 66.7
    # B: 4 contacts in the window (07-01 is after D) -> 100 (capped);  C: none -> 0
    store, ds = load(CONTACTS_TX, interactions=CONTACTS)
    c = comps(store, ds, ["A", "B", "C"])
    assert c.loc["A", "contacts_90d"] == 2
    assert c.loc["A", "contact"] == pytest.approx(200 / 3)
    assert c.loc["B", "contact"] == 100
    assert c.loc["C", "contact"] == 0


def test_unresolved_complaints(load):
    # A: 06-01 not resolved, 03-01 resolved unknown -> 2 open (05-01 is resolved; 2023-07-01 is k=365,
    #    outside) -> 100 - 2*25 = 50
    # B: 5 open -> 0 (floored);  C: none -> 100
    store, ds = load(CONTACTS_TX, interactions=CONTACTS)
    c = comps(store, ds, ["A", "B", "C"])
    assert c.loc["A", "unresolved_complaints"] == 2
    assert c.loc["A", "complaints"] == 50
    assert c.loc["B", "complaints"] == 0
    assert c.loc["C", "complaints"] == 100


def test_breadth_against_the_broadest_customer(load):
    # B buys 4 categories in the 12 months (the most) -> 100; A 2 -> 50;
    # C: X counts; Y only as a return (amount <= 0) and Z at k=365 do not -> 1 -> 25
    store, ds = load("""
        customer,date,amount,category
        A,2024-05-01,100,X
        A,2024-05-02,100,Y
        A,2024-05-03,100,X
        B,2024-05-01,100,X
        B,2024-05-01,100,Y
        B,2024-05-01,100,Z
        B,2024-05-01,100,W
        C,2024-05-01,100,X
        C,2024-05-05,-10,Y
        C,2023-07-01,100,Z
    """)
    c = comps(store, ds, ["A", "B", "C"])
    assert c.loc["A", "breadth"] == 50
    assert c.loc["B", "breadth"] == 100
    assert c.loc["C", "breadth"] == 25


# --------------------------------------------------------------------------- score, re-weighting, status
PLAIN = """
    customer,date,amount
    A,2024-03-02,100
    A,2024-04-01,100
    A,2024-05-01,100
    B,2024-06-01,1000
"""


def test_components_the_dataset_lacks_are_reweighted_away(load):
    # Only customer, date, amount: margin, payment, contact, complaints, breadth are missing for all.
    # A: recency 50 (r = 60/30 = 2), order trend 100 (0 -> 3), revenue trend 100 (0 -> 300)
    #    -> (20*50 + 10*100 + 15*100) / (20 + 10 + 15) = 3500 / 45 = 77.78 -> 77.8
    # B (one order, no rhythm: recency missing for this account too) -> (10*100 + 15*100) / 25 = 100
    store, ds = load(PLAIN)
    cov = health_coverage(store.db, ds, D)
    assert [c for c, ok in cov.items() if not ok] == ["margin", "payment", "contact", "complaints", "breadth"]
    df = account_health(store.db, ds, D, share=1.0).set_index("customer_id")
    assert df.loc["A", "health_score"] == 77.8
    assert df.loc["B", "health_score"] == 100.0
    for c in ("margin", "payment", "contact", "complaints", "breadth"):
        assert df[c].isna().all(), c
    assert pd.isna(df.loc["B", "recency"])
    # weights as an override: recency switched off -> A = (10*100 + 15*100) / 25 = 100
    assert account_health(store.db, ds, D, weights={"recency": 0}, share=1.0).set_index(
        "customer_id").loc["A", "health_score"] == 100.0
    # recency alone -> A = 50
    only = {c: 0 for c in COMPONENTS} | {"recency": 1}
    assert account_health(store.db, ds, D, weights=only, share=1.0).set_index(
        "customer_id").loc["A", "health_score"] == 50.0


def test_a_component_the_account_lacks_is_reweighted_away(load):
    # Payment dataset: B has no invoice that counts -> payment missing for B only.
    # B: one order (no rhythm: recency missing), order trend 100, revenue trend 100, breadth/margin/contact
    # absent from the dataset -> (10*100 + 15*100) / 25 = 100.
    # A: recency: buying days 2023-06-01, 2024-01-10, 02-10, 03-10, 05-01, 05-10, 06-01, 06-20
    #    -> gaps 223, 31, 29, 52, 9, 22, 19 -> median 29; 10 days since -> r < 1 -> 100.
    #    orders: previous 0 (2023-06-01 is k=395), recent 7 -> 100; revenue 0 -> 750 -> 100; payment 40
    #    -> (20*100 + 10*100 + 15*100 + 15*40) / (20 + 10 + 15 + 15) = 5100 / 60 = 85.0
    store, ds = load(PAYMENT)
    df = account_health(store.db, ds, D, share=1.0).set_index("customer_id")
    assert df.loc["A", "payment"] == pytest.approx(40)
    assert df.loc["A", "health_score"] == 85.0
    assert pd.isna(df.loc["B", "payment"])
    assert df.loc["B", "health_score"] == 100.0


def test_weighted_score_by_hand():
    frame = pd.DataFrame([
        {c: np.nan for c in COMPONENTS} | {"recency": 20.0, "margin": 80.0},
        {c: np.nan for c in COMPONENTS},
        {c: 60.0 for c in COMPONENTS},
    ])
    s = weighted_score(frame, W)
    assert s[0] == 40.0           # (20*20 + 10*80) / 30 = 40
    assert math.isnan(s[1])       # nothing present -> no score
    assert s[2] == 60.0


@pytest.mark.parametrize("score, status", [
    (100, "healthy"), (70, "healthy"), (69.95, "healthy"), (69.94, "watch"), (69.9, "watch"),
    (40, "watch"), (39.95, "watch"), (39.94, "at_risk"), (39.9, "at_risk"), (0, "at_risk"),
])
def test_status_boundaries_on_the_rounded_score(score, status):
    assert status_for(score) == status
    assert status_for(round_score(score)) == status


def test_status_is_read_on_the_score_as_shown():
    # two equal weights, 69.9 and 70.0 -> 69.95 -> shown as 70.0 -> healthy
    frame = pd.DataFrame([{c: np.nan for c in COMPONENTS} | {"order_trend": 69.9, "contact": 70.0}])
    s = weighted_score(frame, W)[0]
    assert s == 70.0 and status_for(s) == "healthy"
    assert status_for(None) is None and status_for(float("nan")) is None


@pytest.mark.parametrize("now, before, trend", [
    (75.0, 70.0, "flat"), (75.1, 70.0, "up"), (65.0, 70.0, "flat"), (64.9, 70.0, "down"),
    (70.0, None, None), (None, 70.0, None),
])
def test_trend_dead_band(now, before, trend):
    assert trend_for(now, before) == trend


# --------------------------------------------------------------------------- key accounts
def test_flagged_key_accounts_include_the_lost_and_the_not_yet_buying(load):
    # A, L (lost: last order 2023-01-01) and N (flagged, created 2024-01-01, no order yet) are flagged;
    # B is the biggest buyer but not flagged; C is flagged but created after D (does not exist yet).
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,100
        B,2024-06-01,100000
        L,2022-06-01,500
        L,2023-01-01,500
        C,2024-07-15,100
    """, customers="""
        customer_id,name,created_at,is_key_account,owner
        A,Alpha,2022-01-01,yes,Li Wei
        B,Beta,2022-01-01,no,Li Wei
        L,Lima,2022-01-01,yes,Emma Clarke
        N,November,2024-01-01,yes,Emma Clarke
        C,Charlie,2024-07-01,yes,Li Wei
    """)
    ka = key_accounts(store.db, ds, D)
    assert sorted(ka["customer_id"]) == ["A", "L", "N"]
    assert set(ka["selected_by"]) == {"flag"}
    df = account_health(store.db, ds, D).set_index("customer_id")
    assert list(df.index) == ["A", "L", "N"]          # by 12-month revenue, then id
    assert df.loc["L", "phase"] == "termination"
    assert df.loc["L", "status"] == "at_risk"          # recency 0, trends 0 (nothing in a year)
    assert df.loc["N", "phase"] == "cultivation" and pd.isna(df.loc["N", "health_score"])
    assert pd.isna(df.loc["N", "status"])
    assert df.loc["A", "name"] == "Alpha" and df.loc["L", "owner"] == "Emma Clarke"


TOP = """
    customer,date,amount
    A,2024-05-01,500
    B,2024-05-01,250
    C,2024-05-01,250
    E,2024-05-01,100
    E,2024-05-02,-150
    G,2023-07-01,10000
    H,2024-05-01,0
"""


@pytest.mark.parametrize("share, cap, expected", [
    (0.8, 50, ["A", "B", "C"]),    # before C: 750/1000 = 0.75 < 0.8 -> C is needed
    (0.75, 50, ["A", "B"]),        # A + B = 75% reaches 75% exactly: C not needed
    (0.7, 50, ["A", "B"]),         # B and C tie at 250: B (smaller id) comes first, 75% >= 70%
    (0.5, 50, ["A"]),              # A alone is 50%
    (0.8, 2, ["A", "B"]),          # the cap
    (1.0, 50, ["A", "B", "C"]),    # E (net -50), H (0) and G (only outside the 12 months) never
])
def test_top_revenue_key_accounts(load, share, cap, expected):
    store, ds = load(TOP)
    ka = key_accounts(store.db, ds, D, share=share, max_accounts=cap)
    assert list(ka["customer_id"]) == expected
    assert set(ka["selected_by"]) == {"revenue"}
    assert list(ka["revenue_12m"]) == [500, 250, 250][:len(expected)]


def test_key_account_options_are_checked(load):
    from crmflow.errors import CrmflowError

    store, ds = load(TOP)
    for kwargs in ({"share": 0}, {"share": 1.5}, {"max_accounts": 0}):
        with pytest.raises(CrmflowError):
            key_accounts(store.db, ds, D, **kwargs)


# --------------------------------------------------------------------------- 90 days earlier
EARLIER = """
    customer,date,amount
    A,2024-01-01,100
    A,2024-01-31,100
    A,2024-03-01,100
    A,2024-06-30,100
    B,2024-05-01,100
    B,2024-06-01,100
    C,2023-12-01,100
    C,2024-01-01,100
    C,2024-02-01,100
    C,2024-03-01,100
    E,2023-10-01,100
    E,2023-11-01,100
    E,2024-05-01,100
    E,2024-06-01,100
    E,2024-06-30,100
"""


def test_score_90_days_earlier_and_trend(load):
    # Only the three order components (weights 20, 10, 15). D - 90 = 2024-04-01.
    # A then: days 01-01, 01-31, 03-01 -> gaps 30, 30; 31 days since -> r = 31/30 -> recency 98.33;
    #   trends 100 (nothing in the half before) -> (20*98.33 + 2500) / 45 = 99.26 -> 99.3
    #   now: gaps 30, 30, 121 (median 30), 0 since -> 100; orders 3 vs 1, revenue 300 vs 100 -> 100 -> flat
    # B: first order after D - 90 -> no earlier score, no trend
    # C then: gaps 31, 31, 29 (median 31), 31 since -> 100; trends 100 -> 100
    #   now: 121 days since -> r = 3.9 -> 0; orders 2 vs 2, revenue 200 vs 200 -> 100
    #   -> (0 + 2500) / 45 = 55.6 -> down (-44.4)
    # E then: 152 days since 2023-11-01, gap 31 -> 0; 1 vs 1 order -> 100, revenue 100 -> 55.6
    #   now: gaps 31, 182, 31, 29 (median 31), 0 since -> 100; 3 vs 2 orders -> 100 -> 100 -> up
    store, ds = load(EARLIER)
    df = account_health(store.db, ds, D, share=1.0).set_index("customer_id")
    assert df.loc["A", "score_90d_ago"] == 99.3 and df.loc["A", "health_score"] == 100.0
    assert df.loc["A", "trend"] == "flat"
    assert pd.isna(df.loc["B", "score_90d_ago"]) and pd.isna(df.loc["B", "trend"])
    assert df.loc["C", "score_90d_ago"] == 100.0 and df.loc["C", "health_score"] == 55.6
    assert df.loc["C", "trend"] == "down"
    assert df.loc["E", "score_90d_ago"] == 55.6 and df.loc["E", "health_score"] == 100.0
    assert df.loc["E", "trend"] == "up"


def test_health_history_at_month_ends(load):
    # The history repeats the computation at each date: at 2024-04-01 it equals A's score 90 days
    # earlier (99.3), at D its score now; before the first order there is no score.
    store, ds = load(EARLIER)
    h = health_history(store.db, ds, "A", [date(2023, 12, 31), date(2024, 4, 1), D])
    assert list(h.columns) == list(health.HISTORY_COLUMNS)
    assert list(h["snapshot_date"]) == [pd.Timestamp("2023-12-31"), pd.Timestamp("2024-04-01"), pd.Timestamp(D)]
    assert pd.isna(h["health_score"][0]) and h["phase"][0] == "cultivation"
    assert h[list(COMPONENTS)].iloc[0].isna().all()
    assert list(h["health_score"][1:]) == [99.3, 100.0]
    assert list(h["status"][1:]) == ["healthy", "healthy"]


# --------------------------------------------------------------------------- life-cycle phases
PHASE_DATA = """
    customer,date,amount
    T,2023-06-01,100
    T,2023-09-01,100
    T,2024-01-01,100
    T2,2023-06-01,100
    T2,2023-09-01,100
    T2,2024-01-02,100
    Y,2024-01-03,100
    Y,2024-03-01,100
    Y,2024-05-01,100
    F,2023-01-01,100
    F,2024-06-01,100
    R1,2023-08-01,100
    R1,2023-10-01,100
    R1,2023-12-01,100
    R1,2024-02-01,70
    R1,2024-04-01,70
    R1,2024-06-01,70
    R2,2023-08-01,100
    R2,2023-09-01,100
    R2,2023-10-01,100
    R2,2023-11-01,100
    R2,2023-12-01,100
    R2,2024-02-01,250
    R2,2024-04-01,250
    R2,2024-06-01,250
    R3,2023-10-01,100
    R3,2023-10-16,100
    R3,2023-10-31,100
    R3,2024-03-01,100
    R3,2024-03-16,100
    R3,2024-03-31,100
    G,2023-09-01,100
    G,2023-11-01,100
    G,2024-03-01,200
    G,2024-05-01,200
    G2,2023-01-01,100
    G2,2023-02-01,100
    G2,2023-03-01,100
    G2,2024-06-01,100
    S,2023-08-01,100
    S,2023-10-01,100
    S,2023-12-01,100
    S,2024-02-01,100
    S,2024-04-01,100
    S,2024-06-01,100
    S2,2023-08-01,100
    S2,2023-10-01,100
    S2,2023-12-01,100
    S2,2024-02-01,80
    S2,2024-04-01,80
    S2,2024-06-01,80
"""


def test_life_cycle_phase_rules(load):
    store, ds = load(PHASE_DATA)
    ids = ["T", "T2", "Y", "F", "R1", "R2", "R3", "G", "G2", "S", "S2", "NOBODY"]
    phase = comps(store, ds, ids)["phase"].to_dict()
    # termination: last order 2024-01-01 is 181 days before D (> 180)
    assert phase["T"] == "termination"
    # T2's last order 2024-01-02 is exactly 180 days before D: not lost yet; its orders fell from 2
    # (2023-09-01, 2024-01-02) to 0 -> retention
    assert phase["T2"] == "retention"
    # cultivation: first order 179 days ago (younger than 180 days) / only 2 orders (fewer than 3)
    assert phase["Y"] == "cultivation"
    assert phase["F"] == "cultivation"
    # retention: revenue 210 vs 300 (< 80%)
    assert phase["R1"] == "retention"
    # retention: orders 3 vs 5 (< 80%) wins over revenue 750 vs 500 (up)
    assert phase["R2"] == "retention"
    # retention: overdue, 91 days since the last order vs a median gap of 15 (ratio 6 > 2); flat otherwise
    assert phase["R3"] == "retention"
    # growth: revenue 400 vs 200 (> 120%), orders 2 vs 2
    assert phase["G"] == "growth"
    # growth from nothing: the previous half had no revenue, the recent one has (a mature account back)
    assert phase["G2"] == "growth"
    # return: mature and stable (300 vs 300, 3 vs 3)
    assert phase["S"] == "return"
    # return: 240 vs 300 is exactly -20%, not more -> not clearly down
    assert phase["S2"] == "return"
    # no order at all -> cultivation
    assert phase["NOBODY"] == "cultivation"


# --------------------------------------------------------------------------- value matrix
MATRIX = """
    customer,date,amount
    A,2024-05-01,100
    B,2024-05-01,200
    C,2024-05-01,300
    D,2024-05-01,300
    E,2024-05-01,400
"""
POTENTIAL = {"A": 50.0, "B": 10.0, "C": 10.0, "D": 50.0, "E": 30.0}


@pytest.fixture
def fixed_potential(monkeypatch):
    """customer_values with hand-set expected values (the quadrant rule, not the CLV model, is under test)."""
    import crmflow.model

    def fake(db, dataset_id, as_of, horizon_weeks=52, discount_rate=0.10):
        ids = sorted(POTENTIAL)
        frame = pd.DataFrame({"customer_id": ids, "p_alive": 1.0, "expected_orders": 1.0,
                              "expected_value": [POTENTIAL[i] for i in ids]})
        return frame, None

    monkeypatch.setattr(crmflow.model, "customer_values", fake)


def test_value_matrix_medians_and_ties(load, fixed_potential):
    # current (revenue, no cost): 100, 200, 300, 300, 400 -> median 300; potential 50, 10, 10, 50, 30 ->
    # median 30. High = strictly above the median, so C and D (300) are low current, E (30) low potential.
    # A: low, high -> potential;  B: low, low -> poor;  C: 300 = median, 10 -> poor
    # D: 300 = median (low), 50 (high) -> potential;  E: 400 high, 30 = median (low) -> direct
    store, ds = load(MATRIX)
    m = value_matrix(store.db, ds, D).set_index("customer_id")
    assert m["current_cut"].iloc[0] == 300 and m["potential_cut"].iloc[0] == 30
    assert m["quadrant"].to_dict() == {"A": "potential", "B": "poor", "C": "poor", "D": "potential",
                                       "E": "direct"}
    assert set(m["value_basis"]) == {"revenue"}
    s = value_matrix_summary(m.reset_index()).set_index("quadrant")
    assert list(s.index) == list(QUADRANTS)
    assert s.loc["core", "customers"] == 0 and s.loc["core", "current_value"] == 0
    assert s.loc["direct", "customers"] == 1 and s.loc["direct", "potential_value"] == 30
    assert s.loc["potential", "customers"] == 2 and s.loc["potential", "current_value"] == 400
    assert s.loc["poor", "customers"] == 2 and s.loc["poor", "potential_value"] == 20
    assert s["customer_share"].sum() == pytest.approx(1.0)


def test_value_matrix_given_cutoffs(load, fixed_potential):
    # current > 250: C, D, E; potential > 20: A, D, E
    store, ds = load(MATRIX)
    m = value_matrix(store.db, ds, D, current_cut=250, potential_cut=20).set_index("customer_id")
    assert m["quadrant"].to_dict() == {"A": "potential", "B": "poor", "C": "direct", "D": "core", "E": "core"}


def test_value_matrix_of_key_accounts_only(load, fixed_potential):
    # top 80% of 1300: E 400, C 300 (id before D), D 300 -> 1000/1300 = 77% < 80% -> B 200 too
    store, ds = load(MATRIX)
    m = value_matrix(store.db, ds, D, scope="key_accounts")
    assert sorted(m["customer_id"]) == ["B", "C", "D", "E"]
    assert m["current_cut"].iloc[0] == 300   # the median of the key accounts' values


def test_current_value_is_profit_when_there_are_costs(load):
    # A: 1000 - 850 = 150 profit; F's only line is outside the 12 months -> 0
    store, ds = load(MARGIN)
    cv = store.db.run("current_value", dataset_id=ds, as_of=D).set_index("customer_id")
    assert set(cv["value_basis"]) == {"profit"}
    assert cv.loc["A", "current_value"] == 150 and cv.loc["A", "revenue_12m"] == 1000
    assert cv.loc["C", "current_value"] == -100
    assert cv.loc["F", "current_value"] == 0


def test_potential_value_is_the_clv_models_expected_value(load):
    from crmflow.model import customer_values

    store, ds = load(EARLIER)
    m = value_matrix(store.db, ds, D).set_index("customer_id")
    values, _ = customer_values(store.db, ds, D)
    expected = values.set_index("customer_id")["expected_value"]
    assert m["potential_value"].to_dict() == pytest.approx(expected.to_dict())


# --------------------------------------------------------------------------- documented columns
def test_documented_columns_match_results(load):
    store, ds = load(PAYMENT)
    calls = {
        "key_accounts": {"as_of": D, "share": 0.8, "max_accounts": 50},
        "health_coverage": {"as_of": D},
        "health_components": {"as_of": D, "customer_ids": ["A"], "lost_after_days": 180,
                              **health.HealthRules().as_sql_params(),
                              **health._coverage_params(store.db, ds, D)},
        "current_value": {"as_of": D},
    }
    for name, params in calls.items():
        df = store.db.run(name, dataset_id=ds, **params)
        assert list(df.columns) == list(registry()[name].columns), name


# --------------------------------------------------------------------------- demo invariants
@pytest.fixture(scope="module")
def demo():
    from crmflow.stages import resolve_as_of
    from crmflow.store import Store

    store = Store(in_memory=True)
    ds = store.ensure_demo().dataset_id
    as_of = resolve_as_of(store.db, ds)
    yield store, ds, as_of
    store.close()


def test_demo_health_invariants(demo):
    store, ds, as_of = demo
    ka = key_accounts(store.db, ds, as_of)
    df = account_health(store.db, ds, as_of)
    assert list(df.columns) == list(health.ACCOUNT_HEALTH_COLUMNS)
    assert len(df) == len(ka) > 0 and df["customer_id"].is_unique
    assert set(df["customer_id"]) == set(ka["customer_id"])
    scored = df.dropna(subset=["health_score"])
    assert scored["health_score"].between(0, 100).all()
    for c in COMPONENTS:
        assert df[c].dropna().between(0, 100).all(), c
    assert all(status_for(s) == st for s, st in zip(scored["health_score"], scored["status"]))
    assert set(df["status"].dropna()) <= set(STATUSES)
    assert set(df["trend"].dropna()) <= set(TRENDS)
    assert set(df["phase"]) <= set(PHASES)
    for now, before, trend in zip(df["health_score"], df["score_90d_ago"], df["trend"]):
        expected = trend_for(now, before)
        assert (expected is None and pd.isna(trend)) or expected == trend
    # lost accounts are in termination; every status shows up in the demo
    assert (df.loc[df["days_since_last_order"] > Params().lost_after_days, "phase"] == "termination").all()
    assert set(df["status"].dropna()) == set(STATUSES)


def test_demo_value_matrix_invariants(demo):
    store, ds, as_of = demo
    m = value_matrix(store.db, ds, as_of)
    cv = store.db.run("current_value", dataset_id=ds, as_of=as_of)
    assert len(m) == len(cv) and m["customer_id"].is_unique
    assert set(m["quadrant"]) == set(QUADRANTS)
    assert (m["potential_value"] >= 0).all()
    s = value_matrix_summary(m)
    assert s["customers"].sum() == len(m)
    assert s["current_value"].sum() == pytest.approx(m["current_value"].sum())


# --------------------------------------------------------------------------- CLI
def test_cli_health_json_and_csv(load, tmp_path, capsys):
    path = tmp_path / "plain.csv"
    path.write_text("customer,date,amount\nA,2024-03-02,100\nA,2024-04-01,100\nA,2024-05-01,100\n"
                    "B,2024-06-01,1000\n", encoding="utf-8")
    assert main(["health", str(path), "--as-of", "2024-06-30", "--key-share", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and [r["customer_id"] for r in rows] == ["B", "A"]
    assert list(rows[0]) == list(health.HEALTH_CLI_COLUMNS)
    a = rows[1]
    assert a["health_score"] == 77.8 and a["status"] == "healthy" and a["recency"] == 50.0
    # 90 days earlier (2024-04-01) A had bought on 03-02 and 04-01: gap 30, 0 days since -> 100 -> down
    assert a["margin"] is None and a["score_90d_ago"] == 100.0 and a["trend"] == "down"
    assert a["phase"] == "cultivation"

    assert main(["health", str(path), "--as-of", "2024-06-30", "--key-share", "1", "--format", "csv",
                 "--weights", "recency=0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(health.HEALTH_CLI_COLUMNS)
    assert lines[2] == "A,100.0,healthy,50.0,100.0,100.0,,,,,,100.0,flat,cultivation"


def test_cli_matrix(load, tmp_path, capsys):
    path = tmp_path / "plain.csv"
    path.write_text(textwrap_dedent(EARLIER), encoding="utf-8")
    assert main(["matrix", str(path), "--as-of", "2024-06-30"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["customer_id"] for r in rows} == {"A", "B", "C", "E"}
    assert all(list(r) == list(health.MATRIX_CLI_COLUMNS) for r in rows)
    assert {r["quadrant"] for r in rows} <= set(QUADRANTS)


@pytest.mark.parametrize("args", [["--weights", "loyalty=3"], ["--weights", "recency"], ["--key-share", "2"],
                                  ["--max-accounts", "0"]])
def test_cli_health_bad_options(tmp_path, capsys, args):
    path = tmp_path / "plain.csv"
    path.write_text("customer,date,amount\nA,2024-03-02,100\n", encoding="utf-8")
    assert main(["health", str(path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crmflow: error:") and "\n" not in err and "Traceback" not in err


def textwrap_dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).lstrip("\n")


def test_components_on_the_narrowed_scope_equal_the_whole_scope(demo):
    """health_components runs on a scope narrowed to the requested accounts
    (Scope.narrowed: every staging view drops the other customers first); the
    numbers must equal the same query over the whole scope, with and without a
    global filter, for accounts with and without orders and outside the filter."""
    from crmflow.db import Scope

    store, ds, as_of = demo
    ids = list(store.db.run("key_accounts", dataset_id=ds, as_of=as_of, share=0.8, max_accounts=50)["customer_id"])
    everyone = store.db._con.execute("SELECT customer_id FROM customers WHERE dataset_id = ? ORDER BY 1",
                                     [ds]).df()["customer_id"]
    half = Scope(ds, store.db.store_customer_set(everyone.iloc[::2]))
    asked = ids[:7] + ["no-such-customer", str(everyone.iloc[1])]
    for scope in (Scope(ds), half, Scope(ds, channels=("Online",))):
        for day in (as_of, as_of - timedelta(days=400)):
            coverage = health._coverage_params(store.db, scope, day)
            whole = store.db.run("health_components", dataset_id=scope, as_of=day, customer_ids=asked,
                                 lost_after_days=180, **health.HealthRules().as_sql_params(), **coverage)
            narrowed = health.health_components(store.db, scope, day, asked)
            pd.testing.assert_frame_equal(narrowed, whole)
            assert whole["has_order"].sum() > 0
