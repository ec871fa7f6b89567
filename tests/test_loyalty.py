"""Loyalty measures (issue 17 part 3): hand-worked values on a tiny fixture
that hits every edge, and an independent plain-pandas reading on the demo and
on CDNOW."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from crmflow import loyalty
from crmflow.db import Scope

from conftest import CDNOW_SAMPLE

D = date(2024, 7, 15)

# A: three buying days (gaps 10, 20: CV = 5 / 15), books + music, a return of games
#    (not a purchase), complaint on 01-15 then two orders; repeat at D.
# B: two orders on one buying day (order ids), books; complaint after its last order; repeat.
# C: two buying days, one before the window (365 days to D), no category on its lines; repeat.
# D: four buying days 10 days apart (CV 0), three categories; loyal.
# E: one order long ago, music; lost.  F: one order near D, toys; first.
# Prices: A1 discount 0 (priced, full price), A2 discount 2, A3 none, A4 a return (not an order);
# B1 below its list price, B2 at it; D1 a discount rate 0.1, D2-D4 discount 0; the others none.
TRANSACTIONS = """
order_id,customer,date,amount,category,discount,list_price
A1,A,2024-01-10,10,books,0,
A2,A,2024-01-20,10,music,2,
A3,A,2024-02-09,10,books,,
A4,A,2024-02-10,-5,games,1,
B1,B,2024-06-01,10,books,,12
B2,B,2024-06-01,10,books,,10
C1,C,2023-03-01,10,,,
C2,C,2024-05-01,10,,,
D1,D,2024-01-01,10,books,0.1,
D2,D,2024-01-11,10,music,0,
D3,D,2024-01-21,10,toys,0,
D4,D,2024-01-31,10,books,0,
E1,E,2023-01-01,10,music,,
F1,F,2024-07-10,10,toys,,
"""
INTERACTIONS = """
customer_id,date,type
A,2024-01-15,Complaint
B,2024-07-01,客户投诉
C,2024-03-01,visit
D,2024-07-20,complaint
"""


@pytest.fixture
def fixture(load):
    return load(TRANSACTIONS, interactions=INTERACTIONS)


def test_customer_measures_by_hand(fixture):
    store, ds = fixture
    df = loyalty.customer_measures(store.db, ds, D).set_index("customer_id")
    assert list(df.index) == list("ABCDEF")
    assert df["orders"].to_dict() == {"A": 3, "B": 2, "C": 2, "D": 4, "E": 1, "F": 1}
    assert df["orders_in_window"].to_dict() == {"A": 3, "B": 2, "C": 1, "D": 4, "E": 0, "F": 1}
    assert df["buying_days"].to_dict() == {"A": 3, "B": 1, "C": 2, "D": 4, "E": 1, "F": 1}
    assert df.loc["A", "interval_cv"] == pytest.approx(1 / 3)
    assert df.loc["D", "interval_cv"] == 0
    assert df.loc[["B", "C", "E", "F"], "interval_cv"].isna().all()   # fewer than 3 buying days
    assert df["categories_bought"].to_dict() == {"A": 2, "B": 1, "C": 0, "D": 3, "E": 1, "F": 1}
    assert df["breadth"].tolist() == pytest.approx([2 / 3, 1 / 3, 0, 1, 1 / 3, 1 / 3])
    assert df.loc["A", "complaint_date"] == date(2024, 1, 15) and df.loc["A", "orders_after_complaint"] == 2
    assert df.loc["B", "complaint_date"] == date(2024, 7, 1) and df.loc["B", "orders_after_complaint"] == 0
    # C's visit is no complaint, D's complaint is after D
    assert df.loc[["C", "D", "E", "F"], "complaint_date"].isna().all()
    assert df.loc[["C", "D", "E", "F"], "orders_after_complaint"].isna().all()
    assert df["priced_orders"].to_dict() == {"A": 2, "B": 2, "C": 0, "D": 4, "E": 0, "F": 0}
    assert df["discounted_orders"].to_dict() == {"A": 1, "B": 1, "C": 0, "D": 1, "E": 0, "F": 0}
    assert df.loc[["A", "B", "D"], "discount_share"].tolist() == [0.5, 0.5, 0.25]
    assert df.loc[["C", "E", "F"], "discount_share"].isna().all()


def test_by_stage_by_hand(fixture):
    store, ds = fixture
    df = loyalty.by_group(store.db, ds, D).set_index("group")
    assert list(df.index) == ["first", "repeat", "loyal", "lost", "all"]
    assert df["customers"].to_dict() == {"first": 1, "repeat": 3, "loyal": 1, "lost": 1, "all": 6}
    # repeat rate: F 0/1; A, B of A, B, C; D 1/1; E never in the window; all 3/5
    assert df.loc["first", "repeat_rate"] == 0
    assert df.loc["repeat", "repeat_rate"] == pytest.approx(2 / 3)
    assert df.loc["loyal", "repeat_rate"] == 1
    assert df.loc["lost", "repeat_rate"] is None or pd.isna(df.loc["lost", "repeat_rate"])
    assert df.loc["all", "repeat_rate"] == pytest.approx(3 / 5)
    assert df.loc["all", "breadth"] == pytest.approx(4 / 9)
    assert df.loc["repeat", "breadth"] == pytest.approx(1 / 3)      # (2/3 + 1/3 + 0) / 3
    assert df.loc["all", "interval_cv"] == pytest.approx(1 / 6)     # median of 1/3 and 0
    assert df.loc["all", "measured_regularity"] == 2
    assert df.loc["repeat", "complainers"] == 2 and df.loc["repeat", "complainers_reordered"] == 1
    assert df.loc["repeat", "reorder_share"] == 0.5 and df.loc["repeat", "orders_after_complaint"] == 2
    assert df.loc["loyal", "complainers"] == 0 and pd.isna(df.loc["loyal", "reorder_share"])
    # orders at a discount, pooled: repeat 2 of 4 priced orders, loyal 1 of 4, all 3 of 8; none priced for F, E
    assert df.loc["repeat", "price_sensitivity"] == 0.5 and df.loc["loyal", "price_sensitivity"] == 0.25
    assert df.loc["all", "price_sensitivity"] == 3 / 8 and df.loc["all", "priced_orders"] == 8
    assert pd.isna(df.loc["first", "price_sensitivity"]) and pd.isna(df.loc["lost", "price_sensitivity"])


def test_by_segment_covers_every_customer_once(fixture):
    store, ds = fixture
    df = loyalty.by_group(store.db, ds, D, by="segment").set_index("group")
    from crmflow.analytics import segments

    assert list(df.index) == [*segments(), "all"]
    assert df.drop(index="all")["customers"].sum() == 6
    assert df.drop(index="all")["repeat_buyers"].sum() == df.loc["all", "repeat_buyers"] == 3


def test_over_time_by_hand(fixture):
    store, ds = fixture
    df = loyalty.over_time(store.db, ds, date(2024, 1, 1), D)
    assert df["snapshot_date"].tolist()[0] == date(2024, 1, 31) and df["snapshot_date"].tolist()[-1] == D
    jan = df.iloc[0]
    # by 2024-01-31: A (2 orders), C (1, in window), D (4), E (1, not in window): 3 window buyers, 2 repeat
    assert jan["customers"] == 4 and jan["window_buyers"] == 3 and jan["repeat_buyers"] == 2
    # A's complaint is dated 01-15 and its order on 01-20 follows it
    assert jan["complainers"] == 1 and jan["orders_after_complaint"] == 1
    # categories bought by then: books, music, toys (D) -> A 2/3, C 0, D 1, E 1/3
    assert jan["breadth"] == pytest.approx((2 / 3 + 0 + 1 + 1 / 3) / 4)
    assert df.iloc[-1]["repeat_rate"] == pytest.approx(3 / 5)


def _trend_in_python(db, scope, start, end):
    from crmflow.stages import month_ends

    return loyalty._over_time_here(db, scope, month_ends(start, end), loyalty.Params())


@pytest.mark.parametrize("scope", ["all", "filtered"])
def test_the_trend_summed_by_the_engine_equals_the_customers_summed_in_python(fixture, scope):
    """loyalty_trend (one row per date, summed in SQL, stored for the Overview)
    gives summarise's numbers for every date: months before the first order
    (no customer), discounts, complaints, the global filters."""
    store, ds = fixture
    target = ds if scope == "all" else Scope(ds, customers=("A", "B", "E"))
    start = date(2022, 10, 1)
    ours = loyalty.over_time(store.db, target, start, D)
    theirs = _trend_in_python(store.db, target, start, D)
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-12)
    assert ours.iloc[0]["customers"] == 0 and pd.isna(ours.iloc[0]["repeat_rate"])
    assert ours.iloc[-1]["priced_orders"] > 0 and ours.iloc[-1]["complainers"] > 0


def test_the_demo_trend_equals_the_customers_summed_in_python():
    from crmflow.stages import data_range
    from crmflow.store import Store

    with Store(in_memory=True) as store:
        ds = store.ensure_demo().dataset_id
        first, last = data_range(store.db, ds)
        for scope in (ds, Scope(ds, channels=("Online",))):
            ours = loyalty.over_time(store.db, scope, first, last)
            pd.testing.assert_frame_equal(ours, _trend_in_python(store.db, scope, first, last),
                                          check_exact=False, rtol=1e-12)
            assert len(ours) > 24 and ours["interval_cv"].iloc[6:].notna().all()


def test_without_category_or_interactions_the_measures_are_empty(load):
    store, ds = load("customer,date,amount\nA,2024-01-01,5\nA,2024-01-05,5\nA,2024-01-20,5\nB,2024-01-03,5\n")
    df = loyalty.by_group(store.db, ds, date(2024, 1, 31)).set_index("group")
    assert pd.isna(df.loc["all", "breadth"]) and pd.isna(df.loc["all", "reorder_share"])
    assert df.loc["all", "complainers"] == 0
    assert df.loc["all", "interval_cv"] == pytest.approx(np.std([4, 15]) / np.mean([4, 15]))
    avail = loyalty.availability(store.db, ds)
    assert avail.missing() == ("category", "complaints", "discount")
    assert pd.isna(df.loc["all", "price_sensitivity"]) and df.loc["all", "priced_orders"] == 0


def test_prices_follow_the_filters_and_the_date(fixture):
    store, ds = fixture
    assert loyalty.availability(store.db, ds).missing() == ()
    df = loyalty.customer_measures(store.db, Scope(ds).narrowed(["B", "C"]), D)
    assert df["priced_orders"].tolist() == [2, 0] and df["discounted_orders"].tolist() == [1, 0]
    # on 2024-01-15 only A1 (full price) and D1-D2 (D1 at a rate of 0.1) were bought
    early = loyalty.customer_measures(store.db, ds, date(2024, 1, 15)).set_index("customer_id")
    assert early.loc["A", ["priced_orders", "discounted_orders"]].tolist() == [1, 0]
    assert early.loc["D", ["priced_orders", "discounted_orders"]].tolist() == [2, 1]


def test_discount_and_list_price_are_mapped_by_their_chinese_names(load):
    store, ds = load("客户编号,订单日期,金额,数量,原价,折扣\nA,2024-01-01,18,2,10,\nA,2024-01-05,20,2,10,\n"
                     "A,2024-01-09,5,1,,0.5\n")
    df = loyalty.customer_measures(store.db, ds, date(2024, 1, 31))
    # 18 < 2 x 10 (below the list price); 20 = 2 x 10 (at it); a discount of 0.5
    assert df.loc[0, ["priced_orders", "discounted_orders"]].tolist() == [3, 2]


def test_the_global_filters_narrow_the_measures(fixture):
    store, ds = fixture
    scope = Scope(ds).narrowed(["A", "D"])
    df = loyalty.customer_measures(store.db, scope, D)
    assert df["customer_id"].tolist() == ["A", "D"]
    # only A and D bought: still books, music, toys
    assert df["breadth"].tolist() == pytest.approx([2 / 3, 1])


# --------------------------------------------------------------------------- independent reading
def pandas_measures(lines: pd.DataFrame, complaints: pd.DataFrame | None, as_of: date,
                    window: int = 365) -> pd.DataFrame:
    """The same measures in plain pandas from the raw lines (customer, order
    key, date, amount, category): orders are distinct order keys of lines with
    amount > 0, dated by their first day."""
    as_of = pd.Timestamp(as_of)
    pos = lines[lines["amount"] > 0]
    orders = pos.groupby(["customer", "order"], dropna=False)["date"].min().reset_index()
    orders = orders[orders["date"] <= as_of]
    out = pd.DataFrame(index=sorted(orders["customer"].unique()))
    out["orders"] = orders.groupby("customer").size()
    out["orders_in_window"] = orders[(as_of - orders["date"]).dt.days < window].groupby("customer").size()
    out["orders_in_window"] = out["orders_in_window"].fillna(0).astype(int)

    def cv(days: pd.Series) -> float:
        gaps = np.diff(np.sort(days.unique()).astype("datetime64[D]").astype(np.int64))
        return float(np.std(gaps) / np.mean(gaps)) if len(gaps) >= 2 else math.nan

    out["interval_cv"] = orders.groupby("customer")["date"].apply(cv)
    cat = pos[(pos["date"] <= as_of) & pos["category"].notna()]
    if len(cat):
        out["breadth"] = cat.groupby("customer")["category"].nunique().reindex(out.index).fillna(0) / cat[
            "category"].nunique()
    else:
        out["breadth"] = math.nan
    if complaints is not None and len(complaints):
        first = complaints[complaints["date"] <= as_of].groupby("customer")["date"].min()
        after = orders.merge(first.rename("complaint"), left_on="customer", right_index=True)
        after = after[after["date"] > after["complaint"]].groupby("customer").size()
        out["orders_after_complaint"] = after.reindex(first.index).fillna(0).reindex(out.index)
    else:
        out["orders_after_complaint"] = math.nan
    return out


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    ours = ours.set_index("customer_id")
    ours.index = ours.index.astype(str)
    theirs.index = theirs.index.astype(str)
    assert list(ours.index) == list(theirs.index)
    for column in ("orders", "orders_in_window"):
        assert (ours[column].to_numpy() == theirs[column].to_numpy()).all(), column
    for column in ("interval_cv", "breadth", "orders_after_complaint"):
        np.testing.assert_allclose(ours[column].astype(float).to_numpy(), theirs[column].astype(float).to_numpy(),
                                   rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=column)


def test_cdnow_matches_a_plain_pandas_reading(load):
    raw = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None, names=["master_id", "id", "date", "cds", "dollars"],
                      dtype={"id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    csv = "customer,date,amount\n" + "\n".join(f"{c},{d:%Y-%m-%d},{a}" for c, d, a in
                                                raw[["id", "date", "dollars"]].itertuples(index=False))
    store, ds = load(csv)
    as_of = date(1998, 3, 31)
    ours = loyalty.customer_measures(store.db, ds, as_of)
    lines = pd.DataFrame({"customer": raw["id"], "date": raw["date"], "amount": raw["dollars"].astype(float),
                          "category": None})
    lines["order"] = lines["date"]          # no order id: one order per customer day
    theirs = pandas_measures(lines, None, as_of)
    compare(ours, theirs)
    assert ours["interval_cv"].notna().sum() > 100   # many customers with 3+ buying days


def test_demo_matches_a_plain_pandas_reading():
    from crmflow.demo import generate
    from crmflow.store import Store

    store = Store(in_memory=True)
    try:
        ds = store.ensure_demo().dataset_id
        as_of = date(2023, 9, 30)
        ours = loyalty.customer_measures(store.db, ds, as_of)
    finally:
        store.close()
    demo = generate()
    t = demo.transactions
    lines = pd.DataFrame({"customer": t["customer_id"], "order": t["order_id"],
                          "date": pd.to_datetime(t["order_date"]), "amount": t["amount"].astype(float),
                          "category": t["category"]})
    i = demo.interactions
    complaints = pd.DataFrame({"customer": i["customer_id"], "date": pd.to_datetime(i["date"])})[
        i["type"].str.lower().str.contains("complaint").to_numpy()]
    theirs = pandas_measures(lines, complaints, as_of)
    compare(ours, theirs)
    assert ours["breadth"].between(0, 1).all() and ours["complaint_date"].notna().sum() > 10


def test_a_store_made_before_the_prices_table_still_reads(tmp_path):
    """A database file of an older crmflow opened read-only (the command line's
    --dataset) has no transaction_prices: everything but the price measure works."""
    import duckdb

    from crmflow.store import Store

    path = tmp_path / "old.duckdb"
    data = tmp_path / "t.csv"
    data.write_text(TRANSACTIONS.lstrip("\n"), encoding="utf-8")
    with Store(path) as store:
        store.ingest("old", data)
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE transaction_prices")
    con.close()
    with Store(path, read_only=True) as store:
        ds = store.get("old").dataset_id
        df = loyalty.customer_measures(store.db, ds, D)
        assert df["orders"].sum() == 13 and df["priced_orders"].sum() == 0
        assert "discount" in loyalty.availability(store.db, ds).missing()
        trend = loyalty.over_time(store.db, ds, date(2024, 1, 1), D)  # summed up in Python instead
        assert trend["customers"].tolist()[-1] == 6 and trend["price_sensitivity"].isna().all()
