"""Charts of the Churn warnings view: the risk distribution. Data in, figure
out; the title is passed in already stating the finding."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from crmflow.charts import BAD, GOOD, WARN, finish

#: Risk bands run from green (low) through amber to red (high).
RISK_SCALE = [[0.0, GOOD], [0.5, WARN], [1.0, BAD]]


def band_colours(n: int) -> list[str]:
    """``n`` colours from green to red, one per risk band."""
    if n <= 1:
        return [GOOD] * n
    return sample_colorscale(RISK_SCALE, [i / (n - 1) for i in range(n)])


def risk_histogram(distribution: pd.DataFrame, title: str, x_title: str, y_title: str, threshold: int,
                   threshold_label: str) -> go.Figure:
    """Customers per 10-point risk band (:func:`crmflow.churn.risk_distribution`),
    each band coloured on a green → red scale, with a dashed line where the
    at-risk list starts (``threshold``)."""
    colours = band_colours(len(distribution))
    fig = go.Figure(go.Bar(
        x=list(distribution["band_start"] + 5),
        y=[int(n) for n in distribution["customers"]],
        width=[9.2] * len(distribution),
        marker_color=colours,
        text=[f"{int(n):,}" for n in distribution["customers"]],
        textposition="outside",
        customdata=list(distribution["band"]),
        hovertemplate="%{customdata}: %{y:,}<extra></extra>",
    ))
    fig.add_vline(x=threshold, line_dash="dash", line_color=BAD, line_width=2,
                  annotation_text=threshold_label, annotation_position="top right")
    fig.update_xaxes(range=[0, 100], tickvals=list(range(0, 101, 10)))
    fig.update_yaxes(rangemode="tozero")
    return finish(fig, title, x_title, y_title, height=400, legend=False)


def calibration_chart(bands: list[dict], title: str, x_title: str, y_title: str, predicted_label: str,
                      actual_label: str) -> go.Figure:
    """Predicted vs actual share leaving per band of predicted risk (the
    ``calibration`` of :func:`crmflow.churn.track_record`): two bars per band,
    the predicted share in grey, the actual one coloured like its risk band."""
    x = [int(b["band"]) for b in bands]
    fig = go.Figure([
        go.Bar(name=predicted_label, x=x, y=[float(b["predicted"]) for b in bands], marker_color="#9aa5b1",
               text=[f"{float(b['predicted']):.0%}" for b in bands], textposition="outside",
               hovertemplate=predicted_label + " %{y:.1%}<extra></extra>"),
        go.Bar(name=actual_label, x=x, y=[float(b["actual"]) for b in bands], marker_color=band_colours(len(bands)),
               text=[f"{float(b['actual']):.0%}" for b in bands], textposition="outside",
               customdata=[int(b["customers"]) for b in bands],
               hovertemplate=actual_label + " %{y:.1%} (%{customdata:,})<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickvals=x)
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%")
    return finish(fig, title, x_title, y_title, height=380, legend=True)
