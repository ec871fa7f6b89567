"""Charts of the Segments view: RFM treemap, cohort heatmap, expected-value
histogram and the CLV backtest by decile. Data in, figure out; every title is
passed in already stating the finding (built by the page from translated
templates and the numbers in :mod:`crmflow.segments_table`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, WARN, finish

#: Sequential colour scale for shares and money (light = low).
SCALE = "Blues"
#: Id of the treemap's root node (segment ids are the segment keys).
ROOT_ID = "all"
#: Heatmaps print a number in every cell up to this many cells.
MAX_LABELLED_CELLS = 800


def segment_treemap(summary: pd.DataFrame, names: dict[str, str], tile: str, tile_no_revenue: str,
                    title: str, colour_title: str, money_colour_title: str) -> go.Figure:
    """Treemap of the RFM segments: tile size = customers, colour = revenue
    share (or mean monetary when no revenue share is defined, i.e. the total
    revenue is not positive). Tile ids are the segment keys, so a click on a
    tile reports the segment key as the selected point's ``id`` (the root,
    :data:`ROOT_ID`, holds them all). A tile's text breaks after the name.

    ``tile`` is a template with ``{name}``, ``{customers}`` and ``{share}``
    (revenue share, a fraction); ``tile_no_revenue`` has ``{name}`` and
    ``{customers}``.
    """
    rows = summary[summary["customers"] > 0]
    by_share = bool(rows["revenue_share"].notna().any())
    colour = rows["revenue_share"].fillna(0.0) if by_share else rows["mean_monetary"].fillna(0.0)
    text = [
        _break_after_name(tile).format(name=names[s], customers=int(n), share=float(sh)) if by_share and pd.notna(sh)
        else _break_after_name(tile_no_revenue).format(name=names[s], customers=int(n))
        for s, n, sh in zip(rows["segment"], rows["customers"], rows["revenue_share"])
    ]
    # An explicit root (coloured as 0, the lightest shade) frames the tiles in white:
    # with a colour scale plotly ignores root.color and paints an implicit root dark.
    fig = go.Figure(go.Treemap(
        ids=[ROOT_ID, *rows["segment"]],
        labels=["", *(names[s] for s in rows["segment"])],
        parents=["", *([ROOT_ID] * len(rows))],
        values=[int(rows["customers"].sum()), *(int(n) for n in rows["customers"])],
        branchvalues="total",
        text=["", *text],
        textinfo="text",
        hovertemplate="%{text}<extra></extra>",
        textfont={"size": 16},
        marker={"colors": [0.0, *colour], "colorscale": SCALE, "cmin": 0,
                "colorbar": {"title": {"text": colour_title if by_share else money_colour_title},
                             "tickformat": ".0%" if by_share else ",.0f"}},
        tiling={"pad": 2},
        pathbar={"visible": False},
    ))
    fig = finish(fig, title, height=480, legend=False)
    # Text too small for a projector is hidden (the tile's hover still has it).
    fig.update_layout(margin={"l": 10, "r": 10, "t": 70, "b": 10}, uniformtext={"minsize": 14, "mode": "hide"})
    return fig


def _break_after_name(template: str) -> str:
    """``"{name} · {customers:,} · ..."`` -> ``"{name}<br>{customers:,} · ..."``
    (a line break instead of the first separator, so text fits a tile)."""
    return template.replace("{name} · ", "{name}<br>", 1)


def cohort_heatmap(matrix: pd.DataFrame, title: str, x_title: str, y_title: str, colour_title: str,
                   percent: bool) -> go.Figure:
    """Heatmap of a cohort matrix (rows = cohort month, columns = months since
    the first order; NaN beyond D stays blank). The colour scale tops out at
    the largest value from month 1 on, so month 0 (always 100% retention) does
    not wash out the rest."""
    z = matrix.to_numpy(dtype=np.float64)
    months = [pd.Timestamp(m).strftime("%Y-%m") for m in matrix.index]
    offsets = [int(c) for c in matrix.columns]
    later = z[:, 1:] if z.shape[1] > 1 else z
    top = float(np.nanmax(later)) if np.isfinite(later).any() else 1.0
    top = top if top > 0 else (float(np.nanmax(z)) if np.isfinite(z).any() and np.nanmax(z) > 0 else 1.0)
    fmt = ".0%" if percent else ",.0f"
    trace = go.Heatmap(
        z=z, x=offsets, y=months, colorscale=SCALE, zmin=0, zmax=top, hoverongaps=False,
        colorbar={"title": {"text": colour_title}, "tickformat": fmt},
        hovertemplate=f"%{{y}} · %{{x}}: %{{z:{fmt}}}<extra></extra>",
    )
    if z.size <= MAX_LABELLED_CELLS:
        trace.update(texttemplate=f"%{{z:{fmt}}}", textfont={"size": 11})
    fig = go.Figure(trace)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(dtick=1 if len(offsets) <= 24 else 3)
    height = int(min(1400, max(380, 24 * len(months) + 150)))
    return finish(fig, title, x_title, y_title, height=height, legend=False)


def value_histogram(values: pd.Series | np.ndarray, title: str, x_title: str, y_title: str,
                    clip_quantile: float = 0.99) -> go.Figure:
    """Histogram of expected values per customer. Values above the
    ``clip_quantile`` are counted in the last bar, so a long tail does not
    squeeze the bulk into one bar."""
    v = np.asarray(pd.Series(values).dropna(), dtype=np.float64)
    if v.size:
        cap = float(np.quantile(v, clip_quantile))
        if cap > 0:
            v = np.minimum(v, cap)
    fig = go.Figure(go.Histogram(x=v, nbinsx=40, marker_color=ACCENT,
                                 hovertemplate="%{x}: %{y:,}<extra></extra>"))
    fig.update_layout(bargap=0.05)
    fig.update_xaxes(tickformat=",.0f")
    return finish(fig, title, x_title, y_title, height=400, legend=False)


def backtest_bars(by_decile: pd.DataFrame, predicted_label: str, actual_label: str, title: str,
                  x_title: str, y_title: str) -> go.Figure:
    """Predicted vs. actual holdout orders per decile of prediction (1 = the
    customers with the highest prediction)."""
    x = [int(d) for d in by_decile["decile"]]
    fig = go.Figure([
        go.Bar(x=x, y=by_decile["predicted"], name=predicted_label, marker_color=ACCENT,
               hovertemplate="%{x}: %{y:,.1f}<extra>" + predicted_label + "</extra>"),
        go.Bar(x=x, y=by_decile["actual"], name=actual_label, marker_color=WARN,
               hovertemplate="%{x}: %{y:,}<extra>" + actual_label + "</extra>"),
    ])
    fig.update_layout(barmode="group")
    fig.update_xaxes(dtick=1)
    return finish(fig, title, x_title, y_title, height=400)
