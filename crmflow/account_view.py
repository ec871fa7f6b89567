"""What the Churn warnings, Key accounts and per-account pages show, as plain
functions (no Streamlit): one customer's activity and directory entry (named
queries in ``queries/account/``), the pages' headlines, the call list, the
health table with traffic lights and trend arrows, the order pace behind the
account timeline's title, and small wrappers that give the package functions
hashable arguments (the dashboard caches every call by its arguments).

The numbers themselves come from :mod:`crmflow.churn` and
:mod:`crmflow.health`; nothing here re-derives a definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from crmflow import churn
from crmflow.churn import reason_text
from crmflow.config import COMPLAINT_PATTERN, Params
from crmflow.db import Database, Scope
from crmflow.health import (
    COMPONENTS,
    DEFAULT_MAX_ACCOUNTS,
    DEFAULT_SHARE,
    QUADRANTS,
    account_health,
    health_history,
)
from crmflow.headlines import MISSING
from crmflow.headlines import money as compact  # noqa: F401  (the one money format; kept importable from here)
from crmflow.i18n import t
from crmflow.plain import md  # noqa: F401  (user text in Markdown; kept importable from here)
from crmflow.results import stored_or_run
from crmflow.stages import as_dates, month_ends

DIRECTORY_COLUMNS = ("customer_id", "name", "region", "industry", "owner", "tier", "is_key_account", "created_at",
                     "first_order_date", "last_order_date", "orders", "revenue", "last_contact_date")
ORDER_COLUMNS = ("order_date", "kind", "amount", "lines", "orders")
INVOICE_COLUMNS = ("invoice_key", "order_date", "due_date", "paid_date", "amount", "status", "days_late")
INTERACTION_COLUMNS = ("date", "type", "is_complaint", "is_unresolved", "resolved", "satisfaction", "note")
INVOICE_STATUSES = ("on_time", "late", "overdue", "open")

#: Traffic light of each health status: a dot coloured by the status, plain
#: text rather than an emoji so that it renders without an emoji font (no
#: score yet: an open circle). Colours as Streamlit Markdown names and as CSS.
LIGHT = "●"
NO_LIGHT = "○"
TRAFFIC_LIGHTS = {"healthy": "green", "watch": "orange", "at_risk": "red"}
LIGHT_CSS = {"healthy": "#15803d", "watch": "#c2410c", "at_risk": "#dc2626"}
#: Arrow of each health trend (score now vs 90 days earlier).
TREND_ARROWS = {"up": "↑", "flat": "→", "down": "↓"}
#: The churn headline names the share of value at risk held by this many accounts.
TOP_ACCOUNTS = 5
#: The account timeline's title compares orders in the last this-many months with the months before.
PACE_MONTHS = 6
#: Order pace within ±this share of the previous window is "steady".
PACE_BAND = 0.2
#: The value matrix uses log axes when the positive values' 95th percentile is
#: more than this many times their 5th percentile (on either axis).
LOG_SPREAD = 100.0
#: Columns of the call list (churn warnings export), in order.
CALL_LIST_COLUMNS = ("customer_id", "name", "owner", "region", "stage", "risk_score", "probability_leave",
                     "value_at_risk", "expected_value", "reasons", "last_order_date", "days_since_last_order",
                     "last_contact_date")
#: Columns of the health table shown on the Key accounts page, in order.
HEALTH_TABLE_COLUMNS = ("light", "customer", "customer_id", "health_score", "trend", "score_90d_ago", "phase",
                        "owner", "revenue_12m")


# --------------------------------------------------------------------------- queries
def _dates(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The ``columns`` of ``frame`` as ``datetime.date`` objects, None where missing."""
    for c in columns:
        frame[c] = as_dates(frame[c])
    return frame


def directory(db: Database, dataset_id: int | Scope, as_of: date) -> pd.DataFrame:
    """Every known customer (``account_directory``): name, region, industry, owner,
    tier, key-account flag, created_at, first/last order date, orders and net
    revenue on or before ``as_of``, last non-complaint contact. Dates are
    ``datetime.date`` (None when absent)."""
    frame = stored_or_run(db, "account_directory", dataset_id, as_of=as_of, complaint_pattern=COMPLAINT_PATTERN)
    frame = _dates(frame, ("created_at", "first_order_date", "last_order_date", "last_contact_date"))
    frame["orders"] = frame["orders"].astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64")
    frame["is_key_account"] = frame["is_key_account"].astype(bool)
    return frame[list(DIRECTORY_COLUMNS)]


@dataclass(frozen=True)
class AccountActivity:
    """One customer's orders and returns per day, invoices and interactions on
    or before D (the account timeline's three rows)."""

    orders: pd.DataFrame
    invoices: pd.DataFrame
    interactions: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.orders.empty and self.invoices.empty and self.interactions.empty


def account_activity(db: Database, dataset_id: int | Scope, customer_id: str, as_of: date) -> AccountActivity:
    """``account_orders``, ``account_invoices`` and ``account_interactions`` of one
    customer at ``as_of``; the customer id is a bound parameter."""
    cid = str(customer_id)
    orders = db.run("account_orders", dataset_id=dataset_id, customer_id=cid, as_of=as_of)
    invoices = db.run("account_invoices", dataset_id=dataset_id, customer_id=cid, as_of=as_of)
    interactions = db.run("account_interactions", dataset_id=dataset_id, customer_id=cid, as_of=as_of,
                          complaint_pattern=COMPLAINT_PATTERN)
    orders = orders.astype({"amount": "float64", "lines": "int64", "orders": "int64"})
    invoices["amount"] = invoices["amount"].astype("float64")
    invoices["days_late"] = pd.to_numeric(invoices["days_late"]).astype("Float64")
    for c in ("is_complaint", "is_unresolved"):
        interactions[c] = interactions[c].astype(bool)
    for frame, cols in ((orders, ("order_date",)), (invoices, ("order_date", "due_date", "paid_date")),
                        (interactions, ("date",))):
        for c in cols:
            frame[c] = pd.to_datetime(frame[c])
    return AccountActivity(orders[list(ORDER_COLUMNS)], invoices[list(INVOICE_COLUMNS)],
                           interactions[list(INTERACTION_COLUMNS)])


#: Interaction types the product names in the reader's language (matched without
#: regard to case or surrounding spaces); any other type is shown as stored.
CONTACT_TYPES = ("visit", "call", "email", "meeting", "complaint")


def contact_type_label(value: object, lang: str) -> str:
    """"call" → "Call" / "电话"; a type the product does not know stays as it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    key = str(value).strip().lower()
    return t(f"polish_contact_{key}", lang) if key in CONTACT_TYPES else str(value)


def with_contact_labels(interactions: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The interactions frame with its ``type`` in ``lang`` (for the timeline and its table)."""
    out = interactions.copy()
    if "type" in out:
        out["type"] = [contact_type_label(v, lang) for v in out["type"]]
    return out


def activity_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One of :class:`AccountActivity`'s frames for display and download: dates as
    dates, order kinds and invoice statuses in words, column labels in ``lang``."""
    out = frame.copy()
    out = _dates(out, [c for c in ("order_date", "due_date", "paid_date", "date") if c in out])
    if "kind" in out:
        out["kind"] = [t("acc_l_orders" if k == "order" else "acc_l_returns", lang) for k in out["kind"]]
    if "status" in out:
        out["status"] = [t(f"acc_l_{s}", lang) for s in out["status"]]
    if "type" in out:
        out["type"] = [contact_type_label(v, lang) for v in out["type"]]
    return translate_columns(out, "acc_col_", lang)


# --------------------------------------------------------------------------- hashable wrappers
Weights = tuple[tuple[str, float], ...]
DEFAULT_PARAMS = Params()


def weights_key(weights: Mapping[str, float] | None) -> Weights:
    """Weights as a hashable tuple of (component, weight) in component order (() for the defaults)."""
    if not weights:
        return ()
    return tuple((c, float(weights[c])) for c in COMPONENTS if c in weights)


def key_account_health(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS,
                       weights: Weights = (), share: float = DEFAULT_SHARE,
                       max_accounts: int = DEFAULT_MAX_ACCOUNTS) -> pd.DataFrame:
    """:func:`crmflow.health.account_health` with the weights as a tuple of pairs."""
    return account_health(db, dataset_id, as_of, params, dict(weights) or None, share, max_accounts)


def account_health_history(db: Database, dataset_id: int | Scope, customer_id: str, dates: tuple[date, ...],
                           params: Params = DEFAULT_PARAMS, weights: Weights = ()) -> pd.DataFrame:
    """:func:`crmflow.health.health_history` with the dates and weights as tuples."""
    return health_history(db, dataset_id, customer_id, list(dates), params, dict(weights) or None)


def history_dates(as_of: date, months: int) -> tuple[date, ...]:
    """Month ends over the ``months`` months up to ``as_of``, and ``as_of`` itself last."""
    start = (pd.Timestamp(as_of) - pd.DateOffset(months=int(months))).date()
    return tuple(d for d in month_ends(start, as_of) if d > start)


# --------------------------------------------------------------------------- formatting
def customer_label(customer_id: str, name: object) -> str:
    """"Name · id" when the customer has a name, else the id."""
    if isinstance(name, str) and name.strip() and name != customer_id:
        return f"{name} · {customer_id}"
    return str(customer_id)


def display_name(customer_id: str, name: object) -> str:
    """The customer's name, else the id."""
    return name if isinstance(name, str) and name.strip() else str(customer_id)


def file_stem(text: object) -> str:
    """Text safe as part of a download's file name (letters, digits, - and _ kept)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(text))[:60]
    return stem or "customer"


# --------------------------------------------------------------------------- churn warnings
def reasons_in(frame: pd.DataFrame, lang: str) -> list[list[str]]:
    """Every row's reasons in words in ``lang`` (from the ``reasons`` column, so a
    list scored once serves both languages; equal to churn_warnings(lang=...)'s
    reasons_text)."""
    return [[reason_text(r, lang) for r in rs] for rs in frame["reasons"]]


def at_risk_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The call list of :func:`crmflow.churn.churn_warnings` taken from its
    ``include_all`` frame (the rows marked ``on_call_list``: the customers who
    together carry CALL_LIST_VALUE_SHARE of the value at risk of every
    customer scored, in the same order), so a page scores every customer once
    for both the list and the distribution; filtering by owner before or
    after gives the same rows. tests/test_account_view.py checks it equals
    the package's own list."""
    return churn.listed_rows(frame)


def scorer_caption(frame: pd.DataFrame, lang: str) -> str | None:
    """Which scorer the churn risk uses and why, in words, when the churn module
    says so (``attrs["calibration"]`` and ``churn.scorer_note``); else None."""
    info = frame.attrs.get("calibration")
    return churn.scorer_note(info, lang) if info else None


def owner_options(frame: pd.DataFrame) -> list[str]:
    """The owners in a churn list, sorted; "" stands for "no owner" (listed last when present)."""
    owners = frame["owner"]
    named = sorted({str(o) for o in owners if isinstance(o, str) and o})
    return named + ([""] if any(not (isinstance(o, str) and o) for o in owners) else [])


def by_owner(frame: pd.DataFrame, owners: Sequence[str]) -> pd.DataFrame:
    """Rows whose owner is one of ``owners`` ("" matches no owner); all rows when none is chosen."""
    if not owners:
        return frame
    wanted = set(owners)
    keep = [(o if isinstance(o, str) and o else "") in wanted for o in frame["owner"]]
    return frame[keep].reset_index(drop=True)


@dataclass(frozen=True)
class ChurnHeadline:
    """The churn page's finding: how many customers, how much value at risk, and
    the share of it held by the ``top`` largest."""

    customers: int
    value_at_risk: float
    expected_value: float
    top: int
    top_share: float | None


def churn_headline(frame: pd.DataFrame, top: int = TOP_ACCOUNTS) -> ChurnHeadline:
    n = len(frame)
    values = frame["value_at_risk"].astype("float64") if n else pd.Series(dtype="float64")
    total = float(values.sum())
    k = min(top, n)
    share = float(values.nlargest(k).sum() / total) if total > 0 and k else None
    expected = float(frame["expected_value"].astype("float64").sum()) if n else 0.0
    return ChurnHeadline(n, total, expected, k, share)


def call_list(frame: pd.DataFrame, people: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The churn list as a call list (:data:`CALL_LIST_COLUMNS`): who to call
    (name, owner, region, last contact) and why (reasons in ``lang``, joined by
    "; "), in the list's order. ``people`` is :func:`directory`."""
    info = people.set_index("customer_id")
    out = pd.DataFrame({"customer_id": frame["customer_id"].astype(str)})
    ids = out["customer_id"]
    for c in ("name", "region", "last_order_date", "last_contact_date"):
        out[c] = [info[c].get(i) if i in info.index else None for i in ids]
    out["owner"] = [o if isinstance(o, str) and o else (info["owner"].get(i) if i in info.index else None)
                    for o, i in zip(frame["owner"], ids)]
    out["stage"] = [t(f"stage_{s}", lang) for s in frame["stage"]]
    # rounded as `crmflow churn` prints them (Python's round, not numpy's)
    for column, digits in (("risk_score", 4), ("probability_leave", 4), ("value_at_risk", 2), ("expected_value", 2)):
        out[column] = [round(float(v), digits) for v in frame[column]]
    out["reasons"] = ["; ".join(rs) for rs in reasons_in(frame, lang)]
    out["days_since_last_order"] = frame["days_since_last_order"].astype("int64").to_numpy()
    return out[list(CALL_LIST_COLUMNS)]


def translate_columns(frame: pd.DataFrame, prefix: str, lang: str) -> pd.DataFrame:
    """Column keys → labels ``t(prefix + key)`` (for exports and tables)."""
    return frame.rename(columns={c: t(prefix + c, lang) for c in frame.columns})


# --------------------------------------------------------------------------- key accounts
@dataclass(frozen=True)
class KeyAccountHeadline:
    """Key accounts split without overlap: ``lost`` (no order for more than
    lost_after_days: lost by the stage rule, whatever their score), and among
    the others ``at_risk`` (health status at_risk, shown as "Critical"),
    ``watch`` and ``healthy``; ``unscored`` have no score. ``revenue_share``
    is the critical (not lost) accounts' share of key-account revenue (12
    months); ``selected_by`` is ``flag`` or ``revenue`` (None: no accounts)."""

    accounts: int
    at_risk: int
    watch: int
    healthy: int
    unscored: int
    revenue_share: float | None
    selected_by: str | None
    lost: int = 0


def key_account_headline(health: pd.DataFrame, lost_after_days: int = DEFAULT_PARAMS.lost_after_days
                         ) -> KeyAccountHeadline:
    n = len(health)
    status = health["status"] if n else pd.Series(dtype="object")
    revenue = health["revenue_12m"].astype("float64").fillna(0.0) if n else pd.Series(dtype="float64")
    total = float(revenue.clip(lower=0).sum())
    days = (pd.to_numeric(health["days_since_last_order"], errors="coerce") if n and "days_since_last_order" in health
            else pd.Series(float("nan"), index=status.index))
    lost = (days > lost_after_days).to_numpy()
    kept = status.where(~lost)
    at_risk = (kept == "at_risk").to_numpy()
    share = float(revenue[at_risk].clip(lower=0).sum() / total) if total > 0 else None
    selected = None if not n else ("flag" if (health["selected_by"] == "flag").any() else "revenue")
    return KeyAccountHeadline(n, int(at_risk.sum()), int((kept == "watch").sum()),
                              int((kept == "healthy").sum()), int(status.isna().sum()), share, selected,
                              int(lost.sum()))


def traffic_light(status: object, lang: str) -> str:
    """"● Healthy", "● Watch", "● At risk" (plain text; :func:`light_style`
    colours it in a table); "○ —" without a score."""
    if not isinstance(status, str) or status not in TRAFFIC_LIGHTS:
        return f"{NO_LIGHT} {MISSING}"
    return f"{LIGHT} {t('health_status_' + status, lang)}"


def traffic_light_markdown(status: object, lang: str) -> str:
    """The traffic light as coloured Streamlit Markdown, ":green[● Healthy]"
    (the words are the product's own labels, never user text)."""
    if not isinstance(status, str) or status not in TRAFFIC_LIGHTS:
        return f"{NO_LIGHT} {MISSING}"
    return f":{TRAFFIC_LIGHTS[status]}[{traffic_light(status, lang)}]"


def light_style(lang: str) -> Callable[[object], str]:
    """A pandas Styler cell function colouring :func:`traffic_light` texts by status."""
    css = {traffic_light(s, lang): f"color: {LIGHT_CSS[s]}; font-weight: 600" for s in TRAFFIC_LIGHTS}
    return lambda cell: css.get(str(cell), "")


def trend_text(trend: object, score: object, earlier: object) -> str:
    """"↑ +7.3" (change in points vs 90 days earlier); "—" without an earlier score."""
    if not isinstance(trend, str) or trend not in TREND_ARROWS or pd.isna(score) or pd.isna(earlier):
        return MISSING
    delta = round(float(score) - float(earlier), 1)
    return f"{TREND_ARROWS[trend]} {delta:+.1f}"


def health_table(health: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The Key accounts table (:data:`HEALTH_TABLE_COLUMNS`): traffic light, customer,
    score, trend arrow with the change, score 90 days earlier, life-cycle phase
    (in ``lang``), owner, 12-month revenue; in the health frame's order."""
    out = pd.DataFrame({
        "light": [traffic_light(s, lang) for s in health["status"]],
        "customer": [display_name(c, n) for c, n in zip(health["customer_id"], health["name"])],
        "customer_id": health["customer_id"].astype(str),
        "health_score": health["health_score"].astype("float64"),
        "trend": [trend_text(tr, s, e) for tr, s, e in
                  zip(health["trend"], health["health_score"], health["score_90d_ago"])],
        "score_90d_ago": health["score_90d_ago"].astype("float64"),
        "phase": [t("phase_" + p, lang) if isinstance(p, str) else MISSING for p in health["phase"]],
        "owner": [o if isinstance(o, str) else None for o in health["owner"]],
        "revenue_12m": health["revenue_12m"].astype("float64"),
    })
    return out[list(HEALTH_TABLE_COLUMNS)].reset_index(drop=True)


def component_scores(health: pd.DataFrame, available: Mapping[str, bool]) -> pd.DataFrame:
    """Accounts × the components the dataset supports, scores 0–100 (NaN where an
    account has no data for one), worst health score first."""
    columns = [c for c in COMPONENTS if available.get(c, False)]
    frame = health.sort_values(["health_score", "customer_id"], ascending=[True, True], na_position="first")
    out = frame[columns].astype("float64")
    out.index = [display_name(c, n) for c, n in zip(frame["customer_id"], frame["name"])]
    return out


def weakest_component(scores: pd.DataFrame) -> tuple[str, float] | None:
    """The component with the lowest mean score over the accounts that have it."""
    means = scores.mean(axis=0, skipna=True).dropna()
    if means.empty:
        return None
    name = str(means.idxmin())
    return name, float(means[name])


def matrix_headline(summary: pd.DataFrame) -> tuple[float, float | None]:
    """Core customers' share of the customers and of the current value (None when
    the total current value is not positive)."""
    row = summary.set_index("quadrant")
    core_share = float(row.loc["core", "customer_share"]) if "core" in row.index else 0.0
    total = float(summary["current_value"].sum())
    value_share = float(row.loc["core", "current_value"]) / total if total > 0 and "core" in row.index else None
    return core_share, value_share


def use_log_axes(values: Iterable[float]) -> bool:
    """Whether values spread too far for linear axes (positive values' 95th
    percentile above :data:`LOG_SPREAD` times their 5th)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], dtype=np.float64)
    if len(v) < 2:
        return False
    low, high = np.percentile(v, [5, 95])
    return bool(low > 0 and high / low > LOG_SPREAD)


def quadrant_members(matrix: pd.DataFrame, quadrant: str) -> pd.DataFrame:
    """The customers of one quadrant, highest current value first."""
    if quadrant not in QUADRANTS:
        return matrix.iloc[0:0]
    rows = matrix[matrix["quadrant"] == quadrant]
    cols = ["customer_id", "name", "current_value", "potential_value", "value_basis", "revenue_12m", "profit_12m",
            "p_alive"]
    return rows[cols].sort_values(["current_value", "customer_id"], ascending=[False, True]).reset_index(drop=True)


# --------------------------------------------------------------------------- the account page
@dataclass(frozen=True)
class OrderPace:
    """Orders in the last ``months`` months against the ``months`` before;
    ``trend`` is slowed / grew / steady (within ±20%) / none (no order in either)."""

    recent: int
    previous: int
    months: int
    trend: str


def order_pace(orders: pd.DataFrame, as_of: date, months: int = PACE_MONTHS) -> OrderPace:
    """Count the orders of :func:`account_activity`'s ``orders`` in (D − months, D]
    and (D − 2·months, D − months] (calendar months)."""
    end = pd.Timestamp(as_of)
    mid = end - pd.DateOffset(months=months)
    start = end - pd.DateOffset(months=2 * months)
    rows = orders[orders["kind"] == "order"]
    dates = pd.to_datetime(rows["order_date"])
    counts = rows["orders"].astype("int64")
    recent = int(counts[(dates > mid) & (dates <= end)].sum())
    previous = int(counts[(dates > start) & (dates <= mid)].sum())
    if recent == 0 and previous == 0:
        trend = "none"
    elif recent < previous * (1 - PACE_BAND):
        trend = "slowed"
    elif recent > previous * (1 + PACE_BAND):
        trend = "grew"
    else:
        trend = "steady"
    return OrderPace(recent, previous, months, trend)


def account_options(people: pd.DataFrame, key_ids: Sequence[str], scope: str = "key_accounts") -> list[str]:
    """Customer ids for the account picker: the key accounts (in the order given)
    or every known customer (by id)."""
    if scope == "key_accounts":
        return [str(c) for c in key_ids]
    return [str(c) for c in people["customer_id"]]


def link_params(items: Iterable[tuple[str, str]], customer_id: str) -> list[tuple[str, str]]:
    """The current URL's (key, value) pairs with ``customer`` set to ``customer_id``
    (language, dataset, as-of date, definitions and filters kept)."""
    kept = [(k, v) for k, v in items if k != "customer"]
    return kept + [("customer", str(customer_id))]


def churn_row(frame: pd.DataFrame, customer_id: str) -> dict | None:
    """One customer's row of a churn_warnings(include_all=True) frame (None when not there)."""
    if frame.empty:
        return None
    rows = frame[frame["customer_id"] == str(customer_id)]
    return None if rows.empty else rows.iloc[0].to_dict()
