"""The shared frame of every page (sidebar: language, dataset, as-of date,
definitions, global filters) and the one cached door into the crmflow package.

Layout only: every number comes from a function in ``crmflow/``, called
through :func:`call`, which caches results per (function, filtered dataset,
dataset version, arguments). A widget that a result does not depend on never
re-runs its queries.

The URL query string holds the whole view -- page, language, dataset, as-of
date, definition parameters and filters -- so a copied link reproduces it.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from crmflow.config import Params
from crmflow.db import Scope
from crmflow.errors import CrmflowError
from crmflow.filters import (
    Filters,
    customer_attributes,
    filter_options,
    resolve,
)
from crmflow.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from crmflow.stages import data_range
from crmflow.store import Dataset, Store
from crmflow.ui.login import current_user, require_user, user_box

#: Query-string keys of the global filters and the Filters field each fills.
FILTER_KEYS = {"region": "regions", "owner": "owners", "channel": "channels", "segment": "segments"}
#: RFM segment keys, in the order the filter lists them.
SEGMENT_KEYS = ("champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
                "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost")


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One store per process; every call inside takes its own cursor. Started
    with ``python -m crmflow.serve`` (``make run``), the store was opened and
    the demo stored while the browser loaded the page."""
    from crmflow import serve

    store = serve.take_store() or Store(shared=True)  # held read-only: the command line can read beside it
    store.ensure_demo()
    return store


@st.cache_data(max_entries=512, ttl=3600, show_spinner=False)
def _cached(function: str, scope: int | Scope, version: str, args: tuple, kwargs: tuple) -> Any:
    module, name = function.rsplit(".", 1)
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn(get_store().db, scope, *args, **dict(kwargs))


def call(ctx: Context, function: str, *args: Any, **kwargs: Any) -> Any:
    """``function(db, ctx.scope, *args, **kwargs)``, cached per dataset version
    and arguments. ``function`` is a dotted path such as
    ``"crmflow.stages.stage_counts"``; arguments must be hashable values.
    A signed-in manager's calls must come through their owner's scope
    (:func:`_scope`); a plain dataset id is refused, so no page can read
    another owner's customers by mistake."""
    _check_owner_scope(ctx.scope)
    return _cached(function, ctx.scope, ctx.version, args, tuple(sorted(kwargs.items())))


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def cached_range(dataset_id: int, version: str) -> tuple[date, date]:
    return data_range(get_store().db, dataset_id)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _all_attributes(dataset_id: int, version: str) -> pd.DataFrame:
    return customer_attributes(get_store().db, dataset_id)


def cached_attributes(dataset_id: int, version: str) -> pd.DataFrame:
    """customer_id, region, owner, channels of the customers this session may
    see: all of them, or a signed-in manager's owner's only."""
    frame = _all_attributes(dataset_id, version)
    owner = _scope_owner()
    return frame if owner is None else frame[frame["owner"] == owner].reset_index(drop=True)


def _scope_owner() -> str | None:
    """The owner the signed-in user is tied to (a manager), else None."""
    user = current_user()
    return None if user is None else user.scope_owner


def _check_owner_scope(scope: int | Scope) -> None:
    owner = _scope_owner()
    if owner is not None and not isinstance(scope, Scope):
        raise CrmflowError(key="auth_scope_missing")


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def cached_coverage(dataset_id: int, version: str) -> dict[str, int]:
    """How many rows carry each optional column (what the views can show)."""
    row = get_store().db.run("data_coverage", dataset_id=dataset_id).iloc[0]
    return {k: int(v) for k, v in row.items()}


def dataset_version(dataset: Dataset) -> str:
    """Cache key part that changes when a dataset of that id is replaced."""
    return f"{dataset.dataset_id}:{dataset.created_at.isoformat()}"


@dataclass(frozen=True)
class Context:
    """Everything a page needs to know about the user's choices."""

    lang: str
    dataset: Dataset
    as_of: date
    params: Params
    first: date
    last: date
    filters: Filters = field(default_factory=Filters)
    scope: int | Scope = 0
    coverage: dict[str, int] = field(default_factory=dict)
    currency: str = ""

    @property
    def version(self) -> str:
        return dataset_version(self.dataset)

    def tr(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)

    def money(self, label: str) -> str:
        """A money label with the view's currency, e.g. "Revenue (USD)" (as is without one)."""
        return t("money_label", self.lang, label=label, currency=self.currency) if self.currency else label

    def has(self, column: str) -> bool:
        """Whether the dataset has any value in an optional column, e.g.
        ``cost``, ``category``, ``due_date``, ``interactions``, ``customers``."""
        return self.coverage.get(column, 0) > 0

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        return call(self, function, *args, **kwargs)


#: Session key of the shared choices last written to the URL. Streamlit drops
#: the query string when the user switches pages in the sidebar; the frame then
#: restores the choices from here (and writes them back to the URL), so the
#: language, dataset, date, definitions and filters follow the user around.
_REMEMBERED = "_crmflow_url"
_RESTORING = "_crmflow_restoring"


def _remembered() -> dict[str, str | list[str]]:
    return st.session_state.setdefault(_REMEMBERED, {})


def _query_value(name: str, default: str) -> str:
    value = st.query_params.get(name)
    if value:
        return value
    if st.session_state.get(_RESTORING):  # a page switch dropped the whole query string
        kept = _remembered().get(name)
        if isinstance(kept, str) and kept:
            return kept
    return default


def _query_list(name: str) -> list[str]:
    values = [v for v in st.query_params.get_all(name) if v]
    if not values and st.session_state.get(_RESTORING):
        kept = _remembered().get(name)
        if isinstance(kept, list):
            return list(kept)
    return values


def _set_query(name: str, value: str | list[str] | None, default: object = None) -> None:
    """Keep the URL minimal: a value equal to its default is left out."""
    if value in (None, "", []) or value == default:
        if name in st.query_params:
            del st.query_params[name]
        _remembered().pop(name, None)
    else:
        st.query_params[name] = value
        _remembered()[name] = value


def _scope(store: Store, dataset: Dataset, version: str, filters: Filters, as_of: date, params: Params
           ) -> int | Scope:
    """The filtered dataset the pages read (the plain id without filters):
    :func:`crmflow.filters.resolve` with the cached customer attributes and RFM scores.

    The one place where a signed-in manager's owner scope is applied
    (``Filters.scope_owner``, whatever filters the page passes): every page,
    download, export and the meeting report read through the scope made here."""
    filters = replace(filters, scope_owner=_scope_owner())
    return resolve(store.db, dataset.dataset_id, filters, as_of,
                   attributes=_all_attributes(dataset.dataset_id, version),
                   rfm=lambda scope, d: _cached("crmflow.analytics.rfm", scope, version, (d,), ()))


def frame() -> Context:
    """Draw the sidebar and return the user's choices."""
    st.session_state[_RESTORING] = not st.query_params
    lang = _query_value("lang", DEFAULT_LANGUAGE)
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    try:
        store = get_store()
        names = store.names()
    except CrmflowError as exc:
        st.error(t("error_title", lang) + ": " + exc.localized(lang))
        st.stop()
    try:
        user = require_user(lang)  # login configured: nobody past this line without signing in
    except CrmflowError as exc:
        st.error(exc.localized(lang))
        st.stop()
    with st.sidebar:
        st.title(t("app_title", lang))
        st.caption(t("app_tagline", lang))
        user_box(lang, user)
        lang = st.radio(t("sidebar_language", lang), list(LANGUAGES), index=list(LANGUAGES).index(lang),
                        format_func=LANGUAGES.get, horizontal=True, key="lang")
        _set_query("lang", lang, DEFAULT_LANGUAGE)
        default = store.default_name(names) or names[0]
        wanted = _query_value("dataset", default)
        stale = None if wanted in names else wanted
        name = st.selectbox(t("sidebar_dataset", lang), names,
                            index=names.index(default if stale else wanted))
        if stale is None or name != default:
            _set_query("dataset", name)  # a stale link stays in the URL (and is named) until another is picked
        try:
            dataset = store.get(name)  # deleted by another session since names(): one message
            version = dataset_version(dataset)
            first, last = cached_range(dataset.dataset_id, version)
        except CrmflowError as exc:
            st.error(exc.localized(lang))
            st.stop()
        try:
            default_as_of = date.fromisoformat(_query_value("as_of", last.isoformat()))
        except ValueError:
            default_as_of = last
        default_as_of = min(max(default_as_of, first), last)
        as_of = st.date_input(t("sidebar_as_of", lang), value=default_as_of, min_value=first, max_value=last,
                              key=f"as_of:{name}")
        _set_query("as_of", as_of.isoformat(), last.isoformat())
        params = _definition_inputs(lang)
        filters = _filter_inputs(lang, dataset, version)
        money = _currency_input(lang)
    if stale is not None:
        # Named as plain text (st.text): a dataset name is user text, never Markdown.
        st.warning(t("polish_dataset_missing", lang), icon=":material/link_off:")
        st.text(stale)
    with st.spinner(t("loading", lang)):
        scope = _scope(store, dataset, version, filters, as_of, params)
    filters = replace(filters, scope_owner=_scope_owner())
    ctx = Context(lang, dataset, as_of, params, first, last, filters, scope,
                  cached_coverage(dataset.dataset_id, version), money)
    st.session_state["ctx"] = ctx
    return ctx


def _definition_inputs(lang: str) -> Params:
    d = Params()
    values = {}
    for key in ("lost_after_days", "loyal_orders", "loyal_window_days"):
        try:
            values[key] = max(1, int(_query_value(key, str(getattr(d, key)))))
        except ValueError:
            values[key] = getattr(d, key)
    with st.expander(t("sidebar_definitions", lang)):
        params = Params(
            int(st.number_input(t("param_lost_after_days", lang), 1, 3650, min(values["lost_after_days"], 3650))),
            int(st.number_input(t("param_loyal_orders", lang), 1, 1000, min(values["loyal_orders"], 1000))),
            int(st.number_input(t("param_loyal_window_days", lang), 1, 3650,
                                min(values["loyal_window_days"], 3650))),
        )
    for key in values:
        _set_query(key, str(getattr(params, key)), str(getattr(d, key)))
    return params


def _currency_input(lang: str) -> str:
    """The currency the money labels name (URL ``currency``; default none)."""
    from crmflow.managers import CURRENCIES, currency

    wanted = currency(_query_value("currency", ""))
    picked = st.selectbox(t("sidebar_currency", lang), CURRENCIES, index=CURRENCIES.index(wanted),
                          format_func=lambda c: t(f"currency_{c}", lang) if c else t("sidebar_currency_none", lang),
                          help=t("sidebar_currency_help", lang), key="currency")
    _set_query("currency", picked, "")
    return picked


def _filter_inputs(lang: str, dataset: Dataset, version: str) -> Filters:
    options = filter_options(cached_attributes(dataset.dataset_id, version))
    options["segment"] = list(SEGMENT_KEYS)
    chosen: dict[str, tuple[str, ...]] = {}
    active = any(_query_list(k) for k in FILTER_KEYS)
    with st.expander(t("sidebar_filters", lang), expanded=active):
        for key, attr in FILTER_KEYS.items():
            values = options[key]
            if not values:
                chosen[attr] = ()
                continue
            default = [v for v in _query_list(key) if v in values]
            fmt = (lambda v: t(f"segment_{v}", lang)) if key == "segment" else str
            fixed = key == "owner" and _scope_owner() is not None
            if fixed:  # a signed-in manager: their own owner, not changeable
                default = [_scope_owner()]
                values = default
            picked = st.multiselect(t(f"filter_{key}", lang), values, default=default, format_func=fmt,
                                    placeholder=t("filter_all", lang), key=f"filter:{key}:{dataset.name}",
                                    disabled=fixed, help=t("login_owner_fixed", lang) if fixed else None)
            chosen[attr] = tuple(picked)
            _set_query(key, list(picked))
        if any(chosen.values()):
            st.caption(t("filter_note", lang))
    return Filters(**chosen)


def context() -> Context:
    """The choices app.py's frame made on this run.

    Until some session has run app.py, Streamlit treats a link straight to a
    page (``/flow``) the old way: it runs pages/flow.py on its own, with a
    file-name sidebar. Such a page goes through app.py instead, which opens
    the requested page (``goto``) with the proper navigation; if even that is
    not possible the page draws the frame itself, so it never meets a
    missing context."""
    ctx = st.session_state.get("ctx")
    if isinstance(ctx, Context):
        return ctx
    import inspect

    caller = Path(inspect.stack()[1].filename).stem
    try:
        st.switch_page("app.py", query_params={**current_query(), "goto": caller})
    except StreamlitAPIException:
        return frame()


def current_query(drop: tuple[str, ...] = ()) -> dict[str, str | list[str]]:
    """The URL's query string (without the ``drop`` keys) as query_params for
    st.switch_page / st.page_link: one value as a string, several as a list."""
    kept = {k: st.query_params.get_all(k) for k in st.query_params if k not in drop}
    return {k: v if len(v) > 1 else v[0] for k, v in kept.items()}


def need(ctx: Context, column: str, unlock_key: str) -> bool:
    """Whether the data for a part of a view is there; if not, say what to
    upload to unlock it and return False."""
    if ctx.has(column):
        return True
    st.info(ctx.tr(unlock_key))
    return False


def download_buttons(ctx: Context, frame: pd.DataFrame, stem: str, key: str) -> None:
    """CSV and Excel downloads of a table (cells starting with = + - @
    neutralised). The files are built only when a button is clicked, so a big
    table never slows the page down."""
    from crmflow.exports import safe_csv, safe_excel

    left, right = st.columns(2)
    left.download_button(ctx.tr("download_csv"), lambda: safe_csv(frame).encode("utf-8-sig"), f"{stem}.csv",
                         "text/csv", key=f"{key}:csv", width="stretch", on_click="ignore")
    right.download_button(ctx.tr("download_excel"), lambda: safe_excel(frame), f"{stem}.xlsx",
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          key=f"{key}:xlsx", width="stretch", on_click="ignore")


def show_chart(ctx: Context, figure: Any, name: str, **kwargs: Any) -> Any:
    """A Plotly chart with its PNG download in the chart's toolbar (camera icon),
    named after the chart and the as-of date, at twice the screen resolution."""
    config = {"displaylogo": False,
              "toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"crmflow-{name}-{ctx.as_of}"}}
    return st.plotly_chart(figure, config=config, key=f"chart:{name}", **kwargs)


def amount(ctx: Context, value: float | None) -> str:
    """A money amount in a few characters (1.2M / 35.4万) with the view's currency."""
    from crmflow.headlines import money

    text = money(value, ctx.lang)
    return f"{text} {ctx.currency}" if ctx.currency else text


def digest(*parts: object) -> str:
    """A short stable key for widget ids built from values."""
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:10]


def _money_columns(frame: pd.DataFrame, config: dict) -> list[str]:
    """The columns a page configured as money (``NumberColumn(format=TABLE_MONEY)``)."""
    from crmflow.headlines import TABLE_MONEY

    return [name for name, column in config.items()
            if name in frame.columns and isinstance(column, dict)
            and (column.get("type_config") or {}).get("format") == TABLE_MONEY]


def show_table(frame: pd.DataFrame, *, style: Callable[[pd.DataFrame], Any] | None = None, **kwargs: Any) -> Any:
    """``st.dataframe`` of a copy whose formula-looking text cells (= + - @,
    tab, CR) are neutralised (:func:`crmflow.plain.table`), so the table
    toolbar's own "Download as CSV" is as safe as :func:`download_buttons`.
    ``style`` turns the neutralised copy into a Styler (cell colours), so
    styling never sees or shows the raw cells. Every table on every page goes
    through here (tests/test_safe.py).

    Money columns (``column_config`` ``NumberColumn(format=TABLE_MONEY)``)
    show the one money format of the headlines and cards in the view's
    language (:func:`crmflow.headlines.money`: 37.0万 beside a 37.0万
    headline, not the browser's "37K"), as the Styler's display text; the
    cells keep their numbers, so the column still sorts by amount."""
    from crmflow.plain import table

    safe = table(frame)
    config = dict(kwargs.get("column_config") or {})
    money_columns = _money_columns(safe, config)
    if not money_columns:
        return st.dataframe(style(safe) if style is not None else safe, **kwargs)
    from crmflow.headlines import money

    ctx = st.session_state.get("ctx")
    lang = ctx.lang if isinstance(ctx, Context) else DEFAULT_LANGUAGE
    for name in money_columns:  # the Styler's text is shown only where the column sets no format
        column = dict(config[name])
        column["type_config"] = {**column["type_config"], "format": None}
        config[name] = column
    styler = style(safe) if style is not None else safe.style
    styler = styler.format({name: (lambda v: money(v, lang)) for name in money_columns})
    return st.dataframe(styler, **{**kwargs, "column_config": config})
