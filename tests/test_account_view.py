"""The account queries (queries/account/) on a hand-worked fixture, the pure
helpers behind the Churn warnings, Key accounts and per-account pages
(crmflow.account_view) and their chart builders.

Fixture, D = 2024-06-30. Customer A: order O1 on 2024-01-02 (100) and
2024-01-03 (50) -- one order over two days, due 2024-02-01, its lines paid
on 01-30 and 02-05, so the invoice is paid on 02-05, 4 days late; O2 on
03-01 (80), due 03-31, never paid: overdue at D by 91 days; a return of -20
on 03-05; O3 on 06-29 (40), due 07-29: open; O4 on 07-15 is after D.
B: two lines on 2023-06-01 without an order id (one order, 15). L: a lead.
A's interactions: a visit 02-01, an unresolved complaint 03-01, a resolved
"Complaint" 04-01, a call 05-01 and a visit after D.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from crmflow import account_view as av
from crmflow.charts.accounts import (
    MAX_HEAT_ROWS,
    account_timeline,
    component_heatmap,
    health_history_chart,
    plain,
    plain_column,
    value_matrix_scatter,
)
from crmflow.charts.churn import band_colours, risk_histogram
from crmflow.churn import churn_warnings, risk_distribution
from crmflow.config import Params
from crmflow.db import registry
from crmflow.health import (
    COMPONENTS,
    account_health,
    health_coverage,
    health_history,
    load_weights,
    value_matrix,
)
from crmflow.i18n import t

D = date(2024, 6, 30)
TRANSACTIONS = """
order_id,customer,date,amount,due_date,paid_date,owner,region
O1,A,2024-01-02,100,2024-02-01,2024-01-30,Ann,North
O1,A,2024-01-03,50,2024-02-01,2024-02-05,Ann,North
O2,A,2024-03-01,80,2024-03-31,,Bob,South
,A,2024-03-05,-20,,,,
O3,A,2024-06-29,40,2024-07-29,,,
O4,A,2024-07-15,999,2024-08-15,,,
,B,2023-06-01,10,,,,
,B,2023-06-01,5,,,,
"""
CUSTOMERS = "customer_id,name,created_at,is_key_account,owner\nA,Alpha Ltd,2023-12-01,yes,Carol\nL,Lead Co,2024-01-01,no,\n"
INTERACTIONS = """customer_id,date,type,resolved,note
A,2024-02-01,visit,,hello
A,2024-03-01,complaint,no,late delivery
A,2024-04-01,Complaint,yes,fixed
A,2024-05-01,call,,
A,2024-08-01,visit,,after D
"""


@pytest.fixture
def fixture(load):
    return load(TRANSACTIONS, customers=CUSTOMERS, interactions=INTERACTIONS)


# --------------------------------------------------------------------------- queries
def test_documented_columns_of_the_account_queries(fixture):
    store, ds = fixture
    calls = {"account_directory": {"as_of": D, "complaint_pattern": "complaint"},
             "account_orders": {"customer_id": "A", "as_of": D},
             "account_invoices": {"customer_id": "A", "as_of": D},
             "account_interactions": {"customer_id": "A", "as_of": D, "complaint_pattern": "complaint"}}
    assert {n for n, q in registry().items() if q.path.parent.name == "account"} == set(calls)
    for name, kwargs in calls.items():
        frame = store.db.run(name, dataset_id=ds, **kwargs)
        assert list(frame.columns) == list(registry()[name].columns), name
        assert set(registry()[name].params) == set(kwargs), name
    assert av.DIRECTORY_COLUMNS == registry()["account_directory"].columns
    assert av.ORDER_COLUMNS == registry()["account_orders"].columns
    assert av.INVOICE_COLUMNS == registry()["account_invoices"].columns
    assert av.INTERACTION_COLUMNS == registry()["account_interactions"].columns


def test_directory_by_hand(fixture):
    store, ds = fixture
    d = av.directory(store.db, ds, D).set_index("customer_id")
    assert list(d.index) == ["A", "B", "L"]
    a = d.loc["A"]
    assert (a["name"], a["owner"], a["region"], bool(a["is_key_account"])) == ("Alpha Ltd", "Carol", "South", True)
    assert (a["created_at"], a["first_order_date"], a["last_order_date"]) == (
        date(2023, 12, 1), date(2024, 1, 2), date(2024, 6, 29))
    assert (a["orders"], a["revenue"], a["last_contact_date"]) == (3, 250.0, date(2024, 5, 1))
    b = d.loc["B"]
    assert pd.isna(b["name"]) and pd.isna(b["owner"]) and not b["is_key_account"]
    assert (b["orders"], b["revenue"], b["last_order_date"], b["last_contact_date"]) == (
        1, 15.0, date(2023, 6, 1), None)
    lead = d.loc["L"]
    assert (lead["orders"], lead["revenue"], lead["first_order_date"]) == (0, 0.0, None)


def test_directory_dates_are_dates_or_none():
    # the engines give dates as datetime64 (DuckDB) or as datetime.date objects (Spark); missing is None
    frame = pd.DataFrame({"stamp": pd.Series(["2024-01-02 00:00", None, "2024-03-01 23:59"], dtype="datetime64[us]"),
                          "day": pd.Series([date(2024, 1, 2), None, np.nan], dtype=object),
                          "none": pd.Series([None, None, None], dtype=object)})
    out = av._dates(frame, ("stamp", "day", "none"))
    assert out["stamp"].tolist() == [date(2024, 1, 2), None, date(2024, 3, 1)]
    assert out["day"].tolist() == [date(2024, 1, 2), None, None]
    assert out["none"].tolist() == [None, None, None]
    assert {type(v) for c in out.columns for v in out[c]} == {date, type(None)}
    assert all(out[c].dtype == object for c in out.columns)


def test_directory_orders_equal_the_stage_engine(fixture):
    from crmflow.stages import customer_stages

    store, ds = fixture
    d = av.directory(store.db, ds, D).set_index("customer_id")
    stages = customer_stages(store.db, ds, D).set_index("customer_id")
    for cid in d.index:
        assert d.loc[cid, "orders"] == stages.loc[cid, "orders"], cid


def test_orders_invoices_and_interactions_by_hand(fixture):
    store, ds = fixture
    act = av.account_activity(store.db, ds, "A", D)
    orders = [(r.order_date.date().isoformat(), r.kind, r.amount, r.lines, r.orders)
              for r in act.orders.itertuples()]
    assert orders == [("2024-01-02", "order", 100.0, 1, 1), ("2024-01-03", "order", 50.0, 1, 0),
                      ("2024-03-01", "order", 80.0, 1, 1), ("2024-03-05", "return", -20.0, 1, 0),
                      ("2024-06-29", "order", 40.0, 1, 1)]
    inv = act.invoices
    assert list(inv["invoice_key"]) == ["id:O1", "id:O2", "id:O3"]
    assert list(inv["status"]) == ["late", "overdue", "open"]
    assert [None if pd.isna(v) else int(v) for v in inv["days_late"]] == [4, 91, None]
    assert list(inv["amount"]) == [150.0, 80.0, 40.0]
    assert inv["paid_date"].iloc[0] == pd.Timestamp("2024-02-05") and inv["paid_date"].iloc[1:].isna().all()
    ints = act.interactions
    assert [d.date().isoformat() for d in ints["date"]] == ["2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"]
    assert list(ints["is_complaint"]) == [False, True, True, False]
    assert list(ints["is_unresolved"]) == [False, True, False, False]
    b = av.account_activity(store.db, ds, "B", D)
    assert list(b.orders["orders"]) == [1] and list(b.orders["lines"]) == [2]
    assert b.invoices.empty and b.interactions.empty


def test_an_invoice_paid_early_and_on_time_and_paid_after_d(load):
    store, ds = load("order_id,customer,date,amount,due_date,paid_date\n"
                     "X1,A,2024-01-01,10,2024-02-01,2024-01-20\n"
                     "X2,A,2024-02-01,10,2024-03-01,2024-03-01\n"
                     "X3,A,2024-05-01,10,2024-06-01,2024-07-10\n")
    inv = av.account_activity(store.db, ds, "A", D).invoices
    assert list(inv["status"]) == ["on_time", "on_time", "overdue"]
    assert [int(v) for v in inv["days_late"]] == [-12, 0, 29]
    assert inv["paid_date"].iloc[2] is pd.NaT or pd.isna(inv["paid_date"].iloc[2])


def test_the_customer_id_is_bound_not_spliced(load):
    store, ds = load("customer,date,amount\nO'Brien; DROP,2024-01-02,10\nB,2024-01-03,5\n")
    act = av.account_activity(store.db, ds, "O'Brien; DROP", D)
    assert list(act.orders["amount"]) == [10.0]
    assert av.account_activity(store.db, ds, "' OR '1'='1", D).empty


def test_filters_narrow_the_directory(fixture):
    from crmflow.filters import Filters, resolve

    store, ds = fixture
    scope = resolve(store.db, ds, Filters(owners=("Carol",)))
    assert list(av.directory(store.db, scope, D)["customer_id"]) == ["A"]
    assert av.account_activity(store.db, scope, "B", D).empty


# --------------------------------------------------------------------------- churn helpers
def churn_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7"],
        "stage": ["loyal", "repeat", "first", "repeat", "repeat", "loyal", "first"],
        "risk_score": [90, 80, 70, 60, 55, 52, 51],
        "probability_leave": [0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.51],
        "expected_value": [100.0, 50, 40, 30, 20, 20, 10],
        "value_at_risk": [40.0, 20, 15, 10, 8, 5, 2],
        "days_since_last_order": [10, 20, 30, 40, 50, 60, 70],
        "owner": ["Ann", None, "Bob", "Ann", "", "Bob", None],
        "reasons": [[{"code": "low_p_alive", "strength": 1.0, "p_alive": 0.25}]] + [[]] * 6,
    })


def test_churn_headline_top_share():
    h = av.churn_headline(churn_frame())
    assert (h.customers, h.value_at_risk, h.expected_value, h.top) == (7, 100.0, 270.0, 5)
    assert h.top_share == pytest.approx(0.93)
    empty = av.churn_headline(churn_frame().iloc[0:0])
    assert (empty.customers, empty.value_at_risk, empty.top, empty.top_share) == (0, 0.0, 0, None)
    zero = churn_frame().assign(value_at_risk=0.0)
    assert av.churn_headline(zero).top_share is None


def test_owner_options_and_filter():
    frame = churn_frame()
    assert av.owner_options(frame) == ["Ann", "Bob", ""]
    assert list(av.by_owner(frame, ["Ann"])["customer_id"]) == ["c1", "c4"]
    assert list(av.by_owner(frame, [""])["customer_id"]) == ["c2", "c5", "c7"]
    assert len(av.by_owner(frame, [])) == 7
    assert av.owner_options(frame.iloc[[0, 3]]) == ["Ann"]


def test_call_list_columns_and_words():
    frame = churn_frame()
    people = pd.DataFrame({"customer_id": ["c1", "c2"], "name": ["One", None], "region": ["North", None],
                           "owner": ["Ann", "Zed"], "last_order_date": [date(2024, 1, 1), None],
                           "last_contact_date": [None, date(2024, 2, 2)]})
    calls = av.call_list(frame, people, "zh")
    assert tuple(calls.columns) == av.CALL_LIST_COLUMNS
    assert list(calls["customer_id"]) == list(frame["customer_id"])
    assert calls.loc[0, "name"] == "One" and calls.loc[0, "stage"] == "忠诚客户"
    assert calls.loc[1, "owner"] == "Zed"          # the directory's owner fills a missing one
    assert calls.loc[0, "reasons"] == t("churn_reason_low_p_alive", "zh", p_alive=0.25)
    assert calls.loc[1, "reasons"] == ""
    assert calls.loc[1, "last_contact_date"] == date(2024, 2, 2)
    assert pd.isna(calls.loc[2, "name"])
    labelled = av.translate_columns(calls, "cp_col_", "en")
    assert list(labelled.columns)[:3] == ["Customer ID", "Customer", "Account manager"]


# --------------------------------------------------------------------------- key-account helpers
def health_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["k1", "k2", "k3", "k4"],
        "name": ["Big", None, "Mid", "Gone"],
        "owner": ["Ann", None, "Bob", "Ann"],
        "health_score": [82.0, 35.5, 50.0, np.nan],
        "status": ["healthy", "at_risk", "watch", None],
        "score_90d_ago": [70.0, 48.0, 51.0, np.nan],
        "trend": ["up", "down", "flat", None],
        "phase": ["growth", "retention", "return", "termination"],
        "revenue_12m": [600.0, 300.0, 100.0, 0.0],
        "selected_by": ["flag"] * 4,
        **{c: [80.0, 20.0, np.nan, np.nan] for c in COMPONENTS},
    })


def test_key_account_headline():
    h = av.key_account_headline(health_frame())
    assert (h.accounts, h.at_risk, h.watch, h.healthy, h.unscored, h.selected_by) == (4, 1, 1, 1, 1, "flag")
    assert h.revenue_share == pytest.approx(0.3)
    empty = av.key_account_headline(health_frame().iloc[0:0])
    assert (empty.accounts, empty.at_risk, empty.revenue_share, empty.selected_by) == (0, 0, None, None)


def test_health_table_lights_arrows_and_phases():
    table = av.health_table(health_frame(), "zh")
    assert tuple(table.columns) == av.HEALTH_TABLE_COLUMNS
    assert list(table["light"]) == ["● 健康", "● 危急", "● 需关注", "○ —"]
    assert list(table["trend"]) == ["↑ +12.0", "↓ -12.5", "→ -1.0", "—"]
    assert list(table["phase"]) == ["成长期", "挽留期", "回报期", "终止期"]
    assert list(table["customer"]) == ["Big", "k2", "Mid", "Gone"]
    assert av.traffic_light("watch", "en") == "● Watch"
    # coloured as Markdown (cards) and by a Styler function (tables); no emoji anywhere
    assert av.traffic_light_markdown("at_risk", "en") == ":red[● Critical]"
    assert av.light_style("en")("● Healthy").startswith("color: #15803d")
    assert av.light_style("en")("○ —") == ""


def test_component_scores_and_weakest():
    scores = av.component_scores(health_frame(), {c: c != "margin" for c in COMPONENTS})
    assert "margin" not in scores.columns and len(scores.columns) == 7
    assert list(scores.index) == ["Gone", "k2", "Mid", "Big"]      # no score first, then the weakest
    assert av.weakest_component(scores) == ("recency", 50.0)
    assert av.weakest_component(scores.iloc[:, 0:0]) is None


def test_weights_wrappers_equal_the_package(fixture):
    store, ds = fixture
    weights = dict(load_weights(), recency=0)
    key = av.weights_key(weights)
    assert key[0] == ("recency", 0.0) and len(key) == 8 and hash(key)
    assert av.weights_key(None) == ()
    pd.testing.assert_frame_equal(av.key_account_health(store.db, ds, D, Params(), key),
                                  account_health(store.db, ds, D, Params(), weights))
    pd.testing.assert_frame_equal(av.key_account_health(store.db, ds, D), account_health(store.db, ds, D))
    dates = av.history_dates(D, 3)
    assert dates == (date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31), D)
    pd.testing.assert_frame_equal(av.account_health_history(store.db, ds, "A", dates, Params(), key),
                                  health_history(store.db, ds, "A", list(dates), Params(), weights))


def test_history_dates_end_at_d_when_d_is_mid_month():
    dates = av.history_dates(date(2025, 6, 15), 12)
    assert dates[0] == date(2024, 6, 30) and dates[-1] == date(2025, 6, 15) and len(dates) == 13


def test_matrix_helpers():
    summary = pd.DataFrame({"quadrant": ["core", "direct", "potential", "poor"], "customers": [2, 1, 1, 4],
                            "customer_share": [0.25, 0.125, 0.125, 0.5],
                            "current_value": [80.0, 15.0, 5.0, 0.0], "potential_value": [1.0, 1, 1, 1]})
    assert av.matrix_headline(summary) == (0.25, 0.8)
    assert av.matrix_headline(summary.assign(current_value=0.0)) == (0.25, None)
    assert not av.use_log_axes([1, 2, 3, 50])
    assert av.use_log_axes(list(np.geomspace(1, 1e5, 50)))
    assert not av.use_log_axes([0, -5, 3])


# --------------------------------------------------------------------------- account-page helpers
def orders_frame(days: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"order_date": pd.to_datetime(days), "kind": "order", "amount": 10.0, "lines": 1,
                         "orders": 1})


def test_order_pace():
    as_of = date(2024, 6, 30)           # recent: (2023-12-30, 2024-06-30], previous: (2023-06-30, 2023-12-30]
    before = ["2023-07-01", "2023-08-01", "2023-09-01", "2023-10-01", "2023-11-01", "2023-12-30"]
    pace = av.order_pace(orders_frame(before + ["2024-02-01", "2024-06-30"]), as_of)
    assert (pace.recent, pace.previous, pace.months, pace.trend) == (2, 6, 6, "slowed")
    assert av.order_pace(orders_frame(["2023-10-01", "2024-03-01", "2024-04-01"]), as_of).trend == "grew"
    assert av.order_pace(orders_frame(["2023-10-01", "2023-11-01", "2024-03-01", "2024-04-01", "2024-05-01"]),
                         as_of).trend == "grew"          # 3 vs 2: more than 20% up
    assert av.order_pace(orders_frame(["2023-10-01", "2023-11-01", "2024-03-01", "2024-04-01"]), as_of
                         ).trend == "steady"
    assert av.order_pace(orders_frame(["2022-01-01"]), as_of).trend == "none"
    returns = orders_frame(["2024-03-01"]).assign(kind="return", orders=0)
    assert av.order_pace(returns, as_of).recent == 0


def test_formatting_helpers():
    assert av.compact(1_234_567, "en") == "1.2M" and av.compact(35_400, "en") == "35.4k"
    assert av.compact(950, "en") == "950" and av.compact(-2_500, "en") == "-2.5k"
    assert av.compact(123_456_789, "zh") == "1.2亿" and av.compact(354_000, "zh") == "35.4万"
    assert av.compact(float("nan")) == "—"
    assert av.customer_label("C1", "Acme") == "Acme · C1" and av.customer_label("C1", None) == "C1"
    # (a word joiner after the scheme keeps GFM from linking the bare URL)
    assert av.md("[x](http://e.vil) *b*") == "\\[x\\]\\(http\u2060\\://e\\.vil\\) \\*b\\*"
    assert av.file_stem("a/b c?") == "a_b_c_" and av.file_stem("") == "customer"
    items = [("lang", "zh"), ("region", "North"), ("region", "East"), ("customer", "old")]
    assert av.link_params(items, "C9") == [("lang", "zh"), ("region", "North"), ("region", "East"),
                                           ("customer", "C9")]


def test_activity_table_in_words(fixture):
    store, ds = fixture
    act = av.account_activity(store.db, ds, "A", D)
    table = av.activity_table(act.invoices, "en")
    assert list(table[t("acc_col_status", "en")]) == ["Paid late", "Overdue, unpaid", "Not due yet"]
    assert table[t("acc_col_due_date", "en")].iloc[0] == date(2024, 2, 1)
    orders = av.activity_table(act.orders, "zh")
    assert set(orders[t("acc_col_kind", "zh")]) == {"订单", "退货与调整"}


def test_account_options():
    people = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    assert av.account_options(people, ["c", "a"]) == ["c", "a"]
    assert av.account_options(people, ["c"], "all") == ["a", "b", "c"]


# --------------------------------------------------------------------------- on the demo data
@pytest.fixture(scope="module")
def demo():
    from crmflow.stages import data_range
    from crmflow.store import Store

    store = Store(in_memory=True)
    ds = store.ensure_demo().dataset_id
    yield store, ds, data_range(store.db, ds)[1]
    store.close()


def test_reasons_in_any_language_equal_the_package(demo):
    store, ds, d = demo
    en = churn_warnings(store.db, ds, d)
    zh = churn_warnings(store.db, ds, d, lang="zh")
    assert av.reasons_in(en, "zh") == [list(r) for r in zh["reasons_text"]]
    assert av.reasons_in(zh, "en") == [list(r) for r in en["reasons_text"]]
    people = av.directory(store.db, ds, d)
    calls = av.call_list(en, people, "en")
    assert list(calls["customer_id"]) == list(en["customer_id"])
    assert calls["value_at_risk"].sum() == pytest.approx(en["value_at_risk"].sum(), abs=0.01 * len(en))
    assert calls["name"].notna().all() and calls["last_order_date"].notna().all()


def test_the_at_risk_list_from_the_full_list_equals_the_package(demo):
    store, ds, d = demo
    everyone = churn_warnings(store.db, ds, d, include_all=True)
    listed = churn_warnings(store.db, ds, d)
    pd.testing.assert_frame_equal(av.at_risk_rows(everyone), listed)
    assert len(listed) > 20
    assert av.at_risk_rows(everyone.iloc[0:0]).empty
    caption = av.scorer_caption(everyone, "zh")
    assert caption is None or isinstance(caption, str) and caption


def test_demo_directory_agrees_with_rfm(demo):
    from crmflow.analytics import rfm

    store, ds, d = demo
    people = av.directory(store.db, ds, d).set_index("customer_id")
    scores = rfm(store.db, ds, d).set_index("customer_id")
    assert (people.loc[scores.index, "orders"] == scores["frequency"]).all()
    assert np.allclose(people.loc[scores.index, "revenue"], scores["monetary"])
    assert int(people["is_key_account"].sum()) == 150


# --------------------------------------------------------------------------- charts
def test_risk_histogram():
    frame = pd.DataFrame({"risk_score": [5, 15, 55, 95, 100]})
    fig = risk_histogram(risk_distribution(frame), "Title 2 of 5", "x", "y", 50, "at risk")
    assert fig.layout.title.text == "Title 2 of 5"
    assert list(fig.data[0].y) == [1, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    assert len(set(fig.data[0].marker.color)) == 10
    assert len(band_colours(1)) == 1 and band_colours(0) == []


def test_component_heatmap_marks_missing_cells():
    scores = pd.DataFrame({"recency": [np.nan, 50.0], "margin": [80.0, np.nan]}, index=["<b>A</b>", "B"])
    fig = component_heatmap(scores, {"recency": "Ordering on rhythm", "margin": "Margin"}, "T", "Score", "no data")
    missing, values = fig.data
    assert missing.text[0][0] == "—" and missing.text[1][1] == "—" and missing.text[0][1] == ""
    assert list(values.y) == ["&lt;b&gt;A&lt;/b&gt;", "B"]
    assert values.x[0] == "Ordering<br>on rhythm"
    big = pd.DataFrame({"recency": np.arange(MAX_HEAT_ROWS + 5, dtype=float)})
    assert len(component_heatmap(big, {"recency": "R"}, "T", "S", "n").data[1].y) == MAX_HEAT_ROWS


def test_value_matrix_scatter_log_floor_and_hover(fixture):
    store, ds = fixture
    matrix = value_matrix(store.db, ds, D)
    labels = {"core": "Core", "direct": "Direct", "potential": "Potential", "poor": "Poor"}
    fig = value_matrix_scatter(matrix, labels, "T", "Current", "Potential")
    assert sum(len(tr.x) for tr in fig.data) == len(matrix)
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "name": ["<i>x</i>", None, "z"],
                          "current_value": [-5.0, 10.0, 1000.0], "potential_value": [1e-9, 100.0, 10000.0],
                          "quadrant": ["poor", "poor", "core"], "current_cut": 10.0, "potential_cut": 100.0})
    fig = value_matrix_scatter(frame, labels, "T", "Current", "Potential", log=True)
    assert fig.layout.xaxis.type == "log"
    poor = next(tr for tr in fig.data if tr.name.startswith("Poor"))
    assert min(poor.x) > 0 and min(poor.y) >= 100 / 1e4 / 2 * 0.99     # floors, not the near-zero value
    assert poor.customdata[0][0] == "&lt;i&gt;x&lt;/i&gt;" and poor.customdata[0][2] == -5.0


@pytest.mark.parametrize("dtype", [object, "str"])
def test_plain_column_escapes_every_value_as_plain_does(dtype):
    values = ["a&b", "<b>x</b>", "O'Neil \"Q\"", "&amp;", "", None, "é中"]
    escaped = ["a&amp;b", "&lt;b&gt;x&lt;/b&gt;", "O&#x27;Neil &quot;Q&quot;", "&amp;amp;", "", "", "é中"]
    column = pd.Series(values, dtype=dtype, index=[9, 3, 5, 1, 2, 0, 4])
    assert plain_column(column).tolist() == escaped == [plain(v) for v in column]
    # values that are not text are written as text first; None and NaN are empty
    assert plain_column(pd.Series([5, 2.5, np.nan, None], dtype=object)).tolist() == ["5", "2.5", "", ""]


def test_value_matrix_scatter_names_fall_back_to_the_id():
    frame = pd.DataFrame({"customer_id": ["a&1", "b", "c", "d"], "name": [None, "", "  ", "<Z>"],
                          "current_value": 1.0, "potential_value": 1.0, "quadrant": "core",
                          "current_cut": 1.0, "potential_cut": 1.0})
    fig = value_matrix_scatter(frame, {"core": "Core"}, "T", "Current", "Potential")
    # no name or an empty one: the (escaped) id; any other text is the name, escaped
    assert fig.data[0].customdata[:, 0].tolist() == ["a&amp;1", "b", "  ", "&lt;Z&gt;"]
    assert fig.data[0].customdata[:, 1].tolist() == ["a&amp;1", "b", "c", "d"]


def test_account_timeline_rows(fixture):
    store, ds = fixture
    act = av.account_activity(store.db, ds, "A", D)
    labels = {k: k for k in ("orders", "returns", "amount", "days_late", "contacts", "complaint", "unresolved",
                             "on_time", "late", "overdue", "open", "due", "paid", "unpaid", "date")}
    fig = account_timeline(act.orders, act.invoices, act.interactions, labels, "Orders slowed")
    names = [tr.name for tr in fig.data]
    assert names == ["orders", "returns", "late", "overdue", "open", "contacts", "complaint", "unresolved"]
    assert list(fig.data[1].y) == [-20.0]
    assert fig.layout.xaxis3.title.text == "date" and fig.layout.title.text == "Orders slowed"
    only = account_timeline(act.orders, None, None, labels, "T")
    assert [tr.name for tr in only.data] == ["orders", "returns"] and "xaxis2" not in only.layout


def test_health_history_chart(fixture):
    store, ds = fixture
    history = health_history(store.db, ds, "A", list(av.history_dates(D, 6)))
    fig = health_history_chart(history, "T", "x", "y", {"healthy": "H", "watch": "W", "at_risk": "R"})
    assert len(fig.data) == 1 and len(fig.layout.shapes) == 3 and list(fig.layout.yaxis.range) == [0, 100]
    assert plain(None) == "" and plain("<a>") == "&lt;a&gt;"


def test_coverage_drives_the_component_columns(fixture):
    store, ds = fixture
    coverage = health_coverage(store.db, ds, D)
    scores = av.component_scores(account_health(store.db, ds, D), coverage)
    assert list(scores.columns) == [c for c in COMPONENTS if coverage[c]]
