"""Uploading files in the dashboard's Data view: everything between "the user
dropped a file" and "the dataset is stored", without a browser.

1. :func:`save_upload` writes the uploaded bytes to a private temporary folder
   under the file's own name (so messages name the user's file and the suffix
   still tells Excel and Parquet apart).
2. :func:`inspect_file` reads it the way ingestion will (:func:`crmflow.ingest.sniff`
   and :func:`crmflow.ingest.stage`) and returns a :class:`FilePreview`: the
   first rows as read, the detected encoding, delimiter, header row and
   decimal convention, and the detected column of every field.
3. The user may change the mapping: one choice per field, a column position or
   ``None`` ("not used"). :func:`plan` turns the choices into ``--map``-style
   overrides by position (``#3``), so duplicate header names are no problem.
   A field the automatic mapping would fill but the user switched off is kept
   away from it by renaming that column's header in a copy of the file
   (``unused:<name>``): the mapping rules only ever *add* columns.
4. :func:`check` is a dry run: the same ingestion into an in-memory store,
   giving the validation report and every rejected row, without touching the
   real store. :func:`save` stores the dataset (all or nothing, see
   :meth:`crmflow.store.Store.ingest`), so a failed upload never loses data.

Labels for the interface (the file read "in words", rejection reasons, what
each optional column unlocks) come from :mod:`crmflow.i18n`.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import os
import re
import shutil
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pandas as pd

from crmflow.db import Database
from crmflow.errors import CrmflowError, InputFileError, MappingError
from crmflow.i18n import DEFAULT_LANGUAGE, t
from crmflow.ingest import NO_OPTIONS, SUPPORTED, WHITESPACE, ReadOptions, TableReport, prepare, sniff, stage
from crmflow.mapping import REQUIRED, SYNONYMS, TABLES, apply_overrides, auto_map
from crmflow.store import IngestResult, Store

#: File types the uploader accepts (the content decides the format; the suffix helps).
ACCEPTED_TYPES = ("csv", "tsv", "txt", "xlsx", "parquet")
#: Rows shown in the preview.
PREVIEW_ROWS = 10
#: Prefix given to the header of a column the user switched off.
UNUSED_PREFIX = "unused:"
#: Name prefix of the throw-away datasets of dry runs.
CHECK_NAME = "check"
#: Bytes searched for the header line when a column is switched off.
HEADER_WINDOW = 4 * 1024 * 1024
T = TypeVar("T")

#: Rejection reasons of ``queries/ingest/parse_*.sql`` and their labels.
REASON_KEYS = {
    "missing customer id": "data_reason_missing_customer_id",
    "missing order date": "data_reason_missing_order_date",
    "order date is not a date": "data_reason_order_date_not_a_date",
    "order date is out of range": "data_reason_order_date_out_of_range",
    "missing amount": "data_reason_missing_amount",
    "amount is not a number": "data_reason_amount_not_a_number",
    "amount is too large": "data_reason_amount_too_large",
    "missing date": "data_reason_missing_date",
    "date is not a date": "data_reason_date_not_a_date",
    "date is out of range": "data_reason_date_out_of_range",
    "missing interaction type": "data_reason_missing_interaction_type",
    "repeated customer id (the first row is kept)": "data_reason_repeated_customer_id",
}

#: Optional data of :func:`pages.common.cached_coverage` (``data_coverage``
#: query) the Data view lists, each with what it unlocks (``data_unlock_<key>``).
COVERAGE_ITEMS = ("customers", "created_at", "key_accounts", "interactions", "complaints", "cost", "category",
                  "channel", "region", "owner", "due_date", "paid_date", "order_id")


def fields(table: str) -> tuple[str, ...]:
    """The fields of a table, in the mapping's order (required ones first)."""
    return tuple(SYNONYMS[table])


def required(table: str) -> tuple[str, ...]:
    return REQUIRED[table]


def one_line_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Let a CrmflowError through; turn any other failure while reading a
    user's file (a damaged workbook, a reader's own error) into one, so the
    interface can show one line instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return fn(*args, **kwargs)
        except CrmflowError:
            raise
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - user files can break readers in many ways
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise InputFileError(
                f"The file could not be read ({type(exc).__name__}{': ' + first if first else ''})",
                f"Check that it is a valid {SUPPORTED} file, or export it again",
            ) from None

    return wrapper


# --------------------------------------------------------------------------- saving the upload
def safe_file_name(name: str, default: str = "upload") -> str:
    """The last part of an uploaded file's name, without folders, control
    characters or characters that file systems reject; at most 120 characters
    (the suffix is kept)."""
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = re.sub(r'[<>:"|?*]', "_", text).strip().strip(".")
    if not text:
        return default
    stem, suffix = os.path.splitext(text)
    suffix = suffix[:12]
    return (stem[: 120 - len(suffix)] or default) + suffix


def save_upload(data: bytes, file_name: str, directory: str | os.PathLike | None = None) -> Path:
    """Write uploaded bytes to a new private temporary folder under the file's
    own (cleaned) name; returns the path. Remove it with :func:`discard`
    (folders left behind by closed browser sessions go after a day)."""
    sweep(directory)
    try:
        folder = Path(tempfile.mkdtemp(prefix="crmflow-upload-", dir=directory))
        path = folder / safe_file_name(file_name)
        path.write_bytes(data)
    except OSError as exc:
        raise InputFileError(f"The upload could not be kept in the temporary folder ({exc.strerror})",
                             "Free some disk space, or point TMPDIR at a folder with room") from None
    return path


def sweep(directory: str | os.PathLike | None = None, max_age_hours: float = 24) -> None:
    """Remove upload folders older than ``max_age_hours`` (a closed browser tab
    never discards its files)."""
    root = Path(directory or tempfile.gettempdir())
    cutoff = time.time() - max_age_hours * 3600
    for folder in root.glob("crmflow-upload-*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def discard(path: str | os.PathLike | None) -> None:
    """Remove a file written by :func:`save_upload` and its folder (never
    anything outside a ``crmflow-upload-`` folder)."""
    if not path:
        return
    folder = Path(path).parent
    if folder.name.startswith("crmflow-upload-"):
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- scratch database
@functools.cache
def scratch() -> Store:
    """One in-memory store per process for previews and dry runs. Loading a
    DuckDB extension (GB18030 text, Excel) takes seconds per database, so it
    is done once here rather than once per file; the real store is never
    touched. Each dry run stores its rows under its own name and deletes them."""
    return Store(in_memory=True)


# --------------------------------------------------------------------------- preview
@dataclass(frozen=True)
class FilePreview:
    """A file as ingestion will read it, before anything is stored."""

    table: str
    file_name: str
    path: str
    format: str  # csv | xlsx | parquet
    encoding: str | None  # e.g. "GB18030/GBK" (text files)
    delimiter: str | None  # one character or "whitespace" (text files)
    header: bool
    headers: tuple[str, ...]
    rows: pd.DataFrame  # the first rows as read (text), columns = column_labels
    rows_read: int
    detected: dict[str, int]  # field -> column position, as ingestion would map it
    decimal_comma: bool | None = None  # None when the mapping is incomplete
    date_formats: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # why the file cannot be loaded as it is mapped (e.g. a required column)
    options: ReadOptions = NO_OPTIONS  # how it was read (the user's choices of encoding, header row, sheet)

    @property
    def column_labels(self) -> tuple[str, ...]:
        return column_labels(self.headers)


def column_labels(headers: Sequence[str]) -> tuple[str, ...]:
    """Unique, readable names for the columns: the header, or ``#n`` when it
    is empty; a repeated header gets its position added."""
    counts: dict[str, int] = {}
    for h in headers:
        counts[h] = counts.get(h, 0) + 1
    out = []
    for i, h in enumerate(headers):
        if not str(h).strip():
            out.append(f"#{i + 1}")
        elif counts[h] > 1:
            out.append(f"{h} (#{i + 1})")
        else:
            out.append(str(h))
    return tuple(out)


def _positions(headers: Sequence[str], by_name: Mapping[str, str], hint: Mapping[str, int]) -> dict[str, int]:
    """Field -> column position from a report's field -> header name, using
    ``hint`` (the automatic mapping) to tell repeated header names apart."""
    out: dict[str, int] = {}
    taken: set[int] = set()
    for f, name in by_name.items():
        i = hint.get(f)
        if i is None or i in taken or headers[i] != name:
            i = next((j for j, h in enumerate(headers) if h == name and j not in taken), None)
        if i is not None:
            out[f] = i
            taken.add(i)
    return out


@one_line_errors
def inspect_file(path: str | os.PathLike, table: str, *, file_name: str | None = None,
                 n_rows: int = PREVIEW_ROWS, options: ReadOptions | None = None) -> FilePreview:
    """Read a file as ingestion will and describe it (see :class:`FilePreview`).

    A file that cannot be read at all raises :class:`crmflow.errors.CrmflowError`
    (one line: what is wrong and how to fix it); a missing required column is
    not an error here but the preview's ``problem``, so the user can pick the
    column in the mapping.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    path = Path(path)
    name = file_name or path.name
    options = options or NO_OPTIONS
    sniffed = sniff(path, options)
    db = scratch().db
    with db.cursor() as cur:
        rows_read = stage(cur, sniffed)
        raw = cur.table("ingest_raw").order("row_number").limit(max(0, int(n_rows))).df()
        headers = tuple(str(h) for h in sniffed.headers)
        if rows_read == 0:
            raise InputFileError(f"The {table} file {name} has a header but no rows",
                                 "Export the data again with the rows included")
        detected = auto_map(table, headers)
        problem, decimal_comma, date_formats = None, None, {}
        try:
            report = prepare(db, cur, table, path, options=options)
            detected = _positions(headers, report.mapping, detected)
            decimal_comma, date_formats = report.decimal_comma, dict(report.date_formats)
        except MappingError as exc:
            problem = exc.line()
    labels = column_labels(headers)
    rows = raw.drop(columns=["row_number"])
    rows.columns = list(labels[: len(rows.columns)])
    rows = rows.astype(object).where(rows.notna(), None)
    return FilePreview(table, name, str(path), sniffed.format, sniffed.encoding_label, sniffed.delimiter,
                       sniffed.header, headers, rows, int(rows_read), detected, decimal_comma, date_formats,
                       problem, options)


def describe(preview: FilePreview, lang: str = DEFAULT_LANGUAGE) -> str:
    """How the file was read, in words (format, encoding, separator, header
    row, decimal convention)."""
    parts = [t(f"data_fmt_{preview.format}" if preview.format in ("csv", "xlsx", "parquet") else "data_fmt_other",
               lang)]
    if preview.format == "csv":
        if preview.encoding:
            parts.append(t("data_fmt_encoding", lang, encoding=preview.encoding))
        delimiter = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", WHITESPACE: "whitespace"}.get(
            preview.delimiter or "")
        if delimiter:
            parts.append(t(f"data_delim_{delimiter}", lang))
        parts.append(t("data_header_yes" if preview.header else "data_header_no", lang))
    if preview.decimal_comma is not None:
        parts.append(t("data_decimal_comma" if preview.decimal_comma else "data_decimal_point", lang))
    return t("data_read_as", lang, details=t("data_list_sep", lang).join(parts), rows=preview.rows_read)


# --------------------------------------------------------------------------- mapping choices
Choices = dict[str, int | None]


def default_choices(preview: FilePreview) -> Choices:
    """Every field of the table with its detected column (None: not used)."""
    return {f: preview.detected.get(f) for f in fields(preview.table)}


def validate_choices(table: str, headers: Sequence[str], choices: Mapping[str, int | None]) -> None:
    """A clear error when a required field has no column, a column is chosen
    for two fields, or a choice is not a column of the file."""
    labels = column_labels(headers)
    unknown = [f for f in choices if f not in SYNONYMS[table]]
    if unknown:
        raise MappingError(f"Unknown {table} field(s): {', '.join(unknown)}",
                           f"Known fields: {', '.join(fields(table))}")
    for f, i in choices.items():
        if i is not None and not 0 <= int(i) < len(headers):
            raise MappingError(f"The {f} column #{int(i) + 1} is not in the file (it has {len(headers)} columns)",
                               "Pick one of the file's columns")
    missing = [f for f in REQUIRED[table] if choices.get(f) is None]
    if missing:
        raise MappingError(f"No column is chosen for the required {table} field(s) {', '.join(missing)}",
                           "Pick the column that holds it in its dropdown")
    seen: dict[int, str] = {}
    for f, i in choices.items():
        if i is None:
            continue
        if int(i) in seen:
            raise MappingError(f"The column {labels[int(i)]} is chosen for both {seen[int(i)]} and {f}",
                               "Choose one column per field, or set one of them to not used")
        seen[int(i)] = f


@dataclass(frozen=True)
class ReadPlan:
    """How to ingest one file: which file (a copy when columns were switched
    off), with which overrides, and which fields must end up unused."""

    table: str
    path: str
    overrides: dict[str, str]
    hidden: tuple[int, ...] = ()
    unused: tuple[str, ...] = ()
    options: ReadOptions = NO_OPTIONS


def hidden_columns(table: str, headers: Sequence[str], choices: Mapping[str, int | None]) -> tuple[int, ...]:
    """Columns whose header must be renamed so that the automatic mapping
    does not give a switched-off field a column (repeated until it does not)."""
    names = list(headers)
    overrides = {f: f"#{int(i) + 1}" for f, i in choices.items() if i is not None}
    unused = {f for f in SYNONYMS[table] if choices.get(f) is None}
    hidden: list[int] = []
    while True:
        mapping = apply_overrides(table, names, auto_map(table, names), overrides)
        extra = sorted(mapping[f] for f in mapping if f in unused)
        if not extra:
            return tuple(hidden)
        for i in extra:
            names[i] = UNUSED_PREFIX + names[i]
            hidden.append(i)


@one_line_errors
def plan(preview: FilePreview, choices: Mapping[str, int | None]) -> ReadPlan:
    """The :class:`ReadPlan` for a preview and the user's choices (missing
    fields count as not used)."""
    full = {f: choices.get(f) for f in fields(preview.table)}
    validate_choices(preview.table, preview.headers, {**choices, **full})
    overrides = {f: f"#{int(i) + 1}" for f, i in full.items() if i is not None}
    unused = tuple(f for f, i in full.items() if i is None)
    hidden = hidden_columns(preview.table, preview.headers, full) if preview.header else ()
    path = hide_columns(preview, hidden) if hidden else Path(preview.path)
    return ReadPlan(preview.table, str(path), overrides, hidden, unused, preview.options)


# --------------------------------------------------------------------------- switching columns off
def hide_columns(preview: FilePreview, positions: Sequence[int]) -> Path:
    """A copy of the file (in a ``hidden`` folder next to it, same name) whose
    header names ``positions`` get the :data:`UNUSED_PREFIX`."""
    src = Path(preview.path)
    folder = src.parent / "hidden"
    folder.mkdir(exist_ok=True)
    dst = folder / src.name
    if preview.format == "parquet":
        _hide_parquet(src, dst, preview.headers, positions)
    elif preview.format == "xlsx":
        _hide_xlsx(src, dst, preview.headers, positions)
    elif preview.format == "csv":
        _hide_text(src, dst, preview, positions)
    else:
        raise InputFileError(f"Columns of a {preview.format} file cannot be switched off",
                             "Map the column to its field, or remove it from the file")
    expected = list(preview.headers)
    for i in positions:
        expected[i] = UNUSED_PREFIX + expected[i]
    found = _headers_of(dst, preview.format) if preview.format in ("csv", "parquet") else expected
    if found != expected[: len(found)] or any(i >= len(found) for i in positions):
        raise InputFileError(f"Could not switch off columns of {preview.file_name}",
                             "Remove the columns from the file, or map them to their fields")
    return dst


def _headers_of(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [str(n) for n in pq.read_schema(path).names]
    return list(sniff(path).headers)


def _hide_parquet(src: Path, dst: Path, headers: Sequence[str], positions: Sequence[int]) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    names = [str(n) for n in table.column_names]
    if names != list(headers):
        raise InputFileError(f"The columns of {src.name} could not be matched",
                             "Map the column to its field, or remove it from the file")
    for i in positions:
        names[i] = UNUSED_PREFIX + names[i]
    pq.write_table(table.rename_columns(names), dst)


def _hide_xlsx(src: Path, dst: Path, headers: Sequence[str], positions: Sequence[int]) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(src, data_only=True)
    ws = wb.worksheets[0]
    header_row = next((row for row in ws.iter_rows() if any(c.value not in (None, "") for c in row)), None)
    if header_row is None:
        raise InputFileError(f"{src.name} has no header row", "Put the column names in the first row")
    for i in positions:
        name = headers[i]
        nth = sum(1 for h in headers[:i] if h == name)
        cells = [c for c in header_row if c.value is not None and str(c.value).strip() == name]
        if len(cells) <= nth:
            raise InputFileError(f"The column {name} of {src.name} could not be switched off",
                                 "Delete the column in Excel, or map it to its field")
        cells[nth].value = UNUSED_PREFIX + name
    wb.save(dst)


def _hide_text(src: Path, dst: Path, preview: FilePreview, positions: Sequence[int]) -> None:
    encoding = {"UTF-8": "utf-8", "UTF-8 with BOM": "utf-8", "GB18030/GBK": "gb18030",
                "Latin-1": "latin-1"}.get(preview.encoding or "UTF-8")
    if encoding is None:
        raise InputFileError(f"Columns of a {preview.encoding} file cannot be switched off",
                             "Save the file as UTF-8 CSV, or map the column to its field")
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        head = fin.read(HEADER_WINDOW)
        bom = codecs.BOM_UTF8 if head.startswith(codecs.BOM_UTF8) else b""
        head = head[len(bom):]
        start = 0
        while True:
            end = head.find(b"\n", start)
            if end < 0:
                raise InputFileError(f"The header row of {preview.file_name} could not be found",
                                     "Check that the file has a header row and data rows")
            if head[start:end].strip():
                break
            start = end + 1
        line = head[start:end].decode(encoding)
        ending = "\r" if line.endswith("\r") else ""
        line = line[: len(line) - len(ending)]
        if preview.delimiter == WHITESPACE:
            cells = line.split()
        else:
            cells = next(csv.reader([line], delimiter=preview.delimiter or ","))
        for i in positions:
            if i < len(cells):
                cells[i] = UNUSED_PREFIX + cells[i].strip()
        if preview.delimiter == WHITESPACE:
            text = " ".join(cells)
        else:
            buf = io.StringIO()
            csv.writer(buf, delimiter=preview.delimiter or ",", lineterminator="").writerow(cells)
            text = buf.getvalue()
        fout.write(bom + head[:start] + (text + ending).encode(encoding) + head[end:])
        shutil.copyfileobj(fin, fout)


# --------------------------------------------------------------------------- dry run and save
@dataclass(frozen=True)
class CheckResult:
    """The validation report of a dry run (nothing stored)."""

    reports: tuple[TableReport, ...]
    rejected: pd.DataFrame  # source, row_number, reason, raw: every rejected row
    transactions: int  # rows that would be stored
    customers: int
    interactions: int

    @property
    def rows_read(self) -> int:
        return sum(r.rows_read for r in self.reports)

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.reports)


def _arguments(plans: Sequence[ReadPlan]) -> tuple[dict[str, str], dict[str, dict[str, str]],
                                                   dict[str, ReadOptions]]:
    by_table = {p.table: p for p in plans}
    if len(by_table) != len(plans):
        raise CrmflowError("Two files were given for the same table", "Upload one file per table")
    if "transactions" not in by_table:
        raise CrmflowError("No transactions file", "Upload a transactions file (customer, date, amount)")
    return ({table: p.path for table, p in by_table.items()},
            {table: dict(p.overrides) for table, p in by_table.items()},
            {table: p.options for table, p in by_table.items()})


def _verify(plans: Sequence[ReadPlan], reports: Sequence[TableReport]) -> None:
    """Every switched-off field really is unused."""
    by_table = {r.table: r for r in reports}
    for p in plans:
        report = by_table.get(p.table)
        used = [f for f in p.unused if report is not None and f in report.mapping]
        if used:
            raise MappingError(f"The {p.table} field(s) {', '.join(used)} could not be switched off",
                               "Remove those columns from the file, or map them to their fields")


@one_line_errors
def check(plans: Sequence[ReadPlan], date_preference: str | None = None) -> CheckResult:
    """Ingest into a throw-away in-memory store: the validation report and
    every rejected row, as saving would give them; the real store is not
    touched. A file that cannot be used raises a one-line CrmflowError."""
    paths, overrides, options = _arguments(plans)
    store = scratch()
    name = f"{CHECK_NAME}-{uuid.uuid4().hex}"
    try:
        result = store.ingest(name, paths["transactions"], paths.get("customers"), paths.get("interactions"),
                              overrides=overrides, date_preference=date_preference, read_options=options)
        rejected = store.rejected_rows(name)
    finally:
        if name in store.names():
            store.delete(name)
    _verify(plans, result.reports)
    ds = result.dataset
    return CheckResult(tuple(result.reports), rejected, ds.n_transactions, ds.n_customers, ds.n_interactions)


@one_line_errors
def save(store: Store, name: str, plans: Sequence[ReadPlan], *, date_preference: str | None = None,
         replace: bool = False) -> IngestResult:
    """Store the files as dataset ``name`` (all or nothing: on any error the
    store is as before, including a dataset being replaced)."""
    paths, overrides, options = _arguments(plans)
    result = store.ingest(name, paths["transactions"], paths.get("customers"), paths.get("interactions"),
                          overrides=overrides, date_preference=date_preference, read_options=options,
                          replace=replace)
    return result


# --------------------------------------------------------------------------- words for the interface
def reason_label(reason: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A rejection reason in ``lang`` (unknown reasons as they are)."""
    key = REASON_KEYS.get(str(reason))
    return t(key, lang) if key else str(reason)


def reasons_frame(report: TableReport, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """Rejected rows by reason: columns reason (in ``lang``), rows; most first."""
    items = sorted(report.rejected_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame({"reason": [reason_label(r, lang) for r, _ in items], "rows": [int(n) for _, n in items]})


def rejected_frame(rejected: pd.DataFrame, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """Rejected rows for download: table, row number in the file, reason in
    ``lang`` and the raw values."""
    out = rejected[["source", "row_number", "reason", "raw"]].copy()
    out["reason"] = [reason_label(r, lang) for r in out["reason"]]
    return out


def date_format_label(fmt: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A date format as people write it: ``%d/%m/%Y`` -> ``DD/MM/YYYY``."""
    if fmt == "excel":
        return t("data_date_excel", lang)
    return (fmt.replace("%Y", "YYYY").replace("%y", "YY").replace("%m", "MM").replace("%d", "DD")
            .replace("%b", "MON").replace("%H", "hh").replace("%M", "mm").replace("%S", "ss"))


def mapping_frame(report: TableReport, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """Which column each field was read from: columns field (in ``lang``), column."""
    return pd.DataFrame({"field": [t(f"data_field_{f}", lang) for f in report.mapping],
                         "column": [str(c) for c in report.mapping.values()]})


def coverage_frame(coverage: Mapping[str, int], lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The optional data of the current dataset: columns item, present (bool),
    rows (how many rows carry it) and unlocks (what it unlocks), in ``lang``."""
    return pd.DataFrame({
        "item": [t(f"data_item_{k}", lang) for k in COVERAGE_ITEMS],
        "present": [int(coverage.get(k, 0)) > 0 for k in COVERAGE_ITEMS],
        "rows": [int(coverage.get(k, 0)) for k in COVERAGE_ITEMS],
        "unlocks": [t(f"data_unlock_{k}", lang) for k in COVERAGE_ITEMS],
    })


def known_customers(db: Database, dataset_id: int) -> int:
    """Distinct customers of a stored dataset (transactions and customers table)."""
    return len(db.run("customer_attributes", dataset_id=dataset_id))


def dataset_list(store: Store, customers: Callable[[int, str], int] | None = None) -> pd.DataFrame:
    """The stored datasets, newest first: name, transactions, customers
    (distinct; ``customers(dataset_id, created_at)`` counts them, by default
    :func:`known_customers`; pass a cached one), interactions, rejected, created_at."""
    df = store.datasets()
    count = customers or (lambda dataset_id, _created: known_customers(store.db, dataset_id))
    return pd.DataFrame({
        "name": df["name"].astype(str),
        "transactions": df["n_transactions"].astype("int64"),
        "customers": [int(count(int(i), str(c))) for i, c in zip(df["dataset_id"], df["created_at"])],
        "interactions": df["n_interactions"].astype("int64"),
        "rejected": df["n_rejected"].astype("int64"),
        "created_at": pd.to_datetime(df["created_at"]),
    })


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=&])")


def escape_markdown(text: object) -> str:
    """User text (a file or dataset name) made safe to put in a Markdown label:
    one line, every Markdown/directive character backslash-escaped."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)


def name_from_file(file_name: str) -> str:
    """A dataset name suggested by a file name (its stem, at most 100 characters)."""
    stem = Path(safe_file_name(file_name)).stem.strip()
    return stem[:100] or "upload"

