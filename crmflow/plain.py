"""User text shown as text.

Text that comes from the data (dataset names, customer names and ids,
regions, owners, products, categories, notes) is never read as Markdown,
HTML or a spreadsheet formula:

* :func:`md` -- for a Streamlit element that renders Markdown (``st.markdown``,
  ``st.caption``, ``st.title``/``header``/``subheader``, ``st.info`` and the
  other alerts, metric and expander labels, radio options): one line, every
  character Markdown, a Streamlit directive (``:red[...]``, ``:material/x:``),
  LaTeX (``$``) or an HTML entity (``&amp;``) could act on is backslash-escaped,
  so it shows literally.
* :func:`table` -- for a frame handed to ``st.dataframe`` / ``st.table``:
  a copy whose text cells, column names and index labels that start with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
  apostrophe (the rule of :mod:`crmflow.exports`), so the table toolbar's own
  "Download as CSV" writes nothing a spreadsheet would run.
"""

from __future__ import annotations

import re

import pandas as pd

from crmflow.exports import FORMULA_STARTS, neutralise

#: Characters a CommonMark / GFM / Streamlit Markdown renderer may act on (@: e-mail autolinks;
#: a cell escaped with these never starts with a formula character either).
MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>#+-.!|~$:&=@\"'")


#: An invisible word joiner. GFM turns bare URLs (``http://``, ``www.``) and
#: e-mail addresses into links after parsing, escapes or not; a joiner after
#: the scheme / ``www`` and before ``@`` keeps them plain text.
JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?<![a-z])(https?|ftp|mailto|xmpp|www)(?=[:.])|(?=@)")


def md(text: object) -> str:
    """User text safe inside Markdown: whitespace (new lines too) folded to
    one space, every special character backslash-escaped (CommonMark turns an
    escaped ASCII punctuation character back into itself) and no bare URL or
    e-mail address left for GFM to link."""
    one_line = _AUTOLINK.sub(lambda m: (m.group(1) or "") + JOINER,
                             " ".join(str("" if text is None else text).split()))
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in one_line)


def md_paragraphs(text: object) -> str:
    """Like :func:`md`, keeping blank-line paragraph breaks (a longer message)."""
    parts = str("" if text is None else text).split("\n\n")
    return "\n\n".join(md(p) for p in parts if p.strip())


def unmd(text: str) -> str:
    """The text a reader sees for Markdown made by :func:`md` (escapes removed);
    for tests comparing shown text with the plain text it came from."""
    return re.sub(r"\\(.)", r"\1", text).replace(JOINER, "")


def css_text(text: str) -> str:
    """A label from the translation tables as a CSS string (quotes, backslashes and angle brackets escaped)."""
    return '"' + "".join(f"\\{ord(c):x} " if c in '"\\<>' else c for c in text) + '"'


def is_formula(value: object) -> bool:
    """Whether a cell would be read as a formula by a spreadsheet program."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def _labels(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_labels(level) for level in index.levels])
    if index.dtype == object or pd.api.types.is_string_dtype(index):
        return index.map(neutralise).rename(neutralise(index.name) if isinstance(index.name, str) else index.name)
    return index


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` fit for a table on screen and its built-in CSV
    download: formula-looking text in cells, column names and index labels
    neutralised (numbers, dates and other text are left as they are)."""
    out = frame.copy()
    for i, col in enumerate(out.columns):
        column = out.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            out.isetitem(i, column.map(neutralise))
    out.columns = _labels(out.columns)
    out.index = _labels(out.index)
    return out
