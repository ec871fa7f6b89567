"""One measurement in a fresh process (started by :mod:`bench.run`).

    python -m bench.worker TASK --args JSON

Prints one line ``RESULT {json}`` last. Tasks:

``view``       open the store, run one page's components once (cold: a fresh
               process and connection; the OS file cache is left as it is),
               then ``warm`` more times on the same connection.
``pandas``     load the Parquet files, then run each page's pandas baseline.
``clv``        crmflow's BG/NBD + Gamma-Gamma fit on the store's calibration
               summary (and save the summary for ``lifetimes``).
``lifetimes``  BetaGeoFitter + GammaGammaFitter on the same summary.
``ingest``     crmflow's ingestion of a CSV into an in-memory store.
``pandas_ingest``  pandas.read_csv and the same cleaning, plainly.
``pandas_stages``  ``crmflow stages FILE`` in plain pandas: read the file, the
               stage counts at its last order date (bench/pandas_baseline.py).
``duckdb_stages``  the same counts by one plain DuckDB query over the file
               (:data:`STAGES_SQL`): the engine's limit.
``stored``     whether a store's dataset has its results and fits stored.

Peak memory is the process's peak resident set (VmHWM from /proc; on other
systems ru_maxrss), which counts DuckDB's own allocations, unlike tracemalloc.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def peak_rss() -> int:
    """Peak resident set size of this process in bytes."""
    try:
        text = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) * 1024
    except (OSError, AttributeError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024


def reset_peak_rss() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _error(exc: BaseException) -> str:
    lines = [ln for ln in traceback.format_exception_only(type(exc), exc) if ln.strip()]
    return "error: " + " ".join(lines[-1].split())[:300]


def _timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - started, value


# --------------------------------------------------------------------------- tasks
#: A page whose cold run takes longer than this gets no warm runs: it cannot be
#: near a budget of seconds, and a warm run would take as long again.
WARM_SKIP_SECONDS = 60.0
#: A page's calls stop being started after this long (the harness kills a
#: worker at --timeout, 1800 s by default): the rest are reported as not measured.
PAGE_TIME_BOX = 420.0
#: The pandas baseline stops starting pages after this long in one process.
PANDAS_PROCESS_BOX = 1200.0


def task_view(store: str, view: str, warm: int, time_limit: float, dataset: str | None = None) -> dict:
    from bench.generate import DATASET_NAME
    from bench.views import VIEWS, Ctx, crmflow_components
    from crmflow.db import Database
    from crmflow.stages import data_range

    components = crmflow_components()
    started = time.perf_counter()
    db = Database(store)
    dataset_id = int(db.run("get_dataset", dataset_name=dataset or DATASET_NAME).iloc[0]["dataset_id"])
    first, last = data_range(db, dataset_id)
    ctx = Ctx(db, dataset_id, first, last)
    open_seconds = time.perf_counter() - started
    na: dict[str, str] = {}
    runs: list[dict[str, float]] = []
    budget_end = time.perf_counter() + time_limit
    skipped = None
    for i in range(1 + warm):
        run: dict[str, float] = {}
        db.forget()  # warm = the work on a warm connection, not crmflow's in-process memo (the CLV fit)
        cpu = time.process_time()
        for name in VIEWS[view]:
            if name in na:
                continue
            if time.perf_counter() - started > PAGE_TIME_BOX:
                na[name] = (f"not measured (time box: the page's calls before it took "
                            f"{time.perf_counter() - started:.0f} s)")
                continue
            try:
                run[name], _ = _timed(components[name], ctx)
            except Exception as exc:  # a broken component is reported, not fatal
                na[name] = _error(exc)
        run["_cpu"] = time.process_time() - cpu  # every thread of the process
        runs.append(run)
        if i >= 1 and time.perf_counter() > budget_end:
            break
        cold_seconds = sum(v for k, v in runs[0].items() if not k.startswith("_"))
        if i == 0 and warm and cold_seconds > max(WARM_SKIP_SECONDS, time_limit):
            skipped = f"cold run took {cold_seconds:.0f} s"
            break
    db.close()
    return {"open": open_seconds, "cold": runs[0], "warm": runs[1:], "na": na, "peak_rss": peak_rss(),
            "as_of": last.isoformat(), "first": first.isoformat(), "warm_skipped": skipped}


def task_pandas(data_dir: str, views: list[str], repeat: int, time_limit: float) -> dict:
    from bench.pandas_baseline import Data
    from bench.views import VIEWS, Ctx, pandas_components

    components = pandas_components()
    load_seconds, data = _timed(Data.load, Path(data_dir))
    load_rss = peak_rss()
    first, last = components["data_range"](data, None)
    ctx = Ctx(None, 0, first, last)
    out = {"load": load_seconds, "load_peak_rss": load_rss, "views": {}}
    process_end = time.perf_counter() + PANDAS_PROCESS_BOX
    for view in views:
        names = [n for n in VIEWS[view] if n in components]
        if not names:
            continue
        reset_peak_rss()
        runs = []
        skipped: dict[str, str] = {}
        budget_end = time.perf_counter() + time_limit
        error = None
        for _ in range(repeat):
            fresh = data.fresh()  # each page run builds its derived frames once
            run = {}
            cpu = time.process_time()
            page_end = time.perf_counter() + PAGE_TIME_BOX
            partial = False
            try:
                for name in names:
                    if runs and time.perf_counter() > page_end:
                        partial = True  # a repeat that ran out of time is dropped
                        break
                    if time.perf_counter() > min(page_end, process_end):
                        skipped[name] = "not measured (time box)"
                        continue
                    run[name], _ = _timed(components[name], fresh, ctx)
                run["_cpu"] = time.process_time() - cpu
            except Exception as exc:
                error = _error(exc)
                break
            if partial:
                break
            runs.append(run)
            if time.perf_counter() > budget_end:
                break
        out["views"][view] = {"runs": runs, "peak_rss": peak_rss(), "error": error, "skipped": skipped}
    return out


def _summary_arrays(store: str, calibration_end=None):
    from bench.generate import DATASET_NAME
    from crmflow.db import Database
    from crmflow.stages import data_range

    db = Database(store)
    try:
        dataset_id = int(db.run("get_dataset", dataset_name=DATASET_NAME).iloc[0]["dataset_id"])
        end = calibration_end or data_range(db, dataset_id)[1]
        seconds, summary = _timed(lambda: db.run("clv_summary", dataset_id=dataset_id, calibration_end=end))
    finally:
        db.close()
    import numpy as np

    arrays = {k: summary[c].to_numpy(np.float64) for k, c in
              (("x", "frequency"), ("tx", "recency_weeks"), ("T", "t_weeks"), ("m", "monetary"))}
    return seconds, arrays


def task_clv(store: str, arrays_path: str, repeat: int) -> dict:
    import numpy as np

    from crmflow.clv import BGNBD, GammaGamma

    query_seconds, a = _summary_arrays(store)
    np.savez(arrays_path, **a)
    times, spend_times, cpu_times = [], [], []
    for _ in range(repeat):
        cpu = time.process_time()
        t, bg = _timed(lambda: BGNBD().fit(a["x"], a["tx"], a["T"]))
        s, gg = _timed(lambda: GammaGamma().fit(a["x"], a["m"]))
        cpu_times.append(time.process_time() - cpu)
        times.append(t)
        spend_times.append(s)
    return {"customers": int(a["x"].size), "repeat_buyers": int(np.count_nonzero(a["x"])),
            "summary_query": query_seconds, "bgnbd": times, "gamma_gamma": spend_times,
            "total": [t + s for t, s in zip(times, spend_times)], "cpu": cpu_times,
            "params": {**bg.params_, **gg.params_}, "converged": bool(bg.converged_ and gg.converged_),
            "peak_rss": peak_rss()}


def task_lifetimes(arrays_path: str, repeat: int, time_limit: float) -> dict:
    import warnings

    import numpy as np

    try:
        import lifetimes
    except ImportError:
        return {"error": "n/a (lifetimes is not installed)"}
    warnings.filterwarnings("ignore")
    a = dict(np.load(arrays_path))
    usable = (a["x"] > 0) & (a["m"] > 0)
    times, spend_times, cpu_times = [], [], []
    budget_end = time.perf_counter() + time_limit
    for _ in range(repeat):
        cpu = time.process_time()
        t, bg = _timed(lambda: lifetimes.BetaGeoFitter().fit(a["x"], a["tx"], a["T"]))
        s, gg = _timed(lambda: lifetimes.GammaGammaFitter().fit(a["x"][usable], a["m"][usable]))
        cpu_times.append(time.process_time() - cpu)
        times.append(t)
        spend_times.append(s)
        if time.perf_counter() > budget_end:
            break
    params = {k: float(bg.params_[k]) for k in ("r", "alpha", "a", "b")}
    params.update({k: float(gg.params_[k]) for k in ("p", "q", "v")})
    return {"customers": int(a["x"].size), "bgnbd": times, "gamma_gamma": spend_times,
            "total": [t + s for t, s in zip(times, spend_times)], "cpu": cpu_times, "params": params,
            "peak_rss": peak_rss()}


def task_ingest(csv: str) -> dict:
    from crmflow.store import Store

    started = time.perf_counter()
    with Store(in_memory=True) as store:
        result = store.ingest("bench", csv)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.dataset.n_transactions, "rejected": result.dataset.n_rejected,
            "peak_rss": peak_rss()}


def task_pandas_ingest(csv: str) -> dict:
    from bench.pandas_baseline import ingest_csv

    seconds, (frame, rejected) = _timed(ingest_csv, Path(csv))
    return {"seconds": seconds, "rows": len(frame), "rejected": rejected, "peak_rss": peak_rss()}


def task_pandas_stages(file: str) -> dict:
    from bench.pandas_baseline import Data, read_transactions, stage_counts

    read_seconds, tx = _timed(read_transactions, Path(file))
    as_of = tx.loc[tx["amount"] > 0, "order_date"].max().date()
    return {"as_of": as_of.isoformat(), "counts": stage_counts(Data(tx, None), as_of), "read_seconds": read_seconds}


#: ``crmflow stages FILE``'s counts as one plain DuckDB query over the file
#: (SPEC §2, a transactions file alone: every customer with an order line; the
#: orders are the lines of amount > 0 by order id, else by the customer's day;
#: D is the last order date). A baseline of the benchmark, not a product query.
STAGES_SQL = """
WITH lines AS (
    SELECT customer_id, order_id, order_date FROM {source} WHERE amount > 0
), d AS (
    SELECT MAX(order_date) AS d FROM lines
), orders AS (
    SELECT customer_id, MIN(order_date) AS order_date
    FROM lines GROUP BY customer_id, COALESCE(order_id, 'day:' || CAST(order_date AS VARCHAR))
), per_customer AS (
    SELECT customer_id, COUNT(*) AS orders, MAX(order_date) AS last_order_date,
           COUNT(*) FILTER (WHERE order_date > d.d - {loyal_window_days}) AS recent_orders
    FROM orders, d GROUP BY customer_id
)
SELECT CASE WHEN d.d - last_order_date > {lost_after_days} THEN 'lost'
            WHEN recent_orders >= {loyal_orders} THEN 'loyal'
            WHEN orders >= 2 THEN 'repeat' ELSE 'first' END AS stage,
       COUNT(*) AS customers, ANY_VALUE(d.d) AS as_of
FROM per_customer, d GROUP BY stage
"""
#: How the query reads each kind of file (the ids as text, as crmflow reads them).
STAGES_SOURCE = {".parquet": "read_parquet({file})",
                 ".csv": "read_csv({file}, types = {{'customer_id': 'VARCHAR', 'order_id': 'VARCHAR'}})"}


def task_duckdb_stages(file: str, params: dict) -> dict:
    import duckdb

    # the values as literals: binding Python parameters makes the duckdb client
    # import pandas and numpy (~0.5 s), no part of the engine's work
    source = STAGES_SOURCE[Path(file).suffix].format(file="'" + file.replace("'", "''") + "'")
    sql = STAGES_SQL.format(source=source, **{k: int(v) for k, v in params.items()})
    con = duckdb.connect()
    seconds, rows = _timed(lambda: con.execute(sql).fetchall())
    return {"as_of": rows[0][2].isoformat(), "counts": {stage: n for stage, n, _ in rows}, "query_seconds": seconds}


def task_stored(store: str, dataset: str) -> dict:
    from crmflow import results
    from crmflow.store import Store

    with Store(store, read_only=True) as s:
        dataset_id = s.get(dataset).dataset_id
        return {"results": results.has_results(s.db, dataset_id), "fits": dataset_id not in results.without_fits(s.db)}


TASKS = {"view": task_view, "pandas": task_pandas, "clv": task_clv, "lifetimes": task_lifetimes,
         "ingest": task_ingest, "pandas_ingest": task_pandas_ingest, "pandas_stages": task_pandas_stages,
         "duckdb_stages": task_duckdb_stages, "stored": task_stored}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=sorted(TASKS))
    ap.add_argument("--args", default="{}", help="keyword arguments as JSON")
    args = ap.parse_args(argv)
    try:
        result = TASKS[args.task](**json.loads(args.args))
    except Exception as exc:
        result = {"error": _error(exc)}
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
