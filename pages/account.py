"""One account (SPEC §3.4): who it is, its stage and health at D, a timeline
of orders, payments and contacts on one time axis, its health history, its
churn risk with the reasons, and its RFM scores. The customer comes from the
URL (``?customer=ID``) or the picker. Layout only: the numbers come from
crmflow.account_view, crmflow.health, crmflow.churn and crmflow.analytics."""

import pandas as pd
import streamlit as st

from crmflow.ui.common import context, download_buttons, need, show_chart, show_table
from crmflow.ui.clvtrack import show_alive_path

ctx = context()
st.header(ctx.tr("page_account"))
# The scoring code (SciPy, the CLV model) takes seconds to import on a first
# visit: it is imported after the title, under a message, never on a blank page.
with st.spinner(ctx.tr("polish_loading_account")):
    from crmflow.account_view import (
        account_options,
        activity_table,
        churn_row,
        compact,
        customer_label,
        display_name,
        file_stem,
        history_dates,
        md,
        order_pace,
        traffic_light_markdown,
        trend_text,
        with_contact_labels,
    )
    from crmflow.charts.accounts import account_timeline, health_history_chart
    from crmflow.churn import reason_text
    from crmflow.errors import CrmflowError
    from crmflow.health import DEFAULT_MAX_ACCOUNTS, DEFAULT_SHARE, label

SCOPES = ("key_accounts", "all")
MONTHS = (12, 24)

try:
    with st.spinner(ctx.tr("polish_loading_account")):
        people = ctx.call("crmflow.account_view.directory", ctx.as_of)
        key_health = ctx.call("crmflow.account_view.key_account_health", ctx.as_of, ctx.params, (), DEFAULT_SHARE,
                              DEFAULT_MAX_ACCOUNTS)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

# ---------------------------------------------------------------- which customer
wanted = st.query_params.get("customer") or None
known = set(people["customer_id"])
key_ids = [str(c) for c in key_health["customer_id"]]
names = dict(zip(people["customer_id"], people["name"]))
if wanted is not None and wanted not in known:
    st.warning(ctx.tr("acc_unknown"))
    st.text(wanted)

default_scope = "key_accounts" if key_ids and (wanted is None or wanted in key_ids) else "all"
left, right = st.columns([1, 3], vertical_alignment="bottom")
scope = left.segmented_control(ctx.tr("acc_pick_scope"), SCOPES, default=default_scope, required=True,
                               format_func=lambda s: ctx.tr(f"acc_scope_{s}"), key="acc:scope")
scope = scope if scope in SCOPES else default_scope
options = account_options(people, key_ids, scope)
# The URL wins when it changed from outside (a link, another page, the first visit);
# otherwise the picker does, and the URL follows it.
pick_key = f"acc:pick:{scope}"
if pick_key not in st.session_state or wanted != st.session_state.get("acc:url"):
    st.session_state[pick_key] = wanted if wanted in options else None
customer = right.selectbox(ctx.tr("acc_pick"), options, format_func=lambda c: customer_label(c, names.get(c)),
                           placeholder=ctx.tr("acc_pick_placeholder"), key=pick_key)
st.session_state["acc:url"] = customer if customer is not None else wanted
if customer is None:
    if not options and scope == "key_accounts":
        st.info(ctx.tr("acc_no_key_accounts"))
    st.info(ctx.tr("acc_none"))
    st.stop()
st.query_params["customer"] = customer

# ---------------------------------------------------------------- header
person = people[people["customer_id"] == customer].iloc[0]
months = st.session_state.get("acc:months", MONTHS[0])
try:
    with st.spinner(ctx.tr("loading")):
        stages = ctx.call("crmflow.stages.customer_stages", ctx.as_of, ctx.params)
        history = ctx.call("crmflow.account_view.account_health_history", customer,
                           history_dates(ctx.as_of, months), ctx.params)
        activity = ctx.call("crmflow.account_view.account_activity", customer, ctx.as_of)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

stage_rows = stages[stages["customer_id"] == customer]
stage = str(stage_rows["stage"].iloc[0]) if len(stage_rows) else "none"
now = history.iloc[-1] if len(history) else None
score = None if now is None else now["health_score"]
key_row = key_health[key_health["customer_id"] == customer]

st.subheader(md(display_name(customer, person["name"])))
facts = [ctx.tr("acc_customer_id", id=customer)]
for column in ("industry", "tier"):
    if isinstance(person[column], str) and person[column]:
        facts.append(person[column])
facts.append(ctx.tr("acc_key_account") if customer in key_ids else ctx.tr("acc_not_key_account"))
for column, key in (("owner", "acc_owner"), ("region", "acc_region")):
    if isinstance(person[column], str) and person[column]:
        facts.append(f"{ctx.tr(key)}: {person[column]}")
st.caption(md(" · ".join(facts)))

cards = st.columns(4)
cards[0].metric(ctx.tr("acc_stage", as_of=ctx.as_of.isoformat()), ctx.tr(f"stage_{stage}"), border=True)
trend = None
if len(key_row) and key_row["score_90d_ago"].notna().iloc[0]:
    trend = trend_text(key_row["trend"].iloc[0], key_row["health_score"].iloc[0], key_row["score_90d_ago"].iloc[0])
cards[1].metric(ctx.tr("health_score"), "—" if score is None or pd.isna(score) else f"{score:.1f}",
                None if trend is None else trend.split(" ", 1)[1], delta_description=ctx.tr("acc_vs_90d"),
                delta_color="off" if trend is not None and trend.startswith("→") else "normal", border=True)
cards[2].metric(ctx.tr("health_status"), traffic_light_markdown(None if now is None else now["status"], ctx.lang),
                border=True)
cards[3].metric(ctx.tr("health_phase"), label("phase", None if now is None else now["phase"], ctx.lang) or "—",
                border=True)
facts = st.columns(4)
first_order = person["first_order_date"]
facts[0].metric(ctx.tr("acc_first_order"), "—" if first_order is None else first_order.isoformat())
facts[1].metric(ctx.tr("acc_last_order"), "—" if person["last_order_date"] is None
                else person["last_order_date"].isoformat())
facts[2].metric(ctx.tr("acc_orders"), f"{int(person['orders']):,}")
facts[3].metric(ctx.tr("acc_revenue"), compact(float(person["revenue"]), ctx.lang),
                help=f"{float(person['revenue']):,.2f}")

# ---------------------------------------------------------------- timeline
st.subheader(ctx.tr("acc_timeline"))
if activity.empty:
    st.info(ctx.tr("acc_no_orders", as_of=ctx.as_of.isoformat()))
else:
    pace = order_pace(activity.orders, ctx.as_of)
    if activity.orders.empty:
        title = ctx.tr("acc_no_orders", as_of=ctx.as_of.isoformat())
    elif pace.trend == "none":
        title = ctx.tr("acc_pace_none", double=2 * pace.months, last=person["last_order_date"].isoformat())
    else:
        title = ctx.tr(f"acc_pace_{pace.trend}", recent=pace.recent, previous=pace.previous, months=pace.months)
    show_payments = ctx.has("due_date")
    show_contacts = ctx.has("interactions")
    keys = ("orders", "returns", "amount", "days_late", "contacts", "complaint", "unresolved", "on_time", "late",
            "overdue", "open", "due", "paid", "unpaid", "date")
    labels = {k: ctx.tr(f"acc_l_{k}") for k in keys}
    figure = account_timeline(activity.orders, activity.invoices if show_payments else None,
                              with_contact_labels(activity.interactions, ctx.lang) if show_contacts else None,
                              labels, title)
    show_chart(ctx, figure, "account-timeline")
    st.caption(ctx.tr("acc_timeline_caption"))
show_alive_path(ctx, customer)  # P(alive) over time, beneath the timeline (pages/sections/clvtrack.py)
need(ctx, "due_date", "acc_unlock_due_date")
need(ctx, "interactions", "acc_unlock_interactions")
with st.expander(ctx.tr("acc_data")):
    for name, frame in (("orders", activity.orders), ("invoices", activity.invoices),
                        ("interactions", activity.interactions)):
        if frame.empty:
            continue
        st.markdown("**" + ctx.tr(f"acc_data_{name}") + "**")
        shown = activity_table(frame, ctx.lang)
        show_table(shown, hide_index=True, width="stretch", key=f"acc:data:{name}")
        download_buttons(ctx, shown, f"{name}-{file_stem(customer)}-{ctx.as_of}", f"acc:data:{name}")

# ---------------------------------------------------------------- health history
st.subheader(ctx.tr("acc_history"))
st.segmented_control(ctx.tr("acc_history_months"), MONTHS, default=MONTHS[0], required=True, key="acc:months",
                     format_func=lambda m: ctx.tr("acc_months", months=m))
scored = history.dropna(subset=["health_score"])
if scored.empty:
    st.info(ctx.tr("acc_history_none", months=months))
else:
    start, end = scored.iloc[0], scored.iloc[-1]
    if len(scored) == len(history):
        title = ctx.tr("acc_history_title", start=float(start["health_score"]), end=float(end["health_score"]),
                       months=months, status=label("status", end["status"], ctx.lang))
    else:
        title = ctx.tr("acc_history_title_new", end=float(end["health_score"]),
                       first=start["snapshot_date"].date().isoformat(),
                       status=label("status", end["status"], ctx.lang))
    bands = {s: label("status", s, ctx.lang) for s in ("healthy", "watch", "at_risk")}
    show_chart(ctx, health_history_chart(history, title, ctx.tr("acc_history_x"), ctx.tr("acc_history_y"), bands),
               "account-health-history")
    st.caption(ctx.tr("acc_history_caption"))

# ---------------------------------------------------------------- churn risk
st.subheader(ctx.tr("acc_churn"))
if stage == "lost":
    st.info(ctx.tr("acc_lost", as_of=ctx.as_of.isoformat(), days=ctx.params.lost_after_days))
elif stage in ("potential", "none"):
    st.info(ctx.tr("acc_no_orders_churn"))
else:
    try:
        with st.spinner(ctx.tr("loading")):
            everyone = ctx.call("crmflow.churn.churn_warnings", ctx.as_of, ctx.params, include_all=True)
    except CrmflowError as exc:
        st.error(exc.localized(ctx.lang))
        st.stop()
    risk = churn_row(everyone, customer)
    if risk is None:
        st.info(ctx.tr("acc_no_orders_churn"))
    else:
        cards = st.columns(4)
        cards[0].metric(ctx.tr("cp_col_risk_score"), f"{float(risk['risk_score']):.1f}", border=True)
        cards[1].metric(ctx.tr("cp_col_probability_leave"), f"{float(risk['probability_leave']):.0%}", border=True)
        cards[2].metric(ctx.tr("cp_col_value_at_risk"), compact(float(risk["value_at_risk"]), ctx.lang),
                        help=f"{float(risk['value_at_risk']):,.2f}", border=True)
        cards[3].metric(ctx.tr("cp_col_expected_value"), compact(float(risk["expected_value"]), ctx.lang),
                        help=f"{float(risk['expected_value']):,.2f}", border=True)
        reasons = [reason_text(r, ctx.lang) for r in risk["reasons"]]
        if reasons:
            st.markdown("**" + ctx.tr("acc_reasons") + "**\n\n" + "\n".join(f"- {md(r)}" for r in reasons))
        else:
            st.caption(ctx.tr("acc_no_reasons"))

# ---------------------------------------------------------------- RFM
st.subheader(ctx.tr("acc_rfm"))
try:
    with st.spinner(ctx.tr("loading")):
        rfm = ctx.call("crmflow.analytics.rfm", ctx.as_of)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()
rfm_rows = rfm[rfm["customer_id"] == customer]
if rfm_rows.empty:
    st.info(ctx.tr("acc_no_orders_churn"))
else:
    r = rfm_rows.iloc[0]
    cards = st.columns(4)
    cards[0].metric(ctx.tr("segment"), ctx.tr(f"segment_{r['segment']}"), border=True)
    cards[1].metric(ctx.tr("acc_recency"), f"{int(r['recency_days']):,}", border=True,
                    delta=ctx.tr("acc_score", score=int(r["r_score"])), delta_color="off", delta_arrow="off")
    cards[2].metric(ctx.tr("acc_frequency"), f"{int(r['frequency']):,}", border=True,
                    delta=ctx.tr("acc_score", score=int(r["f_score"])), delta_color="off", delta_arrow="off")
    cards[3].metric(ctx.tr("acc_monetary"), compact(float(r["monetary"]), ctx.lang), border=True,
                    delta=ctx.tr("acc_score", score=int(r["m_score"])), delta_color="off", delta_arrow="off",
                    help=f"{float(r['monetary']):,.2f}")
    st.caption(ctx.tr("acc_rfm_caption", as_of=ctx.as_of.isoformat()))
