"""Model fits computed in the background after an upload returns (crmflow.background, issue 14).

The dashboard's upload stores the dataset and its query results and returns;
a thread of the dashboard's process then fits the dataset and stores the
fits in one short write. Checked here, through the dashboard's own store (a
file shared with a writing child process):

* the upload returns before the fits exist, the pages compute the same
  numbers on demand meanwhile, and the fits stored afterwards are those of a
  dataset stored the usual way (then nothing is fitted on a page);
* a dataset deleted or replaced while it is fitted gets no fit rows;
* each dataset is fitted once per process, a failure is not retried, and
  the progress goes from 0 to every fit;
* the Data page shows the progress in both languages, and the dashboard fits
  a stored dataset that has no fits when it opens the store.

The fitting is held at its start (an Event) where a test needs a moment in
between; nothing is timed.
"""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from conftest import write
from crmflow import background, model, results
from crmflow.demo import generate
from crmflow.i18n import t
from crmflow.stages import data_range
from crmflow.store import Store
from test_results2 import Fits, _everything, assert_same

WAIT_S = 300


def _orders(tmp_path, name: str = "t.csv"):
    return write(tmp_path, name, "customer_id,order_date,amount\n" + "".join(
        f"c{i},2024-{m:02d}-{1 + i % 27:02d},{10 + i}\n" for i in range(40) for m in range(1, 13, 1 + i % 4)))


class Held:
    """Holds every background fitting at its start until :meth:`release`;
    counts the datasets fitted and records each progress report."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
        self.started = threading.Event()
        self.go = threading.Event()
        self.fitted: list[int] = []
        self.reports: list[tuple[int, int]] = []
        original = results.build_fits

        def held(db, dataset_id, progress=None):
            self.started.set()
            assert self.go.wait(WAIT_S)
            self.fitted.append(dataset_id)
            if fail:
                raise RuntimeError("the fitting broke")

            def noted(done, total):
                self.reports.append((done, total))
                progress(done, total)

            return original(db, dataset_id, noted)

        monkeypatch.setattr(results, "build_fits", held)

    def release(self) -> None:
        self.go.set()
        assert background.wait(WAIT_S)


@pytest.fixture(autouse=True)
def _settled():
    """No other test's fitting is running before or after."""
    assert background.wait(WAIT_S)
    yield
    assert background.wait(WAIT_S)


def test_the_upload_returns_first_and_the_fits_stored_later_are_the_usual_ones(tmp_path, monkeypatch):
    data = generate(n_customers=300, seed=5)
    held = Held(monkeypatch)
    with Store(tmp_path / "team.duckdb", shared=True) as store:
        ds = store.ingest("d", data.transactions, data.customers, data.interactions,
                          background=True).dataset.dataset_id
        # back before any fit is stored; the query results are stored already
        assert results.has_results(store.db, ds)
        assert results.without_fits(store.db) == [ds]
        assert [j.dataset_id for j in background.pending(store)] == [ds]
        last = data_range(store.db, ds)[1]
        assert results.stored_params(store.db, "clv_fit", ds, as_of=last, model="auto") is None
        assert held.started.wait(WAIT_S)
        meanwhile = model.fit_clv(store.db, ds, last).predict()  # a page fits on demand meanwhile
        held.release()
        assert background.pending(store) == []
        assert results.without_fits(store.db) == []
    with Store(in_memory=True) as fresh:
        want = _everything(fresh.db, fresh.ingest("d", data.transactions, data.customers,
                                                  data.interactions).dataset.dataset_id)
    with Store(tmp_path / "team.duckdb", read_only=True) as store:  # a new process: nothing kept in memory
        first, last = data_range(store.db, ds)
        for kind, key in results.fit_requests(first, last):
            assert results.stored_fit(store.db, kind, ds, **key) is not None, kind
        fits = Fits(monkeypatch)
        got = _everything(store.db, ds)
        assert fits.total == 0, fits.count
    assert_same(got, want)
    assert_same({"predictions": meanwhile}, {"predictions": want["predictions"].drop(
        columns=[c for c in want["predictions"] if c not in meanwhile])})
    assert held.fitted == [ds]
    total = len(results.fit_requests(first, last))
    assert held.reports[0] == (0, total) and held.reports[-1] == (total, total)
    assert [d for d, _ in held.reports] == sorted(d for d, _ in held.reports)


@pytest.mark.parametrize("change", ["delete", "replace"])
def test_a_dataset_changed_while_it_is_fitted_gets_no_fits(tmp_path, monkeypatch, change):
    lines = _orders(tmp_path)
    held = Held(monkeypatch)
    with Store(tmp_path / "s.duckdb", shared=True) as store:
        old = store.ingest("x", lines, background=True).dataset.dataset_id
        assert held.started.wait(WAIT_S)
        if change == "delete":
            store.delete("x")
        else:
            new = store.ingest("x", lines, replace=True, background=True).dataset.dataset_id
        held.release()
        with store.db.cursor() as cur:
            params = dict(cur.execute("SELECT dataset_id, COUNT(*) FROM result_params GROUP BY ALL").fetchall())
            runs = [r[0] for r in cur.execute("SELECT dataset_id FROM result_runs WHERE query = ?",
                                              [results.FITS_RUN]).fetchall()]
    assert old not in params and old not in runs
    if change == "replace":
        assert held.fitted == [old, new] and new in params and runs == [new]
    else:
        assert held.fitted == [old] and params == {} and runs == []


def test_each_dataset_is_fitted_once_and_a_failure_is_not_retried(tmp_path, monkeypatch):
    lines = _orders(tmp_path)
    held = Held(monkeypatch, fail=True)
    with Store(tmp_path / "s.duckdb", shared=True) as store:
        ds = store.ingest("x", lines, background=True).dataset.dataset_id
        assert held.started.wait(WAIT_S)
        assert background.schedule(store) == []  # queued already
        held.release()
        assert background.pending(store) == []
        assert results.without_fits(store.db) == [ds]  # the failure stored nothing
        assert background.schedule(store) == []  # and is not tried again by this process
        assert held.fitted == [ds]
        last = data_range(store.db, ds)[1]
        assert len(model.fit_clv(store.db, ds, last).predict()) == 40  # the pages fit on demand


def test_the_command_line_and_a_plain_ingest_store_the_fits_before_returning(tmp_path):
    lines = _orders(tmp_path)
    with Store(tmp_path / "s.duckdb", shared=True) as store:
        store.ingest("x", lines)
        assert background.pending(store) == [] and results.without_fits(store.db) == []
        store.ingest("y", lines, fits=False)  # left for later: the query results are stored
        y = store.get("y").dataset_id
        assert results.has_results(store.db, y) and results.without_fits(store.db) == [y]
        assert background.schedule(store) == [y]
        assert background.wait(WAIT_S)
        assert results.without_fits(store.db) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_data_page_shows_the_fitting_and_the_dashboard_fits_an_older_dataset(tmp_path, monkeypatch,
                                                                                 app_factory, lang):
    db = tmp_path / "page.duckdb"
    with Store(db) as store:  # stored without fits, as a store whose fitting was cut short leaves it
        data = generate(n_customers=300, seed=5)
        store.ingest("demo", data.transactions, data.customers, data.interactions, fits=False)
        store.ingest("x·y", _orders(tmp_path), fits=False)
    held = Held(monkeypatch)
    start = app_factory(db)
    at = start("data", lang=lang)
    assert held.started.wait(WAIT_S)
    shown = " ".join(p.text for p in at.get("progress")) if at.get("progress") else ""
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert f"**{t('data_fits_heading', lang)}**" in texts
    assert t("data_fits_caption", lang) in texts
    assert len(at.get("progress")) == 2
    assert "x·y" in shown
    held.release()
    at.run()
    assert not at.exception
    assert at.get("progress") == [] or len(at.get("progress")) == 0
    assert f"**{t('data_fits_heading', lang)}**" not in [m.value for m in at.markdown]
    with Store(db, read_only=True) as store:
        assert results.without_fits(store.db) == []
        assert sorted(held.fitted) == sorted(store.datasets()["dataset_id"].astype(int))


def _stored_fits(db, ds) -> dict:
    fits = {(kind, results.defs_key(key)): results.stored_fit(db, kind, ds, **key)
            for kind, key in results.fit_requests(*data_range(db, ds))}
    return {k: v.astype(object).where(v.notna(), None).to_dict("list") if isinstance(v, pd.DataFrame) else v
            for k, v in fits.items()}  # missing cells as None: NaN is not equal to itself


def test_a_refit_reads_no_stored_fit_and_keeps_the_old_ones_until_it_stores(tmp_path, monkeypatch):
    """results.compute_fits (a refit: `crmflow datasets results`, Spark) fits
    from the data, not from the fits it replaces, and the old fits stay
    readable until the new ones are stored in one write."""
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("x", _orders(tmp_path))
        ds = store.get("x").dataset_id
        before = _stored_fits(store.db, ds)
        assert sum(v is not None for v in before.values()) >= 3
        builder, reads, seen = results._fit_builder, [], []
        original_run = store.db.run

        def run(name, *args, **kwargs):
            if name == "read_result_params":
                reads.append(kwargs.get("kind"))
            return original_run(name, *args, **kwargs)

        def builder_checked(kind):
            seen.append(results.without_fits(store.db))  # the old fits are still stored
            return builder(kind)

        monkeypatch.setattr(store.db, "run", run)
        monkeypatch.setattr(results, "_fit_builder", builder_checked)
        assert results.compute_fits(store.db, ds) == sum(v is not None for v in before.values())
        assert reads == [] and seen and all(w == [] for w in seen)
        monkeypatch.undo()
        assert _stored_fits(store.db, ds) == before
