"""The Spark engine: the same named queries of ``queries/`` run on Apache Spark.

The DuckDB store stays the system of record (ingest, the dataset list, the
validation reports); each stored dataset's tables are also written as Parquet,
partitioned by ``dataset_id``, under a folder or object-store URL Spark reads
(:class:`SparkData`, ``CRMFLOW_SPARK_DATA``). :class:`SparkDatabase` answers :meth:`run` like
:class:`crmflow.db.Database`, so every analysis function (``stages``,
``analytics``, ``churn``, ``health`` ...) runs on Spark unchanged.

Each query is translated once (:func:`spark_sql`, cached): the staging views
it reads become common table expressions in front of it (dependencies first),
the DuckDB session variables (``getvariable('dataset_id')`` ...) become bound
parameter markers (``:scope_dataset_id``: never a Spark session variable,
which would silently compare a column named ``dataset_id`` with itself), the
scope macro is inlined, and sqlglot writes the whole text in Spark's dialect.
Values are always bound (``spark.sql(sql, args=...)``), never spliced. The
frame that comes back gets the types the DuckDB path gives (:func:`to_duckdb_types`).

pyspark is an optional extra (``pip install -e .[spark]``) and needs Java 17.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import pandas as pd

from crmflow.db import Database, Scope, compiled, get_query, registry, staging_macros, staging_views
from crmflow.errors import CrmflowError

_log = logging.getLogger(__name__)

ENGINE_ENV = "CRMFLOW_ENGINE"
SPARK_ENV = "CRMFLOW_SPARK"
DATA_ENV = "CRMFLOW_SPARK_DATA"
ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"
#: Shuffle partitions in local mode at most (Spark's default 200 is meant for a
#: cluster): one per local core, so small data is not split into idle tasks.
LOCAL_SHUFFLE_PARTITIONS = 4
#: The stored tables the staging views read, mirrored as Parquet for Spark.
TABLES = ("transactions", "orders", "transaction_customers", "transaction_prices", "customers", "interactions",
          "surveys")
#: Query folders that belong to the local store (DuckDB only): ingestion, storage,
#: and the stored results (``results/``: reading and writing the store's own
#: ``result_*`` tables; the queries whose rows they keep run on Spark,
#: :func:`compute_results`).
LOCAL_ONLY_FOLDERS = ("ingest", "store", "results")
#: The local driver's code cache: it runs every query of a long session (the
#: tests: hundreds) and compiles each plan's code; with the JVM's default (48 MB
#: for a quick-compiler JVM) a whole run ended in "Out of space in CodeCache for
#: adapters" and the JVM with it.
CODE_CACHE = "-XX:ReservedCodeCacheSize=512m"
#: The Spark temporary view that holds the customer sets of the global filters.
FILTER_SETS_VIEW = "crm_filter_sets"
#: The session variables of the DuckDB path, bound as typed parameters on Spark.
_SCOPE_TYPES = {"dataset_id": "INTEGER", "filter_set": "VARCHAR", "filter_channels": "VARCHAR[]",
                "filter_customers": "VARCHAR[]"}
_SCOPE_VARIABLES = tuple(_SCOPE_TYPES)
_GETVAR_RE = re.compile(r"getvariable\('([a-z_]+)'\)")
#: A URL (``s3://bucket/prefix``, ``file:///srv/copy``) rather than a local path.
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: A URL's user part (``s3://KEY:SECRET@bucket``), never shown.
_USER_RE = re.compile(rf"^({_URL_RE.pattern})[^/?#]*@")
#: Where Spark's Hadoop connectors read what pyarrow writes under another scheme.
_SPARK_SCHEMES = {"s3": "s3a"}


# --------------------------------------------------------------------------- configuration
def _first_line(exc: BaseException, limit: int = 300) -> str:
    """An error's first line (its type's name when it says nothing), at most ``limit`` characters."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def engine_name(value: str | None = None) -> str:
    """The engine to use: ``value`` (e.g. ``--engine``), else ``CRMFLOW_ENGINE``, else duckdb."""
    name = (value or os.environ.get(ENGINE_ENV, "") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise CrmflowError(key="spark_bad_engine", engine=name, engines=", ".join(ENGINES))
    return name


def spark_master(value: str | None = None) -> str:
    """The Spark master or Spark Connect URL (``sc://host:15002``): ``--spark``,
    else ``CRMFLOW_SPARK``, else ``local[*]``."""
    return (value or os.environ.get(SPARK_ENV, "") or DEFAULT_MASTER).strip()


def data_folder(store_path: str | os.PathLike | None = None) -> Path | str | None:
    """Where the Parquet copy lives: ``CRMFLOW_SPARK_DATA`` (a folder, or an
    object-store URL such as ``s3://bucket/prefix``, kept as text), else
    ``<store>.spark`` beside the store file (None for an in-memory store
    without the variable)."""
    text = os.environ.get(DATA_ENV, "").strip()
    if text:
        return text if is_url(text) else Path(text).expanduser()
    if store_path and str(store_path) != ":memory:":
        p = Path(store_path)
        return p.with_name(p.name + ".spark")
    return None


def is_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` is a URL (``s3://...``, ``file:///...``) rather than a path."""
    return isinstance(location, str) and _URL_RE.match(location) is not None


def spark_url(location: str | os.PathLike) -> str:
    """The copy's root as Spark reads it: a local path as it is; a URL with
    the scheme of Spark's connector (``s3://`` -> ``s3a://``), without its
    user part or query (pyarrow's options, e.g. ``?endpoint_override=``,
    which Spark takes from its own configuration instead)."""
    if not is_url(location):
        return str(Path(location))
    parts = urlsplit(shown_location(location))
    scheme = _SPARK_SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def shown_location(location: str | os.PathLike) -> str:
    """The copy's location as shown to the user: a URL without its user part
    (``s3://KEY:SECRET@bucket`` names credentials)."""
    return _USER_RE.sub(r"\1", str(location)) if is_url(location) else str(location)


def spark_wanted() -> bool:
    """Whether stored datasets are mirrored as Parquet when ingested (Spark is
    the chosen engine, or the user named a folder for the copy)."""
    return bool(os.environ.get(DATA_ENV, "").strip()) or os.environ.get(ENGINE_ENV, "").strip().lower() == "spark"


def check_available(master: str | None = None) -> None:
    """pyspark installed and, for a local master, Java found: else one clear error."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise CrmflowError(key="spark_not_installed") from None
    if spark_master(master).startswith("sc://"):
        return  # Spark Connect: Java runs on the server
    if java_version() is None:
        raise CrmflowError(key="spark_no_java")


@lru_cache(maxsize=1)
def _java_version_cached(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def java_version() -> int | None:
    """The major version of the Java Spark would start (JAVA_HOME, else PATH), or None."""
    home = os.environ.get("JAVA_HOME", "").strip()
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    version = _java_version_cached(java)
    return version if version is not None and version >= 17 else None


def _local_partitions(master: str) -> int:
    """Shuffle partitions for a ``local[N]`` master: N (the cores it uses), at most
    :data:`LOCAL_SHUFFLE_PARTITIONS`; ``local`` / ``local[*]``: this machine's cores."""
    m = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    cores = int(m.group(1)) if m and m.group(1) and m.group(1).isdigit() else (1 if master == "local" else
                                                                              os.cpu_count() or 2)
    return max(1, min(cores, LOCAL_SHUFFLE_PARTITIONS))


_SESSIONS: dict[str, Any] = {}
_SESSION_LOCK = threading.Lock()


def spark_session(master: str | None = None) -> Any:
    """One SparkSession per master in this process (Spark Connect for ``sc://``)."""
    master = spark_master(master)
    check_available(master)
    from pyspark.sql import SparkSession

    with _SESSION_LOCK:
        if master in _SESSIONS:
            ended = _jvm_exit_code()
            if ended is None:
                return _SESSIONS[master]
            # the local JVM is gone (killed, or crashed): one line says so, and a new one starts
            _log.warning("Spark's JVM ended (exit code %s); starting a new one", ended)
            _forget_jvm()
            _SESSIONS.clear()
        if master.startswith("sc://"):
            builder = SparkSession.builder.remote(master)
        else:
            builder = (SparkSession.builder.master(master).appName("crmflow")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
            if master.startswith("local"):
                builder = builder.config("spark.driver.extraJavaOptions", CODE_CACHE)
                parts = str(_local_partitions(master))
                builder = (builder.config("spark.sql.shuffle.partitions", parts)
                           .config("spark.default.parallelism", parts))
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - the JVM's own words, one line
            raise CrmflowError(key="spark_start_failed", master=master, reason=_first_line(exc)) from None
        _SESSIONS[master] = session
        return session


# --------------------------------------------------------------------------- translation
def analytic_queries() -> list[str]:
    """The named queries the Spark engine runs: every ``kind: query`` outside
    the store and ingest folders (those are the local store's own work)."""
    root = get_query("stage_counts").path.parent.parent
    out = []
    for name, q in sorted(registry().items()):
        folder = q.path.relative_to(root).parts[0]
        if q.kind == "query" and folder not in LOCAL_ONLY_FOLDERS:
            out.append(name)
    return out


def _scope_sql(cid: str) -> str:
    macro = next(m for m in staging_macros() if m.name == "in_customer_scope")
    (arg,) = macro.arguments
    return "(" + re.sub(rf"\b{arg}\b", cid, macro.body) + ")"


def _inline_scope(sql: str) -> str:
    """``in_customer_scope(x)`` -> the macro's body with ``x`` for its argument."""
    return re.sub(r"\bin_customer_scope\(([A-Za-z_][A-Za-z0-9_.]*)\)", lambda m: _scope_sql(m.group(1)), sql)


def _staging_ctes(sql: str) -> list[tuple[str, str]]:
    """The staging views ``sql`` reads (transitively), dependencies first, as (name, body)."""
    views = {v.name: v for v in staging_views()}
    needed: list[str] = []

    def visit(text: str) -> None:
        for name, view in views.items():
            if name not in needed and re.search(rf"\b{name}\b", text):
                visit(view.body)
                if name not in needed:
                    needed.append(name)

    visit(sql)
    order = [v.name for v in staging_views()]
    return [(n, views[n].body) for n in order if n in needed]


def _rename_tables(body: str) -> str:
    """The stored tables as the Spark views that hold them (``crm_<table>``), so
    that a query's own CTE named like a table (``orders``) never shadows them;
    a name the text itself defines as a CTE stays as it is."""
    own = {m.group(1).lower() for m in re.finditer(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(", body)}
    tables = [t for t in TABLES if t not in own]
    if not tables:
        return body
    return re.sub(r"\b(FROM|JOIN)\s+(" + "|".join(tables) + r")\b", lambda m: f"{m.group(1)} crm_{m.group(2)}", body)


#: DuckDB's 1-based list element functions; Spark's element_at is 1-based too.
_LIST_ELEMENT = ("list_extract", "list_element", "array_extract")


def _to_spark_semantics(node: Any) -> Any:
    """Where DuckDB and Spark read the same words differently: ``/`` is always
    DOUBLE division in DuckDB (a DECIMAL on Spark when both sides are decimals:
    ``x / 7.0``), and a list's n-th element is ``element_at`` on Spark."""
    from sqlglot import exp

    if isinstance(node, exp.Div) and not isinstance(node.this, exp.Cast):
        return exp.Div(this=exp.cast(node.this.copy(), "double"), expression=node.expression.copy())
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in _LIST_ELEMENT:
        return exp.Anonymous(this="element_at", expressions=[e.copy() for e in node.expressions])
    return node


def _empty_list_is_null(node: Any) -> Any:
    """DuckDB's list aggregate (``list(x)``, ``array_agg``) over no row is NULL;
    Spark's ``collect_list`` is an empty array: made NULL as in DuckDB (e.g. the
    channels of a customer whose lines name none, on CDNOW)."""
    from sqlglot import exp

    agg = None
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArrayAgg):
        agg = node
    elif isinstance(node, exp.ArrayAgg) and not isinstance(node.parent, exp.Filter):
        agg = node
    if agg is None:
        return node
    size = exp.Anonymous(this="size", expressions=[agg.copy()])
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=size, expression=exp.Literal.number(0)), true=exp.Null())],
                    default=agg.copy())


@lru_cache(maxsize=None)
def spark_sql(name: str) -> tuple[str, frozenset[str]]:
    """A named query in Spark SQL with its staging views in front, and the
    parameters it binds (the query's own plus ``scope_*`` for the scope)."""
    import sqlglot

    body, params = compiled(name)
    body = _rename_tables(body)  # a query that reads a stored table itself (loyalty_prices)
    ctes = [f"{n} AS (\n{_rename_tables(b)}\n)" for n, b in _staging_ctes(body)]
    if ctes:
        prefix = "WITH " + ",\n".join(ctes)
        if re.match(r"^\s*WITH\s", body, re.IGNORECASE):
            body = prefix + ",\n" + re.sub(r"^\s*WITH\s", "", body, count=1, flags=re.IGNORECASE)
        else:
            body = prefix + "\n" + body
    body = _inline_scope(body)
    body = body.replace("crm_scratch.filter_sets", FILTER_SETS_VIEW)
    used_vars = set(_GETVAR_RE.findall(body))
    unknown = used_vars - set(_SCOPE_VARIABLES)
    if unknown:
        raise ValueError(f"query {name}: unknown session variables {sorted(unknown)}")
    body = _GETVAR_RE.sub(lambda m: f"CAST($scope_{m.group(1)} AS {_SCOPE_TYPES[m.group(1)]})", body)
    # `x IN (SELECT UNNEST(list))`: the list's members, in Spark a membership test
    body = re.sub(r"([A-Za-z_][A-Za-z0-9_.]*)\s+IN\s+\(SELECT\s+UNNEST\((CAST\(\$[a-z_]+ AS [A-Z]+\[\]\))\)\)",
                  r"list_contains(\2, \1)", body)
    tree = sqlglot.parse_one(body, read="duckdb").transform(_to_spark_semantics).transform(_empty_list_is_null)
    sql = tree.sql(dialect="spark")
    return sql, frozenset(params | {f"scope_{v}" for v in used_vars})


# --------------------------------------------------------------------------- binding
def _spark_value(value: object) -> Any:
    """A bound value for ``spark.sql(args=...)``: a literal Column of the right type."""
    from pyspark.sql import functions as F

    if value is None:
        return F.lit(None)  # typed by the SQL around it (the scope's markers are CAST)
    if isinstance(value, (list, tuple)):
        return F.array(*[_spark_value(v) for v in value])
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        value = value.date()
    if hasattr(value, "item") and not isinstance(value, (str, bytes, date)):
        value = value.item()  # numpy scalar
    return F.lit(value)


def scope_args(scope: Scope) -> dict[str, Any]:
    return {
        "scope_dataset_id": _spark_value(int(scope.dataset_id)),
        "scope_filter_set": _spark_value(scope.customer_set),
        "scope_filter_channels": _spark_value(list(scope.channels) if scope.channels is not None else None),
        "scope_filter_customers": _spark_value(list(scope.customers) if scope.customers is not None else None),
    }


# --------------------------------------------------------------------------- types back
#: DuckDB's pandas types: whole numbers (nullable when a value is missing), the rest.
_INT_DTYPES = {"TINYINT": "int8", "SMALLINT": "int16", "INTEGER": "int32", "BIGINT": "int64",
               "UTINYINT": "uint8", "USMALLINT": "uint16", "UINTEGER": "uint32", "UBIGINT": "uint64"}
_FLOAT_TYPES = ("DOUBLE", "FLOAT", "HUGEINT", "UHUGEINT", "DECIMAL")


def duckdb_types(db: Database, name: str, scope: Scope, params: Mapping[str, object]) -> list[tuple[str, str]]:
    """The (column, DuckDB type) of a named query's result, planned by DuckDB
    without reading a row (``LIMIT 0``): the types the DuckDB path returns."""
    sql, _ = compiled(name)
    with db.cursor(scope) as cur:
        cur.execute(f"SELECT * FROM (\n{sql}\n) AS spark_types LIMIT 0", dict(params))
        return [(d[0], str(d[1])) for d in cur.description]


def _element(value: object, base: str) -> object:
    if value is None:
        return None
    if base in _INT_DTYPES:
        return int(value)  # type: ignore[arg-type]
    if base.startswith(_FLOAT_TYPES):
        return float(value)  # type: ignore[arg-type]
    return value


def to_duckdb_types(frame: pd.DataFrame, types: list[tuple[str, str]]) -> pd.DataFrame:
    """A frame from Spark with the dtypes the DuckDB path gives for ``types``
    (see :func:`duckdb_types`): DECIMAL and HUGEINT as float64, whole numbers as
    int64/int32 (Int64/Int32 when a value is missing), booleans as bool
    (boolean with a missing value), dates and timestamps as datetime64[us],
    text as pandas' string type, lists as numpy arrays (a NULL list is pd.NA, an empty one an empty array)."""
    import numpy as np

    if list(frame.columns) != [c for c, _ in types]:
        raise ValueError(f"Spark returned columns {list(frame.columns)}, DuckDB {[c for c, _ in types]}")
    out = {}
    for col, kind in types:
        s = frame[col]
        missing = bool(s.isna().any()) if not kind.endswith("]") else False
        if kind in _INT_DTYPES:
            dtype = _INT_DTYPES[kind]
            out[col] = s.astype(dtype.capitalize() if missing else dtype)
        elif kind.startswith(_FLOAT_TYPES):
            out[col] = pd.to_numeric(s.map(lambda v: np.nan if v is None else float(v)) if s.dtype == object
                                     else s).astype("float64")
        elif kind == "BOOLEAN":
            out[col] = s.astype("boolean") if missing else s.astype(bool)
        elif kind in ("DATE", "TIMESTAMP") or kind.startswith("TIMESTAMP"):
            out[col] = pd.to_datetime(s).astype("datetime64[us]")
        elif kind == "VARCHAR":  # DuckDB: pandas string type, object when no value is there
            out[col] = (s.astype(pd.StringDtype(na_value=np.nan)) if s.notna().any()
                        else pd.Series([None] * len(s), index=s.index, dtype=object))
        elif kind.endswith("[]"):
            base = kind[:-2]
            edtype = _INT_DTYPES.get(base, "float64" if base.startswith(_FLOAT_TYPES) else object)
            out[col] = pd.Series([pd.NA if v is None else np.asarray([_element(x, base) for x in v], dtype=edtype)
                                  for v in s], index=s.index, dtype=object)
        else:
            out[col] = s
    return pd.DataFrame(out, index=frame.index)


# --------------------------------------------------------------------------- data
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reaching(method: _Method) -> _Method:
    """A :class:`SparkData` method whose file system errors (a bad URL, a
    missing bucket, an unreachable store, no permission) are one
    :class:`CrmflowError` naming the copy's location and pyarrow's reason."""

    @wraps(method)
    def wrapper(self: SparkData, *args: Any, **kwargs: Any) -> Any:
        import pyarrow as pa

        try:
            return method(self, *args, **kwargs)
        except (OSError, pa.ArrowException) as exc:
            raise CrmflowError(key="spark_data_failed", folder=shown_location(self.folder),
                               reason=_first_line(exc)) from None

    return wrapper  # type: ignore[return-value]


#: A Parquet file directly in a dataset's partition of a table (relative to the table's folder).
_PARQUET_RE = re.compile(r"dataset_id=(0|[1-9][0-9]*)/[^/]*\.parquet")


def _partition(dataset_id: int) -> str:
    """A dataset's folder within a table's (hive partitioning)."""
    return f"dataset_id={int(dataset_id)}"


class SparkData:
    """The Parquet copy of the stored datasets: ``<folder>/<table>/dataset_id=N/``
    (hive partitioning, read by any Spark), with ``<folder>/_complete/N`` written
    last, so a half-written dataset is never taken as complete.

    ``folder`` is a local path or a URL pyarrow's file systems open
    (``s3://bucket/prefix?endpoint_override=...``, ``gs://``, ``hdfs://``,
    ``file://``); the file system is opened on first use."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder: str | Path = folder if is_url(folder) else Path(folder)
        self._opened: tuple[Any, str] | None = None

    def _fs(self) -> tuple[Any, str]:
        """pyarrow's file system of the copy and the copy's path in it."""
        if self._opened is None:
            from pyarrow import fs

            if is_url(self.folder):
                filesystem, root = fs.FileSystem.from_uri(str(self.folder))
                self._opened = filesystem, root.rstrip("/")
            else:
                self._opened = fs.LocalFileSystem(), str(self.folder)
        return self._opened

    def _path(self, *parts: str) -> str:
        """A path of the copy in its file system (``/`` between parts, on every file system)."""
        return "/".join([self._fs()[1], *parts])

    def _marker(self, dataset_id: int) -> str:
        return self._path("_complete", str(int(dataset_id)))

    def spark_path(self, table: str, dataset_id: int | None = None) -> str:
        """Where Spark reads ``table`` (its ``basePath``), or one dataset's partition of it
        (:func:`spark_url`: ``s3a://`` for ``s3://``, a local path as it is)."""
        parts = [table] if dataset_id is None else [table, _partition(dataset_id)]
        return "/".join([spark_url(self.folder), *parts])

    @_reaching
    def exists(self) -> bool:
        """Whether anything of the copy is there (its folder, or objects under its prefix)."""
        from pyarrow.fs import FileType

        filesystem, root = self._fs()
        return filesystem.get_file_info(root).type != FileType.NotFound

    @_reaching
    def has(self, dataset_id: int) -> bool:
        """Whether dataset ``dataset_id``'s copy is complete (its marker is there)."""
        from pyarrow.fs import FileType

        filesystem, _ = self._fs()
        return filesystem.get_file_info(self._marker(dataset_id)).type == FileType.File

    @_reaching
    def complete(self) -> frozenset[int]:
        """The datasets whose copy is complete (their marker is written)."""
        return frozenset(int(name) for name in self._files("_complete") if name.isdigit())

    @_reaching
    def filled(self, table: str) -> frozenset[int]:
        """The datasets whose partition of ``table`` holds a Parquet file (an empty
        table's partition holds none, and Spark cannot read an empty list of files)."""
        found = (_PARQUET_RE.fullmatch(path) for path in self._files(table, recursive=True))
        return frozenset(int(m.group(1)) for m in found if m)

    def _files(self, *parts: str, recursive: bool = False) -> list[str]:
        """The files under a folder of the copy, as paths relative to it (none when it is missing)."""
        from pyarrow.fs import FileSelector, FileType

        filesystem, _ = self._fs()
        base = self._path(*parts)
        infos = filesystem.get_file_info(FileSelector(base, recursive=recursive, allow_not_found=True))
        return [i.path[len(base) + 1:] for i in infos if i.type == FileType.File]

    @_reaching
    def export(self, db: Database, dataset_id: int) -> None:
        """Write dataset ``dataset_id``'s tables from the DuckDB store (replacing any older copy)."""
        import pyarrow.dataset as pads

        dataset_id = int(dataset_id)
        self.remove(dataset_id)
        filesystem, _ = self._fs()
        for table in TABLES:
            with db.cursor() as cur:
                sql, _ = compiled(f"export_{table}")
                reader = cur.execute(sql, {"target_id": dataset_id}).to_arrow_reader()
                target = self._path(table, _partition(dataset_id))
                filesystem.create_dir(target, recursive=True)
                pads.write_dataset(reader, target, format="parquet", basename_template="part-{i}.parquet",
                                   existing_data_behavior="overwrite_or_ignore", filesystem=filesystem)
        filesystem.create_dir(self._path("_complete"), recursive=True)
        with filesystem.open_output_stream(self._marker(dataset_id)) as out:
            out.write(b"complete\n")

    @_reaching
    def remove(self, dataset_id: int) -> None:
        """Drop a dataset's copy (a delete or a replace in the store): its marker first."""
        filesystem, _ = self._fs()
        _missing_ok(filesystem.delete_file, self._marker(dataset_id))
        for table in TABLES:
            _missing_ok(filesystem.delete_dir, self._path(table, _partition(dataset_id)))


def _missing_ok(delete: Callable[[str], None], path: str) -> None:
    """``delete(path)``, nothing when the path is not there."""
    try:
        delete(path)
    except FileNotFoundError:
        pass


def mirror_ingest(db: Database, dataset_id: int, replaced_id: int | None = None, name: str = "") -> None:
    """After an ingest: the new dataset written for Spark, a replaced one dropped
    (only when Spark is wanted, see :func:`spark_wanted`). The dataset is
    stored by then: a copy that cannot be written is told as such (it is
    written again the first time Spark reads the dataset)."""
    folder = data_folder(db.path)
    if folder is None:
        return
    data = SparkData(folder)
    try:
        if replaced_id is not None and data.exists():
            data.remove(replaced_id)  # whatever the engine: a copy never outlives its dataset
        if spark_wanted():
            data.export(db, dataset_id)
    except CrmflowError as exc:
        if exc.key != "spark_data_failed":
            raise
        raise CrmflowError(key="spark_copy_not_written", name=name, **exc.params) from None


def mirror_delete(db: Database, dataset_id: int) -> None:
    """After a delete: the dataset's copy dropped (whatever the engine)."""
    folder = data_folder(db.path)
    if folder is not None:
        data = SparkData(folder)
        if data.exists():
            data.remove(dataset_id)


def _jvm_exit_code() -> int | None:
    """The exit code of this process's local Spark JVM once it has ended, else None
    (also None for Spark Connect, whose server is not this process's child)."""
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    return None if proc is None else proc.poll()


def _forget_jvm() -> None:
    """Drop pyspark's handles on a JVM that has ended, so that the next session
    launches a new one (``SparkSession.stop()`` would call the dead JVM first)."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession, SQLContext

    with SparkContext._lock:
        context = SparkContext._active_spark_context
        if context is not None:
            context._jsc = None
            server = getattr(context, "_accumulatorServer", None)
            if server is not None:
                server.shutdown()
                context._accumulatorServer = None
        gateway = SparkContext._gateway
        SparkContext._active_spark_context = None
        SparkContext._gateway = None
        SparkContext._jvm = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    SQLContext._instantiatedContext = None
    if gateway is not None:
        try:
            gateway.shutdown()
        except Exception:  # noqa: BLE001 - its JVM is gone: nothing to shut down there
            _log.debug("closing the ended JVM's gateway", exc_info=True)


# --------------------------------------------------------------------------- the engine
class SparkDatabase:
    """A :class:`crmflow.db.Database` whose analytic queries run on Spark.

    ``db`` is the DuckDB store (the system of record); store and ingest queries
    still run there, as does anything else not overridden here (attributes are
    handed through). Datasets not yet in the Parquet copy are written on first use."""

    def __init__(self, db: Database, *, master: str | None = None, folder: str | os.PathLike | None = None) -> None:
        self.db = db
        self.master = spark_master(master)
        self._shared: Any = None
        self.spark: Any = None
        if folder is None:
            folder = data_folder(db.path)
        if folder is None:
            import tempfile

            self._tmp = tempfile.TemporaryDirectory(prefix="crmflow-spark-")
            folder = self._tmp.name
        self.data = SparkData(folder)
        self._lock = threading.RLock()
        self._views_of: frozenset[int] | None = None
        self._sets: dict[str, list[str]] = {}
        self._sets_view_of: tuple[str, ...] | None = None
        self._type_cache: dict[str, list[tuple[str, str]]] = {}
        self.engine = "spark"
        self._session()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    def _session(self) -> Any:
        """This database's Spark session, on the process's current one: after
        the local JVM was replaced, a new session, whose views are made again."""
        shared = spark_session(self.master)
        if shared is not self._shared:
            try:  # its own temporary views (two stores in one process never see each other's tables)
                self.spark = shared.newSession()
            except Exception:  # noqa: BLE001 - Spark Connect has one session per client
                self.spark = shared
            self._shared = shared
            self._views_of = None
            self._sets_view_of = None
        return self.spark

    # the data Spark reads
    def ensure(self, dataset_id: int) -> None:
        """Dataset ``dataset_id`` in the Parquet copy and the Spark views up to date."""
        with self._lock:
            self._session()
            dataset_id = int(dataset_id)
            if not self.data.has(dataset_id):
                self.data.export(self.db, dataset_id)
                self._views_of = None
            if self._views_of is None or dataset_id not in self._views_of:
                self._create_views()

    def _create_views(self) -> None:
        import sqlglot

        done = self.data.complete()
        for table in TABLES:
            with self.db.cursor() as cur:
                described = cur.execute(f"DESCRIBE {table}").fetchall()  # noqa: S608 - a fixed table name
            ddl = ", ".join(f"`{c}` {sqlglot.exp.DataType.build(t, dialect='duckdb').sql('spark')}"
                            for c, t, *_ in described)
            parts = [self.data.spark_path(table, i) for i in sorted(done & self.data.filled(table))]
            if parts:
                df = self.spark.read.schema(ddl).option("basePath", self.data.spark_path(table)).parquet(*parts)
            else:
                df = self.spark.createDataFrame([], ddl)
            df.createOrReplaceTempView(f"crm_{table}")
        self._views_of = done

    def _sets_view(self, needed: str | None) -> None:
        key = tuple(sorted(self._sets))
        if needed is not None and needed not in self._sets:
            raise CrmflowError(key="spark_unknown_set", set_id=needed)
        if self._sets_view_of == key:
            return
        rows = [(s, c) for s, ids in self._sets.items() for c in ids]
        self.spark.createDataFrame(rows, "set_id string, customer_id string").createOrReplaceTempView(
            FILTER_SETS_VIEW)
        self._sets_view_of = key

    def store_customer_set(self, customer_ids: pd.Series | list[str]) -> str:
        set_id = self.db.store_customer_set(customer_ids)
        with self._lock:
            self._sets[set_id] = sorted(set(map(str, customer_ids)))
        return set_id

    def run(self, name: str, *, dataset_id: int | Scope | None = None, cur: Any = None,
            **params: object) -> pd.DataFrame:
        """A named query: analytic ones on Spark, store and ingest ones on DuckDB."""
        if cur is not None or name not in _analytic_set() or dataset_id is None:
            return self.db.run(name, dataset_id=dataset_id, cur=cur, **params)
        sql, used = spark_sql(name)
        _, declared = compiled(name)
        Database._check_params(name, declared, params)
        scope = dataset_id if isinstance(dataset_id, Scope) else Scope(int(dataset_id))
        with self._lock:
            self.ensure(scope.dataset_id)
            self._sets_view(scope.customer_set)
            args = {k: v for k, v in scope_args(scope).items() if k in used}
            args.update({k: _spark_value(v) for k, v in params.items()})
            try:
                result = self.spark.sql(sql, args=args)
                frame = result.toPandas()
            except Exception as exc:  # noqa: BLE001 - Spark's errors come from the JVM
                from crmflow.errors import QueryError

                raise QueryError(f"Query {name} failed on Spark: {_first_line(exc, 500)}", key="db_query_failed",
                                 what=f"Query {name}", kind=type(exc).__name__) from None
        return to_duckdb_types(frame, self._types(name, scope, params))

    def _types(self, name: str, scope: Scope, params: Mapping[str, object]) -> list[tuple[str, str]]:
        """DuckDB's result types of a query (they do not depend on the values: kept per query)."""
        if name not in self._type_cache:
            self._type_cache[name] = duckdb_types(self.db, name, Scope(scope.dataset_id), params)
        return self._type_cache[name]

    def close(self) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
        self.db.close()


@lru_cache(maxsize=1)
def _analytic_set() -> frozenset[str]:
    return frozenset(analytic_queries())


def for_engine(db: Database, engine: str | None = None, master: str | None = None) -> Database | SparkDatabase:
    """``db`` itself for DuckDB, a :class:`SparkDatabase` over it for Spark."""
    if engine_name(engine) == "duckdb":
        return db
    return SparkDatabase(db, master=master)


# --------------------------------------------------------------------------- stored results on Spark
def compute_results(db: Database, dataset_id: int, *, spark_db: SparkDatabase | None = None,
                    master: str | None = None, fits: bool = True) -> int:
    """The dataset's stored results (crmflow.results, issue 14) computed on Spark:
    each query of :data:`crmflow.results.STORED` runs on Spark at the stored
    variants, and its rows are written into the store's ``result_<query>``
    table by the INSERT of ``queries/results/store_<query>.sql`` itself (the
    Spark rows standing in for the query it reads), with the same
    definitions keys and ``result_runs`` entries as the DuckDB path; all in
    one transaction (all or none); then, with ``fits``, the Python fits on
    them (as crmflow.results.compute). Returns the number of rows stored."""
    from crmflow import results
    from crmflow.stages import data_range

    dataset_id = int(dataset_id)
    try:
        first, last = data_range(db, dataset_id)
    except CrmflowError:
        return 0  # no order: nothing to store (as crmflow.results.compute)
    spark_db = spark_db if spark_db is not None else SparkDatabase(db, master=master)
    computed = []  # on Spark first, outside the store's write lock
    for name, stored in results.STORED.items():
        for params in stored.variants(first, last):
            computed.append((name, params, spark_db.run(name, dataset_id=dataset_id, **params)))
    rows = 0
    with db.write_lock, db.cursor() as cur:
        cur.begin()
        try:
            db.execute("drop_results", cur=cur, target_id=dataset_id)
            for name, params, frame in computed:
                key = results.defs_key(params)
                _insert_rows(cur, name, frame, target_id=dataset_id, defs_key=key)
                db.execute("record_result_run", cur=cur, target_id=dataset_id, query_name=name, defs_key=key,
                           dates=params.get("dates"))
                rows += len(frame)
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    # drop_results also removed the stored fits (result_params): the Python fits
    # run here, on the rows just stored (as crmflow.results.compute does after its queries)
    if not fits:
        return rows
    try:
        results.compute_fits(db, dataset_id)
    except Exception as exc:  # noqa: BLE001 - the pages fit on demand instead
        _log.info("crmflow: storing the fits of dataset %s failed: %s", dataset_id, exc)
    return rows


def _insert_rows(cur: Any, name: str, frame: pd.DataFrame, **params: object) -> None:
    """``store_<name>``'s INSERT with ``frame`` (rows computed elsewhere) as the
    relation ``<name>`` it selects from (its own text, without the query's CTE)."""
    from crmflow.db import _PARAM_RE

    body = get_query(f"store_{name}").body
    view = f"spark_rows_{name}"
    sql = re.sub(rf"\bFROM\s+{name}\b", f"FROM {view}", body)
    if sql == body:
        raise ValueError(f"store_{name} does not read {name}")
    cur.register(view, frame)
    try:
        used = set(_PARAM_RE.findall(sql))
        cur.execute(sql, {k: v for k, v in params.items() if k in used})
    finally:
        cur.unregister(view)
