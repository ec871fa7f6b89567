"""crmflow dashboard entry point: the shared frame and the page registry.

Start it with `make run` (or `streamlit run app.py`). Every page is its own
file under pages/, registered here with st.Page; the sidebar (language,
dataset, as-of date, definitions, filters) is drawn once by crmflow.ui.common.frame
and its choices reach the pages through st.session_state. `?present=1` in the
URL switches to presentation mode: no sidebar, large type, one chart per
screen.
"""

import streamlit as st

from crmflow.ui.common import current_query, frame
from crmflow.ui.report import report_buttons

st.set_page_config(page_title="crmflow", page_icon=":material/monitoring:", layout="wide")

#: (file stem under pages/, title key, icon); the first is the default page.
#: Each page's URL is its file stem (Streamlit's default): a browser's first
#: session after the server starts resolves the URL against the pages/ folder
#: before app.py has registered its pages, so any other URL path showed a
#: "Page not found" dialog above the right page (streamlit/streamlit#9992).
PAGES = (
    ("overview", "page_overview", ":material/dashboard:"),
    ("flow", "page_flow", ":material/swap_horiz:"),
    ("churn", "page_churn", ":material/warning:"),
    ("key_accounts", "page_key_accounts", ":material/domain:"),
    ("account", "page_account", ":material/person_search:"),
    ("my_accounts", "page_my_accounts", ":material/badge:"),
    ("segments", "page_segments", ":material/donut_small:"),
    ("servqual", "page_servqual", ":material/reviews:"),
    ("data", "page_data", ":material/database:"),
    ("present", "page_present", ":material/slideshow:"),
)


#: Layout fixes Streamlit has no option for (static CSS, no user text):
#: a card's comparison ("vs 2025-04-01") wraps under its delta instead of being
#: cut; a card's label wraps instead of ending in "…" (Lost (no order > 180 days)
#: on five cards at 1440 px); on a phone the cards sit two to a row (not nine screens of cards before
#: the first chart) and a chart's toolbar, which has no hover there and
#: would cover the chart's title, is hidden.
LAYOUT_CSS = """<style>
div:has(> [data-testid='stMetricDelta']) {flex-wrap: wrap; row-gap: 0.15rem}
[data-testid='stMetricDeltaDescription'], [data-testid='stMetricDeltaDescription'] *,
[data-testid='stMetricLabel'], [data-testid='stMetricLabel'] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important}
@media (max-width: 640px) {
  [data-testid='stHorizontalBlock']:has(> [data-testid='stColumn'] [data-testid='stMetric']) {
    flex-flow: row wrap !important; gap: 0.5rem !important}
  [data-testid='stHorizontalBlock']:has(> [data-testid='stColumn'] [data-testid='stMetric'])
    > [data-testid='stColumn'] {flex: 1 1 calc(50% - 0.5rem) !important; min-width: calc(50% - 0.5rem) !important;
    width: calc(50% - 0.5rem) !important}
  [data-testid='stMetricValue'] {font-size: 1.6rem}
  .js-plotly-plot .modebar-container {display: none}
}
</style>"""

ctx = frame()
st.html(LAYOUT_CSS)
present = st.query_params.get("present") == "1"
goto = st.query_params.get("goto")
if goto:
    del st.query_params["goto"]
pages = {
    stem: st.Page(f"pages/{stem}.py", title=ctx.tr(title), icon=icon, default=index == 0)
    for index, (stem, title, icon) in enumerate(PAGES)
}
if present:
    st.markdown("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
                "header[data-testid='stHeader']{display:none}</style>", unsafe_allow_html=True)
page = st.navigation(list(pages.values()), position="hidden" if present else "sidebar")


# A page reached the old way (see crmflow.ui.common.context) asks for itself with
# `goto`; presentation mode always shows the presentation page.
wanted = pages["present"] if present else pages.get(goto or "")
if wanted is not None and wanted.url_path != page.url_path:
    st.switch_page(wanted, query_params=current_query())
if not present:
    with st.sidebar:
        # one way into the slides: the "Presentation" page above, whose
        # full-screen button starts presentation mode (present=1)
        report_buttons(ctx, key="sidebar-report")
page.run()
