"""crmflow dashboard entry point: the shared frame and the page registry.

Start it with `make run` (or `streamlit run app.py`). Every page is its own
file under pages/, registered here with st.Page; the sidebar (language,
dataset, as-of date, definitions, filters) is drawn once by pages.common.frame
and its choices reach the pages through st.session_state. `?present=1` in the
URL switches to presentation mode: no sidebar, large type, one chart per
screen.
"""

import streamlit as st

from pages.common import frame

st.set_page_config(page_title="crmflow", page_icon="📈", layout="wide")

ctx = frame()
present = st.query_params.get("present") == "1"
pages = [
    st.Page("pages/overview.py", title=ctx.tr("page_overview"), icon="📊", default=not present),
    st.Page("pages/flow.py", title=ctx.tr("page_flow"), icon="🔀", url_path="flow"),
    st.Page("pages/churn.py", title=ctx.tr("page_churn"), icon="🚨", url_path="churn"),
    st.Page("pages/key_accounts.py", title=ctx.tr("page_key_accounts"), icon="🏢", url_path="key-accounts"),
    st.Page("pages/account.py", title=ctx.tr("page_account"), icon="🔎", url_path="account"),
    st.Page("pages/segments.py", title=ctx.tr("page_segments"), icon="🧩", url_path="segments"),
    st.Page("pages/data.py", title=ctx.tr("page_data"), icon="🗂️", url_path="data"),
    st.Page("pages/present.py", title=ctx.tr("page_present"), icon="🖥️", url_path="present", default=present),
]
if present:
    st.markdown("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
                "header[data-testid='stHeader']{display:none}</style>", unsafe_allow_html=True)
page = st.navigation(pages, position="hidden" if present else "sidebar")
if not present:
    with st.sidebar:
        shared = {k: st.query_params.get_all(k) for k in st.query_params}
        st.page_link(pages[-1], label=ctx.tr("present_open"), icon="🖥️",
                     query_params={**{k: v if len(v) > 1 else v[0] for k, v in shared.items()}, "present": "1"})
page.run()
