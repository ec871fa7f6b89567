"""The dashboard's view computations written plainly in pandas: the baseline the
benchmark compares crmflow's SQL against.

Each function implements a definition of SPEC §2 the way a careful analyst
would in a notebook: vectorised pandas (group-bys, merges, one loop over
snapshot dates at most), over the same Parquet files the store was loaded
from, with the customer id as a categorical. The results are the same numbers
as crmflow's (``tests/test_bench.py`` checks that on the tiny data), so the
timing comparison is between two correct implementations.

Derived frames a page needs more than once (the orders, the customer
universe) are built once per :class:`Data` and cached on it, so the baseline
never pays twice for what a notebook would keep in a variable; the benchmark
makes a fresh :meth:`Data.fresh` per page run so that each run pays once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmflow.analytics import segment_grid
from crmflow.config import STAGES, STAGES_WITH_NONE, Params

ACTIVE_STAGES = ("first", "repeat", "loyal")
DAY = pd.Timedelta(days=1)


def _read(path: Path) -> pd.DataFrame:
    """A Parquet file as pandas: decimals as float64, dates as datetime64."""
    table = pq.read_table(path)
    columns = []
    for f in table.schema:
        col = table.column(f.name)
        if pa.types.is_decimal(f.type):
            col = col.cast(pa.float64())
        elif pa.types.is_date(f.type):
            col = col.cast(pa.timestamp("s"))
        columns.append(col)
    return pa.table(columns, names=table.column_names).to_pandas()


def read_transactions(path: Path) -> pd.DataFrame:
    """A transactions file as the baseline's frame: Parquet as it is, CSV
    through :func:`ingest_csv` (typed, unusable rows set aside); the customer
    id and the text dimensions as categoricals."""
    tx = ingest_csv(path)[0] if Path(path).suffix == ".csv" else _read(path)
    tx["customer_id"] = tx["customer_id"].astype("category")
    for col in ("category", "channel", "region", "owner"):
        if col in tx:
            tx[col] = tx[col].astype("category")
    return tx


@dataclass
class Data:
    """The three tables in memory, and the derived frames built from them."""

    transactions: pd.DataFrame
    customers: pd.DataFrame | None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, directory: Path) -> Data:
        tx = read_transactions(Path(directory) / "transactions.parquet")
        customers_path = Path(directory) / "customers.parquet"
        customers = _read(customers_path) if customers_path.exists() else None
        return cls(tx, customers)

    def fresh(self) -> Data:
        """The same tables without the derived frames (one page run)."""
        return Data(self.transactions, self.customers)

    # ------------------------------------------------------------------ derived
    def _cached(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def order_lines(self) -> pd.DataFrame:
        """Lines that make orders (amount > 0) with their order key: the
        order_id, else the customer's day."""
        def build():
            tx = self.transactions
            lines = tx.loc[tx["amount"] > 0, ["customer_id", "order_id", "order_date", "amount"]]
            key = lines["order_id"].astype(object)
            missing = key.isna()
            if missing.any():
                key = key.where(~missing, "\x00day:" + lines["order_date"].dt.strftime("%Y-%m-%d"))
            return lines.assign(order_key=key)
        return self._cached("order_lines", build)

    @property
    def orders(self) -> pd.DataFrame:
        """One row per order: customer_id, order_key, order_date (its first day
        with a line of amount > 0). An order counts at D iff that day <= D."""
        def build():
            lines = self.order_lines
            return (lines.groupby(["customer_id", "order_key"], observed=True, sort=False)["order_date"]
                    .min().reset_index())
        return self._cached("orders", build)

    @property
    def universe(self) -> pd.DataFrame:
        """Every known customer: in the customers table (is_listed, created_at)
        or with any transaction line."""
        def build():
            from_tx = pd.DataFrame({"customer_id": self.transactions["customer_id"].unique().astype(str)})
            if self.customers is not None and len(self.customers):
                listed = (self.customers.groupby("customer_id")["created_at"].min().rename("created_at")
                          .reset_index().assign(is_listed=True))
                uni = listed.merge(from_tx, on="customer_id", how="outer")
                uni["is_listed"] = uni["is_listed"].fillna(False).astype(bool)
            else:
                uni = from_tx.assign(is_listed=False, created_at=pd.NaT)
            return uni.set_index("customer_id").sort_index()
        return self._cached("universe", build)


# --------------------------------------------------------------------------- stages
def stages_at(data: Data, as_of: date, params: Params = Params()) -> pd.DataFrame:
    """Every known customer's stage at D (SPEC §2), indexed by customer_id:
    stage, orders, orders_in_window, first_order_date, last_order_date."""
    d = pd.Timestamp(as_of)
    o = data.orders
    o = o[o["order_date"] <= d]
    by = o.groupby("customer_id", observed=True)["order_date"]
    stats = pd.DataFrame({
        "orders": by.size(),
        "orders_in_window": (o["order_date"] > d - params.loyal_window_days * DAY)
        .groupby(o["customer_id"], observed=True).sum(),
        "first_order_date": by.min(),
        "last_order_date": by.max(),
    })
    stats.index = stats.index.astype(str)
    uni = data.universe
    out = stats.reindex(uni.index)
    orders = out["orders"]
    since = (d - out["last_order_date"]).dt.days
    stage = np.select(
        [orders.isna() & uni["is_listed"] & (uni["created_at"].isna() | (uni["created_at"] <= d)),
         orders.isna(),
         since > params.lost_after_days,
         out["orders_in_window"] >= params.loyal_orders,
         orders >= 2],
        ["potential", "none", "lost", "loyal", "repeat"], default="first")
    out["stage"] = stage
    out["orders"] = orders.fillna(0).astype("int64")
    out["orders_in_window"] = out["orders_in_window"].fillna(0).astype("int64")
    return out


def stage_counts(data: Data, as_of: date, params: Params = Params()) -> dict[str, int]:
    counts = stages_at(data, as_of, params)["stage"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STAGES}


def stage_snapshots(data: Data, dates: list[date], params: Params = Params()) -> pd.DataFrame:
    """Customers per stage at each date, wide (like crmflow.stages.stage_snapshots)."""
    rows = [stage_counts(data, d, params) for d in dates]
    wide = pd.DataFrame(rows, columns=list(STAGES))
    wide.insert(0, "snapshot_date", pd.to_datetime(dates))
    return wide


def flow(data: Data, start: date, end: date, params: Params = Params()) -> pd.DataFrame:
    """(stage at D1, stage at D2) pairs counted, `none` included, in stage order."""
    pair = pd.DataFrame({"from_stage": stages_at(data, start, params)["stage"],
                         "to_stage": stages_at(data, end, params)["stage"]})
    counts = pair.value_counts().rename("customers").reset_index()
    order = {s: i for i, s in enumerate(STAGES_WITH_NONE)}
    counts = counts.sort_values(["from_stage", "to_stage"], key=lambda s: s.map(order)).reset_index(drop=True)
    return counts.astype({"customers": "int64"})


def flow_customers(data: Data, start: date, end: date, from_stage: str, to_stage: str,
                   params: Params = Params()) -> pd.DataFrame:
    a, b = stages_at(data, start, params), stages_at(data, end, params)
    keep = (a["stage"] == from_stage) & (b["stage"] == to_stage)
    out = b.loc[keep, ["stage", "orders", "last_order_date"]].rename(columns={"stage": "to_stage"})
    out.insert(0, "from_stage", from_stage)
    out = out.rename_axis("customer_id").reset_index()
    return out[["customer_id", "from_stage", "to_stage", "orders", "last_order_date"]]


def _month(s: pd.Series) -> pd.Series:
    return s.dt.to_period("M").dt.to_timestamp()


def won_back_lost_monthly(data: Data, as_of: date, params: Params = Params()) -> pd.DataFrame:
    """Won back (an order more than lost_after_days + 1 days after the previous
    one) and newly lost customers (day last + lost_after_days + 1 <= D) per month."""
    d, gap = pd.Timestamp(as_of), params.lost_after_days
    o = data.orders
    days = (o.loc[o["order_date"] <= d, ["customer_id", "order_date"]].drop_duplicates()
            .sort_values(["customer_id", "order_date"]))
    by = days.groupby("customer_id", observed=True)["order_date"]
    previous, following = by.shift(1), by.shift(-1)
    won = days[previous.notna() & ((days["order_date"] - previous).dt.days > gap + 1)]
    won_back = won.groupby(_month(won["order_date"]))["customer_id"].nunique()
    lost = days[((d - days["order_date"]).dt.days > gap)
                & (following.isna() | ((following - days["order_date"]).dt.days > gap + 1))]
    lost_n = lost.groupby(_month(lost["order_date"] + (gap + 1) * DAY))["customer_id"].nunique()
    months = pd.date_range(_month(days["order_date"]).min(), _month(pd.Series([d])).iloc[0], freq="MS")
    return pd.DataFrame({"month": months,
                         "won_back": won_back.reindex(months, fill_value=0).to_numpy(np.int64),
                         "lost": lost_n.reindex(months, fill_value=0).to_numpy(np.int64)})


# --------------------------------------------------------------------------- analytics
def pareto(data: Data, as_of: date, measure: str = "revenue") -> pd.DataFrame:
    """Customers ranked by value (desc, ties by id) with the cumulative share."""
    tx = data.transactions
    lines = tx[tx["order_date"] <= pd.Timestamp(as_of)]
    value = lines["amount"] - lines["cost"] if measure == "profit" else lines["amount"]
    per = value.groupby(lines["customer_id"], observed=True).sum(min_count=0).round(6)
    per.index = per.index.astype(str)
    curve = per.rename("value").rename_axis("customer_id").reset_index()
    curve = curve.sort_values(["value", "customer_id"], ascending=[False, True], kind="mergesort")
    curve = curve.reset_index(drop=True)
    n = len(curve)
    curve.insert(0, "rank", np.arange(1, n + 1))
    curve["cumulative_value"] = curve["value"].cumsum()
    total = curve["value"].sum()
    curve["customer_share"] = curve["rank"] / n
    curve["cumulative_share"] = curve["cumulative_value"] / total if total > 0 else np.nan
    return curve


def _score(values: pd.Series, best_high: bool) -> pd.Series:
    """1 + floor(5 * (customers strictly worse) / n)."""
    worse = values.rank(method="min", ascending=best_high) - 1
    return (1 + np.floor(5 * worse / len(values))).astype("int64")


def rfm(data: Data, as_of: date) -> pd.DataFrame:
    d = pd.Timestamp(as_of)
    o = data.orders
    o = o[o["order_date"] <= d]
    by = o.groupby("customer_id", observed=True)["order_date"]
    out = pd.DataFrame({"frequency": by.size(), "first_order_date": by.min(), "last_order_date": by.max()})
    tx = data.transactions
    lines = tx[tx["order_date"] <= d]
    revenue = lines.groupby("customer_id", observed=True)["amount"].sum().round(6)
    out["monetary"] = revenue.reindex(out.index).fillna(0.0)
    out.index = out.index.astype(str)
    out = out.rename_axis("customer_id").reset_index().sort_values("customer_id", ignore_index=True)
    out["recency_days"] = (d - out["last_order_date"]).dt.days
    out["r_score"] = _score(out["recency_days"], best_high=False)
    out["f_score"] = _score(out["frequency"], best_high=True)
    out["m_score"] = _score(out["monetary"], best_high=True)
    grid = segment_grid()
    out["segment"] = [grid[(r, f)] for r, f in zip(out["r_score"], out["f_score"])]
    return out[["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                "segment", "first_order_date", "last_order_date"]]


def cohort_retention(data: Data, as_of: date) -> pd.DataFrame:
    d = pd.Timestamp(as_of)
    o = data.orders
    o = o[o["order_date"] <= d]
    cohort = _month(o.groupby("customer_id", observed=True)["order_date"].min()).rename("cohort_month")
    sizes = cohort.value_counts().rename("cohort_size")
    last_month = _month(pd.Series([d])).iloc[0]
    grid = pd.concat(
        [pd.DataFrame({"cohort_month": c, "activity_month": pd.date_range(c, last_month, freq="MS")})
         for c in sorted(sizes.index)], ignore_index=True)
    grid["cohort_size"] = grid["cohort_month"].map(sizes).astype("int64")
    active = (o.assign(cohort_month=o["customer_id"].map(cohort).astype("datetime64[s]"),
                       activity_month=_month(o["order_date"]))
              .groupby(["cohort_month", "activity_month"])["customer_id"].nunique().rename("active_customers"))
    tx = data.transactions
    lines = tx.loc[tx["order_date"] <= d, ["customer_id", "order_date", "amount"]]
    lines = lines.assign(cohort_month=lines["customer_id"].map(cohort).astype("datetime64[s]"))
    lines = lines[lines["cohort_month"].notna() & (lines["order_date"] >= lines["cohort_month"])]
    revenue = (lines.assign(activity_month=_month(lines["order_date"]))
               .groupby(["cohort_month", "activity_month"])["amount"].sum().rename("revenue"))
    out = grid.merge(active.reset_index(), on=["cohort_month", "activity_month"], how="left")
    out = out.merge(revenue.reset_index(), on=["cohort_month", "activity_month"], how="left")
    out["active_customers"] = out["active_customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    out["month_offset"] = ((out["activity_month"].dt.year - out["cohort_month"].dt.year) * 12
                           + out["activity_month"].dt.month - out["cohort_month"].dt.month)
    out["retention"] = out["active_customers"] / out["cohort_size"]
    out["revenue_per_customer"] = out["revenue"] / out["cohort_size"]
    return out.sort_values(["cohort_month", "month_offset"], ignore_index=True)[
        ["cohort_month", "month_offset", "activity_month", "cohort_size", "active_customers", "retention",
         "revenue", "revenue_per_customer"]]


def ntd_trends(data: Data, dates: list[date], params: Params = Params()) -> pd.DataFrame:
    """N (active customers), t (mean days first to last order) and D (month
    revenue, distinct categories in the loyal window) at each date."""
    tx = data.transactions
    has_category = "category" in tx and tx["category"].notna().any()
    positive = tx[tx["amount"] > 0]
    rows = []
    for snapshot in dates:
        d = pd.Timestamp(snapshot)
        st = stages_at(data, snapshot, params)
        active = st[st["stage"].isin(ACTIVE_STAGES)]
        n = len(active)
        ids = active.index
        month_lines = tx[(tx["order_date"] <= d) & (tx["order_date"] >= d.to_period("M").to_timestamp())]
        revenue = float(month_lines.loc[month_lines["customer_id"].astype(str).isin(ids), "amount"].sum())
        window = positive[(positive["order_date"] <= d)
                          & (positive["order_date"] > d - params.loyal_window_days * DAY)]
        window = window[window["customer_id"].astype(str).isin(ids)]
        per_customer = window.groupby("customer_id", observed=True)["category"].nunique()
        per_customer.index = per_customer.index.astype(str)
        breadth = per_customer.reindex(ids, fill_value=0).mean() if n else np.nan
        rows.append({
            "snapshot_date": d,
            "active_customers": n,
            "mean_relationship_days": (active["last_order_date"] - active["first_order_date"]).dt.days.mean()
            if n else np.nan,
            "revenue": revenue,
            "revenue_per_active": revenue / n if n else np.nan,
            "categories_per_active": breadth if has_category else np.nan,
        })
    return pd.DataFrame(rows)


def order_rhythm(data: Data, as_of: date) -> pd.DataFrame:
    """Per customer: orders, buying days, median/max gap between buying days,
    days since the last one and the overdue ratio (the churn features)."""
    d = pd.Timestamp(as_of)
    o = data.orders
    o = o[o["order_date"] <= d]
    by = o.groupby("customer_id", observed=True)["order_date"]
    out = pd.DataFrame({"orders": by.size(), "order_days": by.nunique(), "first_order_date": by.min(),
                        "last_order_date": by.max()})
    days = o[["customer_id", "order_date"]].drop_duplicates().sort_values(["customer_id", "order_date"])
    gap = days.groupby("customer_id", observed=True)["order_date"].diff().dt.days
    gaps = gap.groupby(days["customer_id"], observed=True)
    out["median_gap_days"] = gaps.median()
    out["max_gap_days"] = gaps.max()
    out.index = out.index.astype(str)
    out = out.rename_axis("customer_id").reset_index().sort_values("customer_id", ignore_index=True)
    out["days_since_last_order"] = (d - out["last_order_date"]).dt.days
    out["overdue_ratio"] = out["days_since_last_order"] / out["median_gap_days"].where(out["median_gap_days"] != 0)
    return out


# --------------------------------------------------------------------------- ingest
def ingest_csv(path: Path) -> tuple[pd.DataFrame, int]:
    """The plain pandas ingestion of a transactions CSV: read every column as
    text, type the ids, dates and numbers, and set aside the rows that cannot be
    used (no customer id, unparseable date, non-numeric amount). Returns the
    typed frame and the number of rejected rows."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    out = pd.DataFrame({"customer_id": raw["customer_id"].str.strip(),
                        "order_id": raw["order_id"].str.strip()})
    out["order_date"] = pd.to_datetime(raw["order_date"], format="%Y-%m-%d", errors="coerce")
    out["amount"] = pd.to_numeric(raw["amount"], errors="coerce")
    for col in ("cost",):
        out[col] = pd.to_numeric(raw[col], errors="coerce")
    for col in ("due_date", "paid_date"):
        out[col] = pd.to_datetime(raw[col], format="%Y-%m-%d", errors="coerce")
    for col in ("category", "channel", "region", "owner"):
        out[col] = raw[col].str.strip()
    bad = out["customer_id"].isna() | (out["customer_id"] == "") | out["order_date"].isna() | out["amount"].isna()
    return out[~bad].reset_index(drop=True), int(bad.sum())


# --------------------------------------------------------------------------- pages
