"""Service quality: the Servqual gaps of an uploaded survey (seed 003, issue 17).

Servqual (Parasuraman, Zeithaml & Berry 1988) asks each customer, per item, what
they expect of a service and what they perceived, on a 1-7 scale; the gap is
perception − expectation (negative: the service falls short). The 22 standard
items fall in five dimensions: tangibles 有形性 (items 1-4), reliability 可靠性
(5-9), responsiveness 响应性 (10-13), assurance 保证性 (14-17), empathy 移情性
(18-22). The survey is the optional fourth input table (crmflow.survey_ingest).

What this module gives, over the answers dated on or before D:

- the gap per item (mean over its answers) and per dimension (a response's
  dimension gap is the mean over its items in that dimension; the dimension's
  gap is the mean over responses), each with its count and a 95% interval
  (Student's t);
- the dimension gaps per month or quarter, and per region, owner or RFM segment;
- where answers carry a customer id: do customers with the largest gaps leave
  more? The customers in the worst quarter of a dimension's gap (default
  reliability; ranked by gap, ties by customer id, the first ceil(n/4))
  against the rest, each with its count and share lost at D, the
  difference with a 95% interval (Newcombe's hybrid score interval), and a two-proportion z-test (Fisher's exact
  test when a count is below 5); "meaningful" means p < 0.05;
- and their health: among the surveyed customers who are key accounts with a
  health score at D (crmflow.health.account_health with the Key accounts
  page's defaults, so the scores equal that page's), the mean score of the
  worst quarter of the dimension's gap against the rest, the difference with a
  95% interval and p-value from Welch's t-test.

The rows are read by the named queries in ``queries/servqual/``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

import pandas as pd

from crmflow.config import Params
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.i18n import DEFAULT_LANGUAGE, t

DIMENSIONS = ("tangibles", "reliability", "responsiveness", "assurance", "empathy")
PERIODS = ("month", "quarter")
GROUPS = ("region", "owner", "segment")
LEVEL = 0.95
SIGNIFICANCE = 0.05
#: fewer customers with a customer id than this: no churn comparison
MIN_CUSTOMERS = 8
#: a 2×2 count below this: Fisher's exact test instead of the z-test
SMALL_COUNT = 5
BOUGHT_STAGES = ("first", "repeat", "loyal", "lost")
#: fewer surveyed key accounts with a health score than this: no health comparison
MIN_ACCOUNTS = 6

ITEM_COLUMNS = ("dimension", "item", "answers", "expectation", "perception", "gap", "ci_low", "ci_high")
DIMENSION_COLUMNS = ("dimension", "responses", "expectation", "perception", "gap", "ci_low", "ci_high")
TREND_COLUMNS = ("period", "dimension", "responses", "gap", "ci_low", "ci_high")
GROUP_COLUMNS = ("group", "dimension", "responses", "gap", "ci_low", "ci_high")


def dimension_label(dimension: str, lang: str = DEFAULT_LANGUAGE) -> str:
    return t(f"sq_dim_{dimension}", lang)


def interval(mean: float, sd: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The ``level`` interval of a mean from its sample sd and count (Student's
    t); NaN bounds for fewer than two values."""
    from scipy import stats

    if n is None or n < 2 or sd is None or pd.isna(sd):
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(sd) / math.sqrt(n)
    return float(mean) - half, float(mean) + half


def _with_interval(frame: pd.DataFrame, count: str) -> pd.DataFrame:
    bounds = [interval(m, s, int(n)) for m, s, n in zip(frame["gap"], frame["gap_sd"], frame[count])]
    frame = frame.copy()
    frame["ci_low"] = [b[0] for b in bounds]
    frame["ci_high"] = [b[1] for b in bounds]
    return frame


def _item_order(item: str) -> tuple[int, str]:
    m = re.search(r"\d+", str(item))
    return (int(m.group()) if m else 10 ** 6, str(item))


def _dimension_order(frame: pd.DataFrame, extra: list[str] | None = None) -> pd.DataFrame:
    rank = {d: i for i, d in enumerate(DIMENSIONS)}
    keys = ["_rank"] + (extra or [])
    return (frame.assign(_rank=frame["dimension"].map(rank)).sort_values(keys, kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


# --------------------------------------------------------------------------- reading
def coverage(db: Database, dataset_id: int | Scope, as_of: date | None = None) -> dict[str, object]:
    """answers, answers_with_customer, first_date, last_date of the survey dated on
    or before ``as_of`` (every date when None), its scale_min (0 or 1) and
    scale_max, and answers_total (every date; 0: no survey)."""
    row = db.run("servqual_coverage", dataset_id=dataset_id, as_of=as_of).iloc[0]
    return {"answers": int(row["answers"]), "answers_with_customer": int(row["answers_with_customer"]),
            "scale_max": None if pd.isna(row["scale_max"]) else int(row["scale_max"]),
            "first_date": None if pd.isna(row["first_date"]) else pd.Timestamp(row["first_date"]).date(),
            "last_date": None if pd.isna(row["last_date"]) else pd.Timestamp(row["last_date"]).date(),
            "answers_total": int(row["answers_total"]), "scale_min": int(row["scale_min"])}


def no_answers_key(db: Database, dataset_id: int | Scope) -> str:
    """The label that says why a (filtered) dataset shows no survey answers:
    ``sqmend_filtered_out`` when the dataset has answers but the filters leave
    none (the filters keep customers, so they drop answers without a customer
    id), else ``sq_unlock`` (upload a survey)."""
    if isinstance(dataset_id, Scope) and coverage(db, dataset_id.dataset_id)["answers_total"] > 0:
        return "sqmend_filtered_out"
    return "sq_unlock"


def item_gaps(db: Database, dataset_id: int | Scope, as_of: date) -> pd.DataFrame:
    """One row per item (:data:`ITEM_COLUMNS`), in dimension order then item number."""
    df = db.run("servqual_item_gaps", dataset_id=dataset_id, as_of=as_of)
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c not in ("dimension", "item") else "object")
                             for c in ITEM_COLUMNS})
    df["answers"] = df["answers"].astype("int64")
    df = _with_interval(df, "answers")
    df["_item"] = df["item"].map(_item_order)
    return _dimension_order(df, ["_item"])[list(ITEM_COLUMNS)]


def response_dimensions(db: Database, dataset_id: int | Scope, as_of: date) -> pd.DataFrame:
    """One row per (response, dimension): response_key, customer_id, date, dimension, items, expectation,
    perception, gap."""
    df = db.run("servqual_response_dimensions", dataset_id=dataset_id, as_of=as_of)
    df["date"] = pd.to_datetime(df["date"])
    return df


# --------------------------------------------------------------------------- gaps
def _summarise(responses: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean gap (and expectation, perception) over responses per ``keys``, with count and interval."""
    grouped = responses.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(responses=("gap", "size"), expectation=("expectation", "mean"),
                      perception=("perception", "mean"), gap=("gap", "mean"), gap_sd=("gap", "std")).reset_index()
    out["responses"] = out["responses"].astype("int64")
    return _with_interval(out, "responses").drop(columns="gap_sd")


def dimension_gaps(responses: pd.DataFrame) -> pd.DataFrame:
    """One row per dimension present (:data:`DIMENSION_COLUMNS`), in the standard order."""
    if responses.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c != "dimension" else "object")
                             for c in DIMENSION_COLUMNS})
    return _dimension_order(_summarise(responses, ["dimension"]))[list(DIMENSION_COLUMNS)]


def period_start(dates: pd.Series, period: str) -> pd.Series:
    """The first day of each date's month or quarter."""
    if period not in PERIODS:
        raise CrmflowError(key="servqual_bad_period", value=period, choices=", ".join(PERIODS))
    return pd.to_datetime(dates).dt.to_period("M" if period == "month" else "Q").dt.start_time.dt.date


def gap_trend(responses: pd.DataFrame, period: str = "quarter") -> pd.DataFrame:
    """Dimension gaps per month or quarter (:data:`TREND_COLUMNS`; period = its first day)."""
    if responses.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in TREND_COLUMNS})
    frame = responses.assign(period=period_start(responses["date"], period))
    out = _summarise(frame, ["period", "dimension"])
    return _dimension_order(out, []).sort_values(["period"], kind="stable").reset_index(drop=True)[
        list(TREND_COLUMNS)]


def customer_groups(db: Database, dataset_id: int | Scope, as_of: date, by: str) -> pd.DataFrame:
    """customer_id, group: each customer's region, owner (crmflow.filters) or RFM segment at D."""
    if by not in GROUPS:
        raise CrmflowError(key="servqual_bad_group", value=by, choices=", ".join(GROUPS))
    if by == "segment":
        from crmflow import analytics

        scores = analytics.rfm(db, dataset_id, as_of)
        return scores[["customer_id", "segment"]].rename(columns={"segment": "group"})
    attributes = db.run("customer_attributes", dataset_id=dataset_id)
    return attributes[["customer_id", by]].rename(columns={by: "group"})


def gaps_by(responses: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Dimension gaps per group (:data:`GROUP_COLUMNS`) of the responses with a
    customer id whose customer has a group; sorted by group, then dimension."""
    if responses.empty or groups.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in GROUP_COLUMNS})
    frame = responses.dropna(subset=["customer_id"]).merge(groups.dropna(subset=["group"]), on="customer_id",
                                                             how="inner")
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in GROUP_COLUMNS})
    out = _summarise(frame, ["group", "dimension"])
    return _dimension_order(out, []).sort_values("group", kind="stable").reset_index(drop=True)[
        list(GROUP_COLUMNS)]


# --------------------------------------------------------------------------- churn
@dataclass(frozen=True)
class ChurnRelation:
    """Customers in the worst quartile of a dimension's gap against the rest."""

    dimension: str
    customers: int
    cut: float  # the largest gap in the worst quarter (customers tied with it may be in the rest)
    worst_customers: int
    worst_lost: int
    rest_customers: int
    rest_lost: int
    difference: float  # worst_rate − rest_rate
    ci_low: float
    ci_high: float
    p_value: float
    method: str  # "z" (two-proportion z-test) or "fisher" (Fisher's exact test)

    @property
    def worst_rate(self) -> float:
        return self.worst_lost / self.worst_customers

    @property
    def rest_rate(self) -> float:
        return self.rest_lost / self.rest_customers

    @property
    def meaningful(self) -> bool:
        return self.p_value < SIGNIFICANCE

    def to_dict(self) -> dict[str, object]:
        return {"dimension": self.dimension, "customers": self.customers, "cut": self.cut,
                "worst_customers": self.worst_customers, "worst_lost": self.worst_lost,
                "worst_rate": self.worst_rate, "rest_customers": self.rest_customers, "rest_lost": self.rest_lost,
                "rest_rate": self.rest_rate, "difference": self.difference, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "p_value": self.p_value, "method": self.method,
                "meaningful": self.meaningful}


def share_difference_interval(x1: int, n1: int, x2: int, n2: int, level: float = LEVEL) -> tuple[float, float]:
    """Interval of the difference of two shares x1/n1 − x2/n2: Newcombe's hybrid
    score interval (method 10 of Newcombe 1998, Statistics in Medicine 17:873-890),
    built from each share's Wilson score interval; always within [−1, 1], also
    for small counts and shares of 0 or 1."""
    from scipy import stats

    a = stats.binomtest(x1, n1).proportion_ci(level, method="wilson")
    b = stats.binomtest(x2, n2).proportion_ci(level, method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    diff = p1 - p2
    return diff - math.hypot(p1 - a.low, b.high - p2), diff + math.hypot(a.high - p1, p2 - b.low)


def compare_lost(lost: pd.Series, worst: pd.Series) -> tuple[float, float, float, float, str]:
    """(difference of lost shares worst − rest, its 95% interval
    (:func:`share_difference_interval`), p-value, method) for boolean series
    ``lost`` and ``worst`` (one value per customer)."""
    from scipy import stats

    n1, n2 = int(worst.sum()), int((~worst).sum())
    x1, x2 = int((lost & worst).sum()), int((lost & ~worst).sum())
    diff = x1 / n1 - x2 / n2
    low, high = share_difference_interval(x1, n1, x2, n2)
    if min(x1, n1 - x1, x2, n2 - x2) < SMALL_COUNT:
        p_value = float(stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]])[1])
        return diff, low, high, p_value, "fisher"
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = 1.0 if se == 0 else float(2 * stats.norm.sf(abs(diff) / se))
    return diff, low, high, p_value, "z"


def worst_quarter(gaps: pd.Series) -> pd.Series | None:
    """True for the worst quarter of ``gaps`` (one per customer, indexed by
    customer id): the customers ranked by gap, lowest (worst) first, ties broken
    by customer id, and the first ceil(n/4) taken — exactly a quarter, rounded
    up, however many share a gap. None when every gap is the same (no worst
    quarter to speak of)."""
    if gaps.nunique() < 2:
        return None
    frame = pd.DataFrame({"key": gaps.index.astype(str), "gap": gaps.to_numpy()})
    order = frame.sort_values(["gap", "key"], kind="mergesort").index[:math.ceil(len(gaps) / 4)]
    worst = pd.Series(False, index=gaps.index)
    worst.iloc[order] = True
    return worst


def customer_gaps(responses: pd.DataFrame, dimension: str) -> pd.Series:
    """A surveyed customer's gap in ``dimension``: the mean over their responses
    (answers without a customer id left out), indexed by customer_id."""
    frame = responses[(responses["dimension"] == dimension) & responses["customer_id"].notna()]
    return frame.groupby("customer_id")["gap"].mean()


def _churn(db: Database, dataset_id: int | Scope, as_of: date, responses: pd.DataFrame, dimension: str,
           params: Params) -> ChurnRelation | str:
    """The churn relation, or why there is none (``few`` or ``equal_gaps``)."""
    from crmflow.stages import customer_stages

    gaps = customer_gaps(responses, dimension)
    if gaps.empty:
        return "few"
    stages = customer_stages(db, dataset_id, as_of, params)
    stages = stages[stages["stage"].isin(BOUGHT_STAGES)].set_index("customer_id")["stage"]
    gaps = gaps[gaps.index.isin(stages.index)]
    if len(gaps) < MIN_CUSTOMERS:
        return "few"
    worst = worst_quarter(gaps)
    if worst is None:
        return "equal_gaps"
    cut = float(gaps[worst].max())
    lost = stages.reindex(gaps.index).eq("lost")
    diff, low, high, p_value, method = compare_lost(lost, worst)
    return ChurnRelation(dimension, len(gaps), cut, int(worst.sum()), int((lost & worst).sum()),
                         int((~worst).sum()), int((lost & ~worst).sum()), diff, low, high, p_value, method)


def churn_relation(db: Database, dataset_id: int | Scope, as_of: date, responses: pd.DataFrame,
                   dimension: str = "reliability", params: Params = Params()) -> ChurnRelation | None:
    """Lost shares at D of the customers in the worst quarter of ``dimension``'s
    gap (a customer's gap: the mean over their responses; the quarter:
    :func:`worst_quarter`) against the other surveyed customers who had bought
    by D; None when fewer than :data:`MIN_CUSTOMERS` such customers have a gap,
    or their gaps are all the same."""
    rel = _churn(db, dataset_id, as_of, responses, dimension, params)
    return None if isinstance(rel, str) else rel


#: why there is no comparison (``ServqualView.churn_reason`` / ``health_reason``) -> its label
_EQUAL_GAPS = "sqmend_gaps_equal"


def churn_sentence(rel: ChurnRelation | None, lang: str = DEFAULT_LANGUAGE, reason: str = "few") -> str:
    """The churn relation in words (or, when there is none, ``reason``'s words:
    ``few``, ``equal_gaps`` or ``no_ids``)."""
    if rel is None:
        if reason == "equal_gaps":
            return t(_EQUAL_GAPS, lang)
        if reason == "no_ids":
            return t("sq_churn_no_ids", lang)
        return t("sq_churn_none", lang, n=MIN_CUSTOMERS)
    key = "sq_churn_meaningful" if rel.meaningful else "sq_churn_not_meaningful"
    p_text = "< 0.001" if rel.p_value < 0.001 else f"= {rel.p_value:.3f}"
    return t(key, lang, dimension=dimension_label(rel.dimension, lang).lower(), worst=rel.worst_customers,
             worst_rate=rel.worst_rate, rest=rel.rest_customers, rest_rate=rel.rest_rate,
             diff=abs(rel.difference) * 100, low=rel.ci_low * 100, high=rel.ci_high * 100, p=p_text,
             more=t("sq_more" if rel.difference > 0 else "sq_less", lang),
             test=t(f"sq_test_{rel.method}", lang))


# --------------------------------------------------------------------------- health
@dataclass(frozen=True)
class HealthRelation:
    """Surveyed key accounts in the worst quarter of a dimension's gap against the
    rest: their mean health score (0-100) at D."""

    dimension: str
    accounts: int
    cut: float  # the largest gap in the worst quarter (accounts tied with it may be in the rest)
    worst_accounts: int
    worst_mean: float
    rest_accounts: int
    rest_mean: float
    difference: float  # worst_mean − rest_mean, in score points
    ci_low: float
    ci_high: float
    p_value: float  # Welch's t-test

    @property
    def meaningful(self) -> bool:
        return self.p_value < SIGNIFICANCE

    def to_dict(self) -> dict[str, object]:
        return {"dimension": self.dimension, "accounts": self.accounts, "cut": self.cut,
                "worst_accounts": self.worst_accounts, "worst_mean": self.worst_mean,
                "rest_accounts": self.rest_accounts, "rest_mean": self.rest_mean, "difference": self.difference,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value, "method": "welch",
                "meaningful": self.meaningful}


def compare_scores(scores: pd.Series, worst: pd.Series) -> tuple[float, float, float, float]:
    """(difference of mean scores worst − rest, its 95% interval, p-value) by
    Welch's t-test (unequal variances) for a score and a boolean ``worst`` per account."""
    from scipy import stats

    a = scores[worst].astype("float64").to_numpy()
    b = scores[~worst].astype("float64").to_numpy()
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(LEVEL)
    diff = float(a.mean() - b.mean())
    p_value = float(result.pvalue)
    if math.isnan(p_value):  # both groups without spread: no evidence either way unless the means differ
        p_value = 1.0 if diff == 0 else 0.0
        return diff, diff, diff, p_value
    return diff, float(ci.low), float(ci.high), p_value


def _health(db: Database, dataset_id: int | Scope, as_of: date, responses: pd.DataFrame, dimension: str,
            params: Params) -> HealthRelation | str:
    """The health relation, or why there is none (``few`` or ``equal_gaps``)."""
    from crmflow.health import account_health

    gaps = customer_gaps(responses, dimension)
    if gaps.empty:
        return "few"
    health = account_health(db, dataset_id, as_of, params)
    scores = health.dropna(subset=["health_score"]).set_index("customer_id")["health_score"].astype("float64")
    gaps = gaps[gaps.index.isin(scores.index)]
    if len(gaps) < MIN_ACCOUNTS:
        return "few"
    worst = worst_quarter(gaps)
    if worst is None:
        return "equal_gaps"
    if worst.sum() < 2 or (~worst).sum() < 2:
        return "few"
    cut = float(gaps[worst].max())
    scores = scores.reindex(gaps.index)
    diff, low, high, p_value = compare_scores(scores, worst)
    return HealthRelation(dimension, len(gaps), cut, int(worst.sum()), float(scores[worst].mean()),
                          int((~worst).sum()), float(scores[~worst].mean()), diff, low, high, p_value)


def health_relation(db: Database, dataset_id: int | Scope, as_of: date, responses: pd.DataFrame,
                    dimension: str = "reliability", params: Params = Params()) -> HealthRelation | None:
    """Mean health score at D of the surveyed key accounts in the worst quarter
    of ``dimension``'s gap (a customer's gap: the mean over their responses; the
    same rule as :func:`churn_relation`, :func:`worst_quarter`) against the other
    surveyed key accounts with a score. The scores are
    :func:`crmflow.health.account_health`'s with the default weights, share and
    maximum (those the Key accounts page shows first). None when fewer than
    :data:`MIN_ACCOUNTS` such accounts, their gaps are all the same, or either
    group has fewer than two (no Welch interval)."""
    rel = _health(db, dataset_id, as_of, responses, dimension, params)
    return None if isinstance(rel, str) else rel


def health_sentence(rel: HealthRelation | None, lang: str = DEFAULT_LANGUAGE, reason: str = "few") -> str:
    """The health relation in words (or, when there is none, ``reason``'s words:
    ``few`` says what unlocks it, ``equal_gaps`` that the gaps do not differ)."""
    if rel is None:
        if reason == "equal_gaps":
            return t(_EQUAL_GAPS, lang)
        return t("sqh_none", lang, n=MIN_ACCOUNTS)
    key = "sqh_meaningful" if rel.meaningful else "sqh_not_meaningful"
    p_text = "< 0.001" if rel.p_value < 0.001 else f"= {rel.p_value:.3f}"
    return t(key, lang, dimension=dimension_label(rel.dimension, lang).lower(), worst=rel.worst_accounts,
             worst_mean=rel.worst_mean, rest=rel.rest_accounts, rest_mean=rel.rest_mean,
             diff=abs(rel.difference), low=rel.ci_low, high=rel.ci_high, p=p_text,
             direction=t("sqh_lower" if rel.difference < 0 else "sqh_higher", lang))


def health_table(rel: HealthRelation, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The two groups of the health comparison: key accounts and their mean health score."""
    return pd.DataFrame({
        t("sq_col_customers_group", lang): [t("sq_worst_quartile", lang, dimension=dimension_label(rel.dimension, lang),
                                              cut=rel.cut), t("sq_rest", lang)],
        t("sqh_col_accounts", lang): [rel.worst_accounts, rel.rest_accounts],
        t("sqh_col_mean_score", lang): [rel.worst_mean, rel.rest_mean],
    })


# --------------------------------------------------------------------------- the view
@dataclass(frozen=True)
class ServqualView:
    coverage: dict[str, object]
    items: pd.DataFrame
    dimensions: pd.DataFrame
    trend: pd.DataFrame
    by_group: pd.DataFrame
    churn: ChurnRelation | None
    period: str
    group: str
    health: HealthRelation | None = None
    #: why ``churn`` / ``health`` is None: ``few``, ``equal_gaps`` or (churn) ``no_ids``
    churn_reason: str = "few"
    health_reason: str = "few"

    @property
    def has_survey(self) -> bool:
        return int(self.coverage["answers_total"]) > 0


def servqual_view(db: Database, dataset_id: int | Scope, as_of: date, *, period: str = "quarter",
                  by: str = "region", dimension: str = "reliability", params: Params = Params()) -> ServqualView:
    """Everything the Service quality view, the command line and the report show."""
    if by not in GROUPS:
        raise CrmflowError(key="servqual_bad_group", value=by, choices=", ".join(GROUPS))
    if dimension not in DIMENSIONS:
        raise CrmflowError(key="servqual_bad_dimension", value=dimension, choices=", ".join(DIMENSIONS))
    cov = coverage(db, dataset_id, as_of)
    responses = response_dimensions(db, dataset_id, as_of) if cov["answers"] else pd.DataFrame(
        columns=["response_key", "customer_id", "date", "dimension", "items", "expectation", "perception", "gap"])
    trend = gap_trend(responses, period)
    if responses.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in GROUP_COLUMNS})
        return ServqualView(cov, item_gaps(db, dataset_id, as_of), dimension_gaps(responses), trend, empty, None,
                            period, by)
    has_ids = responses["customer_id"].notna().any()
    by_group = gaps_by(responses, customer_groups(db, dataset_id, as_of, by)) if has_ids else \
        pd.DataFrame({c: pd.Series(dtype="object") for c in GROUP_COLUMNS})
    churn = _churn(db, dataset_id, as_of, responses, dimension, params) if has_ids else "no_ids"
    health = _health(db, dataset_id, as_of, responses, dimension, params) if has_ids else "few"
    return ServqualView(cov, item_gaps(db, dataset_id, as_of), dimension_gaps(responses), trend, by_group,
                        None if isinstance(churn, str) else churn, period, by,
                        None if isinstance(health, str) else health,
                        churn if isinstance(churn, str) else "", health if isinstance(health, str) else "")


# --------------------------------------------------------------------------- words and tables for the view
def headline(dimensions: pd.DataFrame, lang: str = DEFAULT_LANGUAGE) -> str:
    """The finding: the dimension that falls furthest short (or, when none does, the best one)."""
    if dimensions.empty:
        return t("sq_headline_none", lang)
    worst = dimensions.loc[dimensions["gap"].idxmin()]
    key = "sq_headline_short" if worst["gap"] < 0 else "sq_headline_met"
    return t(key, lang, dimension=dimension_label(str(worst["dimension"]), lang), gap=float(worst["gap"]))


def group_name(by: str, group: object, lang: str = DEFAULT_LANGUAGE) -> str:
    """A group as shown: an RFM segment by its name, a region or owner as written."""
    if by == "segment":
        from crmflow.analytics import segment_name

        return segment_name(str(group), lang)
    return str(group)


def gap_table(view: ServqualView, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The gap table the view shows and downloads: each dimension, then its items,
    with count, mean expectation, perception, gap and the 95% interval (labels in ``lang``)."""
    rows = []
    for dim in view.dimensions.itertuples(index=False):
        rows.append({"dimension": dimension_label(dim.dimension, lang), "item": t("sq_all_items", lang),
                     "count": dim.responses, "expectation": dim.expectation, "perception": dim.perception,
                     "gap": dim.gap, "ci_low": dim.ci_low, "ci_high": dim.ci_high})
        for it in view.items[view.items["dimension"] == dim.dimension].itertuples(index=False):
            rows.append({"dimension": dimension_label(it.dimension, lang), "item": it.item, "count": it.answers,
                         "expectation": it.expectation, "perception": it.perception, "gap": it.gap,
                         "ci_low": it.ci_low, "ci_high": it.ci_high})
    frame = pd.DataFrame(rows, columns=["dimension", "item", "count", "expectation", "perception", "gap", "ci_low",
                                        "ci_high"])
    return frame.rename(columns={c: t(f"sq_col_{c}", lang) for c in frame.columns})


def group_table(view: ServqualView, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """Dimension gaps per group, one row per group (responses and one column per dimension)."""
    if view.by_group.empty:
        return pd.DataFrame()
    wide = view.by_group.pivot(index="group", columns="dimension", values="gap")
    wide = wide[[d for d in DIMENSIONS if d in wide.columns]]
    counts = view.by_group.groupby("group")["responses"].max()
    wide.insert(0, "responses", counts.reindex(wide.index))
    wide = wide.reset_index()
    wide["group"] = [group_name(view.group, g, lang) for g in wide["group"]]
    names = {"group": t(f"sq_by_{view.group}", lang), "responses": t("sq_col_responses", lang)}
    names.update({d: dimension_label(d, lang) for d in DIMENSIONS})
    return wide.rename(columns=names)


def churn_table(rel: ChurnRelation, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The two groups of the churn comparison: customers, lost, share lost."""
    return pd.DataFrame({
        t("sq_col_customers_group", lang): [t("sq_worst_quartile", lang, dimension=dimension_label(rel.dimension, lang),
                                              cut=rel.cut), t("sq_rest", lang)],
        t("sq_col_customers", lang): [rel.worst_customers, rel.rest_customers],
        t("sq_col_lost", lang): [rel.worst_lost, rel.rest_lost],
        t("sq_col_lost_share", lang): [rel.worst_rate, rel.rest_rate],
    })
