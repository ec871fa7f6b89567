"""The command line (SPEC §4) as a user runs it: `python -m crmflow` in a
subprocess. Output shapes are exact; bad input exits 2 with one line on stderr
and no traceback; a stored dataset answers like the file it came from; the
CDNOW reference numbers are computed here with independent pandas code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import CDNOW_MASTER

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["potential", "first", "repeat", "loyal", "lost"]
ALL_STAGES = ["none", *STAGES]

SALES = """\
order_id,customer_id,order_date,amount
O1,00042,2024-01-05,120.50
O2,00042,2024-03-10,"1,234.50"
O2,00042,2024-03-10,30.00
R1,00042,2024-04-12,-20.00
O3,00007,2023-11-02,15.00
O4,12345,2024-06-01,10.10
O5,00100,2024-02-01,0.10
O6,00555,2024-01-11,250.00
O7,00100,2024-02-29,0.10
O8,00100,2024-02-29,0.20
O9,00007,2023-11-20,0.00
O10,12345,2024-05-13,99.99
O11,00042,2024-06-15,80.00
R2,00555,2024-06-13,-250.00
O12,C0009,2024-06-28,5.00
O13,00042,2024-06-28,45.10
"""
# by hand at D = 2024-06-28 (the last order date), defaults 180 / 4 / 365:
# 00042 loyal (O1, O2, O11, O13; R1 is a return), 00007 lost (239 days; O9 is a
# zero row), 12345 repeat, 00100 repeat (O5, O7, O8: two orders on 2024-02-29
# because order_id is given), 00555 first (its return R2 is no order), C0009 first
COUNTS = {"potential": 0, "first": 2, "repeat": 2, "loyal": 1, "lost": 1}

CUSTOMERS = """\
客户编号,建档日期
00042,2023-01-01
L0001,2024-06-01
L0002,2024-07-01
L0003,
"""


def cli(*args, env: dict | None = None, db: Path | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "CRMFLOW_DB"}
    if db is not None:  # never touch the project's own data/crmflow.duckdb
        environment["CRMFLOW_DB"] = str(db)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "crmflow", *map(str, args)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=180)


def ok_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def assert_bad_input(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture
def sales(tmp_path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text(SALES, encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store.duckdb"


# --------------------------------------------------------------------------- stages / flow
def test_stages_prints_exactly_as_of_and_counts(sales, db):
    doc = ok_json(cli("stages", sales, db=db))
    assert doc == {"as_of": "2024-06-28", "counts": COUNTS}
    assert list(doc) == ["as_of", "counts"] and list(doc["counts"]) == STAGES
    assert not db.exists()  # a file is analysed in memory


def test_stages_parameters_and_as_of(sales, db):
    doc = ok_json(cli("stages", sales, "--as-of", "2024-03-10", "--lost-after-days", "30", "--loyal-orders", "2",
                      "--loyal-window-days", "70", db=db))
    # 00042: O1 (01-05) and O2 (03-10), both in (01-00, 03-10] -> loyal
    # 00100: O5, O7, O8 -> 3 orders in the window -> loyal; 00555: 01-11 is 59 days ago > 30 -> lost
    # 00007: lost; 12345 and C0009 do not exist yet
    assert doc == {"as_of": "2024-03-10",
                   "counts": {"potential": 0, "first": 0, "repeat": 0, "loyal": 2, "lost": 2}}


def test_stages_with_customers_file_and_map(sales, tmp_path, db):
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS.replace("建档日期", "Angelegt"), encoding="utf-8")
    doc = ok_json(cli("stages", sales, "--customers", customers, "--map", "customers.created_at=Angelegt", db=db))
    # L0001 (created before D) and L0003 (no date) are potential; L0002 does not exist yet
    assert doc["counts"] == {**COUNTS, "potential": 2}


def test_stages_csv_format(sales, db):
    proc = cli("stages", sales, "--format", "csv", db=db)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(",") for line in proc.stdout.strip().splitlines()]
    assert rows[0] == ["as_of", "stage", "customers"]
    assert {s: int(n) for _, s, n in rows[1:]} == COUNTS and {d for d, _, _ in rows[1:]} == {"2024-06-28"}


def test_map_by_name_and_position_on_unknown_headers(tmp_path, db):
    path = tmp_path / "kunden.csv"
    lines = SALES.splitlines()
    lines[0] = "Beleg,Kunde,Datum,Betrag"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = ok_json(cli("stages", path, "--map", "customer_id=Kunde", "--map", "order_date=#3", "--map",
                      "amount=Betrag", "--map", "order_id=#1", db=db))
    assert doc == {"as_of": "2024-06-28", "counts": COUNTS}


def test_flow_prints_from_to_and_transitions(sales, db):
    doc = ok_json(cli("flow", sales, "--from", "2024-01-31", "--to", "2024-06-28", db=db))
    assert list(doc) == ["from", "to", "transitions"]
    assert doc["from"] == "2024-01-31" and doc["to"] == "2024-06-28"
    for t in doc["transitions"]:
        assert list(t) == ["from", "to", "customers"]
        assert t["from"] in ALL_STAGES and t["to"] in ALL_STAGES and t["customers"] > 0
    got = {(t["from"], t["to"]): t["customers"] for t in doc["transitions"]}
    # at 2024-01-31: 00042, 00007 (90 days) and 00555 are first; 12345, 00100, C0009 do not exist yet
    want = {("first", "loyal"): 1, ("first", "lost"): 1, ("first", "first"): 1,
            ("none", "repeat"): 2, ("none", "first"): 1}
    assert got == want
    assert sum(got.values()) == 6


def test_flow_csv_format(sales, db):
    proc = cli("flow", sales, "--from", "2024-01-31", "--to", "2024-06-28", "--format", "csv", db=db)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(io.StringIO(proc.stdout))
    assert list(df.columns) == ["from", "to", "customers"]
    assert df["customers"].sum() == 6


# --------------------------------------------------------------------------- stored datasets
def test_ingest_then_dataset_gives_the_same_answer(sales, tmp_path, db):
    proc = cli("ingest", sales, "--name", "sales 2024", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "16 read, 16 loaded, 0 rejected" in proc.stdout
    assert db.exists()
    from_file = ok_json(cli("stages", sales, "--as-of", "2024-05-01", db=tmp_path / "other.duckdb"))
    from_db = ok_json(cli("stages", "--dataset", "sales 2024", "--db", db, "--as-of", "2024-05-01"))
    assert from_db == from_file
    flow_file = ok_json(cli("flow", sales, "--from", "2024-01-31", "--to", "2024-06-28", db=tmp_path / "o.duckdb"))
    flow_db = ok_json(cli("flow", "--dataset", "sales 2024", "--db", db, "--from", "2024-01-31", "--to", "2024-06-28"))
    assert flow_db == flow_file
    # the name is taken now; --replace replaces
    assert_bad_input(cli("ingest", sales, "--name", "sales 2024", "--db", db), "already exists")
    assert cli("ingest", sales, "--name", "sales 2024", "--db", db, "--replace").returncode == 0


def test_crmflow_db_environment_variable(sales, tmp_path):
    db = tmp_path / "env" / "crm.duckdb"
    proc = cli("ingest", sales, "--name", "N", env={"CRMFLOW_DB": str(db)})
    assert proc.returncode == 0, proc.stderr
    assert db.exists()
    doc = ok_json(cli("stages", "--dataset", "N", env={"CRMFLOW_DB": str(db)}))
    assert doc == {"as_of": "2024-06-28", "counts": COUNTS}
    # --db wins over the variable
    assert_bad_input(cli("stages", "--dataset", "N", "--db", tmp_path / "empty.duckdb",
                         env={"CRMFLOW_DB": str(db)}), "no dataset named 'N'")


def test_writer_blocked_by_another_process_gets_one_clear_line(sales, db):
    assert cli("ingest", sales, "--name", "A", "--db", db).returncode == 0
    holder = duckdb.connect(str(db))  # e.g. the open dashboard
    try:
        line = assert_bad_input(cli("ingest", sales, "--name", "B", "--db", db), "in use")
        assert str(db) in line
    finally:
        holder.close()
    assert cli("ingest", sales, "--name", "B", "--db", db).returncode == 0  # free again


# --------------------------------------------------------------------------- bad input
BAD_INPUT = {
    "missing file": (lambda p: ["stages", p / "nope.csv"], "not found"),
    "empty file": (lambda p: ["stages", _write(p / "empty.csv", b"")], "empty"),
    "binary junk": (lambda p: ["stages", _write(p / "junk.csv", bytes(range(256)) * 50)], "binary"),
    "no date column": (lambda p: ["stages", _write(p / "nd.csv", b"customer_id,amount,product\n1,2.5,x\n")],
                       "order_date"),
    "bad --as-of": (lambda p: ["stages", _write(p / "s.csv", SALES.encode()), "--as-of", "2024-02-30"], "2024-02-30"),
    "unknown --map field": (lambda p: ["stages", _write(p / "s.csv", SALES.encode()), "--map", "colour=amount"],
                            "colour"),
    "bad --map form": (lambda p: ["stages", _write(p / "s.csv", SALES.encode()), "--map", "amount"], "--map"),
    "zero --lost-after-days": (lambda p: ["stages", _write(p / "s.csv", SALES.encode()), "--lost-after-days", "0"],
                               "lost-after-days"),
    "flow dates reversed": (lambda p: ["flow", _write(p / "s.csv", SALES.encode()), "--from", "2024-06-28", "--to",
                                       "2024-01-31"], "before"),
    "unknown dataset": (lambda p: ["stages", "--dataset", "nope", "--db", p / "x.duckdb"], "nope"),
    "xls workbook": (lambda p: ["ingest", _write(p / "a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000),
                                "--name", "x", "--db", p / "x.duckdb"], ".xls"),
    "no command": (lambda p: [], "command"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(tmp_path, case):
    make, needle = BAD_INPUT[case]
    assert_bad_input(cli(*make(tmp_path), db=tmp_path / "default.duckdb"), needle)


# --------------------------------------------------------------------------- CDNOW reference
def cdnow_reference(as_of: date, lost_after_days=180, loyal_orders=4, loyal_window_days=365) -> dict[str, int]:
    """SPEC §2 on CDNOW_master with plain pandas: no order_id, so an order is a
    (customer, day) with a positive amount; zero-amount rows are not orders."""
    raw = pd.read_csv(CDNOW_MASTER, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["day"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    d = pd.Timestamp(as_of)
    days = raw[(raw["dollar_value"] > 0) & (raw["day"] <= d)].drop_duplicates(["customer_id", "day"])
    per = days.groupby("customer_id").agg(
        orders=("day", "size"), last=("day", "max"),
        in_window=("day", lambda s: int((s > d - timedelta(days=loyal_window_days)).sum())))
    lost = (d - per["last"]).dt.days > lost_after_days
    loyal = ~lost & (per["in_window"] >= loyal_orders)
    repeat = ~lost & ~loyal & (per["orders"] >= 2)
    first = ~lost & ~loyal & ~repeat
    return {"potential": 0, "first": int(first.sum()), "repeat": int(repeat.sum()), "loyal": int(loyal.sum()),
            "lost": int(lost.sum())}


def test_cdnow_master_stage_counts_at_1997_09_30(tmp_path):
    want = cdnow_reference(date(1997, 9, 30))
    assert sum(want.values()) > 23000  # sanity of the reference itself: ~23.5k buyers
    doc = ok_json(cli("stages", CDNOW_MASTER, "--as-of", "1997-09-30", db=tmp_path / "x.duckdb"))
    assert doc == {"as_of": "1997-09-30", "counts": want}
