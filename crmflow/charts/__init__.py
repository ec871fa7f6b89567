"""Chart builders: data in, Plotly figure out (never shown here).

One module per view (``overview``, ``flow``, ``churn``, ``accounts``,
``segments``); this package holds what they share: the theme, the stage
colours (:data:`crmflow.config.STAGE_COLORS`) and :func:`finish`, which every
builder ends with so that every chart has a title that states the finding,
axis titles with units and the same look on screen, in PNG and in the report.
"""

from __future__ import annotations

import plotly.graph_objects as go

from crmflow.config import STAGE_COLORS, STAGES

#: Colours beyond the stages: one accent, one for "bad", one neutral.
ACCENT = "#2563eb"
GOOD = "#16a34a"
WARN = "#f59e0b"
BAD = "#dc2626"
NEUTRAL = "#94a3b8"
FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, Helvetica, Arial, sans-serif"


def finish(fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None, *,
           height: int = 420, legend: bool = True) -> go.Figure:
    """Apply the shared look: finding-title, axis titles (with units), fonts,
    margins, white background, horizontal legend under the title."""
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 18}},
        font={"family": FONT, "size": 13},
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 10, "t": 70, "b": 40},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0},
    )
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


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
    fig.update_yaxes(autorange="reversed")
    return finish(fig, title, axis_title, None, height=360, legend=False)
