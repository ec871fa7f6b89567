"""Shared fixtures: tiny datasets written as files and ingested in memory."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crmflow.store import Store  # noqa: E402

DATA = Path(__file__).parent / "data"
CDNOW_MASTER = DATA / "cdnow" / "CDNOW_master.txt"
CDNOW_SAMPLE = DATA / "cdnow" / "CDNOW_sample.txt"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
    return path


@pytest.fixture
def load(tmp_path):
    """load(transactions_csv, customers_csv=None, interactions_csv=None) -> (store, dataset_id)."""
    stores = []

    def _load(transactions: str, customers: str | None = None, interactions: str | None = None, **kw):
        store = Store(in_memory=True)
        stores.append(store)
        t = write(tmp_path, "t.csv", transactions)
        c = write(tmp_path, "c.csv", customers) if customers else None
        i = write(tmp_path, "i.csv", interactions) if interactions else None
        result = store.ingest("fixture", t, c, i, **kw)
        return store, result.dataset.dataset_id

    yield _load
    for s in stores:
        s.close()


def start_app(monkeypatch, db: Path, *, defaults: dict[str, str] | None = None, errors_ok: bool = False,
              timeout: int = 180):
    """A function that opens the dashboard on the store ``db`` with AppTest.

    ``start(page, errors=errors_ok, **query)`` sets the URL's query parameters (``defaults``
    first), runs app.py, switches to ``pages/<page>.py`` unless page is None or "overview" (the
    default page), and fails on an exception, and on an error box unless ``errors`` is true.
    Caches are cleared first: a store of another test module's database may be cached.
    """
    import gc

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from crmflow.config import DEFAULT_DATASET_ENV_VAR

    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.delenv(DEFAULT_DATASET_ENV_VAR, raising=False)
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()

    def start(page: str | None = "overview", errors: bool = errors_ok, **query: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        for k, v in {**(defaults or {}), **query}.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, at.exception
        if page not in (None, "overview"):
            at.switch_page(f"pages/{page}.py")
            at.run()
            assert not at.exception, at.exception
        assert errors or not at.error, [e.value for e in at.error]
        return at

    return start


@pytest.fixture
def app_factory(monkeypatch):
    """``app_factory(db, **options)`` -> :func:`start_app`'s ``start``; caches are cleared after the test."""
    yield lambda db, **options: start_app(monkeypatch, db, **options)
    import gc

    import streamlit as st

    st.cache_resource.clear()
    gc.collect()
