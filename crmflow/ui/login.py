"""Signing in to a shared dashboard (opt-in; see crmflow.auth).

:func:`require_user` runs first in the shared frame of every page
(crmflow.ui.common.frame). Without a users file (``CRMFLOW_USERS``) and
without an ``[auth]`` section in ``.streamlit/secrets.toml`` it returns None
and nothing changes: the dashboard is local-only. Otherwise a visitor who is
not signed in sees only the sign-in page -- a name and password form for the
users file, a "Sign in with ..." button for the identity provider -- and the
run stops there.
"""

from __future__ import annotations

import streamlit as st

from crmflow import auth
from crmflow.errors import CrmflowError
from crmflow.i18n import t

#: Session key of the signed-in crmflow.auth.User.
_USER = "_crmflow_user"


def _no_secrets_file() -> bool:
    """Whether none of Streamlit's secrets paths (``secrets.files``) exists."""
    import os

    from streamlit import config

    return not any(os.path.exists(path) for path in config.get_option("secrets.files") or [])


def oidc_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's st.login).

    Only "no secrets file at all" means no identity provider. A secrets file
    that exists but cannot be read or parsed raises ``secrets_unreadable``:
    sign-in must not silently turn itself off because of a typo."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, OSError, ValueError) as exc:  # StreamlitSecretNotFoundError is a FileNotFoundError
        if _no_secrets_file():
            return False
        raise CrmflowError(key="secrets_unreadable", detail=str(exc).splitlines()[0][:300]) from exc


def login_configured() -> bool:
    return auth.local_login_configured() or oidc_configured()


def current_user() -> auth.User | None:
    """The signed-in user of this session (None: not signed in, or no login configured)."""
    user = st.session_state.get(_USER)
    return user if isinstance(user, auth.User) else None


def sign_out() -> None:
    """Forget the user and everything the session kept for them (choices,
    prepared report files, uploads in progress): the next person at this
    browser tab starts afresh."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if oidc_configured() and _oidc_logged_in():
        st.logout()


def _oidc_logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:  # noqa: BLE001 - st.user without [auth]
        return False


def require_user(lang: str) -> auth.User | None:
    """The signed-in user, or None when no login is configured; when login
    is configured and nobody is signed in, draw the sign-in page and stop.
    A secrets file that exists but cannot be read: one error, nothing served."""
    try:
        configured = login_configured()
    except CrmflowError as exc:
        _no_navigation(lang)
        st.error(exc.localized(lang))
        st.stop()
        return None  # pragma: no cover - st.stop ends the run
    if not configured:
        return None
    user = current_user()
    if user is not None and _still_valid(user):
        return user
    if user is not None:  # removed from the users file, or its role or owner changed: sign in again
        if user.kind == "oidc":
            st.session_state.pop(_USER, None)  # the provider's account is mapped again below
        else:
            for key in list(st.session_state.keys()):
                del st.session_state[key]
    if oidc_configured() and _oidc_logged_in():
        try:
            user = auth.oidc_user(st.user.get("email"), email_verified=st.user.get("email_verified"))
        except CrmflowError as exc:
            _no_navigation(lang)
            st.error(exc.localized(lang))
            st.button(t("login_sign_out", lang), on_click=st.logout, key="login:oidc-out")
            st.stop()
        st.session_state[_USER] = user
        return user
    _no_navigation(lang)
    _sign_in_page(lang)
    st.stop()
    return None  # pragma: no cover - st.stop ends the run


def _still_valid(user: auth.User) -> bool:
    """The users file is checked again on every run (one stat; read again when it changed)."""
    try:
        return auth.still_valid(user)
    except CrmflowError:  # a damaged users file: nobody stays signed in
        return False


def _no_navigation(lang: str) -> None:
    """Before signing in, no list of pages: without a navigation of this run,
    Streamlit would list the files of pages/ in the sidebar (their links lead
    back here, but the list should not be shown)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.navigation([st.Page(_nothing, title=t("login_title", lang), default=True)], position="hidden")
    except StreamlitAPIException:  # inside a page's own run (crmflow.ui.common.context): nothing to hide
        pass


def _nothing() -> None:
    """The one (empty) page of the navigation before signing in."""


def _sign_in_page(lang: str) -> None:
    st.header(t("login_title", lang))
    st.caption(t("login_intro", lang))
    if oidc_configured():
        st.button(t("login_with_provider", lang), on_click=st.login, type="primary", key="login:oidc",
                  icon=":material/login:")
    if auth.local_login_configured():
        with st.form("login:form"):
            name = st.text_input(t("login_name", lang), key="login:name")
            password = st.text_input(t("login_password", lang), type="password", key="login:password")
            sent = st.form_submit_button(t("login_submit", lang), type="primary")
        if sent:
            try:
                user = auth.sign_in(name, password, address=_client_address())
            except CrmflowError as exc:
                st.error(exc.localized(lang))
                return
            st.session_state[_USER] = user
            st.rerun()


def _client_address() -> str | None:
    """The network address of this session's browser (None on the loopback
    interface, or where Streamlit does not know it)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - no session context (a bare script run)
        return None
    return address if isinstance(address, str) and address else None


def user_box(lang: str, user: auth.User | None) -> None:
    """In the sidebar: who is signed in, their role (and owner), and "Sign out"."""
    if user is None:
        return
    from crmflow.plain import md

    role = t(f"login_role_{user.role}", lang)
    text = t("login_signed_in_owner", lang, name=md(user.name), role=role, owner=md(user.owner)) if user.owner and \
        not user.sees_all else t("login_signed_in", lang, name=md(user.name), role=role)
    st.caption(text)
    st.button(t("login_sign_out", lang), on_click=sign_out, key="login:sign-out", icon=":material/logout:")


def who() -> dict[str, str | None]:
    """``actor`` and ``via`` keywords for a store write from the dashboard
    (no login: the server's operating-system user)."""
    user = current_user()
    return {"actor": user.identity if user is not None else None, "via": auth.DASHBOARD}


def may_upload() -> bool:
    user = current_user()
    return user is None or user.can_upload


def sees_audit() -> bool:
    """Admins (and the single local user when no login is configured) see the audit trail."""
    user = current_user()
    return user is None or user.role == "admin"


def check_may_change(store, name: str) -> None:
    """Refuse (``auth_not_allowed``) a replace, rename or delete of dataset
    ``name`` the signed-in user's role does not allow (crmflow.auth.User.can_change)."""
    user = current_user()
    if user is None or user.role == "admin":
        return
    if not user.can_change(store.uploaded_by(name)):
        raise CrmflowError(key="auth_not_allowed", name=name)
