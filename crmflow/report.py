"""The meeting report (SPEC §3 "Meeting use"): the main views for one as-of
date as a list of slides, written as one self-contained HTML file or as a
PowerPoint deck, and shown one per screen by the dashboard's presentation mode.

A :class:`Slide` is a finding (its title), a Plotly figure built by the same
chart builders the dashboard uses (``crmflow.charts.*``), and optionally a
caption, bullets and a small table. :func:`build_slide` makes one slide from
the data, :func:`build_slides` all of them (:data:`SLIDE_KEYS`); a slide whose
data is missing says what to upload instead, and a slide that fails for any
other reason says so without breaking the report.

Writers
    :func:`write_html` -- one file that opens offline: plotly.js is embedded
    once, inline; a title page with the dataset, the as-of date, the
    definitions and filters used and the time it was generated; one section
    per slide; print-friendly CSS. Every piece of user text (dataset and
    customer names) is HTML-escaped.

    :func:`write_pptx` -- 16:9, a title slide, then one slide per view with
    the finding as title and the chart as a PNG rendered by kaleido (which
    needs Chromium; without it a :class:`CrmflowError` says how to install it).

This module never imports streamlit; the pages call it through ``ctx.call``.
"""

from __future__ import annotations

import atexit
import html
import io
import logging
import math
import os
import shutil
import threading
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from crmflow.config import STAGES, STAGES_WITH_NONE, Params
from crmflow.db import Database, Scope
from crmflow.errors import CrmflowError
from crmflow.filters import Filters
from crmflow.i18n import DEFAULT_LANGUAGE, t

log = logging.getLogger(__name__)

#: The slides of the report, in the order they are shown.
SLIDE_KEYS = ("kpis", "stages", "revenue", "flow", "pareto", "loyalty", "churn", "risk", "accounts", "matrix",
              "segments", "cohorts", "clv", "backtest", "track", "prospects", "servqual")
#: Tallest chart in the HTML report (px), so that a view fits on a printed page.
HTML_CHART_HEIGHT = 480
#: Report file formats (by the output file's extension).
FORMATS = ("html", "pptx")
#: Months of stage snapshots on the "stages over time" slide.
TREND_MONTHS = 24
#: Days between the comparison date and D on the KPI slide.
KPI_COMPARE_DAYS = 90
#: Most recent cohorts drawn on the cohort slide (the headline uses them all).
COHORT_ROWS = 24
#: Rows of a slide's table (of a table beside a chart).
TABLE_ROWS = 10
DEFAULT_PARAMS = Params()
NO_FILTERS = Filters()


# --------------------------------------------------------------------------- slides
@dataclass
class Slide:
    """One screen of the report: the finding, its chart and a few words."""

    key: str
    section: str  # the view it comes from, translated (e.g. "Overview")
    title: str  # the finding, with its numbers
    figure: go.Figure | None = None
    caption: str = ""
    bullets: tuple[str, ...] = ()
    table: pd.DataFrame | None = None  # display labels as columns, text cells
    message: str | None = None  # what is missing (what to upload), or why the slide failed
    failed: bool = False  # True only for an unexpected error (a bug), not for missing data


@dataclass(frozen=True)
class _Inputs:
    db: Database
    scope: int | Scope
    as_of: date
    params: Params
    lang: str
    memo: dict = field(default_factory=dict, compare=False, hash=False)  # shared by the slides of one report

    def tr(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)

    def once(self, name: str, compute: Callable[[], object]) -> object:
        """``compute()`` once per report (slides that need the same data share it)."""
        if name not in self.memo:
            self.memo[name] = compute()
        return self.memo[name]

    def churn_all(self) -> pd.DataFrame:
        """Every customer not lost, scored (:func:`crmflow.churn.churn_warnings` with include_all)."""
        from crmflow.churn import churn_warnings

        return self.once("churn_all", lambda: churn_warnings(self.db, self.scope, self.as_of, self.params,
                                                             include_all=True))

    def labels(self) -> dict[str, str]:
        return {s: self.tr(f"stage_{s}") for s in STAGES_WITH_NONE}

    def first(self) -> date:
        from crmflow.stages import data_range

        return data_range(self.db, self.scope)[0]


def _dataset_id(scope: int | Scope) -> int:
    return scope.dataset_id if isinstance(scope, Scope) else int(scope)


def _table(rows: Sequence[Sequence[object]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([[("" if v is None else str(v)) for v in row] for row in rows], columns=list(columns))


def _section(inp: _Inputs, key: str) -> str:
    return inp.tr({"kpis": "page_overview", "stages": "page_overview", "revenue": "page_overview",
                   "flow": "page_flow", "pareto": "page_overview", "loyalty": "page_overview",
                   "churn": "page_churn", "risk": "page_churn",
                   "accounts": "page_key_accounts", "matrix": "page_key_accounts", "segments": "page_segments",
                   "cohorts": "page_segments", "clv": "page_segments", "backtest": "page_segments",
                   "track": "page_segments", "prospects": "page_flow",
                   "servqual": "page_servqual"}[key])


def _missing(inp: _Inputs, key: str, title: str, message: str) -> Slide:
    return Slide(key, _section(inp, key), title, message=message)


# ---------------------------------------------------------------- overview
def _slide_kpis(inp: _Inputs) -> Slide:
    from crmflow.charts import stage_bar
    from crmflow.overview import overview_kpis, relative_change

    since = inp.as_of - timedelta(days=KPI_COMPARE_DAYS)
    k = overview_kpis(inp.db, inp.scope, inp.as_of, since, inp.params)
    labels = inp.labels()
    total = sum(k.counts.values())
    if total == 0:
        return _missing(inp, "kpis", inp.tr("rep_heading_kpis"), inp.tr("empty_data"))
    from crmflow.headlines import overview_headline

    title = overview_headline(k.counts, k.counts_before, k.as_of, k.since).text(inp.lang)
    fig = stage_bar(k.counts, labels, title, inp.tr("ov_axis_customers"))
    change = relative_change(k.revenue_12m, k.revenue_prev_12m)
    bullets = [inp.tr("rep_kpi_revenue", value=k.revenue_12m) if change is None else
               inp.tr("rep_kpi_revenue_change", value=k.revenue_12m, change=change)]
    rate = k.repeat.rate
    bullets.append(inp.tr("rep_kpi_repeat_none") if rate is None else
                   inp.tr("rep_kpi_repeat", rate=rate, repeat=k.repeat.repeat_buyers, buyers=k.repeat.buyers))
    bullets.append(inp.tr("rep_kpi_won_lost", days=KPI_COMPARE_DAYS, won=k.won_back, lost=k.lost))
    table = _table([(labels[s], f"{k.counts[s]:,}", f"{k.delta(s):+,}") for s in STAGES],
                   (inp.tr("stage"), inp.tr("customers"), inp.tr("rep_col_change", date=since.isoformat())))
    return Slide("kpis", _section(inp, "kpis"), title, fig, inp.tr("rep_kpis_caption", as_of=inp.as_of.isoformat()),
                 tuple(bullets), table)


def _slide_stages(inp: _Inputs) -> Slide:
    from crmflow.charts.overview import stage_area
    from crmflow.overview import largest_stage_change, trend_start
    from crmflow.stages import stage_snapshots

    start = trend_start(inp.as_of, inp.first(), str(TREND_MONTHS))
    snapshots = stage_snapshots(inp.db, inp.scope, start, inp.as_of, inp.params)
    labels = inp.labels()
    change = largest_stage_change(snapshots)
    if change is None:
        title = inp.tr("ov_stages_title_single", as_of=inp.as_of.isoformat())
    else:
        title = inp.tr("ov_stages_title", stage=labels[change.name], start_count=int(change.start),
                       end_count=int(change.end), start=change.start_date.isoformat(),
                       end=change.end_date.isoformat())
    fig = stage_area(snapshots, labels, title, inp.tr("ov_axis_month_end"), inp.tr("ov_axis_customers"))
    return Slide("stages", _section(inp, "stages"), title, fig,
                 inp.tr("rep_stages_caption", start=start.isoformat(), end=inp.as_of.isoformat()))


def _slide_revenue(inp: _Inputs) -> Slide:
    """The Overview's revenue by month (its default view: 24 months, by
    region), drawn and titled by the same functions as on the page."""
    from crmflow.charts.managers import revenue_months
    from crmflow.headlines import money
    from crmflow.managers import DEFAULT_SPLIT, revenue_by_month, revenue_chart
    from crmflow.overview import DEFAULT_PERIOD, trend_start

    start = trend_start(inp.as_of, inp.first(), DEFAULT_PERIOD)
    months = revenue_by_month(inp.db, inp.scope, start, inp.as_of, DEFAULT_SPLIT)
    chart = revenue_chart(months, DEFAULT_SPLIT, start, inp.as_of, inp.lang, lambda v: money(v, inp.lang))
    if chart.head.share is None:
        return _missing(inp, "revenue", chart.title, inp.tr("empty_data"))
    fig = revenue_months(chart.shown, chart.names, chart.title, inp.tr("mg_axis_month"), inp.tr("mg_axis_revenue"))
    totals = months.sum().sort_values(ascending=False, kind="stable")
    rows = [(inp.tr(f"mg_group_none_{DEFAULT_SPLIT}") if g is None else str(g), money(v, inp.lang),
             f"{v / chart.head.total:.0%}") for g, v in totals.head(TABLE_ROWS).items()]
    table = _table(rows, (inp.tr(f"mg_split_{DEFAULT_SPLIT}"), inp.tr("gl_revenue"), inp.tr("polish3_col_share")))
    return Slide("revenue", _section(inp, "revenue"), chart.title, fig,
                 inp.tr("polish3_rep_revenue_caption", as_of=inp.as_of.isoformat()), table=table)


def _slide_flow(inp: _Inputs) -> Slide:
    from crmflow.charts.flow import sankey
    from crmflow.stages import flow
    from crmflow.transitions import default_start, flow_summary

    start = default_start(inp.first(), inp.as_of)
    frame = flow(inp.db, inp.scope, start, inp.as_of, inp.params)
    if frame.empty or int(frame["customers"].sum()) == 0:
        return _missing(inp, "flow", inp.tr("rep_heading_flow"), inp.tr("empty_data"))
    s = flow_summary(frame)
    from crmflow.headlines import flow_headline

    title = flow_headline(s, start, inp.as_of).text(inp.lang)
    bullets = (f"{inp.tr('fl_gained')}: {s.gained:,}", f"{inp.tr('fl_became_lost')}: {s.became_lost:,}",
               f"{inp.tr('fl_won_back')}: {s.won_back:,}",
               inp.tr("rep_flow_active", start=s.active_start, end=s.active_end))
    return Slide("flow", _section(inp, "flow"), title, sankey(frame, inp.labels(), title),
                 inp.tr("fl_sankey_caption"), bullets)


def _slide_pareto(inp: _Inputs) -> Slide:
    from crmflow.analytics import pareto, pareto_headline
    from crmflow.charts.overview import pareto_curve

    curve = pareto(inp.db, inp.scope, inp.as_of, "revenue")
    head = pareto_headline(curve)
    if head.top20_share is None:
        return _missing(inp, "pareto", inp.tr("rep_heading_pareto"), inp.tr("ov_pareto_empty_revenue"))
    title = inp.tr("pareto_headline_revenue", share=head.top20_share)
    marker = inp.tr("ov_pareto_marker", customers=head.top20_customers, share=head.top20_share)
    fig = pareto_curve(curve, title, inp.tr("ov_axis_customer_share"), inp.tr("ov_axis_cumulative_revenue"),
                       top_customers=head.top20_customers, top_share=head.top20_share, marker_label=marker)
    caption = inp.tr("ov_bottom30_revenue", customers=head.bottom30_customers, share=head.bottom30_share)
    return Slide("pareto", _section(inp, "pareto"), title, fig, caption)


# ---------------------------------------------------------------- churn warnings
def _coverage(inp: _Inputs) -> dict[str, int]:
    row = inp.db.run("data_coverage", dataset_id=_dataset_id(inp.scope)).iloc[0]
    return {k: int(v) for k, v in row.items()}


def _slide_churn(inp: _Inputs) -> Slide:
    from crmflow.account_view import (
        at_risk_rows,
        call_list,
        churn_headline,
        directory,
        display_name,
        reasons_in,
    )
    from crmflow.churn import empty_list_note

    everyone = inp.churn_all()
    listed = at_risk_rows(everyone)  # from the one scoring shared with the "risk" slide
    head = churn_headline(listed)
    coverage = _coverage(inp)
    hints = tuple(inp.tr(key) for column, key in (("interactions", "cp_unlock_interactions"),
                                                  ("due_date", "cp_unlock_due_date"))
                  if not coverage.get(column))
    if head.customers == 0:
        slide = _missing(inp, "churn", inp.tr("rep_heading_churn"),
                         empty_list_note(everyone, inp.params.lost_after_days, inp.lang)
                         or inp.tr("cp_empty", as_of=inp.as_of.isoformat()))
        slide.bullets = hints
        return slide
    from crmflow.headlines import churn_headline as churn_finding

    title = churn_finding(everyone, listed, inp.params.lost_after_days).text(inp.lang)
    top = listed.head(TABLE_ROWS)
    people = call_list(top, directory(inp.db, inp.scope, inp.as_of), inp.lang)
    reasons = reasons_in(top, inp.lang)
    rows = [(display_name(c, n), o or "", f"{int(r)}", f"{float(v):,.0f}", rs[0] if rs else "")
            for c, n, o, r, v, rs in zip(people["customer_id"], people["name"], people["owner"],
                                         people["risk_score"], people["value_at_risk"], reasons)]
    table = _table(rows, (inp.tr("cp_col_name"), inp.tr("cp_col_owner"), inp.tr("cp_col_risk_score"),
                          inp.tr("cp_col_value_at_risk"), inp.tr("rep_col_main_reason")))
    return Slide("churn", _section(inp, "churn"), title, caption=inp.tr("rep_churn_caption", n=len(top)),
                 bullets=hints, table=table)


def _slide_risk(inp: _Inputs) -> Slide:
    from crmflow.charts.churn import risk_histogram
    from crmflow.churn import AT_RISK_SCORE, risk_distribution

    everyone = inp.churn_all()
    if everyone.empty:
        return _missing(inp, "risk", inp.tr("rep_heading_risk"), inp.tr("cp_empty", as_of=inp.as_of.isoformat()))
    at_risk = int((everyone["risk_score"].astype(float) >= AT_RISK_SCORE).sum())
    title = inp.tr("cp_dist_title", at_risk=at_risk, total=len(everyone), threshold=AT_RISK_SCORE)
    fig = risk_histogram(risk_distribution(everyone), title, inp.tr("cp_dist_x"), inp.tr("cp_dist_y"),
                         AT_RISK_SCORE, inp.tr("cp_dist_threshold", threshold=AT_RISK_SCORE))
    return Slide("risk", _section(inp, "risk"), title, fig, inp.tr("cp_dist_caption"))


# ---------------------------------------------------------------- key accounts
def _slide_accounts(inp: _Inputs) -> Slide:
    from crmflow.account_view import display_name, key_account_headline, trend_text, weakest_component
    from crmflow.health import (
        COMPONENTS,
        DEFAULT_MAX_ACCOUNTS,
        DEFAULT_SHARE,
        account_health,
        health_coverage,
        label,
    )

    health = account_health(inp.db, inp.scope, inp.as_of, inp.params)
    head = key_account_headline(health, inp.params.lost_after_days)
    if head.accounts == 0:
        return _missing(inp, "accounts", inp.tr("rep_heading_accounts"),
                        inp.tr("ka_none", as_of=inp.as_of.isoformat()))
    from crmflow.headlines import key_account_headline as key_account_finding

    title = key_account_finding(head, inp.params.lost_after_days).text(inp.lang)
    coverage = health_coverage(inp.db, inp.scope, inp.as_of)
    available = [c for c in COMPONENTS if coverage.get(c, False)]
    names = {c: label("component", c, inp.lang) for c in COMPONENTS}
    counts = " · ".join(f"{label('status', s, inp.lang)} {n:,}"
                        for s, n in (("healthy", head.healthy), ("watch", head.watch), ("at_risk", head.at_risk)))
    counts += f" · {inp.tr('vo_ka_lost', days=inp.params.lost_after_days)} {head.lost:,}"
    bullets = [counts]
    weakest = weakest_component(health[available].astype("float64"))
    if weakest is not None:
        bullets.append(inp.tr("ka_components_title", component=names[weakest[0]], mean=weakest[1], n=len(health)))
    worst = health.sort_values(["health_score", "customer_id"], na_position="last").head(TABLE_ROWS)
    rows = []
    for r in worst.to_dict("records"):
        scores = {c: r[c] for c in available if not pd.isna(r[c])}
        low = min(scores, key=lambda c: (scores[c], COMPONENTS.index(c))) if scores else None
        rows.append((display_name(r["customer_id"], r["name"]), label("status", r["status"], inp.lang) or "–",
                     "–" if pd.isna(r["health_score"]) else f"{float(r['health_score']):.0f}",
                     trend_text(r["trend"], r["health_score"], r["score_90d_ago"]),
                     label("phase", r["phase"], inp.lang) or "–", r["owner"] if isinstance(r["owner"], str) else "",
                     "" if low is None else f"{names[low]} ({float(scores[low]):.0f})"))
    table = _table(rows, (inp.tr("ka_col_customer"), inp.tr("health_status"), inp.tr("health_score"),
                          inp.tr("health_trend"), inp.tr("health_phase"), inp.tr("ka_col_owner"),
                          inp.tr("rep_col_weakest")))
    caption = [inp.tr("ka_intro_flag", n=head.accounts, as_of=inp.as_of.isoformat()) if head.selected_by == "flag"
               else inp.tr("ka_intro_revenue", n=head.accounts, share=DEFAULT_SHARE, max=DEFAULT_MAX_ACCOUNTS,
                           as_of=inp.as_of.isoformat()),
               inp.tr("rep_accounts_shown", n=len(worst))]
    caption += [f"{names[c]}: {inp.tr(f'health_unlock_{c}')}." for c in COMPONENTS if c not in available]
    return Slide("accounts", _section(inp, "accounts"), title, None, " ".join(caption), tuple(bullets), table)


def _slide_matrix(inp: _Inputs) -> Slide:
    from crmflow.account_view import matrix_headline, use_log_axes
    from crmflow.charts.accounts import value_matrix_scatter
    from crmflow.health import QUADRANTS, label, value_matrix, value_matrix_summary

    matrix = value_matrix(inp.db, inp.scope, inp.as_of)
    if matrix.empty:
        return _missing(inp, "matrix", inp.tr("rep_heading_matrix"),
                        inp.tr("ka_matrix_empty", as_of=inp.as_of.isoformat()))
    names = {q: label("quadrant", q, inp.lang) for q in QUADRANTS}
    summary = value_matrix_summary(matrix)
    core_share, value_share = matrix_headline(summary)
    if value_share is None:
        title = inp.tr("ka_matrix_title_plain", core=names["core"], core_share=core_share)
    else:
        title = inp.tr("ka_matrix_title", core=names["core"], core_share=core_share, value_share=value_share)
    basis = str(matrix["value_basis"].iloc[0])
    log = use_log_axes(matrix["current_value"]) or use_log_axes(matrix["potential_value"])
    fig = value_matrix_scatter(matrix, names, title, inp.tr("ka_axis_current", basis=inp.tr(f"ka_basis_{basis}")),
                               inp.tr("ka_axis_potential"), log=log)
    table = _table([(names[r.quadrant], f"{int(r.customers):,}", f"{float(r.customer_share):.0%}",
                     f"{float(r.current_value):,.0f}") for r in summary.itertuples(index=False)],
                   (inp.tr("ka_col_quadrant"), inp.tr("ka_col_customers"), inp.tr("ka_col_customer_share"),
                    inp.tr("ka_col_current_value")))
    caption = [inp.tr("ka_matrix_cuts", current=float(matrix["current_cut"].iloc[0]),
                      potential=float(matrix["potential_cut"].iloc[0]))]
    if log:
        caption.append(inp.tr("ka_matrix_log"))
    if basis != "profit":
        caption.append(inp.tr("ka_unlock_cost"))
    return Slide("matrix", _section(inp, "matrix"), title, fig, " ".join(caption), table=table)


# ---------------------------------------------------------------- segments
def _slide_segments(inp: _Inputs) -> Slide:
    from crmflow.analytics import rfm_segments_summary, segments
    from crmflow.charts.segments import segment_treemap
    from crmflow.segments_table import segment_headline, top_revenue_segment

    summary = rfm_segments_summary(inp.db, inp.scope, inp.as_of)
    names = {s: inp.tr(f"segment_{s}") for s in segments()}
    headline = segment_headline(summary)
    if headline is None:
        return _missing(inp, "segments", inp.tr("rep_heading_segments"),
                        inp.tr("seg_empty", as_of=inp.as_of.isoformat()))
    top = top_revenue_segment(summary)
    if top is not None:
        title = inp.tr("seg_treemap_title", segment=names[top.segment], revenue_share=top.revenue_share,
                       customer_share=top.customer_share)
    else:
        title = inp.tr("seg_title_no_revenue", segment=names[headline.segment], customers=headline.customers,
                       customer_share=headline.customer_share)
    fig = segment_treemap(summary, names, inp.tr("seg_tile"), inp.tr("seg_tile_no_revenue"), title,
                          inp.tr("seg_colour_revenue_share"), inp.tr("seg_colour_mean_monetary"))
    rows = summary[summary["customers"] > 0].sort_values("customers", ascending=False).head(TABLE_ROWS)
    table = _table([(names[r.segment], f"{int(r.customers):,}",
                     "–" if pd.isna(r.revenue_share) else f"{float(r.revenue_share):.0%}")
                    for r in rows.itertuples(index=False)],
                   (inp.tr("seg_col_segment"), inp.tr("seg_col_customers"), inp.tr("seg_col_revenue_share")))
    return Slide("segments", _section(inp, "segments"), title, fig,
                 inp.tr("seg_table_caption", as_of=inp.as_of.isoformat()), table=table)


def _slide_cohorts(inp: _Inputs) -> Slide:
    from crmflow.analytics import cohort_matrix, cohort_retention
    from crmflow.charts.segments import cohort_heatmap
    from crmflow.segments_table import cohort_headline

    cohorts = cohort_retention(inp.db, inp.scope, inp.as_of)
    if cohorts.empty:
        return _missing(inp, "cohorts", inp.tr("rep_heading_cohorts"), inp.tr("seg_cohort_empty"))
    month1 = cohort_headline(cohorts, inp.as_of, "retention")
    title = inp.tr("seg_cohort_title_none") if month1 is None else inp.tr("seg_cohort_title_retention",
                                                                           share=month1)
    matrix = cohort_matrix(cohorts, "retention")
    shown = matrix.iloc[-COHORT_ROWS:]
    shown = shown.loc[:, shown.notna().any(axis=0)]
    fig = cohort_heatmap(shown, title, inp.tr("seg_cohort_x"), inp.tr("seg_cohort_y"),
                         inp.tr("seg_cohort_colour_retention"), percent=True)
    caption = inp.tr("seg_cohort_caption")
    if len(matrix) > len(shown):
        caption = inp.tr("rep_cohorts_shown", shown=len(shown), total=len(matrix)) + " " + caption
    return Slide("cohorts", _section(inp, "cohorts"), title, fig, caption)


def _slide_clv(inp: _Inputs) -> Slide:
    from crmflow.charts.segments import value_histogram
    from crmflow.segments_table import segment_view, value_concentration

    view = segment_view(inp.db, inp.scope, inp.as_of, inp.params)
    if not view.has_model:
        return _missing(inp, "clv", inp.tr("rep_heading_clv"), inp.tr("seg_clv_unavailable", reason=view.error.localized(inp.lang)))
    values = view.customers["expected_value"].dropna()
    conc = value_concentration(values)
    if conc.top10_share is not None:
        title = inp.tr("seg_clv_title", share=conc.top10_share, total=conc.total)
    else:
        title = inp.tr("seg_clv_title_zero", total=conc.total)
    fig = value_histogram(values, title, inp.tr("seg_clv_x"), inp.tr("seg_clv_y"))
    bullets = [f"{inp.tr('seg_clv_metric_total')}: {conc.total:,.0f}",
               f"{inp.tr('seg_clv_metric_median')}: {conc.median:,.0f}",
               f"{inp.tr('seg_clv_metric_alive')}: {view.customers['p_alive'].mean():.0%}"]
    bullets += [note.text(inp.lang) for note in view.notes if note.key != "seg_clv_note_converged"]
    caption = inp.tr("clvchoice_clv_caption", as_of=inp.as_of.isoformat(),
                     model=inp.tr(f"clvchoice_model_{view.model}"))
    return Slide("clv", _section(inp, "clv"), title, fig, caption, tuple(bullets))


def _slide_backtest(inp: _Inputs) -> Slide:
    from crmflow.charts.segments import backtest_bars
    from crmflow.segments_table import backtest_view

    bt = backtest_view(inp.db, inp.scope, inp.as_of)
    if bt.result is None:
        return _missing(inp, "backtest", inp.tr("rep_heading_backtest"), inp.tr("seg_bt_unavailable", reason=bt.error.localized(inp.lang)))
    res = bt.result
    title = inp.tr("seg_bt_title", predicted=res["predicted_orders"], actual=res["actual_orders"],
                   days=res["holdout_days"])
    fig = backtest_bars(bt.by_decile, inp.tr("seg_bt_predicted"), inp.tr("seg_bt_actual"), title,
                        inp.tr("seg_bt_x"), inp.tr("seg_bt_y"))
    bullets = (f"{inp.tr('seg_bt_metric_predicted')}: {res['predicted_orders']:,.0f}",
               f"{inp.tr('seg_bt_metric_actual')}: {res['actual_orders']:,}",
               f"{inp.tr('seg_bt_metric_mae')}: {res['mean_absolute_error']:,.2f}",
               inp.tr(f"seg_bt_verdict_{bt.verdict or 'none'}"))
    caption = inp.tr("seg_bt_caption", calibration_end=res["calibration_end"], holdout_end=res["holdout_end"],
                     customers=res["customers"])
    return Slide("backtest", _section(inp, "backtest"), title, fig, caption, bullets)


def _slide_track(inp: _Inputs) -> Slide:
    """The backtest's track record: the tracking plot, the by-group numbers as the table."""
    from crmflow.charts.track import tracking_chart
    from crmflow.track_record import group_table, group_title, track_record_view, tracking_title

    view = track_record_view(inp.db, inp.scope, inp.as_of)
    if view.record is None:
        return _missing(inp, "track", inp.tr("rep_heading_track"), inp.tr("trk_unavailable", reason=view.error.localized(inp.lang)))
    rec = view.record
    labels = {k: inp.tr(f"trk_{k}") for k in ("actual", "expected", "calibration_end", "x", "y")}
    title = tracking_title(rec, inp.lang)
    dates = {"calibration_end": rec.calibration_end.isoformat(), "holdout_end": rec.holdout_end.isoformat()}
    caption = inp.tr("trk_caption", **dates) + " " + inp.tr("trk_group_caption", top=rec.top_group, **dates)
    return Slide("track", _section(inp, "track"), title, tracking_chart(rec.cumulative, rec.calibration_end, labels,
                 title), caption, (group_title(rec, inp.lang),), group_table(rec, inp.lang))


def _slide_loyalty(inp: _Inputs) -> Slide:
    """The Overview's loyalty section: the share measures over the trend
    months as the chart, the measures by stage at D as the table, and what
    would unlock the measures the data cannot show."""
    from crmflow.charts.loyalty import loyalty_trend
    from crmflow.loyalty import display_table, loyalty_view, shown_shares, slide_title, trend_title, unlock_notes
    from crmflow.overview import trend_start

    start = trend_start(inp.as_of, inp.first(), str(TREND_MONTHS))
    view = loyalty_view(inp.db, inp.scope, inp.as_of, start, inp.params, "stage")
    shares = shown_shares(view.available)
    fig = loyalty_trend(view.trend, shares, {m: inp.tr(f"loy_{m}") for m in shares},
                        trend_title(view.trend, inp.lang), inp.tr("loy_axis_month_end"), inp.tr("loy_axis_share"))
    caption = inp.tr("loy_caption_stage", as_of=inp.as_of.isoformat(), window=inp.params.loyal_window_days)
    return Slide("loyalty", _section(inp, "loyalty"), slide_title(view.groups, inp.lang), fig, caption,
                 tuple(unlock_notes(view.available, inp.lang)),
                 display_table(view.groups, "stage", view.available, inp.lang, compact=True))


def _slide_prospects(inp: _Inputs) -> Slide:
    """Conversion prospects: the top of the list by expected value, the backtest's verdict."""
    from crmflow.account_view import directory, display_name
    from crmflow.headlines import money
    from crmflow.charts.prospects import step_bars
    from crmflow.prospects import DEFAULT_HORIZON_DAYS, prospects, step_summary, track_record, track_verdict

    h = DEFAULT_HORIZON_DAYS
    result = prospects(inp.db, inp.scope, inp.as_of, inp.params, h, inp.lang)
    notes = tuple(inp.tr(k, days=h) for k in result.notes)
    frame = result.frame
    if frame.empty:
        slide = _missing(inp, "prospects", inp.tr("rep_heading_prospects"),
                         inp.tr("pr_empty", as_of=inp.as_of.isoformat()))
        slide.bullets = notes
        return slide
    scored = frame[frame["probability"].notna()]
    if scored.empty:
        slide = _missing(inp, "prospects", inp.tr("rep_heading_prospects"),
                         inp.tr("pr_none_scored", as_of=inp.as_of.isoformat(), customers=len(frame), days=h))
        slide.bullets = notes
        return slide
    value = float(frame["expected_value"].fillna(0).sum())
    title = inp.tr("pr_slide_title", expected=result.expected_movers(),
                   customers=len(scored), days=h, value=money(value, inp.lang))
    top = scored.head(TABLE_ROWS)
    names = directory(inp.db, inp.scope, inp.as_of).set_index("customer_id")["name"] if len(top) else None
    stages = inp.labels()
    rows = [(display_name(c, names.get(c) if names is not None else None),
             inp.tr("pr_chance_value", probability=p, value=money(ev, inp.lang)))
            for c, p, ev in zip(top["customer_id"], top["probability"], top["expected_value"])]
    table = _table(rows, (inp.tr("cp_col_name"), inp.tr("pr_col_chance_value")))
    verdict = track_verdict(track_record(inp.db, inp.scope, inp.as_of, inp.params, h), inp.lang)
    steps = step_summary(frame)
    steps["step"] = [inp.tr("pr_step", source=stages[a], target=stages[b])
                     for a, b in zip(steps["stage"], steps["next_stage"])]
    fig = step_bars(steps, inp.tr("pr_col_now"), inp.tr("pr_col_expected"), title, inp.tr("pr_col_step"),
                    inp.tr("pr_axis_customers"))
    return Slide("prospects", _section(inp, "prospects"), title, fig,
                 caption=inp.tr("pr_slide_caption", verdict=verdict), bullets=notes, table=table)


def _slide_servqual(inp: _Inputs) -> Slide:
    """Service quality (Servqual): the gap per dimension with its interval, the
    churn comparison in words (and the key accounts' health comparison when
    there is one), the dimension gaps as the table."""
    from crmflow import servqual
    from crmflow.charts.servqual import dimension_gap_bars

    view = servqual.servqual_view(inp.db, inp.scope, inp.as_of, params=inp.params)
    if not view.has_survey:
        return _missing(inp, "servqual", inp.tr("rep_heading_servqual"),
                        inp.tr(servqual.no_answers_key(inp.db, inp.scope)))
    if view.dimensions.empty:
        return _missing(inp, "servqual", inp.tr("rep_heading_servqual"), inp.tr("sq_unlock"))
    labels = {d: servqual.dimension_label(d, inp.lang) for d in servqual.DIMENSIONS}
    title = servqual.headline(view.dimensions, inp.lang)
    cov = view.coverage
    caption = inp.tr("sq_caption" if cov["scale_min"] else "sqmend_caption_zero", answers=int(view.items["answers"].sum()),
                     responses=int(view.dimensions["responses"].max()), first=cov["first_date"],
                     last=min(cov["last_date"], inp.as_of), top=cov["scale_max"])
    bullets = (servqual.churn_sentence(view.churn, inp.lang, view.churn_reason),) if cov["answers_with_customer"] else ()
    if view.health is not None:
        bullets += (servqual.health_sentence(view.health, inp.lang, view.health_reason),)
    rows = [(labels[d.dimension], f"{d.gap:+.2f}",
             "–" if pd.isna(d.ci_low) or pd.isna(d.ci_high) else f"{d.ci_low:+.2f} … {d.ci_high:+.2f}",
             f"{int(d.responses):,}") for d in view.dimensions.itertuples(index=False)]
    table = _table(rows, [inp.tr("sq_col_dimension"), inp.tr("sq_col_gap"), inp.tr("sq_col_interval"),
                          inp.tr("sq_col_responses")])
    return Slide("servqual", _section(inp, "servqual"), title,
                 dimension_gap_bars(view.dimensions, labels, title, inp.tr("sq_axis_gap")), caption, bullets, table)


_BUILDERS: dict[str, Callable[[_Inputs], Slide]] = {
    "kpis": _slide_kpis, "stages": _slide_stages, "revenue": _slide_revenue, "flow": _slide_flow,
    "pareto": _slide_pareto, "loyalty": _slide_loyalty,
    "churn": _slide_churn, "risk": _slide_risk, "accounts": _slide_accounts, "matrix": _slide_matrix,
    "segments": _slide_segments, "cohorts": _slide_cohorts, "clv": _slide_clv, "backtest": _slide_backtest,
    "track": _slide_track, "prospects": _slide_prospects, "servqual": _slide_servqual,
}


def slide_heading(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A short name of a slide (for a table of contents or a failed slide)."""
    return t(f"rep_heading_{key}", lang)


def build_slide(db: Database, dataset_id: int | Scope, key: str, as_of: date, params: Params = DEFAULT_PARAMS,
                lang: str = DEFAULT_LANGUAGE) -> Slide:
    """The slide ``key`` (one of :data:`SLIDE_KEYS`) at D = ``as_of``. Never
    raises for a data problem: a slide that cannot be made explains why."""
    return _build(_Inputs(db, dataset_id, as_of, params, lang), key)


def _build(inp: _Inputs, key: str) -> Slide:
    lang = inp.lang
    if key not in _BUILDERS:
        raise CrmflowError(f"Unknown report slide {key!r}", f"Use one of {', '.join(SLIDE_KEYS)}")
    try:
        return _BUILDERS[key](inp)
    except CrmflowError as exc:  # a data problem: the slide says what it is
        return _missing(inp, key, slide_heading(key, lang), exc.localized(lang))
    except Exception as exc:  # anything else: the slide says it failed, the report goes on
        log.exception("report slide %s failed", key)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}{': ' + first if first else ''}"
    return Slide(key, _section(inp, key), slide_heading(key, lang),
                 message=t("rep_slide_failed", lang, reason=reason), failed=True)


def build_slides(db: Database, dataset_id: int | Scope, as_of: date, params: Params = DEFAULT_PARAMS,
                 lang: str = DEFAULT_LANGUAGE, keys: Sequence[str] = SLIDE_KEYS) -> list[Slide]:
    """Every slide of the report at D = ``as_of`` (see :func:`build_slide`)."""
    inp = _Inputs(db, dataset_id, as_of, params, lang)
    return [_build(inp, key) for key in keys]


# --------------------------------------------------------------------------- the title page
@dataclass(frozen=True)
class ReportInfo:
    """What the title page says: the data, the date, the definitions, the filters."""

    dataset: str
    as_of: date
    params: Params = DEFAULT_PARAMS
    lang: str = DEFAULT_LANGUAGE
    filters: Filters = NO_FILTERS
    first: date | None = None
    last: date | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))

    def tr(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)

    def definitions(self) -> list[str]:
        """The stages' names and definitions from the glossary (the words the
        pages and the README use), with this report's parameters."""
        from crmflow.glossary import stage_definitions

        return stage_definitions(self.lang, self.params)

    def filter_lines(self) -> list[str]:
        f = self.filters
        lines = []
        for key, values in (("region", f.regions), ("owner", f.owners), ("channel", f.channels),
                            ("segment", f.segments)):
            if values:
                shown = [self.tr(f"segment_{v}") if key == "segment" else v for v in values]
                lines.append(f"{self.tr(f'filter_{key}')}: {', '.join(shown)}")
        return lines or [self.tr("rep_filters_none")]

    def file_stem(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.dataset).strip("-") or "dataset"
        return f"crmflow-report-{safe[:40]}-{self.as_of.isoformat()}"


def report_info(db: Database, dataset_id: int | Scope, name: str, as_of: date, params: Params = DEFAULT_PARAMS,
                lang: str = DEFAULT_LANGUAGE, filters: Filters = NO_FILTERS) -> ReportInfo:
    """The title page of a dataset's report (with its date range when it has orders)."""
    from crmflow.stages import data_range

    try:
        first, last = data_range(db, dataset_id)
    except CrmflowError:
        first = last = None
    return ReportInfo(name, as_of, params, lang, filters, first, last)


# --------------------------------------------------------------------------- HTML
_CSS = """
:root { --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC",
       Helvetica, Arial, sans-serif; color: var(--ink); background: #f8fafc; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 28px 32px;
          margin: 0 0 24px 0; }
.title-page h1 { font-size: 34px; margin: 0 0 4px 0; }
.title-page .dataset { font-size: 24px; color: var(--accent); margin: 0 0 16px 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 12px 0 18px 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; }
h2 { font-size: 26px; margin: 0 0 6px 0; }
h3 { font-size: 17px; margin: 18px 0 6px 0; color: var(--muted); }
.section-name { text-transform: uppercase; letter-spacing: .06em; font-size: 13px; color: var(--muted); }
.caption { color: var(--muted); font-size: 15px; margin: 8px 0 0 0; }
.bullets { font-size: 18px; margin: 10px 0; }
.message { font-size: 20px; padding: 18px; border-left: 5px solid #f59e0b; background: #fffbeb; }
.failed .message { border-color: #dc2626; background: #fef2f2; }
table { border-collapse: collapse; margin: 12px 0 0 0; font-size: 15px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 12px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.body.two { display: grid; grid-template-columns: minmax(0, 2.3fr) minmax(0, 1fr); gap: 24px;
             align-items: start; }
.side table { width: 100%; }
.toc ol { columns: 2; margin: 6px 0 0 0; }
.toc a { color: var(--accent); text-decoration: none; }
footer { color: var(--muted); font-size: 13px; text-align: center; padding: 8px 0 24px 0; }
@media print {
  body { background: #fff; }
  main { max-width: none; padding: 0; }
  section { border: none; border-radius: 0; padding: 0; margin: 0; break-after: page; page-break-after: always; }
  section:last-of-type { break-after: auto; page-break-after: auto; }
  .chart, table, .bullets { break-inside: avoid; page-break-inside: avoid; }
  .toc a { color: var(--ink); }
  .toc { font-size: 13px; }
  h2 { font-size: 21px; }
  .bullets { font-size: 14px; }
  table { font-size: 12px; }
  th, td { padding: 3px 8px; }
  .modebar-container { display: none !important; }
  @page { size: A4 landscape; margin: 12mm; }
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _numeric(text: str) -> bool:
    s = text.replace(",", "").replace("%", "").replace("+", "").replace("−", "-").strip()
    try:
        float(s)
    except ValueError:
        return False
    return True


def _html_table(table: pd.DataFrame) -> str:
    numeric = [bool(len(table)) and all(_numeric(v) or v in ("", "–") for v in table[c]) for c in table.columns]
    head = "".join(f'<th class="num">{_e(c)}</th>' if n else f"<th>{_e(c)}</th>"
                   for c, n in zip(table.columns, numeric))
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(v)}</td>' if n else f"<td>{_e(v)}</td>"
                                    for v, n in zip(row, numeric)) + "</tr>"
                   for row in table.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_figure(fig: go.Figure, *, title: bool = False, height: int | None = None,
                  font_size: int | None = None) -> go.Figure:
    """A copy of a slide's figure for the report: without its title (the slide
    heading states the finding) unless ``title``, optionally taller and with
    larger type for a projector."""
    out = go.Figure(fig)
    if not title:
        legend = out.layout.showlegend is not False and len(out.data) > 1
        out.update_layout(title_text="", margin_t=48 if legend else 24)
    if height is not None:
        out.update_layout(height=height)
    if font_size is not None:
        out.update_layout(font_size=font_size, title_font_size=font_size + 6)
    return out


def _chart_html(slide: Slide, lang: str) -> str:
    import plotly.io as pio

    assert slide.figure is not None
    config = {"displaylogo": False, "responsive": True,
              "toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"crmflow-{slide.key}"}}
    height = min(int(slide.figure.layout.height or HTML_CHART_HEIGHT), HTML_CHART_HEIGHT)
    return pio.to_html(report_figure(slide.figure, height=height), full_html=False, include_plotlyjs=False, config=config,
                       div_id=f"chart-{slide.key}", default_width="100%")


def _slide_html(slide: Slide, lang: str) -> str:
    cls = "slide failed" if slide.failed else "slide"
    parts = [f'<section class="{cls}" id="slide-{_e(slide.key)}" data-slide="{_e(slide.key)}">',
             f'<div class="section-name">{_e(slide.section)}</div>', f"<h2>{_e(slide.title)}</h2>"]
    if slide.message:
        parts.append(f'<p class="message">{_e(slide.message)}</p>')
    side = []
    if slide.bullets:
        side.append('<ul class="bullets">' + "".join(f"<li>{_e(b)}</li>" for b in slide.bullets) + "</ul>")
    if slide.table is not None and len(slide.table):
        side.append(_html_table(slide.table))
    if slide.figure is not None and side:  # the chart with its numbers beside it, as on a slide
        parts.append(f'<div class="body two"><div class="chart">{_chart_html(slide, lang)}</div>'
                     f'<div class="side">{"".join(side)}</div></div>')
    elif slide.figure is not None:
        parts.append(f'<div class="body"><div class="chart">{_chart_html(slide, lang)}</div></div>')
    elif side:
        parts.append(f'<div class="body">{"".join(side)}</div>')
    if slide.caption:
        parts.append(f'<p class="caption">{_e(slide.caption)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def write_html(slides: Sequence[Slide], info: ReportInfo) -> str:
    """The report as one self-contained HTML page (opens offline)."""
    from plotly.offline import get_plotlyjs

    tr = info.tr
    facts = [(tr("rep_dataset"), info.dataset), (tr("rep_as_of"), info.as_of.isoformat())]
    if info.first is not None and info.last is not None:
        facts.append((tr("rep_data_range"), f"{info.first.isoformat()} – {info.last.isoformat()}"))
    facts.append((tr("rep_generated"), info.generated_at.isoformat(sep=" ")))
    toc = "".join(f'<li><a href="#slide-{_e(s.key)}">{_e(s.title)}</a></li>' for s in slides)
    title_page = "\n".join([
        '<section class="title-page" id="title">',
        f"<h1>{_e(tr('rep_title'))}</h1>",
        f'<p class="dataset">{_e(info.dataset)} · {_e(info.as_of.isoformat())}</p>',
        '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
        f"<h3>{_e(tr('rep_definitions'))}</h3>",
        "<ul>" + "".join(f"<li>{_e(d)}</li>" for d in info.definitions()) + "</ul>",
        f"<h3>{_e(tr('rep_filters'))}</h3>",
        "<ul>" + "".join(f"<li>{_e(d)}</li>" for d in info.filter_lines()) + "</ul>",
        f'<div class="toc"><h3>{_e(tr("rep_contents"))}</h3><ol>{toc}</ol></div>',
        "</section>",
    ])
    body = "\n".join(_slide_html(s, info.lang) for s in slides)
    lang = "zh-CN" if info.lang == "zh" else "en"
    head_title = f"{tr('rep_title')} – {info.dataset} – {info.as_of.isoformat()}"
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="crmflow">',
        f"<title>{_e(head_title)}</title>",
        f"<style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head>",
        "<body><main>",
        title_page,
        body,
        f"<footer>{_e(tr('rep_footer', when=info.generated_at.isoformat(sep=' ')))}</footer>",
        "</main></body></html>",
    ])


# --------------------------------------------------------------------------- PNG (kaleido + Chromium)
_KALEIDO_LOCK = threading.Lock()
_KALEIDO_STARTED = False
CHROMIUM_HINT = "PowerPoint export needs Chromium: apt-get install chromium"


def chromium_path() -> str | None:
    """The browser kaleido will use: $BROWSER_PATH, else chromium (or Chrome) on PATH."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit and os.path.exists(explicit):
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _start_kaleido() -> None:
    """Start kaleido's browser once per process, so later exports take ~0.2 s."""
    global _KALEIDO_STARTED
    if _KALEIDO_STARTED:
        return
    import kaleido

    if hasattr(kaleido, "start_sync_server"):
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        # close the browser before the interpreter removes its temporary profile
        atexit.register(stop_image_server)
    _KALEIDO_STARTED = True


def stop_image_server() -> None:
    """Close the browser :func:`figure_png` started (also done at exit)."""
    global _KALEIDO_STARTED
    with _KALEIDO_LOCK:
        if not _KALEIDO_STARTED:
            return
        _KALEIDO_STARTED = False
        try:
            import kaleido

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kaleido.stop_sync_server(silence_warnings=True)
        except Exception:  # closing is best effort
            log.debug("kaleido server did not stop cleanly", exc_info=True)


def figure_png(fig: go.Figure, width: int = 1200, height: int = 560, scale: float = 2) -> bytes:
    """One chart as a PNG, ``width`` x ``height`` CSS pixels at ``scale``.
    Needs Chromium (a :class:`CrmflowError` says how to install it)."""
    if chromium_path() is None:
        raise CrmflowError("Cannot render charts as images: Chromium is not installed", CHROMIUM_HINT)
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise CrmflowError("Cannot render charts as images: kaleido is not installed",
                           "pip install -r requirements.txt") from None
    with _KALEIDO_LOCK:
        _start_kaleido()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return fig.to_image(format="png", width=width, height=height, scale=scale)
            except RuntimeError as exc:
                if "chrome" in str(exc).lower():
                    raise CrmflowError("Cannot render charts as images: Chromium could not be started",
                                       CHROMIUM_HINT) from None
                raise


# --------------------------------------------------------------------------- PowerPoint
_SLIDE_W_IN, _SLIDE_H_IN = 13.333, 7.5
_PX_PER_IN = 96
_SIDE_W_IN = 4.2
#: Type size (px) of the charts in PowerPoint and presentation mode.
PROJECTOR_FONT = 16


def _pptx_text(shape, lines: Sequence[str], size: int, *, bold: bool = False, colour: str = "111827",
               bullet: bool = False) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    frame = shape.text_frame
    frame.word_wrap = True
    for i, line in enumerate(lines):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = ("• " if bullet else "") + line
        run.font.size = Pt(size)
        run.font.bold = bold
        run.font.color.rgb = RGBColor.from_string(colour)
        if bullet:
            paragraph.space_after = Pt(6)


def _text_width_in(text: str, pt: float) -> float:
    """Rough printed width of ``text`` at ``pt`` points (CJK characters are square)."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return (wide + 0.55 * (len(text) - wide)) * pt / 72


def _lines(text: str, width_in: float, pt: float) -> int:
    """How many lines ``text`` takes in a box ``width_in`` wide (with some slack for word wrap)."""
    usable = max(width_in, 0.3)
    return sum(max(1, math.ceil(_text_width_in(part, pt) * 1.12 / usable)) for part in str(text).split("\n"))


def _text_height_in(lines: Sequence[str], width_in: float, pt: float, gap_pt: float = 0) -> float:
    return sum(_lines(line, width_in, pt) * pt * 1.25 / 72 + gap_pt / 72 for line in lines) + 0.1


_CELL_PAD_IN = 0.2


def _table_layout(table: pd.DataFrame, width_in: float, room_in: float, pt: float
                  ) -> tuple[int, list[float], list[float]]:
    """How many rows of ``table`` fit in ``room_in`` inches, the column widths
    (by content, within ``width_in``) and each row's height (header first)."""
    cells = [[str(c) for c in table.columns]] + [[str(v) for v in row] for row in table.itertuples(index=False)]
    natural = [max(_text_width_in(row[c], pt) for row in cells) + _CELL_PAD_IN for c in range(len(table.columns))]
    natural = [min(max(w, 0.6), width_in * 0.45) for w in natural]
    scale = width_in / sum(natural)
    widths = [w * scale for w in natural]
    heights = [max(_lines(v, w - _CELL_PAD_IN, pt) for v, w in zip(row, widths)) * pt * 1.2 / 72 + 0.12
               for row in cells]
    shown, used = 0, heights[0]
    for h in heights[1:]:
        if used + h > room_in:
            break
        used += h
        shown += 1
    return shown, widths, heights[:shown + 1]


def _pptx_table(slide_shapes, table: pd.DataFrame, left_in: float, top_in: float, width_in: float,
                room_in: float, pt: int = 12) -> None:
    from pptx.util import Inches, Pt

    shown, widths, heights = _table_layout(table, width_in, room_in, pt)
    if shown == 0:
        return
    rows = table.head(shown)
    shape = slide_shapes.add_table(shown + 1, len(rows.columns), Inches(left_in), Inches(top_in), Inches(width_in),
                                   Inches(sum(heights)))
    grid = shape.table
    for c, w in enumerate(widths):
        grid.columns[c].width = Inches(w)
    for r, h in enumerate(heights):
        grid.rows[r].height = Inches(h)
    cells = [list(rows.columns)] + [list(v) for v in rows.itertuples(index=False)]
    for r, values in enumerate(cells):
        for c, value in enumerate(values):
            cell = grid.cell(r, c)
            cell.text = str(value)
            cell.margin_left = cell.margin_right = Inches(_CELL_PAD_IN / 2)
            cell.margin_top = cell.margin_bottom = Inches(0.04)
            for paragraph in cell.text_frame.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(pt)


def write_pptx(slides: Sequence[Slide], info: ReportInfo) -> bytes:
    """The report as a 16:9 PowerPoint deck: a title slide, then one slide per
    view with the finding as title, the chart as a PNG and the caption (also
    in the speaker notes). Needs Chromium for the charts."""
    if chromium_path() is None and any(s.figure is not None for s in slides):
        raise CrmflowError("Cannot write the PowerPoint report: Chromium is not installed", CHROMIUM_HINT)
    from pptx import Presentation
    from pptx.util import Inches

    tr = info.tr
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(_SLIDE_W_IN), Inches(_SLIDE_H_IN)
    blank = deck.slide_layouts[6]
    margin = 0.45
    inner_w = _SLIDE_W_IN - 2 * margin

    # title slide
    page = deck.slides.add_slide(blank)
    _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(0.9), Inches(inner_w), Inches(1.0)),
               [tr("rep_title")], 40, bold=True)
    _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(1.9), Inches(inner_w), Inches(0.7)),
               [f"{info.dataset} · {info.as_of.isoformat()}"], 26, colour="2563EB")
    facts = [f"{tr('rep_as_of')}: {info.as_of.isoformat()}"]
    if info.first is not None and info.last is not None:
        facts.append(f"{tr('rep_data_range')}: {info.first.isoformat()} – {info.last.isoformat()}")
    facts.append(f"{tr('rep_generated')}: {info.generated_at.isoformat(sep=' ')}")
    _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(2.8), Inches(inner_w / 2 - 0.2), Inches(3.8)),
               facts + [""] + [tr("rep_filters") + ":"] + info.filter_lines(), 16, colour="374151")
    _pptx_text(page.shapes.add_textbox(Inches(margin + inner_w / 2), Inches(2.8), Inches(inner_w / 2),
                                       Inches(3.8)),
               [tr("rep_definitions") + ":"] + info.definitions(), 14, colour="374151")

    for slide in slides:
        page = deck.slides.add_slide(blank)
        _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(0.15), Inches(inner_w), Inches(0.35)),
                   [slide.section.upper() if info.lang == "en" else slide.section], 12, colour="6B7280")
        title_pt = 24 if _lines(slide.title, inner_w, 24) <= 2 else 20
        _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(0.45), Inches(inner_w), Inches(1.0)),
                   [slide.title], title_pt, bold=True)
        top, bottom = 1.55, 6.7
        has_table = slide.table is not None and len(slide.table) > 0
        side = bool(slide.bullets) or has_table
        chart_w = inner_w - _SIDE_W_IN - 0.3 if side and slide.figure is not None else inner_w
        if slide.message:
            pt = 20 if slide.figure is None else 12
            box_top = top if slide.figure is None else bottom - 0.35
            box_h = _text_height_in([slide.message], inner_w, pt)
            _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(box_top), Inches(inner_w), Inches(box_h)),
                       [slide.message], pt, colour="B91C1C" if slide.failed else "92400E")
            if slide.figure is None:
                top += box_h + 0.2
        if slide.figure is not None:
            h_in = bottom - top
            png = figure_png(report_figure(slide.figure, font_size=PROJECTOR_FONT), width=int(chart_w * _PX_PER_IN),
                             height=int(h_in * _PX_PER_IN), scale=2)
            page.shapes.add_picture(io.BytesIO(png), Inches(margin), Inches(top), Inches(chart_w), Inches(h_in))
            side_left, side_w = margin + chart_w + 0.3, _SIDE_W_IN
        else:
            side_left, side_w = margin, inner_w
        y = top
        if slide.bullets:
            pt = 15 if slide.figure is not None else 18
            box_h = _text_height_in(slide.bullets, side_w - 0.2, pt, gap_pt=6)
            _pptx_text(page.shapes.add_textbox(Inches(side_left), Inches(y), Inches(side_w), Inches(box_h)),
                       list(slide.bullets), pt, bullet=True)
            y += box_h + 0.15
        if has_table:
            _pptx_table(page.shapes, slide.table, side_left, y, side_w, bottom - y,
                        pt=12 if slide.figure is not None else 14)
        if slide.caption:
            _pptx_text(page.shapes.add_textbox(Inches(margin), Inches(bottom + 0.05), Inches(inner_w),
                                               Inches(0.6)), [slide.caption], 11, colour="4B5563")
        notes = [slide.title, *slide.bullets, slide.caption, slide.message or ""]
        page.notes_slide.notes_text_frame.text = "\n".join(n for n in notes if n)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- one call
def render(slides: Sequence[Slide], info: ReportInfo, fmt: str) -> bytes:
    """The report file's bytes in ``fmt`` (``html`` or ``pptx``)."""
    if fmt == "html":
        return write_html(slides, info).encode("utf-8")
    if fmt == "pptx":
        return write_pptx(slides, info)
    raise CrmflowError(f"Unknown report format {fmt!r}", "Use a file name ending in .html or .pptx")


def format_for(path: str | os.PathLike) -> str:
    """The report format a file name asks for (by its extension)."""
    suffix = os.path.splitext(str(path))[1].lower().lstrip(".")
    fmt = {"html": "html", "htm": "html", "pptx": "pptx"}.get(suffix)
    if fmt is None:
        raise CrmflowError(f"Cannot write a report as {suffix or 'a file without extension'!r}",
                           "Give --out a file name ending in .html or .pptx")
    return fmt


def report_file(db: Database, dataset_id: int | Scope, fmt: str, name: str, as_of: date,
                params: Params = DEFAULT_PARAMS, lang: str = DEFAULT_LANGUAGE, filters: Filters = NO_FILTERS) -> bytes:
    """Build every slide and write the report in ``fmt`` (``html`` or ``pptx``)."""
    if fmt not in FORMATS:
        raise CrmflowError(f"Unknown report format {fmt!r}", "Use html or pptx")
    if fmt == "pptx" and chromium_path() is None:
        raise CrmflowError("Cannot write the PowerPoint report: Chromium is not installed", CHROMIUM_HINT)
    slides = build_slides(db, dataset_id, as_of, params, lang)
    return render(slides, report_info(db, dataset_id, name, as_of, params, lang, filters), fmt)
