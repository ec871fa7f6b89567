"""Security fixes to signing in, roles and the audit trail (loginmend), without a browser."""

from __future__ import annotations

import threading
import time

import pytest

from crmflow import auth
from crmflow.errors import CrmflowError


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "wang", "manager", "Wang Fang", password="right")
    return path


def counting_verify(monkeypatch):
    """verify_password, counted, with how many ran at the same time; each
    check is made slow so that concurrent guesses overlap."""
    seen = {"calls": 0, "running": 0, "most": 0}
    lock = threading.Lock()
    real = auth.verify_password

    def slow(stored, password):
        with lock:
            seen["calls"] += 1
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        try:
            time.sleep(0.05)
            return real(stored, password)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(auth, "verify_password", slow)
    return seen


def guess_at_once(users, attempts, n: int, password: str = "wrong") -> list[str]:
    start = threading.Barrier(n)
    keys: list[str] = []

    def guess():
        start.wait()
        try:
            auth.sign_in("wang", password, users, attempts)
            keys.append("ok")
        except CrmflowError as exc:
            keys.append(exc.key)

    threads = [threading.Thread(target=guess) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return keys


def test_concurrent_wrong_guesses_cannot_pass_the_limit(users, monkeypatch):
    seen = counting_verify(monkeypatch)
    attempts = auth.Attempts()  # 5 per name
    keys = guess_at_once(users, attempts, 20)
    assert seen["calls"] == auth.MAX_FAILURES == 5
    assert sorted(keys) == ["auth_too_many"] * 15 + ["auth_wrong"] * 5
    # and the right password is refused too, until the window has passed
    with pytest.raises(CrmflowError) as info:
        auth.sign_in("wang", "right", users, attempts)
    assert info.value.key == "auth_too_many"


def test_at_most_two_password_checks_run_at_once(users, monkeypatch):
    seen = counting_verify(monkeypatch)
    attempts = auth.Attempts(limit=50)
    keys = guess_at_once(users, attempts, 8)
    assert keys == ["auth_wrong"] * 8 and seen["calls"] == 8
    assert seen["most"] == auth.MAX_CONCURRENT_CHECKS == 2


def test_a_success_clears_the_recorded_attempt(users):
    attempts = auth.Attempts(limit=2)
    for _ in range(5):  # more successes than the limit: each clears its own attempt
        assert auth.sign_in("wang", "right", users, attempts).name == "wang"
    assert attempts.blocked_for("wang") == 0 and len(attempts) == 0


def test_old_entries_of_the_attempts_table_are_dropped():
    now = [0.0]
    attempts = auth.Attempts(limit=3, window=60, clock=lambda: now[0])
    attempts.PRUNE_ABOVE = 10
    for i in range(30):
        assert attempts.begin(f"name{i}") == 0
    now[0] = 30.0
    attempts.begin("late")  # the 30 are still within the window: kept
    assert len(attempts) == 31
    now[0] = 61.0
    attempts.begin("later")  # all but "late" (30 s old) and "later" have left it
    assert len(attempts) == 2
    assert attempts.blocked_for("name0") == 0


# ------------------------------------------------------------------ 4. an older store file without the audit trail
def old_store_without_audit(folder):
    """A store file as an older crmflow left it: a dataset, no audit table."""
    import duckdb

    from crmflow.demo import generate
    from crmflow.store import Store

    path = folder / "old.duckdb"
    data = generate()
    with Store(path) as store:
        store.ingest("demo", data.transactions.head(200), data.customers)
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE audit")
    con.close()
    return path


def cannot_upgrade(monkeypatch) -> None:
    """Opening the file read-write to bring it up to date fails, as when
    another process holds it (crmflow.store._prepare_file then leaves it as it is)."""
    from crmflow import store

    monkeypatch.setattr(store, "_prepare_file", lambda path: None)


def test_a_read_only_store_without_the_audit_table_has_an_empty_trail(tmp_path, capsys, monkeypatch):
    from crmflow.cli import main
    from crmflow.store import Store
    from crmflow.upload import audit_frame

    path = old_store_without_audit(tmp_path)
    cannot_upgrade(monkeypatch)
    with Store(path, read_only=True) as store:
        trail = store.audit()
        assert trail.empty and list(trail.columns) == [
            "changed_at", "actor", "via", "action", "dataset_id", "dataset", "detail"]
        assert store.uploaded_by("demo") is None
        assert audit_frame(store, "zh").empty
        with pytest.raises(CrmflowError):  # an unknown dataset is still an error
            store.uploaded_by("no such dataset")
    main(["datasets", "audit", "--db", str(path)])
    assert "No changes recorded yet." in capsys.readouterr().out


# ------------------------------------------------------------------ 5. an identity provider's e-mail must be verified
@pytest.mark.parametrize("claim", [None, False, "false", "", 0])
def test_an_unverified_oidc_email_is_refused(tmp_path, monkeypatch, claim):
    monkeypatch.delenv(auth.TRUST_UNVERIFIED_EMAIL_ENV_VAR, raising=False)
    path = tmp_path / "users.toml"
    auth.add_user(path, "boss@example.com", "admin", email=True)
    with pytest.raises(CrmflowError) as info:
        auth.oidc_user("boss@example.com", path, email_verified=claim)
    assert info.value.key == "auth_email_unverified"
    assert auth.oidc_user("boss@example.com", path, email_verified=True).role == "admin"
    assert auth.oidc_user("boss@example.com", path, email_verified="true").role == "admin"  # sent as text by some


def test_the_opt_out_accepts_a_provider_without_the_claim(tmp_path, monkeypatch):
    path = tmp_path / "users.toml"
    auth.add_user(path, "boss@example.com", "admin", email=True)
    monkeypatch.setenv(auth.TRUST_UNVERIFIED_EMAIL_ENV_VAR, "1")
    assert auth.oidc_user("boss@example.com", path).role == "admin"
    with pytest.raises(CrmflowError) as info:  # the mapping still decides
        auth.oidc_user("stranger@example.com", path)
    assert info.value.key == "auth_not_mapped"


# ------------------------------------------------------------------ 3. an analyst changes only what they stored
TX = "customer_id,date,amount\nc1,2024-01-05,10\nc2,2024-02-01,20\n"


def test_an_analyst_changes_only_what_the_same_identity_stored_through_the_dashboard(tmp_path, monkeypatch):
    import getpass

    from crmflow.store import Store

    monkeypatch.setattr(getpass, "getuser", lambda: "ana")  # the command line runs as the OS user "ana"
    file = tmp_path / "t.csv"
    file.write_text(TX, encoding="utf-8")
    ana = auth.User("ana", "analyst")
    crm = auth.User("crmflow", "analyst")
    mail = auth.User("ana", "analyst", kind="oidc")  # an identity provider's account of the same spelling
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("cli", file)  # the command line: actor = the OS user "ana"
        store.ingest("demo-like", file, actor="crmflow", via="demo")
        store.ingest("mine", file, actor=ana.identity, via="dashboard")  # as crmflow.ui.login.who() records it
        store.ingest("nobody", file, actor=None, via="dashboard")  # a dashboard without sign-in: OS user
        assert store.uploaded_by("cli") == ("ana", "local")
        assert store.uploaded_by("demo-like") == ("crmflow", "demo")
        assert store.uploaded_by("mine") == ("local:ana", "dashboard")
        assert store.uploaded_by("nobody") == ("ana", "dashboard")
        assert [ana.can_change(store.uploaded_by(n)) for n in ("cli", "demo-like", "mine", "nobody")] == [
            False, False, True, False]
        assert not crm.can_change(store.uploaded_by("demo-like"))
        assert not mail.can_change(store.uploaded_by("mine"))
        assert auth.User("root", "admin").can_change(store.uploaded_by("cli"))


def test_who_is_recorded_with_the_kind_of_sign_in(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "ana", "analyst", password="pw")
    auth.add_user(path, "li@example.com", "analyst", email=True)
    assert auth.sign_in("ana", "pw", path, auth.Attempts()).identity == "local:ana"
    assert auth.oidc_user("LI@example.com", path, email_verified=True).identity == "oidc:li@example.com"


# ------------------------------------------------------------------ 6. a scope's customer set is kept or refused
def many_owner_store(tmp_path):
    """21 owners with 3 customers each, one order per customer."""
    from crmflow.store import Store

    lines = ["customer_id,date,amount,owner"]
    for o in range(21):
        for c in range(3):
            lines.append(f"o{o}c{c},2024-01-0{c + 1},{10 + c},Owner {o}")
    file = tmp_path / "owners.csv"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(tmp_path / "owners.duckdb")
    return store, store.ingest("owners", file).dataset.dataset_id


def test_a_scope_still_reads_its_customers_after_twenty_other_scopes(tmp_path):
    from datetime import date

    from crmflow import analytics
    from crmflow.filters import Filters, resolve

    store, dataset_id = many_owner_store(tmp_path)
    with store:
        first = resolve(store.db, dataset_id, Filters(owners=("Owner 0",)))
        others = [resolve(store.db, dataset_id, Filters(owners=(f"Owner {o}",))) for o in range(1, 21)]
        assert len({s.customer_set for s in [first, *others]}) == 21
        rows = analytics.rfm(store.db, first, date(2024, 2, 1))
        assert sorted(rows["customer_id"]) == ["o0c0", "o0c1", "o0c2"]
        assert sorted(analytics.rfm(store.db, others[-1], date(2024, 2, 1))["customer_id"]) == [
            "o20c0", "o20c1", "o20c2"]


def test_the_least_recently_used_set_goes_and_a_dropped_set_is_an_error(tmp_path, monkeypatch):
    from datetime import date

    from crmflow import analytics, db
    from crmflow.filters import Filters, resolve

    monkeypatch.setattr(db, "MAX_CUSTOMER_SETS", 2)
    store, dataset_id = many_owner_store(tmp_path)
    with store:
        a = resolve(store.db, dataset_id, Filters(owners=("Owner 0",)))
        b = resolve(store.db, dataset_id, Filters(owners=("Owner 1",)))
        assert len(analytics.rfm(store.db, a, date(2024, 2, 1))) == 3  # a is now the most recently used
        c = resolve(store.db, dataset_id, Filters(owners=("Owner 2",)))  # b goes
        assert sorted(analytics.rfm(store.db, a, date(2024, 2, 1))["customer_id"]) == ["o0c0", "o0c1", "o0c2"]
        assert len(analytics.rfm(store.db, c, date(2024, 2, 1))) == 3
        with pytest.raises(CrmflowError) as info:
            analytics.rfm(store.db, b, date(2024, 2, 1))
        assert info.value.key == "filter_set_gone"
        # resolving the filters again stores the set again
        again = resolve(store.db, dataset_id, Filters(owners=("Owner 1",)))
        assert again == b and len(analytics.rfm(store.db, again, date(2024, 2, 1))) == 3


# ------------------------------------------------------------------ 7. the users file
def test_saving_the_users_file_never_writes_through_a_planted_temporary_name(tmp_path):
    path = tmp_path / "users.toml"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / "users.toml.tmp").symlink_to(victim)  # the fixed name an older version wrote to
    auth.add_user(path, "root", "admin", password="pw")
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert auth.list_users(path) == [{"name": "root", "kind": "password", "role": "admin", "owner": ""}]
    assert (path.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.toml", "users.toml.tmp", "victim.txt"]


def test_a_users_file_others_can_write_is_warned_about(tmp_path):
    from tests.test_login import run_cli

    path = tmp_path / "users.toml"
    auth.add_user(path, "root", "admin", password="pw")
    out = run_cli("users", "list", "--users", str(path))
    assert out.returncode == 0 and out.stderr == ""
    assert auth.users_file_warning(path) is None
    for mode in (0o620, 0o602, 0o666):
        path.chmod(mode)
        assert auth.users_file_warning(path) == auth.users_file_warning(path, "en")
        assert oct(mode) in auth.users_file_warning(path) and "chmod 600" in auth.users_file_warning(path)
    out = run_cli("users", "list", "--users", str(path))
    assert out.returncode == 0 and "root" in out.stdout
    assert str(path) in out.stderr and "chmod 600" in out.stderr
    path.chmod(0o644)  # readable by others is not writable by them
    assert auth.users_file_warning(path) is None


def test_a_removed_or_changed_user_is_no_longer_valid(tmp_path):
    path = tmp_path / "users.toml"
    auth.add_user(path, "wang", "manager", "Wang Fang", password="pw")
    auth.add_user(path, "li@example.com", "analyst", email=True)
    wang = auth.sign_in("wang", "pw", path, auth.Attempts())
    li = auth.oidc_user("li@example.com", path, email_verified=True)
    assert auth.still_valid(wang, path) and auth.still_valid(li, path)
    assert not auth.still_valid(auth.User("wang", "manager", "Wang Fang", "oidc"), path)  # not the same account
    auth.add_user(path, "wang", "manager", "Chen Jing", password="pw")  # another owner now
    assert not auth.still_valid(wang, path)
    doc = auth.load_users(path)
    del doc["oidc"]["li@example.com"]
    auth.save_users(doc, path)
    assert not auth.still_valid(li, path)
