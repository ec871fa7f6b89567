"""Issue 15, login for a team's shared server (crmflow.auth): password
hashing, the users file, roles, the rate limit, the OIDC e-mail mapping, the
owner scope of crmflow.filters.resolve, the audit trail of every store write
and the `users` / `datasets audit` commands."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from crmflow import auth
from crmflow.errors import CrmflowError
from crmflow.filters import Filters, resolve
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- hashing
def test_hash_round_trip_and_refusal():
    stored = auth.hash_password("correct horse")
    assert stored.startswith("$argon2id$")  # argon2-cffi's Argon2id, with its parameters in the string
    assert "correct horse" not in stored
    assert auth.verify_password(stored, "correct horse")
    assert not auth.verify_password(stored, "correct hors")
    assert not auth.verify_password(stored, "")
    assert not auth.verify_password("not a hash", "correct horse")
    assert auth.hash_password("correct horse") != stored  # a fresh random salt each time


def test_empty_password_is_refused():
    with pytest.raises(CrmflowError) as info:
        auth.hash_password("")
    assert info.value.key == "auth_empty_password"


# ---------------------------------------------------------------------------- users file
@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_users_file_add_list_and_sign_in(tmp_path, suffix):
    path = tmp_path / f"users{suffix}"
    auth.add_user(path, "wang", "manager", "Wang Fang", password="s3cret 王")
    auth.add_user(path, "root", "admin", password="adminpw")
    auth.add_user(path, "Li@Example.com", "analyst", email=True)
    text = path.read_text(encoding="utf-8")
    doc = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    assert set(doc["users"]) == {"wang", "root"}
    assert doc["users"]["wang"]["owner"] == "Wang Fang"
    assert "s3cret" not in text
    assert doc["oidc"] == {"li@example.com": {"role": "analyst"}}
    assert (path.stat().st_mode & 0o077) == 0  # readable by its owner only
    assert auth.list_users(path) == [
        {"name": "root", "kind": "password", "role": "admin", "owner": ""},
        {"name": "wang", "kind": "password", "role": "manager", "owner": "Wang Fang"},
        {"name": "li@example.com", "kind": "oidc", "role": "analyst", "owner": ""},
    ]
    attempts = auth.Attempts()
    assert auth.sign_in("wang", "s3cret 王", path, attempts) == auth.User("wang", "manager", "Wang Fang")
    assert auth.sign_in("root", "adminpw", path, attempts) == auth.User("root", "admin", None)


def test_wrong_password_and_unknown_name_get_the_same_message(tmp_path):
    path = tmp_path / "users.json"
    auth.add_user(path, "wang", "manager", "Wang Fang", password="right")
    attempts = auth.Attempts()
    errors = []
    for name, password in (("wang", "wrong"), ("nobody", "right"), ("wang", ""), ("", "")):
        with pytest.raises(CrmflowError) as info:
            auth.sign_in(name, password, path, attempts)
        errors.append((info.value.key, info.value.localized("en"), info.value.localized("zh")))
    assert len(set(errors)) == 1
    assert errors[0][0] == "auth_wrong"
    assert errors[0][1] == "Wrong user name or password. Try again; after several failed attempts you must wait a while."


def test_attempts_are_rate_limited_per_name_within_the_window(tmp_path):
    path = tmp_path / "users.json"
    auth.add_user(path, "wang", "manager", "Wang Fang", password="right")
    auth.add_user(path, "chen", "manager", "Chen Jing", password="other")
    now = [1000.0]
    attempts = auth.Attempts(limit=3, window=600, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(CrmflowError, match="Wrong"):
            auth.sign_in("wang", "guess", path, attempts)
    # the fourth try is refused even with the right password, and says when to come back
    with pytest.raises(CrmflowError) as info:
        auth.sign_in("wang", "right", path, attempts)
    assert info.value.key == "auth_too_many" and info.value.params == {"minutes": 10}
    # another name is not affected
    assert auth.sign_in("chen", "other", path, attempts).owner == "Chen Jing"
    now[0] += 599  # the first failure is still within the window
    with pytest.raises(CrmflowError, match="Too many"):
        auth.sign_in("wang", "right", path, attempts)
    now[0] += 1  # 600 s after the first failure: it has left the window
    assert auth.sign_in("wang", "right", path, attempts).name == "wang"
    # a success clears the count
    assert attempts.blocked_for("wang") == 0


def test_damaged_or_incomplete_users_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "users.toml"
    bad.write_text("[users.wang\nrole = ", encoding="utf-8")
    with pytest.raises(CrmflowError) as info:
        auth.load_users(bad)
    assert info.value.key == "auth_users_unreadable"
    no_role = tmp_path / "users.json"
    no_role.write_text(json.dumps({"users": {"wang": {"role": "boss", "password_hash": "x"}}}), encoding="utf-8")
    with pytest.raises(CrmflowError) as info:
        auth.load_users(no_role)
    assert info.value.key == "auth_users_bad_entry"
    no_owner = tmp_path / "m.json"
    no_owner.write_text(json.dumps({"users": {"wang": {"role": "manager", "password_hash": "x"}}}), encoding="utf-8")
    with pytest.raises(CrmflowError) as info:
        auth.load_users(no_owner)
    assert info.value.key == "auth_manager_needs_owner"
    with pytest.raises(CrmflowError) as info:
        auth.add_user(tmp_path / "n.json", "wang", "manager", password="x")
    assert info.value.key == "auth_manager_needs_owner"
    with pytest.raises(CrmflowError) as info:
        auth.add_user(tmp_path / "n.json", "wang", "boss", password="x")
    assert info.value.key == "auth_bad_role"


# ---------------------------------------------------------------------------- roles
def test_role_rules():
    admin = auth.User("root", "admin")
    analyst = auth.User("ana", "analyst")
    manager = auth.User("wang", "manager", "Wang Fang")
    assert (admin.sees_all, analyst.sees_all, manager.sees_all) == (True, True, False)
    assert (admin.scope_owner, analyst.scope_owner, manager.scope_owner) == (None, None, "Wang Fang")
    assert (admin.can_upload, analyst.can_upload, manager.can_upload) == (True, True, False)
    # admin: any dataset; analyst: only their own uploads; manager: none
    assert admin.can_change(("local:ana", "dashboard")) and admin.can_change(None)
    assert admin.can_change(("someone", "local"))
    assert analyst.can_change(("local:ana", "dashboard"))
    assert not analyst.can_change(("local:someone", "dashboard")) and not analyst.can_change(None)
    assert not manager.can_change(("local:wang", "dashboard")) and not manager.can_change(None)


# ---------------------------------------------------------------------------- OIDC mapping
def test_oidc_mapping_by_email_and_refusal(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "Wang.Fang@Example.com", "manager", "Wang Fang", email=True)
    auth.add_user(path, "boss@example.com", "admin", email=True)
    assert auth.oidc_user("wang.fang@example.com", path, email_verified=True) == auth.User(
        "wang.fang@example.com", "manager", "Wang Fang", "oidc")
    assert auth.oidc_user(" BOSS@example.com ", path, email_verified=True).role == "admin"
    for unknown in ("stranger@example.com", "", None):
        with pytest.raises(CrmflowError) as info:
            auth.oidc_user(unknown, path, email_verified=True)
        assert info.value.key == "auth_not_mapped"
    # an identity-provider entry is not a password account
    with pytest.raises(CrmflowError, match="Wrong"):
        auth.sign_in("boss@example.com", "", path, auth.Attempts())


# ---------------------------------------------------------------------------- owner scope
TRANSACTIONS = """customer_id,order_date,amount,owner,region
A1,2024-01-05,100,Ann,North
A2,2024-01-06,50,Ann,South
B1,2024-01-07,70,Bob,North
B2,2024-02-01,30,Bob,North
N1,2024-02-02,20,,North
A1,2024-03-01,10,Ann,North
"""


def test_scope_owner_keeps_only_that_owners_customers_whatever_the_other_filters(load):
    from crmflow.stages import customer_stages

    store, ds = load(TRANSACTIONS)
    frame = pd.read_csv(pd.io.common.StringIO(TRANSACTIONS))
    ann = sorted(frame.loc[frame["owner"] == "Ann", "customer_id"].unique())
    assert ann == ["A1", "A2"]

    def customers(filters):
        scope = resolve(store.db, ds, filters)
        return sorted(customer_stages(store.db, scope, pd.Timestamp("2024-03-31").date())["customer_id"])

    assert customers(Filters()) == ["A1", "A2", "B1", "B2", "N1"]
    assert customers(Filters(scope_owner="Ann")) == ann
    # asking for another owner, or for everyone in a region, stays within Ann's customers
    assert customers(Filters(owners=("Bob",), scope_owner="Ann")) == []
    assert customers(Filters(regions=("North",), scope_owner="Ann")) == ["A1"]
    # an owner with no customers sees none (never "all")
    assert customers(Filters(scope_owner="Nobody")) == []
    assert customers(Filters(scope_owner="")) == []


# ---------------------------------------------------------------------------- audit
TX = "customer_id,order_date,amount\nA1,2024-01-05,100\nB1,2024-01-07,70\n"


@pytest.mark.parametrize("shared", [False, True])
def test_every_write_leaves_one_audit_row(tmp_path, shared):
    """Upload, replace, rename and delete each add one row, with the actor,
    through, dataset id and name; in a shared store (the dashboard's) the
    writing child process writes them."""
    file = tmp_path / "t.csv"
    file.write_text(TX, encoding="utf-8")
    path = tmp_path / "store.duckdb"
    with Store(path, shared=shared) as store:
        assert store.audit().empty
        first = store.ingest("sales", file, actor="ana", via="dashboard").dataset
        second = store.ingest("sales", file, replace=True, actor="root", via="dashboard").dataset
        assert store.uploaded_by("sales") == ("root", "dashboard")
        store.rename("sales", "sales 2024", actor="ana", via="dashboard")
        assert store.uploaded_by("sales 2024") == ("root", "dashboard")  # a rename does not change who stored it
        store.delete("sales 2024", actor="root", via="dashboard")
        trail = store.audit()
    rows = trail[["actor", "via", "action", "dataset_id", "dataset", "detail"]].iloc[::-1]
    rows = [tuple(None if pd.isna(v) else v for v in r) for r in rows.itertuples(index=False)]
    assert rows == [
        ("ana", "dashboard", "upload", first.dataset_id, "sales", None),
        ("root", "dashboard", "replace", second.dataset_id, "sales", None),
        ("ana", "dashboard", "rename", second.dataset_id, "sales 2024", "sales"),
        ("root", "dashboard", "delete", second.dataset_id, "sales 2024", None),
    ]
    assert trail["changed_at"].is_monotonic_decreasing


def test_failed_write_leaves_no_audit_row(tmp_path):
    file = tmp_path / "t.csv"
    file.write_text(TX, encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("a", file, actor="ana")
        store.ingest("b", file, actor="ana")
        with pytest.raises(CrmflowError):
            store.ingest("a", file, actor="eve")  # exists, no replace
        with pytest.raises(CrmflowError):
            store.rename("a", "b", actor="eve")  # name taken
        assert list(store.audit()["actor"]) == ["ana", "ana"]


def run_cli(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "crmflow", *args], capture_output=True, text=True, cwd=ROOT,
                          input=stdin, env={**os.environ, **(env or {})}, check=False)


def test_cli_users_add_list_and_datasets_audit(tmp_path):
    users = tmp_path / "users.toml"
    out = run_cli("users", "add", "wang", "--role", "manager", "--owner", "Wang Fang", "--password-stdin",
                  "--users", str(users), stdin="pw wang\n")
    assert out.returncode == 0, out.stderr
    out = run_cli("users", "add", "boss@example.com", "--email", "--role", "admin",
                  env={"CRMFLOW_USERS": str(users)})
    assert out.returncode == 0, out.stderr
    assert auth.sign_in("wang", "pw wang", users, auth.Attempts()).owner == "Wang Fang"
    listed = run_cli("users", "list", "--users", str(users))
    assert listed.stdout.splitlines() == ["wang  (password)  manager  owner: Wang Fang", "boss@example.com  (oidc)  admin"]
    bad = run_cli("users", "add", "li", "--role", "manager", "--password-stdin", "--users", str(users), stdin="x\n")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "has no owner" in bad.stderr
    none = run_cli("users", "list", env={"CRMFLOW_USERS": ""})
    assert none.returncode == 2 and "No users file" in none.stderr

    db = tmp_path / "s.duckdb"
    data = tmp_path / "t.csv"
    data.write_text(TX, encoding="utf-8")
    assert run_cli("ingest", str(data), "--name", "sales", "--db", str(db)).returncode == 0
    assert run_cli("datasets", "rename", "sales", "sales 2024", "--db", str(db)).returncode == 0
    audit = run_cli("datasets", "audit", "--db", str(db))
    assert audit.returncode == 0, audit.stderr
    lines = audit.stdout.splitlines()
    assert lines[0].split() == ["changed_at", "actor", "via", "action", "dataset", "detail"]
    import getpass

    assert lines[1].split()[2:] == [getpass.getuser(), "command", "line", "rename", "sales", "2024", "sales"]
    assert lines[2].split()[2:] == [getpass.getuser(), "command", "line", "upload", "sales"]
    assert len(lines) == 3


def test_audit_table_of_the_data_page_in_both_languages(tmp_path):
    from crmflow.upload import audit_frame

    file = tmp_path / "t.csv"
    file.write_text(TX, encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("sales", file, actor="ana", via="dashboard")
        store.rename("sales", "sales 2024", actor="ana", via="command line")
        zh = audit_frame(store, "zh")
        en = audit_frame(store, "en")
    assert list(zh.columns) == ["时间", "操作人", "途径", "变更", "数据集", "原名"]
    assert zh[["操作人", "途径", "变更", "数据集", "原名"]].values.tolist() == [
        ["ana", "命令行", "重命名", "sales 2024", "sales"], ["ana", "仪表盘", "上传", "sales", ""]]
    assert en[["Who", "Through", "Change"]].values.tolist() == [
        ["ana", "command line", "rename"], ["ana", "dashboard", "upload"]]
