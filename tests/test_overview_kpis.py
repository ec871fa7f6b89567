"""The Overview's numbers (crmflow.overview) against values worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from crmflow.analytics import pareto
from crmflow.config import STAGES, Params
from crmflow.overview import (
    Change,
    bottom30_callout,
    choice,
    comparison_date,
    curve_total,
    largest_stage_change,
    months_before,
    overview_kpis,
    relative_change,
    repeat_rate,
    series_change,
    trend_start,
    years_before,
)
from crmflow.stages import stage_counts

D = date(2024, 6, 30)
SINCE = date(2024, 4, 1)            # D - 90 days; the period before is (2024-01-02, 2024-04-01]
P = Params(lost_after_days=30, loyal_orders=3, loyal_window_days=365)

# Worked by hand with lost after 30 days, loyal = 3 orders in 365 days:
#   A  orders 01-05, 01-25 -> lost on 02-25 (25 Jan + 31) -> won back by the order of 06-01; loyal at D
#   B  one order 01-20 -> lost on 02-20
#   C  orders 2023-05-01 and 2024-06-20 (won back in June), a return of -20 on 06-25; repeat at D
#   D  one order 06-15 (first at D, does not exist yet on 04-01)
#   E  one order 03-15 (first on 04-01) -> lost on 04-15, inside the period
HAND = """
    customer_id,order_date,amount
    A,2024-01-05,100
    A,2024-01-25,50
    A,2024-06-01,200
    B,2024-01-20,300
    C,2023-05-01,80
    C,2024-06-20,120
    C,2024-06-25,-20
    D,2024-06-15,40
    E,2024-03-15,60
"""


@pytest.fixture
def hand(load):
    return load(HAND)


def test_kpis_worked_by_hand(hand):
    store, ds = hand
    k = overview_kpis(store.db, ds, D, SINCE, P)
    assert k.counts == {"potential": 0, "first": 1, "repeat": 1, "loyal": 1, "lost": 2}
    assert k.counts_before == {"potential": 0, "first": 1, "repeat": 0, "loyal": 0, "lost": 3}
    assert k.delta("lost") == -1 and k.delta("loyal") == 1
    # (2023-06-30, 2024-06-30]: A 350 + B 300 + C 100 (net of the return) + D 40 + E 60
    assert k.revenue_12m == pytest.approx(850)
    assert k.revenue_prev_12m == pytest.approx(80)      # C's order of 2023-05-01
    assert (k.repeat.buyers, k.repeat.repeat_buyers) == (5, 2)              # A and C
    assert (k.repeat_before.buyers, k.repeat_before.repeat_buyers) == (4, 1)  # A, B, C, E; only A
    assert k.repeat.rate == pytest.approx(0.4)
    assert (k.won_back, k.won_back_prev) == (2, 0)        # A on 06-01 and C on 06-20
    assert (k.lost, k.lost_prev) == (1, 2)                # E on 04-15; A on 02-25 and B on 02-20


def test_kpi_counts_are_the_stage_engine_counts(hand):
    store, ds = hand
    k = overview_kpis(store.db, ds, D, date(2024, 2, 1), P)
    assert k.counts == stage_counts(store.db, ds, D, P)
    assert k.counts_before == stage_counts(store.db, ds, date(2024, 2, 1), P)


def test_kpis_before_the_first_order_are_zero(hand):
    store, ds = hand
    k = overview_kpis(store.db, ds, D, date(2020, 1, 1), P)
    assert k.counts_before == {s: 0 for s in STAGES}
    assert k.repeat_before.rate is None
    assert k.won_back == 2 and k.won_back_prev == 0
    # with the whole history as the period every event is in it: C lost 2023-06-01, A, B, E
    assert k.lost == 4


def test_kpis_with_the_comparison_date_equal_to_d(hand):
    store, ds = hand
    k = overview_kpis(store.db, ds, D, D, P)
    assert k.counts == k.counts_before
    assert (k.won_back, k.lost, k.won_back_prev, k.lost_prev) == (0, 0, 0, 0)


def test_revenue_is_the_difference_of_running_totals(hand):
    store, ds = hand
    assert curve_total(pareto(store.db, ds, D)) == pytest.approx(930)
    assert curve_total(pareto(store.db, ds, date(2000, 1, 1))) == 0.0


def test_calendar_steps():
    assert months_before(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)
    assert years_before(date(2025, 6, 30), 2) == date(2023, 6, 30)


def test_trend_start_and_comparison_date():
    first = date(2022, 1, 1)
    assert trend_start(date(2025, 6, 30), first, "24") == date(2023, 6, 30)
    assert trend_start(date(2025, 6, 30), date(2024, 1, 1), "24") == date(2024, 1, 1)
    assert trend_start(date(2025, 6, 30), first, "all") == first
    assert trend_start(first, first, "12") == first
    assert comparison_date(date(2025, 6, 30), "90", first) == date(2025, 4, 1)
    assert comparison_date(date(2025, 6, 30), "365", first) == date(2024, 6, 30)
    assert comparison_date(date(2025, 6, 30), "start", date(2023, 6, 30)) == date(2023, 6, 30)
    assert choice("30", ("30", "90"), "90") == "30"
    assert choice("7", ("30", "90"), "90") == "90"
    assert choice(None, ("30", "90"), "90") == "90"


def test_repeat_rate_counts_customers_with_two_orders_among_buyers():
    frame = pd.DataFrame({"orders": [0, 1, 2, 5, 0]})
    rate = repeat_rate(frame)
    assert (rate.buyers, rate.repeat_buyers) == (3, 2)
    assert rate.rate == pytest.approx(2 / 3)
    assert repeat_rate(pd.DataFrame({"orders": [0, 0]})).rate is None


def test_relative_change():
    assert relative_change(110, 100) == pytest.approx(0.1)
    assert relative_change(50, -100) == pytest.approx(1.5)
    assert relative_change(5, 0) is None
    assert relative_change(float("nan"), 1) is None


def test_largest_stage_change_and_series_change():
    snaps = pd.DataFrame({"snapshot_date": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"]),
                          "potential": [5, 5, 5], "first": [10, 4, 2], "repeat": [3, 3, 9],
                          "loyal": [1, 1, 1], "lost": [0, 0, 7]})
    assert largest_stage_change(snaps) == Change("first", date(2024, 1, 31), 10, date(2024, 3, 31), 2)
    # ties go to the earlier stage in flow order
    snaps["lost"] = [0, 0, 8]
    assert largest_stage_change(snaps).name == "first"
    assert largest_stage_change(snaps.iloc[:1]) is None
    trends = pd.DataFrame({"snapshot_date": [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)],
                           "t": [math.nan, 12.0, 20.0]})
    assert series_change(trends, "t") == Change("t", date(2024, 2, 29), 12.0, date(2024, 3, 31), 20.0)
    assert series_change(trends.assign(t=math.nan), "t") is None


def test_bottom30_callout():
    assert bottom30_callout(None) is None
    assert bottom30_callout(-0.02) == "negative"
    assert bottom30_callout(0.01) == "low"
    assert bottom30_callout(0.12) is None


def test_kpis_equal_the_command_line_functions_at_random_dates():
    """overview_kpis runs three multi-date queries (stage_summary,
    revenue_to_date, won_back_lost_to_date); every card must equal what the
    single-date functions behind the command line give (stage counts, repeat
    rate of customer_stages, Pareto totals, won-back/lost months), for random
    dates and definitions on the demo data, before the first order included."""
    import random
    from datetime import timedelta

    from crmflow.stages import customer_stages, data_range, won_back_lost_monthly
    from crmflow.store import Store

    def events(monthly: pd.DataFrame, column: str) -> int:
        return int(monthly[column].sum()) if len(monthly) else 0

    rng = random.Random(11)
    with Store(in_memory=True) as store:
        ds = store.ensure_demo().dataset_id
        first, last = data_range(store.db, ds)
        for _ in range(12):
            p = Params(rng.choice([1, 30, 180, 365]), rng.choice([1, 2, 3]), rng.choice([30, 365]))
            as_of = first + timedelta(days=rng.randint(-40, (last - first).days + 40))
            since = as_of - timedelta(days=rng.choice([0, 1, 30, 90, 365, 900]))
            k = overview_kpis(store.db, ds, as_of, since, p)
            previous = since - (as_of - since)
            assert k.counts == stage_counts(store.db, ds, as_of, p)
            assert k.counts_before == stage_counts(store.db, ds, since, p)
            assert k.repeat == repeat_rate(customer_stages(store.db, ds, as_of, p))
            assert k.repeat_before == repeat_rate(customer_stages(store.db, ds, since, p))
            total = {d: curve_total(pareto(store.db, ds, d)) for d in (as_of, years_before(as_of, 1),
                                                                     years_before(as_of, 2))}
            assert k.revenue_12m == pytest.approx(total[as_of] - total[years_before(as_of, 1)], abs=1e-6)
            assert k.revenue_prev_12m == pytest.approx(
                total[years_before(as_of, 1)] - total[years_before(as_of, 2)], abs=1e-6)
            monthly = {d: won_back_lost_monthly(store.db, ds, d, p) for d in (as_of, since, previous)}
            for column in ("won_back", "lost"):
                assert getattr(k, column) == events(monthly[as_of], column) - events(monthly[since], column)
                assert getattr(k, column + "_prev") == (events(monthly[since], column)
                                                        - events(monthly[previous], column))
