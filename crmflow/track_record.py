"""The CLV model's track record (issue 13, SPEC §2 backtest), shown the way the
peer libraries show it, and one customer's P(alive) over time.

* :func:`track_record` -- from the backtest (:func:`crmflow.model.backtest`:
  fit up to D - h, holdout (D - h, D]):

  - the **tracking plot** of Fader, Hardie & Lee (2005): expected vs actual
    cumulative repeat orders, week by week, over the calibration period and
    the holdout. Expected cumulative repeat orders at a date e are
    sum over first-purchase days d <= e of n_d * E[X((e - d) / 7)], n_d the
    customers whose first purchase was on day d and E[X(t)] the fitted
    purchase model's expected repeat purchases of a new customer in t weeks
    (lifetimes' ``expected_cumulative_transactions``). Customers whose first
    purchase falls in the holdout count on both lines, as in lifetimes.
  - **calibration vs holdout by repeat orders** (lifetimes'
    ``plot_calibration_purchases_vs_holdout_purchases``): customers of the
    calibration period grouped by their repeat orders in it (0, 1, ...,
    :data:`TOP_GROUP` or more), each group's mean actual orders in the
    holdout beside the model's mean prediction.

* :func:`new_customer_orders` -- P(X(t) = n) for a new customer: the chance of
  0, 1, ... repeat orders in the first t weeks (the last row: that many or
  more), from the fit at D.

* :func:`alive_path` -- after each day of one customer's history up to D,
  P(alive) from the fit at D applied to the history up to that day
  (lifetimes' ``calculate_alive_path``).

Orders are counted as the CLV model counts them (``queries/model``): a day
with order lines of amount > 0 is one purchase; every purchase day after a
customer's first is a repeat order. Time is in weeks of 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from crmflow import model
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.i18n import DEFAULT_LANGUAGE, t

#: Customers with this many repeat orders or more in the calibration period form one group.
TOP_GROUP = 6
#: Days between two points of the tracking plot.
STEP_DAYS = 7


# --------------------------------------------------------------------------- tracking plot
def tracking_dates(first: date, calibration_end: date, holdout_end: date, step_days: int = STEP_DAYS) -> list[date]:
    """The dates of the tracking plot: every ``step_days`` days before and after
    the calibration end (so it is one of them), from the first purchase day to
    the end of the holdout, both included."""
    before = (calibration_end - first).days // step_days
    after = (holdout_end - calibration_end).days // step_days
    dates = {first, holdout_end}
    dates.update(calibration_end + timedelta(days=step_days * k) for k in range(-before, after + 1))
    return sorted(d for d in dates if first <= d <= holdout_end)


def cumulative_repeat_orders(days: pd.DataFrame, expected_new, end: date,
                             dates: list[date] | None = None) -> pd.DataFrame:
    """Actual and expected cumulative repeat orders up to each date.

    ``days``: ``purchase_days_by_date`` rows (purchase_date, first_purchases,
    repeat_purchases); ``expected_new(t)``: E[X(t)] of a new customer, t in
    weeks (an array in, an array out); ``dates``: where to evaluate (default
    every day from the first purchase to ``end``). Columns: date, actual,
    expected -- both count the orders on the date itself.
    """
    first = pd.Timestamp(days["purchase_date"].min()).date()
    span = (end - first).days
    offsets = (pd.to_datetime(days["purchase_date"]) - pd.Timestamp(first)).dt.days.to_numpy()
    new = np.zeros(span + 1)
    repeat = np.zeros(span + 1)
    np.add.at(new, offsets, days["first_purchases"].to_numpy(np.float64))
    np.add.at(repeat, offsets, days["repeat_purchases"].to_numpy(np.float64))
    ex = np.asarray(expected_new(np.arange(span + 1) / 7.0), dtype=np.float64)
    # expected[e] = sum_d new[d] * E[X((e - d) / 7)]: a convolution over days.
    expected = np.convolve(new, ex)[: span + 1]
    actual = np.cumsum(repeat)
    if dates is None:
        dates = [first + timedelta(days=i) for i in range(span + 1)]
    idx = np.array([(d - first).days for d in dates], dtype=np.int64)
    return pd.DataFrame({"date": pd.to_datetime(dates), "actual": actual[idx], "expected": expected[idx]})


def orders_by_repeat_group(frequency: pd.Series | np.ndarray, actual: pd.Series | np.ndarray,
                           predicted: pd.Series | np.ndarray, top: int = TOP_GROUP) -> pd.DataFrame:
    """Customers grouped by their repeat orders in the calibration period (0, 1,
    ..., ``top`` = "``top`` or more"): customers, mean actual and mean predicted
    orders in the holdout. Only groups with customers are listed."""
    frame = pd.DataFrame({"group": np.minimum(np.asarray(frequency, dtype=np.int64), top),
                          "actual": np.asarray(actual, dtype=np.float64),
                          "predicted": np.asarray(predicted, dtype=np.float64)})
    out = (frame.groupby("group", as_index=False)
           .agg(customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")))
    out["group"] = out["group"].astype(np.int64)
    return out


@dataclass(frozen=True)
class TrackRecord:
    """The backtest's track record (see the module docstring)."""

    calibration_end: date
    holdout_end: date
    cumulative: pd.DataFrame  # date, actual, expected (cumulative repeat orders of everyone, new customers too)
    by_group: pd.DataFrame  # group (repeat orders before the calibration end, TOP_GROUP = or more),
    #                         customers, actual, predicted (mean orders per customer in the holdout)
    top_group: int = TOP_GROUP

    @property
    def holdout_days(self) -> int:
        return (self.holdout_end - self.calibration_end).days

    def _at(self, day: date) -> pd.Series:
        return self.cumulative.loc[self.cumulative["date"] == pd.Timestamp(day)].iloc[0]

    @property
    def holdout_actual(self) -> float:
        """Repeat orders in the holdout (of every customer)."""
        return float(self._at(self.holdout_end)["actual"] - self._at(self.calibration_end)["actual"])

    @property
    def holdout_expected(self) -> float:
        """Repeat orders the model expected in the holdout (of every customer)."""
        return float(self._at(self.holdout_end)["expected"] - self._at(self.calibration_end)["expected"])

    @property
    def known_customers(self) -> int:
        """Customers who had ordered by the calibration end (the backtest's customers)."""
        return int(self.by_group["customers"].sum())

    @property
    def known_actual(self) -> float:
        """Holdout orders of the customers who had ordered by the calibration end:
        the backtest's actual total (the tracking plot's lines also count the
        customers first seen in the holdout)."""
        return float(np.round((self.by_group["customers"] * self.by_group["actual"]).sum()))

    @property
    def known_expected(self) -> float:
        """The backtest's predicted holdout orders of the same customers."""
        return float((self.by_group["customers"] * self.by_group["predicted"]).sum())

    @property
    def calibration_actual(self) -> float:
        return float(self._at(self.calibration_end)["actual"])

    @property
    def calibration_expected(self) -> float:
        return float(self._at(self.calibration_end)["expected"])

    def largest_gap(self) -> tuple[int, float]:
        """The group where the mean prediction is furthest from the mean actual
        holdout orders, and that gap (predicted - actual, per customer)."""
        gaps = self.by_group["predicted"] - self.by_group["actual"]
        i = int(gaps.abs().to_numpy().argmax())
        return int(self.by_group["group"].iloc[i]), float(gaps.iloc[i])

    def group_label(self, group: int) -> str:
        return f"{group}+" if group >= self.top_group else str(group)


def track_record(db: Database, dataset_id: int | Scope, as_of: date, holdout_days: int | None = None) -> TrackRecord:
    """The tracking plot's and the by-group chart's numbers for the backtest at
    ``as_of`` (fit up to D - h, holdout (D - h, D])."""
    bt = model.backtest(db, dataset_id, as_of, holdout_days)
    fit = bt.fit
    cal, end = bt.calibration_end, bt.holdout_end
    days = db.run("purchase_days_by_date", dataset_id=dataset_id, end_date=end)
    first = pd.Timestamp(days["purchase_date"].min()).date()
    cumulative = cumulative_repeat_orders(days, fit.purchase.expected_purchases_new, end,
                                          tracking_dates(first, cal, end))
    customers = bt.customers.merge(fit.summary[["customer_id", "frequency"]], on="customer_id",
                                   validate="one_to_one")
    by_group = orders_by_repeat_group(customers["frequency"], customers["actual"], customers["predicted"])
    return TrackRecord(cal, end, cumulative, by_group)


@dataclass(frozen=True)
class TrackRecordView:
    """:func:`track_record` for the pages, or why it could not be made."""

    record: TrackRecord | None
    error: CrmflowError | None = None  # shown with error.localized(lang)


def track_record_view(db: Database, dataset_id: int | Scope, as_of: date) -> TrackRecordView:
    """:func:`track_record`; a data problem (e.g. too short a history) comes
    back as ``error`` instead of an exception."""
    try:
        return TrackRecordView(track_record(db, dataset_id, as_of))
    except CrmflowError as exc:
        return TrackRecordView(None, exc)


# --------------------------------------------------------------------------- a new customer's repeat orders
def new_customer_orders(purchase, weeks: float, top: int = TOP_GROUP) -> pd.DataFrame:
    """P(X(t) = n) of a new customer for n = 0 .. top - 1 and P(X(t) >= top)
    (the rest), t = ``weeks``; ``purchase`` a fitted purchase model. Columns:
    repeat_orders, probability (summing to 1)."""
    n = np.arange(top)
    p = np.clip(np.asarray(purchase.probability_of_n_purchases(float(weeks), n), dtype=np.float64), 0.0, 1.0)
    rest = max(0.0, 1.0 - float(p.sum()))
    return pd.DataFrame({"repeat_orders": np.arange(top + 1), "probability": np.append(p, rest)})


@dataclass(frozen=True)
class NewCustomerOutlook:
    """A new customer's repeat orders in their first ``weeks`` weeks, from the fit at D."""

    as_of: date
    weeks: float
    table: pd.DataFrame  # new_customer_orders
    expected: float  # E[X(t)]
    top: int = TOP_GROUP

    def label(self, n: int) -> str:
        return f"{n}+" if n >= self.top else str(n)


def new_customer_outlook(db: Database, dataset_id: int | Scope, as_of: date,
                         weeks: float = model.DEFAULT_HORIZON_WEEKS) -> NewCustomerOutlook:
    """:func:`new_customer_orders` from the CLV fit at ``as_of``."""
    purchase = model.fit_clv(db, dataset_id, as_of).purchase
    return NewCustomerOutlook(as_of, float(weeks), new_customer_orders(purchase, weeks),
                              float(purchase.expected_purchases_new(float(weeks))))


def new_customer_title(outlook: NewCustomerOutlook, lang: str = DEFAULT_LANGUAGE) -> str:
    """The finding: the chance of at least one repeat order, and the expected number."""
    some = 1.0 - float(outlook.table["probability"].iloc[0])
    return t("newc_title", lang, weeks=outlook.weeks, some=some, expected=outlook.expected)


# --------------------------------------------------------------------------- P(alive) over time
def alive_path_from_days(purchase_dates: pd.Series | list, end: date, p_alive) -> pd.DataFrame:
    """P(alive) after each day from the first purchase to ``end``: on day k
    (weeks T = k / 7) the history is the purchases on or before it --
    frequency = purchases - 1, recency = weeks from the first to the last of
    them. ``p_alive(frequency, recency, T)`` is the fitted model's. Columns:
    date, frequency, p_alive. Empty without a purchase."""
    stamps = sorted({pd.Timestamp(d).normalize() for d in purchase_dates if pd.Timestamp(d).date() <= end})
    if not stamps:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "frequency": pd.Series(dtype=np.int64),
                             "p_alive": pd.Series(dtype=np.float64)})
    first = stamps[0]
    offsets = np.array([(s - first).days for s in stamps], dtype=np.int64)
    k = np.arange((pd.Timestamp(end) - first).days + 1)
    bought = np.searchsorted(offsets, k, side="right")  # purchases on or before day k (>= 1)
    frequency = bought - 1
    recency = offsets[bought - 1] / 7.0
    alive = np.clip(np.asarray(p_alive(frequency.astype(np.float64), recency, k / 7.0), dtype=np.float64), 0, 1)
    return pd.DataFrame({"date": first + pd.to_timedelta(k, unit="D"), "frequency": frequency, "p_alive": alive})


def alive_path(db: Database, dataset_id: int | Scope, customer_id: str, as_of: date) -> pd.DataFrame:
    """One customer's P(alive) after each day of its history up to ``as_of``,
    from the CLV fit at ``as_of`` (see :func:`alive_path_from_days`); empty when
    the customer has no purchase by then. Raises :class:`CrmflowError` when the
    model cannot be fitted."""
    days = db.run("customer_purchase_days", dataset_id=dataset_id, customer_id=str(customer_id), end_date=as_of)
    if days.empty:
        return alive_path_from_days([], as_of, None)
    fit = model.fit_clv(db, dataset_id, as_of)
    return alive_path_from_days(days["purchase_date"], as_of, fit.purchase.p_alive)


# --------------------------------------------------------------------------- titles and tables
def tracking_title(record: TrackRecord, lang: str = DEFAULT_LANGUAGE) -> str:
    """The tracking plot's finding: expected vs actual repeat orders in the
    holdout of the customers who had ordered by the calibration end -- the
    backtest's numbers (the caption says the lines also count new customers)."""
    actual, expected = record.known_actual, record.known_expected
    common = {"days": record.holdout_days, "expected": expected, "customers": record.known_customers,
              "calibration_end": record.calibration_end.isoformat()}
    if actual <= 0:
        return t("trk_title_no_actual", lang, **common)
    return t("trk_title", lang, actual=actual, gap=(actual - expected) / expected if expected > 0 else 0.0, **common)


def group_title(record: TrackRecord, lang: str = DEFAULT_LANGUAGE) -> str:
    """The by-group chart's finding: the group the model misses most."""
    group, _ = record.largest_gap()
    row = record.by_group.loc[record.by_group["group"] == group].iloc[0]
    return t("trk_group_title", lang, calibration_end=record.calibration_end.isoformat(),
             group=record.group_label(group), predicted=float(row["predicted"]), actual=float(row["actual"]))


def group_table(record: TrackRecord, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The by-group numbers as text cells under translated headers (for a table)."""
    rows = [(record.group_label(int(r.group)), f"{int(r.customers):,}", f"{r.actual:.2f}", f"{r.predicted:.2f}")
            for r in record.by_group.itertuples()]
    return pd.DataFrame(rows, columns=[t(f"trk_col_{c}", lang) for c in ("group", "customers", "actual",
                                                                           "predicted")])


def alive_title(path: pd.DataFrame, as_of: date, lang: str = DEFAULT_LANGUAGE) -> str | None:
    """The P(alive) chart's finding: P(alive) at D, the days since the last
    order and P(alive) right after it; None for an empty path."""
    if path.empty:
        return None
    now = float(path["p_alive"].iloc[-1])
    if int(path["frequency"].iloc[-1]) == 0 and now >= 1.0:
        return t("alive_title_single", lang, now=now)
    changed = path["frequency"].ne(path["frequency"].shift())
    last = path.loc[changed].iloc[-1]
    return t("alive_title", lang, as_of=as_of.isoformat(), now=now, then=float(last["p_alive"]),
             days=(pd.Timestamp(as_of) - pd.Timestamp(last["date"])).days)
