"""How far each command is from the engine's limit.

    .venv/bin/python -m bench.limits --size 1m [--commands rfm,pareto,churn,matrix] [--repeat 5]
        [--data-dir DIR] [--store COPY]

For each command this times two whole processes on the same stored
benchmark dataset, in turn (A B A B ...), and prints their medians:

- A: ``crmflow CMD --db STORE --dataset bench`` (what the benchmark's
  commands group measures), its JSON sent to /dev/null;
- B: the engine's limit, a plain Python process that imports only DuckDB,
  opens the store read-only, sets up the same staging views and runs ONE
  DuckDB query doing the SQL work the command's numbers start from, written
  by DuckDB itself as a JSON array to /dev/null.

B does the SQL part only: ``churn`` and ``matrix`` also fit or score a model
in Python on those rows, which no SQL query does, so B is a lower bound.
Also printed: ``python -c "import duckdb"`` (the floor of any process here).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate  # noqa: E402

#: The program of process B (DuckDB only). Its one argument is a JSON spec:
#: store, dataset_id, setup statements, the query and its parameters (dates
#: as {"date": "YYYY-MM-DD"}).
PLAIN = r"""
import json, sys
from datetime import date
import duckdb
spec = json.loads(sys.argv[1])
def value(v):
    if isinstance(v, dict):
        return date.fromisoformat(v["date"])
    if isinstance(v, list):
        return [value(x) for x in v]
    return v
con = duckdb.connect(spec["store"], read_only=True)
con.execute("SET VARIABLE dataset_id = $d", {"d": spec["dataset_id"]})
for statement in spec["setup"]:
    con.execute(statement)
con.execute("CREATE TEMP TABLE answer AS " + spec["sql"], {k: value(v) for k, v in spec["params"].items()})
con.execute("COPY answer TO '/dev/null' (FORMAT json, ARRAY true)")
"""

#: command -> (the named query whose work the command's numbers start from, what else the command does)
WORK = {
    "rfm": ("rfm", "RFM scores of every customer at D, one query"),
    "pareto": ("pareto", "the Pareto curve at D, one query (crmflow reads it stored)"),
    "churn": ("churn_signals", "the signals of every customer (crmflow also scores them with the fitted model)"),
    "matrix": ("clv_summary", "N, t, T per customer (crmflow also predicts CLV and ranks the matrix)"),
    "stages": ("customer_stages", "every customer's stage at D, one query"),
    "cohorts": ("cohort_retention", "the cohort triangle at D, one query"),
}


def decode(v):
    """A spec's parameter value as bound (process B's ``value``)."""
    if isinstance(v, dict):
        return date.fromisoformat(v["date"])
    return [decode(x) for x in v] if isinstance(v, list) else v


def _encode(v):
    if isinstance(v, date):
        return {"date": v.isoformat()}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    return v


def spec_for(command: str, store: Path) -> dict:
    """The JSON spec of process B for ``command`` on ``store``."""
    from bench.profile import query_params
    from crmflow.db import Database, compiled, get_query, staging_macros, staging_views
    from crmflow.results import _churn_signals
    from crmflow.stages import data_range

    db = Database(store, read_only=True)
    try:
        ds = int(db.run("get_dataset", dataset_name=generate.DATASET_NAME).iloc[0]["dataset_id"])
        first, last = data_range(db, ds)
    finally:
        db.close()
    name = WORK[command][0]
    params = _churn_signals(first, last)[0] if name == "churn_signals" else query_params(first, last)[name]
    sql = compiled(name)[0]
    setup = [s.strip() for s in get_query("create_scratch").body.split(";") if s.strip()]  # the filters' scratch
    setup += [f"CREATE OR REPLACE TEMP MACRO {m.name}({', '.join(m.arguments)}) AS {m.body}" for m in staging_macros()]
    setup += [f"CREATE OR REPLACE TEMP VIEW {v.name} AS {v.body}" for v in staging_views()]
    used = {k: _encode(v) for k, v in params.items() if "$" + k in sql}
    return {"store": str(store), "dataset_id": ds, "setup": setup, "sql": sql, "params": used}


def _time(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed: {done.stderr.strip().splitlines()[-1:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1m")
    ap.add_argument("--data-dir", type=Path, default=generate.DEFAULT_DATA_DIR)
    ap.add_argument("--store", type=Path, default=None, help="a copy of the size's store (default: the size's own)")
    ap.add_argument("--commands", default="rfm,pareto,churn,matrix")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    store = args.store or generate.size_dir(args.data_dir, args.size).store
    py = sys.executable
    floor = [_time([py, "-c", "import duckdb"]) for _ in range(args.repeat)]
    print(f"size {args.size}, store {store}; medians of {args.repeat} whole processes, in turn")
    print(f"python -c 'import duckdb': {statistics.median(floor):.3f} s")
    print(f"{'command':9s} {'crmflow':>8s} {'one DuckDB query':>17s} {'ratio':>6s}  the query's work")
    for command in [c for c in args.commands.split(",") if c]:
        spec = json.dumps(spec_for(command, store))
        a, b = [], []
        for _ in range(args.repeat):
            a.append(_time([py, "-m", "crmflow", command, "--db", str(store), "--dataset", generate.DATASET_NAME]))
            b.append(_time([py, "-c", PLAIN, spec]))
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{command:9s} {ma:7.3f}s {mb:16.3f}s {ma / mb:5.1f}x  {WORK[command][1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
