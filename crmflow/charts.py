"""Chart builders: data in, Plotly figure out (never shown here)."""

from __future__ import annotations

import plotly.graph_objects as go

from crmflow.config import STAGE_COLORS, STAGES


def stage_bar(counts: dict[str, int], labels: dict[str, str], title: str, axis_title: str) -> go.Figure:
    """Horizontal bars of customers per stage, in flow order, one colour per stage."""
    stages = [s for s in STAGES if s in counts]
    fig = go.Figure(
        go.Bar(
            x=[counts[s] for s in stages],
            y=[labels[s] for s in stages],
            orientation="h",
            marker_color=[STAGE_COLORS[s] for s in stages],
            text=[f"{counts[s]:,}" for s in stages],
            textposition="auto",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=axis_title,
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 60, "b": 40},
        height=360,
    )
    return fig
