"""Sections the Segments and Account pages show about the CLV model's track
record (issue 13): layout only, the numbers come from crmflow.track_record.
Kept out of the page files so that each page adds them with one call.
(Under pages/sections/, not pages/, so Streamlit never lists it as a page.)"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crmflow.ui.common import Context, show_chart, show_table


def show_track_record(ctx: Context) -> None:
    """Segments page, under the backtest: the tracking plot (expected vs actual
    cumulative repeat orders), holdout orders by repeat orders before the
    calibration end, then a new customer's repeat orders (P(X(t) = n))."""
    from crmflow.charts.track import by_group_chart, tracking_chart
    from crmflow.track_record import group_table, group_title, tracking_title

    with st.spinner(ctx.tr("loading")):
        view = ctx.call("crmflow.track_record.track_record_view", ctx.as_of)
    st.subheader(ctx.tr("trk_heading"))
    if view.record is None:
        st.info(ctx.tr("trk_unavailable", reason=view.error.localized(ctx.lang)))
        show_new_customer(ctx)
        return
    rec = view.record
    st.caption(ctx.tr("trk_intro"))
    labels = {k: ctx.tr(f"trk_{k}") for k in ("actual", "expected", "calibration_end", "x", "y")}
    show_chart(ctx, tracking_chart(rec.cumulative, rec.calibration_end, labels, tracking_title(rec, ctx.lang)),
               "clv-tracking")
    dates = {"calibration_end": rec.calibration_end.isoformat(), "holdout_end": rec.holdout_end.isoformat()}
    st.caption(ctx.tr("trk_caption", **dates))
    labels = {"actual": ctx.tr("trk_actual"), "predicted": ctx.tr("trk_predicted"), "x": ctx.tr("trk_group_x"),
              "y": ctx.tr("trk_group_y"), "customers": ctx.tr("trk_group_customers")}
    names = [rec.group_label(int(g)) for g in rec.by_group["group"]]
    show_chart(ctx, by_group_chart(rec.by_group, names, labels, group_title(rec, ctx.lang)), "clv-by-repeat-orders")
    st.caption(ctx.tr("trk_group_caption", top=rec.top_group, **dates))
    show_table(group_table(rec, ctx.lang), hide_index=True, width="stretch", key="segments:track_groups")
    show_new_customer(ctx)


def show_new_customer(ctx: Context) -> None:
    """Segments page, after the track record: P(X(t) = n) of a new customer
    over the next 12 months, from the fit at D."""
    from crmflow.charts.track import new_customer_chart
    from crmflow.errors import CrmflowError
    from crmflow.track_record import new_customer_title

    st.subheader(ctx.tr("newc_heading"))
    try:
        with st.spinner(ctx.tr("loading")):
            outlook = ctx.call("crmflow.track_record.new_customer_outlook", ctx.as_of)
    except CrmflowError as exc:
        st.info(ctx.tr("newc_unavailable", reason=exc.localized(ctx.lang)))
        return
    names = [outlook.label(int(n)) for n in outlook.table["repeat_orders"]]
    labels = {"x": ctx.tr("newc_x", weeks=outlook.weeks), "y": ctx.tr("newc_y")}
    show_chart(ctx, new_customer_chart(outlook.table, names, labels, new_customer_title(outlook, ctx.lang)),
               "clv-new-customer")
    st.caption(ctx.tr("newc_caption", as_of=ctx.as_of.isoformat(), weeks=outlook.weeks, top=outlook.top))


def show_alive_path(ctx: Context, customer: str) -> None:
    """Account page, beneath the timeline: the customer's P(alive) after each
    day of its history, its order days marked."""
    from crmflow.charts.track import alive_chart
    from crmflow.errors import CrmflowError
    from crmflow.track_record import alive_title

    st.subheader(ctx.tr("alive_heading"))
    try:
        with st.spinner(ctx.tr("loading")):
            path = ctx.call("crmflow.track_record.alive_path", customer, ctx.as_of)
    except CrmflowError as exc:
        st.info(ctx.tr("alive_unavailable", reason=exc.localized(ctx.lang)))
        return
    title = alive_title(path, ctx.as_of, ctx.lang)
    if title is None:
        st.info(ctx.tr("alive_none", as_of=ctx.as_of.isoformat()))
        return
    bought = path.loc[path["frequency"].ne(path["frequency"].shift()), "date"]
    labels = {k: ctx.tr(f"alive_{k}") for k in ("p_alive", "orders", "x", "y")}
    show_chart(ctx, alive_chart(path, list(pd.to_datetime(bought)), labels, title), "account-p-alive")
    st.caption(ctx.tr("alive_caption", as_of=ctx.as_of.isoformat()))
