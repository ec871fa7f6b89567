"""The store / dashboard-sharing fixes (issue 15 review): relative paths, upload
folders of other servers, errors on the pages, the busy test, a write that
succeeded, the server's config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _sales(path: Path) -> Path:
    pd.DataFrame({
        "customer_id": ["a", "b", "a", "c"],
        "order_date": ["2023-01-05", "2023-02-01", "2023-03-09", "2023-04-01"],
        "amount": [10.0, 20.0, 30.0, 40.0],
    }).to_csv(path, index=False)
    return path


def _cli_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CRMFLOW_DB", None)
    return subprocess.run([PY, "-m", "crmflow", *args], cwd=folder, capture_output=True, text=True, env=env,
                          timeout=300)


# ---------------------------------------------------------------- 1. relative paths
def test_ingest_with_relative_db_and_file_writes_in_the_current_folder(tmp_path):
    work = tmp_path / "x"
    work.mkdir()
    _sales(work / "sales.csv")
    stray = ROOT / "storemend-rel.duckdb"
    assert not stray.exists()
    try:
        proc = _cli_in(work, "ingest", "sales.csv", "--name", "s", "--db", "storemend-rel.duckdb")
        assert proc.returncode == 0, proc.stderr
        assert (work / "storemend-rel.duckdb").exists()
        assert not stray.exists()
        listed = _cli_in(work, "datasets", "list", "--db", "storemend-rel.duckdb")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines()[1].split()[:2] == ["1", "s"]
        assert str(work / "sales.csv") in listed.stdout  # the input was read from the current folder
    finally:
        stray.unlink(missing_ok=True)
        Path(str(stray) + ".wal").unlink(missing_ok=True)
