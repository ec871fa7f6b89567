"""The Parquet copy the Spark engine reads (issue 16): each stored dataset's
tables under <folder>/<table>/dataset_id=N/, kept in step with ingest, replace
and delete, in a local folder or on S3 (a moto S3 server on this machine).
Needs no Spark: the copy is read back with pyarrow and compared with the
DuckDB store."""

from __future__ import annotations

import socket

import pandas as pd
import pyarrow.dataset as pads
import pytest
from pyarrow import fs as pafs

from conftest import write
from crmflow import results

from crmflow.engine_spark import DATA_ENV, ENGINE_ENV, TABLES, SparkData, data_folder, engine_name
from crmflow.errors import CrmflowError
from crmflow.store import Store

BUCKET = "crm-copy"

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on this machine with the bucket BUCKET: its host:port."""
    import boto3  # comes with moto[server] (requirements-dev.txt)
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket=BUCKET)
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def _s3_url(endpoint: str, path: str) -> str:
    return f"s3://{path}?endpoint_override={endpoint}&scheme=http&region=us-east-1"


@pytest.fixture
def aws_keys(monkeypatch):
    """Dummy credentials for pyarrow's AWS chain (moto accepts any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(params=["local", "s3"])
def copy_at(request, tmp_path):
    """Where the copy goes, (the location the user names, pyarrow's file system, the path in it),
    read back with pyarrow's own file systems (not crmflow's)."""
    if request.param == "local":
        folder = tmp_path / "copy"
        return str(folder), pafs.LocalFileSystem(), str(folder)
    request.getfixturevalue("aws_keys")
    url = _s3_url(request.getfixturevalue("s3_endpoint"), f"{BUCKET}/{request.node.originalname}")
    filesystem, root = pafs.FileSystem.from_uri(url)
    return url, filesystem, root


def _read(copy, table, dataset_id):
    """One table's partition of the copy as a frame (None when the partition is not there)."""
    _, filesystem, root = copy
    part = f"{root}/{table}/dataset_id={dataset_id}"
    if filesystem.get_file_info(part).type == pafs.FileType.NotFound:
        return None
    return pads.dataset(part, format="parquet", filesystem=filesystem).to_table().to_pandas()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), na_position="first").reset_index(drop=True)


def _assert_copy_is_the_store(store, copy, dataset_id):
    """Every table's partition holds the dataset's rows of the store (read whole, filtered by pandas)."""
    for table in TABLES:
        with store.db.cursor() as cur:
            everything = cur.execute(f"SELECT * FROM {table}").to_arrow_table().to_pandas()  # noqa: S608
        stored = everything[everything["dataset_id"] == dataset_id].drop(columns="dataset_id")
        copied = _read(copy, table, dataset_id)
        assert copied is not None, table
        if stored.empty:
            assert copied.empty, table
            continue
        pd.testing.assert_frame_equal(_sorted(copied), _sorted(stored), check_dtype=False, obj=table)


def test_ingest_replace_delete_keep_the_copy_in_step(tmp_path, monkeypatch, copy_at):
    location = copy_at[0]
    monkeypatch.setenv(DATA_ENV, location)
    store = Store(tmp_path / "crm.duckdb")
    try:
        first = store.ingest("sales", write(tmp_path, "t.csv", TX), write(tmp_path, "c.csv", CUSTOMERS)).dataset
        data = SparkData(location)
        assert data.has(first.dataset_id)
        assert data.complete() == {first.dataset_id}
        tx = _read(copy_at, "transactions", first.dataset_id)
        assert sorted(tx["customer_id"]) == ["A", "A", "B"]
        assert sorted(float(a) for a in tx["amount"]) == [-3.0, 2.25, 10.5]
        assert "dataset_id" not in tx.columns  # the folder names the dataset
        orders = _read(copy_at, "orders", first.dataset_id)
        assert len(orders) == 1 and float(orders["amount"].iloc[0]) == 12.75  # order 1: both lines > 0
        assert sorted(_read(copy_at, "customers", first.dataset_id)["customer_id"]) == ["A", "D"]
        assert sorted(_read(copy_at, "transaction_customers", first.dataset_id)["customer_id"]) == ["A", "B"]
        _assert_copy_is_the_store(store, copy_at, first.dataset_id)

        second = store.ingest("sales", write(tmp_path, "t2.csv", TX2), replace=True).dataset
        assert second.dataset_id != first.dataset_id
        assert not data.has(first.dataset_id)
        assert data.complete() == {second.dataset_id}
        assert all(_read(copy_at, t, first.dataset_id) is None for t in TABLES)
        assert _read(copy_at, "transactions", second.dataset_id)["customer_id"].tolist() == ["C"]
        _assert_copy_is_the_store(store, copy_at, second.dataset_id)

        store.delete("sales")
        assert not data.has(second.dataset_id)
        assert data.complete() == frozenset()
        assert all(_read(copy_at, t, second.dataset_id) is None for t in TABLES)
    finally:
        store.close()


def test_the_marker_is_written_last_and_an_export_replaces_the_old_copy(tmp_path, monkeypatch, copy_at):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    store = Store(tmp_path / "crm.duckdb")
    try:
        ds = store.ingest("sales", write(tmp_path, "t.csv", TX), write(tmp_path, "c.csv", CUSTOMERS)).dataset
        data = SparkData(copy_at[0])
        written = []
        real_write = pads.write_dataset

        def failing_write(data_, base_dir, **kw):
            if len(written) == 2:
                raise OSError("injected: the store went away")
            written.append(base_dir)
            return real_write(data_, base_dir, **kw)

        monkeypatch.setattr(pads, "write_dataset", failing_write)
        with pytest.raises(CrmflowError) as err:
            data.export(store.db, ds.dataset_id)
        assert err.value.key == "spark_data_failed" and "injected" in str(err.value)
        assert _read(copy_at, TABLES[0], ds.dataset_id) is not None  # half written ...
        assert not data.has(ds.dataset_id) and data.complete() == frozenset()  # ... and never complete

        monkeypatch.setattr(pads, "write_dataset", real_write)
        _, filesystem, root = copy_at
        stale = f"{root}/transactions/dataset_id={ds.dataset_id}/part-9.parquet"  # an older copy's file
        with filesystem.open_output_stream(stale) as out:
            out.write(b"not parquet")
        data.export(store.db, ds.dataset_id)
        assert data.has(ds.dataset_id) and data.complete() == {ds.dataset_id}
        assert filesystem.get_file_info(stale).type == pafs.FileType.NotFound
        _assert_copy_is_the_store(store, copy_at, ds.dataset_id)
        assert data.filled("transactions") == {ds.dataset_id}
        assert data.filled("interactions") == frozenset()  # no interaction: no file Spark could read
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
    url = "s3://bucket/prefix?endpoint_override=127.0.0.1:9000&scheme=http"
    monkeypatch.setenv(DATA_ENV, f" {url} ")
    assert data_folder(tmp_path / "crm.duckdb") == url  # a URL as it is, never a Path


def test_the_path_spark_reads():
    query = "?endpoint_override=127.0.0.1:9000&scheme=http&region=us-east-1"
    s3 = SparkData(f"s3://KEY:SECRET@bucket/some/prefix/{query}")
    assert s3.spark_path("orders") == "s3a://bucket/some/prefix/orders"
    assert s3.spark_path("orders", 7) == "s3a://bucket/some/prefix/orders/dataset_id=7"
    assert SparkData("gs://bucket/copy").spark_path("orders", 7) == "gs://bucket/copy/orders/dataset_id=7"
    assert SparkData("hdfs://namenode:8020/crm").spark_path("orders") == "hdfs://namenode:8020/crm/orders"
    assert SparkData("/srv/crm copy").spark_path("orders", 7) == "/srv/crm copy/orders/dataset_id=7"


def test_a_copy_that_cannot_be_written_is_one_clear_error(tmp_path, monkeypatch, s3_endpoint, aws_keys, capsys):
    from crmflow.cli import main

    sales = write(tmp_path, "t.csv", TX)
    closed = f"127.0.0.1:{_free_port()}"  # nothing listens there
    for url, shown, reason in [
        (_s3_url(s3_endpoint, "no-such-bucket/copy"), "s3://no-such-bucket/copy?", "bucket does not exist"),
        (_s3_url(s3_endpoint, "AKIDKEY:SECRETKEY@no-such-bucket/copy"), "s3://no-such-bucket/copy?",
         "bucket does not exist"),
        (_s3_url(closed, f"{BUCKET}/copy"), closed, "Could not connect"),
        ("nosuchscheme://host/copy", "nosuchscheme://host/copy", "Unrecognized filesystem type"),
    ]:
        monkeypatch.setenv(DATA_ENV, url)
        store = Store(tmp_path / "crm.duckdb")
        try:
            with pytest.raises(CrmflowError) as err:
                store.ingest("sales", sales, replace=True)
            # the dataset and its stored results are kept: only the copy is missing
            stored = store.get("sales").dataset_id
            assert results.has_results(store.db, stored) and results.without_fits(store.db) == []
            with pytest.raises(CrmflowError) as direct:
                SparkData(url).export(store.db, stored)
        finally:
            store.close()
        assert err.value.key == "spark_copy_not_written" and direct.value.key == "spark_data_failed", url
        for text in (str(err.value), str(direct.value)):
            assert shown in text and reason in text and "CRMFLOW_SPARK_DATA" in text, text
            assert "SECRETKEY" not in text and "AKIDKEY" not in text
            assert "Traceback" not in text and "\n" not in text
        assert "'sales' is stored" in str(err.value)
        assert err.value.localized("zh").startswith("数据集“sales”已保存")
        assert direct.value.localized("zh").startswith("无法使用 Spark 读取的 Parquet 副本")

    monkeypatch.setenv(DATA_ENV, _s3_url(s3_endpoint, "no-such-bucket/copy"))
    assert main(["ingest", str(sales), "--name", "cli", "--db", str(tmp_path / "cli.duckdb")]) == 2
    out = capsys.readouterr().err
    assert out.startswith("crmflow: error: Dataset 'cli' is stored, but its Parquet copy for Spark, "
                          "at s3://no-such-bucket/copy")
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert main(["stages", "--dataset", "cli", "--db", str(tmp_path / "cli.duckdb")]) == 0  # DuckDB as usual


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
