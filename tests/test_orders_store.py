"""The orders table stored at ingest (queries/store/insert_orders.sql) and the
staging view stg_orders that reads it: it must hold exactly the orders SPEC §2
defines -- those of stg_order_days, regrouped from the lines -- under every
global filter, be filled in for a database made before it existed, and go
with its dataset on delete and replace."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from crmflow.db import Database, Scope
from crmflow.store import Store
from tests.conftest import write

LINES = """\
customer_id,order_id,order_date,amount,channel,region
a,o1,2024-01-01,10,web,north
a,o1,2024-01-05,5,shop,north
a,,2024-01-05,3,web,north
a,,2024-01-05,2,shop,north
b,,2024-02-01,4,web,south
b,,2024-02-01,-2,web,south
c,,2024-03-01,-5,shop,south
d,x,2024-01-10,7,shop,north
d,x,2023-12-01,0,web,north
e,,2024-04-01,9,,south
0042,o9,2024-04-02,1.25,web,north
0042,o9,2024-04-02,1.25,web,north
"""

#: The orders worked out by hand: (customer, first day, amount).
EXPECTED = {
    None: [("0042", "2024-04-02", 2.5), ("a", "2024-01-01", 15), ("a", "2024-01-05", 5), ("b", "2024-02-01", 4),
           ("d", "2024-01-10", 7), ("e", "2024-04-01", 9)],
    # web lines only: o1 keeps its first day, the day order of a keeps 3 of its 5
    ("web",): [("0042", "2024-04-02", 2.5), ("a", "2024-01-01", 10), ("a", "2024-01-05", 3),
               ("b", "2024-02-01", 4)],
    ("shop",): [("a", "2024-01-05", 5), ("a", "2024-01-05", 2), ("d", "2024-01-10", 7)],
}


def _orders(db: Database, scope: Scope, sql: str) -> list[tuple[str, str, float]]:
    with db.cursor(scope) as cur:
        frame = cur.execute(sql).df()
    return sorted((r.customer_id, str(pd.Timestamp(r.order_date).date()), float(r.amount))
                  for r in frame.itertuples(index=False))


VIEW = "SELECT customer_id, order_date, amount FROM stg_orders"
REGROUPED = ("SELECT customer_id, MIN(order_date) AS order_date, SUM(amount) AS amount "
             "FROM stg_order_days GROUP BY customer_id, order_key")


@pytest.fixture
def stored(tmp_path):
    store = Store(in_memory=True)
    dataset_id = store.ingest("lines", write(tmp_path, "t.csv", LINES)).dataset.dataset_id
    yield store, dataset_id
    store.close()


@pytest.mark.parametrize("channels", [None, ("web",), ("shop",)])
def test_stored_orders_are_the_orders_of_the_lines(stored, channels):
    store, dataset_id = stored
    scope = Scope(dataset_id, channels=channels)
    assert _orders(store.db, scope, VIEW) == sorted(EXPECTED[channels])
    assert _orders(store.db, scope, VIEW) == _orders(store.db, scope, REGROUPED)


def test_customer_set_filter_narrows_the_stored_orders(stored):
    store, dataset_id = stored
    set_id = store.db.store_customer_set(["a", "0042"])
    for channels in (None, ("web",)):
        scope = Scope(dataset_id, customer_set=set_id, channels=channels)
        expected = [row for row in EXPECTED[channels] if row[0] in ("a", "0042")]
        assert _orders(store.db, scope, VIEW) == sorted(expected)


def test_stored_orders_table_counts_lines(stored):
    store, dataset_id = stored
    rows = store.db._con.execute(
        "SELECT customer_id, order_id, lines FROM orders WHERE dataset_id = ? ORDER BY ALL", [dataset_id]).fetchall()
    assert rows == [("0042", "o9", 2), ("a", "o1", 2), ("a", None, 2), ("b", None, 1), ("d", "x", 1),
                    ("e", None, 1)]


def test_database_made_before_the_orders_table_gets_it_filled_on_open(tmp_path):
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        first = store.ingest("one", write(tmp_path, "t.csv", LINES)).dataset.dataset_id
        returns_only = store.ingest("returns", write(tmp_path, "r.csv", "customer_id,order_date,amount\n"
                                                     "z,2024-01-01,-3\n")).dataset.dataset_id
        before = _orders(store.db, Scope(first), VIEW)
    con = duckdb.connect(str(path))  # what an older crmflow left: no derived tables at all
    con.execute("DROP TABLE orders")
    con.execute("DROP TABLE transaction_customers")
    con.close()
    with Store(path) as store:
        assert _orders(store.db, Scope(first), VIEW) == before
        assert _orders(store.db, Scope(returns_only), VIEW) == []
        assert _ids(store.db, Scope(first)) == ["0042", "a", "b", "c", "d", "e"]
        assert _ids(store.db, Scope(returns_only)) == ["z"]
        assert store.db.run("incomplete_datasets").empty  # nothing left to fill, no refill on every open


def test_orders_go_with_their_dataset_on_replace_and_delete(tmp_path):
    store = Store(in_memory=True)
    try:
        old = store.ingest("x", write(tmp_path, "t.csv", LINES)).dataset.dataset_id
        new = store.ingest("x", write(tmp_path, "u.csv", "customer_id,order_date,amount\nq,2024-05-01,8\n"),
                           replace=True).dataset.dataset_id
        for table in ("orders", "transaction_customers"):
            count = f"SELECT dataset_id, COUNT(*) FROM {table} GROUP BY ALL ORDER BY ALL"
            assert store.db._con.execute(count).fetchall() == [(new, 1)], table
        assert old != new
        store.delete("x")
        for table in ("orders", "transaction_customers"):
            assert store.db._con.execute(f"SELECT COUNT(*) FROM {table}").fetchall() == [(0,)], table
    finally:
        store.close()


def _ids(db: Database, scope: Scope) -> list[str]:
    with db.cursor(scope) as cur:
        return sorted(cur.execute("SELECT customer_id FROM stg_transaction_customers").df()["customer_id"])


@pytest.mark.parametrize("channels", [None, ("web",), ("shop",)])
def test_stored_transaction_customers_are_the_customers_of_the_lines(stored, channels):
    """Every customer with a line (returns-only and zero-amount ones too), under
    each filter: the stored table, or the kept lines under a channel filter."""
    store, dataset_id = stored
    set_id = store.db.store_customer_set(["a", "c", "e"])
    for scope in (Scope(dataset_id, channels=channels), Scope(dataset_id, set_id, channels),
                  Scope(dataset_id, channels=channels).narrowed(["b", "c"])):
        with store.db.cursor(scope) as cur:
            expected = sorted(cur.execute("SELECT DISTINCT customer_id FROM stg_transactions").df()["customer_id"])
        assert _ids(store.db, scope) == expected
    assert _ids(store.db, Scope(dataset_id)) == ["0042", "a", "b", "c", "d", "e"]
    assert _ids(store.db, Scope(dataset_id, channels=("shop",))) == ["a", "c", "d"]
