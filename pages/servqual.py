"""Service quality (issue 17, seed 003): the Servqual gaps (perception −
expectation) of an uploaded survey per dimension and item, over time, by
region, account manager or segment, and whether customers with large gaps
leave more or are less healthy (key accounts). Layout only: the numbers are crmflow.servqual's (those of
`crmflow servqual`). Without a survey the page says which file unlocks it."""

import streamlit as st

from crmflow.ui.common import context, download_buttons, show_chart, show_table

ctx = context()
st.header(ctx.tr("page_servqual"))
with st.spinner(ctx.tr("loading")):
    from crmflow import servqual
    from crmflow.charts.servqual import dimension_gap_bars, gap_trend_lines
    from crmflow.errors import CrmflowError

labels = {d: servqual.dimension_label(d, ctx.lang) for d in servqual.DIMENSIONS}

coverage = ctx.call("crmflow.servqual.coverage")
if not coverage["answers"]:
    st.info(ctx.tr(ctx.call("crmflow.servqual.no_answers_key")))
    st.stop()

left, right = st.columns(2)
period = left.segmented_control(ctx.tr("sq_period_pick"), servqual.PERIODS, default="quarter", required=True,
                                format_func=lambda p: ctx.tr(f"sq_period_{p}"), key="sq:period")
by = right.segmented_control(ctx.tr("sq_group_pick"), servqual.GROUPS, default="region", required=True,
                             format_func=lambda g: ctx.tr(f"sq_by_{g}"), key="sq:by")
dimension = st.session_state.get("sq:dimension") or "reliability"  # picked below, under the gaps
try:
    with st.spinner(ctx.tr("loading")):
        view = ctx.call("crmflow.servqual.servqual_view", ctx.as_of, period=period or "quarter", by=by or "region",
                        dimension=dimension, params=ctx.params)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

if view.dimensions.empty:
    st.info(ctx.tr("sq_headline_none"))
    st.stop()
responses = int(view.dimensions["responses"].max())
st.caption(ctx.tr("sq_caption" if coverage["scale_min"] else "sqmend_caption_zero", answers=int(view.items["answers"].sum()), responses=responses,
                  first=coverage["first_date"], last=min(coverage["last_date"], ctx.as_of),
                  top=coverage["scale_max"]))

# ---------------------------------------------------------------- the five dimensions
cards = st.columns(len(view.dimensions))
for card, dim in zip(cards, view.dimensions.itertuples(index=False)):
    card.metric(labels[dim.dimension], f"{dim.gap:+.2f}", border=True,
                help=ctx.tr("sq_card_help", low=dim.ci_low, high=dim.ci_high, n=int(dim.responses)))
show_chart(ctx, dimension_gap_bars(view.dimensions, labels, servqual.headline(view.dimensions, ctx.lang),
                                   ctx.tr("sq_axis_gap")), "servqual-dimensions")
st.caption(ctx.tr("sq_dimension_chart_caption"))

# ---------------------------------------------------------------- churn
st.subheader(ctx.tr("sq_churn_heading"))
st.selectbox(ctx.tr("sq_churn_pick"), servqual.DIMENSIONS, index=servqual.DIMENSIONS.index(dimension),
             format_func=labels.get, key="sq:dimension")
if not coverage["answers_with_customer"]:
    st.info(ctx.tr("sq_churn_no_ids"))
else:
    (st.warning if view.churn is not None and view.churn.meaningful else st.info)(
        servqual.churn_sentence(view.churn, ctx.lang, view.churn_reason))
    if view.churn is not None:
        show_table(servqual.churn_table(view.churn, ctx.lang), hide_index=True,
                   column_config={ctx.tr("sq_col_lost_share"): st.column_config.NumberColumn(format="percent")})
    st.markdown(f"**{ctx.tr('sqh_heading')}**")
    (st.warning if view.health is not None and view.health.meaningful else st.info)(
        servqual.health_sentence(view.health, ctx.lang, view.health_reason))
    if view.health is not None:
        show_table(servqual.health_table(view.health, ctx.lang), hide_index=True,
                   column_config={ctx.tr("sqh_col_mean_score"): st.column_config.NumberColumn(format="%.1f")})

# ---------------------------------------------------------------- over time
st.subheader(ctx.tr("sq_trend_heading"))
period_word = ctx.tr(f"sq_period_{view.period}")
show_chart(ctx, gap_trend_lines(view.trend, labels,
                                ctx.tr("sq_trend_title", period=period_word.lower() if ctx.lang == "en" else period_word),
                                ctx.tr("sq_axis_period"), ctx.tr("sq_axis_gap")), "servqual-trend")

# ---------------------------------------------------------------- by group
st.subheader(ctx.tr("sq_group_heading"))
groups = servqual.group_table(view, ctx.lang)
if groups.empty:
    st.info(ctx.tr("sq_group_none"))
else:
    number = st.column_config.NumberColumn(format="%+.2f")
    show_table(groups, hide_index=True, column_config={labels[d]: number for d in servqual.DIMENSIONS})

# ---------------------------------------------------------------- the gap table
st.subheader(ctx.tr("sq_table_heading"))
table = servqual.gap_table(view, ctx.lang)
two = st.column_config.NumberColumn(format="%.2f")
signed = st.column_config.NumberColumn(format="%+.2f")
show_table(table, hide_index=True,
           column_config={ctx.tr("sq_col_expectation"): two, ctx.tr("sq_col_perception"): two,
                          ctx.tr("sq_col_gap"): signed, ctx.tr("sq_col_ci_low"): signed,
                          ctx.tr("sq_col_ci_high"): signed})
download_buttons(ctx, table, f"crmflow-servqual-{ctx.as_of}", "sq:download")
