"""One door to the database: named queries from ``queries/`` with bound parameters.

Every ``.sql`` file under ``queries/`` holds one named query with a header::

    -- name: stage_counts
    -- purpose: Number of customers in each stage at the as-of date.
    -- grain: one row per stage
    -- params: dates, lost_after_days, loyal_orders, loyal_window_days
    -- uses: customer_stages
    -- columns: stage, customers

``kind`` is ``query`` (the default), ``view`` (a staging model, created as a
temporary view on every cursor before a query runs), ``macro`` (a scalar
macro the staging views share, created before them) or ``script`` (DDL run
statement by statement). ``uses`` names other queries that this one reads as
common table expressions; the runner prepends them (dependencies first), which
is how dbt's ``ref`` compiles, so the files stay plain portable SQL.

Values are always bound (``$as_of``), never formatted into the text. The
declared parameters must equal those the composed text uses, so a stray or a
missing parameter fails loudly. The dataset a call reads is chosen with the
session variable ``dataset_id`` that the staging views filter on.

A DuckDB connection is not thread-safe: :meth:`Database.run` takes a cursor per
call, and writes are serialised with a lock (see :mod:`crmflow.store`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

from crmflow.config import QUERIES_DIR
from crmflow.errors import CrmflowError, DatabaseBusyError, QueryError

_HEADER_RE = re.compile(r"^--\s*([a-z_]+):\s*(.*)$")
_PARAM_RE = re.compile(r"\$([a-z_][a-z0-9_]*)")
_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_LEADING_WITH_RE = re.compile(r"^\s*WITH\s", re.IGNORECASE)
KINDS = ("query", "view", "script", "macro")
T = TypeVar("T")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedQuery:
    """One parsed ``queries/**/*.sql`` file."""

    name: str
    path: Path
    kind: str
    purpose: str
    grain: str
    params: tuple[str, ...]
    uses: tuple[str, ...]
    columns: tuple[str, ...]
    body: str
    used_params: frozenset[str] = field(default_factory=frozenset)
    arguments: tuple[str, ...] = ()


def _split_list(value: str) -> tuple[str, ...]:
    value = value.strip()
    if value in ("", "none", "-"):
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def parse_query_file(path: Path) -> NamedQuery:
    """Parse the header comment block and body of one query file."""
    header: dict[str, str] = {}
    body_lines: list[str] = []
    in_header = True
    last_key = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if in_header and line.startswith("--"):
            m = _HEADER_RE.match(line)
            if m:
                last_key = m.group(1)
                header[last_key] = m.group(2).strip()
            elif last_key is not None:  # continuation line of the previous key
                header[last_key] += " " + line.lstrip("- ").strip()
            continue
        in_header = False
        body_lines.append(line)
    body = "\n".join(body_lines).strip().rstrip(";").strip()
    name = header.get("name", "")
    if name != path.stem or not _IDENT_RE.match(name):
        raise ValueError(f"{path}: header '-- name: {name}' must equal the file name")
    kind = header.get("kind", "query")
    if kind not in KINDS:
        raise ValueError(f"{path}: unknown kind {kind!r}")
    return NamedQuery(
        name=name,
        path=path,
        kind=kind,
        purpose=header.get("purpose", ""),
        grain=header.get("grain", ""),
        params=_split_list(header.get("params", "")),
        uses=_split_list(header.get("uses", "")),
        columns=_split_list(header.get("columns", "")),
        body=body,
        used_params=frozenset(_PARAM_RE.findall(_strip_comments(body))),
        arguments=_split_list(header.get("arguments", "")),
    )


@lru_cache(maxsize=1)
def registry(root: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    """All named queries under ``queries/``, keyed by name (parsed once)."""
    out: dict[str, NamedQuery] = {}
    for path in sorted(root.rglob("*.sql")):
        q = parse_query_file(path)
        if q.name in out:
            raise ValueError(f"duplicate query name {q.name!r}: {path} and {out[q.name].path}")
        out[q.name] = q
    return out


def get_query(name: str) -> NamedQuery:
    try:
        return registry()[name]
    except KeyError:
        raise QueryError(f"There is no query named {name!r}", "This is a bug in crmflow") from None


def _dependencies(name: str, seen: list[str] | None = None) -> list[str]:
    """Queries ``name`` uses, transitively, dependencies first (no duplicates)."""
    seen = [] if seen is None else seen
    for dep in get_query(name).uses:
        if get_query(dep).kind != "query":
            raise ValueError(f"{name} uses {dep}, which is a {get_query(dep).kind}; views need no 'uses'")
        if dep not in seen:
            _dependencies(dep, seen)
            seen.append(dep)
    return seen


@lru_cache(maxsize=None)
def compiled(name: str) -> tuple[str, frozenset[str]]:
    """The runnable SQL of a query with its dependencies as CTEs, and its parameters."""
    q = get_query(name)
    deps = _dependencies(name) if q.kind == "query" else []
    params = set(q.params)
    ctes = []
    for dep in deps:
        dq = get_query(dep)
        params |= set(dq.params)
        ctes.append(f"{dep} AS (\n{dq.body}\n)")
    body = q.body
    if ctes:
        prefix = "WITH " + ",\n".join(ctes)
        if _LEADING_WITH_RE.match(body):
            body = prefix + ",\n" + _LEADING_WITH_RE.sub("", body, count=1)
        else:
            body = prefix + "\n" + body
    used = set(_PARAM_RE.findall(_strip_comments(body)))
    if used != params:
        raise ValueError(
            f"query {name}: declared params {sorted(params)} differ from used {sorted(used)}"
        )
    return body, frozenset(params)


def staging_macros() -> list[NamedQuery]:
    """The ``kind: macro`` files: scalar macros the staging views call, created
    on every cursor before the views (``-- arguments:`` names their arguments)."""
    return [q for _, q in sorted(registry().items()) if q.kind == "macro"]


def staging_views() -> list[NamedQuery]:
    """The ``kind: view`` queries in dependency order."""
    views = {n: q for n, q in registry().items() if q.kind == "view"}
    ordered: list[str] = []

    def visit(n: str) -> None:
        if n in ordered:
            return
        for dep in views[n].uses:
            visit(dep)
        ordered.append(n)

    for n in sorted(views):
        visit(n)
    return [views[n] for n in ordered]


def _busy_message(path: str) -> DatabaseBusyError:
    return DatabaseBusyError(key="db_busy", path=path)


#: DuckDB's own phrases for a file another process holds, matched on the message
#: with the file's path (quoted) taken out: a folder named "lock" is not "busy".
_LOCK_RE = re.compile(r"could not set lock on file|conflicting lock is held", re.IGNORECASE)
_QUOTED_RE = re.compile(r'"[^"]*"|\'[^\']*\'')
#: Bytes a write needs beyond its own data (DuckDB's journal, the checkpoint's new blocks).
FREE_SPACE_MARGIN = 16 * 1024 * 1024
#: Sets the margin in MB; 0 turns the free-space check off.
FREE_SPACE_ENV_VAR = "CRMFLOW_FREE_SPACE_MARGIN_MB"


def free_space_margin() -> int | None:
    """The margin in bytes (None: the check is off)."""
    text = os.environ.get(FREE_SPACE_ENV_VAR, "").strip()
    if not text:
        return FREE_SPACE_MARGIN
    try:
        mb = float(text)
    except ValueError:
        return FREE_SPACE_MARGIN
    return None if mb <= 0 else int(mb * 1024 * 1024)


def size_text(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"  # pragma: no cover


def storage_error(exc: BaseException, path: str | os.PathLike) -> CrmflowError | None:
    """The true message for a failure of the database file itself (busy,
    read-only file or folder, damaged, cut short, not a database, full disk,
    a fatal engine error), or None when the failure is not about the file.

    Each gets its own key: what is wrong and what to do (never "delete it",
    never "report this as a bug")."""
    text = str(exc)
    low = text.lower()
    path = str(path or "crmflow.duckdb")
    folder = str(Path(path).parent)
    if _LOCK_RE.search(_QUOTED_RE.sub('""', text.replace(path, ""))):
        return _busy_message(path)
    if "no space left" in low or "disk is full" in low or "not enough space" in low:
        free = free_bytes(path)
        return CrmflowError(key="db_disk_full", path=path, free=size_text(free) if free is not None else "?",
                            needed=size_text(FREE_SPACE_MARGIN))
    if "permission denied" in low or "read-only file system" in low or "read only file system" in low:
        if ".wal" in low or "failed to commit" in low or not _writable(folder):
            return CrmflowError(key="db_read_only_folder", folder=folder, name=Path(path).name)
        return CrmflowError(key="db_read_only_file", path=path)
    if "corrupt database file" in low or "checksum" in low:
        return CrmflowError(key="db_damaged", path=path)
    if "could not read enough bytes" in low or "could not read all bytes" in low:
        return CrmflowError(key="db_truncated", path=path)
    if "not a valid duckdb database file" in low:
        return CrmflowError(key="db_not_a_store", path=path)
    if isinstance(exc, duckdb.FatalException) or "database has been invalidated" in low:
        return CrmflowError(key="db_engine_failed", path=path)
    return None


def free_bytes(path: str | os.PathLike) -> int | None:
    try:
        return shutil.disk_usage(Path(path).parent).free
    except OSError:
        return None


def _writable(folder: str | os.PathLike) -> bool:
    """Whether files can be created in ``folder`` (tried, not guessed from the
    mode bits: root ignores them, a read-only mount does not)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".crmflow-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def ensure_free_space(path: str | os.PathLike, data_bytes: int = 0) -> None:
    """Refuse a write before it starts when the disk of ``path`` has less
    free space than the write's own data plus :data:`FREE_SPACE_MARGIN` and a
    tenth of the file (DuckDB's journal and checkpoint). DuckDB can abort the
    whole process when a commit meets a full disk, so this is checked first."""
    path = Path(path)
    margin = free_space_margin()
    free = free_bytes(path)
    if free is None or margin is None:
        return
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    needed = int(data_bytes) + margin + size // 10
    if free < needed:
        raise CrmflowError(key="db_disk_full", path=str(path), free=size_text(free), needed=size_text(needed))


def translate_error(exc: duckdb.Error, what: str, path: str = "") -> CrmflowError:
    """Map a DuckDB error to the project's own error with a human sentence."""
    known = storage_error(exc, path or "crmflow.duckdb")
    if known is not None:
        return known
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    # the engine's own words only on the command line; the page names the kind of error
    return QueryError(f"{what} failed: {first}", key="db_query_failed", what=what, kind=type(exc).__name__)


@dataclass(frozen=True)
class Scope:
    """A dataset seen through the dashboard's global filters.

    Every function that takes a ``dataset_id`` also takes a Scope: the runner
    hands it to the staging views, so every query is filtered the same way
    without knowing it. ``customer_set`` names a set stored with
    :meth:`Database.store_customer_set` (customers kept by the region, owner
    and segment filters); ``channels`` keeps only those channels' lines;
    ``customers`` keeps only those customer ids (:meth:`narrowed`).
    Hashable, so caches can key on it.
    """

    dataset_id: int
    customer_set: str | None = None
    channels: tuple[str, ...] | None = None
    customers: tuple[str, ...] | None = None

    def narrowed(self, customer_ids: Iterable[object]) -> Scope:
        """The same scope seen only for ``customer_ids`` (on top of its filters):
        a call that needs a few customers' numbers lets every staging view drop
        the others before any work is done."""
        return Scope(self.dataset_id, self.customer_set, self.channels,
                     tuple(sorted({str(c) for c in customer_ids})))


#: Read-write Database objects open per file in this process (reclaim only when alone).
_OPEN_FILES: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()
#: Every read-only Database of this process (they share one DuckDB instance per file:
#: a writer in another process needs all of them closed, see :func:`readers_of`).
_READERS: weakref.WeakSet = weakref.WeakSet()


def readers_of(path: str | os.PathLike) -> list[Database]:
    """The read-only Database objects of this process open on ``path``."""
    key = os.path.realpath(str(path))
    with _OPEN_LOCK:
        return [db for db in list(_READERS) if os.path.realpath(db.path) == key]

#: How many customer sets the scratch database keeps (the least recently used dropped first).
MAX_CUSTOMER_SETS = 256


class Database:
    """A DuckDB database (a file, or in memory) with the crmflow schema.

    Open one per process (the dashboard caches it as a resource); every call
    takes its own cursor, so browser sessions in different threads never share
    one. ``write_lock`` serialises writers inside the process; DuckDB's file
    lock keeps other processes out, reported as :class:`DatabaseBusyError`.
    """

    #: How long opening waits while another process writes to the file.
    BUSY_WAIT_SECONDS = 10.0

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False, wait: bool | None = None) -> None:
        """``wait``: retry a file another process holds for :data:`BUSY_WAIT_SECONDS`
        (default: only when reading; the store's writing process waits too)."""
        self.path = str(path)
        self.read_only = read_only
        self.write_lock = threading.RLock()
        # readers (every cursor) and the one writer that may close the connection
        self._gate = threading.Condition()
        self._writer = threading.RLock()  # one suspension at a time (not write_lock: readers may take that)
        self._readers = 0
        self._suspended = False
        self._resumed = 0.0  # time.monotonic() when the last suspension ended
        self._last_read = 0.0  # ... and when the last reading query ended
        self._waiting = 0  # readers waiting for a suspension to end
        self._local = threading.local()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._closed = False
        self._customer_sets: list[str] = []  # least recently used first
        self._set_frames: dict[str, pd.DataFrame] = {}
        self._sets_lock = threading.Lock()  # guards the order of _customer_sets (taken inside write_lock)
        self._memo: OrderedDict[tuple, object] = OrderedDict()  # large results (MEMO_SIZE)
        self._small_memo: OrderedDict[tuple, object] = OrderedDict()  # a few numbers each (SMALL_MEMO_SIZE)
        self._memo_lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}  # a lock per key being built (memoised)
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._connect(wait=read_only if wait is None else wait)
        if read_only:
            with _OPEN_LOCK:
                _READERS.add(self)
        if not read_only:
            self.execute("create_schema")
            self.execute("create_audit")  # who changed which dataset (crmflow.store)
            self._drop_leftovers()
            self._complete_datasets()
            self.reclaim()

    def _connect(self, wait: bool = False) -> None:
        """Open the file (read-write, or read-only: then other processes may
        read it at the same time) and the scratch database, with the kept
        customer sets. With ``wait``, a file another
        process is writing is tried again for :data:`BUSY_WAIT_SECONDS`."""
        deadline = time.monotonic() + (self.BUSY_WAIT_SECONDS if wait else 0)
        while True:
            try:
                con = duckdb.connect(self.path, read_only=self.read_only)
                break
            except duckdb.Error as exc:
                known = storage_error(exc, self.path)
                if isinstance(known, DatabaseBusyError) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                if known is not None:
                    raise known from None
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise CrmflowError(key="db_cannot_open", path=self.path, kind=type(exc).__name__,
                                   detail=detail) from None
        self._con = con
        if not self.read_only and self.path != ":memory:":
            with _OPEN_LOCK:
                key = os.path.realpath(self.path)
                _OPEN_FILES[key] = _OPEN_FILES.get(key, 0) + 1
        cur = con.cursor()  # not self.cursor(): a writer may hold the gate
        try:
            self._execute_all(cur, [q for q in _strip_comments(compiled("create_scratch")[0]).split(";")
                                    if q.strip()], {})
            if self._set_frames:
                for set_id in list(self._customer_sets):
                    cur.register("kept_set", self._set_frames[set_id])
                    cur.execute("INSERT INTO crm_scratch.filter_sets SELECT set_id, customer_id FROM kept_set")
                    cur.unregister("kept_set")
        finally:
            cur.close()

    def _enter_reader(self) -> None:
        depth = getattr(self._local, "depth", 0)
        with self._gate:
            # a thread already reading goes on (no deadlock with a waiting writer)
            self._waiting += 1
            try:
                while self._suspended and depth == 0:
                    self._gate.wait()
            finally:
                self._waiting -= 1
            self._readers += 1
        self._local.depth = depth + 1
        if self._con is None and not self._closed:  # a reopen failed earlier: try again now
            with self.write_lock:
                if self._con is None:
                    try:
                        self._connect(wait=True)
                    except BaseException:
                        self._exit_reader()
                        raise

    def _exit_reader(self) -> None:
        self._local.depth = getattr(self._local, "depth", 1) - 1
        with self._gate:
            self._readers -= 1
            self._last_read = time.monotonic()
            self._gate.notify_all()

    @contextmanager
    def suspended(self, timeout: float = 300.0) -> Iterator[None]:
        """Close the file for the duration (after the running queries end;
        new ones wait), then open it again as before: for a writer in another
        process, or to recover after a fatal engine error."""
        with self._writer:
            deadline = time.monotonic() + timeout
            with self._gate:
                while self._suspended:
                    self._gate.wait(1.0)
                self._readers_turn(getattr(self._local, "depth", 0))
                self._suspended = True
                mine = getattr(self._local, "depth", 0)
                while self._readers > mine:
                    if time.monotonic() > deadline:
                        self._suspended = False
                        self._gate.notify_all()
                        raise _busy_message(self.path)
                    self._gate.wait(1.0)
            try:
                self._disconnect()
                yield
            finally:
                try:
                    if not self._closed:
                        self._connect(wait=True)
                except Exception:  # noqa: BLE001 - never replaces what the suspended work gave
                    # the next reader tries to open the file again (_enter_reader) and reports it
                    _log.info("crmflow: reopening %s failed; the next reader tries again", self.path,
                                 exc_info=True)
                finally:
                    with self._gate:
                        self._suspended = False
                        self._resumed = time.monotonic()
                        self._gate.notify_all()

    #: After a suspension, how long the next one lets readers go first (s), and
    #: the pause between their queries that counts as their having finished.
    READERS_TURN = 1.0
    READERS_PAUSE = 0.1

    def _readers_turn(self, mine: int) -> None:
        """Let readers go first for up to READERS_TURN after the last
        suspension ended (with ``_gate`` held), so that writes queued one
        after another (ten people saving at once) do not keep every page
        waiting until the last of them: a page that waited for one write
        runs its queries before the next write closes the file."""
        while True:
            now = time.monotonic()
            left = self._resumed + self.READERS_TURN - now
            busy = self._waiting or self._readers > mine or now - self._last_read < self.READERS_PAUSE
            if left <= 0 or not busy:
                return
            self._gate.wait(min(left, self.READERS_PAUSE))

    def _disconnect(self) -> None:
        con, self._con = self._con, None
        if con is not None and not self.read_only and self.path != ":memory:":
            with _OPEN_LOCK:
                key = os.path.realpath(self.path)
                _OPEN_FILES[key] = max(0, _OPEN_FILES.get(key, 0) - 1)
        if con is not None:
            try:
                con.close()
            except duckdb.Error:
                pass

    #: DuckDB's file header and its two database headers, before the first block.
    HEADER_BYTES = 3 * 4096

    def reclaim(self) -> int:
        """Give back the space a killed writer left at the end of the file;
        returns the bytes given back.

        A process killed in the middle of a large insert has written blocks
        past the end the file's last checkpoint records; DuckDB never reads
        nor frees them, so each such kill grew the file for good. After a
        checkpoint (nothing in the journal, no transaction open: this process
        holds the file alone) everything past the recorded blocks is unused
        and is cut off."""
        if self.read_only or self.path == ":memory:":
            return 0
        key = os.path.realpath(self.path)
        with _OPEN_LOCK:
            if _OPEN_FILES.get(key, 0) > 1:  # another Database of this process shares the file: leave it
                return 0
        with self.write_lock, self.cursor() as cur:
            try:
                cur.execute("CHECKPOINT")
                row = cur.execute("SELECT block_size, total_blocks, wal_size FROM pragma_database_size() "
                                  "WHERE database_name = current_database()").fetchone()
            except duckdb.Error:
                return 0  # e.g. another transaction is running: nothing is cut then
            if row is None:
                return 0
            block_size, total_blocks, wal_size = int(row[0]), int(row[1]), str(row[2])
            wal = Path(self.path + ".wal")
            if wal_size not in ("0 bytes", "0") or (wal.exists() and wal.stat().st_size > 0):
                return 0
            used = self.HEADER_BYTES + total_blocks * block_size
            size = Path(self.path).stat().st_size
            if block_size <= 0 or size <= used:
                return 0
            try:
                os.truncate(self.path, used)
            except OSError:
                return 0
            return size - used

    def checkpoint(self) -> None:
        """Write the journal into the file and give back the space that
        deleted or abandoned rows held (the file shrinks when its tail is free)."""
        if self.read_only or self.path == ":memory:":
            return
        with self.write_lock, self.cursor() as cur:
            try:
                cur.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise translate_error(exc, "Checkpoint", self.path) from None

    #: How many results :meth:`memoised` keeps (least recently used dropped first).
    MEMO_SIZE = 8
    #: How many small results (``small=True``: a fitted model's few numbers) it keeps, apart from the large ones.
    SMALL_MEMO_SIZE = 64

    def memoised(self, key: tuple, build: Callable[[], T], *, small: bool = False) -> T:
        """``build()``, kept for the next call with the same ``key``.

        For results that several views share, e.g. the CLV fit at one date
        (churn warnings, the value matrix and the Segments view all start from
        it). A key must name everything the result depends on, its dataset as a
        :class:`Scope` or dataset id among them: a dataset id is never reused
        and a stored dataset never changes (a replace gets a new id), so a kept
        result cannot go stale. The result is shared: callers must not modify it.
        Threads asking for the same key at once build it once: the others
        wait for it (a lock per key; other keys are not held up). A ``small``
        result (a fitted model's few numbers) is kept apart, among
        SMALL_MEMO_SIZE others, so that it never evicts a large one."""
        memo, size = (self._small_memo, self.SMALL_MEMO_SIZE) if small else (self._memo, self.MEMO_SIZE)
        with self._memo_lock:
            if key in memo:
                memo.move_to_end(key)
                return memo[key]  # type: ignore[return-value]
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._memo_lock:
                if key in memo:  # built by the thread this one waited for
                    memo.move_to_end(key)
                    return memo[key]  # type: ignore[return-value]
            try:
                value = build()
                with self._memo_lock:
                    memo[key] = value
                    memo.move_to_end(key)
                    while len(memo) > size:
                        memo.popitem(last=False)
            finally:
                with self._memo_lock:
                    self._building.pop(key, None)
        return value

    def forget(self) -> None:
        """Drop every :meth:`memoised` result (the benchmark measures the work, not the memo)."""
        with self._memo_lock:
            self._memo.clear()
            self._small_memo.clear()

    #: The only names _drop_leftovers may drop (what queries/store/leftover_objects.sql lists).
    _LEFTOVERS = frozenset({"ingest_raw", "ingest_cells", "ingest_file", "ingest_stage", "profile_input",
                            "ingest_parsed"})

    def _drop_leftovers(self) -> None:
        """Drop the ingest working objects that older versions left in the file."""
        for name, kind in self.run("leftover_objects").itertuples(index=False):
            if name in self._LEFTOVERS and kind in ("TABLE", "VIEW"):
                with self.write_lock, self.cursor() as cur:
                    cur.execute(f"DROP {kind} IF EXISTS main.{name}")

    def _complete_datasets(self) -> None:
        """Write the derived tables (orders, transaction customers) of datasets
        stored before those tables existed."""
        for row in self.run("incomplete_datasets").itertuples(index=False):
            with self.write_lock, self.cursor() as cur:
                cur.begin()
                try:
                    if row.needs_orders:
                        self.execute("insert_orders", cur=cur, target_id=int(row.dataset_id))
                    if row.needs_customers:
                        self.execute("insert_transaction_customers", cur=cur, target_id=int(row.dataset_id))
                    cur.commit()
                except BaseException:
                    cur.rollback()
                    raise

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (nothing can be read any more)."""
        return self._closed

    def close(self) -> None:
        with _OPEN_LOCK:
            _READERS.discard(self)
        self._closed = True
        self._disconnect()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def cursor(self, dataset_id: int | Scope | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor; with ``dataset_id`` (or a :class:`Scope`) the staging
        views read that dataset, filtered by the scope. While a writer has
        the file closed (:meth:`suspended`), this waits for it."""
        self._enter_reader()
        try:
            cur = self._con.cursor()
        except BaseException:
            self._exit_reader()
            raise
        try:
            if dataset_id is not None:
                scope = dataset_id if isinstance(dataset_id, Scope) else Scope(int(dataset_id))
                cur.execute("SET VARIABLE dataset_id = $dataset_id", {"dataset_id": int(scope.dataset_id)})
                if scope.customer_set is not None:
                    self._use_customer_set(scope.customer_set)
                    cur.execute("SET VARIABLE filter_set = $set_id", {"set_id": scope.customer_set})
                if scope.channels is not None:
                    cur.execute("SET VARIABLE filter_channels = CAST($channels AS VARCHAR[])",
                                {"channels": list(scope.channels)})
                if scope.customers is not None:
                    cur.execute("SET VARIABLE filter_customers = CAST($customers AS VARCHAR[])",
                                {"customers": list(scope.customers)})
                for macro in staging_macros():
                    cur.execute(f"CREATE OR REPLACE TEMP MACRO {macro.name}({', '.join(macro.arguments)}) AS "
                                + macro.body)
                for view in staging_views():
                    cur.execute("CREATE OR REPLACE TEMP VIEW " + view.name + " AS " + view.body)
            yield cur
        finally:
            cur.close()
            self._exit_reader()

    def store_customer_set(self, customer_ids: pd.Series | list[str]) -> str:
        """Keep a set of customer ids in the scratch database; returns its id
        (a hash of the sorted ids, so the same set is stored once)."""
        import hashlib

        ids = pd.Series(sorted(set(map(str, customer_ids))), dtype="object", name="customer_id")
        digest = hashlib.sha1("\x1f".join(ids).encode("utf-8")).hexdigest()[:16]
        set_id = f"{len(ids)}:{digest}"
        with self.write_lock:
            if self._touch_customer_set(set_id):
                return set_id
            frame = pd.DataFrame({"set_id": set_id, "customer_id": ids})
            with self.cursor() as cur:
                cur.register("new_set", frame)
                cur.execute("INSERT INTO crm_scratch.filter_sets SELECT set_id, customer_id FROM new_set")
                cur.unregister("new_set")
                with self._sets_lock:
                    self._customer_sets.append(set_id)
                    self._set_frames[set_id] = frame  # restored when the file is opened again
                    dropped = []
                    while len(self._customer_sets) > MAX_CUSTOMER_SETS:  # the least recently used go
                        dropped.append(self._customer_sets.pop(0))
                        self._set_frames.pop(dropped[-1], None)
                for old in dropped:
                    cur.execute("DELETE FROM crm_scratch.filter_sets WHERE set_id = $s", {"s": old})
        return set_id

    def _touch_customer_set(self, set_id: str) -> bool:
        """Mark a kept set as just used (kept longest); False: not kept."""
        with self._sets_lock:
            if set_id not in self._set_frames:
                return False
            self._customer_sets.remove(set_id)
            self._customer_sets.append(set_id)
            return True

    def _use_customer_set(self, set_id: str) -> None:
        """A scope's set must still be kept: reading a dropped set would
        silently give no customers (and that would be cached)."""
        if not self._touch_customer_set(set_id):
            raise CrmflowError(key="filter_set_gone")

    @staticmethod
    def _check_params(name: str, declared: frozenset[str], params: Mapping[str, object]) -> None:
        missing = declared - params.keys()
        extra = params.keys() - declared
        if missing or extra:
            raise QueryError(
                f"Query {name} was called with the wrong parameters "
                f"(missing {sorted(missing)}, unexpected {sorted(extra)})",
                "This is a bug in crmflow",
            )

    def run(self, name: str, *, dataset_id: int | Scope | None = None,
            cur: duckdb.DuckDBPyConnection | None = None, **params: object) -> pd.DataFrame:
        """Run a named query with bound parameters and return its rows.

        With ``dataset_id`` the staging views read that dataset; with ``cur`` the
        query runs on that cursor (e.g. inside an ingest transaction).
        """
        sql, declared = compiled(name)
        self._check_params(name, declared, params)
        try:
            if cur is not None:
                return cur.execute(sql, params).df()
            with self.cursor(dataset_id) as c:
                return c.execute(sql, params).df()
        except duckdb.Error as exc:
            raise self._failed(exc, f"Query {name}", cur) from None

    def materialise(self, name: str, table: str, *, cur: duckdb.DuckDBPyConnection,
                    **params: object) -> None:
        """Store a named query's result as a temporary table on ``cur``."""
        if not _IDENT_RE.match(table):
            raise ValueError(f"bad temporary table name {table!r}")
        sql, declared = compiled(name)
        self._check_params(name, declared, params)
        try:
            cur.execute("CREATE OR REPLACE TEMP TABLE " + table + " AS " + sql, params)
        except duckdb.Error as exc:
            raise translate_error(exc, f"Query {name}", self.path) from None

    def execute(self, name: str, *, cur: duckdb.DuckDBPyConnection | None = None,
                **params: object) -> None:
        """Run a named statement or script (statements split on ``;``), no rows back."""
        sql, declared = compiled(name)
        self._check_params(name, declared, params)
        statements = [s for s in _strip_comments(sql).split(";") if s.strip()]
        try:
            if cur is None:
                with self.write_lock, self.cursor() as c:
                    self._execute_all(c, statements, params)
            else:
                self._execute_all(cur, statements, params)
        except duckdb.Error as exc:
            raise self._failed(exc, f"Statement {name}", cur) from None

    def _failed(self, exc: duckdb.Error, what: str, cur: object = None) -> CrmflowError:
        """The message for a failed call; after a fatal engine error (which
        invalidates the database instance) the file is closed and opened
        again, so the next call works (not inside a caller's cursor: that
        caller recovers when its cursor is closed)."""
        if isinstance(exc, duckdb.FatalException) and cur is None and self.path != ":memory:":
            try:
                with self.suspended():  # close and open the file again
                    pass
            except CrmflowError as reopen:
                return reopen
        return translate_error(exc, what, self.path)

    @staticmethod
    def _execute_all(cur: duckdb.DuckDBPyConnection, statements: list[str],
                     params: Mapping[str, object]) -> None:
        for statement in statements:
            used = set(_PARAM_RE.findall(statement))
            cur.execute(statement, {k: v for k, v in params.items() if k in used})
