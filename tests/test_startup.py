"""Issue 14 (start-up): commands that need no data start without the heavy
libraries. Checked by what a fresh interpreter has imported, never by a timer
(the benchmark measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "duckdb", "scipy", "pyarrow", "plotly", "streamlit")

PROBE = """
import contextlib, io, json, sys
from crmflow.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def run_probe(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("stages", "--help"), ("churn", "--help"),
                                  ("no-such-command",)])
def test_commands_without_data_do_not_import_the_heavy_libraries(argv):
    result = run_probe(*argv)
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    if argv == ("--version",):
        assert result["out"].startswith("crmflow ") and result["code"] in (0, None)
    if argv == ("no-such-command",):
        assert result["code"] == 2


def test_a_command_with_data_still_loads_what_it_needs(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("customer_id,order_date,amount\nA,2024-01-05,10\nA,2024-02-05,12\nB,2024-01-09,7\n",
                    encoding="utf-8")
    result = run_probe("stages", str(data), "--as-of", "2024-03-01")
    assert result["code"] == 0
    doc = json.loads(result["out"])
    assert doc["counts"]["repeat"] == 1 and doc["counts"]["first"] == 1
    assert {"pandas", "duckdb"} <= {m.split(".")[0] for m in result["modules"]}
