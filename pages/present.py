"""Presentation mode (SPEC §3 "Meeting use"): one slide of the meeting report
per screen, in large type, with previous / next buttons (no keyboard needed),
the slide number in the URL (``?slide=N``), a link back to the normal view and
the report downloads. ``?present=1`` makes app.py hide the sidebar and open
this page.

Layout only: the slides come from :func:`crmflow.report.build_slide` through
ctx.call (one slide at a time, cached), the files from the report writers.

Other pages can offer the report downloads too::

    from pages.present import report_buttons
    report_buttons(ctx, key="overview-report")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from crmflow.errors import CrmflowError
from pages.common import Context, context, current_query, digest, show_chart

if TYPE_CHECKING:
    from crmflow.report import ReportInfo, Slide

# crmflow.report (and the plotting and model code behind it) is imported where
# a report or a slide is built, not here: app.py imports this module for the
# sidebar's report button on every page, and the first page of a freshly
# started dashboard should not wait for code it does not run.

#: Large type for a projector (fixed CSS only, no user text).
PRESENT_CSS = """<style>
.block-container { padding-top: 1.5rem; max-width: 1600px; }
.block-container h1 { font-size: 2.7rem; line-height: 1.2; }
.block-container [data-testid="stMarkdownContainer"] p,
.block-container [data-testid="stMarkdownContainer"] li { font-size: 1.4rem; }
.block-container [data-testid="stCaptionContainer"] p { font-size: 1.1rem; }
.block-container [data-testid="stTable"] th,
.block-container [data-testid="stTable"] td { font-size: 1.15rem; }
.block-container [data-testid="stBaseButton-secondary"] p,
.block-container [data-testid="stBaseButton-primary"] p { font-size: 1.25rem; }
</style>"""
#: Height of a chart in presentation mode (px).
CHART_HEIGHT = 600


def report_info(ctx: Context) -> ReportInfo:
    """The report's title page for the user's current choices."""
    from crmflow.report import ReportInfo

    return ReportInfo(ctx.dataset.name, ctx.as_of, ctx.params, ctx.lang, ctx.filters, ctx.first, ctx.last)


def get_slide(ctx: Context, key: str) -> Slide:
    return ctx.call("crmflow.report.build_slide", key, ctx.as_of, ctx.params, ctx.lang)


def report_buttons(ctx: Context, key: str = "report") -> None:
    """The meeting report for the user's current view: a "Prepare the report"
    button that builds it (with a spinner), then download buttons for the
    HTML file and the PowerPoint deck. ``key`` keeps two copies on one
    screen apart (e.g. in the sidebar and on a page)."""
    state = digest(ctx.version, ctx.scope, ctx.as_of, ctx.params, ctx.lang, ctx.filters)
    files = st.session_state.get(f"{key}:files")
    if files is None or files[0] != state:
        if not st.button(ctx.tr("rep_prepare"), key=f"{key}:prepare", help=ctx.tr("rep_report_help"),
                         icon=":material/description:"):
            return
        from crmflow.report import SLIDE_KEYS, write_html, write_pptx

        with st.spinner(ctx.tr("loading")):
            slides = [get_slide(ctx, k) for k in SLIDE_KEYS]
            info = report_info(ctx)
            html = write_html(slides, info).encode("utf-8")
            try:
                pptx, problem = write_pptx(slides, info), None
            except CrmflowError as exc:
                pptx, problem = None, exc.line()
        files = (state, info.file_stem(), html, pptx, problem)
        st.session_state[f"{key}:files"] = files
    _, stem, html, pptx, problem = files
    st.download_button(ctx.tr("rep_download_html"), html, f"{stem}.html", "text/html", key=f"{key}:html",
                       on_click="ignore", icon=":material/download:")
    if pptx is not None:
        st.download_button(ctx.tr("rep_download_pptx"), pptx, f"{stem}.pptx",
                           "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                           key=f"{key}:pptx", on_click="ignore", icon=":material/slideshow:")
    else:
        st.info(problem)


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
            st.info(exc.line())
            return
        st.session_state[name] = ((slide.title, ctx.version), png)
    st.download_button(ctx.tr("rep_png_download"), st.session_state[name][1],
                       f"crmflow-{slide.key}-{ctx.as_of}.png", "image/png", key=f"{name}:download",
                       on_click="ignore", icon=":material/download:")


def main() -> None:
    from crmflow.plain import md, md_paragraphs
    from crmflow.report import PROJECTOR_FONT, SLIDE_KEYS, report_figure

    ctx = context()  # also handles a direct link on a freshly started server
    st.markdown(PRESENT_CSS, unsafe_allow_html=True)
    present = st.query_params.get("present") == "1"
    total = len(SLIDE_KEYS)
    number = _slide_number(total)
    if st.query_params.get("slide") != str(number):
        _go(number)

    top = st.columns([6, 2, 2], vertical_alignment="center")
    top[0].caption(ctx.tr("rep_present_caption", dataset=md(ctx.dataset.name), as_of=ctx.as_of.isoformat()))
    if present:
        top[2].page_link("pages/overview.py", label=ctx.tr("present_exit"), icon=":material/close:",
                         query_params=current_query(drop=("present", "slide")))
    elif top[2].button(ctx.tr("present_open"), key="present:open", icon=":material/slideshow:"):
        # app.py hides the sidebar and makes this page the main one when present=1
        st.switch_page("pages/present.py", query_params={**current_query(drop=("present", "slide")), "present": "1",
                                                         "slide": str(number)})

    with st.spinner(ctx.tr("loading")):
        slide = get_slide(ctx, SLIDE_KEYS[number - 1])
    # a slide's text is plain text (the HTML report escapes it too): shown as text here
    st.caption(md(slide.section))
    st.title(md(slide.title), anchor=False)
    if slide.message:
        (st.error if slide.failed else st.info)(md_paragraphs(slide.message))
    if slide.figure is not None:
        if slide.bullets or (slide.table is not None and len(slide.table)):
            left, right = st.columns([3, 1])
        else:
            left, right = st.container(), None
        with left:
            # theme=None keeps the chart's own (projector-sized) type
            show_chart(ctx, report_figure(slide.figure, height=CHART_HEIGHT, font_size=PROJECTOR_FONT),
                       f"present-{slide.key}", theme=None)
        side = right if right is not None else st.container()
    else:
        side = st.container()
    with side:
        if slide.bullets:
            st.markdown("\n".join(f"- {md(b)}" for b in slide.bullets))
        if slide.table is not None and len(slide.table):
            # a static table (styled by PRESENT_CSS); names from the data are escaped for Markdown
            st.table(slide.table.map(md).rename(columns=md), hide_index=True)
    if slide.caption:
        st.caption(md_paragraphs(slide.caption))

    nav = st.columns([2, 3, 2], vertical_alignment="center")
    # PageUp / PageDown are what presentation clickers send; the buttons work without a keyboard.
    nav[0].button(ctx.tr("rep_previous"), key="present:previous", disabled=number <= 1, on_click=_go,
                  args=(number - 1,), width="stretch", shortcut="PageUp")
    nav[1].markdown(ctx.tr("rep_counter", n=number, total=total), text_alignment="center")
    nav[2].button(ctx.tr("rep_next"), key="present:next", disabled=number >= total, on_click=_go,
                  args=(number + 1,), width="stretch", type="primary", shortcut="PageDown")

    st.divider()
    bottom = st.columns(3)
    with bottom[0]:
        report_buttons(ctx, "present:report")
    with bottom[1]:
        _png_button(ctx, slide)


if __name__ == "__main__":
    main()
