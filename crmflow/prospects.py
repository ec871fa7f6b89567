"""Conversion prospects (issue 17, part 1; 潜在客户挖掘): which of today's
leads, first-time buyers and repeat buyers are likely to take the next stage
step within h days (default 90), why, in words, and what the step is worth.

The steps (stages of SPEC §2, :mod:`crmflow.stages`)
------------------------------------------------------
* ``potential`` -> first purchase: any order in (D, D + h].
* ``first`` -> repeat: another order in (D, D + h].
* ``repeat`` -> loyal: an order day in (D, D + h] on which the orders in
  (day - loyal_window_days, day] reach loyal_orders.

What is known of a customer at D (the named query ``prospect_features``):
days in the stage (since the lead was created, the first order, the last
order), the first order's value and category, region, account manager,
contacts (interactions that are not complaints) since the stage began, and
for repeat buyers the orders still missing to be loyal.

The scorer: binned traits, rates learned from the dataset's own past
--------------------------------------------------------------------
Like the churn warnings (:mod:`crmflow.churn`), the rule is learned from the
past and never from the future. At X = D - h every customer then in the
stage is put in a bin per trait (:func:`bin_frame`: days in the stage
< 30, 30-89, 90-179, 180-364, 365+ or unknown; first order value in the
quartiles of the stage's customers at X; category, region and account
manager as they are; contacts 0, 1-2, 3+; orders missing 1, 2, 3+), and
whether each moved in (X, D] is looked up. Per stage:

* base rate ``b`` = moved / customers at X;
* per trait and bin, a rate shrunk towards ``b`` by :data:`PRIOR_CUSTOMERS`
  (5) customers at the base rate: ``r = (moved_bin + 5 b) / (customers_bin + 5)``
  (a bin of a few customers says little; a bin not seen at X gets ``b``);
* per trait, the contribution ``c = logit(r) - logit(b)``: how much the bin
  raises or lowers the log-odds of the step;
* the score ``s = logit(b) + sum of c`` (each trait read as independent
  evidence: naive Bayes in log-odds), and the probability
  ``P = 1 / (1 + exp(-(a + k s)))`` where (a, k) calibrate it (Platt
  scaling): the maximum-likelihood fit of who moved on the scores at X, when
  at least :data:`MIN_CALIBRATION_EVENTS` moved and stayed (k in
  [0.05, 2], so the order of the customers is the scores'); otherwise
  a = 0, k = 1 (the rates as they are). Traits that overlap (region and
  account manager, say) count twice in ``s``; the calibration shrinks that
  back (k < 1) where the past shows it.

When nobody or everybody in a stage moved at X (or the stage had nobody at
X), every customer of the stage gets the base rate (0 or 1), or no
probability at all with no past (``no_past``), and the notes say so.

The expected value of a step = P x the mean net revenue that the customers
who took the same step at X brought in (X, D] (``move_value``).

The list and its backtest
-------------------------
The prospects list is every customer of the three stages, sorted by expected
value (largest first; ties by probability, then customer id). Its "top" is as
many customers as the list expects to move (the sum of P, at least 1).
:func:`track_record` replays it on the past: rules learned at D - 2h on
(D - 2h, D - h], applied at D - h, checked against who moved in (D - h, D]:
ROC AUC of P (pooled and per step), how many of the real movers the top of
the list (sorted by expected value, as shown) caught against a random list
of the same length, predicted vs actual in bands
(:func:`crmflow.churn.calibration_bands`), and a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import optimize, special

from crmflow.churn import calibration_bands, clipped_logit, roc_auc
from crmflow.config import COMPLAINT_PATTERN, Params
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.headlines import money
from crmflow.i18n import t

#: The stages a customer can step on from, and the step's target.
STEPS = {"potential": "first", "first": "repeat", "repeat": "loyal"}
DEFAULT_HORIZON_DAYS = 90
DEFAULT_PARAMS = Params()
#: A bin's rate is shrunk towards the stage's base rate by this many customers.
PRIOR_CUSTOMERS = 5.0
#: Platt calibration only with at least this many who moved and who stayed at X.
MIN_CALIBRATION_EVENTS = 20
SLOPE_BOUNDS = (0.05, 2.0)
INTERCEPT_BOUNDS = (-5.0, 5.0)
#: Days in the stage: bin edges (days < 30, 30-89, 90-179, 180-364, 365+).
DAY_EDGES = (30, 90, 180, 365)
#: Contacts since the stage began: 0, 1-2, 3+.
CONTACT_EDGES = (1, 3)
#: The traits of each step, in the order the reasons list them on a tie.
TRAITS = {
    "potential": ("days", "region", "owner", "contacts"),
    "first": ("days", "value", "category", "region", "owner", "contacts"),
    "repeat": ("days", "to_loyal", "value", "category", "region", "owner", "contacts"),
}
#: Reasons shown per customer (largest contributions first).
MAX_REASONS = 3
#: A contribution smaller than this (log-odds) is not a reason.
MIN_REASON = 0.05
#: Track record: at least this many movers and stayers, else "too little history".
MIN_TRACK_EVENTS = 10
CHANCE_AUC = 0.6
VERDICTS = ("no_history", "too_few", "no_better_than_chance", "better_than_chance")
UNKNOWN = "unknown"

COLUMNS = ("customer_id", "stage", "next_stage", "probability", "expected_value", "move_value", "days_in_stage",
           "first_order_value", "first_category", "region", "owner", "contacts", "reasons", "reasons_text")


# --------------------------------------------------------------------------- binning
#: The labels of the day bins (split at DAY_EDGES), of the contact bins (at
#: CONTACT_EDGES) and of the orders still missing to be loyal (1, 2, 3+).
DAY_LABELS = ("<30", "30-89", "90-179", "180-364", "365+")
CONTACT_LABELS = ("0", "1-2", "3+")
TO_LOYAL_LABELS = ("1", "2", "3+")


def _numbers(values: pd.Series) -> np.ndarray:
    """A numeric column as float64, NaN where a value is missing (None, NaN, pd.NA)."""
    return pd.to_numeric(pd.Series(values)).to_numpy(np.float64, na_value=np.nan)


def _cut(v: np.ndarray, edges: tuple[float, ...], labels: tuple[str, ...]) -> np.ndarray:
    """The label of each value of ``v`` (float64): ``labels[k]`` with k the
    number of ``edges`` at or below it (a value on an edge goes to the bin
    above it); UNKNOWN for NaN. An object array."""
    table = np.array((*labels, UNKNOWN), dtype=object)
    k = np.searchsorted(np.asarray(edges), v, side="right")
    return table[np.where(np.isnan(v), len(labels), k)]


def day_bins(days: pd.Series) -> np.ndarray:
    """Days in the stage: <30, 30-89, 90-179, 180-364, 365+, unknown when missing."""
    return _cut(_numbers(days), DAY_EDGES, DAY_LABELS)


def contact_bins(contacts: pd.Series) -> np.ndarray:
    """Contacts since the stage began (a missing count is 0, a fraction is cut off): 0, 1-2, 3+."""
    n = _numbers(contacts)
    return _cut(np.where(np.isnan(n), 0.0, np.trunc(n)), CONTACT_EDGES, CONTACT_LABELS)


def text_bins(values: pd.Series) -> np.ndarray:
    """Category, region, account manager as they are (as text); unknown when
    missing or blank. Each distinct value is looked at once."""
    codes, distinct = pd.factorize(pd.Series(values))
    words = [str(v) for v in distinct]
    table = np.array([UNKNOWN if w.strip() == "" else w for w in words] + [UNKNOWN], dtype=object)
    return table[codes]  # code -1 (missing) is the last entry


def value_edges(values: pd.Series) -> tuple[float, ...]:
    """The quartile edges (25th, 50th, 75th percentiles, linear interpolation)
    of the first order values of a stage's customers at X; () when none."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(np.float64)
    if not len(v):
        return ()
    return tuple(float(q) for q in np.quantile(v, (0.25, 0.5, 0.75)))


def value_bins(values: pd.Series, edges: tuple[float, ...]) -> np.ndarray:
    """First order value: q1 (below the first edge) to q4; unknown when missing or without edges."""
    v = _numbers(values)
    if not edges:
        return np.full(len(v), UNKNOWN, dtype=object)
    return _cut(v, edges, tuple(f"q{k + 1}" for k in range(len(edges) + 1)))


def to_loyal_bins(orders_in_window: pd.Series, params: Params) -> np.ndarray:
    """Orders still missing to be loyal (at least 1; a fraction is cut off): 1, 2, 3+."""
    missing = np.maximum(params.loyal_orders - pd.to_numeric(orders_in_window).fillna(0).to_numpy(np.float64), 1)
    return np.array(TO_LOYAL_LABELS, dtype=object)[np.minimum(np.trunc(missing), 3).astype(np.intp) - 1]


def bin_frame(frame: pd.DataFrame, edges: tuple[float, ...], params: Params) -> pd.DataFrame:
    """One bin label per trait (columns ``bin_<trait>``) for rows of
    ``prospect_features``; ``edges`` are the value quartiles of the stage at X."""
    out = pd.DataFrame(index=frame.index)
    for column, labels in (("bin_days", day_bins(frame["days_in_stage"])),
                           ("bin_value", value_bins(frame["first_order_value"], edges)),
                           ("bin_category", text_bins(frame["first_category"])),
                           ("bin_region", text_bins(frame["region"])),
                           ("bin_owner", text_bins(frame["owner"])),
                           ("bin_contacts", contact_bins(frame["contacts"])),
                           ("bin_to_loyal", to_loyal_bins(frame["orders_in_window"], params))):
        out[column] = labels.tolist()  # a list of str, as pandas infers its dtype (str; float64 when empty)
    return out


# --------------------------------------------------------------------------- one step's rule
@dataclass(frozen=True)
class StepModel:
    """The rule of one step, learned at ``learned_at`` (X) on the outcome in (X, X + h]."""

    stage: str
    learned_at: date
    customers: int
    moved: int
    base: float | None  # moved / customers; None with nobody in the stage at X
    rates: dict = field(default_factory=dict)  # trait -> bin -> (customers, moved, shrunk rate)
    edges: tuple[float, ...] = ()
    move_value: float | None = None  # mean net revenue in (X, X + h] of those who moved; None with nobody at X
    took_days: float | None = None  # median days from the stage's start to the step, of those who moved
    intercept: float = 0.0
    slope: float = 1.0
    calibrated: bool = False

    @property
    def degenerate(self) -> bool:
        """True when the traits cannot tell anything (nobody, nobody moved, or everybody)."""
        return self.base is None or self.moved == 0 or self.moved == self.customers


def learn_step(frame: pd.DataFrame, stage: str, learned_at: date, params: Params) -> StepModel:
    """The rule of ``stage``'s step from ``prospect_features`` at X (``frame``:
    that stage's rows, with ``moved`` and ``value_after`` on (X, X + h])."""
    n = len(frame)
    if n == 0:
        return StepModel(stage, learned_at, 0, 0, None)
    y = frame["moved"].astype(bool).to_numpy()
    moved = int(y.sum())
    base = moved / n
    movers = frame[y]
    move_value = float(pd.to_numeric(movers["value_after"]).mean()) if moved else 0.0
    took = pd.to_numeric(movers["took_days"], errors="coerce").dropna()
    took_days = float(took.median()) if len(took) else None
    edges = value_edges(frame["first_order_value"]) if stage != "potential" else ()
    if moved == 0 or moved == n:
        return StepModel(stage, learned_at, n, moved, base, {}, edges, move_value, took_days)
    bins = bin_frame(frame, edges, params)
    rates: dict[str, dict[str, tuple[int, int, float]]] = {}
    for trait in TRAITS[stage]:
        groups = pd.DataFrame({"bin": bins["bin_" + trait].to_numpy(), "y": y}).groupby("bin")["y"]
        rates[trait] = {b: (int(c), int(m), (m + PRIOR_CUSTOMERS * base) / (c + PRIOR_CUSTOMERS))
                        for b, c, m in zip(groups.size().index, groups.size(), groups.sum())}
    model = StepModel(stage, learned_at, n, moved, base, rates, edges, move_value, took_days)
    scores = _contributions(model, bins)[0]
    if min(moved, n - moved) >= MIN_CALIBRATION_EVENTS:
        a, k = platt(scores, y)
        model = StepModel(stage, learned_at, n, moved, base, rates, edges, move_value, took_days, a, k, True)
    return model


def platt(scores: np.ndarray, moved: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (a, k) of P = sigmoid(a + k s) for who ``moved``,
    k in :data:`SLOPE_BOUNDS`, a in :data:`INTERCEPT_BOUNDS` (L-BFGS-B)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(moved, dtype=np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + theta[1] * s
        p = special.expit(z)
        nll = float(np.sum(np.logaddexp(0, z) - y * z))
        g = p - y
        return nll, np.array([g.sum(), (g * s).sum()])

    res = optimize.minimize(loss, np.array([0.0, 1.0]), jac=True, method="L-BFGS-B",
                            bounds=[INTERCEPT_BOUNDS, SLOPE_BOUNDS])
    return float(res.x[0]), float(res.x[1])


def _contributions(model: StepModel, bins: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The naive score s per row and each trait's contribution c (module docstring)."""
    base_logit = float(clipped_logit(model.base))
    parts = {}
    for trait in TRAITS[model.stage]:
        table = model.rates.get(trait, {})
        codes, labels = pd.factorize(bins["bin_" + trait])  # each distinct bin looked up once
        r = np.array([table[b][2] if b in table else model.base for b in labels], dtype=np.float64)[codes]
        parts[trait] = clipped_logit(r) - base_logit
    score = base_logit + sum(parts.values(), np.zeros(len(bins)))
    return score, parts


def _calibrated(model: StepModel, bins: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """P and the calibrated contributions of the binned rows of a step that can tell (not degenerate)."""
    score, parts = _contributions(model, bins)
    p = special.expit(model.intercept + model.slope * score)
    return p, {k: model.slope * v for k, v in parts.items()}


def score_step(model: StepModel, frame: pd.DataFrame, params: Params) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """P of the step for each row of ``frame`` (that stage's customers at D)
    and each trait's contribution to its log-odds (after calibration)."""
    n = len(frame)
    if model.base is None:
        return np.full(n, np.nan), {}
    if model.degenerate:
        return np.full(n, float(model.base)), {}
    return _calibrated(model, bin_frame(frame, model.edges, params))


# --------------------------------------------------------------------------- reasons in words
def _bin_words(trait: str, b: str, model: StepModel, lang: str) -> str:
    if b == UNKNOWN:
        return t("pr_bin_unknown", lang)
    if trait == "value":
        k = int(b[1:])
        edges = model.edges
        if k == 1:
            return t("pr_bin_value_low", lang, high=money(edges[0], lang))
        if k == len(edges) + 1:
            return t("pr_bin_value_high", lang, low=money(edges[-1], lang))
        return t("pr_bin_value_mid", lang, low=money(edges[k - 2], lang), high=money(edges[k - 1], lang))
    return b


def reason_text(reason: dict, lang: str = "en") -> str:
    """One reason in words."""
    values = {k: v for k, v in reason.items() if k not in ("trait", "strength")}
    return t(f"pr_reason_{reason['trait']}", lang, **values)


def _reason(model: StepModel, trait: str, b: str, c: float, own: object, clock: str, lang: str) -> dict:
    """The reason of a contribution ``c`` of ``trait`` in bin ``b``; ``own`` is
    the row's days in the stage (trait days) or contacts (trait contacts)."""
    n, m, rate = model.rates[trait].get(b, (0, 0, model.base))
    # the words give what was observed (m of n at X); ``rate`` (shrunk) is what the score used
    reason = {"trait": trait, "strength": round(c, 4), "rate": rate, "base": model.base, "n": n, "moved": m}
    if trait == "days":
        reason.update(days=("?" if pd.isna(own) else f"{int(own):,}"), clock=clock,
                      took=("?" if model.took_days is None else f"{model.took_days:,.0f}"))
    elif trait == "contacts":
        reason.update(contacts=int(own), clock=clock)
    elif trait == "to_loyal":
        reason.update(needed=b)
    else:
        reason.update(value=_bin_words(trait, b, model, lang))
    return reason


def _distinct(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the columns ``codes`` (each a code >= -1 per row,
    e.g. from :func:`pandas.factorize`): each row's index among them, and
    the first row of each."""
    inverse = pd.factorize(codes[0])[0]
    for more in codes[1:]:
        inverse = pd.factorize((inverse + 1) * (int(more.max(initial=-1)) + 2) + (more + 1))[0]
    return inverse, np.unique(inverse, return_index=True)[1]  # codes 0, 1, ... in order of first appearance


def _base_words(model: StepModel, lang: str) -> list[str]:
    """The words of a row without a reason: the stage's base rate (none without a past)."""
    if model.base is None:
        return []
    return [t("pr_reason_base", lang, base=model.base, customers=model.customers,
              stage=t(f"stage_{model.stage}", lang))]


#: The column of a row that a trait's reason quotes besides its bin.
_QUOTED = {"days": "days_in_stage", "contacts": "contacts"}


def _reasons(model: StepModel, frame: pd.DataFrame, bins: pd.DataFrame, parts: dict[str, np.ndarray],
             lang: str) -> tuple[list[list[dict]], list[list[str]]]:
    """Per row of ``frame`` (binned as ``bins``, contributions ``parts``): its
    reasons, the traits whose contribution is at least :data:`MIN_REASON`
    (largest first, ties in :data:`TRAITS` order, at most
    :data:`MAX_REASONS`), and their words. A reason depends on a row only
    through its trait's bin, contribution and quoted value (:data:`_QUOTED`),
    so each distinct one is made and worded once; every row gets its own copies."""
    traits = TRAITS[model.stage]
    clock = t(f"pr_clock_{model.stage}", lang)
    made: list[tuple[dict, str]] = []  # the distinct reasons and their words
    ids = np.full((len(frame), len(traits)), -1, dtype=np.intp)  # row, trait -> index in made (-1: no reason)
    size = np.zeros(ids.shape)  # row, trait -> |strength|
    for j, trait in enumerate(traits):
        c = parts[trait]
        bin_codes, labels = pd.factorize(bins["bin_" + trait])
        quoted = frame[_QUOTED[trait]] if trait in _QUOTED else None
        key = (bin_codes, pd.factorize(c)[0]) + (() if quoted is None else (pd.factorize(quoted)[0],))
        inverse, first = _distinct(*key)
        which = np.full(len(first), -1, dtype=np.intp)
        strength = np.zeros(len(first))
        for u, i in enumerate(first):
            if abs(float(c[i])) < MIN_REASON:
                continue
            reason = _reason(model, trait, labels[bin_codes[i]], float(c[i]),
                             None if quoted is None else quoted.iloc[i], clock, lang)
            which[u], strength[u] = len(made), abs(reason["strength"])
            made.append((reason, reason_text(reason, lang)))
        ids[:, j], size[:, j] = which[inverse], strength[inverse]
    order = np.argsort(np.where(ids >= 0, -size, 1.0), axis=1, kind="stable")[:, :MAX_REASONS]
    base = _base_words(model, lang)
    reasons, texts = [], []
    for row in np.take_along_axis(ids, order, axis=1).tolist():
        shown = [made[k] for k in row if k >= 0]
        reasons.append([dict(reason) for reason, _ in shown])
        texts.append([words for _, words in shown] or list(base))
    return reasons, texts


# --------------------------------------------------------------------------- the list
def _features(db: Database, dataset_id: int | Scope, x: date, params: Params, h: int) -> pd.DataFrame:
    return db.run("prospect_features", dataset_id=dataset_id, dates=[x], as_of=x,
                  horizon_end=x + timedelta(days=h), complaint_pattern=COMPLAINT_PATTERN,
                  **params.as_sql_params())


def learn(db: Database, dataset_id: int | Scope, x: date, params: Params, h: int) -> dict[str, StepModel]:
    """The three steps' rules learned at ``x`` on (x, x + h] (kept on ``db``)."""
    def build() -> dict[str, StepModel]:
        frame = _features(db, dataset_id, x, params, h)
        return {s: learn_step(frame[frame["stage"] == s], s, x, params) for s in STEPS}

    return db.memoised(("prospect_rules", dataset_id, x, params, h), build)


def score(frame: pd.DataFrame, models: dict[str, StepModel], params: Params, lang: str = "en") -> pd.DataFrame:
    """The prospects list (:data:`COLUMNS`) of the customers in ``frame``
    (``prospect_features`` at D) under ``models``, sorted by expected value."""
    pieces = []
    for stage, model in models.items():
        part = frame[frame["stage"] == stage].reset_index(drop=True)
        if part.empty:
            continue
        if model.base is None or model.degenerate:
            p, _ = score_step(model, part, params)
            base = _base_words(model, lang)
            reasons, texts = [[] for _ in range(len(part))], [list(base) for _ in range(len(part))]
        else:
            bins = bin_frame(part, model.edges, params)
            p, parts = _calibrated(model, bins)
            reasons, texts = _reasons(model, part, bins, parts, lang)
        out = part[["customer_id", "stage", "days_in_stage", "first_order_value", "first_category", "region",
                    "owner", "contacts"]].copy()
        out["next_stage"] = STEPS[stage]
        out["probability"] = p
        value = np.nan if model.move_value is None else float(model.move_value)
        out["move_value"] = value  # NaN (like the probability) when the step has no past
        out["expected_value"] = p * value
        out["reasons"] = reasons
        out["reasons_text"] = texts
        pieces.append(out)
    if not pieces:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    full = pd.concat(pieces, ignore_index=True)
    full = full.sort_values(["expected_value", "probability", "customer_id"], ascending=[False, False, True],
                            na_position="last", kind="mergesort").reset_index(drop=True)
    return full[list(COLUMNS)]


@dataclass(frozen=True)
class Prospects:
    """The prospects at D: the list, the rules (learned at D - h) and notes (keys of what is missing)."""

    as_of: date
    horizon_days: int
    learned_at: date
    frame: pd.DataFrame
    models: dict
    notes: tuple[str, ...] = ()

    def expected_movers(self) -> float:
        return float(pd.to_numeric(self.frame["probability"]).fillna(0).sum())

    def scored(self) -> int:
        """How many customers have a probability."""
        return int(pd.to_numeric(self.frame["probability"]).notna().sum())

    def top(self) -> int:
        """Length of the list's top: as many as it expects to move (at least 1
        when anybody is scored, 0 when nobody is)."""
        return max(1, int(round(self.expected_movers()))) if self.scored() else 0


def step_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per step with customers at D: ``stage``, ``next_stage``, ``customers``
    (in the stage at D) and ``expected`` (the sum of their probabilities;
    NaN when none of them is scored: the step has no past)."""
    rows = []
    for stage, target in STEPS.items():
        inside = frame["stage"] == stage
        if inside.any():
            rows.append({"stage": stage, "next_stage": target, "customers": int(inside.sum()),
                         "expected": float(pd.to_numeric(frame.loc[inside, "probability"]).sum(min_count=1))})
    return pd.DataFrame(rows, columns=["stage", "next_stage", "customers", "expected"])


def _unlock_notes(db: Database, dataset_id: int | Scope, models: dict[str, StepModel],
                  stages_now: set[str]) -> tuple[str, ...]:
    """Keys of what the list lacks: the customers table or its created_at
    (no potential -> first model), interactions (no contacts), and a step
    with customers at D but nobody in its stage at D - h (no past)."""
    cov = db.run("data_coverage", dataset_id=dataset_id).iloc[0]
    notes = []
    if int(cov["customers"]) == 0:
        notes.append("pr_unlock_customers")
    elif int(cov["created_at"]) == 0:
        notes.append("pr_unlock_created_at")
    if int(cov["interactions"]) == 0:
        notes.append("pr_unlock_interactions")
    for stage, model in models.items():
        if model.base is None and stage in stages_now:
            notes.append(f"pr_no_past_{stage}")
    return tuple(notes)


def horizon_error(db: Database, dataset_id: int | Scope, as_of: date, h: int) -> CrmflowError:
    """The keyed error of a horizon that reaches before the data's first order date."""
    from crmflow.stages import data_range

    first = data_range(db, dataset_id)[0]  # type: ignore[arg-type]  (a Scope runs as its dataset, filtered)
    return CrmflowError(key="prospects_horizon", days=h, first=first.isoformat(), as_of=as_of.isoformat(),
                        most=max((as_of - first).days, 0))


def check_horizon(db: Database, dataset_id: int | Scope, as_of: date, h: int) -> None:
    """Raise :func:`horizon_error` when D - h is before the data's first order
    date (nothing to learn from: every probability would be missing)."""
    from crmflow.stages import data_range

    if (as_of - data_range(db, dataset_id)[0]).days < h:  # type: ignore[arg-type]
        raise horizon_error(db, dataset_id, as_of, h)


def _days_before(db: Database, dataset_id: int | Scope, as_of: date, h: int, days: int) -> date:
    """D - ``days``; the keyed horizon error when that is before the first date a calendar holds."""
    if days >= (as_of - date.min).days:
        raise horizon_error(db, dataset_id, as_of, h)
    return as_of - timedelta(days=days)


def prospects(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS,
              horizon_days: int = DEFAULT_HORIZON_DAYS, lang: str = "en") -> Prospects:
    """The prospects list at D = ``as_of`` (module docstring): rules learned
    at D - h on (D - h, D], applied to what is known at D."""
    h = int(horizon_days)
    if h < 1:
        raise CrmflowError("The horizon must be at least one day", "Pass --horizon-days 1 or more")
    x = _days_before(db, dataset_id, as_of, h, h)
    models = learn(db, dataset_id, x, params, h)
    now = _features(db, dataset_id, as_of, params, h)
    frame = score(now, models, params, lang)
    return Prospects(as_of, h, x, frame, models, _unlock_notes(db, dataset_id, models, set(now["stage"])))


# --------------------------------------------------------------------------- track record
def verdict_code(auc: float | None, moved: int, stayed: int) -> str:
    if moved + stayed == 0:
        return "no_history"
    if min(moved, stayed) < MIN_TRACK_EVENTS or auc is None or math.isnan(auc):
        return "too_few"
    return "no_better_than_chance" if auc < CHANCE_AUC else "better_than_chance"


def _r(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)


def stage_only_caught(frame: pd.DataFrame, moved: np.ndarray, bases: dict[str, float | None], top: int) -> float:
    """The expected catch of a list that knows only each customer's stage: the
    scored rows ordered by their stage's base rate (largest first), ties (a
    stage's customers, or stages of the same rate) in random order, cut at
    ``top`` rows. A stage cut in the middle catches its share of movers."""
    y = np.asarray(moved, dtype=bool)
    known = pd.to_numeric(frame["probability"]).notna().to_numpy()
    stages = frame["stage"].to_numpy()
    groups: dict[float, list[int]] = {}
    for stage in STEPS:
        inside = known & (stages == stage)
        if inside.any() and bases.get(stage) is not None:
            g = groups.setdefault(float(bases[stage]), [0, 0])
            g[0] += int(inside.sum())
            g[1] += int(y[inside].sum())
    left, caught = top, 0.0
    for rate in sorted(groups, reverse=True):
        customers, movers = groups[rate]
        take = min(left, customers)
        caught += take * movers / customers
        left -= take
        if left <= 0:
            break
    return caught


def track_numbers(frame: pd.DataFrame, moved: np.ndarray,
                  bases: dict[str, float | None] | None = None) -> dict[str, object]:
    """The backtest numbers of a scored list (``frame``, sorted as shown) and
    who then ``moved``: ROC AUC per step and their customer-weighted mean
    (``auc``, over the steps with both movers and stayers: what the verdict
    judges, since the pooled AUC ``pooled_auc`` also rewards telling the
    steps apart), the top of the list (as many as expected to move), the
    movers it caught, a random list's expected catch and a list by stage
    alone (``stage_caught``, with ``bases`` the stages' base rates; by
    default each stage's mean probability), calibration bands, the verdict,
    and the customers left out because they had no probability (``unscored``,
    ``unscored_moved``)."""
    y = np.asarray(moved, dtype=bool)
    p = pd.to_numeric(frame["probability"]).to_numpy(np.float64)
    known = ~np.isnan(p)
    n, n_moved = int(known.sum()), int(y[known].sum())
    top = max(1, int(round(float(p[known].sum())))) if n else 0
    listed = np.zeros(len(y), dtype=bool)
    listed[np.flatnonzero(known)[:top]] = True  # the frame is in list order
    pooled = roc_auc(p[known], y[known]) if n else float("nan")
    by_step = {}
    stages = frame["stage"].to_numpy()
    weighted, weight = 0.0, 0
    for stage in STEPS:
        inside = known & (stages == stage)
        auc = roc_auc(p[inside], y[inside]) if inside.any() else float("nan")
        by_step[stage] = {"customers": int(inside.sum()), "moved": int(y[inside].sum()),
                          "expected": _r(float(p[inside].sum())), "auc": _r(auc) if inside.any() else None}
        if not math.isnan(auc):
            weighted += int(inside.sum()) * auc
            weight += int(inside.sum())
    auc = weighted / weight if weight else float("nan")
    if bases is None:
        bases = {s: float(p[known & (stages == s)].mean()) for s in STEPS if (known & (stages == s)).any()}
    return {
        "customers": n, "moved": n_moved, "stayed": n - n_moved, "expected_movers": _r(float(p[known].sum())),
        "auc": _r(auc), "pooled_auc": _r(pooled), "top": top, "caught": int((listed & y).sum()),
        "caught_share": _r(float((listed & y).sum()) / n_moved) if n_moved else None,
        "random_caught": _r(top * n_moved / n) if n else None,
        "stage_caught": _r(stage_only_caught(frame, y, bases, top)) if n else None,
        "unscored": int((~known).sum()), "unscored_moved": int(y[~known].sum()),
        "by_step": by_step,
        "calibration": calibration_bands(p[known], y[known], frame["customer_id"].to_numpy()[known]),
        "verdict": verdict_code(auc, n_moved, n - n_moved),
    }


def track_record(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS,
                 horizon_days: int = DEFAULT_HORIZON_DAYS) -> dict[str, object]:
    """How the prospects list did on the past: rules learned at D - 2h on
    (D - 2h, D - h], the list of D - h, checked against who moved in (D - h, D]."""
    h = int(horizon_days)
    past = _days_before(db, dataset_id, as_of, h, h)
    head = {"scored_at": past.isoformat(), "outcome_end": as_of.isoformat(), "horizon_days": h}
    models = learn(db, dataset_id, _days_before(db, dataset_id, as_of, h, 2 * h), params, h)
    frame = _features(db, dataset_id, past, params, h)
    if frame.empty or all(m.base is None for m in models.values()):
        return {**head, **dict.fromkeys(("customers", "moved", "stayed", "expected_movers", "auc", "pooled_auc", "top",
                                         "caught", "caught_share", "random_caught", "stage_caught")),
                "unscored": int(len(frame)), "unscored_moved": int(frame["moved"].astype(bool).sum()),
                "by_step": {}, "calibration": [], "verdict": "no_history"}
    listed = score(frame, models, params)
    moved = listed[["customer_id"]].merge(frame[["customer_id", "moved"]], on="customer_id", how="left")["moved"]
    bases = {s: m.base for s, m in models.items()}
    return {**head, **track_numbers(listed, moved.astype(bool).to_numpy(), bases)}


def track_verdict(record: dict, lang: str = "en") -> str:
    """The backtest in one sentence."""
    v = record["verdict"]
    values = {"past": record["scored_at"], "end": record["outcome_end"], "days": record["horizon_days"]}
    if v in ("no_better_than_chance", "better_than_chance"):
        values.update(auc=record["auc"], top=record["top"], caught=record["caught"], moved=record["moved"],
                      random=record["random_caught"], stage=record["stage_caught"])
    if v == "too_few":
        values.update(moved=record["moved"] or 0, stayed=record["stayed"] or 0, minimum=MIN_TRACK_EVENTS)
    text = t("pr_verdict_" + v, lang, **values)
    if v != "no_history" and record.get("unscored_moved"):
        text += ("" if lang == "zh" else " ") + t("pr_verdict_unscored", lang, moved=record["unscored_moved"], customers=record["unscored"])
    return text

