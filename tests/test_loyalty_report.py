"""The meeting report's loyalty slide (issue 17 part 3): the measures by stage
at D as its table, the share measures over time as its chart, what unlocks
the missing ones as its bullets, in both languages and both writers."""

from __future__ import annotations

import pytest
from test_loyalty import D, INTERACTIONS, TRANSACTIONS

from crmflow import report
from crmflow.i18n import t


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_slide_by_hand(load, lang):
    store, ds = load(TRANSACTIONS, interactions=INTERACTIONS)
    slide = report.build_slide(store.db, ds, "loyalty", D, lang=lang)
    assert not slide.failed and slide.message is None
    assert slide.section == t("page_overview", lang)
    assert slide.title == t("loy_slide_title", lang, all_rate="60.0%")
    assert slide.bullets == ()
    assert list(slide.table.columns) == [t(k, lang) for k in (
        "loy_col_group_stage", "loy_repeat_rate", "loy_breadth", "loy_interval_cv", "loy_reorder_share",
        "loy_price_sensitivity")]
    names = [t(f"stage_{s}", lang) for s in ("first", "repeat", "loyal", "lost")] + [t("loy_all", lang)]
    assert slide.table.values.tolist() == [
        [names[0], "0.0%", "33.3%", "–", "–", "–"],
        [names[1], "66.7%", "33.3%", "0.33", "50.0%", "50.0%"],
        [names[2], "100.0%", "100.0%", "0.00", "–", "25.0%"],
        [names[3], "–", "33.3%", "–", "–", "–"],
        [names[4], "60.0%", "44.4%", "0.17", "50.0%", "37.5%"],
    ]
    # one line per share measure; the last point of the repeat-purchase rate is D's
    measures = ("repeat_rate", "breadth", "reorder_share", "price_sensitivity")
    assert [tr.name for tr in slide.figure.data] == [t(f"loy_{m}", lang) for m in measures]
    assert slide.figure.data[3].y[-1] == pytest.approx(37.5)
    assert slide.figure.data[0].y[-1] == pytest.approx(60.0)


def test_without_categories_or_interactions_the_slide_says_what_to_upload(load):
    store, ds = load("customer,date,amount\nA,2024-01-01,5\nA,2024-02-01,5\nB,2024-01-10,5\n")
    slide = report.build_slide(store.db, ds, "loyalty", D.replace(month=2, day=28), lang="zh")
    assert slide.title == t("loy_slide_title", "zh", all_rate="50.0%")
    assert slide.bullets == tuple(t(k, "zh") for k in ("loy_unlock_category", "loy_unlock_complaints",
                                                       "loy_unlock_discount"))
    assert t("loy_breadth", "zh") not in slide.table.columns
    assert [tr.name for tr in slide.figure.data] == [t("loy_repeat_rate", "zh")]


def test_the_slide_is_in_both_writers(load, tmp_path):
    store, ds = load(TRANSACTIONS, interactions=INTERACTIONS)
    assert "loyalty" in report.SLIDE_KEYS and report.slide_heading("loyalty", "zh") == "忠诚度指标"
    slides = report.build_slides(store.db, ds, D, keys=("loyalty",))
    info = report.report_info(store.db, ds, "fixture", D)
    page = report.write_html(slides, info)
    assert 'id="slide-loyalty"' in page and t("loy_slide_title", "en", all_rate="60.0%") in page
