"""crmflow's stage engine against an independent pure-pandas oracle of SPEC §2.

The oracle below is written from the specification only (no crmflow code, no
SQL): it is compared with crmflow's per-customer stages, order counts, stage
counts and flow on many randomly generated datasets (fixed seeds) whose dates
are clustered so that every boundary (lost after exactly N days, the loyal
window's open end, D on an order day, D before the first order, ...) is hit,
and on the CDNOW master file.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import CDNOW_MASTER

from crmflow.config import Params
from crmflow.stages import flow, stage_counts
from crmflow.store import Store

STAGES = ("potential", "first", "repeat", "loyal", "lost")


# --------------------------------------------------------------------------- the oracle
def oracle_stages(tx: pd.DataFrame, customers: pd.DataFrame | None, as_of: date,
                  lost_after_days: int, loyal_orders: int, loyal_window_days: int) -> pd.DataFrame:
    """Stage and order count of every known customer at ``as_of`` (SPEC §2).

    ``tx``: customer_id (str), order_date (datetime.date), amount (number),
    order_id (str or None). ``customers``: customer_id, created_at (date or None).
    """
    d = pd.Timestamp(as_of)
    known = [pd.DataFrame({"customer_id": tx["customer_id"], "listed": False, "created_at": pd.NaT})]
    if customers is not None:
        first_row = customers.drop_duplicates("customer_id")  # the first row of a repeated id is kept
        known.append(pd.DataFrame({"customer_id": first_row["customer_id"], "listed": True,
                                   "created_at": pd.to_datetime(first_row["created_at"])}))
    universe = (pd.concat(known, ignore_index=True)
                .groupby("customer_id", as_index=False).agg(listed=("listed", "max"), created_at=("created_at", "min")))

    # an order: a distinct order_id, else a distinct (customer, day), among
    # rows with amount > 0 dated on or before D; its date is its first day.
    lines = tx.assign(order_date=pd.to_datetime(tx["order_date"]))
    lines = lines[(lines["amount"] > 0) & (lines["order_date"] <= d)]
    order_id = lines["order_id"] if "order_id" in lines else pd.Series(None, index=lines.index, dtype=object)
    key = np.where(order_id.notna(), "id:" + order_id.astype(str), "day:" + lines["order_date"].astype(str))
    orders = lines.assign(key=key).groupby(["customer_id", "key"], as_index=False)["order_date"].min()
    # the loyal window is (D - loyal_window_days, D]
    orders["in_window"] = orders["order_date"] > d - pd.Timedelta(days=loyal_window_days)
    per = orders.groupby("customer_id", as_index=False).agg(
        orders=("key", "size"), last=("order_date", "max"), in_window=("in_window", "sum"))

    m = universe.merge(per, on="customer_id", how="left")
    has_orders = m["orders"].notna()
    stage = np.select(
        [
            ~has_orders & m["listed"] & (m["created_at"].isna() | (m["created_at"] <= d)),
            ~has_orders,
            (d - m["last"]).dt.days > lost_after_days,
            m["in_window"] >= loyal_orders,
            m["orders"] >= 2,
        ],
        ["potential", "none", "lost", "loyal", "repeat"],
        default="first",
    )
    return pd.DataFrame({"customer_id": m["customer_id"], "stage": stage,
                         "orders": m["orders"].fillna(0).astype(int)})


def oracle_counts(stages: pd.DataFrame) -> dict[str, int]:
    c = Counter(stages["stage"])
    return {s: c.get(s, 0) for s in STAGES}


def oracle_flow(a: pd.DataFrame, b: pd.DataFrame) -> dict[tuple[str, str], int]:
    m = a.merge(b, on="customer_id", suffixes=("_1", "_2"), how="outer").fillna({"stage_1": "none", "stage_2": "none"})
    return dict(Counter(zip(m["stage_1"], m["stage_2"])))


# --------------------------------------------------------------------------- random datasets
BASE = date(2024, 3, 1)


def generate(seed: int):
    """A random dataset with clustered dates: (transactions, customers or None, params, as-of dates)."""
    rng = np.random.default_rng(seed)
    small = seed % 3 == 0
    lost_after = int(rng.choice([1, 2, 3, 7, 10]) if small else rng.choice([5, 14, 30, 60, 180]))
    loyal_orders = int(rng.choice([1, 2, 3]) if small else rng.choice([1, 2, 3, 4, 6]))
    window = int(rng.choice([1, 2, 5, 10]) if small else rng.choice([7, 20, 45, 90, 365]))
    span = int(rng.choice([3, 10, 30, 90, 200]))
    with_order_id = bool(rng.integers(0, 2))
    n_customers = int(rng.integers(3, 30))
    ids = [f"{i:05d}" if rng.random() < 0.6 else f"C{i}" for i in rng.choice(99999, n_customers, replace=False)]

    lines = []
    oid = 0
    for cid in ids:
        n_days = int(rng.integers(0, 7))
        days = sorted(rng.integers(0, span + 1, n_days))  # repeats allowed: several orders/lines one day
        for d in days:
            day = BASE + timedelta(days=int(d))
            n_orders_today = int(rng.integers(1, 3)) if with_order_id else 1
            for _ in range(n_orders_today):
                oid += 1
                for _ in range(int(rng.integers(1, 3))):  # lines of one order
                    u = rng.random()
                    if u < 0.08:
                        cents = 0  # a zero row
                    elif u < 0.2:
                        cents = -int(rng.integers(1, 5000))  # a return
                    else:
                        cents = int(rng.integers(1, 100000))
                    lines.append((f"O{oid}" if with_order_id else None, cid, day, cents))
        if rng.random() < 0.15:  # a customer with only a return / a zero row
            day = BASE + timedelta(days=int(rng.integers(0, span + 1)))
            lines.append((f"R{oid}" if with_order_id else None, cid, day, -int(rng.integers(0, 500))))
    if not any(c > 0 for *_, c in lines):
        lines.append((f"O{oid + 1}" if with_order_id else None, ids[0], BASE, 1000))
    tx = pd.DataFrame(lines, columns=["order_id", "customer_id", "order_date", "cents"])
    tx["amount"] = tx["cents"] / 100

    customers = None
    if rng.random() < 0.6:
        leads = [f"L{i:04d}" for i in range(int(rng.integers(1, 8)))]
        listed = list(rng.choice(ids, int(rng.integers(0, len(ids) + 1)), replace=False)) + leads
        created = []
        for _ in listed:
            u = rng.random()
            created.append(None if u < 0.25 else BASE + timedelta(days=int(rng.integers(-20, span + 20))))
        customers = pd.DataFrame({"customer_id": listed, "created_at": created})

    order_days = sorted(set(tx.loc[tx["cents"] > 0, "order_date"]))
    first, last = order_days[0], order_days[-1]
    pick = lambda: order_days[int(rng.integers(0, len(order_days)))]  # noqa: E731
    dates = {
        first - timedelta(days=1),                     # before the first order
        first - timedelta(days=int(rng.integers(2, 40))),
        pick(), pick(),                                 # on order days
        last, last + timedelta(days=int(rng.integers(1, 400))),  # after the last
        pick() + timedelta(days=lost_after),            # exactly lost_after_days after an order: not lost
        pick() + timedelta(days=lost_after + 1),        # one more day: lost
        pick() + timedelta(days=window - 1),            # last day inside the loyal window
        pick() + timedelta(days=window),                # first day outside it
    }
    params = Params(lost_after, loyal_orders, window)
    return tx, customers, params, sorted(dates), with_order_id


_ORACLE: dict = {}


def oracle_for(seed: int, as_of: date) -> pd.DataFrame:
    """oracle_stages of a generated dataset, computed once per (seed, date)."""
    if (seed, as_of) not in _ORACLE:
        tx, customers, params, _, _ = generate(seed)
        _ORACLE[(seed, as_of)] = oracle_stages(tx, customers, as_of, params.lost_after_days, params.loyal_orders,
                                               params.loyal_window_days)
    return _ORACLE[(seed, as_of)]


def write_inputs(tmp_path, seed, tx, customers, with_order_id):
    t = tmp_path / f"tx{seed}.csv"
    out = pd.DataFrame({"customer_id": tx["customer_id"], "order_date": [d.isoformat() for d in tx["order_date"]],
                        "amount": [f"{c / 100:.2f}" for c in tx["cents"]]})
    if with_order_id:
        out.insert(0, "order_id", tx["order_id"])
    out.to_csv(t, index=False)
    c = None
    if customers is not None:
        c = tmp_path / f"cu{seed}.csv"
        pd.DataFrame({"customer_id": customers["customer_id"],
                      "created_at": [d.isoformat() if d is not None else "" for d in customers["created_at"]]}
                     ).to_csv(c, index=False)
    return t, c


def crmflow_stages(store, ds, dates, params):
    df = store.db.run("customer_stages", dataset_id=ds, dates=list(dates), **params.as_sql_params())
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"]).dt.date
    return df


SEEDS = list(range(36))


@pytest.mark.parametrize("seed", SEEDS)
def test_stages_and_flow_match_the_oracle(tmp_path, seed):
    tx, customers, params, dates, with_order_id = generate(seed)
    t, c = write_inputs(tmp_path, seed, tx, customers, with_order_id)
    with Store(in_memory=True) as store:
        result = store.ingest(f"seed{seed}", t, c)
        ds = result.dataset.dataset_id
        assert result.reports[0].rows_loaded == len(tx)
        got_all = crmflow_stages(store, ds, dates, params)
        for d in dates:
            want = oracle_for(seed, d)
            got = got_all[got_all["snapshot_date"] == d]
            got_map = {cid: (s, int(n)) for cid, s, n in zip(got["customer_id"], got["stage"], got["orders"])}
            want_map = {cid: (s, n) for cid, s, n in zip(want["customer_id"], want["stage"], want["orders"])}
            diff = {k: (want_map.get(k), got_map.get(k)) for k in set(want_map) | set(got_map)
                    if want_map.get(k) != got_map.get(k)}
            assert not diff, f"seed {seed}, D={d}, {params}: (oracle, crmflow) differ {diff}"
            assert stage_counts(store.db, ds, d, params) == oracle_counts(want), f"seed {seed}, D={d}"
        # flow between consecutive as-of dates and from the first to the last
        pairs = list(zip(dates, dates[1:]))[::3] + [(dates[0], dates[-1])]
        for d1, d2 in pairs:
            want = oracle_flow(oracle_for(seed, d1), oracle_for(seed, d2))
            df = flow(store.db, ds, d1, d2, params)
            got = {(f, to): int(n) for f, to, n in zip(df["from_stage"], df["to_stage"], df["customers"])}
            assert got == want, f"seed {seed}, flow {d1} -> {d2}"


def test_the_generator_hits_the_interesting_cases():
    """The random datasets really cover what they are meant to cover."""
    seen = Counter()
    for seed in SEEDS:
        tx, customers, params, dates, with_order_id = generate(seed)
        seen["order_id"] += with_order_id
        seen["no_order_id"] += not with_order_id
        seen["returns"] += bool((tx["cents"] < 0).any())
        seen["zeros"] += bool((tx["cents"] == 0).any())
        seen["leads"] += customers is not None
        seen["lost_after_days=1"] += params.lost_after_days == 1
        seen["loyal_orders=1"] += params.loyal_orders == 1
        seen["loyal_window_days=1"] += params.loyal_window_days == 1
        for d in dates:
            seen.update(set(oracle_for(seed, d)["stage"]))
    for key in ("order_id", "no_order_id", "returns", "zeros", "leads", "lost_after_days=1", "loyal_orders=1",
                "loyal_window_days=1", "none", *STAGES):
        assert seen[key] >= 1, (key, seen)


def test_oracle_on_hand_made_boundaries():
    """The oracle itself against values worked out by hand (as in test_stages)."""
    d = date(2024, 6, 30)
    tx = pd.DataFrame({
        "order_id": [None] * 9,
        "customer_id": ["A", "B", "C", "C", "C", "C", "E", "E", "F"],
        "order_date": [date(2024, 1, 2), date(2024, 1, 1), date(2023, 7, 2), date(2024, 1, 10),
                       date(2024, 3, 10), date(2024, 6, 30), date(2024, 6, 1), date(2024, 6, 1), date(2024, 7, 1)],
        "amount": [10, 10, 10, 10, 10, 10, 10, -10, 10],
    })
    customers = pd.DataFrame({"customer_id": ["L1", "L2", "L3"],
                              "created_at": [date(2024, 6, 30), date(2024, 7, 1), None]})
    st = oracle_stages(tx, customers, d, 180, 4, 365)
    assert dict(zip(st["customer_id"], st["stage"])) == {
        "A": "first", "B": "lost", "C": "loyal", "E": "first", "F": "none",
        "L1": "potential", "L2": "none", "L3": "potential"}


# --------------------------------------------------------------------------- CDNOW
@pytest.fixture(scope="module")
def cdnow():
    raw = pd.read_csv(CDNOW_MASTER, sep=r"\s+", dtype={"customer_id": str, "date": str})
    tx = pd.DataFrame({
        "order_id": None,
        "customer_id": raw["customer_id"],
        "order_date": pd.to_datetime(raw["date"], format="%Y%m%d").dt.date,
        "amount": raw["dollar_value"],
    })
    store = Store(in_memory=True)
    result = store.ingest("cdnow", CDNOW_MASTER)
    yield tx, store, result
    store.close()


@pytest.mark.parametrize("as_of", [date(1997, 9, 30), date(1998, 6, 30)])
def test_cdnow_master_matches_the_oracle(cdnow, as_of):
    tx, store, result = cdnow
    ds = result.dataset.dataset_id
    report = result.reports[0]
    assert report.rows_read == len(tx) and report.rows_rejected == 0
    params = Params()
    want = oracle_stages(tx, None, as_of, 180, 4, 365)
    got = crmflow_stages(store, ds, [as_of], params)
    assert dict(zip(got["customer_id"], got["stage"])) == dict(zip(want["customer_id"], want["stage"]))
    assert dict(zip(got["customer_id"], got["orders"].astype(int))) == dict(zip(want["customer_id"], want["orders"]))
    assert stage_counts(store.db, ds, as_of, params) == oracle_counts(want)


def test_cdnow_master_flow_matches_the_oracle(cdnow):
    tx, store, result = cdnow
    d1, d2 = date(1997, 9, 30), date(1998, 6, 30)
    want = oracle_flow(oracle_stages(tx, None, d1, 180, 4, 365), oracle_stages(tx, None, d2, 180, 4, 365))
    df = flow(store.db, result.dataset.dataset_id, d1, d2, Params())
    assert {(f, t): int(n) for f, t, n in zip(df["from_stage"], df["to_stage"], df["customers"])} == want


# --------------------------------------------------------------------------- N/t/D
def oracle_ntd(tx: pd.DataFrame, as_of: date, params: Params) -> dict[str, float | int | None]:
    """N/t/D at ``as_of`` straight from SPEC §2 (the docstring of queries/analytics/ntd_monthly.sql):
    N = customers in stage first/repeat/loyal; t = their mean days from first to
    last order; revenue = all their lines (returns too) dated in D's calendar
    month up to D; breadth = their mean number of distinct categories of lines
    with amount > 0 in (D - loyal_window_days, D] (None when no line has a category)."""
    d = pd.Timestamp(as_of)
    stages = oracle_stages(tx, None, as_of, params.lost_after_days, params.loyal_orders, params.loyal_window_days)
    active = set(stages.loc[stages["stage"].isin(["first", "repeat", "loyal"]), "customer_id"])
    lines = tx.assign(order_date=pd.to_datetime(tx["order_date"]))
    mine = lines[lines["customer_id"].isin(active)]
    orders = mine[(mine["amount"] > 0) & (mine["order_date"] <= d)].copy()
    key = np.where(orders["order_id"].notna(), "id:" + orders["order_id"].astype(str),
                   "day:" + orders["order_date"].astype(str))
    firsts = orders.assign(key=key).groupby(["customer_id", "key"])["order_date"].min().groupby(level=0)
    span = (firsts.max() - firsts.min()).dt.days
    month = mine[(mine["order_date"] <= d) & (mine["order_date"] >= d.to_period("M").to_timestamp())]
    window = mine[(mine["amount"] > 0) & (mine["order_date"] <= d)
                  & ((d - mine["order_date"]).dt.days < params.loyal_window_days)]
    breadth = window.dropna(subset=["category"]).groupby("customer_id")["category"].nunique()
    n = len(active)
    return {
        "active_customers": n,
        "mean_relationship_days": float(span.mean()) if n else None,
        "revenue": round(float(month["cents"].sum()) / 100, 2),
        "categories_per_active": (float(breadth.reindex(sorted(active), fill_value=0).mean()) if n else None)
        if tx["category"].notna().any() else None,
    }


@pytest.mark.parametrize("seed", SEEDS[::2])
def test_ntd_matches_the_oracle(tmp_path, seed):
    """ntd_monthly (computed by events, without a customer x date grid) against
    the definition evaluated one date at a time, on the random datasets with
    random categories (some missing), at every interesting date and at month
    ends (the Overview's series)."""
    from crmflow.db import Scope

    tx, _, params, dates, with_order_id = generate(seed)
    rng = np.random.default_rng(seed + 1000)
    tx["category"] = rng.choice(np.array([None, "a", "b", "c", "d"], dtype=object), len(tx))
    if seed % 5 == 0:
        tx["category"] = None
    t, _ = write_inputs(tmp_path, seed, tx, None, with_order_id)
    csv = pd.read_csv(t, dtype=str)
    csv["category"] = tx["category"].to_numpy()
    csv.to_csv(t, index=False)
    month_ends = sorted({(pd.Timestamp(x) + pd.offsets.MonthEnd(0)).date() for x in dates})
    asked = sorted(set(dates) | set(month_ends))
    with Store(in_memory=True) as store:
        ds = store.ingest(f"ntd{seed}", t).dataset.dataset_id
        got = store.db.run("ntd_monthly", dataset_id=Scope(ds), dates=asked,
                           lost_after_days=params.lost_after_days, loyal_window_days=params.loyal_window_days)
    assert len(got) == len(asked)
    for row in got.itertuples(index=False):
        day = pd.Timestamp(row.snapshot_date).date()
        want = oracle_ntd(tx, day, params)
        where = f"seed {seed}, D={day}, {params}"
        assert int(row.active_customers) == want["active_customers"], where
        assert float(row.revenue) == pytest.approx(want["revenue"], abs=1e-9), where
        for col in ("mean_relationship_days", "categories_per_active"):
            value = getattr(row, col)
            if want[col] is None:
                assert value is None or pd.isna(value), (where, col)
            else:
                assert float(value) == pytest.approx(want[col], rel=1e-12), (where, col)
