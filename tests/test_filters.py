"""Global filters (crmflow.filters): region, owner, channel and segment narrow
the dataset at the staging layer, so every query sees the same subset."""

from __future__ import annotations

from datetime import date

from crmflow.db import Scope
from crmflow.filters import Filters, customer_attributes, filter_options, resolve
from crmflow.stages import stage_counts

# A: listed in North (customers table wins over its transactions' "South"), Online + Direct.
# B: not listed; region from its most recent line that has one (East on 03-01, not West).
# C: listed in North, owner Li, a lead that never bought.
# D: not listed, Direct only, no region at all.
TX = """\
customer_id,order_date,amount,channel,region,owner
A,2024-01-01,10,Online,South,Wang
A,2024-02-01,20,Direct,South,Wang
B,2024-01-05,30,Direct,West,Zhao
B,2024-03-01,40,Online,East,
B,2024-03-02,-5,Online,,
D,2024-02-10,50,Direct,,
"""
CUSTOMERS = """\
customer_id,region,owner
A,North,
C,North,Li
"""
AS_OF = date(2024, 3, 2)


def test_attributes_prefer_customers_table_then_latest_line(load):
    store, ds = load(TX, CUSTOMERS)
    attrs = customer_attributes(store.db, ds).set_index("customer_id")
    assert attrs.loc["A", "region"] == "North" and attrs.loc["A", "owner"] == "Wang"
    assert attrs.loc["B", "region"] == "East" and attrs.loc["B", "owner"] == "Zhao"
    assert attrs.loc["C", "region"] == "North" and attrs.loc["C", "owner"] == "Li"
    assert list(attrs.loc["A", "channels"]) == ["Direct", "Online"]
    assert not hasattr(attrs.loc["C", "channels"], "__len__")  # NULL: never bought
    assert filter_options(attrs.reset_index()) == {"region": ["East", "North"], "owner": ["Li", "Wang", "Zhao"],
                                                   "channel": ["Direct", "Online"]}


def test_no_filter_is_the_plain_dataset(load):
    store, ds = load(TX, CUSTOMERS)
    assert resolve(store.db, ds, Filters()) == ds


def test_region_filter_keeps_customers_with_their_rows(load):
    store, ds = load(TX, CUSTOMERS)
    scope = resolve(store.db, ds, Filters(regions=("North",)))
    assert isinstance(scope, Scope)
    # A (two orders: repeat) and C (a lead: potential); B and D are gone.
    assert stage_counts(store.db, scope, AS_OF) == {"potential": 1, "first": 0, "repeat": 1, "loyal": 0,
                                                     "lost": 0}


def test_channel_filter_keeps_only_that_channels_lines_and_buyers(load):
    store, ds = load(TX, CUSTOMERS)
    scope = resolve(store.db, ds, Filters(channels=("Online",)))
    # Online lines: A 01-01 (one order), B 03-01 (+ a return on 03-02): both first buyers;
    # C (never bought) and D (Direct only) are not part of the online business.
    assert stage_counts(store.db, scope, AS_OF) == {"potential": 0, "first": 2, "repeat": 0, "loyal": 0,
                                                     "lost": 0}
    rows = store.db.run("customer_stages", dataset_id=scope, dates=[AS_OF], lost_after_days=180,
                        loyal_orders=4, loyal_window_days=365)
    assert sorted(rows.customer_id) == ["A", "B"]


def test_filters_combine_as_and(load):
    store, ds = load(TX, CUSTOMERS)
    scope = resolve(store.db, ds, Filters(owners=("Zhao", "Wang"), channels=("Direct",)))
    # Owners Zhao (B) and Wang (A), Direct lines only: A 02-01, B 01-05: first buyers.
    assert stage_counts(store.db, scope, AS_OF)["first"] == 2
    nobody = resolve(store.db, ds, Filters(regions=("Nowhere",)))
    assert sum(stage_counts(store.db, nobody, AS_OF).values()) == 0


def test_same_set_is_stored_once_and_old_sets_are_dropped(load, monkeypatch):
    import crmflow.db

    monkeypatch.setattr(crmflow.db, "MAX_CUSTOMER_SETS", 16)  # 256 by default; a small limit to reach it
    store, _ = load(TX, CUSTOMERS)
    first = store.db.store_customer_set(["A", "B"])
    assert store.db.store_customer_set(["B", "A", "A"]) == first
    for i in range(20):
        store.db.store_customer_set([f"X{i}"])
    n_sets = store.db._con.execute("SELECT COUNT(DISTINCT set_id) FROM crm_scratch.filter_sets").fetchone()[0]
    assert n_sets == 16


def test_segment_filter_keeps_the_customers_of_those_segments_scored_within_the_scope(load):
    """A segment filter scores RFM within the region/owner/channel scope at D and
    keeps that segment's customers; the dashboard's cached scorer (``rfm``) is
    used when given, and gives the same scope."""
    from crmflow.analytics import rfm

    store, ds = load(TX, CUSTOMERS)
    narrow = resolve(store.db, ds, Filters(channels=("Direct",)))
    scores = rfm(store.db, narrow, AS_OF)
    segment = scores["segment"].iloc[0]
    members = set(scores.loc[scores["segment"] == segment, "customer_id"])
    scope = resolve(store.db, ds, Filters(channels=("Direct",), segments=(segment,)), AS_OF)
    assert isinstance(scope, Scope) and scope.channels == ("Direct",)
    kept = set(store.db.run("rfm", dataset_id=scope, as_of=AS_OF)["customer_id"])
    assert kept == members
    calls = []

    def cached(s, d):
        calls.append((s, d))
        return rfm(store.db, s, d)

    again = resolve(store.db, ds, Filters(channels=("Direct",), segments=(segment,)), AS_OF, rfm=cached)
    assert again == scope and calls == [(narrow, AS_OF)]
