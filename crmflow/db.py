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

import re
import threading
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


def translate_error(exc: duckdb.Error, what: str, path: str = "") -> CrmflowError:
    """Map a DuckDB error to the project's own error with a human sentence."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and ("lock" in text.lower() or "Conflicting lock" in text):
        return _busy_message(path or "crmflow.duckdb")
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


#: How many customer sets the scratch database keeps (oldest dropped first).
MAX_CUSTOMER_SETS = 16


class Database:
    """A DuckDB database (a file, or in memory) with the crmflow schema.

    Open one per process (the dashboard caches it as a resource); every call
    takes its own cursor, so browser sessions in different threads never share
    one. ``write_lock`` serialises writers inside the process; DuckDB's file
    lock keeps other processes out, reported as :class:`DatabaseBusyError`.
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self.write_lock = threading.RLock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            text = str(exc).lower()
            if "lock" in text:
                raise _busy_message(self.path) from None
            raise CrmflowError(
                f"Cannot open the database file {self.path}: {str(exc).splitlines()[0]}",
                "Check the path, or delete a damaged file and ingest the data again",
            ) from None
        if not read_only:
            self.execute("create_schema")
            self._drop_leftovers()
            self._complete_datasets()
        self.execute("create_scratch")
        self._customer_sets: list[str] = []
        self._memo: OrderedDict[tuple, object] = OrderedDict()
        self._memo_lock = threading.Lock()

    #: How many results :meth:`memoised` keeps (least recently used dropped first).
    MEMO_SIZE = 8

    def memoised(self, key: tuple, build: Callable[[], T]) -> T:
        """``build()``, kept for the next call with the same ``key``.

        For results that several views share, e.g. the CLV fit at one date
        (churn warnings, the value matrix and the Segments view all start from
        it). A key must name everything the result depends on, its dataset as a
        :class:`Scope` or dataset id among them: a dataset id is never reused
        and a stored dataset never changes (a replace gets a new id), so a kept
        result cannot go stale. The result is shared: callers must not modify it.
        Two threads asking at once may both build it; the first one is kept."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[return-value]
        value = build()
        with self._memo_lock:
            value = self._memo.setdefault(key, value)  # type: ignore[assignment]
            self._memo.move_to_end(key)
            while len(self._memo) > self.MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def forget(self) -> None:
        """Drop every :meth:`memoised` result (the benchmark measures the work, not the memo)."""
        with self._memo_lock:
            self._memo.clear()

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

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def cursor(self, dataset_id: int | Scope | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor; with ``dataset_id`` (or a :class:`Scope`) the staging
        views read that dataset, filtered by the scope."""
        cur = self._con.cursor()
        try:
            if dataset_id is not None:
                scope = dataset_id if isinstance(dataset_id, Scope) else Scope(int(dataset_id))
                cur.execute("SET VARIABLE dataset_id = $dataset_id", {"dataset_id": int(scope.dataset_id)})
                if scope.customer_set is not None:
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

    def store_customer_set(self, customer_ids: pd.Series | list[str]) -> str:
        """Keep a set of customer ids in the scratch database; returns its id
        (a hash of the sorted ids, so the same set is stored once)."""
        import hashlib

        ids = pd.Series(sorted(set(map(str, customer_ids))), dtype="object", name="customer_id")
        digest = hashlib.sha1("\x1f".join(ids).encode("utf-8")).hexdigest()[:16]
        set_id = f"{len(ids)}:{digest}"
        with self.write_lock:
            if set_id in self._customer_sets:
                return set_id
            frame = pd.DataFrame({"set_id": set_id, "customer_id": ids})
            cur = self._con.cursor()
            try:
                cur.register("new_set", frame)
                cur.execute("INSERT INTO crm_scratch.filter_sets SELECT set_id, customer_id FROM new_set")
                self._customer_sets.append(set_id)
                while len(self._customer_sets) > MAX_CUSTOMER_SETS:
                    old = self._customer_sets.pop(0)
                    cur.execute("DELETE FROM crm_scratch.filter_sets WHERE set_id = $s", {"s": old})
            finally:
                cur.close()
        return set_id

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
            raise translate_error(exc, f"Query {name}", self.path) from None

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
            raise translate_error(exc, f"Statement {name}", self.path) from None

    @staticmethod
    def _execute_all(cur: duckdb.DuckDBPyConnection, statements: list[str],
                     params: Mapping[str, object]) -> None:
        for statement in statements:
            used = set(_PARAM_RE.findall(statement))
            cur.execute(statement, {k: v for k, v in params.items() if k in used})
