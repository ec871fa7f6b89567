"""Writes queued one after another let the pages read between them (crmflow.db.Database.suspended).

The dashboard closes its store file while a writing child process changes
it, and its pages wait meanwhile. When ten people save at once, ten writes
queue; without a turn for the readers, each write would close the file again
the moment the last one reopened it, and every page would wait for the last
write. Here a page's queries wait for one write while a second write is
queued: they run between the two. Ordered by events, not timed.
"""

from __future__ import annotations

import threading
import time

from conftest import write
from crmflow.db import Database
from crmflow.store import Store


def test_a_page_waiting_for_one_write_reads_before_the_next_write(tmp_path, monkeypatch):
    # a long turn and pause, so that a loaded machine's pause between the page's queries is not taken
    # for the page having finished (what is checked is the order, not how long the turn lasts)
    monkeypatch.setattr(Database, "READERS_TURN", 30.0)
    monkeypatch.setattr(Database, "READERS_PAUSE", 2.0)
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        store.ingest("one", write(tmp_path, "o.csv", "customer_id,order_date,amount\nc1,2024-01-02,5\n"))
    db = Database(path, read_only=True)
    events: list[str] = []
    first_in, release_first = threading.Event(), threading.Event()

    def writer(name: str, hold: bool) -> None:
        with db.suspended():
            events.append(f"{name} start")
            if hold:
                first_in.set()
                assert release_first.wait(60)
            events.append(f"{name} end")

    def page() -> None:
        for n in range(3):  # a page's queries, one after another
            assert list(db.run("list_datasets")["name"]) == ["one"]
            events.append(f"read {n}")

    threads = [threading.Thread(target=writer, args=("A", True))]
    threads[0].start()
    assert first_in.wait(60)
    threads.append(threading.Thread(target=page))
    threads[1].start()
    deadline = time.monotonic() + 60
    while db._waiting == 0 and time.monotonic() < deadline:  # the page waits for write A
        time.sleep(0.01)
    assert db._waiting == 1
    threads.append(threading.Thread(target=writer, args=("B", False)))
    threads[2].start()
    time.sleep(0.3)  # write B queues behind A (were it not queued yet, it would come last anyway)
    release_first.set()
    for thread in threads:
        thread.join(60)
    db.close()
    assert events == ["A start", "A end", "read 0", "read 1", "read 2", "B start", "B end"]
