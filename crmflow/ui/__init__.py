"""The dashboard's shared page code: the sidebar frame, the cached door into
the package, the table / chart / download helpers (:mod:`crmflow.ui.common`)
and the meeting report's buttons (:mod:`crmflow.ui.report`).

This subpackage, used only by ``app.py`` and ``pages/*.py``, is the one part
of ``crmflow`` (with the launcher ``crmflow.serve``) that imports streamlit;
the command line and the analytics never import it. It lives here, not in
``pages/``, because Streamlit lists every file of ``pages/`` as a page.
"""
