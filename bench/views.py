"""What each dashboard page computes, as lists of components, on both sides:
the crmflow calls the page makes and the same computation in plain pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from crmflow.config import Params

#: Flow page: the flow over the last year, and the drill-down into one band.
FLOW_DAYS = 365
FLOW_BAND = ("loyal", "lost")
#: Overview: the KPI cards compare D with 90 days before (the page's default).
KPI_DAYS = 90


@dataclass
class Ctx:
    """What a page call gets: the database, the dataset and the frame's choices."""

    db: Any
    dataset_id: int
    first: date
    as_of: date
    params: Params = Params()

    @property
    def kpi_since(self) -> date:
        return max(self.first, self.as_of - timedelta(days=KPI_DAYS))

    @property
    def flow_start(self) -> date:
        return max(self.first, self.as_of - timedelta(days=FLOW_DAYS))


def _report(ctx: Ctx) -> Any:
    """The meeting report: every slide, written as one HTML file."""
    from crmflow.report import report_file

    return report_file(ctx.db, ctx.dataset_id, "html", "bench", ctx.as_of, ctx.params)


# --------------------------------------------------------------------------- crmflow side
def crmflow_components() -> dict[str, Callable[[Ctx], Any]]:
    """Every component by name, as the dashboard calls it."""
    from crmflow import analytics, churn, health, model, overview, stages

    return {
        "data_range": lambda c: stages.data_range(c.db, c.dataset_id),
        "overview_kpis": lambda c: overview.overview_kpis(c.db, c.dataset_id, c.as_of, c.kpi_since, c.params),
        "stage_counts": lambda c: stages.stage_counts(c.db, c.dataset_id, c.as_of, c.params),
        "stage_snapshots": lambda c: stages.stage_snapshots(c.db, c.dataset_id, c.first, c.as_of, c.params),
        "ntd_trends": lambda c: analytics.ntd_trends(c.db, c.dataset_id, c.first, c.as_of, c.params),
        "pareto": lambda c: analytics.pareto(c.db, c.dataset_id, c.as_of),
        "won_back_lost_monthly": lambda c: stages.won_back_lost_monthly(c.db, c.dataset_id, c.as_of, c.params),
        "flow": lambda c: stages.flow(c.db, c.dataset_id, c.flow_start, c.as_of, c.params),
        "flow_customers": lambda c: stages.flow_customers(c.db, c.dataset_id, c.flow_start, c.as_of,
                                                          *FLOW_BAND, c.params),
        "order_rhythm": lambda c: c.db.run("order_rhythm", dataset_id=c.dataset_id, as_of=c.as_of),
        "churn_warnings": lambda c: churn.churn_warnings(c.db, c.dataset_id, c.as_of, c.params),
        "account_health": lambda c: health.account_health(c.db, c.dataset_id, c.as_of, c.params),
        "value_matrix": lambda c: health.value_matrix(c.db, c.dataset_id, c.as_of),
        "rfm": lambda c: analytics.rfm(c.db, c.dataset_id, c.as_of),
        "cohort_retention": lambda c: analytics.cohort_retention(c.db, c.dataset_id, c.as_of),
        "clv_predictions": lambda c: model.customer_values(c.db, c.dataset_id, c.as_of),
        "meeting_report": _report,
    }


#: The pages and the components each one computes (SPEC §3).
VIEWS: dict[str, tuple[str, ...]] = {
    "overview": ("data_range", "overview_kpis", "stage_counts", "stage_snapshots", "ntd_trends", "pareto",
                 "won_back_lost_monthly"),
    "flow": ("flow", "flow_customers", "stage_snapshots"),
    "churn": ("order_rhythm", "churn_warnings"),
    "key_accounts": ("account_health", "value_matrix"),
    "segments": ("rfm", "cohort_retention", "clv_predictions"),
    "report": ("meeting_report",),
}

#: Components that only support a page (not a page of their own in the budget).
NOTES = {
    "overview_kpis": "KPI cards (crmflow.overview.overview_kpis, comparing with D - 90 days)",
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
        "stage_snapshots": lambda data, c: pb.stage_snapshots(data, month_ends(c.first, c.as_of), c.params),
        "ntd_trends": lambda data, c: pb.ntd_trends(data, month_ends(c.first, c.as_of), c.params),
        "pareto": lambda data, c: pb.pareto(data, c.as_of),
        "won_back_lost_monthly": lambda data, c: pb.won_back_lost_monthly(data, c.as_of, c.params),
        "flow": lambda data, c: pb.flow(data, c.flow_start, c.as_of, c.params),
        "flow_customers": lambda data, c: pb.flow_customers(data, c.flow_start, c.as_of, *FLOW_BAND, c.params),
        "order_rhythm": lambda data, c: pb.order_rhythm(data, c.as_of),
        "rfm": lambda data, c: pb.rfm(data, c.as_of),
        "cohort_retention": lambda data, c: pb.cohort_retention(data, c.as_of),
    }
