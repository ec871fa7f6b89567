"""crmflow dashboard entry point: the shared frame and the page registry.

Start it with `make run` (or `streamlit run app.py`). Every page is registered
here with st.Page; the sidebar (dataset, as-of date, definitions, language)
is drawn once and its choices are handed to the pages via st.session_state.
"""

import streamlit as st

from pages.common import frame

st.set_page_config(page_title="crmflow", page_icon="📈", layout="wide")

ctx = frame()
pages = [
    st.Page("pages/overview.py", title=ctx.tr("page_overview"), icon="📊", default=True),
]
st.navigation(pages).run()
