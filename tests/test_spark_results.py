"""Stored results computed on Spark (issue 16, item 3): the rows of every
stored query (crmflow.results.STORED) computed by the Spark engine and written
into the store's result tables by ``store_<query>``'s own INSERT equal the
rows the DuckDB path stores, and the readers (the Overview's figures, the
stage series, the command line) then take them without running a heavy query.

Skipped like tests/test_spark_engine.py when pyspark or Java 17 is missing
(failing under CI); in the xdist group ``spark`` (one worker owns the session).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pandas as pd
import pytest

from test_results import CUSTOMERS, HEAVY, INTERACTIONS, LINES, Recorder, assert_stored_equal_fresh, stored_calls

from crmflow import results
from crmflow.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

MASTER = "local[2]"


def _engine_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -r requirements-spark.txt)"
    from crmflow.engine_spark import java_version

    return None if java_version() is not None else "Java 17 is not installed"


_MISSING = _engine_missing()
if _MISSING and not os.environ.get("CI"):
    pytest.skip(_MISSING, allow_module_level=True)

from test_spark_engine import spark_session_fixture  # noqa: E402,F401 - the one session of the run


def _stored(db, dataset_id) -> dict[tuple[str, str], pd.DataFrame]:
    """Every stored (query, definitions key) of the dataset: its rows as the readers get them."""
    out = {}
    for name, params in stored_calls(db, dataset_id):
        rows = results.stored_rows(db, name, dataset_id, **params)
        assert rows is not None, name
        out[name, results.defs_key(params)] = rows
    return out


@pytest.fixture(scope="module")
def demo_both(spark_session_fixture, tmp_path_factory):
    """The demo's results stored by DuckDB, then again by Spark (same store)."""
    from crmflow.engine_spark import SparkDatabase, compute_results

    store = Store(in_memory=True)
    ds = store.ensure_demo()
    results.compute(store.db, ds.dataset_id)
    by_duckdb = _stored(store.db, ds.dataset_id)
    fits_by_duckdb = _fits(store.db, ds.dataset_id)
    sdb = SparkDatabase(store.db, master=MASTER, folder=tmp_path_factory.mktemp("spark-results"))
    stored = compute_results(store.db, ds.dataset_id, spark_db=sdb)
    yield store, ds.dataset_id, by_duckdb, stored, fits_by_duckdb
    store.close()


def _fits(db, dataset_id: int) -> dict[tuple[str, str], str]:
    """The stored fits (result_params) of the dataset: (kind, key) -> JSON."""
    with db.cursor() as cur:
        rows = cur.execute("SELECT kind, defs_key, payload FROM result_params WHERE dataset_id = ?",
                           [dataset_id]).fetchall()
    return {(kind, key): payload for kind, key, payload in rows}


def test_rows_stored_on_spark_equal_those_duckdb_stores(demo_both):
    store, dataset_id, by_duckdb, stored, _ = demo_both
    by_spark = _stored(store.db, dataset_id)
    assert by_spark.keys() == by_duckdb.keys()
    assert {name for name, _ in by_spark} == set(results.STORED)
    assert stored == sum(len(rows) for rows in by_spark.values()) > 0
    for (name, key), want in by_duckdb.items():
        got = by_spark[name, key]
        # the demo has no discount or list price (no priced orders); the command-line test
        # below stores priced rows on Spark (tests/test_results.py LINES has discounts)
        assert len(want) > 0 or name == "loyalty_prices", name
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=0, obj=name)
    with store.db.cursor() as cur:  # one run per stored call: none left over from the DuckDB write
        runs = dict(cur.execute("SELECT query = ?, COUNT(*) FROM result_runs WHERE dataset_id = ? GROUP BY ALL",
                                [results.FITS_RUN, dataset_id]).fetchall())
    assert runs == {False: len(by_duckdb), True: 1}  # and the note that the fits are stored


def test_the_fits_are_stored_again_after_spark_stores_the_rows(demo_both):
    """Spark's write replaces every stored result of the dataset, the fits
    among them: they are fitted again on the rows Spark stored, the same."""
    store, dataset_id, _, _, want = demo_both
    assert want and _fits(store.db, dataset_id) == want


def test_readers_take_the_rows_spark_stored(demo_both, monkeypatch):
    """The Overview's figures and the stage series read the stored rows (no
    heavy query runs) and equal the figures computed afresh."""
    from crmflow.analytics import ntd_trends
    from crmflow.overview import overview_kpis
    from crmflow.stages import data_range, stage_snapshots, won_back_lost_monthly

    store, dataset_id, _, _, _ = demo_both
    first, last = data_range(store.db, dataset_id)
    calls = [lambda: stage_snapshots(store.db, dataset_id, first, last),
             lambda: ntd_trends(store.db, dataset_id, first, last),
             lambda: won_back_lost_monthly(store.db, dataset_id, last),
             lambda: overview_kpis(store.db, dataset_id, last, last - timedelta(days=90))]
    recorder = Recorder(monkeypatch)
    got = [call() for call in calls]
    assert not [n for n in recorder.names if n in HEAVY], recorder.names
    assert recorder.ran("read_stage_snapshots") == 1 and recorder.ran("read_ntd_monthly") == 1
    monkeypatch.undo()
    fresh = Store(in_memory=True)  # the same demo, nothing stored: computed by the queries
    try:
        assert fresh.ensure_demo().dataset_id == dataset_id
        fdb = fresh.db
        want = [stage_snapshots(fdb, dataset_id, first, last), ntd_trends(fdb, dataset_id, first, last),
                won_back_lost_monthly(fdb, dataset_id, last),
                overview_kpis(fdb, dataset_id, last, last - timedelta(days=90))]
    finally:
        fresh.close()
    for g, w in zip(got, want):
        if isinstance(w, pd.DataFrame):
            pd.testing.assert_frame_equal(g, w, check_exact=False, rtol=1e-9, atol=0)
        else:
            assert g == w


def test_the_command_line_computes_them_on_spark(spark_session_fixture, tmp_path, capsys):
    """``crmflow datasets results NAME --engine spark`` on a store file whose
    dataset was stored without results: afterwards every stored call is there
    and equals the query run afresh on DuckDB."""
    from crmflow.cli import main

    for name, text in (("t.csv", LINES), ("c.csv", CUSTOMERS), ("i.csv", INTERACTIONS)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    path = tmp_path / "crm.duckdb"
    with Store(path) as store:
        dataset_id = store.ingest("sales", tmp_path / "t.csv", tmp_path / "c.csv", tmp_path / "i.csv",
                                  results=False).dataset.dataset_id
        assert not results.has_results(store.db, dataset_id)
    assert main(["datasets", "results", "sales", "--db", str(path), "--engine", "spark", "--spark", MASTER]) == 0
    assert "computed on spark" in capsys.readouterr().out
    with Store(path, read_only=True) as store:
        assert results.has_results(store.db, dataset_id)
        assert_stored_equal_fresh(store.db, dataset_id)
