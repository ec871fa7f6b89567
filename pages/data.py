"""Data: upload files (preview, column mapping, validation report, save as a
named dataset), the stored datasets (rename, delete, demo data) and what the
current dataset has. The logic is in crmflow.upload; this page holds layout."""

import streamlit as st

from crmflow import upload
from crmflow.config import DEMO_DATASET
from crmflow.errors import CrmflowError
from crmflow.mapping import TABLES
from crmflow.messages import note_text
from crmflow.plain import css_text
from crmflow.ui.common import context, download_buttons, get_store, show_table
from crmflow.ui.login import check_may_change, current_user, may_upload, sees_audit, who

ctx = context()
store = get_store()
esc = upload.escape_markdown
NOT_USED = -1
DATE_ORDERS = ("auto", "dmy", "mdy")
URL_KEPT = ("lang", "lost_after_days", "loyal_orders", "loyal_window_days")

st.header(ctx.tr("page_data"))
st.write(ctx.tr("data_intro"))
MAX_MB = int(st.get_option("server.maxUploadSize"))
st.caption(ctx.tr("datapage_size_limit", mb=MAX_MB))
flash = st.session_state.pop("data:flash", None)
if flash:
    st.success(flash)
if not may_upload():  # a signed-in account manager: the data is read, never changed, here
    st.info(ctx.tr("login_no_changes"))
    st.stop()
if current_user() is not None and current_user().role == "analyst":
    st.caption(ctx.tr("login_not_yours_note"))


@st.cache_data(max_entries=256, ttl=3600, show_spinner=False)
def known_customers(dataset_id: int, created_at: str) -> int:
    return upload.known_customers(get_store().db, dataset_id)


def table_name(table: str) -> str:
    return ctx.tr(f"data_table_{table}")


def show_error(error: CrmflowError | str) -> None:
    """One error box in the page's language (an error without a translation key as it is)."""
    st.error(esc(error.localized(ctx.lang) if isinstance(error, CrmflowError) else error))


def receive(table: str, uploaded) -> None:
    """Keep session_state['data:files'][table] in step with the uploader: a new
    file is saved, inspected, and its detected mapping put into the dropdowns."""
    files = st.session_state.setdefault("data:files", {})
    current = files.get(table)
    if uploaded is None:
        if current:
            upload.discard(current.get("path"))
            files.pop(table)
        return
    if current and current["file_id"] == uploaded.file_id:
        return
    if current:
        upload.discard(current.get("path"))
    entry = {"file_id": uploaded.file_id, "name": uploaded.name}
    try:
        with st.spinner(ctx.tr("loading")):
            path = upload.save_upload(uploaded.getvalue(), uploaded.name)
            entry["path"] = str(path)
            entry["preview"] = upload.inspect_file(path, table, file_name=uploaded.name)
    except CrmflowError as exc:
        entry["error"] = exc
    files[table] = entry
    sync_choices(table, entry)
    if table == "transactions":
        st.session_state["data:name"] = upload.name_from_file(uploaded.name)


def sync_choices(table: str, entry: dict) -> None:
    """Put a (re)read file's detected mapping, sheet and header row into its widgets."""
    if "preview" in entry:
        for field, column in upload.default_choices(entry["preview"]).items():
            st.session_state[f"data:map:{table}:{field}"] = NOT_USED if column is None else column
    controls = upload.read_controls(entry.get("preview"), entry.get("error"), entry.get("options"))
    if controls is not None:
        st.session_state[f"data:sheet:{table}"] = controls.sheet
        st.session_state[f"data:header_row:{table}"] = controls.header_row
        st.session_state[f"data:encoding:{table}"] = controls.encoding or next(iter(controls.encodings), None)


def reread(table: str, what: str) -> None:
    """A new sheet or header row was chosen: read the file again (callback)."""
    entry = st.session_state["data:files"][table]
    value = st.session_state.get(f"data:{what}:{table}")
    if value is None:
        return
    with st.spinner(ctx.tr("loading")):
        upload.apply_read_choice(entry, table, **{what: value})
    sync_choices(table, entry)


def read_choices(table: str, entry: dict) -> None:
    """The sheet picker (a workbook with several sheets) and the header row of one file."""
    controls = upload.read_controls(entry.get("preview"), entry.get("error"), entry.get("options"))
    if controls is None:
        return
    left, right = st.columns(2)
    if controls.sheets:
        left.selectbox(ctx.tr("data_sheet"), controls.sheets, key=f"data:sheet:{table}",
                       help=ctx.tr("data_sheet_help"), on_change=reread, args=(table, "sheet"),
                       format_func=lambda s: ctx.tr("data_sheet_all") if s == upload.ALL_SHEETS else s)
    if controls.encodings:
        left.selectbox(ctx.tr("data_encoding"), controls.encodings, key=f"data:encoding:{table}",
                       help=ctx.tr("data_encoding_help"), on_change=reread, args=(table, "encoding"),
                       format_func=upload.encoding_choice_label)
    if controls.header_row is not None or controls.sheets:
        right.number_input(ctx.tr("data_header_row"), min_value=0, max_value=1_048_576, step=1,
                           key=f"data:header_row:{table}", help=ctx.tr("data_header_row_help"),
                           on_change=reread, args=(table, "header_row"))
    if "read_error" in entry:
        show_error(entry["read_error"])


def current_choices(table: str, preview: upload.FilePreview) -> dict[str, int | None]:
    """The mapping dropdowns' values (the detected column where a dropdown has
    no valid value yet), read before the dropdowns are drawn so the preview
    above them already follows them."""
    options = [NOT_USED, *range(len(preview.column_labels))]
    picked: dict[str, int | None] = {}
    for field in upload.fields(table):
        key = f"data:map:{table}:{field}"
        if st.session_state.get(key) not in options:
            detected = preview.detected.get(field)
            st.session_state[key] = NOT_USED if detected is None else detected
        value = st.session_state[key]
        picked[field] = None if value < 0 else int(value)
    return picked


def date_preference() -> str | None:
    order = st.session_state.get("data:date_order", "auto")
    return None if order not in DATE_ORDERS or order == "auto" else order


def preview_state(table: str, entry: dict) -> upload.PreviewState:
    """The preview for the current choices, parsed once per set of choices."""
    choices, preference = current_choices(table, entry["preview"]), date_preference()
    preview = entry["preview"]  # a new sheet or header row re-reads the file: a new preview
    signature = (preview.path, preview.options, preview.header_row, tuple(sorted(choices.items())), preference)
    cached = entry.get("state")
    if cached is None or cached[0] != signature:
        with st.spinner(ctx.tr("loading")):
            cached = entry["state"] = (signature, upload.preview_state(entry["preview"], choices, preference))
    return cached[1]


def show_report(reports, rejected) -> None:
    """The validation report of a dry run or a save."""
    for report in reports:
        st.markdown("**" + ctx.tr("data_report_table", table=table_name(report.table), read=report.rows_read,
                                  loaded=report.rows_loaded, rejected=report.rows_rejected) + "**")
        left, middle, right = st.columns(3)
        left.metric(ctx.tr("data_metric_read"), f"{report.rows_read:,}")
        middle.metric(ctx.tr("data_metric_loaded"), f"{report.rows_loaded:,}")
        right.metric(ctx.tr("data_metric_rejected"), f"{report.rows_rejected:,}")
        mapping = upload.mapping_frame(report, ctx.lang).rename(
            columns={"field": ctx.tr("data_col_field"), "column": ctx.tr("data_col_column")})
        st.caption(ctx.tr("data_report_mapping"))
        show_table(mapping, hide_index=True, key=f"data:report_mapping:{report.table}")
        if report.unused_columns:
            st.caption(ctx.tr("data_report_unused", columns=esc(", ".join(map(str, report.unused_columns)))))
        if report.date_formats:
            st.caption(ctx.tr("data_report_dates", formats=esc(", ".join(
                f"{ctx.tr(f'data_field_{f}')} {upload.date_format_label(fmt, ctx.lang)}"
                for f, fmt in report.date_formats.items()))))
        if report.rejected_by_reason:
            reasons = upload.reasons_frame(report, ctx.lang).rename(
                columns={"reason": ctx.tr("data_col_reason"), "rows": ctx.tr("data_col_rows")})
            show_table(reasons, hide_index=True, key=f"data:report_reasons:{report.table}")
        for warning in report.warnings:
            st.warning(esc(note_text(warning, ctx.lang, page=True)))
    if len(rejected):
        st.markdown("**" + ctx.tr("data_rejected_heading") + "**")
        frame = upload.rejected_frame(rejected, ctx.lang)
        frame["source"] = [table_name(s) for s in frame["source"]]
        frame = frame.rename(columns={"source": ctx.tr("data_col_table"), "row_number": ctx.tr("data_col_row_number"),
                                      "reason": ctx.tr("data_col_reason"), "raw": ctx.tr("data_col_raw")})
        show_table(frame.head(200), hide_index=True, key="data:rejected_rows")
        download_buttons(ctx, frame, "rejected-rows", "data:rejected")
    else:
        st.caption(ctx.tr("data_no_rejected"))


def overview_params(name: str) -> dict:
    """The URL of the overview on dataset ``name``: language and definitions kept,
    filters and as-of date dropped (they belong to the old dataset)."""
    params = {k: st.query_params.get_all(k) for k in URL_KEPT if k in st.query_params}
    params["dataset"] = name
    return params


# ----------------------------------------------------------------------------- 1. upload
st.subheader(ctx.tr("data_upload_heading"))
for column, table in zip(st.columns(len(TABLES)), TABLES):
    with column:
        uploaded = st.file_uploader(ctx.tr(f"data_upload_{table}"), type=list(upload.ACCEPTED_TYPES),
                                    key=f"data:upload:{table}", help=ctx.tr("datapage_upload_help", mb=MAX_MB))
    receive(table, uploaded)
# A refused file (too big, or not an accepted type) never reaches the page, and
# the upload box gives its reason only in an English tooltip: say it under the
# box, in the page's language (static CSS text from the translation tables).
refused = ctx.tr("polish_upload_refused", mb=MAX_MB)
st.html("<style>[data-testid='stFileUploader']:has([data-testid='stFileChip'][aria-invalid='true'])::after"
        "{content:" + css_text(refused) + ";display:block;margin-top:0.4rem;color:#b91c1c;font-size:0.9rem}</style>")
# The upload box's own words ("Upload", "500MB per file") are Streamlit's, in English only: they are
# replaced by the page's language (the English text is hidden, the label drawn by CSS in its place).
types = ", ".join(x.lstrip(".").upper() for x in upload.ACCEPTED_TYPES)
st.html("<style>[data-testid='stFileUploaderDropzone'] button [data-testid='stMarkdownContainer'] p{display:none}"
        "[data-testid='stFileUploaderDropzone'] button [data-testid='stMarkdownContainer']::after"
        "{content:" + css_text(ctx.tr("polish3_upload_button")) + "}"
        "[data-testid='stFileUploaderDropzoneInstructions'] > div > span{display:none}"
        "[data-testid='stFileUploaderDropzoneInstructions'] > div::after{content:"
        + css_text(ctx.tr("polish3_upload_instructions", mb=MAX_MB, types=types))
        + ";font-size:0.875rem;color:rgba(49,51,63,0.6)}</style>")

files = st.session_state.get("data:files", {})
previews = {t: files[t]["preview"] for t in TABLES if t in files and "preview" in files[t]}

# ----------------------------------------------------------------------------- 2. preview
if files:
    st.subheader(ctx.tr("datapage_preview_heading"))
    st.caption(ctx.tr("datapage_preview_caption"))
    for table in TABLES:
        entry = files.get(table)
        if not entry:
            continue
        st.markdown("**" + ctx.tr("data_file", table=table_name(table), name=esc(entry["name"])) + "**")
        if "error" in entry:
            show_error(entry["error"])
            read_choices(table, entry)
            continue
        preview = entry["preview"]
        st.caption(upload.describe(preview, ctx.lang))
        read_choices(table, entry)
        state = preview_state(table, entry)
        if state.problem is not None:
            st.warning(esc(state.problem.localized(ctx.lang)))
        as_read = st.toggle(ctx.tr("datapage_preview_raw"), key=f"data:preview_raw:{table}")
        if as_read or state.parsed is None:
            st.caption(ctx.tr("datapage_preview_raw_caption" if as_read else "datapage_preview_unparsed"))
            show_table(preview.rows, hide_index=True, width="stretch", key=f"data:preview:{table}")
        else:
            show_table(upload.preview_frame(state.parsed, ctx.lang), hide_index=True, width="stretch",
                       key=f"data:preview:{table}")
        for note in state.notes:
            st.warning(esc(note_text(note, ctx.lang, page=True)))

# ----------------------------------------------------------------------------- 3. mapping
choices: dict[str, dict[str, int | None]] = {}
preference = None
if previews:
    st.subheader(ctx.tr("data_mapping_heading"))
    st.caption(ctx.tr("data_mapping_caption"))
    for table, preview in previews.items():
        st.markdown("**" + table_name(table) + "**")
        labels = preview.column_labels
        options = [NOT_USED, *range(len(labels))]
        grid = st.columns(4)
        current_choices(table, preview)  # every dropdown has a valid value
        picked: dict[str, int | None] = {}
        for n, field in enumerate(upload.fields(table)):
            key = f"data:map:{table}:{field}"
            label = ctx.tr(f"data_field_{field}")
            if field in upload.required(table):
                label = ctx.tr("data_required_mark", field=label)
            with grid[n % 4]:
                value = st.selectbox(label, options, key=key,
                                     format_func=lambda i, labels=labels: ctx.tr("data_not_used") if i < 0 else labels[i])
            picked[field] = None if value < 0 else int(value)
        choices[table] = picked
    date_order = st.selectbox(ctx.tr("data_date_order"), DATE_ORDERS, key="data:date_order",
                              format_func=lambda k: ctx.tr(f"data_date_{k}"))
    preference = None if date_order == "auto" else date_order

# ----------------------------------------------------------------------------- 4. check and save
st.subheader(ctx.tr("data_check_heading"))
if "transactions" not in previews:
    st.info(ctx.tr("data_need_transactions"))
else:
    signature = (tuple((t, files[t]["file_id"], previews[t].options) for t in previews),
                 tuple((t, tuple(sorted(c.items()))) for t, c in sorted(choices.items())), preference)

    def plans() -> list:
        return [upload.plan(previews[t], choices[t]) for t in previews]

    if st.button(ctx.tr("data_check"), key="data:check"):
        try:
            with st.spinner(ctx.tr("loading")):
                st.session_state["data:check_result"] = (signature, upload.check(plans(), preference), None)
        except CrmflowError as exc:
            st.session_state["data:check_result"] = (signature, None, exc)
    checked = st.session_state.get("data:check_result")
    if checked is not None:
        if checked[0] != signature:
            st.info(ctx.tr("data_check_stale"))
        elif checked[2] is not None:
            show_error(checked[2])
        else:
            result = checked[1]
            first = result.reports[0]
            st.success(ctx.tr("data_check_ok", loaded=first.rows_loaded, read=first.rows_read))
            show_report(result.reports, result.rejected)

    name = st.text_input(ctx.tr("data_name"), key="data:name", max_chars=100)
    exists = name.strip() in store.names()
    replace = False
    if exists:
        if name.strip() != st.session_state.get("data:saved"):  # not news right after saving it
            st.warning(ctx.tr("data_name_exists"))
        replace = st.checkbox(ctx.tr("data_replace"), key="data:replace")
    if st.button(ctx.tr("data_save"), key="data:save", type="primary"):
        try:
            with st.spinner(ctx.tr("loading")):
                if exists and replace:
                    check_may_change(store, name.strip())
                saved = upload.save(store, name, plans(), date_preference=preference, replace=replace, **who())
            ds = saved.dataset
            st.session_state["data:saved"] = ds.name
            st.session_state["data:flash"] = ctx.tr("data_saved", transactions=ds.n_transactions,
                                                    customers=known_customers(ds.dataset_id, str(ds.created_at)),
                                                    interactions=ds.n_interactions, rejected=ds.n_rejected)
            st.session_state.pop("data:check_result", None)
            st.rerun()
        except CrmflowError as exc:
            show_error(exc)

saved_name = st.session_state.get("data:saved")
if saved_name and saved_name in store.names():
    st.write(ctx.tr("data_saved_name", name=esc(saved_name)))
    if st.button(ctx.tr("data_open_overview"), key="data:open_overview", type="primary"):
        st.switch_page("pages/overview.py", query_params=overview_params(saved_name))

# ----------------------------------------------------------------------------- stored datasets
st.divider()
st.subheader(ctx.tr("data_stored_heading"))
listing = upload.dataset_list(store, customers=known_customers)
shown = listing.rename(columns={"name": ctx.tr("data_col_name"), "transactions": ctx.tr("data_col_transactions"),
                                "customers": ctx.tr("data_col_customers"),
                                "interactions": ctx.tr("data_col_interactions"),
                                "rejected": ctx.tr("data_col_rejected"), "created_at": ctx.tr("data_col_created")})
show_table(shown, hide_index=True, width="stretch", key="data:datasets")
names = list(listing["name"])


@st.fragment(run_every=2)
def fitting_progress() -> None:
    """The datasets being fitted in the background, redrawn every 2 s; once
    none is left it shows nothing, and the page's next run leaves it out (with
    its timer). It never reruns the whole page itself: a rerun started by the
    timer could cut short the run of someone's click on this page (a rename,
    a delete) and take its message away."""
    lines = upload.fitting_status(store, ctx.lang)
    if not lines:
        return
    st.markdown("**" + ctx.tr("data_fits_heading") + "**")
    for fraction, text in lines:
        st.progress(fraction, text=text)
    st.caption(ctx.tr("data_fits_caption"))


if upload.fitting(store):
    fitting_progress()

if DEMO_DATASET not in names:
    st.info(ctx.tr("data_demo_missing"))
    if st.button(ctx.tr("data_demo_recreate"), key="data:demo"):
        try:
            with st.spinner(ctx.tr("loading")):
                store.ensure_demo(background=True)
        except CrmflowError as exc:  # refused (free space) or failed in the writing process
            show_error(exc)
        else:
            st.session_state["data:flash"] = ctx.tr("data_demo_created")
            st.rerun()
else:
    st.caption(ctx.tr("data_demo_note"))

if names:
    if "data:manage_next" in st.session_state:
        st.session_state["data:manage"] = st.session_state.pop("data:manage_next")
    if st.session_state.get("data:manage") not in names:
        st.session_state["data:manage"] = ctx.dataset.name if ctx.dataset.name in names else names[0]
    manage = st.selectbox(ctx.tr("data_manage"), names, key="data:manage")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    new_name = left.text_input(ctx.tr("data_rename_to"), key="data:rename_to", max_chars=100)
    if right.button(ctx.tr("data_rename"), key="data:rename", width="stretch"):
        try:
            check_may_change(store, manage)
            renamed = store.rename(manage, new_name, **who())
            if manage == ctx.dataset.name:
                st.query_params["dataset"] = renamed.name
            if st.session_state.get("data:saved") == manage:
                st.session_state["data:saved"] = renamed.name
            st.session_state["data:manage_next"] = renamed.name
            st.session_state["data:flash"] = ctx.tr("data_renamed", name=esc(renamed.name))
            st.rerun()
        except CrmflowError as exc:
            show_error(exc)
    if st.button(ctx.tr("data_delete"), key="data:delete"):
        st.session_state["data:confirm_delete"] = manage
    if st.session_state.get("data:confirm_delete") == manage:
        st.warning(ctx.tr("data_delete_confirm", name=esc(manage)))
        yes, no = st.columns(2)
        if yes.button(ctx.tr("data_delete_yes"), key="data:delete_yes", type="primary", width="stretch"):
            try:
                check_may_change(store, manage)
                store.delete(manage, **who())
                if not store.names():  # the dashboard always has a dataset to show
                    store.ensure_demo(background=True)
                if manage == ctx.dataset.name and "dataset" in st.query_params:
                    del st.query_params["dataset"]
                st.session_state.pop("data:confirm_delete", None)
                st.session_state["data:flash"] = ctx.tr("data_deleted", name=esc(manage))
                st.rerun()
            except CrmflowError as exc:
                show_error(exc)
        if no.button(ctx.tr("data_delete_cancel"), key="data:delete_cancel", width="stretch"):
            st.session_state.pop("data:confirm_delete", None)
            st.rerun()
    stored = listing[listing["name"] == manage]
    if len(stored) and int(stored["rejected"].iloc[0]) > 0:
        st.markdown("**" + ctx.tr("data_stored_rejected") + "**")
        frame = upload.rejected_frame(store.rejected_rows(manage), ctx.lang)
        frame["source"] = [table_name(s) for s in frame["source"]]
        frame = frame.rename(columns={"source": ctx.tr("data_col_table"), "row_number": ctx.tr("data_col_row_number"),
                                      "reason": ctx.tr("data_col_reason"), "raw": ctx.tr("data_col_raw")})
        download_buttons(ctx, frame, f"rejected-rows-{int(stored.index[0])}", "data:stored_rejected")

# ----------------------------------------------------------------------------- audit trail (admins)
if sees_audit():
    st.divider()
    st.subheader(ctx.tr("login_audit_heading"))
    st.caption(ctx.tr("login_audit_caption"))
    trail = upload.audit_frame(store, ctx.lang)
    if trail.empty:
        st.info(ctx.tr("login_audit_empty"))
    else:
        show_table(trail, hide_index=True, width="stretch", key="data:audit")

# ----------------------------------------------------------------------------- current dataset coverage
st.divider()
st.subheader(ctx.tr("data_coverage_heading"))
st.caption(ctx.tr("data_coverage_caption", name=esc(ctx.dataset.name)))
coverage = upload.coverage_frame(ctx.coverage, ctx.lang)
coverage["present"] = ["✓" if p else "—" for p in coverage["present"]]
show_table(coverage.rename(columns={"item": ctx.tr("data_col_item"), "present": ctx.tr("data_col_present"),
                                    "rows": ctx.tr("data_col_rows"), "unlocks": ctx.tr("data_col_unlocks")}),
           hide_index=True, width="stretch", key="data:coverage")
