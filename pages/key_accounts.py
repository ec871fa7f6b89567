"""Key accounts (SPEC §3.4): health table with traffic lights, trend and
life-cycle phase; the eight components per account; adjustable weights; the
value matrix with its quadrant summary and drill-down; a link to each
account's own page. Layout only: the numbers are crmflow.health's (those of
`crmflow health` and `crmflow matrix` with the default weights)."""

import streamlit as st

from crmflow.ui.common import context, download_buttons, need, show_chart, show_table

ctx = context()
st.header(ctx.tr("page_key_accounts"))
# The scoring code (SciPy, the CLV model) takes seconds to import on a first
# visit: it is imported after the title, under a message, never on a blank page.
with st.spinner(ctx.tr("polish_loading_health")):
    from crmflow.account_view import (
        component_scores,
        customer_label,
        health_table,
        key_account_headline,
        light_style,
        link_params,
        matrix_headline,
        quadrant_members,
        traffic_light_markdown,
        use_log_axes,
        weakest_component,
        weights_key,
    )
    from crmflow.charts.accounts import (
        MAX_HEAT_ROWS,
        component_heatmap,
        value_matrix_scatter,
    )
    from crmflow.errors import CrmflowError
    from crmflow.headlines import TABLE_MONEY
    from crmflow.headlines import key_account_headline as key_account_finding
    from crmflow.health import (
        COMPONENTS,
        DEFAULT_MAX_ACCOUNTS,
        DEFAULT_SHARE,
        QUADRANTS,
        SCOPES,
        label,
        load_weights,
        value_matrix_summary,
    )

component_names = {c: label("component", c, ctx.lang) for c in COMPONENTS}
quadrant_names = {q: label("quadrant", q, ctx.lang) for q in QUADRANTS}


def open_account(customer_id: str) -> None:
    """Switch to the per-account page, keeping the rest of the URL."""
    items = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
    st.switch_page("pages/account.py", query_params=link_params(items, customer_id))


# ---------------------------------------------------------------- weights and selection
defaults = load_weights()


def reset_weights() -> None:
    for c in COMPONENTS:
        st.session_state[f"ka:w:{c}"] = round(defaults[c])


with st.expander(ctx.tr("ka_settings")):
    st.caption(ctx.tr("ka_weights_caption"))
    columns = st.columns(4)
    chosen = {c: float(columns[i % 4].slider(component_names[c], 0, 100, round(defaults[c]), 1,
                                             key=f"ka:w:{c}"))
              for i, c in enumerate(COMPONENTS)}
    st.button(ctx.tr("ka_reset"), on_click=reset_weights, key="ka:reset")
    st.divider()
    st.caption(ctx.tr("ka_selection_caption"))
    left, right = st.columns(2)
    share = round(float(left.slider(ctx.tr("ka_share"), 0.5, 1.0, DEFAULT_SHARE, 0.05, key="ka:share",
                                    format="%.2f")), 2)
    max_accounts = int(right.number_input(ctx.tr("ka_max"), 1, 1000, DEFAULT_MAX_ACCOUNTS, key="ka:max"))
custom = any(abs(chosen[c] - defaults[c]) > 1e-9 for c in COMPONENTS)
weights = weights_key(chosen) if custom else ()

try:
    with st.spinner(ctx.tr("polish_loading_health")):
        health = ctx.call("crmflow.account_view.key_account_health", ctx.as_of, ctx.params, weights, share,
                          max_accounts)
        coverage = ctx.call("crmflow.health.health_coverage", ctx.as_of)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

head = key_account_headline(health, ctx.params.lost_after_days)
if head.accounts == 0:
    st.info(ctx.tr("ka_none", as_of=ctx.as_of.isoformat()))
else:
    # ------------------------------------------------------------ headline
    st.subheader(key_account_finding(head, ctx.params.lost_after_days).text(ctx.lang))
    if head.selected_by == "flag":
        st.caption(ctx.tr("ka_intro_flag", n=head.accounts, as_of=ctx.as_of.isoformat()))
    else:
        st.caption(ctx.tr("ka_intro_revenue", n=head.accounts, share=share, max=max_accounts,
                          as_of=ctx.as_of.isoformat()))
    if custom:
        st.caption(ctx.tr("ka_weights_custom"))
    cards = st.columns(5)
    status_help = ctx.tr("vo_ka_status_help")
    cards[0].metric(traffic_light_markdown("healthy", ctx.lang), f"{head.healthy:,}", border=True, help=status_help)
    cards[1].metric(traffic_light_markdown("watch", ctx.lang), f"{head.watch:,}", border=True, help=status_help)
    cards[2].metric(traffic_light_markdown("at_risk", ctx.lang), f"{head.at_risk:,}", border=True, help=status_help)
    cards[3].metric(ctx.tr("vo_ka_lost", days=ctx.params.lost_after_days), f"{head.lost:,}", border=True,
                    help=ctx.tr("vo_ka_lost_help", days=ctx.params.lost_after_days))
    cards[4].metric(ctx.tr("ka_unscored"), f"{head.unscored:,}", border=True, help=ctx.tr("ka_unscored_help"))

    # ------------------------------------------------------------ the health table
    st.subheader(ctx.tr("ka_table"))
    table = health_table(health, ctx.lang)
    names = {"light": ctx.tr("health_status"), "customer": ctx.tr("ka_col_customer"),
             "customer_id": ctx.tr("ka_col_customer_id"), "health_score": ctx.tr("health_score"),
             "trend": ctx.tr("health_trend"), "score_90d_ago": ctx.tr("health_score_90d_ago"),
             "phase": ctx.tr("health_phase"), "owner": ctx.tr("ka_col_owner"),
             "revenue_12m": ctx.money(ctx.tr("ka_col_revenue_12m"))}
    shown = table.drop(columns=["customer"]) if (table["customer"] == table["customer_id"]).all() else table
    event = show_table(
        shown.rename(columns=names), style=lambda f: f.style.map(light_style(ctx.lang), subset=[names["light"]]),
        hide_index=True, width="stretch", key="ka:table",
        on_select="rerun", selection_mode="single-row",
        column_config={
            names["health_score"]: st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f"),
            names["score_90d_ago"]: st.column_config.NumberColumn(format="%.1f"),
            names["revenue_12m"]: st.column_config.NumberColumn(format=TABLE_MONEY),
        })
    st.caption(ctx.tr("ka_table_caption"))
    rows = event.selection.rows if event is not None else []
    if rows:
        open_account(str(table["customer_id"].iloc[rows[0]]))

    pick_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    labels_by_id = dict(zip(table["customer_id"], (customer_label(c, n) for c, n in
                                                   zip(health["customer_id"], health["name"]))))
    picked = pick_col.selectbox(ctx.tr("ka_pick"), list(table["customer_id"]), key="ka:pick",
                                format_func=lambda c: labels_by_id.get(c, c))
    if button_col.button(ctx.tr("ka_open"), key="ka:open", width="stretch") and picked:
        open_account(str(picked))

    export = health.copy()
    export["status"] = table["light"].to_numpy()
    export["phase"] = table["phase"].to_numpy()
    export = export[["customer_id", "name", "owner", "health_score", "status", *COMPONENTS, "score_90d_ago",
                     "trend", "phase", "revenue_12m", "selected_by"]]
    export_names = {**{c: component_names[c] for c in COMPONENTS}, "health_score": ctx.tr("health_score"),
                    "status": ctx.tr("health_status"), "score_90d_ago": ctx.tr("health_score_90d_ago"),
                    "trend": ctx.tr("health_trend"), "phase": ctx.tr("health_phase"),
                    "customer_id": ctx.tr("ka_col_customer_id"), "name": ctx.tr("ka_col_customer"),
                    "owner": ctx.tr("ka_col_owner"), "revenue_12m": ctx.tr("ka_col_revenue_12m"),
                    "selected_by": ctx.tr("ka_col_selected_by")}
    download_buttons(ctx, export.rename(columns=export_names), f"key-accounts-{ctx.as_of}", "ka:download")

    # ------------------------------------------------------------ components
    st.subheader(ctx.tr("ka_components"))
    scores = component_scores(health, coverage)
    weakest = weakest_component(scores)
    if weakest is None:
        st.info(ctx.tr("ka_components_none"))
    else:
        title = ctx.tr("ka_components_title", component=component_names[weakest[0]], mean=weakest[1],
                       n=len(scores))
        show_chart(ctx, component_heatmap(scores, component_names, title, ctx.tr("ka_components_colour"),
                                          ctx.tr("ka_missing_cell")), "key-account-components")
        st.caption(ctx.tr("ka_components_caption"))
        if len(scores) > MAX_HEAT_ROWS:
            st.caption(ctx.tr("ka_components_more", shown=MAX_HEAT_ROWS, n=len(scores)))
    missing = [c for c in COMPONENTS if not coverage.get(c, False)]
    if missing:
        st.info(ctx.tr("ka_components_missing") + "\n\n"
                + "\n".join(f"- {component_names[c]}: {ctx.tr(f'health_unlock_{c}')}" for c in missing))

# ---------------------------------------------------------------- value matrix
st.subheader(ctx.tr("matrix_title"))
scope_param = st.query_params.get("matrix")
scope = st.segmented_control(ctx.tr("ka_matrix_scope"), SCOPES, required=True,
                             default=scope_param if scope_param in SCOPES else SCOPES[0],
                             format_func=lambda s: ctx.tr(f"ka_scope_{s}"), key="ka:matrix_scope")
scope = scope if scope in SCOPES else SCOPES[0]
if scope == SCOPES[0]:
    if "matrix" in st.query_params:
        del st.query_params["matrix"]
else:
    st.query_params["matrix"] = scope
with st.expander(ctx.tr("ka_cuts")):
    st.caption(ctx.tr("ka_cuts_caption"))
    cut_left, cut_right = st.columns(2)
    current_cut = cut_left.number_input(ctx.tr("matrix_current_value"), value=None, key="ka:current_cut",
                                        placeholder=ctx.tr("ka_median"))
    potential_cut = cut_right.number_input(ctx.tr("matrix_potential_value"), value=None, key="ka:potential_cut",
                                           placeholder=ctx.tr("ka_median"))
try:
    with st.spinner(ctx.tr("loading")):
        matrix = ctx.call("crmflow.health.value_matrix", ctx.as_of, scope=scope,
                          current_cut=None if current_cut is None else float(current_cut),
                          potential_cut=None if potential_cut is None else float(potential_cut),
                          share=share, max_accounts=max_accounts)
except CrmflowError as exc:
    st.error(exc.localized(ctx.lang))
    st.stop()

if matrix.empty:
    st.info(ctx.tr("ka_matrix_empty", as_of=ctx.as_of.isoformat()))
    st.stop()

summary = value_matrix_summary(matrix)
basis = str(matrix["value_basis"].iloc[0])
if basis != "profit":
    need(ctx, "cost", "ka_unlock_cost")
core_share, value_share = matrix_headline(summary)
if value_share is None:
    title = ctx.tr("ka_matrix_title_plain", core=quadrant_names["core"], core_share=core_share)
else:
    title = ctx.tr("ka_matrix_title", core=quadrant_names["core"], core_share=core_share, value_share=value_share)
log = use_log_axes(matrix["current_value"]) or use_log_axes(matrix["potential_value"])
x_title = ctx.tr("ka_axis_current", basis=ctx.tr(f"ka_basis_{basis}"))
y_title = ctx.tr("ka_axis_potential")
note = ctx.tr("ka_matrix_cuts", current=float(matrix["current_cut"].iloc[0]),
              potential=float(matrix["potential_cut"].iloc[0]))
if log:
    note += " " + ctx.tr("ka_matrix_log")
show_chart(ctx, value_matrix_scatter(matrix, quadrant_names, title, x_title, y_title, log=log, basis_note=note),
           f"value-matrix-{scope}")

table = summary.copy()
table["quadrant"] = [quadrant_names[q] for q in table["quadrant"]]
table[["current_value", "potential_value"]] = table[["current_value", "potential_value"]].round(0)
summary_names = {c: ctx.tr(f"ka_col_{c}") for c in table.columns}
show_table(table.rename(columns=summary_names), hide_index=True, width="stretch", key="ka:matrix_summary",
           column_config={
               summary_names["customer_share"]: st.column_config.NumberColumn(format="percent"),
               summary_names["current_value"]: st.column_config.NumberColumn(format=TABLE_MONEY),
               summary_names["potential_value"]: st.column_config.NumberColumn(format=TABLE_MONEY),
           })

counts = dict(zip(summary["quadrant"], summary["customers"]))
if "ka:quadrant" not in st.session_state and st.query_params.get("quadrant") in QUADRANTS:
    st.session_state["ka:quadrant"] = st.query_params["quadrant"]  # a link names the quadrant
quadrant = st.selectbox(ctx.tr("ka_drill_pick"), QUADRANTS, key="ka:quadrant",
                        format_func=lambda q: f"{quadrant_names[q]} ({counts.get(q, 0):,})")
if quadrant == QUADRANTS[0]:  # the URL names the quadrant, so a copied link reproduces the list
    if "quadrant" in st.query_params:
        del st.query_params["quadrant"]
else:
    st.query_params["quadrant"] = quadrant
members = quadrant_members(matrix, quadrant)
members["value_basis"] = [ctx.tr(f"ka_basis_{b}") for b in members["value_basis"]]
members[["current_value", "potential_value"]] = members[["current_value", "potential_value"]].round(2)
if members["name"].isna().all():
    members = members.drop(columns=["name"])
if members["profit_12m"].isna().all():
    members = members.drop(columns=["profit_12m"])
member_names = {c: ctx.tr(f"ka_col_{c}") for c in members.columns}
show_table(members.rename(columns=member_names), hide_index=True, width="stretch", key="ka:members",
           column_config={
               member_names["current_value"]: st.column_config.NumberColumn(format=TABLE_MONEY),
               member_names["potential_value"]: st.column_config.NumberColumn(format=TABLE_MONEY),
               member_names["revenue_12m"]: st.column_config.NumberColumn(format=TABLE_MONEY),
               **({member_names["profit_12m"]: st.column_config.NumberColumn(format=TABLE_MONEY)}
                  if "profit_12m" in member_names else {}),
               member_names["p_alive"]: st.column_config.NumberColumn(format="percent"),
           })
download_buttons(ctx, members.rename(columns=member_names), f"value-matrix-{quadrant}-{ctx.as_of}", "ka:members")
