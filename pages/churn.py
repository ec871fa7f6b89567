"""Churn warnings (SPEC §3.3): who is about to leave, how much value leaves
with them and why, in words; the risk distribution; a call list to download.
Layout only: the list is crmflow.churn.churn_warnings (the numbers of
`crmflow churn`), the rest comes from crmflow.account_view."""

import streamlit as st

from crmflow.ui.common import context, download_buttons, need, show_chart, show_table

#: Churn list layout (px): Streamlit wraps cell text when rows are taller than 64 px.
NAME_WIDTH, VALUE_WIDTH, REASONS_WIDTH, REASON_ROW_HEIGHT = 120, 90, 560, 98

ctx = context()
st.header(ctx.tr("page_churn"))
st.caption(ctx.tr("cp_intro", as_of=ctx.as_of.isoformat(), days=ctx.params.lost_after_days))
# The scoring code (SciPy, the CLV model) takes seconds to import on a first
# visit: it is imported after the title, under a message, never on a blank page.
with st.spinner(ctx.tr("polish_loading_churn")):
    from crmflow.account_view import (
        at_risk_rows,
        by_owner,
        call_list,
        churn_headline,
        compact,
        display_name,
        link_params,
        owner_options,
        reasons_in,
        scorer_caption,
        translate_columns,
    )
    from crmflow.charts.churn import calibration_chart, risk_histogram
    from crmflow.churn import AT_RISK_SCORE, CALL_LIST_VALUE_SHARE, empty_list_note, risk_distribution, track_verdict
    from crmflow.errors import CrmflowError
    from crmflow.headlines import TABLE_MONEY
    from crmflow.headlines import churn_headline as churn_finding

# ---------------------------------------------------------------- page controls (kept in the URL)
left, right = st.columns([3, 2], vertical_alignment="bottom")
with right:
    show_all = st.toggle(ctx.tr("cp_show_all"), value=st.query_params.get("all") == "1", key="churn:all",
                         help=ctx.tr("ct_show_all_help", share=CALL_LIST_VALUE_SHARE))
if show_all:
    st.query_params["all"] = "1"
elif "all" in st.query_params:
    del st.query_params["all"]

try:
    with st.spinner(ctx.tr("polish_loading_churn")):
        everyone = ctx.call("crmflow.churn.churn_warnings", ctx.as_of, ctx.params, include_all=True)
        people = ctx.call("crmflow.account_view.directory", ctx.as_of)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

if everyone.empty:
    st.info(ctx.tr("cp_empty", as_of=ctx.as_of.isoformat()))
    st.stop()

listed = everyone if show_all else at_risk_rows(everyone)
owners: list[str] = []
with left:
    options = owner_options(everyone)
    if any(options):
        wanted = [o for o in st.query_params.get_all("call_owner") if o in options]
        owners = st.multiselect(ctx.tr("cp_owner"), options, default=wanted, key="churn:owner",
                                format_func=lambda o: o or ctx.tr("cp_owner_none"),
                                placeholder=ctx.tr("filter_all"), help=ctx.tr("cp_owner_help"))
        if owners:
            st.query_params["call_owner"] = owners
        elif "call_owner" in st.query_params:
            del st.query_params["call_owner"]
    else:
        need(ctx, "owner", "cp_unlock_owner")

listed = by_owner(listed, owners)
shown_all = by_owner(everyone, owners)

# ---------------------------------------------------------------- headline
finding = churn_finding(shown_all, at_risk_rows(shown_all), ctx.params.lost_after_days)
if finding is not None:
    st.subheader(finding.text(ctx.lang))
head = churn_headline(listed)
value = compact(head.value_at_risk, ctx.lang)
suffix = "_all" if show_all else ""
if head.customers == 0:
    # the list is empty only when nobody carries value at risk: say so, never an empty table
    st.info(ctx.tr("ct_none_owner") if owners else empty_list_note(shown_all, ctx.params.lost_after_days, ctx.lang))
else:
    cards = st.columns(4)
    cards[0].metric(ctx.tr(f"cp_metric_customers{suffix}"), f"{head.customers:,}", border=True)
    cards[1].metric(ctx.money(ctx.tr("cp_metric_value")), value, border=True,
                    help=ctx.tr("cp_metric_value_help", value=head.value_at_risk))
    cards[2].metric(ctx.tr("cp_metric_expected"), compact(head.expected_value, ctx.lang), border=True)
    cards[3].metric(ctx.tr("cp_metric_top", top=head.top),
                    "–" if head.top_share is None else f"{head.top_share:.0%}", border=True,
                    help=ctx.tr("cp_metric_top_help", top=head.top))

    # ------------------------------------------------------------ the list
    calls = call_list(listed, people, ctx.lang)
    table = calls.copy()
    table["name"] = [display_name(c, n) for c, n in zip(table["customer_id"], table["name"])]
    table["reasons"] = [" · ".join(rs) for rs in reasons_in(listed, ctx.lang)]
    # The key columns first (name pinned, value at risk, reasons wrapped over up to five lines), so a 1440 px
    # screen shows the reasons whole and a phone shows name, value and the start of the reasons; a click on a
    # row opens the account with every reason.
    view = table[["name", "value_at_risk", "reasons", "risk_score", "probability_leave", "stage", "owner",
                  "days_since_last_order", "customer_id"]]
    labels = {c: ctx.tr(f"cp_col_{c}") for c in view.columns}
    labels["value_at_risk"] = ctx.money(labels["value_at_risk"])
    event = show_table(
        view.rename(columns=labels), hide_index=True, width="stretch", key="churn:table",
        on_select="rerun", selection_mode="single-row", row_height=REASON_ROW_HEIGHT,
        column_config={
            labels["name"]: st.column_config.TextColumn(width=NAME_WIDTH, pinned=True),
            labels["value_at_risk"]: st.column_config.NumberColumn(format=TABLE_MONEY, width=VALUE_WIDTH),
            labels["reasons"]: st.column_config.TextColumn(width=REASONS_WIDTH),
            labels["risk_score"]: st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f"),
            labels["probability_leave"]: st.column_config.NumberColumn(format="percent"),
            labels["days_since_last_order"]: st.column_config.NumberColumn(format="%d"),
        })
    if not show_all:
        st.caption(ctx.tr("clvmend_list_caption_owner" if owners else "ct_list_caption", share=CALL_LIST_VALUE_SHARE,
                          listed=len(listed), scored=len(shown_all)))
    st.caption(ctx.tr("cp_table_caption"))
    rows = event.selection.rows if event is not None else []
    if rows:
        customer = str(view["customer_id"].iloc[rows[0]])
        items = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
        st.switch_page("pages/account.py", query_params=link_params(items, customer))

    # ------------------------------------------------------------ call list
    st.subheader(ctx.tr("cp_call_list"))
    st.caption(ctx.tr("cp_call_list_caption"))
    download_buttons(ctx, translate_columns(calls, "cp_col_", ctx.lang),
                     f"call-list-{ctx.as_of}", "churn:call_list")

# ---------------------------------------------------------------- track record (this data's own past)
st.subheader(ctx.tr("ct_track"))
with st.spinner(ctx.tr("polish_loading_churn")):
    record = ctx.call("crmflow.churn.track_record", ctx.as_of, ctx.params)
verdict = track_verdict(record, ctx.lang)
if record["verdict"] == "better_than_recency":
    st.success(verdict)
elif record["verdict"] in ("no_better_than_chance", "no_better_than_recency"):
    st.warning(verdict)
else:
    st.info(verdict)
if record["auc"] is not None:
    past = record["scored_at"]
    st.caption(ctx.tr("ct_track_intro", past=past, end=record["outcome_end"], days=record["horizon_days"]))

    def pct(value: float | None, digits: int = 0) -> str:
        return "–" if value is None else f"{value:.{digits}%}"

    cards = st.columns(4)
    cards[0].metric(ctx.tr("ct_metric_auc"), pct(record["auc"], 1), border=True,
                    help=ctx.tr("ct_metric_auc_help", past=past))
    cards[1].metric(ctx.tr("ct_metric_recency_auc"), pct(record["recency_auc"], 1), border=True,
                    help=ctx.tr("ct_metric_recency_auc_help"))
    cards[2].metric(ctx.tr("ct_metric_caught"), pct(record["caught_share"]), border=True,
                    help=ctx.tr("ct_metric_caught_help", past=past, caught=record["caught"], left=record["left"],
                                recency=pct(record["recency_caught_share"])))
    cards[3].metric(ctx.tr("ct_metric_caught_value"), pct(record["caught_value_share"]), border=True,
                    help=ctx.tr("ct_metric_caught_value_help", past=past,
                                recency=pct(record["recency_caught_value_share"])))
    bands = record["calibration"]
    show_chart(ctx, calibration_chart(bands, ctx.tr("ct_cal_title", bands=len(bands), past=past),
                                      ctx.tr("ct_cal_x"), ctx.tr("ct_cal_y", days=record["horizon_days"]),
                                      ctx.tr("ct_cal_predicted"), ctx.tr("ct_cal_actual")),
               "churn-track-record")
    st.caption(ctx.tr("ct_cal_caption"))

need(ctx, "interactions", "cp_unlock_interactions")
need(ctx, "due_date", "cp_unlock_due_date")

# ---------------------------------------------------------------- risk distribution
st.subheader(ctx.tr("cp_distribution"))
distribution = risk_distribution(shown_all)
at_risk = int((shown_all["risk_score"].astype(float) >= AT_RISK_SCORE).sum()) if len(shown_all) else 0
title = ctx.tr("cp_dist_title", at_risk=at_risk, total=len(shown_all), threshold=AT_RISK_SCORE)
show_chart(ctx, risk_histogram(distribution, title, ctx.tr("cp_dist_x"), ctx.tr("cp_dist_y"), AT_RISK_SCORE,
                               ctx.tr("cp_dist_threshold", threshold=AT_RISK_SCORE)), "churn-risk-distribution")
st.caption(ctx.tr("cp_dist_caption"))
note = scorer_caption(everyone, ctx.lang)
if note:
    st.caption(note)

