"""Smoke test of the benchmark (bench/): it runs end to end at a tiny size and
its pandas baseline computes the same numbers as crmflow, so the speed
comparison in bench/RESULTS.md stays honest. No timing is asserted."""

from __future__ import annotations

import json
from datetime import date, timedelta
import shutil

import pytest

from bench import generate, run
from bench.check import compare
from bench.views import VIEWS, crmflow_components, pandas_components


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate.ensure("tiny", tmp_path_factory.mktemp("bench-data"), log=lambda msg: None)


def test_generated_data_are_deterministic_and_realistic(tiny, tmp_path):
    meta = json.loads(tiny.meta.read_text())
    assert meta["counts"]["transactions"] == generate.SIZES["tiny"]
    assert meta["rows_rejected"] == 0
    again = generate.ensure("tiny", tmp_path, store=False, log=lambda msg: None)
    assert again.file("transactions", "csv").read_bytes() == tiny.file("transactions", "csv").read_bytes()
    header, first = tiny.file("transactions", "csv").read_text().splitlines()[:2]
    assert header.split(",")[:4] == ["order_id", "customer_id", "order_date", "amount"]
    assert first.split(",")[1].startswith("0")  # customer ids keep their leading zeros


def test_pandas_baseline_gives_crmflow_numbers(tiny):
    results = dict(compare(tiny))
    assert set(results) == set(pandas_components())
    assert {name: diff for name, diff in results.items() if diff is not None} == {}


def test_every_page_component_is_known():
    components = crmflow_components()
    assert {c for names in VIEWS.values() for c in names} <= set(components)
    assert set(pandas_components()) <= set(components)


def test_harness_runs_end_to_end(tiny, tmp_path):
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    code = run.main(["--sizes", "tiny", "--repeat", "1", "--cold", "1", "--in-process", "--no-dashboard",
                     "--data-dir", str(tiny.root.parent), "--out", str(out), "--json", str(raw),
                     "--lifetimes-limit", "60"])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    for heading in ("## Machine and versions", "## Data", "## Budget", "## Pages at tiny", "## CLV fit",
                    "## Ingesting the transactions CSV", "## Dashboard first page"):
        assert heading in text, heading
    for view, names in VIEWS.items():
        assert f"| **{view}** |" in text, view
        for name in names:
            assert f"| · {name} |" in text, name
    results = json.loads(raw.read_text())["sizes"]["tiny"]
    errors = {f"{view}.{name}": reason for view, procs in results["views"].items() for p in procs
              for name, reason in {**p.get("na", {}), **({"run": p["error"]} if "error" in p else {})}.items()
              if not reason.startswith("n/a")}
    assert errors == {}
    assert "error" not in results["pandas"] and all(not v["error"] for v in results["pandas"]["views"].values())
    assert "error" not in results["clv"]["crmflow"]
    assert all("error" not in r for side in results["ingest"].values() for r in side)
    assert results["ingest"]["crmflow"][0]["rows"] == generate.SIZES["tiny"]


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_dashboard_start_is_measured(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            result = run._dashboard_once(browser, tmp_path / "crmflow.duckdb", timeout=120)
        finally:
            browser.close()
    assert "error" not in result, result
    assert 0 < result["health"] <= result["first_page"]


EDGE_TRANSACTIONS = """\
customer_id,order_id,order_date,amount
a,o1,2024-01-01,10
a,o1,2024-01-05,5
a,,2024-01-05,3
b,,2024-02-01,4
b,,2024-02-01,-2
c,,2024-03-01,-5
d,x,2024-01-10,7
d,x,2023-12-01,0
e,,2024-04-01,9
"""
EDGE_CUSTOMERS = """\
customer_id,created_at
a,2024-02-01
c,
f,2024-01-15
g,2025-01-01
e,2024-03-31
"""


@pytest.mark.parametrize("dataset", ["tiny", "edge"])
def test_stg_orders_has_the_orders_of_stg_order_days(dataset, tiny, load):
    """The staging view stg_orders (the benchmark's rewrite, now read by the
    stage engine) has exactly the orders of stg_order_days, including orders
    spanning days, missing order ids, returns-only customers and leads created
    after their first order."""
    from bench import profile
    from crmflow.db import Database

    if dataset == "tiny":
        db = Database(tiny.store)
        dataset_id = int(db.run("get_dataset", dataset_name=generate.DATASET_NAME).iloc[0]["dataset_id"])
    else:
        store, dataset_id = load(EDGE_TRANSACTIONS, EDGE_CUSTOMERS)
        db = store.db
    try:
        _, ours = profile.run_sql(db, dataset_id, "SELECT customer_id, MIN(order_date) AS order_date, "
                                  "SUM(amount) AS amount FROM stg_order_days GROUP BY customer_id, order_key",
                                  {}, limit=60)
        _, theirs = profile.run_sql(db, dataset_id, "SELECT customer_id, order_date, amount FROM stg_orders", {},
                                    limit=60)
        assert len(ours) > 0
        assert profile.same_rows(ours, theirs) is None
    finally:
        if dataset == "tiny":
            db.close()


def test_session_plan_is_seeded_and_inside_the_last_year_of_the_data():
    from bench import sessions

    first, last = date(2022, 1, 1), date(2024, 6, 30)
    a = sessions.plan(10, 6, first, last, seed=7)
    assert a == sessions.plan(10, 6, first, last, seed=7) != sessions.plan(10, 6, first, last, seed=8)
    assert len(a) == 10 and all(len(v) == 6 for v in a)
    keys = {k for k, _, _ in sessions.PAGES}
    for visits in a:
        for key, path, _ in visits:
            assert key in keys and "dataset=demo" in path
            as_of = date.fromisoformat(path.split("as_of=")[1])
            assert last - timedelta(days=365) <= as_of <= last


def test_session_percentile_is_numpys_linear_quantile():
    import numpy as np

    from bench import sessions

    values = [3.0, 0.5, 9.0, 1.25, 2.0, 7.5, 0.75]
    for q in (0.0, 0.5, 0.95, 1.0):
        assert sessions._percentile(values, q) == pytest.approx(float(np.quantile(values, q)))
    assert sessions._percentile([], 0.95) is None


def test_sessions_section_gives_a_verdict():
    from bench.results import MET, MISSED, _sessions_section

    run = {"sessions": 10, "pages_per_session": 6, "seed": 1, "served": 60, "failed": 0, "median_seconds": 0.8,
           "p95_seconds": 1.9, "max_seconds": 2.5, "wall_seconds": 40.0, "p95_budget_seconds": 2.0, "met": True}
    verdicts: list = []
    text = "\n".join(_sessions_section({"sessions": run}, verdicts))
    assert "| 60 | 0 |" in text and verdicts[0][1] == MET
    verdicts = []
    _sessions_section({"sessions": {**run, "p95_seconds": 2.1, "met": False}}, verdicts)
    assert verdicts[0][1] == MISSED
    assert "not measured" in "\n".join(_sessions_section({}, []))


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_concurrent_sessions_are_measured():
    from bench import sessions

    result = sessions.measure(sessions=2, pages=1, seed=3)
    assert "error" not in result, result
    assert result["served"] == 2 and result["failed"] == 0, result["errors"]
    assert 0 < result["median_seconds"] <= result["max_seconds"]
