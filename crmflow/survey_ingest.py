"""Reading a Servqual survey (the optional ``surveys`` table, see crmflow.servqual).

Two shapes are read:

- long: one row per response × item, with an item column and an expectation
  and a perception column (names mapped like every table, crmflow.mapping);
- wide: one row per response, a pair of columns per item whose names carry an
  expectation or perception word before or after the item: ``Q1_E``/``Q1_P``,
  ``E1``/``P1``, ``Q1(E)``/``Q1(P)``, ``期望1``/``感知1``, ``Q1（期望）``/``Q1（感知）``,
  ``期望得分1``/``感知得分1``, ``Q3 expectation``/``Q3 perception``,
  ``Q1 Expectation Score``/``Q1 Perception Score`` (a Latin word such as E or
  P counts only where no other letter touches it: not in ``Name``). Such
  a file is melted to the long shape (the other columns, e.g. date and
  customer id, repeated on each item's row; the row number stays the file's).

The score scale is read from the scores: 0-10 when a score is 0, otherwise the
smallest of 1-5, 1-7 and 1-10 whose top is at least the largest score (a
score above 10 is out of every scale and does not count; with no score in
scale, 1-10). A score outside the scale is rejected with its reason
(crmflow/queries/ingest/parse_surveys.sql).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import reduce

import duckdb
import pandas as pd

from crmflow.db import Database

#: words that mark an expectation / a perception column of a wide survey (longest first)
WIDE_WORDS = {
    "expectation": ("expectations", "expectation", "expected", "期望值", "期望分", "期望", "exp", "e"),
    "perception": ("perceptions", "perception", "perceived", "感知值", "感知分", "感知", "perc", "per", "p"),
}
#: the fields a wide survey's column pairs give (the melted columns)
WIDE_FIELDS = ("item", "expectation", "perception")
SCALES = (5, 7, 10)
_SEP = r"[\s_\-.:：()（）\[\]]*"


#: a word that may follow the side word (``Q1 Expectation Score``, ``期望得分1``)
_SCORE = r"(?:{sep}(?:scores|score|得分|分数))?".format(sep=_SEP)


def _alternation(words: Sequence[str]) -> str:
    """The words as a regex alternation; a Latin word only where no other Latin
    letter touches it (``E`` in ``Q1_E`` and ``E1``, not in ``Name``)."""
    return "|".join(rf"(?<![a-z]){re.escape(w)}(?![a-z])" if w.isascii() else re.escape(w) for w in words)


def _wide_side(header: str) -> tuple[str, str] | None:
    """(``expectation``|``perception``, item) when the header names one side of a wide item pair."""
    text = unicodedata.normalize("NFKC", str(header)).strip()
    for pattern in (r"(?P<item>.+?){sep}(?P<tok>{alt}){score}{sep}", r"{sep}(?P<tok>{alt}){score}{sep}(?P<item>.+?){sep}"):
        for side, words in WIDE_WORDS.items():
            m = re.fullmatch(pattern.format(sep=_SEP, alt=_alternation(words), score=_SCORE), text, re.IGNORECASE)
            item = m.group("item").strip(" _-.:()[]") if m else ""
            if item:
                return side, item
    return None


def item_label(item: str) -> str:
    """``1`` -> ``Q1``; anything else as written."""
    return f"Q{int(item)}" if item.isdigit() else item


def wide_pairs(headers: Sequence[str]) -> list[tuple[str, int, int]]:
    """(item label, expectation column, perception column) for each item that has
    exactly one column of each side, in the order of the expectation columns."""
    sides: dict[str, dict[str, list[int]]] = {}
    order: list[str] = []
    for i, h in enumerate(headers):
        found = _wide_side(h)
        if found is None:
            continue
        side, item = found
        key = item.lower()
        if key not in sides:
            sides[key] = {"expectation": [], "perception": []}
            order.append(key)
        sides[key][side].append(i)
    pairs = []
    for key in order:
        e, p = sides[key]["expectation"], sides[key]["perception"]
        if len(e) == 1 and len(p) == 1:
            pairs.append((item_label(_wide_side(headers[e[0]])[1]), e[0], p[0]))
    return pairs


def melt_wide_survey(cur: duckdb.DuckDBPyConnection, headers: list[str], long_form: bool) -> tuple[list[str], int] | None:
    """Melt a wide survey staged as the view ingest_raw(row_number, c0..cN) into the
    long shape, in place (ingest_raw then reads the melted rows). Returns the new
    headers and the number of long rows, or None when the file is not wide
    (``long_form``: the long columns are mapped already, or no item pair is found)."""
    if long_form:
        return None
    pairs = wide_pairs(headers)
    if not pairs:
        return None
    used = {i for _, e, p in pairs for i in (e, p)}
    kept = [i for i in range(len(headers)) if i not in used]
    raw = cur.table("ingest_raw")
    varchar = duckdb.sqltype("VARCHAR")
    parts = []
    for k, (label, e, p) in enumerate(pairs):
        exprs = [duckdb.ColumnExpression("row_number"), duckdb.ConstantExpression(k).alias("pair_index")]
        exprs += [duckdb.ColumnExpression(f"c{i}").alias(f"c{j}") for j, i in enumerate(kept)]
        n = len(kept)
        exprs += [duckdb.ConstantExpression(label).cast(varchar).alias(f"c{n}"),
                  duckdb.ColumnExpression(f"c{e}").alias(f"c{n + 1}"),
                  duckdb.ColumnExpression(f"c{p}").alias(f"c{n + 2}")]
        parts.append(raw.select(*exprs))
    melted = reduce(lambda a, b: a.union(b), parts).order("row_number, pair_index")
    cur.register("survey_melt_source", melted)
    try:
        cur.execute("CREATE OR REPLACE TEMP TABLE ingest_survey_cells AS "
                    "SELECT * EXCLUDE (pair_index) FROM survey_melt_source")
    finally:
        cur.unregister("survey_melt_source")
    cur.register("ingest_raw", cur.table("ingest_survey_cells"))
    rows = cur.execute("SELECT COUNT(*) FROM ingest_survey_cells").fetchone()[0]
    return [headers[i] for i in kept] + list(WIDE_FIELDS), int(rows)


def choose_scale(db: Database, cur: duckdb.DuckDBPyConnection, decimal_comma: bool) -> tuple[int, int]:
    """(bottom, top) of the score scale of the staged survey (view ingest_stage):
    (0, 10) when a score is 0, else (1, the smallest of 5, 7, 10 at least the
    largest score ≤ 10); (1, 10) when there is no such score."""
    row = db.run("profile_scores", cur=cur, decimal_comma=decimal_comma).iloc[0]
    if int(row["zeros"] or 0) > 0:
        return 0, 10
    largest = row["max_score"]
    if largest is None or pd.isna(largest):
        return 1, SCALES[-1]
    return 1, next(top for top in SCALES if top >= float(largest))


def overrides_by_name(headers: Sequence[str], overrides: dict[str, str] | None) -> dict[str, str]:
    """``--map`` overrides by position (``#3``) turned into the header's name, so
    they still name the same column after a wide survey is melted."""
    out = {}
    for f, column in (overrides or {}).items():
        if column.startswith("#") and column[1:].isdigit() and 0 < int(column[1:]) <= len(headers):
            column = headers[int(column[1:]) - 1]
        out[f] = column
    return out
