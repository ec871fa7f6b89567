"""Charts of the Overview view: stage counts over time, the N/t/D trends and
the Pareto curve. Data in, figure out; titles (the findings) come from the
caller, already translated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, NEUTRAL, finish
from crmflow.config import STAGE_COLORS, STAGES

#: Most points a Pareto curve is drawn with (the curve is thinned evenly beyond).
PARETO_POINTS = 600


def stage_area(snapshots: pd.DataFrame, labels: dict[str, str], title: str, x_title: str, y_title: str, *,
               height: int = 420) -> go.Figure:
    """Stacked areas of customers per stage at each snapshot date of a
    :func:`crmflow.stages.stage_snapshots` frame, one colour per stage."""
    fig = go.Figure()
    x = pd.to_datetime(snapshots["snapshot_date"])
    for stage in STAGES:
        if stage not in snapshots:
            continue
        fig.add_trace(go.Scatter(
            x=x, y=snapshots[stage], name=labels[stage], mode="lines", stackgroup="stages",
            line={"width": 0.5, "color": STAGE_COLORS[stage]}, fillcolor=STAGE_COLORS[stage],
            hovertemplate="%{x|%Y-%m-%d}<br>" + labels[stage] + ": %{y:,}<extra></extra>",
        ))
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(tickformat="%Y-%m")
    fig = finish(fig, title, x_title, y_title, height=height)
    fig.update_layout(legend_traceorder="normal")
    return fig


def trend_line(trends: pd.DataFrame, column: str, title: str, x_title: str, y_title: str, *,
               subtitle: str | None = None, color: str = ACCENT, value_format: str = ",.0f",
               height: int = 340) -> go.Figure:
    """One N/t/D series of a :func:`crmflow.analytics.ntd_trends` frame as a line
    with markers (missing values leave a gap); ``subtitle`` goes under the title."""
    fig = go.Figure(go.Scatter(
        x=pd.to_datetime(trends["snapshot_date"]), y=trends[column], mode="lines+markers",
        line={"width": 3, "color": color}, marker={"size": 6}, connectgaps=False,
        hovertemplate="%{x|%Y-%m-%d}: %{y:" + value_format + "}<extra></extra>",
    ))
    fig.update_yaxes(rangemode="tozero", tickformat=value_format)
    fig.update_xaxes(tickformat="%Y-%m")
    fig = finish(fig, title, x_title, y_title, height=height, legend=False)
    if subtitle:
        fig.update_layout(title_subtitle={"text": subtitle, "font": {"size": 14}}, margin_t=90)
    return fig


def thin(curve: pd.DataFrame, keep: int, points: int = PARETO_POINTS) -> pd.DataFrame:
    """At most about ``points`` rows of a Pareto curve, evenly spaced by rank,
    always with the first, the last and the row of rank ``keep``."""
    n = len(curve)
    if n <= points:
        return curve
    idx = set(np.linspace(0, n - 1, points).round().astype(int).tolist()) | {0, n - 1}
    if 1 <= keep <= n:
        idx.add(keep - 1)
    return curve.iloc[sorted(idx)]


def pareto_curve(curve: pd.DataFrame, title: str, x_title: str, y_title: str, *, top_customers: int,
                 top_share: float, marker_label: str, color: str = ACCENT, height: int = 420) -> go.Figure:
    """The cumulative share of the total (y, %) by share of customers ranked by
    value (x, %), with the equal-share diagonal and the top-20% point marked.
    ``curve`` is a :func:`crmflow.analytics.pareto` frame with a positive total."""
    shown = thin(curve, top_customers)
    x = np.concatenate([[0.0], shown["customer_share"].to_numpy() * 100])
    y = np.concatenate([[0.0], shown["cumulative_share"].to_numpy() * 100])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 100], y=[0, 100], mode="lines", line={"dash": "dot", "color": NEUTRAL},
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"width": 3, "color": color}, showlegend=False,
                             hovertemplate="%{x:.1f}% → %{y:.1f}%<extra></extra>"))
    n = len(curve)
    mx, my = top_customers / n * 100 if n else 20.0, top_share * 100
    fig.add_trace(go.Scatter(x=[mx], y=[my], mode="markers+text", marker={"size": 12, "color": color},
                             text=[marker_label], textposition="bottom right", textfont={"size": 15},
                             showlegend=False, hoverinfo="skip"))
    fig.add_shape(type="line", x0=mx, x1=mx, y0=0, y1=my, line={"dash": "dash", "color": color, "width": 1})
    fig.add_shape(type="line", x0=0, x1=mx, y0=my, y1=my, line={"dash": "dash", "color": color, "width": 1})
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    return finish(fig, title, x_title, y_title, height=height, legend=False)
