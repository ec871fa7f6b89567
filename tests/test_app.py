"""The dashboard, driven by Streamlit's AppTest (no browser)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow.config import STAGES
from crmflow.i18n import t

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("app") / "crmflow.duckdb"
    return path


def run_app(monkeypatch, db_path, **query):
    monkeypatch.setenv("CRMFLOW_DB", str(db_path))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_shows_the_demo_stage_counts_like_the_cli(monkeypatch, demo_db, lang):
    at = run_app(monkeypatch, demo_db, lang=lang)
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    for stage in STAGES:
        assert t(f"stage_{stage}", lang) in shown
    # the same numbers as the command line on the same stored dataset; the demo's fits are
    # built by the dashboard's background thread, which holds the store until it is done
    from crmflow import background

    assert background.wait(300)
    st.cache_resource.clear()  # closes nothing by itself: the store is released when collected
    gc.collect()
    out = subprocess.run([sys.executable, "-m", "crmflow", "stages", "--dataset", "demo", "--db", str(demo_db)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    counts = json.loads(out.stdout)["counts"]
    for stage in STAGES:
        assert shown[t(f"stage_{stage}", lang)] == f"{counts[stage]:,}"

