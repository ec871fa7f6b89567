"""The launcher's head start (crmflow.serve): the store it opens in the
background is handed to the first script run once, with the demo stored; no
head start (a plain ``streamlit run``) or a failed one leaves the script to
open the store itself."""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture
def serve(monkeypatch, tmp_path):
    import crmflow.serve

    monkeypatch.setenv("CRMFLOW_DB", str(tmp_path / "store.duckdb"))
    module = importlib.reload(crmflow.serve)  # fresh module state for each test
    yield module
    importlib.reload(crmflow.serve)


def test_without_a_head_start_the_script_opens_the_store(serve):
    assert serve.take_store() is None


def test_the_head_start_hands_over_one_store_with_the_demo(serve, tmp_path):
    serve.start_head_start()
    serve.start_head_start()  # once only
    store = serve.take_store()
    try:
        assert store is not None and store.db.path == str(tmp_path / "store.duckdb")
        assert "demo" in store.names()
        assert serve.take_store() is None  # handed over once
    finally:
        store.close()


def test_a_failed_head_start_leaves_the_store_to_the_script(serve, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    import crmflow.store

    monkeypatch.setattr(crmflow.store, "Store", broken)
    serve.start_head_start()
    assert serve.take_store() is None
    assert "head start failed" in caplog.text
