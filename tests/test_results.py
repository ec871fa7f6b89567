"""Results stored per dataset version (crmflow.results, issue 14).

The stored rows must equal what the named queries return when run afresh,
after every kind of ingest (files with customers and interactions, frames, a
replace, the dashboard's writing child process), on CDNOW, on a store made
before results were kept (computed when the file is next opened for
writing), and they must go with their dataset. The readers (stages,
analytics, overview, the command line, the Overview page) take the stored
rows only when the call matches (whole dataset, default definitions, D):
asserted by counting the named queries run, never by timing.
"""

from __future__ import annotations

import contextlib
import random
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import CDNOW_SAMPLE, write
from crmflow import results
from crmflow.config import Params
from crmflow.db import Database, Scope, registry
from crmflow.stages import data_range
from crmflow.store import Store

RESULT_TABLES = ["result_" + name for name in results.STORED] + ["result_runs"]

LINES = """\
customer_id,order_date,amount,channel,category,discount
a,2023-01-05,100,web,x,5
a,2023-01-05,-20,web,x,0
a,2023-03-10,50,shop,y,0
a,2023-09-01,70,web,x,0
a,2024-02-01,80,web,z,5
a,2024-02-03,10,web,z,0
b,2023-02-11,40,shop,y,
b,2023-12-30,-40,shop,y,
c,2023-06-30,25,web,x,5
c,2024-01-31,25,web,x,0
c,2024-02-29,25,shop,y,0
d,2024-02-28,-5,web,x,
e,2022-12-31,300,shop,,
e,2023-07-01,10,shop,,
"""
CUSTOMERS = """\
customer_id,name,created_at,region
a,A,2022-11-01,north
f,F,2023-05-01,south
g,G,2024-03-01,north
"""
INTERACTIONS = """\
customer_id,date,type
a,2023-02-01,call
f,2023-06-01,complaint
"""


class Recorder:
    """Counts the named queries a Database runs (``run``) while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        original = Database.run

        def run(db: Database, name: str, **kw):
            self.names.append(name)
            return original(db, name, **kw)

        monkeypatch.setattr(Database, "run", run)

    def ran(self, name: str) -> int:
        return self.names.count(name)


def stored_calls(db: Database, dataset_id: int) -> list[tuple[str, dict]]:
    """Every stored (query, parameters) of a dataset, dates included."""
    first, last = data_range(db, dataset_id)
    return [(name, params) for name, stored in results.STORED.items() for params in stored.variants(first, last)]


def assert_stored_equal_fresh(db: Database, dataset_id: int, seed: int = 0, may_be_empty: tuple[str, ...] = ()) -> None:
    """The stored rows equal the query run afresh: at all stored dates and at random subsets
    (every result has rows, but those ``may_be_empty`` names: the data carry nothing for them)."""
    rng = random.Random(seed)
    for name, params in stored_calls(db, dataset_id):
        stored = results.stored_rows(db, name, dataset_id, **params)
        assert stored is not None, name
        fresh = db.run(name, dataset_id=dataset_id, **params)
        assert len(fresh) > 0 or name in may_be_empty, name
        pd.testing.assert_frame_equal(stored, fresh, obj=name)
        assert list(stored.columns) == list(registry()[f"read_{name}"].columns) == list(registry()[name].columns)
        if "dates" in params and len(params["dates"]) > 1:
            for _ in range(3):
                some = sorted(rng.sample(params["dates"], rng.randint(1, len(params["dates"]))))
                part = {**params, "dates": some}
                pd.testing.assert_frame_equal(results.stored_rows(db, name, dataset_id, **part),
                                              db.run(name, dataset_id=dataset_id, **part), obj=f"{name} {some}")


@contextlib.contextmanager
def demo_stored_and_fresh(n_customers: int, seed: int):
    """Generated demo data stored twice in memory: with its results and fits
    (``stored``, dataset ``a``) and without (``fresh``, dataset ``b``, whose
    numbers are all computed afresh)."""
    from crmflow.demo import generate

    data = generate(n_customers=n_customers, seed=seed)
    with Store(in_memory=True) as stored, Store(in_memory=True) as fresh:
        a = stored.ingest("d", data.transactions, data.customers, data.interactions, results=True).dataset.dataset_id
        b = fresh.ingest("d", data.transactions, data.customers, data.interactions).dataset.dataset_id
        yield stored, a, fresh, b


def result_counts(db: Database) -> dict[str, list[tuple[int, int]]]:
    with db.cursor() as cur:
        return {t: cur.execute(f"SELECT dataset_id, COUNT(*) FROM {t} GROUP BY ALL ORDER BY ALL").fetchall()
                for t in RESULT_TABLES}


@pytest.fixture
def files(tmp_path):
    return (write(tmp_path, "t.csv", LINES), write(tmp_path, "c.csv", CUSTOMERS),
            write(tmp_path, "i.csv", INTERACTIONS))


# --------------------------------------------------------------------------- stored = fresh
def test_stored_results_equal_fresh_after_an_ingest_of_files(files):
    with Store(in_memory=True) as store:
        ds = store.ingest("x", *files, results=True).dataset.dataset_id
        assert results.has_results(store.db, ds)
        assert_stored_equal_fresh(store.db, ds)
        # the month ends run from the first order's month (Dec 2022) to D (2024-02-29), D last
        first, last = data_range(store.db, ds)
        assert (first, last) == (date(2022, 12, 31), date(2024, 2, 29))
        runs = store.db.run("result_runs", target_id=ds, query_name="stage_snapshots")
        dates = [pd.Timestamp(d).date() for d in runs.iloc[0]["dates"]]
        assert dates[0] == date(2022, 12, 31) and dates[-1] == date(2024, 2, 29) and len(dates) == 15


def test_stored_results_equal_fresh_after_an_ingest_of_frames():
    from crmflow.demo import generate

    data = generate(n_customers=300, seed=7)
    lines = data.transactions.assign(discount=[1.0 if k % 7 == 0 else 0.0 for k in range(len(data.transactions))])
    with Store(in_memory=True) as store:
        ds = store.ingest("demo", lines, data.customers, data.interactions, results=True).dataset.dataset_id
        assert_stored_equal_fresh(store.db, ds, seed=1)


def test_stored_results_equal_fresh_on_cdnow():
    with Store(in_memory=True) as store:
        ds = store.ingest("cdnow", CDNOW_SAMPLE, results=True).dataset.dataset_id
        # CDNOW has no discount or list price: no priced orders
        assert_stored_equal_fresh(store.db, ds, seed=2, may_be_empty=("loyalty_prices",))


def test_replace_stores_the_new_rows_and_drops_the_old(files, tmp_path):
    with Store(in_memory=True) as store:
        old = store.ingest("x", *files, results=True).dataset.dataset_id
        other = store.ingest("y", files[0], results=True).dataset.dataset_id
        smaller = write(tmp_path, "u.csv", "customer_id,order_date,amount,discount\nq,2024-05-01,8,1\nq,2024-07-02,9,0\n")
        new = store.ingest("x", smaller, replace=True, results=True).dataset.dataset_id
        assert new != old
        counts = result_counts(store.db)
        for table in RESULT_TABLES:
            assert {d for d, _ in counts[table]} == {other, new}, table
        assert_stored_equal_fresh(store.db, new)
        assert_stored_equal_fresh(store.db, other)
        # q: first order 2024-05-01, lost 180 days after the last (2024-07-02) -> still repeat at D
        snap = results.stored_rows(store.db, "stage_snapshots", new, dates=[date(2024, 7, 2)],
                                   **Params().as_sql_params())
        assert snap[["stage", "customers"]].values.tolist() == [["repeat", 1]]


def test_delete_drops_the_stored_results(files):
    with Store(in_memory=True) as store:
        keep = store.ingest("keep", files[0], results=True).dataset.dataset_id
        gone = store.ingest("gone", *files, results=True).dataset.dataset_id
        store.delete("gone")
        for table, rows in result_counts(store.db).items():
            assert [d for d, _ in rows] == [keep], table
        assert not results.has_results(store.db, gone)
        assert_stored_equal_fresh(store.db, keep)


def test_the_writing_child_process_stores_them(files, tmp_path):
    """The dashboard's path: Store(shared=True) ingests, replaces and deletes in a child process."""
    path = tmp_path / "shared.duckdb"
    with Store(path, shared=True) as store:
        first = store.ingest("x", *files, results=True).dataset.dataset_id
        second = store.ingest("x", files[0], replace=True).dataset.dataset_id
        store.ingest("z", *files)
        store.delete("z")
    with Store(path) as store:
        assert {d for d, _ in result_counts(store.db)["result_runs"]} == {second}
        assert not results.has_results(store.db, first)
        assert_stored_equal_fresh(store.db, second)


def test_a_store_made_before_results_gets_them_with_the_next_ingest(files, tmp_path):
    from crmflow.analytics import ntd_trends

    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        ds = store.ingest("x", *files, results=True).dataset.dataset_id
        returns = store.ingest("returns", write(tmp_path, "r.csv", "customer_id,order_date,amount\n"
                                                "z,2024-01-01,-3\n")).dataset.dataset_id
    con = duckdb.connect(str(path))  # what an older crmflow left: no result tables at all
    for table in RESULT_TABLES:
        con.execute(f"DROP TABLE {table}")
    con.close()
    with Database(path, read_only=True) as db:  # as an older crmflow left it, no result tables: computed
        first, last = data_range(db, ds)
        assert len(ntd_trends(db, ds, first, last)) == 15
    # reading processes (the command line, the dashboard), a rename: the file keeps no results
    with Store(path, read_only=True) as store:
        assert not results.has_results(store.db, ds)
    with Store(path, shared=True) as store:
        store.rename("x", "y")
        assert not results.has_results(store.db, ds)
        new = store.ingest("z", files[0]).dataset.dataset_id  # the writing child stores them, old ones too
        for dataset_id in (ds, new):
            assert results.has_results(store.db, dataset_id)
        assert not results.has_results(store.db, returns)  # no order, nothing to store
        assert store.db.run("datasets_without_results", code=results.code_version()).empty
    with Store(path) as store:
        assert_stored_equal_fresh(store.db, ds)


def test_rows_stored_by_other_sql_are_never_read_and_are_recomputed(files, tmp_path, monkeypatch):
    """After an upgrade that changes a query (another code_version), the rows
    an older crmflow stored are not served (the query runs instead), the next
    write computes them again, and a result table laid out differently by
    another version falls back to computing instead of failing."""
    from crmflow.analytics import ntd_trends

    path = tmp_path / "upgrade.duckdb"
    with Store(path) as store:
        ds = store.ingest("x", *files).dataset.dataset_id
        first, last = data_range(store.db, ds)
        ntd = results.STORED["ntd_monthly"].variants(first, last)[0]
        summary = results.STORED["stage_summary"].variants(first, last)[0]
        before = ntd_trends(store.db, ds, first, last)
        assert results.has_results(store.db, ds)
        assert results.stored_rows(store.db, "ntd_monthly", ds, **ntd) is not None
    monkeypatch.setattr(results, "code_version", lambda: "0123456789abcdef")  # the SQL changed since
    with Database(path, read_only=True) as db:
        assert not results.has_results(db, ds)
        assert results.stored_rows(db, "ntd_monthly", ds, **ntd) is None
        pd.testing.assert_frame_equal(ntd_trends(db, ds, first, last), before)  # computed afresh
    with Store(path) as store:
        assert list(store.db.run("datasets_without_results", code=results.code_version())["dataset_id"]) == [ds]
        assert results.complete(store.db) == [ds]
        assert results.has_results(store.db, ds)
        assert_stored_equal_fresh(store.db, ds)
        assert results.stored_rows(store.db, "stage_summary", ds, **summary) is not None
        store.db._con.execute("ALTER TABLE result_stage_summary RENAME COLUMN customers TO n")  # another layout
        assert results.stored_rows(store.db, "stage_summary", ds, **summary) is None


# --------------------------------------------------------------------------- who reads them
def _twin(files) -> tuple[Store, int, Store, int]:
    """The same data twice: with stored results, and without (computed on every call)."""
    with_results, without = Store(in_memory=True), Store(in_memory=True)
    a = with_results.ingest("x", *files, results=True).dataset.dataset_id
    b = without.ingest("x", *files).dataset.dataset_id  # in memory: none stored by default
    assert not results.has_results(without.db, b)
    return with_results, a, without, b


HEAVY = tuple(results.STORED)


def test_views_read_the_stored_rows_when_the_call_matches(files, monkeypatch):
    from crmflow.analytics import ntd_trends
    from crmflow.overview import overview_kpis, trend_start
    from crmflow.stages import stage_snapshots, won_back_lost_monthly

    stored, a, fresh, b = _twin(files)
    try:
        first, last = data_range(stored.db, a)
        calls = [
            lambda db, ds: stage_snapshots(db, ds, trend_start(last, first, "12"), last),
            lambda db, ds: ntd_trends(db, ds, first, last),
            lambda db, ds: won_back_lost_monthly(db, ds, last),
        ] + [lambda db, ds, c=c: overview_kpis(db, ds, last, c)
             for c in (last - timedelta(days=90), last - timedelta(days=30), last - timedelta(days=365),
                       trend_start(last, first, "24"))]
        expected = [call(fresh.db, b) for call in calls]
        recorder = Recorder(monkeypatch)
        for call, want in zip(calls, expected):
            got = call(stored.db, a)
            if isinstance(want, pd.DataFrame):
                pd.testing.assert_frame_equal(got, want)
            else:
                assert got == want
        assert not [n for n in recorder.names if n in HEAVY], recorder.names
        assert recorder.ran("read_stage_snapshots") == 1 and recorder.ran("read_ntd_monthly") == 1
        assert recorder.ran("read_stage_summary") == 4
    finally:
        stored.close()
        fresh.close()


@pytest.mark.parametrize("case", ["filter", "definitions", "as_of"])
def test_other_calls_are_computed_as_before(files, monkeypatch, case):
    from crmflow.analytics import ntd_trends
    from crmflow.overview import overview_kpis

    stored, a, fresh, b = _twin(files)
    try:
        first, last = data_range(stored.db, a)
        params, as_of, scope_a, scope_b = Params(), last, a, b
        if case == "filter":
            scope_a, scope_b = Scope(a, channels=("web",)), Scope(b, channels=("web",))
        elif case == "definitions":
            params = Params(lost_after_days=90)
        else:
            as_of = date(2024, 1, 31)  # a month end, but not D: the KPIs and events differ
        want = (ntd_trends(fresh.db, scope_b, first, as_of, params),
                overview_kpis(fresh.db, scope_b, as_of, as_of - timedelta(days=90), params))
        recorder = Recorder(monkeypatch)
        got = (ntd_trends(stored.db, scope_a, first, as_of, params),
               overview_kpis(stored.db, scope_a, as_of, as_of - timedelta(days=90), params))
        pd.testing.assert_frame_equal(got[0], want[0])
        assert got[1] == want[1]
        assert recorder.ran("won_back_lost_to_date") == 1 and recorder.ran("stage_summary") == 1
        # N/t/D at month ends only with the default definitions and no filter comes from the store
        assert recorder.ran("ntd_monthly") == (0 if case == "as_of" else 1)
    finally:
        stored.close()
        fresh.close()


def test_the_command_line_reads_the_stored_rows(files, tmp_path, monkeypatch, capsys):
    from crmflow.cli import main

    path = tmp_path / "cli.duckdb"
    with Store(path) as store:
        store.ingest("x", *files, results=True)
        store.ingest("plain", *files, results=False)
    recorder = Recorder(monkeypatch)
    assert main(["trends", "--dataset", "x", "--db", str(path), "--format", "csv"]) == 0
    stored_out = capsys.readouterr().out
    assert recorder.ran("read_ntd_monthly") == 1 and recorder.ran("ntd_monthly") == 0
    # the same files read straight (an in-memory load keeps no results): the query runs, same rows
    assert main(["trends", str(files[0]), "--customers", str(files[1]), "--format", "csv"]) == 0
    assert capsys.readouterr().out == stored_out
    assert recorder.ran("ntd_monthly") == 1 and recorder.ran("read_ntd_monthly") == 1
    # "plain" was stored without results: a reading command computes on demand, stores nothing
    assert main(["trends", "--dataset", "plain", "--db", str(path), "--format", "csv"]) == 0
    assert capsys.readouterr().out == stored_out
    assert recorder.ran("ntd_monthly") == 2
    with Store(path, read_only=True) as store:
        assert not results.has_results(store.db, store.get("plain").dataset_id)
    assert len(stored_out.strip().splitlines()) == 1 + 15


def test_the_overview_page_reads_the_stored_rows(files, tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parent.parent
    path = tmp_path / "page.duckdb"
    with Store(path) as store:
        store.ensure_demo()
    monkeypatch.setenv("CRMFLOW_DB", str(path))
    monkeypatch.chdir(root)
    st.cache_resource.clear()
    st.cache_data.clear()
    recorder = Recorder(monkeypatch)
    try:
        at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
        at.query_params["dataset"] = "demo"
        at.run()
        assert not at.exception, at.exception
        assert len(at.metric) >= 5
        assert not [n for n in recorder.names if n in HEAVY], recorder.names
        for name in ("read_stage_summary", "read_revenue_to_date", "read_won_back_lost_to_date",
                     "read_stage_snapshots", "read_ntd_monthly", "read_loyalty_trend", "read_loyalty_customers"):
            assert recorder.ran(name) >= 1, name
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()


def test_the_churn_page_reads_the_stored_signals_summaries_and_outcomes(monkeypatch):
    """The churn list and its track record at D: the list scored in English is read
    whole (stored with the fits); scoring it in Chinese, every churn_signals,
    clv_summary and holdout_purchases call is served from the store, with the same numbers."""
    from crmflow.churn import churn_warnings, track_record

    with demo_stored_and_fresh(n_customers=400, seed=11) as (stored, a, fresh, b):
        last = data_range(fresh.db, b)[1]
        want = (churn_warnings(fresh.db, b, last, include_all=True), track_record(fresh.db, b, last),
                churn_warnings(fresh.db, b, last, include_all=True, lang="zh"))
        stored.db.forget()  # as a new process: the fits made while storing are not kept in memory
        recorder = Recorder(monkeypatch)
        got = (churn_warnings(stored.db, a, last, include_all=True), track_record(stored.db, a, last),
               churn_warnings(stored.db, a, last, include_all=True, lang="zh"))
        for ours, theirs in ((got[0], want[0]), (got[2], want[2])):
            pd.testing.assert_frame_equal(ours, theirs)
            assert ours.attrs["calibration"] == theirs.attrs["calibration"]
        assert got[1] == want[1]
        assert recorder.ran("read_result_frame") >= 1
        heavy = [n for n in recorder.names if n in ("churn_signals", "clv_summary", "holdout_purchases")]
        assert not heavy, heavy
        # the fits at D - h and D - 2h are stored too (tests/test_results2.py): only D's rows are read
        assert recorder.ran("read_churn_signals") >= 1 and recorder.ran("read_clv_summary") >= 1


def test_the_account_directory_at_d_is_read_from_the_store(monkeypatch):
    """The account picker's and call list's directory at D comes from the stored
    rows, equal to a store without results; another date or a filter computes."""
    from crmflow.account_view import directory

    with demo_stored_and_fresh(n_customers=300, seed=5) as (stored, a, fresh, b):
        last, earlier = data_range(fresh.db, b)[1], data_range(fresh.db, b)[1] - timedelta(days=100)
        want = [directory(fresh.db, b, last), directory(fresh.db, b, earlier),
                directory(fresh.db, Scope(b, channels=("Online",)), last)]
        recorder = Recorder(monkeypatch)
        got = directory(stored.db, a, last)
        pd.testing.assert_frame_equal(got, want[0])
        assert recorder.ran("read_account_directory") == 1 and recorder.ran("account_directory") == 0
        pd.testing.assert_frame_equal(directory(stored.db, a, earlier), want[1])
        online = directory(stored.db, Scope(a, channels=("Online",)), last)
        pd.testing.assert_frame_equal(online, want[2])
        assert 0 < online["orders"].sum() < got["orders"].sum()
        assert recorder.ran("account_directory") == 2


def test_key_account_health_at_d_reads_the_stored_accounts_and_coverage(monkeypatch):
    """The Key accounts page at D: the accounts and the coverage at D and 90 days
    before come from the stored rows, with the same table; another share computes."""
    from crmflow.health import account_health, health_coverage

    with demo_stored_and_fresh(n_customers=300, seed=9) as (stored, a, fresh, b):
        last = data_range(fresh.db, b)[1]
        want = [account_health(fresh.db, b, last), health_coverage(fresh.db, b, last),
                account_health(fresh.db, b, last, share=0.5)]
        recorder = Recorder(monkeypatch)
        got = account_health(stored.db, a, last)
        pd.testing.assert_frame_equal(got, want[0])
        assert health_coverage(stored.db, a, last) == want[1]
        assert recorder.ran("key_accounts") == 0 and recorder.ran("health_coverage") == 0
        assert recorder.ran("read_key_accounts") == 1 and recorder.ran("read_health_coverage") == 3
        assert len(got) > 5 and got["score_90d_ago"].notna().any()
        pd.testing.assert_frame_equal(account_health(stored.db, a, last, share=0.5), want[2])
        assert recorder.ran("key_accounts") == 1


def test_an_identical_request_in_flight_is_computed_once():
    """Database.memoised (the CLV fit, the churn track record): a second thread
    asking for the same key while the first builds it waits and gets the same
    object; another key is built meanwhile."""
    import threading
    import time

    db = Database(":memory:")
    started, release = threading.Event(), threading.Event()
    builds: list[str] = []

    def slow():
        builds.append("slow")
        started.set()
        release.wait(30)
        return object()

    got: list[object] = []
    first = threading.Thread(target=lambda: got.append(db.memoised(("k",), slow)))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=lambda: got.append(db.memoised(("k",), slow)))
    second.start()
    time.sleep(0.2)  # lets the second thread reach the key's lock (no time is asserted)
    assert db.memoised(("other",), lambda: "other") == "other"  # not held up by the key being built
    release.set()
    first.join(30)
    second.join(30)
    assert builds == ["slow"]
    assert len(got) == 2 and got[0] is got[1]
    db.close()
