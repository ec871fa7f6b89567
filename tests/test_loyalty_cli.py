"""`crmflow loyalty` (issue 17 part 3): JSON and CSV, by stage and by segment,
per customer, the notes on what data unlocks a measure, and a lazy start."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_loyalty import INTERACTIONS, TRANSACTIONS
from test_startup import HEAVY, run_probe

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, db: Path) -> subprocess.CompletedProcess:
    import os

    env = {**{k: v for k, v in os.environ.items() if k != "CRMFLOW_DB"}, "CRMFLOW_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "crmflow", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture
def files(tmp_path):
    t = tmp_path / "t.csv"
    t.write_text(TRANSACTIONS.lstrip("\n"), encoding="utf-8")
    i = tmp_path / "i.csv"
    i.write_text(INTERACTIONS.lstrip("\n"), encoding="utf-8")
    return t, i


def test_json_by_stage_by_hand(files, tmp_path):
    t, i = files
    proc = cli("loyalty", t, "--interactions", i, "--as-of", "2024-07-15", db=tmp_path / "s.duckdb")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["as_of"] == "2024-07-15" and doc["by"] == "stage" and doc["window_days"] == 365
    assert doc["missing"] == [] and proc.stderr == ""
    groups = {g["group"]: g for g in doc["groups"]}
    assert list(groups) == ["first", "repeat", "loyal", "lost", "all"]
    assert groups["all"]["repeat_rate"] == 0.6 and groups["all"]["breadth"] == round(4 / 9, 4)
    assert groups["all"]["interval_cv"] == round(1 / 6, 4) and groups["lost"]["repeat_rate"] is None
    assert groups["repeat"]["reorder_share"] == 0.5 and groups["repeat"]["orders_after_complaint"] == 2
    assert groups["all"]["price_sensitivity"] == 0.375 and groups["first"]["price_sensitivity"] is None


def test_csv_per_customer_by_segment(files, tmp_path):
    t, i = files
    proc = cli("loyalty", t, "--interactions", i, "--as-of", "2024-07-15", "--by", "segment", "--per-customer",
               "--format", "csv", db=tmp_path / "s.duckdb")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["customer_id"] for r in rows] == list("ABCDEF")
    assert list(rows[0]) == ["customer_id", "segment", "orders", "orders_in_window", "buying_days", "interval_cv",
                             "categories_bought", "breadth", "complaint_date", "orders_after_complaint",
                             "priced_orders", "discounted_orders", "discount_share"]
    a, b = rows[0], rows[1]
    assert a["interval_cv"] == "0.3333" and a["complaint_date"] == "2024-01-15" and a["orders_after_complaint"] == "2"
    assert b["interval_cv"] == "" and b["orders_after_complaint"] == "0" and b["buying_days"] == "1"
    assert b["discount_share"] == "0.5" and rows[2]["discount_share"] == ""
    assert rows[2]["breadth"] == "0.0" and rows[2]["complaint_date"] == ""
    assert all(r["segment"] for r in rows)


def test_without_categories_or_interactions_the_notes_say_what_to_upload(tmp_path):
    t = tmp_path / "t.csv"
    t.write_text("customer,date,amount\nA,2024-01-01,5\nA,2024-02-01,5\n", encoding="utf-8")
    proc = cli("loyalty", t, "--format", "csv", db=tmp_path / "s.duckdb")
    assert proc.returncode == 0
    notes = proc.stderr.splitlines()
    assert len(notes) == 3 and all(n.startswith("crmflow: note: ") for n in notes)
    assert "category column" in notes[0] and "interactions file" in notes[1] and "discount" in notes[2]
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert rows["all"]["repeat_rate"] == "1.0" and rows["all"]["breadth"] == ""


def test_bad_grouping_is_one_line(files, tmp_path):
    proc = cli("loyalty", files[0], "--by", "region", db=tmp_path / "s.duckdb")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_help_does_not_import_the_heavy_libraries():
    result = run_probe("loyalty", "--help")
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "--per-customer" in result["out"]
