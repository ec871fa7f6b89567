"""Issue 15: an owner-scoped user (a signed-in account manager) never
receives another owner's customer -- on any page, in any download or export,
or in the meeting report -- driven by Streamlit's AppTest with a users file.

The data: the demo data of three account managers (Olivia Brown, Daniel
Schmidt, Emma Clarke), stored as the dataset "demo", with every customer id
and name tagged by its owner (``OLIVIA-C00017``, ``DANIELCO Summit Foods``).
Whatever a page shows goes to the browser as the element protos AppTest
holds (markdown, tables as Arrow bytes, chart JSON, picker options): the test
searches those bytes, the bytes of every CSV/Excel download the pages build,
and the report's HTML and PowerPoint files, for the other owners' tags. The
same search on an administrator's session finds them (so it can fail), and
finds Olivia's own customers in the manager's."""

from __future__ import annotations

import gc
import io
import sys
import zipfile
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow import auth
from crmflow.i18n import t

ROOT = Path(__file__).resolve().parent.parent
OWNERS = {"Olivia Brown": "OLIVIA", "Daniel Schmidt": "DANIEL", "Emma Clarke": "EMMA"}
MINE = "Olivia Brown"
#: What must never reach Olivia: the other owners' customer ids and names (tagged), and their names.
FOREIGN = [tag.encode() for owner, tag in OWNERS.items() if owner != MINE] + [
    owner.encode() for owner in OWNERS if owner != MINE]
PAGES = ("overview", "flow", "churn", "key_accounts", "account", "my_accounts", "segments", "servqual", "data",
         "present")


def build_world(folder: Path) -> dict:
    """The store file (dataset "demo": three owners, tagged ids and names) and the users file."""
    from crmflow.demo import generate
    from crmflow.store import Store

    data = generate()
    customers = data.customers[data.customers["owner"].isin(OWNERS)].copy()
    tag = {c: OWNERS[o] for c, o in zip(customers["customer_id"], customers["owner"])}
    transactions = data.transactions[data.transactions["customer_id"].isin(tag)].copy()
    interactions = data.interactions[data.interactions["customer_id"].isin(tag)].copy()
    # the Servqual survey of the demo (crmflow.demo: response_id, customer_id, date, item, dimension,
    # expectation, perception), answered by customers of every owner
    surveys = data.surveys[data.surveys["customer_id"].isin(tag)].copy()
    assert {tag[c] for c in surveys["customer_id"]} == set(OWNERS.values())
    for frame in (customers, transactions, interactions, surveys):
        frame["customer_id"] = [f"{tag[c]}-{c}" for c in frame["customer_id"]]
    customers["name"] = [f"{c.split('-')[0]}CO {n}" for c, n in zip(customers["customer_id"], customers["name"])]
    assert set(transactions["owner"]) <= set(OWNERS)
    db = folder / "crmflow.duckdb"
    with Store(db) as store:
        store.ingest("demo", transactions, customers, interactions,  # the dashboard opens "demo" by default
                     surveys=surveys)
    users = folder / "users.toml"
    auth.add_user(users, "olivia", "manager", MINE, password="olivia pw")
    auth.add_user(users, "root", "admin", password="root pw")
    return {"db": db, "users": users,
            "daniel": sorted(customers.loc[customers["owner"] == "Daniel Schmidt", "customer_id"])}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("login_pages"))


def element_bytes(at: AppTest) -> bytes:
    """Everything the app sent for the current run: every element's proto, serialised."""
    out: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"".join(out)


def zip_text(data: bytes) -> bytes:
    """The uncompressed contents of an .xlsx / .pptx (both are zip files of XML)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return b"".join(z.read(n) for n in z.namelist())


@pytest.fixture
def downloads(monkeypatch):
    """Every CSV and Excel file the pages offer, as the bytes the buttons would send."""
    from crmflow.exports import safe_csv, safe_excel
    from crmflow.ui import common

    files: list[tuple[str, bytes]] = []
    original = common.download_buttons

    def recording(ctx, frame, stem, key):
        files.append((f"{stem}.csv", safe_csv(frame).encode("utf-8-sig")))
        files.append((f"{stem}.xlsx", zip_text(safe_excel(frame))))
        return original(ctx, frame, stem, key)

    monkeypatch.setattr(common, "download_buttons", recording)
    # a module imported by an earlier test in this process (crmflow.ui.prospects) holds the function itself
    for module in [m for name, m in sys.modules.items() if name.startswith("crmflow.")]:
        if getattr(module, "download_buttons", None) is original:
            monkeypatch.setattr(module, "download_buttons", recording)
    return files


def signed_in(world, monkeypatch, name: str, password: str) -> auth.User:
    """Sign in through the form; the user the session holds afterwards."""
    monkeypatch.setenv("CRMFLOW_DB", str(world["db"]))
    monkeypatch.setenv("CRMFLOW_USERS", str(world["users"]))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == [t("login_title", "en")]
    assert b"OLIVIA" not in element_bytes(at)  # nothing but the form before signing in
    at.text_input(key="login:name").input(name)
    at.text_input(key="login:password").input(password)
    next(b for b in at.button if b.label == t("login_submit", "en")).click()
    at.run()
    assert not at.exception, at.exception
    user = at.session_state["_crmflow_user"]
    assert isinstance(user, auth.User) and user.name == name
    return user


def open_page(user: auth.User | None, stem: str, state: dict | None = None, **query: str) -> AppTest:
    """A session of ``user`` opening a page the way the dashboard does:
    app.py (the shared frame, with its login and scope) runs first and opens
    the page (``goto``). (AppTest.switch_page would run the page's file on
    its own, with the frame's choices of an earlier run.)"""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    if user is not None:
        at.session_state["_crmflow_user"] = user
    for key, value in (state or {}).items():
        at.session_state[key] = value
    for key, value in query.items():
        at.query_params[key] = value
    at.query_params["goto"] = stem
    at.run()
    assert not at.exception, (stem, at.exception)
    assert len(at.sidebar.children) > 0  # the frame ran
    if stem != "present":
        assert t(f"page_{stem}", "en") in [h.value for h in at.header], stem
    return at


def visit_every_page(user: auth.User) -> dict[str, bytes]:
    """Every page, and the tabs and choices that only run when opened: the
    Customer flow page's Prospects tab (only the open tab runs), the Service
    quality page grouped by owner."""
    seen = {stem: element_bytes(open_page(user, stem)) for stem in PAGES}
    prospects = open_page(user, "flow", state={"flow:tab": t("pr_tab", "en")})
    assert t("pr_list", "en") in [s.value for s in prospects.subheader], "the Prospects tab did not run"
    seen["flow:prospects"] = element_bytes(prospects)
    by_owner = open_page(user, "servqual", state={"sq:by": "owner"})
    assert not by_owner.error and t("sq_unlock", "en") not in [i.value for i in by_owner.info]
    seen["servqual:owner"] = element_bytes(by_owner)
    return seen


def report_files(at: AppTest, pptx: bool = True) -> tuple[bytes, bytes | None]:
    """The meeting report (HTML, PowerPoint) of the view the frame made for
    this session, built as the report buttons build it (crmflow.ui.report:
    every slide of ``ctx.scope``). (AppTest reruns a page's file on its own
    after a click, without app.py's sidebar, so the sidebar's button is not
    clicked here; the browser test covers the page.)"""
    from crmflow.report import SLIDE_KEYS, build_slide, chromium_path, write_html, write_pptx
    from crmflow.ui.common import get_store
    from crmflow.ui.report import report_info

    ctx = at.session_state["ctx"]
    slides = [build_slide(get_store().db, ctx.scope, key, ctx.as_of, ctx.params, ctx.lang) for key in SLIDE_KEYS]
    info = report_info(ctx)
    html = write_html(slides, info).encode("utf-8")
    if not pptx:
        return html, None
    # with Chromium on this machine the PowerPoint file must be built (an error fails the test);
    # without it the deck cannot be made at all (write_pptx refuses), so there is nothing to search
    return html, (zip_text(write_pptx(slides, info)) if chromium_path() is not None else None)


def test_a_manager_never_receives_another_owners_customer(world, monkeypatch, downloads):
    olivia = signed_in(world, monkeypatch, "olivia", "olivia pw")
    assert olivia == auth.User("olivia", "manager", MINE)
    seen = visit_every_page(olivia)
    for stem, data in seen.items():
        for token in FOREIGN:
            assert token not in data, (stem, token)
    # the owner filter is fixed to her own owner, and she sees her own customers
    at = open_page(olivia, "churn")
    owner_filter = at.multiselect(key="filter:owner:demo")
    assert owner_filter.value == [MINE] and owner_filter.disabled
    assert any(b"OLIVIA-" in data for data in seen.values())
    # a link to another owner's customer or manager shows nothing of theirs
    at = open_page(olivia, "account", customer=world["daniel"][0])
    assert t("acc_unknown", "en") in [w.value for w in at.warning]
    assert not any(token in element_bytes(at) for token in (b"DANIELCO", b"EMMA", b"Daniel Schmidt"))
    at = open_page(olivia, "my_accounts", manager="Daniel Schmidt")
    assert not any(token in element_bytes(at) for token in FOREIGN)
    # every download the pages built
    assert len(downloads) >= 8, [n for n, _ in downloads]
    names = [n for n, _ in downloads]
    assert any(n.startswith("crmflow-prospects-") for n in names), names  # the Prospects tab's download
    assert any("servqual" in n for n in names), names
    assert any(b"OLIVIA-" in data for _, data in downloads)
    for name, data in downloads:
        for token in FOREIGN:
            assert token not in data, (name, token)
    # the meeting report: HTML and PowerPoint
    html, pptx = report_files(open_page(olivia, "overview"))
    assert b"Olivia Brown" in html
    from crmflow.report import chromium_path

    if chromium_path() is not None:  # not skipped: the deck was built, and it is hers (the filter line)
        assert pptx is not None and b"Olivia Brown" in pptx
    for token in FOREIGN:
        assert token not in html, ("report.html", token)
        assert pptx is None or token not in pptx, ("report.pptx", token)
    # the Data page changes nothing for her: no upload, rename or delete
    at = open_page(olivia, "data")
    assert t("login_no_changes", "en") in [i.value for i in at.info]
    assert not [b for b in at.button if b.label in (t("data_save", "en"), t("data_rename", "en"),
                                                    t("data_delete", "en"))]


def test_an_admin_sees_every_owner_and_the_audit_trail(world, monkeypatch, downloads):
    """The control: the same search finds the other owners for an administrator."""
    root = signed_in(world, monkeypatch, "root", "root pw")
    at = open_page(root, "segments")
    assert not at.exception
    data = element_bytes(at)
    assert b"DANIEL" in data and b"EMMA" in data and b"OLIVIA" in data
    assert any(b"DANIEL-" in d for _, d in downloads) and any(b"EMMA-" in d for _, d in downloads)
    html, _ = report_files(open_page(root, "overview"), pptx=False)
    assert b"DANIEL" in html and b"EMMA" in html and b"OLIVIA" in html
    at = open_page(root, "data")
    assert t("login_audit_heading", "en") in [s.value for s in at.subheader]
    assert at.multiselect(key="filter:owner:demo").disabled is False


def test_wrong_password_one_message_and_no_data(world, monkeypatch):
    monkeypatch.setenv("CRMFLOW_DB", str(world["db"]))
    monkeypatch.setenv("CRMFLOW_USERS", str(world["users"]))
    monkeypatch.chdir(ROOT)
    auth.ATTEMPTS.succeeded("olivia")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["lang"] = "zh"
    at.run()
    assert [h.value for h in at.header] == [t("login_title", "zh")]
    at.text_input(key="login:name").input("olivia")
    at.text_input(key="login:password").input("wrong")
    next(b for b in at.button if b.label == t("login_submit", "zh")).click()
    at.run()
    assert [e.value for e in at.error] == [
        t("err_auth_wrong", "zh") + "。" + t("err_auth_wrong_page", "zh") + "。"]
    assert b"OLIVIA" not in element_bytes(at)
    auth.ATTEMPTS.succeeded("olivia")


def test_without_login_nothing_changes(world, monkeypatch):
    """No users file and no [auth]: no sign-in page, every owner's customers, as before."""
    monkeypatch.setenv("CRMFLOW_DB", str(world["db"]))
    monkeypatch.delenv("CRMFLOW_USERS", raising=False)
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    assert not at.exception
    assert t("login_title", "en") not in [h.value for h in at.header]
    assert t("page_overview", "en") in [h.value for h in at.header]
    data = element_bytes(open_page(None, "account"))
    assert b"DANIEL" in data and b"OLIVIA" in data


#: An [auth] section as .streamlit/secrets.toml has it for Streamlit's st.login
#: (no identity provider can be reached from the tests: only what the page does
#: with it is tested, and the user the provider would return is seeded).
AUTH_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                         "cookie_secret": "a-test-cookie-secret",
                         "client_id": "crmflow-test", "client_secret": "not-a-secret",
                         "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"}}


def oidc_app(world, monkeypatch, users: bool, user: dict | None) -> AppTest:
    monkeypatch.setenv("CRMFLOW_DB", str(world["db"]))
    if users:
        monkeypatch.setenv("CRMFLOW_USERS", str(world["users"]))
    else:
        monkeypatch.delenv("CRMFLOW_USERS", raising=False)
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.secrets = AUTH_SECRETS
    if user is not None:
        at.user = user
    at.query_params["goto"] = "churn"
    at.run()
    assert not at.exception, at.exception
    return at


def test_oidc_configured_shows_the_provider_button_and_nothing_else(world, monkeypatch):
    at = oidc_app(world, monkeypatch, users=False, user={"is_logged_in": False})
    assert [b.label for b in at.button] == [t("login_with_provider", "en")]
    assert not at.text_input  # no users file: no password form
    assert [h.value for h in at.header] == [t("login_title", "en")]
    data = element_bytes(at)
    assert b"OLIVIA" not in data and b"DANIEL" not in data


def test_oidc_and_users_file_offer_both(world, monkeypatch):
    at = oidc_app(world, monkeypatch, users=True, user={"is_logged_in": False})
    assert t("login_with_provider", "en") in [b.label for b in at.button]
    assert at.text_input(key="login:password").label == t("login_password", "en")


def test_oidc_user_is_mapped_by_email_to_role_and_owner(world, monkeypatch):
    auth.add_user(world["users"], "Olivia.Brown@Example.com", "manager", MINE, email=True)
    at = oidc_app(world, monkeypatch, users=True,
                  user={"is_logged_in": True, "email": "olivia.brown@example.com", "name": "Olivia",
                        "email_verified": True})
    assert at.session_state["_crmflow_user"] == auth.User("olivia.brown@example.com", "manager", MINE, "oidc")
    assert t("page_churn", "en") in [h.value for h in at.header]
    data = element_bytes(at)
    assert b"OLIVIA-" in data
    assert not any(token in data for token in FOREIGN)


def test_oidc_user_without_a_mapping_is_refused(world, monkeypatch):
    at = oidc_app(world, monkeypatch, users=True, user={"is_logged_in": True, "email": "stranger@example.com",
                                                              "email_verified": True})
    assert [e.value for e in at.error] == [
        t("err_auth_not_mapped", "en", email="stranger@example.com") + ". " + t("err_auth_not_mapped_page", "en") + "."]
    assert [b.label for b in at.button] == [t("login_sign_out", "en")]
    assert "_crmflow_user" not in at.session_state
    data = element_bytes(at)
    assert b"OLIVIA" not in data and b"DANIEL" not in data


def test_an_analyst_cannot_delete_or_rename_a_dataset_someone_else_stored(world, monkeypatch):
    """The demo dataset was stored by the test (not by "ana"): her delete and
    rename are refused with one message, and the dataset and the audit trail
    are as before."""
    from crmflow.store import Store

    monkeypatch.setenv("CRMFLOW_DB", str(world["db"]))
    monkeypatch.setenv("CRMFLOW_USERS", str(world["users"]))
    monkeypatch.chdir(ROOT)
    auth.add_user(world["users"], "ana", "analyst", password="ana pw")  # a session's user must be in the users file
    at = open_page(auth.User("ana", "analyst"), "data")
    assert t("login_not_yours_note", "en") in [c.value for c in at.caption]
    assert t("login_audit_heading", "en") not in [s.value for s in at.subheader]  # admins only
    at.button(key="data:delete").click().run()
    at.button(key="data:delete_yes").click().run()
    refused = t("err_auth_not_allowed", "en", name="demo") + ". " + t("err_auth_not_allowed_page", "en") + "."
    assert refused in [e.value.replace("\\", "") for e in at.error]  # shown Markdown-escaped
    at.text_input(key="data:rename_to").input("mine now")
    at.button(key="data:rename").click().run()
    assert refused in [e.value.replace("\\", "") for e in at.error]
    st.cache_resource.clear()  # the app's store lets go of the file
    gc.collect()
    with Store(world["db"], read_only=True) as store:
        assert "demo" in store.names() and "mine now" not in store.names()
        assert list(store.audit()["action"]) == ["upload"]
