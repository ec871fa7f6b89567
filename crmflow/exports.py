"""Downloads that are safe to open in Excel.

A text cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab/carriage
return) is read by spreadsheet programs as a formula — a CSV-injection risk
when the text came from someone else's export. Such cells get a leading
apostrophe. Numeric columns are left alone (a negative amount stays a number).
"""

from __future__ import annotations

import io

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> str:
    return safe_frame(frame).to_csv(index=False)


def safe_excel(frame: pd.DataFrame, sheet_name: str = "data") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        safe_frame(frame).to_excel(writer, index=False, sheet_name=sheet_name[:31])
    return buf.getvalue()
