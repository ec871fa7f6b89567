"""What each dashboard page computes, as lists of components, on both sides:
the crmflow calls the page makes and the same computation in plain pandas.

Each page's components are the calls its script makes through ``ctx.call``
(``pages/*.py``), with the arguments a first visit uses: the page's default
choices, D = the last order date. tests/test_bench.py checks the lists
against the pages' own calls, so a page that gains a call gains it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from crmflow.config import Params

#: Flow page: the flow over the last year (its default D1), and the drill-down into one band.
FLOW_DAYS = 365
FLOW_BAND = ("loyal", "lost")


@dataclass
class Ctx:
    """What a page call gets: the database, the dataset and the frame's choices."""

    db: Any
    dataset_id: int
    first: date
    as_of: date
    params: Params = Params()

    @property
    def trend_start(self) -> date:
        """The Overview's trend start: its default period (24 months) before D."""
        from crmflow.overview import DEFAULT_PERIOD, trend_start

        return trend_start(self.as_of, self.first, DEFAULT_PERIOD)

    @property
    def kpi_since(self) -> date:
        """The date the KPI cards compare with by default (D - 90 days)."""
        from crmflow.overview import DEFAULT_COMPARE, comparison_date

        return comparison_date(self.as_of, DEFAULT_COMPARE, self.trend_start)

    @property
    def flow_start(self) -> date:
        """The Flow page's default D1: a year before D, within the data."""
        from crmflow.transitions import default_start

        return default_start(self.first, self.as_of)


def _report(ctx: Ctx) -> Any:
    """The meeting report: every slide, written as one HTML file."""
    from crmflow.report import report_file

    return report_file(ctx.db, ctx.dataset_id, "html", "bench", ctx.as_of, ctx.params)


# --------------------------------------------------------------------------- crmflow side
def crmflow_components() -> dict[str, Callable[[Ctx], Any]]:
    """Every component by name, as the dashboard calls it."""
    from crmflow import (account_view, analytics, churn, health, loyalty, managers, model, overview,
                         segments_table, stages)

    def pareto_curves(c: Ctx) -> list[Any]:
        """The Overview's Pareto curves: revenue and profit (the generated data have a cost,
        so the page draws both; it knows that from the dataset's stored coverage, not a query)."""
        return [analytics.pareto(c.db, c.dataset_id, c.as_of, m) for m in ("revenue", "profit")]

    return {
        "data_range": lambda c: stages.data_range(c.db, c.dataset_id),
        "overview_kpis": lambda c: overview.overview_kpis(c.db, c.dataset_id, c.as_of, c.kpi_since, c.params),
        "stage_counts": lambda c: stages.stage_counts(c.db, c.dataset_id, c.as_of, c.params),
        "stage_snapshots": lambda c: stages.stage_snapshots(c.db, c.dataset_id, c.trend_start, c.as_of, c.params),
        "loyalty_view": lambda c: loyalty.loyalty_view(c.db, c.dataset_id, c.as_of, c.trend_start, c.params,
                                                       "stage"),
        "ntd_trends": lambda c: analytics.ntd_trends(c.db, c.dataset_id, c.trend_start, c.as_of, c.params),
        "pareto": lambda c: analytics.pareto(c.db, c.dataset_id, c.as_of),
        "pareto_curves": pareto_curves,
        "revenue_by_month": lambda c: managers.revenue_by_month(c.db, c.dataset_id, c.trend_start, c.as_of,
                                                                managers.DEFAULT_SPLIT),
        "to_date_comparisons": lambda c: managers.to_date_comparisons(c.db, c.dataset_id, c.as_of),
        "won_back_lost_monthly": lambda c: stages.won_back_lost_monthly(c.db, c.dataset_id, c.as_of, c.params),
        "flow": lambda c: stages.flow(c.db, c.dataset_id, c.flow_start, c.as_of, c.params),
        "flow_customers": lambda c: stages.flow_customers(c.db, c.dataset_id, c.flow_start, c.as_of,
                                                          *FLOW_BAND, c.params),
        "flow_snapshots": lambda c: stages.stage_snapshots(c.db, c.dataset_id, c.flow_start, c.as_of, c.params),
        "order_rhythm": lambda c: c.db.run("order_rhythm", dataset_id=c.dataset_id, as_of=c.as_of),
        "churn_warnings": lambda c: churn.churn_warnings(c.db, c.dataset_id, c.as_of, c.params, include_all=True),
        "directory": lambda c: account_view.directory(c.db, c.dataset_id, c.as_of),
        "churn_track_record": lambda c: churn.track_record(c.db, c.dataset_id, c.as_of, c.params),
        "account_health": lambda c: health.account_health(c.db, c.dataset_id, c.as_of, c.params),
        "key_account_health": lambda c: account_view.key_account_health(
            c.db, c.dataset_id, c.as_of, c.params, (), health.DEFAULT_SHARE, health.DEFAULT_MAX_ACCOUNTS),
        "health_coverage": lambda c: health.health_coverage(c.db, c.dataset_id, c.as_of),
        "value_matrix": lambda c: health.value_matrix(c.db, c.dataset_id, c.as_of, scope="customers",
                                                      current_cut=None, potential_cut=None,
                                                      share=health.DEFAULT_SHARE,
                                                      max_accounts=health.DEFAULT_MAX_ACCOUNTS),
        "rfm": lambda c: analytics.rfm(c.db, c.dataset_id, c.as_of),
        "segment_view": lambda c: segments_table.segment_view(c.db, c.dataset_id, c.as_of, c.params),
        "cohort_retention": lambda c: analytics.cohort_retention(c.db, c.dataset_id, c.as_of),
        "backtest_view": lambda c: segments_table.backtest_view(c.db, c.dataset_id, c.as_of),
        "clv_predictions": lambda c: model.customer_values(c.db, c.dataset_id, c.as_of),
        "meeting_report": _report,
    }


#: The pages and the components each one computes (SPEC §3).
VIEWS: dict[str, tuple[str, ...]] = {
    "overview": ("data_range", "overview_kpis", "stage_snapshots", "loyalty_view", "ntd_trends", "pareto_curves",
                 "revenue_by_month", "to_date_comparisons"),
    "flow": ("flow", "flow_customers", "flow_snapshots", "won_back_lost_monthly"),
    "churn": ("churn_warnings", "directory", "churn_track_record"),
    "key_accounts": ("key_account_health", "health_coverage", "value_matrix"),
    "segments": ("segment_view", "cohort_retention", "backtest_view"),
    "report": ("meeting_report",),
}

#: The function each component stands for, as the pages name it in ``ctx.call``
#: (the components not listed are helpers of the pandas comparison).
PAGE_CALLS = {
    "overview_kpis": "crmflow.overview.overview_kpis", "stage_snapshots": "crmflow.stages.stage_snapshots",
    "loyalty_view": "crmflow.loyalty.loyalty_view", "ntd_trends": "crmflow.analytics.ntd_trends",
    "pareto_curves": "crmflow.analytics.pareto", "revenue_by_month": "crmflow.managers.revenue_by_month",
    "to_date_comparisons": "crmflow.managers.to_date_comparisons", "flow": "crmflow.stages.flow",
    "flow_customers": "crmflow.stages.flow_customers", "flow_snapshots": "crmflow.stages.stage_snapshots",
    "won_back_lost_monthly": "crmflow.stages.won_back_lost_monthly",
    "churn_warnings": "crmflow.churn.churn_warnings", "directory": "crmflow.account_view.directory",
    "churn_track_record": "crmflow.churn.track_record",
    "key_account_health": "crmflow.account_view.key_account_health",
    "health_coverage": "crmflow.health.health_coverage", "value_matrix": "crmflow.health.value_matrix",
    "segment_view": "crmflow.segments_table.segment_view", "cohort_retention": "crmflow.analytics.cohort_retention",
    "backtest_view": "crmflow.segments_table.backtest_view",
}

#: Components that only support a page (not a page of their own in the budget).
NOTES = {
    "overview_kpis": "KPI cards (crmflow.overview.overview_kpis, comparing with D - 90 days)",
    "stage_snapshots": "the stage lines from the trend start (24 months before D) to D",
    "pareto_curves": "the revenue and the profit curve",
    "flow_snapshots": "the stage lines from D1 (a year before D) to D",
    "churn_warnings": "every customer not lost, scored and worded (include_all=True, as the page asks)",
    "directory": "names and owners for the list (crmflow.account_view.directory)",
    "order_rhythm": "the churn features query (queries/analytics/order_rhythm.sql)",
    "clv_predictions": "fit + predictions (crmflow.model.customer_values); baseline: see the CLV table",
    "meeting_report": "every slide written as one HTML file (crmflow.report.report_file)",
}


# --------------------------------------------------------------------------- pandas side
def pandas_components() -> dict[str, Callable[[Any, Ctx], Any]]:
    """The same computations in plain pandas, taking (Data, Ctx); a missing
    key means there is no pandas equivalent in the benchmark."""
    from bench import pandas_baseline as pb
    from crmflow.stages import month_ends  # the same month ends on both sides

    def data_range(data, c):
        lines = data.transactions
        dates = lines.loc[lines["amount"] > 0, "order_date"]
        return dates.min().date(), dates.max().date()

    return {
        "data_range": data_range,
        "stage_counts": lambda data, c: pb.stage_counts(data, c.as_of, c.params),
        "stage_snapshots": lambda data, c: pb.stage_snapshots(data, month_ends(c.trend_start, c.as_of), c.params),
        "flow_snapshots": lambda data, c: pb.stage_snapshots(data, month_ends(c.flow_start, c.as_of), c.params),
        "ntd_trends": lambda data, c: pb.ntd_trends(data, month_ends(c.trend_start, c.as_of), c.params),
        "pareto": lambda data, c: pb.pareto(data, c.as_of),
        "won_back_lost_monthly": lambda data, c: pb.won_back_lost_monthly(data, c.as_of, c.params),
        "flow": lambda data, c: pb.flow(data, c.flow_start, c.as_of, c.params),
        "flow_customers": lambda data, c: pb.flow_customers(data, c.flow_start, c.as_of, *FLOW_BAND, c.params),
        "order_rhythm": lambda data, c: pb.order_rhythm(data, c.as_of),
        "rfm": lambda data, c: pb.rfm(data, c.as_of),
        "cohort_retention": lambda data, c: pb.cohort_retention(data, c.as_of),
    }
