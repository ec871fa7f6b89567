"""Segment analytics (SPEC §2): RFM scores and segments, cohort retention, the
Pareto curve and the N/t/D trends.

Each function runs one named query from ``queries/analytics/`` with bound
parameters and returns a DataFrame; every ``dataset_id`` may also be a
:class:`crmflow.db.Scope` (the dashboard's global filters). The rules live in
the SQL so that the same files run elsewhere. Amounts are summed exactly
(DECIMAL) in the database and arrive here as floats.

RFM tie rule
    Customers are sorted from worst to best on each metric (most days since the
    last order, fewest orders, least revenue first) and
    ``score = 1 + floor(5 * (number of customers strictly worse) / n)``.
    Equal values always get equal scores, the result never depends on row
    order, and n distinct, evenly spread values give exact quintiles. With
    fewer than five customers not every score occurs (two customers score 1
    and 3; one customer scores 1).

RFM segments
    Named from (r_score, f_score) by the commonly used map, kept as data in
    ``crmflow/data/rfm_segments.csv`` (columns segment, r_min, r_max, f_min,
    f_max; a segment may take several rows; every one of the 25 cells is
    covered exactly once). Segment ids are stable snake_case keys; display
    names come from :mod:`crmflow.i18n` (``segment_<id>``).

Pareto headline
    "The top 20% of customers give X%": X = cumulative share of the total at
    k = ceil(0.2 n) customers (ranked by value descending, ties by
    customer_id); the bottom 30% are the last ceil(0.3 n) customers. Both are
    ``None`` when there are no customers or the total is not positive.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources

import pandas as pd

from crmflow.config import Params
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.results import stored_or_run
from crmflow.i18n import DEFAULT_LANGUAGE, t
from crmflow.stages import month_ends

#: Columns of :func:`rfm`; the command line prints the first eight.
RFM_COLUMNS = ("customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
               "segment", "first_order_date", "last_order_date")
SEGMENT_SUMMARY_COLUMNS = ("segment", "customers", "customer_share", "revenue", "revenue_share",
                           "mean_recency_days", "mean_frequency", "mean_monetary")
COHORT_COLUMNS = ("cohort_month", "month_offset", "activity_month", "cohort_size", "active_customers",
                  "retention", "revenue", "revenue_per_customer")
PARETO_COLUMNS = ("rank", "customer_id", "value", "cumulative_value", "customer_share", "cumulative_share")
NTD_COLUMNS = ("snapshot_date", "active_customers", "mean_relationship_days", "revenue", "revenue_per_active",
               "categories_per_active")
MEASURES = ("revenue", "profit")
DEFAULT_PARAMS = Params()
SCORES = (1, 2, 3, 4, 5)


# --------------------------------------------------------------------------- segment map
@lru_cache(maxsize=1)
def segment_map() -> tuple[tuple[str, int, int, int, int], ...]:
    """The rows of ``crmflow/data/rfm_segments.csv``: (segment, r_min, r_max, f_min, f_max)."""
    text = resources.files("crmflow").joinpath("data", "rfm_segments.csv").read_text(encoding="utf-8")
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        rows.append((rec["segment"].strip(), int(rec["r_min"]), int(rec["r_max"]), int(rec["f_min"]),
                     int(rec["f_max"])))
    return tuple(rows)


@lru_cache(maxsize=1)
def segment_grid() -> dict[tuple[int, int], str]:
    """The segment of every (r_score, f_score) cell; an error unless each of the
    25 cells is covered exactly once."""
    grid: dict[tuple[int, int], str] = {}
    for segment, r_min, r_max, f_min, f_max in segment_map():
        for r in range(r_min, r_max + 1):
            for f in range(f_min, f_max + 1):
                if r not in SCORES or f not in SCORES:
                    raise ValueError(f"rfm_segments.csv: {segment} covers the score ({r}, {f}) outside 1-5")
                if (r, f) in grid:
                    raise ValueError(f"rfm_segments.csv: cell r={r} f={f} is in {grid[(r, f)]} and {segment}")
                grid[(r, f)] = segment
    missing = [(r, f) for r in SCORES for f in SCORES if (r, f) not in grid]
    if missing:
        raise ValueError(f"rfm_segments.csv: cells {missing} have no segment")
    return grid


def segments() -> tuple[str, ...]:
    """Segment ids in the map's order (best first), each once."""
    return tuple(dict.fromkeys(row[0] for row in segment_map()))


def segment_name(segment: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """Display name of a segment id in ``lang`` (e.g. ``cant_lose`` -> "Quiet top buyers"; names from the glossary, crmflow/glossary.py)."""
    return t(f"segment_{segment}", lang)


# --------------------------------------------------------------------------- helpers
def _to_dates(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for col in columns:
        df[col] = pd.to_datetime(df[col]).dt.date.astype(object)
    return df


def coverage(db: Database, dataset_id: int | Scope, as_of: date) -> dict[str, int]:
    """Lines dated <= ``as_of`` and how many of them have a cost / a category."""
    row = db.run("cost_coverage", dataset_id=dataset_id, as_of=as_of).iloc[0]
    return {k: int(row[k]) for k in ("lines", "lines_with_cost", "lines_with_category")}


def has_cost(db: Database, dataset_id: int | Scope, as_of: date) -> bool:
    """True when some line dated <= ``as_of`` has a cost, so profit can be shown."""
    return coverage(db, dataset_id, as_of)["lines_with_cost"] > 0


# --------------------------------------------------------------------------- RFM
def rfm(db: Database, dataset_id: int | Scope, as_of: date) -> pd.DataFrame:
    """RFM as of ``as_of``: one row per customer with an order on or before it.

    Columns :data:`RFM_COLUMNS`: customer_id, recency_days (days from the last
    order to D), frequency (orders <= D), monetary (net revenue <= D, returns
    included), r_score, f_score, m_score (1-5, 5 best; tie rule in the module
    docstring), segment (snake_case id, see :func:`segment_name`),
    first_order_date, last_order_date (``datetime.date``). Sorted by customer_id.
    """
    df = db.run("rfm", dataset_id=dataset_id, as_of=as_of)
    df = df.astype({"recency_days": "int64", "frequency": "int64", "r_score": "int64", "f_score": "int64",
                    "m_score": "int64", "monetary": "float64"})
    grid = segment_grid()
    df["segment"] = [grid[(r, f)] for r, f in zip(df["r_score"], df["f_score"])]
    df = _to_dates(df, ("first_order_date", "last_order_date"))
    return df[list(RFM_COLUMNS)].reset_index(drop=True)


def summarise_segments(frame: pd.DataFrame) -> pd.DataFrame:
    """Per segment of an :func:`rfm` frame, in the map's order (empty segments
    included, with 0 customers): customers, customer_share, revenue,
    revenue_share (of the total monetary; NaN when the total is not positive),
    mean_recency_days, mean_frequency, mean_monetary (NaN when empty)."""
    grouped = frame.groupby("segment").agg(
        customers=("customer_id", "size"), revenue=("monetary", "sum"),
        mean_recency_days=("recency_days", "mean"), mean_frequency=("frequency", "mean"),
        mean_monetary=("monetary", "mean"))
    out = grouped.reindex(list(segments()))
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    n = len(frame)
    total = float(frame["monetary"].sum()) if n else 0.0
    out["customer_share"] = out["customers"] / n if n else float("nan")
    out["revenue_share"] = out["revenue"] / total if total > 0 else float("nan")
    out.index.name = "segment"
    return out.reset_index()[list(SEGMENT_SUMMARY_COLUMNS)]


def rfm_segments_summary(db: Database, dataset_id: int | Scope, as_of: date) -> pd.DataFrame:
    """:func:`summarise_segments` of :func:`rfm` (the Segments view's table and treemap)."""
    return summarise_segments(rfm(db, dataset_id, as_of))


# --------------------------------------------------------------------------- cohorts
def cohort_retention(db: Database, dataset_id: int | Scope, as_of: date) -> pd.DataFrame:
    """Cohort retention as of ``as_of``, long: one row per (cohort_month,
    month_offset) for k = 0 .. D's month (a full triangle, zero activity as 0).

    Columns :data:`COHORT_COLUMNS`: cohort_month and activity_month (first day
    of the month, ``datetime.date``), month_offset, cohort_size,
    active_customers (with an order in that month), retention (active /
    cohort_size), revenue (net, that month), revenue_per_customer (revenue /
    cohort_size).
    """
    df = db.run("cohort_retention", dataset_id=dataset_id, as_of=as_of)
    df = df.astype({"month_offset": "int64", "cohort_size": "int64", "active_customers": "int64",
                    "retention": "float64", "revenue": "float64", "revenue_per_customer": "float64"})
    return _to_dates(df, ("cohort_month", "activity_month"))[list(COHORT_COLUMNS)]


def cohort_matrix(frame: pd.DataFrame, value: str = "retention") -> pd.DataFrame:
    """A :func:`cohort_retention` frame as a heatmap matrix: one row per cohort
    month, one column per month offset, NaN beyond D (the triangle's blank half)."""
    if value not in ("retention", "active_customers", "revenue", "revenue_per_customer"):
        raise ValueError(f"unknown cohort value {value!r}")
    return frame.pivot(index="cohort_month", columns="month_offset", values=value)


# --------------------------------------------------------------------------- Pareto
@dataclass(frozen=True)
class ParetoHeadline:
    """"The top 20% of customers give ``top20_share`` of the total"."""

    customers: int
    total: float
    top20_customers: int
    top20_share: float | None
    bottom30_customers: int
    bottom30_share: float | None


def pareto(db: Database, dataset_id: int | Scope, as_of: date, measure: str = "revenue") -> pd.DataFrame:
    """The Pareto curve of ``measure`` ('revenue' or 'profit') as of ``as_of``.

    One row per customer with a line dated <= D, ranked by value descending
    (ties by customer_id). Columns :data:`PARETO_COLUMNS`: rank (1..n),
    customer_id, value, cumulative_value, customer_share (rank / n),
    cumulative_share (cumulative_value / total; NaN when the total is not
    positive). Profit needs a cost: without one a :class:`CrmflowError` says
    to upload it (check :func:`has_cost` first to show that as a hint).
    """
    if measure not in MEASURES:
        raise CrmflowError(f"Unknown Pareto measure {measure!r}", "Use revenue or profit")
    if measure == "profit" and not has_cost(db, dataset_id, as_of):
        raise CrmflowError("Profit needs a cost, and the data has no cost (or margin) column",
                           "Upload transactions with a cost or margin column to unlock profit, "
                           "or use the revenue measure")
    df = stored_or_run(db, "pareto", dataset_id, as_of=as_of, measure=measure)
    df = df.astype({"rank": "int64", "value": "float64", "cumulative_value": "float64",
                    "customer_share": "float64", "cumulative_share": "float64"})
    return df[list(PARETO_COLUMNS)].reset_index(drop=True)


def pareto_headline(curve: pd.DataFrame) -> ParetoHeadline:
    """Top-20% and bottom-30% shares of a :func:`pareto` curve.

    top20_share = cumulative share at k = ceil(0.2 n) customers; bottom30_share
    = share of the last m = ceil(0.3 n) customers (negative when they destroy
    value). Shares are ``None`` when n = 0 or the total is not positive.
    """
    n = len(curve)
    k = -(-n // 5)           # ceil(0.2 n) in integers (0.2 * 15 is 3.0000000000000004)
    m = -(-3 * n // 10)      # ceil(0.3 n)
    total = float(curve["cumulative_value"].iloc[-1]) if n else 0.0
    if n == 0 or not total > 0:
        return ParetoHeadline(n, total, k, None, m, None)
    cumulative = curve["cumulative_value"].to_numpy()  # exact running sums from the database
    top = float(cumulative[k - 1]) / total
    bottom = (total - (float(cumulative[n - m - 1]) if n > m else 0.0)) / total
    return ParetoHeadline(n, total, k, top, m, bottom)


# --------------------------------------------------------------------------- N/t/D
def ntd_trends(db: Database, dataset_id: int | Scope, start: date, end: date,
               params: Params = DEFAULT_PARAMS) -> pd.DataFrame:
    """N/t/D at every month end from ``start``'s month to ``end`` (and at ``end``).

    Columns :data:`NTD_COLUMNS`: snapshot_date (``datetime.date``),
    active_customers N (first + repeat + loyal), mean_relationship_days t (first
    to last order, active customers), revenue (net, active customers' lines in
    the snapshot's month up to the date), revenue_per_active (NaN when N = 0),
    categories_per_active (mean distinct categories bought in the loyal window;
    NaN when the data has no category or N = 0).
    """
    if start > end:
        raise CrmflowError(f"The trend needs a start date on or before its end date (got {start} and {end})",
                           "Pass --from with a date before --as-of")
    df = stored_or_run(db, "ntd_monthly", dataset_id, dates=month_ends(start, end),
                       lost_after_days=params.lost_after_days, loyal_window_days=params.loyal_window_days)
    df = df.astype({"active_customers": "int64", "mean_relationship_days": "float64", "revenue": "float64",
                    "revenue_per_active": "float64", "categories_per_active": "float64"})
    return _to_dates(df, ("snapshot_date",))[list(NTD_COLUMNS)]
