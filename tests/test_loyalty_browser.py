"""The Overview page (with its loyalty section) and the loyalty slide in a
real Chromium, in English and Chinese at the three screen sizes of
tests/test_polish3_browser.py, with that test's checks (no placeholder or key,
no English on a Chinese screen, title on screen, nothing cut, no sideways
scrolling). A narrow copy of the whole-product check, for this task's screens."""

from __future__ import annotations

import pytest
from test_e2e_browser import CHROMIUM, TIMEOUT, browser, server, wait_for_content  # noqa: F401
from test_polish3_browser import MEASURE, SHOTS, SIZES, _wait_ready, problems_of, started  # noqa: F401
from test_present_fit import wait_for_slide

from crmflow.i18n import t
from crmflow.report import SLIDE_KEYS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_and_loyalty_slide_read_whole(started, lang, size):  # noqa: F811
    server, browser = started  # noqa: F811
    width, height = size
    profile = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    profile.set_default_timeout(TIMEOUT)
    page = profile.new_page()
    problems: list[str] = []
    suffix = "&lang=zh" if lang == "zh" else ""
    try:
        page.goto(f"{server.url}/?dataset=demo{suffix}", wait_until="domcontentloaded")
        wait_for_content(page, "overview", lang)
        _wait_ready(page)
        page.get_by_text(t("loy_heading", lang), exact=True).wait_for()
        seen = page.evaluate(MEASURE, '[data-testid="stHeading"] :is(h1, h2)')
        page.screenshot(path=str(SHOTS / f"loyalty_{lang}_{width}x{height}_overview.png"), full_page=True)
        problems += [f"overview: {p}" for p in problems_of(seen, lang, height, width, t("page_overview", lang))]
        assert t("loy_regularity_chart", lang) in seen["text"]
        page.get_by_text(t("loy_heading", lang), exact=True).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"loyalty_{lang}_{width}x{height}_section.png"))

        n = SLIDE_KEYS.index("loyalty") + 1
        page.goto(f"{server.url}/?present=1&slide={n}&dataset=demo{suffix}", wait_until="domcontentloaded")
        wait_for_slide(page, lang, n)
        seen = page.evaluate(MEASURE, ".st-key-present-slide h1")
        page.screenshot(path=str(SHOTS / f"loyalty_{lang}_{width}x{height}_slide.png"))
        problems += [f"slide {n} (loyalty): {p}" for p in problems_of(seen, lang, height, width, None)]
        assert t("loy_slide_title", lang, all_rate="")[:6] in seen["title"]
    finally:
        profile.close()
    assert not problems, f"{lang} {width}x{height} (screenshots in {SHOTS}):\n" + "\n".join(problems)
