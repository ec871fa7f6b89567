"""Deterministic synthetic CRM data for the benchmark, at any size.

    .venv/bin/python -m bench.generate --sizes tiny,1m,10m [--data-dir bench/.data]

A size is a number of transaction lines (``tiny`` = 5,000, ``100k``, ``1m``,
``10m``; ~10 lines per buying customer). Everything is drawn from one
``numpy.random.default_rng(seed)`` with array operations, then DuckDB formats
the text columns and writes the files in parallel, so 10 million lines take
well under a minute. Per size it writes, under ``DATA_DIR/<size>/``:

* ``transactions.parquet`` / ``transactions.csv``: order_id, customer_id (text
  with leading zeros), order_date (three years), amount (two decimals; ~2% of
  lines are returns with a negative amount, a few are zero), category,
  channel, region, owner, cost (most lines), due_date and paid_date (customers
  who buy on credit; some pay late, some not yet);
* ``customers.parquet`` / ``.csv``: every buyer plus ~10% leads who never
  bought, created_at (a lead date before the first order; a few missing),
  region, industry, owner, tier, is_key_account (~0.5%, mostly big buyers);
* ``interactions.parquet`` / ``.csv``: visits, calls, emails, meetings and
  complaints (resolved or not) with an optional satisfaction score;
* ``store.duckdb``: the three Parquet files ingested by crmflow as dataset
  ``bench`` (what the dashboard would read);
* ``meta.json``: the generator version, the store's schema fingerprint and
  counts. Files are reused while both match, else rebuilt.

Customers behave heterogeneously so that stages, churn and the CLV model have
something to find: acquisition grows over time; each buys as a Poisson process
with its own Gamma-distributed rate until it drops out (exponential lifetime;
30% never drop out within the data); some pause for 200-400 days and
come back (win-backs); spend per line is lognormal around a per-customer
level.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Bump when the generated data change (the cache is rebuilt).
GENERATOR_VERSION = 3
DEFAULT_SEED = 20240917
DEFAULT_DATA_DIR = ROOT / "bench" / ".data"
DATASET_NAME = "bench"

#: Size label -> transaction lines.
SIZES = {"tiny": 5_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
LINES_PER_CUSTOMER = 10

START = date(2022, 1, 1)
END = date(2024, 12, 31)
SPAN_DAYS = (END - START).days + 1  # days 0 .. SPAN_DAYS - 1

CATEGORIES = ("Packaging", "Electronics", "Office Supplies", "Industrial Parts", "Chemicals",
              "Software", "Furniture", "Food Service")
CHANNELS = ("Direct", "Distributor", "Online")
CHANNEL_WEIGHTS = (0.3, 0.4, 0.3)
REGIONS = ("North", "East", "South", "West", "Central")
REGION_WEIGHTS = (0.25, 0.25, 0.2, 0.15, 0.15)
OWNERS_PER_REGION = 2
INDUSTRIES = ("Manufacturing", "Trading", "Logistics", "Technology", "Healthcare", "Construction", "Food",
              "Energy")
TIERS = ("A", "B", "C")
INTERACTION_TYPES = ("visit", "call", "email", "meeting", "complaint")
INTERACTION_WEIGHTS = (0.2, 0.35, 0.3, 0.07, 0.08)

LEAD_SHARE = 0.10
ONE_OFF_SHARE = 0.15
STAYER_SHARE = 0.30
LIFETIME_MEAN_DAYS = 365
WINBACK_SHARE = 0.12
LINES_PER_ORDER_P2, LINES_PER_ORDER_P3 = 0.20, 0.05
RETURN_SHARE = 0.02
ZERO_SHARE = 0.003
COST_SHARE = 0.92
CREDIT_SHARE = 0.40
LATE_PAYER_SHARE = 0.20
KEY_ACCOUNT_SHARE = 0.005
INTERACTIONS_PER_LINE = 0.05


def parse_size(label: str) -> int:
    """Lines of a size label: a key of SIZES, or a number with k/m suffix."""
    label = label.strip().lower()
    if label in SIZES:
        return SIZES[label]
    mult = {"k": 1_000, "m": 1_000_000}.get(label[-1:], 1)
    number = label[:-1] if label[-1:] in "km" else label
    return int(float(number) * mult)


def schema_fingerprint() -> str:
    """Changes when the store's schema or the code of its stored results
    changes (crmflow.results.code_version): the cached store is then rebuilt,
    so that its pages read results stored by this code, not compute afresh."""
    from crmflow.results import code_version

    schema = hashlib.sha1((ROOT / "queries" / "store" / "create_schema.sql").read_bytes()).hexdigest()[:12]
    return f"{schema}/{code_version()}"


@dataclass(frozen=True)
class Paths:
    root: Path

    def file(self, table: str, fmt: str) -> Path:
        return self.root / f"{table}.{fmt}"

    @property
    def store(self) -> Path:
        return self.root / "store.duckdb"

    @property
    def meta(self) -> Path:
        return self.root / "meta.json"


def size_dir(data_dir: Path, label: str) -> Paths:
    return Paths(Path(data_dir) / label)


# --------------------------------------------------------------------------- drawing
def _choice(rng: np.random.Generator, n: int, weights: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").astype(np.int16)


def draw(lines: int, seed: int = DEFAULT_SEED) -> dict[str, pa.Table]:
    """The three tables as Arrow tables of codes and numbers (text is formatted
    by :func:`write`); ``lines`` transaction lines exactly."""
    rng = np.random.default_rng([seed, lines])
    n_buyers = max(20, lines // LINES_PER_CUSTOMER)
    last_day = SPAN_DAYS - 1

    # ---- customers who buy
    acquired = np.floor(last_day * rng.random(n_buyers) ** 0.8).astype(np.int64)
    lifetime = rng.exponential(LIFETIME_MEAN_DAYS, n_buyers)
    lifetime[rng.random(n_buyers) < STAYER_SHARE] = np.inf
    active = np.minimum(lifetime, last_day - acquired).astype(np.int64)  # days after the first order
    one_off = rng.random(n_buyers) < ONE_OFF_SHARE
    propensity = rng.gamma(1.2, 1.0, n_buyers)
    propensity[one_off] = 0.0
    lines_per_order = 1.0 + LINES_PER_ORDER_P2 + LINES_PER_ORDER_P3
    wanted_orders = 1.06 * lines / lines_per_order
    exposure = float(np.dot(propensity, active))
    rate = max(0.0, wanted_orders - n_buyers) / exposure if exposure > 0 else 0.0
    n_orders = 1 + rng.poisson(rate * propensity * active)

    # ---- orders: the first on the acquisition day, the rest uniform in the active span
    cust = np.repeat(np.arange(n_buyers), n_orders)
    first = np.zeros(cust.size, dtype=bool)
    first[np.concatenate(([0], np.cumsum(n_orders)[:-1]))] = True
    day = acquired[cust] + np.floor(rng.random(cust.size) * (active[cust] + 1)).astype(np.int64)
    day[first] = acquired[cust[first]]
    # win-backs: a pause of 200-400 days, orders in it are pushed past it
    long_lived = active > 400
    winback = long_lived & (rng.random(n_buyers) < WINBACK_SHARE / max(long_lived.mean(), 1e-9))
    pause_start = acquired + np.floor(rng.random(n_buyers) * active / 2).astype(np.int64)
    pause_len = rng.integers(200, 401, n_buyers)
    in_pause = winback[cust] & (day > pause_start[cust]) & (day < pause_start[cust] + pause_len[cust])
    day[in_pause] += pause_len[cust[in_pause]]
    keep = day <= last_day
    cust, day = cust[keep], day[keep]

    # ---- order lines
    u = rng.random(cust.size)
    n_lines = 1 + (u < LINES_PER_ORDER_P2 + LINES_PER_ORDER_P3) + (u < LINES_PER_ORDER_P3)
    by_date = np.argsort(day, kind="stable")  # order ids grow with the date
    cust, day, n_lines = cust[by_date], day[by_date], n_lines[by_date]
    order_no = np.repeat(np.arange(cust.size), n_lines)
    if order_no.size >= lines:  # drop random lines down to the exact count
        order_no = order_no[np.sort(rng.permutation(order_no.size)[:lines])]
    else:  # too few: extra lines on random orders
        extra = rng.integers(0, cust.size, lines - order_no.size)
        order_no = np.sort(np.concatenate((order_no, extra)))
    line_cust = cust[order_no]
    line_day = day[order_no]
    n = order_no.size

    # ---- customer attributes
    level = rng.lognormal(4.4, 0.9, n_buyers)  # typical line value
    pref_category = rng.integers(0, len(CATEGORIES), n_buyers)
    main_channel = _choice(rng, n_buyers, CHANNEL_WEIGHTS)
    region = _choice(rng, n_buyers, REGION_WEIGHTS)
    owner = region * OWNERS_PER_REGION + rng.integers(0, OWNERS_PER_REGION, n_buyers)
    on_credit = rng.random(n_buyers) < CREDIT_SHARE
    late_payer = on_credit & (rng.random(n_buyers) < LATE_PAYER_SHARE)

    # ---- line values
    amount = np.maximum(0.01, np.round(level[line_cust] * rng.lognormal(0.0, 0.5, n), 2))
    kind = rng.random(n)
    returned = kind < RETURN_SHARE
    amount[returned] = -np.maximum(0.01, np.round(amount[returned] * rng.random(returned.sum()), 2))
    amount[(kind >= RETURN_SHARE) & (kind < RETURN_SHARE + ZERO_SHARE)] = 0.0
    cost = np.round(amount * rng.uniform(0.55, 0.85, n), 2)
    has_cost = rng.random(n) < COST_SHARE
    category = np.where(rng.random(n) < 0.6, pref_category[line_cust], rng.integers(0, len(CATEGORIES), n))
    channel = np.where(rng.random(n) < 0.85, main_channel[line_cust], _choice(rng, n, CHANNEL_WEIGHTS))
    credit = on_credit[line_cust]
    due = line_day + 30
    delay = np.where(late_payer[line_cust], rng.exponential(35.0, n), rng.normal(-5.0, 6.0, n))
    paid = due + np.round(delay).astype(np.int64)
    unpaid = credit & ((paid > last_day) | (rng.random(n) < 0.01))

    transactions = pa.table({
        "order_no": pa.array(order_no, pa.int64()),
        "cust": pa.array(line_cust, pa.int64()),
        "day": pa.array(line_day, pa.int32()),
        "amount": pa.array(amount, pa.float64()),
        "category": pa.array(category.astype(np.int16)),
        "channel": pa.array(channel.astype(np.int16)),
        "region": pa.array(region[line_cust].astype(np.int16)),
        "owner": pa.array(owner[line_cust].astype(np.int16)),
        "cost": pa.array(cost, pa.float64(), mask=~has_cost),
        "due": pa.array(due.astype(np.int32), pa.int32(), mask=~credit),
        "paid": pa.array(paid.astype(np.int32), pa.int32(), mask=~credit | unpaid),
    })

    # ---- the customers table: buyers and leads, ids shuffled so they tell nothing
    n_leads = int(round(LEAD_SHARE * n_buyers))
    n_all = n_buyers + n_leads
    ids = rng.permutation(n_all) + 1  # customer number per customer index
    lead_time = np.where(rng.random(n_buyers) < 0.15, 0, np.round(rng.exponential(30.0, n_buyers)))
    created = np.concatenate((acquired - lead_time.astype(np.int64), rng.integers(0, SPAN_DAYS, n_leads)))
    no_created = rng.random(n_all) < 0.04
    value = level * (propensity + 0.05) * (active + 1)
    key = np.zeros(n_all, dtype=bool)
    top = np.argsort(-value)[: max(1, int(0.05 * n_buyers))]
    key[rng.choice(top, size=max(1, int(KEY_ACCOUNT_SHARE * n_buyers)), replace=False)] = True
    tier_of_buyer = np.digitize(value, np.quantile(value, [0.8, 0.5]) if n_buyers > 2 else [np.inf, np.inf])
    all_region = np.concatenate((region, _choice(rng, n_leads, REGION_WEIGHTS)))
    all_owner = all_region * OWNERS_PER_REGION + rng.integers(0, OWNERS_PER_REGION, n_all)
    all_owner[:n_buyers] = owner
    customers = pa.table({
        "cust": pa.array(np.arange(n_all), pa.int64()),
        "created": pa.array(created.astype(np.int32), pa.int32(), mask=no_created),
        "region": pa.array(all_region.astype(np.int16)),
        "industry": pa.array(rng.integers(0, len(INDUSTRIES), n_all).astype(np.int16)),
        "owner": pa.array(all_owner.astype(np.int16)),
        "tier": pa.array(np.concatenate((2 - tier_of_buyer, np.full(n_leads, 2))).astype(np.int16)),
        "key": pa.array(key),
    })

    # ---- interactions: spread over each customer's known life
    per_customer = rng.poisson(INTERACTIONS_PER_LINE * lines / n_all, n_all)
    icust = np.repeat(np.arange(n_all), per_customer)
    lo = np.clip(np.where(no_created, np.concatenate((acquired, created[n_buyers:])), created), 0, last_day)
    hi = np.concatenate((np.minimum(acquired + active + 60, last_day), np.full(n_leads, last_day)))
    hi = np.maximum(hi, lo)
    iday = lo[icust] + np.floor(rng.random(icust.size) * (hi[icust] - lo[icust] + 1)).astype(np.int64)
    itype = _choice(rng, icust.size, INTERACTION_WEIGHTS)
    complaint = itype == INTERACTION_TYPES.index("complaint")
    resolved = rng.random(icust.size) < 0.65
    rated = rng.random(icust.size) < 0.5
    interactions = pa.table({
        "cust": pa.array(icust, pa.int64()),
        "day": pa.array(iday.astype(np.int32)),
        "type": pa.array(itype),
        "resolved": pa.array(resolved, mask=~complaint),
        "satisfaction": pa.array(rng.integers(1, 6, icust.size).astype(np.float64), mask=~rated),
    })
    return {"transactions": transactions, "customers": customers, "interactions": interactions,
            "ids": pa.table({"cust": pa.array(np.arange(n_all), pa.int64()), "number": pa.array(ids, pa.int64())})}


# --------------------------------------------------------------------------- writing
def _labels(con: duckdb.DuckDBPyConnection, name: str, values: tuple[str, ...]) -> None:
    """Macro ``name(i)``: the i-th label (0-based); the labels are bound, the
    macro's name is one of the fixed names in :func:`write`."""
    con.execute("SET VARIABLE " + name + "_values = $values", {"values": list(values)})
    con.execute("CREATE OR REPLACE TEMP MACRO " + name + "(i) AS (getvariable('" + name + "_values'))[i + 1]")


#: The generated tables, in the order they are written.
OUTPUT_TABLES = ("transactions", "customers", "interactions")


def _day(column: str) -> str:
    """A day number column as a DATE counted from $start (fixed column names only)."""
    return f"(CAST($start AS DATE) + CAST({column} AS INTEGER))"


def _sql(table: str) -> str:
    """The SELECT that formats one generated table; values are bound:
    ``$id_width`` (digits of a customer id) and ``$start`` (day 0)."""
    cid = "lpad(CAST(i.number AS VARCHAR), $id_width, '0') AS customer_id"
    if table == "transactions":
        return f"""
            SELECT 'SO' || lpad(CAST(t.order_no + 1 AS VARCHAR), 9, '0') AS order_id, {cid},
                   {_day('t.day')} AS order_date,
                   CAST(t.amount AS DECIMAL(18, 2)) AS amount, category_label(t.category) AS category,
                   channel_label(t.channel) AS channel, region_label(t.region) AS region,
                   'Owner ' || CAST(t.owner + 1 AS VARCHAR) AS owner, CAST(t.cost AS DECIMAL(18, 2)) AS cost,
                   {_day('t.due')} AS due_date, {_day('t.paid')} AS paid_date
            FROM gen_transactions AS t JOIN gen_ids AS i ON i.cust = t.cust
            ORDER BY t.order_no"""
    if table == "customers":
        return f"""
            SELECT {cid}, 'Company ' || lpad(CAST(i.number AS VARCHAR), $id_width, '0') AS name,
                   {_day('c.created')} AS created_at, region_label(c.region) AS region,
                   industry_label(c.industry) AS industry, 'Owner ' || CAST(c.owner + 1 AS VARCHAR) AS owner,
                   tier_label(c.tier) AS tier, c.key AS is_key_account
            FROM gen_customers AS c JOIN gen_ids AS i ON i.cust = c.cust
            ORDER BY customer_id"""
    return f"""
        SELECT {cid}, {_day('x.day')} AS date, type_label(x.type) AS type,
               x.resolved, x.satisfaction
        FROM gen_interactions AS x JOIN gen_ids AS i ON i.cust = x.cust
        ORDER BY date, customer_id"""


def write(tables: dict[str, pa.Table], out: Path) -> dict[str, int]:
    """Write each table as Parquet and CSV into ``out``; returns row counts."""
    out.mkdir(parents=True, exist_ok=True)
    id_width = max(7, len(str(tables["ids"].num_rows)) + 1)  # always leading zeros
    con = duckdb.connect()
    try:
        con.execute("SET temp_directory = $dir", {"dir": str(out / "tmp")})
        con.execute("SET preserve_insertion_order = true")
        for name, values in (("category_label", CATEGORIES), ("channel_label", CHANNELS),
                             ("region_label", REGIONS), ("industry_label", INDUSTRIES),
                             ("tier_label", TIERS), ("type_label", INTERACTION_TYPES)):
            _labels(con, name, values)
        for name, table in tables.items():
            con.register(f"gen_{name}", table)
        counts = {}
        for table in OUTPUT_TABLES:
            sql = _sql(table)
            params = {k: v for k, v in (("id_width", id_width), ("start", START.isoformat())) if "$" + k in sql}
            con.execute("CREATE OR REPLACE TEMP TABLE out_rows AS " + sql, params)
            rows = con.table("out_rows")
            rows.write_parquet(str(out / f"{table}.parquet"), compression="zstd")
            rows.write_csv(str(out / f"{table}.csv"), header=True, date_format="%Y-%m-%d")
            counts[table] = int(rows.aggregate("count(*)").fetchone()[0])
            con.execute("DROP TABLE out_rows")
    finally:
        con.close()
        shutil.rmtree(out / "tmp", ignore_errors=True)
    return counts


def ingest_store(paths: Paths) -> dict[str, float]:
    """Ingest the Parquet files into a fresh crmflow store file (dataset ``bench``)."""
    from crmflow.store import Store

    for suffix in ("", ".wal"):
        Path(str(paths.store) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    with Store(paths.store) as store:
        result = store.ingest(DATASET_NAME, paths.file("transactions", "parquet"),
                              paths.file("customers", "parquet"), paths.file("interactions", "parquet"))
    return {"ingest_seconds": round(time.perf_counter() - started, 2),
            "rows_rejected": sum(r.rows_rejected for r in result.reports)}


def ensure(label: str, data_dir: Path = DEFAULT_DATA_DIR, *, seed: int = DEFAULT_SEED, store: bool = True,
           log=print) -> Paths:
    """The files of one size, generated (and stored) unless already there for
    this generator version, seed and store schema."""
    lines = parse_size(label)
    paths = size_dir(data_dir, label)
    meta = json.loads(paths.meta.read_text()) if paths.meta.exists() else {}
    wanted = {"generator_version": GENERATOR_VERSION, "seed": seed, "lines": lines}
    have_files = all(paths.file(t, f).exists() for t in ("transactions", "customers", "interactions")
                     for f in ("parquet", "csv"))
    if not have_files or any(meta.get(k) != v for k, v in wanted.items()):
        started = time.perf_counter()
        log(f"[generate] {label}: drawing {lines:,} lines ...")
        tables = draw(lines, seed)
        counts = write(tables, paths.root)
        meta = {**wanted, "counts": counts, "generate_seconds": round(time.perf_counter() - started, 2)}
        meta["customers_buying"] = len(tables["transactions"].column("cust").unique())
        meta["orders"] = len(tables["transactions"].column("order_no").unique())
        paths.meta.write_text(json.dumps(meta, indent=2))
        log(f"[generate] {label}: {counts} in {meta['generate_seconds']} s")
    if store and (meta.get("schema") != schema_fingerprint() or not paths.store.exists()):
        log(f"[generate] {label}: ingesting into {paths.store} ...")
        meta.update(ingest_store(paths), schema=schema_fingerprint())
        paths.meta.write_text(json.dumps(meta, indent=2))
        log(f"[generate] {label}: stored in {meta['ingest_seconds']} s")
    return paths


#: The size label of the bundled demo data (crmflow.demo: what the dashboard shows).
DEMO = "demo"


def ensure_demo(data_dir: Path = DEFAULT_DATA_DIR, *, log=print) -> Paths:
    """A store holding the bundled demo dataset (``demo``) with its stored
    results and fits, under ``DATA_DIR/demo/``; rebuilt when the store's
    schema or the results' code changed. Its meta.json has the counts."""
    from crmflow.store import Store

    paths = size_dir(data_dir, DEMO)
    meta = json.loads(paths.meta.read_text()) if paths.meta.exists() else {}
    if meta.get("schema") == schema_fingerprint() and paths.store.exists():
        return paths
    log(f"[generate] demo: storing into {paths.store} ...")
    paths.root.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        Path(str(paths.store) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    with Store(paths.store) as store:
        ds = store.ensure_demo()
    meta = {"counts": {"transactions": ds.n_transactions, "customers": ds.n_customers,
                       "interactions": ds.n_interactions},
            "ingest_seconds": round(time.perf_counter() - started, 2), "schema": schema_fingerprint()}
    paths.meta.write_text(json.dumps(meta, indent=2))
    log(f"[generate] demo: stored in {meta['ingest_seconds']} s")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="tiny,1m,10m")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CRMFLOW_BENCH_DATA", DEFAULT_DATA_DIR)))
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--no-store", action="store_true", help="only write the files")
    args = ap.parse_args(argv)
    for label in args.sizes.split(","):
        ensure(label, args.data_dir, seed=args.seed, store=not args.no_store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
