"""Charts of the CLV model's track record (:mod:`crmflow.track_record`): the
tracking plot of expected vs actual cumulative repeat orders, the holdout
orders per customer by repeat orders in the calibration period, and one
customer's P(alive) over time. Data in, figure out; every title is passed in
already stating the finding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pandas as pd
import plotly.graph_objects as go

from crmflow.charts import ACCENT, NEUTRAL, WARN, finish
from crmflow.charts.accounts import DATE_TICKS, plain


def _calibration_marker(fig: go.Figure, calibration_end: date, label: str) -> None:
    """A dashed vertical line at the calibration end, labelled at the top.
    (A shape and an annotation: ``add_vline`` cannot label a date axis.)"""
    x = pd.Timestamp(calibration_end)
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, xref="x", yref="paper",
                  line={"color": NEUTRAL, "width": 2, "dash": "dash"})
    fig.add_annotation(x=x, y=1, xref="x", yref="paper", text=plain(label), showarrow=False,
                       xanchor="left", yanchor="top", font={"color": "#475569"})


def tracking_chart(cumulative: pd.DataFrame, calibration_end: date, labels: Mapping[str, str],
                   title: str) -> go.Figure:
    """Expected vs actual cumulative repeat orders by date (``cumulative``:
    date, actual, expected), the calibration end marked.

    ``labels`` keys: actual, expected, calibration_end, x, y."""
    x = pd.to_datetime(cumulative["date"])
    fig = go.Figure([
        go.Scatter(x=x, y=cumulative["actual"], name=labels["actual"], mode="lines",
                   line={"color": WARN, "width": 3},
                   hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f}<extra>" + plain(labels["actual"]) + "</extra>"),
        go.Scatter(x=x, y=cumulative["expected"], name=labels["expected"], mode="lines",
                   line={"color": ACCENT, "width": 3, "dash": "dot"},
                   hovertemplate="%{x|%Y-%m-%d}: %{y:,.1f}<extra>" + plain(labels["expected"]) + "</extra>"),
    ])
    _calibration_marker(fig, calibration_end, labels["calibration_end"])
    fig.update_xaxes(tickformatstops=DATE_TICKS, hoverformat="%Y-%m-%d")
    fig.update_yaxes(rangemode="tozero", tickformat=",.0f")
    return finish(fig, title, labels["x"], labels["y"], height=420)


def by_group_chart(by_group: pd.DataFrame, group_names: Sequence[str], labels: Mapping[str, str],
                   title: str) -> go.Figure:
    """Mean actual vs mean predicted holdout orders per customer, grouped by
    repeat orders in the calibration period (``by_group``: group, customers,
    actual, predicted; ``group_names`` the x labels, e.g. "6+").

    ``labels`` keys: actual, predicted, x, y, customers (a template with
    ``{customers}`` shown on hover)."""
    names = list(group_names)
    customers = [labels["customers"].format(customers=int(n)) for n in by_group["customers"]]
    fig = go.Figure([
        go.Bar(x=names, y=by_group["actual"], name=labels["actual"], marker_color=WARN, customdata=customers,
               hovertemplate="%{x}: %{y:.2f} · %{customdata}<extra>" + plain(labels["actual"]) + "</extra>"),
        go.Bar(x=names, y=by_group["predicted"], name=labels["predicted"], marker_color=ACCENT,
               customdata=customers,
               hovertemplate="%{x}: %{y:.2f} · %{customdata}<extra>" + plain(labels["predicted"]) + "</extra>"),
    ])
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return finish(fig, title, labels["x"], labels["y"], height=400)


def alive_chart(path: pd.DataFrame, purchase_dates: Sequence, labels: Mapping[str, str], title: str) -> go.Figure:
    """One customer's P(alive) after each day (``path``: date, p_alive) with
    its purchase days marked on the line.

    ``labels`` keys: p_alive, orders, x, y."""
    x = pd.to_datetime(path["date"])
    fig = go.Figure(go.Scatter(
        x=x, y=path["p_alive"], name=labels["p_alive"], mode="lines", line={"color": ACCENT, "width": 3},
        line_shape="hv", hovertemplate="%{x|%Y-%m-%d}: %{y:.0%}<extra>" + plain(labels["p_alive"]) + "</extra>"))
    on = path.set_index(x)["p_alive"]
    bought = [pd.Timestamp(d) for d in purchase_dates if pd.Timestamp(d) in on.index]
    if bought:
        fig.add_trace(go.Scatter(
            x=bought, y=[float(on[d]) for d in bought], name=labels["orders"], mode="markers",
            marker={"color": WARN, "size": 10, "symbol": "diamond", "line": {"color": "white", "width": 1}},
            hovertemplate="%{x|%Y-%m-%d}: %{y:.0%}<extra>" + plain(labels["orders"]) + "</extra>"))
    fig.update_xaxes(tickformatstops=DATE_TICKS, hoverformat="%Y-%m-%d")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return finish(fig, title, labels["x"], labels["y"], height=320)


def new_customer_chart(table: pd.DataFrame, names: Sequence[str], labels: Mapping[str, str], title: str) -> go.Figure:
    """A new customer's chance of each number of repeat orders (``table``:
    repeat_orders, probability; ``names`` the x labels, e.g. "6+").

    ``labels`` keys: x, y."""
    fig = go.Figure(go.Bar(x=list(names), y=table["probability"], marker_color=ACCENT,
                           text=[f"{p:.0%}" for p in table["probability"]], textposition="outside",
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return finish(fig, title, labels["x"], labels["y"], height=360, legend=False)
