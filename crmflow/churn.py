"""Churn warnings (SPEC §2): who is about to leave, how much value leaves with
them, and why, in words.

For every customer with an order on or before D who is not ``lost`` at D
(stage first, repeat or loyal under the definition parameters) this module
gives a probability of leaving, a risk score 0-100 (100 x P, not rounded), the value
at risk and the reasons behind it. The data part is the named query ``churn_signals``
(``queries/churn/``); the model part is the CLV model of :mod:`crmflow.model`
fitted on everything up to D.

Leaving
-------
"Leaving" means *no order in the next h days*, h = ``lost_after_days`` (180 by
default): a customer who leaves in this sense is ``lost`` at D + h.

The probability of leaving
--------------------------
1. **Model base** (BG/NBD, Fader, Hardie & Lee 2005). While alive a customer
   buys at Poisson rate lambda; a customer can only drop out right after a
   purchase, so a customer alive at T makes no purchase in (T, T + t] with
   probability exp(-lambda t). Given the history (x, t_x, T) and that the
   customer is alive, lambda ~ Gamma(r + x, alpha + T), hence::

       P0 = P(no purchase in (T, T + t]) = 1 - P(alive) * (1 - ((alpha + T) / (alpha + T + t))^(r + x))

   with t = h / 7 weeks (the model's unit). tests/test_churn.py checks it
   against a Monte Carlo integration over the prior and, for a new customer,
   against lifetimes' ``probability_of_n_purchases_up_to_time(t, 0)``.
2. **Two candidate scorers** of the log-odds of leaving.

   FULL: the model's logit, recalibrated per stage, plus a bounded increment
   for each kind of reason that fires::

       logit(P) = offset[stage] + slope * logit(P0) + sum_k weight_k * level_k

   level_k in (0, 1] says how strongly reason k fires (0 when it does not;
   falling orders and falling revenue are one kind, "shrinking business",
   with the larger level). Bounds: offsets in [-3, 3], slope in [0.25, 2],
   weights in [0, 2], so a reason never lowers the risk and adds at most 2 to
   the log-odds (odds x 7.4).

   MODEL-ONLY: the model's expected orders alone::

       logit(P) = intercept + slope * logit(q),   q = exp(-E[orders in the next h days])

   (q is the chance of no order if the count were Poisson with that mean.)
   Intercept in [-3, 3], slope in [0.25, 2]: the slope stays positive, so P
   is strictly decreasing in the expected orders and the customers are
   ranked exactly as the model's expected orders rank them; the fit only
   makes P a calibrated probability. The reason weights are 0.
3. **The terms are learned from the dataset's own past, never from its
   future**: the same inputs are computed at D' = D - h (CLV model refitted on
   the data up to D'), and each scorer's terms are the maximum a posteriori
   fit of who placed no order in (D', D], with a Gaussian prior (FULL:
   centred on the rule judged before any measurement, :data:`PRIOR`: offsets
   0, slope 1, i.e. the model as it is, and weights overdue 1, shrinking
   business 0.5, unresolved complaints 1, falling contact 0.5, late payments
   0.75; standard deviation 1, slope 0.5. MODEL-ONLY: :data:`MODEL_PRIOR`,
   intercept 0 and slope 1).

   **The reasons are used only where they proved their worth on this
   dataset's own past.** The choice between the scorers is itself made on
   the past, one period earlier: both are fitted on D'' = D - 2h -> D' and
   the ROC AUC of their risk scores compared on D' -> D (signals at D',
   outcome no order in (D', D]). FULL (refitted on D' -> D) is used if its
   validated AUC is at least MODEL-ONLY's (``why`` = ``reasons_helped``),
   else MODEL-ONLY (``reasons_did_not_help``). If the past is too short or
   too small to validate (D'' before the first order, or fewer than
   :data:`MIN_CALIBRATION_CUSTOMERS` customers not lost at D'', or fewer than
   :data:`MIN_CALIBRATION_EVENTS` who left or stayed in (D'', D']), the
   reasons have not proved anything, and MODEL-ONLY is used
   (``too_short_to_validate``): the risk then ranks as the purchase model
   does. Only when even D' cannot be fitted (D' before the first order, or
   the same minimums at D') is there no usable past at all, and the prior
   FULL rule is used as it is (``no_past``; :data:`PRIOR_CALIBRATION`):
   with nothing to learn from, the judgement of the reasons is all there is,
   and this is the case of small data sets, where a manager reads the
   reasons rather than a ranking. :class:`Calibration` records the scorer,
   why, and the validation AUCs; :func:`scorer_note` says it in words.

   Why learn at all: how far the model's P0 is off, and how much a reason
   adds to what the model already knows, differ between businesses. On
   CDNOW (transactions only) the reasons and stage offsets re-order
   customers where they carry no information, and FULL ranks below the
   model's expected orders; on the demo data overdue, shrinking business and
   falling contact add a lot. The evaluation of :func:`evaluate_auc` looks
   at (D, D + h], which neither the terms nor the choice ever see.
4. **Risk score** = 100 * P (0-100, kept to 6 decimals; screens show one):
   rounding would tie customers whose probabilities differ and throw ranking
   information away -- tenths alone cost it its tie with the model's expected
   orders on CDNOW. **Value at risk** = expected value over the
   next 52 weeks (CLV model, 10% annual discount) * P, so 0 <= value at risk
   <= expected value.

Reasons (code: when it fires; strength)
---------------------------------------
* ``overdue``: days since the last order >= :data:`OVERDUE_THRESHOLD` (2) times
  the customer's median gap between buying days (``order_rhythm``; needs two
  buying days); strength = min(1, log2(ratio) / 2), i.e. 0.5 at 2x, 1 at 4x.
* ``falling_orders``: orders in (D - 180, D] at most half of those in
  (D - 360, D - 180], which held at least 2; strength = 1 - recent / previous.
* ``falling_revenue``: net revenue in (D - 180, D] at most half of a positive
  revenue in (D - 360, D - 180]; strength = 1 - max(recent, 0) / previous.
  Half-year windows (:data:`TREND_WINDOW_DAYS`): long enough to hold several
  orders of a typical customer and to smooth a quarter's seasonality, equal
  to the default lost_after_days, and two of them fit in one year of history.
* ``unresolved_complaints``: complaints (type matching complaint/投诉/抱怨/客诉,
  any case) dated on or before D with resolved false or missing; strength =
  min(1, n / 2).
* ``falling_contact``: non-complaint interactions in (D - 180, D] at most half
  of those in (D - 360, D - 180], which held at least 2; strength =
  1 - recent / previous.
* ``late_payments``: invoices due in the last 12 months (before D) paid after
  their due date or still unpaid at D; fires with one such invoice; strength
  = late / due.
* ``low_p_alive`` (P(alive) < 0.5) or else ``few_expected_orders``: the
  model's own verdict, given when the model part alone (FULL: offset + slope
  * logit(P0); MODEL-ONLY: the whole log-odds) puts the risk score at
  :data:`AT_RISK_SCORE` or above; so every customer with a risk score of 50
  or more has at least one reason, under either scorer.
* ``value_at_risk``: only for a customer on the call list none of whose
  other reasons fires: it is listed for the value it carries (its share of
  all value at risk, its chance of leaving in the next h days); strength 0.

Complaint and contact reasons are evaluated only when the data has
interactions; late payments only when transactions carry due dates. A
reason's ``strength`` (used to sort a row's reasons, strongest first) is its
contribution to the log-odds: weight * level for the data reasons (0 when the
past taught that the reason adds nothing, and for every data reason under
MODEL-ONLY: it is still shown, after those that count), the model part's
log-odds for the model's. The reasons are computed, shown and sorted for
every customer whichever scorer is used: a manager still wants to read
"overdue" in words, even where it does not move the forecast.

At risk (the call list)
-----------------------
The list is sized by value, not by a risk threshold: it holds the smallest
set of customers who, taken in order of value at risk (largest first, ties
by customer id), together carry at least :data:`CALL_LIST_VALUE_SHARE` (80%)
of the expected value at risk of every customer not lost
(:func:`call_list_mask`). A threshold on the risk score left the list empty
on data where nobody is more likely to leave than not, although many were
expected to leave (Superstore: 43% left within 180 days); a list sized by
value always holds the customers where most of the money is, and 80% is the
usual Pareto cut (as for key accounts). Every listed row says why in words:
a listed customer none of whose reasons fires gets ``value_at_risk`` (its
share of all value at risk and its chance of leaving). The list is empty
only when no customer carries any value at risk (the purchase model expects
no further spending), and :func:`empty_list_note` then says so in words.
The frame's ``on_call_list`` column marks the listed rows; ``include_all``
lists every not-lost customer.

Track record
------------
:func:`track_record` shows how the warnings did on this dataset's own past:
the warnings that would have been given at D - h (h = lost_after_days),
with the terms learned on the data up to D - h only (:func:`calibrate` at
D - h), against who then placed no order in (D - h, D]. It reports the ROC
AUC of the risk score and of recency alone (days since the last order), the
share of the leavers (and of their expected value at D - h) that the call
list of D - h held, the same for a recency list of the same length, and
predicted vs actual share leaving in :data:`TRACK_BANDS` bands of predicted
risk. :func:`track_verdict` puts it in one sentence; the rule
(:func:`verdict_code`): fewer than :data:`MIN_TRACK_EVENTS` leavers or
stayers -> too little history; AUC below :data:`CHANCE_AUC` (0.6: a ranking
that puts a leaver above a stayer less than 6 times in 10 is too close to a
coin flip to act on) -> no better than chance; AUC at most recency's -> no
better than recency alone; else better than recency.

How good is it? :func:`evaluate_auc` measures, on data with at least h days
after D, the ROC AUC of the risk score for "no order in the next h days"
against that of the model's expected orders alone (and of P0 alone, of each
candidate scorer, and of the prior rule), with the scorer chosen and its
validation AUCs; README.md has the figures.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import special  # optimize and stats (0.6 s to import) where a fit or a rank needs them

from crmflow.config import COMPLAINT_PATTERN, Params
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.i18n import formatter, t
from crmflow.model import DEFAULT_DISCOUNT_RATE, DEFAULT_HORIZON_WEEKS, customer_values
from crmflow.results import stored_frame, stored_or_run, stored_params

#: The definition parameters' defaults (lost_after_days 180, loyal_orders 4, loyal_window_days 365).
DEFAULT_PARAMS = Params()
#: Risk score from which a customer is more likely to leave than not (the
#: dashed line of the risk distribution; every customer at or above it has a reason).
AT_RISK_SCORE = 50
#: The call list holds the customers who together carry this share of the
#: expected value at risk (module docstring, "At risk").
CALL_LIST_VALUE_SHARE = 0.8
#: Track record: bands of predicted risk (equal numbers of customers) of the calibration table.
TRACK_BANDS = 5
#: Track record: a ROC AUC below this is "no better than chance".
CHANCE_AUC = 0.6
#: Track record: at least this many leavers and this many stayers, else "too little history".
MIN_TRACK_EVENTS = 10
#: The track record's verdicts (:func:`verdict_code`).
VERDICTS = ("no_history", "too_few", "no_better_than_chance", "no_better_than_recency", "better_than_recency")
#: Length of the recent window and of the previous one compared with it (days).
TREND_WINDOW_DAYS = 180
#: Payments: invoices due in this many days before D count.
PAYMENT_WINDOW_DAYS = 365
#: Overdue reason: days since the last order at least this many median gaps.
OVERDUE_THRESHOLD = 2.0
#: Falling orders / revenue / contact: recent at most this share of the previous window.
FALLING_SHARE = 0.5
#: Falling orders / contact need at least this many in the previous window.
MIN_PREVIOUS_COUNT = 2
#: The model reason is ``low_p_alive`` below this P(alive), else ``few_expected_orders``.
LOW_P_ALIVE = 0.5

#: The terms of the log-odds of leaving: one offset per stage, the slope of the
#: model's logit, and one weight per kind of reason (falling orders and falling
#: revenue share ``falling_business``).
TERMS = ("offset_first", "offset_repeat", "offset_loyal", "model_slope", "overdue", "falling_business",
         "unresolved_complaints", "falling_contact", "late_payments")
#: Prior value of each term: the model as it is, plus a judgement of how much
#: each reason adds to the log-odds at full strength (set before any measurement).
PRIOR = {"offset_first": 0.0, "offset_repeat": 0.0, "offset_loyal": 0.0, "model_slope": 1.0,
         "overdue": 1.0, "falling_business": 0.5, "unresolved_complaints": 1.0, "falling_contact": 0.5,
         "late_payments": 0.75}
#: Prior standard deviation of each term (a Gaussian prior: the penalty of the fit).
PRIOR_SD = {**{k: 1.0 for k in TERMS}, "model_slope": 0.5}
#: Bounds of each term: a reason can never lower the risk, nor add more than 2 to the log-odds.
BOUNDS = {**{k: (-3.0, 3.0) for k in TERMS[:3]}, "model_slope": (0.25, 2.0),
          **{k: (0.0, 2.0) for k in TERMS[4:]}}
#: The weights are learned from the past only with this many customers, and
#: this many who left and who stayed; otherwise the prior is used as it is.
MIN_CALIBRATION_CUSTOMERS = 100
MIN_CALIBRATION_EVENTS = 20
#: The terms of the MODEL-ONLY scorer: logit(P) = intercept + model_slope *
#: logit(q), q = exp(-expected orders in the next h days). The slope stays
#: positive, so the order of the customers is that of the model's expected
#: orders; the fit only calibrates the probability.
MODEL_TERMS = ("intercept", "model_slope")
MODEL_PRIOR = {"intercept": 0.0, "model_slope": 1.0}
MODEL_PRIOR_SD = {"intercept": 1.0, "model_slope": 0.5}
MODEL_BOUNDS = {"intercept": (-3.0, 3.0), "model_slope": (0.25, 2.0)}
#: The two candidate scorers (module docstring, step 2; chosen as in step 3).
SCORERS = ("full", "model_only")
#: Why a scorer was chosen (:attr:`Calibration.why`).
WHY = ("no_past", "reasons_helped", "reasons_did_not_help", "too_short_to_validate")
#: Which term weighs each reason code.
REASON_TERM = {"overdue": "overdue", "falling_orders": "falling_business", "falling_revenue": "falling_business",
               "unresolved_complaints": "unresolved_complaints", "falling_contact": "falling_contact",
               "late_payments": "late_payments"}
#: Reason codes; the model's come last.
REASON_CODES = tuple(REASON_TERM) + ("low_p_alive", "few_expected_orders", "value_at_risk")

#: The columns of :func:`churn_warnings`: stage at D; risk_score = 100 *
#: probability_leave (0-100, 6 decimals);
#: probability_model = P0, the BG/NBD probability of no order in the next h
#: days; p_alive; expected_orders in the next h days; expected_value over the
#: next 52 weeks (10% discount); value_at_risk = expected_value *
#: probability_leave; on_call_list: on the call list (:func:`call_list_mask`);
#: days_since_last_order and median_gap_days (order_rhythm); owner (customers
#: table, else the latest transaction's; None when neither);
#: reasons (list of dicts: code, strength, the numbers) and reasons_text (words).
COLUMNS = ("customer_id", "stage", "risk_score", "probability_leave", "probability_model", "p_alive",
           "expected_orders", "expected_value", "value_at_risk", "on_call_list", "days_since_last_order",
           "median_gap_days", "owner", "reasons", "reasons_text")


# --------------------------------------------------------------------------- the model base
def p_no_purchase(purchase_params: dict[str, float], p_alive: np.ndarray, frequency: np.ndarray,
                  t_weeks_age: np.ndarray, t: float) -> np.ndarray:
    """The purchase model's probability of no purchase in (T, T + t] (module
    docstring, step 1); the same under BG/NBD and MBG/NBD, whose purchases
    while alive are both Poisson with a Gamma(r, alpha) rate.

    ``purchase_params`` has r and alpha (weeks); ``p_alive`` is P(alive | x, t_x, T);
    ``frequency`` is x, ``t_weeks_age`` is T and ``t`` the horizon, in weeks.
    """
    r, alpha = purchase_params["r"], purchase_params["alpha"]
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(t_weeks_age, dtype=np.float64)
    buys_if_alive = -np.expm1(-(r + x) * np.log1p(t / (alpha + T)))
    return np.clip(1.0 - np.asarray(p_alive, dtype=np.float64) * buys_if_alive, 0.0, 1.0)


def risk_score(probability: np.ndarray | float) -> np.ndarray:
    """100 * P (0 .. 100), as floats rounded to 6 decimals; screens and call
    lists show one decimal.

    Not rounded to whole points or tenths: rounding ties customers whose
    probabilities differ, which throws ranking information away -- on CDNOW,
    tenths alone cost the score its tie with the model's expected orders. Six
    decimals only keep the printed numbers tidy."""
    return np.round(np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0) * 100, 6)


def clipped_logit(p: np.ndarray | float) -> np.ndarray:
    """logit(p) with p kept inside [1e-9, 1 - 1e-9], so 0 and 1 stay finite."""
    return special.logit(np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9))


def logit_no_order(expected_orders: np.ndarray) -> np.ndarray:
    """logit(q) with q = exp(-E): the log-odds of no order when E orders are
    expected (as for a Poisson count), computed without cancellation for small
    E; strictly decreasing in E."""
    e = np.maximum(np.asarray(expected_orders, dtype=np.float64), 1e-12)
    return -e - np.log(-np.expm1(-e))


# --------------------------------------------------------------------------- reasons
def reason_text(reason: dict, lang: str = "en") -> str:
    """One reason in words."""
    values = {k: v for k, v in reason.items() if k not in ("code", "strength", "level")}
    return formatter("churn_reason_" + reason["code"], lang)(values)


# --------------------------------------------------------------------------- signals and terms
def _signals(db: Database, dataset_id: int | Scope, as_of: date, params: Params, h: int) -> pd.DataFrame:
    """churn_signals joined with the model at ``as_of``: P(alive), P0 (``probability_model``),
    expected orders in the next h days, expected value over 52 weeks, and the data reasons."""
    signals = stored_or_run(db, "churn_signals", dataset_id, dates=[as_of], as_of=as_of,
                            window_days=TREND_WINDOW_DAYS, complaint_pattern=COMPLAINT_PATTERN,
                            payment_window_days=PAYMENT_WINDOW_DAYS, **params.as_sql_params())
    if signals.empty:
        return signals
    values, fit = customer_values(db, dataset_id, as_of, DEFAULT_HORIZON_WEEKS, DEFAULT_DISCOUNT_RATE)
    s = fit.summary
    x, tx, T = (s[c].to_numpy(np.float64) for c in ("frequency", "recency_weeks", "t_weeks"))
    values = values[["customer_id", "p_alive", "expected_value"]].copy()
    values["probability_model"] = p_no_purchase(fit.purchase.params_, values["p_alive"].to_numpy(), x, T, h / 7)
    values["expected_orders"] = fit.purchase.expected_purchases(h / 7, x, tx, T)
    # both sides have one row per customer (their queries group by it); a length
    # check instead of pandas' one-to-one validation, which costs seconds at 1M customers
    frame = signals.merge(values, on="customer_id", how="left")
    if len(frame) != len(signals) or frame["probability_model"].isna().any():  # cannot happen
        raise CrmflowError("The purchase model and the signals disagree on the customers", "Please report this bug")
    frame["expected_value"] = frame["expected_value"].astype(np.float64)
    levels = reason_levels(frame)
    for code in DATA_REASONS:
        frame["level_" + code] = levels[code]
    return frame


#: The reasons evaluated on the data, in order.
DATA_REASONS = tuple(REASON_TERM)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64, na_value=np.nan)


def _data_reason_fires(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each data reason's (fires, level) per customer of a churn_signals
    ``frame``: where it fires (the rules of the module docstring, "Reasons")
    and its level in (0, 1] there, 0 elsewhere."""
    n = len(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio, gap = _column(frame, "overdue_ratio"), _column(frame, "median_gap_days")
        fires = ~np.isnan(ratio) & ~np.isnan(gap) & (gap != 0) & (ratio >= OVERDUE_THRESHOLD)
        overdue = fires, np.where(fires, np.minimum(1.0, np.log2(np.where(fires, ratio, 1.0)) / 2), 0.0)

        recent, previous = _column(frame, "orders_recent"), _column(frame, "orders_previous")
        fires = (previous >= MIN_PREVIOUS_COUNT) & (recent <= FALLING_SHARE * previous)
        orders = fires, np.where(fires, 1 - recent / np.where(fires, previous, 1.0), 0.0)

        rev_recent, rev_previous = _column(frame, "revenue_recent"), _column(frame, "revenue_previous")
        fires = (rev_previous > 0) & (rev_recent <= FALLING_SHARE * rev_previous)
        revenue = fires, np.where(
            fires, np.minimum(1.0, 1 - np.maximum(rev_recent, 0.0) / np.where(fires, rev_previous, 1.0)), 0.0)

        talks = frame["has_interactions"].fillna(False).to_numpy(bool) if n else np.zeros(0, bool)
        unresolved = np.nan_to_num(_column(frame, "unresolved_complaints"))
        fires = talks & (unresolved >= 1)
        complaints = fires, np.where(fires, np.minimum(1.0, unresolved / 2), 0.0)
        c_recent, c_previous = _column(frame, "contacts_recent"), _column(frame, "contacts_previous")
        fires = talks & (c_previous >= MIN_PREVIOUS_COUNT) & (c_recent <= FALLING_SHARE * c_previous)
        contact = fires, np.where(fires, 1 - c_recent / np.where(fires, c_previous, 1.0), 0.0)

        terms = frame["has_payment_terms"].fillna(False).to_numpy(bool) if n else np.zeros(0, bool)
        late, due = np.nan_to_num(_column(frame, "invoices_late")), _column(frame, "invoices_due")
        fires = terms & (late >= 1)
        payments = fires, np.where(fires, late / np.where(fires, due, 1.0), 0.0)
    return {"overdue": overdue, "falling_orders": orders, "falling_revenue": revenue,
            "unresolved_complaints": complaints, "falling_contact": contact, "late_payments": payments}


def reason_levels(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each data reason's level per customer of a churn_signals ``frame``, 0
    where it does not fire (:func:`_data_reason_fires`), for all customers at
    once (to fit the terms and to score)."""
    return {code: level for code, (_, level) in _data_reason_fires(frame).items()}


#: The late payments reason's window in months, as its words show it.
PAYMENT_WINDOW_MONTHS = round(PAYMENT_WINDOW_DAYS / 30.4375)


def _data_reason_columns(frame: pd.DataFrame, as_of: date) -> list[tuple[str, np.ndarray, np.ndarray, dict]]:
    """The data reasons of a churn_signals ``frame`` column-wise, in the order
    of :data:`DATA_REASONS`: per reason, (code, the rows where it fires, its
    level there, the numbers its words show: name -> values over those rows,
    or one value for all)."""
    fires = _data_reason_fires(frame)
    out = []
    for code in DATA_REASONS:
        rows = np.flatnonzero(fires[code][0])

        def ints(name: str) -> np.ndarray:
            return _column(frame, name)[rows].astype(np.int64)

        def floats(name: str) -> np.ndarray:
            return _column(frame, name)[rows]

        level = fires[code][1][rows]
        if code == "overdue":
            ratio = floats("overdue_ratio")
            # math.log2, as the reasons were always worded: np.log2 (the fit's
            # levels) differs from it in the last bit for a few ratios
            level = np.array([min(1.0, math.log2(r) / 2) for r in ratio.tolist()], dtype=np.float64)
            values = {"days": ints("days_since_last_order"), "gap": floats("median_gap_days"), "ratio": ratio}
        elif code in ("falling_orders", "falling_contact"):
            kind = "orders" if code == "falling_orders" else "contacts"
            values = {"recent": ints(kind + "_recent"), "previous": ints(kind + "_previous"),
                      "window": TREND_WINDOW_DAYS}
        elif code == "falling_revenue":
            values = {"recent": floats("revenue_recent"), "previous": floats("revenue_previous"), "drop": level,
                      "window": TREND_WINDOW_DAYS}
        elif code == "unresolved_complaints":
            last = pd.to_datetime(frame["last_unresolved_date"].iloc[rows])
            if last.dt.tz is not None:
                last = last.dt.tz_localize(None)  # the local date, as Timestamp.date() gives it
            days = (pd.Timestamp(as_of) - last.dt.floor("D")).dt.days.to_numpy(np.int64)
            values = {"count": ints("unresolved_complaints"), "days": days}
        else:  # late_payments
            late_days = floats("mean_days_late")
            values = {"late": ints("invoices_late"), "due": ints("invoices_due"), "unpaid": ints("invoices_unpaid"),
                      "days": np.where(np.isnan(late_days) | (late_days == 0), 0.0, late_days),
                      "months": PAYMENT_WINDOW_MONTHS}
        out.append((code, rows, level, values))
    return out


def _plain(values: np.ndarray | object, n: int) -> list | itertools.repeat:
    """A reason's numbers as plain Python values (one value: repeated ``n``
    times), floats rounded to 4 digits."""
    if isinstance(values, np.ndarray):
        plain = values.tolist()
        return [round(v, 4) for v in plain] if values.dtype.kind == "f" else plain
    return itertools.repeat(round(values, 4) if isinstance(values, float) else values, n)


def _reasons(frame: pd.DataFrame, terms: dict[str, float], h: int, lang: str, as_of: date,
             model: tuple[np.ndarray, np.ndarray], probability: np.ndarray, value_at_risk: np.ndarray,
             listed: np.ndarray, total: float) -> tuple[list[list[dict]], list[list[str]]]:
    """Every row's reasons and their words (module docstring, "Reasons"),
    built reason by reason over the rows where it fires. A reason is a dict:
    code, strength, the numbers its words show (floats rounded to 4 digits);
    a row's reasons are sorted strongest first, ties in the order of
    :data:`REASON_CODES`. ``model`` is (the model part's log-odds, its risk
    score); ``total`` is the value at risk of everyone scored."""
    model_logit, model_score = model
    n = len(frame)
    parts = [(code, rows, terms[REASON_TERM[code]] * level, values)
             for code, rows, level, values in _data_reason_columns(frame, as_of)]
    p_alive = frame["p_alive"].to_numpy(np.float64)
    at_risk = model_score >= AT_RISK_SCORE
    low = at_risk & (p_alive < LOW_P_ALIVE)
    rows = np.flatnonzero(low)
    parts.append(("low_p_alive", rows, model_logit[rows], {"p_alive": p_alive[rows]}))
    rows = np.flatnonzero(at_risk & ~low)
    parts.append(("few_expected_orders", rows, model_logit[rows],
                  {"p_order": special.expit(-model_logit[rows]),
                   "orders": frame["expected_orders"].to_numpy(np.float64)[rows], "days": h}))
    rows = np.flatnonzero(listed & (np.bincount(np.concatenate([p[1] for p in parts]), minlength=n) == 0))
    parts.append(("value_at_risk", rows, np.zeros(len(rows)),
                  {"share": value_at_risk[rows] / total, "probability": probability[rows], "days": h}))

    reasons: list[dict] = []
    words: list[str] = []
    for code, rows, strength, values in parts:
        if not len(rows):
            continue
        names = tuple(values)
        shown = [dict(zip(names, numbers)) for numbers in zip(*(_plain(v, len(rows)) for v in values.values()))]
        words += map(formatter("churn_reason_" + code, lang), shown)
        reasons += [{"code": code, "strength": s, **v} for s, v in zip(_plain(strength, len(rows)), shown)]
    # each row's reasons strongest first (the unrounded strength), ties in the order of REASON_CODES
    row = np.concatenate([p[1] for p in parts])
    order = np.lexsort((np.concatenate([np.full(len(p[1]), REASON_CODES.index(p[0])) for p in parts]),
                        -np.concatenate([p[2] for p in parts]), row)).tolist()
    ends = np.cumsum(np.bincount(row, minlength=n)).tolist()
    bounds = list(zip([0] + ends[:-1], ends))
    reasons = [reasons[i] for i in order]
    words = [words[i] for i in order]
    return [reasons[a:b] for a, b in bounds], [words[a:b] for a, b in bounds]


def _design(frame: pd.DataFrame) -> np.ndarray:
    """One row per customer, one column per term of :data:`TERMS`: stage
    indicators, logit(P0), and each kind of reason's level (0 when it does not
    fire; falling orders and revenue: the larger level)."""
    X = np.zeros((len(frame), len(TERMS)))
    stage = frame["stage"].to_numpy()
    for j, name in enumerate(("first", "repeat", "loyal")):
        X[:, j] = stage == name
    X[:, 3] = clipped_logit(frame["probability_model"].to_numpy(np.float64))
    for code in DATA_REASONS:
        j = TERMS.index(REASON_TERM[code])
        X[:, j] = np.maximum(X[:, j], frame["level_" + code].to_numpy(np.float64))
    return X


@dataclass(frozen=True)
class Calibration:
    """The scorer of the risk, its terms, and where they come from.

    ``scorer`` is ``full`` (per-stage offsets + slope * logit(P0) + reason
    weights, :data:`TERMS`) or ``model_only`` (intercept + slope * logit(q),
    :data:`MODEL_TERMS`; the reason weights are 0). ``terms`` are the chosen
    scorer's (under ``model_only`` they also hold each reason term at 0).

    ``source`` is ``history`` (FULL learned from the dataset's own past:
    warnings at ``fitted_on`` = D - h against what happened in the h days
    after it), ``history-model-only`` (MODEL-ONLY learned the same way) or
    ``prior`` (the prior FULL rule: the past was too short or too small to
    learn from). ``customers`` / ``left`` describe the data the terms were
    learned on.

    ``why`` (one of :data:`WHY`) says why this scorer: ``no_past`` (prior
    rule), ``reasons_helped`` / ``reasons_did_not_help`` (validated on
    ``validated_on`` = D - 2h -> D - h: FULL's and MODEL-ONLY's risk-score ROC
    AUC there are ``auc_validation_full`` and ``auc_validation_model_only``),
    ``too_short_to_validate`` (D - 2h before the first order, or too few
    customers or events there: the reasons could not prove their worth, so
    the risk follows the model). ``candidates`` holds both scorers' terms as
    learned on D - h -> D (empty for the prior rule), for measurement.
    """

    terms: dict[str, float]
    source: str
    fitted_on: date | None = None
    customers: int = 0
    left: int = 0
    scorer: str = "full"
    why: str = "no_past"
    validated_on: date | None = None
    validation_customers: int = 0
    auc_validation_full: float | None = None
    auc_validation_model_only: float | None = None
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        """The FULL terms in the order of :data:`TERMS` (FULL scorer only)."""
        return np.array([self.terms[k] for k in TERMS])

    def summary(self) -> dict[str, object]:
        """The scorer and why, as plain values (JSON-ready; :func:`scorer_note` puts it in words)."""
        return {
            "scorer": self.scorer, "why": self.why, "source": self.source,
            "fitted_on": None if self.fitted_on is None else self.fitted_on.isoformat(),
            "validated_on": None if self.validated_on is None else self.validated_on.isoformat(),
            "auc_validation_full": _rounded(self.auc_validation_full),
            "auc_validation_model_only": _rounded(self.auc_validation_model_only),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
        }


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), digits)


PRIOR_CALIBRATION = Calibration(dict(PRIOR), "prior")


def fit_terms(X: np.ndarray, left: np.ndarray, terms: tuple[str, ...] = TERMS, prior: dict | None = None,
              prior_sd: dict | None = None, bounds: dict | None = None) -> dict[str, float]:
    """Maximum a posteriori terms: logistic log-likelihood of ``left`` with
    log-odds ``X @ terms``, a Gaussian prior (default :data:`PRIOR`,
    :data:`PRIOR_SD`) and bounds (default :data:`BOUNDS`); one column of
    ``X`` per term."""
    prior, prior_sd, bounds = prior or PRIOR, prior_sd or PRIOR_SD, bounds or BOUNDS
    y = np.asarray(left, dtype=np.float64)
    mu = np.array([prior[k] for k in terms])
    precision = 1 / np.array([prior_sd[k] for k in terms]) ** 2

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = X @ theta
        nll = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
        grad = X.T @ (special.expit(eta) - y)
        d = theta - mu
        return nll + 0.5 * float(d @ (precision * d)), grad + precision * d

    from scipy import optimize

    result = optimize.minimize(objective, mu, jac=True, method="L-BFGS-B",
                               bounds=[bounds[k] for k in terms])
    return {k: float(v) for k, v in zip(terms, result.x)}


def _model_design(frame: pd.DataFrame) -> np.ndarray:
    """MODEL-ONLY's columns (:data:`MODEL_TERMS`): 1 and logit(exp(-expected orders))."""
    z = logit_no_order(frame["expected_orders"].to_numpy(np.float64))
    return np.column_stack([np.ones(len(z)), z])


def fit_model_only(frame: pd.DataFrame, left: np.ndarray) -> dict[str, float]:
    """MODEL-ONLY's terms fitted on ``frame`` (signals) against ``left``, with
    every reason term at 0."""
    fitted = fit_terms(_model_design(frame), left, MODEL_TERMS, MODEL_PRIOR, MODEL_PRIOR_SD, MODEL_BOUNDS)
    return {**fitted, **dict.fromkeys(TERMS[4:], 0.0)}


def _logits(frame: pd.DataFrame, scorer: str, terms: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(model part, whole) log-odds of leaving under ``scorer`` with ``terms``.
    Under MODEL-ONLY both are intercept + slope * logit(q)."""
    if scorer == "model_only":
        z = _model_design(frame) @ np.array([terms[k] for k in MODEL_TERMS])
        return z, z
    theta = np.array([terms[k] for k in TERMS])
    X = _design(frame)
    return X[:, :4] @ theta[:4], X @ theta


def _past_outcome(db: Database, dataset_id: int | Scope, start: date, end: date, params: Params,
                  h: int) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The signals at ``start`` and who placed no order in (start, end]; None
    when there are fewer than MIN_CALIBRATION_CUSTOMERS customers not lost at
    ``start`` or fewer than MIN_CALIBRATION_EVENTS who left or who stayed."""
    frame = _signals(db, dataset_id, start, params, h)
    if len(frame) < MIN_CALIBRATION_CUSTOMERS:
        return None
    actual = stored_or_run(db, "holdout_purchases", dataset_id, start_date=start, end_date=end)
    merged = frame.merge(actual, on="customer_id", how="left")
    if len(merged) != len(frame):  # cannot happen: holdout_purchases has one row per customer
        raise CrmflowError("The holdout has a customer twice", "Please report this bug")
    frame = merged
    left = frame["actual_purchases"].fillna(0).to_numpy() == 0
    if min(int(left.sum()), int((~left).sum())) < MIN_CALIBRATION_EVENTS:
        return None
    return frame, left


def _fit(scorer: str, frame: pd.DataFrame, left: np.ndarray) -> dict[str, float]:
    return fit_terms(_design(frame), left) if scorer == "full" else fit_model_only(frame, left)


def _risk_auc(frame: pd.DataFrame, scorer: str, terms: dict[str, float], left: np.ndarray) -> float:
    return roc_auc(risk_score(special.expit(_logits(frame, scorer, terms)[1])), left)


def calibrate(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS, *,
              horizon_days: int | None = None) -> Calibration:
    """Choose the scorer and learn its terms from the dataset's own past
    (module docstring, step 3). Nothing after ``as_of`` is used.

    1. D' = as_of - h: the signals at D' and who placed no order in (D', as_of].
       With fewer than MIN_CALIBRATION_CUSTOMERS customers not lost at D', or
       fewer than MIN_CALIBRATION_EVENTS who left or stayed (or D' before the
       first order), there is no usable past: the prior FULL rule.
    2. Both scorers are fitted on D' -> as_of.
    3. Validation, D'' = D' - h: both scorers fitted on D'' -> D' and their
       risk scores' ROC AUC compared on D' -> as_of. FULL if its AUC is at
       least MODEL-ONLY's, else MODEL-ONLY. When D'' is too short or too small
       (the same minimums), MODEL-ONLY: the reasons have not proved their worth.
    """
    h = params.lost_after_days if horizon_days is None else int(horizon_days)
    stored = stored_params(db, "churn_calibration", dataset_id, as_of=as_of, horizon_days=h,
                           **params.as_sql_params())
    if stored is not None:  # stored with the dataset (crmflow.results.compute_fits)
        return _calibration_from_state(stored)
    past = as_of - timedelta(days=h)
    first = db.run("last_order_date", dataset_id=dataset_id).iloc[0]["first_order_date"]
    if pd.isna(first) or past < pd.Timestamp(first).date():
        return PRIOR_CALIBRATION
    fitted = _past_outcome(db, dataset_id, past, as_of, params, h)
    if fitted is None:
        return PRIOR_CALIBRATION
    frame, left = fitted
    candidates = {scorer: _fit(scorer, frame, left) for scorer in SCORERS}
    common = {"fitted_on": past, "customers": len(frame), "left": int(left.sum()), "candidates": candidates}
    earlier = past - timedelta(days=h)
    validation = (None if earlier < pd.Timestamp(first).date()
                  else _past_outcome(db, dataset_id, earlier, past, params, h))
    if validation is None:
        return Calibration(candidates["model_only"], "history-model-only", scorer="model_only",
                           why="too_short_to_validate", **common)
    v_frame, v_left = validation
    auc = {scorer: _risk_auc(frame, scorer, _fit(scorer, v_frame, v_left), left) for scorer in SCORERS}
    scorer = "full" if auc["full"] >= auc["model_only"] else "model_only"
    return Calibration(candidates[scorer], "history" if scorer == "full" else "history-model-only",
                       scorer=scorer, why="reasons_helped" if scorer == "full" else "reasons_did_not_help",
                       validated_on=earlier, validation_customers=len(v_frame),
                       auc_validation_full=auc["full"], auc_validation_model_only=auc["model_only"], **common)


def scorer_note(calibration: Calibration | dict, lang: str = "en") -> str:
    """Which scorer the risk uses and why, in words (for the page's caption).
    Takes a :class:`Calibration` or its :meth:`Calibration.summary`."""
    info = calibration.summary() if isinstance(calibration, Calibration) else calibration
    why = info["why"]
    if why in ("reasons_helped", "reasons_did_not_help"):
        return t("churn_scorer_" + why, lang, auc_full=info["auc_validation_full"],
                 auc_model=info["auc_validation_model_only"], validated_on=info["validated_on"],
                 fitted_on=info["fitted_on"])
    return t("churn_scorer_" + why, lang)


# --------------------------------------------------------------------------- the list
def _empty(columns: tuple[str, ...] = COLUMNS) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def call_list_mask(value_at_risk: np.ndarray | pd.Series, customer_id: np.ndarray | pd.Series,
                   share: float = CALL_LIST_VALUE_SHARE) -> np.ndarray:
    """Which customers are on the call list: the smallest set that, taken in
    order of value at risk (largest first, ties by customer id), carries at
    least ``share`` of the total value at risk (module docstring, "At risk").
    A customer with no value at risk is never listed, so the list is empty
    when nobody carries any. Boolean, in the input's order."""
    v = np.nan_to_num(np.asarray(value_at_risk, dtype=np.float64)).clip(min=0.0)
    ids = np.asarray(customer_id).astype(str)
    out = np.zeros(len(v), dtype=bool)
    total = float(v.sum())
    if not len(v) or total <= 0:
        return out
    order = np.lexsort((ids, -v))
    before = np.cumsum(v[order]) - v[order]
    # the relative tolerance keeps a sum that reaches the share exactly from admitting one more
    out[order] = (before < share * total * (1 - 1e-9)) & (v[order] > 0)
    return out


def _probability(frame: pd.DataFrame, calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """(model part's log-odds, probability of leaving) of every row of the signals ``frame``."""
    model_logit, logit = _logits(frame, calibration.scorer, calibration.terms)
    return model_logit, special.expit(logit)


def _score(frame: pd.DataFrame, calibration: Calibration, h: int, lang: str, as_of: date,
           only_listed: bool = False) -> pd.DataFrame:
    """The signals ``frame`` scored with ``calibration`` (the columns of
    :data:`COLUMNS`). With ``only_listed`` only the customers on the call list
    (:func:`call_list_mask`) are kept and worded."""
    model_logit, probability = _probability(frame, calibration)
    model_score = risk_score(special.expit(model_logit))
    value_at_risk = frame["expected_value"].to_numpy(np.float64) * probability
    listed = call_list_mask(value_at_risk, frame["customer_id"])
    total = float(value_at_risk.sum())
    if only_listed:
        frame, probability, model_score, model_logit, value_at_risk, listed = (
            frame[listed], probability[listed], model_score[listed], model_logit[listed], value_at_risk[listed],
            listed[listed])
    frame = frame.copy()
    reasons, words = _reasons(frame, calibration.terms, h, lang, as_of, (model_logit, model_score), probability,
                              value_at_risk, listed, total)
    frame["probability_leave"] = probability
    frame["risk_score"] = risk_score(probability)
    frame["value_at_risk"] = value_at_risk
    frame["on_call_list"] = listed
    frame["reasons"] = reasons
    frame["reasons_text"] = words
    frame["owner"] = frame["owner"].astype("object").where(frame["owner"].notna(), None)
    out = frame[list(COLUMNS)]
    out.attrs["calibration"] = calibration.summary()
    return out


def score_customers(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS, *,
                    horizon_days: int | None = None, lang: str = "en",
                    calibration: Calibration | None = None, only_listed: bool = False) -> pd.DataFrame:
    """Every customer not lost at ``as_of``, scored (the columns of :data:`COLUMNS`),
    unsorted and unfiltered; ``horizon_days`` (default lost_after_days) is h.
    ``calibration`` defaults to :func:`calibrate` at ``as_of``; its
    :meth:`Calibration.summary` is in the frame's ``attrs["calibration"]``.
    ``only_listed`` keeps only the customers on the call list."""
    h = params.lost_after_days if horizon_days is None else int(horizon_days)
    frame = _signals(db, dataset_id, as_of, params, h)
    if frame.empty:
        return _empty()
    if calibration is None:
        calibration = calibrate(db, dataset_id, as_of, params, horizon_days=h)
    return _score(frame, calibration, h, lang, as_of, only_listed)


def churn_warnings(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS, *,
                   include_all: bool = False, lang: str = "en", horizon_days: int | None = None) -> pd.DataFrame:
    """The call list (the customers who together carry CALL_LIST_VALUE_SHARE of
    the value at risk, :func:`call_list_mask`), or with ``include_all`` every
    customer not lost at ``as_of`` (``on_call_list`` marks the listed); sorted by value at
    risk, largest first, ties by customer id. Columns: :data:`COLUMNS`
    (risk_score: 0-100, not rounded). Which scorer the risk uses and why
    is in ``attrs["calibration"]`` (:meth:`Calibration.summary`; in words:
    :func:`scorer_note`)."""
    if horizon_days is None or int(horizon_days) == params.lost_after_days:
        stored = stored_frame(db, "churn_warnings", dataset_id, as_of=as_of, lang=lang, **params.as_sql_params())
        if stored is not None:  # every customer scored at D, stored with the fits (warnings_state)
            return stored if include_all else listed_rows(stored)
    frame = score_customers(db, dataset_id, as_of, params, horizon_days=horizon_days, lang=lang,
                            only_listed=not include_all)
    if frame.empty:
        return frame
    return frame.sort_values(["value_at_risk", "customer_id"], ascending=[False, True],
                             kind="mergesort").reset_index(drop=True)


def listed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The call list taken from an ``include_all`` frame of :func:`churn_warnings`:
    its rows marked ``on_call_list``, in its order, with its ``attrs`` (a
    customer's reasons do not depend on who else is scored)."""
    if frame.empty:
        return frame
    listed = frame[frame["on_call_list"].astype(bool).to_numpy()].reset_index(drop=True)
    listed.attrs = dict(frame.attrs)
    return listed


def warnings_state(db: Database, dataset_id: int, as_of: date, lang: str, **definitions: int) -> pd.DataFrame:
    """:func:`churn_warnings` of every customer at ``as_of`` in ``lang``, to be
    stored with the fits (crmflow.results.FRAME_FITS), from the fits of the same pass."""
    return churn_warnings(db, dataset_id, as_of, Params(**definitions), include_all=True, lang=lang)


def risk_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers per 10-point band of risk score, every band present: [0, 10)
    labelled "0-9.9", ..., [80, 90) "80-89.9", and [90, 100] "90-100"."""
    scores = pd.to_numeric(frame["risk_score"], errors="coerce").dropna().to_numpy(np.float64).clip(0, 100)
    band = np.minimum(np.floor(scores / 10).astype(np.int64), 9)
    counts = np.bincount(band, minlength=10)
    return pd.DataFrame({
        "band": [f"{10 * b}-{10 * b + 9.9:g}" if b < 9 else "90-100" for b in range(10)],
        "band_start": [10 * b for b in range(10)],
        "customers": counts.astype(int),
    })


# --------------------------------------------------------------------------- measurement
def roc_auc(scores: np.ndarray | pd.Series, positive: np.ndarray | pd.Series) -> float:
    """ROC AUC of ``scores`` for the boolean ``positive``: the Mann-Whitney
    probability that a random positive scores above a random negative, ties
    counted half (average ranks). NaN when either class is empty."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy import stats

    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate_auc(db: Database, dataset_id: int | Scope, as_of: date, horizon_days: int = 180,
                 params: Params | None = None, *, calibration: Calibration | None = None) -> dict[str, object]:
    """How well the warnings at ``as_of`` foresaw who placed no order in the next
    ``horizon_days`` days, among the customers not lost at ``as_of``.

    Returns counts and ROC AUCs of: the risk score (``auc_risk_score``), the
    unrounded probability, the model base P0 alone, and the BG/NBD expected
    orders in the horizon alone (score = -expected orders, ``auc_model``); the
    risk score of each candidate scorer as learned on D - h -> D
    (``auc_risk_full``, ``auc_risk_model_only``: what either would have
    scored; None for the prior rule); the mean predicted probability against
    the share that left, and Brier scores; and where the terms came from:
    ``calibration`` (the source), ``scorer``, ``scorer_why``, ``validated_on``
    and the validation AUCs on D - h -> D (``auc_validation_full``,
    ``auc_validation_model_only``; None when not validated), the chosen
    scorer's ``terms`` and FULL's (``terms_full``, as learned on D - h -> D
    even when not chosen; the prior for the prior rule). The definition
    parameters default to lost_after_days = horizon_days; ``calibration``
    defaults to :func:`calibrate` at ``as_of`` (pass
    :data:`PRIOR_CALIBRATION` to measure the prior rule).
    """
    from crmflow.stages import data_range

    params = Params(lost_after_days=int(horizon_days)) if params is None else params
    h = int(horizon_days)
    end = as_of + timedelta(days=h)
    last = data_range(db, dataset_id)[1]
    if end > last:
        raise CrmflowError(
            f"Measuring the warnings needs {horizon_days} days of data after {as_of}, but the data end on {last}",
            f"Choose an as-of date on or before {last - timedelta(days=h)}",
        )
    if calibration is None:
        calibration = calibrate(db, dataset_id, as_of, params, horizon_days=h)
    signals = _signals(db, dataset_id, as_of, params, h)
    frame = _empty() if signals.empty else _score(signals, calibration, h, "en", as_of)
    actual = stored_or_run(db, "holdout_purchases", dataset_id, start_date=as_of, end_date=end)
    frame = frame.merge(actual, on="customer_id", how="left", validate="one_to_one")
    left = frame["actual_purchases"].fillna(0).to_numpy() == 0
    p = frame["probability_leave"].to_numpy(np.float64)
    base = frame["probability_model"].to_numpy(np.float64)
    at_risk = (frame["risk_score"] >= AT_RISK_SCORE).to_numpy()
    candidate_auc = {scorer: (_risk_auc(signals, scorer, calibration.candidates[scorer], left)
                              if scorer in calibration.candidates and len(frame) else None) for scorer in SCORERS}
    some = len(frame) > 0
    return {
        "as_of": as_of.isoformat(),
        "horizon_days": h,
        "customers": len(frame),
        "left": int(left.sum()),
        "stayed": int((~left).sum()),
        "at_risk": int(at_risk.sum()),
        "left_among_at_risk": int((left & at_risk).sum()),
        "auc_risk_score": roc_auc(frame["risk_score"], left),
        "auc_probability": roc_auc(p, left),
        "auc_model_probability": roc_auc(base, left),
        "auc_model": roc_auc(-frame["expected_orders"].to_numpy(np.float64), left),
        "auc_risk_full": candidate_auc["full"],
        "auc_risk_model_only": candidate_auc["model_only"],
        "mean_probability": float(p.mean()) if some else float("nan"),
        "share_left": float(left.mean()) if some else float("nan"),
        "brier": float(np.mean((p - left) ** 2)) if some else float("nan"),
        "brier_model": float(np.mean((base - left) ** 2)) if some else float("nan"),
        "calibration": calibration.source,
        "scorer": calibration.scorer,
        "scorer_why": calibration.why,
        "fitted_on": None if calibration.fitted_on is None else calibration.fitted_on.isoformat(),
        "validated_on": None if calibration.validated_on is None else calibration.validated_on.isoformat(),
        "auc_validation_full": calibration.auc_validation_full,
        "auc_validation_model_only": calibration.auc_validation_model_only,
        "terms": {k: round(v, 4) for k, v in calibration.terms.items()},
        "terms_full": {k: round(v, 4) for k, v in calibration.candidates.get("full", calibration.terms).items()},
    }


# --------------------------------------------------------------------------- the empty list, in words
def empty_list_note(everyone: pd.DataFrame, days: int, lang: str = "en") -> str | None:
    """Why the call list of ``everyone`` (a scored include_all frame) is
    empty, in words; None when it is not empty or nobody is scored (the page
    then says there is nothing to warn about). The list is empty only when no
    customer carries value at risk (:func:`call_list_mask`)."""
    if everyone.empty or bool(everyone["on_call_list"].astype(bool).any()):
        return None
    leavers = float(everyone["probability_leave"].astype("float64").sum())
    return t("ct_empty_no_value", lang, leavers=leavers, scored=len(everyone), days=int(days))


# --------------------------------------------------------------------------- track record
def verdict_code(auc: float | None, recency_auc: float | None, left: int, stayed: int) -> str:
    """The track record's verdict (one of :data:`VERDICTS`; module docstring,
    "Track record"): ``no_history`` without anybody scored at D - h,
    ``too_few`` with fewer than MIN_TRACK_EVENTS leavers or stayers,
    ``no_better_than_chance`` with an AUC below CHANCE_AUC,
    ``no_better_than_recency`` with an AUC at most recency's, else
    ``better_than_recency``."""
    if left + stayed == 0:
        return "no_history"
    if min(left, stayed) < MIN_TRACK_EVENTS or auc is None or math.isnan(auc):
        return "too_few"
    if auc < CHANCE_AUC:
        return "no_better_than_chance"
    if recency_auc is not None and not math.isnan(recency_auc) and auc <= recency_auc:
        return "no_better_than_recency"
    return "better_than_recency"


def _share(part: float, whole: float) -> float | None:
    return float(part / whole) if whole > 0 else None


def calibration_bands(probability: np.ndarray, left: np.ndarray, customer_id: np.ndarray | None = None,
                      bands: int = TRACK_BANDS) -> list[dict]:
    """Predicted vs actual share leaving in ``bands`` bands of predicted risk
    with equal numbers of customers (lowest risk first; ties by customer id;
    band k holds the customers ranked floor(k n / bands) to floor((k + 1) n /
    bands) - 1): per band its number (1 = lowest), customers, the lowest and
    highest probability, the mean probability (``predicted``) and the share
    who left (``actual``). Fewer bands when there are fewer customers."""
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(left, dtype=bool)
    n = len(p)
    ids = np.arange(n).astype(str) if customer_id is None else np.asarray(customer_id).astype(str)
    order = np.lexsort((ids, p))
    band = np.empty(n, dtype=np.int64)
    band[order] = np.arange(n) * bands // max(n, 1)
    out = []
    for k in range(bands):
        inside = band == k
        if not inside.any():
            continue
        out.append({"band": len(out) + 1, "customers": int(inside.sum()),
                    "low": round(float(p[inside].min()), 4), "high": round(float(p[inside].max()), 4),
                    "predicted": round(float(p[inside].mean()), 4), "actual": round(float(y[inside].mean()), 4)})
    return out


def track_numbers(customer_id, probability, value_at_risk, expected_value, days_since_last_order,
                  left) -> dict[str, object]:
    """The track record's numbers from the warnings of one date and who then
    left (one entry per customer scored then): ``auc`` (of the risk score, as
    shown) and ``recency_auc`` (of days since the last order); the call list
    then (:func:`call_list_mask` on the value at risk then) and its
    ``caught_share`` of the leavers and ``caught_value_share`` of their
    expected value then (None when the leavers had none); a recency list of
    the same length (longest since the last order first, ties by customer
    id) and its ``recency_caught_share`` / ``recency_caught_value_share``;
    the expected and actual number of leavers; the calibration bands
    (:func:`calibration_bands`); and the ``verdict`` (:func:`verdict_code`)."""
    ids = np.asarray(customer_id).astype(str)
    p = np.asarray(probability, dtype=np.float64)
    var = np.asarray(value_at_risk, dtype=np.float64)
    ev = np.nan_to_num(np.asarray(expected_value, dtype=np.float64))
    days = np.asarray(days_since_last_order, dtype=np.float64)
    y = np.asarray(left, dtype=bool)
    n, n_left = len(y), int(y.sum())
    listed = call_list_mask(var, ids)
    by_recency = np.zeros(n, dtype=bool)
    by_recency[np.lexsort((ids, -days))[:int(listed.sum())]] = True
    auc = roc_auc(risk_score(p), y) if n else float("nan")
    recency = roc_auc(days, y) if n else float("nan")
    value_left = float(ev[y].sum())
    return {
        "customers": n,
        "left": n_left,
        "stayed": n - n_left,
        "expected_leavers": round(float(p.sum()), 4),
        "auc": _rounded(auc),
        "recency_auc": _rounded(recency),
        "listed": int(listed.sum()),
        "caught": int((listed & y).sum()),
        "caught_share": _rounded(_share(float((listed & y).sum()), n_left)),
        "caught_value_share": _rounded(_share(float(ev[listed & y].sum()), value_left)),
        "recency_caught_share": _rounded(_share(float((by_recency & y).sum()), n_left)),
        "recency_caught_value_share": _rounded(_share(float(ev[by_recency & y].sum()), value_left)),
        "calibration": calibration_bands(p, y, ids),
        "verdict": verdict_code(auc, recency, n_left, n - n_left),
    }


def track_record(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS, *,
                 horizon_days: int | None = None) -> dict[str, object]:
    """How the warnings did on this dataset's own past (module docstring,
    "Track record"): the warnings of D - h (h = ``horizon_days``, default
    lost_after_days), scored with :func:`calibrate` at D - h (nothing after
    D - h is used), against who placed no order in (D - h, D]. The numbers of
    :func:`track_numbers` plus ``scored_at`` (D - h, the warnings' date),
    ``outcome_end`` (D) and ``horizon_days``; with ``verdict`` ``no_history``
    (D - h before the first order, or nobody not lost then) the numbers are
    None. Kept on ``db`` per (scope, as_of, params, h) like the CLV fit."""
    h = params.lost_after_days if horizon_days is None else int(horizon_days)
    return db.memoised(("churn_track_record", dataset_id, as_of, params, h),
                       lambda: _track_record(db, dataset_id, as_of, params, h))


def _track_record(db: Database, dataset_id: int | Scope, as_of: date, params: Params, h: int) -> dict[str, object]:
    stored = stored_params(db, "churn_track_record", dataset_id, as_of=as_of, horizon_days=h,
                           **params.as_sql_params())
    if stored is not None:  # stored with the dataset (crmflow.results.compute_fits)
        return stored
    past = as_of - timedelta(days=h)
    head = {"scored_at": past.isoformat(), "outcome_end": as_of.isoformat(), "horizon_days": h}
    first = db.run("last_order_date", dataset_id=dataset_id).iloc[0]["first_order_date"]
    signals = (pd.DataFrame() if pd.isna(first) or past < pd.Timestamp(first).date()
               else _signals(db, dataset_id, past, params, h))
    if signals.empty:
        return {**head, **dict.fromkeys(("customers", "left", "stayed", "expected_leavers", "auc", "recency_auc",
                                         "listed", "caught", "caught_share", "caught_value_share",
                                         "recency_caught_share", "recency_caught_value_share")),
                "calibration": [], "verdict": "no_history"}
    calibration = calibrate(db, dataset_id, past, params, horizon_days=h)
    _, probability = _probability(signals, calibration)
    actual = stored_or_run(db, "holdout_purchases", dataset_id, start_date=past, end_date=as_of)
    frame = signals.merge(actual, on="customer_id", how="left")
    if len(frame) != len(signals):  # cannot happen: holdout_purchases has one row per customer
        raise CrmflowError("The holdout has a customer twice", "Please report this bug")
    expected = frame["expected_value"].to_numpy(np.float64)
    numbers = track_numbers(frame["customer_id"], probability, expected * probability, expected,
                            frame["days_since_last_order"], frame["actual_purchases"].fillna(0).to_numpy() == 0)
    return {**head, **numbers, "scorer": calibration.scorer}


def track_verdict(record: dict, lang: str = "en") -> str:
    """The track record's verdict in one plain sentence; when the warnings
    worked but their call list caught fewer of the leavers than a recency list
    of the same length, a second sentence says so."""
    verdict = record["verdict"]
    values = {"past": record["scored_at"], "end": record["outcome_end"], "days": record["horizon_days"]}
    if verdict in ("no_better_than_chance", "no_better_than_recency", "better_than_recency"):
        values.update(auc=record["auc"], recency=record["recency_auc"], chance=CHANCE_AUC)
    if verdict == "too_few":
        values.update(left=record["left"], stayed=record["stayed"], minimum=MIN_TRACK_EVENTS)
    text = t("ct_verdict_" + verdict, lang, **values)
    caught, by_recency = record.get("caught_share"), record.get("recency_caught_share")
    if verdict == "better_than_recency" and caught is not None and by_recency is not None and caught < by_recency:
        text += (" " if lang != "zh" else "") + t("clvmend_fewer_caught", lang, past=record["scored_at"],
                                                  caught=caught, recency=by_recency)
    return text


# --------------------------------------------------------------------------- stored with the dataset
# crmflow.results.compute_fits stores the calibration at D and D - h and the
# track record at D (default definitions) as plain values; the readers above
# take them instead of fitting (the same numbers: floats survive JSON exactly).
_CALIBRATION_DATES = ("fitted_on", "validated_on")


def _calibration_state(calibration: Calibration) -> dict[str, object]:
    state = dict(vars(calibration))
    for name in _CALIBRATION_DATES:
        state[name] = None if state[name] is None else state[name].isoformat()
    return state


def _calibration_from_state(data: dict) -> Calibration:
    values = dict(data)
    for name in _CALIBRATION_DATES:
        values[name] = None if values[name] is None else date.fromisoformat(values[name])
    return Calibration(**values)


def calibration_state(db: Database, dataset_id: int, as_of: date, horizon_days: int,
                      **definitions: int) -> dict[str, object]:
    """:func:`calibrate` at ``as_of`` as plain values, to be stored."""
    return _calibration_state(calibrate(db, dataset_id, as_of, Params(**definitions), horizon_days=horizon_days))


def track_record_state(db: Database, dataset_id: int, as_of: date, horizon_days: int,
                       **definitions: int) -> dict[str, object]:
    """:func:`track_record` at ``as_of`` (plain values already), to be stored."""
    return track_record(db, dataset_id, as_of, Params(**definitions), horizon_days=horizon_days)
