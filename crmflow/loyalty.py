"""Loyalty measures (issue 17 part 3; seed 003, 顾客忠诚度的衡量标准): what a
transaction history says about loyalty beyond a count of orders, per customer
and per stage or RFM segment, at D and at month ends, under the global filters
(every function takes a :class:`crmflow.db.Scope`).

The data part is the named query ``loyalty_customers`` (``queries/loyalty/``);
this module names the measures and summarises them per group.

Definitions (as of D; orders as in SPEC §2: a distinct order_id, else a
distinct customer day, of the lines with amount > 0; the customers measured are
those with an order on or before D)

    orders in the window
        A customer's orders dated in (D - loyal_window_days, D], the window of
        the stage rules (365 days by default).
    repeat-purchase rate (of a group)
        Among the group's customers with at least one order in the window, the
        share with at least two there. Empty when nobody in the group ordered in
        the window.
    category breadth
        The number of categories a customer bought (lines with amount > 0 dated
        <= D), divided by the number of categories anyone in scope bought by D.
        A group shows the mean over its customers. Needs a category column:
        without one the measure is empty and the view says to map it.
    purchase regularity (interval CV)
        The buying days are a customer's distinct order dates <= D; the
        intervals are the days between consecutive buying days. The interval
        CV is the population standard deviation of the intervals divided by
        their mean (0 = perfectly even rhythm; larger = more erratic). It needs
        at least two intervals, i.e. three buying days: with one or two buying
        days it is empty (one interval has no spread), and a group's value, the
        median over the customers that have one, leaves those customers out
        (the group says how many it measured).
    complainers who ordered again
        A complainer is a customer with a complaint dated <= D (an interaction
        whose type matches :data:`crmflow.config.COMPLAINT_PATTERN`: complaint,
        投诉, 抱怨, 客诉). Orders after the complaint are the orders dated after
        the day of the customer's first complaint and <= D. A group shows the
        share of its complainers with at least one such order, and those orders'
        total. Needs an interactions file with complaints.
    orders at a discount (price sensitivity)
        A priced order is an order <= D with a line (amount > 0) that carries a
        discount or a list price (the optional transaction columns
        ``discount`` / ``list_price``). A line is at a discount when its
        discount is above zero (an amount or a rate: only its sign is used), or
        when its amount is below list price x quantity (1 when empty) by more
        than half a cent; an order is at a discount when one of its lines is.
        A customer's share is discounted / priced orders; a group's is the
        same over all its customers' priced orders (pooled). Needs one of the
        two columns (query ``loyalty_prices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from crmflow.config import COMPLAINT_PATTERN, STAGES, Params
from crmflow.db import Database, Scope
from crmflow.results import stored_or_run

#: Per-customer columns of :func:`customer_measures`, in download order.
CUSTOMER_COLUMNS = ("customer_id", "orders", "orders_in_window", "buying_days", "interval_cv",
                    "categories_bought", "breadth", "complaint_date", "orders_after_complaint", "priced_orders",
                    "discounted_orders", "discount_share")
#: The columns the Segments download gains (the per-customer measures without the id).
DOWNLOAD_COLUMNS = CUSTOMER_COLUMNS[1:]
#: Per-group columns of :func:`summarise`.
GROUP_COLUMNS = ("group", "customers", "window_buyers", "repeat_buyers", "repeat_rate", "breadth",
                 "measured_regularity", "interval_cv", "complainers", "complainers_reordered",
                 "reorder_share", "orders_after_complaint", "priced_orders", "discounted_orders",
                 "price_sensitivity")
#: Columns of :func:`over_time`.
TIME_COLUMNS = ("snapshot_date", *GROUP_COLUMNS[1:])
#: The measures and the optional data each needs (None: orders alone suffice).
MEASURES = ("repeat_rate", "breadth", "interval_cv", "reorder_share", "price_sensitivity")
NEEDS = {"repeat_rate": None, "breadth": "category", "interval_cv": None, "reorder_share": "complaints",
         "price_sensitivity": "discount"}
#: The translation key saying what to upload for each missing input.
UNLOCKS = {"category": "loy_unlock_category", "complaints": "loy_unlock_complaints",
           "discount": "loy_unlock_discount"}
GROUPINGS = ("stage", "segment")
ALL = "all"


def _defs(params: Params) -> dict[str, object]:
    return {"loyal_window_days": params.loyal_window_days, "complaint_pattern": COMPLAINT_PATTERN}


def _rows(db: Database, scope: int | Scope, dates: list[date], params: Params) -> pd.DataFrame:
    df = stored_or_run(db, "loyalty_customers", scope, dates=list(dates), **_defs(params))
    df = df.astype({"orders": "int64", "orders_in_window": "int64", "buying_days": "int64",
                    "categories_bought": "int64", "categories_total": "int64", "interval_cv": "float64"})
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    df["complaint_date"] = pd.to_datetime(df["complaint_date"])
    df["orders_after_complaint"] = df["orders_after_complaint"].astype("Int64")
    total = df["categories_total"].astype(float)
    df["breadth"] = (df["categories_bought"] / total).where(total > 0)
    prices = _prices(db, scope, dates)
    prices["snapshot_date"] = pd.to_datetime(prices["snapshot_date"])
    # both sides have one row per (date, customer) (their queries group by it): a length
    # check instead of pandas' one-to-one validation, which costs a second at 1M orders
    merged = df.merge(prices, on=["snapshot_date", "customer_id"], how="left")
    if len(merged) != len(df):  # cannot happen
        raise ValueError("loyalty_prices has more than one row per customer and date")
    df = merged
    df[["priced_orders", "discounted_orders"]] = df[["priced_orders", "discounted_orders"]].fillna(0).astype("int64")
    df["discount_share"] = (df["discounted_orders"] / df["priced_orders"].astype(float)).where(df["priced_orders"] > 0)
    return df


def _prices(db: Database, scope: int | Scope, dates: list[date]) -> pd.DataFrame:
    """``loyalty_prices`` at ``dates``; empty when the store predates its table
    (a database file opened read-only that was made by an older crmflow)."""
    from crmflow.errors import QueryError

    columns = ["snapshot_date", "customer_id", "priced_orders", "discounted_orders"]
    try:
        return stored_or_run(db, "loyalty_prices", scope, dates=list(dates))[columns]
    except QueryError:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "snapshot_date" else
                                           ("object" if c == "customer_id" else "int64")) for c in columns})


def customer_measures(db: Database, scope: int | Scope, as_of: date, params: Params = Params()) -> pd.DataFrame:
    """One row per customer with an order on or before ``as_of``: the columns
    :data:`CUSTOMER_COLUMNS` (``interval_cv`` empty with fewer than 3 buying
    days, ``breadth`` empty without categories, ``complaint_date`` and
    ``orders_after_complaint`` empty for customers who did not complain)."""
    from crmflow.stages import as_dates

    df = _rows(db, scope, [as_of], params)[list(CUSTOMER_COLUMNS)].reset_index(drop=True)
    df["complaint_date"] = as_dates(df["complaint_date"])
    return df


def summarise(frame: pd.DataFrame) -> dict[str, object]:
    """The group measures (module docstring) of a frame of customer measures."""
    window = frame["orders_in_window"] >= 1
    repeat = frame["orders_in_window"] >= 2
    cv = frame["interval_cv"].dropna()
    complained = frame["complaint_date"].notna()
    after = frame.loc[complained, "orders_after_complaint"].fillna(0).astype(int)
    n_window, n_complained = int(window.sum()), int(complained.sum())
    breadth = frame["breadth"].dropna()
    return {
        "customers": len(frame),
        "window_buyers": n_window,
        "repeat_buyers": int(repeat.sum()),
        "repeat_rate": float(repeat.sum()) / n_window if n_window else None,
        "breadth": float(breadth.mean()) if len(breadth) else None,
        "measured_regularity": len(cv),
        "interval_cv": float(cv.median()) if len(cv) else None,
        "complainers": n_complained,
        "complainers_reordered": int((after > 0).sum()),
        "reorder_share": float((after > 0).sum()) / n_complained if n_complained else None,
        "orders_after_complaint": int(after.sum()),
        "priced_orders": int(frame["priced_orders"].sum()),
        "discounted_orders": int(frame["discounted_orders"].sum()),
        "price_sensitivity": (float(frame["discounted_orders"].sum()) / float(frame["priced_orders"].sum())
                              if frame["priced_orders"].sum() else None),
    }


def group_order(by: str) -> tuple[str, ...]:
    """The groups of a grouping, in display order (buyers are never potential)."""
    if by == "stage":
        return tuple(s for s in STAGES if s != "potential")
    from crmflow.analytics import segments

    return segments()


def _groups(db: Database, scope: int | Scope, as_of: date, params: Params, by: str) -> pd.Series:
    """The stage or RFM segment at ``as_of`` of every customer with an order."""
    if by == "stage":
        from crmflow.stages import customer_stages

        st = customer_stages(db, scope, as_of, params)
        return st.set_index("customer_id")["stage"]
    if by == "segment":
        from crmflow.analytics import rfm

        return rfm(db, scope, as_of).set_index("customer_id")["segment"]
    raise ValueError(f"unknown grouping {by!r}")


def with_groups(db: Database, scope: int | Scope, as_of: date, params: Params = Params(),
                by: str = "stage") -> pd.DataFrame:
    """:func:`customer_measures` with a ``group`` column (the customer's stage or segment)."""
    frame = customer_measures(db, scope, as_of, params)
    groups = _groups(db, scope, as_of, params, by)
    frame.insert(1, "group", frame["customer_id"].map(groups))
    return frame


def by_group(db: Database, scope: int | Scope, as_of: date, params: Params = Params(),
             by: str = "stage") -> pd.DataFrame:
    """One row per stage (first, repeat, loyal, lost) or RFM segment, every
    group present, then the row ``all``: the columns :data:`GROUP_COLUMNS`."""
    frame = with_groups(db, scope, as_of, params, by)
    rows = [{"group": g, **summarise(frame[frame["group"] == g])} for g in group_order(by)]
    rows.append({"group": ALL, **summarise(frame)})
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))


def over_time(db: Database, scope: int | Scope, start: date, as_of: date, params: Params = Params()) -> pd.DataFrame:
    """The measures of all customers at every month end from ``start`` to
    ``as_of`` (and at ``as_of``): the columns :data:`TIME_COLUMNS`."""
    from crmflow.stages import month_ends

    from crmflow.errors import QueryError

    dates = month_ends(start, as_of)
    try:  # summed up in the engine (stored at the default dates: crmflow.results)
        summed = stored_or_run(db, "loyalty_trend", scope, dates=dates, **_defs(params))
    except QueryError:  # a file an older crmflow made, opened read-only (no discounts table)
        return _over_time_here(db, scope, dates, params)
    empty = EMPTY_SUMMARY
    at = {pd.Timestamp(row["snapshot_date"]): row for row in summed.to_dict("records")}
    rows = [{"snapshot_date": day, **({k: _plain(at[pd.Timestamp(day)][k]) for k in TIME_COLUMNS[1:]}
                                       if pd.Timestamp(day) in at else empty)} for day in dates]
    return pd.DataFrame(rows, columns=list(TIME_COLUMNS))


#: What :func:`summarise` gives for a date when no customer has ordered yet.
EMPTY_SUMMARY = {"customers": 0, "window_buyers": 0, "repeat_buyers": 0, "repeat_rate": None, "breadth": None,
                 "measured_regularity": 0, "interval_cv": None, "complainers": 0, "complainers_reordered": 0,
                 "reorder_share": None, "orders_after_complaint": 0, "priced_orders": 0, "discounted_orders": 0,
                 "price_sensitivity": None}


def _plain(value: object) -> object:
    """A number from the engine as :func:`summarise` gives it: int, float, or None when empty."""
    if value is None or pd.isna(value):
        return None
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _over_time_here(db: Database, scope: int | Scope, dates: list[date], params: Params) -> pd.DataFrame:
    """:func:`over_time` from the per-customer rows, summed up here."""
    df = _rows(db, scope, dates, params)
    parts = dict(iter(df.groupby("snapshot_date", sort=False)))
    empty = df.iloc[0:0]
    rows = [{"snapshot_date": day, **summarise(parts.get(pd.Timestamp(day), empty))} for day in dates]
    return pd.DataFrame(rows, columns=list(TIME_COLUMNS))


@dataclass(frozen=True)
class Availability:
    """Which optional inputs the data has (the measures that need them are empty without)."""

    category: bool
    complaints: bool
    discount: bool = False

    def missing(self) -> tuple[str, ...]:
        """The inputs that are missing, in :data:`MEASURES` order."""
        return tuple(need for need in dict.fromkeys(NEEDS.values()) if need and not getattr(self, need))


def availability(db: Database, scope: int | Scope) -> Availability:
    """What the (filtered) dataset carries: a category on some line, a complaint
    among the interactions, a discount or list price on some line."""
    from crmflow.errors import QueryError

    row = db.run("data_coverage", dataset_id=scope).iloc[0]
    try:
        priced = int(db.run("priced_lines", dataset_id=scope).iloc[0]["lines"]) > 0
    except QueryError:  # a file an older crmflow made, opened read-only (no discounts table)
        priced = False
    return Availability(category=int(row["category"]) > 0, complaints=int(row["complaints"]) > 0, discount=priced)


@dataclass(frozen=True)
class LoyaltyView:
    """What the Overview section, the report slide and the command line show."""

    as_of: date
    by: str
    groups: pd.DataFrame
    trend: pd.DataFrame
    available: Availability


def loyalty_view(db: Database, scope: int | Scope, as_of: date, start: date, params: Params = Params(),
                 by: str = "stage") -> LoyaltyView:
    """The measures by group at ``as_of`` and over time from ``start``."""
    return LoyaltyView(as_of, by, by_group(db, scope, as_of, params, by), over_time(db, scope, start, as_of, params),
                       availability(db, scope))


# --------------------------------------------------------------------------- display
#: The share measures of the trend chart and the table, in order, and the input each needs.
SHARE_MEASURES = ("repeat_rate", "breadth", "reorder_share", "price_sensitivity")


def group_name(group: str, by: str, lang: str) -> str:
    """A stage's or segment's name in ``lang`` (the glossary's), or "all customers with an order"."""
    from crmflow.i18n import t

    if group == ALL:
        return t("loy_all", lang)
    return t(f"stage_{group}", lang) if by == "stage" else t(f"segment_{group}", lang)


def _share(value: object) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def display_table(groups: pd.DataFrame, by: str, available: Availability, lang: str,
                  compact: bool = False) -> pd.DataFrame:
    """The by-group table as shown on the Overview page and the report slide:
    group names and headers in ``lang``, shares as percentages, the interval
    CV to two places, "–" where a measure is empty; the columns of a measure
    whose input the data lacks are left out (the view says what unlocks it).
    ``compact`` (the report slide, beside a chart) keeps only the group and the measures."""
    from crmflow.i18n import t

    shown = {f"loy_col_group_{by}": [group_name(g, by, lang) for g in groups["group"]]}
    if not compact:
        shown["loy_col_customers"] = [f"{int(n):,}" for n in groups["customers"]]
    shown["loy_repeat_rate"] = [_share(v) for v in groups["repeat_rate"]]
    if available.category:
        shown["loy_breadth"] = [_share(v) for v in groups["breadth"]]
    shown["loy_interval_cv"] = ["–" if pd.isna(v) else f"{float(v):.2f}" for v in groups["interval_cv"]]
    if not compact:
        shown["loy_col_measured_regularity"] = [f"{int(n):,}" for n in groups["measured_regularity"]]
    if available.complaints:
        if not compact:
            shown["loy_col_complainers"] = [f"{int(n):,}" for n in groups["complainers"]]
        shown["loy_reorder_share"] = [_share(v) for v in groups["reorder_share"]]
        if not compact:
            shown["loy_col_orders_after_complaint"] = [f"{int(n):,}" for n in groups["orders_after_complaint"]]
    if available.discount:
        shown["loy_price_sensitivity"] = [_share(v) for v in groups["price_sensitivity"]]
    return pd.DataFrame({t(key, lang): values for key, values in shown.items()})


def shown_shares(available: Availability) -> tuple[str, ...]:
    """The share measures the data supports (the others need an input it lacks)."""
    return tuple(m for m in SHARE_MEASURES if NEEDS[m] is None or getattr(available, NEEDS[m]))


def trend_title(trend: pd.DataFrame, lang: str) -> str:
    """The trend chart's title: its month-end range, as months (it sits over half a page)."""
    from crmflow.i18n import t

    dates = list(trend["snapshot_date"])
    if len(dates) < 2:
        return t("loy_trend_title_single", lang, end=dates[-1].isoformat() if dates else "")
    return t("loy_trend_title", lang, start=f"{dates[0]:%Y-%m}", end=f"{dates[-1]:%Y-%m}")


def slide_title(groups: pd.DataFrame, lang: str) -> str:
    """The report slide's title: the repeat-purchase rate of everyone buying in the window."""
    from crmflow.i18n import t

    rate = groups.loc[groups["group"] == ALL, "repeat_rate"].iloc[0]
    if rate is None or pd.isna(rate):
        return t("loy_slide_title_empty", lang)
    return t("loy_slide_title", lang, all_rate=f"{float(rate):.1%}")


def unlock_notes(available: Availability, lang: str) -> list[str]:
    """What to upload for each measure the data cannot show yet, in ``lang``."""
    from crmflow.i18n import t

    return [t(UNLOCKS[need], lang) for need in available.missing()]
