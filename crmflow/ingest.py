"""Ingestion: real-world export files in, typed canonical rows and a validation report out.

The path is DuckDB all the way (no row-by-row Python):

1. :func:`sniff` looks at the first bytes of the file in Python — format
   (CSV/TSV/whitespace text, .xlsx, Parquet), encoding (UTF-8, UTF-8 with BOM,
   UTF-16, Windows-1252/Latin-1, Mac-Roman, CP850, GB18030/GBK, Big5,
   Shift-JIS, or the user's ``--encoding``), delimiter, title lines above the
   table and header row. A file whose first bytes are UTF-8 is checked to the
   end (streamed, ~30 ms for 40 MB), so one Latin-1 or GBK row far down still
   decides the encoding.
2. :func:`stage` has DuckDB read the whole file as text into a temporary table,
   seen as ``ingest_raw(row_number, c0..cN)`` (DuckDB's CSV reader, on a
   temporary UTF-8 copy for the encodings it does not read right; its
   ``excel`` extension for .xlsx: :mod:`crmflow.excel` picks the sheets and
   the header row and refuses workbooks that unpack to too much). Columns
   are taken by position, so a header name is never read as SQL.
3. Columns are mapped to fields (:mod:`crmflow.mapping`, then user overrides,
   then a content-based guess for headerless files), and the date format and
   decimal convention are decided from the *whole* column by the
   ``profile_values`` query.
4. ``queries/ingest/parse_*.sql`` type every row and give a reason for each row
   they reject; :mod:`crmflow.store` writes the accepted rows in one
   transaction.

Why DuckDB rather than pandas + chardet: DuckDB's multi-threaded CSV reader
loads a million rows in well under a second. A file in an encoding other than
UTF-8/UTF-16/Latin-1 is first transcoded to UTF-8 by Python's incremental
decoders (0.1-0.2 s for 20 MB of Windows-1252 or GB18030; DuckDB's encodings
extension took 9 s for the same GB18030 file). The encoding of a non-UTF-8
file is decided by scoring the candidate decodings of its non-ASCII lines
(:func:`_legacy_encoding`), charset-normalizer breaking near ties.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from glob import glob
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pandas as pd

from crmflow.db import Database
from crmflow.errors import CrmflowError, InputFileError, MappingError
from crmflow.excel import Workbook, inspect_workbook, stage_xlsx
from crmflow.mapping import (
    BOOL_FIELDS,
    DATE_FIELDS,
    ID_FIELDS,
    NUMBER_FIELDS,
    REQUIRED,
    SYNONYMS,
    apply_overrides,
    auto_map,
    derives_amount,
    missing_required,
    normalise,
    says_id,
)
from crmflow.messages import Note, TermList, field_term, table_term

SAMPLE_BYTES = 256 * 1024
SCAN_CHUNK = 4 * 1024 * 1024
TEXT_DELIMITERS = ("\t", ";", ",", "|")
WHITESPACE = "whitespace"
SUPPORTED = "CSV, TSV or whitespace-separated text, Excel .xlsx, or Parquet"
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
    encoding: str | None = None  # text files: the Python codec (utf-8, gb18030, latin-1, cp1252, mac_roman, ...)
    encoding_label: str | None = None  # what we tell the user
    delimiter: str | None = None  # one char, or WHITESPACE
    header: bool = True
    headers: list[str] = field(default_factory=list)
    options: ReadOptions = NO_OPTIONS
    header_row: int | None = None  # 1-based row the column names were read from (0: none), when known
    skip: int = 0  # text files: lines above the first data row (title lines, blank lines, the header)
    notes: list[Note] = field(default_factory=list)  # for the report: encoding detected, title rows skipped, ...
    workbook: Workbook | None = None  # .xlsx: its sheets, and (after stage) the sheets read


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


# --------------------------------------------------------------------------- encodings
# Python codec -> what the user reads. Sniffed.encoding is always one of these
# codec names (or another Python text codec the user named with --encoding).
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "gb18030": "GB18030/GBK",
    "latin-1": "Latin-1",
    "cp1252": "Windows-1252",
    "mac_roman": "Mac-Roman",
    "cp850": "CP850 (DOS)",
    "cp950": "Big5",
    "cp932": "Shift-JIS",
}
# Read by DuckDB itself; every other encoding is transcoded to a temporary
# UTF-8 file first (see _utf8_copy): DuckDB's windows-1252 refuses the five
# bytes it leaves undefined, its mac_roman has the pre-1998 currency sign
# instead of €, its big5 does not split lines, and its GB18030 (encodings
# extension) takes 9 s for 20 MB where Python's decoder takes 0.16 s.
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}
ENCODING_EXAMPLES = "utf-8, cp1252 (windows-1252), latin-1, mac_roman, cp850, gb18030 (gbk), big5, shift_jis"
# Names Python knows under another codec, mapped to the superset a real export uses:
# GBK/GB2312 files are read as GB18030, Big5 as Windows' cp950, Shift-JIS as Windows' cp932.
_CODEC_OF = {
    "utf_8": "utf-8", "utf-8": "utf-8", "utf_8_sig": "utf-8-sig", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16",
    "utf_16": "utf-16", "iso8859-1": "latin-1", "latin_1": "latin-1", "cp1252": "cp1252",
    "mac-roman": "mac_roman", "mac_roman": "mac_roman", "cp850": "cp850", "gbk": "gb18030", "gb2312": "gb18030",
    "gb18030": "gb18030", "big5": "cp950", "cp950": "cp950", "big5hkscs": "big5hkscs", "shift_jis": "cp932",
    "cp932": "cp932",
}
_EXTRA_ALIASES = {"ansi": "cp1252", "windows1252": "cp1252", "win1252": "cp1252", "macintosh": "mac_roman",
                  "macroman": "mac_roman", "mac": "mac_roman", "dos": "cp850", "ibm850": "cp850",
                  "cp936": "gb18030", "sjis": "cp932", "shiftjis": "cp932", "utf8bom": "utf-8-sig"}
SINGLE_BYTE_CANDIDATES = ("cp1252", "mac_roman", "cp850")
MULTI_BYTE_CANDIDATES = ("gb18030", "cp950", "cp932")
DETECT_BYTES = 64 * 1024  # of lines holding non-ASCII bytes: enough evidence, fast to score


def _c1_as_latin1(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler for single-byte codecs: a byte the codec leaves
    undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D in Windows-1252) becomes the
    character of the same number (U+0081, ...), as browsers do, so no byte is
    lost and nothing crashes."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(b) for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("crmflow_c1", _c1_as_latin1)


def encoding_label(codec: str) -> str:
    return ENCODING_LABELS.get(codec, codec.upper())


def resolve_encoding(name: str) -> str:
    """The Python codec for an encoding name a user gave (``--encoding``, the
    Data page): Python's names and aliases (cp1252, windows-1252, latin1,
    mac_roman, cp850, gbk, big5, shift_jis, sjis, utf-8, ...) and a few more
    (ansi, macroman, dos). An unknown name is one clear message."""
    key = name.strip().lower()
    key = _EXTRA_ALIASES.get(key.replace("-", "").replace("_", "").replace(" ", ""), key)
    try:
        info = codecs.lookup(key)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise CrmflowError(key="unknown_encoding", encoding=name, examples=ENCODING_EXAMPLES)
    codec = _CODEC_OF.get(info.name, info.name)
    if codec in DUCKDB_ENCODINGS:
        return codec
    try:  # a table's delimiters and line ends must be the ASCII bytes (not UTF-32, EBCDIC, idna, ...)
        ascii_compatible = "a,b;c\td|e\r\n".encode(codec) == b"a,b;c\td|e\r\n"
        codecs.getincrementaldecoder(codec)(errors="crmflow_c1").decode(bytes(range(256)), final=True)
    except (UnicodeError, LookupError, TypeError, ValueError):
        ascii_compatible = False
    if not ascii_compatible:
        raise CrmflowError(key="unknown_encoding", encoding=name, examples=ENCODING_EXAMPLES)
    return codec


def detect_encoding(sample: bytes) -> tuple[str, str]:
    """(codec, label) of a text sample (which may end mid-character)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8", "UTF-8 with BOM"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", "UTF-8"
    except UnicodeDecodeError:
        pass
    return _legacy_encoding(sample)


_LETTERS_OK = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u0191\u0193-\u024f]")
# Accented letters that are common in European names weigh 1, other Latin letters less
_COMMON_LETTERS = {**dict.fromkeys("äöüßéèàáíóúñçåøæëïâêôûÄÖÜÉÅØÆÑÁÍÓÚ", 1.0), **dict.fromkeys("šžŠŽœŒ", 0.7)}
_PUNCT_OK = set("\u00a0’‘“”–—…°·«»§¿¡©®™\u00b4\u00aa\u00ba")
_CURRENCY = set("€£¥")
_APOSTROPHES = set("’‘\u00b4")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _word_has_lower(text: str, at: int) -> bool:
    """Does the word around ``text[at]`` hold a lower-case letter?"""
    start = end = at
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    while end < len(text) and text[end].isalpha():
        end += 1
    return any(c.islower() for c in text[start:end])


def _western_score(text: str) -> tuple[float, int]:
    """(plausibility, count) of the non-ASCII characters of a single-byte
    decoding, as they occur in names and products: Latin letters alone or in
    pairs inside words (Müller, Šimek, Zoë; the usual accented letters weigh
    most; a letter standing alone as a word little), not an upper-case letter
    right after a lower-case one nor a lower-case one right before an
    upper-case one (MÅller, OíBrien),
    usual punctuation (O’Brien, 12 €) — not symbols, box drawing, control
    characters, a currency sign glued to a word, or long runs (GBK bytes read
    as Latin)."""
    good = 0.0
    total = 0
    for m in _NON_ASCII_RUN.finditer(text):
        run = m.group()
        total += len(run)
        if len(run) > 2:
            continue
        prev = text[m.start() - 1] if m.start() else " "
        nxt = text[m.end()] if m.end() < len(text) else " "
        for i, ch in enumerate(run):
            before = run[i - 1] if i else prev
            after = run[i + 1] if i + 1 < len(run) else nxt
            if _LETTERS_OK.match(ch):
                if ch.isupper() and before.isalpha() and _word_has_lower(text, m.start() + i):
                    continue  # MÅller, OÆBrien (but MÜLLER)
                if ch.islower() and after.isupper():
                    continue  # OíBrien
                weight = _COMMON_LETTERS.get(ch, 0.5)
                alone = len(run) == 1 and not before.isalpha() and not after.isalpha()
                good += min(weight, 0.2) if alone and ch not in "àÀ" else weight  # "Dash ñ Co"; French "à"
            elif ch in _APOSTROPHES:
                good += before.isalpha() and after.isalpha()
            elif ch in _CURRENCY:
                good += not (before.isalpha() or after.isalpha())
            elif ch in _PUNCT_OK:
                good += not (before.isalpha() and after.isalpha())
    return good, total


_CJK_HANZI_LEADS = {"gb18030": (0xB0, 0xF7), "cp950": (0xA4, 0xC6), "cp932": (0x88, 0x98)}


def _cjk_common(ch: str, codec: str) -> float:
    """How usual ``ch`` is in text written in ``codec``: 1 for CJK punctuation
    and the common ideographs of its standard (GB2312 hanzi; Big5 level 1;
    JIS level 1) and Japanese kana, 0.5 for half-width katakana, 0 otherwise
    (Greek, Cyrillic, box drawing, rare ideographs)."""
    if "\u3000" <= ch <= "\u303f" or "\uff01" <= ch <= "\uff5e":
        return 1.0
    if codec == "cp932":
        if "\u3040" <= ch <= "\u30ff":
            return 1.0
        if "\uff61" <= ch <= "\uff9f":
            return 0.5
    if not "\u4e00" <= ch <= "\u9fff":
        return 0.0
    try:
        raw = ch.encode("gb2312" if codec == "gb18030" else codec)
    except UnicodeEncodeError:
        return 0.0
    low, high = _CJK_HANZI_LEADS[codec]
    return 1.0 if len(raw) == 2 and low <= raw[0] <= high else 0.0


def _cjk_score(text: str, codec: str) -> tuple[float, int]:
    """(plausibility, count) of the non-ASCII characters of a CJK decoding; a
    lone character glued to Latin letters ("No腊" from a Mac-Roman "Noël")
    counts a quarter."""
    good = 0.0
    total = 0
    for m in _NON_ASCII_RUN.finditer(text):
        run = m.group()
        total += len(run)
        score = sum(_cjk_common(ch, codec) for ch in run)
        if len(run) == 1:
            prev = text[m.start() - 1] if m.start() else " "
            nxt = text[m.end()] if m.end() < len(text) else " "
            if (prev.isascii() and prev.isalpha()) or (nxt.isascii() and nxt.isalpha()):
                score *= 0.25
        good += score
    return good, total


def _evidence(sample: bytes) -> bytes:
    """The lines of a sample that hold non-ASCII bytes (at most DETECT_BYTES)."""
    out: list[bytes] = []
    size = 0
    for line in sample.split(b"\n"):
        if not line.isascii():
            out.append(line)
            size += len(line) + 1
            if size >= DETECT_BYTES:
                break
    return b"\n".join(out)


def _legacy_encoding(sample: bytes) -> tuple[str, str]:
    """A sample that is not UTF-8: which of the usual export encodings reads it
    as text? Every candidate decoding is scored by the share of its non-ASCII
    characters that are plausible in names and products (see _western_score
    and _cjk_common), a byte sequence a multi-byte candidate cannot read
    counting against it; charset-normalizer's choice among the candidates breaks near ties.
    Windows-1252 is called Latin-1 when the sample has no byte 0x80-0x9F (the
    two agree on every other byte, and DuckDB reads Latin-1 itself)."""
    evidence = _evidence(sample) or sample
    scores: dict[str, float] = {}
    for codec in SINGLE_BYTE_CANDIDATES:
        text = evidence.decode(codec, errors="crmflow_c1")
        good, total = _western_score(text)
        undefined = sum(1 for ch in text if "\x80" <= ch <= "\x9f")
        scores[codec] = (good - undefined) / total if total else 0.0
    for codec in MULTI_BYTE_CANDIDATES:
        text = codecs.getincrementaldecoder(codec)(errors="replace").decode(evidence, final=False)
        good, total = _cjk_score(text, codec)
        bad = text.count("\ufffd")  # a byte sequence the codec cannot read
        scores[codec] = (good - bad) / total if total else 0.0
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(evidence[:DETECT_BYTES], cp_isolation=list(scores)).best()
        picked = _CODEC_OF.get(best.encoding, best.encoding) if best is not None else None
        if picked in scores:
            scores[picked] += 0.02
    except Exception:  # noqa: BLE001, S110 - a tie-breaker only
        pass
    order = ("cp1252", "gb18030", "mac_roman", "cp850", "cp950", "cp932")
    codec = max(order, key=lambda c: (scores.get(c, -1.0), -order.index(c)))
    if codec == "cp1252" and not any(0x80 <= b <= 0x9F for b in sample):
        codec = "latin-1"
    return codec, encoding_label(codec)



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
    """(codec, label) of a whole text file whose first bytes are ``head``.

    The first bytes decide unless they are valid UTF-8: then the rest of the
    file is checked too, because one Latin-1 or GBK row after the first
    SAMPLE_BYTES would make the whole file unreadable as UTF-8. A file called
    Latin-1 is checked to the end for bytes 0x80-0x9F (€ ’ Š œ … in
    Windows-1252), which make it Windows-1252."""
    encoding, label = detect_encoding(head)
    if encoding == "utf-8":
        offset = _utf8_error_offset(path)
        if offset is None:
            return encoding, label
        sample = _non_utf8_sample(path, offset)
        encoding, label = _legacy_encoding(sample) if sample else ("latin-1", "Latin-1")
    if encoding == "latin-1" and _has_c1_bytes(path):
        encoding, label = "cp1252", encoding_label("cp1252")
    return encoding, label


_C1_BYTES = bytes(range(0x80, 0xA0))


def _has_c1_bytes(path: str | os.PathLike) -> bool:
    """Does the file hold a byte 0x80-0x9F? (streamed; ~60 ms for 40 MB)"""
    with open(path, "rb") as fh:
        while chunk := fh.read(SCAN_CHUNK):
            if len(chunk.translate(None, _C1_BYTES)) != len(chunk):
                return True
    return False


def _line_of_offset(path: str | os.PathLike, offset: int) -> int:
    """1-based line number of the byte at ``offset``."""
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def _sniff_encoding(path: Path, head: bytes, options: ReadOptions) -> tuple[str, str, list[Note]]:
    """(codec, label, notes): the user's encoding when given, else the detected one
    with a note saying how to choose another."""
    if options.encoding:
        codec = resolve_encoding(options.encoding)
        if codec in ("utf-8", "utf-8-sig"):
            offset = _utf8_error_offset(path)
            if offset is not None:
                raise InputFileError(key="encoding_mismatch", file=path.name, encoding=encoding_label(codec),
                                     line=_line_of_offset(path, offset), examples=ENCODING_EXAMPLES)
            codec = "utf-8"
            return codec, "UTF-8 with BOM" if head.startswith(codecs.BOM_UTF8) else "UTF-8", []
        return codec, encoding_label(codec), []
    codec, label = detect_file_encoding(path, head)
    notes = [] if codec in ("utf-8", "utf-16") else [Note("encoding_detected", encoding=label)]
    return codec, label, notes


@functools.cache
def _single_byte(codec: str) -> bool:
    return len(bytes(range(256)).decode(codec, errors="crmflow_c1")) == 256


def _decode(sample: bytes, encoding: str) -> str:
    if encoding in ("utf-8", "utf-8-sig"):
        return codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode(sample, final=False)
    errors = "crmflow_c1" if _single_byte(encoding) else "replace"
    return codecs.getincrementaldecoder(encoding)(errors=errors).decode(sample, final=False)


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


@functools.cache
def _known_names() -> frozenset[str]:
    """Every known column name (mapping synonyms), normalised."""
    return frozenset(normalise(s) for fields in SYNONYMS.values() for syns in fields.values() for s in syns)


def detect_header(rows: list[list[str]]) -> bool:
    """Is the first row a header? Yes when none of its cells looks like a
    number or a date while data rows have such values in those columns, or when
    its cells are known column names."""
    if not rows:
        return False
    first = rows[0]
    if any(_is_value(c) for c in first if c.strip()):
        return False
    known = _known_names()
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
            return Sniffed(str(p), "xlsx", options=options, workbook=inspect_workbook(p))
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
    encoding, label, notes = _sniff_encoding(p, head, options)
    physical = _NEWLINE.split(_decode(head, encoding))
    if len(head) == SAMPLE_BYTES and len(physical) > 1:
        physical = physical[:-1]  # the last line of the sample may be cut
    delimiter, header, line, rows = _table_start(physical, options, p.name)
    width = max(len(r) for r in rows)
    headers = [c.strip() for c in rows[0]] if header else [f"column{i + 1}" for i in range(width)]
    if options.header_row is None and line > 1 and any(ln.strip() for ln in physical[: line - 1]):
        title = next(ln.strip() for ln in physical[: line - 1] if ln.strip())
        title = title if len(title) <= 40 else title[:39] + "…"
        notes.append(Note("title_rows_skipped" if header else "title_rows_skipped_no_header",
                          rows=f"1–{line - 1}" if line > 2 else "1", title=title, row=line))
    return Sniffed(str(p), "csv", encoding, label, delimiter, header, headers, options,
                   header_row=line if header else None, skip=line - 1 + int(header), notes=notes)


_NEWLINE = re.compile(r"\r\n|\r|\n")
MAX_TITLE_ROWS = 10
SAMPLE_LINES = 200


def _table_start(physical: list[str], options: ReadOptions, name: str) -> tuple[str, bool, int, list[list[str]]]:
    """(delimiter, header?, 1-based line where the table starts, split rows
    from there on) of a text file's first lines ``physical`` (as a text
    editor numbers them, blank lines included).

    ``options.header_row`` N >= 1 says the header is line N (the lines above
    are skipped), 0 that there is no header row (every line is data).
    Otherwise lines above the table — a report title, an export date, blank
    lines — are found by :func:`_first_table_row` and skipped."""
    numbered = [(i + 1, ln) for i, ln in enumerate(physical) if ln.strip()]
    if options.header_row:
        n = options.header_row
        if n > len(physical):
            raise InputFileError(key="header_row_missing", file=name, row=n, lines=len(physical))
        if not physical[n - 1].strip():
            raise InputFileError(key="header_row_blank", file=name, row=n)
        numbered = [(i, ln) for i, ln in numbered if i >= n]
    numbered = numbered[:SAMPLE_LINES]
    lines = [ln for _, ln in numbered]
    if options.header_row is not None:
        delimiter = detect_delimiter(lines)
        rows = split_rows(lines, delimiter)
        return delimiter, options.header_row > 0, numbered[0][0] if options.header_row else 1, rows
    delimiter = _delimiter_below_titles(lines)
    rows = split_rows(lines, delimiter)
    start = _first_table_row(rows, delimiter)
    rows = rows[start:]
    return delimiter, detect_header(rows), numbered[start][0], rows


def _delimiter_below_titles(lines: list[str]) -> str:
    """detect_delimiter on the lines, or, when that fails, on the lines below
    up to MAX_TITLE_ROWS title lines (a short file whose title lines break the
    count of fields)."""
    try:
        return detect_delimiter(lines)
    except InputFileError as first:
        for k in range(1, min(MAX_TITLE_ROWS, len(lines) - 2) + 1):
            try:
                return detect_delimiter(lines[k:])
            except InputFileError:
                continue
        raise first from None


def _first_table_row(rows: list[list[str]], delimiter: str) -> int:
    """Index of the first row of the table (header or data) among the first
    MAX_TITLE_ROWS + 1 rows: rows above it are title lines ("Sales report Q1",
    "导出时间: 2024-01-05", "Report,,,,," as Excel saves a title cell) — fewer
    filled cells than most rows of the file (under 60%), at most one cell
    that is a number or a date and at most one known column name, so neither
    a data row with empty optional cells nor a header shorter than its rows
    is taken for a title."""
    filled = [sum(1 for c in r if c.strip()) for r in rows]
    tail = filled[MAX_TITLE_ROWS:] or filled
    typical = sorted(tail)[len(tail) // 2]
    need = max(2, -(-typical * 3 // 5))
    known = _known_names()
    for i in range(min(MAX_TITLE_ROWS + 1, len(rows))):
        full = filled[i] >= need and (delimiter != WHITESPACE or len(rows[i]) >= typical)
        values = sum(_is_value(c) for c in rows[i] if c.strip())
        names = sum(normalise(c) in known for c in rows[i] if c.strip())
        if full or values > 1 or names > 1:
            return i
    return 0


# --------------------------------------------------------------------------- staging
def _rename_to_positions(cur: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation,
                         names: list[str]) -> None:
    """Materialise ``rel`` as text columns c0..cN and expose them as the view
    ingest_raw(row_number, c0..cN). Columns are taken by position (``#1``,
    ``#2``, ...): a header is never read as SQL, not even as an identifier
    (``Order No.`` would be a qualified name, ``"amount"`` another column)."""
    _create_raw(cur, rel, [duckdb.SQLExpression(f"#{i + 1}").cast(duckdb.sqltype("VARCHAR"))
                           for i in range(len(names))])


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


def _fits(table: str, overrides: dict[str, str] | None) -> Callable[[list[str]], bool]:
    """Do these headers give ``table`` every required field (by name and the
    user's ``--map``; an amount may be quantity × unit price)?"""

    def fits(headers: list[str]) -> bool:
        try:
            mapping = apply_overrides(table, headers, auto_map(table, headers), overrides or {})
        except MappingError:
            return False
        return not missing_required(table, mapping)

    return fits


def stage(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed, table: str | None = None,
          overrides: dict[str, str] | None = None) -> int:
    """Read the whole file into a temporary table, seen through the view
    ingest_raw(row_number, c0..cN); returns the row count. With ``table``, a
    workbook whose sheets differ is read from the one sheet that holds the
    table's required columns (mapped by name, with ``overrides``)."""
    try:
        if sniffed.format == "parquet":
            _stage_parquet(cur, sniffed)
        elif sniffed.format == "xlsx":
            _load_extension(cur, "excel")
            if sniffed.workbook is None:
                sniffed.workbook = inspect_workbook(sniffed.path)
            headers, sniffed.header, notes = stage_xlsx(cur, sniffed.path, sniffed.workbook, sniffed.options.sheet,
                                                        sniffed.options.header_row, detect_header,
                                                        _fits(table, overrides) if table else None)
            sniffed.headers, sniffed.notes = headers, notes
            sniffed.header_row = next(iter(sniffed.workbook.header_rows.values()), 0)
            _raw_view(cur, "ingest_file", [f"c{i}" for i in range(len(headers))])
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


@contextlib.contextmanager
def _text_source(sniffed: Sniffed) -> Iterator[tuple[str, str]]:
    """(path, DuckDB encoding) to read a text file from: the file itself when
    DuckDB reads its encoding right (UTF-8, UTF-16, Latin-1), else a
    temporary UTF-8 copy (see :func:`_utf8_copy`),
    removed afterwards."""
    codec = sniffed.encoding or "utf-8"
    if codec in DUCKDB_ENCODINGS:
        yield sniffed.path, DUCKDB_ENCODINGS[codec]
        return
    fd, tmp = tempfile.mkstemp(prefix="crmflow-utf8-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            _utf8_copy(sniffed, out)
        yield tmp, "utf-8"
    finally:
        os.unlink(tmp)


def _utf8_copy(sniffed: Sniffed, out: BinaryIO) -> None:
    """Write the file as UTF-8 to ``out``, decoded in SCAN_CHUNK pieces by an
    incremental decoder (a character split between two pieces is kept whole;
    ~0.2 s for 40 MB of Windows-1252). Lines stay lines, so the header line and
    the lines to skip are where they were. A single-byte codec decodes every
    byte (one it leaves undefined becomes the character of the same number);
    a multi-byte one that meets bytes it cannot read is one clear message
    with the line."""
    codec = sniffed.encoding or "utf-8"
    decoder = codecs.getincrementaldecoder(codec)(errors="crmflow_c1" if _single_byte(codec) else "strict")
    offset = 0
    with open(sniffed.path, "rb") as fh:
        while True:
            chunk = fh.read(SCAN_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = max(0, offset - pending + exc.start)
                raise InputFileError(key="encoding_mismatch", file=Path(sniffed.path).name,
                                     encoding=sniffed.encoding_label or codec,
                                     line=_line_of_offset(sniffed.path, at), examples=ENCODING_EXAMPLES) from None
            out.write(text.encode("utf-8"))
            if not chunk:
                break
            offset += len(chunk)


def _known_zone(cur: duckdb.DuckDBPyConnection, zone: str) -> bool:
    """Does DuckDB know the time zone (a name like Asia/Shanghai, or an offset)?"""
    try:
        cur.execute("SELECT timezone($zone, TIMESTAMPTZ '2000-01-01 00:00:00+00')", {"zone": zone})
        return True
    except duckdb.Error:
        return False


def _stage_parquet(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> None:
    """Every column as text, by position. A timestamp with a time zone is read
    as the wall-clock time of its own zone (a sale at 07:30 in Shanghai is on
    the day it was there, whatever this machine's zone); lists, structs and
    maps become their text form ([1, 2], {'a': 1})."""
    rel = cur.read_parquet(sniffed.path)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(sniffed.path)
        # the names as the file has them (DuckDB renames an empty or a repeated one; the user should see theirs)
        names = ["" if n is None else str(n) for n in schema.names]
    except Exception:  # noqa: BLE001 - DuckDB read it; its names are the fallback
        schema, names = None, list(rel.columns)
    if len(names) != len(rel.columns):
        schema, names = None, list(rel.columns)
    exprs = []
    for i in range(len(names)):
        expr = duckdb.SQLExpression(f"#{i + 1}")
        arrow_type = schema.field(i).type if schema is not None else None
        zone = str(arrow_type.tz) if arrow_type is not None and pa.types.is_timestamp(arrow_type) \
            and arrow_type.tz else None
        offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone or "")
        if offset:  # a fixed offset such as +08:00: UTC plus the offset
            minutes = (1 if offset.group(1) == "+" else -1) * (int(offset.group(2)) * 60 + int(offset.group(3)))
            expr = duckdb.FunctionExpression(
                "date_add", duckdb.FunctionExpression("timezone", duckdb.ConstantExpression("UTC"), expr),
                duckdb.FunctionExpression("to_minutes", duckdb.ConstantExpression(minutes)))
        elif zone and _known_zone(cur, zone):
            expr = duckdb.FunctionExpression("timezone", duckdb.ConstantExpression(zone), expr)
        exprs.append(expr.cast(duckdb.sqltype("VARCHAR")))
    sniffed.headers = names
    sniffed.header_row = 1
    _create_raw(cur, rel, exprs)


def _stage_delimited(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> None:
    # Every cell is read as text (leading zeros, exact decimals and the reasons
    # for rejecting a value stay ours); the file is read once, straight into
    # the table the view ingest_raw numbers. The delimiter, quote and header are
    # given, so DuckDB's sniffer only counts the columns on its default sample.
    # ``skip`` counts lines as a text editor does (blank ones too), as DuckDB does.
    with _text_source(sniffed) as (path, encoding):
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE ingest_file AS SELECT * FROM read_csv($path, delim = $delim, "
            "header = false, skip = $skip, all_varchar = true, encoding = $encoding, quote = '\"', "
            "escape = '\"', null_padding = true, strict_mode = false, auto_detect = true)",
            {"path": path, "delim": sniffed.delimiter, "skip": sniffed.skip, "encoding": encoding},
        )
    names = list(cur.table("ingest_file").columns)
    _pad_headers(sniffed, len(names))
    _raw_view(cur, "ingest_file", names)


def _stage_whitespace(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed) -> None:
    with _text_source(sniffed) as (path, encoding):
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE ingest_file AS "
            "SELECT regexp_split_to_array(TRIM(line), '\\s+') AS parts "
            "FROM read_csv($path, delim = $delim, header = false, skip = $skip, columns = {'line': 'VARCHAR'}, "
            "quote = '', escape = '', encoding = $encoding, auto_detect = false) "
            "WHERE TRIM(line) <> ''",
            {"path": path, "delim": "\x1f", "skip": sniffed.skip, "encoding": encoding},
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


def _profile_codes(db: Database, cur: duckdb.DuckDBPyConnection, column: str) -> dict[str, Any]:
    """Counts (int) and sample values (str or None) of the ``profile_codes`` query for one column."""
    _temp_view(cur, "profile_input", cur.table("ingest_raw").select(duckdb.ColumnExpression(column).alias("v")))
    row = db.run("profile_codes", cur=cur).iloc[0]
    return {k: (None if pd.isna(v) else str(v)) if k.startswith("sample") else int(v) for k, v in row.items()}


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
                 "interactions": ("date", "date is not a date"),
                 "surveys": ("date", "date is not a date")}


def unknown_date_form_error(table: str, sniffed: Sniffed, column: str, field: str,
                            examples: list[str]) -> MappingError:
    """One message for a required date column whose values are in no form crmflow
    reads: the column, a few of its values, and how to say the format. A
    MappingError, so that the Data page still previews the file and lets the user
    pick another column."""
    name = Path(sniffed.path).name if sniffed.format != "dataframe" else "data"
    texts = [" ".join(str(v).split()) for v in examples[:3]]  # one line each
    shown = ", ".join('"' + (v if len(v) <= 40 else v[:39] + "…") + '"' for v in texts)
    return MappingError(key="date_form_unknown", table=table_term(table), file=name, column=column,
                        field=field_term(field), examples=shown)


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


Profile = Callable[[int], dict[str, Any]]

#: words in a header that say it holds money (the amount suggestion prefers them)
_MONEY_WORDS = re.compile(r"amount|total|sales|revenue|value|price|sum|net|gross|金额|额|价|收入|合计",
                          re.IGNORECASE)
_CUSTOMER_WORDS = re.compile(r"cust|client|buyer|member|account|user|kunnr|客户|顾客|会员|买家|用户|单位",
                             re.IGNORECASE)
CANCELLED_REASON = "cancelled line (status)"


def _column_ref(headers: list[str], i: int) -> str:
    """How to name column ``i`` in --map: its header when that is short and plain, else #N."""
    h = headers[i]
    return h if h and len(h) <= 30 and not any(c in h for c in "= *×#") else f"#{i + 1}"


def _share(p: dict[str, Any], key: str) -> float:
    return p[key] / p["n_values"] if p["n_values"] else 0.0


def _date_share(p: dict[str, Any]) -> float:
    return max(p["n_iso"], p["n_ymd8"], p["n_slash"], p["n_slash_yy"], p["n_excel"]) / p["n_values"] \
        if p["n_values"] else 0.0


def _looks_like_codes(c: dict[str, Any]) -> bool:
    return c["n_values"] > 0 and c["n_code"] >= max(1, 0.05 * c["n_values"]) and c["n_decimal"] == 0


def suggest_column(field: str, headers: list[str], mapping: dict[str, int], profile: Profile, codes: Profile,
                   exclude: tuple[int, ...] = ()) -> tuple[str, str] | None:
    """A plausible column for ``field`` among the unmapped ones, judged from
    the whole-column profiles (dates for a date field, numbers with decimals
    for amount, repeated id-like values for customer_id): (how to write it in
    --map, how to show it on the page), or None when no column fits."""
    free = [i for i in range(len(headers)) if i not in mapping.values() and i not in exclude]
    if field == "amount" and "quantity" in mapping and "unit_price" in mapping:
        q, p = mapping["quantity"], mapping["unit_price"]
        return f"{_column_ref(headers, q)}*{_column_ref(headers, p)}", f"{headers[q]} × {headers[p]}"
    # a price with no quantity beside it is most likely the line's amount
    price = mapping.get("unit_price") if field == "amount" and "quantity" not in mapping else None
    if price is not None and price not in exclude:
        free.append(price)
    best: tuple[tuple, int] | None = None
    for i in free:
        prof, cod = profile(i), codes(i)
        if not prof["n_values"]:
            continue
        if field in DATE_FIELDS:
            share = _date_share(prof)
            score = (share,) if share >= 0.5 else None
        elif field == "amount":
            ok = (_share(cod, "n_number") >= 0.9 and not _looks_like_codes(cod) and _date_share(prof) < 0.5
                  and not (says_id(headers[i]) and cod["n_decimal"] == 0))
            score = (i == price, bool(_MONEY_WORDS.search(headers[i])), cod["n_decimal"] > 0, cod["n_values"]) \
                if ok else None
        elif field == "customer_id":
            named = bool(_CUSTOMER_WORDS.search(headers[i]))
            repeats = cod["n_values"] < cod["n_rows"]
            plain = _date_share(prof) < 0.5 and cod["n_decimal"] == 0
            ok = plain and (named or says_id(headers[i]) or (repeats and cod["n_number"] < cod["n_values"]))
            score = (named, repeats, says_id(headers[i])) if ok else None  # customers repeat across lines
        else:
            score = None
        if score is not None and (best is None or score > best[0]):
            best = (score, i)
    if best is None:
        return None
    return _column_ref(headers, best[1]), headers[best[1]]


def missing_columns_error(table: str, sniffed: Sniffed, mapping: dict[str, int], missing: list[str],
                          profile: Profile | None = None, codes: Profile | None = None) -> MappingError:
    """One message for required fields no column was mapped to: which fields,
    which columns the file has, and how to map one — with, as an example, a
    column whose content looks like the first missing field (never just the
    first unmapped column; no example when none fits)."""
    name = Path(sniffed.path).name if sniffed.format != "dataframe" else "data"
    headers = sniffed.headers
    field = missing[0]
    option = field if table == "transactions" else f"{table}.{field}"
    params: dict[str, Any] = {"fields": TermList((field_term(f) for f in missing), " / "),
                              "table": table_term(table), "file": name,
                              "columns": ", ".join(headers) or "none", "field": field_term(field), "option": option}
    example = suggest_column(field, headers, mapping, profile, codes) if profile and codes else None
    if example is None:
        return MappingError(key="missing_columns_any", **params)
    return MappingError(key="missing_columns", example=example[0], example_page=example[1], **params)


def check_amount_column(table: str, headers: list[str], mapping: dict[str, int], profile: Profile,
                        codes: Profile) -> None:
    """Refuse an amount mapped to a column of codes or ids, from the profile of
    the whole column: at least 5% of its distinct values codes of letters and
    digits with no decimal anywhere (StockCode: 85123A); and, for a column
    whose name is not a known amount name, most distinct values not numbers,
    or whole numbers only with a name that says code/id/no (CustomerID)."""
    if "amount" not in mapping:
        return
    i = mapping["amount"]
    c = codes(i)
    n = c["n_values"]
    if not n:
        return
    # a column named as an amount keeps its unreadable values as rejected rows (with their reason)
    named = normalise(headers[i]) in {normalise(s) for s in SYNONYMS["transactions"]["amount"]}
    key, share, sample = None, 0.0, c["sample_value"]
    if _looks_like_codes(c):
        key, share, sample = "amount_is_codes", c["n_code"] / n, c["sample_code"]
    elif named:
        return
    elif c["n_number"] < 0.5 * n:
        key, share, sample = "amount_is_text", 1 - c["n_number"] / n, c["sample_text"]
    elif says_id(headers[i]) and c["n_decimal"] == 0 and c["n_integer"] + c["n_float_integral"] == n:
        key = "amount_is_ids"
    if key is None:
        return
    example = suggest_column("amount", headers, mapping, profile, codes, exclude=(i,))
    raise MappingError(key=key, column=headers[i], table=table, share=share, sample=sample,
                       example=example[0] if example else "COLUMN")


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
    derived: dict[str, str] = field(default_factory=dict)  # field -> how it was computed ("Quantity × UnitPrice")

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
        rows_read = stage(cur, sniffed, table, overrides)
    if table == "surveys":  # a wide survey (one row per response, Q1_E/Q1_P ...) is melted to one row per item
        from crmflow.survey_ingest import melt_wide_survey

        long_form = not missing_required(table, apply_overrides(table, sniffed.headers,
                                                                auto_map(table, sniffed.headers), overrides or {}))
        melted = melt_wide_survey(cur, sniffed.headers, long_form) if rows_read else None
        if melted is not None:
            from crmflow.survey_ingest import overrides_by_name

            overrides = overrides_by_name(sniffed.headers, overrides)  # positions change with the melt
            sniffed.notes = [*sniffed.notes, Note("survey_wide", responses=rows_read, items=melted[1] // rows_read)]
            sniffed.headers, rows_read = melted
    if rows_read == 0:
        raise InputFileError(
            f"The {table} file {Path(sniffed.path).name} has a header but no rows",
            "Export the data again with the rows included",
        )
    headers = sniffed.headers
    profile = functools.cache(lambda i: _profile(db, cur, f"c{i}"))  # each column profiled once
    codes = functools.cache(lambda i: _profile_codes(db, cur, f"c{i}"))
    mapping = auto_map(table, headers)
    mapping = apply_overrides(table, headers, mapping, overrides or {})
    notes: list[Note] = []

    if missing_required(table, mapping) and not sniffed.header:
        # Only a headerless file is guessed from content: when the header was
        # read, a column whose name is not a known one is not silently used.
        mapping, notes = _guess_by_content(profile, table, headers, mapping)
    missing = missing_required(table, mapping)
    if missing:
        raise missing_columns_error(table, sniffed, mapping, missing, profile, codes)
    check_amount_column(table, headers, mapping, profile, codes)
    derived: dict[str, str] = {}
    if derives_amount(table, mapping):
        quantity, unit_price = headers[mapping["quantity"]], headers[mapping["unit_price"]]
        derived["amount"] = f"{quantity} × {unit_price}"
        notes.append(Note("amount_derived", quantity=quantity, unit_price=unit_price))
    id_params: dict[str, bool] = {}
    for f in sorted(ID_FIELDS & set(SYNONYMS[table])):
        c = codes(mapping[f]) if f in mapping else None
        id_params[f + "_float"] = bool(c and c["n_values"] and c["n_float_integral"] == c["n_values"])
        if id_params[f + "_float"]:
            sample = c["sample_float"]
            notes.append(Note("ids_from_floats", field=f, column=headers[mapping[f]], sample=sample,
                              fixed=re.sub(r"\.0+$", "", sample)))
    fields = list(SYNONYMS[table])
    exprs = [duckdb.ColumnExpression("row_number")]
    for f in fields:
        if f in mapping:
            exprs.append(duckdb.ColumnExpression(f"c{mapping[f]}").alias(f))
        else:
            exprs.append(duckdb.ConstantExpression(None).cast(duckdb.sqltype("VARCHAR")).alias(f))
    _temp_view(cur, "ingest_stage", cur.table("ingest_raw").select(*exprs))

    warnings = list(sniffed.notes) + list(notes)
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
    if table in ("interactions", "surveys"):
        params = {"date_format": params["date_format"]}
    number_profiles = [profile(mapping[f]) for f in fields if f in NUMBER_FIELDS and f in mapping]
    decimal_comma = choose_decimal_comma(number_profiles, sniffed.delimiter)
    note = decimal_warning(number_profiles, decimal_comma)
    if note:
        warnings.append(note)
    params["decimal_comma"] = decimal_comma
    params.update(id_params)
    if table == "transactions":
        params["derive_amount"] = bool(derived)
    if table == "surveys":
        from crmflow.survey_ingest import choose_scale

        params["scale_min"], params["scale_max"] = choose_scale(db, cur, decimal_comma)
        if params["scale_min"] == 0:
            warnings.append(Note("survey_scale_zero", top=params["scale_max"]))
        else:
            warnings.append(Note("survey_scale", top=params["scale_max"]))

    db.materialise(f"parse_{table}", f"ingest_parsed_{table}", cur=cur, **params)
    use_parsed(cur, table)
    summary = db.run("reject_summary", cur=cur)
    by_reason = {str(r): int(n) for r, n in zip(summary["reason"], summary["rows"]) if r is not None and not pd.isna(r)}
    bad_optional = int(summary["bad_optional"].fillna(0).sum())
    if bad_optional:
        optional = [f for f in fields if f in mapping and f not in REQUIRED[table] and (f in DATE_FIELDS or f in NUMBER_FIELDS or f in BOOL_FIELDS)]
        warnings.append(Note("bad_optional", n=bad_optional, columns=", ".join(optional)))
    rejected = sum(by_reason.values())
    if by_reason.get(CANCELLED_REASON):
        warnings.append(Note("cancelled_lines", n=by_reason[CANCELLED_REASON], column=headers[mapping["status"]]))
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
        derived=derived,
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
        out.append("  columns: " + ", ".join(f"{f} <- {c}" for f, c in {**r.mapping, **r.derived}.items()))
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
