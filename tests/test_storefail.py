"""A store that never fails badly (issue 15, "Seen" 1-5): each failure of the
database file on a real file gives its own true message, a fatal engine abort
never takes the process down, reading commands work beside a dashboard that
holds the store, killed ingests leave no growing file, and the server keeps
to the machine."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmflow.errors import CrmflowError, DatabaseBusyError
from crmflow.store import Store

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write_sales(path: Path, n: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "customer_id": rng.integers(0, max(2, n // 8), n).astype(str),
        "order_date": (pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
                       ).strftime("%Y-%m-%d"),
        "amount": np.round(rng.random(n) * 100 + 1, 2),
        "product": rng.integers(0, 500, n).astype(str),
    }).to_csv(path, index=False)
    return path


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "crmflow", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def fingerprint(path: Path) -> dict[str, str]:
    """Every stored dataset's rows, hashed (read-only, in a fresh process-local connection)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for (dataset_id, name) in con.execute("SELECT dataset_id, name FROM datasets ORDER BY 1").fetchall():
            rows = con.execute("SELECT customer_id, order_date, amount FROM transactions WHERE dataset_id = ? "
                               "ORDER BY row_number", [dataset_id]).fetchall()
            out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """A real store file with two datasets (several blocks long)."""
    folder = tmp_path_factory.mktemp("base")
    path = folder / "base.duckdb"
    with Store(path) as store:
        # without stored results: the middle of the file is then the datasets' own blocks
        store.ingest("north", write_sales(folder / "n.csv", 60_000, 1), results=False)
        store.ingest("south", write_sales(folder / "s.csv", 20_000, 2), results=False)
    return path


def copy_of(base: Path, folder: Path, name: str = "s.duckdb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copy(base, target)
    return target


def assert_one_clear_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    err = result.stderr.strip()
    assert "Traceback" not in err and "FatalException" not in err and "\n" not in err, err
    assert "bug" not in err.lower() and "delete" not in err.lower(), err
    for word in words:
        assert word in err, err


# --------------------------------------------------------------------------- 2. true messages
def test_an_overwritten_block_is_damaged_not_busy(base_store, tmp_path):
    path = copy_of(base_store, tmp_path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # the middle of the data blocks
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(os.urandom(64 * 1024))
    results = [cli("stages", "--dataset", name, "--db", str(path)) for name in ("north", "south")]
    failed = [r for r in results if r.returncode != 0]
    assert failed, "an overwritten block must be noticed by a query reading it"
    for r in failed:
        assert_one_clear_line(r, "is damaged", "backup")
        assert "in use by another program" not in r.stderr


def test_a_truncated_file_says_cut_short(base_store, tmp_path):
    path = copy_of(base_store, tmp_path)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    results = [cli("stages", "--dataset", name, "--db", str(path)) for name in ("north", "south")]
    failed = [r for r in results if r.returncode != 0]
    assert failed
    for r in failed:
        assert_one_clear_line(r, "is incomplete", "cut short")


def test_a_file_that_is_no_database(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("customer_id,order_date,amount\n" * 500, encoding="utf-8")
    r = cli("datasets", "list", "--db", str(path))
    assert_one_clear_line(r, "is not a crmflow database file")
    assert path.read_text(encoding="utf-8").startswith("customer_id")  # nothing written to it


@pytest.fixture
def open_folder():
    """A folder another user can reach (pytest's own are private to the user)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="crmflow-test-"))
    folder.chmod(0o755)
    yield folder
    for p in folder.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def as_other_user(*paths: Path):
    """Run the block as a user without write permission where the mode bits
    say so (root ignores mode bits: switch the effective user, files owned by
    nobody)."""
    if not IS_ROOT:
        yield
        return
    for p in paths:
        os.chown(p, 65534, 65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_a_read_only_file_is_read_only_not_damaged(base_store, open_folder):
    path = copy_of(base_store, open_folder / "f")
    before = fingerprint(path)
    os.chmod(path, 0o444)
    os.chmod(path.parent, 0o755)  # the folder is writable for its owner only
    if IS_ROOT:
        os.chown(path.parent, 65534, 65534)
    with as_other_user(path):
        with Store(path, read_only=True) as store:  # reading works
            assert store.names() == ["south", "north"]
        with Store(path, shared=True) as store:  # the dashboard's way opens it and reads
            assert sorted(store.names()) == ["north", "south"]
        with pytest.raises(CrmflowError) as direct:  # writing needs the file opened read-write
            Store(path)
    for exc in (direct.value,):
        assert exc.key == "db_read_only_file", exc
        assert "read-only" in str(exc) and "chmod" in str(exc) and "damaged" in str(exc)  # "not damaged"
        assert "is not damaged" in str(exc) or "not damaged" in str(exc)
        assert "只读" in exc.localized("zh") and "权限" in exc.localized("zh")
        for advice in (str(exc), exc.localized("en")):
            assert "delete it" not in advice and "delete a damaged" not in advice
    assert fingerprint(path) == before


def test_a_read_only_folder_says_so(base_store, open_folder):
    folder = open_folder / "d"
    path = copy_of(base_store, folder)
    before = fingerprint(path)
    os.chmod(folder, 0o555)
    try:
        with as_other_user(path):
            with pytest.raises(CrmflowError) as err:
                with Store(path) as store:
                    store.rename("north", "east")
    finally:
        os.chmod(folder, 0o755)
    assert err.value.key == "db_read_only_folder", err.value
    assert str(folder) in str(err.value) and "s.duckdb.wal" in str(err.value)
    assert "文件夹" in err.value.localized("zh")
    assert fingerprint(path) == before


def test_every_new_message_has_both_languages_and_no_bug_report():
    import json

    labels = json.loads((ROOT / "crmflow" / "locales" / "storefail.json").read_text(encoding="utf-8"))
    assert labels["en"].keys() == labels["zh"].keys()
    for key in ("db_read_only_file", "db_read_only_folder", "db_damaged", "db_truncated", "db_not_a_store",
                "db_disk_full", "db_engine_failed"):
        for suffix in ("", "_cli", "_page"):
            assert labels["en"][f"err_{key}{suffix}"] and labels["zh"][f"err_{key}{suffix}"]
            assert "bug" not in labels["en"][f"err_{key}{suffix}"].lower()


def test_lock_means_the_word_lock():
    import duckdb

    from crmflow.db import storage_error

    busy = storage_error(duckdb.IOException('Could not set lock on file "x": Conflicting lock is held'), "x")
    assert isinstance(busy, DatabaseBusyError)
    damaged = storage_error(duckdb.IOException("Corrupt database file: computed checksum 1 does not match "
                                               "stored checksum 2 in block at location 3"), "x")
    assert damaged is not None and damaged.key == "db_damaged"


# --------------------------------------------------------------------------- 1. full disk
needs_mount = pytest.mark.skipif(not IS_ROOT or shutil.which("mount") is None, reason="needs root to mount a tmpfs")


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode()[:200]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


@needs_mount
def test_full_disk_is_one_clear_message_and_nothing_lost(base_store, small_disk):
    path = copy_of(base_store, small_disk)
    before = fingerprint(path)
    fill(small_disk)
    # the free-space check refuses before DuckDB is asked to write
    r = cli("datasets", "rename", "north", "east", "--db", str(path))
    assert_one_clear_line(r, "Not enough free disk space", "Free some space")
    # without the check, DuckDB itself meets the full disk (it aborts the process on such a commit):
    # the write runs in a child process, so the command still ends with one line
    r = cli("datasets", "rename", "north", "east", "--db", str(path), env={"CRMFLOW_FREE_SPACE_MARGIN_MB": "0"})
    assert_one_clear_line(r)
    assert "disk space" in r.stderr or "engine stopped" in r.stderr, r.stderr
    (small_disk / "filler").unlink()
    assert fingerprint(path) == before
    assert cli("datasets", "rename", "north", "east", "--db", str(path)).returncode == 0
    assert sorted(fingerprint(path)) == ["east", "south"]


@needs_mount
def test_the_serving_process_survives_a_fatal_engine_error(base_store, small_disk, monkeypatch):
    """What killed the dashboard: the same Store object the server holds keeps working."""
    monkeypatch.setenv("CRMFLOW_FREE_SPACE_MARGIN_MB", "0")
    path = copy_of(base_store, small_disk)
    before = fingerprint(path)
    with Store(path, shared=True) as store:
        fill(small_disk)
        with pytest.raises(CrmflowError) as err:
            store.rename("north", "east")
        assert err.value.key in ("db_disk_full", "db_engine_failed"), err.value
        assert sorted(store.names()) == ["north", "south"]  # this process and its store are alive
        (small_disk / "filler").unlink()
        assert store.rename("north", "east").name == "east"
        assert sorted(store.names()) == ["east", "south"]
    assert fingerprint(path)["east"] == before["north"]


def test_free_space_check_refuses_a_big_ingest(base_store, tmp_path, monkeypatch):
    import crmflow.db as db

    path = copy_of(base_store, tmp_path)
    data = write_sales(tmp_path / "t.csv", 1000)
    real = shutil.disk_usage
    monkeypatch.setattr(db.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=db.FREE_SPACE_MARGIN + 2 * data.stat().st_size))
    with Store(path) as store:
        with pytest.raises(CrmflowError) as err:
            store.ingest("new", data)
        assert err.value.key == "db_disk_full"
        assert "MB" in str(err.value)
        assert sorted(store.names()) == ["north", "south"]


# --------------------------------------------------------------------------- 3. reading beside the dashboard
HOLDER = """
import sys, time
from crmflow.store import Store
store = Store(sys.argv[1], shared=True)   # as pages.common.get_store opens it
store.names()
print("ready", flush=True)
sys.stdin.readline()
"""


def test_reading_commands_work_while_a_dashboard_holds_the_store(base_store, tmp_path):
    from crmflow.stages import resolve_as_of, stage_counts

    path = copy_of(base_store, tmp_path)
    with Store(path, read_only=True) as store:
        ds = store.get("north")
        expected = stage_counts(store.db, ds.dataset_id, resolve_as_of(store.db, ds.dataset_id, None))
    holder = subprocess.Popen([PY, "-c", HOLDER, str(path)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        listed = cli("datasets", "list", "--db", str(path))
        assert listed.returncode == 0, listed.stderr
        assert "north" in listed.stdout and "south" in listed.stdout
        staged = cli("stages", "--dataset", "north", "--db", str(path))
        assert staged.returncode == 0, staged.stderr
        import json

        assert json.loads(staged.stdout)["counts"] == expected
        report = cli("datasets", "report", "south", "--db", str(path))
        assert report.returncode == 0, report.stderr
        # a writing command is told, in one line, that the dashboard has the file
        r = cli("datasets", "rename", "north", "east", "--db", str(path))
        assert_one_clear_line(r, "in use by another program")
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert sorted(fingerprint(path)) == ["north", "south"]


def test_the_dashboard_store_writes_while_reading_threads_run(base_store, tmp_path):
    import threading

    from crmflow.stages import resolve_as_of, stage_counts

    path = copy_of(base_store, tmp_path)
    data = write_sales(tmp_path / "w.csv", 2000, 7)
    with Store(path, shared=True) as store:
        ds = store.get("south")
        as_of = resolve_as_of(store.db, ds.dataset_id, None)
        expected = stage_counts(store.db, ds.dataset_id, as_of)
        seen, errors, stop = [], [], threading.Event()

        def reader():
            while not stop.is_set():
                try:
                    seen.append(stage_counts(store.db, ds.dataset_id, as_of))
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            store.ingest("west", data)
            store.rename("west", "west2")
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors, errors
        assert seen and all(s == expected for s in seen)
        assert sorted(store.names()) == ["north", "south", "west2"]


# --------------------------------------------------------------------------- 4. leftovers
def test_killed_ingests_do_not_grow_the_store(base_store, tmp_path):
    path = copy_of(base_store, tmp_path)
    big = write_sales(tmp_path / "big.csv", 250_000, 3)
    before = fingerprint(path)
    base_size = path.stat().st_size
    grew = 0
    for i in range(6):
        proc = subprocess.Popen([PY, "-m", "crmflow", "ingest", str(big), "--name", f"big{i}", "--db", str(path)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # the command and its writing child, killed together
        start = path.stat().st_size
        while proc.poll() is None and path.stat().st_size == start:  # the insert has begun writing blocks
            time.sleep(0.002)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.returncode == -signal.SIGKILL and path.stat().st_size > base_size:
            grew += 1
        with Store(path, shared=True) as store:  # what the next dashboard or command does on open
            assert sorted(n for n in store.names() if not n.startswith("big")) == sorted(before)
            finished = [n for n in store.names() if n.startswith("big")]
        # an ingest that committed before the kill (or finished) is a stored dataset: drop it, the bound
        # is for the store as it was (its freed blocks stay in the file for the next ingest to reuse)
        for name in finished:
            with Store(path) as store:
                store.delete(name)
        assert path.stat().st_size <= base_size + 1024 * 1024, (i, path.stat().st_size, base_size)
    assert grew >= 1, "no kill landed while the ingest was writing (the test did not exercise the bug)"
    assert fingerprint(path) == before


def test_upload_copies_go_when_the_server_stops(tmp_path):
    stale = tmp_path / "crmflow-upload-old"
    stale.mkdir()
    (stale / "sales.csv").write_text("x", encoding="utf-8")
    old = time.time() - 25 * 3600  # older than upload.sweep's day: a crashed server's
    os.utime(stale, (old, old))
    other = tmp_path / "crmflow-upload-recent"  # a running server's upload (hours old): kept at start and exit
    other.mkdir()
    os.utime(other, (time.time() - 3 * 3600, time.time() - 3 * 3600))
    keep = tmp_path / "not-ours"
    keep.mkdir()
    code = ("import tempfile, sys; from crmflow import serve; serve._install_cleanup(); "
            "import os; print(sorted(os.listdir(tempfile.gettempdir()))); "
            "from crmflow.upload import save_upload; print(save_upload(b'a,b', 'x.csv'))")
    r = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=120)
    assert r.returncode == 0, r.stderr
    at_start = r.stdout.splitlines()[0]
    assert "crmflow-upload-old" not in at_start and "crmflow-upload-recent" in at_start
    saved = Path(r.stdout.splitlines()[1])
    assert saved.parent.parent == tmp_path and not saved.exists()  # removed at exit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crmflow-upload-recent", "not-ours"]


# --------------------------------------------------------------------------- 5. network
def test_no_external_ip_lookup_when_a_foreign_origin_is_checked(monkeypatch):
    from streamlit import net_util
    from streamlit.web.server import server_util

    from crmflow import serve

    calls = []
    monkeypatch.setattr(net_util, "_make_blocking_http_get", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(net_util, "get_external_ip", net_util.get_external_ip)  # restored after the test
    serve.no_external_ip_lookup()
    assert server_util.is_url_from_allowed_origins("http://rebind.example:8501") is False
    assert calls == []


def test_config_refuses_foreign_hosts():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"
    assert set(config["server"]["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}
    assert config["browser"]["gatherUsageStats"] is False
    from streamlit.web.server.starlette import starlette_websocket as ws
    from streamlit import config as st_config

    st_config.set_option("server.allowedHosts", config["server"]["allowedHosts"])
    try:
        assert ws.is_host_allowed("127.0.0.1:8501") and ws.is_host_allowed("localhost:8501")
        assert ws.is_host_allowed("[::1]:8501")
        assert not ws.is_host_allowed("rebind.example:8501")
        assert not ws.is_host_allowed("127.0.0.1.rebind.example")
    finally:
        st_config.set_option("server.allowedHosts", [])


def test_an_upload_is_stored_through_the_child_process_with_its_report(tmp_path):
    """The Data page's path: a GBK file with a decimal comma, mapped by the
    user, saved into the dashboard's (shared) store; the validation report
    comes back from the writing process."""
    from crmflow import upload

    text = "客户编号;下单日期;金额\r\n001;2024-01-05;12,50\r\n002;2024-02-01;1.234,50\r\n;2024-02-02;3,00\r\n"
    path = upload.save_upload(text.encode("gbk"), "销售.csv", tmp_path)
    preview = upload.inspect_file(path, "transactions")
    plan = upload.plan(preview, upload.default_choices(preview))
    with Store(tmp_path / "s.duckdb", shared=True) as store:
        saved = upload.save(store, "销售 2024", [plan])
        report = saved.reports[0]
        assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 2, 1)
        assert report.rejected_by_reason == {"missing customer id": 1}
        assert saved.dataset.name == "销售 2024" and saved.dataset.n_transactions == 2
        rows = store.db.run("list_datasets")
        assert list(rows["name"]) == ["销售 2024"]
        with pytest.raises(CrmflowError) as err:  # a refusal inside the child comes back as the same error
            upload.save(store, "销售 2024", [plan])
        assert err.value.key == "dataset_exists" and "销售 2024" in str(err.value)
    upload.discard(path)


# --------------------------------------------------------------------------- a real server
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_refuses_a_rebound_host_and_keeps_other_uploads_when_stopped(base_store, tmp_path):
    import asyncio
    import urllib.request

    import websockets

    store = copy_of(base_store, tmp_path / "db")
    with Store(store) as s:  # the server's head start finds its demo
        s.ingest("demo", write_sales(tmp_path / "d.csv", 500, 9))
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    env = {**os.environ, "CRMFLOW_DB": str(store), "TMPDIR": str(temp)}
    server = subprocess.Popen([PY, "-m", "crmflow.serve", "--server.port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")

        async def handshake(host: str) -> str:
            try:
                # to 127.0.0.1, with the Host and Origin a browser sends for a page on ``host``
                async with websockets.connect(f"ws://{host}/_stcore/stream", host="127.0.0.1", port=port,
                                              open_timeout=10, origin=f"http://{host}") as ws:
                    del ws
                    return "open"
            except websockets.exceptions.InvalidStatus as exc:
                return str(exc.response.status_code)

        assert asyncio.run(handshake(f"127.0.0.1:{port}")) == "open"
        assert asyncio.run(handshake(f"localhost:{port}")) == "open"
        assert asyncio.run(handshake(f"rebind.example:{port}")) == "403"  # DNS rebinding: refused
        # the reading command works beside the running dashboard
        listed = cli("datasets", "list", "--db", str(store))
        assert listed.returncode == 0 and "demo" in listed.stdout, listed.stderr
        upload_dir = temp / "crmflow-upload-abc"  # another server's upload (not made by this one)
        upload_dir.mkdir()
        (upload_dir / "sales.csv").write_bytes(b"x" * 1000)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    # a stopping server removes only the uploads it made (tests/test_storemend.py), never another's
    assert (temp / "crmflow-upload-abc" / "sales.csv").exists(), out[-2000:]
    # that no external-IP lookup happens (also for a local Host with a foreign Origin) is checked
    # at a counting proxy in tests/test_storemend.py (the printed output could not show it)


@needs_mount
def test_the_data_page_rename_on_a_full_disk_is_one_message(small_disk, tmp_path, monkeypatch):
    """What killed the dashboard for every session: the Data page's rename on
    a full disk. Now the page shows one error, and after space is freed the
    same session renames."""
    import gc

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    path = small_disk / "crmflow.duckdb"
    with Store(path) as store:
        store.ingest("demo", write_sales(tmp_path / "d.csv", 3000, 4))  # the page's default dataset
        store.ingest("old name", write_sales(tmp_path / "o.csv", 500, 5))
    before = fingerprint(path)
    monkeypatch.setenv("CRMFLOW_DB", str(path))
    monkeypatch.setenv("CRMFLOW_FREE_SPACE_MARGIN_MB", "0")  # let DuckDB itself meet the full disk
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.query_params["dataset"] = "demo"
        at.run()
        at.switch_page("pages/data.py")
        at.run()
        assert not at.exception, at.exception
        fill(small_disk)
        at.selectbox(key="data:manage").set_value("old name").run()
        at.text_input(key="data:rename_to").input("new name").run()
        at.button(key="data:rename").click().run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and ("disk space" in errors[0] or "engine stopped" in errors[0]), errors
        assert "bug" not in errors[0] and "Traceback" not in errors[0]
        (small_disk / "filler").unlink()
        at.button(key="data:rename").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert at.selectbox(key="data:manage").value == "new name"
    finally:
        st.cache_resource.clear()
        gc.collect()
    after = fingerprint(path)
    assert after["new name"] == before["old name"] and after["demo"] == before["demo"]


def test_two_dashboard_stores_in_one_process_share_the_file(base_store, tmp_path):
    """Streamlit can leave an earlier cached store open (a cleared cache does
    not close it): a write through the new one must not be refused by the old
    one, and both read the change; a closed store stays closed."""
    path = copy_of(base_store, tmp_path)
    old = Store(path, shared=True)
    new = Store(path, shared=True)
    closed = Store(path, shared=True)
    closed.close()
    try:
        new.rename("north", "east")
        assert sorted(old.names()) == sorted(new.names()) == ["east", "south"]
        assert closed.db._con is None
    finally:
        old.close()
        new.close()
