"""Overview: customers by stage at the as-of date."""

import streamlit as st

from crmflow.charts import stage_bar
from crmflow.config import STAGES
from pages.common import context, show_chart

ctx = context()
st.header(ctx.tr("page_overview"))
st.caption(ctx.tr("overview_dataset_caption", name=ctx.dataset.name, n_transactions=ctx.dataset.n_transactions,
                  n_customers=ctx.dataset.n_customers))

with st.spinner(ctx.tr("loading")):
    counts = ctx.call("crmflow.stages.stage_counts", ctx.as_of, ctx.params)
labels = {s: ctx.tr(f"stage_{s}") for s in STAGES}
columns = st.columns(len(STAGES))
for column, stage in zip(columns, STAGES):
    column.metric(labels[stage], f"{counts[stage]:,}")

total = sum(counts.values())
if total == 0:
    st.info(ctx.tr("empty_data"))
else:
    top = max(STAGES, key=lambda s: counts[s])
    title = ctx.tr("overview_counts_title", top_stage=labels[top], top_count=counts[top], total=total,
                   as_of=ctx.as_of.isoformat())
    show_chart(ctx, stage_bar(counts, labels, title, ctx.tr("customers")), "stages")
