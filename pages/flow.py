"""Customer flow (SPEC §3.2): how customers moved between their stage at D1
and at D2 = the as-of date -- Sankey, transition table, conversion rates,
monthly stage snapshots, won back vs. lost per month, and the customers in
any flow band; a second tab, Prospects, lists who is likely to take the next
stage step (crmflow.ui.prospects; only the open tab runs). D1 lives in the URL (``?from=YYYY-MM-DD``), the band too
(``?band=loyal>lost``). Layout only: numbers come from crmflow.stages and
crmflow.transitions."""

from datetime import date

import pandas as pd
import streamlit as st

from crmflow.charts.flow import conversion_bars, sankey, won_back_lost_bars
from crmflow.charts.overview import stage_area
from crmflow.config import STAGES_WITH_NONE
from crmflow.errors import CrmflowError
from crmflow.headlines import flow_headline, won_back_lost_headline
from crmflow.overview import largest_stage_change
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
from crmflow.ui.common import context, digest, download_buttons, show_chart, show_table
from crmflow.ui.prospects import prospects_view

#: Most bands offered as buttons under the Sankey (the largest moves between stages).
PILL_BANDS = 8

ctx = context()
st.header(ctx.tr("page_flow"))
labels = {s: ctx.tr(f"stage_{s}") for s in STAGES_WITH_NONE}
end = ctx.as_of

flow_tab, prospects_tab = st.tabs([ctx.tr("pr_tab_flow"), ctx.tr("pr_tab")], key="flow:tab", on_change="rerun")
if prospects_tab.open:
    with prospects_tab:
        prospects_view(ctx)
    st.stop()

with flow_tab:
    # ---------------------------------------------------------------- D1 (in the URL)
    try:
        wanted = date.fromisoformat(st.query_params.get("from", ""))
    except ValueError:
        wanted = None
    low, high = start_bounds(ctx.first, end)
    left, right = st.columns([1, 2])
    start = left.date_input(ctx.tr("fl_from"), value=clamp_start(wanted, ctx.first, end), min_value=low,
                            max_value=high, key=f"flow:from:{ctx.dataset.name}:{end}",
                            help=ctx.tr("fl_from_help", default=default_start(ctx.first, end).isoformat()))
    start = start if isinstance(start, date) else clamp_start(wanted, ctx.first, end)
    st.query_params["from"] = start.isoformat()
    right.markdown(ctx.tr("fl_period", start=start.isoformat(), end=end.isoformat(), days=(end - start).days))

    try:
        with st.spinner(ctx.tr("loading")):
            flow = ctx.call("crmflow.stages.flow", start, end, ctx.params)
    except CrmflowError as exc:
        st.error(exc.localized(ctx.lang))
        st.stop()
    if flow.empty or int(flow["customers"].sum()) == 0:
        st.info(ctx.tr("empty_data"))
        st.stop()
    state = digest(ctx.dataset.name, ctx.version, ctx.scope, ctx.params, start, end)

    # ---------------------------------------------------------------- headline numbers + Sankey
    summary = flow_summary(flow)
    cards = st.columns(4)
    cards[0].metric(ctx.tr("fl_gained"), f"{summary.gained:,}", help=ctx.tr("fl_help_gained"), border=True)
    cards[1].metric(ctx.tr("fl_became_lost"), f"{summary.became_lost:,}", help=ctx.tr("fl_help_became_lost"),
                    border=True)
    cards[2].metric(ctx.tr("fl_won_back"), f"{summary.won_back:,}", help=ctx.tr("fl_help_won_back"), border=True)
    active_change = summary.active_end - summary.active_start
    cards[3].metric(ctx.tr("fl_active"), f"{summary.active_end:,}", 0 if active_change == 0 else f"{active_change:+,}",
                    delta_description=ctx.tr("fl_vs_start", start=start.isoformat()), help=ctx.tr("fl_help_active"),
                    border=True)

    title = flow_headline(summary, start, end).text(ctx.lang)
    show_chart(ctx, sankey(flow, labels, title), "flow-sankey")
    st.caption(ctx.tr("fl_sankey_caption"))

    # The drill-down's band: from the URL, else the largest move into lost. A
    # Sankey band cannot report a click to Streamlit (Plotly's Sankey has no
    # selection), so the bands that change stage are buttons right under it, and
    # a click on a cell of the transition table picks one too; the customers are
    # listed directly under that table, with a notice saying so.
    band_options = [band_key(f, t) for f, t, _ in bands(flow)]
    band_widget = f"flow:band:{state}"
    matrix_widget = f"flow:matrix:{state}"
    pills_widget = f"flow:pills:{state}"
    counts = {band_key(f, t): n for f, t, n in bands(flow)}
    if band_widget not in st.session_state:
        from_url = parse_band(st.query_params.get("band"))
        fallback = default_band(flow)
        chosen = band_key(*from_url) if from_url and band_key(*from_url) in band_options else band_key(*fallback)
        st.session_state[band_widget] = chosen


    def band_label(key: str) -> str:
        f, t = parse_band(key)
        return ctx.tr("fl_band", source=labels[f], target=labels[t], customers=counts[key])


    def open_band(key: str) -> None:
        """Show band ``key`` in the drill-down and say where it is."""
        st.session_state[band_widget] = key
        st.toast(ctx.tr("polish_drill_toast", band=band_label(key)), icon=":material/arrow_downward:")


    def pick_pill() -> None:
        key = st.session_state.get(pills_widget)
        if key in band_options:
            open_band(key)


    moves = sorted((k for k in band_options if parse_band(k)[0] != parse_band(k)[1]), key=lambda k: -counts[k])
    current = st.session_state[band_widget]
    st.session_state[pills_widget] = current if current in moves[:PILL_BANDS] else None  # follows the table and list
    st.pills(ctx.tr("polish_band_pills"), moves[:PILL_BANDS], format_func=band_label, key=pills_widget,
             on_change=pick_pill, help=ctx.tr("polish_band_pills_help"))

    # ---------------------------------------------------------------- transition table
    st.subheader(ctx.tr("fl_transitions"))
    st.caption(ctx.tr("fl_transitions_caption", start=start.isoformat(), end=end.isoformat()))
    matrix = transition_matrix(flow)
    total = ctx.tr("fl_total")
    table = matrix.rename(index=labels, columns=labels)
    table[total] = table.sum(axis=1)
    table.loc[total] = table.sum(axis=0)
    table.index.name, table.columns.name = ctx.tr("fl_from_to"), None


    def pick_cell() -> None:
        """A click on a cell of the transition table opens that band below."""
        rows, columns = list(matrix.index), {labels[s]: s for s in matrix.columns}
        cells = st.session_state[matrix_widget]["selection"]["cells"]
        if not cells:
            return
        row, column = cells[0]
        if row < len(rows) and column in columns:
            key = band_key(rows[row], columns[column])
            if key in band_options:
                open_band(key)


    show_table(table, key=matrix_widget, on_select=pick_cell, selection_mode="single-cell")
    download_buttons(ctx, table.reset_index(), f"crmflow-transitions-{start}-{end}", f"flow:transitions:{state}")

    # ---------------------------------------------------------------- drill-down
    st.subheader(ctx.tr("fl_drill"))
    picked = st.selectbox(ctx.tr("fl_band_pick"), band_options, format_func=band_label, key=band_widget)
    default_key = band_key(*default_band(flow))
    if picked == default_key:
        if "band" in st.query_params:
            del st.query_params["band"]
    else:
        st.query_params["band"] = picked
    source, target = parse_band(picked)
    with st.spinner(ctx.tr("loading")):
        customers = ctx.call("crmflow.stages.flow_customers", start, end, source, target, ctx.params)
    shown = customers.assign(from_stage=customers["from_stage"].map(labels), to_stage=customers["to_stage"].map(labels),
                             last_order_date=pd.to_datetime(customers["last_order_date"]).dt.date)
    shown = shown.rename(columns={
        "customer_id": ctx.tr("fl_col_customer"), "from_stage": ctx.tr("fl_col_from", date=start.isoformat()),
        "to_stage": ctx.tr("fl_col_to", date=end.isoformat()), "orders": ctx.tr("fl_col_orders"),
        "last_order_date": ctx.tr("fl_col_last_order")})
    st.caption(ctx.tr("fl_drill_caption", customers=len(customers), band=band_label(picked)))
    show_table(shown, hide_index=True)
    download_buttons(ctx, shown, f"crmflow-flow-{source}-{target}-{start}-{end}", f"flow:customers:{state}:{picked}")

    # ---------------------------------------------------------------- conversion rates
    st.subheader(ctx.tr("fl_conversion"))
    rates = conversion_rates(flow)
    by_key = rates.set_index("conversion")
    first_rate, lost_rate = by_key.loc["first_to_repeat", "rate"], by_key.loc["active_to_lost", "rate"]
    if pd.notna(first_rate) and pd.notna(lost_rate):
        title = ctx.tr("fl_conversion_title", first=first_rate, lost=lost_rate, start=start.isoformat(),
                       end=end.isoformat())
    else:
        title = ctx.tr("fl_conversion_title_plain", start=start.isoformat(), end=end.isoformat())
    names = {c.key: ctx.tr(f"fl_conv_{c.key}") for c in CONVERSIONS}
    if int(rates["customers_from"].sum()) == 0:
        st.info(ctx.tr("fl_conversion_empty"))
    else:
        show_chart(ctx, conversion_bars(rates, names, title, ctx.tr("fl_axis_rate"),
                                        count_text=ctx.tr("fl_conversion_bar_text")), "flow-conversion")
    with st.expander(ctx.tr("fl_conversion_definitions_title")):
        st.markdown(ctx.tr("fl_conversion_definitions"))
        show_table(
            rates.assign(conversion=[names[k] for k in rates["conversion"]]).rename(columns={
                "conversion": ctx.tr("fl_col_conversion"), "customers_from": ctx.tr("fl_col_customers_from"),
                "customers_to": ctx.tr("fl_col_customers_to"), "rate": ctx.tr("fl_col_rate")}),
            hide_index=True, column_config={ctx.tr("fl_col_rate"): st.column_config.NumberColumn(format="percent")})

    # ---------------------------------------------------------------- monthly stage snapshots
    st.subheader(ctx.tr("fl_snapshots"))
    with st.spinner(ctx.tr("loading")):
        snapshots = ctx.call("crmflow.stages.stage_snapshots", start, end, ctx.params)
    change = largest_stage_change(snapshots)
    if change is None:
        title = ctx.tr("ov_stages_title_single", as_of=end.isoformat())
    else:
        title = ctx.tr("ov_stages_title", stage=labels[change.name], start_count=int(change.start),
                       end_count=int(change.end), start=change.start_date.isoformat(), end=change.end_date.isoformat())
    show_chart(ctx, stage_area(snapshots, labels, title, ctx.tr("ov_axis_month_end"), ctx.tr("ov_axis_customers")),
               "flow-snapshots")

    # ---------------------------------------------------------------- won back vs lost per month
    st.subheader(ctx.tr("fl_won_back_lost"))
    with st.spinner(ctx.tr("loading")):
        monthly = months_from(ctx.call("crmflow.stages.won_back_lost_monthly", end, ctx.params), start)
    if monthly.empty:
        st.info(ctx.tr("fl_won_back_lost_empty"))
    else:
        title = won_back_lost_headline(monthly).text(ctx.lang)
        show_chart(ctx, won_back_lost_bars(monthly, ctx.tr("fl_won_back_series"), ctx.tr("fl_lost_series"), title,
                                           ctx.tr("fl_axis_month"), ctx.tr("ov_axis_customers")), "flow-won-back-lost")
        st.caption(ctx.tr("fl_won_back_lost_caption", lost_after_days=ctx.params.lost_after_days))
