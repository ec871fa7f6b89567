"""The Spark engine (issue 16), proven by executing: every analytic named query
of ``queries/`` runs on Spark (pyspark, local mode) and on DuckDB over the same
stored data, on the demo data and on CDNOW, with and without the global
filters (on the demo a region with a channel and the signed-in owner's scope
with segments; on CDNOW and a priced fixture a narrowed customer set); the rows (sorted, floats to
1e-9 relative) and the dtypes must be identical. The command line with
``--engine spark`` gives DuckDB's answers.

One SparkSession serves the whole test session (``local[2]``, two shuffle
partitions, no UI); each dataset is stored and written for Spark once per
module, each query translated once, and each query runs once per dataset x
filter. Every test is in the xdist group ``spark``, so under ``pytest -n``
one worker owns the session.

Run only these with ``pytest -m spark``. They are skipped when pyspark or Java
17 is missing, except under CI (``CI`` set), where a missing engine fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from conftest import CDNOW_MASTER, ROOT

from crmflow.churn import COMPLAINT_PATTERN
from crmflow.config import Params
from crmflow.db import Scope, compiled, get_query
from crmflow.engine_spark import CODE_CACHE
from crmflow.health import HealthRules

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

MASTER = "local[2]"


def _engine_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -r requirements-spark.txt)"
    from crmflow.engine_spark import java_version

    if java_version() is None:
        return "Java 17 is not installed"
    return None


_MISSING = _engine_missing()
if _MISSING and not os.environ.get("CI"):
    pytest.skip(_MISSING, allow_module_level=True)


def test_engine_present_under_ci():
    """Under CI the Spark engine must be installed: the tests below must run, not skip."""
    assert _MISSING is None, _MISSING


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def spark_session_fixture():
    """The one SparkSession of the test session (crmflow keeps one per master)."""
    from crmflow.engine_spark import spark_session

    # a JVM that lives for one test run: its quick compiler only (the optimising
    # one spends most of a short run compiling); pyspark's own variable. Its
    # --driver-java-options replace crmflow's spark.driver.extraJavaOptions, so
    # they repeat the code cache crmflow asks for: with the 48 MB a quick-compiler
    # JVM gets by default, a whole run once ended in "Out of space in CodeCache"
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f'--driver-java-options "-XX:TieredStopAtLevel=1 {CODE_CACHE}" '
                          "pyspark-shell")
    session = spark_session(MASTER)
    assert session.conf.get("spark.sql.shuffle.partitions") == "2"
    return session


def _stored(store, ds, spark_folder):
    from crmflow.engine_spark import SparkDatabase

    return store.db, SparkDatabase(store.db, master=MASTER, folder=spark_folder), ds.dataset_id


@pytest.fixture(scope="module")
def demo(spark_session_fixture, tmp_path_factory):
    from crmflow.store import Store

    store = Store(in_memory=True)
    yield _stored(store, store.ensure_demo(), tmp_path_factory.mktemp("spark-demo"))
    store.close()


@pytest.fixture(scope="module")
def cdnow(spark_session_fixture, tmp_path_factory):
    from crmflow.store import Store

    store = Store(in_memory=True)
    yield _stored(store, store.ingest("cdnow", CDNOW_MASTER).dataset, tmp_path_factory.mktemp("spark-cdnow"))
    store.close()


@pytest.fixture(scope="module")
def priced(spark_session_fixture, tmp_path_factory):
    """The hand-worked loyalty fixture (discounts, list prices, complaints): the
    demo and CDNOW carry no price, so loyalty_prices would return no row there."""
    from test_loyalty import INTERACTIONS, TRANSACTIONS

    from crmflow.store import Store

    folder = tmp_path_factory.mktemp("spark-priced")
    (folder / "t.csv").write_text(TRANSACTIONS.lstrip(), encoding="utf-8")
    (folder / "i.csv").write_text(INTERACTIONS.lstrip(), encoding="utf-8")
    store = Store(in_memory=True)
    ds = store.ingest("priced", folder / "t.csv", interactions=folder / "i.csv").dataset
    yield _stored(store, ds, folder / "copy")
    store.close()


# --------------------------------------------------------------------------- the queries and their values
def _values(db, dataset_id, scope) -> dict[str, object]:
    """A value for every parameter an analytic query takes, at the data's last order date."""
    last = db.run("last_order_date", dataset_id=dataset_id).iloc[0]
    as_of = pd.Timestamp(last["last_order_date"]).date()
    first = pd.Timestamp(last["first_order_date"]).date()
    mid = first + (as_of - first) / 2
    customers = db.run("customer_attributes", dataset_id=dataset_id)["customer_id"]
    customer_id = str(customers.iloc[len(customers) // 3])
    coverage = db.run("health_coverage", dataset_id=scope, as_of=as_of).iloc[0]

    def plain(value, kind):
        return None if value is None or pd.isna(value) else kind(value)

    values = {
        "as_of": as_of, "dates": [mid, as_of - timedelta(days=90), as_of], "start": first,
        "start_date": mid, "end_date": as_of, "calibration_end": mid, "customer_id": customer_id,
        "customer_ids": [str(c) for c in customers.iloc[::7]],
        "starts": [first, mid], "ends": [mid, as_of], "window_days": 90, "payment_window_days": 365,
        "complaint_pattern": COMPLAINT_PATTERN, "measure": "profit", "share": 0.8, "max_accounts": 25,
        "split": "region", "from_stage": "repeat", "to_stage": "lost", "horizon_end": as_of,
        "has_cost": plain(coverage["has_cost"], bool), "dataset_margin": plain(coverage["dataset_margin"], float),
        "has_due_dates": plain(coverage["has_due_dates"], bool),
        "has_categories": plain(coverage["has_categories"], bool),
        "max_categories": plain(coverage["max_categories"], int),
        "has_interactions": plain(coverage["has_interactions"], bool),
        "has_complaints": plain(coverage["has_complaints"], bool),
    }
    values.update(Params().as_sql_params())
    values.update(HealthRules().as_sql_params())
    # per query, the values its caller gives: prospect_features scores at one
    # past date X (dates = [X], as_of = X) and learns the outcome up to horizon_end
    values["prospect_features"] = {"dates": [mid], "as_of": mid, "horizon_end": mid + timedelta(days=120)}
    return values


def _params(values, name) -> dict[str, object]:
    _, declared = compiled(name)
    own = values.get(name, {})
    return {k: own.get(k, values.get(k)) for k in declared}


def _analytic():
    from crmflow.engine_spark import analytic_queries

    return analytic_queries()


def _scope(sdb, dataset_id, name) -> Scope:
    """The scope of a global filter (resolved by crmflow.filters on the Spark
    engine, which keeps each customer set for both engines): a region with a
    channel (a customer set and the lines of one channel), the signed-in
    owner's scope (Filters.scope_owner) with RFM segments scored on Spark within
    it, a segment, a narrowed customer set, or none."""
    from crmflow.filters import Filters, customer_attributes, filter_options, resolve

    if name == "none":
        return Scope(dataset_id)
    attrs = customer_attributes(sdb.db, dataset_id)
    options = filter_options(attrs)
    if name == "customers":
        ids = sorted(map(str, attrs["customer_id"]))
        return Scope(dataset_id).narrowed(ids[::5])
    filters = {
        "region": lambda: Filters(regions=(options["region"][0],)),
        "region_channel": lambda: Filters(regions=(options["region"][0],), channels=(options["channel"][0],)),
        "owner_segment": lambda: Filters(scope_owner=options["owner"][0], segments=("champions", "at_risk",
                                                                                    "loyal")),
        "segment": lambda: Filters(segments=("champions", "at_risk")),
    }
    scope = resolve(sdb, dataset_id, filters[name](), attributes=attrs)
    assert isinstance(scope, Scope), name
    if scope.customer_set is not None:  # a filter that keeps some customers, not none
        assert not scope.customer_set.startswith("0:"), name
    return scope


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted on every column (lists as tuples), index dropped."""
    keyed = frame.copy()
    for col in keyed.columns:
        if keyed[col].dtype == object:
            keyed[col] = keyed[col].map(lambda v: tuple(v) if isinstance(v, (list, np.ndarray)) else v)
    order = keyed.astype(str).sort_values(list(keyed.columns)).index
    return frame.loc[order].reset_index(drop=True)


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame, what: str) -> None:
    assert list(spark.columns) == list(duck.columns), what
    assert spark.dtypes.astype(str).to_dict() == duck.dtypes.astype(str).to_dict(), what
    assert len(spark) == len(duck), what
    d, s = _canonical(duck), _canonical(spark)
    for col in d.columns:
        if pd.api.types.is_float_dtype(d[col]):
            np.testing.assert_allclose(s[col].to_numpy(), d[col].to_numpy(), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=f"{what}: {col}")
        elif d[col].dtype == object:
            for a, b in zip(d[col], s[col]):
                if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), f"{what}: {col}: {a!r} != {b!r}"
                    assert a.dtype == b.dtype and a.tolist() == b.tolist(), f"{what}: {col}"
                else:
                    assert (a is None and b is None) or (a is pd.NA and b is pd.NA) or a == b, \
                        f"{what}: {col}: {a!r} != {b!r}"
        else:
            pd.testing.assert_series_equal(s[col], d[col], check_names=False, obj=f"{what}: {col}")


# --------------------------------------------------------------------------- every query, both engines
#: Queries run under every global filter: together they read every staging
#: view an analytic query reads (asserted below) and the scope macro.
FILTERED = ("stage_counts", "customer_attributes", "rfm", "revenue_by_month", "churn_contact",
            "servqual_item_gaps", "loyalty_customers")
#: The filters run on each dataset (beside no filter, where every analytic query runs).
FILTERS = {"demo": ("region_channel", "owner_segment"), "cdnow": ("customers",), "priced": ("customers",)}
#: On the priced fixture: the queries that read its prices (the rest run on the demo and CDNOW).
PRICED = ("loyalty_prices", "loyalty_customers")


def _cases():
    names = _analytic()
    out = []
    for data in ("demo", "cdnow"):
        out += [(data, "none", n) for n in names]
        out += [(data, f, n) for f in FILTERS[data] for n in FILTERED]
    out += [("priced", f, n) for f in ("none", *FILTERS["priced"]) for n in PRICED]
    return out


@pytest.fixture(scope="module")
def scoped(request):
    """(dataset, filter) -> (duckdb, spark, scope, values), resolved once per module."""
    cache = {}

    def get(data, scope_name):
        if (data, scope_name) not in cache:
            duck, sdb, dataset_id = request.getfixturevalue(data)
            scope = _scope(sdb, dataset_id, scope_name)
            cache[data, scope_name] = (duck, sdb, scope, _values(duck, dataset_id, scope))
        return cache[data, scope_name]

    return get


def test_the_analytic_queries_are_the_queries_outside_store_ingest_and_results():
    """Every named query that reads a dataset's data is executed here. Left to
    DuckDB, by design: ingest/ (reading files), store/ (the store's own
    bookkeeping and the Parquet export), results/ (reading and writing the
    stored result tables, which hold the rows of analytic queries that do run
    on Spark: tests/test_spark_results.py)."""
    names = _analytic()
    assert {"stage_counts", "health_components", "period_totals", "loyalty_customers", "loyalty_prices",
            "prospect_features", "servqual_item_gaps", "servqual_coverage",
            "servqual_response_dimensions"} <= set(names)
    assert not any(get_query(n).path.parent.name in ("store", "ingest", "results") for n in names)
    assert set(FILTERED) <= set(names)
    covered = {n for _, _, n in _cases()}
    assert covered == set(names)
    from crmflow.engine_spark import _staging_ctes

    def views(queries):
        return {v for n in queries for v, _ in _staging_ctes(compiled(n)[0])}

    assert views(FILTERED) == views(names)  # every filtered view (the scope macro) under every filter
    from crmflow.db import registry

    left = {n for n, q in registry().items() if q.kind == "query" and n not in names}
    assert {get_query(n).path.parent.name for n in left} <= {"store", "ingest", "results"}


@pytest.mark.parametrize(("data", "scope_name", "name"), _cases())
def test_query_on_both_engines(scoped, data, scope_name, name):
    duck, sdb, scope, values = scoped(data, scope_name)
    params = _params(values, name)
    expected = duck.run(name, dataset_id=scope, **params)
    got = sdb.run(name, dataset_id=scope, **params)
    assert_same(expected, got, f"{name} [{data}, {scope_name}]")
    if (data, scope_name, name) in (("priced", "none", "loyalty_prices"), ("demo", "none", "stage_counts")):
        assert len(expected) > 0  # the comparison is of rows, not of two empty frames


def test_a_filter_narrows_on_spark(demo):
    """The scope reaches Spark: a region keeps fewer customers than the whole
    dataset, and exactly those of that region (not all: the trap of a variable
    compared with a column of its own name)."""
    duck, sdb, dataset_id = demo
    scope = _scope(sdb, dataset_id, "region")
    everyone = sdb.run("customer_attributes", dataset_id=dataset_id)
    kept = sdb.run("customer_attributes", dataset_id=scope)
    assert 0 < len(kept) < len(everyone)
    region = kept["region"].dropna().unique().tolist()
    assert len(region) == 1
    assert set(kept["customer_id"]) == set(everyone.loc[everyone["region"] == region[0], "customer_id"])


def test_two_datasets_do_not_mix(spark_session_fixture, tmp_path, load):
    """Two stored datasets side by side in one Parquet copy: each query reads its own."""
    from crmflow.engine_spark import SparkDatabase

    store, first = load("customer_id,date,amount\nA,2024-01-05,10\nA,2024-02-05,20\nB,2024-01-07,5\n")
    second = store.ingest("second", ROOT / "tests" / "data" / "cdnow" / "CDNOW_sample.txt").dataset.dataset_id
    sdb = SparkDatabase(store.db, master="local[2]", folder=tmp_path / "copy")
    counts = sdb.run("last_order_date", dataset_id=first)
    assert str(counts.iloc[0]["last_order_date"].date()) == "2024-02-05"
    attrs = sdb.run("customer_attributes", dataset_id=first)
    assert attrs["customer_id"].tolist() == ["A", "B"]
    assert len(sdb.run("customer_attributes", dataset_id=second)) == len(
        store.db.run("customer_attributes", dataset_id=second))


# --------------------------------------------------------------------------- the command line
def _cli(capsys, argv):
    from crmflow.cli import main

    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out



@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    from crmflow.cli import main

    folder = tmp_path_factory.mktemp("demo-files")
    assert main(["demo", "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def demo_store_file(demo_files, tmp_path_factory):
    """The demo files stored once in a store file, without stored results (so
    that every answer below is computed by the engine asked, not read back)."""
    from crmflow.store import Store

    path = tmp_path_factory.mktemp("demo-store") / "crm.duckdb"
    store = Store(path)
    try:
        store.ingest("sales", demo_files / "transactions.csv", demo_files / "customers.csv",
                     demo_files / "interactions.csv", results=False)
    finally:
        store.close()
    return path


def test_cli_file_on_spark_equals_duckdb(spark_session_fixture, demo_files, capsys):
    """A file the engine has never seen: read into the temporary store, written
    for Spark, and answered on Spark exactly as on DuckDB."""
    source = [str(demo_files / "transactions.csv"), "--customers", str(demo_files / "customers.csv"),
              "--interactions", str(demo_files / "interactions.csv")]
    duck = _cli(capsys, ["stages", *source, "--engine", "duckdb"])
    spark = _cli(capsys, ["stages", *source, "--engine", "spark", "--spark", MASTER])
    assert json.loads(spark) == json.loads(duck)
    assert len(json.loads(duck)) > 0


@pytest.mark.parametrize("command", [
    ["flow", "--from", "2024-06-30", "--to", "2025-06-30"], ["rfm"], ["churn", "--all"], ["health"],
])
def test_cli_dataset_on_spark_equals_duckdb(spark_session_fixture, demo_store_file, capsys, command):
    """flow, rfm, churn and health of a stored dataset, on Spark as on DuckDB
    (the Parquet copy beside the store file written on first use)."""
    source = ["--dataset", "sales", "--db", str(demo_store_file)]
    duck = _cli(capsys, [command[0], *source, *command[1:], "--engine", "duckdb"])
    spark = _cli(capsys, [command[0], *source, *command[1:], "--engine", "spark", "--spark", MASTER])
    assert json.loads(spark) == json.loads(duck)
    assert len(json.loads(duck)) > 0


def test_cli_without_java_says_so(tmp_path, demo_files):
    """Java missing: one clear line, exit status 2, before any file is read."""
    env = dict(os.environ, JAVA_HOME=str(tmp_path / "no-java"), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "crmflow", "stages", str(demo_files / "transactions.csv"),
                          "--engine", "spark"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert run.returncode == 2
    assert run.stderr.startswith("crmflow: error: The Spark engine needs Java 17")
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_the_local_jvm_has_the_code_cache_crmflow_asks_for(spark_session_fixture):
    """The option reaches the JVM itself, not only Spark's configuration."""
    from pyspark import SparkContext

    jvm = SparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert CODE_CACHE in arguments


def test_a_jvm_that_ended_is_replaced(demo, caplog):
    """The local JVM killed under a long-lived process (a dashboard, a test run):
    the next query starts a new JVM, says so in one line, and answers as before
    (the views of the copy made again on the new one). This test runs last of
    the file: the tests after it on this worker get the new JVM."""
    import signal

    from pyspark import SparkContext

    duck, sdb, dataset_id = demo
    scope = _scope(sdb, dataset_id, "region")
    before = sdb.run("customer_attributes", dataset_id=scope)
    old = SparkContext._gateway.proc
    os.kill(old.pid, signal.SIGKILL)
    old.wait(30)
    with caplog.at_level("WARNING", logger="crmflow.engine_spark"):
        after = sdb.run("customer_attributes", dataset_id=scope)
    pd.testing.assert_frame_equal(after, before)
    assert SparkContext._gateway.proc is not old and SparkContext._gateway.proc.poll() is None
    said = [r.getMessage() for r in caplog.records if r.name == "crmflow.engine_spark"]
    assert said == [f"Spark's JVM ended (exit code {-signal.SIGKILL}); starting a new one"]
    # the JVM's arguments came again from crmflow and the test run
    jvm = SparkContext._jvm
    assert CODE_CACHE in list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
