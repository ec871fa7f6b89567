"""The store / dashboard-sharing fixes (issue 15 review): relative paths, upload
folders of other servers, errors on the pages, the busy test, a write that
succeeded, the server's config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _sales(path: Path) -> Path:
    pd.DataFrame({
        "customer_id": ["a", "b", "a", "c"],
        "order_date": ["2023-01-05", "2023-02-01", "2023-03-09", "2023-04-01"],
        "amount": [10.0, 20.0, 30.0, 40.0],
    }).to_csv(path, index=False)
    return path


def _cli_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CRMFLOW_DB", None)
    return subprocess.run([PY, "-m", "crmflow", *args], cwd=folder, capture_output=True, text=True, env=env,
                          timeout=300)


# ---------------------------------------------------------------- 1. relative paths
def test_ingest_with_relative_db_and_file_writes_in_the_current_folder(tmp_path):
    work = tmp_path / "x"
    work.mkdir()
    _sales(work / "sales.csv")
    stray = ROOT / "storemend-rel.duckdb"
    assert not stray.exists()
    try:
        proc = _cli_in(work, "ingest", "sales.csv", "--name", "s", "--db", "storemend-rel.duckdb")
        assert proc.returncode == 0, proc.stderr
        assert (work / "storemend-rel.duckdb").exists()
        assert not stray.exists()
        listed = _cli_in(work, "datasets", "list", "--db", "storemend-rel.duckdb")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines()[1].split()[:2] == ["1", "s"]
        assert str(work / "sales.csv") in listed.stdout  # the input was read from the current folder
    finally:
        stray.unlink(missing_ok=True)
        Path(str(stray) + ".wal").unlink(missing_ok=True)


# ---------------------------------------------------------------- 2. upload folders of two servers
_SERVER = ("import sys, tempfile; from crmflow import serve; serve._install_cleanup(); "
           "sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.readline(); "
           "from crmflow.upload import save_upload; print(save_upload(b'a,b', 'x.csv'), flush=True); "
           "sys.stdin.readline()")


def _server(tmp_path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([PY, "-c", _SERVER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _upload(proc: subprocess.Popen) -> Path:
    proc.stdin.write("\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    assert line, proc.stderr.read()
    return Path(line)


def _stop(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()


def test_stopping_one_server_keeps_the_other_servers_uploads(tmp_path):
    leftover = tmp_path / "crmflow-upload-crashed"  # a crashed server's, two days old: goes at start
    leftover.mkdir()
    two_days = time.time() - 48 * 3600
    os.utime(leftover, (two_days, two_days))
    first = _server(tmp_path)  # started first ...
    assert not leftover.exists()
    second = _server(tmp_path)
    theirs = _upload(second)  # ... the second server's upload is newer than the first's start
    mine = _upload(first)
    _stop(first)
    assert not mine.exists() and not mine.parent.exists()
    assert theirs.exists()  # still being used by the second server's page
    _stop(second)
    assert not theirs.parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_sweep_by_age_and_by_owner(tmp_path):
    from crmflow import upload

    old = tmp_path / "crmflow-upload-old"
    old.mkdir()
    t = time.time() - 25 * 3600
    os.utime(old, (t, t))
    young = tmp_path / "crmflow-upload-young"  # another process's, an hour old: kept
    young.mkdir()
    t = time.time() - 3600
    os.utime(young, (t, t))
    mine = upload.save_upload(b"x", "a.csv", tmp_path)  # the save sweeps the day-old one first
    assert not old.exists() and young.exists() and mine.exists()
    assert upload.sweep(tmp_path, max_age_hours=None, mine_only=True) == 1
    assert not mine.parent.exists() and young.exists()
    assert upload.sweep(tmp_path, max_age_hours=None) == 1
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 3./4. errors on the pages
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from crmflow.store import Store

    folder = tmp_path_factory.mktemp("storemend")
    db = folder / "crmflow.duckdb"
    with Store(db) as store:
        store.ensure_demo()
        store.ingest("other", _sales(folder / "s.csv"))
    return db


def _app(monkeypatch, db: Path, lang: str, page: str | None = None, **query: str):
    import gc

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, at.exception
    return at


@pytest.fixture
def clean_cache():
    import gc

    import streamlit as st

    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_recreating_the_demo_on_a_full_disk_is_one_message(demo_db, tmp_path, monkeypatch, clean_cache, lang):
    import shutil

    from crmflow.i18n import t

    db = tmp_path / "crmflow.duckdb"
    shutil.copy(demo_db, db)
    at = _app(monkeypatch, db, lang, "data")
    at.selectbox(key="data:manage").set_value("demo").run()
    at.button(key="data:delete").click().run()
    at.button(key="data:delete_yes").click().run()
    assert not at.exception, at.exception
    assert t("data_demo_missing", lang) in [i.value for i in at.info]
    monkeypatch.setenv("CRMFLOW_FREE_SPACE_MARGIN_MB", str(10**12))  # more than any disk has: refused
    at.button(key="data:demo").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and t("err_db_disk_full", lang).split("{")[0] in errors[0], errors


def _no_english(text: str, key: str) -> None:
    from crmflow.i18n import t

    for label in (f"err_{key}", f"err_{key}_page", f"err_{key}_cli"):
        english = t(label, "en").split("{")[0].strip()
        if english:
            assert english not in text, (label, text)


@pytest.mark.parametrize("what", ["text_file", "folder"])
def test_a_store_that_cannot_be_opened_is_told_in_the_pages_language(tmp_path, monkeypatch, clean_cache, what):
    from crmflow.i18n import t

    db = tmp_path / "crmflow.duckdb"
    if what == "text_file":
        db.write_text("customer_id,amount\n1,2\n", encoding="utf-8")
        key = "db_not_a_store"
    else:
        db.mkdir()
        key = "db_cannot_open"
    at = _app(monkeypatch, db, "zh")
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith(t("error_title", "zh"))
    assert t(f"err_{key}", "zh").split("{")[0] in errors[0]
    assert t(f"err_{key}_page", "zh").split("{")[0][:20] in errors[0]
    _no_english(errors[0], key)
    assert "--db" not in errors[0]  # no command-line advice on a page


def test_a_dataset_deleted_by_another_session_while_the_page_starts(demo_db, tmp_path, monkeypatch, clean_cache):
    import shutil

    from crmflow.i18n import t
    from crmflow.store import Store

    db = tmp_path / "crmflow.duckdb"
    shutil.copy(demo_db, db)
    names = Store.names
    deleted = []

    def names_then_deleted(self):
        listed = names(self)
        # the page frame's call (the sidebar's list), not the demo check before it
        if not deleted and "other" in listed and sys._getframe(1).f_code.co_name == "frame":
            deleted.append(True)
            with Store(db, shared=True) as other_session:  # another browser session deletes it just now
                other_session.delete("other")
        return listed

    monkeypatch.setattr(Store, "names", names_then_deleted)
    import gc

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    at.query_params["dataset"] = "other"
    at.run()
    assert deleted
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and t("err_dataset_unknown", "zh").split("{")[0] in errors[0], errors


def test_an_unexpected_failure_in_the_writing_process_has_a_key():
    from crmflow.i18n import t
    from crmflow.store import _error_from, _error_record

    err = _error_from(_error_record(RuntimeError("something odd\nsecond line"), "/data/x.duckdb"))
    assert err.key == "store_write_unexpected"
    assert "something odd" in err.line() and "second line" not in err.line()  # the command line gets the detail
    zh = err.localized("zh")
    assert zh.startswith(t("err_store_write_unexpected", "zh", path="/data/x.duckdb", kind="RuntimeError"))
    assert "something odd" not in zh
    _no_english(zh, "store_write_unexpected")


# ---------------------------------------------------------------- 5. a folder named "lock"
def test_a_folder_named_lock_is_not_busy(tmp_path):
    import duckdb

    from crmflow.db import storage_error
    from crmflow.errors import DatabaseBusyError

    folder = tmp_path / "lock"
    folder.mkdir()
    not_a_store = folder / "block lock.duckdb"
    not_a_store.write_text("hello\n", encoding="utf-8")
    with pytest.raises(duckdb.Error) as caught:
        duckdb.connect(str(not_a_store))
    err = storage_error(caught.value, not_a_store)
    assert err is not None and err.key == "db_not_a_store"

    held = folder / "lock.duckdb"
    holder = subprocess.Popen([PY, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); sys.stdin.readline()", str(held)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.Error) as caught:
            duckdb.connect(str(held), read_only=True)
        assert isinstance(storage_error(caught.value, held), DatabaseBusyError)
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)


# ---------------------------------------------------------------- 6. a write that succeeded is told as done
@pytest.fixture
def small_store(tmp_path):
    from crmflow.store import Store

    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        store.ingest("one", _sales(tmp_path / "one.csv"))
    return db


def test_a_failed_reopen_does_not_replace_the_result(small_store, tmp_path):
    from crmflow.db import Database

    db = Database(small_store, read_only=True)
    aside = tmp_path / "aside.duckdb"
    with db.suspended():
        small_store.rename(aside)
        small_store.write_text("not a database\n", encoding="utf-8")  # the reopen fails
        result = "written"
    assert result == "written"
    small_store.unlink()
    aside.rename(small_store)
    assert list(db.run("list_datasets")["name"]) == ["one"]  # the next reader opens it again
    db.close()


def test_the_writing_process_answers_ok_when_only_the_checkpoint_fails(small_store, tmp_path, monkeypatch):
    import pickle

    from crmflow import store as store_module
    from crmflow.db import Database
    from crmflow.errors import CrmflowError

    def broken_checkpoint(self):
        raise CrmflowError(key="db_disk_full", path=self.path, free="0 bytes", needed="16 MB")

    monkeypatch.setattr(Database, "checkpoint", broken_checkpoint)
    answer = tmp_path / "answer.pickle"
    assert store_module._child_run(str(small_store), "rename", ("one", "two"), {}, answer) == 0
    status, value = pickle.loads(answer.read_bytes())
    assert status == "ok" and value.name == "two"
    with store_module.Store(small_store, read_only=True) as s:
        assert s.names() == ["two"]


@pytest.mark.parametrize("op", ["rename", "delete", "ingest"])
def test_a_child_without_an_answer_whose_change_is_stored_counts_as_done(small_store, tmp_path, monkeypatch, op):
    from crmflow import store as store_module

    real = store_module.run_in_child

    def died_after_commit(path, op_, args, kwargs):
        real(path, op_, args, kwargs)  # the change is committed ...
        raise store_module.NoAnswerError(key="db_engine_failed", path=str(path))  # ... then the child died

    monkeypatch.setattr(store_module, "run_in_child", died_after_commit)
    with store_module.Store(small_store, shared=True) as s:
        if op == "rename":
            assert s.rename("one", "two").name == "two"
            assert s.names() == ["two"]
        elif op == "delete":
            s.delete("one")
            assert s.names() == []
        else:
            result = s.ingest("one", _sales(tmp_path / "again.csv"), replace=True)
            assert result.dataset.n_transactions == 4
            assert [r.table for r in result.reports] == ["transactions"]
            assert result.reports[0].rows_loaded == 4


def test_a_child_without_an_answer_and_no_change_is_an_error(small_store, monkeypatch):
    from crmflow import store as store_module

    def died_before_commit(path, op_, args, kwargs):
        raise store_module.NoAnswerError(key="db_engine_failed", path=str(path))

    monkeypatch.setattr(store_module, "run_in_child", died_before_commit)
    with store_module.Store(small_store, shared=True) as s:
        with pytest.raises(store_module.CrmflowError) as caught:
            s.rename("one", "two")
        assert caught.value.key == "db_engine_failed"
        with pytest.raises(store_module.CrmflowError):
            s.ingest("one", _sales(small_store.parent / "again.csv"), replace=True)  # the old one stays
        assert s.names() == ["one"]


def test_the_writing_process_waits_for_a_passing_reader(small_store, tmp_path, monkeypatch):
    import pickle
    import types

    from crmflow import db as db_module
    from crmflow import store as store_module

    reader = subprocess.Popen([PY, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                               "print('reading', flush=True); sys.stdin.readline()", str(small_store)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    met = []

    def sleep(seconds):  # the writer met the reader: the reader finishes now
        if not met:
            met.append(seconds)
            reader.stdin.write("\n")
            reader.stdin.flush()
            reader.wait(timeout=60)

    real_time = db_module.time
    monkeypatch.setattr(db_module, "time", types.SimpleNamespace(monotonic=real_time.monotonic, sleep=sleep))
    try:
        assert reader.stdout.readline().strip() == "reading"
        answer = tmp_path / "answer.pickle"
        store_module._child_run(str(small_store), "rename", ("one", "two"), {}, answer)
        status, value = pickle.loads(answer.read_bytes())
        assert met and status == "ok" and value.name == "two", value
    finally:
        if reader.poll() is None:
            reader.stdin.write("\n")
            reader.stdin.flush()
            reader.wait(timeout=60)


# ---------------------------------------------------------------- 7. the report after a rename
def test_a_report_prepared_before_a_rename_is_prepared_again(small_store, clean_cache):
    import dataclasses
    from datetime import date

    from crmflow.config import Params
    from crmflow.filters import Filters
    from crmflow.store import Store
    from crmflow.ui.common import Context, dataset_version
    from crmflow.ui.report import report_state

    with Store(small_store) as store:
        before = store.get("one")
        after = store.rename("one", "renamed")
    assert dataset_version(before) == dataset_version(after)  # same id and creation time
    ctx = Context("en", before, date(2023, 4, 1), Params(), date(2023, 1, 5), date(2023, 4, 1), Filters(),
                  before.dataset_id, {}, "")
    renamed = dataclasses.replace(ctx, dataset=after)
    assert report_state(renamed) != report_state(ctx)  # the old files carry the old name
    assert report_state(dataclasses.replace(ctx)) == report_state(ctx)


# ---------------------------------------------------------------- 7./8. the server started from another folder
def test_server_started_elsewhere_keeps_the_repos_settings_and_looks_nothing_up(small_store, tmp_path):
    """``python -m crmflow.serve`` run from another folder still applies the
    repo's .streamlit/config.toml (allowedHosts refuses a rebound host), and a
    WebSocket from a foreign origin makes no external-IP lookup (every web
    request of the server goes to a local proxy that counts them)."""
    import asyncio
    import socket
    import threading
    import urllib.request

    import websockets

    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    proxy.settimeout(0.2)
    lookups: list[bytes] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            try:
                conn, _ = proxy.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    lookups.append(conn.recv(200))
                except OSError:
                    lookups.append(b"?")

    threading.Thread(target=count, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "CRMFLOW_DB": str(small_store), "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path),
           "HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url, "http_proxy": proxy_url, "https_proxy": proxy_url,
           "NO_PROXY": "", "no_proxy": ""}
    server = subprocess.Popen([PY, "-m", "crmflow.serve", "--server.port", str(port)], cwd=elsewhere, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")

        async def handshake(host: str, origin: str) -> str:
            try:
                async with websockets.connect(f"ws://{host}/_stcore/stream", host="127.0.0.1", port=port,
                                              open_timeout=10, origin=origin, proxy=None) as ws:
                    del ws
                    return "open"
            except websockets.exceptions.InvalidStatus as exc:
                return str(exc.response.status_code)

        assert asyncio.run(handshake(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}")) == "open"
        # the repo's server.allowedHosts applies although the server runs in another folder
        assert asyncio.run(handshake(f"rebind.example:{port}", f"http://rebind.example:{port}")) == "403"
        # a local Host with a foreign Origin: Streamlit checks the origin (and would look up the external IP)
        asyncio.run(handshake(f"127.0.0.1:{port}", "http://rebind.example"))
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
        stop.set()
        proxy.close()
    assert lookups == [], (lookups, out[-2000:])
