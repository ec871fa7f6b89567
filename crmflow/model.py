"""The CLV model on a stored dataset (SPEC §2): fit, per-customer predictions
and the backtest that says whether to trust them.

The numerical core is :mod:`crmflow.clv` (BG/NBD + Gamma-Gamma); this module
turns a dataset into its calibration summary (``queries/model/clv_summary.sql``:
day-level purchases, time in weeks), fits both models, and measures the fit
on a holdout.

* :func:`fit_clv` fits on the purchases up to a calibration end.
* :meth:`ClvFit.predict` gives, per customer, P(alive), expected orders and
  expected (discounted) value over a horizon.
* :func:`backtest` fits on the data up to D - h and compares predicted with
  actual purchases in (D - h, D]: in total, by decile of prediction and as the
  mean absolute error per customer. h defaults to a quarter of the history,
  at most a year.

Fitting never needs hand tuning: :mod:`crmflow.clv` compresses identical
customers, and falls back to a lightly regularised fit (with a plain-words
message) when the maximum-likelihood fit does not converge. When no spend
model can be fitted at all (nobody bought twice with a positive amount) the
expected value uses each customer's own mean purchase value instead, and the
messages say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from crmflow.clv import BGNBD, GammaGamma, customer_lifetime_value
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError

#: Horizon of "expected value over the next 12 months", in weeks.
DEFAULT_HORIZON_WEEKS = 52
#: Annual discount rate for expected value.
DEFAULT_DISCOUNT_RATE = 0.10
#: The backtest's holdout is a quarter of the history, at most this many days.
MAX_HOLDOUT_DAYS = 365

PREDICTION_COLUMNS = ("customer_id", "frequency", "recency_weeks", "t_weeks", "monetary", "p_alive",
                      "expected_orders", "expected_spend", "expected_value")


@dataclass(frozen=True)
class ClvFit:
    """Both models fitted on the purchases up to ``calibration_end``."""

    calibration_end: date
    summary: pd.DataFrame
    bgnbd: BGNBD
    gamma_gamma: GammaGamma | None
    messages: tuple[str, ...]

    @property
    def customers(self) -> int:
        return len(self.summary)

    @property
    def converged(self) -> bool:
        """True when both models converged without the regularised fallback."""
        return bool(self.bgnbd.converged_ and self.gamma_gamma is not None and self.gamma_gamma.converged_)

    def parameters(self) -> dict[str, dict[str, float] | None]:
        return {"bgnbd": dict(self.bgnbd.params_),
                "gamma_gamma": dict(self.gamma_gamma.params_) if self.gamma_gamma is not None else None}

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.summary
        return (s["frequency"].to_numpy(np.float64), s["recency_weeks"].to_numpy(np.float64),
                s["t_weeks"].to_numpy(np.float64), s["monetary"].to_numpy(np.float64))

    def expected_orders(self, weeks: float) -> np.ndarray:
        """Each customer's expected purchases in the ``weeks`` after the calibration end."""
        x, tx, T, _ = self._arrays()
        if weeks <= 0:
            return np.zeros(len(x))
        return np.maximum(self.bgnbd.expected_purchases(weeks, x, tx, T), 0.0)

    def expected_spend(self) -> np.ndarray:
        """Expected value of one future purchase of each customer."""
        x, _, _, m = self._arrays()
        if self.gamma_gamma is not None:
            return self.gamma_gamma.expected_spend(x, m)
        return np.maximum(self.summary["mean_purchase_value"].to_numpy(np.float64), 0.0)

    def predict(self, horizon_weeks: float = DEFAULT_HORIZON_WEEKS,
                discount_rate: float = DEFAULT_DISCOUNT_RATE) -> pd.DataFrame:
        """One row per customer: the summary, P(alive), expected orders and
        expected spend per order over ``horizon_weeks``, and expected value
        (discounted at ``discount_rate`` a year); all ≥ 0."""
        x, tx, T, m = self._arrays()
        out = self.summary[["customer_id", "frequency", "recency_weeks", "t_weeks", "monetary"]].copy()
        out["p_alive"] = np.clip(self.bgnbd.p_alive(x, tx, T), 0.0, 1.0)
        out["expected_orders"] = self.expected_orders(horizon_weeks)
        spend = self.expected_spend()
        out["expected_spend"] = spend
        if self.gamma_gamma is not None:
            value = customer_lifetime_value(self.bgnbd, self.gamma_gamma, x, tx, T, m,
                                            horizon_weeks=horizon_weeks, discount_rate_annual=discount_rate)
        else:
            value = _discounted_value(self, spend, horizon_weeks, discount_rate)
        out["expected_value"] = np.maximum(np.nan_to_num(value, nan=0.0), 0.0)
        return out


def _discounted_value(fit: ClvFit, spend: np.ndarray, horizon_weeks: float, discount_rate: float,
                      step_weeks: float = 4) -> np.ndarray:
    """The stepwise discounted sum of :func:`crmflow.clv.customer_lifetime_value`
    with a given spend per purchase (used when no spend model could be fitted)."""
    n_steps = math.ceil(horizon_weeks / step_weeks - 1e-9)
    total = np.zeros(len(spend))
    previous = np.zeros(len(spend))
    for i in range(1, n_steps + 1):
        end = min(step_weeks * i, horizon_weeks)
        current = fit.expected_orders(end)
        total += (1.0 + discount_rate) ** (-end / (365.25 / 7)) * np.maximum(current - previous, 0.0)
        previous = current
    return spend * total


def fit_clv(db: Database, dataset_id: int | Scope, calibration_end: date) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on the purchases up to ``calibration_end``.

    The fit is kept on ``db`` (:meth:`Database.memoised`) for the same dataset
    (scope) and date: churn warnings, the value matrix and the Segments view
    all start from the fit at D."""
    scope = dataset_id if isinstance(dataset_id, Scope) else Scope(int(dataset_id))
    return db.memoised(("fit_clv", scope, calibration_end), lambda: _fit_clv(db, scope, calibration_end))


def _fit_clv(db: Database, dataset_id: Scope, calibration_end: date) -> ClvFit:
    summary = db.run("clv_summary", dataset_id=dataset_id, calibration_end=calibration_end)
    if summary.empty:
        raise CrmflowError(
            f"No customer made a purchase on or before {calibration_end}, so there is nothing to fit the "
            "CLV model on",
            "Choose a later calibration end (or as-of date)",
        )
    for col in ("frequency", "recency_weeks", "t_weeks", "monetary", "mean_purchase_value"):
        summary[col] = summary[col].astype(np.float64)
    x = summary["frequency"].to_numpy()
    bgnbd = BGNBD().fit(x, summary["recency_weeks"].to_numpy(), summary["t_weeks"].to_numpy())
    messages = [bgnbd.message_]
    gamma_gamma: GammaGamma | None
    try:
        gamma_gamma = GammaGamma().fit(x, summary["monetary"].to_numpy())
        messages.append(gamma_gamma.message_)
    except ValueError:
        gamma_gamma = None
        messages.append("The spend model could not be fitted (no customer bought twice with a positive "
                        "amount); expected value uses each customer's own mean purchase value.")
    return ClvFit(calibration_end, summary, bgnbd, gamma_gamma, tuple(messages))


@dataclass(frozen=True)
class Backtest:
    """Predicted vs. actual purchases in the holdout (calibration_end, holdout_end]."""

    fit: ClvFit
    holdout_end: date
    customers: pd.DataFrame  # customer_id, predicted, actual, decile
    by_decile: pd.DataFrame  # decile, customers, predicted, actual
    messages: tuple[str, ...] = field(default=())

    @property
    def calibration_end(self) -> date:
        return self.fit.calibration_end

    @property
    def holdout_days(self) -> int:
        return (self.holdout_end - self.calibration_end).days

    @property
    def predicted_total(self) -> float:
        return float(self.customers["predicted"].sum())

    @property
    def actual_total(self) -> int:
        return int(self.customers["actual"].sum())

    @property
    def mean_absolute_error(self) -> float:
        return float((self.customers["predicted"] - self.customers["actual"]).abs().mean())

    def as_dict(self) -> dict[str, object]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "holdout_days": self.holdout_days,
            "customers": len(self.customers),
            "predicted_orders": round(self.predicted_total, 4),
            "actual_orders": self.actual_total,
            "mean_absolute_error": round(self.mean_absolute_error, 4),
            "by_decile": [
                {"decile": int(r.decile), "customers": int(r.customers),
                 "predicted": round(float(r.predicted), 4), "actual": int(r.actual)}
                for r in self.by_decile.itertuples()
            ],
        }


def deciles(predicted: pd.Series, customer_ids: pd.Series) -> np.ndarray:
    """Decile of each prediction, 1 = the highest tenth; ties broken by customer id
    so the split never depends on row order. With fewer than ten customers some
    deciles are empty."""
    order = pd.DataFrame({"p": predicted.to_numpy(), "id": customer_ids.to_numpy()}).sort_values(
        ["p", "id"], ascending=[False, True], kind="mergesort")
    n = len(order)
    rank = np.empty(n, dtype=np.int64)
    rank[order.index.to_numpy()] = np.arange(n)
    return rank * 10 // max(n, 1) + 1


def default_holdout_days(first_order: date, as_of: date) -> int:
    """A quarter of the history (first order to D), at least a day, at most a year."""
    return max(1, min(MAX_HOLDOUT_DAYS, (as_of - first_order).days // 4))


def backtest_between(db: Database, dataset_id: int, calibration_end: date, holdout_end: date) -> Backtest:
    """Fit up to ``calibration_end``; compare each customer's predicted and actual
    purchases in (calibration_end, holdout_end]."""
    if not calibration_end < holdout_end:
        raise CrmflowError(
            f"The calibration end ({calibration_end}) must be before the end of the holdout ({holdout_end})",
            "Choose an earlier calibration end, or a later as-of date",
        )
    fit = fit_clv(db, dataset_id, calibration_end)
    weeks = (holdout_end - calibration_end).days / 7
    actual = db.run("holdout_purchases", dataset_id=dataset_id, start_date=calibration_end,
                    end_date=holdout_end)
    frame = pd.DataFrame({"customer_id": fit.summary["customer_id"], "predicted": fit.expected_orders(weeks)})
    frame = frame.merge(actual, on="customer_id", how="left", validate="one_to_one")
    frame["actual"] = frame.pop("actual_purchases").fillna(0).astype(np.int64)
    frame["decile"] = deciles(frame["predicted"], frame["customer_id"])
    by_decile = (frame.groupby("decile", as_index=False)
                 .agg(customers=("customer_id", "size"), predicted=("predicted", "sum"), actual=("actual", "sum")))
    return Backtest(fit, holdout_end, frame, by_decile, fit.messages)


def backtest(db: Database, dataset_id: int, as_of: date, holdout_days: int | None = None) -> Backtest:
    """The backtest of SPEC §2: fit up to D - h, predict (D - h, D]."""
    from crmflow.stages import data_range

    first, _ = data_range(db, dataset_id)
    h = default_holdout_days(first, as_of) if holdout_days is None else int(holdout_days)
    if h < 1:
        raise CrmflowError(f"The holdout must be at least one day (got {h})", "Pass a positive holdout")
    return backtest_between(db, dataset_id, as_of - timedelta(days=h), as_of)


def customer_values(db: Database, dataset_id: int, as_of: date, horizon_weeks: float = DEFAULT_HORIZON_WEEKS,
                    discount_rate: float = DEFAULT_DISCOUNT_RATE) -> tuple[pd.DataFrame, ClvFit]:
    """Per-customer predictions from a fit on everything up to D (the model behind
    churn warnings, the value matrix and the Segments view)."""
    fit = fit_clv(db, dataset_id, as_of)
    return fit.predict(horizon_weeks, discount_rate), fit
