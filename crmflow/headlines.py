"""The findings that page and slide titles state, each computed from the same
numbers the view shows beneath it (issue 12 item 2). One pure function per
headline returns a :class:`Headline` (a translation key and its parameters);
:func:`render` turns it into text in a language, with money in the one compact
format (:func:`money`) and counts with thousands separators. The Overview,
Customer flow, Churn warnings and Key accounts pages and the report's slides
call the same functions, and tests/test_vocab.py recomputes each from the data.

Number formats (both languages, headlines, cards and tables' summaries):
counts ``1,484``; shares ``21%``; money compact, ``3.2M`` / ``370.4k`` in
English and ``322万`` / ``1.2亿`` in Chinese (:func:`money`);
money columns of the pages' tables use Streamlit's ``compact`` number format
(:data:`TABLE_MONEY`: ``33.4K`` rather than ``33,375.08``); downloads keep the
exact amounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from crmflow.config import STAGES
from crmflow.i18n import t


#: The number format of money columns in the pages' tables (st.column_config.NumberColumn).
TABLE_MONEY = "compact"
#: What a missing value shows as.
MISSING = "—"


@dataclass(frozen=True)
class Headline:
    """``key``: the label; ``values``: its parameters; ``money``: which of them
    are money (shown compact); ``names``: parameters that are label keys (a
    stage's name, shown in the reader's language)."""

    key: str
    values: dict = field(default_factory=dict)
    money: tuple[str, ...] = ()
    names: dict = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return render(self, lang)


def money(value: float | None, lang: str = "en") -> str:
    """The one money format of headlines, cards and tables' text: a money
    amount in a few characters, 1.2M / 35.4k (en), 1.2亿 / 35.4万 (zh). Kept
    here, in a light module, so that a page formatting money does not import
    the scoring code (SciPy) on its first visit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    v = float(value)
    sign = "-" if v < 0 else ""
    a = abs(v)
    steps = ((1e8, "亿"), (1e4, "万")) if lang == "zh" else ((1e9, "B"), (1e6, "M"), (1e3, "k"))
    for size, unit in steps:
        if a >= size:
            number = a / size
            return f"{sign}{number:,.1f}{unit}" if number < 100 else f"{sign}{number:,.0f}{unit}"
    return f"{sign}{a:,.0f}"


def count(value: int) -> str:
    """The one count format: thousands separators (``1,484``)."""
    return f"{int(value):,}"


def render(headline: Headline, lang: str) -> str:
    values = dict(headline.values)
    for k in headline.money:
        values[k] = money(values[k], lang)
    for k, key in headline.names.items():
        values[k] = t(key, lang)
    return t(headline.key, lang, **values)


# --------------------------------------------------------------------------- Overview
def overview_headline(counts: dict[str, int], counts_before: dict[str, int], as_of: date,
                      since: date) -> Headline | None:
    """The largest stage and the next one at D, of all customers, and how the
    lost stage changed since the comparison date C. Ties go to the stage
    earlier in the flow. None when there are no customers."""
    total = sum(int(counts[s]) for s in STAGES)
    if total == 0:
        return None
    first, second = sorted(STAGES, key=lambda s: (-int(counts[s]), STAGES.index(s)))[:2]
    return Headline("hl_overview",
                    {"first_count": int(counts[first]), "second_count": int(counts[second]), "total": total,
                     "as_of": as_of.isoformat(), "since": since.isoformat(), "lost_count": int(counts["lost"]),
                     "lost_change": int(counts["lost"]) - int(counts_before["lost"])},
                    names={"first": f"stage_{first}", "second": f"stage_{second}", "lost": "stage_lost"})


# --------------------------------------------------------------------------- Customer flow
def flow_headline(summary, start: date, end: date) -> Headline:
    """The Sankey's finding: customers new, active → lost and lost → active
    between the two dates (a :func:`crmflow.transitions.flow_summary`)."""
    return Headline("fl_sankey_title", {"start": start.isoformat(), "end": end.isoformat(),
                                        "gained": int(summary.gained), "lost": int(summary.became_lost),
                                        "won_back": int(summary.won_back)})


def won_back_lost_headline(monthly: pd.DataFrame) -> Headline | None:
    """The monthly won-back / became-lost chart's finding: the sums of its bars
    and the months they cover. None without months."""
    if monthly.empty:
        return None
    months = pd.to_datetime(monthly["month"])
    return Headline("fl_won_back_lost_title", {"won": int(monthly["won_back"].sum()),
                                               "lost": int(monthly["lost"].sum()),
                                               "start": months.iloc[0].strftime("%Y-%m"),
                                               "end": months.iloc[-1].strftime("%Y-%m")})


# --------------------------------------------------------------------------- Churn warnings
def churn_headline(everyone: pd.DataFrame, listed: pd.DataFrame, days: int) -> Headline | None:
    """What the churn model expects of every customer who is not lost
    (``everyone``: the scored frame): the expected number of leavers (sum of
    the probabilities of leaving within ``days``), the total value at risk,
    and how many of them are on the call list (``listed``: the at-risk rows)
    with their value at risk. None when nobody is scored."""
    if everyone.empty:
        return None
    return Headline("hl_churn", {
        "leavers": float(everyone["probability_leave"].astype("float64").sum()),
        "scored": len(everyone),
        "value": float(everyone["value_at_risk"].astype("float64").sum()),
        "days": int(days),
        "listed": len(listed),
        "listed_value": float(listed["value_at_risk"].astype("float64").sum()) if len(listed) else 0.0,
    }, money=("value", "listed_value"))


# --------------------------------------------------------------------------- Key accounts
def key_account_headline(head, days: int) -> Headline | None:
    """The key accounts' finding from a :class:`crmflow.account_view.KeyAccountHeadline`:
    accounts in critical health that are not lost (still ordering, slipping)
    with their share of key-account revenue, apart from the lost ones (no
    order for more than ``days``). None without key accounts."""
    if head.accounts == 0:
        return None
    values = {"accounts": head.accounts, "critical": head.at_risk, "lost": head.lost, "watch": head.watch,
              "days": int(days)}
    if head.at_risk == 0:
        return Headline("hl_accounts_none", values)
    if head.revenue_share is None:
        return Headline("hl_accounts_no_revenue", values)
    return Headline("hl_accounts", {**values, "share": head.revenue_share})
