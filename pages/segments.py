"""Segments: RFM segments (treemap, table, drill-down to the customers),
cohort retention, customer lifetime value with its backtest, and a download
of every customer with its segment, stage, scores and expected value."""

import streamlit as st

from crmflow.analytics import cohort_matrix, segments
from crmflow.charts.segments import (
    backtest_bars,
    cohort_heatmap,
    segment_treemap,
    value_histogram,
)
from crmflow.headlines import TABLE_MONEY, money
from crmflow.model import DRAWS
from crmflow.segments_table import (
    candidate_label,
    cohort_headline,
    download_frame,
    segment_headline,
    top_revenue_segment,
    value_concentration,
)
from crmflow.ui.clvtrack import show_track_record
from crmflow.ui.common import context, download_buttons, show_chart, show_table

#: Rows of the interval table (the customers with the highest expected value) and its columns.
INTERVAL_ROWS = 20
INTERVAL_TABLE_COLUMNS = ("expected_orders", "expected_orders_low", "expected_orders_high", "expected_value",
                          "expected_value_low", "expected_value_high")



def model_choice_section(ctx, view) -> None:
    """The CLV model chosen by evidence and its uncertainty (issue 13 items 1-2):
    the choice in words, every candidate's holdout forecast, the parameters with
    their standard errors, and the customers with the highest expected value
    with their 90% intervals."""
    if view.choice is not None:
        st.info(view.choice.text(ctx.lang))
    if view.candidates is not None and not view.candidates.empty:
        st.markdown("**" + ctx.tr("clvchoice_candidates_title") + "**")
        cand = view.candidates.copy()
        cand["candidate"] = [ctx.tr(candidate_label(c)) for c in cand["candidate"]]
        cand["chosen"] = ["✓" if c else "" for c in cand["chosen"]]
        cols = {c: ctx.tr(f"clvchoice_col_{c}") for c in cand.columns}
        show_table(cand.rename(columns=cols), hide_index=True, width="stretch", key="segments:candidates",
                   column_config={cols["predicted"]: st.column_config.NumberColumn(format="%,.0f"),
                                  cols["absolute_error"]: st.column_config.NumberColumn(format="%,.0f"),
                                  cols["mean_absolute_error"]: st.column_config.NumberColumn(format="%.3f")})
    if view.parameters is not None:
        st.markdown("**" + ctx.tr("clvchoice_parameters_title") + "**")
        par = view.parameters.copy()
        model_names = {"seg_clv_model_purchase": ctx.tr("clvchoice_table_model_purchase",
                                                        model=ctx.tr(f"clvchoice_model_{view.model}")),
                       "seg_clv_model_spend": ctx.tr("clvchoice_table_model_spend")}
        par["model"] = [model_names[m] for m in par["model"]]
        cols = {c: ctx.tr(f"clvchoice_col_{c}") for c in par.columns}
        show_table(par.rename(columns=cols), hide_index=True, width="stretch", key="segments:parameters",
                   column_config={cols["estimate"]: st.column_config.NumberColumn(format="%.4g"),
                                  cols["standard_error"]: st.column_config.NumberColumn(format="%.3g")})
        st.caption(ctx.tr("clvchoice_parameters_caption", draws=DRAWS))
    top = view.customers.dropna(subset=["expected_value"]).sort_values(
        ["expected_value", "customer_id"], ascending=[False, True]).head(INTERVAL_ROWS)
    if not top.empty:
        st.markdown("**" + ctx.tr("clvchoice_intervals_title") + "**")
        shown = top[["customer_id", "p_alive", *INTERVAL_TABLE_COLUMNS]].copy()
        shown[list(INTERVAL_TABLE_COLUMNS)] = shown[list(INTERVAL_TABLE_COLUMNS)].round(2)
        cols = {c: ctx.tr(f"seg_col_{c}") for c in shown.columns}
        formats = {cols["p_alive"]: st.column_config.NumberColumn(format="percent")}
        for c in INTERVAL_TABLE_COLUMNS:
            money_column = c.startswith("expected_value")
            formats[cols[c]] = st.column_config.NumberColumn(format=TABLE_MONEY if money_column else "%.2f")
        show_table(shown.rename(columns=cols), hide_index=True, width="stretch", key="segments:intervals",
                   column_config=formats)
        st.caption(ctx.tr("clvchoice_interval_caption", customers=len(top)))


ctx = context()
st.header(ctx.tr("page_segments"))
st.caption(ctx.tr("seg_intro", as_of=ctx.as_of.isoformat()))

with st.spinner(ctx.tr("loading")):
    view = ctx.call("crmflow.segments_table.segment_view", ctx.as_of, ctx.params)

names = {s: ctx.tr(f"segment_{s}") for s in segments()}
summary = view.summary
tab_segments, tab_cohorts, tab_value, tab_download = st.tabs(
    [ctx.tr("seg_tab_segments"), ctx.tr("seg_tab_cohorts"), ctx.tr("seg_tab_value"), ctx.tr("seg_tab_download")])

# ----------------------------------------------------------------------------- RFM segments
with tab_segments:
    headline = segment_headline(summary)
    if headline is None:
        st.info(ctx.tr("seg_empty", as_of=ctx.as_of.isoformat()))
    else:
        if headline.revenue_share is not None:
            title = ctx.tr("seg_title", segment=names[headline.segment], customer_share=headline.customer_share,
                           revenue_share=headline.revenue_share)
        else:
            title = ctx.tr("seg_title_no_revenue", segment=names[headline.segment], customers=headline.customers,
                           customer_share=headline.customer_share)
        st.subheader(title)
        top = top_revenue_segment(summary)
        chart_title = title if top is None else ctx.tr(
            "seg_treemap_title", segment=names[top.segment], revenue_share=top.revenue_share,
            customer_share=top.customer_share)
        figure = segment_treemap(summary, names, ctx.tr("seg_tile"), ctx.tr("seg_tile_no_revenue"), chart_title,
                                 ctx.tr("seg_colour_revenue_share"), ctx.tr("seg_colour_mean_monetary"))
        event = show_chart(ctx, figure, "segments-treemap", on_select="rerun", selection_mode="points")

        table = summary.copy()
        table["segment"] = [names[s] for s in table["segment"]]
        table[["revenue", "mean_monetary"]] = table[["revenue", "mean_monetary"]].round(0)
        columns = {c: ctx.tr(f"seg_col_{c}") for c in table.columns}
        show_table(
            table.rename(columns=columns), hide_index=True, width="stretch", key="segments:table",
            height=35 * (len(table) + 1) + 3,
            column_config={
                columns["customer_share"]: st.column_config.NumberColumn(format="percent"),
                columns["revenue_share"]: st.column_config.NumberColumn(format="percent"),
                columns["revenue"]: st.column_config.NumberColumn(format=TABLE_MONEY),
                columns["mean_recency_days"]: st.column_config.NumberColumn(format="%.0f"),
                columns["mean_frequency"]: st.column_config.NumberColumn(format="%.1f"),
                columns["mean_monetary"]: st.column_config.NumberColumn(format=TABLE_MONEY),
            })
        st.caption(ctx.tr("seg_table_caption", as_of=ctx.as_of.isoformat()))

        # Drill-down: a click on a tile (its id is the segment key) chooses the segment once;
        # the selectbox stays in charge afterwards.
        present = [s for s, n in zip(summary["segment"], summary["customers"]) if n > 0]
        try:
            points = list(event["selection"]["points"])
        except (KeyError, TypeError):
            points = []
        clicked = next((p.get("id") for p in points if isinstance(p, dict) and p.get("id") in present), None)
        default_pick = headline.segment if headline.segment in present else present[0]
        if "segments:pick" not in st.session_state and st.query_params.get("rfm") in present:
            st.session_state["segments:pick"] = st.query_params["rfm"]  # a link names the segment
        if clicked is not None and clicked != st.session_state.get("segments:clicked"):
            st.session_state["segments:pick"] = clicked
        st.session_state["segments:clicked"] = clicked
        if st.session_state.get("segments:pick") not in present:
            st.session_state["segments:pick"] = default_pick
        pick = st.selectbox(ctx.tr("seg_pick"), present, format_func=names.get, key="segments:pick",
                            help=ctx.tr("seg_pick_help"))
        if pick == default_pick:  # the URL names the segment, so a copied link reproduces the list
            if "rfm" in st.query_params:
                del st.query_params["rfm"]
        else:
            st.query_params["rfm"] = pick
        members = view.customers[view.customers["segment"] == pick].sort_values(
            ["monetary", "customer_id"], ascending=[False, True])
        st.markdown("**" + ctx.tr("seg_members_title", segment=names[pick], customers=len(members),
                                  revenue=float(members["monetary"].sum())) + "**")
        shown = download_frame(members, ctx.lang)
        show_table(shown, hide_index=True, width="stretch", height=320, key="segments:members")
        download_buttons(ctx, shown, f"segment-{pick}-{ctx.as_of}", "segments:members")

# ----------------------------------------------------------------------------- cohorts
with tab_cohorts:
    with st.spinner(ctx.tr("loading")):
        cohorts = ctx.call("crmflow.analytics.cohort_retention", ctx.as_of)
    if cohorts.empty:
        st.info(ctx.tr("seg_cohort_empty"))
    else:
        kind = st.radio(ctx.tr("seg_cohort_show"), ["retention", "revenue"], horizontal=True,
                        format_func=lambda k: ctx.tr(f"seg_cohort_{k}"), key="segments:cohort_value")
        value = "retention" if kind == "retention" else "revenue_per_customer"
        month1 = cohort_headline(cohorts, ctx.as_of, value)
        if month1 is None:
            title = ctx.tr("seg_cohort_title_none")
        elif kind == "retention":
            title = ctx.tr("seg_cohort_title_retention", share=month1)
        else:
            title = ctx.tr("seg_cohort_title_revenue", value=month1)
        figure = cohort_heatmap(cohort_matrix(cohorts, value), title, ctx.tr("seg_cohort_x"), ctx.tr("seg_cohort_y"),
                                ctx.tr(f"seg_cohort_colour_{kind}"), percent=kind == "retention")
        show_chart(ctx, figure, f"cohorts-{kind}")
        st.caption(ctx.tr("seg_cohort_caption"))

# ----------------------------------------------------------------------------- CLV and backtest
with tab_value:
    if not view.has_model:
        st.warning(ctx.tr("seg_clv_unavailable", reason=view.error.localized(ctx.lang)))
    else:
        for note in view.notes:
            {"success": st.success, "info": st.info}.get(note.level, st.warning)(note.text(ctx.lang))
        values = view.customers["expected_value"].dropna()
        conc = value_concentration(values)
        if conc.top10_share is not None:
            title = ctx.tr("seg_clv_title", share=conc.top10_share, total=conc.total)
        else:
            title = ctx.tr("seg_clv_title_zero", total=conc.total)
        left, middle, right = st.columns(3)
        left.metric(ctx.tr("seg_clv_metric_total"), money(conc.total, ctx.lang))
        middle.metric(ctx.tr("seg_clv_metric_median"), money(conc.median, ctx.lang))
        right.metric(ctx.tr("seg_clv_metric_alive"), f"{view.customers['p_alive'].mean():.0%}",
                     help=ctx.tr("gl_def_p_alive"))
        show_chart(ctx, value_histogram(values, title, ctx.tr("seg_clv_x"), ctx.tr("seg_clv_y")), "clv-distribution")
        st.caption(ctx.tr("clvchoice_clv_caption", as_of=ctx.as_of.isoformat(),
                          model=ctx.tr(f"clvchoice_model_{view.model}")))
        model_choice_section(ctx, view)
        with st.expander(ctx.tr("seg_clv_details")):
            for message in view.messages:
                st.text(message)

    st.subheader(ctx.tr("seg_bt_heading"))
    with st.spinner(ctx.tr("loading")):
        bt = ctx.call("crmflow.segments_table.backtest_view", ctx.as_of)
    if bt.result is None:
        st.info(ctx.tr("seg_bt_unavailable", reason=bt.error.localized(ctx.lang)))
    else:
        res = bt.result
        left, middle, right = st.columns(3)
        left.metric(ctx.tr("seg_bt_metric_predicted"), f"{res['predicted_orders']:,.0f}")
        middle.metric(ctx.tr("seg_bt_metric_actual"), f"{res['actual_orders']:,}")
        right.metric(ctx.tr("seg_bt_metric_mae"), f"{res['mean_absolute_error']:,.2f}")
        verdict = bt.verdict
        box = {"close": st.success, "rough": st.warning, "off": st.error}.get(verdict, st.info)
        box(ctx.tr(f"seg_bt_verdict_{verdict or 'none'}"))
        for note in bt.notes:
            if note.key != "seg_clv_note_converged":
                st.warning(note.text(ctx.lang))
        title = ctx.tr("seg_bt_title", predicted=res["predicted_orders"], actual=res["actual_orders"],
                       days=res["holdout_days"])
        show_chart(ctx, backtest_bars(bt.by_decile, ctx.tr("seg_bt_predicted"), ctx.tr("seg_bt_actual"), title,
                                      ctx.tr("seg_bt_x"), ctx.tr("seg_bt_y")), "clv-backtest")
        st.caption(ctx.tr("seg_bt_caption", calibration_end=res["calibration_end"], holdout_end=res["holdout_end"],
                          customers=res["customers"]))
        if res.get("choice_reason") == "backtest":
            st.caption(ctx.tr("seg_bt_caption_chosen", n=res["candidates"]))
    show_track_record(ctx)  # the track record of the same backtest (pages/sections/clvtrack.py)

# ----------------------------------------------------------------------------- download
with tab_download:
    everyone = download_frame(view.customers, ctx.lang)
    st.write(ctx.tr("seg_download_caption", customers=len(everyone), as_of=ctx.as_of.isoformat()))
    download_buttons(ctx, everyone, f"customers-{ctx.dataset.dataset_id}-{ctx.as_of}", "segments:all")
    st.caption(ctx.tr("seg_download_preview"))
    show_table(everyone.head(50), hide_index=True, width="stretch", key="segments:all_preview")
