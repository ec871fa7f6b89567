"""Layering rules: the package never imports streamlit; pages never run SQL."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[0])
    return out


#: The launcher (``python -m crmflow.serve``) starts Streamlit's command line;
#: it is the one module of the package allowed to import streamlit, and no
#: other module of the package may import it.
LAUNCHER = ROOT / "crmflow" / "serve.py"


def test_package_never_imports_streamlit():
    for path in (ROOT / "crmflow").rglob("*.py"):
        if path != LAUNCHER:
            assert "streamlit" not in imported_modules(path), path
            assert "crmflow.serve" not in path.read_text(encoding="utf-8"), path


def test_pages_hold_layout_only():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "duckdb" not in imported_modules(path), path
        assert ".execute(" not in text and "SELECT " not in text.upper().replace("SELECTBOX", ""), path


def test_nothing_reads_the_shared_folder():
    needle = "../" + "shared"
    for path in ROOT.rglob("*"):
        if ".venv" in path.parts or not path.is_file() or path.suffix not in (".py", ".toml", ".cfg", ".sh", ""):
            continue
        if path.name in ("Makefile",) or path.suffix:
            assert needle not in path.read_text(encoding="utf-8", errors="ignore"), path
