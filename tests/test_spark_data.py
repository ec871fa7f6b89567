"""The Parquet copy the Spark engine reads (issue 16): each stored dataset's
tables under <folder>/<table>/dataset_id=N/, kept in step with ingest, replace
and delete. Needs no Spark: the copy is read back with pyarrow and compared
with the DuckDB store."""

from __future__ import annotations

import pyarrow.dataset as pads
import pytest

from conftest import write

from crmflow.engine_spark import DATA_ENV, ENGINE_ENV, TABLES, SparkData, data_folder, engine_name
from crmflow.errors import CrmflowError
from crmflow.store import Store

TX = """
customer_id,order_id,date,amount,channel
A,1,2024-01-05,10.50,web
A,1,2024-01-06,2.25,web
B,2,2024-02-01,-3,shop
"""
TX2 = """
customer_id,date,amount
C,2024-03-01,7
"""
CUSTOMERS = """
customer_id,region
A,North
D,South
"""


def _read(folder, table, dataset_id):
    part = folder / table / f"dataset_id={dataset_id}"
    if not part.exists():
        return None
    return pads.dataset(part, format="parquet").to_table().to_pandas()


def test_ingest_replace_delete_keep_the_copy_in_step(tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    monkeypatch.setenv(DATA_ENV, str(copy))
    store = Store(tmp_path / "crm.duckdb")
    try:
        first = store.ingest("sales", write(tmp_path, "t.csv", TX), write(tmp_path, "c.csv", CUSTOMERS)).dataset
        data = SparkData(copy)
        assert data.has(first.dataset_id)
        tx = _read(copy, "transactions", first.dataset_id)
        assert sorted(tx["customer_id"]) == ["A", "A", "B"]
        assert sorted(float(a) for a in tx["amount"]) == [-3.0, 2.25, 10.5]
        assert "dataset_id" not in tx.columns  # the folder names the dataset
        orders = _read(copy, "orders", first.dataset_id)
        assert len(orders) == 1 and float(orders["amount"].iloc[0]) == 12.75  # order 1: both lines > 0
        assert sorted(_read(copy, "customers", first.dataset_id)["customer_id"]) == ["A", "D"]
        assert sorted(_read(copy, "transaction_customers", first.dataset_id)["customer_id"]) == ["A", "B"]

        second = store.ingest("sales", write(tmp_path, "t2.csv", TX2), replace=True).dataset
        assert second.dataset_id != first.dataset_id
        assert not data.has(first.dataset_id)
        assert all(_read(copy, t, first.dataset_id) is None for t in TABLES)
        assert _read(copy, "transactions", second.dataset_id)["customer_id"].tolist() == ["C"]

        store.delete("sales")
        assert not data.has(second.dataset_id)
        assert all(_read(copy, t, second.dataset_id) is None for t in TABLES)
    finally:
        store.close()


def test_no_copy_unless_spark_is_wanted(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    store = Store(tmp_path / "crm.duckdb")
    try:
        store.ingest("sales", write(tmp_path, "t.csv", TX))
        assert not (tmp_path / "crm.duckdb.spark").exists()
    finally:
        store.close()


def test_default_folder_is_beside_the_store(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert data_folder(tmp_path / "crm.duckdb") == tmp_path / "crm.duckdb.spark"
    assert data_folder(":memory:") is None
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "elsewhere"))
    assert data_folder(tmp_path / "crm.duckdb") == tmp_path / "elsewhere"


def test_engine_name(monkeypatch):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    assert engine_name() == "duckdb"
    monkeypatch.setenv(ENGINE_ENV, "Spark")
    assert engine_name() == "spark"
    assert engine_name("duckdb") == "duckdb"
    monkeypatch.setenv(ENGINE_ENV, "presto")
    with pytest.raises(CrmflowError) as err:
        engine_name()
    assert "presto" in str(err.value) and err.value.localized("zh").startswith("没有名为 presto")
