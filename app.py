"""crmflow dashboard entry point: the shared frame and the page registry.

Start it with `make run` (or `streamlit run app.py`). Every page is its own
file under pages/, registered here with st.Page; the sidebar (language,
dataset, as-of date, definitions, filters) is drawn once by pages.common.frame
and its choices reach the pages through st.session_state. `?present=1` in the
URL switches to presentation mode: no sidebar, large type, one chart per
screen.
"""

import streamlit as st

from pages.common import current_query, frame

st.set_page_config(page_title="crmflow", page_icon="📈", layout="wide")

#: (file stem under pages/, title key, icon, URL path); the first is the default page.
PAGES = (
    ("overview", "page_overview", "📊", ""),
    ("flow", "page_flow", "🔀", "flow"),
    ("churn", "page_churn", "🚨", "churn"),
    ("key_accounts", "page_key_accounts", "🏢", "key-accounts"),
    ("account", "page_account", "🔎", "account"),
    ("segments", "page_segments", "🧩", "segments"),
    ("data", "page_data", "🗂️", "data"),
    ("present", "page_present", "🖥️", "present"),
)

ctx = frame()
present = st.query_params.get("present") == "1"
goto = st.query_params.get("goto")
if goto:
    del st.query_params["goto"]
pages = {
    stem: st.Page(f"pages/{stem}.py", title=ctx.tr(title), icon=icon, default=not path,
                  **({"url_path": path} if path else {}))
    for stem, title, icon, path in PAGES
}
if present:
    st.markdown("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
                "header[data-testid='stHeader']{display:none}</style>", unsafe_allow_html=True)
page = st.navigation(list(pages.values()), position="hidden" if present else "sidebar")


# A page reached the old way (see pages.common.context) asks for itself with
# `goto`; presentation mode always shows the presentation page.
wanted = pages["present"] if present else pages.get(goto or "")
if wanted is not None and wanted.url_path != page.url_path:
    st.switch_page(wanted, query_params=current_query())
if not present:
    with st.sidebar:
        # one way into the slides: the "Presentation" page above, whose
        # full-screen button starts presentation mode (present=1)
        from pages.present import report_buttons

        report_buttons(ctx, key="sidebar-report")
page.run()
