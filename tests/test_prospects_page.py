"""The Prospects tab of the Customer flow page (AppTest, en and zh) against
the command line (`crmflow prospects`), the missing-data note on a dataset
without a customers table, the global filters, and the report slide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crmflow.i18n import t
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
PLAIN = "customer_id,order_date,amount\nA,2024-01-05,10\nA,2024-03-05,12\nB,2024-02-09,7\nC,2024-04-01,9\n"


def cli(db: Path, *args: str) -> tuple[object, str]:
    out = subprocess.run([sys.executable, "-m", "crmflow", *args, "--db", str(db)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout), out.stderr


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prospects")
    db = folder / "crmflow.duckdb"
    (folder / "plain.csv").write_text(PLAIN, encoding="utf-8")
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("plain", folder / "plain.csv")
    expected = {lang: cli(db, "prospects", "--dataset", "demo", "--lang", lang)[0] for lang in ("en", "zh")}
    expected["track"] = cli(db, "prospects", "--dataset", "demo", "--track-record")[0]["track_record"]
    expected["plain_notes"] = cli(db, "prospects", "--dataset", "plain")[1]
    return db, expected


@pytest.fixture
def app(world, app_factory):
    """Open the Customer flow page on its Prospects tab (conftest's AppTest starter)."""
    db, _ = world

    def start(lang: str = "en", **query: str) -> AppTest:
        at = app_factory(db)("flow", **{"dataset": "demo", "lang": lang, **query})
        at.session_state["flow:tab"] = t("pr_tab", lang)
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        return at

    return start


def test_cli_notes_say_what_unlocks_the_leads(world):
    _, expected = world
    assert t("pr_unlock_customers", "en") in expected["plain_notes"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_tab_shows_the_cli_list_and_backtest(app, world, lang):
    _, expected = world
    rows, record = expected[lang], expected["track"]
    at = app(lang)
    assert [tab.label for tab in at.tabs][:2] == [t("pr_tab_flow", lang), t("pr_tab", lang)]
    cards = {m.label: m.value for m in at.metric}
    scored = [r for r in rows if r["probability"] is not None]
    assert cards[t("pr_metric_customers", lang)] == f"{len(scored):,}"
    assert cards[t("pr_metric_expected", lang)] == f"{sum(r['probability'] for r in scored):,.0f}"
    assert cards[t("pr_metric_auc", lang)] == f"{record['auc']:.1%}"
    assert cards[t("pr_metric_caught", lang)] == f"{record['caught']:,} / {record['moved']:,}"
    assert cards[t("pr_metric_stage", lang)] == f"{record['stage_caught']:,.1f}"
    table = next(d.value for d in at.dataframe if t("pr_col_reasons", lang) in d.value.columns)
    assert len(table) == len(rows)
    assert list(table[t("fl_col_customer", lang)].head(20)) == [r["customer_id"] for r in rows[:20]]
    first = table.iloc[0]
    assert first[t("pr_col_probability", lang)] == pytest.approx(rows[0]["probability"], abs=1e-4)
    assert first[t("pr_col_expected_value", lang)] == pytest.approx(rows[0]["expected_value"], abs=1e-2)
    assert first[t("pr_col_reasons", lang)] == "; ".join(rows[0]["reasons"])
    from crmflow.prospects import track_verdict

    assert track_verdict(record, lang) in [m.value for m in at.markdown]
    # the flow tab's content does not run while the prospects tab is open
    assert t("fl_transitions", lang) not in [h.value for h in at.subheader]
    labels = [b.label for b in at.get("download_button")]
    assert t("download_csv", lang) in labels and t("download_excel", lang) in labels


def test_a_dataset_without_customers_says_which_file_unlocks_the_leads(app):
    at = app("zh", dataset="plain")
    infos = [i.value for i in at.info]
    assert t("pr_unlock_customers", "zh") in infos


def test_the_global_filters_apply(app):
    at = app("en", region="North")
    table = next(d.value for d in at.dataframe if t("pr_col_reasons", "en") in d.value.columns)
    assert set(table[t("pr_col_region", "en")].dropna()) == {"North"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_slide_shows_the_top_of_the_list(world, lang):
    from crmflow.headlines import money
    from crmflow.prospects import prospects, track_record, track_verdict
    from crmflow.report import SLIDE_KEYS, build_slide, write_html
    from crmflow.stages import resolve_as_of

    db, _ = world
    assert "prospects" in SLIDE_KEYS
    with Store(db, read_only=True) as store:
        ds = store.get("demo").dataset_id
        as_of = resolve_as_of(store.db, ds)
        slide = build_slide(store.db, ds, "prospects", as_of, lang=lang)
        result = prospects(store.db, ds, as_of, lang=lang)
        verdict = track_verdict(track_record(store.db, ds, as_of), lang)
        plain = build_slide(store.db, store.get("plain").dataset_id, "prospects",
                            resolve_as_of(store.db, store.get("plain").dataset_id), lang=lang)
    frame = result.frame
    assert not slide.failed and slide.message is None
    assert slide.section == t("page_flow", lang)
    assert slide.title == t("pr_slide_title", lang, expected=result.expected_movers(),
                            customers=int(frame["probability"].notna().sum()), days=90,
                            value=money(float(frame["expected_value"].sum()), lang))
    assert len(slide.table) == 10
    assert list(slide.table[t("pr_col_chance_value", lang)]) == [
        f"{p:.0%} · {money(v, lang)}" for p, v in zip(frame["probability"].head(10), frame["expected_value"].head(10))]
    order = ["potential", "first", "repeat"]
    assert slide.figure is not None and [list(b.y) for b in slide.figure.data] == [
        list(frame.groupby("stage").size()[order]),
        [pytest.approx(v) for v in frame.groupby("stage")["probability"].sum()[order]]]
    assert verdict in slide.caption
    # without a customers table the slide says which file unlocks the leads
    assert not plain.failed and t("pr_unlock_customers", lang) in plain.bullets
    assert "slide-prospects" in write_html([slide], _info(lang, as_of))


def _info(lang, as_of):
    from crmflow.report import ReportInfo

    return ReportInfo("demo", as_of, lang=lang)
