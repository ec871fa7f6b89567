"""Smoke test of the benchmark (bench/): it runs end to end at a tiny size and
its pandas baseline computes the same numbers as crmflow, so the speed
comparison in bench/RESULTS.md stays honest. No timing is asserted."""

from __future__ import annotations

import json
from datetime import date, timedelta
import shutil
from pathlib import Path

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


def test_each_page_is_measured_by_the_calls_it_makes():
    """A budget page's components are the calls its script makes through
    ctx.call, each at least once, and nothing the page does not call (a page
    that gains a call and a benchmark that misses it would both go unnoticed)."""
    import re

    from bench.run import BUDGET_VIEWS
    from bench.views import PAGE_CALLS

    root = Path(__file__).resolve().parent.parent
    for view in BUDGET_VIEWS:
        script = (root / "pages" / f"{view}.py").read_text(encoding="utf-8")
        called = set(re.findall(r'ctx\.call\(\s*"([\w.]+)"', script))
        measured = {PAGE_CALLS[c] for c in VIEWS[view] if c in PAGE_CALLS}
        assert measured == called, view
        assert all(c in PAGE_CALLS or c == "data_range" for c in VIEWS[view]), view


def test_harness_runs_end_to_end(tiny, tmp_path):
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    code = run.main(["--sizes", "tiny", "--repeat", "1", "--cold", "1", "--in-process",
                     "--only", "pages,pandas,clv,ingest",
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


def test_command_line_groups_run_end_to_end(tiny, tmp_path):
    """The whole-process groups at the tiny size: `crmflow --version` and two
    view commands on the stored data, `crmflow stages FILE` against pandas and
    DuckDB (the same counts), `crmflow ingest` with its results and fits, and
    a page on the demo data."""
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    code = run.main(["--sizes", "tiny", "--repeat", "1", "--cold", "1", "--in-process",
                     "--only", "demo,commands,stages-file,store", "--views", "overview", "--commands", "stages,flow",
                     "--data-dir", str(tiny.root.parent), "--out", str(out), "--json", str(raw)])
    assert code == 0
    results = json.loads(raw.read_text())
    tiny_runs = results["sizes"]["tiny"]
    runs = results["version"] + [r for cmd in ("stages", "flow") for r in tiny_runs["commands"][cmd]]
    runs += [r for sides in tiny_runs["stages_file"].values() for side in sides.values() for r in side]
    runs += tiny_runs["store"]["runs"]
    assert [r["error"] for r in runs if "error" in r] == []
    assert all(r["seconds"] > 0 and r["peak_rss"] > 0 for r in runs)
    for sides in tiny_runs["stages_file"].values():
        counts = [{k: v for k, v in side[0]["counts"].items() if v} for side in sides.values()]
        assert counts[0] and counts == [counts[0]] * 3
    stored = tiny_runs["store"]["stored"]
    assert stored["results"] is True and stored["fits"] is True
    demo = results["sizes"]["demo"]["views"]["overview"][0]
    assert "error" not in demo and not demo["na"]
    text = out.read_text(encoding="utf-8")
    for heading in ("## Pages at demo", "## Commands, whole processes", "## `crmflow stages FILE`",
                    "## Storing a dataset"):
        assert heading in text, heading
    for line in ("`crmflow --version` starts in ≤ 0.30 s", "overview at demo: ≤ 0.50 s warm"):
        assert f"| {line} |" in text, line


def test_a_whole_process_is_timed_with_its_own_peak_memory_and_that_of_its_children():
    one = run.run_process(["-c", "b = b'x' * (200 << 20)"], timeout=60)
    assert one["seconds"] > 0 and one["peak_rss"] >= 200 << 20
    big = b"x" * (400 << 20)  # a child's ru_maxrss would start from this process's peak
    assert run.run_process(["-c", "pass"], timeout=60)["peak_rss"] < 200 << 20
    del big
    child = run.run_process(["-c", "import subprocess, sys; "
                                   "subprocess.run([sys.executable, '-c', 'b = bytes(1) * (300 << 20)'])"], timeout=60)
    assert child["peak_rss"] >= 300 << 20  # the writing child of `crmflow ingest` counts
    assert run.run_process(["-c", "print('hello')"], timeout=60, output=True)["stdout"] == "hello\n"
    assert run.run_process(["-c", "import sys; sys.exit('no such file')"], timeout=60)["error"] \
        .startswith("exited 1: no such file")
    assert run.run_process(["-c", "import time; time.sleep(30)"], timeout=0.5) == {"error": "timed out after 0 s"}


def test_groups_are_chosen_by_only_and_the_skip_flags():
    assert run.parse_args([]).groups == set(run.GROUPS)
    assert run.parse_args(["--only", "commands,store"]).groups == {"commands", "store"}
    assert run.parse_args(["--no-dashboard", "--no-store"]).groups == set(run.GROUPS) - {"dashboard", "sessions",
                                                                                        "store"}
    assert run.parse_args(["--pages-only", "--no-pandas"]).groups == {"pages"}
    assert run.parse_args(["--commands", "none"]).groups == set(run.GROUPS) - {"commands"}
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "commandz"])


def _proc(cold: float, warm: float) -> dict:
    """A page's process as bench.worker's view task reports it (one component)."""
    return {"open": 0.1, "cold": {"stage_counts": cold - 0.1}, "warm": [{"stage_counts": warm}], "na": {},
            "peak_rss": 1 << 28, "warm_skipped": None}


def test_pages_get_a_cold_verdict_at_1m_and_a_warm_one_on_the_demo():
    from bench.results import MET, MISSED, _views_section

    verdicts: list = []
    size = {"views": {"overview": [_proc(cold=0.8, warm=0.2)], "flow": [_proc(cold=1.2, warm=0.4)]}}
    _views_section("1m", size, run.BUDGET, run.BUDGET_VIEWS, {}, verdicts)
    got = {line: v for line, v, _ in verdicts}
    cold = "at 1m: ≤ 1.00 s cold (a new process opens the store, results stored)"
    assert got == {"overview at 1m: ≤ 0.30 s warm": MET, f"overview {cold}": MET,
                   "flow at 1m: ≤ 0.30 s warm": MISSED, f"flow {cold}": MISSED}
    verdicts = []
    _views_section("demo", {"views": {"churn": [_proc(cold=2.0, warm=0.45)]}}, run.BUDGET, run.BUDGET_VIEWS, {},
                   verdicts)
    assert [(line, v) for line, v, _ in verdicts] == [("churn at demo: ≤ 0.50 s warm", MET)]


def _runs(*seconds: float, peak: int = 1 << 28) -> list[dict]:
    return [{"seconds": s, "peak_rss": peak} for s in seconds]


def test_commands_section_gives_verdicts_beyond_the_start_up():
    from bench.results import MET, MISSED, _commands_section

    results = {"version": _runs(0.2, 0.4, 0.25),
               "sizes": {"demo": {"commands": {"report": [{"error": "exited 2: crmflow: error: boom"}]}},
                         "1m": {"commands": {"stages": _runs(0.9, 1.4, 1.2), "churn": _runs(2.0),
                                             "report": _runs(14.0, 16.0, 12.0)}},
                         "tiny": {"commands": {"stages": _runs(1.5)}}}}
    verdicts: list = []
    text = "\n".join(_commands_section(results, run.BUDGET, verdicts))
    got = {line: (v, measured) for line, v, measured in verdicts}
    assert got["`crmflow --version` starts in ≤ 0.30 s"] == (MET, "0.25 s")
    assert got["`crmflow stages` on the stored 1m dataset: ≤ 1.00 s beyond start-up"][0] == MET  # 1.2 - 0.25
    assert got["`crmflow churn` on the stored 1m dataset: ≤ 1.00 s beyond start-up"][0] == MISSED  # 1.75
    assert got["meeting report (`crmflow report`) on the 1m data: ≤ 15.0 s, whole process"][0] == MET
    assert got["meeting report (`crmflow report`) on the demo data: ≤ 5.00 s, whole process"] == \
        (MISSED, "exited 2: crmflow: error: boom")
    assert len(verdicts) == 5  # no budget at tiny
    assert "| `stages` | tiny | 1.50 s | 1.25 s |" in text
    verdicts = []
    _commands_section({"sizes": {"1m": {"commands": {"stages": _runs(0.5)}}}}, run.BUDGET, verdicts)
    assert verdicts[0][1] == MISSED  # no start-up measured: nothing to subtract


def test_stages_file_section_checks_the_ratios_and_the_counts():
    from bench.results import MET, MISSED, _stages_file_section

    counts = {"potential": 0, "first": 4, "lost": 2}

    def sides(ours, pandas, duckdb, duckdb_counts=counts):
        return {"crmflow": [{**r, "counts": counts} for r in _runs(*ours)],
                "pandas": [{**r, "counts": {"first": 4, "lost": 2}} for r in _runs(*pandas)],
                "duckdb": [{**r, "counts": duckdb_counts, "query_seconds": 0.5} for r in _runs(*duckdb)]}

    size = {"meta": {"counts": {"transactions": 10_000_000}},
            "stages_file": {"parquet": sides((3.0, 2.5, 3.5), (10.0,), (2.0,)), "csv": sides((4.0,), (5.0,), (3.0,))}}
    verdicts: list = []
    text = "\n".join(_stages_file_section({"sizes": {"10m": size}}, run.BUDGET, verdicts))
    assert [(line.split(",")[1].strip(), v) for line, v, _ in verdicts] == [("parquet at 10m (10", MET),
                                                                          ("csv at 10m (10", MISSED)]
    assert "| 10m | parquet | 3.00 s (2.50 s) | 256 MiB | 10.0 s | 2.00 s (0.50 s) | 3.3× | 1.5× | yes |" in text
    verdicts = []
    size["stages_file"] = {"parquet": sides((3.0,), (10.0,), (2.0,), duckdb_counts={"first": 5, "lost": 1})}
    text = "\n".join(_stages_file_section({"sizes": {"10m": size}}, run.BUDGET, verdicts))
    assert verdicts[0][1] == MISSED and "| **no** |" in text
    verdicts = []
    _stages_file_section({"sizes": {"tiny": {**size, "meta": {"counts": {"transactions": 5000}}}}}, run.BUDGET,
                         verdicts)
    assert verdicts == []  # no budget below 1m lines


def test_store_section_needs_time_memory_and_the_stored_results():
    from bench.results import GIB, MET, MISSED, _store_section

    def verdict_of(runs, stored):
        verdicts: list = []
        size = {"meta": {"counts": {"transactions": 10_000_000}, "ingest_seconds": 40.0},
                "store": {"runs": runs, "stored": stored}}
        _store_section({"sizes": {"10m": size}}, run.BUDGET, verdicts)
        return verdicts[0][1]

    stored = {"results": True, "fits": True}
    assert verdict_of(_runs(50.0, 70.0, 55.0, peak=3 * GIB), stored) == MET
    assert verdict_of(_runs(50.0, peak=5 * GIB), stored) == MISSED
    assert verdict_of(_runs(61.0, peak=GIB), stored) == MISSED
    assert verdict_of(_runs(30.0, peak=GIB), {"results": True, "fits": False}) == MISSED
    assert verdict_of([{"error": "timed out after 1800 s"}], None) == MISSED


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
    split = "\n".join(_sessions_section({"sessions": {**run, "server_cpu_seconds": 30.0,
                                                      "machine_cpu_seconds": 360.0}}, []))
    assert "busy 360 s of CPU in all" in split, split
    assert "(Streamlit and crmflow, every page's script run) 30.0 s" in split, split
    assert "(8%, 0.50 s a page served)" in split, split


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_concurrent_sessions_are_measured():
    from bench import sessions

    result = sessions.measure(sessions=2, pages=1, seed=3)
    assert "error" not in result, result
    assert result["served"] == 2 and result["failed"] == 0, result["errors"]
    assert 0 < result["median_seconds"] <= result["max_seconds"]
    # the server did the pages' work, and the machine was busy at least that long
    assert 0 < result["server_cpu_seconds"] <= result["machine_cpu_seconds"], result


def test_engine_limit_is_one_query_giving_the_commands_numbers(tiny, capsys):
    """bench/limits.py's yardstick (one DuckDB query in a process importing
    only DuckDB) does the same SQL work as the command it is set against: its
    rows are the RFM scores and the Pareto curve `crmflow` prints; and the
    whole comparison runs for the four commands NOTES.md profiles."""
    import subprocess
    import sys

    import duckdb

    from bench import limits

    def printed(command: str):
        done = subprocess.run([sys.executable, "-m", "crmflow", command, "--db", str(tiny.store),
                               "--dataset", generate.DATASET_NAME], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    def plain(command: str) -> list[dict]:
        spec = limits.spec_for(command, tiny.store)
        con = duckdb.connect(spec["store"], read_only=True)
        try:
            con.execute("SET VARIABLE dataset_id = $d", {"d": spec["dataset_id"]})
            for statement in spec["setup"]:
                con.execute(statement)
            cur = con.execute(spec["sql"], {k: limits.decode(v) for k, v in spec["params"].items()})
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            con.close()

    rfm = {r["customer_id"]: r for r in plain("rfm")}
    shown = printed("rfm")
    assert len(shown) == len(rfm) > 50
    for row in shown:
        mine = rfm[row["customer_id"]]
        for column in ("recency_days", "frequency", "r_score", "f_score", "m_score"):
            assert row[column] == mine[column], (row, column)
        assert row["monetary"] == pytest.approx(float(mine["monetary"]), abs=1e-4)
    curve = printed("pareto")["curve"]
    theirs = sorted(plain("pareto"), key=lambda r: r["rank"])
    assert [r["customer_id"] for r in curve] == [r["customer_id"] for r in theirs]
    assert [r["cumulative_share"] for r in curve] == pytest.approx([float(r["cumulative_share"]) for r in theirs],
                                                                   abs=1e-4)
    assert limits.main(["--size", "tiny", "--data-dir", str(tiny.root.parent), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for command in ("rfm", "pareto", "churn", "matrix"):
        assert any(line.startswith(command + " ") for line in out.splitlines()), (command, out)
