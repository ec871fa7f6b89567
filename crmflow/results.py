"""Results stored per dataset version (issue 14).

What changes only with the data and the definitions is computed once, by the
process that writes the store, right after a dataset is stored (and removed
with it: ``delete_dataset``), and read by every page, browser session and
command: the month-end stage series, N/t/D, won back and lost per month and
the Overview's KPI figures, for the dataset's default as-of date D (its last
order date) and the default definitions.

Each stored result is the rows of one named query (:data:`STORED`), kept in a
table ``result_<query>`` keyed by (dataset_id, definitions key) and filled by
``queries/results/store_<query>.sql``, which runs the query itself through the
staging views, so any engine that runs the named queries can fill the same
tables. The definitions key is the query's parameters other than its dates,
as JSON (the as-of date among them where the query takes one), with the
version of the SQL that computed them (:func:`code_version`: a digest of every
query file and of ``RESULTS_FORMAT``), so rows written by an older crmflow are
never served after an upgrade and the next write recomputes them; a query over
dates is stored at a fixed list of dates, and a request for any subset of
them is served from the stored rows (each date's rows depend on that date
alone).

The Python fits that start from those rows (the CLV model choice and fit,
its default backtest, the churn calibration and track record) are stored as
their fitted parameters (:func:`compute_fits`, :func:`stored_params`; table
``result_params``), so a page at D fits nothing. The command line stores
them with the dataset; the dashboard's uploads leave them to a thread of the
dashboard (crmflow.background: :func:`build_fits` reads, :func:`save_fits`
writes), and the pages fit on demand until they are stored.

Readers call :func:`stored_or_run` instead of :meth:`Database.run`. It takes
the stored rows when the call reads the whole dataset (no filter), with the
stored definitions key, at stored dates; otherwise (another as-of date, other
definitions, filters, a store without results) it runs the query as before.
The rows are the same either way (tests/test_results.py).

A store made before this module gets the results of its datasets computed
with the next ingest into it (:func:`complete`, from ``Store.ingest``: the
writing child process of the dashboard and the command line); reading
processes compute on demand meanwhile, and a rename or delete never grows
the file.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmflow.config import COMPLAINT_PATTERN, Params
from crmflow.errors import CrmflowError

if TYPE_CHECKING:
    from crmflow.db import Database, Scope

_log = logging.getLogger(__name__)

#: The KPI cards' comparison offsets in days (crmflow.overview.COMPARE_CHOICES) and trend periods in months.
_COMPARE_DAYS = (30, 90, 365)
_PERIOD_MONTHS = (12, 24, 36)


@dataclass(frozen=True)
class Stored:
    """One stored query: its name and the calls stored for a dataset whose
    orders run from ``first`` to D (``variants(first, D)``: each call's whole
    parameters, its dates among them for a query over dates)."""

    query: str
    variants: Callable[[date, date], list[dict[str, Any]]]


def _month_ends(first: date, last: date) -> list[date]:
    from crmflow.stages import month_ends

    return month_ends(first, last)


def _comparison_dates(first: date, last: date) -> list[date]:
    """D and the comparison dates C the KPI cards offer (30/90/365 days, trend starts)."""
    from crmflow.overview import trend_start

    since = [last - timedelta(days=n) for n in _COMPARE_DAYS]
    since += [trend_start(last, first, str(m)) for m in _PERIOD_MONTHS] + [trend_start(last, first, "all")]
    return sorted({last, *since})


def _event_dates(first: date, last: date) -> list[date]:
    """The dates won_back_lost_to_date is asked for: D, each C and C - (D - C)."""
    since = _comparison_dates(first, last)
    return sorted({last, *since, *(c - (last - c) for c in since)})


def _revenue_dates(first: date, last: date) -> list[date]:
    from crmflow.overview import years_before

    return sorted({last, years_before(last, 1), years_before(last, 2)})


def _defs(*names: str) -> dict[str, Any]:
    values = Params().as_sql_params()
    return {k: values[k] for k in names}


_STAGE_DEFS = ("lost_after_days", "loyal_orders", "loyal_window_days")


def _churn_dates(first: date, last: date) -> list[date]:
    """The dates the churn page scores at by default: D, and for the
    calibration and the track record D - h, D - 2h, D - 3h (h =
    lost_after_days), those on or after the first order."""
    h = Params().lost_after_days
    return [d for d in (last - timedelta(days=k * h) for k in range(4)) if d >= first]


def _loyalty_defs() -> dict[str, Any]:
    from crmflow.loyalty import _defs

    return _defs(Params())


def _loyalty_trend_dates(first: date, last: date) -> list[date]:
    """The month ends of the Overview's longest trend period but "all" (a
    shorter one's are among them; "all" is computed when asked for)."""
    from crmflow.overview import trend_start

    return _month_ends(trend_start(last, first, str(max(_PERIOD_MONTHS))), last)


def _key_account_defaults() -> dict[str, Any]:
    from crmflow.health import DEFAULT_MAX_ACCOUNTS, DEFAULT_SHARE

    return {"share": float(DEFAULT_SHARE), "max_accounts": int(DEFAULT_MAX_ACCOUNTS)}


def _health_dates(first: date, last: date) -> list[date]:
    """D and the date the health table's trend compares with (crmflow.health.EARLIER_DAYS before)."""
    from crmflow.health import EARLIER_DAYS

    return [last, last - timedelta(days=EARLIER_DAYS)]


def _churn_signals(first: date, last: date) -> list[dict[str, Any]]:
    from crmflow.churn import PAYMENT_WINDOW_DAYS, TREND_WINDOW_DAYS

    return [{"dates": [d], "as_of": d, "window_days": TREND_WINDOW_DAYS, "complaint_pattern": COMPLAINT_PATTERN,
             "payment_window_days": PAYMENT_WINDOW_DAYS, **_defs(*_STAGE_DEFS)} for d in _churn_dates(first, last)]


def _backtest_pairs(first: date, last: date) -> list[tuple[date, date]]:
    """(calibration end, holdout end) of the CLV model choice at each churn date
    (crmflow.model._choice_at) and of the churn outcome windows."""
    from crmflow.model import MIN_CHOICE_HISTORY_DAYS, default_holdout_days

    dates = _churn_dates(first, last)
    pairs = {(d - timedelta(days=default_holdout_days(first, d)), d) for d in dates
             if (d - first).days >= MIN_CHOICE_HISTORY_DAYS}
    pairs |= {(dates[k + 1], dates[k]) for k in range(len(dates) - 1)}
    return sorted(pairs)


def _clv_summaries(first: date, last: date) -> list[dict[str, Any]]:
    ends = set(_churn_dates(first, last)) | {start for start, _ in _backtest_pairs(first, last)}
    return [{"calibration_end": d} for d in sorted(ends)]


#: What is stored, per query.
STORED: dict[str, Stored] = {s.query: s for s in (
    Stored("stage_snapshots", lambda f, d: [{"dates": _month_ends(f, d), **_defs(*_STAGE_DEFS)}]),
    Stored("ntd_monthly", lambda f, d: [{"dates": _month_ends(f, d),
                                         **_defs("lost_after_days", "loyal_window_days")}]),
    Stored("won_back_lost_monthly", lambda f, d: [{"as_of": d, **_defs("lost_after_days")}]),
    Stored("stage_summary", lambda f, d: [{"dates": _comparison_dates(f, d), **_defs(*_STAGE_DEFS)}]),
    Stored("revenue_to_date", lambda f, d: [{"dates": _revenue_dates(f, d)}]),
    Stored("won_back_lost_to_date", lambda f, d: [{"dates": _event_dates(f, d), "as_of": d,
                                                   **_defs("lost_after_days")}]),
    Stored("churn_signals", _churn_signals),
    Stored("clv_summary", _clv_summaries),
    Stored("holdout_purchases", lambda f, d: [{"start_date": a, "end_date": b} for a, b in _backtest_pairs(f, d)]),
    Stored("stage_counts", lambda f, d: [{"dates": [d], **_defs(*_STAGE_DEFS)}]),
    # profit is read only when the data have a cost (crmflow.analytics.pareto checks first)
    Stored("pareto", lambda f, d: [{"as_of": d, "measure": m} for m in ("revenue", "profit")]),
    # the Overview's loyalty section: the per-customer measures at D and the
    # trend at the month ends of the longest period it offers (36 months)
    Stored("loyalty_customers", lambda f, d: [{"dates": [d], **_loyalty_defs()}]),
    Stored("loyalty_prices", lambda f, d: [{"dates": [d]}]),
    Stored("loyalty_trend", lambda f, d: [{"dates": _loyalty_trend_dates(f, d), **_loyalty_defs()}]),
    # Key accounts: the accounts at D (default share and cap) and the coverage at D and 90 days before
    Stored("key_accounts", lambda f, d: [{"as_of": d, **_key_account_defaults()}]),
    Stored("health_coverage", lambda f, d: [{"as_of": day} for day in _health_dates(f, d)]),
    # the account picker, the call list's names and the report's directory at D
    Stored("account_directory", lambda f, d: [{"as_of": d, "complaint_pattern": COMPLAINT_PATTERN}]),
)}


#: Raised by hand when the layout of a ``result_*`` table changes.
RESULTS_FORMAT = 2

#: The Python modules whose fits are stored as parameters (:func:`stored_params`):
#: their source is part of :func:`code_version`, so a fit stored by other code is never read.
_FIT_MODULES = ("clv.py", "model.py", "churn.py", "results.py")


@functools.cache
def code_version() -> str:
    """A digest of every file in ``queries/`` and of :data:`RESULTS_FORMAT`:
    stored rows carry it, so rows computed by other SQL are never read."""
    from crmflow.db import QUERIES_DIR

    digest = hashlib.sha256(f"format {RESULTS_FORMAT}".encode())
    for path in sorted(QUERIES_DIR.rglob("*.sql")):
        digest.update(path.relative_to(QUERIES_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    package = Path(__file__).resolve().parent
    for name in _FIT_MODULES:
        digest.update(name.encode())
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (list, tuple, str)):  # a numpy scalar
        return value.item()
    return value


def defs_key(params: dict[str, Any]) -> str:
    """The definitions key of a call: its parameters other than ``dates`` and
    the :func:`code_version`, as JSON."""
    key = {k: _plain(v) for k, v in sorted(params.items()) if k != "dates"}
    return json.dumps({**key, "_code": code_version()}, sort_keys=True)


def whole_dataset(dataset_id: int | Scope) -> int | None:
    """The dataset id when the call reads a whole dataset (no filter), else None."""
    from crmflow.db import Scope

    if isinstance(dataset_id, Scope):
        if dataset_id.customer_set is None and dataset_id.channels is None and dataset_id.customers is None:
            return int(dataset_id.dataset_id)
        return None
    return int(dataset_id)


# --------------------------------------------------------------------------- reading
def stored_rows(db: Database, name: str, dataset_id: int | Scope, **params: Any) -> pd.DataFrame | None:
    """The stored rows of ``name(**params)`` on the dataset, or None when they are not stored."""
    from crmflow.db import get_query

    target = whole_dataset(dataset_id)
    if name not in STORED or target is None:
        return None
    dates = params.get("dates")
    if "dates" in get_query(name).params and (not dates or len(set(dates)) != len(dates)):
        return None
    key = defs_key(params)
    try:
        runs = db.run("result_runs", target_id=target, query_name=name)
    except CrmflowError:  # a file opened read-only as an older crmflow left it: no result tables
        return None
    match = runs[runs["defs_key"] == key]
    if match.empty:
        return None
    extra: dict[str, Any] = {}
    if dates is not None:
        have = {pd.Timestamp(d).date() for d in match.iloc[0]["dates"]}
        wanted = [pd.Timestamp(d).date() for d in dates]
        if not set(wanted) <= have:
            return None
        if "dates" in get_query(f"read_{name}").params:  # else one date, the key's as-of date
            extra["dates"] = wanted
    try:
        return db.run(f"read_{name}", target_id=target, defs_key=key, **extra)
    except CrmflowError:  # a result table another version laid out differently: compute instead
        return None


def stored_or_run(db: Database, name: str, dataset_id: int | Scope, **params: Any) -> pd.DataFrame:
    """``db.run(name, dataset_id=dataset_id, **params)``, from the stored rows when they are there."""
    rows = stored_rows(db, name, dataset_id, **params)
    if rows is not None:
        return rows
    return db.run(name, dataset_id=dataset_id, **params)


def has_results(db: Database, dataset_id: int) -> bool:
    """Whether the dataset's results are stored by this version of crmflow."""
    try:
        return any(db.run("result_runs", target_id=int(dataset_id), query_name=name)["defs_key"]
                   .str.contains(code_version(), regex=False).any() for name in STORED)
    except CrmflowError:  # an older file opened read-only: no result tables
        return False


# --------------------------------------------------------------------------- writing
def compute(db: Database, dataset_id: int, queries: Iterable[str] | None = None, *, fits: bool = True) -> None:
    """Compute and store the dataset's results (replacing any stored ones),
    in one transaction: all of them or none; then, with ``fits`` and all
    queries, its fits (:func:`compute_fits`; without, they are left to
    crmflow.background). Writing processes only."""
    from crmflow.stages import data_range

    dataset_id = int(dataset_id)
    try:
        first, last = data_range(db, dataset_id)
    except CrmflowError:
        return  # no order: nothing to store (every view says so without computing)
    names = list(STORED if queries is None else queries)
    with db.write_lock, db.cursor(dataset_id) as cur:
        cur.begin()
        try:
            db.execute("drop_results", cur=cur, target_id=dataset_id)
            for name in names:
                for params in STORED[name].variants(first, last):
                    key = defs_key(params)
                    db.execute(f"store_{name}", cur=cur, target_id=dataset_id, defs_key=key, **params)
                    db.execute("record_result_run", cur=cur, target_id=dataset_id, query_name=name, defs_key=key,
                               dates=params.get("dates"))
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    if queries is None and fits:
        try:
            compute_fits(db, dataset_id)
        except Exception as exc:  # noqa: BLE001 - the pages fit on demand instead
            _log.info("crmflow: storing the fits of dataset %s failed: %s", dataset_id, exc)


def complete(db: Database, *, fits: bool = True) -> list[int]:
    """Compute the results of every dataset that has none (a store made before
    results were kept); a dataset whose computation fails is left to the
    pages, which compute on demand. Nothing is computed unless the disk has
    room for results as large as the file itself (beside the margin every
    write keeps). Returns the datasets completed."""
    from crmflow.db import ensure_free_space

    todo = list(db.run("datasets_without_results", code=code_version())["dataset_id"])
    if not todo:
        return []
    if db.path != ":memory:":
        try:
            ensure_free_space(db.path, os.path.getsize(db.path))
        except (CrmflowError, OSError) as exc:
            _log.info("crmflow: the stored results wait for free disk space: %s", exc)
            return []
    done = []
    for dataset_id in todo:
        try:
            compute(db, int(dataset_id), fits=fits)
        except Exception as exc:  # noqa: BLE001 - the pages fall back to computing; never blocks opening the store
            # quietly: whatever is wrong (a damaged file) the reading query that follows says in one line
            _log.info("crmflow: storing the results of dataset %s failed: %s", dataset_id, exc)
            continue
        done.append(int(dataset_id))
    return done


# --------------------------------------------------------------------------- stored fits
# The Python fits the churn page, key accounts, Segments, the CLV command and
# the report start from (the CLV model choice and fit, its default backtest,
# the churn calibration and its track record) are stored as their fitted
# parameters, one JSON row per fit (table ``result_params``), for D and the
# default definitions; rebuilt from them, the predictions are the fresh fit's
# exactly (a float survives JSON unchanged). Each kind is computed and
# rebuilt by its own module (crmflow.model, crmflow.churn); the key is the
# call's parameters, so any other call finds no row and fits as before.


def fit_requests(first: date, last: date) -> list[tuple[str, dict[str, Any]]]:
    """The stored fits of a dataset whose orders run from ``first`` to D =
    ``last``: (kind, key parameters) each."""
    from crmflow.model import MIN_CHOICE_HISTORY_DAYS, default_holdout_days

    params = Params()
    h = params.lost_after_days
    dates = _churn_dates(first, last)
    out: list[tuple[str, dict[str, Any]]] = [("clv_fit", {"as_of": d, "model": "auto"}) for d in dates]
    # the reference fits the CLV command shows beside the chosen one (BG/NBD and MBG/NBD by maximum likelihood)
    out += [("clv_fit", {"as_of": last, "model": m}) for m in ("bgnbd", "mbgnbd")]
    if (last - first).days >= MIN_CHOICE_HISTORY_DAYS:
        start = last - timedelta(days=default_holdout_days(first, last))
        out.append(("clv_backtest", {"calibration_end": start, "holdout_end": last, "model": "auto"}))
    out += [("churn_calibration", {"as_of": d, "horizon_days": h, **params.as_sql_params()}) for d in dates[:2]]
    out.append(("churn_track_record", {"as_of": last, "horizon_days": h, **params.as_sql_params()}))
    # the Segments view's 90% intervals of the fit at D (a table: one row per customer)
    out.append(("clv_intervals", model_defaults(last)))
    # the pages' per-customer tables at D, built from the fits above (FRAME_FITS)
    out += [(kind, {"as_of": last, **extra, **params.as_sql_params()}) for kind, (_, extra) in FRAME_FITS.items()]
    return out


def model_defaults(as_of: date) -> dict[str, Any]:
    """The key of the CLV intervals stored at ``as_of``: the chosen model, the default horizon and rate."""
    from crmflow.model import DEFAULT_DISCOUNT_RATE, DEFAULT_HORIZON_WEEKS

    return {"as_of": as_of, "model": "auto", "horizon_weeks": float(DEFAULT_HORIZON_WEEKS),
            "discount_rate": float(DEFAULT_DISCOUNT_RATE)}


#: The fits stored as tables (one row per customer) instead of one JSON row:
#: kind -> the frame's name on the cursor that ``store_<kind>`` reads.
TABLE_FITS = {"clv_intervals": "clv_intervals_frame"}

#: The pages' per-customer tables at D with the default definitions, built in
#: Python from the fits (so after them, in the same pass) and stored as Parquet
#: bytes (table ``result_frames``), read back exactly as built (:func:`stored_frame`):
#: kind -> ("module:function" building it from (db, dataset_id, **key), the key's
#: parameters besides D and the definitions).
FRAME_FITS: dict[str, tuple[str, dict[str, Any]]] = {
    "segment_customers": ("crmflow.segments_table:customers_state", {}),
    # every customer not lost, scored, with reasons (the pages word them in the reader's language)
    "churn_warnings": ("crmflow.churn:warnings_state", {"lang": "en"}),
}


def _fit_builder(kind: str) -> Callable[..., dict[str, Any] | None]:
    from crmflow import churn, model

    if kind in FRAME_FITS:
        import importlib

        module, name = FRAME_FITS[kind][0].split(":")
        return getattr(importlib.import_module(module), name)
    return {"clv_fit": model.fit_state, "clv_backtest": model.backtest_state,
            "churn_calibration": churn.calibration_state, "churn_track_record": churn.track_record_state,
            "clv_intervals": model.intervals_table}[kind]


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        raise TypeError(f"not JSON: {type(value).__name__}")
    return plain


#: The ``result_runs`` query name that notes a dataset's fits are stored (all
#: that its data allow), in the same transaction as the fits themselves.
FITS_RUN = "result_params"

#: ``progress(done, total)`` while fits are built: how many of the dataset's fits are done.
Progress = Callable[[int, int], None]

#: While :func:`build_fits` fits (per thread), the fits built so far in that
#: pass: :func:`stored_params` answers from them, never from the fits being
#: replaced (a later fit that starts from an earlier one, e.g. the intervals
#: from the fit at D, takes it as it will be stored); so do :func:`stored_table` and
#: :func:`stored_frame`, with the tables built so far.
_FRESH: contextvars.ContextVar[dict[tuple[str, str], Any] | None] = contextvars.ContextVar("crmflow_fresh_fits",
                                                                                          default=None)

#: A stored fit: (kind, definitions key, JSON parameters or, for :data:`TABLE_FITS`, a frame).
FitRow = tuple[str, str, "str | pd.DataFrame"]


def build_fits(db: Database, dataset_id: int, progress: Progress | None = None) -> list[FitRow]:
    """Fit the dataset's :func:`fit_requests`: (kind, definitions key, JSON
    state) each, for :func:`save_fits`. A fit the data cannot give (too
    short a history, nobody to fit) is left out, and its readers fit (and
    fail) as before. Reads only, so a reading process (the dashboard, in the
    background: crmflow.background) can build them. Each fit is computed from
    the data, never read from the fits stored before (:func:`stored_params`
    answers None meanwhile, in this thread), so a refit replaces them."""
    from crmflow.stages import data_range

    dataset_id = int(dataset_id)
    first, last = data_range(db, dataset_id)
    requests = fit_requests(first, last)
    rows: list[FitRow] = []
    built: dict[tuple[str, str], Any] = {}
    fresh = _FRESH.set(built)  # every fit from the data, none from the fits stored before
    try:
        for n, (kind, key) in enumerate(requests):
            if progress is not None:
                progress(n, len(requests))
            try:
                state = _fit_builder(kind)(db, dataset_id, **key)
            except CrmflowError:
                continue
            if state is None:
                continue
            if kind in TABLE_FITS or kind in FRAME_FITS:
                built[(kind, defs_key(key))] = state  # a later builder reads it as stored
                rows.append((kind, defs_key(key), state))
                continue
            payload = json.dumps(state, default=_json_default)
            built[(kind, defs_key(key))] = json.loads(payload)  # as a reader will get it
            rows.append((kind, defs_key(key), payload))
    finally:
        _FRESH.reset(fresh)
    if progress is not None:
        progress(len(requests), len(requests))
    return rows


def save_fits(db: Database, dataset_id: int, rows: Iterable[FitRow]) -> bool:
    """Store fits built by :func:`build_fits` (replacing any stored ones) and
    note that they are stored, in one transaction. Nothing is stored, and the
    answer is False, when the dataset is gone (deleted or replaced while it
    was fitted). Writing processes only."""
    dataset_id = int(dataset_id)
    with db.write_lock, db.cursor(dataset_id) as cur:
        cur.begin()
        try:
            if db.run("dataset_stored", cur=cur, target_id=dataset_id).empty:
                cur.rollback()
                return False
            db.execute("drop_result_params", cur=cur, target_id=dataset_id, query_name=FITS_RUN)
            for kind, key, payload in rows:
                if kind in FRAME_FITS:
                    db.execute("store_result_frame", cur=cur, target_id=dataset_id, kind=kind, defs_key=key,
                               data=frame_bytes(payload))
                elif kind in TABLE_FITS:
                    cur.register(TABLE_FITS[kind], payload)
                    try:
                        db.execute(f"store_{kind}", cur=cur, target_id=dataset_id, defs_key=key)
                    finally:
                        cur.unregister(TABLE_FITS[kind])
                else:
                    db.execute("store_result_params", cur=cur, target_id=dataset_id, kind=kind, defs_key=key,
                               payload=payload)
            db.execute("record_result_run", cur=cur, target_id=dataset_id, query_name=FITS_RUN,
                       defs_key=defs_key({}), dates=None)
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    return True


def compute_fits(db: Database, dataset_id: int) -> int:
    """Fit and store the dataset's fits (:func:`build_fits`, :func:`save_fits`),
    never from the fits stored before. Returns how many were stored. Writing
    processes only."""
    dataset_id = int(dataset_id)
    rows = build_fits(db, dataset_id)
    save_fits(db, dataset_id, rows)
    return len(rows)


def without_fits(db: Database) -> list[int]:
    """The datasets whose fits this version has not stored, newest first."""
    try:
        return [int(x) for x in db.run("datasets_without_fits", code=code_version(), query_name=FITS_RUN)["dataset_id"]]
    except CrmflowError:  # a file opened read-only as an older crmflow left it: no result tables
        return []


def _stored(db: Database, kind: str, dataset_id: int | Scope, key: dict[str, Any],
            read: Callable[[int, str], Any]) -> Any:
    """The stored fit ``kind`` of the call with parameters ``key``: while
    :func:`build_fits` builds, the one built in that pass, if any; else
    ``read(dataset, definitions key)`` from the store. None when the call reads
    part of a dataset or it is not stored."""
    target = whole_dataset(dataset_id)
    if target is None:
        return None
    fresh = _FRESH.get()
    if fresh is not None:
        return fresh.get((kind, defs_key(key)))
    try:
        return read(target, defs_key(key))
    except CrmflowError:  # a file opened read-only as an older crmflow left it: no such table
        return None


def stored_params(db: Database, kind: str, dataset_id: int | Scope, **key: Any) -> dict[str, Any] | None:
    """The stored fit ``kind`` of the call with parameters ``key`` on the
    dataset (as stored by :func:`compute_fits`), or None when the call reads
    part of a dataset or its fit is not stored."""
    def read(target: int, text: str) -> dict[str, Any] | None:
        rows = db.run("read_result_params", target_id=target, kind=kind, defs_key=text)
        return None if rows.empty else json.loads(rows.iloc[0]["payload"])

    return _stored(db, kind, dataset_id, key, read)


def stored_table(db: Database, kind: str, dataset_id: int | Scope, **key: Any) -> pd.DataFrame | None:
    """The stored table fit ``kind`` (:data:`TABLE_FITS`) of the call with
    parameters ``key`` on the dataset (:func:`_stored`)."""
    def read(target: int, text: str) -> pd.DataFrame | None:
        rows = db.run(f"read_{kind}", target_id=target, defs_key=text)
        return None if rows.empty else rows

    return _stored(db, kind, dataset_id, key, read)


def stored_frame(db: Database, kind: str, dataset_id: int | Scope, **key: Any) -> pd.DataFrame | None:
    """The stored per-customer table ``kind`` (:data:`FRAME_FITS`) of the call
    with parameters ``key`` on the dataset, exactly as its builder gave it
    (column types and ``attrs`` included; :func:`_stored`)."""
    def read(target: int, text: str) -> pd.DataFrame | None:
        rows = db.run("read_result_frame", target_id=target, kind=kind, defs_key=text)
        return None if rows.empty else frame_from_bytes(rows.iloc[0]["data"])

    return _stored(db, kind, dataset_id, key, read)


def stored_fit(db: Database, kind: str, dataset_id: int | Scope, **key: Any) -> dict[str, Any] | pd.DataFrame | None:
    """The stored fit ``kind`` of the call, whichever way it is stored
    (:func:`stored_table` for :data:`TABLE_FITS`, :func:`stored_frame` for
    :data:`FRAME_FITS`, else :func:`stored_params`)."""
    read = stored_table if kind in TABLE_FITS else stored_frame if kind in FRAME_FITS else stored_params
    return read(db, kind, dataset_id, **key)


#: Parquet metadata of a stored frame: its columns of lists or dicts (kept as
#: JSON text) and its ``attrs``.
_FRAME_META = b"crmflow.frame"


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as the bytes of a Parquet file (:func:`frame_from_bytes` reads it
    back): a column of lists or dicts (a customer's reasons) as JSON text per
    cell, so that each cell comes back as it was; ``attrs`` as JSON."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    nested = [c for c in frame.columns if frame[c].dtype == object
              and any(isinstance(v, (list, tuple, dict)) for v in frame[c])]
    if nested:
        frame = frame.assign(**{c: [json.dumps(v, ensure_ascii=False, default=_json_default) for v in frame[c]]
                                for c in nested})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = json.dumps({"json": nested, "attrs": frame.attrs}, ensure_ascii=False, default=_json_default)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _FRAME_META: meta.encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def frame_from_bytes(data: bytes) -> pd.DataFrame:
    """The frame :func:`frame_bytes` wrote, as it was: Parquet keeps numbers,
    nullable integers and dates; a text column that was ``object`` comes back
    as ``object`` (pandas' metadata in the file says so), the JSON columns as
    their lists and dicts, and the ``attrs``."""
    import io

    import orjson
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(bytes(data)))
    ours = json.loads((table.schema.metadata or {}).get(_FRAME_META, b"{}"))
    nested = ours.get("json", [])
    frame = table.drop_columns(nested).to_pandas() if nested else table.to_pandas()
    meta = table.schema.pandas_metadata or {}
    objects = [c["name"] for c in meta.get("columns", []) if c.get("numpy_type") == "object"
               and c.get("name") in frame.columns and frame[c["name"]].dtype != object]
    if objects:
        frame = frame.astype(dict.fromkeys(objects, object))
    for column in nested:  # the whole column parsed as one JSON array (one call, not one per cell)
        values = orjson.loads("[" + ",".join(table.column(column).to_pylist()) + "]")
        cells = np.empty(len(values), dtype=object)  # one list per cell, whatever their lengths
        for i, value in enumerate(values):
            cells[i] = value
        frame.insert(table.schema.get_field_index(column), column, cells)
    frame.attrs = ours.get("attrs", {})
    return frame
