"""The CLV model on a stored dataset (SPEC §2): fit, per-customer predictions
and the backtest that says whether to trust them.

The numerical core is :mod:`crmflow.clv` (BG/NBD, MBG/NBD and Gamma-Gamma);
this module turns a dataset into its calibration summary
(``queries/model/clv_summary.sql``: day-level purchases, time in weeks),
chooses and fits the purchase model, fits the spend model, and measures the
fit on a holdout.

* :func:`fit_clv` fits on the purchases up to a calibration end.
* :meth:`ClvFit.predict` gives, per customer, P(alive), expected orders and
  expected (discounted) value over a horizon, each with a 90% interval.
* :func:`backtest` fits on the data up to D - h and compares predicted with
  actual purchases in (D - h, D]: in total, by decile of prediction and as the
  mean absolute error per customer. h defaults to a quarter of the history,
  at most a year.

Choosing the purchase model by evidence
---------------------------------------
With ``model="auto"`` (the default) eight candidate fits compete
(:data:`CANDIDATES`): BG/NBD and MBG/NBD, each by plain maximum likelihood
(kept when it lies at an edge of the parameter space, e.g. "customers do not
seem to drop out") and with an L2 penalty on the parameters of three weights
(:data:`CANDIDATE_PENALIZERS`; the same objective as lifetimes'
``penalizer_coef``, so these are the fits a lifetimes user would try; the
penalty pulls the drop-out parameters a and b towards 0, which can forecast a
holdout better when the plain fit overstates drop-out). The penalty's weight
is thus chosen like a ridge regression's: by out-of-sample error.
Each is fitted on the data up to D - h and predicts every customer's
purchases in (D - h, D], the backtest above. The criterion
(:data:`CHOICE_CRITERION`): the smallest absolute error of the total holdout
purchases; ties (within 0.1% of the actual purchases, :data:`TIE_RELATIVE`)
go to the smaller mean absolute error per customer (within 0.1%), then to the
simpler candidate (BG/NBD before MBG/NBD,
maximum likelihood before penalised). The chosen candidate is then fitted on
everything up to D. When the history is too short for a backtest (under
:data:`MIN_CHOICE_HISTORY_DAYS` days, or nobody had bought by D - h) the fit
falls back to BG/NBD by maximum likelihood and says so. ``model="bgnbd"`` or
``"mbgnbd"`` skips the choice and fits that model by maximum likelihood.
The backtest shown for ``auto`` is the chosen candidate's own backtest (the
one it won): it measures the chosen fit, not the choosing.

Uncertainty
-----------
Each parameter has a standard error (from the inverse Hessian of the
log-likelihood, :mod:`crmflow.clv`). The 90% interval of a customer's
expected orders and expected value is a parametric bootstrap: :data:`DRAWS`
parameter draws of the purchase and of the spend model (from the asymptotic
normal of their estimates; a parameter at an edge stays fixed), with a fixed
seed so the same data give the same interval; the 5th and 95th percentile of
the customer's prediction over the draws, widened where needed to contain the
point prediction. (Computing them, spends are taken to three significant
digits and the discounting's timing is the point fit's: the value interval
moves by under 1%, 0.5% at most on CDNOW.) It covers the uncertainty of the parameters, not the
randomness of the customer's actual purchases. It is computed once per
distinct (frequency, recency, age, spend) row, so a million customers cost
what their distinct rows cost.

Fitting never needs hand tuning: :mod:`crmflow.clv` compresses identical
customers. When no spend model can be fitted at all (nobody bought twice
with a positive amount) the expected value uses each customer's own mean
purchase value instead, and the messages say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from crmflow import clv
from crmflow.clv import BGNBD, GammaGamma, customer_lifetime_value
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.results import stored_or_run, stored_params

#: Horizon of "expected value over the next 12 months", in weeks.
DEFAULT_HORIZON_WEEKS = 52
#: Annual discount rate for expected value.
DEFAULT_DISCOUNT_RATE = 0.10
#: The backtest's holdout is a quarter of the history, at most this many days.
MAX_HOLDOUT_DAYS = 365
#: Below this many days of history (first order to D) the model is not chosen by a
#: backtest (its holdout would be under two weeks): BG/NBD by maximum likelihood is used.
MIN_CHOICE_HISTORY_DAYS = 56
#: Weights of the L2 penalty on the (time-rescaled) parameters of the penalised
#: candidates (``crmflow.clv`` ``penalty="ridge"``, lifetimes' ``penalizer_coef``).
CANDIDATE_PENALIZERS = (1e-3, 1e-2, 1e-1)
#: Parameter draws of the bootstrap intervals, their seed and the interval's coverage.
DRAWS = 200
SEED = 20050101
INTERVAL = 0.90
#: The intervals treat spends equal to this many significant digits as one (a relative
#: difference under 0.05%), so that repeat buyers share rows like everyone else.
SPEND_DIGITS = 3
#: Distinct customer rows per block of the interval computation (bounds its memory).
_INTERVAL_BLOCK = 20_000
#: Errors within this share of the actual holdout purchases (of the smaller mean
#: absolute error) count as a tie in the model choice: e.g. BG/NBD and MBG/NBD both at
#: the no-drop-out edge give the same forecast up to rounding.
TIE_RELATIVE = 1e-3

MODELS = ("bgnbd", "mbgnbd")
MODEL_CHOICES = ("auto", *MODELS)

PREDICTION_COLUMNS = ("customer_id", "frequency", "recency_weeks", "t_weeks", "monetary", "p_alive",
                      "expected_orders", "expected_orders_low", "expected_orders_high", "expected_spend",
                      "expected_value", "expected_value_low", "expected_value_high")
#: The interval columns of :meth:`ClvFit.predict`.
INTERVAL_COLUMNS = ("expected_orders_low", "expected_orders_high", "expected_value_low", "expected_value_high")
#: Every parameter with a standard error, purchase model then spend model.
PARAMETERS = ("r", "alpha", "a", "b", "p", "q", "v")

CHOICE_CRITERION = ("smallest absolute error of the total holdout purchases; ties (within 0.1% of the actual "
                    "purchases) by the mean absolute error per customer, then the simpler fit (BG/NBD before MBG/NBD, maximum likelihood "
                    "before penalised); only fits that converged compete")


def _model_class(name: str) -> type:
    if name == "bgnbd":
        return BGNBD
    return clv.MBGNBD


@dataclass(frozen=True)
class Candidate:
    """One way to fit the purchase model: which model, and with which penalty
    (None: maximum likelihood)."""

    model: str
    penalizer: float | None = None

    @property
    def name(self) -> str:
        return f"{self.model}_ml" if self.penalizer is None else f"{self.model}_penalised_{self.penalizer:g}"

    @property
    def fit_kind(self) -> str:
        return "maximum_likelihood" if self.penalizer is None else "penalised"

    def fit(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray):
        if self.penalizer is None:
            return _model_class(self.model)().fit(x, tx, T)
        return _model_class(self.model)().fit(x, tx, T, penalizer=self.penalizer, penalty="ridge")


CANDIDATES = tuple(Candidate(m, w) for m in MODELS for w in (None, *CANDIDATE_PENALIZERS))
FALLBACK = CANDIDATES[0]


@dataclass(frozen=True)
class CandidateResult:
    """How one candidate fitted at the calibration end forecast the holdout."""

    candidate: Candidate
    predicted: float
    actual: int
    mean_absolute_error: float
    log_likelihood: float
    penalized: bool
    boundary: tuple[str, ...]
    converged: bool = True

    @property
    def absolute_error(self) -> float:
        return abs(self.predicted - self.actual)

    def as_dict(self, chosen: bool) -> dict[str, object]:
        ll = self.log_likelihood
        return {"name": self.candidate.name, "model": self.candidate.model, "fit": self.candidate.fit_kind,
                "penalizer": self.candidate.penalizer, "predicted_orders": round(self.predicted, 4),
                "actual_orders": self.actual, "absolute_error": round(self.absolute_error, 4),
                "mean_absolute_error": round(self.mean_absolute_error, 6),
                "log_likelihood": round(ll, 4) if math.isfinite(ll) else None,
                "penalized": self.penalized, "boundary": list(self.boundary), "converged": self.converged,
                "chosen": chosen}


@dataclass(frozen=True)
class ModelChoice:
    """Which purchase model and fit were used, and why.

    ``reason``: ``backtest`` (the candidate with the best holdout forecast,
    :data:`CHOICE_CRITERION`), ``requested`` (the model was named, no choice),
    or ``short_history`` (too little history for a backtest: BG/NBD by maximum
    likelihood)."""

    requested: str
    chosen: Candidate
    reason: str
    calibration_end: date | None = None  # of the backtest that chose
    holdout_end: date | None = None
    results: tuple[CandidateResult, ...] = ()

    @property
    def chosen_result(self) -> CandidateResult | None:
        return next((r for r in self.results if r.candidate == self.chosen), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "requested": self.requested,
            "chosen": self.chosen.name,
            "reason": self.reason,
            "criterion": CHOICE_CRITERION if self.reason == "backtest" else None,
            "calibration_end": self.calibration_end.isoformat() if self.calibration_end else None,
            "holdout_end": self.holdout_end.isoformat() if self.holdout_end else None,
            "candidates": [r.as_dict(r.candidate == self.chosen) for r in self.results],
        }


def pick(results: tuple[CandidateResult, ...] | list[CandidateResult]) -> CandidateResult:
    """The winner by :data:`CHOICE_CRITERION` (``results`` in candidate order)
    among the fits that converged (all of them if none did: a fit whose
    optimiser stopped short is no evidence, however well it happened to
    forecast)."""
    results = [r for r in results if r.converged] or list(results)
    best_error = min(r.absolute_error for r in results)
    tied = [r for r in results if r.absolute_error <= best_error + TIE_RELATIVE * max(r.actual, 1)]
    best_mae = min(r.mean_absolute_error for r in tied)
    return next(r for r in tied if r.mean_absolute_error <= best_mae * (1 + TIE_RELATIVE) + 1e-12)


@dataclass(frozen=True)
class ClvFit:
    """The purchase and spend models fitted on the purchases up to ``calibration_end``."""

    calibration_end: date
    summary: pd.DataFrame
    purchase: object  # crmflow.clv.BGNBD or MBGNBD
    gamma_gamma: GammaGamma | None
    messages: tuple[str, ...]
    choice: ModelChoice = field(default_factory=lambda: ModelChoice("bgnbd", FALLBACK, "requested"))
    _intervals: dict = field(default_factory=dict, compare=False, repr=False)
    #: Reads the intervals stored with a fit rebuilt from stored parameters, by
    #: (horizon, rate): None when they are not stored (:func:`_take_stored_intervals`).
    _stored_intervals: list = field(default_factory=list, compare=False, repr=False)

    @property
    def model(self) -> str:
        return self.choice.chosen.model

    @property
    def customers(self) -> int:
        return len(self.summary)

    @property
    def converged(self) -> bool:
        """True when both models converged without the regularised fallback."""
        return bool(self.purchase.converged_ and self.gamma_gamma is not None and self.gamma_gamma.converged_)

    def parameters(self) -> dict[str, dict[str, float] | None]:
        purchase = dict(self.purchase.params_)
        return {"model": self.model, "purchase": purchase,
                "bgnbd": purchase if self.model == "bgnbd" else None,
                "mbgnbd": purchase if self.model == "mbgnbd" else None,
                "gamma_gamma": dict(self.gamma_gamma.params_) if self.gamma_gamma is not None else None}

    def standard_errors(self) -> dict[str, float | None]:
        """Standard error of every parameter (:data:`PARAMETERS`); None where it is
        undefined (a parameter at an edge, or no spend model)."""
        out: dict[str, float | None] = {}
        sources = [(("r", "alpha", "a", "b"), getattr(self.purchase, "standard_errors_", {})),
                   (("p", "q", "v"), getattr(self.gamma_gamma, "standard_errors_", {}) if self.gamma_gamma else {})]
        for keys, errors in sources:
            for k in keys:
                v = errors.get(k)
                out[k] = float(v) if v is not None and math.isfinite(float(v)) else None
        return out

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.summary
        return (s["frequency"].to_numpy(np.float64), s["recency_weeks"].to_numpy(np.float64),
                s["t_weeks"].to_numpy(np.float64), s["monetary"].to_numpy(np.float64))

    def expected_orders(self, weeks: float) -> np.ndarray:
        """Each customer's expected purchases in the ``weeks`` after the calibration end."""
        x, tx, T, _ = self._arrays()
        return _orders(self.purchase, weeks, x, tx, T)

    def expected_spend(self) -> np.ndarray:
        """Expected value of one future purchase of each customer."""
        x, _, _, m = self._arrays()
        if self.gamma_gamma is not None:
            return self.gamma_gamma.expected_spend(x, m)
        return self._own_spend()

    def _own_spend(self) -> np.ndarray:
        return np.maximum(self.summary["mean_purchase_value"].to_numpy(np.float64), 0.0)

    def predict(self, horizon_weeks: float = DEFAULT_HORIZON_WEEKS, discount_rate: float = DEFAULT_DISCOUNT_RATE,
                intervals: bool = True) -> pd.DataFrame:
        """One row per customer: the summary, P(alive), expected orders and
        expected spend per order over ``horizon_weeks``, and expected value
        (discounted at ``discount_rate`` a year); all ≥ 0. With ``intervals``
        also the 90% intervals (module doc) ``expected_orders_low/high`` and
        ``expected_value_low/high``."""
        x, tx, T, m = self._arrays()
        out = self.summary[["customer_id", "frequency", "recency_weeks", "t_weeks", "monetary"]].copy()
        out["p_alive"] = np.clip(self.purchase.p_alive(x, tx, T), 0.0, 1.0)
        out["expected_orders"] = self.expected_orders(horizon_weeks)
        spend = self.expected_spend()
        out["expected_spend"] = spend
        out["expected_value"] = _values(self.purchase, self.gamma_gamma, x, tx, T, m,
                                        None if self.gamma_gamma is not None else spend,
                                        horizon_weeks, discount_rate)
        if intervals:
            bounds = self.intervals(horizon_weeks, discount_rate)
            out["expected_orders_low"] = np.minimum(bounds["expected_orders_low"], out["expected_orders"])
            out["expected_orders_high"] = np.maximum(bounds["expected_orders_high"], out["expected_orders"])
            out["expected_value_low"] = np.minimum(bounds["expected_value_low"], out["expected_value"])
            out["expected_value_high"] = np.maximum(bounds["expected_value_high"], out["expected_value"])
        return out

    def intervals(self, horizon_weeks: float = DEFAULT_HORIZON_WEEKS,
                  discount_rate: float = DEFAULT_DISCOUNT_RATE) -> dict[str, np.ndarray]:
        """The bootstrap percentiles (module doc) per customer, kept on the fit
        per horizon and rate; :meth:`predict` widens them to contain the point."""
        key = (float(horizon_weeks), float(discount_rate))
        if key not in self._intervals:
            stored = self._stored_intervals[0](key) if self._stored_intervals else None
            self._intervals[key] = stored if stored is not None else self._bootstrap(horizon_weeks, discount_rate)
        return self._intervals[key]

    def _bootstrap(self, horizon_weeks: float, discount_rate: float) -> dict[str, np.ndarray]:
        """Percentiles over the parameter draws (module doc), on distinct rows.

        A customer's expected orders are P(alive | x, t_x, T) times the orders
        expected of a customer alive at T, which depends on (x, T) only; the
        latter (the costly hypergeometric part) is computed per draw once per
        distinct (x, T), P(alive) and the expected spend (closed forms) per draw
        in blocks of distinct (x, t_x, T, spend) rows. The expected value of a
        draw is its expected orders times its expected spend times the point
        fit's discount factor of that (x, T) (discounted over undiscounted
        orders), so only the discounting's timing is held at the point fit."""
        x, tx, T, m = self._arrays()
        gg = self.gamma_gamma
        # The spend input: Gamma-Gamma ignores m where x = 0; without it the own mean is used.
        spend_key = _significant(np.where(x > 0, m, 0.0) if gg is not None else self._own_spend())
        (ux2, uT2), inverse2, _ = clv._compress(x, T)
        (ux, utx, uT, um), inverse, _ = clv._compress(x, tx, T, spend_key)
        some_customer = np.empty(ux.size, dtype=np.intp)
        some_customer[inverse] = np.arange(x.size)
        to_xT = inverse2[some_customer]  # distinct row -> its distinct (x, T)

        rng = np.random.default_rng(SEED)
        purchase_draws = [self.purchase.with_params(p) for p in self.purchase.sample_params(DRAWS, rng)]
        spend_draws = [gg.with_params(p) for p in gg.sample_params(DRAWS, rng)] if gg is not None else None
        if_alive = np.column_stack([_orders_if_alive(pm, horizon_weeks, ux2, uT2) for pm in purchase_draws])
        point = _orders_if_alive(self.purchase, horizon_weeks, ux2, uT2)
        discounted = _discounted_orders(self.purchase, ux2, uT2, uT2, horizon_weeks, discount_rate)
        alive_at_T = self.purchase.p_alive(ux2, uT2, uT2)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(point > 0, discounted / alive_at_T / point, 0.0)
        factor = np.nan_to_num(factor, nan=0.0, posinf=0.0)

        tail = (1 - INTERVAL) / 2
        out = {c: np.empty(ux.size) for c in INTERVAL_COLUMNS}
        for start in range(0, ux.size, _INTERVAL_BLOCK):
            block = slice(start, start + _INTERVAL_BLOCK)
            bx, btx, bT, bm, bxT = ux[block], utx[block], uT[block], um[block], to_xT[block]
            (cx, ctx, cT), to_c, _ = clv._compress(bx, btx, bT)  # P(alive) needs no spend
            alive = np.column_stack([pm.p_alive(cx, ctx, cT) for pm in purchase_draws])[to_c]
            orders = np.clip(alive, 0.0, 1.0) * if_alive[bxT]
            if spend_draws is not None:
                spend = np.column_stack([gk.expected_spend(bx, bm) for gk in spend_draws])
            else:
                spend = bm[:, None]
            values = np.maximum(orders * spend * factor[bxT, None], 0.0)
            for name, draws in (("expected_orders", orders), ("expected_value", values)):
                low, high = np.quantile(draws, [tail, 1 - tail], axis=1)
                out[name + "_low"][block], out[name + "_high"][block] = low, high
        return {c: v[inverse] for c, v in out.items()}


def _significant(values: np.ndarray, digits: int = SPEND_DIGITS) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (0 stays 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(values))))
    scale = np.where(np.isfinite(scale), scale, 1.0)
    return np.round(values * scale) / scale


def _orders_if_alive(purchase, weeks: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected purchases in the ``weeks`` after T of a customer alive at T:
    the expected purchases of one whose last purchase was at T, over its P(alive)."""
    alive = purchase.p_alive(x, T, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = _orders(purchase, weeks, x, T, T) / alive
    return np.maximum(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0)


def _orders(purchase, weeks: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    if weeks <= 0:
        return np.zeros(len(x))
    return np.maximum(np.nan_to_num(purchase.expected_purchases(weeks, x, tx, T), nan=0.0), 0.0)


def _values(purchase, gg, x, tx, T, m, spend, horizon_weeks: float, discount_rate: float) -> np.ndarray:
    """Discounted expected value: with a spend model the CLV of :mod:`crmflow.clv`,
    otherwise ``spend`` per purchase with the same discounting."""
    if gg is not None:
        value = customer_lifetime_value(purchase, gg, x, tx, T, m, horizon_weeks=horizon_weeks,
                                        discount_rate_annual=discount_rate)
    else:
        value = spend * _discounted_orders(purchase, x, tx, T, horizon_weeks, discount_rate)
    return np.maximum(np.nan_to_num(value, nan=0.0), 0.0)


def _discounted_orders(purchase, x, tx, T, horizon_weeks: float, discount_rate: float) -> np.ndarray:
    """The stepwise discounted purchases of :func:`crmflow.clv.customer_lifetime_value`
    (used with a given spend per purchase when no spend model could be fitted)."""
    if horizon_weeks <= 0:
        return np.zeros(len(x))
    value = clv.discounted_purchases(purchase, x, tx, T, horizon_weeks=horizon_weeks,
                                     discount_rate_annual=discount_rate)
    return np.maximum(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0)


def _scope(dataset_id: int | Scope) -> Scope:
    return dataset_id if isinstance(dataset_id, Scope) else Scope(int(dataset_id))


def _check_model(model: str) -> None:
    if model not in MODEL_CHOICES:
        raise CrmflowError(key="clv_model_unknown", model=model, choices=", ".join(MODEL_CHOICES))


def fit_clv(db: Database, dataset_id: int | Scope, calibration_end: date, model: str = "auto") -> ClvFit:
    """Fit the purchase model (chosen as in the module doc when ``model`` is
    ``auto``; else the named one by maximum likelihood) and Gamma-Gamma on the
    purchases up to ``calibration_end``.

    The fit is kept on ``db`` (:meth:`Database.memoised`) for the same dataset
    (scope), date and model: churn warnings, the value matrix and the Segments
    view all start from the fit at D."""
    _check_model(model)
    scope = _scope(dataset_id)
    return db.memoised(("fit_clv", scope, calibration_end, model),
                       lambda: _fit_clv(db, scope, calibration_end, model))


def _fit_clv(db: Database, scope: Scope, calibration_end: date, model: str) -> ClvFit:
    stored = stored_params(db, "clv_fit", scope, as_of=calibration_end, model=model)
    if stored is not None:  # the fit stored with the dataset (crmflow.results.compute_fits)
        fit = _fit_from_state(_summary(db, scope, calibration_end), calibration_end, stored)
        _take_stored_intervals(db, scope, fit, model)
        return fit
    if model != "auto":
        choice = ModelChoice(model, Candidate(model), "requested")
    else:
        choice = _choice_at(db, scope, calibration_end)
    summary = _summary(db, scope, calibration_end)
    return _fit_candidate(summary, calibration_end, choice, _spend_at(db, scope, calibration_end, summary))


def _choice_at(db: Database, scope: Scope, as_of: date) -> ModelChoice:
    """The model choice for a fit at ``as_of``: by the default backtest, or the
    fallback when the history is too short for one."""
    from crmflow.stages import data_range

    first, _ = data_range(db, scope)
    if (as_of - first).days < MIN_CHOICE_HISTORY_DAYS:
        return ModelChoice("auto", FALLBACK, "short_history")
    calibration_end = as_of - timedelta(days=default_holdout_days(first, as_of))
    try:
        return choose_model(db, scope, calibration_end, as_of).choice
    except CrmflowError:  # nobody had bought by the calibration end
        return ModelChoice("auto", FALLBACK, "short_history")


def _summary(db: Database, scope: Scope, calibration_end: date) -> pd.DataFrame:
    summary = stored_or_run(db, "clv_summary", scope, calibration_end=calibration_end)
    if summary.empty:
        raise CrmflowError(key="clv_no_customers", calibration_end=calibration_end.isoformat())
    for col in ("frequency", "recency_weeks", "t_weeks", "monetary", "mean_purchase_value"):
        summary[col] = summary[col].astype(np.float64)
    return summary


_SPEND_FALLBACK = ("The spend model could not be fitted (no customer bought twice with a positive "
                   "amount); expected value uses each customer's own mean purchase value.")


def _spend_at(db: Database, scope: Scope, calibration_end: date, summary: pd.DataFrame) -> GammaGamma | None:
    """Gamma-Gamma fitted on ``summary`` (the summary at ``calibration_end``),
    once per summary: every candidate, every ``model=`` and the choice share
    it (kept on ``db`` among its small results: :meth:`Database.memoised`)."""
    return db.memoised(("spend", scope, calibration_end), lambda: _fit_spend(summary), small=True)


def _fit_spend(summary: pd.DataFrame) -> GammaGamma | None:
    try:
        return GammaGamma().fit(summary["frequency"].to_numpy(), summary["monetary"].to_numpy())
    except ValueError:
        return None


def _fit_candidate(summary: pd.DataFrame, calibration_end: date, choice: ModelChoice,
                   gamma_gamma: GammaGamma | None, candidate: Candidate | None = None) -> ClvFit:
    candidate = candidate or choice.chosen
    purchase = candidate.fit(summary["frequency"].to_numpy(), summary["recency_weeks"].to_numpy(),
                             summary["t_weeks"].to_numpy())
    messages = [purchase.message_, gamma_gamma.message_ if gamma_gamma is not None else _SPEND_FALLBACK]
    return ClvFit(calibration_end, summary, purchase, gamma_gamma, tuple(messages), choice)


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

    @property
    def choice(self) -> ModelChoice:
        return self.fit.choice

    def as_dict(self) -> dict[str, object]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "holdout_days": self.holdout_days,
            "customers": len(self.customers),
            "model": self.fit.choice.chosen.name,
            "choice_reason": self.fit.choice.reason,  # "backtest": this holdout chose the fit among
            "candidates": len(self.fit.choice.results),  # this many candidates
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
    highest_first = -predicted.to_numpy(dtype=np.float64)  # NaN (no prediction) last, as NaN sorts
    if customer_ids.is_monotonic_increasing:  # the summaries come ordered by id: a stable sort keeps that order
        order = np.argsort(highest_first, kind="stable")  # among ties (5 s -> 0.2 s at 1M customers)
    else:
        order = np.lexsort((pd.factorize(customer_ids, sort=True)[0], highest_first))
    n = len(order)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank * 10 // max(n, 1) + 1


def default_holdout_days(first_order: date, as_of: date) -> int:
    """A quarter of the history (first order to D), at least a day, at most a year."""
    return max(1, min(MAX_HOLDOUT_DAYS, (as_of - first_order).days // 4))


def _backtest_of(fit: ClvFit, actual: pd.DataFrame, holdout_end: date) -> Backtest:
    weeks = (holdout_end - fit.calibration_end).days / 7
    frame = pd.DataFrame({"customer_id": fit.summary["customer_id"], "predicted": fit.expected_orders(weeks)})
    frame = frame.merge(actual, on="customer_id", how="left", validate="one_to_one")
    frame["actual"] = frame.pop("actual_purchases").fillna(0).astype(np.int64)
    frame["decile"] = deciles(frame["predicted"], frame["customer_id"])
    by_decile = (frame.groupby("decile", as_index=False)
                 .agg(customers=("customer_id", "size"), predicted=("predicted", "sum"), actual=("actual", "sum")))
    return Backtest(fit, holdout_end, frame, by_decile, fit.messages)


@dataclass(frozen=True)
class CandidateBacktests:
    """Every candidate's backtest on one holdout, and the choice they lead to."""

    choice: ModelChoice
    backtests: dict[str, Backtest]  # by candidate name

    @property
    def chosen(self) -> Backtest:
        return self.backtests[self.choice.chosen.name]


def choose_model(db: Database, dataset_id: int | Scope, calibration_end: date, holdout_end: date,
                 model: str = "auto") -> CandidateBacktests:
    """Fit every candidate of ``model`` (all eight for ``auto``, else the named
    model by maximum likelihood) up to ``calibration_end``, backtest each on
    (calibration_end, holdout_end] and choose by :data:`CHOICE_CRITERION`.
    Kept on ``db`` per scope, dates and model."""
    _check_model(model)
    scope = _scope(dataset_id)
    return db.memoised(("clv_choice", scope, calibration_end, holdout_end, model),
                       lambda: _choose_model(db, scope, calibration_end, holdout_end, model))


def _choose_model(db: Database, scope: Scope, calibration_end: date, holdout_end: date,
                  model: str) -> CandidateBacktests:
    summary = _summary(db, scope, calibration_end)
    gamma_gamma = _spend_at(db, scope, calibration_end, summary)
    actual = stored_or_run(db, "holdout_purchases", scope, start_date=calibration_end, end_date=holdout_end)
    candidates = CANDIDATES if model == "auto" else (Candidate(model),)
    backtests, results = {}, []
    for candidate in candidates:
        placeholder = ModelChoice(model, candidate, "requested")
        try:
            fitted = _fit_candidate(summary, calibration_end, placeholder, gamma_gamma)
        except ValueError:  # a candidate the data cannot fit at all is left out of the choice
            if candidate is candidates[-1] and not results:
                raise
            continue
        bt = _backtest_of(fitted, actual, holdout_end)
        backtests[candidate.name] = bt
        purchase = bt.fit.purchase
        results.append(CandidateResult(candidate, bt.predicted_total, bt.actual_total, bt.mean_absolute_error,
                                       float(getattr(purchase, "log_likelihood_", float("nan"))),
                                       bool(purchase.penalized_), tuple(getattr(purchase, "boundary_", ())),
                                       bool(purchase.converged_)))
    winner = pick(results).candidate if model == "auto" else candidates[0]
    choice = ModelChoice(model, winner, "backtest" if model == "auto" else "requested", calibration_end,
                         holdout_end, tuple(results))
    # Each backtest's fit carries the choice it took part in.
    backtests = {name: Backtest(ClvFit(bt.fit.calibration_end, bt.fit.summary, bt.fit.purchase, bt.fit.gamma_gamma,
                                       bt.fit.messages, choice), bt.holdout_end, bt.customers, bt.by_decile,
                                bt.messages)
                 for name, bt in backtests.items()}
    return CandidateBacktests(choice, backtests)


def backtest_between(db: Database, dataset_id: int | Scope, calibration_end: date, holdout_end: date,
                     model: str = "auto") -> Backtest:
    """Fit up to ``calibration_end``; compare each customer's predicted and actual
    purchases in (calibration_end, holdout_end]. With ``auto`` this is the
    backtest of the candidate that forecast the holdout best (module doc)."""
    if not calibration_end < holdout_end:
        raise CrmflowError(key="clv_calibration_order", calibration_end=calibration_end.isoformat(),
                           holdout_end=holdout_end.isoformat())
    _check_model(model)
    scope = _scope(dataset_id)
    stored = stored_params(db, "clv_backtest", scope, calibration_end=calibration_end, holdout_end=holdout_end,
                           model=model)
    if stored is not None:  # the chosen fit stored with the dataset: no candidate is fitted
        return db.memoised(("clv_backtest_stored", scope, calibration_end, holdout_end, model),
                           lambda: _backtest_from_state(db, scope, calibration_end, holdout_end, stored))
    return choose_model(db, dataset_id, calibration_end, holdout_end, model).chosen


def backtest(db: Database, dataset_id: int | Scope, as_of: date, holdout_days: int | None = None,
             model: str = "auto") -> Backtest:
    """The backtest of SPEC §2: fit up to D - h, predict (D - h, D]."""
    from crmflow.stages import data_range

    first, _ = data_range(db, dataset_id)
    h = default_holdout_days(first, as_of) if holdout_days is None else int(holdout_days)
    if h < 1:
        raise CrmflowError(key="clv_holdout_short", days=h)
    return backtest_between(db, dataset_id, as_of - timedelta(days=h), as_of, model)


def customer_values(db: Database, dataset_id: int | Scope, as_of: date,
                    horizon_weeks: float = DEFAULT_HORIZON_WEEKS, discount_rate: float = DEFAULT_DISCOUNT_RATE,
                    model: str = "auto", intervals: bool = False) -> tuple[pd.DataFrame, ClvFit]:
    """Per-customer predictions from a fit on everything up to D (the model behind
    churn warnings, the value matrix and the Segments view); the 90% interval
    columns only with ``intervals`` (they cost DRAWS predictions)."""
    fit = fit_clv(db, dataset_id, as_of, model)
    return fit.predict(horizon_weeks, discount_rate, intervals=intervals), fit


# --------------------------------------------------------------------------- stored fits
# crmflow.results.compute_fits stores the fit at D (and the churn dates) and the
# default backtest as their fitted parameters; rebuilt, they predict exactly as
# the fresh fit (every attribute of the fitted models is kept, floats exactly).
_MODEL_CLASSES = {"BGNBD": BGNBD, "MBGNBD": clv.MBGNBD, "GammaGamma": GammaGamma}


def _model_state(fitted) -> dict[str, object] | None:
    if fitted is None:
        return None
    state: dict[str, object] = {}
    for name, value in vars(fitted).items():
        if isinstance(value, np.ndarray):
            value = {"ndarray": value.tolist()}
        elif isinstance(value, tuple):
            value = {"tuple": list(value)}
        state[name] = value
    return {"class": type(fitted).__name__, "state": state}


def _model_from_state(data: dict | None):
    if data is None:
        return None
    cls = _MODEL_CLASSES[data["class"]]
    fitted = cls.__new__(cls)
    for name, value in data["state"].items():
        if isinstance(value, dict) and list(value) == ["ndarray"]:
            value = np.array(value["ndarray"], dtype=np.float64)
        elif isinstance(value, dict) and list(value) == ["tuple"]:
            value = tuple(value["tuple"])
        setattr(fitted, name, value)
    return fitted


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _choice_state(choice: ModelChoice) -> dict[str, object]:
    return {"requested": choice.requested, "chosen": [choice.chosen.model, choice.chosen.penalizer],
            "reason": choice.reason, "calibration_end": _iso(choice.calibration_end),
            "holdout_end": _iso(choice.holdout_end),
            "results": [[r.candidate.model, r.candidate.penalizer, r.predicted, r.actual, r.mean_absolute_error,
                         r.log_likelihood, r.penalized, list(r.boundary), r.converged] for r in choice.results]}


def _choice_from_state(data: dict) -> ModelChoice:
    results = tuple(CandidateResult(Candidate(m, w), float(pred), int(act), float(mae), float(ll), bool(pen),
                                    tuple(edge), bool(conv))
                    for m, w, pred, act, mae, ll, pen, edge, conv in data["results"])
    return ModelChoice(data["requested"], Candidate(*data["chosen"]), data["reason"], _day(data["calibration_end"]),
                       _day(data["holdout_end"]), results)


def _state_of(fit: ClvFit) -> dict[str, object]:
    return {"choice": _choice_state(fit.choice), "purchase": _model_state(fit.purchase),
            "gamma_gamma": _model_state(fit.gamma_gamma), "messages": list(fit.messages)}


def _fit_from_state(summary: pd.DataFrame, calibration_end: date, data: dict) -> ClvFit:
    return ClvFit(calibration_end, summary, _model_from_state(data["purchase"]),
                  _model_from_state(data["gamma_gamma"]), tuple(data["messages"]), _choice_from_state(data["choice"]))


#: The interval columns of :meth:`ClvFit.intervals` (stored by crmflow.results as a table).
INTERVAL_COLUMNS = ("expected_orders_low", "expected_orders_high", "expected_value_low", "expected_value_high")


def intervals_table(db: Database, dataset_id: int, as_of: date, model: str, horizon_weeks: float,
                    discount_rate: float) -> pd.DataFrame:
    """The bootstrap intervals of the fit at ``as_of`` (:meth:`ClvFit.intervals`),
    one row per customer of its summary (``pos``: the row's place), to be stored."""
    fit = fit_clv(db, dataset_id, as_of, model)
    bounds = fit.intervals(horizon_weeks, discount_rate)
    table = pd.DataFrame({"pos": np.arange(len(fit.summary), dtype=np.int64),
                          "customer_id": fit.summary["customer_id"].to_numpy(object)})
    for column in INTERVAL_COLUMNS:
        table[column] = np.asarray(bounds[column], dtype=np.float64)
    return table


def _take_stored_intervals(db: Database, scope: Scope, fit: ClvFit, model: str) -> None:
    """Let a fit rebuilt from its stored parameters take the intervals stored
    with it (crmflow.results: at D, the default horizon and rate) when they are
    first asked for, so that they are not drawn again; they are read then, not
    when the fit is rebuilt (the fits at D - h of the backtests have none)."""
    from crmflow.results import model_defaults, stored_table

    key = model_defaults(fit.calibration_end)
    if model != key["model"]:
        return

    def read(wanted: tuple[float, float]) -> dict[str, np.ndarray] | None:
        if wanted != (float(key["horizon_weeks"]), float(key["discount_rate"])) or getattr(db, "closed", False):
            return None  # another horizon or rate, or asked after the store was closed: drawn
        table = stored_table(db, "clv_intervals", scope, **key)
        if table is None or len(table) != len(fit.summary) or not np.array_equal(
                table["customer_id"].to_numpy(object), fit.summary["customer_id"].to_numpy(object)):
            return None
        return {column: table[column].to_numpy(np.float64) for column in INTERVAL_COLUMNS}

    fit._stored_intervals.append(read)


def fit_state(db: Database, dataset_id: int, as_of: date, model: str = "auto") -> dict[str, object]:
    """The fit at ``as_of`` (:func:`fit_clv`) as plain values, to be stored."""
    return _state_of(fit_clv(db, dataset_id, as_of, model))


def backtest_state(db: Database, dataset_id: int, calibration_end: date, holdout_end: date,
                   model: str = "auto") -> dict[str, object]:
    """The chosen fit of the backtest (:func:`backtest_between`) as plain values, to be stored."""
    return _state_of(backtest_between(db, dataset_id, calibration_end, holdout_end, model).fit)


def _backtest_from_state(db: Database, scope: Scope, calibration_end: date, holdout_end: date,
                         data: dict) -> Backtest:
    fit = _fit_from_state(_summary(db, scope, calibration_end), calibration_end, data)
    actual = stored_or_run(db, "holdout_purchases", scope, start_date=calibration_end, end_date=holdout_end)
    return _backtest_of(fit, actual, holdout_end)
