"""Drift tests for queries/: headers present, declared = used parameters,
documented = returned columns."""

from __future__ import annotations

import re
from datetime import date

import pytest

from crmflow.config import Params
from crmflow.db import compiled, registry

QUERIES = sorted(registry())


@pytest.mark.parametrize("name", QUERIES)
def test_every_query_has_a_full_header(name):
    q = registry()[name]
    assert q.purpose, f"{name}: no purpose"
    assert q.grain, f"{name}: no grain"
    if q.kind == "macro":
        assert q.arguments, f"{name}: a macro names its arguments"
    else:
        assert q.kind == "script" or q.columns or q.body.lstrip().upper().startswith(("INSERT", "UPDATE",
                                                                                     "DELETE")), name
    compiled(name)  # raises when declared and used parameters differ


def test_no_value_is_spliced_into_sql():
    for q in registry().values():
        assert not re.search(r"\{[a-z_]*\}", q.body), f"{q.name} has a format placeholder"


# That the analytic queries run on Spark is proven by executing them on both
# engines (tests/test_spark_engine.py); transpiling alone proved nothing (issue 16).


#: A sample value for every parameter name a query may declare. A new
#: parameter name fails test_documented_columns_match_results until it has one,
#: so every query is run and its documented columns checked.
SAMPLE_PARAMS = {
    "dates": [date(2024, 1, 31), date(2024, 6, 30)],
    "as_of": date(2024, 6, 30),
    "calibration_end": date(2024, 3, 31),
    "start_date": date(2024, 1, 31),
    "end_date": date(2024, 6, 30),
    "from_stage": "first",
    "to_stage": "repeat",
    "measure": "revenue",
    "customer_id": "A",
    "customer_ids": ["A", "B"],
    "share": 0.8,
    "max_accounts": 50,
    "window_days": 180,
    "payment_window_days": 365,
    "complaint_pattern": "complain|投诉",
    "contact_target": 3.0,
    "recency_zero_ratio": 3.0,
    "complaint_penalty": 25.0,
    "cultivation_days": 180,
    "cultivation_orders": 3,
    "phase_band": 0.2,
    "overdue_limit": 2.0,
    "has_cost": True,
    "dataset_margin": 0.3,
    "start": date(2024, 1, 1),
    "split": "region",
    "starts": [date(2024, 1, 1), date(2023, 1, 1)],
    "ends": [date(2024, 6, 30), date(2023, 6, 30)],
    "has_due_dates": True,
    "has_categories": True,
    "max_categories": 3,
    "has_interactions": True,
    "has_complaints": False,
    "horizon_end": date(2024, 9, 28),
    **Params().as_sql_params(),
}


def _sample_call(name, ds):
    q = registry()[name]
    missing = [p for p in q.params if p not in SAMPLE_PARAMS]
    assert not missing, f"{name}: add a sample value for {missing} to SAMPLE_PARAMS"
    return {p: SAMPLE_PARAMS[p] for p in q.params}


# queries/results/ writes and reads the stored results: their columns are checked
# against the queries they store in tests/test_results.py
ANALYTIC = sorted(n for n, q in registry().items()
                  if q.kind == "query" and q.path.parent.name not in ("ingest", "store", "results"))


def test_documented_columns_match_results(load):
    store, ds = load(
        """
        order_id,customer,date,amount,cost,category,due_date,paid_date
        O1,A,2024-01-02,10,6,books,2024-02-01,2024-02-03
        O2,A,2024-06-01,10,5,music,2024-07-01,
        O3,B,2023-06-01,10,,books,,
        """,
        customers="customer_id,created_at,is_key_account\nA,2023-12-01,yes\nL,2024-01-01,no\n",
        interactions="customer_id,date,type,resolved\nA,2024-02-01,visit,\nA,2024-03-01,complaint,no\n",
    )
    for name in ANALYTIC:
        df = store.db.run(name, dataset_id=ds, **_sample_call(name, ds))
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
