"""The Customer flow view's numbers (SPEC §3.2), computed from the flow table
of :func:`crmflow.stages.flow` (one row per (from_stage, to_stage) pair with
its customers between D1 < D2). Pure functions: frame in, frame or numbers out.

Stage conversion rates between D1 and D2 (:data:`CONVERSIONS`)
    Each rate is ``customers in one of the from stages at D1 and in one of the
    to stages at D2`` divided by ``customers in one of the from stages at D1``
    (NaN when nobody was in them at D1):

    ``potential_to_customer``  potential at D1 -> any stage with an order at D2
                               (first, repeat, loyal or lost): leads that bought.
    ``first_to_repeat``        first purchase at D1 -> repeat or loyal at D2:
                               bought again and still active.
    ``repeat_to_loyal``        repeat at D1 -> loyal at D2.
    ``loyal_kept``             loyal at D1 -> still loyal at D2.
    ``active_to_lost``         first, repeat or loyal at D1 -> lost at D2 (churn).
    ``lost_to_won_back``       lost at D1 -> first, repeat or loyal at D2 (挽回).

    They compare two snapshots: a customer who became lost and was won back
    between D1 and D2 counts where they are at D2.

Flow summary (:func:`flow_summary`)
    ``gained``: not yet a customer or potential at D1 and with an order at D2
    (first, repeat, loyal or lost); ``became_lost``: active at D1, lost at D2;
    ``won_back``: lost at D1, active at D2; ``active_start``/``active_end``:
    first + repeat + loyal at D1 / D2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from crmflow.config import STAGES_WITH_NONE
from crmflow.overview import years_before

ACTIVE = ("first", "repeat", "loyal")
BOUGHT = ("first", "repeat", "loyal", "lost")
NOT_BOUGHT = ("none", "potential")


@dataclass(frozen=True)
class Conversion:
    key: str
    from_stages: tuple[str, ...]
    to_stages: tuple[str, ...]


#: The stage conversion rates, in the order the view shows them.
CONVERSIONS = (
    Conversion("potential_to_customer", ("potential",), BOUGHT),
    Conversion("first_to_repeat", ("first",), ("repeat", "loyal")),
    Conversion("repeat_to_loyal", ("repeat",), ("loyal",)),
    Conversion("loyal_kept", ("loyal",), ("loyal",)),
    Conversion("active_to_lost", ACTIVE, ("lost",)),
    Conversion("lost_to_won_back", ("lost",), ACTIVE),
)
CONVERSION_COLUMNS = ("conversion", "customers_from", "customers_to", "rate")


def _count(flow: pd.DataFrame, from_stages: tuple[str, ...], to_stages: tuple[str, ...] | None = None) -> int:
    mask = flow["from_stage"].isin(from_stages)
    if to_stages is not None:
        mask &= flow["to_stage"].isin(to_stages)
    return int(flow.loc[mask, "customers"].sum())


def _count_to(flow: pd.DataFrame, to_stages: tuple[str, ...]) -> int:
    return int(flow.loc[flow["to_stage"].isin(to_stages), "customers"].sum())


def conversion_rates(flow: pd.DataFrame) -> pd.DataFrame:
    """One row per :data:`CONVERSIONS` entry: conversion (key), customers_from
    (in the from stages at D1), customers_to (of those, in the to stages at D2),
    rate (customers_to / customers_from; NaN when customers_from is 0)."""
    rows = []
    for c in CONVERSIONS:
        base = _count(flow, c.from_stages)
        hits = _count(flow, c.from_stages, c.to_stages)
        rows.append({"conversion": c.key, "customers_from": base, "customers_to": hits,
                     "rate": hits / base if base else float("nan")})
    return pd.DataFrame(rows, columns=list(CONVERSION_COLUMNS)).astype(
        {"customers_from": "int64", "customers_to": "int64", "rate": "float64"})


@dataclass(frozen=True)
class FlowSummary:
    customers: int
    gained: int
    became_lost: int
    won_back: int
    active_start: int
    active_end: int


def flow_summary(flow: pd.DataFrame) -> FlowSummary:
    """The headline numbers of a flow table (see the module docstring)."""
    return FlowSummary(
        customers=int(flow["customers"].sum()),
        gained=_count(flow, NOT_BOUGHT, BOUGHT),
        became_lost=_count(flow, ACTIVE, ("lost",)),
        won_back=_count(flow, ("lost",), ACTIVE),
        active_start=_count(flow, ACTIVE),
        active_end=_count_to(flow, ACTIVE),
    )


def stages_present(flow: pd.DataFrame, side: str) -> list[str]:
    """Stages with customers on one side (``from_stage``/``to_stage``), in flow order."""
    present = set(flow.loc[flow["customers"] > 0, side])
    return [s for s in STAGES_WITH_NONE if s in present]


def transition_matrix(flow: pd.DataFrame) -> pd.DataFrame:
    """Customers from each stage at D1 (rows: the stages with customers at D1)
    to each stage at D2 (columns: the stages with customers at D2), stage
    keys in flow order, zeros filled."""
    rows, columns = stages_present(flow, "from_stage"), stages_present(flow, "to_stage")
    matrix = flow.pivot_table(index="from_stage", columns="to_stage", values="customers", aggfunc="sum",
                              fill_value=0) if len(flow) else pd.DataFrame()
    matrix = matrix.reindex(index=rows, columns=columns, fill_value=0).astype("int64")
    matrix.index.name, matrix.columns.name = "from_stage", "to_stage"
    return matrix


# --------------------------------------------------------------------------- the start date D1
def start_bounds(first: date, as_of: date) -> tuple[date, date]:
    """Earliest and latest D1 for D2 = ``as_of``: from the day before the first
    order (nobody has bought yet) to the day before D2."""
    return first - timedelta(days=1), as_of - timedelta(days=1)


def default_start(first: date, as_of: date) -> date:
    """D1 when the user has not chosen one: one year before D2, within
    :func:`start_bounds`."""
    low, high = start_bounds(first, as_of)
    return min(max(years_before(as_of, 1), low), high)


def clamp_start(wanted: date | None, first: date, as_of: date) -> date:
    """A requested D1 (e.g. from the URL) moved into :func:`start_bounds`; the
    default when there is none."""
    if wanted is None:
        return default_start(first, as_of)
    low, high = start_bounds(first, as_of)
    return min(max(wanted, low), high)


# --------------------------------------------------------------------------- drill-down bands
BAND_SEPARATOR = ">"


def band_key(from_stage: str, to_stage: str) -> str:
    """A flow band as one URL-friendly string, e.g. ``loyal>lost``."""
    return f"{from_stage}{BAND_SEPARATOR}{to_stage}"


def parse_band(key: str | None) -> tuple[str, str] | None:
    """``(from_stage, to_stage)`` of a band key; None when it is not one."""
    if not key or key.count(BAND_SEPARATOR) != 1:
        return None
    from_stage, to_stage = key.split(BAND_SEPARATOR)
    if from_stage not in STAGES_WITH_NONE or to_stage not in STAGES_WITH_NONE:
        return None
    return from_stage, to_stage


def bands(flow: pd.DataFrame) -> list[tuple[str, str, int]]:
    """The non-empty flow bands (from_stage, to_stage, customers), in flow order."""
    order = {s: i for i, s in enumerate(STAGES_WITH_NONE)}
    rows = [(f, t, int(n)) for f, t, n in zip(flow["from_stage"], flow["to_stage"], flow["customers"]) if n > 0]
    return sorted(rows, key=lambda r: (order[r[0]], order[r[1]]))


def default_band(flow: pd.DataFrame) -> tuple[str, str] | None:
    """The band the drill-down opens on: the largest move into ``lost``, else the
    largest band that changes stage, else the largest band (None when empty)."""
    rows = bands(flow)
    for candidates in ([r for r in rows if r[1] == "lost" and r[0] != "lost"],
                       [r for r in rows if r[0] != r[1]], rows):
        if candidates:
            best = max(candidates, key=lambda r: r[2])  # first of equals: flow order
            return best[0], best[1]
    return None


# --------------------------------------------------------------------------- months in the window
def months_from(monthly: pd.DataFrame, start: date) -> pd.DataFrame:
    """Rows of a monthly frame (column ``month`` = first day of the month) from
    ``start``'s month on."""
    if monthly.empty:
        return monthly.copy()
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    return monthly.loc[pd.to_datetime(monthly["month"]) >= first].reset_index(drop=True)
