"""The shared frame of every page (sidebar, dataset, as-of date, language) and
the cached calls into the crmflow package. Layout only: logic is in crmflow/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st

from crmflow.config import Params
from crmflow.errors import CrmflowError
from crmflow.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from crmflow.stages import data_range, stage_counts
from crmflow.store import Dataset, Store


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One store per process; every call inside takes its own cursor."""
    store = Store()
    store.ensure_demo()
    return store


@st.cache_data(max_entries=256, ttl=3600, show_spinner=False)
def cached_stage_counts(dataset_id: int, version: str, as_of: date, params: Params) -> dict[str, int]:
    return stage_counts(get_store().db, dataset_id, as_of, params)


@st.cache_data(max_entries=64, ttl=3600, show_spinner=False)
def cached_range(dataset_id: int, version: str) -> tuple[date, date]:
    return data_range(get_store().db, dataset_id)


def dataset_version(dataset: Dataset) -> str:
    """Cache key part that changes when a dataset of that id is replaced."""
    return f"{dataset.dataset_id}:{dataset.created_at.isoformat()}"


@dataclass(frozen=True)
class Context:
    lang: str
    dataset: Dataset
    as_of: date
    params: Params

    @property
    def version(self) -> str:
        return dataset_version(self.dataset)

    def tr(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)


def _query_value(name: str, default: str) -> str:
    value = st.query_params.get(name)
    return value if value else default


def frame() -> Context:
    """Draw the sidebar and return the user's choices."""
    lang = _query_value("lang", DEFAULT_LANGUAGE)
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    try:
        store = get_store()
        names = store.names()
    except CrmflowError as exc:
        st.error(t("error_title", lang) + ": " + exc.line())
        st.stop()
    with st.sidebar:
        st.title(t("app_title", lang))
        st.caption(t("app_tagline", lang))
        lang = st.radio(t("sidebar_language", lang), list(LANGUAGES), index=list(LANGUAGES).index(lang),
                        format_func=LANGUAGES.get, horizontal=True, key="lang")
        st.query_params["lang"] = lang
        wanted = _query_value("dataset", names[0])
        name = st.selectbox(t("sidebar_dataset", lang), names, index=names.index(wanted) if wanted in names else 0)
        st.query_params["dataset"] = name
        dataset = store.get(name)
        try:
            first, last = cached_range(dataset.dataset_id, dataset_version(dataset))
        except CrmflowError as exc:
            st.error(exc.line())
            st.stop()
        try:
            default_as_of = date.fromisoformat(_query_value("as_of", last.isoformat()))
        except ValueError:
            default_as_of = last
        default_as_of = min(max(default_as_of, first), last)
        as_of = st.date_input(t("sidebar_as_of", lang), value=default_as_of, min_value=first, max_value=last)
        st.query_params["as_of"] = as_of.isoformat()
        d = Params()
        with st.expander(t("sidebar_definitions", lang)):
            params = Params(
                int(st.number_input(t("param_lost_after_days", lang), 1, 3650, d.lost_after_days)),
                int(st.number_input(t("param_loyal_orders", lang), 1, 1000, d.loyal_orders)),
                int(st.number_input(t("param_loyal_window_days", lang), 1, 3650, d.loyal_window_days)),
            )
    ctx = Context(lang, dataset, as_of, params)
    st.session_state["ctx"] = ctx
    return ctx


def context() -> Context:
    return st.session_state["ctx"]
