"""Time and profile the named queries behind the pages on one generated size.

    .venv/bin/python -m bench.profile --size 10m [--queries stage_snapshots,rfm] [--explain]
        [--limit 120]

Runs each query's compiled SQL (crmflow.db.compiled, with the staging views
of the benchmark dataset) with the parameters the page uses: once cold (the
first run in this process) and ``--repeat`` times warm, printing the medians.
``--explain`` also writes DuckDB's ``EXPLAIN ANALYZE`` of each query to
``bench/out/profile/<size>/<query>.txt`` (operator timings and row counts).
A query still running after ``--limit`` seconds is interrupted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402
from bench.views import FLOW_BAND, FLOW_DAYS  # noqa: E402
from crmflow.config import Params  # noqa: E402
from crmflow.db import Database, compiled  # noqa: E402
from crmflow.stages import data_range, month_ends  # noqa: E402


def query_params(first, last, params: Params = Params()) -> dict[str, dict]:
    """The parameters each page passes to each named query."""
    p = params.as_sql_params()
    start = max(first, last - timedelta(days=FLOW_DAYS))
    ends = month_ends(first, last)
    return {
        "last_order_date": {},
        "stage_counts": {"dates": [last], **p},
        "stage_snapshots": {"dates": ends, **p},
        "ntd_monthly": {"dates": ends, "lost_after_days": params.lost_after_days,
                        "loyal_window_days": params.loyal_window_days},
        "pareto": {"as_of": last, "measure": "revenue"},
        "won_back_lost_monthly": {"as_of": last, "lost_after_days": params.lost_after_days},
        "stage_flow": {"dates": [start, last], **p},
        "flow_customers": {"dates": [start, last], "from_stage": FLOW_BAND[0], "to_stage": FLOW_BAND[1], **p},
        "order_rhythm": {"as_of": last},
        "rfm": {"as_of": last},
        "cohort_retention": {"as_of": last},
        "clv_summary": {"calibration_end": last},
        "customer_stages": {"dates": [last], **p},
    }


def _interrupt_after(cur, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, cur.interrupt)
    timer.daemon = True
    timer.start()
    return timer


def run_sql(db: Database, dataset_id: int, sql: str, params: dict, limit: float,
            explain: bool = False) -> tuple[float | None, object]:
    """(seconds or None when interrupted, rows or the EXPLAIN ANALYZE text)."""
    used = {k: v for k, v in params.items() if "$" + k in sql}
    with db.cursor(dataset_id) as cur:
        timer = _interrupt_after(cur, limit)
        started = time.perf_counter()
        try:
            if explain:
                rows = cur.execute("EXPLAIN ANALYZE " + sql, used).fetchall()
                value = "\n".join(str(r[1]) for r in rows)
            else:
                value = cur.execute(sql, used).df()
        except Exception as exc:  # interrupted (or broken)
            return None, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        finally:
            timer.cancel()
        return time.perf_counter() - started, value


def operator_profile(db: Database, dataset_id: int, sql: str, params: dict, limit: float,
                     path: Path) -> tuple[list[tuple[float, int, str]], dict]:
    """Run ``sql`` with DuckDB's JSON profiling: the operators sorted by their own
    time, as (seconds, output rows, "NAME details"), and the query totals."""
    import json

    used = {k: v for k, v in params.items() if "$" + k in sql}
    with db.cursor(dataset_id) as cur:
        cur.execute("PRAGMA enable_profiling = 'json'")
        cur.execute("SET profiling_output = $path", {"path": str(path)})
        timer = _interrupt_after(cur, limit)
        try:
            cur.execute(sql, used).fetchall()
        except Exception:
            return [], {}
        finally:
            timer.cancel()
            cur.execute("PRAGMA disable_profiling")
    doc = json.loads(path.read_text())
    ops: list[tuple[float, int, str]] = []

    def walk(node: dict) -> None:
        name = node.get("operator_name") or node.get("operator_type") or "?"
        info = node.get("extra_info") or {}
        detail = "; ".join(f"{k}: {v}" for k, v in info.items() if k in ("Join Type", "Conditions", "Groups",
                                                                           "Aggregates", "Table", "Function"))
        ops.append((float(node.get("operator_timing", 0.0)), int(node.get("operator_cardinality", 0)),
                    f"{name} {' '.join(detail.split())[:160]}"))
        for child in node.get("children", []):
            walk(child)

    for child in doc.get("children", []):
        walk(child)
    ops.sort(reverse=True)
    totals = {k: doc.get(k) for k in ("latency", "cpu_time", "system_peak_buffer_memory",
                                       "system_peak_temp_dir_size", "cumulative_cardinality")}
    return ops, totals


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    if list(a.columns) != list(b.columns):
        return f"columns {list(a.columns)} != {list(b.columns)}"
    if len(a) != len(b):
        return f"{len(a)} rows != {len(b)} rows"
    key = list(a.columns)
    a2 = a.sort_values(key, ignore_index=True)
    b2 = b.sort_values(key, ignore_index=True)
    try:
        pd.testing.assert_frame_equal(a2, b2, check_dtype=False)
    except AssertionError as exc:
        return " ".join(str(exc).split())[:300]
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="10m")
    ap.add_argument("--data-dir", type=Path, default=generate.DEFAULT_DATA_DIR)
    ap.add_argument("--queries", default="", help="comma-separated (default: all the pages use)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=float, default=120.0)
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "profile")
    ap.add_argument("--store", type=Path, default=None,
                    help="profile this copy of the size's store (the benchmark holds the original's lock)")
    args = ap.parse_args(argv)
    paths = generate.ensure(args.size, args.data_dir)
    db = Database(args.store or paths.store)
    ds = int(db.run("get_dataset", dataset_name=generate.DATASET_NAME).iloc[0]["dataset_id"])
    first, last = data_range(db, ds)
    all_params = query_params(first, last)
    names = [q for q in args.queries.split(",") if q] or list(all_params)
    out_dir = args.out / args.size
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"size {args.size}: D = {last}, first order {first}, {len(month_ends(first, last))} month ends")
    print(f"{'query':24s} {'cold':>9s} {'warm median':>12s} {'rows':>9s}")
    for name in names:
        params = all_params[name]
        sql = compiled(name)[0]
        cold, rows = run_sql(db, ds, sql, params, args.limit)
        if cold is None:
            print(f"{name:24s} {'>' + str(int(args.limit)) + ' s':>9s}  ({rows})")
            continue
        warm = []
        for _ in range(args.repeat):
            seconds, rows = run_sql(db, ds, sql, params, args.limit)
            if seconds is None:
                break
            warm.append(seconds)
            if seconds * args.repeat > args.limit:
                break
        med = statistics.median(warm) if warm else float("nan")
        print(f"{name:24s} {cold:9.3f} {med:12.3f} {len(rows):9,d}", flush=True)
        if args.explain:
            _, text = run_sql(db, ds, sql, params, args.limit * 2, explain=True)
            ops, totals = operator_profile(db, ds, sql, params, args.limit * 2, out_dir / f"{name}.json")
            top = [f"{t:8.3f} s {n:>12,d} rows  {what}" for t, n, what in ops[:12]]
            summary = (f"totals: {totals}\nslowest operators (own time, output rows):\n" + "\n".join(top))
            (out_dir / f"{name}.txt").write_text(summary + "\n\n" + str(text))
            print("      " + "\n      ".join(top[:4]), flush=True)
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
