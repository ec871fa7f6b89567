"""The stage engine (SPEC §2): stage of each customer at D, counts, flow,
monthly snapshots, won back and lost per month.

Each function runs one named query from ``queries/stages/`` with bound
parameters; the rules live in the SQL so that the same files run elsewhere.
The month-end series and won back/lost months are read from the dataset's
stored results when the call asks for them (crmflow.results).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from crmflow.config import STAGES, STAGES_WITH_NONE, Params
from crmflow.db import Database
from crmflow.errors import CrmflowError
from crmflow.results import stored_or_run


def data_range(db: Database, dataset_id: int) -> tuple[date, date]:
    """(first, last) order date of a dataset; an error when it has no orders."""
    row = db.run("last_order_date", dataset_id=dataset_id).iloc[0]
    if pd.isna(row["last_order_date"]):
        raise CrmflowError(
            "The data has no orders (no row with an amount above zero)",
            "Check that the amount column is mapped to the order value",
        )
    return pd.Timestamp(row["first_order_date"]).date(), pd.Timestamp(row["last_order_date"]).date()


def resolve_as_of(db: Database, dataset_id: int, as_of: date | None = None) -> date:
    """D: the given date, else the last order date in the data."""
    return as_of if as_of is not None else data_range(db, dataset_id)[1]


def customer_stages(db: Database, dataset_id: int, as_of: date, params: Params = Params()) -> pd.DataFrame:
    """One row per known customer with its stage at ``as_of`` (``none`` included)."""
    return db.run("customer_stages", dataset_id=dataset_id, dates=[as_of], **params.as_sql_params())


def stage_counts(db: Database, dataset_id: int, as_of: date, params: Params = Params()) -> dict[str, int]:
    """Customers per stage at ``as_of``, every stage present, in flow order."""
    df = stored_or_run(db, "stage_counts", dataset_id, dates=[as_of], **params.as_sql_params())
    counts = {stage: int(n) for stage, n in zip(df["stage"], df["customers"])}
    return {stage: counts.get(stage, 0) for stage in STAGES}


def flow(db: Database, dataset_id: int, start: date, end: date, params: Params = Params()) -> pd.DataFrame:
    """Transition counts between ``start`` < ``end`` (``none`` for absent), in stage order."""
    if not start < end:
        raise CrmflowError(
            f"The flow needs a start date before its end date (got {start} and {end})",
            "Pass --from D1 --to D2 with D1 earlier than D2",
        )
    df = db.run("stage_flow", dataset_id=dataset_id, dates=[start, end], **params.as_sql_params())
    order = {s: i for i, s in enumerate(STAGES_WITH_NONE)}
    df["customers"] = df["customers"].astype(int)
    df = df.sort_values(["from_stage", "to_stage"], key=lambda s: s.map(order)).reset_index(drop=True)
    return df


def flow_customers(db: Database, dataset_id: int, start: date, end: date, from_stage: str, to_stage: str,
                   params: Params = Params()) -> pd.DataFrame:
    """The customers in one flow band (drill-down)."""
    return db.run("flow_customers", dataset_id=dataset_id, dates=[start, end], from_stage=from_stage,
                  to_stage=to_stage, **params.as_sql_params())


def as_dates(values: pd.Series) -> list:
    """Each value of a column of dates or timestamps as a ``datetime.date``,
    None where it is missing; converted as a whole column (text, if any, is
    read value by value as pd.Timestamp reads it, and text that reads as no
    date stays NaT). A list: pandas infers its dtype when it is assigned
    (object; float64 when empty)."""
    values = pd.Series(values)
    dates = pd.to_datetime(values, format="mixed").dt.date.to_numpy(dtype=object, copy=True)
    dates[values.isna().to_numpy()] = None
    return dates.tolist()


def month_ends(start: date, end: date) -> list[date]:
    """Every month end from ``start``'s month to ``end``'s, with ``end`` itself last."""
    ends = [d.date() for d in pd.date_range(start, end, freq="ME")]
    if not ends or ends[-1] != end:
        ends.append(end)
    return ends


def stage_snapshots(db: Database, dataset_id: int, start: date, end: date,
                    params: Params = Params()) -> pd.DataFrame:
    """Customers per stage at each month end in [start, end] (and at ``end``),
    wide: one row per snapshot date, one column per stage."""
    dates = month_ends(start, end)
    long = stored_or_run(db, "stage_snapshots", dataset_id, dates=dates, **params.as_sql_params())
    wide = long.pivot_table(index="snapshot_date", columns="stage", values="customers", aggfunc="sum", fill_value=0)
    wide = wide.reindex(index=pd.to_datetime(dates), columns=list(STAGES), fill_value=0)
    wide.index.name = "snapshot_date"
    return wide.astype(int).reset_index()


def won_back_lost_monthly(db: Database, dataset_id: int, as_of: date, params: Params = Params()) -> pd.DataFrame:
    """Won back and newly lost customers per calendar month up to ``as_of``."""
    df = stored_or_run(db, "won_back_lost_monthly", dataset_id, as_of=as_of,
                       lost_after_days=params.lost_after_days)
    return df.astype({"won_back": int, "lost": int})
