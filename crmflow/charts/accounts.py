"""Charts of the Key accounts view and the per-account page: the component
heat-table, the value matrix, one account's timeline (orders, payments,
contacts on a shared time axis) and its health history. Data in, figure out;
every title is passed in already stating the finding. Names and notes from
the data are escaped before they reach a hover label (Plotly reads a few HTML
tags in text)."""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmflow.charts import ACCENT, BAD, GOOD, NEUTRAL, WARN, finish

#: Health score colours: red below 40, amber to 70, green above (the status bands).
HEALTH_SCALE = [[0.0, BAD], [0.4, WARN], [0.7, GOOD], [1.0, GOOD]]
#: Band fills behind the health history.
BANDS = ((0, 40, BAD), (40, 70, WARN), (70, 100, GOOD))
QUADRANT_COLORS = {"core": GOOD, "direct": ACCENT, "potential": WARN, "poor": NEUTRAL}
INVOICE_STYLE = {"on_time": (GOOD, "circle"), "late": (WARN, "triangle-up"), "overdue": (BAD, "x"),
                 "open": (NEUTRAL, "circle-open")}
#: Most rows the heat-table draws (the weakest accounts first).
MAX_HEAT_ROWS = 60


#: Date ticks as numbers (2025-03, 2025-03-14), never month names: Plotly
#: writes month names in English only, so a Chinese page would show "Jan 2025".
DATE_TICKS = [
    {"dtickrange": [None, 86_400_000 * 27], "value": "%Y-%m-%d"},
    {"dtickrange": [86_400_000 * 27, 86_400_000 * 364], "value": "%Y-%m"},
    {"dtickrange": [86_400_000 * 364, None], "value": "%Y"},
]


def plain(text: object) -> str:
    """User text safe for a Plotly label (no tag is interpreted)."""
    return html.escape("" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text))


#: What :func:`html.escape` replaces, in its order (``&`` first).
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))


def plain_column(values: pd.Series) -> np.ndarray:
    """:func:`plain` of every value of a column, as an object array: the text
    is escaped column-wise; only the missing values are looked at one by one."""
    s = pd.Series(values).reset_index(drop=True)
    out = np.empty(len(s), dtype=object)
    missing = s.isna().to_numpy()
    out[missing] = [plain(v) for v in s[missing]]  # None, NaN: ""; pd.NA, NaT: their text
    text = s[~missing].astype(str)
    for old, new in _ESCAPES:
        text = text.str.replace(old, new, regex=False)
    out[~missing] = text.to_numpy(dtype=object)
    return out


def component_heatmap(scores: pd.DataFrame, column_labels: Mapping[str, str], title: str, colour_title: str,
                      missing_label: str) -> go.Figure:
    """Accounts (rows, in the frame's order, at most :data:`MAX_HEAT_ROWS`) ×
    component scores 0–100 (columns). A missing score is a grey cell with '—'."""
    frame = scores.head(MAX_HEAT_ROWS)
    z = frame.to_numpy(dtype=np.float64)
    x = [_wrap(column_labels[c]) for c in frame.columns]
    y = [plain(i) for i in frame.index]
    missing = np.where(np.isnan(z), 1.0, np.nan)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=missing, x=x, y=y, colorscale=[[0, "#e5e7eb"], [1, "#e5e7eb"]], showscale=False,
        text=[["—" if m == 1 else "" for m in row] for row in missing], texttemplate="%{text}",
        hovertemplate="%{y} · %{x}: " + plain(missing_label) + "<extra></extra>", hoverongaps=False,
    ))
    fig.add_trace(go.Heatmap(
        z=z, x=x, y=y, colorscale=HEALTH_SCALE, zmin=0, zmax=100, hoverongaps=False,
        texttemplate="%{z:.0f}", textfont={"size": 12},
        colorbar={"title": {"text": colour_title}},
        hovertemplate="%{y} · %{x}: %{z:.0f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category", tickangle=0)
    height = int(max(320, 26 * len(frame) + 170))
    fig = finish(fig, title, None, None, height=height, legend=False)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 110, "b": 10})
    return fig


def _wrap(text: str, width: int = 14) -> str:
    """A column label on up to two lines (split at the space nearest the middle)."""
    if len(text) <= width or " " not in text:
        return plain(text)
    middle = len(text) // 2
    cut = min((i for i, ch in enumerate(text) if ch == " "), key=lambda i: abs(i - middle))
    return plain(text[:cut]) + "<br>" + plain(text[cut + 1:])


def value_matrix_scatter(matrix: pd.DataFrame, quadrant_labels: Mapping[str, str], title: str, x_title: str,
                         y_title: str, *, log: bool = False, basis_note: str = "") -> go.Figure:
    """Current value (x) × potential value (y) per customer of a
    :func:`crmflow.health.value_matrix` frame, one colour per quadrant, dashed
    lines at the cut-offs. With ``log`` axes, values ≤ 0 are drawn at the
    axis floor (half the smallest positive value) and say so on hover."""
    fig = go.Figure()
    x = matrix["current_value"].astype("float64").to_numpy()
    y = matrix["potential_value"].astype("float64").to_numpy()
    x_floor = y_floor = None
    if log:
        x_floor = _floor(x)
        y_floor = _floor(y)
        x = np.where(x > x_floor, x, x_floor)
        y = np.where(y > y_floor, y, y_floor)
    ids = plain_column(matrix["customer_id"])
    name = plain_column(matrix["name"])
    is_text = np.fromiter(map(isinstance, matrix["name"].to_numpy(dtype=object), itertools.repeat(str)), bool,
                          count=len(matrix))
    names = np.where(is_text & (name != ""), name, ids)  # the name when it is text, else the id
    real_x = matrix["current_value"].astype("float64").to_numpy()
    real_y = matrix["potential_value"].astype("float64").to_numpy()
    for quadrant, label in quadrant_labels.items():
        rows = (matrix["quadrant"] == quadrant).to_numpy()
        if not rows.any():
            continue
        custom = np.column_stack([names[rows], ids[rows], real_x[rows], real_y[rows]])
        fig.add_trace(go.Scattergl(
            x=x[rows], y=y[rows], mode="markers", name=f"{label} ({int(rows.sum()):,})",
            marker={"color": QUADRANT_COLORS.get(quadrant, NEUTRAL), "size": 8, "opacity": 0.75,
                    "line": {"width": 0.5, "color": "white"}},
            customdata=custom,
            hovertemplate=("<b>%{customdata[0]}</b> (%{customdata[1]})<br>" + plain(x_title) + ": %{customdata[2]:,.0f}"
                           "<br>" + plain(y_title) + ": %{customdata[3]:,.0f}<extra>" + plain(label) + "</extra>"),
        ))
    if len(matrix):
        c_cut = float(matrix["current_cut"].iloc[0])
        p_cut = float(matrix["potential_cut"].iloc[0])
        if log:
            c_cut = c_cut if c_cut > 0 else x_floor
            p_cut = p_cut if p_cut > 0 else y_floor
        fig.add_vline(x=c_cut, line_dash="dash", line_color="#475569", line_width=1.5)
        fig.add_hline(y=p_cut, line_dash="dash", line_color="#475569", line_width=1.5)
    axis = {"type": "log"} if log else {}
    fig.update_xaxes(tickformat=",~g", **axis)
    fig.update_yaxes(tickformat=",~g", **axis)
    fig = finish(fig, title, x_title, y_title, height=520)
    if basis_note:
        fig.update_layout(title_subtitle={"text": plain(basis_note), "font": {"size": 13}}, margin_t=125)
    return fig


def _floor(values: np.ndarray) -> float:
    """The lowest value a log axis shows: half the smallest positive value, but
    not below 1/10,000 of the positive values' median (a few near-zero
    predictions would otherwise stretch the axis over many decades)."""
    positive = values[values > 0]
    if not positive.size:
        return 1.0
    return float(max(positive.min() / 2, np.median(positive) / 1e4))


def account_timeline(orders: pd.DataFrame, invoices: pd.DataFrame | None, interactions: pd.DataFrame | None,
                     labels: Mapping[str, str], title: str) -> go.Figure:
    """One account on one time axis: amount per order day (returns below zero in
    red), invoices by due date against days paid late (late and overdue ones
    marked), and interactions by type (complaints marked, unresolved ones large
    and red). ``invoices`` / ``interactions`` None leaves their row out.

    ``labels`` keys: orders, returns, amount, days_late, contacts, complaint,
    unresolved, on_time, late, overdue, open, due, paid, unpaid, date."""
    rows = ["orders"] + (["payments"] if invoices is not None else []) + (
        ["contacts"] if interactions is not None else [])
    heights = {"orders": 0.5, "payments": 0.25, "contacts": 0.25}
    total = sum(heights[r] for r in rows)
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[heights[r] / total for r in rows])
    row = {name: i + 1 for i, name in enumerate(rows)}

    bought = orders[orders["kind"] == "order"]
    returned = orders[orders["kind"] != "order"]
    width = _bar_width(orders, invoices, interactions)
    fig.add_trace(go.Bar(x=pd.to_datetime(bought["order_date"]), y=bought["amount"], name=labels["orders"],
                         marker_color=ACCENT, width=width, hovertemplate="%{x|%Y-%m-%d}: %{y:,.2f}<extra>"
                         + plain(labels["orders"]) + "</extra>"), row=1, col=1)
    if len(returned):
        fig.add_trace(go.Bar(x=pd.to_datetime(returned["order_date"]), y=returned["amount"], name=labels["returns"],
                             marker_color=BAD, width=width, hovertemplate="%{x|%Y-%m-%d}: %{y:,.2f}<extra>"
                             + plain(labels["returns"]) + "</extra>"), row=1, col=1)
    fig.update_yaxes(title_text=labels["amount"], tickformat="~s", row=1, col=1)

    if invoices is not None:
        r = row["payments"]
        for status in ("on_time", "late", "overdue", "open"):
            part = invoices[invoices["status"] == status]
            if part.empty:
                continue
            colour, symbol = INVOICE_STYLE[status]
            days = part["days_late"].astype("float64").fillna(0.0)
            paid = [labels["unpaid"] if pd.isna(p) else pd.Timestamp(p).strftime("%Y-%m-%d")
                    for p in part["paid_date"]]
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(part["due_date"]), y=days, mode="markers", name=labels[status],
                marker={"color": colour, "symbol": symbol, "size": 11 if status in ("late", "overdue") else 7,
                        "line": {"width": 1, "color": colour}},
                customdata=np.column_stack([paid, part["amount"].astype("float64")]),
                hovertemplate=(plain(labels["due"]) + " %{x|%Y-%m-%d} · " + plain(labels["paid"])
                               + " %{customdata[0]}<br>%{y:+.0f} · %{customdata[1]:,.2f}<extra>"
                               + plain(labels[status]) + "</extra>"),
            ), row=r, col=1)
        fig.add_hline(y=0, line_color="#475569", line_width=1, row=r, col=1)
        fig.update_yaxes(title_text=labels["days_late"], row=r, col=1)

    if interactions is not None:
        r = row["contacts"]
        kinds = (("contact", ~interactions["is_complaint"], ACCENT, "circle", 7),
                 ("complaint", interactions["is_complaint"] & ~interactions["is_unresolved"], WARN, "diamond", 10),
                 ("unresolved", interactions["is_unresolved"], BAD, "x", 14))
        for key, mask, colour, symbol, size in kinds:
            part = interactions[mask.to_numpy(dtype=bool)]
            if part.empty:
                continue
            notes = [plain(n) for n in part["note"]]
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(part["date"]), y=[plain(v) for v in part["type"]], mode="markers",
                name=labels["contacts"] if key == "contact" else labels[key],
                marker={"color": colour, "symbol": symbol, "size": size, "line": {"width": 1, "color": colour}},
                customdata=notes,
                hovertemplate="%{x|%Y-%m-%d} · %{y}<br>%{customdata}<extra></extra>",
            ), row=r, col=1)
        fig.update_yaxes(title_text=labels["contacts"], type="category", row=r, col=1)

    fig.update_layout(barmode="relative", bargap=0.1)
    fig.update_xaxes(tickformatstops=DATE_TICKS, hoverformat="%Y-%m-%d")
    fig.update_xaxes(title_text=labels["date"], row=len(rows), col=1)
    fig = finish(fig, title, None, None, height=300 + 160 * len(rows))
    # up to nine legend entries wrap to two rows: room for them between the title and the plot
    return fig.update_layout(margin={"t": 120})


def _bar_width(orders: pd.DataFrame, *others: pd.DataFrame | None) -> float:
    """Bar width (milliseconds on a date axis): 1/150 of the time span shown, at least a day."""
    dates = [pd.to_datetime(orders["order_date"])]
    for frame in others:
        if frame is not None and len(frame):
            dates.append(pd.to_datetime(frame["due_date"] if "due_date" in frame else frame["date"]))
    every = pd.concat(dates) if dates else pd.Series(dtype="datetime64[ns]")
    span = (every.max() - every.min()).days if len(every) else 0
    return max(1.0, span / 150) * 86_400_000


def health_history_chart(history: pd.DataFrame, title: str, x_title: str, y_title: str,
                         band_labels: Mapping[str, str]) -> go.Figure:
    """The health score at each date of a :func:`crmflow.health.health_history`
    frame, over the status bands (red < 40, amber 40–69, green ≥ 70)."""
    fig = go.Figure()
    for (low, high, colour), key in zip(BANDS, ("at_risk", "watch", "healthy")):
        fig.add_hrect(y0=low, y1=high, fillcolor=colour, opacity=0.10, line_width=0,
                      annotation_text=band_labels[key], annotation_position="right",
                      annotation_font_color=colour)
    fig.add_trace(go.Scatter(
        x=pd.to_datetime(history["snapshot_date"]), y=history["health_score"].astype("float64"),
        mode="lines+markers", line={"width": 3, "color": ACCENT}, marker={"size": 7}, connectgaps=False,
        hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}<extra></extra>",
    ))
    fig.update_yaxes(range=[0, 100], dtick=10)
    fig.update_xaxes(tickformatstops=DATE_TICKS, hoverformat="%Y-%m-%d")
    return finish(fig, title, x_title, y_title, height=380, legend=False)
