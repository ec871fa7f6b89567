"""The demo data generator: determinism, schema, integrity and the business
properties the dashboard must be able to show, measured from the frames.

Run ``python tests/test_demo.py`` to print the measured values and the
generation time for the default arguments.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmflow.demo import DEFAULT_END, DEFAULT_START, DemoData, generate  # noqa: E402
from crmflow.errors import CrmflowError  # noqa: E402

START = pd.Timestamp(DEFAULT_START)
END = pd.Timestamp(DEFAULT_END)
DAY = pd.Timedelta(days=1)

TRANSACTION_COLUMNS = {
    "order_id": "str", "customer_id": "str", "order_date": "datetime64[ns]", "amount": "float64",
    "quantity": "int64", "product": "str", "category": "str", "cost": "float64", "channel": "str",
    "region": "str", "owner": "str", "due_date": "datetime64[ns]", "paid_date": "datetime64[ns]",
    "status": "str",
}
CUSTOMER_COLUMNS = {
    "customer_id": "str", "name": "str", "created_at": "datetime64[ns]", "region": "str", "industry": "str",
    "owner": "str", "tier": "str", "is_key_account": "bool", "credit_limit": "float64",
}
INTERACTION_COLUMNS = {
    "customer_id": "str", "date": "datetime64[ns]", "type": "str", "resolved": "boolean",
    "satisfaction": "float64", "note": "str",
}


@pytest.fixture(scope="module")
def data() -> DemoData:
    t0 = time.perf_counter()
    d = generate()
    print(f"\ngenerate() with default arguments took {time.perf_counter() - t0:.3f} s")
    return d


# --------------------------------------------------------------------------- measurements


def sales(tx: pd.DataFrame) -> pd.DataFrame:
    """Positive-amount lines (real sales)."""
    return tx[tx["amount"] > 0]


def buyers(tx: pd.DataFrame) -> pd.Index:
    return pd.Index(sales(tx)["customer_id"].unique())


def last_order(tx: pd.DataFrame) -> pd.Series:
    return sales(tx).groupby("customer_id")["order_date"].max()


def first_order(tx: pd.DataFrame) -> pd.Series:
    return sales(tx).groupby("customer_id")["order_date"].min()


def churned(tx: pd.DataFrame, end: pd.Timestamp = END) -> pd.Index:
    last = last_order(tx)
    return last.index[(end - last).dt.days > 180]


def order_days(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer, order day) with the gap in days to the previous order day."""
    days = sales(tx)[["customer_id", "order_date"]].drop_duplicates().sort_values(["customer_id", "order_date"])
    return days.assign(gap=days.groupby("customer_id")["order_date"].diff().dt.days)


def winbacks(tx: pd.DataFrame) -> pd.Index:
    days = order_days(tx)
    return pd.Index(days.loc[days["gap"] > 200, "customer_id"].unique())


def loyal(tx: pd.DataFrame, end: pd.Timestamp = END) -> pd.Index:
    s = sales(tx)
    recent = s[(s["order_date"] > end - 365 * DAY) & (s["order_date"] <= end)]
    n = recent.groupby("customer_id")["order_id"].nunique()
    return n.index[n >= 4]


def top20_share(tx: pd.DataFrame) -> float:
    revenue = tx.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top = revenue.iloc[: int(round(0.2 * len(revenue)))]
    return float(top.sum() / revenue.sum())


def invoices(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per sales order (lines of an order share dates)."""
    return tx[tx["order_id"].str.startswith("SO-")].drop_duplicates("order_id")


def late_orders(tx: pd.DataFrame, end: pd.Timestamp = END) -> pd.Series:
    """Per sales order: paid after its due date, or unpaid and overdue at `end`."""
    inv = invoices(tx)
    return (inv["paid_date"] > inv["due_date"]) | (inv["paid_date"].isna() & (inv["due_date"] < end))


def top_share(counts: pd.Series, population: int, share: float) -> float:
    """Share of the total held by the top `share` of `population` (zeros included)."""
    top = counts.sort_values(ascending=False).iloc[: max(1, int(round(share * population)))]
    return float(top.sum() / counts.sum())


def window_ratios(events: pd.DataFrame, anchors: pd.Series, since: pd.Series,
                  value: str | None = None) -> pd.DataFrame:
    """Per customer: events (and their mean value) in the 180 days before its
    anchor date (the anchor day itself excluded), relative to the 360 days
    before that (rates per day). Only customers whose history (from `since`)
    covers both windows."""
    anchors = anchors[since.reindex(anchors.index) <= anchors - 540 * DAY]
    e = events.join(anchors.rename("anchor"), on="customer_id", how="inner")
    age = (e["anchor"] - e["date"]).dt.days
    late = e[(age > 0) & (age <= 180)].groupby("customer_id")
    early = e[(age > 180) & (age <= 540)].groupby("customer_id")
    out = pd.DataFrame({"late": late.size(), "early": early.size()}).fillna(0)
    out["freq_ratio"] = (out["late"] / 180) / (out["early"] / 360)
    if value:
        out["size_ratio"] = late[value].mean() / early[value].mean()
    return out


def order_values(tx: pd.DataFrame) -> pd.DataFrame:
    s = sales(tx)
    orders = s.groupby("order_id").agg(customer_id=("customer_id", "first"), date=("order_date", "first"),
                                        value=("amount", "sum"))
    return orders.reset_index(drop=True)


def measure(d: DemoData) -> dict[str, float]:
    """The business properties of the default data set, as numbers."""
    tx, cu, it = d.transactions, d.customers, d.interactions
    b = buyers(tx)
    n_b = len(b)
    churn = churned(tx)
    key = cu.set_index("customer_id")["is_key_account"]
    so = tx[tx["order_id"].str.startswith("SO-")]
    same_day = so.groupby(["customer_id", "order_date"])["order_id"].nunique()
    complaints = it[it["type"] == "complaint"]
    inv = invoices(tx)
    late = late_orders(tx)
    ratios = window_ratios(order_values(tx), last_order(tx)[churn], first_order(tx), "value")
    ratios = ratios[ratios["early"] >= 3]
    return {
        "customers": len(cu), "buyers": n_b, "transaction rows": len(tx), "interactions": len(it),
        "lead share": 1 - n_b / len(cu),
        "churned share of buyers": len(churn) / n_b,
        "win-back share of buyers": len(winbacks(tx)) / n_b,
        "loyal share of buyers": len(loyal(tx)) / n_b,
        "one-off share of buyers": float((order_days(tx).groupby("customer_id").size() == 1).mean()),
        "churner median frequency ratio (last 6 months vs before)": float(ratios["freq_ratio"].median()),
        "churner median order-size ratio (last 6 months vs before)": float(ratios["size_ratio"].median()),
        "return row share": float((tx["status"] == "returned").mean()),
        "zero-amount rows": int((tx["amount"] == 0).sum()),
        "loss-making sales line share": float((sales(tx)["cost"] > sales(tx)["amount"]).mean()),
        "customers with same-day orders": int(same_day[same_day > 1].reset_index()["customer_id"].nunique()),
        "key account share": float(key.mean()),
        "top-20% revenue share": top20_share(tx),
        "late invoice share": float(late.mean()),
        "very late invoice share (>60 d)": float(((inv["paid_date"] - inv["due_date"]).dt.days > 60).mean()),
        "late invoices held by top 20% of buyers": top_share(
            late.groupby(inv["customer_id"]).sum().reindex(b, fill_value=0), n_b, 0.2),
        "complaint share of interactions": len(complaints) / len(it),
        "unresolved share of complaints": float((~complaints["resolved"].astype(bool)).mean()),
        "unresolved complaints held by top 10% of buyers": top_share(
            (~complaints["resolved"].astype(bool)).groupby(complaints["customer_id"]).sum().reindex(b, fill_value=0),
            n_b, 0.1),
    }


# --------------------------------------------------------------------------- determinism and schema


def test_same_seed_gives_identical_frames(data):
    again = generate()
    for name in ("transactions", "customers", "interactions"):
        pdt.assert_frame_equal(getattr(data, name), getattr(again, name))


def test_different_seeds_give_different_data():
    a, b = generate(seed=1, n_customers=300), generate(seed=2, n_customers=300)
    assert not a.transactions.equals(b.transactions)
    assert not a.customers.equals(b.customers)
    assert not a.interactions.equals(b.interactions)


def is_plain_str(series: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(series.dtype) and series.dropna().map(type).eq(str).all()


@pytest.mark.parametrize("table, columns", [
    ("transactions", TRANSACTION_COLUMNS), ("customers", CUSTOMER_COLUMNS), ("interactions", INTERACTION_COLUMNS),
])
def test_columns_and_dtypes(data, table, columns):
    frame = getattr(data, table)
    assert list(frame.columns) == list(columns)
    for column, kind in columns.items():
        if kind == "str":
            assert is_plain_str(frame[column]), column
            assert frame[column].notna().all(), column
        else:
            assert str(frame[column].dtype) == kind, column


def test_identifier_formats(data):
    tx, cu = data.transactions, data.customers
    assert cu["customer_id"].str.fullmatch(r"C\d{5}").all() and cu["customer_id"].is_unique
    assert tx["order_id"].str.fullmatch(r"(SO|RT|AJ)-\d{6}").all()
    assert cu["name"].is_unique
    assert cu["name"].str.contains("有限公司").any() and cu["name"].str.contains(r"\b(?:Ltd|Inc\.|LLC)$").any()


def test_frozen_dataclass(data):
    with pytest.raises(AttributeError):
        data.transactions = data.customers  # type: ignore[misc]


# --------------------------------------------------------------------------- integrity


def test_referential_integrity(data):
    ids = set(data.customers["customer_id"])
    assert set(data.transactions["customer_id"]) <= ids
    assert set(data.interactions["customer_id"]) <= ids


def test_dates_in_range(data):
    tx, cu, it = data.transactions, data.customers, data.interactions
    for dates in (tx["order_date"], tx["paid_date"].dropna(), cu["created_at"], it["date"]):
        assert dates.between(START, END).all()
        assert (dates == dates.dt.normalize()).all()
    assert (tx["paid_date"].dropna() >= tx.loc[tx["paid_date"].notna(), "order_date"]).all()
    terms = (tx["due_date"] - tx["order_date"]).dt.days
    assert terms.isin([30, 45, 60]).all()


def test_created_at_on_or_before_first_order(data):
    first = sales(data.transactions).groupby("customer_id")["order_date"].min()
    created = data.customers.set_index("customer_id")["created_at"]
    assert (created[first.index] <= first).all()
    first_contact = data.interactions.groupby("customer_id")["date"].min()
    assert (first_contact >= created[first_contact.index]).all()


def test_order_lines_share_customer_and_date(data):
    so = data.transactions[data.transactions["order_id"].str.startswith("SO-")]
    per_order = so.groupby("order_id").agg(n=("product", "size"), products=("product", "nunique"),
                                           customers=("customer_id", "nunique"), dates=("order_date", "nunique"))
    assert per_order["n"].between(1, 4).all() and (per_order["n"] > 1).any()
    assert (per_order["products"] == per_order["n"]).all()
    assert (per_order["customers"] == 1).all() and (per_order["dates"] == 1).all()


def test_amounts_costs_and_statuses(data):
    tx = data.transactions
    kind = tx["order_id"].str[:2]
    so, rt, aj = tx[kind == "SO"], tx[kind == "RT"], tx[kind == "AJ"]
    assert (so["amount"] > 0).all() and (so["quantity"] >= 1).all() and (so["status"] == "completed").all()
    assert (rt["amount"] < 0).all() and (rt["cost"] < 0).all() and (rt["status"] == "returned").all()
    assert (aj["amount"] == 0).all() and (aj["status"] == "completed").all()
    for money in (tx["amount"], tx["cost"]):
        assert np.allclose(money, money.round(2), rtol=0, atol=1e-9)
    loss = so["cost"] > so["amount"]
    assert 0 < loss.mean() < 0.05
    assert tx["category"].nunique() == 6 and tx["owner"].nunique() == 8
    assert set(tx["region"]) == {"North", "East", "South", "West", "Central"}
    assert set(tx["channel"]) == {"Direct", "Distributor", "Online"}


# --------------------------------------------------------------------------- business properties


def test_leads_never_buy(data):
    cu = data.customers
    leads = cu[~cu["customer_id"].isin(buyers(data.transactions))]
    assert 0.10 <= len(leads) / len(cu) <= 0.30
    assert not leads["customer_id"].isin(data.transactions["customer_id"]).any()
    # Some leads appear after other customers have already been lost, some in
    # the last months.
    first_lost = (last_order(data.transactions)[churned(data.transactions)] + 180 * DAY).min()
    assert (leads["created_at"] > first_lost).sum() >= 20
    assert (leads["created_at"] > END - 90 * DAY).sum() >= 20


def test_acquisition_is_steady(data):
    first = sales(data.transactions).groupby("customer_id")["order_date"].min()
    per_month = first.dt.to_period("M").value_counts()
    months = pd.period_range(START, END, freq="M")
    assert set(months) <= set(per_month.index)
    assert per_month.max() <= 3 * per_month.mean()


def test_purchase_rhythms_differ(data):
    days = order_days(data.transactions)
    n_days = days.groupby("customer_id").size()
    typical_gap = days.groupby("customer_id")["gap"].median()
    n_b = len(n_days)
    assert (n_days == 1).sum() >= 0.05 * n_b  # one-off buyers
    assert (typical_gap <= 14).sum() >= 0.02 * n_b  # weekly-ish
    assert typical_gap.between(25, 100).sum() >= 0.30 * n_b  # monthly to quarterly


def test_churn(data):
    assert len(churned(data.transactions)) >= 0.10 * len(buyers(data.transactions))


def test_churners_buy_less_and_smaller_before_they_stop(data):
    tx = data.transactions
    lost = last_order(tx)[churned(tx)]
    r = window_ratios(order_values(tx), lost, first_order(tx), "value")
    r = r[r["early"] >= 3]
    assert len(r) >= 50
    assert r["freq_ratio"].median() < 0.8
    assert r["size_ratio"].median() < 0.9
    # Control: customers still buying do not show the same fall.
    active = last_order(tx)[lambda s: s > END - 30 * DAY]
    control = window_ratios(order_values(tx), active, first_order(tx), "value")
    control = control[control["early"] >= 3]
    assert control["freq_ratio"].median() > r["freq_ratio"].median() + 0.2


def test_winbacks(data):
    tx = data.transactions
    assert len(winbacks(tx)) >= 0.03 * len(buyers(tx))


def test_loyal_customers(data):
    tx = data.transactions
    assert len(loyal(tx)) >= 0.10 * len(buyers(tx))


def test_returns_and_adjustments(data):
    tx = data.transactions
    returns = tx[tx["status"] == "returned"]
    assert 0.01 <= len(returns) / len(tx) <= 0.03
    assert returns["order_id"].str.startswith("RT-").all() and returns["order_id"].is_unique
    # Each return follows an earlier sale of the same product to the same customer.
    s = sales(tx)[["customer_id", "product", "order_date"]]
    first_sale = s.groupby(["customer_id", "product"])["order_date"].min().rename("first_sale")
    joined = returns.join(first_sale, on=["customer_id", "product"])
    assert (joined["first_sale"] < joined["order_date"]).all()
    assert 1 <= (tx["amount"] == 0).sum() <= 0.01 * len(tx)


def test_same_day_orders(data):
    so = data.transactions[data.transactions["order_id"].str.startswith("SO-")]
    per_day = so.groupby(["customer_id", "order_date"])["order_id"].nunique()
    customers = per_day[per_day > 1].reset_index()["customer_id"].nunique()
    assert customers >= 0.01 * len(buyers(data.transactions))


def test_key_accounts_are_large_and_mixed(data):
    tx, cu = data.transactions, data.customers
    key = cu.set_index("customer_id")["is_key_account"]
    assert key.mean() >= 0.03
    assert key[key].index.isin(buyers(tx)).all()
    revenue = tx.groupby("customer_id")["amount"].sum()
    is_key = key[revenue.index]
    assert revenue[is_key].median() > 3 * revenue[~is_key].median()
    assert (cu.loc[cu["is_key_account"], "tier"] == "A").all()
    last = last_order(tx)[key[key].index]
    assert ((END - last).dt.days > 180).sum() >= 10  # lost
    assert ((END - last).dt.days <= 60).sum() >= 30  # still buying


def test_revenue_is_skewed(data):
    assert 0.55 <= top20_share(data.transactions) <= 0.85


def test_late_payments_are_concentrated(data):
    tx = data.transactions
    inv = invoices(tx)
    late = late_orders(tx)
    very_late = (inv["paid_date"] - inv["due_date"]).dt.days > 60
    assert 0.03 <= late.mean() <= 0.40 and very_late.sum() > 0
    assert inv["paid_date"].isna().any()
    per_buyer = late.groupby(inv["customer_id"]).sum().reindex(buyers(tx), fill_value=0)
    assert top_share(per_buyer, len(per_buyer), 0.2) >= 0.6


def test_complaints(data):
    it = data.interactions
    is_complaint = it["type"] == "complaint"
    assert 0.03 <= is_complaint.mean() <= 0.08
    assert it.loc[is_complaint, "resolved"].notna().all()
    assert it.loc[~is_complaint, "resolved"].isna().all()
    unresolved = ~it.loc[is_complaint, "resolved"].astype(bool)
    assert 0.20 <= unresolved.mean() <= 0.40
    per_buyer = unresolved.groupby(it.loc[is_complaint, "customer_id"]).sum()
    per_buyer = per_buyer.reindex(buyers(data.transactions), fill_value=0)
    assert top_share(per_buyer, len(per_buyer), 0.1) >= 0.6


def test_interactions_content(data):
    it, cu = data.interactions, data.customers
    assert set(it["type"]) == {"visit", "call", "email", "meeting", "complaint"}
    sat = it["satisfaction"].dropna()
    assert sat.between(1, 5).all() and 0 < len(sat) < len(it)
    assert (it["note"].str.len() > 0).all()
    # Contact spread over each customer's life: key accounts get far more of it.
    per_customer = it.groupby("customer_id").size().reindex(cu["customer_id"], fill_value=0)
    key = cu.set_index("customer_id")["is_key_account"]
    assert per_customer[key].mean() > 3 * per_customer[~key].mean()


def test_lost_key_accounts_complain_and_fade_before_leaving(data):
    tx, cu, it = data.transactions, data.customers, data.interactions
    key_ids = cu.loc[cu["is_key_account"], "customer_id"]
    last = last_order(tx)[key_ids]
    lost = last[(END - last).dt.days > 180]
    active = last[(END - last).dt.days <= 60]
    unresolved = (it["type"] == "complaint") & (it["resolved"] == False)  # noqa: E712 - nullable boolean
    per_customer = unresolved.groupby(it["customer_id"]).sum()
    assert per_customer.reindex(lost.index, fill_value=0).mean() > 1.5 * per_customer.reindex(
        active.index, fill_value=0).mean()
    created = cu.set_index("customer_id")["created_at"]
    contacts = window_ratios(it[it["type"] != "complaint"], lost, created)
    assert len(contacts) >= 10
    assert contacts["freq_ratio"].median() < 0.8


# --------------------------------------------------------------------------- other arguments


def test_small_custom_period():
    start, end = date(2023, 1, 1), date(2023, 12, 31)
    d = generate(seed=7, n_customers=200, start=start, end=end)
    tx, cu, it = d.transactions, d.customers, d.interactions
    assert len(cu) == 200 and len(tx) > 0 and len(it) > 0
    for dates in (tx["order_date"], tx["paid_date"].dropna(), cu["created_at"], it["date"]):
        assert dates.between(pd.Timestamp(start), pd.Timestamp(end)).all()
    assert set(tx["customer_id"]) <= set(cu["customer_id"])
    assert set(it["customer_id"]) <= set(cu["customer_id"])


def test_bad_arguments():
    with pytest.raises(CrmflowError):
        generate(start=date(2024, 1, 1), end=date(2024, 1, 1))
    with pytest.raises(CrmflowError):
        generate(n_customers=0)


if __name__ == "__main__":
    t0 = time.perf_counter()
    demo = generate()
    elapsed = time.perf_counter() - t0
    for key, value in measure(demo).items():
        print(f"{key:60s} {value:.3f}" if isinstance(value, float) else f"{key:60s} {value}")
    print(f"{'generation time (s)':60s} {elapsed:.3f}")
