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

from crmflow import analytics, loyalty, model
from crmflow.config import Params
from crmflow.db import Database
from crmflow.errors import CrmflowError
from crmflow.i18n import DEFAULT_LANGUAGE, t
from crmflow.results import stored_frame
from crmflow.stages import customer_stages

#: Columns of :func:`build_customer_table`, in download order.
CUSTOMER_TABLE_COLUMNS = (
    "customer_id", "segment", "stage", "r_score", "f_score", "m_score", "recency_days", "frequency",
    "monetary", "first_order_date", "last_order_date", "p_alive", "expected_orders", "expected_orders_low",
    "expected_orders_high", "expected_value", "expected_value_low", "expected_value_high",
)
#: The CLV prediction columns of the table (with their 90% intervals).
SHOWN_PREDICTION_COLUMNS = ("p_alive", "expected_orders", "expected_orders_low", "expected_orders_high",
                            "expected_value", "expected_value_low", "expected_value_high")
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
    shown = [c for c in SHOWN_PREDICTION_COLUMNS if predictions is not None and c in predictions.columns]
    if predictions is not None and not predictions.empty:
        table = table.merge(predictions[["customer_id", *shown]], on="customer_id", how="left",
                            validate="one_to_one")
    for col in SHOWN_PREDICTION_COLUMNS:
        if col not in table.columns:
            table[col] = np.nan
    for col in SCORE_COLUMNS:
        table[col] = table[col].astype("Int64")
    for col in ("monetary", *SHOWN_PREDICTION_COLUMNS):
        table[col] = table[col].astype("float64")
    table["customer_id"] = table["customer_id"].astype(str)
    table["stage"] = table["stage"].astype(object)
    table["segment"] = table["segment"].astype(object)
    table = table.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    return table[list(CUSTOMER_TABLE_COLUMNS)]


def with_loyalty(table: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """The all-customers table with the per-customer loyalty measures
    (:data:`crmflow.loyalty.DOWNLOAD_COLUMNS`) after its own columns; empty
    for customers without an order on or before D."""
    extra = [c for c in loyalty.DOWNLOAD_COLUMNS if c not in ("orders",)]
    right = measures[["customer_id", *extra]].astype({"customer_id": str})
    out = table.merge(right, on="customer_id", how="left", validate="one_to_one")
    for col in ("orders_in_window", "buying_days", "categories_bought", "orders_after_complaint"):
        out[col] = out[col].astype("Int64")
    return out


def download_frame(table: pd.DataFrame, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The all-customers table for a CSV/Excel download: segment and stage in
    words, column headers in ``lang``, numbers rounded for reading."""
    out = table.copy()
    out["segment"] = [t(f"segment_{s}", lang) if isinstance(s, str) else "" for s in out["segment"]]
    out["stage"] = [t(f"stage_{s}", lang) if isinstance(s, str) else "" for s in out["stage"]]
    out["monetary"] = out["monetary"].round(2)
    out["p_alive"] = out["p_alive"].round(4)
    for col in ("expected_orders", "expected_orders_low", "expected_orders_high"):
        out[col] = out[col].round(3)
    for col in ("expected_value", "expected_value_low", "expected_value_high"):
        out[col] = out[col].round(2)
    for col in ("interval_cv", "breadth"):
        if col in out.columns:
            out[col] = out[col].round(4)
    out.columns = [t(f"seg_col_{c}", lang) for c in out.columns]
    return out


# --------------------------------------------------------------------------- the view's data
@dataclass(frozen=True)
class ModelNote:
    """One sentence about the CLV fit, as a translation key and its values
    (the values named in ``translated`` are label keys themselves)."""

    key: str
    values: dict[str, object] = field(default_factory=dict)
    translated: tuple[str, ...] = ("model", "chosen")

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        values = {k: (t(v, lang) if k in self.translated else v) for k, v in self.values.items()}
        return t(self.key, lang, **values)

    @property
    def level(self) -> str:
        """How the page shows it: ``success`` (a good fit), ``warning`` (the fit
        failed or fell back to a regularised one: treat the numbers with care)
        or ``info`` (a fact about the data or the choice)."""
        if self.key == "seg_clv_note_converged":
            return "success"
        return "warning" if self.key in WARNING_NOTES else "info"


#: Notes that say the numbers need care.
WARNING_NOTES = ("seg_clv_note_spend_fallback", "clv_purchase_regularised", "clv_purchase_failed", "clv_spend_regularised", "clv_spend_failed")


@dataclass(frozen=True)
class SegmentView:
    """Everything the Segments view shows about segments and expected value at D."""

    as_of: date
    customers: pd.DataFrame  # build_customer_table
    summary: pd.DataFrame  # analytics.summarise_segments
    notes: tuple[ModelNote, ...] = ()  # the CLV fit in plain words (translated)
    messages: tuple[str, ...] = ()  # the model's own messages (English)
    error: CrmflowError | None = None  # why there is no CLV prediction (error.localized(lang)), when there is none
    choice: ModelNote | None = None  # which purchase model and fit were chosen, and why
    candidates: pd.DataFrame | None = None  # candidate_table
    parameters: pd.DataFrame | None = None  # parameter_table
    model: str | None = None  # "bgnbd" / "mbgnbd"

    @property
    def has_model(self) -> bool:
        return self.error is None


def fit_notes(fit: model.ClvFit) -> tuple[ModelNote, ...]:
    """The fit's status as translatable sentences, one for the purchase and one
    for the spend model: the model's own note (:mod:`crmflow.clv`'s
    ``note_key_``: e.g. "customers here do not seem to drop out" for a
    maximum-likelihood fit at a -> 0, nobody repeats, a regularised fallback),
    with a converged fit as ``seg_clv_note_converged`` and a penalised fit that
    the backtest chose as ``clvchoice_note_penalised``; and the spend fallback
    when no spend model could be fitted."""
    summary = fit.summary
    base = {"customers": len(summary), "repeat": int((summary["frequency"] > 0).sum())}
    choice = getattr(fit, "choice", None)
    notes = []
    purchase = fit.purchase
    if (choice is not None and choice.chosen.penalizer is not None and getattr(purchase, "penalized_", False)
            and getattr(purchase, "note_key_", "") == "clv_purchase_penalised"):
        notes.append(ModelNote("clvchoice_note_penalised", dict(base)))
    else:
        notes.append(_model_note(purchase, "seg_clv_model_purchase", base))
    if fit.gamma_gamma is not None:
        notes.append(_model_note(fit.gamma_gamma, "seg_clv_model_spend", base))
    else:
        notes.append(ModelNote("seg_clv_note_spend_fallback", {}))
    return tuple(notes)


def _model_note(m: object, name: str, base: dict) -> ModelNote:
    """The model's own note (every :mod:`crmflow.clv` model sets ``note_key_``);
    a converged fit as ``seg_clv_note_converged`` with the customer counts."""
    key = m.note_key_
    if not key.endswith("_converged"):
        return ModelNote(key, dict(m.note_params_), translated=())
    return ModelNote("seg_clv_note_converged", {"model": name, **base})


def candidate_label(name: str) -> str:
    """Translation key of a candidate fit (``bgnbd_ml`` ...) or a model (``bgnbd``)."""
    return f"clvchoice_cand_{name}"


def choice_note(choice: model.ModelChoice) -> ModelNote:
    """Which purchase model and fit were chosen, and why, in one sentence."""
    chosen = candidate_label(choice.chosen.name)
    if choice.reason == "backtest":
        result = choice.chosen_result
        days = (choice.holdout_end - choice.calibration_end).days
        return ModelNote("clvchoice_choice_backtest", {
            "chosen": chosen, "calibration_end": choice.calibration_end.isoformat(), "days": days,
            "predicted": result.predicted, "actual": result.actual, "n": len(choice.results)})
    if choice.reason == "short_history":
        return ModelNote("clvchoice_choice_short", {"chosen": chosen, "min_days": model.MIN_CHOICE_HISTORY_DAYS})
    return ModelNote("clvchoice_choice_requested", {"chosen": chosen})


#: Columns of :func:`candidate_table`.
CANDIDATE_COLUMNS = ("candidate", "predicted", "actual", "absolute_error", "mean_absolute_error", "chosen")


def candidate_table(choice: model.ModelChoice) -> pd.DataFrame:
    """Every candidate's holdout forecast: one row per candidate fit (its name,
    e.g. ``bgnbd_ml``), predicted and actual orders, the absolute error of the
    total, the mean absolute error per customer and whether it was chosen.
    Empty when there was no choice by backtest."""
    rows = [(r.candidate.name, r.predicted, r.actual, r.absolute_error, r.mean_absolute_error,
             r.candidate == choice.chosen) for r in choice.results]
    return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))


#: Columns of :func:`parameter_table`.
PARAMETER_COLUMNS = ("model", "parameter", "estimate", "standard_error")


def parameter_table(fit: model.ClvFit) -> pd.DataFrame:
    """Each parameter of the purchase and the spend model with its estimate and
    standard error (NaN where undefined: a parameter at an edge)."""
    errors = fit.standard_errors()
    rows = [("seg_clv_model_purchase", k, float(v), errors.get(k)) for k, v in fit.purchase.params_.items()]
    if fit.gamma_gamma is not None:
        rows += [("seg_clv_model_spend", k, float(v), errors.get(k)) for k, v in fit.gamma_gamma.params_.items()]
    table = pd.DataFrame(rows, columns=list(PARAMETER_COLUMNS))
    table["standard_error"] = table["standard_error"].astype("float64")
    return table


def segment_view(db: Database, dataset_id: int, as_of: date, params: Params = DEFAULT_PARAMS) -> SegmentView:
    """RFM segments, stages and the CLV model's predictions as of ``as_of``.
    At D with the default definitions the all-customers table is the one stored
    with the dataset's fits (:func:`customers_state`); else it is built here."""
    stored = stored_frame(db, "segment_customers", dataset_id, as_of=as_of, **params.as_sql_params())
    predictions = None
    notes: tuple[ModelNote, ...] = ()
    messages: tuple[str, ...] = ()
    error = None
    extra: dict[str, object] = {}
    try:
        if stored is None:
            predictions, fit = model.customer_values(db, dataset_id, as_of, intervals=True)
        else:  # the fit the stored table's predictions came from (its stored parameters)
            fit = model.fit_clv(db, dataset_id, as_of)
        notes, messages = fit_notes(fit), tuple(fit.messages)
        extra = {"choice": choice_note(fit.choice), "candidates": candidate_table(fit.choice),
                 "parameters": parameter_table(fit), "model": fit.model}
    except CrmflowError as exc:
        error = exc
    if stored is None:
        scores = analytics.rfm(db, dataset_id, as_of)
        customers = _customers(db, dataset_id, as_of, params, predictions, scores)
    else:  # the customers with an order on or before D are the RFM frame's rows, in its order
        customers = stored
        scores = customers.loc[customers["segment"].notna(), ["customer_id", "segment", "recency_days", "frequency",
                                                               "monetary"]]
        scores = scores.astype({"recency_days": "int64", "frequency": "int64"})  # as analytics.rfm types them
    return SegmentView(as_of, customers, analytics.summarise_segments(scores), notes, messages, error, **extra)


def _customers(db: Database, dataset_id: int, as_of: date, params: Params,
               predictions: pd.DataFrame | None, scores: pd.DataFrame) -> pd.DataFrame:
    """The all-customers table from the RFM ``scores`` (:func:`analytics.rfm`) at ``as_of``."""
    return with_loyalty(build_customer_table(customer_stages(db, dataset_id, as_of, params), scores, predictions),
                        loyalty.customer_measures(db, dataset_id, as_of, params))


def customers_state(db: Database, dataset_id: int, as_of: date, **definitions: int) -> pd.DataFrame | None:
    """The Segments view's all-customers table at ``as_of`` to be stored with the
    fits (crmflow.results.FRAME_FITS), built from the fit at D; None when the
    CLV model cannot be fitted (the view then says why, and builds the table)."""
    params = Params(**definitions)
    try:
        predictions, _ = model.customer_values(db, dataset_id, as_of, intervals=True)
    except CrmflowError:
        return None
    return _customers(db, dataset_id, as_of, params, predictions, analytics.rfm(db, dataset_id, as_of))


# --------------------------------------------------------------------------- backtest
@dataclass(frozen=True)
class BacktestView:
    """The backtest (SPEC §2) as plain values, or why it could not be run."""

    result: dict[str, object] | None  # model.Backtest.as_dict()
    by_decile: pd.DataFrame | None
    notes: tuple[ModelNote, ...] = ()
    messages: tuple[str, ...] = ()
    error: CrmflowError | None = None  # shown with error.localized(lang)

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
        return BacktestView(None, None, error=exc)
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
