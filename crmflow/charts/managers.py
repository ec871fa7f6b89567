"""Charts for managers (issue 12, item 9): revenue per month split by region
or owner. Data in, figure out; the title (the finding) and the labels come
from the caller, already translated."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, NEUTRAL, finish

#: Colours of the groups, in order (the group "other" is grey).
PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#7c3aed", "#dc2626", "#0891b2", "#db2777", "#a16207")


def revenue_months(table: pd.DataFrame, names: dict[object, str], title: str, x_title: str, y_title: str, *,
                   subtitle: str | None = None, height: int = 420) -> go.Figure:
    """Stacked monthly bars of a :func:`crmflow.managers.revenue_by_month`
    table: one bar segment per group (column), named by ``names`` (group ->
    shown name; user text, set as plain trace names). A table with one column
    is drawn as one colour without a legend."""
    fig = go.Figure()
    x = pd.to_datetime(pd.Series(table.index, dtype="object"))
    for i, group in enumerate(table.columns):
        colour = NEUTRAL if group == "__other__" else (ACCENT if table.shape[1] == 1 else PALETTE[i % len(PALETTE)])
        name = html.escape(names.get(group, str(group)))  # user text: shown as text, never as markup
        fig.add_trace(go.Bar(x=x, y=table[group].to_numpy(), name=name, marker_color=colour,
                             hovertemplate="%{x|%Y-%m}: %{y:,.0f}<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="relative", hovermode="x unified")
    fig.update_xaxes(tickformat="%Y-%m", dtick="M1" if len(table) <= 14 else "M3")
    fig.update_yaxes(tickformat=",.0f")
    fig = finish(fig, title, x_title, y_title, height=height, legend=table.shape[1] > 1)
    if subtitle:
        fig.update_layout(title_subtitle={"text": subtitle, "font": {"size": 14}}, margin_t=90)
    if table.shape[1] > 1:
        fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
                          margin_b=110)
    return fig
