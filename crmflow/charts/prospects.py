"""Conversion prospects (crmflow.prospects): customers in each stage now and
how many of them are expected to take their next step."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, NEUTRAL, finish


def step_bars(steps: pd.DataFrame, now_label: str, expected_label: str, title: str, x_title: str,
              y_title: str) -> go.Figure:
    """Per step (``steps``: columns step, customers, expected), the customers
    in the stage now beside the number expected to take the step (no bar
    for a step nobody can be scored on: ``expected`` NaN)."""
    x = list(steps["step"])
    fig = go.Figure([
        go.Bar(x=x, y=steps["customers"], name=now_label, marker_color=NEUTRAL,
               hovertemplate="%{x}: %{y:,}<extra>" + now_label + "</extra>"),
        go.Bar(x=x, y=[None if pd.isna(v) else float(v) for v in steps["expected"]], name=expected_label,
               marker_color=ACCENT, text=["" if pd.isna(v) else f"{v:,.0f}" for v in steps["expected"]],
               textposition="outside",
               hovertemplate="%{x}: %{y:,.1f}<extra>" + expected_label + "</extra>"),
    ])
    fig.update_layout(barmode="group")
    return finish(fig, title, x_title, y_title, height=400)
