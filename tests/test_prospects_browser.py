"""The Prospects tab and its report slide in a real headless Chromium, with the
checks of tests/test_polish3_browser.py (no cut text, no placeholder or
translation key, no English on a Chinese screen, the title on screen, no
sideways scrolling), in English and Chinese at 1440x900, 1920x1080 and 390x844."""

from __future__ import annotations

import pytest

from crmflow.i18n import t
from crmflow.report import SLIDE_KEYS
from test_e2e_browser import CHROMIUM, TIMEOUT, browser, server, wait_for_content  # noqa: F401
from test_polish3_browser import MEASURE, SHOTS, SIZES, _wait_ready, problems_of
from test_present_fit import wait_for_slide

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]

SLIDE = SLIDE_KEYS.index("prospects") + 1


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_prospects_tab_and_slide_read_whole(server, browser, lang, size):  # noqa: F811
    width, height = size
    SHOTS.mkdir(parents=True, exist_ok=True)
    profile = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    profile.set_default_timeout(TIMEOUT)
    page = profile.new_page()
    problems: list[str] = []
    query = "dataset=demo" + ("&lang=zh" if lang == "zh" else "")
    try:
        page.goto(f"{server.url}/flow?{query}", wait_until="domcontentloaded")
        wait_for_content(page, "flow", lang)
        page.get_by_role("tab", name=t("pr_tab", lang)).click()
        page.locator('[data-testid="stHeading"]').filter(has_text=t("pr_track", lang)).first.wait_for()
        _wait_ready(page)
        page.locator('[data-testid="stMain"]').evaluate("m => m.scrollTo(0, 0)")
        seen = page.evaluate(MEASURE, '[data-testid="stHeading"] :is(h1, h2)')
        page.screenshot(path=str(SHOTS / f"{lang}_{width}x{height}_flow_prospects.png"), full_page=True)
        assert t("pr_list", lang) in seen["text"]
        problems += [f"prospects tab: {p}" for p in problems_of(seen, lang, height, width, t("page_flow", lang))]

        page.goto(f"{server.url}/?present=1&slide={SLIDE}&{query}", wait_until="domcontentloaded")
        wait_for_slide(page, lang, SLIDE)
        seen = page.evaluate(MEASURE, ".st-key-present-slide h1")
        page.screenshot(path=str(SHOTS / f"{lang}_{width}x{height}_slide_prospects.png"))
        assert t("rep_heading_prospects", lang) in seen["text"] or t("page_flow", lang) in seen["text"]
        problems += [f"slide {SLIDE} (prospects): {p}" for p in problems_of(seen, lang, height, width, None)]
    finally:
        profile.close()
    assert not problems, f"{lang} {width}x{height} (screenshots in {SHOTS}):\n" + "\n".join(problems)
