"""Churn warnings (crmflow.churn, queries/churn/, `crmflow churn`).

Each reason is checked on a small hand-worked fixture (the expected numbers
are worked out in the comments); the probability of no purchase against an
independent Monte Carlo integration over the BG/NBD prior; the list's
invariants on the demo data; both languages; the command line; and the
measurement on CDNOW and the demo data (ROC AUC for "no order in the next 180
days").

Small fixtures have far fewer than MIN_CALIBRATION_CUSTOMERS customers, so
there is no usable past and their terms are the prior FULL rule: logit(P) =
logit(P0) + sum of prior weight * level. The MODEL-ONLY scorer is checked on
a fixture with a calibration passed in, and the choice between the scorers on
the demo data (the reasons proved their worth) and CDNOW (they did not, or
the past is too short to tell).
"""

from __future__ import annotations

import io
import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import special

from crmflow import churn, model
from crmflow.cli import CHURN_CLI_COLUMNS, main
from crmflow.config import Params
from crmflow.db import registry
from crmflow.i18n import TRANSLATIONS
from crmflow.store import Store, load_file_dataset
from tests.conftest import CDNOW_MASTER, write


def by_id(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {row.customer_id: row for _, row in frame.iterrows()}


def codes(row: pd.Series) -> list[str]:
    return [r["code"] for r in row["reasons"]]


def reason(row: pd.Series, code: str) -> dict:
    (found,) = [r for r in row["reasons"] if r["code"] == code]
    return found


def expected_probability(p0: float, increment: float) -> float:
    return float(special.expit(special.logit(p0) + increment))


# --------------------------------------------------------------------------- overdue vs rhythm
# D = 2024-06-30. Three customers with two 30-day gaps (median gap 30):
#   O_AT:    2024-03-02, 04-01, 05-01; 60 days since 05-01 -> ratio 60/30 = 2.0, at the
#            threshold: fires, level log2(2) / 2 = 0.5
#   O_ABOVE: 2024-03-01, 03-31, 04-30; 61 days -> 2.0333: fires, level log2(2.0333) / 2 = 0.5119
#   O_BELOW: 2024-03-03, 04-02, 05-02; 59 days -> 1.9667: no
#   O_FAR:   2024-01-10, 01-20, 01-30 (gaps 10, 10); 152 days -> 15.2: fires, level capped at 1
#   O_ONE:   one buying day (2024-05-01): no rhythm, no overdue reason
#   O_SAMEDAY: two orders on 2024-06-01 are one buying day: no rhythm either
OVERDUE = """\
order_id,customer_id,order_date,amount
1,O_AT,2024-03-02,100
2,O_AT,2024-04-01,100
3,O_AT,2024-05-01,100
4,O_ABOVE,2024-03-01,100
5,O_ABOVE,2024-03-31,100
6,O_ABOVE,2024-04-30,100
7,O_BELOW,2024-03-03,100
8,O_BELOW,2024-04-02,100
9,O_BELOW,2024-05-02,100
10,O_FAR,2024-01-10,100
11,O_FAR,2024-01-20,100
12,O_FAR,2024-01-30,100
13,O_ONE,2024-05-01,100
14,O_SAMEDAY,2024-06-01,50
15,O_SAMEDAY,2024-06-01,70
"""
D_OVERDUE = date(2024, 6, 30)


def test_overdue_against_own_rhythm_at_and_around_the_threshold(load):
    store, ds = load(OVERDUE)
    frame = churn.churn_warnings(store.db, ds, D_OVERDUE, include_all=True)
    rows = by_id(frame)
    assert set(rows) == {"O_AT", "O_ABOVE", "O_BELOW", "O_FAR", "O_ONE", "O_SAMEDAY"}
    at, above = reason(rows["O_AT"], "overdue"), reason(rows["O_ABOVE"], "overdue")
    assert (at["days"], at["gap"], at["ratio"]) == (60, 30.0, 2.0)
    assert (above["days"], above["gap"]) == (61, 30.0) and above["ratio"] == pytest.approx(61 / 30, abs=1e-4)
    assert "overdue" not in codes(rows["O_BELOW"])
    assert reason(rows["O_FAR"], "overdue")["ratio"] == pytest.approx(15.2)
    assert "overdue" not in codes(rows["O_ONE"]) and "overdue" not in codes(rows["O_SAMEDAY"])
    assert rows["O_ONE"]["median_gap_days"] is None or math.isnan(rows["O_ONE"]["median_gap_days"])
    # The prior rule (too few customers to learn from): weight 1 for overdue.
    for cid, level in (("O_AT", 0.5), ("O_ABOVE", math.log2(61 / 30) / 2), ("O_FAR", 1.0)):
        row = rows[cid]
        assert reason(row, "overdue")["strength"] == pytest.approx(level, abs=1e-4)
        assert row["probability_leave"] == pytest.approx(expected_probability(row["probability_model"], level))
    row = rows["O_BELOW"]
    assert row["probability_leave"] == pytest.approx(row["probability_model"])
    assert rows["O_AT"]["stage"] == "repeat" and rows["O_ONE"]["stage"] == "first"


def test_reason_words_in_both_languages(load):
    store, ds = load(OVERDUE)
    en = by_id(churn.churn_warnings(store.db, ds, D_OVERDUE, include_all=True))
    zh = by_id(churn.churn_warnings(store.db, ds, D_OVERDUE, include_all=True, lang="zh"))
    assert "No order for 61 days, 2.0× their usual 30-day gap" in en["O_ABOVE"]["reasons_text"]
    assert "已 61 天未下单，是其平常间隔（30 天）的 2.0 倍" in zh["O_ABOVE"]["reasons_text"]
    for cid in en:
        assert len(en[cid]["reasons_text"]) == len(zh[cid]["reasons_text"]) == len(en[cid]["reasons"])
    assert churn.reason_text({"code": "overdue", "days": 95, "gap": 30.0, "ratio": 3.1667}) == \
        "No order for 95 days, 3.2× their usual 30-day gap"
    assert churn.reason_text({"code": "overdue", "days": 95, "gap": 30.0, "ratio": 3.1667}, "zh") == \
        "已 95 天未下单，是其平常间隔（30 天）的 3.2 倍"


def test_every_reason_code_has_words_in_both_languages():
    for code in churn.REASON_CODES:
        for lang in ("en", "zh"):
            assert "churn_reason_" + code in TRANSLATIONS[lang], (code, lang)
    samples = {
        "falling_orders": {"recent": 2, "previous": 6, "window": 180},
        "falling_revenue": {"recent": 400.0, "previous": 1000.0, "drop": 0.6, "window": 180},
        "unresolved_complaints": {"count": 2, "days": 30},
        "falling_contact": {"recent": 1, "previous": 4, "window": 180},
        "late_payments": {"late": 1, "due": 2, "unpaid": 0, "days": 15.0, "months": 12},
        "low_p_alive": {"p_alive": 0.18},
        "few_expected_orders": {"p_order": 0.32, "orders": 0.5, "days": 180},
    }
    en = {code: churn.reason_text({"code": code, **v}) for code, v in samples.items()}
    zh = {code: churn.reason_text({"code": code, **v}, "zh") for code, v in samples.items()}
    assert en["falling_revenue"] == "Revenue down 60%: 400 in the last 180 days vs 1,000 in the 180 days before"
    assert zh["falling_revenue"] == "收入下降 60%：最近 180 天 400，之前 180 天 1,000"
    assert en["low_p_alive"] == "Purchase model: the chance that they are still buying is only 18%"
    assert zh["unresolved_complaints"] == "有 2 项投诉未解决，最近一次在 30 天前"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in zh.values())


# --------------------------------------------------------------------------- falling business
# D = 2024-12-31: recent window (2024-07-04, 2024-12-31], previous (2024-01-05, 2024-07-04].
#   F_ORDERS:  previous 4 orders of 100 (Feb-May), recent 2 of 200 (Nov 15, Dec 15): orders
#              4 -> 2 (at most half: fires, level 1 - 2/4 = 0.5); revenue 400 -> 400 (no).
#              Gaps 29, 31, 30, 198, 30 -> median 30, 16 days since: not overdue.
#   F_REVENUE: previous 2 orders of 500, recent 2 of 200: orders 2 -> 2 (no);
#              revenue 1000 -> 400 (fires, drop 0.6).
#   F_SLOW:    previous 3 orders of 100, recent 2 of 100: 2 > 1.5 and 200 > 150: neither.
#   F_RETURN:  previous one order of 1000; recent one of 800 and a return of -500: revenue
#              1000 -> 300 (fires, drop 0.7); orders 1 -> 1 (fewer than 2 before: not evaluated).
#   Orders and revenue share one term (the larger level counts): F_ORDERS 0.5 * 0.5,
#   F_REVENUE 0.5 * 0.6, F_RETURN 0.5 * 0.7.
FALLING = """\
customer_id,order_date,amount
F_ORDERS,2024-02-01,100
F_ORDERS,2024-03-01,100
F_ORDERS,2024-04-01,100
F_ORDERS,2024-05-01,100
F_ORDERS,2024-11-15,200
F_ORDERS,2024-12-15,200
F_REVENUE,2024-03-01,500
F_REVENUE,2024-05-01,500
F_REVENUE,2024-11-01,200
F_REVENUE,2024-12-01,200
F_SLOW,2024-02-01,100
F_SLOW,2024-04-01,100
F_SLOW,2024-06-01,100
F_SLOW,2024-11-01,100
F_SLOW,2024-12-01,100
F_RETURN,2024-03-01,1000
F_RETURN,2024-12-01,800
F_RETURN,2024-12-05,-500
"""
D_FALLING = date(2024, 12, 31)


def test_falling_orders_and_falling_revenue(load):
    store, ds = load(FALLING)
    rows = by_id(churn.churn_warnings(store.db, ds, D_FALLING, include_all=True))
    fo = reason(rows["F_ORDERS"], "falling_orders")
    assert (fo["recent"], fo["previous"], fo["window"]) == (2, 4, 180)
    assert "falling_revenue" not in codes(rows["F_ORDERS"]) and "overdue" not in codes(rows["F_ORDERS"])
    fr = reason(rows["F_REVENUE"], "falling_revenue")
    assert (fr["recent"], fr["previous"], fr["drop"]) == (400.0, 1000.0, 0.6)
    assert "falling_orders" not in codes(rows["F_REVENUE"])
    assert not {"falling_orders", "falling_revenue"} & set(codes(rows["F_SLOW"]))
    ret = reason(rows["F_RETURN"], "falling_revenue")
    assert (ret["recent"], ret["drop"]) == (300.0, 0.7)
    assert "falling_orders" not in codes(rows["F_RETURN"])
    assert rows["F_ORDERS"]["reasons_text"][0].startswith("Orders fell from 4 to 2")
    for cid, increment in (("F_ORDERS", 0.25), ("F_REVENUE", 0.3), ("F_RETURN", 0.35)):
        row = rows[cid]
        assert row["probability_leave"] == pytest.approx(expected_probability(row["probability_model"], increment))


def test_trend_query_by_hand(load):
    store, ds = load(FALLING)
    q = store.db.run("churn_order_trend", dataset_id=ds, as_of=D_FALLING, window_days=180).set_index("customer_id")
    assert q.loc["F_ORDERS"].tolist() == [2, 4, 400.0, 400.0]
    assert q.loc["F_RETURN"].tolist() == [1, 1, 300.0, 1000.0]


# --------------------------------------------------------------------------- complaints and contact
# D = 2024-12-31; every customer ordered on 2024-12-01 (stage first, not lost).
#   C_OPEN:     a complaint on 2024-11-01, not resolved -> 1 unresolved, the latest 60 days ago.
#   C_DONE:     a complaint resolved -> no reason.
#   C_MIXED:    "投诉" on 2024-10-01 with no resolved value (unresolved) and "Complaint" on
#               2024-12-01 marked no -> 2 unresolved, the latest 30 days ago; a third one
#               dated 2025-01-05 (after D) does not count. Level min(1, 2/2) = 1.
#   K_FALLING:  4 visits in the previous window (2024-01-05, 2024-07-04], 1 call in the
#               recent one -> 1 <= 4/2: falling contact, level 1 - 1/4 = 0.75. Its complaint
#               (resolved) in the recent window is not contact.
#   K_STEADY:   4 visits before, 3 calls recently -> no.
#   K_FEW:      1 visit before, none recently -> fewer than 2 before: not evaluated.
CONTACT_TX = "".join(f"{c},2024-12-01,100\n" for c in
                     ("C_OPEN", "C_DONE", "C_MIXED", "K_FALLING", "K_STEADY", "K_FEW"))
CONTACT_TX = "customer_id,order_date,amount\n" + CONTACT_TX
CONTACT = """\
customer_id,date,type,resolved
C_OPEN,2024-11-01,complaint,false
C_DONE,2024-11-01,complaint,true
C_MIXED,2024-10-01,投诉,
C_MIXED,2024-12-01,Complaint,no
C_MIXED,2025-01-05,complaint,no
K_FALLING,2024-02-01,visit,
K_FALLING,2024-03-01,visit,
K_FALLING,2024-04-01,visit,
K_FALLING,2024-05-01,visit,
K_FALLING,2024-10-01,call,
K_FALLING,2024-11-01,complaint,yes
K_STEADY,2024-02-01,visit,
K_STEADY,2024-03-01,visit,
K_STEADY,2024-04-01,visit,
K_STEADY,2024-05-01,visit,
K_STEADY,2024-09-01,call,
K_STEADY,2024-10-01,call,
K_STEADY,2024-11-01,call,
K_FEW,2024-03-01,visit,
"""


def test_unresolved_complaints_and_falling_contact(load):
    store, ds = load(CONTACT_TX, interactions=CONTACT)
    rows = by_id(churn.churn_warnings(store.db, ds, D_FALLING, include_all=True))
    assert {k: v["stage"] for k, v in rows.items()} == dict.fromkeys(rows, "first")
    op = reason(rows["C_OPEN"], "unresolved_complaints")
    assert (op["count"], op["days"], op["strength"]) == (1, 60, 0.5)
    assert "unresolved_complaints" not in codes(rows["C_DONE"])
    mixed = reason(rows["C_MIXED"], "unresolved_complaints")
    assert (mixed["count"], mixed["days"], mixed["strength"]) == (2, 30, 1.0)
    fc = reason(rows["K_FALLING"], "falling_contact")
    assert (fc["recent"], fc["previous"], fc["strength"]) == (1, 4, 0.375)  # weight 0.5 * level 0.75
    assert "unresolved_complaints" not in codes(rows["K_FALLING"])
    assert "falling_contact" not in codes(rows["K_STEADY"]) and "falling_contact" not in codes(rows["K_FEW"])
    row = rows["C_MIXED"]
    assert row["probability_leave"] == pytest.approx(expected_probability(row["probability_model"], 1.0))
    q = store.db.run("churn_complaints", dataset_id=ds, as_of=D_FALLING,
                     complaint_pattern=churn.COMPLAINT_PATTERN).set_index("customer_id")
    assert q.loc["C_MIXED", "complaints"] == 2 and q.loc["C_DONE", "unresolved_complaints"] == 0


def test_without_interactions_contact_reasons_are_not_evaluated(load):
    store, ds = load(CONTACT_TX)
    signals = store.db.run("churn_signals", dataset_id=ds, dates=[D_FALLING], as_of=D_FALLING, window_days=180,
                           complaint_pattern=churn.COMPLAINT_PATTERN, payment_window_days=365,
                           **Params().as_sql_params())
    assert list(signals.columns) == list(registry()["churn_signals"].columns)
    assert not signals["has_interactions"].any() and signals["unresolved_complaints"].isna().all()
    assert not signals["has_payment_terms"].any() and signals["invoices_late"].isna().all()


def test_documented_columns_of_the_churn_queries(load):
    store, ds = load(PAYMENTS, interactions=CONTACT)
    calls = {
        "churn_order_trend": {"as_of": D_FALLING, "window_days": 180},
        "churn_complaints": {"as_of": D_FALLING, "complaint_pattern": churn.COMPLAINT_PATTERN},
        "churn_contact": {"as_of": D_FALLING, "window_days": 180, "complaint_pattern": churn.COMPLAINT_PATTERN},
        "churn_payments": {"as_of": D_FALLING, "payment_window_days": 365},
        "churn_signals": {"dates": [D_FALLING], "as_of": D_FALLING, "window_days": 180,
                          "complaint_pattern": churn.COMPLAINT_PATTERN, "payment_window_days": 365,
                          **Params().as_sql_params()},
    }
    assert set(calls) == {n for n, q in registry().items() if q.path.parent.name == "churn"}
    for name, params in calls.items():
        assert list(store.db.run(name, dataset_id=ds, **params).columns) == list(registry()[name].columns), name


# --------------------------------------------------------------------------- late payments
# D = 2024-12-31; invoices due in (2023-12-31 + ..., D), i.e. less than 365 days before D.
#   P_LATE:   due 10-31 paid 11-15 (15 days late) and due 12-01 paid 11-30 (on time):
#             1 of 2 late, mean 15 days, level 1/2 -> 0.75 * 0.5 = 0.375.
#   P_ONTIME: due 11-01 paid 11-01 (on the due date: on time); an older invoice due
#             2023-11-01, paid a month late, is outside the 12 months.
#   P_NOTDUE: paid on time once; an unpaid invoice due 2025-01-14 (not yet due at D): no reason.
#   P_UNPAID: due 12-01, no paid date: unpaid at D and overdue, 30 days late.
#   P_AFTER:  due 12-20, paid 2025-01-10 (after D): still unpaid at D, 11 days late at D.
#   Lines of one order_id are one invoice; a return line is not an invoice.
PAYMENTS = """\
order_id,customer_id,order_date,amount,due_date,paid_date
A1,P_LATE,2024-10-01,60,2024-10-31,2024-11-15
A1,P_LATE,2024-10-01,40,2024-10-31,2024-11-15
A2,P_LATE,2024-11-01,100,2024-12-01,2024-11-30
B0,P_ONTIME,2023-10-01,100,2023-11-01,2023-12-01
B1,P_ONTIME,2024-10-01,100,2024-11-01,2024-11-01
B2,P_ONTIME,2024-10-05,-30,2024-11-04,
C1,P_NOTDUE,2024-10-01,100,2024-10-31,2024-10-20
C2,P_NOTDUE,2024-12-15,100,2025-01-14,
D1,P_UNPAID,2024-11-01,100,2024-12-01,
E1,P_AFTER,2024-11-20,100,2024-12-20,2025-01-10
"""


def test_late_payments_vs_on_time_vs_not_yet_due(load):
    store, ds = load(PAYMENTS)
    rows = by_id(churn.churn_warnings(store.db, ds, D_FALLING, include_all=True))
    late = reason(rows["P_LATE"], "late_payments")
    assert (late["late"], late["due"], late["unpaid"], late["days"], late["strength"]) == (1, 2, 0, 15.0, 0.375)
    assert "late_payments" not in codes(rows["P_ONTIME"])
    assert "late_payments" not in codes(rows["P_NOTDUE"])
    unpaid = reason(rows["P_UNPAID"], "late_payments")
    assert (unpaid["late"], unpaid["due"], unpaid["unpaid"], unpaid["days"]) == (1, 1, 1, 30.0)
    after = reason(rows["P_AFTER"], "late_payments")
    assert (after["late"], after["unpaid"], after["days"]) == (1, 1, 11.0)
    q = store.db.run("churn_payments", dataset_id=ds, as_of=D_FALLING, payment_window_days=365)
    q = q.set_index("customer_id")
    assert q.loc["P_ONTIME", "invoices_due"] == 1 and q.loc["P_NOTDUE", "invoices_due"] == 1
    assert any(text.startswith("1 of 2 invoices due in the last 12 months paid late or not at all (0 still "
                               "unpaid, 15 days late on average)") for text in rows["P_LATE"]["reasons_text"])


# --------------------------------------------------------------------------- who is listed
# D = 2024-12-31 (lost after 180 days: last order before 2024-07-04 is lost).
#   LOST:   last order 2024-06-01 (213 days): lost, not listed.
#   ACTIVE: ordered 2024-11-01 and 2024-12-01: repeat.
#   LOYAL:  four orders in the last 365 days: loyal.
#   LEAD:   in the customers table without orders: potential, not listed.
#   LATER:  in the customers table, created after D: none, not listed.
#   Owner: ACTIVE has none in the customers table -> the owner of its latest transaction
#   line (Bo, not the earlier Al); LOYAL's comes from the customers table (Cy).
WHO_TX = """\
customer_id,order_date,amount,owner
LOST,2024-05-01,100,Al
LOST,2024-06-01,100,Al
ACTIVE,2024-11-01,100,Al
ACTIVE,2024-12-01,100,Bo
LOYAL,2024-03-01,100,Al
LOYAL,2024-06-01,100,Al
LOYAL,2024-09-01,100,Al
LOYAL,2024-12-01,100,
"""
WHO_CUSTOMERS = """\
customer_id,owner,created_at
LOYAL,Cy,2023-01-01
LEAD,Di,2024-01-01
LATER,Ed,2025-03-01
ACTIVE,,2024-01-01
"""


def test_lost_and_potential_customers_are_excluded_owner_fallback(load):
    store, ds = load(WHO_TX, customers=WHO_CUSTOMERS)
    frame = churn.churn_warnings(store.db, ds, D_FALLING, include_all=True)
    rows = by_id(frame)
    assert set(rows) == {"ACTIVE", "LOYAL"}
    assert rows["LOYAL"]["stage"] == "loyal" and rows["ACTIVE"]["stage"] == "repeat"
    assert rows["ACTIVE"]["owner"] == "Bo" and rows["LOYAL"]["owner"] == "Cy"
    loyal = churn.churn_warnings(store.db, ds, D_FALLING, Params(loyal_orders=5), include_all=True)
    assert by_id(loyal)["LOYAL"]["stage"] == "repeat"
    # with lost_after_days 29 both (30 days since their last order) are lost
    assert set(churn.churn_warnings(store.db, ds, D_FALLING, Params(lost_after_days=29), include_all=True)
               ["customer_id"]) == set()


def test_no_customer_to_warn_about_gives_an_empty_list(load):
    store, ds = load("customer_id,order_date,amount\nA,2023-01-01,10\n")
    frame = churn.churn_warnings(store.db, ds, date(2024, 1, 1))
    assert frame.empty and list(frame.columns) == list(churn.COLUMNS)
    assert churn.risk_distribution(frame)["customers"].sum() == 0


# --------------------------------------------------------------------------- the probability
def monte_carlo_p_no_purchase(params, x, tx, T, t, n=1_000_000, seed=7):
    """P(no purchase in (T, T + t] | x, t_x, T) by integrating over the BG/NBD prior:
    E[L_num(lambda, p)] / E[L(lambda, p)] with lambda ~ Gamma(r, alpha), p ~ Beta(a, b),
    where L is the likelihood of the history (alive at T, or dropped out right after the
    last purchase at t_x) and L_num the same with no purchase in (T, T + t]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    alive = (1 - p) ** x * lam ** x * np.exp(-lam * T)
    dead = p * (1 - p) ** (x - 1) * lam ** x * np.exp(-lam * tx) if x > 0 else 0.0
    return float(np.mean(alive * np.exp(-lam * t) + dead) / np.mean(alive + dead))


PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.mark.parametrize("x, tx, T", [(0, 0.0, 20.0), (1, 5.0, 30.0), (2, 30.0, 32.0), (4, 10.0, 38.0),
                                      (7, 35.0, 38.0)])
def test_probability_of_no_purchase_matches_monte_carlo(x, tx, T):
    from crmflow.clv import BGNBD

    bg = BGNBD()
    bg.params_ = dict(PUBLISHED)
    t = 180 / 7
    p_alive = bg.p_alive(np.array([x]), np.array([tx]), np.array([T]))
    ours = churn.p_no_purchase(PUBLISHED, p_alive, np.array([x]), np.array([T]), t)[0]
    assert ours == pytest.approx(monte_carlo_p_no_purchase(PUBLISHED, x, tx, T, t), abs=0.01)


def test_probability_of_no_purchase_of_a_new_customer_matches_lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    fitter = lifetimes.BetaGeoFitter()
    fitter.params_ = pd.Series(PUBLISHED)
    for t in (4.0, 180 / 7, 52.0):
        ours = churn.p_no_purchase(PUBLISHED, np.array([1.0]), np.array([0.0]), np.array([0.0]), t)[0]
        assert ours == pytest.approx(float(fitter.probability_of_n_purchases_up_to_time(t, 0)), rel=1e-9)


def test_model_probability_is_the_formula_on_the_fitted_model(load):
    store, ds = load(FALLING)
    frame = churn.churn_warnings(store.db, ds, D_FALLING, include_all=True)
    values, fit = model.customer_values(store.db, ds, D_FALLING)
    p = fit.purchase.params_
    v = values.set_index("customer_id")
    for row in frame.itertuples():
        x, T, alive = v.loc[row.customer_id, "frequency"], v.loc[row.customer_id, "t_weeks"], row.p_alive
        q = ((p["alpha"] + T) / (p["alpha"] + T + 180 / 7)) ** (p["r"] + x)
        assert row.probability_model == pytest.approx(1 - alive * (1 - q), rel=1e-9)
        assert row.expected_value == pytest.approx(v.loc[row.customer_id, "expected_value"])


def test_risk_score_is_one_hundred_times_the_probability():
    # Not rounded to points or tenths: nearby probabilities keep their order.
    p = np.array([0.0, 0.0004999, 0.0005, 0.4995, 0.49949, 0.12345, 0.5, 0.99951, 1.0, 1.2, -0.1])
    assert churn.risk_score(p).tolist() == [0.0, 0.04999, 0.05, 49.95, 49.949, 12.345, 50.0, 99.951, 100.0,
                                           100.0, 0.0]
    assert churn.risk_score(0.25).dtype == np.float64
    assert churn.risk_score(0.123456789) == 12.345679


def test_risk_distribution_bands_with_decimals():
    frame = pd.DataFrame({"risk_score": [0.0, 9.9, 10.0, 49.9, 50.0, 89.9, 90.0, 100.0]})
    bands = churn.risk_distribution(frame).set_index("band")["customers"]
    assert bands.index.tolist() == ["0-9.9", "10-19.9", "20-29.9", "30-39.9", "40-49.9", "50-59.9", "60-69.9",
                                    "70-79.9", "80-89.9", "90-100"]
    assert bands.tolist() == [2, 1, 0, 0, 1, 1, 0, 0, 1, 2]


def test_fit_terms_recovers_planted_terms_and_respects_bounds():
    rng = np.random.default_rng(3)
    n = 40_000
    X = np.zeros((n, len(churn.TERMS)))
    stage = rng.integers(0, 3, n)
    X[np.arange(n), stage] = 1
    X[:, 3] = rng.normal(0, 1.5, n)
    X[:, 4:] = rng.random((n, 5)) * (rng.random((n, 5)) < 0.3)
    truth = np.array([0.5, -0.5, 0.2, 0.8, 1.2, 0.4, 0.0, 0.9, 0.6])
    left = rng.random(n) < special.expit(X @ truth)
    terms = churn.fit_terms(X, left)
    assert np.array([terms[k] for k in churn.TERMS]) == pytest.approx(truth, abs=0.12)
    # a reason that lowers the risk in the data gets weight 0, never a negative one
    truth[4] = -1.0
    left = rng.random(n) < special.expit(X @ truth)
    assert churn.fit_terms(X, left)["overdue"] == 0.0


# --------------------------------------------------------------------------- MODEL-ONLY
# The overdue fixture scored with a MODEL-ONLY calibration (intercept 1, slope 0.8):
# logit(P) = 1 + 0.8 * logit(exp(-E)), E the model's expected orders in 180 days. Every
# data reason has weight 0 but is still shown; the model reason covers every at-risk row.
MODEL_ONLY = churn.Calibration({"intercept": 1.0, "model_slope": 0.8, **dict.fromkeys(churn.TERMS[4:], 0.0)},
                               "history-model-only", scorer="model_only", why="reasons_did_not_help")


def test_model_only_scorer_ranks_as_expected_orders_and_keeps_the_reasons(load):
    store, ds = load(OVERDUE)
    frame = churn.score_customers(store.db, ds, D_OVERDUE, calibration=MODEL_ONLY)
    e = frame["expected_orders"].to_numpy(np.float64)
    q = np.exp(-e)
    expected = special.expit(1.0 + 0.8 * special.logit(q))
    assert frame["probability_leave"].to_numpy() == pytest.approx(expected, rel=1e-9)
    assert churn.logit_no_order(e) == pytest.approx(special.logit(q), rel=1e-9)
    # fewer expected orders, higher risk: the model's own order
    by_e = frame.sort_values("expected_orders")
    assert by_e["probability_leave"].is_monotonic_decreasing
    rows = by_id(frame)
    assert reason(rows["O_FAR"], "overdue")["strength"] == 0.0
    assert codes(rows["O_FAR"]) == ["low_p_alive", "overdue"]  # counted reasons first, weight-0 ones after
    assert codes(rows["O_AT"]) == ["low_p_alive", "overdue"]
    at_risk = frame[frame["risk_score"] >= churn.AT_RISK_SCORE]
    assert len(at_risk) == 4 and all({"low_p_alive", "few_expected_orders"} & set(codes(r))
                                     for _, r in at_risk.iterrows())
    assert frame.attrs["calibration"]["scorer"] == "model_only"
    assert frame.attrs["calibration"]["terms"]["overdue"] == 0.0


def test_small_data_has_no_usable_past_and_uses_the_prior_full_rule(load):
    store, ds = load(OVERDUE)
    calibration = churn.calibrate(store.db, ds, D_OVERDUE)
    assert calibration is churn.PRIOR_CALIBRATION
    assert (calibration.scorer, calibration.why, calibration.source) == ("full", "no_past", "prior")
    frame = churn.churn_warnings(store.db, ds, D_OVERDUE, include_all=True)
    assert frame.attrs["calibration"]["scorer"] == "full"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_scorer_note_in_words(lang):
    validated = {"fitted_on": date(2024, 1, 1), "validated_on": date(2023, 7, 5),
                 "auc_validation_full": 0.7182, "auc_validation_model_only": 0.7267}
    helped = churn.Calibration(dict(churn.PRIOR), "history", scorer="full", why="reasons_helped", **validated)
    did_not = churn.Calibration(MODEL_ONLY.terms, "history-model-only", scorer="model_only",
                                why="reasons_did_not_help", **validated)
    short = churn.Calibration(MODEL_ONLY.terms, "history-model-only", scorer="model_only",
                              why="too_short_to_validate")
    notes = {c.why: churn.scorer_note(c, lang) for c in (helped, did_not, short, churn.PRIOR_CALIBRATION)}
    assert set(notes) == set(churn.WHY)
    assert "0.718" in notes["reasons_did_not_help"] and "0.727" in notes["reasons_did_not_help"]
    assert "2024-01-01" in notes["reasons_helped"]
    assert churn.scorer_note(did_not.summary(), lang) == notes["reasons_did_not_help"]
    if lang == "en":
        assert notes["reasons_did_not_help"].startswith("The reasons did not improve the forecast on this data's past")
        assert "the risk follows the purchase model" in notes["too_short_to_validate"]


def test_roc_auc_counts_ties_half():
    assert churn.roc_auc([1, 2, 2, 3], [False, True, False, True]) == pytest.approx(3.5 / 4)
    assert churn.roc_auc([3, 2, 1], [True, False, False]) == 1.0
    assert math.isnan(churn.roc_auc([1, 2], [True, True]))


# --------------------------------------------------------------------------- the demo data
@pytest.fixture(scope="module")
def demo():
    store = Store(in_memory=True)
    ds = store.ensure_demo().dataset_id
    yield store, ds
    store.close()


def test_demo_invariants(demo):
    store, ds = demo
    as_of = date(2025, 6, 30)
    everyone = churn.churn_warnings(store.db, ds, as_of, include_all=True)
    listed = churn.churn_warnings(store.db, ds, as_of)
    stages = store.db.run("customer_stages", dataset_id=ds, dates=[as_of], **Params().as_sql_params())
    not_lost = set(stages.loc[stages["stage"].isin(["first", "repeat", "loyal"]), "customer_id"])
    assert everyone["customer_id"].is_unique and set(everyone["customer_id"]) == not_lost
    assert list(everyone.columns) == list(churn.COLUMNS)
    for frame in (everyone, listed):
        assert frame["risk_score"].between(0, 100).all()
        assert frame["probability_leave"].between(0, 1).all() and frame["p_alive"].between(0, 1).all()
        assert (frame["value_at_risk"] >= 0).all()
        assert (frame["value_at_risk"] <= frame["expected_value"] + 1e-9).all()
        assert (frame["risk_score"] == churn.risk_score(frame["probability_leave"].to_numpy())).all()
        ordered = frame.sort_values(["value_at_risk", "customer_id"], ascending=[False, True])
        assert frame["customer_id"].tolist() == ordered["customer_id"].tolist()
        assert frame["owner"].notna().all()
    assert len(listed) > 0 and listed["reasons"].map(len).gt(0).all()
    # the call list (picked before wording) = the largest values at risk until 80% of the total is reached
    # (issue 13: sized by value, no longer risk score >= 50)
    value = everyone["value_at_risk"]
    expected = everyone[(value.cumsum() - value < 0.8 * value.sum()) & (value > 0)]
    assert expected["value_at_risk"].sum() >= 0.8 * value.sum() > expected["value_at_risk"].iloc[:-1].sum()
    assert list(everyone["on_call_list"]) == list(everyone["customer_id"].isin(expected["customer_id"]))
    assert set(everyone.loc[everyone["risk_score"] >= 50, "customer_id"]) - set(listed["customer_id"])
    pd.testing.assert_frame_equal(listed.reset_index(drop=True), expected.reset_index(drop=True))
    for reasons in everyone["reasons"]:
        strengths = [r["strength"] for r in reasons]
        assert strengths == sorted(strengths, reverse=True)
    # the demo has complaints, contact and payment terms: every kind of reason shows up
    seen = {r["code"] for rs in everyone["reasons"] for r in rs}
    assert set(churn.REASON_TERM) <= seen
    bands = churn.risk_distribution(everyone)
    assert len(bands) == 10 and bands["customers"].sum() == len(everyone)
    # the reasons proved their worth on the demo's past: FULL, with the reasons' weights
    assert everyone.attrs["calibration"]["scorer"] == listed.attrs["calibration"]["scorer"] == "full"


def test_nothing_after_the_as_of_date_is_used(demo):
    """The warnings at D are the same when every order and contact after D is removed."""
    from crmflow.demo import generate

    as_of = date(2024, 6, 30)
    data = generate()
    cut = pd.Timestamp(as_of)
    with Store(in_memory=True) as store:
        ds = store.ingest("cut", data.transactions[data.transactions["order_date"] <= cut], data.customers,
                          data.interactions[data.interactions["date"] <= cut]).dataset.dataset_id
        truncated = churn.churn_warnings(store.db, ds, as_of, include_all=True)
    full = churn.churn_warnings(demo[0].db, demo[1], as_of, include_all=True)
    pd.testing.assert_frame_equal(full.drop(columns=["reasons", "reasons_text"]),
                                  truncated.drop(columns=["reasons", "reasons_text"]))
    assert full["reasons"].tolist() == truncated["reasons"].tolist()


@pytest.mark.parametrize("as_of", [date(2024, 6, 30), date(2024, 12, 31)])
def test_demo_risk_beats_the_model_alone(demo, as_of):
    result = churn.evaluate_auc(demo[0].db, demo[1], as_of)
    assert result["calibration"] == "history"
    # validated one period earlier (D - 360 -> D - 180, judged on D - 180 -> D): the reasons
    # helped (0.79 vs 0.72 and 0.81 vs 0.73), so FULL is used
    assert (result["scorer"], result["scorer_why"]) == ("full", "reasons_helped")
    assert result["validated_on"] == (as_of - timedelta(days=360)).isoformat()
    assert result["auc_validation_full"] >= result["auc_validation_model_only"] + 0.05
    assert result["auc_risk_score"] == result["auc_risk_full"]
    assert result["customers"] == result["left"] + result["stayed"] > 1000
    assert result["auc_risk_score"] >= result["auc_model"] + 0.03
    assert result["auc_risk_score"] >= result["auc_model_probability"]


def test_evaluation_needs_data_after_the_as_of_date(demo):
    from crmflow.errors import CrmflowError

    with pytest.raises(CrmflowError, match="180 days of data after"):
        churn.evaluate_auc(demo[0].db, demo[1], date(2025, 3, 31))


# --------------------------------------------------------------------------- CDNOW
@pytest.fixture(scope="module")
def cdnow_auc():
    store, result = load_file_dataset(CDNOW_MASTER)
    try:
        ds = result.dataset.dataset_id
        yield {d: churn.evaluate_auc(store.db, ds, d) for d in (date(1997, 9, 30), date(1997, 12, 31))}
    finally:
        store.close()


# Which scorer, and why: on 1997-09-30, D'' = D - 360 is before CDNOW's first order
# (1997-01-01), so the reasons cannot be validated; on 1997-12-31 they are (D'' = 1997-01-05,
# validation on 1997-07-04 -> 1997-12-31) and do worse than the model alone (0.718 vs 0.727).
CDNOW_SCORER = {date(1997, 9, 30): "too_short_to_validate", date(1997, 12, 31): "reasons_did_not_help"}


@pytest.mark.parametrize("as_of", [date(1997, 9, 30), date(1997, 12, 31)])
def test_cdnow_risk_is_measured_against_the_model(cdnow_auc, as_of):
    r = cdnow_auc[as_of]
    assert r["calibration"] == "history-model-only"
    assert (r["scorer"], r["scorer_why"]) == ("model_only", CDNOW_SCORER[as_of])
    if as_of == date(1997, 12, 31):
        assert r["auc_validation_full"] < r["auc_validation_model_only"]
    else:
        assert r["validated_on"] is None and r["auc_validation_full"] is None
    assert 0.68 <= r["auc_model"] <= 0.72  # BG/NBD expected orders alone: about 0.70
    # MODEL-ONLY ranks exactly as the expected orders: same AUC for the unrounded probability ...
    assert r["auc_probability"] == pytest.approx(r["auc_model"], abs=1e-12)
    # ... and for the risk score up to the ties of rounding to 0.1 (measured: -5e-6 and -5.5e-5;
    # this was within 0.01 before the scorer choice, when FULL ranked 0.006-0.007 below)
    assert r["auc_risk_score"] >= r["auc_model"] - 1e-4
    assert r["auc_risk_score"] >= r["auc_model_probability"]
    # FULL, had it been used, would rank below the model (what the old design did)
    assert r["auc_risk_full"] < r["auc_model"]
    # learned FULL terms: on CDNOW "overdue" adds (almost) nothing to what the model knows
    assert r["terms_full"]["overdue"] < 0.2 and r["terms"]["overdue"] == 0.0


@pytest.mark.parametrize("as_of", [date(1997, 9, 30), date(1997, 12, 31)])
def test_cdnow_risk_ranks_at_least_as_well_as_expected_orders(cdnow_auc, as_of):
    assert cdnow_auc[as_of]["auc_risk_score"] >= cdnow_auc[as_of]["auc_model"]


# --------------------------------------------------------------------------- command line
# The falling-business fixture, three one-off buyers, and R: six orders 10 days apart
# (2024-01-10 .. 03-01) and one on 2024-07-10, 174 days before D: overdue 17.4x (level 1),
# orders 6 -> 1 (level 5/6), two unresolved complaints (level 1): the prior rule adds
# 1 + 0.5 * 5/6 + 1 = 2.42 to the model's log-odds, which puts R on the list.
CLI_TX = FALLING + "".join(f"X{i},2024-12-{i + 1:02d},50\n" for i in range(3)) + "".join(
    f"R,{d},100\n" for d in ("2024-01-10", "2024-01-20", "2024-01-30", "2024-02-09", "2024-02-19", "2024-03-01",
                             "2024-07-10"))
CLI_INTERACTIONS = """\
customer_id,date,type,resolved
F_SLOW,2024-12-01,complaint,no
R,2024-08-01,complaint,no
R,2024-09-01,投诉,否
"""


def by_id_of(rows: list[dict]) -> set[str]:
    return {r["customer_id"] for r in rows}


def test_cli_json_csv_and_all(tmp_path, capsys):
    t = write(tmp_path, "t.csv", CLI_TX)
    i = write(tmp_path, "i.csv", CLI_INTERACTIONS)
    base = ["churn", str(t), "--interactions", str(i), "--as-of", "2024-12-31"]
    assert main(base + ["--all"]) == 0
    everyone = json.loads(capsys.readouterr().out)
    assert isinstance(everyone, list) and {r["customer_id"] for r in everyone} == \
        {"F_ORDERS", "F_REVENUE", "F_SLOW", "F_RETURN", "X0", "X1", "X2", "R"}
    for r in everyone:
        assert list(r)[:5] == ["customer_id", "stage", "risk_score", "value_at_risk", "reasons"]
        # risk score: 100 x the probability of leaving, printed to 4 decimals (no rounding ties)
        assert isinstance(r["risk_score"], float) and 0 <= r["risk_score"] <= 100
        assert r["risk_score"] == pytest.approx(100 * r["probability_leave"], abs=0.01)
        assert all(isinstance(s, str) for s in r["reasons"])
        assert r["value_at_risk"] == round(r["value_at_risk"], 2)
        assert r["probability_leave"] == round(r["probability_leave"], 4)
    assert main(base) == 0
    listed = json.loads(capsys.readouterr().out)
    # issue 13: the list holds the largest values at risk up to 80% of the total (no longer risk score >= 50)
    total = sum(r["value_at_risk"] for r in everyone)
    carried = [sum(r["value_at_risk"] for r in everyone[:k]) for k in range(len(everyone) + 1)]
    k = next(k for k in range(len(everyone) + 1) if carried[k] >= 0.8 * total - 0.01)
    assert [r["customer_id"] for r in listed] == [r["customer_id"] for r in everyone[:k]]
    assert [r["on_call_list"] for r in everyone] == [i < k for i in range(len(everyone))]
    # R (174 days without an order, 17x its rhythm) is at risk whichever purchase model the backtest chose
    r = next(r for r in everyone if r["customer_id"] == "R")
    assert r["risk_score"] >= 50
    assert len(r["reasons"]) >= 3 and r["reasons"][0] == "No order for 174 days, 17.4× their usual 10-day gap"
    assert all(r["reasons"] for r in listed)
    assert main(base + ["--all", "--format", "csv", "--lang", "zh"]) == 0
    csv_rows = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"customer_id": str})
    assert list(csv_rows.columns) == list(CHURN_CLI_COLUMNS)
    slow = csv_rows.set_index("customer_id").loc["F_SLOW", "reasons"]
    assert "有 1 项投诉未解决" in slow
    by = {r["customer_id"]: r for r in everyone}
    assert slow.count("; ") == len(by["F_SLOW"]["reasons"]) - 1


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    t = write(tmp_path, "t.csv", "customer_id,order_date,amount\nA,2024-01-01,10\n")
    assert main(["churn", str(t), "--lang", "fr"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crmflow: error:") and err.count("\n") == 1


def test_horizon_follows_lost_after_days(load):
    store, ds = load(FALLING)
    short = by_id(churn.churn_warnings(store.db, ds, D_FALLING, Params(lost_after_days=90), include_all=True))
    long = by_id(churn.churn_warnings(store.db, ds, D_FALLING, include_all=True))
    # fewer days to place an order in: a higher chance of placing none
    for cid in short:
        assert short[cid]["probability_model"] > long[cid]["probability_model"]


# --------------------------------------------------------------------------- reasons, column-wise vs one row at a time
# churn builds the reasons column-wise (each reason over the rows where it fires); the
# per-row reference below is the rule of the module docstring ("Reasons") written one
# customer at a time, as churn once did it, and the tests check that both agree exactly.
def _num(value: object) -> float | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def oracle_data_reasons(row: dict, as_of: date, window_days: int) -> list[dict]:
    """The reasons evaluated on the data for one row of churn_signals, each
    with ``code``, ``level`` (its strength in (0, 1], before weighting) and
    the numbers its words show."""
    out: list[dict] = []
    ratio = _num(row["overdue_ratio"])
    gap = _num(row["median_gap_days"])
    days = int(row["days_since_last_order"])
    if ratio is not None and gap and ratio >= churn.OVERDUE_THRESHOLD:
        out.append({"code": "overdue", "level": min(1.0, math.log2(ratio) / 2),
                    "days": days, "gap": gap, "ratio": ratio})

    recent, previous = int(row["orders_recent"]), int(row["orders_previous"])
    if previous >= churn.MIN_PREVIOUS_COUNT and recent <= churn.FALLING_SHARE * previous:
        out.append({"code": "falling_orders", "level": 1 - recent / previous,
                    "recent": recent, "previous": previous, "window": window_days})
    rev_recent, rev_previous = float(row["revenue_recent"]), float(row["revenue_previous"])
    if rev_previous > 0 and rev_recent <= churn.FALLING_SHARE * rev_previous:
        drop = min(1.0, 1 - max(rev_recent, 0.0) / rev_previous)
        out.append({"code": "falling_revenue", "level": drop,
                    "recent": rev_recent, "previous": rev_previous, "drop": drop, "window": window_days})

    if bool(row["has_interactions"]):
        unresolved = int(row["unresolved_complaints"])
        if unresolved >= 1:
            last = pd.Timestamp(row["last_unresolved_date"]).date()
            out.append({"code": "unresolved_complaints", "level": min(1.0, unresolved / 2),
                        "count": unresolved, "days": (as_of - last).days})
        c_recent, c_previous = int(row["contacts_recent"]), int(row["contacts_previous"])
        if c_previous >= churn.MIN_PREVIOUS_COUNT and c_recent <= churn.FALLING_SHARE * c_previous:
            out.append({"code": "falling_contact", "level": 1 - c_recent / c_previous,
                        "recent": c_recent, "previous": c_previous, "window": window_days})

    if bool(row["has_payment_terms"]):
        due, late = int(row["invoices_due"]), int(row["invoices_late"])
        if late >= 1:
            out.append({"code": "late_payments", "level": late / due,
                        "late": late, "due": due, "unpaid": int(row["invoices_unpaid"]),
                        "days": _num(row["mean_days_late"]) or 0.0,
                        "months": round(churn.PAYMENT_WINDOW_DAYS / 30.4375)})
    return out


def oracle_reasons(frame: pd.DataFrame, calibration: churn.Calibration, h: int, lang: str, as_of: date,
                   only_listed: bool = False) -> tuple[list[list[dict]], list[list[str]]]:
    """Every row's reasons and words as churn._score gives them, one row at a
    time: the data reasons weighted, the model's reason at AT_RISK_SCORE or
    above, value_at_risk for a listed row without another reason; sorted by
    (-strength, REASON_CODES index), floats rounded to 4 digits, worded with t."""
    from crmflow.i18n import t

    model_logit, probability = churn._probability(frame, calibration)
    model_score = churn.risk_score(special.expit(model_logit))
    value_at_risk = frame["expected_value"].to_numpy(np.float64) * probability
    listed = churn.call_list_mask(value_at_risk, frame["customer_id"])
    total = float(value_at_risk.sum())
    if only_listed:
        frame, probability, model_score, model_logit, value_at_risk, listed = (
            frame[listed], probability[listed], model_score[listed], model_logit[listed], value_at_risk[listed],
            listed[listed])
    out, words = [], []
    for i, row in enumerate(frame.to_dict("records")):
        reasons = [{"code": r["code"], "strength": calibration.terms[churn.REASON_TERM[r["code"]]] * r["level"], **r}
                   for r in oracle_data_reasons(row, as_of, churn.TREND_WINDOW_DAYS)]
        if model_score[i] >= churn.AT_RISK_SCORE:
            if row["p_alive"] < churn.LOW_P_ALIVE:
                reasons.append({"code": "low_p_alive", "strength": float(model_logit[i]),
                                "p_alive": float(row["p_alive"])})
            else:
                reasons.append({"code": "few_expected_orders", "strength": float(model_logit[i]),
                                "p_order": float(special.expit(-model_logit[i])),
                                "orders": float(row["expected_orders"]), "days": h})
        if listed[i] and not reasons:
            reasons.append({"code": "value_at_risk", "strength": 0.0, "share": float(value_at_risk[i] / total),
                            "probability": float(probability[i]), "days": h})
        reasons.sort(key=lambda r: (-r["strength"], churn.REASON_CODES.index(r["code"])))
        rounded = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "level"}
                   for r in reasons]
        out.append(rounded)
        words.append([t("churn_reason_" + r["code"], lang,
                        **{k: v for k, v in r.items() if k not in ("code", "strength")}) for r in rounded])
    return out, words


def typed(reasons: list[list[dict]]) -> list[list[list[tuple]]]:
    """The reasons with every value's type and the keys' order, for an exact comparison."""
    return [[[(k, type(v).__name__, v) for k, v in r.items()] for r in rs] for rs in reasons]


def test_vectorised_reason_levels_equal_the_worded_reasons():
    """reason_levels (all customers at once, used to fit and to pick the listed
    customers) gives the levels the per-row reference words one row at a time,
    on random signals that sit on every threshold (ratio exactly 2, recent
    exactly half, no previous, NaN gaps, no interactions, no payment terms);
    and the column-wise reasons of _score equal the reference's exactly."""
    from crmflow.churn import DATA_REASONS, reason_levels

    rng = np.random.default_rng(7)
    n = 4000
    frame = pd.DataFrame({
        "overdue_ratio": rng.choice([np.nan, 0.0, 1.5, 2.0, 3.7, 4.0, 9.0], n),
        "median_gap_days": rng.choice([np.nan, 0.0, 10.0, 30.5], n),
        "days_since_last_order": rng.integers(0, 400, n),
        "orders_recent": rng.integers(0, 4, n),
        "orders_previous": rng.integers(0, 6, n),
        "revenue_recent": rng.choice([-5.0, 0.0, 10.0, 25.0, 50.0], n),
        "revenue_previous": rng.choice([0.0, 20.0, 50.0, 100.0], n),
        "has_interactions": rng.choice([True, False], n),
        "unresolved_complaints": rng.integers(0, 4, n),
        "last_unresolved_date": pd.Timestamp("2024-01-01"),
        "contacts_recent": rng.integers(0, 4, n),
        "contacts_previous": rng.integers(0, 6, n),
        "has_payment_terms": rng.choice([True, False], n),
        "invoices_due": rng.integers(3, 6, n),
        "invoices_late": rng.integers(0, 3, n),
        "invoices_unpaid": 0,
        "mean_days_late": 4.0,
    })
    levels = reason_levels(frame)
    fired = 0
    for i, row in enumerate(frame.to_dict("records")):
        worded = {r["code"]: r["level"] for r in oracle_data_reasons(row, date(2024, 6, 30), 90)}
        for code in DATA_REASONS:
            assert levels[code][i] == pytest.approx(worded.get(code, 0.0), abs=1e-12), (i, code, row)
            assert (levels[code][i] > 0) == (code in worded)
        fired += bool(worded)
    assert 0 < fired < n

    frame = with_model_part(frame, rng)
    for calibration in (churn.PRIOR_CALIBRATION, MODEL_ONLY):
        for only_listed in (False, True):
            scored = churn._score(frame, calibration, 180, "en", date(2024, 6, 30), only_listed)
            reasons, words = oracle_reasons(frame, calibration, 180, "en", date(2024, 6, 30), only_listed)
            assert typed(scored["reasons"].tolist()) == typed(reasons)
            assert scored["reasons_text"].tolist() == words


def with_model_part(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Random signals completed with what churn._signals adds: ids, stage,
    the model part (P0 exactly 0.5 for some: the model's risk score exactly
    AT_RISK_SCORE; P(alive) exactly LOW_P_ALIVE or missing for some), value
    and the reasons' levels."""
    n = len(frame)
    out = frame.assign(customer_id=[f"C{i:05d}" for i in range(n)],
                       stage=rng.choice(["first", "repeat", "loyal"], n),
                       probability_model=rng.choice([0.05, 0.3, 0.5, 0.7, 0.95], n),
                       p_alive=rng.choice([0.2, 0.5, 0.8, np.nan], n),
                       expected_orders=rng.choice([0.01, 0.5, 1.0, 3.0], n),
                       expected_value=rng.gamma(1.0, 100.0, n), owner="A")
    for code, level in churn.reason_levels(out).items():
        out["level_" + code] = level
    return out


# A hand-made signals frame at D = 2024-06-30 on every edge of the reasons. QUIET fires
# nothing (under the prior rule: P0 0.2, risk 20); each customer changes what its comment says.
D_EDGES = date(2024, 6, 30)
QUIET = {"stage": "repeat", "days_since_last_order": 30, "median_gap_days": 30.0, "overdue_ratio": 1.0,
         "orders_recent": 2, "orders_previous": 2, "revenue_recent": 100.0, "revenue_previous": 100.0,
         "has_interactions": True, "unresolved_complaints": 0, "last_unresolved_date": pd.NaT,
         "contacts_recent": 2, "contacts_previous": 2, "has_payment_terms": True, "invoices_due": 2,
         "invoices_late": 0, "invoices_unpaid": 0, "mean_days_late": np.nan,
         "probability_model": 0.2, "p_alive": 0.9, "expected_orders": 1.0, "expected_value": 10.0, "owner": "A"}
EDGES = {
    "OV_AT": ({"overdue_ratio": 2.0, "days_since_last_order": 60}, ["overdue"]),  # ratio exactly 2: level 0.5
    "OV_BELOW": ({"overdue_ratio": float(np.nextafter(2.0, 0.0)), "days_since_last_order": 59}, []),
    "OV_FAR": ({"overdue_ratio": 16.0, "days_since_last_order": 480}, ["overdue"]),  # level capped at 1
    "OV_GAP_0": ({"overdue_ratio": 3.0, "median_gap_days": 0.0}, []),  # no rhythm
    "OV_ONE_DAY": ({"overdue_ratio": np.nan, "median_gap_days": np.nan}, []),  # one buying day
    "OV_GAP_NAN": ({"overdue_ratio": 3.0, "median_gap_days": np.nan}, []),
    "FO_AT": ({"orders_recent": 1}, ["falling_orders"]),  # exactly half of 2: level 0.5
    "FO_OFF": ({"orders_previous": 3}, []),  # 2 > 1.5
    "FO_PREV_1": ({"orders_recent": 0, "orders_previous": 1}, []),  # fewer than 2 before
    "FO_PREV_0": ({"orders_recent": 0, "orders_previous": 0}, []),
    "FR_AT": ({"revenue_recent": 50.0}, ["falling_revenue"]),  # exactly half: drop 0.5
    "FR_OFF": ({"revenue_recent": float(np.nextafter(50.0, 100.0))}, []),
    "FR_RETURNS": ({"revenue_recent": -20.0}, ["falling_revenue"]),  # drop capped at 1
    "FR_PREV_0": ({"revenue_recent": -5.0, "revenue_previous": 0.0}, []),  # no positive previous
    "FR_NAN": ({"revenue_recent": np.nan}, []),
    "UC_1": ({"unresolved_complaints": 1, "last_unresolved_date": pd.Timestamp("2024-05-01")},
             ["unresolved_complaints"]),  # level 0.5, 60 days ago
    "UC_3": ({"unresolved_complaints": 3, "last_unresolved_date": pd.Timestamp("2024-06-29 18:30")},
             ["unresolved_complaints"]),  # level capped at 1; the day counts, not the hour: 1 day ago
    "FC_AT": ({"contacts_recent": 1}, ["falling_contact"]),  # exactly half of 2
    "FC_OFF": ({"contacts_previous": 3}, []),
    # without interactions complaints and contact are not evaluated, whatever the columns hold
    "NO_TALKS": ({"has_interactions": False, "unresolved_complaints": 2, "contacts_recent": 0,
                  "contacts_previous": 4, "last_unresolved_date": pd.Timestamp("2024-05-01")}, []),
    "NO_TALKS_NAN": ({"has_interactions": False, "unresolved_complaints": np.nan, "contacts_recent": np.nan,
                      "contacts_previous": np.nan}, []),
    # 123.45675 rounds to 123.4567 (Python's round) but to 123.4568 with np.round
    "LP_1": ({"invoices_due": 3, "invoices_late": 1, "invoices_unpaid": 1, "mean_days_late": 123.45675},
             ["late_payments"]),
    "LP_DAYS_NAN": ({"invoices_late": 2}, ["late_payments"]),  # level 1, days 0
    "LP_DAYS_NEG_ZERO": ({"invoices_late": 1, "mean_days_late": -0.0}, ["late_payments"]),
    "LP_DUE_0": ({"invoices_due": 0}, []),  # nothing due
    "NO_TERMS": ({"has_payment_terms": False, "invoices_due": 3, "invoices_late": 2}, []),
    "NO_TERMS_NAN": ({"has_payment_terms": False, "invoices_due": np.nan, "invoices_late": np.nan,
                      "invoices_unpaid": np.nan}, []),
    # prior weights: overdue 1 x 0.5, falling orders 0.5 x 1, falling revenue 0.5 x 1 -- three ties
    # at 0.5; and a value at risk that puts it on the list with its reasons
    "TIE": ({"overdue_ratio": 2.0, "days_since_last_order": 60, "orders_recent": 0, "orders_previous": 4,
             "revenue_recent": 0.0, "expected_value": 2e5}, ["overdue", "falling_orders", "falling_revenue"]),
    # P0 = 0.5 puts the model part exactly at AT_RISK_SCORE (offset 0, slope 1: logit 0, score 50.0);
    # P(alive) exactly LOW_P_ALIVE is not low. With falling contact weighted 0 (TIES below) both are 0.
    "MODEL_AT": ({"probability_model": 0.5, "p_alive": 0.5, "contacts_recent": 1},
                 ["falling_contact", "few_expected_orders"]),
    "MODEL_LOW": ({"probability_model": 0.5, "p_alive": float(np.nextafter(0.5, 0.0))}, ["low_p_alive"]),
    "MODEL_OFF": ({"probability_model": 0.499999}, []),  # model risk 49.9999
    "VALUE": ({"expected_value": 1e6}, ["value_at_risk"]),  # listed for its value alone
}
TIES = churn.Calibration({**churn.PRIOR, "falling_contact": 0.0}, "history", scorer="full", why="reasons_helped")


def edge_frame() -> pd.DataFrame:
    frame = pd.DataFrame([{"customer_id": cid, **QUIET, **changes} for cid, (changes, _) in EDGES.items()])
    for code, level in churn.reason_levels(frame).items():
        frame["level_" + code] = level
    return frame


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_column_wise_reasons_equal_the_per_row_reference_on_every_edge(lang):
    frame = edge_frame()
    scored = by_id(churn._score(frame, TIES, 180, lang, D_EDGES))
    assert {cid: codes(row) for cid, row in scored.items()} == {cid: c for cid, (_, c) in EDGES.items()}
    assert [r["strength"] for r in scored["TIE"]["reasons"]] == [0.5, 0.5, 0.5]
    assert [r["strength"] for r in scored["MODEL_AT"]["reasons"]] == [0.0, 0.0]
    assert list(scored["VALUE"]["reasons"][0]) == ["code", "strength", "share", "probability", "days"]
    assert reason(scored["UC_3"], "unresolved_complaints")["days"] == 1
    assert reason(scored["LP_DAYS_NEG_ZERO"], "late_payments")["days"] == 0.0
    assert reason(scored["LP_1"], "late_payments")["days"] == 123.4567
    assert {cid for cid, row in scored.items() if row["on_call_list"]} == {"VALUE", "TIE"}
    for calibration in (TIES, churn.PRIOR_CALIBRATION, MODEL_ONLY):
        for only_listed in (False, True):
            got = churn._score(frame, calibration, 180, lang, D_EDGES, only_listed)
            reasons, words = oracle_reasons(frame, calibration, 180, lang, D_EDGES, only_listed)
            assert typed(got["reasons"].tolist()) == typed(reasons), (calibration.scorer, only_listed)
            assert got["reasons_text"].tolist() == words, (calibration.scorer, only_listed)
