"""Stored datasets: ingest, list, rename, delete — in one DuckDB file.

An ingest runs under the database's write lock: the rows of every input file
are parsed into temporary tables first, then stored and the dataset registered
in one transaction; any failure rolls everything back, so earlier datasets are
never touched.

Three ways to open the file:

- ``Store(path)``: read-write for the life of the object (one process only;
  tests, the benchmark).
- ``Store(path, read_only=True)``: reading only; any number of processes may
  read the file at once (the command line's reading commands).
- ``Store(path, shared=True)``: the dashboard's and the command line's writing
  commands. The file is held read-only, so reading commands work beside it;
  each change (ingest, rename, delete) first checks the free disk space, then
  closes the file (running queries finish first, new ones wait) and runs in a
  child process that opens it read-write, writes, checkpoints and exits.
  DuckDB can abort the whole process on a fatal engine error (a commit on a
  full disk: "FatalException ... duplicate key"); then only the child dies,
  and the caller gets one clear message with the file opened again as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import duckdb
import pandas as pd

from crmflow.config import DEFAULT_DATASET_ENV_VAR, DEMO_DATASET, database_path
from crmflow import errors as _errors
from crmflow.db import (
    FREE_SPACE_MARGIN,
    translate_error,
    Database,
    ensure_free_space,
    free_bytes,
    readers_of,
    size_text,
    storage_error,
)
from crmflow.errors import CrmflowError, DatasetError
from crmflow.ingest import ReadOptions, TableReport, prepare, use_parsed
from crmflow.messages import REASON_KEYS, Term, TermList

MAX_NAME_LENGTH = 100
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """A stored dataset as listed in the ``datasets`` table."""

    dataset_id: int
    name: str
    created_at: datetime
    source: str
    n_transactions: int
    n_customers: int
    n_interactions: int
    n_rejected: int
    has_order_id: bool
    report: dict[str, Any]


@dataclass(frozen=True)
class IngestResult:
    dataset: Dataset
    reports: list[TableReport]


def clean_name(name: str) -> str:
    """A dataset name as stored: trimmed, printable, 1-100 characters."""
    text = unicodedata.normalize("NFC", str(name or "")).strip()
    if not text:
        raise DatasetError(key="dataset_name_empty")
    if len(text) > MAX_NAME_LENGTH:
        raise DatasetError(key="dataset_name_too_long", limit=MAX_NAME_LENGTH)
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise DatasetError(key="dataset_name_control")
    return text


#: ``via`` of a change made without a signed-in user (the command line, tests, the benchmark).
VIA_LOCAL = "local"


def _who(actor: str | None, via: str | None) -> tuple[str, str]:
    """(actor, via) of an audit row: the signed-in user and "dashboard", or by
    default the operating-system user of this process and :data:`VIA_LOCAL`."""
    if not actor:
        import getpass

        try:
            actor = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in this environment
            actor = "?"
    return str(actor), str(via or VIA_LOCAL)


def rejected_terms(by_reason: Mapping[str, int]) -> TermList:
    """``3 × missing amount; 1 × ...`` with each reason in the reader's language."""
    return TermList((Term(f"{n} × {r}", "datapage_reason_count", n=int(n), reason=Term(r, REASON_KEYS.get(r)))
                     for r, n in by_reason.items()), sep="; ")


class Store:
    """The datasets in one database file (or in memory for one-off CLI runs)."""

    def __init__(self, path: str | os.PathLike | None = None, *, in_memory: bool = False,
                 read_only: bool = False, shared: bool = False, wait: bool | None = None) -> None:
        self.read_only = read_only
        self.shared = shared and not in_memory and not read_only
        if in_memory:
            self.db = Database(":memory:")
            return
        file = database_path(path)
        if read_only or self.shared:
            _prepare_file(file)  # a new or older file made ready first (skipped while another process holds it)
        self.db = Database(file, read_only=read_only or self.shared, wait=wait)

    @property
    def path(self) -> str:
        return self.db.path

    def _check_writable(self) -> None:
        if self.read_only:
            raise CrmflowError(key="db_read_only_mode", path=self.path)

    def _in_child(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``Store(path).<op>(*args, **kwargs)`` in a child process while
        this process has the file closed (see the module's docstring). A
        child that died without an answer may have committed first: then the
        change is visible once the file is open again, and it counts as done."""
        before = self._state_of(op, args)
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(self.db.suspended())
                # any other store of this process on the file (they share one DuckDB instance) closes too
                for other in readers_of(self.path):
                    if other is not self.db:
                        stack.enter_context(other.suspended())
                return run_in_child(self.path, op, args, kwargs)
        except NoAnswerError as exc:
            done = self._done_anyway(op, args, before)
            if done is None:
                raise
            _log.info("crmflow: the writing process gave no answer, but its %s is stored: %s", op, exc.line())
            return done

    def _state_of(self, op: str, args: tuple) -> Any:
        """What the store holds of the dataset ``op`` changes (to tell afterwards whether it happened)."""
        if op != "ingest":
            return None
        try:
            return self.get(args[0]).dataset_id
        except CrmflowError:
            return None

    def _done_anyway(self, op: str, args: tuple, before: Any) -> Any:
        """The result of ``op`` when its change is visible in the store, else None."""
        from crmflow.ingest import TableReport

        try:
            names = self.names()
            if op == "ingest" and args[0] in names:
                ds = self.get(args[0])
                if ds.dataset_id == before:
                    return None  # the old dataset of that name (a replace that did not happen)
                reports = [TableReport(**{**r, "warnings": [str(w) for w in r.get("warnings", [])]})
                           for r in ds.report.get("tables", [])]
                return IngestResult(ds, reports)
            if op == "rename" and args[1] in names and (args[0] == args[1] or args[0] not in names):
                return self.get(args[1])
            if op == "delete" and args[0] not in names:
                return True
            if op == "ensure_demo" and DEMO_DATASET in names:
                return self.get(DEMO_DATASET)
        except (CrmflowError, TypeError, KeyError):
            return None
        return None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def datasets(self) -> pd.DataFrame:
        return self.db.run("list_datasets")

    def names(self) -> list[str]:
        return list(self.datasets()["name"])

    def default_name(self, names: list[str] | None = None) -> str | None:
        """The dataset a link without ``?dataset=`` opens. It must not move when
        someone uploads, so a bookmark keeps showing the same data: the one
        pinned with $CRMFLOW_DEFAULT_DATASET when it exists, else the demo, else
        the oldest stored dataset (None when there is none). ``names`` is
        :meth:`names` when the caller has it already."""
        names = self.names() if names is None else names
        if not names:
            return None
        pinned = os.environ.get(DEFAULT_DATASET_ENV_VAR, "").strip()
        for name in (pinned, DEMO_DATASET):
            if name and name in names:
                return name
        return names[-1]  # names() lists the newest first

    def get(self, name: str) -> Dataset:
        rows = self.db.run("get_dataset", dataset_name=str(name))
        if rows.empty:
            known = self.names()
            if known:
                raise DatasetError(key="dataset_unknown", name=str(name), known=TermList(known))
            raise DatasetError(key="dataset_none", name=str(name))
        row = rows.iloc[0].to_dict()
        row["report"] = json.loads(row["report"])
        row["created_at"] = pd.Timestamp(row["created_at"]).to_pydatetime()
        for key in ("dataset_id", "n_transactions", "n_customers", "n_interactions", "n_rejected"):
            row[key] = int(row[key])
        row["has_order_id"] = bool(row["has_order_id"])
        return Dataset(**row)

    def rejected_rows(self, name: str) -> pd.DataFrame:
        return self.db.run("rejected_rows", target_id=self.get(name).dataset_id)

    def audit(self) -> pd.DataFrame:
        """The audit trail, newest first: changed_at, actor, via, action (upload,
        replace, rename, delete), dataset_id, dataset, detail. Empty (same
        columns) on an older store file without the trail that could not be
        upgraded (opened read-only, or held by another process)."""
        if not self._has_audit():
            return pd.DataFrame(columns=["changed_at", "actor", "via", "action", "dataset_id", "dataset", "detail"])
        return self.db.run("list_audit")

    def _has_audit(self) -> bool:
        return not self.db.run("table_exists", table_name="audit").empty

    def uploaded_by(self, name: str) -> tuple[str, str] | None:
        """(actor, via) of whoever stored dataset ``name`` as it is now (None: not recorded)."""
        dataset_id = self.get(name).dataset_id
        if not self._has_audit():
            return None
        rows = self.db.run("dataset_uploader", target_id=dataset_id)
        return None if rows.empty else (str(rows.iloc[0]["actor"]), str(rows.iloc[0]["via"]))

    def _record(self, cur: Any, action: str, dataset_id: int, name: str, actor: str | None, via: str | None,
                detail: str | None = None) -> None:
        who, through = _who(actor, via)
        self.db.execute("insert_audit", cur=cur, changed_at=datetime.now(), actor=who, via=through, action=action,
                        target_id=int(dataset_id), dataset_name=name, detail=detail)

    @contextlib.contextmanager
    def _transaction(self, cur: Any, what: str) -> Iterator[None]:
        """One transaction on ``cur``: committed when the block ends, rolled back
        on any failure. A failure of the engine itself (e.g. the commit meets a
        read-only folder) is its one true message, as every statement's is."""
        cur.begin()
        try:
            yield
            cur.commit()
        except BaseException as exc:
            with contextlib.suppress(Exception):  # a failed commit has ended the transaction already
                cur.rollback()
            if isinstance(exc, duckdb.Error):
                raise translate_error(exc, f"Statement {what}", self.path) from None
            raise

    # ------------------------------------------------------------------ writing
    def ingest(self, name: str, transactions: Any, customers: Any = None, interactions: Any = None, *,
               overrides: dict[str, dict[str, str]] | None = None, date_preference: str | None = None,
               read_options: Mapping[str, ReadOptions] | None = None, replace: bool = False,
               actor: str | None = None, via: str | None = None, surveys: Any = None,
               results: bool | None = None, fits: bool = True, background: bool = False) -> IngestResult:
        """Parse the inputs and store them as dataset ``name`` (all or nothing).
        ``overrides`` and ``read_options`` are per table; ``surveys`` is the
        optional Servqual survey (crmflow.servqual). The audit trail
        records the upload (or replace) by ``actor`` through ``via`` in the
        same transaction (:func:`_who` for the defaults). With ``results``, the
        dataset's stored results (crmflow.results) are computed right after it
        is stored; by default only in a store file (an in-memory store lives
        for one run, where they would only cost time). Their slowest part, the
        model fits, is computed before this returns, unless ``fits`` is false
        (then they are left for later); with ``background`` they are
        computed after it returns, by a thread of this process
        (crmflow.background: the dashboard's way, so that an upload does not
        wait for them, and the pages fit on demand meanwhile)."""
        name = clean_name(name)
        self._check_writable()
        if self.path != ":memory:":
            ensure_free_space(self.path, 2 * sum(_input_bytes(x) for x in (transactions, customers, interactions,
                                                                          surveys)))
        if self.shared:
            transactions, customers, interactions, surveys = (
                _absolute(x) for x in (transactions, customers, interactions, surveys))
            result = self._in_child("ingest", name, transactions, customers, interactions, overrides=overrides,
                                    date_preference=date_preference, read_options=read_options, replace=replace,
                                    actor=actor, via=via, surveys=surveys, results=results,
                                    fits=fits and not background)
            if background:
                self.fit_in_background()
            return result
        overrides = overrides or {}
        read_options = read_options or {}
        inputs = [("transactions", transactions), ("customers", customers), ("interactions", interactions),
                  ("surveys", surveys)]
        inputs = [(t, s) for t, s in inputs if s is not None]
        with self.db.write_lock, self.db.cursor() as cur:
            existing = self.db.run("get_dataset", cur=cur, dataset_name=name)
            if not existing.empty and not replace:
                raise DatasetError(key="dataset_exists", name=name)
            # Parse every input first, outside the transaction: that writes only
            # temporary tables of this cursor, and DuckDB would keep undo data for
            # them inside a transaction (~40% of the time of a large ingest).
            reports = [prepare(self.db, cur, table, source, overrides.get(table), date_preference,
                               read_options.get(table))
                       for table, source in inputs]
            counts = {"transactions": 0, "customers": 0, "interactions": 0}
            counts.update({r.table: r.rows_loaded for r in reports})
            if counts["transactions"] == 0:
                raise CrmflowError(key="store_no_usable_rows", reasons=rejected_terms(reports[0].rejected_by_reason))
            with self._transaction(cur, "insert_dataset"):
                if not existing.empty:
                    self._delete_rows(cur, int(existing.iloc[0]["dataset_id"]))
                dataset_id = int(self.db.run("next_dataset_id", cur=cur).iloc[0]["dataset_id"])
                for report in reports:
                    use_parsed(cur, report.table)
                    self.db.execute(f"insert_{report.table}", cur=cur, target_id=dataset_id)
                    if report.table == "transactions":
                        self.db.execute("insert_orders", cur=cur, target_id=dataset_id)
                        self.db.execute("insert_transaction_customers", cur=cur, target_id=dataset_id)
                        self.db.execute("insert_transaction_prices", cur=cur, target_id=dataset_id)
                    self.db.execute("insert_rejected", cur=cur, target_id=dataset_id, source=report.table)
                report_doc = {"dataset": name, "tables": [r.to_dict() for r in reports]}
                self.db.execute(
                    "insert_dataset", cur=cur, target_id=dataset_id, dataset_name=name,
                    created_at=datetime.now().replace(microsecond=0),
                    source=", ".join(str(r.source) for r in reports),
                    n_transactions=counts["transactions"], n_customers=counts["customers"],
                    n_interactions=counts["interactions"],
                    n_rejected=sum(r.rows_rejected for r in reports),
                    has_order_id="order_id" in reports[0].mapping,
                    report=json.dumps(report_doc, ensure_ascii=False, default=str),
                )
                self._record(cur, "upload" if existing.empty else "replace", dataset_id, name, actor, via)
        if results or (results is None and self.path != ":memory:"):
            _store_results(self.db, dataset_id, fits and not background)
            from crmflow.results import complete

            complete(self.db, fits=fits and not background)  # and those of older datasets (never fails)
            if background:
                self.fit_in_background()
        # the Parquet copy Spark reads (issue 16), last: the dataset and its results are stored
        # whether or not the copy can be written
        from crmflow.engine_spark import mirror_ingest

        mirror_ingest(self.db, dataset_id, None if existing.empty else int(existing.iloc[0]["dataset_id"]), name)
        return IngestResult(self.get(name), reports)

    def _delete_rows(self, cur: Any, dataset_id: int) -> None:
        """Remove a dataset's stored results and fits, then its rows (inside the caller's transaction)."""
        self.db.execute("drop_results", cur=cur, target_id=dataset_id)
        self.db.execute("delete_dataset", cur=cur, target_id=dataset_id)

    def fit_in_background(self) -> None:
        """Fit, in a thread of this process, every dataset whose fits are not
        stored (crmflow.background.schedule)."""
        from crmflow import background

        background.schedule(self)

    def save_fits(self, dataset_id: int, rows: list[tuple[str, str, str]]) -> bool:
        """Store a dataset's fits built by crmflow.results.build_fits (False:
        the dataset is gone, nothing stored)."""
        from crmflow import results

        self._check_writable()
        if self.shared:
            return self._in_child("save_fits", int(dataset_id), list(rows))
        return results.save_fits(self.db, int(dataset_id), rows)

    def rename(self, old: str, new: str, *, actor: str | None = None, via: str | None = None) -> Dataset:
        new = clean_name(new)
        self._check_writable()
        if self.path != ":memory:":
            ensure_free_space(self.path)
        if self.shared:
            self.get(old)  # a missing dataset is told without a child process
            return self._in_child("rename", old, new, actor=actor, via=via)
        with self.db.write_lock, self.db.cursor() as cur:
            ds = self.get(old)
            if new != ds.name and new in self.names():
                raise DatasetError(key="dataset_name_taken", name=new)
            with self._transaction(cur, "rename_dataset"):
                self.db.execute("rename_dataset", cur=cur, target_id=ds.dataset_id, new_name=new)
                self._record(cur, "rename", ds.dataset_id, new, actor, via, ds.name)
        return self.get(new)

    def delete(self, name: str, *, actor: str | None = None, via: str | None = None) -> None:
        self._check_writable()
        if self.path != ":memory:":
            ensure_free_space(self.path)
        if self.shared:
            self.get(name)
            self._in_child("delete", name, actor=actor, via=via)  # (the answer: True)
            return
        with self.db.write_lock, self.db.cursor() as cur:
            ds = self.get(name)
            with self._transaction(cur, "delete_dataset"):
                self._delete_rows(cur, ds.dataset_id)
                self._record(cur, "delete", ds.dataset_id, ds.name, actor, via)
        from crmflow.engine_spark import mirror_delete

        mirror_delete(self.db, ds.dataset_id)

    def ensure_demo(self, *, fits: bool = True, background: bool = False) -> Dataset:
        """The bundled demo dataset, generated and stored on first use (its
        fits as :meth:`ingest` says)."""
        with self.db.write_lock:
            if DEMO_DATASET in self.names():
                return self.get(DEMO_DATASET)
            if self.shared:
                self._check_writable()
                ensure_free_space(self.path, 64 * 1024 * 1024)
                demo = self._in_child("ensure_demo", fits=fits and not background)
                if background:
                    self.fit_in_background()
                return demo
            from crmflow.demo import generate

            data = generate()
            return self.ingest(DEMO_DATASET, data.transactions, data.customers, data.interactions,
                               actor="crmflow", via="demo", surveys=data.surveys, fits=fits,
                               background=background).dataset


def load_file_dataset(transactions: str | Path, customers: str | Path | None = None,
                      interactions: str | Path | None = None, *,
                      overrides: dict[str, dict[str, str]] | None = None,
                      date_preference: str | None = None,
                      read_options: Mapping[str, ReadOptions] | None = None,
                      surveys: str | Path | None = None) -> tuple[Store, IngestResult]:
    """Load files into an in-memory store (for one-off command-line runs)."""
    store = Store(in_memory=True)
    try:
        result = store.ingest(Path(transactions).name or "file", transactions, customers, interactions,
                              overrides=overrides, date_preference=date_preference, read_options=read_options,
                              surveys=surveys)
    except BaseException:
        store.close()
        raise
    return store, result


def _store_results(db: Database, dataset_id: int, fits: bool = True) -> None:
    """The dataset's stored results (crmflow.results). A failure leaves the
    dataset stored without them: the pages compute on demand, and the next
    process that opens the file for writing tries again."""
    from crmflow import results
    from crmflow.engine_spark import ENGINE_ENV

    try:
        if os.environ.get(ENGINE_ENV, "").strip().lower() == "spark":  # computed on Spark (issue 16)
            from crmflow.engine_spark import compute_results

            compute_results(db, dataset_id, fits=fits)
        else:
            results.compute(db, dataset_id, fits=fits)
    except Exception as exc:  # noqa: BLE001 - the dataset is committed; its results are an optimisation
        _log.info("crmflow: storing the results of dataset %s failed: %s", dataset_id, exc)


# --------------------------------------------------------------------------- writing in a child process
#: The changes a child process may make (``Store`` methods).
CHILD_OPS = ("ingest", "rename", "delete", "ensure_demo", "save_fits")


def _input_bytes(source: Any) -> int:
    """Roughly how many bytes an input brings (for the free-space check)."""
    if source is None:
        return 0
    if isinstance(source, pd.DataFrame):
        return int(source.memory_usage(index=False, deep=True).sum())
    try:
        return Path(source).stat().st_size
    except (OSError, TypeError, ValueError):
        return 0


def _absolute(source: Any) -> Any:
    """A file path made absolute (the child process may run in another
    folder); anything else (a frame, an upload) as it is."""
    if isinstance(source, str):
        return os.path.abspath(os.path.expanduser(source))
    if isinstance(source, os.PathLike):
        return Path(os.path.abspath(os.path.expanduser(source)))
    return source


def _prepare_file(path: Path) -> None:
    """Create the file and its tables, bring an older file up to date and give
    back space a killed writer left (read-write, briefly). When another
    process holds the file, or the file is read-only, it is left as it is:
    reading it still works."""
    try:
        Database(path).close()
    except CrmflowError:
        if not path.exists():
            raise
        # held by another process or another store of this one, read-only, damaged …: opening it
        # read-only next says what is wrong if it cannot be read


def _error_record(exc: BaseException, path: str) -> dict[str, Any]:
    if not isinstance(exc, CrmflowError):
        known = storage_error(exc, path)
        if known is None:
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            known = CrmflowError(key="store_write_unexpected", path=path, kind=type(exc).__name__, detail=first)
        exc = known
    return {"class": type(exc).__name__, "key": exc.key, "params": exc.params, "message": exc.message,
            "hint": exc.hint}


def _error_from(record: dict[str, Any]) -> CrmflowError:
    cls = getattr(_errors, record["class"], CrmflowError)
    if not (isinstance(cls, type) and issubclass(cls, CrmflowError)):
        cls = CrmflowError
    if record["key"] is not None:
        return cls(key=record["key"], **record["params"])
    return cls(record["message"], record["hint"])


def run_in_child(path: str, op: str, args: tuple, kwargs: dict) -> Any:
    """``Store(path).<op>(*args, **kwargs)`` in another Python process (forked
    by the warm launcher of crmflow.writer in the dashboard, else a new one);
    its result, or its error as the same CrmflowError. A child that dies (a
    fatal engine error aborts it) gives a disk-full or engine-failed message."""
    from crmflow import writer

    if op not in CHILD_OPS:
        raise ValueError(op)
    with tempfile.TemporaryDirectory(prefix="crmflow-write-") as tmp:
        answer = Path(tmp) / "answer.pickle"
        path = os.path.abspath(path)
        request = {"path": path, "op": op, "args": args, "kwargs": kwargs, "answer": str(answer)}
        errors = Path(tmp) / "stderr.txt"
        handed, returncode = writer.run(request, str(errors))
        if handed:
            stderr = errors.read_bytes() if errors.exists() else b""
        else:
            proc = subprocess.run([sys.executable, "-m", "crmflow.store"], input=pickle.dumps(request),
                                  capture_output=True, env=writer.child_env(), check=False)
            returncode, stderr = proc.returncode, proc.stderr
        status, value = None, None
        if answer.exists():
            try:
                status, value = pickle.loads(answer.read_bytes())
            except Exception:  # noqa: BLE001 - a cut-short answer is no answer
                status = None
        if status == "ok":
            return value
        if status == "error":
            raise _error_from(value)
    # no answer: the child died (DuckDB aborts on a fatal error; the OOM killer; a signal)
    stderr = stderr.decode("utf-8", "replace").strip()[-4000:]
    _log.info("crmflow: the writing process (%s on %s) ended with status %s and no answer; its errors: %s",
                 op, path, returncode, stderr or "(none)")
    free = free_bytes(path)
    if free is not None and free < FREE_SPACE_MARGIN:
        raise NoAnswerError(key="db_disk_full", path=str(path), free=size_text(free),
                            needed=size_text(FREE_SPACE_MARGIN)) from None
    raise NoAnswerError(key="db_engine_failed", path=str(path)) from None


class NoAnswerError(CrmflowError):
    """The writing process ended without an answer (the caller checks whether
    its change is stored before telling this)."""


def _child_main() -> int:
    request = pickle.loads(sys.stdin.buffer.read())
    return _child_run(request["path"], request["op"], request["args"], request["kwargs"], Path(request["answer"]))


def _child_run(path: str, op: str, args: tuple, kwargs: dict, answer: Path) -> int:
    """The child's work: the change, then (once it is committed) the
    checkpoint and the answer, whose failures never turn it into an error."""
    store = None
    try:
        # wait=True: a command-line reader passing by does not make the page's write fail
        store = Store(path, wait=True)
        result: tuple[str, Any] = ("ok", getattr(store, op)(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent as one message
        result = ("error", _error_record(exc, path))
    if store is not None:
        try:
            if result[0] == "ok":
                store.db.checkpoint()  # the change is committed (in the journal) already
        except BaseException:  # noqa: BLE001
            _log.warning("crmflow: checkpoint after %s on %s failed; the change is kept", op, path, exc_info=True)
        try:
            store.close()
        except BaseException:  # noqa: BLE001
            _log.warning("crmflow: closing %s after %s failed", path, op, exc_info=True)
    try:
        data = pickle.dumps(result)
    except Exception:  # noqa: BLE001 - no answer: the parent checks whether the change is stored
        _log.warning("crmflow: the answer of %s could not be written", op, exc_info=True)
        return 1
    answer.write_bytes(data)
    return 0


if __name__ == "__main__":
    from crmflow import store as _store  # the classes the parent unpickles live in crmflow.store

    sys.exit(_store._child_main())
