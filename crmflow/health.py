"""Key accounts, their health, life-cycle phase and the value matrix (SPEC §2).

The rules live in ``queries/health/`` (key-account selection, the component
measures and scores, the phase); this module combines them: weighted mean,
status, the score 90 days earlier and its trend, the value matrix split.

**Key accounts at D** (``key_accounts.sql``): when any customer in the
customers table is flagged ``is_key_account``, the flagged customers that exist
at D. A flagged account that has been lost *is* included — it is still a key
account and the health table is where it must show up (it will score low and
be in the termination phase). Otherwise the smallest set of top customers by
revenue over (D − 365, D] whose revenue is ≥ ``share`` (0.8) of the revenue of
all customers with positive revenue, ranked by revenue then customer_id, at
most ``max_accounts`` (50); customers with revenue ≤ 0 are never selected.

**Health score** 0–100 = weighted mean of the component scores 0–100 that are
present, with weights from ``crmflow/data/health_weights.csv`` (override any of
them with a dict). A component is missing — dropped, the remaining weights
re-normalised — when the dataset cannot support it at D (no cost, no due
dates, no categories, no interactions, no complaints logged: see
``health_coverage.sql``) or the account has no data for it (fewer than two
buying days, no 12-month lines with a cost, no invoice that counts). An
account with no order on or before the date has no score. Windows count back
from D: 12 months = (D − 365, D], recent = (D − 180, D], previous =
(D − 360, D − 180], contacts = (D − 90, D].

========================  ====================================================
component                 score (clamped to 0..100); anchors
========================  ====================================================
recency                   r = days since last order / median gap between
                          buying days (``order_rhythm``);
                          100 × (3 − r) / 2: r ≤ 1 → 100, r = 2 → 50, r ≥ 3 → 0
order_trend               orders recent / previous × 100 (previous 0: 100 if
                          any recent order, else 0): 6 vs 8 → 75
revenue_trend             the same on revenue (previous ≤ 0: 100 if recent
                          revenue > 0, else 0): 500 vs 1000 → 50
margin                    100 × account 12-month margin / business 12-month
                          margin (both Σ(amount − cost) / Σ amount over lines
                          with a cost): 15% vs 30% → 50, ≤ 0 → 0
payment                   100 × on time / (on time + late) over the 12 months'
                          invoices; unpaid past due = late, unpaid not yet due
                          ignored: 3 of 4 → 75
contact                   100 × contacts in 90 days (complaints excluded) / 3
                          (one a month): 1 → 33.3, ≥ 3 → 100
complaints                100 − 25 × unresolved complaints in the 12 months:
                          0 → 100, 1 → 75, ≥ 4 → 0
breadth                   100 × categories bought in 12 months / the most any
                          customer bought: 3 of 6 → 50
========================  ====================================================

The score is rounded half up to one decimal, and the **status** is read from
the rounded score, so what is shown and the traffic light always agree:
healthy ≥ 70.0, watch 40.0–69.9, at risk < 40.0 (69.95 → 70.0 healthy,
39.94 → 39.9 at risk). **Trend**: score − score 90 days earlier (computed the
same way at D − 90, NULL when the account had no order by then): up when
> +5 points, down when < −5, flat within ±5 (a dead band, boundaries flat).

**Life-cycle phase** (客户关系生命周期), first rule that applies (see
``health_components.sql``): no order yet → cultivation 培育期; no order for more
than ``lost_after_days`` → termination 终止期; relationship younger than 180
days or fewer than 3 orders → cultivation 培育期; revenue or orders of the
recent 180 days more than 20% below the 180 days before, or overdue (days since
the last order > 2 × median gap) → retention 挽留期; revenue more than 20% above
(or from nothing) → growth 成长期; otherwise → return 回报期 (mature, stable).
A warning sign wins over growth.

**Value matrix** (客户价值矩阵): current value (直接价值) = 12-month profit when
the dataset has costs, else revenue; potential value (潜在价值) = expected value
over the next 52 weeks from the CLV model. A value is *high* when it is
strictly above the cut-off (default: the median over the customers in the
matrix), so a value equal to the median is low — with many zero values the
zeros never count as high. core 核心 = high current & high potential; direct
直接 = high current, low potential (value now, little to come); potential 潜在 =
low current, high potential (little now, much to come); poor 劣质 = low both.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib import resources

import numpy as np
import pandas as pd

from crmflow.config import Params
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.results import stored_or_run

COMPONENTS = ("recency", "order_trend", "revenue_trend", "margin", "payment", "contact", "complaints", "breadth")
STATUSES = ("healthy", "watch", "at_risk")
TRENDS = ("up", "flat", "down")
PHASES = ("cultivation", "growth", "return", "retention", "termination")
QUADRANTS = ("core", "direct", "potential", "poor")
SCOPES = ("customers", "key_accounts")

HEALTHY_MIN = 70.0
WATCH_MIN = 40.0
#: |score − score 90 days earlier| ≤ this is "flat".
TREND_DEAD_BAND = 5.0
EARLIER_DAYS = 90
DEFAULT_SHARE = 0.8
DEFAULT_PARAMS = Params()
DEFAULT_MAX_ACCOUNTS = 50

#: Which upload unlocks a component that the dataset cannot support.
UNLOCKED_BY = {
    "margin": "cost",
    "payment": "due_date",
    "contact": "interactions",
    "complaints": "complaints",
    "breadth": "category",
}

MEASURES = ("orders", "last_order_date", "days_since_last_order", "median_gap_days", "overdue_ratio",
            "orders_recent", "orders_previous", "revenue_recent", "revenue_previous", "margin_12m",
            "invoices_on_time", "invoices_late", "contacts_90d", "unresolved_complaints", "categories_12m")
ACCOUNT_HEALTH_COLUMNS = ("customer_id", "name", "owner", "health_score", "status", *COMPONENTS,
                          "score_90d_ago", "trend", "phase", "revenue_12m", "selected_by", *MEASURES)
HEALTH_CLI_COLUMNS = ("customer_id", "health_score", "status", *COMPONENTS, "score_90d_ago", "trend", "phase")
HISTORY_COLUMNS = ("snapshot_date", "health_score", "status", *COMPONENTS, "phase")
VALUE_MATRIX_COLUMNS = ("customer_id", "name", "current_value", "potential_value", "quadrant", "value_basis",
                        "revenue_12m", "profit_12m", "p_alive", "expected_orders", "current_cut", "potential_cut")
MATRIX_CLI_COLUMNS = ("customer_id", "current_value", "potential_value", "quadrant")
SUMMARY_COLUMNS = ("quadrant", "customers", "customer_share", "current_value", "potential_value")


@dataclass(frozen=True)
class HealthRules:
    """The anchors of the component scores and the phase rules (documented in
    the module docstring and ``queries/health/health_components.sql``)."""

    recency_zero_ratio: float = 3.0   # days since last order / median gap at which recency hits 0
    contact_target: float = 3.0       # contacts in 90 days that give 100 (one a month)
    complaint_penalty: float = 25.0   # points off per unresolved complaint
    cultivation_days: int = 180       # relationship younger than this: cultivation
    cultivation_orders: int = 3       # fewer orders than this: cultivation
    phase_band: float = 0.2           # "clearly" up/down: more than ±20% vs the previous 180 days
    overdue_limit: float = 2.0        # overdue_ratio above this: retention

    def __post_init__(self) -> None:
        if not self.recency_zero_ratio > 1:
            raise CrmflowError("recency_zero_ratio must be above 1", "Use e.g. 3")
        for name in ("contact_target", "complaint_penalty", "cultivation_days", "cultivation_orders",
                     "overdue_limit"):
            if not getattr(self, name) > 0:
                raise CrmflowError(f"{name} must be positive (got {getattr(self, name)!r})",
                                   f"Use the default {getattr(HealthRules, name)}")
        if not 0 <= self.phase_band < 1:
            raise CrmflowError(f"phase_band must be in [0, 1) (got {self.phase_band!r})", "Use e.g. 0.2")

    def as_sql_params(self) -> dict[str, float | int]:
        out = asdict(self)
        for name in ("recency_zero_ratio", "contact_target", "complaint_penalty", "phase_band", "overdue_limit"):
            out[name] = float(out[name])
        return out


# --------------------------------------------------------------------------- weights
def load_weights(path: str | None = None) -> dict[str, float]:
    """The default weights: ``crmflow/data/health_weights.csv`` (component, weight, meaning),
    or another file with the same columns."""
    if path is None:
        text = resources.files("crmflow").joinpath("data", "health_weights.csv").read_text(encoding="utf-8")
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    rows = list(csv.DictReader(text.splitlines()))
    weights = {}
    for row in rows:
        try:
            weights[row["component"].strip()] = float(row["weight"])
        except (KeyError, TypeError, ValueError):
            raise CrmflowError(f"The health weights file has a bad row: {row}",
                               "Each row needs a component name and a numeric weight") from None
    return resolve_weights(weights, base={})


def resolve_weights(weights: Mapping[str, float] | None = None,
                    base: Mapping[str, float] | None = None) -> dict[str, float]:
    """``base`` (default: :func:`load_weights`) with ``weights`` laid over it; every
    component named, every weight a finite number ≥ 0, at least one above 0."""
    merged = dict(load_weights() if base is None else base)
    for name, value in (weights or {}).items():
        if name not in COMPONENTS:
            raise CrmflowError(f"Unknown health component {name!r}",
                               f"Use one of: {', '.join(COMPONENTS)}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise CrmflowError(f"The weight of {name} is not a number ({value!r})", "Give e.g. recency=20") from None
        merged[name] = value
    missing = [c for c in COMPONENTS if c not in merged]
    if missing:
        raise CrmflowError(f"No weight for the health components {', '.join(missing)}",
                           "Give every component a weight (0 switches one off)")
    for name, value in merged.items():
        if not math.isfinite(value) or value < 0:
            raise CrmflowError(f"The weight of {name} must be a number of at least 0 (got {value})",
                               "Use 0 to switch a component off")
    if not any(merged[c] > 0 for c in COMPONENTS):
        raise CrmflowError("All health weights are 0", "Give at least one component a positive weight")
    return {c: merged[c] for c in COMPONENTS}


def parse_weights(text: str) -> dict[str, float]:
    """``"recency=2,margin=0"`` → ``{"recency": 2.0, "margin": 0.0}`` (the CLI's --weights)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            raise CrmflowError(f"--weights item {part!r} is not component=weight",
                               "Write e.g. --weights recency=30,margin=0")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise CrmflowError(f"The weight in {part!r} is not a number",
                               "Write e.g. --weights recency=30,margin=0") from None
    return dict(resolve_weights(out))


# --------------------------------------------------------------------------- scoring
def round_score(value: float) -> float:
    """Half up to one decimal (69.95 → 70.0); NaN stays NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float("nan")
    return math.floor(float(value) * 10 + 0.5 + 1e-9) / 10


def status_for(score: float | None) -> str | None:
    """healthy ≥ 70, watch ≥ 40, at risk below, read on the rounded score; None without a score."""
    if score is None or pd.isna(score):
        return None
    s = round_score(score)
    return "healthy" if s >= HEALTHY_MIN else "watch" if s >= WATCH_MIN else "at_risk"


def trend_for(score: float | None, earlier: float | None, dead_band: float = TREND_DEAD_BAND) -> str | None:
    """up / flat / down from the change in the (rounded) score; flat within ±dead_band."""
    if score is None or earlier is None or pd.isna(score) or pd.isna(earlier):
        return None
    delta = round_score(round_score(score) - round_score(earlier))
    return "up" if delta > dead_band else "down" if delta < -dead_band else "flat"


def weighted_score(components: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """The weighted mean of the present components of each row, rounded; NaN when
    none with a positive weight is present."""
    w = np.array([float(weights[c]) for c in COMPONENTS])
    s = components[list(COMPONENTS)].astype("float64").to_numpy()
    present = ~np.isnan(s) & (w > 0)
    num = np.where(present, np.nan_to_num(s) * w, 0.0).sum(axis=1)
    den = np.where(present, w, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return pd.Series([round_score(v) for v in raw], index=components.index, dtype="float64")


# --------------------------------------------------------------------------- queries
def key_accounts(db: Database, dataset_id: int, as_of: date, share: float = DEFAULT_SHARE,
                 max_accounts: int = DEFAULT_MAX_ACCOUNTS) -> pd.DataFrame:
    """The key accounts at ``as_of``: customer_id, name, owner, selected_by ('flag' or
    'revenue'), revenue_12m, revenue_rank, revenue_share, cumulative_share."""
    share = float(share)
    if not 0 < share <= 1:
        raise CrmflowError(f"The key-account revenue share must be above 0 and at most 1 (got {share})",
                           "Use e.g. 0.8 for 80%")
    if isinstance(max_accounts, bool) or int(max_accounts) != max_accounts or max_accounts < 1:
        raise CrmflowError(f"The maximum number of key accounts must be a whole number of at least 1 "
                           f"(got {max_accounts!r})", "Use e.g. 50")
    return stored_or_run(db, "key_accounts", dataset_id, as_of=as_of, share=share, max_accounts=int(max_accounts))


def health_coverage(db: Database, dataset_id: int, as_of: date) -> dict[str, bool]:
    """Which components the dataset supports at ``as_of`` (component → available)."""
    row = stored_or_run(db, "health_coverage", dataset_id, as_of=as_of).iloc[0]
    margin = row["dataset_margin"]
    return {
        "recency": True,
        "order_trend": True,
        "revenue_trend": True,
        "margin": bool(row["has_cost"]) and not pd.isna(margin) and float(margin) > 0,
        "payment": bool(row["has_due_dates"]),
        "contact": bool(row["has_interactions"]),
        "complaints": bool(row["has_complaints"]),
        "breadth": bool(row["has_categories"]),
    }


def _coverage_params(db: Database, dataset_id: int | Scope, as_of: date) -> dict[str, object]:
    """health_coverage's row at ``as_of`` as the health_components query's parameters."""
    row = stored_or_run(db, "health_coverage", dataset_id, as_of=as_of).iloc[0]

    def plain(value: object, kind: type) -> object:
        return None if value is None or pd.isna(value) else kind(value)

    return {
        "has_cost": plain(row["has_cost"], bool), "dataset_margin": plain(row["dataset_margin"], float),
        "has_due_dates": plain(row["has_due_dates"], bool), "has_categories": plain(row["has_categories"], bool),
        "max_categories": plain(row["max_categories"], int),
        "has_interactions": plain(row["has_interactions"], bool),
        "has_complaints": plain(row["has_complaints"], bool),
    }


def health_components(db: Database, dataset_id: int | Scope, as_of: date, customer_ids: Sequence[str],
                      params: Params = DEFAULT_PARAMS, rules: HealthRules = HealthRules()) -> pd.DataFrame:
    """The measures, component scores and phase of each of ``customer_ids`` at ``as_of``.

    The coverage is measured on the whole scope; the components on the scope
    narrowed to ``customer_ids`` (the same numbers, without computing every
    other customer's buying rhythm)."""
    scope = dataset_id if isinstance(dataset_id, Scope) else Scope(int(dataset_id))
    ids = [str(c) for c in customer_ids]
    return db.run("health_components", dataset_id=scope.narrowed(ids), as_of=as_of, customer_ids=ids,
                  lost_after_days=params.lost_after_days, **rules.as_sql_params(),
                  **_coverage_params(db, scope, as_of))


def _scored(frame: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    frame = frame.copy()
    for c in COMPONENTS:
        frame[c] = frame[c].astype("float64")
    score = weighted_score(frame, weights)
    frame["health_score"] = score.where(frame["has_order"].astype(bool))
    frame["status"] = [status_for(s) for s in frame["health_score"]]
    return frame


def account_health(db: Database, dataset_id: int, as_of: date, params: Params = DEFAULT_PARAMS,
                   weights: Mapping[str, float] | None = None, share: float = DEFAULT_SHARE,
                   max_accounts: int = DEFAULT_MAX_ACCOUNTS, rules: HealthRules = HealthRules()) -> pd.DataFrame:
    """One row per key account at ``as_of`` (columns :data:`ACCOUNT_HEALTH_COLUMNS`):
    health score, status, the component scores (NaN when missing), the score 90
    days earlier and its trend, the life-cycle phase, and the measures behind them.
    Sorted by 12-month revenue, highest first."""
    w = resolve_weights(weights)
    ka = key_accounts(db, dataset_id, as_of, share, max_accounts)
    if ka.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ACCOUNT_HEALTH_COLUMNS})
    ids = list(ka["customer_id"])
    now = _scored(health_components(db, dataset_id, as_of, ids, params, rules), w)
    then = _scored(health_components(db, dataset_id, as_of - timedelta(days=EARLIER_DAYS), ids, params, rules), w)
    out = ka[["customer_id", "name", "owner", "revenue_12m", "selected_by"]].merge(
        now.drop(columns=["revenue_12m"]), on="customer_id", how="left", validate="one_to_one")
    out = out.merge(then[["customer_id", "health_score"]].rename(columns={"health_score": "score_90d_ago"}),
                    on="customer_id", how="left", validate="one_to_one")
    out["trend"] = [trend_for(a, b) for a, b in zip(out["health_score"], out["score_90d_ago"])]
    return out[list(ACCOUNT_HEALTH_COLUMNS)].reset_index(drop=True)


def health_history(db: Database, dataset_id: int, customer_id: str, dates: Sequence[date],
                   params: Params = DEFAULT_PARAMS, weights: Mapping[str, float] | None = None,
                   rules: HealthRules = HealthRules()) -> pd.DataFrame:
    """One account's score, status, components and phase at each of ``dates``
    (e.g. :func:`crmflow.stages.month_ends`); dates before its first order have
    no score. Columns :data:`HISTORY_COLUMNS`.

    The components are computed per date with the same query as
    :func:`account_health` (it reads ``order_rhythm``, which is defined at one
    date), on a scope narrowed to this one account."""
    w = resolve_weights(weights)
    days = sorted({pd.Timestamp(d).date() for d in dates})
    frames = []
    for d in days:
        frame = health_components(db, dataset_id, d, [str(customer_id)], params, rules)
        frame.insert(0, "snapshot_date", pd.Timestamp(d))
        frames.append(frame)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in HISTORY_COLUMNS})
    history = _scored(pd.concat(frames, ignore_index=True), w)
    return history[list(HISTORY_COLUMNS)]


def _split(values: pd.Series, cut: float) -> pd.Series:
    return values > cut


def value_matrix(db: Database, dataset_id: int, as_of: date, scope: str = "customers",
                 current_cut: float | None = None, potential_cut: float | None = None,
                 share: float = DEFAULT_SHARE, max_accounts: int = DEFAULT_MAX_ACCOUNTS,
                 horizon_weeks: float = 52, discount_rate: float = 0.10) -> pd.DataFrame:
    """The value matrix at ``as_of``: one row per customer with an order on or before
    it (``scope="customers"``) or per key account with one (``"key_accounts"``):
    current value, potential value, quadrant, and the cut-offs used (the medians
    over those rows unless given). High = strictly above the cut-off. A flagged
    key account without an order has no values and is left out."""
    from crmflow.model import customer_values

    if scope not in SCOPES:
        raise CrmflowError(f"Unknown value-matrix scope {scope!r}", f"Use one of: {', '.join(SCOPES)}")
    current = db.run("current_value", dataset_id=dataset_id, as_of=as_of)
    if scope == "key_accounts":
        ids = set(key_accounts(db, dataset_id, as_of, share, max_accounts)["customer_id"])
        current = current[current["customer_id"].isin(ids)]
    if current.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in VALUE_MATRIX_COLUMNS})
    values, _ = customer_values(db, dataset_id, as_of, horizon_weeks=horizon_weeks, discount_rate=discount_rate)
    out = current.merge(values[["customer_id", "p_alive", "expected_orders", "expected_value"]],
                        on="customer_id", how="left", validate="one_to_one")
    out["potential_value"] = out.pop("expected_value").fillna(0.0).astype("float64")
    out["current_value"] = out["current_value"].astype("float64")
    c_cut = float(out["current_value"].median()) if current_cut is None else float(current_cut)
    p_cut = float(out["potential_value"].median()) if potential_cut is None else float(potential_cut)
    high_c = _split(out["current_value"], c_cut)
    high_p = _split(out["potential_value"], p_cut)
    out["quadrant"] = np.select([high_c & high_p, high_c & ~high_p, ~high_c & high_p],
                                ["core", "direct", "potential"], default="poor")
    out["current_cut"] = c_cut
    out["potential_cut"] = p_cut
    return out[list(VALUE_MATRIX_COLUMNS)].sort_values(
        ["current_value", "customer_id"], ascending=[False, True]).reset_index(drop=True)


def value_matrix_summary(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per quadrant (all four, in the order core, direct, potential, poor): customers,
    their share of the customers, and their summed current and potential value."""
    grouped = matrix.groupby("quadrant").agg(customers=("customer_id", "size"),
                                             current_value=("current_value", "sum"),
                                             potential_value=("potential_value", "sum"))
    grouped = grouped.reindex(list(QUADRANTS)).fillna(0)
    grouped["customers"] = grouped["customers"].astype(int)
    total = int(grouped["customers"].sum())
    grouped["customer_share"] = grouped["customers"] / total if total else 0.0
    grouped.index.name = "quadrant"
    return grouped.reset_index()[list(SUMMARY_COLUMNS)]


# --------------------------------------------------------------------------- labels
def label(kind: str, key: str | None, lang: str = "en") -> str:
    """Display name of a component, status, trend, phase or quadrant
    (``kind`` in component/status/trend/phase/quadrant)."""
    from crmflow.i18n import t

    if key is None or (isinstance(key, float) and math.isnan(key)):
        return ""
    prefix = {"component": "health_component_", "status": "health_status_", "trend": "health_trend_",
              "phase": "phase_", "quadrant": "quadrant_"}[kind]
    return t(prefix + key, lang)
