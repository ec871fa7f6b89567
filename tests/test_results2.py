"""Fits stored with the dataset (crmflow.results.compute_fits, issue 14, second slice).

The CLV model choice and fit at D, D - h, D - 2h, D - 3h, the default
backtest, the churn calibration at D and D - h and the churn track record at
D are stored as their fitted parameters when a dataset is stored. Rebuilt
from them, every prediction equals the fresh fit's exactly (compared with the
same data stored without results, where everything is fitted afresh), after
an ingest, a replace and a delete, on the demo and on CDNOW; the readers take
them (no candidate, spend model or logistic fit runs: counted, never timed)
only when the call is whole-dataset, default definitions, at D.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pandas as pd
import pytest

from conftest import CDNOW_SAMPLE, write
from crmflow import churn, clv, model, results, segments_table
from crmflow.config import Params
from crmflow.db import Database, Scope
from crmflow.demo import generate
from crmflow.health import value_matrix
from crmflow.stages import data_range
from crmflow.store import Store


class Fits:
    """Counts the fits run while installed: purchase-model candidates, Gamma-Gamma
    and the churn terms' logistic fits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count: Counter[str] = Counter()
        for owner, name, label in ((clv._PurchaseModel, "fit", "purchase"), (clv.GammaGamma, "fit", "spend"),
                                   (churn, "fit_terms", "terms")):
            original = getattr(owner, name)

            def counted(*args, _original=original, _label=label, **kwargs):
                self.count[_label] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(owner, name, counted)

    @property
    def total(self) -> int:
        return sum(self.count.values())


def _everything(db: Database, ds: int | Scope, params: Params = Params(), as_of=None) -> dict[str, object]:
    """What the churn page, key accounts, Segments and the CLV command take from the fits."""
    last = as_of or data_range(db, ds)[1]
    fit = model.fit_clv(db, ds, last)
    warnings = churn.churn_warnings(db, ds, last, params, include_all=True)
    view = segments_table.segment_view(db, ds, last, params)
    return {
        **{f"segments_{name}": getattr(view, name) for name in segments_table.SegmentView.__dataclass_fields__},
        "predictions": fit.predict(intervals=True),
        "choice": fit.choice,
        "parameters": fit.parameters(),
        "errors": fit.standard_errors(),
        "messages": fit.messages,
        "warnings": warnings,
        "warnings_listed": churn.churn_warnings(db, ds, last, params),
        "warnings_zh": churn.churn_warnings(db, ds, last, params, lang="zh"),
        "calibration": warnings.attrs.get("calibration"),
        "track_record": churn.track_record(db, ds, last, params),
        "backtest": model.backtest(db, ds, last).as_dict(),
        "matrix": value_matrix(db, ds, last) if isinstance(ds, int) else None,
    }


def assert_same(got: dict, want: dict) -> None:
    for name, value in want.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got[name], value, check_exact=True, obj=name)
        else:
            assert got[name] == value, name


def _stored_and_fresh(tmp_path, load) -> tuple[str, int, dict]:
    """``load(store)`` stored with results in a file, and the same stored without
    results in memory, whose numbers are all fitted afresh."""
    path = str(tmp_path / "fits.duckdb")
    with Store(path) as store:
        ds = load(store, True)
    with Store(in_memory=True) as fresh:
        other = load(fresh, False)
        assert not results.stored_params(fresh.db, "clv_fit", other, as_of=data_range(fresh.db, other)[1],
                                         model="auto")
        want = _everything(fresh.db, other)
    return path, ds, want


def _demo(store: Store, keep: bool) -> int:
    data = generate(n_customers=300, seed=5)
    return store.ingest("d", data.transactions, data.customers, data.interactions, results=keep).dataset.dataset_id


def _cdnow(store: Store, keep: bool) -> int:
    return store.ingest("cdnow", CDNOW_SAMPLE, results=keep).dataset.dataset_id


@pytest.mark.parametrize("load", [_demo, _cdnow], ids=["demo", "cdnow"])
def test_stored_fits_give_the_fresh_fits_numbers_without_fitting(tmp_path, monkeypatch, load):
    path, ds, want = _stored_and_fresh(tmp_path, load)
    kinds = Counter()
    with Database(path) as db:  # a new process: nothing kept in memory
        first, last = data_range(db, ds)
        for kind, key in results.fit_requests(first, last):
            assert results.stored_fit(db, kind, ds, **key) is not None, kind
            kinds[kind] += 1
        assert kinds == {"clv_fit": 4 + 2, "clv_backtest": 1, "churn_calibration": 2, "churn_track_record": 1,
                         "clv_intervals": 1, "segment_customers": 1, "churn_warnings": 1}
        fits = Fits(monkeypatch)
        built, scored = [], []
        monkeypatch.setattr(segments_table, "_customers", lambda *a: built.append(a))
        score = churn.score_customers
        monkeypatch.setattr(churn, "score_customers", lambda *a, **k: scored.append(k.get("lang")) or score(*a, **k))
        draws = []
        bootstrap = model.ClvFit._bootstrap
        monkeypatch.setattr(model.ClvFit, "_bootstrap", lambda self, *a: draws.append(a) or bootstrap(self, *a))
        got = _everything(db, ds)
        assert fits.total == 0, fits.count
        assert not draws, draws  # the intervals at D are read, not drawn again
        assert not built, "the Segments table at D is read, not built"
        assert scored == ["zh"], scored  # the churn list at D is read in English; Chinese reasons are worded
        assert_same(got, want)
    assert want["calibration"]["source"] != "prior"  # the calibration was learned, so the test can fail


def test_replace_and_delete_keep_the_stored_fits_in_step(tmp_path, monkeypatch):
    data = generate(n_customers=300, seed=5)
    path = str(tmp_path / "steps.duckdb")
    lines = write(tmp_path, "t.csv", "customer_id,order_date,amount\n" + "".join(
        f"c{i},2024-{m:02d}-{1 + i % 27:02d},{10 + i}\n" for i in range(40) for m in range(1, 13, 1 + i % 4)))
    with Store(path) as store:
        old = _demo(store, True)
        keep = store.ingest("keep", lines, results=True).dataset.dataset_id
        new = store.ingest("d", data.transactions.head(4000), data.customers, data.interactions, replace=True,
                           results=True).dataset.dataset_id
        gone = store.ingest("gone", lines, results=True).dataset.dataset_id
        store.delete("gone")
        with store.db.cursor() as cur:
            held = dict(cur.execute("SELECT dataset_id, COUNT(*) FROM result_params GROUP BY ALL").fetchall())
        assert set(held) == {keep, new} and old != new and gone not in held
    with Store(in_memory=True) as fresh:
        want_new = _everything(fresh.db, fresh.ingest("d", data.transactions.head(4000), data.customers,
                                                        data.interactions).dataset.dataset_id)
        want_keep = _everything(fresh.db, fresh.ingest("keep", lines).dataset.dataset_id)
    with Database(path) as db:
        fits = Fits(monkeypatch)
        assert_same(_everything(db, new), want_new)
        assert_same(_everything(db, keep), want_keep)
        assert fits.total == 0, fits.count


def test_other_calls_fit_as_before(tmp_path, monkeypatch):
    """A filter, other definitions or another as-of date find no stored fit: they fit, with the fresh numbers."""
    path = str(tmp_path / "other.duckdb")
    with Store(path) as store:
        ds = _cdnow(store, True)
    with Store(in_memory=True) as fresh:
        other = _cdnow(fresh, False)
        last = data_range(fresh.db, other)[1]
        params = Params(lost_after_days=90)
        earlier = last - timedelta(days=30)
        with Database(path) as db:
            fits = Fits(monkeypatch)
            got = churn.churn_warnings(db, ds, last, params, include_all=True)
            assert fits.count["terms"] > 0  # calibrated afresh (the CLV fits at D and D - 180 days are stored)
            pd.testing.assert_frame_equal(got, churn.churn_warnings(fresh.db, other, last, params, include_all=True))
            before = fits.total
            got = model.fit_clv(db, ds, earlier).predict()
            assert fits.count["purchase"] > 0 and fits.total > before
            pd.testing.assert_frame_equal(got, model.fit_clv(fresh.db, other, earlier).predict())
            before = fits.count["purchase"]
            customers = tuple(sorted(fresh.db.run("clv_summary", dataset_id=other,
                                                  calibration_end=last)["customer_id"])[:400])
            got = model.fit_clv(db, Scope(ds, customers=customers), last).predict()
            assert fits.count["purchase"] > before
            pd.testing.assert_frame_equal(got, model.fit_clv(fresh.db, Scope(other, customers=customers),
                                                             last).predict())
            for when, defs in ((last, params), (earlier, Params())):  # the Segments table is built, the same
                assert results.stored_frame(db, "segment_customers", ds, as_of=when, **defs.as_sql_params()) is None
                ours, theirs = (segments_table.segment_view(d, x, when, defs) for d, x in ((db, ds), (fresh.db, other)))
                pd.testing.assert_frame_equal(ours.customers, theirs.customers, check_exact=True)
                pd.testing.assert_frame_equal(ours.summary, theirs.summary, check_exact=True)
                assert ours.notes == theirs.notes
            # another horizon scores afresh (the stored churn list is the default horizon's)
            ours, theirs = (churn.churn_warnings(d, x, last, horizon_days=90, include_all=True)
                            for d, x in ((db, ds), (fresh.db, other)))
            pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
            assert not ours.equals(churn.churn_warnings(db, ds, last, include_all=True))


def test_gamma_gamma_is_fitted_once_per_summary(monkeypatch):
    with Store(in_memory=True) as store:
        ds = _cdnow(store, False)
        last = data_range(store.db, ds)[1]
        fits = Fits(monkeypatch)
        for name in model.MODEL_CHOICES:
            model.fit_clv(store.db, ds, last, name)
        # every model= variant fits on the summary at D; auto also on D - h (its choice): two summaries
        assert fits.count["spend"] == 2
        # the eight candidates at D - h, then auto's chosen, bgnbd and mbgnbd at D
        assert fits.count["purchase"] == len(model.CANDIDATES) + 3


def test_the_command_line_and_the_report_take_the_stored_fits(tmp_path, monkeypatch, capsys):
    """``crmflow churn`` / ``clv`` on a stored dataset print what the same file read
    straight (fitted afresh) prints, without a fit; the report's CLV and churn
    slides fit nothing either."""
    from crmflow.cli import main
    from crmflow.report import report_file

    path = tmp_path / "cli.duckdb"
    with Store(path) as store:
        ds = _cdnow(store, True)
    commands = (["churn", "--format", "csv"], ["churn", "--track-record"], ["clv", "--format", "json"])
    fresh = []
    for command in commands:
        assert main([*command, str(CDNOW_SAMPLE)]) == 0
        fresh.append(capsys.readouterr().out)
    fits = Fits(monkeypatch)
    for command, want in zip(commands, fresh):
        assert main([*command, "--dataset", "cdnow", "--db", str(path)]) == 0
        assert capsys.readouterr().out == want, command
    assert fits.total == 0, fits.count
    with Database(path) as db:
        last = data_range(db, ds)[1]
        assert report_file(db, ds, "html", "cdnow", last).startswith(b"<!DOCTYPE html>")
    assert fits.total == 0, fits.count


def test_a_stored_frame_reads_back_with_its_column_types():
    """frame_bytes / frame_from_bytes (the pages' per-customer tables at D): text
    kept as object or as str, nullable integers, dates, missing values and an
    empty frame come back exactly as they went in."""
    from datetime import date

    import numpy as np

    frame = pd.DataFrame({
        "customer_id": pd.Series(["a", "b", "中文"], dtype="str"),
        "segment": pd.Series(["champions", None, np.nan], dtype=object),
        "r_score": pd.Series([5, None, 1], dtype="Int64"),
        "monetary": [1.5, np.nan, -0.25],
        "first_order_date": [date(2024, 1, 31), None, date(1999, 12, 31)],
        "flag": [True, False, True],
    })
    back = results.frame_from_bytes(results.frame_bytes(frame))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back["segment"].dtype == object and back["first_order_date"].iloc[0] == date(2024, 1, 31)
    empty = frame.iloc[0:0]
    pd.testing.assert_frame_equal(results.frame_from_bytes(results.frame_bytes(empty)), empty, check_exact=True)
    # a churn list: reasons as lists of dicts with their own keys, words as lists, the calibration in attrs
    scored = pd.DataFrame({"customer_id": ["a", "b", "c"], "on_call_list": [True, False, True]})
    scored["reasons"] = [[{"code": "overdue", "days": 58, "ratio": 7.25}, {"code": "low_p_alive", "p_alive": 0.3}],
                         [], [{"code": "falling_business", "strength": 0.5, "names": ["x", "中"]}]]
    scored["reasons_text"] = [["Overdue", "Unlikely"], [], ["Falling"]]
    scored.attrs["calibration"] = {"scorer": "full", "terms": {"overdue": 0.3567}, "fitted_on": "2024-07-04"}
    back = results.frame_from_bytes(results.frame_bytes(scored))
    pd.testing.assert_frame_equal(back, scored, check_exact=True)
    assert back.attrs == scored.attrs and back["reasons"].tolist() == scored["reasons"].tolist()
    assert type(back["reasons_text"].iloc[0]) is list


def test_a_fit_asked_for_intervals_after_its_store_closed_draws_them(tmp_path):
    """The intervals stored with the fit at D are read when first asked for; asked
    after the store was closed (the command line predicts after closing it),
    they are drawn, with the same numbers."""
    path, ds, want = _stored_and_fresh(tmp_path, _demo)
    db = Database(path)
    fit = model.fit_clv(db, ds, data_range(db, ds)[1])
    db.close()
    pd.testing.assert_frame_equal(fit.predict(intervals=True), want["predictions"], check_exact=True)
