"""The "Prospects" tab of the Customer flow page (issue 17, part 1): the
prospects list sorted by expected value, what is missing to score leads, and
the list's backtest on the past. The numbers come from crmflow.prospects; this
module only lays them out. crmflow.prospects (SciPy) is imported through the
cached door (ctx.call), so the flow page does not load it until the tab opens."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crmflow.headlines import TABLE_MONEY
from crmflow.ui.common import Context, amount, digest, download_buttons, show_table

#: Horizons offered (days); 90 is the default of crmflow.prospects.
HORIZONS = (30, 60, 90, 180)
DEFAULT_HORIZON = 90


def prospects_table(ctx: Context, frame: pd.DataFrame) -> pd.DataFrame:
    """The list with display labels as columns (what the tab shows and downloads)."""
    stages = {s: ctx.tr(f"stage_{s}") for s in ("potential", "first", "repeat", "loyal")}
    return pd.DataFrame({
        ctx.tr("fl_col_customer"): frame["customer_id"].astype(str),
        ctx.tr("pr_col_step"): [ctx.tr("pr_step", source=stages[a], target=stages[b])
                                for a, b in zip(frame["stage"], frame["next_stage"])],
        ctx.tr("pr_col_probability"): pd.to_numeric(frame["probability"]),
        ctx.tr("pr_col_expected_value"): pd.to_numeric(frame["expected_value"]),
        ctx.tr("pr_col_move_value"): pd.to_numeric(frame["move_value"]),
        ctx.tr("pr_col_reasons"): ["; ".join(words) for words in frame["reasons_text"]],
        ctx.tr("cp_col_owner"): frame["owner"],
        ctx.tr("pr_col_region"): frame["region"],
        ctx.tr("pr_col_days"): pd.to_numeric(frame["days_in_stage"]),
    })


def prospects_view(ctx: Context) -> None:
    """The tab's content."""
    horizon = st.segmented_control(ctx.tr("pr_horizon"), HORIZONS, default=DEFAULT_HORIZON, required=True,
                                   format_func=lambda d: ctx.tr("pr_days", days=d), key="flow:prospects:horizon",
                                   help=ctx.tr("pr_horizon_help"))
    horizon = int(horizon or DEFAULT_HORIZON)
    with st.spinner(ctx.tr("loading")):
        result = ctx.call("crmflow.prospects.prospects", ctx.as_of, ctx.params, horizon, ctx.lang)
    st.caption(ctx.tr("pr_intro", days=horizon, learned=result.learned_at.isoformat(), as_of=ctx.as_of.isoformat()))
    for key in result.notes:
        st.info(ctx.tr(key, days=horizon))
    frame = result.frame
    if frame.empty:
        st.info(ctx.tr("pr_empty", as_of=ctx.as_of.isoformat()))
        return
    scored = frame["probability"].notna()
    cards = st.columns(4)
    cards[0].metric(ctx.tr("pr_metric_customers"), f"{int(scored.sum()):,}", help=ctx.tr("pr_metric_customers_help"),
                    border=True)
    cards[1].metric(ctx.tr("pr_metric_expected"), f"{result.expected_movers():,.0f}",
                    help=ctx.tr("pr_metric_expected_help", days=horizon), border=True)
    cards[2].metric(ctx.money(ctx.tr("pr_metric_value")),
                    amount(ctx, float(pd.to_numeric(frame["expected_value"]).fillna(0).sum())),
                    help=ctx.tr("pr_metric_value_help", days=horizon), border=True)
    cards[3].metric(ctx.tr("pr_metric_top"), f"{result.top():,}", help=ctx.tr("pr_metric_top_help"), border=True)

    from crmflow.prospects import step_summary, track_verdict

    summary = step_summary(frame)
    steps = pd.DataFrame({
        ctx.tr("pr_col_step"): [ctx.tr("pr_step", source=ctx.tr(f"stage_{a}"), target=ctx.tr(f"stage_{b}"))
                                for a, b in zip(summary["stage"], summary["next_stage"])],
        ctx.tr("pr_col_now"): summary["customers"],
        ctx.tr("pr_col_expected"): summary["expected"],
        ctx.tr("pr_col_past_rate"): [result.models[s].base for s in summary["stage"]],
    })
    show_table(steps, hide_index=True, column_config={
        ctx.tr("pr_col_expected"): st.column_config.NumberColumn(format="%.1f"),
        ctx.tr("pr_col_past_rate"): st.column_config.NumberColumn(format="percent")})
    st.caption(ctx.tr("pr_steps_caption", learned=result.learned_at.isoformat(), as_of=ctx.as_of.isoformat(),
                      days=horizon))

    st.subheader(ctx.tr("pr_list"))
    table = prospects_table(ctx, frame)
    st.caption(ctx.tr("pr_list_caption", top=result.top(), customers=len(frame)))
    show_table(table, hide_index=True, column_config={
        ctx.tr("pr_col_probability"): st.column_config.NumberColumn(format="percent"),
        ctx.tr("pr_col_expected_value"): st.column_config.NumberColumn(format=TABLE_MONEY),
        ctx.tr("pr_col_move_value"): st.column_config.NumberColumn(format=TABLE_MONEY),
        ctx.tr("pr_col_reasons"): st.column_config.TextColumn(width="large"),
        ctx.tr("pr_col_days"): st.column_config.NumberColumn(format="%d")})
    state = digest(ctx.dataset.name, ctx.version, ctx.scope, ctx.params, ctx.as_of, horizon, ctx.lang)
    download_buttons(ctx, table, f"crmflow-prospects-{ctx.as_of}", f"flow:prospects:{state}")

    st.subheader(ctx.tr("pr_track"))
    with st.spinner(ctx.tr("loading")):
        record = ctx.call("crmflow.prospects.track_record", ctx.as_of, ctx.params, horizon)
    st.markdown(track_verdict(record, ctx.lang))
    if record["auc"] is None:
        return
    cards = st.columns(4)
    cards[0].metric(ctx.tr("pr_metric_auc"), f"{record['auc']:.1%}", help=ctx.tr("pr_metric_auc_help"), border=True)
    cards[1].metric(ctx.tr("pr_metric_caught"), f"{record['caught']:,} / {record['moved']:,}",
                    help=ctx.tr("pr_metric_caught_help", top=record["top"]), border=True)
    cards[2].metric(ctx.tr("pr_metric_random"), f"{record['random_caught']:,.1f}",
                    help=ctx.tr("pr_metric_random_help"), border=True)
    cards[3].metric(ctx.tr("pr_metric_stage"), f"{record['stage_caught']:,.1f}",
                    help=ctx.tr("pr_metric_stage_help"), border=True)
    bands = pd.DataFrame(record["calibration"])
    if not bands.empty:
        shown = pd.DataFrame({ctx.tr("pr_col_band"): bands["band"], ctx.tr("pr_col_customers"): bands["customers"],
                              ctx.tr("pr_col_predicted"): bands["predicted"], ctx.tr("pr_col_actual"): bands["actual"]})
        show_table(shown, hide_index=True, column_config={
            ctx.tr("pr_col_predicted"): st.column_config.NumberColumn(format="percent"),
            ctx.tr("pr_col_actual"): st.column_config.NumberColumn(format="percent")})
        st.caption(ctx.tr("pr_bands_caption", past=record["scored_at"], end=record["outcome_end"]))
