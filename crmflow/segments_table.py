"""The Segments view's data (SPEC §3.5): every customer with its segment,
stage, RFM scores and CLV prediction as of D, the segment summary, the CLV
model's status in plain words, its backtest, and the numbers each chart title
states.

Everything here returns picklable values (DataFrames, dicts, frozen
dataclasses) so the dashboard can cache it.

Definitions used by the chart titles
    * Segment headline: Champions when there are any, otherwise the segment
      with the largest revenue share (the largest segment when no revenue share
      is defined, i.e. the total revenue is not positive).
    * Cohort headline: the mean over cohorts (each cohort weighs the same) of
      the value in month 1 after the first order, over the cohorts whose month 1
      has ended on or before D (all cohorts with a month 1 when none has).
    * Value concentration: the share of the total expected 12-month value held
      by the top ceil(10%) of customers ranked by it.
    * Backtest verdict: predicted vs. actual holdout orders in total; within
      15% is "close", within 35% "rough", beyond that "off".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from crmflow import analytics, model
from crmflow.config import Params
from crmflow.db import Database
from crmflow.errors import CrmflowError
from crmflow.i18n import DEFAULT_LANGUAGE, t
from crmflow.stages import customer_stages

#: Columns of :func:`build_customer_table`, in download order.
CUSTOMER_TABLE_COLUMNS = (
    "customer_id", "segment", "stage", "r_score", "f_score", "m_score", "recency_days", "frequency",
    "monetary", "first_order_date", "last_order_date", "p_alive", "expected_orders", "expected_value",
)
#: Score columns: whole numbers, empty for customers without an order.
SCORE_COLUMNS = ("r_score", "f_score", "m_score", "recency_days", "frequency")
#: Relative error of the predicted holdout orders up to which the model is "close" / "rough".
VERDICT_CLOSE = 0.15
VERDICT_ROUGH = 0.35
DEFAULT_PARAMS = Params()


# --------------------------------------------------------------------------- the all-customers table
def build_customer_table(stages: pd.DataFrame, scores: pd.DataFrame,
                         predictions: pd.DataFrame | None) -> pd.DataFrame:
    """Every customer that exists at D (stage other than ``none``) with its
    stage, RFM segment and scores (empty without an order on or before D) and
    CLV prediction (empty when the model could not be fitted or the customer
    has no purchase).

    ``stages`` as from :func:`crmflow.stages.customer_stages`, ``scores`` from
    :func:`crmflow.analytics.rfm`, ``predictions`` from
    :func:`crmflow.model.customer_values`. One row per customer, sorted by
    customer_id; columns :data:`CUSTOMER_TABLE_COLUMNS`.
    """
    present = stages.loc[stages["stage"] != "none", ["customer_id", "stage"]]
    rfm_cols = ["customer_id", "segment", "r_score", "f_score", "m_score", "recency_days", "frequency",
                "monetary", "first_order_date", "last_order_date"]
    table = present.merge(scores[rfm_cols], on="customer_id", how="outer", validate="one_to_one")
    if predictions is not None and not predictions.empty:
        pred = predictions[["customer_id", "p_alive", "expected_orders", "expected_value"]]
        table = table.merge(pred, on="customer_id", how="left", validate="one_to_one")
    else:
        for col in ("p_alive", "expected_orders", "expected_value"):
            table[col] = np.nan
    for col in SCORE_COLUMNS:
        table[col] = table[col].astype("Int64")
    for col in ("monetary", "p_alive", "expected_orders", "expected_value"):
        table[col] = table[col].astype("float64")
    table["customer_id"] = table["customer_id"].astype(str)
    table["stage"] = table["stage"].astype(object)
    table["segment"] = table["segment"].astype(object)
    table = table.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    return table[list(CUSTOMER_TABLE_COLUMNS)]


def download_frame(table: pd.DataFrame, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The all-customers table for a CSV/Excel download: segment and stage in
    words, column headers in ``lang``, numbers rounded for reading."""
    out = table.copy()
    out["segment"] = [t(f"segment_{s}", lang) if isinstance(s, str) else "" for s in out["segment"]]
    out["stage"] = [t(f"stage_{s}", lang) if isinstance(s, str) else "" for s in out["stage"]]
    out["monetary"] = out["monetary"].round(2)
    out["p_alive"] = out["p_alive"].round(4)
    out["expected_orders"] = out["expected_orders"].round(3)
    out["expected_value"] = out["expected_value"].round(2)
    out.columns = [t(f"seg_col_{c}", lang) for c in out.columns]
    return out


# --------------------------------------------------------------------------- the view's data
@dataclass(frozen=True)
class ModelNote:
    """One sentence about the CLV fit, as a translation key and its values."""

    key: str
    values: dict[str, object] = field(default_factory=dict)

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        values = {k: (t(v, lang) if k == "model" else v) for k, v in self.values.items()}
        return t(self.key, lang, **values)


@dataclass(frozen=True)
class SegmentView:
    """Everything the Segments view shows about segments and expected value at D."""

    as_of: date
    customers: pd.DataFrame  # build_customer_table
    summary: pd.DataFrame  # analytics.summarise_segments
    notes: tuple[ModelNote, ...] = ()  # the CLV fit in plain words (translated)
    messages: tuple[str, ...] = ()  # the model's own messages (English)
    error: str | None = None  # why there is no CLV prediction, when there is none

    @property
    def has_model(self) -> bool:
        return self.error is None


def fit_notes(fit: model.ClvFit) -> tuple[ModelNote, ...]:
    """The fit's status as translatable sentences: for the purchase and the
    spend model, converged / regularised fallback / unusable, and the spend
    fallback when no spend model could be fitted."""
    summary = fit.summary
    customers = len(summary)
    repeat = int((summary["frequency"] > 0).sum())
    notes = []
    models = [("seg_clv_model_purchase", fit.bgnbd)]
    if fit.gamma_gamma is not None:
        models.append(("seg_clv_model_spend", fit.gamma_gamma))
    for name, m in models:
        if not m.penalized_:
            key = "seg_clv_note_converged"
        elif _regularised_fit_converged(m):
            key = "seg_clv_note_regularised"
        else:
            key = "seg_clv_note_failed"
        notes.append(ModelNote(key, {"model": name, "customers": customers, "repeat": repeat}))
    if fit.gamma_gamma is None:
        notes.append(ModelNote("seg_clv_note_spend_fallback", {}))
    return tuple(notes)


def _regularised_fit_converged(m: object) -> bool:
    """Whether a regularised fallback fit converged (only its message says so)."""
    return "not even with regularisation" not in str(getattr(m, "message_", ""))


def segment_view(db: Database, dataset_id: int, as_of: date, params: Params = DEFAULT_PARAMS) -> SegmentView:
    """RFM segments, stages and the CLV model's predictions as of ``as_of``."""
    stages = customer_stages(db, dataset_id, as_of, params)
    scores = analytics.rfm(db, dataset_id, as_of)
    predictions = None
    notes: tuple[ModelNote, ...] = ()
    messages: tuple[str, ...] = ()
    error = None
    try:
        predictions, fit = model.customer_values(db, dataset_id, as_of)
        notes, messages = fit_notes(fit), tuple(fit.messages)
    except CrmflowError as exc:
        error = exc.line()
    return SegmentView(as_of, build_customer_table(stages, scores, predictions),
                       analytics.summarise_segments(scores), notes, messages, error)


# --------------------------------------------------------------------------- backtest
@dataclass(frozen=True)
class BacktestView:
    """The backtest (SPEC §2) as plain values, or why it could not be run."""

    result: dict[str, object] | None  # model.Backtest.as_dict()
    by_decile: pd.DataFrame | None
    notes: tuple[ModelNote, ...] = ()
    messages: tuple[str, ...] = ()
    error: str | None = None

    @property
    def verdict(self) -> str | None:
        """``close`` / ``rough`` / ``off`` (see the module docstring), or None
        when there were no actual orders to compare with."""
        if self.result is None:
            return None
        return verdict(float(self.result["predicted_orders"]), int(self.result["actual_orders"]))


def verdict(predicted: float, actual: int) -> str | None:
    """How close the predicted holdout orders came to the actual ones."""
    if actual <= 0:
        return None
    error = abs(predicted - actual) / actual
    return "close" if error <= VERDICT_CLOSE else ("rough" if error <= VERDICT_ROUGH else "off")


def backtest_view(db: Database, dataset_id: int, as_of: date) -> BacktestView:
    """:func:`crmflow.model.backtest` at ``as_of``; a data problem (e.g. too
    short a history) comes back as ``error`` instead of an exception."""
    try:
        bt = model.backtest(db, dataset_id, as_of)
    except CrmflowError as exc:
        return BacktestView(None, None, error=exc.line())
    return BacktestView(bt.as_dict(), bt.by_decile.copy(), fit_notes(bt.fit), tuple(bt.messages))


# --------------------------------------------------------------------------- headlines
@dataclass(frozen=True)
class SegmentHeadline:
    segment: str
    customers: int
    customer_share: float
    revenue_share: float | None


def segment_headline(summary: pd.DataFrame) -> SegmentHeadline | None:
    """The segment the chart title talks about (see the module docstring);
    None when there are no customers."""
    present = summary[summary["customers"] > 0]
    if present.empty:
        return None
    shares = present["revenue_share"]
    if "champions" in set(present["segment"]):
        row = present[present["segment"] == "champions"].iloc[0]
    elif shares.notna().any():
        row = present.loc[shares.idxmax()]
    else:
        row = present.loc[present["customers"].idxmax()]
    share = row["revenue_share"]
    return SegmentHeadline(str(row["segment"]), int(row["customers"]), float(row["customer_share"]),
                           None if pd.isna(share) else float(share))


def top_revenue_segment(summary: pd.DataFrame) -> SegmentHeadline | None:
    """The segment with the largest revenue share; None when no revenue share
    is defined (no customers, or the total revenue is not positive)."""
    present = summary[(summary["customers"] > 0) & summary["revenue_share"].notna()]
    if present.empty:
        return None
    row = present.loc[present["revenue_share"].idxmax()]
    return SegmentHeadline(str(row["segment"]), int(row["customers"]), float(row["customer_share"]),
                           float(row["revenue_share"]))


def _month_end(month_start: date) -> date:
    nxt = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def cohort_headline(cohorts: pd.DataFrame, as_of: date, value: str = "retention",
                    offset: int = 1) -> float | None:
    """Mean over cohorts of ``value`` in month ``offset`` (see the module
    docstring); None when no cohort has reached that month."""
    rows = cohorts[cohorts["month_offset"] == offset]
    if rows.empty:
        return None
    complete = rows[[_month_end(m) <= as_of for m in rows["activity_month"]]]
    rows = complete if not complete.empty else rows
    return float(rows[value].mean())


@dataclass(frozen=True)
class ValueConcentration:
    customers: int
    total: float
    median: float
    top10_customers: int
    top10_share: float | None


def value_concentration(values: pd.Series | np.ndarray) -> ValueConcentration:
    """How concentrated the expected value is (see the module docstring)."""
    v = np.sort(np.asarray(pd.Series(values).dropna(), dtype=np.float64))[::-1]
    n = int(v.size)
    k = math.ceil(n / 10) if n else 0
    total = float(v.sum()) if n else 0.0
    share = float(v[:k].sum()) / total if n and total > 0 else None
    return ValueConcentration(n, total, float(np.median(v)) if n else 0.0, k, share)
