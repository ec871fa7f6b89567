"""The benchmark: one command, every figure of the speed budget, in one run.

    .venv/bin/python -m bench.run --sizes 1m,10m --repeat 5        (or: make bench)

For each size it generates (or reuses) the synthetic data (bench/generate.py),
then measures, each in fresh processes (bench/worker.py):

* every dashboard page's crmflow calls: cold (a new process and connection;
  the OS file cache is not dropped) and warm (the same calls again on that
  connection), medians over the runs, and the process's peak memory;
* the same computations in plain pandas (bench/pandas_baseline.py) on the same
  data, in the same run, and the ratio pandas / crmflow;
* the CLV fit (crmflow.clv) against the lifetimes package on the same
  calibration summary, with the largest relative difference of the parameters;
* the ingestion of the CSV (sizes up to 1m) against pandas.read_csv plus the
  same cleaning;
* once: the dashboard's first page, from starting streamlit to the Overview's
  stage cards visible in headless Chromium (on a new database, so the demo
  data are generated on the way, and again on a restart).
* once: ten concurrent browser sessions on the demo data (bench/sessions.py),
  each opening pages at random as-of dates: median and 95th percentile page time.

It writes RESULTS.md (machine, versions, medians, ratios, a verdict per
budget line) and the raw figures as JSON. Absolute times on a shared 2-core
machine are noisy; the ratios are measured against baselines run minutes
apart in the same session. No figure here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from bench.views import NOTES, VIEWS  # noqa: E402

GIB = 1024 ** 3
#: The speed budget (issue "Speed"), by size label where it depends on size.
BUDGET = {
    "view_warm_seconds": {"1m": 0.3, "10m": 1.0},
    "view_ratio": {"10m": 5.0},
    "peak_bytes": {"10m": 4 * GIB},
    "ingest_seconds": {"1m": 3.0},
    "clv_ratio": {"1m": 10.0},  # ~100k customers
    "clv_param_rel": 1e-3,
    "clv_seconds": {"10m": 1.0},  # ~1M customers
    "dashboard_seconds": 3.0,
}
#: Pages the view budget applies to (the report is timed, not budgeted here).
BUDGET_VIEWS = ("overview", "flow", "churn", "key_accounts", "segments")


def log(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- running workers
#: Run the tasks in this process instead of fresh ones (the smoke test: fast,
#: but cold runs are then not cold and peak memory is this process's).
IN_PROCESS = False


def worker(task: str, timeout: float, **kwargs) -> dict:
    """Run one bench.worker task in a fresh process; its RESULT as a dict."""
    if IN_PROCESS:
        from bench.worker import TASKS, _error

        try:
            return json.loads(json.dumps(TASKS[task](**kwargs), default=str))
        except Exception as exc:
            return {"error": _error(exc)}
    cmd = [sys.executable, "-m", "bench.worker", task, "--args", json.dumps(kwargs, default=str)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = " ".join((proc.stderr or "").strip().splitlines()[-2:])[:300]
    return {"error": f"worker exited {proc.returncode}: {tail}"}


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def minimum(values) -> float | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


# --------------------------------------------------------------------------- measurements
def measure_views(paths: generate.Paths, views: list[str], args) -> dict:
    out = {}
    for view in views:
        processes = []
        for k in range(args.cold):
            log(f"  crmflow {view}: process {k + 1}/{args.cold}")
            res = worker("view", args.timeout, store=str(paths.store), view=view,
                         warm=args.repeat if k == 0 else 0, time_limit=args.time_limit)
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
    ap.add_argument("--in-process", action="store_true",
                    help="run every measurement in this process (quick check of the harness; not a benchmark)")
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("CRMFLOW_BENCH_DATA", generate.DEFAULT_DATA_DIR)))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=None, help="raw figures (default: bench/out/results.json)")
    args = ap.parse_args(argv)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip() and s.strip() != "none"]
    args.views = [v.strip() for v in args.views.split(",") if v.strip() and v.strip() != "none"]
    unknown = [v for v in args.views if v not in VIEWS]
    if unknown:
        ap.error(f"unknown views {unknown}; known: {', '.join(VIEWS)}")
    if args.json is None:
        args.json = ROOT / "bench" / "out" / "results.json"
    return args


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
    with tempfile.TemporaryDirectory() as scratch:
        for label in args.sizes:
            log(f"size {label}")
            paths = generate.ensure(label, args.data_dir, log=log)
            meta = json.loads(paths.meta.read_text())
            size: dict = {"meta": meta}
            size["views"] = measure_views(paths, args.views, args)
            if not args.no_pandas and args.views:
                size["pandas"] = measure_pandas(paths, args.views, args)
            if not args.pages_only:
                size["clv"] = measure_clv(paths, args, Path(scratch))
            if generate.parse_size(label) <= 1_000_000 and not args.pages_only:
                size["ingest"] = measure_ingest(paths, args)
            results["sizes"][label] = size
            _save(results, args, partial=True)  # a later failure keeps what was measured
        if not args.no_dashboard and not args.pages_only:
            log("dashboard")
            results["dashboard"] = measure_dashboard(args)
        if args.sessions > 0 and not args.pages_only and not args.no_dashboard:
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
