"""My accounts (issue 12, item 9): one account manager's customers -- their
stages, revenue per month, churn call list and key accounts -- with the
manager in the URL (``manager``). Layout only: the stages and the revenue are
the ordinary functions run on the owner's scope (the global filters with the
owner filter set to this manager); the call list and the key accounts are the
rows of the view-wide lists that belong to these customers
(crmflow.managers)."""

from dataclasses import replace

import streamlit as st

from crmflow.account_view import (
    at_risk_rows,
    call_list,
    churn_headline,
    file_stem,
    health_table,
    translate_columns,
)
from crmflow.charts import stage_bar
from crmflow.charts.managers import revenue_months
from crmflow.config import STAGES
from crmflow.errors import CrmflowError
from crmflow.filters import filter_options
from crmflow.headlines import TABLE_MONEY
from crmflow.managers import month_start, owner_customers, owner_rows, revenue_headline
from crmflow.overview import months_before
from crmflow.ui.common import _scope, amount, cached_attributes, context, download_buttons, get_store, show_chart, show_table

ctx = context()
st.header(ctx.tr("page_my_accounts"))
st.caption(ctx.tr("ma_intro", as_of=ctx.as_of.isoformat()))

attributes = cached_attributes(ctx.dataset.dataset_id, ctx.version)
owners = filter_options(attributes)["owner"]
if not owners:
    st.info(ctx.tr("ma_unlock"))
    st.stop()
wanted = st.query_params.get("manager")
owner = st.selectbox(ctx.tr("ma_owner"), owners, index=owners.index(wanted) if wanted in owners else None,
                     placeholder=ctx.tr("ma_pick"), key=f"ma:owner:{ctx.dataset.name}")
if owner is None:
    if "manager" in st.query_params:
        del st.query_params["manager"]
    st.info(ctx.tr("ma_pick_hint"))
    st.stop()
st.query_params["manager"] = owner

filters = replace(ctx.filters, owners=(owner,))
try:
    with st.spinner(ctx.tr("loading")):
        mine = replace(ctx, filters=filters, scope=_scope(get_store(), ctx.dataset, ctx.version, filters, ctx.as_of,
                                                          ctx.params))
        counts = mine.call("crmflow.stages.stage_counts", ctx.as_of, ctx.params)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()
customers = owner_customers(attributes, owner)
labels = {s: ctx.tr(f"stage_{s}") for s in STAGES}

# ---------------------------------------------------------------- customers by stage
st.subheader(ctx.tr("ma_stages", as_of=ctx.as_of.isoformat()))
total = sum(counts.values())
if total == 0:
    st.info(ctx.tr("empty_data"))
    st.stop()
top = max(STAGES, key=lambda s: (counts.get(s, 0), -STAGES.index(s)))
show_chart(ctx, stage_bar(counts, labels, ctx.tr("ma_stages_title", customers=total, as_of=ctx.as_of.isoformat(),
                                                 stage=labels[top], count=counts[top]),
                          ctx.tr("ma_axis_customers")), "my-accounts-stages")

# ---------------------------------------------------------------- revenue per month
st.subheader(ctx.tr("ma_revenue"))
start = month_start(months_before(ctx.as_of, 11))
with st.spinner(ctx.tr("loading")):
    months = mine.call("crmflow.managers.revenue_by_month", start, ctx.as_of, "total")
head = revenue_headline(months)
span = {"start": start.isoformat(), "end": ctx.as_of.isoformat()}
title = (ctx.tr("ma_revenue_title", total=amount(ctx, head.total), **span) if months.shape[1]
         else ctx.tr("mg_revenue_title_empty", **span))
show_chart(ctx, revenue_months(months, {}, title, ctx.tr("mg_axis_month"), ctx.money(ctx.tr("mg_axis_revenue")),
                               subtitle=ctx.tr("mg_revenue_subtitle", as_of=ctx.as_of.isoformat())),
           "my-accounts-revenue")

# ---------------------------------------------------------------- churn call list
st.subheader(ctx.tr("cp_call_list"))
st.caption(ctx.tr("ma_calls_caption"))
try:
    with st.spinner(ctx.tr("loading")):
        everyone = ctx.call("crmflow.churn.churn_warnings", ctx.as_of, ctx.params, include_all=True)
        people = ctx.call("crmflow.account_view.directory", ctx.as_of)
    listed = owner_rows(at_risk_rows(everyone), customers)
except CrmflowError as exc:
    st.info(exc.localized(ctx.lang))
    listed = None
if listed is not None:
    if listed.empty:
        st.success(ctx.tr("ma_calls_none", as_of=ctx.as_of.isoformat()))
    else:
        risk = churn_headline(listed)
        st.write(ctx.tr("ma_calls_count", customers=risk.customers, value=amount(ctx, risk.value_at_risk)))
        calls = call_list(listed, people, ctx.lang)
        view = calls[["name", "customer_id", "stage", "risk_score", "value_at_risk", "reasons",
                      "days_since_last_order"]]
        names = {c: ctx.tr(f"cp_col_{c}") for c in view.columns}
        names["value_at_risk"] = ctx.money(names["value_at_risk"])
        show_table(view.rename(columns=names), hide_index=True, width="stretch", key="ma:calls",
                   column_config={
                       names["risk_score"]: st.column_config.ProgressColumn(min_value=0, max_value=100,
                                                                            format="%.1f"),
                       names["value_at_risk"]: st.column_config.NumberColumn(format=TABLE_MONEY),
                       names["reasons"]: st.column_config.TextColumn(width="large"),
                   })
        download_buttons(ctx, translate_columns(calls, "cp_col_", ctx.lang), f"call-list-{file_stem(owner)}-{ctx.as_of}",
                         "ma:calls:download")

# ---------------------------------------------------------------- key accounts
st.subheader(ctx.tr("page_key_accounts"))
st.caption(ctx.tr("ma_key_caption"))
try:
    with st.spinner(ctx.tr("loading")):
        health = owner_rows(ctx.call("crmflow.account_view.key_account_health", ctx.as_of, ctx.params), customers)
except CrmflowError as exc:
    st.info(exc.localized(ctx.lang))
    health = None
if health is not None:
    if health.empty:
        st.info(ctx.tr("ma_key_none", as_of=ctx.as_of.isoformat()))
    else:
        st.write(ctx.tr("ma_key_count", accounts=len(health)))
        table = health_table(health, ctx.lang).drop(columns=["owner"])
        names = {"light": ctx.tr("health_status"), "customer": ctx.tr("ka_col_customer"),
                 "customer_id": ctx.tr("ka_col_customer_id"), "health_score": ctx.tr("health_score"),
                 "trend": ctx.tr("health_trend"), "score_90d_ago": ctx.tr("health_score_90d_ago"),
                 "phase": ctx.tr("health_phase"), "revenue_12m": ctx.money(ctx.tr("ka_col_revenue_12m"))}
        show_table(table.rename(columns=names), hide_index=True, width="stretch", key="ma:key",
                   column_config={
                       names["health_score"]: st.column_config.ProgressColumn(min_value=0, max_value=100,
                                                                              format="%.1f"),
                       names["score_90d_ago"]: st.column_config.NumberColumn(format="%.1f"),
                       names["revenue_12m"]: st.column_config.NumberColumn(format=TABLE_MONEY),
                   })
