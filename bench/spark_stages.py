"""The stage counts at D on DuckDB and on Spark (issue 16), on the benchmark data.

    .venv/bin/python -m bench.spark_stages --size 1m [--repeat 3] [--spark local[*]]

Generates (or reuses) the benchmark store of that size (bench.generate), then
times ``crmflow.stages.stage_counts`` at the last order date: on DuckDB, and
on Spark after the dataset's Parquet copy is written (timed apart, once).
Each engine runs once to warm up, then ``--repeat`` times; the median is
printed as JSON, with both answers (they must be equal).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import DATASET_NAME, DEFAULT_DATA_DIR, ensure


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1m")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--spark", default=None, help="Spark master or sc:// address (default local[*])")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CRMFLOW_BENCH_DATA", DEFAULT_DATA_DIR)))
    args = ap.parse_args(argv)

    from crmflow.engine_spark import SparkDatabase, SparkData, spark_session
    from crmflow.stages import resolve_as_of, stage_counts
    from crmflow.store import Store

    paths = ensure(args.size, args.data_dir)
    out: dict[str, object] = {"size": args.size, "cpus": os.cpu_count()}
    with Store(paths.store, read_only=True) as store, tempfile.TemporaryDirectory() as folder:
        ds = store.get(DATASET_NAME)
        out.update(transaction_lines=int(ds.n_transactions), customers=int(ds.n_customers))
        as_of = resolve_as_of(store.db, ds.dataset_id)

        def timed(db) -> tuple[float, dict]:
            times = []
            answer = stage_counts(db, ds.dataset_id, as_of)  # warm-up
            for _ in range(args.repeat):
                started = time.perf_counter()
                answer = stage_counts(db, ds.dataset_id, as_of)
                times.append(time.perf_counter() - started)
            return round(statistics.median(times), 3), answer

        out["duckdb_seconds"], out["duckdb_counts"] = timed(store.db)
        started = time.perf_counter()
        spark_session(args.spark)
        out["spark_start_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        SparkData(folder).export(store.db, ds.dataset_id)
        out["parquet_export_seconds"] = round(time.perf_counter() - started, 2)
        sdb = SparkDatabase(store.db, master=args.spark, folder=folder)
        out["spark_seconds"], out["spark_counts"] = timed(sdb)
    out["same_answer"] = out["duckdb_counts"] == out["spark_counts"]
    print(json.dumps(out, indent=2))
    return 0 if out["same_answer"] else 1


if __name__ == "__main__":
    sys.exit(main())
