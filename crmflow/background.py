"""Model fits computed in the background, after an upload has returned (issue 14).

Storing a dataset stores its query results in the same write (crmflow.results:
a few seconds at 1M orders). Its model fits (crmflow.results.build_fits: the
CLV model choice and fits, the default backtest, the churn calibration and
track record) take longer, so the dashboard stores a dataset without them and
fits it afterwards: one thread per process, one dataset at a time, reading
through the process's own connection, and then one short write of the fitted
parameters (:meth:`crmflow.store.Store.save_fits`). Meanwhile every page fits
on demand what it needs; a fit that this thread and a page need at once is
computed once (:meth:`crmflow.db.Database.memoised`), and the fits are stored
only if the dataset is still there. The thread runs at a lower CPU priority
than the pages (Linux: a thread's own nice value).

:func:`pending` tells the Data page how far each dataset is. A dataset is
tried once per process and version: one whose fitting fails is left to the
pages (the reason is logged) until the dashboard restarts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmflow.store import Store

_log = logging.getLogger(__name__)

#: How much lower than the pages the fitting thread runs (a nice value, Linux only).
NICE = 10


@dataclass(frozen=True)
class Job:
    """A dataset waiting to be fitted or being fitted: ``done`` of ``total``
    fits (``total`` is 0 until its fitting starts)."""

    dataset_id: int
    done: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


_lock = threading.Condition()
_jobs: dict[tuple[str, int], Job] = {}  # waiting or running, in the order queued
_tried: set[tuple[str, int, str]] = set()  # (store, dataset, code version) queued once in this process
_queue: deque[tuple[Store, int]] = deque()
_worker: threading.Thread | None = None


def _where(store: Store) -> str:
    """The key of a store: its file (every store of this process on it), or this one in-memory store."""
    return store.path if store.path != ":memory:" else f":memory:{id(store.db)}"


def schedule(store: Store) -> list[int]:
    """Queue every dataset of ``store`` whose fits are not stored, newest
    first (each once per process), and start the thread if it is not
    running. Returns the datasets queued now."""
    global _worker
    from crmflow import results

    if store.read_only:
        return []
    code, where = results.code_version(), _where(store)
    added = []
    for dataset_id in results.without_fits(store.db):
        with _lock:
            if (where, dataset_id, code) in _tried:
                continue
            _tried.add((where, dataset_id, code))
            _jobs[(where, dataset_id)] = Job(dataset_id)
            _queue.append((store, dataset_id))
            added.append(dataset_id)
    with _lock:
        if _queue and _worker is None:
            _worker = threading.Thread(target=_work, name="crmflow-fits", daemon=True)
            _worker.start()
    return added


def pending(store: Store) -> list[Job]:
    """The datasets of ``store`` waiting to be fitted or being fitted, in the order queued."""
    where = _where(store)
    with _lock:
        return [job for (w, _), job in _jobs.items() if w == where]


def wait(timeout: float | None = None) -> bool:
    """Wait until every queued dataset is fitted (False: ``timeout`` seconds passed first)."""
    with _lock:
        return _lock.wait_for(lambda: _worker is None, timeout)


def _progress(key: tuple[str, int], done: int, total: int) -> None:
    with _lock:
        if key in _jobs:
            _jobs[key] = replace(_jobs[key], done=done, total=total)


def _work() -> None:
    global _worker
    from crmflow import results

    with contextlib.suppress(OSError, AttributeError):  # not Linux: the same priority as the pages
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    while True:
        with _lock:
            if not _queue:
                _worker = None
                _lock.notify_all()
                return
            store, dataset_id = _queue.popleft()
        key = (_where(store), dataset_id)
        try:
            rows = results.build_fits(store.db, dataset_id, lambda done, total: _progress(key, done, total))
            if not store.save_fits(dataset_id, rows):
                _log.info("crmflow: dataset %s was deleted or replaced while it was fitted", dataset_id)
        except Exception as exc:  # noqa: BLE001 - the pages fit on demand; the reason is logged
            _log.info("crmflow: fitting dataset %s in the background failed: %s", dataset_id, exc)
        finally:
            with _lock:
                _jobs.pop(key, None)
