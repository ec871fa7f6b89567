"""Loyalty charts (crmflow.loyalty): the share measures at each month end."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, BAD, GOOD, WARN, finish

COLOURS = {"repeat_rate": ACCENT, "breadth": GOOD, "reorder_share": WARN, "price_sensitivity": BAD}


def loyalty_trend(trend: pd.DataFrame, measures: tuple[str, ...], names: dict[str, str], title: str,
                  x_title: str, y_title: str, *, height: int = 380) -> go.Figure:
    """One line per share measure of a :func:`crmflow.loyalty.over_time`
    frame (empty values leave a gap), y in percent."""
    fig = go.Figure()
    x = pd.to_datetime(trend["snapshot_date"])
    for m in measures:
        y = pd.to_numeric(trend[m], errors="coerce") * 100
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=names[m], connectgaps=False,
                                 line={"width": 3, "color": COLOURS[m]}, marker={"size": 6},
                                 hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}%<extra>" + names[m] + "</extra>"))
    fig.update_yaxes(rangemode="tozero", ticksuffix="%")
    fig.update_xaxes(tickformat="%Y-%m")
    fig = finish(fig, title, x_title, y_title, height=height + 30 * len(measures))
    # up to four names in half a page: under the plot, one per line, never over the title
    fig.update_layout(legend={"orientation": "v", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
                      margin={"b": 40 + 26 * len(measures) + 40})
    return fig
