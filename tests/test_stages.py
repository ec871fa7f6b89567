"""The stage engine against values worked out by hand (SPEC §2)."""

from __future__ import annotations

from datetime import date

import pytest

from crmflow.config import Params
from crmflow.stages import (customer_stages, flow, resolve_as_of, stage_counts, stage_snapshots,
                            won_back_lost_monthly)

D = date(2024, 6, 30)


def stages_by_customer(store, ds, as_of=D, params=Params()):
    df = customer_stages(store.db, ds, as_of, params)
    return dict(zip(df["customer_id"], df["stage"]))


def test_lost_boundary_is_strictly_more_than_lost_after_days(load):
    # 2024-01-02 is exactly 180 days before 2024-06-30; 2024-01-01 is 181.
    store, ds = load("""
        customer,date,amount
        A,2024-01-02,10
        B,2024-01-01,10
    """)
    assert stages_by_customer(store, ds) == {"A": "first", "B": "lost"}


def test_loyal_window_is_half_open(load):
    # window (D-365, D] = (2023-07-01, 2024-06-30]: 2023-07-01 is outside, 2023-07-02 inside.
    store, ds = load("""
        customer,date,amount
        A,2023-07-01,10
        A,2024-01-10,10
        A,2024-03-10,10
        A,2024-06-30,10
        B,2023-07-02,10
        B,2024-01-10,10
        B,2024-03-10,10
        B,2024-06-30,10
    """)
    assert stages_by_customer(store, ds) == {"A": "repeat", "B": "loyal"}


def test_returns_and_zero_amounts_are_not_orders(load):
    store, ds = load("""
        customer,date,amount
        A,2024-05-01,100
        A,2024-05-10,-100
        A,2024-05-20,0
        B,2024-05-01,-5
    """)
    st = stages_by_customer(store, ds)
    assert st["A"] == "first"          # one real order; the return and the zero row are not orders
    assert st["B"] == "none"           # only a return, not in the customers table


def test_same_day_rows_are_one_order_without_order_id(load):
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,10
        A,2024-06-01,20
    """)
    assert stages_by_customer(store, ds)["A"] == "first"


def test_order_id_counts_distinct_orders_even_on_one_day(load):
    store, ds = load("""
        order_id,customer,date,amount
        O1,A,2024-06-01,10
        O1,A,2024-06-01,5
        O2,A,2024-06-01,20
        O3,B,2024-06-01,10
        O3,B,2024-06-02,10
    """)
    df = customer_stages(store.db, ds, D, Params())
    orders = dict(zip(df["customer_id"], df["orders"]))
    assert orders == {"A": 2, "B": 1}
    assert stages_by_customer(store, ds) == {"A": "repeat", "B": "first"}


def test_orders_after_d_are_ignored(load):
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,10
        A,2024-07-01,10
        B,2024-07-01,10
    """)
    assert stages_by_customer(store, ds) == {"A": "first", "B": "none"}


def test_potential_and_leads_created_after_d(load):
    store, ds = load(
        """
        customer,date,amount
        A,2024-06-01,10
        """,
        customers="""
        customer_id,created_at
        A,2024-01-01
        L1,2024-06-30
        L2,2024-07-01
        L3,
        """,
    )
    assert stages_by_customer(store, ds) == {"A": "first", "L1": "potential", "L2": "none", "L3": "potential"}
    counts = stage_counts(store.db, ds, D, Params())
    assert counts == {"potential": 2, "first": 1, "repeat": 0, "loyal": 0, "lost": 0}


def test_rules_apply_in_order_lost_before_loyal(load):
    # many orders long ago: lost wins over loyal/repeat
    rows = "\n".join(f"A,2023-0{m}-01,10" for m in range(1, 8))
    store, ds = load("customer,date,amount\n" + rows + "\n")
    assert stages_by_customer(store, ds) == {"A": "lost"}


def test_parameters_are_adjustable(load):
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,10
        A,2024-06-10,10
        B,2024-03-01,10
    """)
    p = Params(lost_after_days=90, loyal_orders=2, loyal_window_days=30)
    assert stages_by_customer(store, ds, params=p) == {"A": "loyal", "B": "lost"}


def test_default_as_of_is_last_order_date(load):
    store, ds = load("""
        customer,date,amount
        A,2024-06-01,10
        A,2024-06-20,-10
    """)
    assert resolve_as_of(store.db, ds) == date(2024, 6, 1)


def test_flow_counts_every_pair_including_none(load):
    store, ds = load(
        """
        customer,date,amount
        A,2023-01-01,10
        A,2024-06-01,10
        B,2024-06-01,10
        C,2023-12-15,10
        """,
        customers="""
        customer_id,created_at
        A,2022-12-01
        B,2024-01-01
        C,2023-12-01
        L,2024-03-01
        """,
    )
    df = flow(store.db, ds, date(2023, 12, 31), D, Params())
    got = {(f, t): n for f, t, n in zip(df["from_stage"], df["to_stage"], df["customers"])}
    # A: first order 2023-01-01, 364 days before 2023-12-31 -> lost; at D two orders -> repeat
    # B: created 2024-01-01 -> none at D1, first at D; C: first at D1, lost at D (198 days)
    # L: created 2024-03-01 -> none at D1, potential at D
    assert got == {("lost", "repeat"): 1, ("none", "first"): 1, ("first", "lost"): 1, ("none", "potential"): 1}


def test_won_back_needs_a_gap_longer_than_lost_after_days_plus_one(load):
    # A: gap 181 days (2024-01-01 -> 2024-06-30): day 181 is when A would become lost,
    #    but A orders that very day -> never lost, not won back.
    # B: gap 182 days (2023-12-31 -> 2024-06-30) -> lost on 2024-06-29, won back in June.
    store, ds = load("""
        customer,date,amount
        A,2024-01-01,10
        A,2024-06-30,10
        B,2023-12-31,10
        B,2024-06-30,10
        C,2023-10-01,10
    """)
    df = won_back_lost_monthly(store.db, ds, D, Params())
    by_month = {m.strftime("%Y-%m"): (w, l) for m, w, l in zip(df["month"], df["won_back"], df["lost"])}
    assert by_month["2024-06"] == (1, 1)   # B won back; B lost on 2024-06-29
    # C: last order 2023-10-01 -> lost on 2024-03-30 (181 days later)
    assert by_month["2024-03"] == (0, 1)
    assert sum(w for w, _ in by_month.values()) == 1
    assert sum(l for _, l in by_month.values()) == 2


def test_snapshots_are_month_ends_and_sum_to_existing_customers(load):
    store, ds = load("""
        customer,date,amount
        A,2024-01-15,10
        B,2024-02-15,10
        B,2024-03-15,10
    """)
    snap = stage_snapshots(store.db, ds, date(2024, 1, 1), date(2024, 3, 20), Params())
    assert [d.strftime("%Y-%m-%d") for d in snap["snapshot_date"]] == ["2024-01-31", "2024-02-29", "2024-03-20"]
    assert list(snap["first"]) == [1, 2, 1]
    assert list(snap["repeat"]) == [0, 0, 1]


def test_flow_needs_ordered_dates(load):
    from crmflow.errors import CrmflowError

    store, ds = load("customer,date,amount\nA,2024-06-01,10\n")
    with pytest.raises(CrmflowError):
        flow(store.db, ds, D, D, Params())
