"""The Overview view's numbers (SPEC §3.1): KPI cards and the findings that
the charts' titles state.

:func:`overview_kpis` is the one call the page makes for its cards. It runs
three named queries, each over all the dates it needs at once
(``stage_summary``, ``revenue_to_date``, ``won_back_lost_to_date``); they count
exactly what the command line's stage counts, Pareto totals and won-back/lost
months count (tests/test_overview_kpis.py holds them equal). The rest are pure
helpers on frames those functions return.

Definitions
    comparison date
        The KPI deltas compare D with an earlier date C: 30, 90 or 365 days
        before D, or the start of the trend period (:data:`COMPARE_CHOICES`).
    revenue, last 12 months
        Net revenue (returns included) of the lines dated in (D - 1 year, D];
        the previous 12 months are (D - 2 years, D - 1 year]. Computed as the
        difference of the running totals at those dates (``revenue_to_date``:
        the sum of every line dated on or before each date, the last point of
        :func:`crmflow.analytics.pareto`'s curve).
    repeat rate
        Among the customers with at least one order on or before the date,
        the share with at least two (orders as in SPEC §2: amount > 0).
    won back / lost in the period
        The events of :func:`crmflow.stages.won_back_lost_monthly` dated in
        (C, D]: the sum of its monthly counts up to D minus the sum up to C
        (``won_back_lost_to_date`` sums them for several dates in one pass).
        Events never change once they happened (an event up to C is counted the
        same whatever later date the query runs at), so the difference is the
        events after C. The previous period is (C - (D - C), C].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from crmflow.config import STAGES, Params
from crmflow.db import Database, Scope
from crmflow.results import stored_or_run

#: KPI comparison choices: days before D, or the start of the trend period.
COMPARE_CHOICES = ("30", "90", "365", "start")
DEFAULT_COMPARE = "90"
#: Trend period choices: months before D, or the whole history.
PERIOD_CHOICES = ("12", "24", "36", "all")
DEFAULT_PERIOD = "24"
DEFAULT_PARAMS = Params()
#: The bottom 30% of customers are called out when their share is below this.
BOTTOM30_LOW = 0.05


# --------------------------------------------------------------------------- dates
def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day
    when it is shorter, e.g. 31 March - 1 month = 28/29 February)."""
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def years_before(day: date, years: int) -> date:
    """The same day ``years`` years earlier (29 February -> 28 February)."""
    return months_before(day, 12 * years)


def trend_start(as_of: date, first: date, period: str) -> date:
    """First day of the trend charts: ``period`` months before D (never before
    the first order), or the first order date for ``all``."""
    if period == "all":
        return min(first, as_of)
    return min(max(months_before(as_of, int(period)), first), as_of)


def comparison_date(as_of: date, compare: str, start: date) -> date:
    """The date C the KPI deltas compare with (``start`` = the trend start)."""
    if compare == "start":
        return min(start, as_of)
    return as_of - timedelta(days=int(compare))


def choice(value: str | None, choices: tuple[str, ...], default: str) -> str:
    """A URL value if it is one of ``choices``, else the default."""
    return value if value in choices else default


# --------------------------------------------------------------------------- KPIs
@dataclass(frozen=True)
class RepeatRate:
    buyers: int
    repeat_buyers: int

    @property
    def rate(self) -> float | None:
        return self.repeat_buyers / self.buyers if self.buyers else None


@dataclass(frozen=True)
class OverviewKpis:
    """Everything the KPI cards show (see the module docstring)."""

    as_of: date
    since: date
    counts: dict[str, int]
    counts_before: dict[str, int]
    revenue_12m: float
    revenue_prev_12m: float
    repeat: RepeatRate
    repeat_before: RepeatRate
    won_back: int
    lost: int
    won_back_prev: int
    lost_prev: int

    def delta(self, stage: str) -> int:
        return self.counts[stage] - self.counts_before[stage]


def repeat_rate(stages: pd.DataFrame) -> RepeatRate:
    """Repeat rate of a :func:`crmflow.stages.customer_stages` frame."""
    orders = stages["orders"].astype("int64")
    return RepeatRate(int((orders >= 1).sum()), int((orders >= 2).sum()))


def curve_total(curve: pd.DataFrame) -> float:
    """The total of a Pareto curve (0 without customers)."""
    return float(curve["cumulative_value"].iloc[-1]) if len(curve) else 0.0


def relative_change(now: float, before: float) -> float | None:
    """(now - before) / |before|; None when before is 0 (no base to compare)."""
    if before == 0 or not math.isfinite(before) or not math.isfinite(now):
        return None
    return (now - before) / abs(before)


def overview_kpis(db: Database, dataset_id: int | Scope, as_of: date, since: date,
                  params: Params = DEFAULT_PARAMS) -> OverviewKpis:
    """The Overview's KPI cards at D = ``as_of`` compared with C = ``since``."""
    since = min(since, as_of)
    previous = since - (as_of - since)
    year, two_years = years_before(as_of, 1), years_before(as_of, 2)
    revenue = _by_date(stored_or_run(db, "revenue_to_date", dataset_id, dates=[as_of, year, two_years]))
    totals = {d: float(revenue.loc[d, "revenue"]) for d in (as_of, year, two_years)}
    events = _by_date(stored_or_run(db, "won_back_lost_to_date", dataset_id, dates=[as_of, since, previous],
                                    as_of=as_of, lost_after_days=params.lost_after_days))
    summary = stored_or_run(db, "stage_summary", dataset_id, dates=[as_of, since], **params.as_sql_params())
    summary["snapshot_date"] = pd.to_datetime(summary["snapshot_date"]).dt.date

    def counts(d: date) -> dict[str, int]:
        at = summary[summary["snapshot_date"] == d]
        found = {stage: int(n) for stage, n in zip(at["stage"], at["customers"])}
        return {stage: found.get(stage, 0) for stage in STAGES}

    def repeat(d: date) -> RepeatRate:
        at = summary[summary["snapshot_date"] == d]
        return RepeatRate(int(at["buyers"].sum()), int(at["repeat_buyers"].sum()))

    def between(column: str, start: date, end: date) -> int:
        return int(events.loc[end, column]) - int(events.loc[start, column])

    return OverviewKpis(
        as_of=as_of,
        since=since,
        counts=counts(as_of),
        counts_before=counts(since),
        revenue_12m=totals[as_of] - totals[year],
        revenue_prev_12m=totals[year] - totals[two_years],
        repeat=repeat(as_of),
        repeat_before=repeat(since),
        won_back=between("won_back", since, as_of),
        lost=between("lost", since, as_of),
        won_back_prev=between("won_back", previous, since),
        lost_prev=between("lost", previous, since),
    )


def _by_date(frame: pd.DataFrame) -> pd.DataFrame:
    """A per-date query result indexed by its snapshot dates (as ``date``)."""
    frame.index = pd.to_datetime(frame["snapshot_date"]).dt.date
    return frame


# --------------------------------------------------------------------------- chart findings
@dataclass(frozen=True)
class Change:
    """A value at the start and at the end of a series."""

    name: str
    start_date: date
    start: float
    end_date: date
    end: float


def largest_stage_change(snapshots: pd.DataFrame) -> Change | None:
    """The stage whose count changed most (absolute) from the first to the last
    row of a :func:`crmflow.stages.stage_snapshots` frame (ties: flow order);
    None with fewer than two rows."""
    if len(snapshots) < 2:
        return None
    first, last = snapshots.iloc[0], snapshots.iloc[-1]
    stage = max(STAGES, key=lambda s: (abs(int(last[s]) - int(first[s])), -STAGES.index(s)))
    return Change(stage, pd.Timestamp(first["snapshot_date"]).date(), int(first[stage]),
                  pd.Timestamp(last["snapshot_date"]).date(), int(last[stage]))


def series_change(frame: pd.DataFrame, column: str, date_column: str = "snapshot_date") -> Change | None:
    """First and last non-missing value of ``column`` (None when there is none)."""
    values = frame[[date_column, column]].dropna()
    if values.empty:
        return None
    first, last = values.iloc[0], values.iloc[-1]
    return Change(column, pd.Timestamp(first[date_column]).date(), float(first[column]),
                  pd.Timestamp(last[date_column]).date(), float(last[column]))


def bottom30_callout(share: float | None) -> str | None:
    """'negative' when the bottom 30% of customers destroy value, 'low' when they
    bring less than :data:`BOTTOM30_LOW` of it, else None."""
    if share is None:
        return None
    if share < 0:
        return "negative"
    if share < BOTTOM30_LOW:
        return "low"
    return None
