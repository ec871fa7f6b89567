"""Ingestion: real-world export files in, typed canonical rows and a validation report out.

The path is DuckDB all the way (no row-by-row Python):

1. :func:`sniff` looks at the first bytes of the file in Python — format
   (CSV/TSV/whitespace text, .xlsx, Parquet), encoding (UTF-8, UTF-8 with BOM,
   GB18030/GBK, Latin-1), delimiter and header row. A file whose first bytes
   are UTF-8 is checked to the end (streamed, ~30 ms for 40 MB), so one Latin-1
   or GBK row far down still decides the encoding.
2. :func:`stage` has DuckDB read the whole file as text into a temporary table,
   seen as ``ingest_raw(row_number, c0..cN)`` (DuckDB's CSV reader with the
   ``encodings`` extension for GB18030, its ``excel`` extension for .xlsx).
3. Columns are mapped to fields (:mod:`crmflow.mapping`, then user overrides,
   then a content-based guess for headerless files), and the date format and
   decimal convention are decided from the *whole* column by the
   ``profile_values`` query.
4. ``queries/ingest/parse_*.sql`` type every row and give a reason for each row
   they reject; :mod:`crmflow.store` writes the accepted rows in one
   transaction.

Why DuckDB rather than pandas + chardet: DuckDB's multi-threaded CSV reader
loads a million rows in well under a second and converts GB18030 natively via
its ``encodings`` extension, which ships on PyPI (no download at run time).
charset-normalizer is used only on a sample, to tell GB18030 from Latin-1.
"""

from __future__ import annotations

import codecs
import csv
import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from glob import glob
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crmflow.db import Database
from crmflow.errors import CrmflowError, InputFileError, MappingError
from crmflow.mapping import (
    BOOL_FIELDS,
    DATE_FIELDS,
    NUMBER_FIELDS,
    REQUIRED,
    SYNONYMS,
    apply_overrides,
    auto_map,
    normalise,
)
from crmflow.messages import Note

SAMPLE_BYTES = 256 * 1024
SCAN_CHUNK = 4 * 1024 * 1024
TEXT_DELIMITERS = ("\t", ";", ",", "|")
WHITESPACE = "whitespace"
SUPPORTED = "CSV, TSV or whitespace-separated text, Excel .xlsx, or Parquet"
DATE_FORMAT_CHOICES = {"dmy": "%d/%m/%Y", "mdy": "%m/%d/%Y", "ymd": "%Y-%m-%d"}
DATE_ORDERS = ("dmy", "mdy", "ymd")
#: strptime directives a --date-format pattern may use (DuckDB's strptime; '-' allowed after '%')
STRPTIME_DIRECTIVES = "aAwdbBhmyYHIpMSfzZj%"


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class ReadOptions:
    """How to read one input file where detection needs the user's word; every
    field None means "detect it". The command line sets them with
    ``--encoding``, ``--header-row`` and ``--sheet`` (``[TABLE:]VALUE``), the
    Data page with its choices per file."""

    encoding: str | None = None  # a Python codec name: cp1252, mac_roman, cp850, gb18030, big5, shift_jis, ...
    header_row: int | None = None  # 1-based row that holds the column names (rows above it skipped); 0: no header
    sheet: str | None = None  # .xlsx: a sheet name, or "all" (every sheet, appended)


NO_OPTIONS = ReadOptions()


# --------------------------------------------------------------------------- sniffing
@dataclass
class Sniffed:
    """What :func:`sniff` found out about a file."""

    path: str
    format: str  # csv | xlsx | parquet
    encoding: str | None = None  # DuckDB encoding name for text files
    encoding_label: str | None = None  # what we tell the user
    delimiter: str | None = None  # one char, or WHITESPACE
    header: bool = True
    headers: list[str] = field(default_factory=list)
    options: ReadOptions = NO_OPTIONS


def _load_extension(cur: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD a DuckDB extension from its PyPI package folder (offline)."""
    try:
        module = __import__(f"duckdb_extension_{name}")
    except ImportError:
        raise CrmflowError(
            f"The DuckDB {name} extension is not installed",
            "Run `make setup` (it installs duckdb-extension-" + name + ")",
        ) from None
    files = glob(os.path.join(os.path.dirname(module.__file__), "extensions", "*", f"{name}.duckdb_extension"))
    if not files:
        raise CrmflowError(f"The DuckDB {name} extension package has no extension file", "Reinstall it with `make setup`")
    path = files[0].replace("'", "''")
    cur.execute("LOAD '" + path + "'")


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample[:4096]:
        return True
    controls = sum(1 for b in sample[:4096] if b < 32 and b not in (9, 10, 13, 12))
    return controls > len(sample[:4096]) * 0.02


def detect_encoding(sample: bytes) -> tuple[str, str]:
    """(DuckDB encoding name, label) of a text sample (which may end mid-character)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8", "UTF-8 with BOM"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", "UTF-8"
    except UnicodeDecodeError:
        pass
    return _gb18030_or_latin1(sample)


def _gb18030_or_latin1(sample: bytes) -> tuple[str, str]:
    """A sample that is not UTF-8: a Chinese export (GB18030 is a superset of
    GBK/GB2312) or a Western single-byte one? GB18030 decodes almost anything,
    so charset-normalizer is asked which of the two reads as real text."""
    try:
        text_gb = codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "latin-1", "Latin-1"
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample, cp_isolation=["gb18030", "cp1252", "latin_1"]).best()
        if best is not None and best.encoding in ("cp1252", "latin_1"):
            return "latin-1", "Latin-1"
        if best is not None:
            return "gb18030", "GB18030/GBK"
    except Exception:  # noqa: BLE001, S110 - detection is best effort, fall back below
        pass
    cjk = sum(1 for ch in text_gb if "\u4e00" <= ch <= "\u9fff")
    high = sum(1 for b in sample if b >= 0x80)
    return ("gb18030", "GB18030/GBK") if cjk * 2 >= high * 0.8 else ("latin-1", "Latin-1")


def _utf8_error_offset(path: str | os.PathLike) -> int | None:
    """Byte offset of the first byte that is not valid UTF-8 in the whole file,
    or None. Streams the file in chunks; ASCII chunks (the bulk of a data file)
    are checked with ``bytes.isascii`` only, so a 40 MB file costs ~30 ms."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(SCAN_CHUNK):
            pending = len(decoder.getstate()[0])
            if pending or not chunk.isascii():
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return offset - pending + exc.start
            offset += len(chunk)
    pending = len(decoder.getstate()[0])
    return offset - pending if pending else None


def _non_utf8_sample(path: str | os.PathLike, offset: int) -> bytes:
    """The lines with non-ASCII bytes from the line holding ``offset`` on (at
    most SAMPLE_BYTES of the file): what decides GB18030 vs Latin-1 when the
    first bytes of a file were plain UTF-8/ASCII."""
    with open(path, "rb") as fh:
        start = max(0, offset - 4096)
        fh.seek(start)
        window = fh.read(offset - start + SAMPLE_BYTES)
    cut = window.rfind(b"\n", 0, offset - start) + 1
    lines = window[cut:].split(b"\n")
    if len(lines) > 1 and len(window) == offset - start + SAMPLE_BYTES:
        lines = lines[:-1]  # the last line may be cut
    return b"\n".join(line for line in lines if not line.isascii())


def detect_file_encoding(path: str | os.PathLike, head: bytes) -> tuple[str, str]:
    """(DuckDB encoding name, label) of a whole text file whose first bytes are ``head``.

    The first bytes decide unless they are valid UTF-8: then the rest of the
    file is checked too, because one Latin-1 or GBK row after the first
    SAMPLE_BYTES would make the whole file unreadable as UTF-8."""
    encoding, label = detect_encoding(head)
    if encoding != "utf-8":
        return encoding, label
    offset = _utf8_error_offset(path)
    if offset is None:
        return encoding, label
    sample = _non_utf8_sample(path, offset)
    return _gb18030_or_latin1(sample) if sample else ("latin-1", "Latin-1")


def _decode(sample: bytes, encoding: str) -> str:
    codec = {"utf-8": "utf-8-sig", "gb18030": "gb18030", "latin-1": "latin-1", "utf-16": "utf-16"}[encoding]
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(sample, final=False)


def _lines(text: str, limit: int = 200) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[:limit]


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample lines into the same number of fields."""
    if not lines:
        raise InputFileError("The file has no rows", "Export the data again with at least a header and one row")
    body = lines[:-1] if len(lines) > 2 else lines  # the last sampled line may be cut
    best: tuple[float, int, str] | None = None
    for delim in TEXT_DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(body, delimiter=delim)]
        except csv.Error:
            continue
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        consistency = counts.count(mode) / len(counts)
        score = (consistency, mode, delim)
        if consistency >= 0.9 and (best is None or score[:2] > best[:2]):
            best = score
    if best is not None:
        return best[2]
    ws = [len(ln.split()) for ln in body]
    mode = max(set(ws), key=ws.count)
    if mode >= 2 and ws.count(mode) / len(ws) >= 0.9:
        return WHITESPACE
    if mode == 1 and len(body) > 1:
        raise InputFileError(
            "Could not find columns in the file: every row is a single value",
            "Save it as CSV (comma, semicolon or tab separated) with one column per field",
        )
    raise InputFileError(
        "Could not work out how the columns of the file are separated",
        "Save it as CSV (comma, semicolon or tab separated) with the same number of columns on every row",
    )


def split_rows(lines: list[str], delimiter: str) -> list[list[str]]:
    if delimiter == WHITESPACE:
        return [ln.split() for ln in lines]
    return [row for row in csv.reader(lines, delimiter=delimiter)]


_VALUE_RE = re.compile(
    r"^\s*[-+(]?[$¥￥€£]?\s*\d[\d.,\s]*\)?\s*$"  # numbers, money
    r"|^\s*\d{1,4}[-/.年]\d{1,2}[-/.月]\d{1,4}"  # dates
)


def _is_value(cell: str) -> bool:
    return bool(_VALUE_RE.match(cell))


def detect_header(rows: list[list[str]]) -> bool:
    """Is the first row a header? Yes when none of its cells looks like a
    number or a date while data rows have such values in those columns, or when
    its cells are known column names."""
    if not rows:
        return False
    first = rows[0]
    if any(_is_value(c) for c in first if c.strip()):
        return False
    known = set()
    for fields in SYNONYMS.values():
        for syns in fields.values():
            known.update(normalise(s) for s in syns)
    if any(normalise(c) in known for c in first):
        return True
    rest = rows[1:]
    if not rest:
        return True
    for i in range(len(first)):
        column = [r[i] for r in rest if i < len(r) and r[i].strip()]
        if column and sum(_is_value(c) for c in column) >= len(column) / 2:
            return True
    return False


def sniff(path: str | os.PathLike, options: ReadOptions | None = None) -> Sniffed:
    """Find out the format, encoding, delimiter and header of a file (what
    ``options`` gives is taken as it is)."""
    options = options or NO_OPTIONS
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"File not found: {p}", "Check the path and the file name")
    if p.is_dir():
        raise InputFileError(f"{p} is a folder, not a file", "Give the path of a data file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
    except OSError as exc:
        raise InputFileError(f"Cannot read {p}: {exc.strerror}", "Check that the file is readable") from None
    if not head.strip():
        raise InputFileError(f"The file {p.name} is empty", "Export the data again; it needs a header and at least one row")
    suffix = p.suffix.lower()
    if head.startswith(b"PAR1") or suffix == ".parquet":
        return Sniffed(str(p), "parquet", options=options)
    if head.startswith(b"PK\x03\x04"):
        if suffix in (".xlsx", ".xlsm") or b"xl/" in head:
            return Sniffed(str(p), "xlsx", options=options)
        raise InputFileError(f"{p.name} is a ZIP archive, not a table", "Unzip it and load the CSV or Excel file inside")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            f"{p.name} is an old Excel 97-2003 (.xls) workbook, which crmflow cannot read",
            "Open it in Excel or WPS and save it as .xlsx or CSV",
        )
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raise InputFileError(f"{p.name} is not a valid Excel workbook", "Open it in Excel and save it again as .xlsx")
    if _looks_binary(head) and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputFileError(
            f"{p.name} is not a text table (it looks like binary data)",
            f"Load {SUPPORTED}",
        )
    encoding, label = detect_file_encoding(p, head)
    lines = _lines(_decode(head, encoding))
    delimiter = detect_delimiter(lines)
    rows = split_rows(lines, delimiter)
    header = detect_header(rows)
    width = max(len(r) for r in rows)
    headers = [c.strip() for c in rows[0]] if header else [f"column{i + 1}" for i in range(width)]
    return Sniffed(str(p), "csv", encoding, label, delimiter, header, headers, options)


# --------------------------------------------------------------------------- staging
def _rename_to_positions(cur: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation,
                         names: list[str]) -> None:
    """Materialise ``rel`` as text columns c0..cN and expose them as the view
    ingest_raw(row_number, c0..cN), via the relation API (no SQL text built
    from file content)."""
    _create_raw(cur, rel, [duckdb.ColumnExpression(n).cast(duckdb.sqltype("VARCHAR")) for n in names])


def _temp_view(cur: duckdb.DuckDBPyConnection, name: str, rel: duckdb.DuckDBPyRelation) -> None:
    """Make ``rel`` readable as ``name`` on this cursor only. Registering keeps
    it out of the database file: the relation API's create() and
    create_view() make persistent objects, which would land in the user's
    store and collide between two ingests running at once."""
    cur.register(name, rel)


def _create_raw(cur: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation,
                columns: list[duckdb.Expression]) -> None:
    """Temp table ingest_cells(c0..cN) from ``rel`` and one expression per column,
    and the view ingest_raw on it."""
    _temp_view(cur, "ingest_cells_source", rel.select(*[expr.alias(f"c{i}") for i, expr in enumerate(columns)]))
    cur.execute("CREATE OR REPLACE TEMP TABLE ingest_cells AS SELECT * FROM ingest_cells_source")
    cur.unregister("ingest_cells_source")
    _raw_view(cur, "ingest_cells", [f"c{i}" for i in range(len(columns))])


def _raw_view(cur: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    """The view ingest_raw(row_number, c0..cN) on a temporary table that holds
    the rows in file order: row_number is the 1-based position (rowid + 1), so
    the table is not copied again just to number its rows."""
    exprs = [duckdb.SQLExpression("rowid + 1").alias("row_number")]
    exprs += [duckdb.ColumnExpression(n).alias(f"c{i}") for i, n in enumerate(names)]
    _temp_view(cur, "ingest_raw", cur.table(table).select(*exprs))


def _pad_headers(sniffed: Sniffed, width: int) -> None:
    """Name columns the header row did not name (column5, ...), drop names beyond ``width``."""
    sniffed.headers = (sniffed.headers + [f"column{i + 1}" for i in range(len(sniffed.headers), width)])[:width]


def stage(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> int:
    """Read the whole file into a temporary table, seen through the view
    ingest_raw(row_number, c0..cN); returns the row count."""
    try:
        if sniffed.format == "parquet":
            rel = cur.read_parquet(sniffed.path)
            sniffed.headers = list(rel.columns)
            _rename_to_positions(cur, rel, sniffed.headers)
        elif sniffed.format == "xlsx":
            _load_extension(cur, "excel")
            cur.execute("CREATE OR REPLACE TEMP TABLE ingest_file AS "
                        "SELECT * FROM read_xlsx($path, all_varchar = true, ignore_errors = true)",
                        {"path": sniffed.path})
            rel = cur.table("ingest_file")
            sniffed.headers = [str(c) for c in rel.columns]
            _rename_to_positions(cur, rel, sniffed.headers)
        elif sniffed.delimiter == WHITESPACE:
            _stage_whitespace(cur, sniffed)
        else:
            _stage_delimited(cur, sniffed)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        encoding = f" ({sniffed.encoding_label} text)" if sniffed.encoding_label else ""
        raise InputFileError(
            f"Could not read {Path(sniffed.path).name} as {sniffed.format}{encoding}: {first}",
            f"Check that it is a valid {SUPPORTED} file",
        ) from None
    return cur.execute("SELECT COUNT(*) FROM ingest_raw").fetchone()[0]


def _text_encoding(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> str:
    if sniffed.encoding == "gb18030":
        _load_extension(cur, "encodings")
    return sniffed.encoding or "utf-8"


def _stage_delimited(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> None:
    encoding = _text_encoding(cur, sniffed)
    # Every cell is read as text (leading zeros, exact decimals and the reasons
    # for rejecting a value stay ours); the file is read once, straight into
    # the table the view ingest_raw numbers. The delimiter, quote and header are
    # given, so DuckDB's sniffer only counts the columns on its default sample.
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE ingest_file AS SELECT * FROM read_csv($path, delim = $delim, "
        "header = false, skip = $skip, all_varchar = true, encoding = $encoding, quote = '\"', "
        "escape = '\"', null_padding = true, strict_mode = false, auto_detect = true)",
        {"path": sniffed.path, "delim": sniffed.delimiter, "skip": 1 if sniffed.header else 0,
         "encoding": encoding},
    )
    names = list(cur.table("ingest_file").columns)
    _pad_headers(sniffed, len(names))
    _raw_view(cur, "ingest_file", names)


def _stage_whitespace(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> None:
    encoding = _text_encoding(cur, sniffed)
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE ingest_file AS "
        "SELECT regexp_split_to_array(TRIM(line), '\\s+') AS parts "
        "FROM read_csv($path, delim = $delim, header = false, skip = $skip, columns = {'line': 'VARCHAR'}, "
        "quote = '', escape = '', encoding = $encoding, auto_detect = false) "
        "WHERE TRIM(line) <> ''",
        {"path": sniffed.path, "delim": "\x1f", "skip": 1 if sniffed.header else 0, "encoding": encoding},
    )
    width = max(len(sniffed.headers), cur.execute("SELECT COALESCE(MAX(len(parts)), 0) FROM ingest_file").fetchone()[0])
    _pad_headers(sniffed, width)
    parts = duckdb.ColumnExpression("parts")
    _create_raw(cur, cur.table("ingest_file"), [
        duckdb.FunctionExpression("list_extract", parts, duckdb.ConstantExpression(i + 1)) for i in range(width)
    ])


def stage_frame(cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Sniffed:
    """Stage an in-memory DataFrame (the demo data) exactly like a file."""
    cur.register("ingest_frame", frame)
    try:
        rel = cur.table("ingest_frame")
        sniffed = Sniffed("<data frame>", "dataframe", headers=[str(c) for c in frame.columns])
        _rename_to_positions(cur, rel, list(rel.columns))
    finally:
        cur.unregister("ingest_frame")
    return sniffed


# --------------------------------------------------------------------------- profiling
def _profile(db: Database, cur: duckdb.DuckDBPyConnection, column: str) -> dict[str, int]:
    _temp_view(cur, "profile_input", cur.table("ingest_raw").select(duckdb.ColumnExpression(column).alias("v")))
    row = db.run("profile_values", cur=cur)
    return {k: (list(v) if k == "examples" else v if k == "month_format" else int(v))
            for k, v in row.iloc[0].items()}


def date_format_option(text: str | None) -> str | None:
    """The date format a user gave (``--date-format``): ``dmy``, ``mdy`` or
    ``ymd`` (the order of day, month and year in numeric dates when the data
    cannot tell), or a strptime pattern such as ``%d.%m.%Y %H:%M`` (applied to
    every date column first; values it does not read get the automatic rules).
    Raises a keyed CrmflowError for anything else."""
    if text is None or text == "":
        return None
    value = text.strip()
    if value.lower() in DATE_ORDERS:
        return value.lower()
    directives = re.findall(r"%-?(.)", value)
    known = set(STRPTIME_DIRECTIVES)
    if any(d not in "dmyHIMSj" for d in re.findall(r"%-(.)", value)):
        raise CrmflowError(key="date_format_invalid", value=text)
    has_day = any(d in ("d", "j") for d in directives)
    has_month = any(d in ("m", "b", "B", "j") for d in directives)
    has_year = any(d in ("y", "Y") for d in directives)
    if "%" not in value or not all(d in known for d in directives) or not (has_day and has_month and has_year) \
            or re.search(r"%-?$", value):
        raise CrmflowError(key="date_format_invalid", value=text)
    return value


def is_date_pattern(preference: str | None) -> bool:
    """Is a (checked) date preference a strptime pattern rather than an order?"""
    return bool(preference) and "%" in str(preference)


def choose_date_format(profile: dict[str, int], preference: str | None = None,
                       field: str = "order_date") -> tuple[str | None, Note | None]:
    """(strptime format or 'excel', note for the report) decided from the whole column.

    A column may mix two- and four-digit years in one day/month order (``5/7/03``
    next to ``2/24/2003``): each value is read with the year it has (see
    queries/ingest/macros.sql, crm_date), whichever of the two the format shows.
    A strptime pattern as ``preference`` is the format of every date column."""
    n = profile["n_values"]
    if n == 0:
        return None, None
    if is_date_pattern(preference):
        return preference, None
    candidates = {
        "%Y-%m-%d": profile["n_iso"],
        "%Y%m%d": profile["n_ymd8"],
        "slash": profile["n_slash"] + profile["n_slash_yy"],
        "month": profile.get("n_month", 0),
        "excel": profile["n_excel"],
    }
    best = max(candidates, key=lambda k: candidates[k])
    if candidates[best] == 0:
        return None, None
    if best == "month":  # the commonest layout, read cheaply; the other month-name forms by the general rules
        layout = profile.get("month_format")
        if isinstance(layout, str) and layout:
            return layout, None
        return ("%b %d, %Y" if profile.get("n_month_first", 0) * 2 > candidates["month"] else "%d %b %Y"), None
    if best != "slash":
        return best, None
    year = "%Y" if profile["n_slash"] >= profile["n_slash_yy"] else "%y"
    if preference == "ymd" and profile["n_slash"] == 0:
        return "%y-%m-%d", None
    first, second = profile["n_first_gt12"], profile["n_second_gt12"]
    if first and not second:
        return f"%d/%m/{year}", None
    if second and not first:
        return f"%m/%d/{year}", None
    if first and second:
        fmt = f"%d/%m/{year}" if first >= second else f"%m/%d/{year}"
        return fmt, Note("dates_mixed_order", field=field, order="DD/MM" if fmt.startswith("%d") else "MM/DD")
    if preference in ("dmy", "mdy"):
        return (f"%d/%m/{year}" if preference == "dmy" else f"%m/%d/{year}"), None
    return f"%m/%d/{year}", Note("dates_ambiguous", field=field)


def two_digit_year_note(profile: dict[str, Any], fmt: str | None, field: str) -> Note | None:
    """A note when a column read with day/month or month names has two-digit years
    (read as 20yy, or 19yy when 20yy would be more than a year after today)."""
    n = int(profile.get("n_yy", 0))
    if not n or fmt in (None, "excel", "%Y-%m-%d", "%Y%m%d"):
        return None
    return Note("dates_two_digit_years", field=field, n=n)


#: the reason a row is rejected for when its required date cannot be read, per table
DATE_NOT_READ = {"transactions": ("order_date", "order date is not a date"),
                 "interactions": ("date", "date is not a date")}


def unknown_date_form_error(table: str, sniffed: Sniffed, column: str, field: str,
                            examples: list[str]) -> MappingError:
    """One message for a required date column whose values are in no form crmflow
    reads: the column, a few of its values, and how to say the format. A
    MappingError, so that the Data page still previews the file and lets the user
    pick another column."""
    name = Path(sniffed.path).name if sniffed.format != "dataframe" else "data"
    texts = [" ".join(str(v).split()) for v in examples[:3]]  # one line each
    shown = ", ".join('"' + (v if len(v) <= 40 else v[:39] + "…") + '"' for v in texts)
    return MappingError(key="date_form_unknown", table=table, file=name, column=column, field=field,
                          examples=shown)


def choose_decimal_comma(profiles: list[dict[str, int]], delimiter: str | None) -> bool:
    """Do the number columns use a decimal comma? Decided from the whole columns.

    Values that can only be read one way ("12,50", "1.234,5", "1.234.567" vs
    "12.50", "1,234.5", "1,234,567") decide by majority. When every value is
    ambiguous — whole numbers with one thousands separator, "1,234" or
    "1.234" — a ';'-separated file is taken for a European export (decimal
    comma: "1.234" is 1234, "1,234" is 1.234); any other file for a decimal
    point ("1,234" is 1234, "1.234" is 1.234, with a warning, see
    :func:`decimal_warning`).
    """
    comma = sum(p["n_comma_decimal"] for p in profiles)
    dot = sum(p["n_dot_decimal"] for p in profiles)
    if comma or dot:
        return comma > dot
    thousands = sum(p["n_comma_thousands"] + p["n_dot_thousands"] for p in profiles)
    return bool(thousands) and delimiter == ";"


def decimal_warning(profiles: list[dict[str, int]], decimal_comma: bool) -> Note | None:
    """A note when numbers like "1.234" were read as decimals on no other evidence."""
    if decimal_comma or any(p["n_comma_decimal"] or p["n_dot_decimal"] for p in profiles):
        return None
    n = sum(p["n_dot_thousands"] for p in profiles)
    if not n:
        return None
    return Note("decimal_dot_thousands", n=n)


def _guess_by_content(profile: Callable[[int], dict[str, int]], table: str, headers: list[str],
                      mapping: dict[str, int]) -> tuple[dict[str, int], list[Note]]:
    """Fill unmapped required fields from what the columns hold (headerless files)."""
    notes: list[Note] = []
    free = [i for i in range(len(headers)) if i not in mapping.values()]
    profiles = {i: profile(i) for i in free}

    def date_share(i: int) -> float:
        p = profiles[i]
        dated = max(p["n_iso"], p["n_ymd8"], p["n_slash"] + p["n_slash_yy"], p.get("n_month", 0))
        return dated / p["n_values"] if p["n_values"] else 0

    def number_share(i: int) -> float:
        p = profiles[i]
        return p["n_number"] / p["n_values"] if p["n_values"] else 0

    date_field = "order_date" if table == "transactions" else ("date" if table == "interactions" else None)
    if date_field and date_field not in mapping:
        dated = [i for i in free if date_share(i) >= 0.9]
        if dated:
            mapping[date_field] = dated[0]
            free.remove(dated[0])
            notes.append(Note("guessed_from_content", field=date_field, column=headers[dated[0]]))
    if table == "transactions" and "amount" not in mapping:
        numeric = [i for i in free if number_share(i) >= 0.9]
        decimals = [i for i in numeric if profiles[i]["n_dot_decimal"] + profiles[i]["n_comma_decimal"] > 0]
        pick = (decimals or numeric or [None])[-1]
        if pick is not None:
            mapping["amount"] = pick
            free.remove(pick)
            notes.append(Note("guessed_from_content", field="amount", column=headers[pick]))
    if "customer_id" not in mapping and free:
        mapping["customer_id"] = free[0]
        notes.append(Note("guessed_from_content", field="customer_id", column=headers[free[0]]))
    return mapping, notes


def missing_columns_error(table: str, sniffed: Sniffed, mapping: dict[str, int],
                          missing: list[str]) -> MappingError:
    """One message for required fields no column was mapped to: which fields,
    which columns the file has, and how to map one."""
    name = Path(sniffed.path).name if sniffed.format != "dataframe" else "data"
    headers = sniffed.headers
    found = "its columns" if sniffed.header else "it has no header row; its columns"
    field = missing[0]
    option = field if table == "transactions" else f"{table}.{field}"
    free = [i for i in range(len(headers)) if i not in mapping.values()]
    example = ""
    if free:
        i = free[0]
        column = headers[i] if headers[i] and len(headers[i]) <= 30 and not any(c in headers[i] for c in "= ") \
            else f"#{i + 1}"
        example = f", e.g. --map {option}={column}"
    return MappingError(
        f"No {' / '.join(missing)} column found in the {table} file {name} ({found}: {', '.join(headers) or 'none'})",
        f"Rename the column to {field}, or say which column holds it: with --map {option}=COLUMN on the "
        f"command line (a column name, or #N for the N-th column{example}), or with the {field} mapping "
        f"dropdown in the dashboard",
    )


# --------------------------------------------------------------------------- parsing
@dataclass
class TableReport:
    """Validation report of one input table."""

    table: str
    source: str
    format: str
    encoding: str | None
    delimiter: str | None
    header: bool
    mapping: dict[str, str]
    unused_columns: list[str]
    date_formats: dict[str, str]
    decimal_comma: bool
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    rejected_examples: list[dict[str, Any]]
    warnings: list[Note]  # each a str (English) with its translation key (crmflow.messages)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _delimiter_label(delimiter: str | None) -> str | None:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", WHITESPACE: "whitespace"}.get(
        delimiter or "", delimiter)


def prepare(db: Database, cur: duckdb.DuckDBPyConnection, table: str, source: str | os.PathLike | pd.DataFrame,
            overrides: dict[str, str] | None = None, date_preference: str | None = None,
            options: ReadOptions | None = None) -> TableReport:
    """Stage, map, profile and parse one input into temp table ``ingest_parsed_{table}``,
    which the view ingest_parsed then shows (see :func:`use_parsed`).

    Only temporary tables are written, so run it outside a transaction: DuckDB
    keeps undo data for whatever is written inside one, which makes parsing a
    million rows ~40% slower."""
    date_preference = date_format_option(date_preference)
    db.execute("macros", cur=cur)
    if is_date_pattern(date_preference):
        try:
            db.run("check_date_format", cur=cur, fmt=date_preference)
        except CrmflowError:
            raise CrmflowError(key="date_format_invalid", value=date_preference) from None
    if isinstance(source, pd.DataFrame):
        sniffed = stage_frame(cur, source)
        rows_read = len(source)
    else:
        sniffed = sniff(source, options)
        rows_read = stage(cur, sniffed)
    if rows_read == 0:
        raise InputFileError(
            f"The {table} file {Path(sniffed.path).name} has a header but no rows",
            "Export the data again with the rows included",
        )
    headers = sniffed.headers
    profile = functools.cache(lambda i: _profile(db, cur, f"c{i}"))  # each column profiled once
    mapping = auto_map(table, headers)
    mapping = apply_overrides(table, headers, mapping, overrides or {})
    notes: list[Note] = []
    missing = [f for f in REQUIRED[table] if f not in mapping]
    if missing and not sniffed.header:
        # Only a headerless file is guessed from content: when the header was
        # read, a column whose name is not a known one is not silently used.
        mapping, notes = _guess_by_content(profile, table, headers, mapping)
    missing = [f for f in REQUIRED[table] if f not in mapping]
    if missing:
        raise missing_columns_error(table, sniffed, mapping, missing)
    fields = list(SYNONYMS[table])
    exprs = [duckdb.ColumnExpression("row_number")]
    for f in fields:
        if f in mapping:
            exprs.append(duckdb.ColumnExpression(f"c{mapping[f]}").alias(f))
        else:
            exprs.append(duckdb.ConstantExpression(None).cast(duckdb.sqltype("VARCHAR")).alias(f))
    _temp_view(cur, "ingest_stage", cur.table("ingest_raw").select(*exprs))

    warnings = list(notes)
    date_formats: dict[str, str] = {}
    params: dict[str, Any] = {}
    for f in fields:
        if f in DATE_FIELDS:
            fmt, warning = (None, None)
            if f in mapping:
                column_profile = profile(mapping[f])
                fmt, warning = choose_date_format(column_profile, date_preference, f)
                if fmt is None and column_profile["n_values"] and f in REQUIRED[table]:
                    raise unknown_date_form_error(table, sniffed, headers[mapping[f]], f, column_profile["examples"])
                if not is_date_pattern(date_preference):
                    warnings.extend(n for n in [two_digit_year_note(column_profile, fmt, f)] if n)
            if warning:
                warnings.append(warning)
            if fmt:
                date_formats[f] = fmt
            params[f + "_format"] = fmt or "%Y-%m-%d"
    if table == "interactions":
        params = {"date_format": params["date_format"]}
    number_profiles = [profile(mapping[f]) for f in fields if f in NUMBER_FIELDS and f in mapping]
    decimal_comma = choose_decimal_comma(number_profiles, sniffed.delimiter)
    note = decimal_warning(number_profiles, decimal_comma)
    if note:
        warnings.append(note)
    params["decimal_comma"] = decimal_comma

    db.materialise(f"parse_{table}", f"ingest_parsed_{table}", cur=cur, **params)
    use_parsed(cur, table)
    summary = db.run("reject_summary", cur=cur)
    by_reason = {str(r): int(n) for r, n in zip(summary["reason"], summary["rows"]) if r is not None and not pd.isna(r)}
    bad_optional = int(summary["bad_optional"].fillna(0).sum())
    if bad_optional:
        optional = [f for f in fields if f in mapping and f not in REQUIRED[table] and (f in DATE_FIELDS or f in NUMBER_FIELDS or f in BOOL_FIELDS)]
        warnings.append(Note("bad_optional", n=bad_optional, columns=", ".join(optional)))
    rejected = sum(by_reason.values())
    date_field, not_a_date = DATE_NOT_READ.get(table, (None, None))
    if date_field in mapping and rejected == rows_read and by_reason.get(not_a_date, 0) == max(by_reason.values()):
        # no row has a date that can be read: say so, with values and how to give the format
        raise unknown_date_form_error(table, sniffed, headers[mapping[date_field]], date_field,
                                      profile(mapping[date_field])["examples"])
    examples = db.run("reject_examples", cur=cur, row_limit=20)
    return TableReport(
        table=table,
        source=str(source if not isinstance(source, pd.DataFrame) else "<data frame>"),
        format=sniffed.format,
        encoding=sniffed.encoding_label,
        delimiter=_delimiter_label(sniffed.delimiter),
        header=sniffed.header,
        mapping={f: headers[i] for f, i in mapping.items()},
        unused_columns=[h for i, h in enumerate(headers) if i not in mapping.values()],
        date_formats=date_formats,
        decimal_comma=decimal_comma,
        rows_read=rows_read,
        rows_loaded=rows_read - rejected,
        rows_rejected=rejected,
        rejected_by_reason=by_reason,
        rejected_examples=json.loads(examples.to_json(orient="records")),
        warnings=warnings,
    )


def use_parsed(cur: duckdb.DuckDBPyConnection, table: str) -> None:
    """Point the view ingest_parsed (read by reject_* and insert_* queries) at
    the parsed rows of one input table."""
    if table not in SYNONYMS:
        raise ValueError(f"unknown table {table!r}")
    _temp_view(cur, "ingest_parsed", cur.table(f"ingest_parsed_{table}"))


def report_text(reports: list[TableReport]) -> str:
    """The validation report as plain text (printed by ``crmflow ingest``)."""
    out: list[str] = []
    for r in reports:
        out.append(f"{r.table}: {r.source}")
        detail = ["text" if r.delimiter == "whitespace" else r.format]
        if r.encoding:
            detail.append(f"encoding {r.encoding}")
        if r.delimiter:
            detail.append(f"{r.delimiter}-separated")
        if r.format == "csv":
            detail.append("header row" if r.header else "no header row")
        if r.decimal_comma:
            detail.append("decimal comma")
        out.append("  read as " + ", ".join(detail))
        out.append("  columns: " + ", ".join(f"{f} <- {c}" for f, c in r.mapping.items()))
        if r.unused_columns:
            out.append("  not used: " + ", ".join(r.unused_columns))
        if r.date_formats:
            out.append("  date formats: " + ", ".join(f"{f} {fmt}" for f, fmt in r.date_formats.items()))
        out.append(f"  rows: {r.rows_read} read, {r.rows_loaded} loaded, {r.rows_rejected} rejected")
        for reason, n in r.rejected_by_reason.items():
            out.append(f"    {n} × {reason}")
        for ex in r.rejected_examples[:5]:
            out.append(f"    e.g. row {ex['row_number']}: {ex['reason']} ({ex['raw']})")
        for w in r.warnings:
            out.append(f"  note: {w}")
    return "\n".join(out)
