"""The dashboard's warm writing process (crmflow.writer).

The dashboard hands each change to a launcher process that forks one child
per change. Checked on a real store file: the changes give the same answers
as in a new process and the launcher is reused; a launcher that is gone is
started again; a child killed during a change is told as a child that died,
never run twice, leaves the store consistent, and the launcher serves the
next change.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from conftest import write
from crmflow import writer
from crmflow.errors import CrmflowError
from crmflow.store import Store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the launcher forks (Linux, macOS)")


@pytest.fixture
def warm(monkeypatch):
    """Changes of this process go to a launcher; afterwards, as before this test."""
    was = writer._enabled
    writer.keep_warm()
    yield
    monkeypatch.setattr(writer, "_enabled", was)


def _orders(tmp_path: Path, name: str, n: int = 40) -> Path:
    return write(tmp_path, name, "customer_id,order_date,amount\n" + "".join(
        f"c{i % 50},2024-{1 + i % 12:02d}-{1 + i % 27:02d},{i + 1}.25\n" for i in range(n)))


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_changes_give_the_same_answers_through_one_reused_launcher(tmp_path, warm, monkeypatch):
    orders = _orders(tmp_path, "o.csv")
    with Store(tmp_path / "warm.duckdb", shared=True) as store:
        launcher = writer._launcher.pid
        got = store.ingest("a", orders)
        store.rename("a", "b")
        store.ingest("c", orders)
        store.delete("c")
        with pytest.raises(CrmflowError) as taken:
            store.ingest("b", orders)  # the name is taken: the child's error
        assert writer._launcher.pid == launcher and writer._launcher.poll() is None
        assert store.names() == ["b"]
    monkeypatch.setattr(writer, "_enabled", False)  # the same changes, each in a new process
    with Store(tmp_path / "cold.duckdb", shared=True) as store:
        want = store.ingest("a", orders)
        with pytest.raises(CrmflowError) as cold:
            store.ingest("a", orders)
    assert got.dataset.n_transactions == want.dataset.n_transactions == 40
    assert [r.to_dict() for r in got.reports] == [r.to_dict() for r in want.reports]
    assert taken.value.key == cold.value.key == "dataset_exists"


def test_a_launcher_that_is_gone_is_started_again(tmp_path, warm):
    orders = _orders(tmp_path, "o.csv")
    with Store(tmp_path / "s.duckdb", shared=True) as store:
        store.ingest("a", orders)
        old = writer._launcher
        old.kill()
        old.wait(30)
        assert store.rename("a", "b").name == "b"  # handed to a new launcher (or, once, a new process)
        assert store.rename("b", "c").name == "c"
        assert writer._launcher is not old and writer._launcher.poll() is None
        assert store.names() == ["c"]


def test_a_child_killed_during_a_change_is_told_once_and_the_next_change_works(tmp_path, warm):
    from crmflow.demo import generate

    data = generate(n_customers=400, seed=3)
    with Store(tmp_path / "s.duckdb", shared=True) as store:
        store.ingest("keep", _orders(tmp_path, "o.csv"))
        launcher = writer._launcher.pid
        outcome: list[object] = []

        def change() -> None:
            try:
                outcome.append(store.ingest("big", data.transactions, data.customers))
            except CrmflowError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=change)
        thread.start()
        deadline = time.monotonic() + 120
        while not _children(launcher) and time.monotonic() < deadline:
            time.sleep(0.005)
        killed = _children(launcher)
        assert killed, "no change was running in a child of the launcher"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        thread.join(300)
        assert len(outcome) == 1
        names = store.names()
        if isinstance(outcome[0], CrmflowError):  # killed before its commit: told, nothing stored
            assert outcome[0].key in ("db_engine_failed", "db_disk_full") and names == ["keep"]
        else:  # killed after its commit: the change counts as done, stored once
            assert sorted(names) == ["big", "keep"]
        assert writer._launcher.pid == launcher
        assert store.rename("keep", "kept").name == "kept"  # the launcher serves the next change
        assert "kept" in store.names()
