"""The meeting report's buttons, shared by the Presentation page and the
sidebar of every page (app.py): build the report for the user's current view
and offer its HTML file and PowerPoint deck.

crmflow.report (and the plotting and model code behind it) is imported where
a report or a slide is built, not here: app.py imports this module on every
page, and the first page of a freshly started dashboard should not wait for
code it does not run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from crmflow.errors import CrmflowError
from crmflow.ui.common import Context, digest

if TYPE_CHECKING:
    from crmflow.report import ReportInfo, Slide


def report_info(ctx: Context) -> ReportInfo:
    """The report's title page for the user's current choices."""
    from crmflow.report import ReportInfo

    return ReportInfo(ctx.dataset.name, ctx.as_of, ctx.params, ctx.lang, ctx.filters, ctx.first, ctx.last)


def get_slide(ctx: Context, key: str) -> Slide:
    return ctx.call("crmflow.report.build_slide", key, ctx.as_of, ctx.params, ctx.lang)


def report_state(ctx: Context) -> str:
    """What the prepared files depend on: a change of any (a renamed dataset
    too: its name is in the file name and on the title page) prepares them again."""
    return digest(ctx.version, ctx.dataset.name, ctx.scope, ctx.as_of, ctx.params, ctx.lang, ctx.filters)


def report_buttons(ctx: Context, key: str = "report") -> None:
    """The meeting report for the user's current view: a "Prepare the report"
    button that builds it (with a spinner), then download buttons for the
    HTML file and the PowerPoint deck. ``key`` keeps two copies on one
    screen apart (e.g. in the sidebar and on a page)."""
    state = report_state(ctx)
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
                pptx, problem = None, exc.localized(ctx.lang)
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
