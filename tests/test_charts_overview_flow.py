"""Chart builders of the Overview and Customer flow views: data in, figure out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmflow.charts.flow import (
    conversion_bars,
    sankey,
    symmetric_ticks,
    won_back_lost_bars,
)
from crmflow.charts.overview import pareto_curve, stage_area, thin, trend_line
from crmflow.config import STAGE_COLORS, STAGES, STAGES_WITH_NONE
from crmflow.transitions import conversion_rates

LABELS = {s: s.title() for s in STAGES_WITH_NONE}
FLOW = pd.DataFrame([("none", "none", 7), ("none", "first", 3), ("first", "repeat", 2), ("first", "lost", 1),
                     ("lost", "lost", 4)], columns=["from_stage", "to_stage", "customers"])


def test_sankey_nodes_are_labelled_with_counts_and_coloured_by_stage():
    fig = sankey(FLOW, LABELS, "Title")
    trace = fig.data[0]
    # none -> none (customers that exist at neither date) is left out
    assert list(trace.node.label) == ["None (3)", "First (3)", "Lost (4)", "First (3)", "Repeat (2)", "Lost (5)"]
    assert list(trace.node.color) == [STAGE_COLORS[s] for s in ("none", "first", "lost", "first", "repeat", "lost")]
    assert sum(trace.link.value) == 10
    assert fig.layout.title.text == "Title"


def test_conversion_bars_leave_out_rates_without_a_base():
    rates = conversion_rates(FLOW)
    names = {k: k for k in rates["conversion"]}
    fig = conversion_bars(rates, names, "T", "x")
    assert set(fig.data[0].y) == {"first_to_repeat", "active_to_lost", "lost_to_won_back"}
    assert list(fig.data[0].text) == ["67% (2 / 3)", "33% (1 / 3)", "0% (0 / 4)"]


def test_won_back_up_lost_down_with_positive_tick_labels():
    monthly = pd.DataFrame({"month": pd.to_datetime(["2024-01-01", "2024-02-01"]), "won_back": [3, 0],
                            "lost": [5, 2]})
    fig = won_back_lost_bars(monthly, "Won", "Lost", "T", "Month", "Customers")
    assert list(fig.data[0].y) == [3, 0] and list(fig.data[1].y) == [-5, -2]
    assert all(not str(label).startswith("-") for label in fig.layout.yaxis.ticktext)
    assert symmetric_ticks(57) == [-60, -40, -20, 0, 20, 40, 60]
    assert symmetric_ticks(0) == [-1, 0, 1]


def test_stage_area_and_trend_line():
    snaps = pd.DataFrame({"snapshot_date": pd.to_datetime(["2024-01-31", "2024-02-29"]),
                          **{s: [1, 2] for s in STAGES}})
    fig = stage_area(snaps, LABELS, "T", "x", "y")
    assert [tr.name for tr in fig.data] == [LABELS[s] for s in STAGES]
    assert [tr.fillcolor for tr in fig.data] == [STAGE_COLORS[s] for s in STAGES]
    trends = pd.DataFrame({"snapshot_date": [pd.Timestamp("2024-01-31")], "n": [5]})
    fig = trend_line(trends, "n", "T", "x", "y", subtitle="was 4")
    assert fig.layout.title.subtitle.text == "was 4"


def test_pareto_curve_is_thinned_but_keeps_the_top20_point():
    n = 5000
    values = np.sort(np.random.default_rng(1).pareto(1.5, n))[::-1]
    curve = pd.DataFrame({"rank": np.arange(1, n + 1), "value": values, "cumulative_value": values.cumsum(),
                          "customer_share": np.arange(1, n + 1) / n})
    curve["cumulative_share"] = curve["cumulative_value"] / values.sum()
    shown = thin(curve, 1000)
    assert len(shown) <= 603 and 1000 in set(shown["rank"]) and shown["rank"].iloc[-1] == n
    fig = pareto_curve(curve, "T", "x", "y", top_customers=1000,
                       top_share=float(curve["cumulative_share"].iloc[999]), marker_label="m")
    assert fig.data[2].x[0] == 20.0
