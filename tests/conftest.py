"""Shared fixtures: tiny datasets written as files and ingested in memory."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crmflow.store import Store  # noqa: E402

DATA = Path(__file__).parent / "data"
CDNOW_MASTER = DATA / "cdnow" / "CDNOW_master.txt"
CDNOW_SAMPLE = DATA / "cdnow" / "CDNOW_sample.txt"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
    return path


@pytest.fixture
def load(tmp_path):
    """load(transactions_csv, customers_csv=None, interactions_csv=None) -> (store, dataset_id)."""
    stores = []

    def _load(transactions: str, customers: str | None = None, interactions: str | None = None, **kw):
        store = Store(in_memory=True)
        stores.append(store)
        t = write(tmp_path, "t.csv", transactions)
        c = write(tmp_path, "c.csv", customers) if customers else None
        i = write(tmp_path, "i.csv", interactions) if interactions else None
        result = store.ingest("fixture", t, c, i, **kw)
        return store, result.dataset.dataset_id

    yield _load
    for s in stores:
        s.close()
