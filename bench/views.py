"""What each dashboard page computes, as lists of components, on both sides:
the crmflow calls the page makes and the same computation in plain pandas.

A component whose crmflow function does not exist yet is reported as
``n/a (not built yet)``; one whose function has a signature the harness
cannot fill is ``n/a (signature ...)``. Neither stops the run.
"""

from __future__ import annotations

import importlib
import inspect
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


class NotAvailable(Exception):
    """A crmflow function the page needs is not there (yet)."""


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


def _function(module: str, name: str) -> Callable:
    try:
        mod = importlib.import_module(f"crmflow.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"crmflow.{module}":
            raise NotAvailable(f"n/a (not built yet: crmflow.{module})") from None
        raise
    fn = getattr(mod, name, None)
    if fn is None:
        raise NotAvailable(f"n/a (not built yet: crmflow.{module}.{name})")
    return fn


#: How a parameter of a not-yet-known function is filled, by name.
_FILL = {
    "db": lambda c: c.db, "database": lambda c: c.db,
    "dataset_id": lambda c: c.dataset_id,
    "as_of": lambda c: c.as_of, "d": lambda c: c.as_of, "date": lambda c: c.as_of, "end": lambda c: c.as_of,
    "start": lambda c: c.first, "params": lambda c: c.params,
}


def call_flexibly(fn: Callable, ctx: Ctx, **extra: Any) -> Any:
    """Call ``fn`` filling its required parameters by name from ``ctx``."""
    kwargs: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name in extra:
            kwargs[name] = extra[name]
        elif name in _FILL and (p.default is inspect.Parameter.empty or name == "params"):
            kwargs[name] = _FILL[name](ctx)
        elif p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise NotAvailable(f"n/a (signature {fn.__name__}{inspect.signature(fn)} not understood)")
    return fn(**kwargs)


def _flex(module: str, name: str, **extra: Callable[[Ctx], Any]) -> Callable[[Ctx], Any]:
    def run(ctx: Ctx) -> Any:
        return call_flexibly(_function(module, name), ctx, **{k: f(ctx) for k, f in extra.items()})
    run.__name__ = name
    return run


REPORT_FUNCTIONS = ("build_report", "meeting_report", "render_report", "write_report", "report_html", "build")


def _report(ctx: Ctx) -> Any:
    """Build the meeting report with whichever entry point crmflow.report has."""
    import tempfile

    try:
        mod = importlib.import_module("crmflow.report")
    except ModuleNotFoundError as exc:
        if exc.name == "crmflow.report":
            raise NotAvailable("n/a (not built yet: crmflow.report)") from None
        raise
    if callable(getattr(mod, "report_file", None)):  # crmflow.report: every slide, written as one HTML file
        return mod.report_file(ctx.db, ctx.dataset_id, "html", "bench", ctx.as_of, ctx.params)
    fn = next((getattr(mod, n) for n in REPORT_FUNCTIONS if callable(getattr(mod, n, None))), None)
    if fn is None:
        raise NotAvailable("n/a (crmflow.report has none of " + ", ".join(REPORT_FUNCTIONS) + ")")
    names = inspect.signature(fn).parameters
    with tempfile.TemporaryDirectory() as tmp:
        extra = {k: f"{tmp}/report.html" for k in ("out", "path", "out_path", "output") if k in names}
        return call_flexibly(fn, ctx, **extra)


# --------------------------------------------------------------------------- crmflow side
def crmflow_components() -> dict[str, Callable[[Ctx], Any]]:
    """Every component by name, as the dashboard calls it."""
    from crmflow import analytics, model, stages

    return {
        "data_range": lambda c: stages.data_range(c.db, c.dataset_id),
        "overview_kpis": _flex("overview", "overview_kpis", since=lambda c: c.kpi_since),
        "stage_counts": lambda c: stages.stage_counts(c.db, c.dataset_id, c.as_of, c.params),
        "stage_snapshots": lambda c: stages.stage_snapshots(c.db, c.dataset_id, c.first, c.as_of, c.params),
        "ntd_trends": lambda c: analytics.ntd_trends(c.db, c.dataset_id, c.first, c.as_of, c.params),
        "pareto": lambda c: analytics.pareto(c.db, c.dataset_id, c.as_of),
        "won_back_lost_monthly": lambda c: stages.won_back_lost_monthly(c.db, c.dataset_id, c.as_of, c.params),
        "flow": lambda c: stages.flow(c.db, c.dataset_id, c.flow_start, c.as_of, c.params),
        "flow_customers": lambda c: stages.flow_customers(c.db, c.dataset_id, c.flow_start, c.as_of,
                                                          *FLOW_BAND, c.params),
        "order_rhythm": lambda c: c.db.run("order_rhythm", dataset_id=c.dataset_id, as_of=c.as_of),
        "churn_warnings": _flex("churn", "churn_warnings"),
        "account_health": _flex("health", "account_health"),
        "value_matrix": _flex("health", "value_matrix"),
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

    def data_range(data, c):
        lines = data.transactions
        dates = lines.loc[lines["amount"] > 0, "order_date"]
        return dates.min().date(), dates.max().date()

    return {
        "data_range": data_range,
        "stage_counts": lambda data, c: pb.stage_counts(data, c.as_of, c.params),
        "stage_snapshots": lambda data, c: pb.stage_snapshots(data, pb.month_ends(c.first, c.as_of), c.params),
        "ntd_trends": lambda data, c: pb.ntd_trends(data, pb.month_ends(c.first, c.as_of), c.params),
        "pareto": lambda data, c: pb.pareto(data, c.as_of),
        "won_back_lost_monthly": lambda data, c: pb.won_back_lost_monthly(data, c.as_of, c.params),
        "flow": lambda data, c: pb.flow(data, c.flow_start, c.as_of, c.params),
        "flow_customers": lambda data, c: pb.flow_customers(data, c.flow_start, c.as_of, *FLOW_BAND, c.params),
        "order_rhythm": lambda data, c: pb.order_rhythm(data, c.as_of),
        "rfm": lambda data, c: pb.rfm(data, c.as_of),
        "cohort_retention": lambda data, c: pb.cohort_retention(data, c.as_of),
    }
