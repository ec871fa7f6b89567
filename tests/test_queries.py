"""Drift tests for queries/: headers present, declared = used parameters,
documented = returned columns, portable to a distributed engine's dialect."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlglot

from crmflow.db import compiled, registry
from crmflow.config import Params

QUERIES = sorted(registry())


@pytest.mark.parametrize("name", QUERIES)
def test_every_query_has_a_full_header(name):
    q = registry()[name]
    assert q.purpose, f"{name}: no purpose"
    assert q.grain, f"{name}: no grain"
    assert q.kind == "script" or q.columns or q.body.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")), name
    compiled(name)  # raises when declared and used parameters differ


def test_no_value_is_spliced_into_sql():
    for q in registry().values():
        assert not re.search(r"\{[a-z_]*\}", q.body), f"{q.name} has a format placeholder"


# queries of the analytics layer must transpile to Spark SQL (the distributed engine)
PORTABLE = [n for n, q in registry().items() if q.path.parent.name not in ("ingest", "store")]


@pytest.mark.parametrize("name", PORTABLE)
def test_analytic_queries_transpile_to_spark(name):
    sql, _ = compiled(name)
    out = sqlglot.transpile(sql, read="duckdb", write="spark")
    assert out and out[0]


def test_documented_columns_match_results(load):
    store, ds = load(
        """
        order_id,customer,date,amount
        O1,A,2024-01-02,10
        O2,A,2024-06-01,10
        O3,B,2023-06-01,10
        """,
        customers="customer_id,created_at\nA,2023-12-01\nL,2024-01-01\n",
        interactions="customer_id,date,type\nA,2024-02-01,visit\n",
    )
    p = Params().as_sql_params()
    calls = {
        "customer_stages": dict(dates=[date(2024, 6, 30)], **p),
        "stage_counts": dict(dates=[date(2024, 6, 30)], **p),
        "stage_snapshots": dict(dates=[date(2024, 1, 31), date(2024, 6, 30)], **p),
        "stage_flow": dict(dates=[date(2024, 1, 31), date(2024, 6, 30)], **p),
        "flow_customers": dict(dates=[date(2024, 1, 31), date(2024, 6, 30)], from_stage="first",
                               to_stage="repeat", **p),
        "won_back_lost_monthly": dict(as_of=date(2024, 6, 30), lost_after_days=180),
        "last_order_date": {},
    }
    for name, params in calls.items():
        df = store.db.run(name, dataset_id=ds, **params)
        assert list(df.columns) == list(registry()[name].columns), name
    views = {n: q for n, q in registry().items() if q.kind == "view"}
    with store.db.cursor(ds) as cur:
        for name, q in views.items():
            cols = [d[0] for d in cur.execute("SELECT * FROM " + name + " LIMIT 0").description]
            assert cols == list(q.columns), name
    for name in ("list_datasets", "get_dataset", "rejected_rows", "next_dataset_id"):
        kwargs = {"dataset_name": "fixture"} if name == "get_dataset" else {}
        if name == "rejected_rows":
            kwargs = {"target_id": ds}
        df = store.db.run(name, **kwargs)
        assert list(df.columns) == list(registry()[name].columns), name


def test_a_stray_parameter_is_an_error(load):
    from crmflow.errors import QueryError

    store, ds = load("customer,date,amount\nA,2024-01-02,10\n")
    with pytest.raises(QueryError):
        store.db.run("last_order_date", dataset_id=ds, as_of=date(2024, 1, 1))
