"""What a manager asks of the Overview beyond the stages (issue 12, item 9):
revenue over time by month split by region or owner, quarter- and
year-to-date comparisons with the same period a year earlier, a per-owner
view ("my accounts") and the dataset's currency in money labels.

Definitions
    revenue by month
        Net revenue (every line, returns included) per calendar month of the
        lines dated from the first day of the month of ``start`` up to D; the
        last month runs only to D. Split by the customer's region or owner as
        the global filters read them (customers table, else the most recent
        line that has one); customers without one form their own group.
    quarter to date (QTD)
        [first day of D's calendar quarter, D]; compared with the same days a
        year earlier: [that day - 1 year, D - 1 year] (29 February -> 28).
    year to date (YTD)
        [1 January of D's year, D]; compared with [1 January a year earlier,
        D - 1 year].
    revenue / orders / buying customers of a period
        Net revenue of the lines dated in it; orders (SPEC §2, amount > 0)
        dated in it; distinct customers with at least one of those orders
        ("buying customers", not the active customers N of the stages).
    my accounts
        The customers whose owner (as the owner filter reads it) is the chosen
        account manager, within the other global filters. Their stage counts
        and revenue trend are the ordinary functions run on that scope; their
        churn call list and key accounts are the rows of the dataset-wide
        lists (same model, same 80% rule) that belong to those customers.
    currency
        A label only (no conversion): an ISO code chosen per view (URL
        ``currency``), default none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from crmflow.db import Database, Scope
from crmflow.overview import relative_change, years_before

#: The split choices of the revenue-by-month chart.
SPLITS = ("region", "owner")
DEFAULT_SPLIT = "region"
#: Currencies offered (ISO 4217 codes); "" = none (no unit in the labels).
CURRENCIES = ("", "CNY", "USD", "EUR", "GBP", "JPY", "HKD")


# --------------------------------------------------------------------------- revenue by month
def month_start(day: date) -> date:
    return day.replace(day=1)


def revenue_by_month(db: Database, dataset_id: int | Scope, start: date, as_of: date,
                     split: str = DEFAULT_SPLIT) -> pd.DataFrame:
    """Net revenue per month (rows, first day of each month from ``start``'s
    month to D's, months without lines as 0) and group (columns: the regions
    or owners, sorted, None last for customers without one)."""
    first = month_start(min(start, as_of))
    long = db.run("revenue_by_month", dataset_id=dataset_id, start=first, as_of=as_of,
                  split=split if split in SPLITS else "all")
    return monthly_table(long, first, as_of)


def monthly_table(long: pd.DataFrame, first: date, as_of: date) -> pd.DataFrame:
    """A ``revenue_by_month`` result (month, group_value, revenue) as a table:
    one row per month from ``first`` to ``as_of`` (index ``month``, dates),
    one column per group (None last), 0 where a group had no line."""
    months = pd.date_range(month_start(first), month_start(as_of), freq="MS").date
    if long.empty:
        return pd.DataFrame(index=pd.Index(months, name="month"))
    frame = long.assign(month=pd.to_datetime(long["month"]).dt.date,
                        group_value=long["group_value"].astype("object").where(long["group_value"].notna(), None),
                        revenue=long["revenue"].astype("float64"))
    groups = sorted({g for g in frame["group_value"] if g is not None})
    if frame["group_value"].isna().any():
        groups.append(None)
    table = pd.DataFrame(0.0, index=pd.Index(months, name="month"), columns=pd.Index(groups, dtype="object"))
    for row in frame.itertuples(index=False):
        table.loc[row.month, row.group_value] = float(row.revenue)
    return table


def top_groups(table: pd.DataFrame, keep: int = 8) -> pd.DataFrame:
    """At most ``keep`` columns: the largest groups by total revenue (order kept),
    the rest summed into one column named ``"__other__"``."""
    if table.shape[1] <= keep:
        return table
    totals = table.sum()
    ranked = sorted(table.columns, key=lambda c: (-totals[c], str(c)))
    kept = [c for c in table.columns if c in ranked[:keep - 1]]
    out = table[kept].copy()
    out["__other__"] = table.drop(columns=kept).sum(axis=1)
    return out


# --------------------------------------------------------------------------- QTD / YTD
@dataclass(frozen=True)
class Period:
    start: date
    end: date


@dataclass(frozen=True)
class PeriodTotals:
    period: Period
    revenue: float
    orders: int
    buying_customers: int


@dataclass(frozen=True)
class Comparison:
    """One period to date and the same days a year earlier."""

    kind: str  # "qtd" or "ytd"
    now: PeriodTotals
    year_ago: PeriodTotals

    def change(self, measure: str) -> float | None:
        """Relative change of ``measure`` (revenue, orders, buying_customers)."""
        return relative_change(float(getattr(self.now, measure)), float(getattr(self.year_ago, measure)))


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def comparison_periods(as_of: date) -> dict[str, tuple[Period, Period]]:
    """{'qtd': (now, a year earlier), 'ytd': (now, a year earlier)} (see the module docstring)."""
    year_ago = years_before(as_of, 1)
    q0 = quarter_start(as_of)
    return {
        "qtd": (Period(q0, as_of), Period(years_before(q0, 1), year_ago)),
        "ytd": (Period(date(as_of.year, 1, 1), as_of), Period(date(as_of.year - 1, 1, 1), year_ago)),
    }


def period_totals(db: Database, dataset_id: int | Scope, periods: Iterable[Period]) -> list[PeriodTotals]:
    """Revenue, orders and buying customers of each period (one query)."""
    periods = list(periods)
    frame = db.run("period_totals", dataset_id=dataset_id, starts=[p.start for p in periods],
                   ends=[p.end for p in periods])
    rows = {int(r.period): r for r in frame.itertuples(index=False)}
    return [PeriodTotals(p, float(rows[i].revenue), int(rows[i].orders), int(rows[i].buying_customers))
            for i, p in enumerate(periods)]


def to_date_comparisons(db: Database, dataset_id: int | Scope, as_of: date) -> dict[str, Comparison]:
    """The quarter-to-date and year-to-date comparisons at D."""
    pairs = comparison_periods(as_of)
    flat = [p for pair in pairs.values() for p in pair]
    totals = period_totals(db, dataset_id, flat)
    return {kind: Comparison(kind, totals[2 * i], totals[2 * i + 1]) for i, kind in enumerate(pairs)}


# --------------------------------------------------------------------------- my accounts
def owner_customers(attributes: pd.DataFrame, owner: str) -> set[str]:
    """The customers whose owner is ``owner`` (a customer_attributes frame)."""
    return set(attributes.loc[attributes["owner"] == owner, "customer_id"].astype(str))


def owner_rows(frame: pd.DataFrame, customers: set[str]) -> pd.DataFrame:
    """The rows of a per-customer list that belong to ``customers``, order kept."""
    if frame is None or frame.empty:
        return frame
    return frame[frame["customer_id"].astype(str).isin(customers)].reset_index(drop=True)


# --------------------------------------------------------------------------- currency
def currency(value: str | None) -> str:
    """A URL value if it is a known currency code, else none ("")."""
    value = (value or "").strip().upper()
    return value if value in CURRENCIES else ""


@dataclass(frozen=True)
class RevenueHeadline:
    """What the revenue-by-month chart's title states."""

    total: float
    group: object  # the group with the most revenue (None: customers without one)
    share: float | None  # its share of the total (None when the total is not positive)


def revenue_headline(table: pd.DataFrame) -> RevenueHeadline:
    """The total of a :func:`revenue_by_month` table and its largest group
    (ties: the first column); share None when the total is not positive."""
    if table.shape[1] == 0:
        return RevenueHeadline(0.0, None, None)
    totals = table.sum()
    total = float(totals.sum())
    group = max(table.columns, key=lambda c: (float(totals[c]), -list(table.columns).index(c)))
    share = float(totals[group]) / total if total > 0 else None
    return RevenueHeadline(total, group, share)


@dataclass(frozen=True)
class RevenueChart:
    """The revenue-by-month chart as the Overview and the meeting report draw
    it: the groups shown (at most eight, the rest as "Other"), their shown
    names, the title computed from the same table, and the totals behind it."""

    shown: pd.DataFrame
    names: dict[object, str]
    title: str
    head: RevenueHeadline


def revenue_chart(months: pd.DataFrame, split: str, start: date, as_of: date, lang: str,
                  total_text: Callable[[float], str]) -> RevenueChart:
    """Title and groups of the chart of a :func:`revenue_by_month` table split
    by ``split``; ``total_text`` writes the total (the view's money format,
    with its currency)."""
    from crmflow.i18n import t

    shown = top_groups(months)
    names = {g: (t("mg_group_other", lang) if g == "__other__" else
                 t(f"mg_group_none_{split}", lang) if g is None else str(g)) for g in shown.columns}
    head = revenue_headline(months)
    span = {"start": month_start(start).isoformat(), "end": as_of.isoformat()}
    if head.share is None:
        title = t("mg_revenue_title_empty", lang, **span)
    elif months.shape[1] == 1:
        title = t("mg_revenue_title_total", lang, total=total_text(head.total), **span)
    else:
        title = t("mg_revenue_title", lang, group=names.get(head.group, t(f"mg_group_none_{split}", lang)),
                  share=head.share, total=total_text(head.total), **span)
    return RevenueChart(shown, names, title, head)
