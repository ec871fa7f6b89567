"""The Customer flow view's numbers (crmflow.transitions) worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from crmflow.config import Params
from crmflow.stages import flow, stage_counts
from crmflow.transitions import (
    CONVERSIONS,
    band_key,
    bands,
    clamp_start,
    conversion_rates,
    default_band,
    default_start,
    flow_summary,
    months_from,
    parse_band,
    start_bounds,
    transition_matrix,
)

PAIRS = [
    ("none", "potential", 2), ("none", "first", 3),
    ("potential", "potential", 4), ("potential", "repeat", 1),
    ("first", "first", 2), ("first", "repeat", 3), ("first", "lost", 1),
    ("repeat", "repeat", 4), ("repeat", "loyal", 2), ("repeat", "lost", 2),
    ("loyal", "loyal", 5), ("loyal", "lost", 1),
    ("lost", "repeat", 2), ("lost", "lost", 6),
]


def flow_table(pairs=PAIRS) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["from_stage", "to_stage", "customers"])


def test_conversion_rates_by_hand():
    rates = conversion_rates(flow_table()).set_index("conversion")
    expected = {                          # (customers at D1, of them in the target stages at D2)
        "potential_to_customer": (5, 1),  # 4 stayed potential, 1 bought (now repeat)
        "first_to_repeat": (6, 3),        # 2 still first, 3 repeat, 1 lost
        "repeat_to_loyal": (8, 2),
        "loyal_kept": (6, 5),
        "active_to_lost": (20, 4),        # 6 first + 8 repeat + 6 loyal; 1 + 2 + 1 lost
        "lost_to_won_back": (8, 2),
    }
    assert list(rates.index) == [c.key for c in CONVERSIONS]
    for key, (base, hits) in expected.items():
        assert rates.loc[key, "customers_from"] == base, key
        assert rates.loc[key, "customers_to"] == hits, key
        assert rates.loc[key, "rate"] == pytest.approx(hits / base), key


def test_conversion_rate_without_a_base_is_nan():
    rates = conversion_rates(flow_table([("none", "first", 3)]))
    assert rates["rate"].isna().all()
    assert (rates["customers_from"] == 0).all()
    empty = conversion_rates(flow_table([]))
    assert len(empty) == len(CONVERSIONS) and empty["rate"].isna().all()


def test_flow_summary_by_hand():
    s = flow_summary(flow_table())
    assert s.customers == 38
    assert s.gained == 4            # none -> first 3, potential -> repeat 1
    assert s.became_lost == 4
    assert s.won_back == 2
    assert s.active_start == 20
    assert s.active_end == 22       # first 5, repeat 10, loyal 7


def test_transition_matrix_is_the_flow_table_as_a_grid():
    m = transition_matrix(flow_table())
    assert list(m.index) == ["none", "potential", "first", "repeat", "loyal", "lost"]
    assert list(m.columns) == ["potential", "first", "repeat", "loyal", "lost"]   # nobody is `none` at D2
    assert m.loc["repeat", "loyal"] == 2 and m.loc["lost", "repeat"] == 2
    assert m.loc["loyal", "first"] == 0            # absent pairs are zeros
    assert int(m.to_numpy().sum()) == 38
    only = transition_matrix(flow_table([("none", "first", 3), ("first", "first", 1), ("lost", "first", 0)]))
    assert list(only.index) == ["none", "first"] and list(only.columns) == ["first"]
    assert only.loc["none", "first"] == 3
    assert transition_matrix(flow_table([])).shape == (0, 0)


def test_bands_and_the_default_band():
    rows = bands(flow_table())
    assert rows[0] == ("none", "potential", 2) and rows[-1] == ("lost", "lost", 6)
    assert len(rows) == len(PAIRS)
    assert default_band(flow_table()) == ("repeat", "lost")          # largest move into lost
    no_loss = flow_table([("first", "first", 9), ("first", "repeat", 2), ("none", "first", 3)])
    assert default_band(no_loss) == ("none", "first")                # largest change of stage
    assert default_band(flow_table([("lost", "lost", 3)])) == ("lost", "lost")
    assert default_band(flow_table([])) is None
    assert bands(flow_table([("first", "lost", 0)])) == []


def test_band_keys_round_trip():
    assert band_key("loyal", "lost") == "loyal>lost"
    assert parse_band("loyal>lost") == ("loyal", "lost")
    for bad in (None, "", "loyal", "loyal>gone", "a>b>c", "loyal>lost>"):
        assert parse_band(bad) is None


def test_start_date_bounds_and_default():
    first, d = date(2022, 1, 1), date(2025, 6, 30)
    assert start_bounds(first, d) == (date(2021, 12, 31), date(2025, 6, 29))
    assert default_start(first, d) == date(2024, 6, 30)
    assert default_start(date(2025, 1, 10), d) == date(2025, 1, 9)   # short history: before the first order
    assert default_start(d, d) == date(2025, 6, 29)                  # one day of data
    assert clamp_start(None, first, d) == date(2024, 6, 30)
    assert clamp_start(date(2030, 1, 1), first, d) == date(2025, 6, 29)
    assert clamp_start(date(1990, 1, 1), first, d) == date(2021, 12, 31)
    assert clamp_start(date(2023, 3, 3), first, d) == date(2023, 3, 3)


def test_months_from():
    monthly = pd.DataFrame({"month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                            "won_back": [1, 2, 3], "lost": [0, 1, 0]})
    assert list(months_from(monthly, date(2024, 2, 15))["won_back"]) == [2, 3]
    assert len(months_from(monthly, date(2023, 1, 1))) == 3
    assert months_from(monthly.iloc[:0], date(2024, 1, 1)).empty


def test_rates_on_a_real_flow_match_the_stage_counts(load):
    # customers_from of each rate = the stage counts at D1 of its starting stages
    store, ds = load("""
        customer_id,order_date,amount
        A,2023-01-05,10
        A,2023-03-05,10
        A,2023-05-05,10
        A,2023-07-05,10
        A,2024-05-01,10
        B,2023-09-01,10
        B,2024-06-01,10
        C,2023-02-01,10
        D,2024-03-01,10
        E,2023-11-01,10
    """)
    d1, d2 = date(2023, 12, 31), date(2024, 6, 30)
    table = flow(store.db, ds, d1, d2, Params())
    before = stage_counts(store.db, ds, d1, Params())
    for row in conversion_rates(table).itertuples():
        c = next(c for c in CONVERSIONS if c.key == row.conversion)
        assert row.customers_from == sum(before.get(s, 0) for s in c.from_stages), c.key
        assert math.isnan(row.rate) or 0 <= row.rate <= 1
    s = flow_summary(table)
    # D (first order 2024-03-01) is new; C (one order 2023-02-01) was lost at D1 and still is;
    # A: loyal at D1 (4 orders in the year, the last 179 days before D1), only 2 orders in the year to D2;
    # B: first -> repeat; E: first at D1, 242 days without an order at D2 -> lost
    assert s.gained == 1 and s.won_back == 0 and s.became_lost == 1
    assert dict(zip(zip(table["from_stage"], table["to_stage"]), table["customers"])) == {
        ("none", "first"): 1, ("lost", "lost"): 1, ("loyal", "repeat"): 1, ("first", "repeat"): 1,
        ("first", "lost"): 1,
    }
