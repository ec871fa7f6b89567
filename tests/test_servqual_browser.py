"""Issue 17 part 2: the Service quality page and its report slide read whole in
a real headless Chromium, in English and Chinese, at 1440x900, 1920x1080 and
390x844 — the checks of tests/test_polish3_browser.py (no placeholder, no
translation key, no English on a Chinese screen, the title on screen, no cut
text, no sideways scrolling), for this page and slide only; on a projector the
slide fits the screen (tests/test_present_fit.py's rule)."""

from __future__ import annotations

import pytest

from crmflow.i18n import t
from crmflow.report import SLIDE_KEYS, build_slide
from test_e2e_browser import CHROMIUM, TIMEOUT, browser, server, wait_for_content  # noqa: F401
from test_polish3_browser import MEASURE, SHOTS, SIZES, _wait_ready, problems_of, started  # noqa: F401
from test_present_fit import wait_for_slide

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]

SLIDE = SLIDE_KEYS.index("servqual") + 1


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_servqual_page_and_slide_read_whole(started, lang, size):  # noqa: F811
    server, browser = started  # noqa: F811
    width, height = size
    profile = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    profile.set_default_timeout(TIMEOUT)
    page = profile.new_page()
    problems: list[str] = []
    suffix = "&lang=zh" if lang == "zh" else ""
    try:
        page.goto(f"{server.url}/servqual?dataset=demo{suffix}", wait_until="domcontentloaded")
        wait_for_content(page, "servqual", lang)
        _wait_ready(page)
        seen = page.evaluate(MEASURE, '[data-testid="stHeading"] :is(h1, h2)')
        page.screenshot(path=str(SHOTS / f"{lang}_{width}x{height}_servqual.png"))
        problems += [f"page: {p}" for p in problems_of(seen, lang, height, width, t("page_servqual", lang))]
        # the page is filled: its finding is a chart title
        assert t("sq_unlock", lang) not in seen["text"]

        page.goto(f"{server.url}/?present=1&dataset=demo&slide={SLIDE}{suffix}", wait_until="domcontentloaded")
        fit = wait_for_slide(page, lang, SLIDE)  # test_present_fit's measure of the slide's parts
        if width >= 1024:  # on a projector the slide fits the screen, nothing clipped (test_present_fit's rule)
            if fit["bottom"] > height + 2:
                problems.append(f"slide: needs scrolling (ends at {fit['bottom']:.0f} px of {height})")
            problems += [f"slide: clipped {c}" for c in fit["clipped"]]
        problems += [f"slide: table cell cut {c!r}" for c in fit["cut"]]
        seen = page.evaluate(MEASURE, ".st-key-present-slide h1")
        page.screenshot(path=str(SHOTS / f"{lang}_{width}x{height}_slide_servqual.png"))
        problems += [f"slide: {p}" for p in problems_of(seen, lang, height, width, None)]
        from crmflow.store import Store
        from crmflow.stages import data_range

        with Store(server.db, read_only=True) as store:
            ds = store.get("demo").dataset_id
            title = build_slide(store.db, ds, "servqual", data_range(store.db, ds)[1], lang=lang).title
        assert title in seen["title"], (seen["title"], title)
    finally:
        profile.close()
    assert not problems, f"{lang} {width}x{height} (screenshots in {SHOTS}):\n" + "\n".join(problems)
