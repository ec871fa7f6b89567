"""Start the dashboard: ``python -m crmflow.serve [streamlit options]`` (what
``make run`` does) is ``streamlit run app.py`` with a head start.

Streamlit runs ``app.py`` only when a browser connects, so a plain start makes
the first page wait for the imports (pandas, Plotly, the package), for the
store to open and, on a new database, for the demo data to be generated and
stored. Here a background thread does that work while the server starts and
the browser loads the page's scripts; the first script run then finds the
modules imported and takes the opened store (:func:`take_store`, called by
``crmflow.ui.common.get_store``). If the head start fails, nothing is lost: the
script opens the store itself and reports any problem as usual.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
_log = logging.getLogger(__name__)
_done = threading.Event()
_started = False
_store: Store | None = None
#: The script waits at most this long for the head start before opening the store itself.
WAIT_SECONDS = 60.0


def _wait_for_the_server(timeout: float = 10.0) -> None:
    """Let the server boot first (its health check answers sooner): the head
    start then overlaps the seconds the browser spends loading the page."""
    import time

    from streamlit.runtime import Runtime, RuntimeState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Runtime.exists() and Runtime.instance().state not in (RuntimeState.INITIAL,):
            return
        time.sleep(0.02)


def _head_start(wait_for_the_server: bool) -> None:
    global _store
    try:
        if wait_for_the_server:
            _wait_for_the_server()
        import pandas  # noqa: F401  (the imports are the point: the script will find them loaded)
        import plotly.graph_objects  # noqa: F401

        import crmflow.analytics  # noqa: F401
        import crmflow.charts.overview  # noqa: F401
        import crmflow.overview  # noqa: F401
        from crmflow import writer
        from crmflow.store import Store

        writer.keep_warm()
        store = Store(shared=True)
        store.ensure_demo(background=True)
        _store = store
    except Exception:  # the script opens the store itself and shows the error there
        _log.warning("crmflow: head start failed; the dashboard opens the store on first use", exc_info=True)
    finally:
        _done.set()


def start_head_start(wait_for_the_server: bool = False) -> None:
    """Begin the background work (once); with ``wait_for_the_server``, after
    Streamlit's runtime has started (so that the imports here do not slow its start)."""
    global _started
    if not _started:
        _started = True
        threading.Thread(target=_head_start, args=(wait_for_the_server,), name="crmflow-head-start",
                         daemon=True).start()


def take_store() -> Store | None:
    """The store the head start opened (once; None without a head start or
    when it failed), after waiting for it to finish."""
    global _store
    if not _started:
        return None
    _done.wait(WAIT_SECONDS)
    store, _store = _store, None
    return store


def no_external_ip_lookup() -> None:
    """Streamlit looks up the machine's external IP on the internet
    (checkip.amazonaws.com) to print an "External URL" and when it checks the
    origin of a WebSocket from another site; it has no option to turn that
    off. Customer data and the user's address stay on the machine: the lookup
    answers "unknown" (None), which Streamlit treats as a failed lookup."""
    from streamlit import net_util

    net_util.get_external_ip = lambda: None


def _install_cleanup() -> None:
    """Upload folders: at start those older than a day (left by a server that
    crashed; :func:`crmflow.upload.sweep`'s rule), at exit the ones this
    server made (never another running server's)."""
    import atexit

    from crmflow import upload

    upload.sweep()
    atexit.register(upload.sweep, max_age_hours=None, mine_only=True)


def no_pages_folder_navigation() -> None:
    """Streamlit runs the first session of a process with its old navigation
    of the ``pages/`` folder until a script has called ``st.navigation`` (a
    class-wide flag, ``PagesManager.uses_pages_directory``). So the first
    person to open a page by its address (``/key-accounts``) after a start
    saw Streamlit's "Page not found" dialog above the right page
    (streamlit/streamlit#8860, #9992): that navigation names the page
    ``key_accounts``. app.py always navigates with ``st.navigation``, so the
    flag is cleared here as ``st.navigation`` clears it, before the first
    session (if a later Streamlit drops the flag, nothing changes)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if hasattr(PagesManager, "uses_pages_directory"):
        PagesManager.uses_pages_directory = False


def main(argv: list[str] | None = None) -> int:
    from streamlit.web import cli

    from crmflow import auth

    warning = auth.users_file_warning()
    if warning:
        print(warning, file=sys.stderr)
    no_external_ip_lookup()
    no_pages_folder_navigation()
    _install_cleanup()
    start_head_start(wait_for_the_server=True)
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    # run the copy that crmflow.ui.common imports (as crmflow.serve), not this __main__ one
    from crmflow import serve

    sys.exit(serve.main())
