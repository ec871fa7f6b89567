"""Security fixes to signing in (loginmend), driven by Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit import config
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

from crmflow.i18n import t

from tests.test_login_pages import ROOT, build_world, element_bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("loginmend_pages"))


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    """Streamlit reads its secrets from one file of the test's own folder."""
    path = tmp_path / "secrets.toml"
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    monkeypatch.setattr(st, "secrets", Secrets())
    yield path
    config.set_option("secrets.files", saved)


def run_app(world, monkeypatch, lang: str = "en", users: bool = False) -> AppTest:
    monkeypatch.setenv("CRMFLOW_DB", str(world["db"]))
    if users:
        monkeypatch.setenv("CRMFLOW_USERS", str(world["users"]))
    else:
        monkeypatch.delenv("CRMFLOW_USERS", raising=False)
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["lang"] = lang
    at.query_params["goto"] = "churn"
    at.run()
    return at


@pytest.mark.parametrize("users", [False, True])
def test_a_broken_secrets_file_stops_everything_with_one_error(world, monkeypatch, secrets_file, users):
    secrets_file.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback\n', encoding="utf-8")
    at = run_app(world, monkeypatch, lang="zh", users=users)
    assert not at.exception, at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith(t("err_secrets_unreadable", "zh", detail="")[:20])
    assert t("err_secrets_unreadable_page", "zh") in message
    data = element_bytes(at)
    assert b"OLIVIA" not in data and b"DANIEL" not in data
    assert t("page_churn", "zh") not in [h.value for h in at.header]
    assert not at.text_input  # not even the password form


def test_no_secrets_file_means_no_identity_provider(world, monkeypatch, secrets_file):
    assert not secrets_file.exists()
    at = run_app(world, monkeypatch)
    assert not at.exception, at.exception
    assert not at.error
    assert t("page_churn", "en") in [h.value for h in at.header]
    assert b"DANIEL" in element_bytes(at)


def test_the_data_page_of_an_older_store_without_the_audit_table_says_no_audit_yet(tmp_path, monkeypatch):
    """An older store file the dashboard holds read-only (it could not be
    upgraded): the administrator's Data page says there is no trail yet."""
    import duckdb

    from crmflow import auth

    from tests.test_login_pages import open_page
    from tests.test_loginmend import cannot_upgrade

    old = build_world(tmp_path)
    con = duckdb.connect(str(old["db"]))
    con.execute("DROP TABLE audit")
    con.close()
    cannot_upgrade(monkeypatch)
    monkeypatch.setenv("CRMFLOW_DB", str(old["db"]))
    monkeypatch.setenv("CRMFLOW_USERS", str(old["users"]))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = open_page(auth.User("root", "admin"), "data")
    assert t("login_audit_heading", "en") in [s.value for s in at.subheader]
    assert t("login_audit_empty", "en") in [i.value for i in at.info]
    assert not at.error
    st.cache_resource.clear()


def test_an_oidc_user_without_a_verified_email_is_refused(world, monkeypatch):
    from crmflow import auth

    from tests.test_login_pages import MINE, oidc_app

    monkeypatch.delenv(auth.TRUST_UNVERIFIED_EMAIL_ENV_VAR, raising=False)
    auth.add_user(world["users"], "olivia.brown@example.com", "manager", MINE, email=True)
    at = oidc_app(world, monkeypatch, users=True,
                  user={"is_logged_in": True, "email": "olivia.brown@example.com", "name": "Olivia"})
    assert [e.value for e in at.error] == [
        t("err_auth_email_unverified", "en", email="olivia.brown@example.com") + ". "
        + t("err_auth_email_unverified_page", "en") + "."]
    assert [b.label for b in at.button] == [t("login_sign_out", "en")]
    assert "_crmflow_user" not in at.session_state
    data = element_bytes(at)
    assert b"OLIVIA" not in data and b"DANIEL" not in data


def test_a_user_removed_from_the_users_file_is_signed_out_at_the_next_run(tmp_path, monkeypatch):
    from crmflow import auth

    from tests.test_login_pages import signed_in

    world = build_world(tmp_path)
    auth.add_user(world["users"], "ana", "analyst", password="ana pw")
    user = signed_in(world, monkeypatch, "ana", "ana pw")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["_crmflow_user"] = user
    at.query_params["goto"] = "churn"
    at.run()
    assert t("page_churn", "en") in [h.value for h in at.header]
    doc = auth.load_users(world["users"])
    del doc["users"]["ana"]
    auth.save_users(doc, world["users"])
    # the session's next run (app.py first, as the dashboard runs it, with the same session state)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["_crmflow_user"] = user
    at.query_params["goto"] = "churn"
    at.run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == [t("login_title", "en")]
    assert "_crmflow_user" not in at.session_state
    assert b"OLIVIA" not in element_bytes(at)
