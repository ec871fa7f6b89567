"""Excel .xlsx workbooks: which sheets, which header row, and whether the file
is safe to read at all.

:func:`inspect_workbook` looks at the zip directory and the small XML parts
only (no cell is parsed): the sheets in workbook order, the declared size of
each (``<dimension ref=...>``), and the caps below, so a "zip bomb" (a few MB
that unpack to gigabytes of XML) is refused in milliseconds with one clear
message instead of being read for minutes.

:func:`stage_xlsx` then has DuckDB's ``excel`` extension read the chosen
sheets as text with ``header = false`` (sheet names and ranges are bound as
parameters; header names are never part of any SQL), detects the header row
below any title rows, and appends sheets that share their columns.

Every cell is read as text (``all_varchar``): a date cell becomes its Excel
serial number ("40179.5729"), which the ``excel`` date format of
``queries/ingest/macros.sql`` reads back; text dates stay text.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import duckdb

from crmflow.errors import InputFileError
from crmflow.messages import Note

#: The most XML a workbook may unpack to (all its parts together). A sheet of
#: 1,048,576 rows × 10 columns is about 400 MB of XML; reading 1 GB takes
#: DuckDB a few minutes.
MAX_XLSX_XML_BYTES = 1024 * 1024 * 1024
#: The highest compression ratio of one part above RATIO_MIN_BYTES: real sheet
#: XML packs 5-30×, a bomb (the same cell repeated) 300× and more.
MAX_XLSX_RATIO = 100
RATIO_MIN_BYTES = 16 * 1024 * 1024
#: The most cells the sheets of a workbook may declare (their ``<dimension>``):
#: 1,048,576 rows × 47 columns, about 2-3 GB in memory as text.
MAX_XLSX_CELLS = 50_000_000
#: The biggest small XML part (workbook.xml, its relationships) parsed in Python.
MAX_PART_BYTES = 16 * 1024 * 1024
#: Rows of each sheet looked at to find the header row.
SAMPLE_ROWS = 30
#: ``--sheet all``: every sheet with data, appended.
ALL_SHEETS = "all"
EXCEL_ROWS = 1_048_576

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Za-z]{1,3})(\d+)(?::([A-Za-z]{1,3})(\d+))?\"")
_CELL_REF = re.compile(rb"<(?:\w+:)?c\s[^>]*?r=\"([A-Z]{1,3})(\d+)\"")
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


@dataclass(frozen=True)
class Sheet:
    """One worksheet: its name, its part in the zip, its declared last column and cell count."""

    name: str
    part: str
    last_col: int  # 1-based
    last_row: int
    cells: int


@dataclass
class Workbook:
    """What :func:`inspect_workbook` found, and (after :func:`stage_xlsx`) what was read."""

    sheets: list[Sheet]
    read: list[str] = field(default_factory=list)  # the sheets read, in order
    header_rows: dict[str, int] = field(default_factory=dict)  # sheet -> 1-based header row (0: none)
    appendable: bool = False  # several sheets with data share their columns (``--sheet all`` works)
    with_data: list[str] = field(default_factory=list)  # sheets that hold at least one cell


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _too_big(name: str, what: str) -> InputFileError:
    return InputFileError(key="xlsx_too_big", name=name, what=what)


def _parse_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> ElementTree.Element:
    if info.file_size > MAX_PART_BYTES:
        raise _too_big(Path(zf.filename or "").name, f"{info.filename} {info.file_size / 1e6:,.0f} MB")
    return ElementTree.fromstring(zf.read(info))


def _dimension(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(last column, last row) of a sheet part: its ``<dimension>`` element,
    or, when a writer left it out or wrote just "A1", the cell references
    themselves (streamed; the part's size is already capped)."""
    with zf.open(info) as fh:
        head = fh.read(64 * 1024)
    m = _DIMENSION.search(head)
    if m and m.group(3):
        return column_number(m.group(3).decode()), int(m.group(4))
    if m and info.file_size < 64 * 1024 and b"<c " not in head.replace(b"<c>", b""):
        return column_number(m.group(1).decode()), int(m.group(2))
    last_col, last_row, tail = 0, 0, b""
    with zf.open(info) as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            data = tail + chunk
            for ref in _CELL_REF.finditer(data):
                last_col = max(last_col, column_number(ref.group(1).decode()))
                last_row = max(last_row, int(ref.group(2)))
            tail = data[-256:]
    return last_col, last_row


def inspect_workbook(path: str | Path) -> Workbook:
    """The sheets of a workbook, after the size caps (see the module docstring)."""
    name = Path(path).name
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise InputFileError(key="xlsx_damaged", name=name) from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        total = sum(i.file_size for i in infos.values())
        if total > MAX_XLSX_XML_BYTES:
            raise _too_big(name, f"{total / 1e6:,.0f} MB")
        for i in infos.values():
            if i.file_size > RATIO_MIN_BYTES and i.file_size > MAX_XLSX_RATIO * max(i.compress_size, 1):
                raise _too_big(name, f"{i.filename}: {i.compress_size / 1e6:,.1f} MB → {i.file_size / 1e6:,.0f} MB")
        if "xl/workbook.xml" not in infos:
            raise InputFileError(key="xlsx_damaged", name=name)
        try:
            book = _parse_small(zf, infos["xl/workbook.xml"])
            rels = _parse_small(zf, infos["xl/_rels/workbook.xml.rels"]) if "xl/_rels/workbook.xml.rels" in infos \
                else None
        except ElementTree.ParseError:
            raise InputFileError(key="xlsx_damaged", name=name) from None
        for el in book.iter():
            if el.tag.rsplit("}", 1)[-1] == "workbookPr" and el.get("date1904", "").lower() in ("1", "true"):
                # its date cells count days from 1904: read as serials they would be 4 years early
                raise InputFileError(key="xlsx_1904", name=name)
        targets = {}
        for rel in rels.iter() if rels is not None else ():
            if rel.tag.endswith("Relationship") and rel.get("Id") and rel.get("Target"):
                target = rel.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
                targets[rel.get("Id")] = part
        sheets: list[Sheet] = []
        for n, el in enumerate(e for e in book.iter() if e.tag.rsplit("}", 1)[-1] == "sheet"):
            part = targets.get(el.get(f"{{{_NS_REL}}}id", ""), f"xl/worksheets/sheet{n + 1}.xml")
            part = re.sub(r"/[^/]+/\.\./", "/", part)
            info = infos.get(part)
            if info is None:
                continue  # a chart sheet or a missing part: nothing to read
            last_col, last_row = _dimension(zf, info)
            sheets.append(Sheet(str(el.get("name", "")), part, last_col, last_row, last_col * last_row))
    cells = sum(s.cells for s in sheets)
    if cells > MAX_XLSX_CELLS:
        raise _too_big(name, f"{cells:,} cells")
    if not sheets:
        raise InputFileError(key="xlsx_no_data", name=name)
    return Workbook(sheets)


# --------------------------------------------------------------------------- header row
def _text(cell: object) -> str:
    return "" if cell is None else str(cell).strip()


def detect_header_row(rows: list[list[str | None]], is_header) -> tuple[int, int]:
    """(header row, first data row), 1-based positions in ``rows`` (the top of
    a sheet); header row 0 when there is none. Rows above the first row that
    spans the columns the rows below it use (a report title, an export date,
    a blank line) are skipped; that row is the header when ``is_header`` (the
    text files' rule: names above values) says so."""
    cols = [{j for j, c in enumerate(r) if _text(c)} for r in rows]
    nonempty = [i for i, c in enumerate(cols) if c]
    for i in nonempty:
        below = [cols[j] for j in nonempty if j > i]
        counts = Counter(c for s in below for c in s)
        used = {c for c, k in counts.items() if k >= max(1, 0.2 * len(below))}
        if below and (len(cols[i] & used) < 0.8 * len(used) or (len(cols[i]) < 2 <= len(used))):
            continue
        cells = [_text(c) for c in rows[i]]
        rest = [[_text(c) for c in rows[j]] for j in nonempty if j > i]
        if is_header([cells, *rest]):
            return i + 1, i + 2
        return 0, i + 1
    return 0, 1


# --------------------------------------------------------------------------- reading
def _read_sql(columns: list[str], into: str) -> str:
    """CREATE (or INSERT INTO) the temp table ingest_file from rows of one
    sheet: columns by position (#1, #2, ... as c0, c1, ...: DuckDB's own
    names A, B, ... are not used, header text never is), fully empty rows
    left out; the file, sheet and range are bound parameters. One statement,
    so the sheet is parsed once (a relation built first and then inserted
    parses it twice: binding read_xlsx reads the sheet)."""
    picked = ", ".join(f"#{i + 1} AS {c}" for i, c in enumerate(columns))
    source = ("SELECT * FROM (SELECT " + picked + " FROM read_xlsx($path, sheet = $sheet, range = $range, "
              "header = false, all_varchar = true, ignore_errors = true, stop_at_empty = false)) "
              "WHERE COALESCE(" + ", ".join(columns) + ") IS NOT NULL")
    if into == "insert":
        return "INSERT INTO ingest_file " + source
    return "CREATE OR REPLACE TEMP TABLE ingest_file AS " + source


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") and hasattr(value, "year") else value.isoformat()
    return str(value)


def _rows(book, sheet: Sheet, first: int, last: int) -> list[list[str | None]]:
    """Rows first..last of a sheet as text, padded to its width. openpyxl
    streams the sheet and stops there (DuckDB's reader would parse the whole
    sheet even for a small range: 11 s for a 525,000-row sheet); what the
    rows say is only used to find the header."""
    if sheet.last_col == 0 or first > last or sheet.name not in book.sheetnames:
        return []
    out = []
    for row in book[sheet.name].iter_rows(min_row=first, max_row=last, max_col=sheet.last_col, values_only=True):
        cells = [_cell_text(v) for v in row]
        out.append(cells + [None] * (sheet.last_col - len(cells)))
    return out


def _header_cells(row: list[str | None]) -> list[str]:
    cells = [_text(c) for c in row]
    while cells and not cells[-1]:
        cells.pop()
    return cells


@dataclass
class _Layout:
    sheet: Sheet
    header_row: int  # 0: none
    first_data: int
    headers: list[str]
    beyond: bool = False  # the header row asked for is below the sheet's last row


def _layout(book, sheet: Sheet, header_row: int | None, is_header) -> _Layout | None:
    """Where a sheet's header and data are (None for a sheet without any cell)."""
    rows = _rows(book, sheet, 1, min(sheet.last_row, SAMPLE_ROWS))
    if not any(_text(c) for r in rows for c in r):
        return None
    if header_row is not None:
        if header_row == 0:
            return _Layout(sheet, 0, 1, [])
        if header_row > sheet.last_row:
            return _Layout(sheet, header_row, header_row + 1, [], beyond=True)
        top = rows[header_row - 1] if header_row <= len(rows) else \
            (_rows(book, sheet, header_row, header_row) or [[]])[0]
        return _Layout(sheet, header_row, header_row + 1, _header_cells(top))
    found, first_data = detect_header_row(rows, is_header)
    return _Layout(sheet, found, first_data, _header_cells(rows[found - 1]) if found else [])


def _choose(layouts: list[_Layout], sheet_option: str | None, file_name: str, same: bool,
            fits: Callable[[list[str]], bool] | None = None) -> tuple[list[_Layout], list[Note]]:
    """The sheets to read: the user's choice; else every sheet when they share
    their columns; else the one sheet whose columns hold the table's required
    fields (``fits``; e.g. Superstore's "Orders" beside "Returns" and
    "People"), said in a note; else the user is asked (SheetChoiceError)."""
    names = [lay.sheet.name for lay in layouts]
    listed = ", ".join(names)
    if sheet_option is not None and sheet_option in names:
        return [layouts[names.index(sheet_option)]], []
    if sheet_option is not None and sheet_option.strip().lower() == ALL_SHEETS:
        if len(layouts) > 1 and not same:
            raise InputFileError(key="xlsx_sheets_all_differ", name=file_name, sheets=listed)
        return layouts, [Note("xlsx_sheets_appended", n=len(names), sheets=listed)] if len(names) > 1 else []
    if sheet_option is not None:
        folded = [n for n in names if n.strip().casefold() == sheet_option.strip().casefold()]
        if len(folded) == 1:
            return [layouts[names.index(folded[0])]], []
        raise InputFileError(key="xlsx_unknown_sheet", name=file_name, sheet=sheet_option, sheets=listed)
    if len(layouts) == 1:
        return layouts, []
    if same:
        return layouts, [Note("xlsx_sheets_appended", n=len(names), sheets=listed)]
    fitting = [lay for lay in layouts if lay.header_row and fits is not None and fits(lay.headers)]
    if len(fitting) == 1:
        others = ", ".join(n for n in names if n != fitting[0].sheet.name)
        return fitting, [Note("xlsx_sheet_chosen", sheet=fitting[0].sheet.name, others=others)]
    raise SheetChoiceError(key="xlsx_sheets_differ", name=file_name, sheets=listed, first=names[0],
                           choices=tuple(names))


class SheetChoiceError(InputFileError):
    """The sheets of a workbook hold different columns: the user picks one
    (``choices`` lists the sheets with data, for the Data page's picker)."""

    def __init__(self, *, key: str, choices: tuple[str, ...], **params: object) -> None:
        super().__init__(key=key, **params)
        self.choices = choices


def stage_xlsx(cur: duckdb.DuckDBPyConnection, path: str, workbook: Workbook, sheet_option: str | None,
               header_row: int | None, is_header,
               fits: Callable[[list[str]], bool] | None = None) -> tuple[list[str], bool, list[Note]]:
    """Read the chosen sheets into the temp table ``ingest_file`` (columns
    ``A``, ``B``, ... as DuckDB names them, rows in sheet order, empty rows
    left out); returns (headers, has a header row, notes)."""
    import openpyxl

    file_name = Path(path).name
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            layouts = [lay for lay in (_layout(book, sheet, header_row, is_header) for sheet in workbook.sheets)
                       if lay is not None]
        finally:
            book.close()
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, ElementTree.ParseError):
        raise InputFileError(key="xlsx_damaged", name=file_name) from None
    if not layouts:
        raise InputFileError(key="xlsx_no_data", name=file_name)
    workbook.with_data = [lay.sheet.name for lay in layouts]
    workbook.appendable = len(layouts) > 1 and all(
        lay.header_row and lay.headers == layouts[0].headers for lay in layouts)
    chosen, notes = _choose(layouts, sheet_option, file_name, workbook.appendable, fits)
    for lay in chosen:
        if lay.beyond:
            raise InputFileError(key="xlsx_header_row_beyond", name=file_name, sheet=lay.sheet.name,
                                 row=lay.header_row, last=lay.sheet.last_row)
    workbook.read = [lay.sheet.name for lay in chosen]
    workbook.header_rows = {lay.sheet.name: lay.header_row for lay in chosen}
    width = max(max(lay.sheet.last_col for lay in chosen), max(len(lay.headers) for lay in chosen), 1)
    columns = [f"c{i}" for i in range(width)]
    created = False
    for lay in chosen:
        if lay.first_data > EXCEL_ROWS:
            continue
        cur.execute(_read_sql(columns, "insert" if created else "create"),
                    {"path": path, "sheet": lay.sheet.name,
                     "range": f"A{lay.first_data}:{column_letters(width)}{EXCEL_ROWS}"})
        created = True
    if not created:
        cur.execute("CREATE OR REPLACE TEMP TABLE ingest_file AS SELECT "
                    + ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in columns) + " WHERE false")
    has_header = any(lay.header_row for lay in chosen)
    headers = list(chosen[0].headers) if has_header else []
    headers = (headers + [""] * width)[:width] if has_header else [f"column{i + 1}" for i in range(width)]
    # columns past the last header name that hold nothing (a formatted but empty range) are dropped
    keep = width
    while keep > max(len(chosen[0].headers), 1) and not headers[keep - 1] and not cur.execute(
            "SELECT COUNT(" + columns[keep - 1] + ") FROM ingest_file").fetchone()[0]:
        keep -= 1
    if keep < width:
        cur.execute("CREATE OR REPLACE TEMP TABLE ingest_file AS SELECT " + ", ".join(columns[:keep])
                    + " FROM ingest_file")
    headers = headers[:keep]
    if header_row is None:  # what detection skipped is said
        for lay in chosen:
            skipped = lay.first_data - 1 - (1 if lay.header_row else 0)
            if skipped and lay.header_row:
                notes.append(Note("xlsx_header_row", sheet=lay.sheet.name, row=lay.header_row, skipped=skipped))
            elif skipped:
                notes.append(Note("xlsx_rows_skipped", sheet=lay.sheet.name, skipped=skipped, row=lay.first_data))
    return headers, has_header, notes
