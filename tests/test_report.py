"""The meeting report: slides from the package's own numbers, a self-contained
HTML file, a PowerPoint deck, and the `crmflow report` command."""

from __future__ import annotations

import io
import pickle
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmflow import report
from crmflow.analytics import pareto, pareto_headline
from crmflow.churn import churn_warnings
from crmflow.cli import main as cli_main
from crmflow.config import STAGES, Params
from crmflow.errors import CrmflowError
from crmflow.health import account_health
from crmflow.i18n import LANGUAGES, TRANSLATIONS, t
from crmflow.stages import flow, resolve_as_of, stage_counts
from crmflow.store import Store
from crmflow.transitions import default_start, flow_summary

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
EVIL = "<script>alert(1)</script>"
#: Slides that are a table, not a chart (the call list, the key-account list).
TABLE_SLIDES = {"churn", "accounts"}


def required_only_csv(path: Path, customers: int = 60, seed: int = 7) -> Path:
    """customer_id, order_date, amount only: two years of orders of a few dozen customers."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        start = date(2023, 1, 1) + timedelta(days=int(rng.integers(0, 500)))
        for _ in range(int(rng.integers(1, 9))):
            day = start + timedelta(days=int(rng.integers(0, 700)))
            if day <= date(2024, 12, 31):
                rows.append((f"K{c:03d}", day.isoformat(), round(float(rng.gamma(2.0, 80.0)), 2)))
    pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def demo():
    store = Store(in_memory=True)
    ds = store.ensure_demo()
    as_of = resolve_as_of(store.db, ds.dataset_id)
    yield store, ds.dataset_id, as_of
    store.close()


@pytest.fixture(scope="module")
def demo_slides(demo):
    store, dataset_id, as_of = demo
    return {lang: report.build_slides(store.db, dataset_id, as_of, Params(), lang) for lang in LANGUAGES}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Three small stores: required columns only, one customer, only returns."""
    folder = tmp_path_factory.mktemp("report")
    stores = {}
    store = Store(in_memory=True)
    stores["required"] = (store, store.ingest("plain", required_only_csv(folder / "plain.csv")).dataset.dataset_id)
    one = folder / "one.csv"
    one.write_text("customer_id,order_date,amount\nA1,2024-03-01,120.50\nA1,2024-03-09,-20\n", encoding="utf-8")
    store = Store(in_memory=True)
    stores["one"] = (store, store.ingest("one", one).dataset.dataset_id)
    returns = folder / "returns.csv"
    returns.write_text("customer_id,order_date,amount\nB1,2024-03-01,-10\nB2,2024-04-01,0\n", encoding="utf-8")
    store = Store(in_memory=True)
    stores["returns"] = (store, store.ingest("returns", returns).dataset.dataset_id)
    yield stores
    for store, _ in stores.values():
        store.close()


# ----------------------------------------------------------------------------- slides
def test_demo_has_every_slide_in_both_languages(demo_slides):
    for lang, slides in demo_slides.items():
        assert [s.key for s in slides] == list(report.SLIDE_KEYS)
        for s in slides:
            assert not s.failed and s.message is None, (lang, s.key, s.message)
            assert s.title, (lang, s.key)
            assert (s.figure is None) == (s.key in TABLE_SLIDES), (lang, s.key)
            assert s.key not in TABLE_SLIDES or len(s.table) == report.TABLE_ROWS
    assert demo_slides["en"][0].title != demo_slides["zh"][0].title


def test_slide_numbers_are_the_packages_numbers(demo, demo_slides):
    store, dataset_id, as_of = demo
    slides = {s.key: s for s in demo_slides["en"]}
    counts = stage_counts(store.db, dataset_id, as_of)
    kpi = slides["kpis"].table
    assert list(kpi.iloc[:, 1]) == [f"{counts[s]:,}" for s in STAGES]
    top = max(STAGES, key=lambda s: counts[s])
    assert f"{counts[top]:,} of {sum(counts.values()):,}" in slides["kpis"].title
    head = pareto_headline(pareto(store.db, dataset_id, as_of))
    assert f"{head.top20_share:.0%}" in slides["pareto"].title
    start = default_start(report._Inputs(store.db, dataset_id, as_of, Params(), "en").first(), as_of)
    summary = flow_summary(flow(store.db, dataset_id, start, as_of))
    assert f"{summary.gained:,} new customers" in slides["flow"].title
    assert f"{summary.won_back:,} lost customers active again" in slides["flow"].title
    # the call list: the churn command's first rows, by value at risk
    listed = churn_warnings(store.db, dataset_id, as_of).head(report.TABLE_ROWS)
    calls = slides["churn"].table
    assert list(calls.iloc[:, 3]) == [f"{v:,.0f}" for v in listed["value_at_risk"]]
    assert list(calls.iloc[:, 2]) == [str(int(r)) for r in listed["risk_score"]]
    assert f"{len(listed_all := churn_warnings(store.db, dataset_id, as_of)):,} at risk on the call list" \
        in slides["churn"].title and len(listed_all) > report.TABLE_ROWS
    # the key accounts: the weakest health scores of the health command
    health = account_health(store.db, dataset_id, as_of).sort_values(["health_score", "customer_id"])
    assert list(slides["accounts"].table.iloc[:, 2]) == [f"{v:.0f}" for v in health["health_score"].head(10)]


def test_slides_are_picklable_for_the_dashboard_cache(demo_slides):
    copy = pickle.loads(pickle.dumps(demo_slides["en"]))
    assert [s.title for s in copy] == [s.title for s in demo_slides["en"]]
    assert copy[0].figure.layout.title.text == demo_slides["en"][0].figure.layout.title.text


@pytest.mark.parametrize("name", ["required", "one", "returns"])
def test_small_datasets_explain_every_missing_slide(small, name):
    store, dataset_id = small[name]
    as_of = date(2024, 12, 31)
    for lang in LANGUAGES:
        slides = report.build_slides(store.db, dataset_id, as_of, Params(), lang)
        assert [s.key for s in slides] == list(report.SLIDE_KEYS)
        for s in slides:
            assert not s.failed, (name, s.key, s.message)
            assert s.title
            assert s.figure is not None or s.message or s.table is not None, (name, s.key)
    if name == "required":
        assert all(s.figure is not None for s in slides if s.key in ("kpis", "stages", "flow", "pareto"))
    if name == "returns":
        assert all(s.figure is None and s.message for s in slides)


def test_a_failing_slide_never_breaks_the_report(demo, monkeypatch):
    store, dataset_id, as_of = demo

    def broken(inp):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(report._BUILDERS, "pareto", broken)
    slides = report.build_slides(store.db, dataset_id, as_of, keys=("pareto", "kpis"))
    assert slides[0].failed and "ZeroDivisionError: boom" in slides[0].message
    assert not slides[1].failed
    page = report.write_html(slides, report.ReportInfo("demo", as_of))
    assert 'id="slide-pareto"' in page and "boom" in page


def test_unknown_slide_is_an_error(demo):
    store, dataset_id, as_of = demo
    with pytest.raises(CrmflowError):
        report.build_slide(store.db, dataset_id, "nope", as_of)


# ----------------------------------------------------------------------------- HTML
@pytest.fixture(scope="module")
def demo_html(demo, demo_slides):
    store, dataset_id, as_of = demo
    info = report.report_info(store.db, dataset_id, EVIL, as_of, Params(), "en")
    return report.write_html(demo_slides["en"], info)


def test_html_is_one_offline_file_with_every_section(demo_html, demo_slides):
    from plotly.offline import get_plotlyjs

    assert demo_html.startswith("<!DOCTYPE html>")
    assert demo_html.count(get_plotlyjs()) == 1  # plotly.js inline, once
    assert not re.search(r"<script[^>]+src=", demo_html)  # nothing fetched: opens offline
    assert demo_html.count("cdn.plot.ly") == get_plotlyjs().count("cdn.plot.ly")  # only the unused map default
    for s in demo_slides["en"]:
        assert f'id="slide-{s.key}"' in demo_html
        assert (f'id="chart-{s.key}"' in demo_html) == (s.figure is not None)
    assert "@media print" in demo_html


def test_html_title_page_and_numbers(demo, demo_html, demo_slides):
    store, dataset_id, as_of = demo
    assert as_of.isoformat() in demo_html
    # the title page's definitions are the glossary's (polish3: no separate report wording)
    assert "Lost: Last order more than the lost-after days (180) before the as-of date." in demo_html
    assert t("rep_filters_none", "en") in demo_html
    counts = stage_counts(store.db, dataset_id, as_of)
    for stage in STAGES:
        assert f'<td>{t(f"stage_{stage}", "en")}</td><td class="num">{counts[stage]:,}</td>' in demo_html
    for s in demo_slides["en"]:
        assert f"<h2>{report._e(s.title)}</h2>" in demo_html


def test_user_text_is_escaped(demo_html):
    assert EVIL not in demo_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in demo_html


def test_names_from_the_data_are_escaped(tmp_path):
    """A key account whose name is markup shows as text in the HTML report."""
    sales = tmp_path / "sales.csv"
    sales.write_text("customer_id,order_date,amount\n" + "".join(
        f"{c},2024-{m:02d}-10,{100 * (i + 1)}\n" for i, c in enumerate(("K1", "K2", "K3")) for m in range(1, 7)),
        encoding="utf-8")
    people = tmp_path / "customers.csv"
    people.write_text("customer_id,name,is_key_account\n"
                      f'K1,"{EVIL}",true\nK2,"A & B <i>Ltd</i>",true\nK3,Plain,false\n', encoding="utf-8")
    with Store(in_memory=True) as store:
        ds = store.ingest("named", sales, people).dataset.dataset_id
        as_of = date(2024, 6, 30)
        slides = report.build_slides(store.db, ds, as_of)
        page = report.write_html(slides, report.report_info(store.db, ds, "named", as_of))
    accounts = next(s for s in slides if s.key == "accounts")
    assert EVIL in set(accounts.table.iloc[:, 0])
    assert EVIL not in page and "<i>Ltd</i>" not in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "<td>A &amp; B &lt;i&gt;Ltd&lt;/i&gt;</td>" in page


def test_html_in_chinese_with_filters(demo, demo_slides):
    from crmflow.filters import Filters

    store, dataset_id, as_of = demo
    info = report.report_info(store.db, dataset_id, "演示", as_of, Params(), "zh",
                              Filters(regions=("North <b>",), segments=("champions",)))
    page = report.write_html(demo_slides["zh"], info)
    assert '<html lang="zh-CN">' in page and "会议报告" in page
    assert "North &lt;b&gt;" in page and t("segment_champions", "zh") in page


def test_small_dataset_html_explains_missing_slides(small):
    store, dataset_id = small["returns"]
    as_of = date(2024, 12, 31)
    slides = report.build_slides(store.db, dataset_id, as_of)
    page = report.write_html(slides, report.report_info(store.db, dataset_id, "returns", as_of))
    for s in slides:
        assert f'id="slide-{s.key}"' in page
        if s.figure is None:
            assert report._e(s.message) in page


# ----------------------------------------------------------------------------- PowerPoint
@needs_chromium
def test_pptx_has_a_title_slide_and_one_slide_per_chart(demo, demo_slides):
    from pptx import Presentation

    store, dataset_id, as_of = demo
    slides = demo_slides["zh"]
    data = report.write_pptx(slides, report.report_info(store.db, dataset_id, EVIL, as_of, Params(), "zh"))
    deck = Presentation(io.BytesIO(data))
    assert abs(deck.slide_width / deck.slide_height - 16 / 9) < 0.01
    pages = list(deck.slides)
    assert len(pages) == 1 + len(slides)
    first = " ".join(sh.text_frame.text for sh in pages[0].shapes if sh.has_text_frame)
    assert EVIL in first and as_of.isoformat() in first  # plain text in a deck, not markup
    for page, slide in zip(pages[1:], slides):
        texts = [sh.text_frame.text for sh in page.shapes if sh.has_text_frame]
        assert slide.title in texts
        pictures = [sh for sh in page.shapes if sh.shape_type == 13]
        assert len(pictures) == (0 if slide.figure is None else 1), slide.key
        if slide.table is not None:
            assert any(sh.has_table for sh in page.shapes), slide.key
        assert slide.title in page.notes_slide.notes_text_frame.text


def test_pptx_without_chromium_is_a_clear_error(demo_slides, monkeypatch):
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    with pytest.raises(CrmflowError, match="apt-get install chromium"):
        report.write_pptx(demo_slides["en"], report.ReportInfo("demo", date(2025, 6, 30)))


@needs_chromium
def test_figure_png(demo_slides):
    png = report.figure_png(demo_slides["en"][0].figure, 600, 300, scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- the command line
def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_html(tmp_path, capsys):
    data = required_only_csv(tmp_path / "sales.csv")
    out = tmp_path / "meeting.html"
    code, stdout, err = run_cli(capsys, "report", str(data), "--out", str(out), "--as-of", "2024-12-31",
                                "--lang", "zh")
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert "会议报告" in page and "2024-12-31" in page
    assert "meeting.html" in stdout


@needs_chromium
def test_cli_writes_pptx_from_a_stored_dataset(tmp_path, capsys):
    from pptx import Presentation

    db = tmp_path / "c.duckdb"
    with Store(db) as store:
        store.ingest("plain", required_only_csv(tmp_path / "sales.csv"))
    out = tmp_path / "deck.pptx"
    code, _, err = run_cli(capsys, "report", "--dataset", "plain", "--db", str(db), "--out", str(out))
    assert code == 0, err
    assert len(Presentation(str(out)).slides) == 1 + len(report.SLIDE_KEYS)


@pytest.mark.parametrize("case", ["extension", "missing_file", "no_folder", "no_extension"])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    data = required_only_csv(tmp_path / "sales.csv")
    args = {
        "extension": [str(data), "--out", str(tmp_path / "r.pdf")],
        "missing_file": [str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r.html")],
        "no_folder": [str(data), "--out", str(tmp_path / "nowhere" / "r.html")],
        "no_extension": [str(data), "--out", str(tmp_path / "report")],
    }[case]
    code, _, err = run_cli(capsys, "report", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("crmflow: error: "), err
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_cli_pptx_without_chromium(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    code, _, err = run_cli(capsys, "report", str(required_only_csv(tmp_path / "s.csv")), "--out",
                           str(tmp_path / "r.pptx"))
    assert code == 2 and "apt-get install chromium" in err and len(err.strip().splitlines()) == 1


def test_format_for():
    assert report.format_for("a/b.HTML") == "html"
    assert report.format_for("b.htm") == "html"
    assert report.format_for("deck.pptx") == "pptx"
    for bad in ("r.pdf", "report", "r.ppt"):
        with pytest.raises(CrmflowError):
            report.format_for(bad)


# ----------------------------------------------------------------------------- labels
def test_every_label_the_report_uses_exists_in_both_languages():
    text = (ROOT / "crmflow" / "report.py").read_text(encoding="utf-8")
    used = set(re.findall(r"""\btr?\(\s*["']([a-z0-9_]+)["']""", text))
    used |= {f"rep_heading_{k}" for k in report.SLIDE_KEYS}
    used |= {f"seg_bt_verdict_{v}" for v in ("close", "rough", "off", "none")}
    used |= {f"filter_{k}" for k in ("region", "owner", "channel", "segment")}
    assert len(used) > 40
    for lang in LANGUAGES:
        missing = used - set(TRANSLATIONS[lang])
        assert not missing, (lang, sorted(missing))
