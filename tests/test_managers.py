"""What managers miss (issue 12, item 9): revenue by month split by region or
owner, quarter- and year-to-date comparisons, the "My accounts" view and the
currency in money labels.

Every number is recomputed with plain pandas from the fixture's own rows (and
the small ones by hand, in the comments); the pages are driven with AppTest in
both languages.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crmflow import managers
from crmflow.account_view import at_risk_rows, compact, key_account_health
from crmflow.churn import churn_warnings
from crmflow.config import STAGES, Params
from crmflow.filters import Filters, resolve
from crmflow.i18n import t
from crmflow.managers import (
    Period,
    comparison_periods,
    monthly_table,
    owner_customers,
    revenue_by_month,
    revenue_headline,
    to_date_comparisons,
    top_groups,
)
from crmflow.stages import stage_counts
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
D = date(2025, 5, 15)

# A returns line (r1), an order of two lines (o3), a region and an owner that
# the customers table overrides (C: West / Bob instead of no region / Ann), a
# customer without owner (D), an order after D (o8) and a customer who never
# bought (E).
TRANSACTIONS = """\
customer_id,order_id,order_date,amount,region,owner,channel
A,o1,2024-01-10,100,North,Ann,web
A,o2,2024-04-20,50,North,Ann,web
A,o3,2025-04-05,200,North,Ann,store
A,o3,2025-04-05,30,North,Ann,store
A,r1,2025-04-10,-20,North,Ann,store
B,o4,2024-05-01,80,South,Bob,web
B,o5,2025-02-14,120,South,Bob,web
B,o6,2025-05-15,60,South,Bob,store
C,o7,2024-12-31,40,,Ann,web
C,o8,2025-05-16,999,,Ann,web
D,o9,2025-01-20,70,East,,store
"""
CUSTOMERS = """\
customer_id,name,region,owner
A,Alpha,North,Ann
B,Beta,South,Bob
C,Gamma,West,Bob
E,Epsilon,North,Ann
"""
#: customer -> (region, owner) as the filters read them (customers table first)
ATTRIBUTES = {"A": ("North", "Ann"), "B": ("South", "Bob"), "C": ("West", "Bob"), "D": ("East", None)}


def lines() -> pd.DataFrame:
    from io import StringIO

    frame = pd.read_csv(StringIO(TRANSACTIONS), parse_dates=["order_date"])
    frame["order_date"] = frame["order_date"].dt.date
    frame["region"] = frame["customer_id"].map(lambda c: ATTRIBUTES[c][0])
    frame["owner"] = frame["customer_id"].map(lambda c: ATTRIBUTES[c][1])
    return frame


def pandas_months(frame: pd.DataFrame, start: date, end: date, by: str) -> pd.DataFrame:
    """Revenue per (month, group) in plain pandas, months from start's month to end's."""
    kept = frame[(frame["order_date"] >= start.replace(day=1)) & (frame["order_date"] <= end)].copy()
    kept["month"] = [d.replace(day=1) for d in kept["order_date"]]
    kept["amount"] = kept["amount"].astype("float64")
    kept["group"] = kept[by].astype("object").where(kept[by].notna(), "(none)")
    table = kept.pivot_table(index="month", columns="group", values="amount", aggfunc="sum", fill_value=0.0)
    months = pd.date_range(start.replace(day=1), end.replace(day=1), freq="MS").date
    return table.reindex(months, fill_value=0.0).astype("float64")


def pandas_period(frame: pd.DataFrame, start: date, end: date) -> tuple[float, int, int]:
    """(revenue, orders, buying customers) of [start, end] in plain pandas."""
    revenue = frame[(frame["order_date"] >= start) & (frame["order_date"] <= end)]["amount"].sum()
    orders = frame[frame["amount"] > 0].groupby("order_id").agg(customer=("customer_id", "first"),
                                                               day=("order_date", "min"))
    inside = orders[(orders["day"] >= start) & (orders["day"] <= end)]
    return float(revenue), len(inside), inside["customer"].nunique()


@pytest.fixture
def fixture(load):
    return load(TRANSACTIONS, CUSTOMERS)


def as_named(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    out.columns = ["(none)" if c is None else c for c in out.columns]
    out.columns.name = "group"
    out.index.name = "month"
    return out


# --------------------------------------------------------------------------- revenue by month
@pytest.mark.parametrize("by", ["region", "owner"])
def test_revenue_by_month_equals_pandas(fixture, by):
    store, ds = fixture
    start = date(2024, 1, 20)                      # the chart starts at the first day of that month
    table = revenue_by_month(store.db, ds, start, D, by)
    expected = pandas_months(lines(), start, D, by)
    pd.testing.assert_frame_equal(as_named(table), expected[sorted(expected.columns, key=lambda c: (c == "(none)", c))],
                                  check_names=False)
    assert len(table) == 17                        # 2024-01 .. 2025-05
    assert table.loc[date(2025, 4, 1)].sum() == 210    # 200 + 30 - 20: the return counts, o8 (after D) does not
    if by == "region":
        assert table.loc[date(2024, 12, 1), "West"] == 40    # C's region comes from the customers table
    else:
        assert table[None].sum() == 70 and table["Bob"].sum() == 80 + 120 + 60 + 40


def test_revenue_by_month_follows_the_global_filters(fixture):
    store, ds = fixture
    web = resolve(store.db, ds, Filters(channels=("web",)), D)
    table = revenue_by_month(store.db, web, date(2024, 1, 1), D, "owner")
    frame = lines()
    expected = pandas_months(frame[frame["channel"] == "web"], date(2024, 1, 1), D, "owner")
    pd.testing.assert_frame_equal(as_named(table), expected, check_names=False)
    north = resolve(store.db, ds, Filters(regions=("North",)), D)
    table = revenue_by_month(store.db, north, date(2024, 1, 1), D, "region")
    assert list(table.columns) == ["North"] and table["North"].sum() == 100 + 50 + 230 - 20


def test_revenue_headline_and_top_groups():
    table = pd.DataFrame({"a": [1.0, 2.0], "b": [5.0, 0.0], None: [1.0, 1.0]}, index=[date(2025, 1, 1),
                                                                                       date(2025, 2, 1)])
    head = revenue_headline(table)
    assert (head.total, head.group, head.share) == (10.0, "b", 0.5)
    assert revenue_headline(table * -1).share is None
    grouped = top_groups(table, keep=2)
    assert list(grouped.columns) == ["b", "__other__"] and grouped["__other__"].tolist() == [2.0, 3.0]
    empty = monthly_table(pd.DataFrame(columns=["month", "group_value", "revenue"]), date(2025, 1, 9), D)
    assert list(empty.index) == [date(2025, m, 1) for m in range(1, 6)] and empty.shape[1] == 0


# --------------------------------------------------------------------------- QTD / YTD
def test_comparison_periods_by_hand():
    p = comparison_periods(D)
    assert p["qtd"] == (Period(date(2025, 4, 1), D), Period(date(2024, 4, 1), date(2024, 5, 15)))
    assert p["ytd"] == (Period(date(2025, 1, 1), D), Period(date(2024, 1, 1), date(2024, 5, 15)))
    leap = comparison_periods(date(2024, 2, 29))
    assert leap["qtd"][1] == Period(date(2023, 1, 1), date(2023, 2, 28))
    assert comparison_periods(date(2025, 12, 31))["qtd"][0].start == date(2025, 10, 1)


def test_to_date_comparisons_by_hand_and_pandas(fixture):
    store, ds = fixture
    got = to_date_comparisons(store.db, ds, D)
    # by hand: QTD 2025-04-01..05-15: 200 + 30 - 20 + 60 = 270 in orders o3, o6 of A, B;
    # a year earlier 50 + 80 = 130 in o2, o4. YTD adds o5 (120) and o9 (70): 460 in 4 orders of
    # A, B, D; a year earlier 100 + 50 + 80 = 230 in 3 orders of A, B.
    hand = {"qtd": ((270, 2, 2), (130, 2, 2)), "ytd": ((460, 4, 3), (230, 3, 2))}
    frame = lines()
    for kind, (now, before) in hand.items():
        c = got[kind]
        assert (c.now.revenue, c.now.orders, c.now.buying_customers) == now
        assert (c.year_ago.revenue, c.year_ago.orders, c.year_ago.buying_customers) == before
        assert pandas_period(frame, c.now.period.start, c.now.period.end) == now
        assert pandas_period(frame, c.year_ago.period.start, c.year_ago.period.end) == before
    assert got["qtd"].change("revenue") == pytest.approx(270 / 130 - 1)
    assert got["ytd"].change("orders") == pytest.approx(4 / 3 - 1)
    bob = resolve(store.db, ds, Filters(owners=("Bob",)), D)
    ytd = to_date_comparisons(store.db, bob, D)["ytd"]
    assert (ytd.now.revenue, ytd.now.orders, ytd.now.buying_customers) == (180, 2, 1)   # o5 + o6 of B


# --------------------------------------------------------------------------- my accounts, currency
def test_owner_customers_follow_the_customers_table(fixture):
    store, ds = fixture
    from crmflow.filters import customer_attributes

    attributes = customer_attributes(store.db, ds)
    assert owner_customers(attributes, "Bob") == {"B", "C"}
    assert owner_customers(attributes, "Ann") == {"A", "E"}
    assert managers.owner_rows(pd.DataFrame({"customer_id": ["A", "B", "C"], "x": [1, 2, 3]}),
                               {"C", "A"})["x"].tolist() == [1, 3]


def test_currency_choice():
    assert managers.currency("usd") == "USD" and managers.currency("XYZ") == "" and managers.currency(None) == ""


# --------------------------------------------------------------------------- pages
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("managers")
    (folder / "t.csv").write_text(TRANSACTIONS, encoding="utf-8")
    (folder / "c.csv").write_text(CUSTOMERS, encoding="utf-8")
    db = folder / "crmflow.duckdb"
    with Store(db) as store:
        store.ingest("fx", folder / "t.csv", folder / "c.csv")
        ds = store.get("fx").dataset_id
        bob = resolve(store.db, ds, Filters(owners=("Bob",)), D)
        expected = {
            "bob_stages": stage_counts(store.db, bob, D, Params()),
            "everyone": churn_warnings(store.db, ds, D, Params(), include_all=True),
            "key": key_account_health(store.db, ds, D, Params()),
        }
        expected["calls"] = at_risk_rows(expected["everyone"])
    return db, expected


@pytest.fixture
def app(world, app_factory):
    return app_factory(world[0], defaults={"dataset": "fx", "as_of": D.isoformat()}, timeout=120)


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def decoded(values: object) -> list[float]:
    """A Plotly array, plain or typed ({"dtype", "bdata"}: base64 of little-endian values)."""
    import base64

    import numpy as np

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def chart(at: AppTest, title: str) -> dict:
    """The chart with this title, its traces decoded (Plotly sends arrays as typed binary)."""
    import plotly.io as pio

    for c in at.get("plotly_chart"):
        fig = pio.from_json(c.proto.spec)
        if fig.layout.title.text == title:
            return {"data": [{"name": tr.name, "y": decoded(tr.y)} for tr in fig.data]}
    raise AssertionError(f"no chart titled {title!r} in {chart_titles(at)}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_to_date_cards_show_the_periods_and_pandas_numbers(app, lang):
    at = app(lang=lang, currency="USD")
    shown = {m.label: m for m in at.metric}
    frame = lines()
    for kind, (now, before) in comparison_periods(D).items():
        dates = {"start": now.start.isoformat(), "end": now.end.isoformat(),
                 "prev_start": before.start.isoformat(), "prev_end": before.end.isoformat()}
        assert t(f"mg_{kind}_caption", lang, **dates) in [c.value for c in at.caption]
        values = dict(zip(("revenue", "orders", "buying_customers"), pandas_period(frame, now.start, now.end)))
        earlier = dict(zip(("revenue", "orders", "buying_customers"),
                           pandas_period(frame, before.start, before.end)))
        for measure in values:
            label = t(f"mg_{kind}_{measure}", lang)
            if measure == "revenue":
                label = t("money_label", lang, label=label, currency="USD")
            card = shown[label]
            assert card.value == f"{values[measure]:,.0f}"
            change = values[measure] / earlier[measure] - 1
            assert card.proto.delta == (f"{change:+.1%}" if change else "0")
            assert card.proto.delta_description == t("mg_vs_year_ago", lang, value=f"{earlier[measure]:,.0f}")
            assert t(f"mg_{kind}_caption", lang, **dates) in card.proto.help
    # the revenue card of the last 12 months names the currency too
    assert t("money_label", lang, label=t("ov_revenue_12m", lang), currency="USD") in shown


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_revenue_by_month_split_from_the_url(app, lang):
    frame = lines()
    start = date(2023, 5, 15)                          # the default trend period: 24 months, never before the first order
    expected = pandas_months(frame, max(start, date(2024, 1, 10)), D, "owner")
    at = app(lang=lang, split="owner")
    total = float(expected.to_numpy().sum())           # 100+50+230-20+80+120+60+40+70 = 730
    assert total == 730
    ann = expected["Ann"].sum() / total                 # A's 360 of 730 (Bob: B 260 + C 40 = 300)
    assert ann == 360 / 730
    title = t("mg_revenue_title", lang, group="Ann", share=ann, total=compact(total, lang),
              start="2024-01-01", end=D.isoformat())
    spec = chart(at, title)
    traces = {tr["name"]: tr for tr in spec["data"]}
    assert set(traces) == {"Ann", "Bob", t("mg_group_none_owner", lang)}
    assert sum(traces["Bob"]["y"]) == 300 and sum(traces[t("mg_group_none_owner", lang)]["y"]) == 70
    assert at.query_params["split"] == "owner"
    # back to the default split: the URL drops it and the chart is by region
    next(b for b in at.get("button_group") if b.label == t("mg_split", lang)).set_value("region").run()
    assert "split" not in at.query_params
    spec = chart(at, t("mg_revenue_title", lang, group="North", share=360 / 730, total=compact(730.0, lang),
                       start="2024-01-01", end=D.isoformat()))
    assert {tr["name"] for tr in spec["data"]} == {"North", "South", "West", "East"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_my_accounts_for_an_owner_in_the_url(app, world, lang):
    _, expected = world
    at = app("my_accounts", lang=lang, manager="Bob")
    assert at.query_params["manager"] == "Bob"
    counts = expected["bob_stages"]
    # by hand: B (3 orders, 2 in the loyal window, last on D) is repeat; C (one order up to D) is first
    assert {s: n for s, n in counts.items() if n} == {"first": 1, "repeat": 1}
    top = max(STAGES, key=lambda s: (counts[s], -STAGES.index(s)))
    titles = chart_titles(at)
    assert t("ma_stages_title", lang, customers=2, as_of=D.isoformat(), stage=t(f"stage_{top}", lang),
             count=counts[top]) in titles
    # revenue per month of the last 12 months: B's 120 + 60 and C's 40 (o8 is after D)
    assert t("ma_revenue_title", lang, total=compact(220.0, lang), start="2024-06-01", end=D.isoformat()) in titles
    calls = expected["calls"]
    bob_calls = calls[calls["customer_id"].isin(["B", "C"])]
    # issue 13: the call list is sized by value: the largest values at risk until they carry 80% of
    # the total (which customers that is depends on the purchase model the backtest chose)
    everyone = expected["everyone"].sort_values(["value_at_risk", "customer_id"], ascending=[False, True])
    carried = everyone["value_at_risk"].cumsum().to_numpy()
    k = int(np.searchsorted(carried, 0.8 * everyone["value_at_risk"].sum() - 1e-9) + 1)
    assert set(calls["customer_id"]) == set(everyone["customer_id"].iloc[:k])
    assert len(calls) > 0
    tables = [d.value for d in at.dataframe]
    id_label = t("cp_col_customer_id", lang)
    shown_calls = next((tb for tb in tables if t("cp_col_risk_score", lang) in tb.columns), None)
    if bob_calls.empty:
        assert t("ma_calls_none", lang, as_of=D.isoformat()) in [s.value for s in at.success]
    else:
        assert list(shown_calls[id_label]) == list(bob_calls["customer_id"])
    key = expected["key"]
    bob_key = key[key["customer_id"].isin(["B", "C"])]
    assert list(bob_key["customer_id"]) == ["B"] and len(key) == 3          # A and D are key accounts too
    shown_key = next((tb for tb in tables if t("health_score", lang) in tb.columns), None)
    if bob_key.empty:
        assert t("ma_key_none", lang, as_of=D.isoformat()) in [i.value for i in at.info]
    else:
        assert list(shown_key[t("ka_col_customer_id", lang)]) == list(bob_key["customer_id"])
    assert "A" not in (list(shown_key[t("ka_col_customer_id", lang)]) if shown_key is not None else [])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_my_accounts_asks_for_an_owner_and_puts_it_in_the_url(app, lang):
    at = app("my_accounts", lang=lang)
    assert t("ma_pick_hint", lang) in [i.value for i in at.info]
    assert not at.get("plotly_chart")
    box = next(s for s in at.selectbox if s.label == t("ma_owner", lang))
    assert box.options == ["Ann", "Bob"]
    box.select("Ann").run()
    assert not at.exception, at.exception
    assert at.query_params["manager"] == "Ann"
    # by hand: Ann owns A (3 orders, last 2025-04-05: repeat) and E (never bought: potential)
    assert t("ma_stages_title", lang, customers=2, as_of=D.isoformat(), stage=t("stage_potential", lang),
             count=1) in chart_titles(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_currency_names_money_on_the_churn_and_key_account_pages(app, lang):
    def money(key: str) -> str:
        return t("money_label", lang, label=t(key, lang), currency="EUR")

    at = app("churn", lang=lang, currency="EUR")
    assert at.query_params["currency"] == "EUR"
    assert money("cp_metric_value") in [m.label for m in at.metric]
    assert money("cp_col_value_at_risk") in at.dataframe[0].value.columns
    at = app("key_accounts", lang=lang, currency="EUR")
    assert money("ka_col_revenue_12m") in at.dataframe[0].value.columns
    # the sidebar choice goes to the URL and back to none
    box = next(s for s in at.selectbox if s.label == t("sidebar_currency", lang))
    box.select("CNY").run()
    assert at.query_params["currency"] == "CNY"
    assert t("money_label", lang, label=t("ka_col_revenue_12m", lang), currency="CNY") in at.dataframe[0].value.columns
    box = next(s for s in at.selectbox if s.label == t("sidebar_currency", lang))
    box.select("").run()
    assert "currency" not in at.query_params and t("ka_col_revenue_12m", lang) in at.dataframe[0].value.columns
    # without a currency the labels stay as they were
    at = app("churn", lang=lang)
    assert t("cp_metric_value", lang) in [m.label for m in at.metric] and "currency" not in at.query_params


def test_without_regions_revenue_is_one_group_and_chart_names_are_text(load):
    store, ds = load("customer_id,order_date,amount\nA,2025-01-05,10\nA,2025-03-01,-4\nB,2025-03-02,5\n")
    table = revenue_by_month(store.db, ds, date(2025, 1, 1), date(2025, 3, 31), "region")
    assert list(table.columns) == [None]                          # the page then says there is no region
    assert table[None].tolist() == [10.0, 0.0, 1.0]               # February has no line; March: -4 + 5
    from crmflow.charts.managers import revenue_months

    fig = revenue_months(table, {None: "(no region)"}, "title", "x", "y")
    assert fig.layout.showlegend is False and list(fig.data[0].y) == [10.0, 0.0, 1.0]
    two = pd.DataFrame({"<b>x</b>": [1.0], "![p](http://127.0.0.1/x.png)": [2.0]}, index=[date(2025, 1, 1)])
    fig = revenue_months(two, {}, "title", "x", "y")
    assert [tr.name for tr in fig.data] == ["&lt;b&gt;x&lt;/b&gt;", "![p](http://127.0.0.1/x.png)"]
    assert fig.layout.showlegend is True
