"""The benchmark: one command, every figure of the speed budget, in one run.

    .venv/bin/python -m bench.run --sizes 1m,10m --repeat 5        (or: make bench)

For each size it generates (or reuses) the synthetic data and a store holding
them with their stored results and fits (bench/generate.py), then measures,
each in fresh processes (bench/worker.py):

* every dashboard page's crmflow calls: cold (a new process opens the store
  and runs them once; the OS file cache is not dropped) and warm (the same
  calls again on that connection), medians over the runs, and the process's
  peak memory; also on the bundled demo data (a store holding ``demo``, the
  dataset the dashboard shows);
* the same computations in plain pandas (bench/pandas_baseline.py) on the same
  data, in the same run, and the ratio pandas / crmflow;
* the CLV fit (crmflow.clv) against the lifetimes package on the same
  calibration summary, with the largest relative difference of the parameters;
* the ingestion of the CSV (sizes up to 1m) against pandas.read_csv plus the
  same cleaning;
* whole processes of the command line (:func:`run_process`: a fresh
  ``python -m crmflow ...`` timed from start to exit, peak memory by
  bench/peak.py), medians over --repeat runs: ``crmflow --version``; each
  view's command (stages, flow, rfm, churn, health, matrix, trends, cohorts,
  pareto) on the stored data of the sizes up to 1m, and their time beyond
  that start-up; the meeting report (``crmflow report``) there and on the
  demo data;
* at the largest size: ``crmflow stages FILE`` on the transactions Parquet
  and CSV against plain pandas and one plain DuckDB query doing the same
  work (bench/worker.py ``pandas_stages`` / ``duckdb_stages``), each a whole
  process, with a check that the three give the same counts; and storing the
  three Parquet files with ``crmflow ingest`` into a new store file (results
  and fits included, checked), time and peak memory;
* once: the dashboard's first page, from starting streamlit to the Overview's
  stage cards visible in headless Chromium (on a new database, so the demo
  data are generated on the way, and again on a restart).
* once: ten concurrent browser sessions on the demo data (bench/sessions.py),
  each opening pages at random as-of dates: median and 95th percentile page time.

``--only GROUPS`` and the ``--no-*`` flags choose what a run measures (e.g.
``--only commands,stages-file,store`` for the command-line figures alone).
It writes RESULTS.md (machine, versions, medians, ratios, a verdict per
budget line) and the raw figures as JSON. Absolute times on a shared 2-core
machine are noisy; the ratios are measured against baselines run minutes
apart in the same session. No figure here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from bench.views import FLOW_DAYS, NOTES, VIEWS  # noqa: E402

GIB = 1024 ** 3
#: The speed budget (issue "Speed"), by size label where it depends on size.
BUDGET = {
    "view_warm_seconds": {generate.DEMO: 0.5, "1m": 0.3, "10m": 1.0},
    "view_cold_seconds": {"1m": 1.0},  # a new process, results stored
    "view_ratio": {"10m": 5.0},
    "peak_bytes": {"10m": 4 * GIB},
    "ingest_seconds": {"1m": 3.0},
    "clv_ratio": {"1m": 10.0},  # ~100k customers
    "clv_param_rel": 1e-3,
    "clv_seconds": {"10m": 1.0},  # ~1M customers
    "dashboard_seconds": 3.0,
    # `crmflow stages FILE`, whole processes, at the largest size from 1m up:
    # pandas / crmflow at least this (by format), crmflow / one DuckDB query at most that
    "stages_file_ratio": {"parquet": 3.0, "csv": 1.5},
    "stages_file_duckdb": 2.0,
    "store_seconds": {"10m": 60.0},  # `crmflow ingest`, results and fits included
    "store_peak_bytes": {"10m": 4 * GIB},
    "command_seconds": {"1m": 1.0},  # beyond the start-up (`crmflow --version`)
    "version_seconds": 0.3,
    "report_seconds": {generate.DEMO: 5.0, "1m": 15.0},
}
#: Pages the view budget applies to (the report is timed, not budgeted here).
BUDGET_VIEWS = ("overview", "flow", "churn", "key_accounts", "segments")
#: The views' commands (SPEC §4), timed as whole processes on a stored dataset;
#: ``stages`` first (the others' D is the one it prints).
COMMANDS = ("stages", "flow", "rfm", "churn", "health", "matrix", "trends", "cohorts", "pareto", "report")
#: What a run can measure (``--only``, the ``--no-*`` flags).
GROUPS = ("pages", "pandas", "clv", "ingest", "demo", "commands", "stages-file", "store", "dashboard", "sessions")


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- running workers
#: Run the tasks in this process instead of fresh ones (the smoke test: fast,
#: but cold runs are then not cold and peak memory is this process's).
IN_PROCESS = False


def run_process(argv: list[str], timeout: float, output: bool = False) -> dict:
    """``python ARGV`` (``-m MODULE ...`` or ``-c CODE``) in a fresh process
    started in the checkout (``-m crmflow`` is the ``crmflow`` command): its
    seconds from start to exit, its peak memory (bench/peak.py: the largest of
    it and the processes it waited for) and with ``output`` what it printed;
    or ``{"error": ...}``. A process still running after ``timeout`` seconds
    is killed with every process it started."""
    from bench.peak import MARK

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.peak", *argv], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out if output else subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                return {"error": f"timed out after {timeout:.0f} s"}
            raise
        seconds = time.perf_counter() - started
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
        marks = [i for i, line in enumerate(lines) if line.startswith(MARK)]
        peak = int(lines.pop(marks[-1])[len(MARK):]) if marks else None
        if proc.returncode != 0:
            return {"error": f"exited {proc.returncode}: {' '.join(lines[-2:])[:300]}"}
        run = {"seconds": seconds, "peak_rss": peak}
        if output:
            out.seek(0)
            run["stdout"] = out.read().decode()
        return run


def worker_process(task: str, timeout: float, kwargs: dict) -> dict:
    """One bench.worker task in a fresh process: its RESULT as a dict, with the
    whole process's seconds and peak memory under ``process``."""
    run = run_process(["-m", "bench.worker", task, "--args", json.dumps(kwargs, default=str)], timeout, output=True)
    if "error" in run:
        return run
    for line in reversed(run.pop("stdout").splitlines()):
        if line.startswith("RESULT "):
            return {**json.loads(line[len("RESULT "):]), "process": run}
    return {"error": "the worker printed no RESULT line"}


def worker(task: str, timeout: float, **kwargs) -> dict:
    """Run one bench.worker task in a fresh process (in this one with
    ``--in-process``); its RESULT as a dict."""
    if IN_PROCESS:
        from bench.worker import TASKS, _error

        try:
            return json.loads(json.dumps(TASKS[task](**kwargs), default=str))
        except Exception as exc:
            return {"error": _error(exc)}
    return worker_process(task, timeout, kwargs)


def repeated(what: str, run, args) -> list[dict]:
    """``run()`` (a fresh process) up to --repeat times: at least once, no new
    run after a failure or once --time-limit seconds have passed."""
    runs: list[dict] = []
    end = time.perf_counter() + args.time_limit
    for k in range(max(1, args.repeat)):
        log(f"  {what} {k + 1}/{args.repeat}")
        runs.append(run())
        if "error" in runs[-1] or time.perf_counter() > end:
            break
    return runs


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def minimum(values) -> float | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


# --------------------------------------------------------------------------- measurements
def measure_views(paths: generate.Paths, views: list[str], args, dataset: str | None = None) -> dict:
    out = {}
    for view in views:
        processes = []
        for k in range(args.cold):
            log(f"  crmflow {view}: process {k + 1}/{args.cold}")
            res = worker("view", args.timeout, store=str(paths.store), view=view,
                         warm=args.repeat if k == 0 else 0, time_limit=args.time_limit, dataset=dataset)
            processes.append(res)
            if "error" in res:
                break
            if sum(res["cold"].values()) > args.time_limit:  # slow: one cold sample is all we can afford
                break
        out[view] = processes
    return out


def measure_pandas(paths: generate.Paths, views: list[str], args) -> dict:
    log("  pandas baseline")
    return worker("pandas", args.timeout * len(views), data_dir=str(paths.root), views=views,
                  repeat=args.repeat, time_limit=args.time_limit)


def measure_clv(paths: generate.Paths, args, scratch: Path) -> dict:
    arrays = scratch / f"clv_{paths.root.name}.npz"
    log("  CLV fit: crmflow")
    ours = worker("clv", args.timeout, store=str(paths.store), arrays_path=str(arrays), repeat=args.repeat)
    if "error" in ours:
        return {"crmflow": ours, "lifetimes": {"error": "n/a (no summary)"}}
    log("  CLV fit: lifetimes")
    theirs = worker("lifetimes", args.lifetimes_limit + 60, arrays_path=str(arrays), repeat=args.repeat,
                    time_limit=args.lifetimes_limit)
    return {"crmflow": ours, "lifetimes": theirs}


def measure_ingest(paths: generate.Paths, args) -> dict:
    csv = str(paths.file("transactions", "csv"))
    ours, theirs = [], []
    for k in range(args.cold):
        log(f"  ingest {k + 1}/{args.cold}")
        ours.append(worker("ingest", args.timeout, csv=csv))
        theirs.append(worker("pandas_ingest", args.timeout, csv=csv))
    return {"crmflow": ours, "pandas": theirs}


def measure_commands(store: Path, dataset: str, commands, args, scratch: Path) -> dict:
    """Each command on a stored dataset (``crmflow CMD --db STORE --dataset
    NAME``, D its last order date), whole processes: {command: runs}."""
    out: dict[str, list] = {}
    as_of = None
    for cmd in (c for c in COMMANDS if c in commands):
        argv = ["-m", "crmflow", cmd, "--db", str(store), "--dataset", dataset]
        if cmd == "flow":  # the Flow page's default: the last year up to D
            if as_of is None:
                out[cmd] = [{"error": "n/a (no D: `crmflow stages` printed none)"}]
                continue
            argv += ["--from", (as_of - timedelta(days=FLOW_DAYS)).isoformat(), "--to", as_of.isoformat()]
        elif cmd == "report":
            argv += ["--out", str(scratch / f"report_{dataset}.html")]
        out[cmd] = repeated(f"crmflow {cmd} ({dataset})",
                            functools.partial(run_process, argv, args.timeout, output=cmd == "stages"), args)
        for run in out[cmd]:
            if "stdout" in run:
                as_of = date.fromisoformat(json.loads(run.pop("stdout"))["as_of"])
    return out


def _stages_run(side: str, file: Path, timeout: float) -> dict:
    """One whole process computing the stage counts of ``file``: ``crmflow stages
    FILE``, or the pandas or DuckDB baseline (bench.worker); seconds, peak
    memory, D and the counts."""
    if side == "crmflow":
        run = run_process(["-m", "crmflow", "stages", str(file)], timeout, output=True)
        if "stdout" in run:
            run.update(json.loads(run.pop("stdout")))
        return run
    from crmflow.config import Params

    kwargs = {"file": str(file), **({"params": Params().as_sql_params()} if side == "duckdb" else {})}
    res = worker_process(f"{side}_stages", timeout, kwargs)
    return res if "error" in res else {**res.pop("process"), **res}


def measure_stages_file(paths: generate.Paths, args) -> dict:
    """``crmflow stages FILE`` on the transactions Parquet and CSV against plain
    pandas and one plain DuckDB query doing the same, each a whole process."""
    return {fmt: {side: repeated(f"stages {fmt}: {side}",
                                 functools.partial(_stages_run, side, paths.file("transactions", fmt), args.timeout),
                                 args)
                  for side in ("crmflow", "pandas", "duckdb")}
            for fmt in ("parquet", "csv")}


def measure_store(paths: generate.Paths, args, scratch: Path) -> dict:
    """``crmflow ingest`` of the three Parquet files into a new store file,
    whole process (results and fits are stored before it returns), and a
    check that they were."""
    folder = scratch / "store"
    store = folder / "crmflow.duckdb"
    argv = ["-m", "crmflow", "ingest", str(paths.file("transactions", "parquet")),
            "--customers", str(paths.file("customers", "parquet")),
            "--interactions", str(paths.file("interactions", "parquet")),
            "--name", generate.DATASET_NAME, "--db", str(store)]

    def once() -> dict:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return run_process(argv, args.timeout)

    runs = repeated("crmflow ingest", once, args)
    stored = worker_process("stored", args.timeout, {"store": str(store), "dataset": generate.DATASET_NAME}) \
        if "error" not in runs[-1] else None
    shutil.rmtree(folder, ignore_errors=True)
    return {"runs": runs, "stored": stored}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm_hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def start_dashboard(db_path: Path, port: int) -> subprocess.Popen:
    """``python -m crmflow.serve`` on ``db_path``, listening on 127.0.0.1:``port`` only."""
    env = {**os.environ, "CRMFLOW_DB": str(db_path)}
    cmd = [sys.executable, "-m", "crmflow.serve", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_health(port: int, deadline: float) -> bool:
    """Poll the dashboard's health endpoint until it answers or ``deadline`` (perf_counter) passes."""
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_dashboard(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _dashboard_once(browser, db_path: Path, timeout: float) -> dict:
    port = _free_port()
    started = time.perf_counter()
    proc = start_dashboard(db_path, port)
    out: dict = {}
    try:
        if not wait_for_health(port, started + timeout):
            return {"error": f"no health answer in {timeout:.0f} s"}
        out["health"] = time.perf_counter() - started
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"http://127.0.0.1:{port}/", timeout=timeout * 1000)
            # the five stage cards of the Overview (language-independent)
            page.locator('[data-testid="stMetricValue"]').nth(4).wait_for(timeout=timeout * 1000)
            out["first_page"] = time.perf_counter() - started
            try:
                page.locator(".js-plotly-plot").first.wait_for(timeout=timeout * 1000)
                out["first_chart"] = time.perf_counter() - started
            except Exception:
                out["first_chart"] = None
        finally:
            page.close()
        out["peak_rss"] = _vm_hwm(proc.pid)
    except Exception as exc:
        out["error"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        stop_dashboard(proc)
    return out


def measure_dashboard(args) -> dict:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"error": "n/a (chromium is not installed: apt-get install -y chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"error": "n/a (playwright is not installed)"}
    runs: dict[str, list] = {"new_database": [], "restart": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for k in range(args.dashboard_repeat):
                log(f"  dashboard {k + 1}/{args.dashboard_repeat}")
                with tempfile.TemporaryDirectory() as tmp:
                    db = Path(tmp) / "crmflow.duckdb"
                    runs["new_database"].append(_dashboard_once(browser, db, args.dashboard_timeout))
                    runs["restart"].append(_dashboard_once(browser, db, args.dashboard_timeout))
        finally:
            browser.close()
    return runs


# --------------------------------------------------------------------------- machine
def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_bytes": ram, "os": platform.platform(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("duckdb", "pandas", "numpy", "scipy", "pyarrow", "lifetimes", "streamlit", "playwright"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# --------------------------------------------------------------------------- main
def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1m,10m", help="comma-separated: tiny, 100k, 1m, 10m, or e.g. 2m")
    ap.add_argument("--repeat", type=int, default=5, help="warm runs (and pandas / CLV runs) per measurement")
    ap.add_argument("--cold", type=int, default=3, help="fresh processes per page (cold runs) and ingests")
    ap.add_argument("--views", default=",".join(VIEWS), help="pages to measure")
    ap.add_argument("--time-limit", type=float, default=60.0,
                    help="stop repeating a measurement after this many seconds (at least one warm run)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="kill a worker process after this long")
    ap.add_argument("--lifetimes-limit", type=float, default=300.0, help="time box of the lifetimes fits")
    ap.add_argument("--no-dashboard", action="store_true", help="skip the dashboard start-up measurement")
    ap.add_argument("--dashboard-repeat", type=int, default=3)
    ap.add_argument("--dashboard-timeout", type=float, default=120.0)
    ap.add_argument("--sessions", type=int, default=10,
                    help="concurrent browser sessions on the demo data (bench/sessions.py; skipped with --no-dashboard); 0 to skip")
    ap.add_argument("--session-pages", type=int, default=6, help="pages each concurrent session opens")
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    ap.add_argument("--pages-only", action="store_true",
                    help="measure the pages (and their pandas baseline) only: no CLV, ingest or dashboard")
    ap.add_argument("--no-demo", action="store_true", help="skip the pages on the demo data")
    ap.add_argument("--no-commands", action="store_true",
                    help="skip the commands' whole processes (`--version`, each view's command and the report "
                         "on the stored data up to 1m and the demo)")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="the commands to time (with the commands group)")
    ap.add_argument("--no-stages-file", action="store_true",
                    help="skip `crmflow stages FILE` against pandas and DuckDB (at the largest size)")
    ap.add_argument("--no-store", action="store_true",
                    help="skip storing the largest size with `crmflow ingest` (results and fits included)")
    ap.add_argument("--only", default=None,
                    help=f"measure only these groups (comma-separated: {', '.join(GROUPS)}); "
                         "e.g. --only commands,stages-file,store for the command-line figures")
    ap.add_argument("--in-process", action="store_true",
                    help="run the workers' measurements in this process (quick check of the harness; not a "
                         "benchmark); the commands' whole processes stay processes")
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("CRMFLOW_BENCH_DATA", generate.DEFAULT_DATA_DIR)))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=None, help="raw figures (default: bench/out/results.json)")
    args = ap.parse_args(argv)
    args.sizes, args.views, args.commands = _names(args.sizes), _names(args.views), _names(args.commands)
    args.only = None if args.only is None else _names(args.only)
    for what, given, known in (("views", args.views, VIEWS), ("commands", args.commands, COMMANDS),
                               ("groups", args.only or (), GROUPS)):
        unknown = [v for v in given if v not in known]
        if unknown:
            ap.error(f"unknown {what} {unknown}; known: {', '.join(known)}")
    if args.json is None:
        args.json = ROOT / "bench" / "out" / "results.json"
    args.groups = selected_groups(args)
    return args


def _names(text: str) -> list[str]:
    """A comma-separated list (``none``: empty)."""
    return [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]


def selected_groups(args) -> set[str]:
    """The groups of measurements this run makes: ``--only`` (default all), less the skipped ones."""
    groups = set(args.only or GROUPS)
    if args.pages_only:
        groups &= {"pages", "pandas"}
    skipped = {"pages": not args.views, "pandas": args.no_pandas or not args.views,
               "dashboard": args.no_dashboard, "sessions": args.no_dashboard or args.sessions <= 0,
               "demo": args.no_demo or not args.views, "commands": args.no_commands or not args.commands,
               "stages-file": args.no_stages_file, "store": args.no_store}
    return groups - {g for g, skip in skipped.items() if skip}


def main(argv: list[str] | None = None) -> int:
    global IN_PROCESS
    args = parse_args(argv)
    IN_PROCESS = args.in_process
    started = time.perf_counter()
    results: dict = {"started": datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                     "versions": versions(), "argv": sys.argv[1:] if argv is None else list(argv),
                     "settings": {"repeat": args.repeat, "cold": args.cold, "time_limit": args.time_limit,
                                  "in_process": args.in_process},
                     "sizes": {}}
    groups = args.groups
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if "commands" in groups:
            results["version"] = repeated("crmflow --version", functools.partial(
                run_process, ["-m", "crmflow", "--version"], args.timeout), args)
        demo_commands = [c for c in args.commands if c == "report" and "commands" in groups]
        if "demo" in groups or demo_commands:
            log("demo data")
            paths = generate.ensure_demo(args.data_dir, log=log)
            size = {"meta": json.loads(paths.meta.read_text()), "views": {}}
            if "demo" in groups:
                size["views"] = measure_views(paths, args.views, args, dataset=generate.DEMO)
            if demo_commands:
                size["commands"] = measure_commands(paths.store, generate.DEMO, demo_commands, args, scratch)
            results["sizes"][generate.DEMO] = size
            _save(results, args, partial=True)
        for label in args.sizes if groups - {"demo", "dashboard", "sessions"} else ():
            log(f"size {label}")
            paths = generate.ensure(label, args.data_dir, log=log)
            size = {"meta": json.loads(paths.meta.read_text()), "views": {}}
            if "pages" in groups:
                size["views"] = measure_views(paths, args.views, args)
            if "pandas" in groups:
                size["pandas"] = measure_pandas(paths, args.views, args)
            if "clv" in groups:
                size["clv"] = measure_clv(paths, args, scratch)
            up_to_1m = generate.parse_size(label) <= 1_000_000
            if "ingest" in groups and up_to_1m:
                size["ingest"] = measure_ingest(paths, args)
            if "commands" in groups and up_to_1m:
                size["commands"] = measure_commands(paths.store, generate.DATASET_NAME, args.commands, args, scratch)
            results["sizes"][label] = size
            _save(results, args, partial=True)  # a later failure keeps what was measured
        largest = max(args.sizes, key=generate.parse_size, default=None)
        if largest is not None and groups & {"stages-file", "store"}:
            log(f"whole processes at {largest}")
            paths = generate.size_dir(args.data_dir, largest)
            if "stages-file" in groups:
                results["sizes"][largest]["stages_file"] = measure_stages_file(paths, args)
            if "store" in groups:
                results["sizes"][largest]["store"] = measure_store(paths, args, scratch)
            _save(results, args, partial=True)
        if "dashboard" in groups:
            log("dashboard")
            results["dashboard"] = measure_dashboard(args)
        if "sessions" in groups:
            from bench import sessions

            log(f"{args.sessions} concurrent sessions")
            results["sessions"] = sessions.measure(args.sessions, args.session_pages)
    results["seconds"] = time.perf_counter() - started
    _save(results, args)
    log(f"wrote {args.out} and {args.json} in {results['seconds']:.0f} s")
    return 0


def _save(results: dict, args, partial: bool = False) -> None:
    from bench.results import write_results

    results["machine"]["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    results["partial"] = partial
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str))
    write_results(results, args.out, BUDGET, BUDGET_VIEWS, NOTES)


if __name__ == "__main__":
    sys.exit(main())
