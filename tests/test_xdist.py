"""``make test`` runs the suite on two workers (``pytest -n 2 --dist loadgroup``). These run
a small suite the same way, with this suite's grouping plugin (tests/xdist_groups.py), and
check on which worker each test ran and how often a module-scoped fixture was built."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("xdist")

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

HEAVY = '''
    import os
    from pathlib import Path

    import pytest

    LOG = Path(os.environ["XDIST_PROBE_LOG"])


    def ran(name):
        with LOG.open("a") as f:
            f.write(f"{name} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")


    @pytest.fixture(scope="module")
    def heavy():
        ran("built:heavy")
        return 1


    @pytest.mark.parametrize("i", range(6))
    def test_shares(heavy, i):
        ran(f"shares{i}")


    @pytest.mark.parametrize("i", range(6))
    def test_alone(i):
        ran(f"alone{i}")


    @pytest.mark.xdist_group("spark")
    @pytest.mark.parametrize("i", range(3))
    def test_spark_a(heavy, i):
        ran(f"spark_a{i}")
'''

SPARK = '''
    import os
    from pathlib import Path

    import pytest


    @pytest.mark.xdist_group("spark")
    @pytest.mark.parametrize("i", range(3))
    def test_spark_b(i):
        with Path(os.environ["XDIST_PROBE_LOG"]).open("a") as f:
            f.write(f"spark_b{i} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")
'''


def run_suite(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess, list[tuple[str, str]]]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (suite / "test_heavy.py").write_text(textwrap.dedent(HEAVY), encoding="utf-8")
    (suite / "test_spark_b.py").write_text(textwrap.dedent(SPARK), encoding="utf-8")
    log = tmp_path / "ran.txt"
    env = {**os.environ, "PYTHONPATH": str(TESTS), "XDIST_PROBE_LOG": str(log)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist_groups", "-p", "no:cacheprovider",
                           "-v", *options], cwd=suite, env=env, capture_output=True, text=True, timeout=600)
    lines = [tuple(line.split()) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return proc, lines


def test_loadgroup_keeps_a_module_fixture_and_the_spark_group_on_one_worker(tmp_path):
    proc, lines = run_suite(tmp_path, "-n", "2", "--dist", "loadgroup")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(lines) == 6 + 6 + 3 + 3 + 2, lines  # 18 tests; heavy built for test_shares and for spark
    worker = {name: w for name, w in lines if name != "built:heavy"}
    # the six tests sharing the module fixture: one worker, and the fixture built once for them
    assert len({worker[f"shares{i}"] for i in range(6)}) == 1
    # the "spark" group spans two files and still runs on one worker
    spark = {worker[f"spark_a{i}"] for i in range(3)} | {worker[f"spark_b{i}"] for i in range(3)}
    assert len(spark) == 1
    builds = [w for name, w in lines if name == "built:heavy"]
    assert sorted(builds) == sorted([worker["shares0"], worker["spark_a0"]])
    # the reports carry the group, as xdist's scheduler reads it
    assert re.search(r"test_heavy\.py::test_shares\[0\]@test_heavy\.py", proc.stdout), proc.stdout
    assert re.search(r"test_spark_b\.py::test_spark_b\[2\]@spark", proc.stdout), proc.stdout
    assert not re.search(r"test_alone\[\d\]@", proc.stdout), proc.stdout


def test_without_xdist_the_groups_change_nothing(tmp_path):
    proc, lines = run_suite(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "18 passed" in proc.stdout
    assert [name for name, _ in lines].count("built:heavy") == 1  # one process: one module, one build
    assert not re.search(r"::\S+@", proc.stdout), proc.stdout
