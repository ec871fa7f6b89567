"""Presentation mode (pages/present.py), driven by Streamlit's AppTest: one
slide per screen, previous / next, the slide number in the URL, the report
downloads, in both languages and on small datasets. The slide titles shown are
the package's (crmflow.report.build_slides on the same data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crmflow import report
from crmflow.config import Params
from crmflow.demo import generate
from crmflow.i18n import t
from crmflow.stages import data_range
from crmflow.plain import unmd
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
RETURNS = "customer_id,order_date,amount\nR1,2024-03-01,-10\nR2,2024-03-02,-20\n"
TINY = "customer_id,order_date,amount\nX1,2024-02-20,-150\nX1,2024-03-01,100\n"
TOTAL = len(report.SLIDE_KEYS)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The database file and the titles every slide must show (from the package)."""
    folder = tmp_path_factory.mktemp("present")
    db = folder / "crmflow.duckdb"
    plain = folder / "plain.csv"
    generate().transactions[["customer_id", "order_date", "amount"]].to_csv(plain, index=False)
    (folder / "tiny.csv").write_text(TINY, encoding="utf-8")
    (folder / "returns.csv").write_text(RETURNS, encoding="utf-8")
    titles: dict = {}
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("plain", plain)
        store.ingest("tiny", folder / "tiny.csv")
        store.ingest("returns", folder / "returns.csv")
        for name, lang in (("demo", "en"), ("demo", "zh"), ("plain", "en"), ("tiny", "zh")):
            ds = store.get(name).dataset_id
            last = data_range(store.db, ds)[1]
            titles[name, lang] = [s.title for s in report.build_slides(store.db, ds, last, Params(), lang)]
    return db, titles


@pytest.fixture
def app(world, app_factory):
    return app_factory(world[0], defaults={"dataset": "demo", "present": "1"}, errors_ok=True)


def shown_title(at: AppTest) -> str:
    return unmd(at.title[0].value)  # slide text is shown escaped for Markdown


def slide_param(at: AppTest) -> str:
    value = at.query_params["slide"]
    return value[0] if isinstance(value, list) else value


def button(at: AppTest, key: str):
    return at.button(key=key)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_next_and_previous_walk_the_slides(app, world, lang):
    _, titles = world
    expected = titles["demo", lang]
    at = app(lang=lang)
    assert shown_title(at) == expected[0]
    assert any(m.value == t("rep_counter", lang, n=1, total=TOTAL) for m in at.markdown)
    assert button(at, "present:previous").disabled
    button(at, "present:next").click().run()
    assert not at.exception, at.exception
    assert shown_title(at) == expected[1]
    assert slide_param(at) == "2"
    button(at, "present:next").click().run()
    assert shown_title(at) == expected[2] and slide_param(at) == "3"
    button(at, "present:previous").click().run()
    assert shown_title(at) == expected[1] and slide_param(at) == "2"
    assert not at.error, [e.value for e in at.error]
    # large type is fixed CSS; the sidebar is hidden by app.py in presentation mode
    assert any("font-size" in m.value for m in at.markdown)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_slide_number_comes_from_the_url(app, world, lang):
    _, titles = world
    at = app(lang=lang, slide=str(TOTAL))
    assert shown_title(at) == titles["demo", lang][-1]
    assert button(at, "present:next").disabled
    assert not at.error


@pytest.mark.parametrize("wanted, number", [("99", TOTAL), ("0", 1), ("x", 1)])
def test_slide_number_out_of_range_is_kept_in_range(app, world, wanted, number):
    _, titles = world
    at = app(slide=wanted)
    assert shown_title(at) == titles["demo", "en"][number - 1]
    assert slide_param(at) == str(number)


def test_every_slide_of_a_required_columns_only_dataset(app, world):
    _, titles = world
    expected = titles["plain", "en"]
    at = app(dataset="plain")
    for number in range(1, TOTAL + 1):
        assert shown_title(at) == expected[number - 1], number
        assert not at.exception and not at.error, number
        if number < TOTAL:
            button(at, "present:next").click().run()


def test_single_customer_dataset_explains_what_is_missing(app, world):
    _, titles = world
    at = app(dataset="tiny", lang="zh", slide="5")
    assert shown_title(at) == titles["tiny", "zh"][4]
    assert not at.exception


def test_returns_only_dataset_has_no_exception(app):
    at = app(dataset="returns")
    assert not at.exception


def test_report_buttons_prepare_the_downloads(app, monkeypatch):
    # the PowerPoint export is tested in test_report.py; here without Chromium it must say why
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    at = app(slide="2")
    assert not at.get("download_button")
    button(at, "present:report:prepare").click().run()
    assert not at.exception, at.exception
    labels = [d.proto.label for d in at.get("download_button")]
    assert t("rep_download_html", "en") in labels
    assert any("apt-get install chromium" in i.value for i in at.info)


def test_outside_presentation_mode_offers_to_start_it(app):
    at = app(present="0")
    at.switch_page("pages/present.py")
    at.run()
    assert not at.exception, at.exception
    assert button(at, "present:open").label == t("present_open", "en")


def test_one_way_into_the_slides(app):
    """The sidebar lists the "Presentation" page once; no second "Presentation mode" link beside it."""
    at = app(present="0")
    assert not at.exception, at.exception
    links = [e for e in at.sidebar if getattr(e, "type", "") == "page_link"]
    labels = [getattr(getattr(e, "proto", None), "label", "") for e in at.get("page_link")]
    assert t("present_open", "en") not in labels and not links
    assert t("present_open", "en") != t("page_present", "en")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_slide_opens_at_its_top_and_takes_arrow_keys(app, lang):
    """The slide fits the window (CSS) and a script, new for each slide, scrolls
    to the top and maps ← / → to the previous / next buttons."""
    at = app(lang=lang, slide="3")
    scripts = [h.proto.body for h in at.get("html") if "<script>" in h.proto.body]
    assert len(scripts) == 1 and "scrollTop = 0" in scripts[0] and "ArrowRight" in scripts[0]
    assert "slide 3 " in scripts[0]
    assert any(".st-key-present-slide" in m.value and "100dvh" in m.value for m in at.markdown)
    button(at, "present:next").click().run()
    assert any("slide 4 " in h.proto.body for h in at.get("html"))
    # the script clicks these buttons: their keys give the classes it looks for
    assert at.button(key="present:next").label == t("rep_next", lang)
    assert at.button(key="present:previous").label == t("rep_previous", lang)
