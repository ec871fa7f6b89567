"""Time the ingestion of a large CSV, stage by stage.

    .venv/bin/python bench/ingest_profile.py [--rows 1000000] [--runs 3] [--csv PATH]

Writes a deterministic CSV (customer_id with leading zeros, order_id, ISO
order_date, amount with two decimals, category; ~rows/10 customers) to /tmp
unless it exists, then ingests it ``--runs`` times into a fresh in-memory store
and prints the median of each stage:

    read     sniff + stage (file -> temp table ingest_raw)
    profile  profile_values on the mapped columns
    parse    parse_{table} -> temp table ingest_parsed (+ reject summary/examples)
    insert   insert_{table} + insert_rejected + insert_dataset (the commit is in total only)
    total    Store.ingest wall time
    cpu      Store.ingest CPU time of the process (all threads)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

# --src DIR times another checkout of crmflow (e.g. an older commit from `git archive`)
_SRC = sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv else str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, _SRC)

import crmflow.ingest as ingest_mod
from crmflow.db import Database
from crmflow.store import Store


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    customers = max(1, rows // 10)
    start = date(2019, 1, 1)
    categories = ("books", "music", "video", "games", "garden", "tools", "toys", "food")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("customer_id,order_id,order_date,amount,category\n")
        for i in range(rows):
            cust = rng.randrange(customers)
            day = start + timedelta(days=rng.randrange(5 * 365))
            cents = rng.randrange(-2000, 500000) if rng.random() < 0.02 else rng.randrange(100, 500000)
            sign = "-" if cents < 0 else ""
            cents = abs(cents)
            fh.write(f"{cust:07d},O{i:08d},{day.isoformat()},{sign}{cents // 100}.{cents % 100:02d},"
                     f"{categories[rng.randrange(len(categories))]}\n")


def _cpu() -> float:
    """CPU seconds of this process, all threads (less sensitive than wall time to a busy machine)."""
    t = os.times()
    return t.user + t.system


class Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        t0, c0 = time.perf_counter(), _cpu()
        try:
            yield
        finally:
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0
            self.times[name + "_cpu"] = self.times.get(name + "_cpu", 0.0) + _cpu() - c0


def run_once(path: Path, db: Path | None = None) -> dict[str, float]:
    timer = Timer()
    orig_sniff, orig_stage, orig_profile = ingest_mod.sniff, ingest_mod.stage, ingest_mod._profile
    orig_mat, orig_run, orig_exec = Database.materialise, Database.run, Database.execute

    def sniff(*a, **k):
        with timer.stage("read"):
            return orig_sniff(*a, **k)

    def stage(*a, **k):
        with timer.stage("read"):
            return orig_stage(*a, **k)

    def profile(*a, **k):
        with timer.stage("profile"):
            return orig_profile(*a, **k)

    def materialise(self, name, *a, **k):
        with timer.stage("parse" if name.startswith("parse_") else name):
            return orig_mat(self, name, *a, **k)

    def run(self, name, *a, **k):
        key = "parse" if name.startswith("reject_") else ("profile" if name == "profile_values" else None)
        if key is None or key == "profile":
            return orig_run(self, name, *a, **k)
        with timer.stage(key):
            return orig_run(self, name, *a, **k)

    def execute(self, name, *a, **k):
        if name.startswith("insert_"):
            with timer.stage("insert"):
                return orig_exec(self, name, *a, **k)
        return orig_exec(self, name, *a, **k)

    ingest_mod.sniff, ingest_mod.stage, ingest_mod._profile = sniff, stage, profile
    Database.materialise, Database.run, Database.execute = materialise, run, execute
    try:
        if db is not None and db.exists():
            db.unlink()
        with (Store(db) if db is not None else Store(in_memory=True)) as store:
            t0, c0 = time.perf_counter(), _cpu()
            result = store.ingest("bench", str(path))
            timer.times["total"] = time.perf_counter() - t0
            timer.times["cpu"] = _cpu() - c0
            r = result.reports[0]
            timer.times["rows_loaded"] = r.rows_loaded
    finally:
        ingest_mod.sniff, ingest_mod.stage, ingest_mod._profile = orig_sniff, orig_stage, orig_profile
        Database.materialise, Database.run, Database.execute = orig_mat, orig_run, orig_exec
    return timer.times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--csv", type=Path, default=None)
    ap.add_argument("--src", default=None, help="import crmflow from this checkout instead")
    ap.add_argument("--db", type=Path, default=None, help="store in this database file (deleted first) "
                    "instead of in memory")
    args = ap.parse_args()
    print(f"crmflow from {Path(ingest_mod.__file__).parent.parent}")
    path = args.csv or Path(f"/tmp/crmflow_bench_{args.rows}.csv")
    if not path.exists():
        t0 = time.perf_counter()
        write_csv(path, args.rows)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f}s")
    runs = [run_once(path, args.db) for _ in range(args.runs)]
    keys = ["read", "profile", "parse", "insert", "total", "cpu"]
    for i, r in enumerate(runs):
        print(f"run {i + 1}: " + "  ".join(f"{k} {r.get(k, 0):.2f}" for k in keys)
              + f"  (rows loaded {int(r['rows_loaded'])})")
    print("median: " + "  ".join(f"{k} {statistics.median(r.get(k, 0) for r in runs):.2f}" for k in keys))
    print("median CPU: " + "  ".join(f"{k} {statistics.median(r.get(k + '_cpu', 0) for r in runs):.2f}"
                                     for k in keys[:4]))


if __name__ == "__main__":
    main()
