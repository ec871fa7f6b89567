"""Uploading files in the dashboard's Data view: everything between "the user
dropped a file" and "the dataset is stored", without a browser.

1. :func:`save_upload` writes the uploaded bytes to a private temporary folder
   under the file's own name (so messages name the user's file and the suffix
   still tells Excel and Parquet apart).
2. :func:`inspect_file` reads it the way ingestion will (:func:`crmflow.ingest.sniff`
   and :func:`crmflow.ingest.stage`) and returns a :class:`FilePreview`: the
   first rows as read and as they will be stored (:class:`ParsedRows`, taken
   from the parse ingestion itself runs), the detected encoding, delimiter,
   header row and decimal convention, and the detected column of every field.
   :func:`preview_state` follows the user's current choices: the problem they
   leave (keyed, in the page's language) or the rows and notes they give.
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
each optional column unlocks) come from :mod:`crmflow.i18n`; every error
raised here has a translation key (``err_<key>``, ``err_<key>_cli``,
``err_<key>_page``), so the page says in its language what to do on the page.
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
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from crmflow.db import Database
from crmflow.errors import CrmflowError, InputFileError, MappingError
from crmflow.excel import ALL_SHEETS, SheetChoiceError
from crmflow.i18n import DEFAULT_LANGUAGE, t
from crmflow.ingest import (
    NO_OPTIONS,
    WHITESPACE,
    ReadOptions,
    TableReport,
    encoding_label,
    prepare,
    resolve_encoding,
    sniff,
    stage,
)
from crmflow.mapping import REQUIRED, SYNONYMS, TABLES, apply_overrides, auto_map, derives_amount
from crmflow.messages import REASON_KEYS, TermList, field_term, table_term
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

#: Fields shown as money in the preview (rounded to cents, as :class:`decimal.Decimal`).
MONEY_FIELDS = ("amount", "cost", "margin", "credit_limit", "unit_price")
CENT = Decimal("0.01")

#: Optional data of :func:`crmflow.ui.common.cached_coverage` (``data_coverage``
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
            kind = type(exc).__name__
            # the reader's own words only on the command line; the page names the kind of error
            raise InputFileError(f"The file could not be read ({kind}{': ' + first if first else ''})",
                                 key="upload_unreadable", kind=kind) from None

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


#: The upload folders :func:`save_upload` made in this process (a server removes
#: only these when it stops: another server's live uploads are not its to remove).
_MINE: set[Path] = set()


def save_upload(data: bytes, file_name: str, directory: str | os.PathLike | None = None) -> Path:
    """Write uploaded bytes to a new private temporary folder under the file's
    own (cleaned) name; returns the path. Remove it with :func:`discard`
    (folders left behind by closed browser sessions go after a day)."""
    sweep(directory)
    try:
        folder = Path(tempfile.mkdtemp(prefix="crmflow-upload-", dir=directory))
        _MINE.add(folder)
        path = folder / safe_file_name(file_name)
        path.write_bytes(data)
    except OSError as exc:
        raise InputFileError(key="upload_not_kept", reason=str(exc.strerror or type(exc).__name__)) from None
    return path


def sweep(directory: str | os.PathLike | None = None, max_age_hours: float | None = 24, *,
          mine_only: bool = False) -> int:
    """Remove upload folders (``crmflow-upload-*``) older than
    ``max_age_hours`` (None: of any age) — a closed browser tab never discards
    its files; with ``mine_only``, only the folders :func:`save_upload` made in
    this process (in ``directory`` when given, else wherever they are).
    Returns how many were removed."""
    if mine_only:  # wherever they are, or only those in ``directory`` when it is given
        candidates = sorted(f for f in _MINE if directory is None or f.parent == Path(directory))
    else:
        candidates = list(Path(directory or tempfile.gettempdir()).glob("crmflow-upload-*"))
    cutoff = None if max_age_hours is None else time.time() - max_age_hours * 3600
    removed = 0
    for folder in candidates:
        try:
            if not folder.is_dir() or folder.is_symlink():
                _MINE.discard(folder)
                continue
            if cutoff is not None and folder.stat().st_mtime >= cutoff:
                continue
            shutil.rmtree(folder)
            _MINE.discard(folder)
            removed += 1
        except OSError:
            continue
    return removed


def discard(path: str | os.PathLike | None) -> None:
    """Remove a file written by :func:`save_upload` and its folder (never
    anything outside a ``crmflow-upload-`` folder)."""
    if not path:
        return
    folder = Path(path).parent
    if folder.name.startswith("crmflow-upload-"):
        shutil.rmtree(folder, ignore_errors=True)
        _MINE.discard(folder)


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
    rows: pd.DataFrame  # the first rows as read (text), columns = column_labels (see also ``parsed``)
    rows_read: int
    detected: dict[str, int]  # field -> column position, as ingestion would map it
    decimal_comma: bool | None = None  # None when the mapping is incomplete
    date_formats: dict[str, str] = field(default_factory=dict)
    problem: CrmflowError | None = None  # why it cannot be loaded as detected (e.g. a required column); keyed
    options: ReadOptions = NO_OPTIONS  # how it was read (the user's choices of encoding, header row, sheet)
    parsed: ParsedRows | None = None  # the first rows as ingestion stores them with the detected mapping
    report: TableReport | None = None  # the report of that parse (its notes), None with a problem
    header_row: int | None = None  # 1-based row the column names came from (0: none; None: not known)
    sheets: tuple[str, ...] = ()  # .xlsx: the sheets with data, in workbook order
    sheet_header_rows: dict[str, int] = field(default_factory=dict)  # .xlsx: sheet read -> its header row
    appendable: bool = False  # .xlsx: several sheets share their columns (they can be read together)
    codec: str | None = None  # text files: the Python codec the file was read with (detected or chosen)

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


@dataclass(frozen=True)
class ParsedRows:
    """The first rows of a file as ingestion will store them: ``rows`` has the
    file's columns (:func:`column_labels`); a column mapped to a field holds
    the typed value (a date, money as a :class:`~decimal.Decimal` in cents, a
    number, yes/no, the text that is stored, None for an empty cell), any
    other column the text as read. ``reasons`` is, per row, why the row would
    be rejected (the English reason of the parse queries, see
    :data:`REASON_KEYS`) or None."""

    rows: pd.DataFrame
    reasons: tuple[str | None, ...]
    mapping: dict[str, int]  # field -> column position the values come from


@dataclass(frozen=True)
class PreviewState:
    """What the preview shows for the user's current choices: the parsed rows
    and the notes of that parse, or the problem that keeps it from loading
    (then ``parsed`` and ``report`` are None)."""

    parsed: ParsedRows | None
    report: TableReport | None
    problem: CrmflowError | None

    @property
    def notes(self) -> list[str]:
        return list(self.report.warnings) if self.report is not None else []


def _cell(value: object) -> object:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _stored_value(field_name: str, row: Mapping[str, Any] | None, raw: object) -> object:
    """The value a field's column gets in the database, for display."""
    if row is None:
        return _cell(raw)
    if field_name == "margin" and "margin" not in row:
        # margin is not stored: it makes the cost (amount - margin), so it reads back as amount - cost
        amount, cost = row.get("amount"), row.get("cost")
        value = None if amount is None or cost is None else Decimal(amount) - Decimal(cost)
    elif field_name in row:
        value = row[field_name]
    else:  # a field the parse does not keep under its own name: as read
        return _cell(raw)
    if value is None:
        return None
    if field_name in MONEY_FIELDS and isinstance(value, (Decimal, int, float)):
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    if isinstance(value, datetime):
        return value.date()
    return value


def _parsed_rows(cur: duckdb.DuckDBPyConnection, table: str, raw: pd.DataFrame, headers: Sequence[str],
                 mapping: Mapping[str, int]) -> ParsedRows:
    """The rows of ``raw`` (ingest_raw's first rows) joined by row_number to
    what the parse query made of them (temp table ``ingest_parsed_<table>``)."""
    numbers = [int(n) for n in raw["row_number"]]
    rel = cur.table(f"ingest_parsed_{table}")
    if numbers:
        rel = rel.filter(duckdb.ColumnExpression("row_number") <= duckdb.ConstantExpression(max(numbers)))
    names = list(rel.columns)
    parsed = {int(r[names.index("row_number")]): dict(zip(names, r)) for r in rel.fetchall()}
    field_at = {int(i): f for f, i in mapping.items()}
    labels = column_labels(headers)
    columns: dict[str, list[object]] = {}
    for i, label in enumerate(labels):
        values = list(raw[f"c{i}"]) if f"c{i}" in raw.columns else [None] * len(numbers)
        f = field_at.get(i)
        if f is None:
            columns[label] = [_cell(v) for v in values]
        else:
            columns[label] = [_stored_value(f, parsed.get(n), v) for n, v in zip(numbers, values)]
    reasons = tuple((parsed.get(n) or {}).get("reject_reason") for n in numbers)
    return ParsedRows(pd.DataFrame(columns, dtype=object), reasons, dict(mapping))


def preview_frame(parsed: ParsedRows, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The parsed rows for the page: a first column saying, in ``lang``, why a
    row would be rejected (empty for a row that loads), then the file's columns
    (an empty text cell as empty text: a table shows a missing value as "None")."""
    frame = parsed.rows.copy()
    status = t("datapage_col_rejected_because", lang)
    while status in frame.columns:
        status += " "
    frame.insert(0, status, pd.Series(["" if r is None else "⚠ " + reason_label(r, lang) for r in parsed.reasons],
                                      index=frame.index, dtype=object))
    for i in range(1, frame.shape[1]):
        column = frame.iloc[:, i]
        values = column.dropna()
        if column.dtype == object and len(values) and all(isinstance(v, str) for v in values):
            frame.isetitem(i, column.where(column.notna(), ""))  # an empty text cell shows empty, not "None"
    return frame


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
        rows_read = stage(cur, sniffed, table)
        raw = cur.table("ingest_raw").order("row_number").limit(max(0, int(n_rows))).df()
        headers = tuple(str(h) for h in sniffed.headers)
        if rows_read == 0:
            raise InputFileError(key="upload_no_rows", table=table_term(table), name=name)
        detected = auto_map(table, headers)
        problem, decimal_comma, date_formats, report, parsed = None, None, {}, None, None
        try:
            report = prepare(db, cur, table, path, options=options)
            detected = _positions(headers, report.mapping, detected)
            decimal_comma, date_formats = report.decimal_comma, dict(report.date_formats)
            parsed = _parsed_rows(cur, table, raw, headers, detected)
        except MappingError as exc:
            # said in the page's words when it is a required field without a column
            problem = _choice_problem(table, headers, {f: detected.get(f) for f in fields(table)}) or exc
            report = None
    labels = column_labels(headers)
    rows = raw.drop(columns=["row_number"])
    rows.columns = list(labels[: len(rows.columns)])
    rows = rows.astype(object).where(rows.notna(), None)
    workbook = sniffed.workbook
    header_row = sniffed.header_row
    if header_row is None:
        header_row = options.header_row if options.header_row is not None else (1 if sniffed.header else 0)
    return FilePreview(table, name, str(path), sniffed.format, sniffed.encoding_label, sniffed.delimiter,
                       sniffed.header, headers, rows, int(rows_read), detected, decimal_comma, date_formats,
                       problem, options, parsed, report, header_row,
                       tuple(workbook.with_data) if workbook else (),
                       dict(workbook.header_rows) if workbook else {},
                       bool(workbook and workbook.appendable), sniffed.encoding)


def describe(preview: FilePreview, lang: str = DEFAULT_LANGUAGE) -> str:
    """How the file was read, in words (format, encoding, separator, header
    row, decimal convention)."""
    if preview.format == "xlsx" and preview.sheet_header_rows:
        parts = [t("data_fmt_xlsx_sheets", lang, sheets=t("data_list_sep", lang).join(preview.sheet_header_rows))]
    else:
        parts = [t(f"data_fmt_{preview.format}" if preview.format in ("csv", "xlsx", "parquet")
                   else "data_fmt_other", lang)]
    if preview.format == "xlsx" and preview.header_row and preview.header_row > 1:
        parts.append(t("data_fmt_header_row", lang, row=preview.header_row))
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


# --------------------------------------------------------------------------- sheet and header row
@dataclass(frozen=True)
class ReadControls:
    """The Data page's read choices for one file: a sheet picker (when the
    workbook has several sheets with data), the header row, and the encoding
    of a text file."""

    sheets: tuple[str, ...]  # the picker's options (ALL_SHEETS first when the sheets share columns); () no picker
    sheet: str | None  # the picker's current value
    header_row: int | None  # 1-based row the column names come from; 0: no header; None: not read yet
    encodings: tuple[str, ...] = ()  # text files: the encodings offered (codec names); () no choice
    encoding: str | None = None  # the encoding read with (the detected one unless the user chose)


#: Encodings the Data page offers for a text file (Python codec names; labels from ingest.ENCODING_LABELS).
PAGE_ENCODINGS = ("utf-8", "cp1252", "latin-1", "mac_roman", "cp850", "gb18030", "cp950", "cp932", "utf-16")


def encoding_choice_label(codec: str) -> str:
    return encoding_label(codec)


def read_controls(preview: FilePreview | None, error: BaseException | None = None,
                  options: ReadOptions | None = None) -> ReadControls | None:
    """What the page offers for a file it read (``preview``) or could not read
    because the user has to pick a sheet (``error``); None: nothing to choose."""
    options = options or (preview.options if preview is not None else NO_OPTIONS)
    if preview is None:
        if isinstance(error, SheetChoiceError):
            return ReadControls(tuple(error.choices), options.sheet, options.header_row)
        if isinstance(error, CrmflowError) and error.key == "encoding_mismatch":
            return ReadControls((), None, options.header_row, PAGE_ENCODINGS,
                                resolve_encoding(options.encoding) if options.encoding else None)
        return None
    if preview.format not in ("csv", "xlsx"):
        return None  # Parquet names its columns in its schema: no rows above them
    sheets: tuple[str, ...] = ()
    sheet = None
    if preview.format == "xlsx" and len(preview.sheets) > 1:
        sheets = ((ALL_SHEETS,) if preview.appendable else ()) + preview.sheets
        read = tuple(preview.sheet_header_rows)
        sheet = ALL_SHEETS if len(read) > 1 else (read[0] if read else None)
    header_row = preview.header_row if preview.header_row is not None else (1 if preview.header else 0)
    encodings, encoding = (), None
    if preview.format == "csv":
        encoding = resolve_encoding(preview.options.encoding) if preview.options.encoding else preview.codec
        encodings = PAGE_ENCODINGS if encoding in PAGE_ENCODINGS else (encoding, *PAGE_ENCODINGS)
    return ReadControls(sheets, sheet, int(header_row), encodings, encoding)


def reread(path: str | os.PathLike, table: str, file_name: str, options: ReadOptions | None = None, *,
           sheet: str | None = None, header_row: int | None = None, encoding: str | None = None) -> FilePreview:
    """Inspect the file again with the user's new sheet, header row or
    encoding (the other choices of ``options`` kept). A new sheet has its
    header row detected again; a new header row keeps the sheet(s) read."""
    options = options or NO_OPTIONS
    if encoding is not None:
        options = replace(options, encoding=resolve_encoding(encoding))
    if sheet is not None:
        options = replace(options, sheet=sheet, header_row=None)
    if header_row is not None:
        if int(header_row) < 0:
            raise InputFileError(f"Row {header_row} is not a row number", "Enter 1 or more, or 0 for no header row")
        options = replace(options, header_row=int(header_row))
    return inspect_file(path, table, file_name=file_name, options=options)


def apply_read_choice(entry: dict, table: str, *, sheet: str | None = None,
                      header_row: int | None = None, encoding: str | None = None) -> FilePreview | None:
    """The Data page's file ``entry`` (path, name, preview or error) read
    again with a new sheet or header row. On success the entry gets the new
    preview (and loses its error); otherwise it keeps its preview and gets
    the error under ``read_error`` (under ``error`` when it had no preview)."""
    current = entry["preview"].options if "preview" in entry else entry.get("options", NO_OPTIONS)
    try:
        preview = reread(entry["path"], table, entry.get("name") or Path(entry["path"]).name, current,
                         sheet=sheet, header_row=header_row, encoding=encoding)
    except CrmflowError as exc:
        entry["read_error" if "preview" in entry else "error"] = exc
        if "preview" not in entry:
            entry["options"] = replace(current, **({"sheet": sheet, "header_row": None} if sheet is not None else {}),
                                       **({"header_row": header_row} if header_row is not None else {}),
                                       **({"encoding": encoding} if encoding is not None else {}))
        return None
    entry["preview"] = preview
    for key in ("error", "read_error", "options"):
        entry.pop(key, None)
    return preview


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
        raise MappingError(key="upload_unknown_field", table=table_term(table), fields=", ".join(unknown),
                           known=", ".join(fields(table)))
    for f, i in choices.items():
        if i is not None and not 0 <= int(i) < len(headers):
            raise MappingError(key="upload_column_not_in_file", field=field_term(f), position=int(i) + 1,
                               columns=len(headers))
    chosen = {f: int(i) for f, i in choices.items() if i is not None}  # amount may come from quantity × unit price
    missing = [f for f in REQUIRED[table]
               if choices.get(f) is None and not (f == "amount" and derives_amount(table, chosen))]
    if table == "surveys" and missing:  # a wide survey: item and scores come from its Q1_E/Q1_P column pairs
        from crmflow.survey_ingest import WIDE_FIELDS, wide_pairs

        if wide_pairs(headers):
            missing = [f for f in missing if f not in WIDE_FIELDS]
    if missing:
        raise MappingError(key="upload_required_not_chosen", table=table_term(table),
                           fields=TermList(field_term(f) for f in missing))
    seen: dict[int, str] = {}
    for f, i in choices.items():
        if i is None:
            continue
        if int(i) in seen:
            raise MappingError(key="upload_column_twice", column=labels[int(i)], first=field_term(seen[int(i)]),
                               second=field_term(f))
        seen[int(i)] = f


def _choice_problem(table: str, headers: Sequence[str], choices: Mapping[str, int | None]) -> CrmflowError | None:
    try:
        validate_choices(table, headers, choices)
    except CrmflowError as exc:
        return exc
    return None


def preview_state(preview: FilePreview, choices: Mapping[str, int | None],
                  date_preference: str | None = None) -> PreviewState:
    """The preview for the user's current choices (missing fields: not used):
    the problem they leave (a required field without a column, a column
    chosen twice), else the first rows parsed with them and that parse's
    notes -- so a problem or a note that a later choice fixed is gone. With
    the detected choices this is what :func:`inspect_file` already parsed;
    other choices parse the file again as :func:`check` will."""
    full = {f: choices.get(f) for f in fields(preview.table)}
    problem = _choice_problem(preview.table, preview.headers, full)
    if problem is not None:
        return PreviewState(None, None, problem)
    if full == default_choices(preview) and date_preference is None and preview.parsed is not None:
        return PreviewState(preview.parsed, preview.report, None)
    try:
        return _parse_plan(preview, plan(preview, full), date_preference)
    except CrmflowError as exc:
        return PreviewState(None, None, exc)


@one_line_errors
def _parse_plan(preview: FilePreview, read: ReadPlan, date_preference: str | None) -> PreviewState:
    db = scratch().db
    with db.cursor() as cur:
        report = prepare(db, cur, read.table, read.path, read.overrides, date_preference, options=read.options)
        _verify([read], [report])
        raw = cur.table("ingest_raw").order("row_number").limit(max(1, len(preview.rows))).df()
        mapping = {f: int(c[1:]) - 1 for f, c in read.overrides.items()}
        return PreviewState(_parsed_rows(cur, read.table, raw, preview.headers, mapping), report, None)


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
        _hide_xlsx(src, dst, preview.headers, positions, preview.sheet_header_rows)
    elif preview.format == "csv":
        _hide_text(src, dst, preview, positions)
    else:
        raise InputFileError(key="upload_cannot_switch_off", name=preview.file_name)
    expected = list(preview.headers)
    for i in positions:
        expected[i] = UNUSED_PREFIX + expected[i]
    found = _headers_of(dst, preview.format, preview.options) if preview.format in ("csv", "parquet") else expected
    if found != expected[: len(found)] or any(i >= len(found) for i in positions):
        raise InputFileError(key="upload_cannot_switch_off", name=preview.file_name)
    return dst


def _headers_of(path: Path, fmt: str, options: ReadOptions | None = None) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [str(n) for n in pq.read_schema(path).names]
    return list(sniff(path, options).headers)


def _hide_parquet(src: Path, dst: Path, headers: Sequence[str], positions: Sequence[int]) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    names = [str(n) for n in table.column_names]
    if names != list(headers):
        raise InputFileError(key="upload_cannot_switch_off", name=src.name)
    for i in positions:
        names[i] = UNUSED_PREFIX + names[i]
    pq.write_table(table.rename_columns(names), dst)


def _hide_xlsx(src: Path, dst: Path, headers: Sequence[str], positions: Sequence[int],
               header_rows: Mapping[str, int]) -> None:
    """Rename header cells in every sheet that was read, in the row its column
    names came from (columns are read from column A, so position i is column i + 1)."""
    import openpyxl

    wb = openpyxl.load_workbook(src, data_only=True)
    for sheet, row in (header_rows or {}).items():
        if not row or sheet not in wb.sheetnames:
            raise InputFileError(key="upload_cannot_switch_off", name=src.name)
        ws = wb[sheet]
        for i in positions:
            cell = ws.cell(row=row, column=i + 1)
            if ("" if cell.value is None else str(cell.value).strip()) != headers[i]:
                raise InputFileError(key="upload_cannot_switch_off", name=src.name)
            cell.value = UNUSED_PREFIX + headers[i]
    wb.save(dst)


def _hide_text(src: Path, dst: Path, preview: FilePreview, positions: Sequence[int]) -> None:
    """Rewrite the header line of a text file (the line ingestion reads the
    column names from, below any title lines) in the file's own encoding; every
    other byte is copied as it is."""
    sniffed = sniff(src, preview.options)
    encoding = sniffed.encoding or "utf-8"
    if encoding == "utf-16":
        raise InputFileError(key="hide_text_unsupported", file=preview.file_name,
                             encoding=sniffed.encoding_label or encoding)
    if not sniffed.header_row:
        raise InputFileError(key="hide_text_no_header", file=preview.file_name)
    newlines = re.compile(rb"\r\n|\r|\n")
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        head = fin.read(HEADER_WINDOW)
        bom = codecs.BOM_UTF8 if head.startswith(codecs.BOM_UTF8) else b""
        head = head[len(bom):]
        start = 0
        for _ in range(sniffed.header_row - 1):  # lines end in \r\n, \r or \n, as ingestion counts them
            newline = newlines.search(head, start)
            if newline is None:
                raise InputFileError(key="hide_text_no_header", file=preview.file_name)
            start = newline.end()
        newline = newlines.search(head, start)
        if newline is None:
            raise InputFileError(key="hide_text_no_header", file=preview.file_name)
        end = newline.start()
        # surrogateescape: a byte the codec cannot read is written back as it was
        line = head[start:end].decode(encoding, errors="surrogateescape")
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
        fout.write(bom + head[:start] + text.encode(encoding, errors="surrogateescape") + head[end:])
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
        raise CrmflowError(key="upload_same_table")
    if "transactions" not in by_table:
        raise CrmflowError(key="upload_no_transactions")
    return ({table: p.path for table, p in by_table.items()},
            {table: dict(p.overrides) for table, p in by_table.items()},
            {table: p.options for table, p in by_table.items()})


def _verify(plans: Sequence[ReadPlan], reports: Sequence[TableReport]) -> None:
    """Every switched-off field really is unused."""
    by_table = {r.table: r for r in reports}
    for p in plans:
        report = by_table.get(p.table)
        used = [f for f in p.unused if report is not None and f in report.mapping]
        if p.table == "surveys" and report is not None and any(getattr(w, "key", "") == "survey_wide"
                                                               for w in report.warnings):
            from crmflow.survey_ingest import WIDE_FIELDS

            used = [f for f in used if f not in WIDE_FIELDS]  # the melted columns of a wide survey
        if used:
            raise MappingError(key="upload_not_switched_off", table=table_term(p.table),
                               fields=TermList(field_term(f) for f in used))


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
                              overrides=overrides, date_preference=date_preference, read_options=options,
                              surveys=paths.get("surveys"))
        rejected = store.rejected_rows(name)
    finally:
        if name in store.names():
            store.delete(name)
    _verify(plans, result.reports)
    ds = result.dataset
    return CheckResult(tuple(result.reports), rejected, ds.n_transactions, ds.n_customers, ds.n_interactions)


@one_line_errors
def save(store: Store, name: str, plans: Sequence[ReadPlan], *, date_preference: str | None = None,
         replace: bool = False, actor: str | None = None, via: str | None = None) -> IngestResult:
    """Store the files as dataset ``name`` (all or nothing: on any error the
    store is as before, including a dataset being replaced); the audit trail
    names ``actor`` and ``via`` (crmflow.store.Store.ingest). Its model fits
    are computed after this returns (crmflow.background)."""
    paths, overrides, options = _arguments(plans)
    result = store.ingest(name, paths["transactions"], paths.get("customers"), paths.get("interactions"),
                          overrides=overrides, date_preference=date_preference, read_options=options,
                          replace=replace, actor=actor, via=via,
                          surveys=paths.get("surveys"), background=True)
    return result


# --------------------------------------------------------------------------- words for the interface
#: The label of each ``via`` of the audit trail (crmflow.store.Store.ingest and the callers).
AUDIT_VIA = {"dashboard": "login_via_dashboard", "command line": "login_via_command_line",
             "local": "login_via_local", "demo": "login_via_demo"}


def audit_frame(store: Store, lang: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """The store's audit trail for the Data page: when, who, through, change,
    dataset, before (a rename's old name), labelled in ``lang``."""
    trail = store.audit()
    if trail.empty:
        return trail
    trail = trail.drop(columns=["dataset_id"])
    trail["changed_at"] = pd.to_datetime(trail["changed_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    trail["action"] = [t(f"login_audit_action_{a}", lang) for a in trail["action"]]
    trail["via"] = [t(AUDIT_VIA[v], lang) if v in AUDIT_VIA else v for v in trail["via"]]
    trail["detail"] = trail["detail"].fillna("")
    return trail.rename(columns={c: t(f"login_audit_col_{c}", lang) for c in trail.columns})


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
    shown = {**report.mapping, **report.derived}  # a derived amount shows how: Quantity × UnitPrice
    return pd.DataFrame({"field": [t(f"data_field_{f}", lang) for f in shown],
                         "column": [str(c) for c in shown.values()]})


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


def fitting(store: Store) -> bool:
    """Whether a dataset of ``store`` is being fitted in the background (no query)."""
    from crmflow import background

    return bool(background.pending(store))


def fitting_status(store: Store, lang: str = DEFAULT_LANGUAGE) -> list[tuple[float, str]]:
    """The datasets whose model fits are being computed in the background
    (crmflow.background), in the order queued: (fraction done, one line in
    ``lang``, the name escaped for Markdown) each."""
    from crmflow import background

    jobs = background.pending(store)
    if not jobs:
        return []
    stored = store.datasets()
    names = dict(zip(stored["dataset_id"].astype(int), stored["name"].astype(str)))
    out = []
    for job in jobs:
        if job.dataset_id not in names:  # deleted meanwhile: its fits will not be stored
            continue
        name = escape_markdown(names[job.dataset_id])
        if job.total:
            out.append((job.fraction, t("data_fits_running", lang, name=name, done=job.done, total=job.total)))
        else:
            out.append((0.0, t("data_fits_waiting", lang, name=name)))
    return out


def escape_markdown(text: object) -> str:
    """User text (a file or dataset name) made safe to put in a Markdown label:
    one line, every Markdown/directive character backslash-escaped."""
    from crmflow.plain import md

    return md(text)  # one rule for user text in Markdown (also keeps bare URLs unlinked)


def name_from_file(file_name: str) -> str:
    """A dataset name suggested by a file name (its stem, at most 100 characters)."""
    stem = Path(safe_file_name(file_name)).stem.strip()
    return stem[:100] or "upload"

