"""The Overview and Customer flow pages, driven by Streamlit's AppTest.

One database for the module holds four datasets: the demo data, the demo
transactions reduced to the three required columns (``plain``), a single
customer whose return exceeds their only order (``tiny``: net revenue below
zero) and a file of returns only (``returns``: no order at all). The numbers
the pages show are compared with the command line (``stages``, ``flow``,
``pareto``) and with the package, computed before the app opens the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crmflow.config import STAGES, Params
from crmflow.i18n import t
from crmflow.overview import overview_kpis, years_before
from crmflow.stages import data_range, stage_counts
from crmflow.store import Store
from crmflow.transitions import band_key, default_band, flow_summary

ROOT = Path(__file__).resolve().parent.parent
CUSTOM_FROM = date(2025, 1, 15)
TINY = "customer_id,order_date,amount\nX1,2024-02-20,-150\nX1,2024-03-01,100\n"
RETURNS = "customer_id,order_date,amount\nR1,2024-03-01,-10\nR2,2024-03-02,-20\n"


def cli(db: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "crmflow", *args, "--db", str(db)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout)


def transitions(doc: dict) -> dict[tuple[str, str], int]:
    return {(r["from"], r["to"]): r["customers"] for r in doc["transitions"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The database file and every number the pages must show, from the CLI and
    the package (computed before any app holds the file)."""
    from crmflow.demo import generate

    folder = tmp_path_factory.mktemp("pages")
    db = folder / "crmflow.duckdb"
    plain = folder / "plain.csv"
    generate().transactions[["customer_id", "order_date", "amount"]].to_csv(plain, index=False)
    (folder / "tiny.csv").write_text(TINY, encoding="utf-8")
    (folder / "returns.csv").write_text(RETURNS, encoding="utf-8")
    expected: dict = {}
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("plain", plain)
        store.ingest("tiny", folder / "tiny.csv")
        store.ingest("returns", folder / "returns.csv")
        for name in ("demo", "plain", "tiny"):
            ds = store.get(name).dataset_id
            first, last = data_range(store.db, ds)
            since = last - timedelta(days=90)
            expected[name] = {"first": first, "last": last,
                              "kpis": overview_kpis(store.db, ds, last, since, Params()),
                              "kpis_year": overview_kpis(store.db, ds, last, last - timedelta(days=365), Params())}
    for name in ("demo", "plain", "tiny"):
        e = expected[name]
        e["stages"] = cli(db, "stages", "--dataset", name)["counts"]
        d1 = max(years_before(e["last"], 1), e["first"] - timedelta(days=1))
        e["from"] = d1
        e["flow"] = transitions(cli(db, "flow", "--dataset", name, "--from", d1.isoformat(),
                                    "--to", e["last"].isoformat()))
    expected["demo"]["pareto"] = cli(db, "pareto", "--dataset", "demo")
    expected["demo"]["flow_custom"] = transitions(cli(db, "flow", "--dataset", "demo", "--from",
                                                      CUSTOM_FROM.isoformat(), "--to",
                                                      expected["demo"]["last"].isoformat()))
    expected["tiny"]["pareto"] = cli(db, "pareto", "--dataset", "tiny")
    return db, expected


@pytest.fixture
def app(world, app_factory):
    return app_factory(world[0], defaults={"dataset": "demo"}, timeout=120)


# --------------------------------------------------------------------------- helpers
def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def matrix_counts(at: AppTest, lang: str) -> dict[tuple[str, str], int]:
    """The transition table as {(from, to): customers}, stage keys, totals left out."""
    labels = {t(f"stage_{s}", lang): s for s in ("none",) + STAGES}
    table = at.dataframe[0].value
    total = t("fl_total", lang)
    assert table.loc[total, total] == table.drop(index=total).drop(columns=total).to_numpy().sum()
    return {(labels[f], labels[c]): int(table.loc[f, c]) for f in table.index if f != total
            for c in table.columns if c != total and table.loc[f, c] > 0}


def default_band_of(pairs: dict[tuple[str, str], int]) -> tuple[str, str]:
    return default_band(pd.DataFrame([(f, to, n) for (f, to), n in pairs.items()],
                                     columns=["from_stage", "to_stage", "customers"]))


def drill_table(at: AppTest):
    """The drill-down's customer list: right under the transition table (the first table)."""
    return at.dataframe[1]


def band_box(at: AppTest, lang: str):
    return next(s for s in at.selectbox if s.label == t("fl_band_pick", lang))


def assert_stage_cards(at: AppTest, lang: str, counts: dict[str, int]) -> None:
    shown = metrics(at)
    for stage in STAGES:
        assert shown[t(f"stage_{stage}", lang)] == f"{counts[stage]:,}", stage


# --------------------------------------------------------------------------- Overview
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_shows_the_cli_numbers(app, world, lang):
    _, expected = world
    e = expected["demo"]
    at = app(lang=lang)
    assert_stage_cards(at, lang, e["stages"])
    k = e["kpis"]
    assert k.counts == e["stages"]
    shown = metrics(at)
    assert shown[t("ov_revenue_12m", lang)] == f"{k.revenue_12m:,.0f}"
    assert shown[t("ov_repeat_rate", lang)] == f"{k.repeat.rate:.1%}"
    assert shown[t("ov_won_back_period", lang, days=90)] == f"{k.won_back:,}"
    assert shown[t("ov_lost_period", lang, days=90)] == f"{k.lost:,}"
    # the Pareto headline is the command line's top-20% share
    titles = chart_titles(at)
    assert t("pareto_headline_revenue", lang, share=e["pareto"]["top20_share"]) in titles
    # stages over time, loyalty (shares + regularity), N/t/D (with categories), revenue + profit Pareto, revenue by month
    assert len(titles) == 1 + 2 + 4 + 2 + 1


def test_overview_comparison_choice_comes_from_the_url(app, world):
    _, expected = world
    k = expected["demo"]["kpis_year"]
    at = app(compare="365", period="all")
    shown = metrics(at)
    assert shown[t("ov_won_back_period", "en", days=365)] == f"{k.won_back:,}"
    assert shown[t("ov_lost_period", "en", days=365)] == f"{k.lost:,}"
    assert dict(at.query_params)["compare"] in ("365", ["365"])
    # the stage chart starts at the first month end of the data
    first = expected["demo"]["first"]
    assert any(first.strftime("%Y-%m") in title for title in chart_titles(at))


# --------------------------------------------------------------------------- Customer flow
def test_flow_shows_the_cli_transitions_and_follows_the_date_input(app, world):
    _, expected = world
    e = expected["demo"]
    at = app("flow")
    assert at.query_params["from"] in (e["from"].isoformat(), [e["from"].isoformat()])
    assert matrix_counts(at, "en") == {k: v for k, v in e["flow"].items() if v}
    flow = pd.DataFrame([(f, to, n) for (f, to), n in e["flow"].items()],
                        columns=["from_stage", "to_stage", "customers"])
    s = flow_summary(flow)
    shown = metrics(at)
    assert shown[t("fl_gained", "en")] == f"{s.gained:,}"
    assert shown[t("fl_became_lost", "en")] == f"{s.became_lost:,}"
    assert shown[t("fl_won_back", "en")] == f"{s.won_back:,}"
    title = t("fl_sankey_title", "en", start=e["from"].isoformat(), end=e["last"].isoformat(), gained=s.gained,
              lost=s.became_lost, won_back=s.won_back)
    assert title in chart_titles(at)
    # the drill-down opens on the largest move into lost and lists exactly its customers
    box = band_box(at, "en")
    f, to = default_band(flow)
    assert box.value == band_key(f, to)
    assert len(drill_table(at).value) == e["flow"][(f, to)]
    # another band
    box.set_value("first>repeat").run()
    assert not at.exception, at.exception
    assert len(drill_table(at).value) == e["flow"][("first", "repeat")]
    assert at.query_params["band"] in ("first>repeat", ["first>repeat"])
    # a new start date: the table follows, and the URL keeps it
    at.date_input[0].set_value(CUSTOM_FROM).run()
    assert not at.exception, at.exception
    assert matrix_counts(at, "en") == {k: v for k, v in e["flow_custom"].items() if v}
    assert at.query_params["from"] in (CUSTOM_FROM.isoformat(), [CUSTOM_FROM.isoformat()])


def test_flow_in_chinese_reads_the_start_date_and_band_from_the_url(app, world):
    _, expected = world
    e = expected["demo"]
    at = app("flow", lang="zh", **{"from": CUSTOM_FROM.isoformat(), "band": "loyal>repeat"})
    assert matrix_counts(at, "zh") == {k: v for k, v in e["flow_custom"].items() if v}
    assert band_box(at, "zh").value == "loyal>repeat"
    assert len(drill_table(at).value) == e["flow_custom"][("loyal", "repeat")]
    assert t("fl_conversion", "zh") in [h.value for h in at.subheader]


# --------------------------------------------------------------------------- other data
def test_required_columns_only(app, world):
    _, expected = world
    e = expected["plain"]
    at = app(dataset="plain")
    assert_stage_cards(at, "en", e["stages"])
    assert e["stages"]["potential"] == 0                      # no customers table
    captions = [c.value for c in at.caption]
    assert t("ov_categories_unlock", "en") in captions and t("profit_needs_cost", "en") in captions
    assert len(chart_titles(at)) == 1 + 2 + 3 + 1 + 1         # loyalty; no categories, no profit; revenue by month
    at = app("flow", dataset="plain", lang="zh")
    assert matrix_counts(at, "zh") == {k: v for k, v in e["flow"].items() if v}
    assert len(drill_table(at).value) == e["flow"][default_band_of(e["flow"])]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_single_customer_with_negative_revenue(app, world, lang):
    _, expected = world
    e = expected["tiny"]
    at = app(dataset="tiny", lang=lang)
    assert_stage_cards(at, lang, e["stages"])
    assert e["pareto"]["top20_share"] is None
    assert t("ov_pareto_empty_revenue", lang) in [i.value for i in at.info]
    assert metrics(at)[t("ov_revenue_12m", lang)] == f"{e['kpis'].revenue_12m:,.0f}" == "-50"
    at.switch_page("pages/flow.py")
    at.run()
    assert not at.exception, at.exception
    assert matrix_counts(at, lang) == {k: v for k, v in e["flow"].items() if v} == {("none", "first"): 1}
    assert len(drill_table(at).value) == 1


def test_a_dataset_without_orders_explains_itself(app):
    # the shared frame stops with one line before any page runs (its pages are then not registered,
    # so there is no flow page to switch to)
    at = app(dataset="returns", errors=True)
    assert len(at.error) == 1 and "no orders" in at.error[0].value
    assert not at.metric


def test_overview_with_region_channel_and_segment_filters_shows_the_package_numbers(app, world):
    """The global filters from the URL (region, channel, RFM segment) reach the
    cards through crmflow.filters.resolve: the page shows the stage counts of
    the scope resolve gives for the same filters (segments scored within the
    region and channel scope), and fewer customers than without filters."""
    from crmflow.filters import Filters, customer_attributes, filter_options, resolve

    db, expected = world
    e = expected["demo"]
    with Store(db) as store:
        ds = store.get("demo").dataset_id
        options = filter_options(customer_attributes(store.db, ds))
        region, channel = options["region"][0], options["channel"][0]
        filters = Filters(regions=(region,), channels=(channel,), segments=("champions", "loyal"))
        counts = stage_counts(store.db, resolve(store.db, ds, filters, e["last"]), e["last"], Params())
    assert 0 < sum(counts.values()) < sum(e["stages"].values())
    at = app(region=region, channel=channel, segment=["champions", "loyal"])
    assert_stage_cards(at, "en", counts)
