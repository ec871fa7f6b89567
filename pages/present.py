"""Presentation mode (SPEC §3 "Meeting use"): one slide of the meeting report
per screen, in large type, with previous / next buttons (no keyboard needed),
the slide number in the URL (``?slide=N``), a link back to the normal view and
the report downloads. ``?present=1`` makes app.py hide the sidebar and open
this page.

Layout only: the slides come from :func:`crmflow.report.build_slide` through
ctx.call (one slide at a time, cached), the files from the report writers.

The report's buttons (also in the sidebar of every page) are
:func:`crmflow.ui.report.report_buttons`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from crmflow.errors import CrmflowError
from crmflow.ui.common import Context, context, current_query, show_chart
from crmflow.ui.report import get_slide, report_buttons

if TYPE_CHECKING:
    from crmflow.report import Slide

# crmflow.report (and the plotting and model code behind it) is imported where
# a slide is built, so opening this page starts at once.

#: Large type for a projector (fixed CSS only, no user text). The slide
#: (.st-key-present-slide) is a flex column as tall as the window below the
#: top bar; its body (chart beside bullets / table) takes what the section,
#: title and caption leave, and the chart (height="stretch") fills it, so a
#: slide fits 1440x900 and 1920x1080 without scrolling. Type grows with the
#: window (vw / vh), within rem bounds.
PRESENT_CSS = """<style>
.block-container { max-width: 1800px; }
.block-container h1 { font-size: clamp(1.5rem, min(2.3vw, 4.2vh), 3rem); line-height: 1.25; padding: 0 0 0.3rem; }
.block-container [data-testid="stMarkdownContainer"] p,
.block-container [data-testid="stMarkdownContainer"] li { font-size: clamp(1rem, min(1.25vw, 2.3vh), 1.6rem); }
.block-container [data-testid="stMarkdownContainer"] li { margin-bottom: 0.2rem; }
.block-container [data-testid="stCaptionContainer"] p { font-size: clamp(0.85rem, min(1vw, 1.9vh), 1.25rem); }
.block-container [data-testid="stTable"] th,
.block-container [data-testid="stTable"] td { font-size: clamp(0.85rem, min(1.05vw, 1.9vh), 1.35rem);
  padding: 0.2rem 0.45rem; max-width: none; }
.block-container [data-testid="stTable"] td * { max-width: none; }
.st-key-present-side [data-testid="stTable"] td, .st-key-present-side [data-testid="stTable"] td * {
  white-space: nowrap; }
.block-container [data-testid="stTable"] th { white-space: normal; }
.block-container [data-testid="stBaseButton-secondary"] p,
.block-container [data-testid="stBaseButton-primary"] p { font-size: 1.15rem; }
.st-key-present-slide { gap: 0.4rem; }
[data-testid="stMain"] { overflow-anchor: none; }
.st-key-present-body [data-testid="stVerticalBlock"] { gap: 0.5rem; }
@media (min-width: 640px) {
  [data-testid="stLayoutWrapper"]:has(> .st-key-present-slide) { flex: 0 0 auto;
    height: calc(100dvh - var(--present-above, 13rem));
    min-height: 24rem; }
  .st-key-present-slide { height: 100%; }
  .st-key-present-slide > * { flex-shrink: 0; }
  [data-testid="stLayoutWrapper"]:has(> .st-key-present-body) { flex: 1 1 0; min-height: 12rem; }
  .st-key-present-body, .st-key-present-chart { height: 100%; }
  .st-key-present-body [data-testid="stLayoutWrapper"]:has(> [data-testid="stHorizontalBlock"]),
  .st-key-present-body [data-testid="stLayoutWrapper"]:has(> .st-key-present-chart),
  .st-key-present-body [data-testid="stHorizontalBlock"] { height: 100%; }
}
</style>"""
#: In presentation mode (no header, no sidebar) the page starts at the top of the window.
PRESENT_MODE_CSS = """<style>
.block-container { padding-top: 0; padding-bottom: 1rem; --present-above: 8rem; }
</style>"""
#: Height of a chart on a narrow screen (phone), where the slide scrolls (px).
PHONE_CHART_HEIGHT = 340

#: Opens each slide at its top (Streamlit keeps the scroll position across
#: reruns) and lets the arrow keys move between slides, by clicking the
#: previous / next buttons. Fixed code, no user text; the slide number makes
#: it a new element, so it runs again on every slide.
PRESENT_JS = """<script>
(() => {
  const top = () => {
    for (const id of ["stMain", "stAppViewContainer"]) {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (el) el.scrollTop = 0;
    }
    window.scrollTo(0, 0);
  };
  // again while the slide's chart and table are drawn (they arrive after this script), until the
  // reader scrolls or presses a key themselves
  top();
  const until = Date.now() + 2500;
  const timer = setInterval(() => (Date.now() > until ? stop() : top()), 100);
  const stop = () => {
    clearInterval(timer);
    for (const name of ["wheel", "touchstart", "keydown", "mousedown"]) window.removeEventListener(name, stop, true);
  };
  for (const name of ["wheel", "touchstart", "keydown", "mousedown"]) window.addEventListener(name, stop, true);
  if (window.crmflowSlideKeys) return;
  window.crmflowSlideKeys = true;
  document.addEventListener("keydown", (event) => {
    const which = {ArrowRight: "next", ArrowLeft: "previous"}[event.key];
    if (!which || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const button = document.querySelector(`.st-key-present-${which} button`);
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
})();
</script>
<!-- slide %d -->"""


def _slide_number(total: int) -> int:
    """The slide in the URL (1-based), kept within 1..total."""
    try:
        wanted = int(st.query_params.get("slide", "1"))
    except ValueError:
        wanted = 1
    return min(max(wanted, 1), total)


def _go(number: int) -> None:
    st.query_params["slide"] = str(number)


def _png_button(ctx: Context, slide: Slide) -> None:
    """Server-side PNG of the chart (the chart toolbar's camera icon does it in the browser too)."""
    if slide.figure is None:
        return
    name = f"present:png:{slide.key}"
    if st.session_state.get(name, (None,))[0] != (slide.title, ctx.version):
        if not st.button(ctx.tr("rep_png_prepare"), key=f"{name}:prepare", icon=":material/image:"):
            return
        from crmflow.report import PROJECTOR_FONT, figure_png, report_figure

        try:
            with st.spinner(ctx.tr("loading")):
                png = figure_png(report_figure(slide.figure, font_size=PROJECTOR_FONT), 1400, 700)
        except CrmflowError as exc:
            st.info(exc.localized(ctx.lang))
            return
        st.session_state[name] = ((slide.title, ctx.version), png)
    st.download_button(ctx.tr("rep_png_download"), st.session_state[name][1],
                       f"crmflow-{slide.key}-{ctx.as_of}.png", "image/png", key=f"{name}:download",
                       on_click="ignore", icon=":material/download:")


def _slide_body(ctx: Context, slide: Slide) -> None:
    """The slide below its title: the chart beside the bullets and table (or
    whichever of them it has), then the caption."""
    from crmflow.plain import md, md_paragraphs
    from crmflow.report import PROJECTOR_FONT, report_figure

    has_side = bool(slide.bullets) or (slide.table is not None and len(slide.table) > 0)
    with st.container(key="present-body"):
        if slide.figure is not None and has_side:
            left, right = st.columns([2, 1], gap="medium")
        elif slide.figure is not None:
            left, right = st.container(key="present-chart"), None
        else:
            left, right = None, st.container()
        if left is not None:
            with left:
                # theme=None keeps the chart's own (projector-sized) type; the
                # height is the room the slide leaves (PRESENT_CSS)
                figure = report_figure(slide.figure, height=PHONE_CHART_HEIGHT, font_size=PROJECTOR_FONT)
                show_chart(ctx, figure, f"present-{slide.key}", theme=None, height="stretch")
        if right is not None:
            # beside a chart the table's cells keep to one line (short numbers); alone it has the width
            with right, st.container(key="present-side" if left is not None else "present-text"):
                if slide.bullets:
                    st.markdown("\n".join(f"- {md(b)}" for b in slide.bullets))
                if slide.table is not None and len(slide.table):
                    # a static table (styled by PRESENT_CSS); names from the data are escaped for Markdown
                    st.table(slide.table.map(md).rename(columns=md), hide_index=True)
    if slide.caption:
        st.caption(md_paragraphs(slide.caption))


def main() -> None:
    from crmflow.plain import md, md_paragraphs
    from crmflow.report import SLIDE_KEYS

    ctx = context()  # also handles a direct link on a freshly started server
    present = st.query_params.get("present") == "1"
    st.markdown(PRESENT_CSS + (PRESENT_MODE_CSS if present else ""), unsafe_allow_html=True)
    total = len(SLIDE_KEYS)
    number = _slide_number(total)
    if st.query_params.get("slide") != str(number):
        _go(number)

    # the top bar: where the slides come from, previous / n of total / next
    # (always in the same place, PageUp / PageDown / arrow keys too), and the
    # way out of (or into) full-screen presentation mode
    top = st.columns([4, 2.6, 1, 2.6, 2.6], vertical_alignment="center")
    top[0].caption(ctx.tr("rep_present_caption", dataset=md(ctx.dataset.name), as_of=ctx.as_of.isoformat()))
    # PageUp / PageDown are what presentation clickers send; the buttons work without a keyboard.
    top[1].button(ctx.tr("rep_previous"), key="present:previous", disabled=number <= 1, on_click=_go,
                  args=(number - 1,), width="stretch", shortcut="PageUp")
    top[2].markdown(ctx.tr("rep_counter", n=number, total=total), text_alignment="center")
    top[3].button(ctx.tr("rep_next"), key="present:next", disabled=number >= total, on_click=_go,
                  args=(number + 1,), width="stretch", type="primary", shortcut="PageDown")
    if present:
        top[4].page_link("pages/overview.py", label=ctx.tr("present_exit"), icon=":material/close:",
                         query_params=current_query(drop=("present", "slide")))
    elif top[4].button(ctx.tr("present_open"), key="present:open", icon=":material/fullscreen:",
                       help=ctx.tr("present_open_help")):
        # app.py hides the sidebar and makes this page the main one when present=1
        st.switch_page("pages/present.py", query_params={**current_query(drop=("present", "slide")), "present": "1",
                                                         "slide": str(number)})

    with st.spinner(ctx.tr("loading")):
        slide = get_slide(ctx, SLIDE_KEYS[number - 1])
    with st.container(key="present-slide"):
        # a slide's text is plain text (the HTML report escapes it too): shown as text here
        st.caption(md(slide.section))
        st.title(md(slide.title), anchor=False)
        if slide.message:
            (st.error if slide.failed else st.info)(md_paragraphs(slide.message))
        _slide_body(ctx, slide)

    st.divider()
    bottom = st.columns(3)
    with bottom[0]:
        report_buttons(ctx, "present:report")
    with bottom[1]:
        _png_button(ctx, slide)
    # last, so that it runs once the slide is there (a slide can take seconds to compute)
    st.html(PRESENT_JS % number, unsafe_allow_javascript=True)


if __name__ == "__main__":
    main()
