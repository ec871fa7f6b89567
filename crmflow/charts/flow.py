"""Charts of the Customer flow view: the Sankey between two dates, the stage
conversion rates and won back vs. lost per month. The monthly stage snapshots
use :func:`crmflow.charts.overview.stage_area`. Data in, figure out; titles
come from the caller, already translated."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, BAD, GOOD, finish
from crmflow.config import STAGE_COLORS
from crmflow.transitions import stages_present


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def sankey(flow: pd.DataFrame, labels: dict[str, str], title: str, *, height: int = 520,
           hide: tuple[tuple[str, str], ...] = (("none", "none"),)) -> go.Figure:
    """Customers moving from their stage at D1 (left) to their stage at D2
    (right). Nodes are coloured by stage and labelled ``<stage> (n)``; links
    take the colour of the stage they lead to. ``flow`` is a
    :func:`crmflow.stages.flow` frame; ``hide`` bands are left out (by default
    customers that do not exist yet at either date)."""
    keep = flow[[(f, t) not in hide for f, t in zip(flow["from_stage"], flow["to_stage"])]]
    keep = keep[keep["customers"] > 0]
    left, right = stages_present(keep, "from_stage"), stages_present(keep, "to_stage")
    left_n = keep.groupby("from_stage")["customers"].sum()
    right_n = keep.groupby("to_stage")["customers"].sum()
    node_labels = [f"{labels[s]} ({int(left_n[s]):,})" for s in left] + \
                  [f"{labels[s]} ({int(right_n[s]):,})" for s in right]
    colours = [STAGE_COLORS[s] for s in left] + [STAGE_COLORS[s] for s in right]
    index_left = {s: i for i, s in enumerate(left)}
    index_right = {s: len(left) + i for i, s in enumerate(right)}
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": node_labels, "color": colours, "pad": 18, "thickness": 22, "sort": "input",
              "line": {"color": "white", "width": 0.5},
              "hovertemplate": "%{label}<extra></extra>"},
        link={"source": [index_left[s] for s in keep["from_stage"]],
              "target": [index_right[s] for s in keep["to_stage"]],
              "value": [int(n) for n in keep["customers"]],
              "color": [_rgba(STAGE_COLORS[s], 0.45) for s in keep["to_stage"]],
              "customdata": [f"{labels[f]} → {labels[t]}" for f, t in zip(keep["from_stage"], keep["to_stage"])],
              "hovertemplate": "%{customdata}: %{value:,}<extra></extra>"},
        textfont={"size": 15, "color": "#111827", "shadow": "none"},
    ))
    return finish(fig, title, height=height, legend=False)


def conversion_bars(rates: pd.DataFrame, names: dict[str, str], title: str, x_title: str, *,
                    count_text: str = "{rate:.0%} ({hits:,} / {base:,})", height: int = 380) -> go.Figure:
    """Horizontal bars of the stage conversion rates of
    :func:`crmflow.transitions.conversion_rates` (rates without a base are left
    out), labelled with the rate and its counts. Churn is drawn in red."""
    shown = rates[rates["customers_from"] > 0]
    colours = [BAD if k == "active_to_lost" else GOOD if k == "lost_to_won_back" else ACCENT
               for k in shown["conversion"]]
    text = [count_text.format(rate=r, hits=int(h), base=int(b))
            for r, h, b in zip(shown["rate"], shown["customers_to"], shown["customers_from"])]
    fig = go.Figure(go.Bar(
        x=[float(r) * 100 for r in shown["rate"]], y=[names[k] for k in shown["conversion"]], orientation="h",
        marker_color=colours, text=text, textposition="auto", textfont={"size": 14},
        hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    return finish(fig, title, x_title, None, height=height, legend=False)


def won_back_lost_bars(monthly: pd.DataFrame, won_label: str, lost_label: str, title: str, x_title: str,
                       y_title: str, *, height: int = 400) -> go.Figure:
    """Won back customers per month as bars up (green) and newly lost ones as
    bars down (red), from a :func:`crmflow.stages.won_back_lost_monthly` frame."""
    x = pd.to_datetime(monthly["month"])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=monthly["won_back"], name=won_label, marker_color=GOOD,
                         hovertemplate="%{x|%Y-%m}: %{y:,}<extra>" + won_label + "</extra>"))
    fig.add_trace(go.Bar(x=x, y=-monthly["lost"], name=lost_label, marker_color=BAD, customdata=monthly["lost"],
                         hovertemplate="%{x|%Y-%m}: %{customdata:,}<extra>" + lost_label + "</extra>"))
    fig.update_layout(barmode="relative")
    fig.update_xaxes(dtick="M1" if len(monthly) <= 18 else None, tickformat="%Y-%m")
    ticks = symmetric_ticks(int(max(monthly["won_back"].max(), monthly["lost"].max(), 1)) if len(monthly) else 1)
    fig.update_yaxes(tickvals=ticks, ticktext=[f"{abs(v):,}" for v in ticks], zeroline=True,
                     zerolinecolor="#64748b")
    return finish(fig, title, x_title, y_title, height=height)


def symmetric_ticks(top: int, steps: int = 3) -> list[int]:
    """Ticks at 0 and at ± multiples of a round step (1, 2 or 5 × 10^k, at most
    ``steps`` of them to cover ``top``), so that bars drawn downwards can be
    labelled with positive counts."""
    k = 0
    while True:
        step = next((m * 10 ** k for m in (1, 2, 5) if top <= steps * m * 10 ** k), None)
        if step is not None:
            break
        k += 1
    n = -(-max(top, 1) // step)
    return [i * step for i in range(-n, n + 1)]
