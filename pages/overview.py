"""Overview (SPEC §3.1): KPI cards at the as-of date D with their change
against an earlier date, customers by stage over time, the N/t/D trends and
the Pareto curve. Layout only: the numbers come from crmflow.overview,
crmflow.stages and crmflow.analytics through ctx.call."""

import streamlit as st

from crmflow.analytics import pareto_headline
from crmflow.charts import ACCENT, GOOD, WARN
from crmflow.charts.loyalty import loyalty_trend
from crmflow.charts.managers import revenue_months
from crmflow.charts.overview import pareto_curve, stage_area, trend_line
from crmflow.config import STAGES
from crmflow.errors import CrmflowError
from crmflow.headlines import overview_headline
from crmflow.loyalty import GROUPINGS, shown_shares, unlock_notes
from crmflow.loyalty import display_table as loyalty_table
from crmflow.loyalty import trend_title as loyalty_trend_title
from crmflow.managers import DEFAULT_SPLIT, SPLITS, revenue_chart
from crmflow.overview import (
    COMPARE_CHOICES,
    DEFAULT_COMPARE,
    DEFAULT_PERIOD,
    PERIOD_CHOICES,
    bottom30_callout,
    choice,
    comparison_date,
    largest_stage_change,
    relative_change,
    series_change,
    trend_start,
)
from crmflow.plain import md
from crmflow.ui.common import amount, context, show_chart, show_table

ctx = context()
st.header(ctx.tr("page_overview"))
st.caption(ctx.tr("overview_dataset_caption", name=md(ctx.dataset.name), n_transactions=ctx.dataset.n_transactions,
                  n_customers=ctx.dataset.n_customers))
labels = {s: ctx.tr(f"stage_{s}") for s in STAGES}


def url_choice(column, name: str, choices: tuple[str, ...], default: str) -> str:
    """A segmented control whose value lives in the URL (left out when default)."""
    wanted = choice(st.query_params.get(name), choices, default)
    value = column.segmented_control(ctx.tr(f"ov_{name}"), choices, default=wanted, required=True,
                                     format_func=lambda c: ctx.tr(f"ov_{name}_{c}"), key=f"overview:{name}")
    value = value if value in choices else default
    if value == default:
        if name in st.query_params:
            del st.query_params[name]
    else:
        st.query_params[name] = value
    return value


def delta(value: int) -> int | str:
    """A metric delta: the number 0 (grey, no arrow) or a signed count."""
    return 0 if value == 0 else f"{value:+,}"


left, right = st.columns([3, 2])
compare = url_choice(left, "compare", COMPARE_CHOICES, DEFAULT_COMPARE)
period = url_choice(right, "period", PERIOD_CHOICES, DEFAULT_PERIOD)
start = trend_start(ctx.as_of, ctx.first, period)
since = comparison_date(ctx.as_of, compare, start)

try:
    with st.spinner(ctx.tr("loading")):
        kpis = ctx.call("crmflow.overview.overview_kpis", ctx.as_of, since, ctx.params)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

# ---------------------------------------------------------------- headline + KPI cards
headline = overview_headline(kpis.counts, kpis.counts_before, kpis.as_of, kpis.since)
if headline is not None:
    st.subheader(headline.text(ctx.lang))
vs_since = ctx.tr("ov_vs_date", date=since.isoformat())
for column, stage in zip(st.columns(len(STAGES)), STAGES):
    column.metric(labels[stage], f"{kpis.counts[stage]:,}", delta(kpis.delta(stage)),
                  delta_color="inverse" if stage == "lost" else "normal", delta_description=vs_since,
                  help=ctx.tr(f"ov_help_{stage}", days=ctx.params.lost_after_days), border=True)

revenue_change = relative_change(kpis.revenue_12m, kpis.revenue_prev_12m)
rate, rate_before = kpis.repeat.rate, kpis.repeat_before.rate
rate_change = None if rate is None or rate_before is None else (rate - rate_before) * 100
period_days = (kpis.as_of - kpis.since).days
cards = st.columns(4)
cards[0].metric(ctx.money(ctx.tr("ov_revenue_12m")), f"{kpis.revenue_12m:,.0f}",
                None if revenue_change is None else (0 if revenue_change == 0 else f"{revenue_change:+.1%}"),
                delta_description=ctx.tr("ov_vs_previous_12m"), help=ctx.tr("ov_help_revenue"), border=True)
cards[1].metric(ctx.tr("ov_repeat_rate"), "–" if rate is None else f"{rate:.1%}",
                None if rate_change is None else (0 if round(rate_change, 1) == 0
                                                  else ctx.tr("ov_pp_delta", value=rate_change)),
                delta_description=vs_since, border=True,
                help=ctx.tr("ov_help_repeat_rate", repeat=kpis.repeat.repeat_buyers, buyers=kpis.repeat.buyers))
cards[2].metric(ctx.tr("ov_won_back_period", days=period_days), f"{kpis.won_back:,}",
                delta(kpis.won_back - kpis.won_back_prev), delta_description=ctx.tr("ov_vs_previous_period"),
                help=ctx.tr("ov_help_won_back", since=kpis.since.isoformat(), as_of=kpis.as_of.isoformat()),
                border=True)
cards[3].metric(ctx.tr("ov_lost_period", days=period_days), f"{kpis.lost:,}",
                delta(kpis.lost - kpis.lost_prev), delta_color="inverse",
                delta_description=ctx.tr("ov_vs_previous_period"),
                help=ctx.tr("vo_help_lost_period", since=kpis.since.isoformat(), as_of=kpis.as_of.isoformat()),
                border=True)

if sum(kpis.counts.values()) == 0:
    st.info(ctx.tr("empty_data"))
    st.stop()

# ---------------------------------------------------------------- stages over time
st.subheader(ctx.tr("ov_stages_over_time"))
with st.spinner(ctx.tr("loading")):
    snapshots = ctx.call("crmflow.stages.stage_snapshots", start, ctx.as_of, ctx.params)
change = largest_stage_change(snapshots)
if change is None:
    title = ctx.tr("ov_stages_title_single", as_of=ctx.as_of.isoformat())
else:
    title = ctx.tr("ov_stages_title", stage=labels[change.name], start_count=int(change.start),
                   end_count=int(change.end), start=change.start_date.isoformat(), end=change.end_date.isoformat())
show_chart(ctx, stage_area(snapshots, labels, title, ctx.tr("ov_axis_month_end"), ctx.tr("ov_axis_customers")),
           "stages-over-time")

# ---------------------------------------------------------------- loyalty beside the stages
st.subheader(ctx.tr("loy_heading"))
by = st.segmented_control(ctx.tr("loy_by"), GROUPINGS, default="stage", required=True, key="overview:loyalty_by",
                          format_func=lambda g: ctx.tr(f"loy_by_{g}")) or "stage"
try:
    with st.spinner(ctx.tr("loading")):
        loyal = ctx.call("crmflow.loyalty.loyalty_view", ctx.as_of, start, ctx.params, by)
except CrmflowError as exc:
    st.info(exc.localized(ctx.lang))
    loyal = None
if loyal is not None:
    st.caption(ctx.tr(f"loy_caption_{by}", as_of=ctx.as_of.isoformat(), window=ctx.params.loyal_window_days))
    show_table(loyalty_table(loyal.groups, by, loyal.available, ctx.lang), hide_index=True, width="stretch",
               key="overview:loyalty_table")
    shares = shown_shares(loyal.available)
    left_chart, right_chart = st.columns(2)
    with left_chart:
        show_chart(ctx, loyalty_trend(loyal.trend, shares, {m: ctx.tr(f"loy_{m}") for m in shares},
                                      loyalty_trend_title(loyal.trend, ctx.lang), ctx.tr("loy_axis_month_end"),
                                      ctx.tr("loy_axis_share")), "loyalty-over-time")
    with right_chart:
        show_chart(ctx, trend_line(loyal.trend, "interval_cv", ctx.tr("loy_regularity_chart"),
                                   ctx.tr("loy_axis_month_end"), ctx.tr("loy_axis_cv"), value_format=".2f",
                                   height=380), "loyalty-regularity")
    for note in unlock_notes(loyal.available, ctx.lang):
        st.caption(note)

# ---------------------------------------------------------------- N / t / D
st.subheader(ctx.tr("ov_ntd"))
st.caption(ctx.tr("ov_ntd_caption"))
try:
    with st.spinner(ctx.tr("loading")):
        trends = ctx.call("crmflow.analytics.ntd_trends", start, ctx.as_of, ctx.params)
except CrmflowError as exc:
    st.info(exc.localized(ctx.lang))
    trends = None
if trends is not None and len(trends):
    specs = [
        ("active_customers", "ov_n", ",.0f", ACCENT, "ov_axis_customers"),
        ("mean_relationship_days", "ov_t", ",.0f", GOOD, "ov_axis_days"),
        ("revenue_per_active", "ov_d_revenue", ",.0f", WARN, "ov_axis_revenue_per_customer"),
    ]
    if ctx.has("category"):
        specs.append(("categories_per_active", "ov_d_categories", ",.1f", "#7c3aed", "ov_axis_categories"))
    columns = st.columns(2)
    for i, (column_name, key, fmt, colour, axis) in enumerate(specs):
        ch = series_change(trends, column_name)
        if ch is None:
            title, subtitle = ctx.tr(f"{key}_title_empty"), None
        else:
            title = ctx.tr(f"{key}_title", value=format(ch.end, fmt), end=ch.end_date.isoformat(),
                           month=ch.end_date.strftime("%Y-%m"))
            subtitle = ctx.tr("ov_trend_was", value=format(ch.start, fmt), date=ch.start_date.isoformat())
        with columns[i % 2]:
            show_chart(ctx, trend_line(trends, column_name, title, ctx.tr("ov_axis_month_end"),
                                       ctx.money(ctx.tr(axis)) if "revenue" in axis else ctx.tr(axis),
                                       subtitle=subtitle, color=colour, value_format=fmt), f"trend-{column_name}")
    if not ctx.has("category"):
        st.caption(ctx.tr("ov_categories_unlock"))

# ---------------------------------------------------------------- Pareto
st.subheader(ctx.tr("ov_pareto"))
measures = ["revenue", "profit"] if ctx.has("cost") else ["revenue"]
for column, measure in zip(st.columns(len(measures)), measures):
    with column:
        try:
            with st.spinner(ctx.tr("loading")):
                curve = ctx.call("crmflow.analytics.pareto", ctx.as_of, measure)
        except CrmflowError as exc:
            st.info(exc.localized(ctx.lang))
            continue
        head = pareto_headline(curve)
        if head.top20_share is None:
            st.info(ctx.tr(f"ov_pareto_empty_{measure}"))
            continue
        title = ctx.tr(f"pareto_headline_{measure}", share=head.top20_share)
        marker = ctx.tr("ov_pareto_marker", customers=head.top20_customers, share=head.top20_share)
        show_chart(ctx, pareto_curve(curve, title, ctx.tr("ov_axis_customer_share"),
                                     ctx.tr(f"ov_axis_cumulative_{measure}"), top_customers=head.top20_customers,
                                     top_share=head.top20_share, marker_label=marker,
                                     color=ACCENT if measure == "revenue" else GOOD), f"pareto-{measure}")
        callout = bottom30_callout(head.bottom30_share)
        text = ctx.tr(f"ov_bottom30_{measure}", customers=head.bottom30_customers, share=head.bottom30_share)
        if callout == "negative":
            st.warning(ctx.tr("ov_bottom30_negative", text=text))
        elif callout == "low":
            st.warning(ctx.tr("ov_bottom30_low", text=text))
        else:
            st.caption(text)
if not ctx.has("cost"):
    st.caption(ctx.tr("profit_needs_cost"))

# ---------------------------------------------------------------- revenue by month (region / owner)
st.subheader(ctx.tr("mg_revenue_months"))
split = choice(st.query_params.get("split"), SPLITS, DEFAULT_SPLIT)
split = st.segmented_control(ctx.tr("mg_split"), SPLITS, default=split, required=True, key="overview:split",
                             format_func=lambda c: ctx.tr(f"mg_split_{c}")) or DEFAULT_SPLIT
if split == DEFAULT_SPLIT:
    if "split" in st.query_params:
        del st.query_params["split"]
else:
    st.query_params["split"] = split
try:
    with st.spinner(ctx.tr("loading")):
        months = ctx.call("crmflow.managers.revenue_by_month", start, ctx.as_of, split)
except CrmflowError as exc:
    st.info(exc.localized(ctx.lang))
    months = None
if months is not None:
    if list(months.columns) == [None]:     # nobody has a region / an account manager
        st.caption(ctx.tr("mg_no_split", split=ctx.tr(f"mg_split_{split}")))
    chart = revenue_chart(months, split, start, ctx.as_of, ctx.lang, lambda total: amount(ctx, total))
    show_chart(ctx, revenue_months(chart.shown, chart.names, chart.title, ctx.tr("mg_axis_month"),
                                   ctx.money(ctx.tr("mg_axis_revenue")),
                                   subtitle=ctx.tr("mg_revenue_subtitle", as_of=ctx.as_of.isoformat())),
               f"revenue-by-{split}")

# ---------------------------------------------------------------- quarter / year to date vs a year earlier
st.subheader(ctx.tr("mg_to_date"))
with st.spinner(ctx.tr("loading")):
    to_date = ctx.call("crmflow.managers.to_date_comparisons", ctx.as_of)
for kind, comparison in to_date.items():
    now, before = comparison.now.period, comparison.year_ago.period
    dates = {"start": now.start.isoformat(), "end": now.end.isoformat(),
             "prev_start": before.start.isoformat(), "prev_end": before.end.isoformat()}
    st.caption(ctx.tr(f"mg_{kind}_caption", **dates))
    for column, measure in zip(st.columns(3), ("revenue", "orders", "buying_customers")):
        value, earlier = getattr(comparison.now, measure), getattr(comparison.year_ago, measure)
        change = comparison.change(measure)
        label = ctx.tr(f"mg_{kind}_{measure}")
        column.metric(ctx.money(label) if measure == "revenue" else label, f"{value:,.0f}",
                      None if change is None else (0 if change == 0 else f"{change:+.1%}"),
                      delta_description=ctx.tr("mg_vs_year_ago", value=f"{earlier:,.0f}"),
                      help=ctx.tr(f"mg_help_{measure}", start=dates["start"], end=dates["end"])
                      + " · " + ctx.tr(f"mg_{kind}_caption", **dates), border=True)
