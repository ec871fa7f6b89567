"""Charts of the Service quality view (crmflow.servqual): the gap per
dimension with its 95% interval, and the dimension gaps over time. Data in,
figure out; titles and labels come from the caller, already translated."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, BAD, GOOD, NEUTRAL, WARN, finish

DIMENSION_COLORS = {"tangibles": NEUTRAL, "reliability": BAD, "responsiveness": WARN, "assurance": ACCENT,
                    "empathy": GOOD}


def dimension_gap_bars(dimensions: pd.DataFrame, labels: dict[str, str], title: str, axis_title: str) -> go.Figure:
    """Horizontal bars of each dimension's mean gap (perception − expectation),
    with its 95% interval as an error bar; a gap below zero falls short."""
    fig = go.Figure(go.Bar(
        x=dimensions["gap"], y=[labels[d] for d in dimensions["dimension"]], orientation="h",
        marker_color=[DIMENSION_COLORS.get(d, ACCENT) for d in dimensions["dimension"]],
        error_x={"type": "data", "symmetric": False, "array": dimensions["ci_high"] - dimensions["gap"],
                 "arrayminus": dimensions["gap"] - dimensions["ci_low"], "color": "#334155"},
        # the value inside the bar, by the zero line: the interval's whisker is at the bar's end
        text=[f"{g:+.2f}" for g in dimensions["gap"]], textposition="inside", insidetextanchor="start",
        textfont={"color": "white"},
    ))
    fig.update_yaxes(autorange="reversed")
    fig.add_vline(x=0, line_color="#334155", line_width=1)
    return finish(fig, title, axis_title, None, height=360, legend=False)


def gap_trend_lines(trend: pd.DataFrame, labels: dict[str, str], title: str, x_title: str,
                    y_title: str) -> go.Figure:
    """One line per dimension: its mean gap per month or quarter."""
    fig = go.Figure()
    for dimension in dict.fromkeys(trend["dimension"]):
        part = trend[trend["dimension"] == dimension]
        fig.add_trace(go.Scatter(x=pd.to_datetime(part["period"]), y=part["gap"], mode="lines+markers",
                                 name=labels[dimension], line={"color": DIMENSION_COLORS.get(dimension, ACCENT)}))
    fig.add_hline(y=0, line_color="#334155", line_width=1)
    fig.update_xaxes(tickformat="%Y-%m", hoverformat="%Y-%m")  # numbers only: no English month names
    return finish(fig, title, x_title, y_title, height=400)
