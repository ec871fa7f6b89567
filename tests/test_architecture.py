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


def full_imports(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name (``from a import b`` gives a and a.b)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


#: The launcher (``python -m crmflow.serve``) starts Streamlit's command line;
#: it and the dashboard's shared page code (``crmflow/ui/``, used only by
#: app.py and pages/) are the parts of the package allowed to import
#: streamlit, and no other module of the package may import either.
LAUNCHER = ROOT / "crmflow" / "serve.py"
UI = ROOT / "crmflow" / "ui"


def test_package_never_imports_streamlit():
    for path in (ROOT / "crmflow").rglob("*.py"):
        if path != LAUNCHER and UI not in path.parents:
            text = path.read_text(encoding="utf-8")
            assert "streamlit" not in imported_modules(path), path
            assert "crmflow.serve" not in text, path
            assert not {m for m in full_imports(path) if m == "crmflow.ui" or m.startswith("crmflow.ui.")}, path


def test_the_ui_code_is_used_only_by_the_dashboard():
    """crmflow/ui/ exists (the shared page code moved out of pages/) and the
    command line imports nothing of it."""
    assert (UI / "common.py").is_file() and (UI / "report.py").is_file()
    assert "streamlit" in imported_modules(UI / "common.py")
    assert not (ROOT / "pages" / "common.py").exists()


def test_pages_hold_layout_only():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *UI.glob("*.py")]:
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
