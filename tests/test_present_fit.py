"""Presentation mode in a real headless Chromium (issue 12, item 3): every
slide, in both languages, on a 1440x900 and a 1920x1080 projector and on a
390x844 phone.

Walking the slides with "Next" (and the arrow keys), each slide must

* open at its top: the slide's title is on screen even when the previous
  slide had been scrolled down (the test scrolls to the bottom before Next);
* on a projector, fit the window: the section, title, chart, side panel and
  caption end above the window's bottom edge, with nothing scrolled or
  clipped inside the slide;
* cut nothing: no table cell is narrower than its text (the change column's
  "+78" once showed as "+7") and the page does not scroll sideways, phone
  included.

A screenshot of the window (what the projector shows) is kept for each slide
as tests/artifacts/present_<lang>_<width>x<height>_<nn>.png. The dashboard
server and Chromium are test_e2e_browser's fixtures (one server for this
module, on a fresh demo database).
"""

from __future__ import annotations

import pytest

from crmflow.i18n import t
from crmflow.report import SLIDE_KEYS
from test_e2e_browser import ARTIFACTS, CHROMIUM, TIMEOUT, assert_no_error, browser, server, settle  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]

TOTAL = len(SLIDE_KEYS)
PROJECTORS = ((1440, 900), (1920, 1080))
PHONE = (390, 844)
#: Slack for sub-pixel layout (px).
EPS = 2

#: Where the slide's parts are, and what is cut, in the browser.
MEASURE = """() => {
  const slide = document.querySelector('.st-key-present-slide');
  const main = document.querySelector('[data-testid="stMain"]');
  const title = slide && slide.querySelector('h1');
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right]; };
  const cut = [];
  for (const cell of document.querySelectorAll('.st-key-present-slide [data-testid="stTable"] :is(td, th)')) {
    if (cell.scrollWidth > cell.clientWidth + 1) cut.push(cell.innerText);
  }
  for (const label of document.querySelectorAll('[data-testid="stMain"] button *')) {
    if (label.scrollWidth > label.clientWidth + 1) cut.push(label.innerText);
  }
  const clipped = [];
  for (const e of slide ? slide.querySelectorAll('[data-testid="stVerticalBlock"], [data-testid="stTable"]') : []) {
    const style = getComputedStyle(e);
    if (style.overflowY !== 'visible' && e.scrollHeight > e.clientHeight + 2) clipped.push(e.className);
    if (style.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 2) clipped.push(e.className);
  }
  const parts = slide ? [...slide.querySelectorAll(
      '[data-testid="stCaptionContainer"], h1, [data-testid="stMarkdownContainer"] li, [data-testid="stTable"], '
      + '.js-plotly-plot, [data-testid="stAlert"]')].map(box) : [];
  // the slide's own caption (its last element) comes below its body: nothing runs into it
  const captions = slide ? slide.querySelectorAll(':scope > [data-testid="stElementContainer"] [data-testid="stCaptionContainer"]') : [];
  const body = slide && slide.querySelector('.st-key-present-body');
  const under = captions.length > 1 ? captions[captions.length - 1].getBoundingClientRect().top : Infinity;
  const bodyParts = body ? [...body.querySelectorAll('li, [data-testid="stTable"], .js-plotly-plot')].map(box) : [];
  if (Math.max(0, ...bodyParts.map(p => p[1])) > under + 1) clipped.push('the body runs into the caption');
  return {
    title: title ? title.innerText : null,
    titleBox: title ? box(title) : null,
    bottom: Math.max(0, ...parts.map(p => p[1])),
    right: Math.max(0, ...parts.map(p => p[3])),
    hasChart: !!(slide && slide.querySelector('.js-plotly-plot')),
    mainScroll: main.scrollTop,
    pageWidth: Math.max(document.documentElement.scrollWidth, main.scrollWidth),
    cut, clipped,
  };
}"""


def counter(lang: str, n: int) -> str:
    return t("rep_counter", lang, n=n, total=TOTAL)


def wait_for_slide(page, lang: str, n: int) -> dict:
    """Wait until slide ``n`` is drawn (its counter, the end of the run, its chart) and measure it."""
    page.locator('[data-testid="stMarkdownContainer"]').get_by_text(counter(lang, n), exact=True).wait_for()
    settle(page)
    page.locator(".st-key-present-slide h1").wait_for()
    # element code is loaded on first use: placeholders stand in for buttons, charts and tables until then
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stMain\"] [data-testid^=\"stSkeleton\"]')")
    page.get_by_role("button", name=t("rep_next", lang)).wait_for()
    if page.locator(".st-key-present-slide .stPlotlyChart").count():
        page.locator(".st-key-present-slide .js-plotly-plot .main-svg").first.wait_for()
    # the scroll-to-top script runs again shortly after the slide is drawn; let it and Plotly finish
    page.wait_for_timeout(900)
    assert_no_error(page, f"slide {n} ({lang})")
    return page.evaluate(MEASURE)


def scroll_to_bottom(page) -> None:
    """Scroll down as a reader does (the wheel), then to the very bottom."""
    size = page.viewport_size
    page.mouse.move(size["width"] / 2, size["height"] / 2)
    page.mouse.wheel(0, 5000)
    page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                             m.scrollTop = m.scrollHeight; window.scrollTo(0, document.body.scrollHeight); }""")


def open_tab(browser, width: int, height: int):  # noqa: F811
    profile = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    profile.set_default_timeout(TIMEOUT)
    return profile, profile.new_page()


def walk(server, browser, lang: str, width: int, height: int, projector: bool,  # noqa: F811
         path: str = "/?present=1", slides: int = TOTAL, name: str = "present") -> list[str]:
    """Open slide 1, then press Next to slide ``slides``, checking and saving each."""
    profile, page = open_tab(browser, width, height)
    titles = []
    try:
        query = "dataset=demo" + ("&lang=zh" if lang == "zh" else "")
        page.goto(f"{server.url}{path}{'&' if '?' in path else '?'}{query}", wait_until="domcontentloaded")
        for n in range(1, slides + 1):
            if n > 1:
                scroll_to_bottom(page)  # as a presenter who looked below the slide
                page.get_by_role("button", name=t("rep_next", lang)).click()
            seen = wait_for_slide(page, lang, n)
            where = f"{lang} {width}x{height} slide {n}"
            page.screenshot(path=str(ARTIFACTS / f"{name}_{lang}_{width}x{height}_{n:02d}.png"))
            assert seen["title"], where
            errors = page.locator('.st-key-present-slide [data-testid="stAlertContentError"]')
            assert not errors.count(), f"{where}: the slide failed: {errors.first.inner_text()}"
            # on a phone the slide is taller than the screen; there its title must be on screen (below)
            if projector:
                assert seen["mainScroll"] == 0, f"{where}: opened scrolled down by {seen['mainScroll']} px"
            top, bottom = seen["titleBox"][:2]
            assert 0 <= top and bottom <= height, f"{where}: the title is off screen ({top:.0f}..{bottom:.0f})"
            assert not seen["cut"], f"{where}: table cells cut: {seen['cut']}"
            assert seen["pageWidth"] <= width, f"{where}: the page scrolls sideways ({seen['pageWidth']} px)"
            assert seen["right"] <= width + EPS, f"{where}: content beyond the right edge"
            if projector:
                assert seen["bottom"] <= height + EPS, \
                    f"{where}: the slide needs scrolling (ends at {seen['bottom']:.0f} px of {height})"
                assert not seen["clipped"], f"{where}: part of the slide is clipped: {seen['clipped']}"
            titles.append(seen["title"])
        assert page.get_by_role("button", name=t("rep_next", lang)).is_disabled() == (slides == TOTAL)
    finally:
        profile.close()
    assert len(set(titles)) == slides, "Next did not show a new slide each time"
    return titles


@pytest.fixture(scope="module")
def started(server, browser):  # noqa: F811
    """Run app.py once at the root URL before the walks (see test_e2e_browser.app_ready)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile, page = open_tab(browser, *PROJECTORS[0])
    page.goto(server.url + "/?dataset=demo", wait_until="domcontentloaded")
    settle(page)
    profile.close()
    return server, browser


@pytest.mark.parametrize("size", PROJECTORS, ids=[f"{w}x{h}" for w, h in PROJECTORS])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_slide_fits_the_projector(started, lang, size):
    walk(*started, lang, *size, projector=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_slide_on_a_phone(started, lang):
    walk(*started, lang, *PHONE, projector=False)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_presentation_page_beside_the_sidebar(started, lang):
    """The Presentation page (sidebar shown, before "Full screen"): the first
    slides fit 1440x900 too, nothing cut (the change column, the buttons)."""
    walk(*started, lang, *PROJECTORS[0], projector=True, path="/present", slides=3, name="present_page")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_arrow_keys_move_between_slides(started, lang):
    server, browser = started  # noqa: F811
    profile, page = open_tab(browser, *PROJECTORS[0])
    try:
        query = "present=1&dataset=demo&slide=2" + ("&lang=zh" if lang == "zh" else "")
        page.goto(f"{server.url}/?{query}", wait_until="domcontentloaded")
        second = wait_for_slide(page, lang, 2)["title"]
        page.keyboard.press("ArrowRight")
        third = wait_for_slide(page, lang, 3)["title"]
        page.wait_for_url("**slide=3**")
        page.keyboard.press("ArrowLeft")
        assert wait_for_slide(page, lang, 2)["title"] == second != third
        page.keyboard.press("ArrowLeft")
        wait_for_slide(page, lang, 1)
        page.keyboard.press("ArrowLeft")  # nothing before the first slide
        page.wait_for_timeout(1500)
        settle(page)
        assert page.locator('[data-testid="stMarkdownContainer"]').get_by_text(counter(lang, 1), exact=True).count()
    finally:
        profile.close()
