"""Ten sessions at once on one shared store (issue 15, "Checks"): uploads, a
replace, a rename and a delete run at the same time as reads, the way ten
browser sessions of one dashboard server share its one ``Store(shared=True)``
(crmflow.ui.common.get_store); every write goes through the writing child
process. Afterwards every dataset's numbers equal those of the same file
stored alone in memory (stage counts, RFM table and order count as a
checksum), the deleted dataset is gone and the renamed one kept its rows.

Bounded: ten threads, one write each (three readers read five times), on
small files; nothing listens on the network.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import date

import pandas as pd
import pytest

from crmflow import demo
from crmflow.analytics import rfm
from crmflow.errors import CrmflowError
from crmflow.stages import stage_counts
from crmflow.store import Store

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Seven transaction files cut from the demo data, by customer (each a
    valid dataset of its own)."""
    folder = tmp_path_factory.mktemp("concurrent")
    tx = demo.generate(n_customers=700).transactions
    ids = sorted(tx["customer_id"].unique())
    out = []
    for k in range(7):
        part = tx[tx["customer_id"].isin(ids[k::7])]
        path = folder / f"part{k}.csv"
        part.to_csv(path, index=False)
        out.append(path)
    return out


def checksum(store: Store, name: str) -> str:
    """A digest of what the pages show of a dataset: stage counts and the RFM table at AS_OF."""
    ds = store.get(name).dataset_id
    counts = stage_counts(store.db, ds, AS_OF)
    table = rfm(store.db, ds, AS_OF).sort_values("customer_id").reset_index(drop=True)
    digest = hashlib.sha256(repr(sorted(counts.items())).encode())
    digest.update(pd.util.hash_pandas_object(table.astype(str), index=False).values.tobytes())
    return digest.hexdigest()


def reference(path) -> str:
    with Store(in_memory=True) as store:
        store.ingest("x", path, results=False)
        return checksum(store, "x")


def test_ten_sessions_writing_and_reading_at_once_lose_nothing(files, tmp_path):
    db = tmp_path / "crmflow.duckdb"
    with Store(db) as store:
        store.ingest("keep", files[0])
        store.ingest("old name", files[1])
        store.ingest("doomed", files[2])
        store.ingest("replaced", files[3])
    before = {}
    with Store(db, read_only=True) as store:
        for name in ("keep", "old name"):
            before[name] = checksum(store, name)

    shared = Store(db, shared=True)  # one store for every session, as the dashboard holds it
    errors: list[BaseException] = []
    reads: list[str] = []
    start = threading.Barrier(10)

    def session(work):
        try:
            start.wait(timeout=60)
            work()
        except BaseException as exc:  # collected and reported below, with the session's own error
            errors.append(exc)

    def reader():
        for _ in range(5):
            try:
                reads.append(checksum(shared, "keep"))
            except CrmflowError as exc:  # a read may be told to wait for a write, in words; never wrong rows
                assert exc.key in {"db_busy"}, exc

    work = [
        lambda: shared.ingest("up 1", files[4], actor="ana", via="dashboard"),
        lambda: shared.ingest("up 2", files[5], actor="bo", via="dashboard"),
        lambda: shared.ingest("up 3", files[6], actor="cy", via="dashboard"),
        lambda: shared.ingest("replaced", files[4], replace=True, actor="di", via="dashboard"),
        lambda: shared.rename("old name", "new name", actor="ed", via="dashboard"),
        lambda: shared.delete("doomed", actor="fa", via="dashboard"),
        lambda: shared.ingest("up 4", files[0], actor="gu", via="dashboard"),
        reader, reader, reader,
    ]
    threads = [threading.Thread(target=session, args=(w,)) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "a session did not finish"
    shared.close()
    assert errors == [], errors

    with Store(db, read_only=True) as store:
        names = set(store.datasets()["name"])
        assert names == {"keep", "new name", "replaced", "up 1", "up 2", "up 3", "up 4"}
        assert checksum(store, "keep") == before["keep"] == reference(files[0])
        assert checksum(store, "new name") == before["old name"] == reference(files[1])
        assert checksum(store, "replaced") == reference(files[4])
        for name, path in (("up 1", files[4]), ("up 2", files[5]), ("up 3", files[6]), ("up 4", files[0])):
            assert checksum(store, name) == reference(path), name
    assert reads and set(reads) == {before["keep"]}  # every read during the writes saw the right rows
